// RestApi: cwts-sim's Binance endpoints (public market data and SIGNED trading) over a Venue, for
// REST and for the WebSocket API (ws_api.hpp), which share its handlers and rate limiter.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cwts/binance/request.hpp"
#include "cwts/net/hmac.hpp"
#include "cwts/sim/rate_limiter.hpp"
#include "venue.hpp"

namespace cwts::sim_server {

struct HttpRequestView {
  std::string_view method;               // "GET", "POST", "DELETE", "PUT"
  std::string_view path;                 // "/api/v3/depth"
  std::string_view query;                // without '?'
  std::string_view body;                 // form-encoded body
  const std::string* api_key = nullptr;  // X-MBX-APIKEY, nullptr if absent
};

struct HttpReply {
  unsigned status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Applies a fault request ({"drop_connections":true}, {"stall_ms":2000}, {"skip_update_ids":1},
// {"delay_ms":200,"count":5}, {"http_status":429,"count":3}, {"pause":true}) to `faults`.
// `drop` is set if connections must be dropped now. False and `error` on malformed JSON.
[[nodiscard]] bool apply_fault_json(std::string_view json, Faults& faults,
                                    std::int64_t steady_now_ms, bool& drop, std::string& error);

// What a request asks for, whichever transport carried it. kOrderNew..kAllOrders and
// kUserStreamSubscribe are SIGNED. The last three exist only on the WebSocket API: execute()
// charges and authenticates them and the session does the rest.
enum class Endpoint : std::uint8_t {
  kPing,
  kTime,
  kExchangeInfo,
  kDepth,
  kKlines,
  kTicker24,
  kTickerPrice,
  kBookTicker,
  kTrades,
  kAggTrades,
  kOrderNew,
  kOrderTest,
  kOrderGet,
  kOrderCancel,
  kOpenOrders,
  kCancelAll,
  kAccount,
  kMyTrades,
  kAllOrders,
  kUserStreamSubscribe,    // userDataStream.subscribe.signature (weight 2)
  kUserStreamUnsubscribe,  // userDataStream.unsubscribe (weight 2)
  kSessionSubscriptions,   // session.subscriptions (weight 2)
  kNone
};

// The outcome of one request before a transport frames it: the result JSON, or an error with
// the HTTP(-like) status it goes out with.
struct ApiReply {
  int status = 200;
  std::string body;  // the result JSON when error.ok()
  binance::ApiError error;
  std::int64_t retry_after_s = 0;    // 429/418: Retry-After
  std::int64_t banned_until_ms = 0;  // 418: end of the ban (epoch ms)
  [[nodiscard]] bool ok() const noexcept { return error.ok(); }
};

// The body of an injected error (the http_status fault): `code` if the fault names one (with its
// documented message), else what Binance sends with that status.
[[nodiscard]] binance::ApiError injected_error(int status, int code, std::int64_t now_ms);

// Venue thread only (Not thread-safe). Never throws on a request: every failure is an error body.
class RestApi {
 public:
  RestApi(Venue& venue, binance::Credentials credentials);

  // A REST request, with the injected http_status fault (rest_faults.cpp).
  [[nodiscard]] HttpReply handle(const HttpRequestView& req);

  // One parsed request of either transport: weight (counted in the stats under `stats_name`,
  // e.g. "GET /api/v3/order" or "WS order.place", and under `api_key`), the rate limiter,
  // authentication if SIGNED (`api_key`: the X-MBX-APIKEY header or the apiKey param, nullptr if
  // absent), then the handler.
  struct Call {
    Endpoint endpoint = Endpoint::kNone;
    const binance::Request* request = nullptr;
    const std::string* api_key = nullptr;
    std::string_view stats_name;
  };
  [[nodiscard]] ApiReply execute(const Call& call, std::int64_t now_ms);
  // A request refused before it named an endpoint (malformed parameters or frame): counted with
  // weight 1 and charged to the limiter as Binance does, answered with `error`.
  [[nodiscard]] ApiReply reject(std::string_view stats_name, const std::string* api_key,
                                binance::ApiError error, std::int64_t now_ms);

  // The injected http_status fault's answer at `now_ms` (status, code, Retry-After); a 429 for
  // request weight opens its Retry-After in the limiter: a request before it has passed is banned,
  // as Binance bans an IP that goes on after a 429 (rest_faults.cpp).
  [[nodiscard]] ApiReply injected_reply(std::int64_t now_ms);

  // Weight that belongs to no request (a WebSocket API connection costs 2), counted in the stats
  // under `stats_name` and charged to the limiter.
  void charge(std::string_view stats_name, std::uint32_t weight, std::int64_t now_ms);

  // The limiter's windows at `now_ms`: REQUEST_WEIGHT always, ORDERS too if `order_request`.
  [[nodiscard]] std::vector<binance::RateUsage> rate_usage(std::int64_t now_ms,
                                                           bool order_request) const;
  [[nodiscard]] const binance::Credentials& credentials() const noexcept { return creds_; }
  [[nodiscard]] Venue& venue() noexcept { return venue_; }

  // What clients cost the venue since the start (or the last reset_stats()): requests and request
  // weight by endpoint ("GET /api/v3/openOrders") and by API key ("" = none). GET /_sim/stats.
  struct Usage {
    std::uint64_t requests = 0;
    std::uint64_t weight = 0;
  };
  [[nodiscard]] std::string stats_json() const;
  void reset_stats();

 private:
  void count(std::string_view stats_name, const std::string* api_key, std::uint32_t weight);
  [[nodiscard]] HttpReply serve(const HttpRequestView& req);  // without injected faults
  [[nodiscard]] ApiReply dispatch(Endpoint ep, const binance::Request& r, std::int64_t now_ms);

  Venue& venue_;
  binance::Credentials creds_;
  net::HmacSha256 secret_;  // creds_.secret_key's key schedule, made once
  sim::RateLimiter limiter_;
  std::map<std::string, Usage> by_endpoint_;
  std::map<std::string, Usage> by_key_;
  std::int64_t stats_since_ms_ = 0;
};

}  // namespace cwts::sim_server
