// SimServer: the network front of cwts-sim — one loopback acceptor, HTTP/1.1 REST sessions and
// WebSocket stream sessions, the market clock and fault injection (see sim_server.hpp).
#include "sim_server.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <list>
#include <optional>
#include <stdexcept>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <simdjson.h>

#include "cwts/binance/market_json.hpp"
#include "cwts/binance/stream_control.hpp"
#include "cwts/core/json_writer.hpp"
#include "json_log.hpp"
#include "rest_api.hpp"
#include "venue.hpp"

namespace cwts::sim_server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

std::int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
std::int64_t steady_ms() noexcept { return steady_ns() / 1'000'000; }

// Something the fault injector can cut off.
// A connection the server can act on for fault injection and the connection lifetime.
class Droppable {
 public:
  virtual ~Droppable() = default;
  virtual void drop() = 0;                         // abrupt: the socket is closed
  virtual void expire() {}                         // graceful: a WebSocket close frame
  virtual void announce_shutdown(std::int64_t) {}  // Binance's serverShutdown event, then close
  [[nodiscard]] virtual std::int64_t opened_ms() const { return 0; }
};

}  // namespace

struct SimServer::Impl {
  explicit Impl(SimServerConfig c);

  void start_accept();
  void schedule_market(std::int64_t at_ns);
  void schedule_tick();
  void shutdown();
  void drop_all();
  std::string fault(std::string_view body, unsigned& status);

  SimServerConfig cfg;
  // Declared before the io_context: sessions destroyed with it unsubscribe from the venue.
  std::unique_ptr<Venue> venue;
  std::unique_ptr<RestApi> rest;
  std::list<std::weak_ptr<Droppable>> ws_sessions;
  std::list<std::weak_ptr<Droppable>> http_sessions;  // kept-alive REST connections
  std::int64_t next_drop_ms = 0;                      // --drop-every-ms
  std::int64_t next_stall_ms = 0;                     // --stall-every-ms
  std::int64_t shutdown_at_ms = 0;  // --server-shutdown-after-ms (steady ms; 0 = none)
  void expire_all(const char* why);
  void announce_shutdown_all();
  void housekeeping();
  std::uint64_t tick_no = 0;
  std::uint64_t sessions_opened = 0;
  std::map<std::string, std::int64_t> rest_requests;  // by path, for /_sim/status

  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  net::steady_timer market_timer{ioc};
  net::steady_timer tick_timer{ioc};
  net::signal_set signals{ioc};
  std::atomic<std::uint16_t> port{0};
  std::atomic<bool> stopping{false};
};

namespace {

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

// --- HTTP sessions ----------------------------------------------------------------------------

class HttpSession : public std::enable_shared_from_this<HttpSession>, public Droppable {
 public:
  HttpSession(tcp::socket&& sock, SimServer::Impl& srv)
      : stream_(std::move(sock)), srv_(srv), delay_timer_(stream_.get_executor()) {}

  void start() {
    srv_.http_sessions.push_back(weak_from_this());
    do_read();
  }

  // drop_connections: kept-alive REST connections go too (a request in flight loses its answer).
  void drop() override {
    if (control_) return;  // the connection that asked for the drop gets its answer
    beast::error_code ec;
    delay_timer_.cancel(ec);
    stream_.socket().close(ec);
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(1 << 20);
    stream_.expires_after(std::chrono::minutes(5));
    http::async_read(
        stream_, buf_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      return;
    }
    http::request<http::string_body> req = parser_->release();
    if (websocket::is_upgrade(req)) {
      stream_.expires_never();
      std::make_shared<WsSession>(stream_.release_socket(), srv_)->start(std::move(req));
      return;
    }
    // The hold fault: the request reaches the venue (the matching engine) only later, as one
    // stuck in Binance's gateway would; requests on other connections overtake it.
    Faults& f = srv_.venue->faults();
    const std::string_view tgt(req.target().data(), req.target().size());
    const std::string_view req_path = tgt.substr(0, tgt.find('?'));
    if (f.hold_count > 0 && !req_path.starts_with("/_sim/") && f.applies_to(req_path) &&
        (f.hold_method.empty() || f.hold_method == std::string_view(req.method_string().data(),
                                                                    req.method_string().size()))) {
      --f.hold_count;
      held_ = std::move(req);
      delay_timer_.expires_after(std::chrono::milliseconds(f.hold_ms));
      delay_timer_.async_wait([self = shared_from_this()](beast::error_code) {
        self->process(std::move(self->held_));
      });
      return;
    }
    process(std::move(req));
  }

