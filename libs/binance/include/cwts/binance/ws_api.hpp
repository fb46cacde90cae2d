// WsApiRequest: Binance's WebSocket API frames — the request envelope parsed into
// binance::Param's, the response envelope, and the user data stream's event wrapper.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cwts/binance/api_error.hpp"
#include "cwts/binance/rate_limits.hpp"
#include "cwts/binance/request.hpp"

namespace cwts::binance {

// One request frame, {"id":..,"method":"..","params":{..}} (web-socket-api.md "Request format").
struct WsApiRequest {
  std::string id_json = "null";  // the id as it is echoed back: 42, "4885f793-...", null
  std::string method;            // without its optional "v3/" prefix
  // `params` in the order sent. Values as text: strings unescaped, numbers exactly as written
  // (the client signed that text), booleans true/false, null as "", arrays and objects as
  // their JSON text.
  std::vector<Param> params;
  // The `returnRateLimits` param, if sent as a boolean (it stays in `params`: it is signed).
  std::optional<bool> return_rate_limits;
};

// Parses a request frame. Errors (all status 400; id_json is filled in if it could be read):
//  * not JSON, or not an object                 -> -1135 "Invalid JSON Request" (errors.md)
//  * `params` present but not an object         -> -1135 "Invalid 'params' in JSON request;
//                                                   expected an object." (the live venue's text)
//  * `id` missing or not an integer/string/null -> -1102 for 'id'
//  * `method` missing, empty or not a string    -> -1102 for 'method'
// Unknown methods are the caller's to reject (it knows which it serves).
struct WsApiParse {
  WsApiRequest request;
  ApiError error;  // ok() if `request` is complete
};
[[nodiscard]] WsApiParse parse_ws_api_request(std::string_view text);

// The response frame: {"id":..,"status":..,"result":<result_json>,"rateLimits":[..]} on
// success, {"id":..,"status":..,"error":{"code":..,"msg":..[,"data":{..}]},"rateLimits":[..]}
// on failure. `rate_limits` nullptr omits "rateLimits". For 429/418 errors pass
// `retry_after_ms` (epoch ms) to add "data":{"serverTime":..,"retryAfter":..} as Binance does.
struct WsApiResponse {
  std::string_view id_json = "null";
  int status = 200;
  std::string_view result_json;  // used when error.ok()
  const ApiError* error = nullptr;
  const std::vector<RateUsage>* rate_limits = nullptr;
  std::int64_t server_time_ms = 0;
  std::int64_t retry_after_ms = 0;  // 0: no "data"
};
[[nodiscard]] std::string ws_api_response_json(const WsApiResponse& r);

// A user data stream event as the WebSocket API delivers it:
// {"subscriptionId":N,"event":<event_json>}.
[[nodiscard]] std::string user_data_event_frame(std::int64_t subscription_id,
                                                std::string_view event_json);

// A connection event without a subscription, e.g. {"event":{"e":"serverShutdown","E":..}}.
[[nodiscard]] std::string connection_event_frame(std::string_view event_json);

}  // namespace cwts::binance
