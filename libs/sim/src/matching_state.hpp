// MatchingEngine's private state, shared by its translation units: the fixed-point helpers, a
// symbol's orders and taken liquidity with the walk over the book, and settling executions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cwts/binance/exchange_info.hpp"
#include "cwts/md/order_book.hpp"
#include "cwts/shm_layout/types.hpp"
#include "cwts/sim/account.hpp"
#include "cwts/sim/matching.hpp"

namespace cwts::sim {

namespace detail {

__extension__ using i128 = __int128;  // exact products of two 8-decimal values (on .raw)

// PERCENT_PRICE multipliers (layout::Ratio) share the 8-decimal scale of prices.
static_assert(layout::kRatioDecimals == kDecimals);

inline constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

inline std::int64_t saturate(i128 v) noexcept {
  if (v > static_cast<i128>(kMax)) return kMax;
  if (v < 0) return 0;
  return static_cast<std::int64_t>(v);
}

// Quote amount of a fill, truncated to 8 decimals. Buyer and seller use the same number, so no
// value is created or lost by the rounding. Saturates (0 .. int64 max), unlike core::notional.
inline Notional quote_of(Price px, Qty qty) noexcept {
  return Notional{saturate(static_cast<i128>(px.raw) * qty.raw / kOne)};
}

// What a LIMIT BUY locks: price * qty rounded up, so it always covers the truncated fills.
inline Notional quote_ceil(Price px, Qty qty) noexcept {
  return Notional{saturate((static_cast<i128>(px.raw) * qty.raw + kOne - 1) / kOne)};
}

// Commission on `amount` (a quantity of base, or a notional) at `rate` (fraction at 8 decimals),
// rounded half up to 8 decimals, in the same asset.
template <class Tag>
inline core::Fixed8<Tag> fee_of(core::Fixed8<Tag> amount, std::int64_t rate) noexcept {
  return core::Fixed8<Tag>{saturate((static_cast<i128>(amount.raw) * rate + kOne / 2) / kOne)};
}

inline Qty floor_to_step(Qty qty, Qty step) noexcept {
  if (step.raw <= 1) return qty;
  return qty - qty % step;
}

// Best-first level `i` of the side an order of `taker` side takes from (asks for a BUY).
inline const md::Level& opposite(const md::OrderBook& book, Side taker, std::size_t i) noexcept {
  return taker == Side::kBuy ? book.ask(i) : book.bid(i);
}
inline std::size_t opposite_levels(const md::OrderBook& book, Side taker) noexcept {
  return taker == Side::kBuy ? book.ask_levels() : book.bid_levels();
}
// True if a level at `px` on the side `taker` takes from is within `limit` (at or better).
inline bool within(Side taker, Price px, Price limit) noexcept {
  return taker == Side::kBuy ? px <= limit : px >= limit;
}

// Displayed quantity at `px` on the side of the book that `book_side` names (kBuy = bids), 0 if
// no level. Binary search over the best-first index.
inline Qty displayed_at(const md::OrderBook& book, Side book_side, Price px) noexcept {
  const bool bids = book_side == Side::kBuy;
  std::size_t lo = 0;
  std::size_t hi = bids ? book.bid_levels() : book.ask_levels();
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    const Price mpx = bids ? book.bid(mid).px : book.ask(mid).px;
    if (mpx == px) return bids ? book.bid(mid).qty : book.ask(mid).qty;
    // Best-first: bids descend, asks ascend with the index.
    if (bids ? mpx > px : mpx < px) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return Qty{};
}

inline std::string_view base_or_quote(const binance::SymbolSpec& spec, bool base) noexcept {
  return base ? std::string_view(spec.base) : std::string_view(spec.quote);
}

inline constexpr std::string_view kBnb = "BNB";

// The commission in BNB for a commission worth `fee_quote` (quote asset) at 25% off, BNB priced
// at `bnb_px` (quote per BNB, > 0): fee_quote * 0.75 / bnb_px, rounded up to 8 decimals.
inline Amount bnb_commission(Notional fee_quote, Price bnb_px) noexcept {
  const i128 num = static_cast<i128>(fee_quote.raw) * 75 * kOne;
  const i128 den = static_cast<i128>(bnb_px.raw) * 100;
  return Amount{saturate((num + den - 1) / den)};
}

// Settles one execution of `o` on the account and records the trade. Returns the fill.
// `bnb_px` > 0: the BNB price in the quote asset, to charge the commission in BNB (see
// EngineConfig::bnb_fees) if free BNB covers it; 0: in the asset received.
Fill execute(Account& account, const binance::SymbolSpec& spec, Order& o, Price px, Qty qty,
             bool is_maker, std::int64_t trade_id, std::int64_t now_ms, Price bnb_px = Price{});

// Ends an order's claim on the account: whatever is still locked for it goes back to free.
void release(Account& account, const binance::SymbolSpec& spec, Order& o);

}  // namespace detail

// Liquidity the account took from one market level, remembered while the level's displayed
// quantity stays what it was when taken.
struct Taken {
  Price px;
  Qty displayed;
  Qty taken;
};

struct PlannedFill {
  Price px;  // execution price (the level's price for a taker)
  Qty qty;
  Price level_px;  // the market level the quantity comes from
  Qty displayed;   // that level's displayed quantity
};

struct MatchingEngine::SymbolState {
  const binance::SymbolSpec* spec = nullptr;
  std::vector<Order> orders;      // every order; index = orderId - first order id
  std::vector<std::size_t> open;  // indices of open orders, oldest first
  std::map<std::string, std::size_t, std::less<>> by_client_id;  // latest order per id
  std::vector<Taken> taken_bids;  // taken from the market's bids (by our SELLs)
  std::vector<Taken> taken_asks;  // taken from the market's asks (by our BUYs)
  std::int64_t first_order_id = 1;
  std::int64_t next_order_id = 1;
  std::int64_t next_trade_id = 1;
  Price reference_px{};

