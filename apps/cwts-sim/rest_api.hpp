// RestApi: cwts-sim's Binance REST endpoints (public market data and SIGNED trading) over a Venue.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cwts/binance/request.hpp"
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

// Venue thread only (Not thread-safe). Never throws on a request: every failure is an error body.
class RestApi {
 public:
  RestApi(Venue& venue, binance::Credentials credentials);

  [[nodiscard]] HttpReply handle(const HttpRequestView& req);

  // What clients cost the venue since the start (or the last reset_stats()): requests and request
  // weight by endpoint ("GET /api/v3/openOrders") and by API key ("" = none). GET /_sim/stats.
  struct Usage {
    std::uint64_t requests = 0;
    std::uint64_t weight = 0;
  };
  [[nodiscard]] std::string stats_json() const;
  void reset_stats();

 private:
  void count(const HttpRequestView& req, std::uint32_t weight);
  [[nodiscard]] HttpReply serve(const HttpRequestView& req);  // without injected faults

  Venue& venue_;
  binance::Credentials creds_;
  sim::RateLimiter limiter_;
  std::map<std::string, Usage> by_endpoint_;
  std::map<std::string, Usage> by_key_;
  std::int64_t stats_since_ms_ = 0;
};

}  // namespace cwts::sim_server