  void process(http::request<http::string_body> req) {
    const std::string target(req.target());
    const std::size_t q = target.find('?');
    const std::string_view path = std::string_view(target).substr(0, q);
    const std::string_view query =
        q == std::string::npos ? std::string_view{} : std::string_view(target).substr(q + 1);
    HttpReply reply;
    if (path.starts_with("/_sim/")) {
      control_ = true;
      if (path == "/_sim/fault" && req.method() == http::verb::post) {
        reply.body = srv_.fault(req.body(), reply.status);
      } else if (path == "/_sim/status") {
        core::JsonWriter w;
        w.begin_object().key("markets").begin_array();
        for (const auto& m : srv_.venue->markets())
          w.begin_object()
              .key("symbol")
              .string(m->name)
              .key("lastUpdateId")
              .integer(static_cast<std::int64_t>(m->public_id()))
              .key("valid")
              .boolean(m->sync.valid())
              .end_object();
        w.end_array()
            .key("framesPublished")
            .integer(static_cast<std::int64_t>(srv_.venue->frames_published()));
        w.key("wsSessionsOpened").integer(static_cast<std::int64_t>(srv_.sessions_opened));
        w.key("restRequests").begin_object();  // by path: what clients asked of the venue
        for (const auto& [p, n] : srv_.rest_requests) w.key(p).integer(n);
        w.end_object().end_object();
        reply.body = w.str();
      } else {
        reply.status = 404;
      }
    } else {
      std::string key_storage;
      const std::string* key = nullptr;
      if (const auto it = req.find("X-MBX-APIKEY"); it != req.end()) {
        key_storage = std::string(it->value());
        key = &key_storage;
      }
      ++srv_.rest_requests[std::string(path)];
      reply = srv_.rest->handle(
          HttpRequestView{std::string_view(req.method_string().data(), req.method_string().size()),
                          path, query, req.body(), key});
      log_event(spdlog::level::debug, "rest", "request",
                LogFields()
                    .str("method", std::string(req.method_string()))
                    .str("target", target)
                    .num("status", reply.status));
    }
    res_ = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(reply.status), req.version());
    res_->set(http::field::server, "cwts-sim");
    if (!reply.body.empty()) res_->set(http::field::content_type, "application/json;charset=UTF-8");
    for (const auto& [k, v] : reply.headers) res_->set(k, v);
    res_->keep_alive(req.keep_alive());
    res_->body() = std::move(reply.body);
    res_->prepare_payload();
    Faults& f = srv_.venue->faults();
    if (f.delay_count > 0 && !path.starts_with("/_sim/") && f.applies_to(path)) {
      --f.delay_count;
      delay_timer_.expires_after(std::chrono::milliseconds(f.delay_ms));
      delay_timer_.async_wait([self = shared_from_this()](beast::error_code) { self->do_write(); });
      return;
    }
    do_write();
  }

  void do_write() {
    http::async_write(stream_, *res_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec || !self->res_->keep_alive()) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
                          return;
                        }
                        self->do_read();
                      });
  }

  beast::tcp_stream stream_;
  SimServer::Impl& srv_;
  net::steady_timer delay_timer_;
  http::request<http::string_body> held_;  // a request the hold fault keeps back
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> res_;
  bool control_ = false;  // carries /_sim/ requests: never dropped by a fault
};

}  // namespace

