// RestApi: cwts-sim's Binance REST endpoints (public market data and SIGNED trading) over a Venue.
#pragma once

#include <cstdint>
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

 private:
  [[nodiscard]] HttpReply serve(const HttpRequestView& req);  // without injected faults

  Venue& venue_;
  binance::Credentials creds_;
  sim::RateLimiter limiter_;
};

}  // namespace cwts::sim_server
