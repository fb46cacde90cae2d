// TokenBucket: a venue rate limit as a continuously refilling bucket, in integer arithmetic on a
// nanosecond clock (no drift, no floating point), bounded by what the venue last said it counted
// in its current fixed window. Not thread-safe: the exec thread owns it.
#pragma once

#include <algorithm>
#include <cstdint>

namespace cwts::engine {

__extension__ typedef __int128 Int128;  // token·ns products exceed 64 bits

class TokenBucket {
 public:
  TokenBucket() = default;
  // `capacity` tokens per `window_ns`; starts full. capacity 0 = unlimited.
  TokenBucket(std::uint64_t capacity, std::int64_t window_ns) noexcept
      : capacity_(capacity), window_ns_(window_ns > 0 ? window_ns : 1) {
    level_scaled_ = scaled(capacity_);
  }

  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] bool unlimited() const noexcept { return capacity_ == 0; }

  // Tokens available now (whole tokens).
  [[nodiscard]] std::uint64_t available(std::int64_t now_ns) noexcept {
    if (unlimited()) return UINT64_MAX;
    refill(now_ns);
    const auto level = static_cast<std::uint64_t>(level_scaled_ / window_ns_);
    return now_ns < venue_window_end_ns_ ? std::min(level, venue_left_) : level;
  }
  [[nodiscard]] bool can_take(std::uint64_t n, std::int64_t now_ns) noexcept {
    return unlimited() || available(now_ns) >= n;
  }
  // Takes `n` tokens if there are that many; false (nothing taken) otherwise.
  bool try_acquire(std::uint64_t n, std::int64_t now_ns) noexcept {
    if (unlimited()) return true;
    if (available(now_ns) < n) return false;
    level_scaled_ -= scaled(n);
    if (now_ns < venue_window_end_ns_) venue_left_ -= n;
    return true;
  }
  // The venue says `used` of the window's capacity is spent (X-MBX-USED-WEIGHT-1M, ...): the
  // bucket never holds more than capacity - used. A lower venue count does not add tokens (our
  // own count may include requests the venue has not seen yet). The venue counts in fixed windows
  // aligned to its clock (a minute, ten seconds, a UTC day; `now_ns` is the realtime clock): until
  // the current one ends, no refill brings more than capacity - used, less what is taken after.
  void force_used(std::uint64_t used, std::int64_t now_ns) noexcept {
    if (unlimited()) return;
    refill(now_ns);
    const std::uint64_t left = used >= capacity_ ? 0 : capacity_ - used;
    level_scaled_ = std::min(level_scaled_, scaled(left));
    const std::int64_t end = (now_ns / window_ns_ + 1) * window_ns_;
    if (end != venue_window_end_ns_ || venue_left_assumed_) {
      venue_window_end_ns_ = end;
      venue_left_ = left;
      venue_left_assumed_ = false;
    } else {
      venue_left_ = std::min(venue_left_, left);
    }
  }
  // Before the venue has said anything: assume `used` of the current window is spent (an earlier
  // run's requests the venue still counts). The venue's first count replaces the assumption.
  void assume_used(std::uint64_t used, std::int64_t now_ns) noexcept {
    if (unlimited()) return;
    venue_window_end_ns_ = (now_ns / window_ns_ + 1) * window_ns_;
    venue_left_ = used >= capacity_ ? 0 : capacity_ - used;
    venue_left_assumed_ = true;
  }
  // Empties the bucket (a 429 from the venue).
  void drain(std::int64_t now_ns) noexcept {
    refill(now_ns);
    level_scaled_ =
        0;  // the venue's window count is left as it is: Retry-After says when to resume
  }

 private:
  // The level is kept in token·ns units so that refill is exact integer arithmetic: each elapsed
  // nanosecond adds `capacity` units, one token is `window_ns` units.
  [[nodiscard]] Int128 scaled(std::uint64_t tokens) const noexcept {
    return static_cast<Int128>(tokens) * window_ns_;
  }
  void refill(std::int64_t now_ns) noexcept {
    if (last_ns_ == 0 || now_ns < last_ns_) {
      last_ns_ = now_ns;
      return;
    }
    const Int128 add = static_cast<Int128>(now_ns - last_ns_) * capacity_;
    level_scaled_ = std::min(level_scaled_ + add, scaled(capacity_));
    last_ns_ = now_ns;
  }

  std::uint64_t capacity_ = 0;
  std::int64_t window_ns_ = 1;
  Int128 level_scaled_ = 0;
  std::int64_t last_ns_ = 0;
  std::int64_t venue_window_end_ns_ = 0;  // the venue's window its last count belongs to
  std::uint64_t venue_left_ = 0;          // capacity - its count, less what was taken since
  bool venue_left_assumed_ = false;       // assume_used, not yet the venue's own count
};

}  // namespace cwts::engine
