// SimServer's WebSocket stream sessions: the subscription protocol, frame fan-out with stalls and
// slow-consumer cuts, pings and the incoming-message limit.
#include <algorithm>
#include <chrono>
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
#include "ws_server_session.hpp"

namespace cwts::sim_server {

namespace {

using detail::steady_ms;
using detail::WsServerSession;

// --- WebSocket sessions -----------------------------------------------------------------------

class WsSession : public WsServerSession<WsSession>, public Subscriber {
 public:
  static constexpr const char* kLogComponent = "ws";

  WsSession(tcp::socket&& sock, SimServer::Impl& srv) : WsServerSession(std::move(sock), srv) {}
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
    accept(req, 1 << 16);
  }

  [[nodiscard]] bool combined() const noexcept override { return combined_; }

  [[nodiscard]] bool streams_symbol(std::string_view symbol) const override {
    return std::any_of(subs_.begin(), subs_.end(), [&](const auto& sub) {
      const std::string_view name = sub.first;
      return name.size() > symbol.size() && name.starts_with(symbol) && name[symbol.size()] == '@';
    });
  }

  void send(std::shared_ptr<const std::string> frame) override { enqueue(std::move(frame)); }

 private:
  friend class WsServerSession<WsSession>;

  // --- WsServerSession hooks ---

  void on_control(websocket::frame_type kind) {
    if (kind != websocket::frame_type::close) count_incoming();
  }

  void on_open() {
    for (const auto& [name, id] : subs_) srv_.venue->subscribe(this, id);
    log_event(
        spdlog::level::info, "ws", "session_open",
        LogFields().str("target", target_).num("streams", static_cast<std::int64_t>(subs_.size())));
    window_start_ms_ = steady_ms();
  }

  void on_incoming() { count_incoming(); }

  // Combined streams wrap the event as {"stream":"!serverShutdown","data":{...}}.
  [[nodiscard]] std::string shutdown_frame(std::int64_t event_ms) const {
    const std::string raw = binance::server_shutdown_event(event_ms);
    return combined_ ? binance::combined_stream_frame("!serverShutdown", raw) : raw;
  }

  bool hold_writes() {
    const std::int64_t stall_until = srv_.venue->faults().stall_until_ms;
    if (steady_ms() >= stall_until) return false;
    // Injected stall: frames queue up (the socket stays open) and go out when it ends.
    if (!stall_armed_) {
      stall_armed_ = true;
      aux_timer_.expires_after(std::chrono::milliseconds(stall_until - steady_ms()));
      aux_timer_.async_wait([self = shared_from_this()](beast::error_code) {
        self->stall_armed_ = false;
        if (!self->writing_) self->do_write();
      });
    }
    return true;
  }

  void on_cleanup() {
    for (const auto& [name, id] : subs_) srv_.venue->unsubscribe(this, id);
  }

  // ---

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
            // (not capturing the binding itself: clang before 16 cannot)
            const bool have = std::any_of(subs_.begin(), subs_.end(),
                                          [&n = name](const auto& s) { return s.first == n; });
            if (have) continue;
            srv_.venue->subscribe(this, sid);
            subs_.emplace_back(name, sid);
          }
        } else {
          for (auto& [name, sid] : parsed) {
            const auto it = std::find_if(subs_.begin(), subs_.end(),
                                         [&n = name](const auto& s) { return s.first == n; });
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

  std::vector<std::pair<std::string, StreamId>> subs_;
  std::int64_t window_start_ms_ = 0;
  std::uint32_t incoming_ = 0;
  bool combined_ = false;
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
