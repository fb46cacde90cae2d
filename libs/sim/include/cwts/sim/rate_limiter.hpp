// RateLimiter: the venue side of Binance's REQUEST_WEIGHT/ORDERS limits, headers, 429 and 418.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cwts/binance/api_error.hpp"
#include "cwts/binance/exchange_info.hpp"
#include "cwts/binance/rate_limits.hpp"
#include "cwts/sim/wire.hpp"

namespace cwts::sim {

// How bans grow: the first 418 lasts `first_ban_ms`, each later one twice the previous, capped
// at `max_ban_ms` (rest-api.md: "bans scale from 2 minutes to 3 days").
struct BanPolicy {
  std::int64_t first_ban_ms = 120'000;    // 2 minutes
  std::int64_t max_ban_ms = 259'200'000;  // 3 days
};

// The outcome of one request. http_status 200 means "go on"; 429 and 418 carry the -1003/-1015
// error body and Retry-After (seconds: for 429 until the window resets, for 418 until the ban
// ends). banned_until_ms is the WS-API error "data.retryAfter" (epoch ms).
struct RateVerdict {
  int http_status = 200;
  std::int64_t retry_after_s = 0;
  std::int64_t banned_until_ms = 0;
  ApiError error;
  // Why it was refused: "over_weight_limit" or "over_order_limit" (this request went over a
  // limit), "backing_off" (it arrived inside a 429's back-off, already on its way), "banned".
  const char* reason = "";
};

// Windows are fixed and aligned to the Unix epoch (a 1 MINUTE window resets on each minute, 10
// SECOND at :00, :10, ..., 1 DAY at 00:00 UTC), as web-socket-api.md describes. Weight is
// charged for every admitted or 429'd request; a request that arrives while its weight window is
// already over the limit and a 429 was sent in that window gets 418 and a ban. ORDERS limits
// count accepted new orders; exceeding them is 429 -1015 (per account, no ban). RAW_REQUESTS
// limits are ignored. Keep one RateLimiter per client IP (the simulator has one account).
// Time is injected. Not thread-safe.
class RateLimiter {
 public:
  // Uses the REQUEST_WEIGHT and ORDERS entries of `limits` (e.g. ExchangeInfo::rate_limits).
  explicit RateLimiter(const std::vector<binance::RateLimit>& limits, BanPolicy policy = {});

  // Charges `weight` and, if `new_orders` > 0, counts that many new orders, at `now_ms`.
  [[nodiscard]] RateVerdict admit(std::int64_t now_ms, std::uint32_t weight,
                                  std::uint32_t new_orders = 0);

  // Weight that is not a request (a WebSocket API connection costs 2): counted in the weight
  // windows, never refused, and not a request that ignores a back-off.
  void charge(std::int64_t now_ms, std::uint32_t weight) noexcept;
  // Counts in the windows current at `now_ms` (0 for a window that has rolled over).
  [[nodiscard]] std::vector<RateUsage> usage(std::int64_t now_ms) const;

  // Response headers at `now_ms`: X-MBX-USED-WEIGHT-<n><S|M|H|D> for every weight limit, and
  // X-MBX-ORDER-COUNT-<n><S|M|H|D> for every order limit if `order_request`.
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> headers(std::int64_t now_ms,
                                                                         bool order_request) const;

  [[nodiscard]] std::int64_t banned_until_ms() const noexcept { return banned_until_ms_; }
  // A 429 answered outside these windows (an injected fault) with Retry-After `retry_after_s`.
  // Requests before it has passed get 429 too, the first kBackoffForgiven of them (those that
  // were already on their way on the client's other connections); any more ignored the back-off
  // ("repeatedly ... failing to back off after receiving 429s") and get 418 and a ban.
  static constexpr int kBackoffForgiven = 3;
  // An IP ban (an injected 418) until `now_ms` + `seconds`: every request is refused with 418.
  void ban(std::int64_t now_ms, std::int64_t seconds) noexcept {
    banned_until_ms_ = std::max(banned_until_ms_, now_ms + seconds * 1000);
  }
  void back_off(std::int64_t now_ms, std::int64_t retry_after_s) noexcept {
    backoff_until_ms_ = std::max(backoff_until_ms_, now_ms + retry_after_s * 1000);
    backoff_forgiven_ = kBackoffForgiven;
  }

 private:
  struct Window {
    binance::RateLimit limit{};
    std::int64_t window_ms = 0;
    std::int64_t start_ms = -1;  // start of the window `count` belongs to
    std::uint64_t count = 0;
    bool warned = false;  // a 429 was sent in this window
  };

  static void roll(Window& w, std::int64_t now_ms) noexcept;
  [[nodiscard]] static std::uint64_t count_at(const Window& w, std::int64_t now_ms) noexcept;

  std::vector<Window> weights_;
  std::vector<Window> orders_;
  BanPolicy policy_;
  std::int64_t banned_until_ms_ = 0;
  std::int64_t last_ban_ms_ = 0;
  std::int64_t backoff_until_ms_ = 0;  // back_off(): requests before then are banned...
  int backoff_forgiven_ = 0;           // ...after this many more 429s
};

}  // namespace cwts::sim
