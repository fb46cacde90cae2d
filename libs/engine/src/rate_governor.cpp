#include "cwts/engine/rate_governor.hpp"

#include <algorithm>
#include <cmath>

namespace cwts::engine {

const char* to_string(RateDecision d) noexcept {
  switch (d) {
    case RateDecision::kOk:
      return "OK";
    case RateDecision::kEngineWeight:
      return "ENGINE_WEIGHT";
    case RateDecision::kEngineOrders:
      return "ENGINE_ORDERS";
    case RateDecision::kSlotBudget:
      return "SLOT_BUDGET";
    case RateDecision::kBackoff:
      return "BACKOFF";
  }
  return "?";
}

namespace {
std::uint64_t share_of(std::uint64_t limit, double share) {
  return std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::floor(static_cast<double>(limit) * share)));
}
}  // namespace

RateGovernor::RateGovernor(const std::vector<binance::RateLimit>& limits, double engine_share,
                           double slot_share) {
  for (const auto& l : limits) {
    if (count_ == kMaxBuckets || l.limit == 0) continue;
    Bucket& b = buckets_[count_++];
    b.type = l.type;
    b.window_ms = l.window_ms();
    b.venue_limit = l.limit;
    const std::int64_t window_ns = b.window_ms * 1'000'000;
    const std::uint64_t engine_cap = share_of(l.limit, engine_share);
    b.engine = TokenBucket(engine_cap, window_ns);
    for (auto& s : b.slots) s = TokenBucket(share_of(engine_cap, slot_share), window_ns);
  }
}

RateDecision RateGovernor::try_acquire_order(std::uint32_t slot, std::uint32_t weight,
                                             std::int64_t now_ns) noexcept {
  if (now_ns < blocked_until_ns_ || now_ns < orders_blocked_until_ns_)
    return RateDecision::kBackoff;
  if (slot >= layout::kMaxSlots) return RateDecision::kSlotBudget;
  const auto cost = [&](const Bucket& b) -> std::uint64_t {
    return b.type == binance::RateLimitType::kRequestWeight ? weight : 1;
  };
  // An order costs request weight, a raw request and an order: every bucket. Check everything
  // first, then take: all or nothing.
  for (std::size_t i = 0; i < count_; ++i) {
    Bucket& b = buckets_[i];
    if (!b.engine.can_take(cost(b), now_ns)) {
      return b.type == binance::RateLimitType::kOrders ? RateDecision::kEngineOrders
                                                       : RateDecision::kEngineWeight;
    }
    if (!b.slots[slot].can_take(cost(b), now_ns)) return RateDecision::kSlotBudget;
  }
  for (std::size_t i = 0; i < count_; ++i) {
    Bucket& b = buckets_[i];
    (void)b.engine.try_acquire(cost(b), now_ns);
    (void)b.slots[slot].try_acquire(cost(b), now_ns);
  }
  return RateDecision::kOk;
}

RateDecision RateGovernor::try_acquire_request(std::uint32_t weight, std::int64_t now_ns) noexcept {
  if (now_ns < blocked_until_ns_) return RateDecision::kBackoff;
  for (std::size_t i = 0; i < count_; ++i) {
    Bucket& b = buckets_[i];
    if (b.type == binance::RateLimitType::kOrders) continue;
    const std::uint64_t c = b.type == binance::RateLimitType::kRequestWeight ? weight : 1;
    if (!b.engine.can_take(c, now_ns)) return RateDecision::kEngineWeight;
  }
  for (std::size_t i = 0; i < count_; ++i) {
    Bucket& b = buckets_[i];
    if (b.type == binance::RateLimitType::kOrders) continue;
    (void)b.engine.try_acquire(b.type == binance::RateLimitType::kRequestWeight ? weight : 1,
                               now_ns);
  }
  return RateDecision::kOk;
}

RateDecision RateGovernor::try_acquire_background(std::uint32_t weight,
                                                  std::int64_t now_ns) noexcept {
  if (now_ns < blocked_until_ns_) return RateDecision::kBackoff;
  for (std::size_t i = 0; i < count_; ++i) {
    Bucket& b = buckets_[i];
    if (b.type != binance::RateLimitType::kRequestWeight) continue;
    if (!b.engine.can_take(weight + b.engine.capacity() / 10, now_ns)) {
      return RateDecision::kEngineWeight;
    }
  }
  return try_acquire_request(weight, now_ns);
}

