// BookSync: Binance's documented local-order-book procedure (spot and USD-M futures) around an
// OrderBook: buffer diffs, apply a REST snapshot, chain update ids, detect gaps and crossed books.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "cwts/md/frame.hpp"
#include "cwts/md/order_book.hpp"

namespace cwts::md {

enum class SyncVenue : std::uint8_t {
  kSpot,         // drop u <= lastUpdateId; first applied: U <= lastUpdateId+1 <= u; then U == id+1
  kUsdmFutures,  // drop u < lastUpdateId; first applied: U <= lastUpdateId <= u; then pu == id
};

enum class DiffOutcome : std::uint8_t {
  kApplied,   // the book moved to the diff's final id
  kBuffered,  // no snapshot yet: kept for when it arrives
  kDropped,   // entirely older than the book
  kGap,       // ids do not chain: book invalidated, a new snapshot is needed
  kCrossed,   // the diff left best bid >= best ask: book invalidated, a new snapshot is needed
};

enum class SnapshotOutcome : std::uint8_t {
  kSynced,   // the book is valid
  kTooOld,   // the snapshot predates the buffered diffs: fetch another (diffs kept)
  kGap,      // the buffered diffs do not connect to the snapshot: fetch another
  kCrossed,  // snapshot plus diffs is crossed: fetch another
  kIgnored,  // the book is already synced
};

[[nodiscard]] const char* to_string(DiffOutcome o) noexcept;
[[nodiscard]] const char* to_string(SnapshotOutcome o) noexcept;

// Not thread-safe: the md thread owns it. No allocation per diff once the buffers have reached
// their configured capacity.
class BookSync {
 public:
  struct Stats {
    std::uint64_t applied = 0;    // diffs applied to the book (including buffered ones)
    std::uint64_t dropped = 0;    // diffs older than the book
    std::uint64_t buffered = 0;   // diffs held while waiting for a snapshot
    std::uint64_t gaps = 0;       // id chain breaks
    std::uint64_t crossed = 0;    // crossed books detected
    std::uint64_t resyncs = 0;    // times the book was invalidated (gap, crossed, reconnect)
    std::uint64_t snapshots = 0;  // snapshots that synced the book
    std::uint64_t buffer_overflows = 0;
  };

  // An unusable placeholder (no buffers); assign a configured BookSync before use.
  BookSync() = default;
  // Reserves everything up front: `book_levels` per book side, and the diff buffer.
  explicit BookSync(SyncVenue venue, std::size_t max_buffered_diffs = 1024,
                    std::size_t max_buffered_levels = 1 << 16, std::size_t book_levels = 8192);

  DiffOutcome on_diff(const DepthMsg& d, std::span<const Level> bids, std::span<const Level> asks);
  SnapshotOutcome on_snapshot(std::uint64_t last_update_id, std::span<const Level> bids,
                              std::span<const Level> asks);

  // Reconnect, serverShutdown, operator request: the book is invalid until the next snapshot.
  void invalidate() noexcept;

  [[nodiscard]] bool valid() const noexcept { return live_; }
  [[nodiscard]] bool awaiting_snapshot() const noexcept { return !live_; }
  [[nodiscard]] std::uint64_t update_id() const noexcept { return id_; }
  [[nodiscard]] const OrderBook& book() const noexcept { return book_; }
  // How many of the best `most` levels of a side are whole: at or inside the deepest level of that
  // side in the last snapshot. Past it the venue's levels are known only where a diff touched
  // them (the book keeps those, but a level in between may be missing); a side the snapshot had
  // empty is whole. What a publisher may show as the venue's book.
  [[nodiscard]] std::size_t known_bid_levels(std::size_t most) const noexcept {
    const std::size_t n = std::min(most, book_.bid_levels());
    std::size_t i = 0;
    while (i < n && (!bid_bounded_ || book_.bid(i).px >= bid_floor_)) ++i;
    return i;
  }
  [[nodiscard]] std::size_t known_ask_levels(std::size_t most) const noexcept {
    const std::size_t n = std::min(most, book_.ask_levels());
    std::size_t i = 0;
    while (i < n && (!ask_bounded_ || book_.ask(i).px <= ask_ceiling_)) ++i;
    return i;
  }
  [[nodiscard]] const Stats& stats() const noexcept { return stats_; }
  [[nodiscard]] std::size_t buffered_diffs() const noexcept { return buffer_.size(); }

 private:
  struct Buffered {
    DepthMsg msg;
    std::uint32_t bid_off, bid_n, ask_off, ask_n;
  };
  enum class Check : std::uint8_t { kApply, kDrop, kGap };

  [[nodiscard]] Check check(const DepthMsg& d, bool first) const noexcept;
  void apply(const DepthMsg& d, std::span<const Level> bids, std::span<const Level> asks);
  void buffer(const DepthMsg& d, std::span<const Level> bids, std::span<const Level> asks);
  void lose_sync() noexcept;

  SyncVenue venue_ = SyncVenue::kSpot;
  OrderBook book_;
  // The last snapshot's deepest level of each side (bounded: the side had levels).
  Price bid_floor_{};
  Price ask_ceiling_{};
  bool bid_bounded_ = false;
  bool ask_bounded_ = false;
  bool live_ = false;
  // True from a snapshot until the first diff is applied: that diff is judged by the first-diff
  // rule (USD-M: U <= lastUpdateId <= u), even when it arrives after the snapshot.
  bool first_pending_ = false;
  std::uint64_t id_ = 0;
  std::vector<Buffered> buffer_;
  std::vector<Level> buffer_levels_;
  std::size_t max_diffs_ = 0;
  std::size_t max_levels_ = 0;
  Stats stats_;
};

}  // namespace cwts::md
