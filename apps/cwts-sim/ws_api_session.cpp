// SimServer's WebSocket API sessions (/ws-api/v3): the transport around WsApi — frames in and
// out, the hold fault, pings, serverShutdown, drops and the connection lifetime.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "cwts/binance/market_json.hpp"
#include "cwts/binance/ws_api.hpp"
#include "json_log.hpp"
#include "sim_server_impl.hpp"
#include "venue.hpp"
#include "ws_api.hpp"
#include "ws_server_session.hpp"

namespace cwts::sim_server {

namespace {

using detail::WsServerSession;

constexpr std::string_view kWsApiPath = "/ws-api/v3";

class WsApiSession : public WsServerSession<WsApiSession> {
 public:
  static constexpr const char* kLogComponent = "ws-api";

  WsApiSession(tcp::socket&& sock, SimServer::Impl& srv) : WsServerSession(std::move(sock), srv) {}
  ~WsApiSession() override { cleanup(); }

  void start(const http::request<http::string_body>& req) {
    const std::string target(req.target());
    const std::size_t q = target.find('?');
    bool return_rate_limits = true;
    if (q != std::string::npos) {
      std::string_view qs = std::string_view(target).substr(q + 1);
      while (!qs.empty()) {
        const std::size_t amp = qs.find('&');
        if (qs.substr(0, amp) == "returnRateLimits=false") return_rate_limits = false;
        if (amp == std::string_view::npos) break;
        qs.remove_prefix(amp + 1);
      }
    }
    // The session owns its WsApi (the hub only holds it weakly), so `this` outlives the callback.
    api_ = std::make_shared<WsApi>(*srv_.rest, *srv_.user_data, return_rate_limits,
                                   [this](std::string frame) { send(std::move(frame)); });
    accept(req, 1 << 20);
  }

 private:
  friend class WsServerSession<WsApiSession>;

  // --- WsServerSession hooks ---

  void on_control(websocket::frame_type) {}

  void on_open() {
    srv_.rest->charge("WS connect", 2, wall_ms());  // web-socket-api.md: connecting costs 2
    log_event(spdlog::level::info, "ws-api", "session_open", LogFields().str("target", target_));
  }

  void on_incoming() {}

  // web-socket-api.md "Connection events": {"event":{"e":"serverShutdown","E":..}}.
  [[nodiscard]] static std::string shutdown_frame(std::int64_t event_ms) {
    return binance::connection_event_frame(binance::server_shutdown_event(event_ms));
  }

  static bool hold_writes() { return false; }

  void on_cleanup() {
    if (api_) api_->close();
  }

  // ---

  void on_message(std::string text) {
    const std::string method = WsApi::method_of(text);
    ++srv_.rest_requests["WS " + (method.empty() ? std::string("(malformed)") : method)];
    // The hold fault: the request reaches the venue only later; the connection's later requests
    // overtake it (Binance answers WebSocket API requests independently). It is executed even if
    // the connection is gone by then — the "unknown outcome" of an order whose answer was lost.
    Faults& f = srv_.venue->faults();
    if (f.hold_count > 0 && (f.path.empty() || f.path == kWsApiPath) &&
        (f.hold_method.empty() || f.hold_method == method)) {
      --f.hold_count;
      auto timer = std::make_shared<net::steady_timer>(ws_.get_executor());
      timer->expires_after(std::chrono::milliseconds(f.hold_ms));
      timer->async_wait([self = shared_from_this(), timer,
                         text = std::move(text)](beast::error_code) { self->api_->handle(text); });
      return;
    }
    api_->handle(text);
  }

  void send(std::string frame) { enqueue(std::make_shared<const std::string>(std::move(frame))); }

  std::shared_ptr<WsApi> api_;
};

}  // namespace

namespace detail {

void start_ws_api_session(tcp::socket&& sock, SimServer::Impl& srv,
                          const http::request<http::string_body>& req) {
  std::make_shared<WsApiSession>(std::move(sock), srv)->start(req);
}

}  // namespace detail

}  // namespace cwts::sim_server
