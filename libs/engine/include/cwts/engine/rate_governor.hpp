// RateGovernor: the engine's share of the venue's rate limits (exchangeInfo.rateLimits), per engine
// and per signal slot, corrected by the venue's own counters (X-MBX-USED-WEIGHT-1M,
// X-MBX-ORDER-COUNT-10S/1D) and stopped by 429/418 until Retry-After. A signal that would exceed a
// limit is rejected (RATE_LIMITED), never queued. Exec thread only; no allocation after
// construction.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "cwts/binance/exchange_info.hpp"
#include "cwts/engine/token_bucket.hpp"
#include "cwts/shm_layout/capacities.hpp"

namespace cwts::engine {

enum class RateDecision : std::uint8_t {
  kOk,
  kEngineWeight,  // the engine's REQUEST_WEIGHT (or RAW_REQUESTS) budget is spent
  kEngineOrders,  // the engine's ORDERS budget (10 s or 1 day) is spent
  kSlotBudget,    // this slot used its share
  kBackoff,       // the venue said 429/418: nothing until Retry-After
};
[[nodiscard]] const char* to_string(RateDecision d) noexcept;

class RateGovernor {
 public:
  static constexpr std::size_t kMaxBuckets = 6;

  // `engine_share` of every limit for the engine; `slot_share` of the engine's budget per slot
  // (at least one token each).
  RateGovernor(const std::vector<binance::RateLimit>& limits, double engine_share,
               double slot_share);

  // An order: `weight` request weight plus one order, from every engine bucket and the slot's —
  // all or nothing.
  [[nodiscard]] RateDecision try_acquire_order(std::uint32_t slot, std::uint32_t weight,
                                               std::int64_t now_ns) noexcept;
  // A non-order request (query, cancel, account): weight only, engine buckets only.
  [[nodiscard]] RateDecision try_acquire_request(std::uint32_t weight,
                                                 std::int64_t now_ns) noexcept;
  // Background traffic the engine chooses to send (order polls, account refreshes): as
  // try_acquire_request, but only while a tenth of each weight bucket would stay for orders and
  // cancels, so housekeeping never starves them after a back-off emptied the buckets.
  [[nodiscard]] RateDecision try_acquire_background(std::uint32_t weight,
                                                    std::int64_t now_ns) noexcept;
  // The weight background traffic may still spend now (what try_acquire_background would allow;
  // 0 during a back-off).
  [[nodiscard]] std::uint64_t background_headroom(std::int64_t now_ns) noexcept;
  // Weight spent outside the exec thread (the gateway's venue look-ups), taken from the engine's
  // weight buckets after the fact (as much as they hold).
  void charge_weight(std::uint64_t weight, std::int64_t now_ns) noexcept;

  // At start, before any venue header: an earlier run of the engine may have spent its whole
  // share of the venue's current windows (a minute of weight, ten seconds of orders) and the venue
  // still counts it; until it says otherwise, spend only what the venue's limit leaves beyond that
  // (nothing is held when engine_share <= 0.5).
  void assume_earlier_run_spent_its_share(std::int64_t now_ns) noexcept;
  // Venue headers after each response.
  void on_used_weight(std::uint64_t used_1m, std::int64_t now_ns) noexcept;
  void on_order_count(std::uint64_t count_10s, std::uint64_t count_1d,
                      std::int64_t now_ns) noexcept;
  // 429 (rate limit) or 418 (IP ban): every request waits until now + retry_after_s; a 429 with
  // code -1015 (the account's new-order count) holds new orders only.
  void on_retry_after(int http_status, std::int64_t retry_after_s, std::int64_t now_ns,
                      std::int32_t code = -1003) noexcept;
  [[nodiscard]] std::int64_t blocked_until_ns() const noexcept { return blocked_until_ns_; }
  // Another client of the venue (the feed) was told to back off: the same IP, so every request
  // waits until `until_ns` too (the buckets are left as they are).
  void hold_until(std::int64_t until_ns) noexcept {
    if (until_ns > blocked_until_ns_) blocked_until_ns_ = until_ns;
  }

  // The engine's limit for a venue window (0 if the venue has none), for status output.
  [[nodiscard]] std::uint64_t engine_capacity(binance::RateLimitType type,
                                              std::int64_t window_ms) const noexcept;

 private:
  struct Bucket {
    binance::RateLimitType type;
    std::int64_t window_ms;
    std::uint64_t venue_limit;
    TokenBucket engine;
    std::array<TokenBucket, layout::kMaxSlots> slots;
  };
  std::array<Bucket, kMaxBuckets> buckets_{};
  std::size_t count_ = 0;
  std::int64_t blocked_until_ns_ = 0;
  std::int64_t orders_blocked_until_ns_ = 0;  // -1015: new orders only
};

}  // namespace cwts::engine
