// Binance order-book synchronisation: the documented buffering, snapshot and id-chaining rules.
#include "cwts/md/book_sync.hpp"

namespace cwts::md {

BookSync::BookSync(SyncVenue venue, std::size_t max_buffered_diffs, std::size_t max_buffered_levels,
                   std::size_t book_levels)
    : venue_(venue),
      book_(book_levels),
      max_diffs_(max_buffered_diffs),
      max_levels_(max_buffered_levels) {
  buffer_.reserve(max_diffs_);
  buffer_levels_.reserve(max_levels_);
}

BookSync::Check BookSync::check(const DepthMsg& d, bool first) const noexcept {
  if (venue_ == SyncVenue::kSpot) {
    if (d.last_id <= id_) return Check::kDrop;
    // First after the snapshot: U <= id+1 <= u (u > id holds here). Later: U == id+1; an
    // overlapping diff (U <= id) carries absolute quantities and is safe to apply.
    if (d.first_id > id_ + 1) return Check::kGap;
    (void)first;
    return Check::kApply;
  }
  // USD-M futures.
  if (first) {
    if (d.last_id < id_) return Check::kDrop;
    if (d.first_id > id_) return Check::kGap;
    return Check::kApply;
  }
  if (d.last_id <= id_) return Check::kDrop;
  if (!d.has_prev_id || d.prev_id != id_) return Check::kGap;
  return Check::kApply;
}

void BookSync::apply(const DepthMsg& d, std::span<const Level> bids, std::span<const Level> asks) {
  for (const auto& l : bids) book_.set_bid(l.px, l.qty);
  for (const auto& l : asks) book_.set_ask(l.px, l.qty);
  id_ = d.last_id;
  ++stats_.applied;
}

void BookSync::buffer(const DepthMsg& d, std::span<const Level> bids, std::span<const Level> asks) {
  if (buffer_.size() >= max_diffs_ ||
      buffer_levels_.size() + bids.size() + asks.size() > max_levels_) {
    // Out of room: start over. A snapshot then has to be newer than what remains, which the
    // kTooOld check enforces.
    buffer_.clear();
    buffer_levels_.clear();
    ++stats_.buffer_overflows;
    if (bids.size() + asks.size() > max_levels_) return;
  }
  Buffered b{d, static_cast<std::uint32_t>(buffer_levels_.size()),
             static_cast<std::uint32_t>(bids.size()), 0, static_cast<std::uint32_t>(asks.size())};
  buffer_levels_.insert(buffer_levels_.end(), bids.begin(), bids.end());
  b.ask_off = static_cast<std::uint32_t>(buffer_levels_.size());
  buffer_levels_.insert(buffer_levels_.end(), asks.begin(), asks.end());
  buffer_.push_back(b);
  ++stats_.buffered;
}

void BookSync::lose_sync() noexcept {
  live_ = false;
  ++stats_.resyncs;
  book_.clear();
  buffer_.clear();
  buffer_levels_.clear();
}

void BookSync::invalidate() noexcept {
  if (live_) {
    lose_sync();
  } else {
    buffer_.clear();
    buffer_levels_.clear();
  }
}

DiffOutcome BookSync::on_diff(const DepthMsg& d, std::span<const Level> bids,
                              std::span<const Level> asks) {
  if (!live_) {
    buffer(d, bids, asks);
    return DiffOutcome::kBuffered;
  }
  switch (check(d, first_pending_)) {
    case Check::kDrop:
      ++stats_.dropped;
      return DiffOutcome::kDropped;
    case Check::kGap:
      ++stats_.gaps;
      lose_sync();
      buffer(d, bids, asks);  // the newest information; kept for the next snapshot
      return DiffOutcome::kGap;
    case Check::kApply:
      break;
  }
  apply(d, bids, asks);
  first_pending_ = false;
  if (book_.crossed()) {
    ++stats_.crossed;
    lose_sync();
    return DiffOutcome::kCrossed;
  }
  return DiffOutcome::kApplied;
}

SnapshotOutcome BookSync::on_snapshot(std::uint64_t last_update_id, std::span<const Level> bids,
                                      std::span<const Level> asks) {
  if (live_) return SnapshotOutcome::kIgnored;
  // Spot step 4: a snapshot older than the first buffered diff cannot be bridged.
  if (!buffer_.empty()) {
    const std::uint64_t first_u = buffer_.front().msg.first_id;
    const std::uint64_t reach = venue_ == SyncVenue::kSpot ? last_update_id + 1 : last_update_id;
    if (reach < first_u) return SnapshotOutcome::kTooOld;
  }
  book_.load(bids, asks);
  bid_bounded_ = book_.bid_levels() > 0;
  ask_bounded_ = book_.ask_levels() > 0;
  if (bid_bounded_) bid_floor_ = book_.bid(book_.bid_levels() - 1).px;
  if (ask_bounded_) ask_ceiling_ = book_.ask(book_.ask_levels() - 1).px;
  id_ = last_update_id;
  bool first = true;
  for (const auto& b : buffer_) {
    const std::span<const Level> bb(buffer_levels_.data() + b.bid_off, b.bid_n);
    const std::span<const Level> ba(buffer_levels_.data() + b.ask_off, b.ask_n);
    switch (check(b.msg, first)) {
      case Check::kDrop:
        ++stats_.dropped;
        continue;
      case Check::kGap:
        ++stats_.gaps;
        book_.clear();
        buffer_.clear();
        buffer_levels_.clear();
        return SnapshotOutcome::kGap;
      case Check::kApply:
        apply(b.msg, bb, ba);
        first = false;
        break;
    }
  }
  buffer_.clear();
  buffer_levels_.clear();
  if (book_.crossed()) {
    ++stats_.crossed;
    book_.clear();
    return SnapshotOutcome::kCrossed;
  }
  live_ = true;
  first_pending_ = first;  // no buffered diff bridged the snapshot yet
  ++stats_.snapshots;
  return SnapshotOutcome::kSynced;
}

const char* to_string(DiffOutcome o) noexcept {
  switch (o) {
    case DiffOutcome::kApplied:
      return "applied";
    case DiffOutcome::kBuffered:
      return "buffered";
    case DiffOutcome::kDropped:
      return "dropped";
    case DiffOutcome::kGap:
      return "gap";
    case DiffOutcome::kCrossed:
      return "crossed";
  }
  return "?";
}

const char* to_string(SnapshotOutcome o) noexcept {
  switch (o) {
    case SnapshotOutcome::kSynced:
      return "synced";
    case SnapshotOutcome::kTooOld:
      return "too_old";
    case SnapshotOutcome::kGap:
      return "gap";
    case SnapshotOutcome::kCrossed:
      return "crossed";
    case SnapshotOutcome::kIgnored:
      return "ignored";
  }
  return "?";
}

}  // namespace cwts::md
