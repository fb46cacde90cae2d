// RateLimiter: epoch-aligned fixed windows, 429 then 418 with growing bans.
#include "cwts/sim/rate_limiter.hpp"

#include <algorithm>

namespace cwts::sim {

namespace {

std::int64_t unit_ms(binance::RateInterval i) noexcept {
  switch (i) {
    case binance::RateInterval::kSecond:
      return 1000;
    case binance::RateInterval::kMinute:
      return 60'000;
    case binance::RateInterval::kHour:
      return 3'600'000;
    case binance::RateInterval::kDay:
      return 86'400'000;
  }
  return 1000;
}

// "1 MINUTE", "10 SECOND": how the venue names a window in -1003/-1015 messages.
std::string per(const binance::RateLimit& l) {
  return std::to_string(l.interval_num) + " " + binance::to_string(l.interval);
}

std::int64_t ceil_seconds(std::int64_t ms) noexcept { return ms <= 0 ? 0 : (ms + 999) / 1000; }

std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

RateLimiter::RateLimiter(const std::vector<binance::RateLimit>& limits, BanPolicy policy)
    : policy_(policy) {
  for (const binance::RateLimit& l : limits) {
    Window w;
    w.limit = l;
    w.window_ms =
        unit_ms(l.interval) * static_cast<std::int64_t>(std::max<std::uint32_t>(1, l.interval_num));
    if (l.type == binance::RateLimitType::kRequestWeight) weights_.push_back(w);
    if (l.type == binance::RateLimitType::kOrders) orders_.push_back(w);
  }
}

void RateLimiter::roll(Window& w, std::int64_t now_ms) noexcept {
  const std::int64_t start = floor_div(now_ms, w.window_ms) * w.window_ms;
  if (start != w.start_ms) {
    w.start_ms = start;
    w.count = 0;
    w.warned = false;
  }
}

std::uint64_t RateLimiter::count_at(const Window& w, std::int64_t now_ms) noexcept {
  return floor_div(now_ms, w.window_ms) * w.window_ms == w.start_ms ? w.count : 0;
}

RateVerdict RateLimiter::admit(std::int64_t now_ms, std::uint32_t weight,
                               std::uint32_t new_orders) {
  RateVerdict v;
  if (now_ms < banned_until_ms_) {
    v.http_status = 418;
    v.banned_until_ms = banned_until_ms_;
    v.retry_after_s = ceil_seconds(banned_until_ms_ - now_ms);
    v.error = make_error(ErrorCode::kTooManyRequests,
                         "Way too much request weight used; IP banned until " +
                             std::to_string(banned_until_ms_) +
                             ". Please use WebSocket Streams for live updates to avoid bans.");
    v.error.http_status = 418;
    v.reason = "banned";
    return v;
  }

  // Request weight: charged even when the answer is 429, as the venue does.
  if (now_ms < backoff_until_ms_ && backoff_forgiven_ > 0) {
    --backoff_forgiven_;
    v.http_status = 429;
    v.retry_after_s = ceil_seconds(backoff_until_ms_ - now_ms);
    v.error = make_error(ErrorCode::kTooManyRequests,
                         "Too much request weight used; please back off until " +
                             std::to_string(backoff_until_ms_) + ".");
    v.reason = "backing_off";
    return v;
  }
  Window* over = nullptr;
  bool ban = now_ms < backoff_until_ms_;
  for (Window& w : weights_) {
    roll(w, now_ms);
    const bool was_over = w.count > w.limit.limit;
    w.count += weight;
    if (w.count > w.limit.limit) {
      // Going on after a 429 in the same window is what gets an IP banned (past the requests the
      // back-off window forgives).
      if (was_over && w.warned && now_ms >= backoff_until_ms_) ban = true;
      if (over == nullptr) over = &w;
    }
  }
  if (ban) {
    const std::int64_t length =
        last_ban_ms_ == 0 ? policy_.first_ban_ms : std::min(policy_.max_ban_ms, last_ban_ms_ * 2);
    last_ban_ms_ = length;
    banned_until_ms_ = now_ms + length;
    return admit(now_ms, 0, 0);  // the 418 answer above
  }
  if (over != nullptr) {
    over->warned = true;
    v.http_status = 429;
    v.retry_after_s = ceil_seconds(over->start_ms + over->window_ms - now_ms);
    // Requests already on their way (other connections, other threads) get 429 too; a client
    // that goes on past those is banned (the back-off window above).
    back_off(now_ms, v.retry_after_s);
    v.error = make_error(ErrorCode::kTooManyRequests,
                         "Too much request weight used; current limit is " +
                             std::to_string(over->limit.limit) + " request weight per " +
                             per(over->limit) +
                             ". Please use WebSocket Streams for live updates to avoid polling "
                             "the API.");
    v.reason = "over_weight_limit";
    return v;
  }

  if (new_orders > 0) {
    for (Window& w : orders_) {
      roll(w, now_ms);
      if (w.count + new_orders > w.limit.limit) {
        v.http_status = 429;
        v.retry_after_s = ceil_seconds(w.start_ms + w.window_ms - now_ms);
        v.error = make_error(ErrorCode::kTooManyOrders, "Too many new orders; current limit is " +
                                                            std::to_string(w.limit.limit) +
                                                            " orders per " + per(w.limit) + ".");
        v.reason = "over_order_limit";
        return v;
      }
    }
    for (Window& w : orders_) w.count += new_orders;
  }
  return v;
}

void RateLimiter::charge(std::int64_t now_ms, std::uint32_t weight) noexcept {
  for (Window& w : weights_) {
    roll(w, now_ms);
    w.count += weight;
  }
}

std::vector<RateUsage> RateLimiter::usage(std::int64_t now_ms) const {
  std::vector<RateUsage> out;
  for (const auto* list : {&weights_, &orders_}) {
    for (const Window& w : *list) out.push_back({w.limit, count_at(w, now_ms)});
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> RateLimiter::headers(std::int64_t now_ms,
                                                                      bool order_request) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Window& w : weights_) {
    out.emplace_back("X-MBX-USED-WEIGHT-" + interval_suffix(w.limit),
                     std::to_string(count_at(w, now_ms)));
  }
  if (order_request) {
    for (const Window& w : orders_) {
      out.emplace_back("X-MBX-ORDER-COUNT-" + interval_suffix(w.limit),
                       std::to_string(count_at(w, now_ms)));
    }
  }
  return out;
}

}  // namespace cwts::sim
