// OrderBook: full-depth L2 book for one symbol, one writer, no allocation per update after warm-up.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "cwts/md/frame.hpp"

namespace cwts::md {

// Each side is a sorted vector with the best level at the back, so the levels that change most
// (near the touch) are the cheapest to insert and erase (short memmove), and a lookup is a binary
// search over contiguous memory. Chosen over std::map and a flat price ladder by benchmark; see
// docs/adr/0005-order-book-structure.md. Not thread-safe: the md thread owns it.
class OrderBook {
 public:
  OrderBook() = default;
  explicit OrderBook(std::size_t reserve_levels_per_side) {
    bids_.reserve(reserve_levels_per_side);
    asks_.reserve(reserve_levels_per_side);
  }

  void clear() noexcept {
    bids_.clear();
    asks_.clear();
  }

  // Sets the absolute quantity at a price; qty 0 removes the level (absent levels are ignored,
  // as Binance documents). Returns true if the book changed.
  bool set_bid(Price px, Qty qty) { return set(bids_, px, qty, BidOrder{}); }
  bool set_ask(Price px, Qty qty) { return set(asks_, px, qty, AskOrder{}); }

  // Replaces the whole book from a snapshot (levels in any order; zero quantities skipped; for a
  // price given twice the last one wins). Appends and sorts once: O(n log n) whatever the order.
  void load(std::span<const Level> bids, std::span<const Level> asks) {
    fill(bids_, bids, BidOrder{});
    fill(asks_, asks, AskOrder{});
  }

  [[nodiscard]] std::size_t bid_levels() const noexcept { return bids_.size(); }
  [[nodiscard]] std::size_t ask_levels() const noexcept { return asks_.size(); }
  [[nodiscard]] bool empty() const noexcept { return bids_.empty() && asks_.empty(); }

  // i-th best level (0 = best); i must be < the side's level count.
  [[nodiscard]] const Level& bid(std::size_t i) const noexcept {
    return bids_[bids_.size() - 1 - i];
  }
  [[nodiscard]] const Level& ask(std::size_t i) const noexcept {
    return asks_[asks_.size() - 1 - i];
  }

  // True if both sides are present and the best bid is at or above the best ask.
  [[nodiscard]] bool crossed() const noexcept {
    return !bids_.empty() && !asks_.empty() && bids_.back().px >= asks_.back().px;
  }

 private:
  // Bids ascend (best = highest at the back); asks descend (best = lowest at the back).
  struct BidOrder {
    bool operator()(const Level& l, Price px) const noexcept { return l.px < px; }
  };
  struct AskOrder {
    bool operator()(const Level& l, Price px) const noexcept { return l.px > px; }
  };

  template <typename Order>
  static void fill(std::vector<Level>& side, std::span<const Level> levels, Order order) {
    side.clear();
    for (const auto& l : levels) {
      if (!l.qty.is_zero()) side.push_back(l);
    }
    // Stable: equal prices keep input order, so the last duplicate is the one kept below.
    std::stable_sort(side.begin(), side.end(),
                     [&](const Level& a, const Level& b) { return order(a, b.px); });
    std::size_t out = 0;
    for (std::size_t i = 0; i < side.size(); ++i) {
      if (out > 0 && side[out - 1].px == side[i].px) {
        side[out - 1] = side[i];
      } else {
        side[out++] = side[i];
      }
    }
    side.resize(out);
  }

  template <typename Order>
  static bool set(std::vector<Level>& side, Price px, Qty qty, Order order) {
    const auto it = std::lower_bound(side.begin(), side.end(), px, order);
    const bool found = it != side.end() && it->px == px;
    if (qty.is_zero()) {
      if (!found) return false;
      side.erase(it);
      return true;
    }
    if (found) {
      if (it->qty == qty) return false;
      it->qty = qty;
      return true;
    }
    side.insert(it, Level{px, qty});
    return true;
  }

  std::vector<Level> bids_;
  std::vector<Level> asks_;
};

}  // namespace cwts::md
