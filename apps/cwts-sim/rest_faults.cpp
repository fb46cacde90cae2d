// cwts-sim's injected faults on requests: the fault requests (POST /_sim/fault, --fault),
// RestApi::handle, which answers with an injected error before serving, and that error's body
// (also for the WebSocket API, ws_api.cpp).
#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "cwts/binance/json_responses.hpp"
#include "cwts/core/ascii.hpp"
#include "rest_api.hpp"

namespace cwts::sim_server {

using binance::ErrorCode;

binance::ApiError injected_error(int status, int code, std::int64_t now_ms) {
  switch (code != 0                        ? code
          : status == 429 || status == 418 ? -1003
          : status >= 500                  ? -1008
                                           : -1000) {
    case -1003:
      return binance::make_error(
          ErrorCode::kTooManyRequests,
          status == 418 ? "Way too much request weight used; IP banned until " +
                              std::to_string(now_ms + 120'000) +
                              ". Please use WebSocket Streams for live updates to avoid bans."
                        : "Too much request weight used; current limit is 1200 request weight per "
                          "1 MINUTE. Please use WebSocket Streams for live updates to avoid "
                          "polling the API.");
    case -1006:
      return binance::make_error(static_cast<ErrorCode>(-1006),
                                 "An unexpected response was received from the message bus. "
                                 "Execution status unknown.");
    case -1007:
      return binance::make_error(ErrorCode::kTimeout,
                                 "Timeout waiting for response from backend server. Send status "
                                 "unknown; execution status unknown.");
    case -1008:
      return binance::make_error(static_cast<ErrorCode>(-1008),
                                 "Server is currently overloaded with other requests. Please try "
                                 "again in a few minutes.");
    case -1015:
      return binance::make_error(ErrorCode::kTooManyOrders,
                                 "Too many new orders; current limit is 50 orders per 10 SECOND.");
    default:
      return binance::make_error(static_cast<ErrorCode>(code != 0 ? code : -1000),
                                 "An unknown error occurred while processing the request.");
  }
}

bool apply_fault_json(std::string_view json, Faults& f, std::int64_t steady_now_ms, bool& drop,
                      std::string& error) {
  drop = false;
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(json.data(), json.size()).get_object().get(obj) != simdjson::SUCCESS) {
    error = "fault: expected a JSON object";
    return false;
  }
  std::int64_t count = 1;
  if (obj["count"].get_int64().get(count) != simdjson::SUCCESS) count = 1;
  if (obj["http_status"].error() == simdjson::SUCCESS) {  // a new status fault: its own options
    f.code = 0;
    f.after_processing = false;
    f.retry_after_s = 0;
  }
  // "method" (an HTTP verb, or a WebSocket API method) narrows the status or hold fault it comes
  // with; without it that fault takes every method.
  std::string_view method;
  const bool has_method = obj["method"].get_string().get(method) == simdjson::SUCCESS;
  if (obj["http_status"].error() == simdjson::SUCCESS) f.status_method = method;
  if (obj["hold_ms"].error() == simdjson::SUCCESS) f.hold_method = method;
  for (auto [key, value] : obj) {
    std::int64_t n = 0;
    bool b = false;
    if (key == "count") continue;
    std::string_view text;
    if (key == "path" && value.get_string().get(text) == simdjson::SUCCESS) {
      f.path = std::string(text);
      continue;
    }
    if (key == "drop_symbol" && value.get_string().get(text) == simdjson::SUCCESS &&
        !text.empty()) {
      f.drop_symbol = core::ascii_lower(text);
      continue;
    }
    if (key == "drop_connections" && value.get_bool().get(b) == simdjson::SUCCESS) {
      drop = b;
    } else if (key == "pause" && value.get_bool().get(b) == simdjson::SUCCESS) {
      f.paused = b;
    } else if (key == "server_shutdown" && value.get_bool().get(b) == simdjson::SUCCESS) {
      f.server_shutdown = b;
    } else if (key == "expire_connections" && value.get_bool().get(b) == simdjson::SUCCESS) {
      f.expire_connections = b;
    } else if (key == "stall_ms" && value.get_int64().get(n) == simdjson::SUCCESS && n >= 0) {
      f.stall_until_ms = steady_now_ms + n;
    } else if (key == "skip_update_ids" && value.get_int64().get(n) == simdjson::SUCCESS &&
               n >= 0) {
      f.skip_update_ids = n;
    } else if (key == "delay_ms" && value.get_int64().get(n) == simdjson::SUCCESS && n >= 0) {
      f.delay_ms = n;
      f.delay_count = count;
    } else if (key == "http_status" && value.get_int64().get(n) == simdjson::SUCCESS && n >= 400 &&
               n <= 599) {
      f.http_status = static_cast<int>(n);
      f.http_status_count = count;
    } else if (key == "hold_ms" && value.get_int64().get(n) == simdjson::SUCCESS && n >= 0) {
      f.hold_ms = n;
      f.hold_count = count;
    } else if (key == "method" && has_method) {
      continue;  // above
    } else if (key == "code" && value.get_int64().get(n) == simdjson::SUCCESS && n < 0 &&
               n > -10'000) {
      f.code = static_cast<int>(n);
    } else if (key == "retry_after_s" && value.get_int64().get(n) == simdjson::SUCCESS && n > 0 &&
               n <= 86'400) {
      f.retry_after_s = n;
    } else if (key == "after_processing" && value.get_bool().get(b) == simdjson::SUCCESS) {
      f.after_processing = b;
    } else {
      error = "fault: unknown or malformed member '" + std::string(key) + "'";
      return false;
    }
  }
  return true;
}

ApiReply RestApi::injected_reply(std::int64_t now_ms) {
  const Faults& f = venue_.faults();
  ApiReply a;
  a.status = f.http_status;
  a.error = injected_error(f.http_status, f.code, now_ms);
  if (a.status == 429 || a.status == 418) {
    a.retry_after_s = f.retry_after_s > 0 ? f.retry_after_s : (a.status == 429 ? 1 : 120);
    if (a.status == 418) {
      a.banned_until_ms = now_ms + a.retry_after_s * 1000;
      limiter_.ban(now_ms, a.retry_after_s);  // a ban: every request until it ends
    }
    // -1015 is the account's order count: it bans nobody.
    if (a.status == 429 && f.code != -1015) limiter_.back_off(now_ms, a.retry_after_s);
  }
  return a;
}

HttpReply RestApi::handle(const HttpRequestView& req) {
  Faults& faults = venue_.faults();
  if (faults.http_status_count == 0 || !faults.applies_to(req.path) ||
      (!faults.status_method.empty() && faults.status_method != req.method)) {
    return serve(req);
  }
  // Injected: the venue answers the next N requests with this status, as an overloaded or
  // rate-limiting Binance would; with after_processing, the request is executed first and only
  // its answer is lost ("execution status unknown").
  --faults.http_status_count;
  if (faults.after_processing) (void)serve(req);
  const ApiReply a = injected_reply(wall_ms());
  HttpReply r;
  r.status = static_cast<unsigned>(a.status);
  r.body = binance::error_json(a.error);
  if (r.status == 429 || r.status == 418)
    r.headers.emplace_back("Retry-After", std::to_string(a.retry_after_s));
  return r;
}

}  // namespace cwts::sim_server
