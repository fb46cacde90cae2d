// WsApi: WebSocket API requests over RestApi's handlers, and the user data stream subscriptions
// of one connection (see ws_api.hpp).
#include "ws_api.hpp"

#include <algorithm>
#include <utility>

#include "cwts/binance/json_responses.hpp"
#include "cwts/binance/ws_api.hpp"
#include "cwts/core/json_writer.hpp"
#include "json_log.hpp"
#include "venue.hpp"

namespace cwts::sim_server {

namespace {

using binance::ApiError;
using binance::ErrorCode;

constexpr std::string_view kWsApiPath = "/ws-api/v3";

struct Method {
  std::string_view name;
  Endpoint endpoint;
};

// web-socket-api.md's method names for the endpoints RestApi serves.
constexpr Method kMethods[] = {
    {"ping", Endpoint::kPing},
    {"time", Endpoint::kTime},
    {"exchangeInfo", Endpoint::kExchangeInfo},
    {"depth", Endpoint::kDepth},
    {"klines", Endpoint::kKlines},
    {"ticker.24hr", Endpoint::kTicker24},
    {"ticker.price", Endpoint::kTickerPrice},
    {"ticker.book", Endpoint::kBookTicker},
    {"trades.recent", Endpoint::kTrades},
    {"trades.aggregate", Endpoint::kAggTrades},
    {"order.place", Endpoint::kOrderNew},
    {"order.test", Endpoint::kOrderTest},
    {"order.status", Endpoint::kOrderGet},
    {"order.cancel", Endpoint::kOrderCancel},
    {"openOrders.status", Endpoint::kOpenOrders},
    {"openOrders.cancelAll", Endpoint::kCancelAll},
    {"account.status", Endpoint::kAccount},
    {"myTrades", Endpoint::kMyTrades},
    {"allOrders", Endpoint::kAllOrders},
    {"userDataStream.subscribe.signature", Endpoint::kUserStreamSubscribe},
    {"userDataStream.unsubscribe", Endpoint::kUserStreamUnsubscribe},
    {"session.subscriptions", Endpoint::kSessionSubscriptions},
};

Endpoint endpoint_of(std::string_view method) noexcept {
  for (const Method& m : kMethods)
    if (m.name == method) return m.endpoint;
  return Endpoint::kNone;
}

ApiReply failed(ApiError e) {
  ApiReply r;
  r.status = e.http_status;
  r.error = std::move(e);
  return r;
}

}  // namespace

WsApi::WsApi(RestApi& rest, UserDataHub& hub, bool return_rate_limits, Send send)
    : rest_(rest), hub_(hub), return_rate_limits_(return_rate_limits), send_(std::move(send)) {}

WsApi::~WsApi() { hub_.detach(this); }

std::string WsApi::method_of(std::string_view text) {
  binance::WsApiParse p = binance::parse_ws_api_request(text);
  return std::move(p.request.method);
}

void WsApi::close() noexcept {
  closed_ = true;
  subscriptions_.clear();
  hub_.detach(this);
}

void WsApi::on_user_event(const std::string& event_json) {
  if (closed_) return;
  for (const std::int64_t id : subscriptions_)
    send_(binance::user_data_event_frame(id, event_json));
}

void WsApi::handle(std::string_view text) {
  // Events the request causes wait until its response is out (one connection: response first).
  hub_.hold();
  std::vector<std::string> after;
  std::string response = respond(text, after);
  if (!closed_) {
    send_(std::move(response));
    for (auto& f : after) send_(std::move(f));
  }
  hub_.release();
}

std::string WsApi::respond(std::string_view text, std::vector<std::string>& after) {
  const std::int64_t now_ms = wall_ms();
  binance::WsApiParse parsed = binance::parse_ws_api_request(text);
  const binance::WsApiRequest& q = parsed.request;
  const bool with_limits = q.return_rate_limits.value_or(return_rate_limits_);
  const Endpoint ep = parsed.error.ok() ? endpoint_of(q.method) : Endpoint::kNone;

  const std::string* api_key = nullptr;
  for (const auto& p : q.params)
    if (p.name == "apiKey") api_key = &p.value;

  const auto frame = [&](const ApiReply& a) {
    std::vector<binance::RateUsage> usage;
    if (with_limits) usage = rest_.rate_usage(now_ms, ep == Endpoint::kOrderNew);
    binance::WsApiResponse r;
    r.id_json = q.id_json;
    r.status = a.status;
    r.result_json = a.body;
    r.error = &a.error;
    r.rate_limits = with_limits ? &usage : nullptr;
    r.server_time_ms = now_ms;
    if (a.status == 418) r.retry_after_ms = a.banned_until_ms;
    if (a.status == 429) r.retry_after_ms = now_ms + a.retry_after_s * 1000;
    return binance::ws_api_response_json(r);
  };

  if (!parsed.error.ok())
    return frame(rest_.reject("WS (malformed)", api_key, parsed.error, now_ms));
  if (ep == Endpoint::kNone) {
    return frame(rest_.reject(
        "WS (unknown method)", api_key,
        binance::make_error(ErrorCode::kUnsupportedOperation, "This operation is not supported."),
        now_ms));
  }
  const std::string stats_name = "WS " + q.method;
  auto request = binance::Request::from_ws_params(q.params);
  if (!request.ok()) return frame(rest_.reject(stats_name, api_key, request.error(), now_ms));

  // The http_status fault with "path":"/ws-api/v3": the request gets the injected error, after
  // being executed if "after_processing" (its events still go out: execution status unknown).
  Faults& f = rest_.venue().faults();
  bool injected = false;
  if (f.http_status_count > 0 && f.path == kWsApiPath &&
      (f.status_method.empty() || f.status_method == q.method)) {
    --f.http_status_count;
    injected = true;
    if (!f.after_processing) return frame(rest_.injected_reply(now_ms));
  }

  ApiReply a = rest_.execute(RestApi::Call{ep, &request.value(), api_key, stats_name}, now_ms);
  if (a.ok()) {
    switch (ep) {
      case Endpoint::kUserStreamSubscribe: {
        if (!subscriptions_.empty()) {
          a = failed(binance::make_error(ErrorCode::kSubscriptionActive,
                                         "User Data Stream subscription already active."));
          break;
        }
        const std::int64_t id = next_subscription_id_++;
        subscriptions_.push_back(id);
        hub_.attach(weak_from_this());
        core::JsonWriter w;
        w.begin_object().key("subscriptionId").integer(id).end_object();
        a.body = std::move(w).str();
        log_event(spdlog::level::info, "ws-api", "user_stream_subscribed",
                  LogFields().num("subscriptionId", id));
        break;
      }
      case Endpoint::kUserStreamUnsubscribe: {
        auto id = binance::parse_integer(request.value(), "subscriptionId", false);
        if (!id.ok()) {
          a = failed(id.error());
          break;
        }
        std::vector<std::int64_t> stopped;
        if (id.value()) {
          const auto it = std::find(subscriptions_.begin(), subscriptions_.end(), *id.value());
          if (it != subscriptions_.end()) {
            stopped.push_back(*it);
            subscriptions_.erase(it);
          }
        } else {
          stopped.swap(subscriptions_);
        }
        if (stopped.empty()) {
          a = failed(binance::make_error(ErrorCode::kSubscriptionInactive,
                                         "User Data Stream subscription not active."));
          break;
        }
        if (subscriptions_.empty()) hub_.detach(this);
        for (const std::int64_t s : stopped) {
          core::JsonWriter w(64);
          binance::write_event_stream_terminated(w, wall_ms());
          after.push_back(binance::user_data_event_frame(s, w.str()));
        }
        a.body = "{}";
        break;
      }
      case Endpoint::kSessionSubscriptions: {
        core::JsonWriter w;
        w.begin_array();
        for (const std::int64_t s : subscriptions_)
          w.begin_object().key("subscriptionId").integer(s).end_object();
        w.end_array();
        a.body = std::move(w).str();
        break;
      }
      default:
        break;
    }
  }
  if (injected) a = rest_.injected_reply(now_ms);
  log_event(spdlog::level::debug, "ws-api", "request",
            LogFields().str("method", q.method).num("status", a.status));
  return frame(a);
}

}  // namespace cwts::sim_server
