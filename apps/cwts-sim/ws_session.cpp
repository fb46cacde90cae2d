// SimServer's WebSocket stream sessions: the subscription protocol, frame fan-out with stalls and
// slow-consumer cuts, pings and the incoming-message limit.
#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "cwts/binance/market_json.hpp"
#include "cwts/binance/stream_control.hpp"
#include "cwts/core/json_writer.hpp"
#include "json_log.hpp"
#include "sim_server_impl.hpp"
#include "venue.hpp"

namespace cwts::sim_server {

namespace {

using detail::Droppable;
using detail::steady_ms;

// --- WebSocket sessions -----------------------------------------------------------------------

class WsSession : public std::enable_shared_from_this<WsSession>,
                  public Subscriber,
                  public Droppable {
 public:
  WsSession(tcp::socket&& sock, SimServer::Impl& srv)
      : ws_(std::move(sock)),
        srv_(srv),
        ping_timer_(ws_.get_executor()),
        stall_timer_(ws_.get_executor()) {}
  ~WsSession() override { cleanup(); }

  void start(http::request<http::string_body> req) {
    const std::string target(req.target());
    const std::size_t q = target.find('?');
    const std::string path = target.substr(0, q);
    const std::string query = q == std::string::npos ? "" : target.substr(q + 1);
    std::vector<std::string> names;
    auto split = [&](std::string_view s) {
      while (!s.empty()) {
        const std::size_t slash = s.find('/');
        if (slash != 0) names.emplace_back(s.substr(0, slash));
        if (slash == std::string_view::npos) break;
        s.remove_prefix(slash + 1);
      }
    };
    if (path == "/stream") {
      combined_ = true;
      std::string_view qs = query;
      while (!qs.empty()) {
        const std::size_t amp = qs.find('&');
        const std::string_view item = qs.substr(0, amp);
        if (item.starts_with("streams=")) split(item.substr(8));
        if (amp == std::string_view::npos) break;
        qs.remove_prefix(amp + 1);
      }
    } else if (path.starts_with("/ws/")) {
      split(std::string_view(path).substr(4));
    }
    for (const auto& n : names) {
      StreamId id;
      if (srv_.venue->parse_stream(n, id)) subs_.emplace_back(n, id);
    }
    target_ = target;
    ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(10),
                                                   websocket::stream_base::none(), false});
    ws_.read_message_max(1 << 16);
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) last_pong_ms_ = steady_ms();
      if (kind != websocket::frame_type::close) count_incoming();
    });
    ws_.async_accept(req,
                     [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  [[nodiscard]] bool combined() const noexcept override { return combined_; }

  void send(std::shared_ptr<const std::string> frame) override {
    if (closed_) return;
    if (q_.size() >= srv_.cfg.max_ws_queue_frames) {
      log_event(spdlog::level::warn, "ws", "slow_consumer_dropped",
                LogFields().num("queued", static_cast<std::int64_t>(q_.size())));
      drop();
      return;
    }
    q_.push_back(std::move(frame));
    if (!writing_) do_write();
  }

  void drop() override {
    if (closed_) return;
    cleanup();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  // The 24 h cut: a normal close frame (code 1000), then the socket goes.
  void expire() override {
    if (closed_ || !accepted_) return;
    cleanup();
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) {
      beast::error_code ec;
      beast::get_lowest_layer(self->ws_).socket().close(ec);
    });
  }

  // Binance: `serverShutdown` precedes a disconnection; combined streams wrap it as
  // {"stream":"!serverShutdown","data":{...}}. The session closes 200 ms later.
  void announce_shutdown(std::int64_t event_ms) override {
    if (closed_ || !accepted_) return;
    const std::string raw = binance::server_shutdown_event(event_ms);
    send(std::make_shared<const std::string>(
        combined_ ? binance::combined_stream_frame("!serverShutdown", raw) : raw));
    stall_timer_.expires_after(std::chrono::milliseconds(200));
    stall_timer_.async_wait([self = shared_from_this()](beast::error_code) { self->expire(); });
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
    for (const auto& [name, id] : subs_) srv_.venue->subscribe(this, id);
    srv_.ws_sessions.push_back(weak_from_this());
    ++srv_.sessions_opened;
    log_event(
        spdlog::level::info, "ws", "session_open",
        LogFields().str("target", target_).num("streams", static_cast<std::int64_t>(subs_.size())));
    last_pong_ms_ = steady_ms();
    window_start_ms_ = steady_ms();
    arm_ping();
    do_read();
    if (!q_.empty() && !writing_) do_write();
  }

  void arm_ping() {
    ping_timer_.expires_after(srv_.cfg.ping_interval);
    ping_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      if (steady_ms() - self->last_pong_ms_ >
          srv_pong_ms(*self) + static_cast<std::int64_t>(self->srv_.cfg.ping_interval.count())) {
        log_event(spdlog::level::info, "ws", "pong_timeout");
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
  static std::int64_t srv_pong_ms(const WsSession& s) {
    return static_cast<std::int64_t>(s.srv_.cfg.pong_timeout.count());
  }

  void count_incoming() {
    // Binance: 5 incoming messages per second per connection (pings, pongs and JSON control
    // messages all count); beyond that the connection is cut.
    const std::int64_t now = steady_ms();
    if (now - window_start_ms_ >= 1000) {
      window_start_ms_ = now;
      incoming_ = 0;
    }
    if (++incoming_ > srv_.cfg.ws_incoming_limit && !closed_) {
      log_event(spdlog::level::info, "ws", "incoming_limit_exceeded",
                LogFields().num("limit", srv_.cfg.ws_incoming_limit));
      drop();
    }
  }

  void do_read() {
    ws_.async_read(rbuf_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        if (!self->closed_)
          log_event(spdlog::level::info, "ws", "session_closed",
                    LogFields().str("reason", ec.message()));
        self->cleanup();
        return;
      }
      self->count_incoming();
      if (self->closed_) return;
      const std::string text = beast::buffers_to_string(self->rbuf_.data());
      self->rbuf_.consume(self->rbuf_.size());
      self->on_message(text);
      self->do_read();
    });
  }

  void reply(std::string s) { send(std::make_shared<const std::string>(std::move(s))); }

  void reply_error(const binance::StreamControlError& e) { reply(binance::stream_error_json(e)); }

  // SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY: the protocol is
  // cwts::binance's; which streams exist and who hears them is the venue's.
  void on_message(const std::string& text) {
    auto parsed_request = binance::parse_stream_control(text);
    if (const auto* err = std::get_if<binance::StreamControlError>(&parsed_request)) {
      reply_error(*err);
      return;
    }
    const auto& req = std::get<binance::StreamControl>(parsed_request);
    const std::string& id = req.id_json;
    switch (req.method) {
      case binance::StreamMethod::kSubscribe:
      case binance::StreamMethod::kUnsubscribe: {
        std::vector<std::pair<std::string, StreamId>> parsed;
        for (const std::string& name : req.streams) {
          StreamId sid;
          if (!srv_.venue->parse_stream(name, sid)) {
            reply_error(binance::invalid_stream_name(id));
            return;
          }
          parsed.emplace_back(name, sid);
        }
        if (req.method == binance::StreamMethod::kSubscribe) {
          if (subs_.size() + parsed.size() > 1024) {
            reply_error({2, "Invalid request: too many parameters", id});
            return;
          }
          for (auto& [name, sid] : parsed) {
            const bool have = std::any_of(subs_.begin(), subs_.end(),
                                          [&](const auto& s) { return s.first == name; });
            if (have) continue;
            srv_.venue->subscribe(this, sid);
            subs_.emplace_back(name, sid);
          }
        } else {
          for (auto& [name, sid] : parsed) {
            const auto it = std::find_if(subs_.begin(), subs_.end(),
                                         [&](const auto& s) { return s.first == name; });
            if (it == subs_.end()) continue;
            srv_.venue->unsubscribe(this, it->second);
            subs_.erase(it);
          }
        }
        reply(binance::stream_result_json(id, "null"));
        return;
      }
      case binance::StreamMethod::kListSubscriptions: {
        core::JsonWriter w;
        w.begin_array();
        for (const auto& s : subs_) w.string(s.first);
        w.end_array();
        reply(binance::stream_result_json(id, w.str()));
        return;
      }
      case binance::StreamMethod::kGetProperty:
        reply(binance::stream_result_json(id, combined_ ? "true" : "false"));
        return;
      case binance::StreamMethod::kSetProperty:
        combined_ = req.combined;
        reply(binance::stream_result_json(id, "null"));
        return;
    }
  }

  void do_write() {
    if (closed_ || !accepted_ || q_.empty()) return;
    const std::int64_t stall_until = srv_.venue->faults().stall_until_ms;
    if (steady_ms() < stall_until) {
      // Injected stall: frames queue up (the socket stays open) and go out when it ends.
      if (!stall_armed_) {
        stall_armed_ = true;
        stall_timer_.expires_after(std::chrono::milliseconds(stall_until - steady_ms()));
        stall_timer_.async_wait([self = shared_from_this()](beast::error_code) {
          self->stall_armed_ = false;
          if (!self->writing_) self->do_write();
        });
      }
      return;
    }
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
    for (const auto& [name, id] : subs_) srv_.venue->unsubscribe(this, id);
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
    stall_timer_.cancel(ec);
  }

  websocket::stream<beast::tcp_stream> ws_;
  SimServer::Impl& srv_;
  net::steady_timer ping_timer_;
  net::steady_timer stall_timer_;
  beast::flat_buffer rbuf_;
  std::string target_;
  std::vector<std::pair<std::string, StreamId>> subs_;
  std::deque<std::shared_ptr<const std::string>> q_;
  std::int64_t last_pong_ms_ = 0;
  std::int64_t window_start_ms_ = 0;
  std::uint32_t incoming_ = 0;
  bool combined_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool accepted_ = false;
  std::int64_t opened_ms_ = 0;
  bool pinging_ = false;
  bool stall_armed_ = false;
};

}  // namespace

namespace detail {

void start_ws_session(tcp::socket&& sock, SimServer::Impl& srv,
                      http::request<http::string_body> req) {
  std::make_shared<WsSession>(std::move(sock), srv)->start(std::move(req));
}

}  // namespace detail

}  // namespace cwts::sim_server
