// SimServer's WebSocket API sessions (/ws-api/v3): the transport around WsApi — frames in and
// out, the hold fault, pings, serverShutdown, drops and the connection lifetime.
#include <chrono>
#include <deque>
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

namespace cwts::sim_server {

namespace {

using detail::Droppable;
using detail::steady_ms;

constexpr std::string_view kWsApiPath = "/ws-api/v3";

class WsApiSession : public std::enable_shared_from_this<WsApiSession>, public Droppable {
 public:
  WsApiSession(tcp::socket&& sock, SimServer::Impl& srv)
      : ws_(std::move(sock)),
        srv_(srv),
        ping_timer_(ws_.get_executor()),
        close_timer_(ws_.get_executor()) {}
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
    target_ = target;
    // The session owns its WsApi (the hub only holds it weakly), so `this` outlives the callback.
    api_ = std::make_shared<WsApi>(*srv_.rest, *srv_.user_data, return_rate_limits,
                                   [this](std::string frame) { send(std::move(frame)); });
    ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(10),
                                                   websocket::stream_base::none(), false});
    ws_.read_message_max(1 << 20);
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) last_pong_ms_ = steady_ms();
    });
    ws_.async_accept(req,
                     [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  void drop() override {
    if (closed_) return;
    cleanup();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  void expire() override {
    if (closed_ || !accepted_) return;
    cleanup();
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) {
      beast::error_code ec;
      beast::get_lowest_layer(self->ws_).socket().close(ec);
    });
  }

  // web-socket-api.md "Connection events": {"event":{"e":"serverShutdown","E":..}}, then the
  // session closes 200 ms later.
  void announce_shutdown(std::int64_t event_ms) override {
    if (closed_ || !accepted_) return;
    send(binance::connection_event_frame(binance::server_shutdown_event(event_ms)));
    close_timer_.expires_after(std::chrono::milliseconds(200));
    close_timer_.async_wait([self = shared_from_this()](beast::error_code) { self->expire(); });
  }

  [[nodiscard]] std::int64_t opened_ms() const override { return opened_ms_; }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) {
      cleanup();
      return;
    }
    accepted_ = true;
    opened_ms_ = steady_ms();
    srv_.ws_sessions.push_back(weak_from_this());
    ++srv_.sessions_opened;
    srv_.rest->charge("WS connect", 2, wall_ms());  // web-socket-api.md: connecting costs 2
    log_event(spdlog::level::info, "ws-api", "session_open", LogFields().str("target", target_));
    last_pong_ms_ = steady_ms();
    arm_ping();
    do_read();
    if (!q_.empty() && !writing_) do_write();
  }

  void arm_ping() {
    ping_timer_.expires_after(srv_.cfg.ping_interval);
    ping_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      const auto& cfg = self->srv_.cfg;
      if (steady_ms() - self->last_pong_ms_ >
          static_cast<std::int64_t>(cfg.pong_timeout.count() + cfg.ping_interval.count())) {
        log_event(spdlog::level::info, "ws-api", "pong_timeout");
        self->drop();
        return;
      }
      if (!self->pinging_) {
        self->pinging_ = true;
        self->ws_.async_ping({}, [self](beast::error_code) { self->pinging_ = false; });
      }
      self->arm_ping();
    });
  }

  void do_read() {
    ws_.async_read(rbuf_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        if (!self->closed_)
          log_event(spdlog::level::info, "ws-api", "session_closed",
                    LogFields().str("reason", ec.message()));
        self->cleanup();
        return;
      }
      if (self->closed_) return;
      std::string text = beast::buffers_to_string(self->rbuf_.data());
      self->rbuf_.consume(self->rbuf_.size());
      self->on_message(std::move(text));
      self->do_read();
    });
  }

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

  void send(std::string frame) {
    if (closed_) return;
    if (q_.size() >= srv_.cfg.max_ws_queue_frames) {
      log_event(spdlog::level::warn, "ws-api", "slow_consumer_dropped",
                LogFields().num("queued", static_cast<std::int64_t>(q_.size())));
      drop();
      return;
    }
    q_.push_back(std::make_shared<const std::string>(std::move(frame)));
    if (!writing_) do_write();
  }

  void do_write() {
    if (closed_ || !accepted_ || q_.empty()) return;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(*q_.front()),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      self->writing_ = false;
                      if (ec) {
                        self->cleanup();
                        return;
                      }
                      self->q_.pop_front();
                      self->do_write();
                    });
  }

  void cleanup() {
    if (closed_) return;
    closed_ = true;
    if (api_) api_->close();
    // A write in flight still reads the front frame until its handler runs: keep that one alive.
    if (writing_ && !q_.empty()) {
      auto in_flight = std::move(q_.front());
      q_.clear();
      q_.push_back(std::move(in_flight));
    } else {
      q_.clear();
    }
    beast::error_code ec;
    ping_timer_.cancel(ec);
    close_timer_.cancel(ec);
  }

  websocket::stream<beast::tcp_stream> ws_;
  SimServer::Impl& srv_;
  net::steady_timer ping_timer_;
  net::steady_timer close_timer_;
  beast::flat_buffer rbuf_;
  std::string target_;
  std::shared_ptr<WsApi> api_;
  std::deque<std::shared_ptr<const std::string>> q_;
  std::int64_t last_pong_ms_ = 0;
  std::int64_t opened_ms_ = 0;
  bool writing_ = false;
  bool closed_ = false;
  bool accepted_ = false;
  bool pinging_ = false;
};

}  // namespace

namespace detail {

void start_ws_api_session(tcp::socket&& sock, SimServer::Impl& srv,
                          const http::request<http::string_body>& req) {
  std::make_shared<WsApiSession>(std::move(sock), srv)->start(req);
}

}  // namespace detail

}  // namespace cwts::sim_server