// --- Server -----------------------------------------------------------------------------------

SimServer::Impl::Impl(SimServerConfig c) : cfg(std::move(c)) {
  if (cfg.listen_host != "127.0.0.1")
    throw std::invalid_argument("--listen: loopback only (127.0.0.1), got " + cfg.listen_host);
  Venue::Options vo;
  vo.exchange_info_path = cfg.exchange_info_path;
  vo.captures = cfg.captures;
  vo.synthetic = cfg.synthetic;
  vo.speed = cfg.speed;
  vo.loop = cfg.loop;
  vo.rebase_time = cfg.rebase_time;
  vo.rate = cfg.rate;
  vo.seed = cfg.seed;
  vo.balances = cfg.balances;
  vo.request_weight_limit = cfg.request_weight_limit;
  venue = std::make_unique<Venue>(vo);
  rest = std::make_unique<RestApi>(*venue, binance::Credentials{cfg.api_key, cfg.api_secret});
  if (!cfg.fault_json.empty()) {
    bool drop = false;
    std::string err;
    if (!apply_fault_json(cfg.fault_json, venue->faults(), steady_ms(), drop, err))
      throw std::invalid_argument("--fault: " + err);
  }
  if (cfg.server_shutdown_after_ms > 0) shutdown_at_ms = steady_ms() + cfg.server_shutdown_after_ms;
  const tcp::endpoint ep(net::ip::make_address_v4("127.0.0.1"), cfg.listen_port);
  acceptor.open(ep.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen();
  port = acceptor.local_endpoint().port();
}

void SimServer::Impl::start_accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket sock) {
    if (ec) {
      if (ec != net::error::operation_aborted)
        log_event(spdlog::level::warn, "net", "accept_failed",
                  LogFields().str("error", ec.message()));
      if (!stopping) start_accept();
      return;
    }
    sock.set_option(tcp::no_delay(true));
    std::make_shared<HttpSession>(std::move(sock), *this)->start();
    start_accept();
  });
}

void SimServer::Impl::schedule_market(std::int64_t at_ns) {
  auto step = [this](beast::error_code ec) {
    if (ec || stopping) return;
    schedule_market(venue->advance(steady_ns()));
  };
  if (at_ns <= steady_ns()) {
    net::post(ioc, [step] { step({}); });
    return;
  }
  market_timer.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(at_ns)));
  market_timer.async_wait(step);
}

void SimServer::Impl::schedule_tick() {
  tick_timer.expires_after(std::chrono::milliseconds(100));
  tick_timer.async_wait([this](beast::error_code ec) {
    if (ec || stopping) return;
    venue->on_100ms_tick(++tick_no, wall_ms());
    housekeeping();
    ws_sessions.remove_if([](const std::weak_ptr<Droppable>& w) { return w.expired(); });
    http_sessions.remove_if([](const std::weak_ptr<Droppable>& w) { return w.expired(); });
    schedule_tick();
  });
}

void SimServer::Impl::drop_all() {
  std::size_t n = 0, h = 0;
  for (auto& w : ws_sessions)
    if (auto s = w.lock()) {
      s->drop();
      ++n;
    }
  for (auto& w : http_sessions)
    if (auto s = w.lock()) {
      s->drop();
      ++h;
    }
  log_event(spdlog::level::info, "fault", "connections_dropped",
            LogFields()
                .num("count", static_cast<std::int64_t>(n))
                .num("http", static_cast<std::int64_t>(h)));
}

void SimServer::Impl::expire_all(const char* why) {
  std::size_t n = 0;
  for (auto& w : ws_sessions)
    if (auto s = w.lock()) {
      s->expire();
      ++n;
    }
  log_event(spdlog::level::info, "ws", "connections_expired",
            LogFields().str("why", why).num("count", static_cast<std::int64_t>(n)));
}