std::uint64_t RateGovernor::background_headroom(std::int64_t now_ns) noexcept {
  if (now_ns < blocked_until_ns_) return 0;
  std::uint64_t headroom = UINT64_MAX;
  for (std::size_t i = 0; i < count_; ++i) {
    Bucket& b = buckets_[i];
    if (b.type != binance::RateLimitType::kRequestWeight || b.engine.unlimited()) continue;
    const std::uint64_t avail = b.engine.available(now_ns);
    const std::uint64_t reserve = b.engine.capacity() / 10;
    headroom = std::min(headroom, avail > reserve ? avail - reserve : 0);
  }
  return headroom;
}

void RateGovernor::charge_weight(std::uint64_t weight, std::int64_t now_ns) noexcept {
  for (std::size_t i = 0; i < count_; ++i) {
    Bucket& b = buckets_[i];
    if (b.type != binance::RateLimitType::kRequestWeight || b.engine.unlimited()) continue;
    (void)b.engine.try_acquire(std::min(weight, b.engine.available(now_ns)), now_ns);
  }
}

void RateGovernor::assume_earlier_run_spent_its_share(std::int64_t now_ns) noexcept {
  for (std::size_t i = 0; i < count_; ++i) {
    Bucket& b = buckets_[i];
    if (b.window_ms > 60'000 || b.engine.unlimited()) continue;
    if (b.type != binance::RateLimitType::kRequestWeight &&
        b.type != binance::RateLimitType::kOrders)
      continue;
    // cap - used = venue_limit - cap: the venue's limit less an earlier run's whole share.
    const std::uint64_t cap = b.engine.capacity();
    const std::uint64_t beyond = b.venue_limit > cap ? b.venue_limit - cap : 0;
    b.engine.assume_used(cap > beyond ? cap - beyond : 0, now_ns);
  }
}

void RateGovernor::on_used_weight(std::uint64_t used_1m, std::int64_t now_ns) noexcept {
  for (std::size_t i = 0; i < count_; ++i) {
    Bucket& b = buckets_[i];
    if (b.type != binance::RateLimitType::kRequestWeight || b.window_ms != 60'000) continue;
    // The venue's count is against its full limit; the engine may use engine_share of it, so
    // what is left for us is engine_cap - used (never negative).
    b.engine.force_used(used_1m, now_ns);
  }
}

void RateGovernor::on_order_count(std::uint64_t count_10s, std::uint64_t count_1d,
                                  std::int64_t now_ns) noexcept {
  for (std::size_t i = 0; i < count_; ++i) {
    Bucket& b = buckets_[i];
    if (b.type != binance::RateLimitType::kOrders) continue;
    if (b.window_ms == 10'000) b.engine.force_used(count_10s, now_ns);
    if (b.window_ms == 86'400'000) b.engine.force_used(count_1d, now_ns);
  }
}

void RateGovernor::on_retry_after(int http_status, std::int64_t retry_after_s, std::int64_t now_ns,
                                  std::int32_t code) noexcept {
  // Binance: 429 without Retry-After still means "back off"; 418 bans last minutes to days.
  const std::int64_t s = retry_after_s > 0 ? retry_after_s : (http_status == 418 ? 120 : 1);
  const std::int64_t until = now_ns + s * 1'000'000'000LL;
  if (http_status == 429 && code == -1015) {
    // The account's new-order count: new orders wait, cancels and queries go on (no IP ban).
    orders_blocked_until_ns_ = std::max(orders_blocked_until_ns_, until);
    for (std::size_t i = 0; i < count_; ++i) {
      if (buckets_[i].type == binance::RateLimitType::kOrders && buckets_[i].window_ms <= 60'000)
        buckets_[i].engine.drain(now_ns);
    }
    return;
  }
  blocked_until_ns_ = std::max<std::int64_t>(blocked_until_ns_, until);
  // Our count was behind the venue's: empty the short windows (weight per minute, orders per 10 s),
  // which refill in seconds. A daily bucket emptied here would stall trading for hours.
  for (std::size_t i = 0; i < count_; ++i) {
    if (buckets_[i].window_ms <= 60'000) buckets_[i].engine.drain(now_ns);
  }
}

std::uint64_t RateGovernor::engine_capacity(binance::RateLimitType type,
                                            std::int64_t window_ms) const noexcept {
  for (std::size_t i = 0; i < count_; ++i) {
    if (buckets_[i].type == type && buckets_[i].window_ms == window_ms)
      return buckets_[i].engine.capacity();
  }
  return 0;
}

}  // namespace cwts::engine