  [[nodiscard]] std::vector<Taken>& taken(Side book_side) {
    return book_side == Side::kBuy ? taken_bids : taken_asks;
  }
  [[nodiscard]] const std::vector<Taken>& taken(Side book_side) const {
    return book_side == Side::kBuy ? taken_bids : taken_asks;
  }

  // Quantity still available to the account at a market level.
  [[nodiscard]] Qty available(Side book_side, Price px, Qty displayed) const {
    for (const Taken& t : taken(book_side)) {
      if (t.px == px)
        return t.displayed == displayed ? std::max(Qty{}, displayed - t.taken) : displayed;
    }
    return displayed;
  }

  void take(Side book_side, Price px, Qty displayed, Qty qty) {
    for (Taken& t : taken(book_side)) {
      if (t.px == px) {
        if (t.displayed != displayed) {
          t.displayed = displayed;
          t.taken = Qty{};
        }
        t.taken += qty;
        return;
      }
    }
    taken(book_side).push_back({px, displayed, qty});
  }

  // Forgets what was taken at levels whose displayed quantity has changed since.
  void refresh(const md::OrderBook& book) {
    for (const Side side : {Side::kBuy, Side::kSell}) {
      auto& v = taken(side);
      v.erase(std::remove_if(v.begin(), v.end(),
                             [&](const Taken& t) {
                               return detail::displayed_at(book, side, t.px) != t.displayed;
                             }),
              v.end());
    }
  }

  // The venue's "average price" stand-in (see the class comment).
  [[nodiscard]] Price reference_price(const md::OrderBook& book) const {
    if (reference_px > Price{}) return reference_px;
    const bool bid = book.bid_levels() > 0;
    const bool ask = book.ask_levels() > 0;
    if (bid && ask) {
      // The mid, truncated: half a price is not a money operation, so on the raw integers.
      const Price b = book.bid(0).px;
      return b + Price{(book.ask(0).px - b).raw / 2};
    }
    if (bid) return book.bid(0).px;
    if (ask) return book.ask(0).px;
    return Price{};
  }

  [[nodiscard]] Order* find(std::int64_t order_id) {
    if (order_id < first_order_id || order_id >= next_order_id) return nullptr;
    return &orders[static_cast<std::size_t>(order_id - first_order_id)];
  }
  [[nodiscard]] const Order* find(std::int64_t order_id) const {
    return const_cast<SymbolState*>(this)->find(order_id);
  }
  [[nodiscard]] const Order* find(const OrderRef& ref) const {
    const Order* by_id = ref.order_id ? find(*ref.order_id) : nullptr;
    if (ref.order_id && by_id == nullptr) return nullptr;
    if (ref.orig_client_order_id.empty()) return by_id;
    if (by_id != nullptr) {
      // Both sent: the orderId is looked up, and the clientOrderId must match it.
      return by_id->client_order_id == ref.orig_client_order_id ? by_id : nullptr;
    }
    const auto it = by_client_id.find(ref.orig_client_order_id);
    return it == by_client_id.end() ? nullptr : &orders[it->second];
  }

  [[nodiscard]] bool open_client_id(std::string_view id) const {
    const auto it = by_client_id.find(id);
    return it != by_client_id.end() && orders[it->second].is_open();
  }

  void close(std::size_t index) {
    open.erase(std::remove(open.begin(), open.end(), index), open.end());
  }

  // Walks the market side an order of `taker` side takes from, best first, within `limit`
  // (nullopt: any price), up to `max_qty` and, if max_quote > 0, up to that quote amount in
  // quantities that are multiples of `step`. Takes nothing; see take().
  [[nodiscard]] std::vector<PlannedFill> plan(const md::OrderBook& book, Side taker,
                                              std::optional<Price> limit, Qty max_qty,
                                              Notional max_quote, Qty step) const {
    std::vector<PlannedFill> out;
    const Side book_side = taker == Side::kBuy ? Side::kSell : Side::kBuy;
    Qty qty_left = max_qty;
    Notional quote_left = max_quote;
    const std::size_t n = detail::opposite_levels(book, taker);
    for (std::size_t i = 0; i < n && qty_left > Qty{}; ++i) {
      const md::Level& l = detail::opposite(book, taker, i);
      if (limit && !detail::within(taker, l.px, *limit)) break;
      const Qty avail = available(book_side, l.px, l.qty);
      Qty q = std::min(avail, qty_left);
      if (max_quote > Notional{}) {
        // What the quote left buys at this price: quote / price, exact in 128 bits.
        const Qty affordable{
            detail::saturate(static_cast<detail::i128>(quote_left.raw) * kOne / l.px.raw)};
        q = detail::floor_to_step(std::min(q, affordable), step);
        if (q <= Qty{}) {
          if (affordable < avail) break;  // cannot afford a step here or at any worse price
          continue;
        }
        quote_left -= detail::quote_of(l.px, q);
      }
      if (q <= Qty{}) continue;
      out.push_back({l.px, q, l.px, l.qty});
      qty_left -= q;
    }
    return out;
  }
};

}  // namespace cwts::sim