void SimServer::Impl::announce_shutdown_all() {
  std::size_t n = 0;
  for (auto& w : ws_sessions)
    if (auto s = w.lock()) {
      s->announce_shutdown(wall_ms());
      ++n;
    }
  log_event(spdlog::level::info, "fault", "server_shutdown_sent",
            LogFields().num("count", static_cast<std::int64_t>(n)));
}

// Every 100 ms: one-shot faults set by JSON, periodic faults from flags, the connection lifetime.
void SimServer::Impl::housekeeping() {
  Faults& f = venue->faults();
  const std::int64_t now = steady_ms();
  if (f.server_shutdown) {
    f.server_shutdown = false;
    announce_shutdown_all();
  }
  if (shutdown_at_ms != 0 && now >= shutdown_at_ms) {
    shutdown_at_ms = 0;
    announce_shutdown_all();
  }
  if (f.expire_connections) {
    f.expire_connections = false;
    expire_all("fault");
  }
  if (cfg.drop_every_ms > 0 && now >= next_drop_ms) {
    if (next_drop_ms != 0) drop_all();
    next_drop_ms = now + cfg.drop_every_ms;
  }
  if (cfg.stall_every_ms > 0 && cfg.stall_ms > 0 && now >= next_stall_ms) {
    if (next_stall_ms != 0) {
      f.stall_until_ms = now + cfg.stall_ms;
      log_event(spdlog::level::info, "fault", "stall", LogFields().num("ms", cfg.stall_ms));
    }
    next_stall_ms = now + cfg.stall_every_ms;
  }
  if (cfg.max_connection_age.count() > 0) {
    for (auto& w : ws_sessions)
      if (auto s = w.lock()) {
        if (s->opened_ms() != 0 && now - s->opened_ms() >= cfg.max_connection_age.count())
          s->expire();
      }
  }
}

std::string SimServer::Impl::fault(std::string_view body, unsigned& status) {
  bool drop = false;
  std::string err;
  if (!apply_fault_json(body, venue->faults(), steady_ms(), drop, err)) {
    status = 400;
    core::JsonWriter w;
    w.begin_object().key("error").string(err).end_object();
    return std::move(w).str();
  }
  log_event(spdlog::level::info, "fault", "applied", LogFields().str("fault", body));
  if (drop) drop_all();
  housekeeping();  // server_shutdown / expire_connections at once
  return "{}";
}

void SimServer::Impl::shutdown() {
  if (stopping.exchange(true)) return;
  log_event(spdlog::level::info, "server", "stopping");
  beast::error_code ec;
  acceptor.close(ec);
  market_timer.cancel(ec);
  tick_timer.cancel(ec);
  signals.cancel(ec);
  drop_all();
  ioc.stop();
}

SimServer::SimServer(SimServerConfig cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {}
SimServer::~SimServer() = default;

std::uint16_t SimServer::port() const noexcept { return impl_->port.load(); }

void SimServer::run() {
  Impl& s = *impl_;
  if (s.cfg.handle_signals) {
    s.signals.add(SIGTERM);
    s.signals.add(SIGINT);
    s.signals.async_wait([&s](beast::error_code ec, int sig) {
      if (ec) return;
      log_event(spdlog::level::info, "server", "signal", LogFields().num("signal", sig));
      s.shutdown();
    });
  }
  s.start_accept();
  s.schedule_market(steady_ns());
  s.schedule_tick();
  log_event(spdlog::level::info, "server", "ready",
            LogFields()
                .str("listen", "127.0.0.1:" + std::to_string(s.port.load()))
                .num("markets", static_cast<std::int64_t>(s.venue->markets().size())));
  std::printf("cwts-sim ready on 127.0.0.1:%u\n", static_cast<unsigned>(s.port.load()));
  std::fflush(stdout);
  s.ioc.run();
}

void SimServer::stop() noexcept {
  try {
    net::post(impl_->ioc, [this] { impl_->shutdown(); });
  } catch (...) {
    // posting can only fail on allocation; the process is going down anyway
  }
}

}  // namespace cwts::sim_server
