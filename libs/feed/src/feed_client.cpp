// The Binance feed client: Beast WebSocket (streams) and HTTP (depth snapshots) on one
// io_context, feeding a md::Pipeline; liveness, reconnect with backoff, snapshot rate limiting.
#include "cwts/feed/feed_client.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <spdlog/spdlog.h>

#include "cwts/core/ascii.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/log/json_log.hpp"
#include "cwts/net/endpoint.hpp"
#include "cwts/net/tls_client.hpp"

namespace cwts::feed {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

using PlainWs = websocket::stream<beast::tcp_stream>;
using TlsWs = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;
using PlainHttp = beast::tcp_stream;
using TlsHttp = beast::ssl_stream<beast::tcp_stream>;

// A depth body at limit=5000 is ~400 KB; anything far larger is not a depth snapshot.
constexpr std::uint64_t kMaxSnapshotBytes = 16U << 20;

using core::realtime_ns;

std::int64_t ms(Clock::duration d) noexcept {
  return std::chrono::duration_cast<milliseconds>(d).count();
}

// Counters are written by the md thread only and read by anyone for monitoring: a single
// writer's relaxed load + store is exact (no lost updates) and avoids a locked RMW per frame;
// readers need no ordering with anything else, so relaxed loads suffice.
void bump(std::atomic<std::uint64_t>& a, std::uint64_t n = 1) noexcept {
  a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// One WebSocket connection attempt and its lifetime. Held by shared_ptr so completion handlers
// keep it alive after the client has moved on to a newer connection; a handler whose connection
// is no longer the client's current one does nothing (that is how stale completions are fenced).
struct WsConn {
  WsConn(asio::io_context& ioc, ssl::context* tls) : resolver(ioc) {
    if (tls != nullptr) {
      ws.emplace<TlsWs>(ioc, *tls);
    } else {
      ws.emplace<PlainWs>(ioc);
    }
  }

  template <class F>
  void visit(F&& f) {
    if (auto* p = std::get_if<PlainWs>(&ws)) {
      f(*p);
    } else if (auto* t = std::get_if<TlsWs>(&ws)) {
      f(*t);
    }
  }

  void close_socket() noexcept {
    resolver.cancel();
    visit([](auto& s) { beast::get_lowest_layer(s).close(); });
  }

  std::variant<std::monostate, PlainWs, TlsWs> ws;
  tcp::resolver resolver;
  beast::flat_buffer buffer;
  websocket::response_type handshake_response;
};

// The kept-alive REST connection for depth snapshots (one request at a time).
struct HttpConn {
  HttpConn(asio::io_context& ioc, ssl::context* tls) : resolver(ioc) {
    if (tls != nullptr) {
      stream.emplace<TlsHttp>(ioc, *tls);
    } else {
      stream.emplace<PlainHttp>(ioc);
    }
  }

  template <class F>
  void visit(F&& f) {
    if (auto* p = std::get_if<PlainHttp>(&stream)) {
      f(*p);
    } else if (auto* t = std::get_if<TlsHttp>(&stream)) {
      f(*t);
    }
  }

  void close_socket() noexcept {
    resolver.cancel();
    visit([](auto& s) { beast::get_lowest_layer(s).close(); });
  }

  std::variant<std::monostate, PlainHttp, TlsHttp> stream;
  tcp::resolver resolver;
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::string_body>> parser;
  bool connected = false;
};

// One list of counter names generates the atomics, the copy in counters() and a check that
// the public struct has the same number of fields.
// clang-format off
#define CWTS_FEED_COUNTERS(X)                                                                \
  X(connects) X(disconnects) X(reconnects) X(connect_failures) X(pings_received)             \
  X(pongs_sent) X(silence_timeouts) X(lifetime_renewals) X(server_shutdowns)                 \
  X(closes_by_peer) X(snapshots_requested) X(snapshots_ok) X(snapshots_failed)               \
  X(snapshots_rejected) X(snapshots_discarded) X(frames_received) X(bytes_received)          \
  X(binary_frames)
// clang-format on

struct AtomicCounters {
  // A declaration per name: the argument is a member name, it cannot be parenthesised.
  // NOLINTNEXTLINE(bugprone-macro-parentheses)
#define CWTS_DECLARE(name) std::atomic<std::uint64_t> name{0};
  CWTS_FEED_COUNTERS(CWTS_DECLARE)
#undef CWTS_DECLARE
};

// NOLINTNEXTLINE(bugprone-macro-parentheses): expands to "+1" terms of a sum
#define CWTS_COUNT_ONE(name) +1
static_assert(sizeof(FeedClient::Counters) ==
                  sizeof(std::uint64_t) * (0 CWTS_FEED_COUNTERS(CWTS_COUNT_ONE)),
              "FeedClient::Counters and CWTS_FEED_COUNTERS list different fields");
#undef CWTS_COUNT_ONE

}  // namespace

struct FeedClient::Impl {
  // Forwards every pipeline event downstream and turns the two the feed must act on
  // (snapshot needed, server shutdown) into client actions. Runs inside md::Pipeline calls, so it
  // only records intent; the socket work happens from the io_context afterwards.
  class Relay final : public md::MarketSink {
   public:
    Relay(Impl& impl, md::MarketSink* down) : impl_(impl), down_(down != nullptr ? down : &null_) {}
    void on_book(const md::SymbolState& s, const md::FrameMeta& m, std::int64_t e) override {
      down_->on_book(s, m, e);
    }
    void on_book_validity(const md::SymbolState& s, bool v, const md::FrameMeta& m) override {
      down_->on_book_validity(s, v, m);
    }
    void on_book_ticker(const md::SymbolState& s, const md::BookTickerMsg& b,
                        const md::FrameMeta& m) override {
      down_->on_book_ticker(s, b, m);
    }
    void on_trade(const md::SymbolState& s, const md::TradeMsg& t, bool agg,
                  const md::FrameMeta& m) override {
      down_->on_trade(s, t, agg, m);
    }
    void on_kline(const md::SymbolState& s, const md::KlineMsg& k,
                  const md::FrameMeta& m) override {
      down_->on_kline(s, k, m);
    }
    void on_partial_depth(const md::SymbolState& s, const md::ParsedFrame& f,
                          const md::FrameMeta& m) override {
      down_->on_partial_depth(s, f, m);
    }
    void on_server_shutdown(const md::FrameMeta& m) override {
      impl_.shutdown_announced = true;
      down_->on_server_shutdown(m);
    }
    void on_snapshot_needed(const md::SymbolState& s) override {
      impl_.request_snapshot(s);
      down_->on_snapshot_needed(s);
    }

   private:
    Impl& impl_;
    md::MarketSink* down_;
    md::MarketSink null_;
  };

  enum class State : std::uint8_t { kIdle, kConnecting, kOpen, kWaiting };
  enum class Why : std::uint8_t { kError, kClosedByPeer, kSilence, kLifetime, kServerShutdown };

  struct SnapSlot {
    bool pending = false;    // a snapshot is wanted
    bool in_flight = false;  // a request for this symbol is on the wire
    Clock::time_point not_before{};
  };

  static const char* to_string(Why w) noexcept {
    switch (w) {
      case Why::kError:
        return "error";
      case Why::kClosedByPeer:
        return "closed by peer";
      case Why::kSilence:
        return "silence timeout";
      case Why::kLifetime:
        return "lifetime renewal";
      case Why::kServerShutdown:
        return "serverShutdown";
    }
    return "?";
  }

  Impl(FeedConfig c, md::MarketSink* down)
      : cfg((validate(c), std::move(c))),
        ws_ep(net::parse_endpoint(cfg.ws_url, net::EndpointKind::kWebSocket)),
        rest_ep(net::parse_endpoint(cfg.rest_url, net::EndpointKind::kHttp)),
        target(stream_target(cfg)),
        relay(*this, down),
        pipeline(cfg.venue == VenueKind::kSpot ? md::SyncVenue::kSpot : md::SyncVenue::kUsdmFutures,
                 &relay),
        backoff(cfg.backoff, cfg.rng_seed != 0 ? cfg.rng_seed : std::random_device{}()),
        tick_timer(ioc),
        reconnect_timer(ioc),
        snap_timer(ioc),
        stop_timer(ioc) {
    for (const auto& s : cfg.symbols) {
      pipeline.add_symbol(core::ascii_upper(s));
      depth_targets.push_back(depth_target(cfg, s));
    }
    if (ws_ep.tls || rest_ep.tls) {
      // Throws if ca_file is unreadable: config time.
      tls.emplace(net::make_tls_client_context({cfg.tls_verify_peer, cfg.ca_file}));
      if (!cfg.tls_verify_peer) {
        log::log_event(spdlog::level::warn, "feed", "tls_verification_off",
                       log::LogFields().str("setting", "tls_verify_peer=false"));
      }
    }
    const milliseconds shortest = std::min(
        {cfg.silence_timeout, cfg.max_connection_lifetime, cfg.connect_timeout, cfg.rest_timeout});
    tick_period = std::clamp(shortest / 4, milliseconds{1}, milliseconds{100});
    req.method(http::verb::get);
    req.version(11);
    req.set(http::field::host, rest_ep.host_header());
    req.set(http::field::user_agent, cfg.user_agent);
    req.set(http::field::accept, "application/json");
  }

  // ---- life cycle -------------------------------------------------------------------------

  void start() {
    if (stopping) return;
    arm_tick();
    start_connect();
  }

  void begin_stop() {
    if (stopping) return;
    stopping = true;
    tick_timer.cancel();
    reconnect_timer.cancel();
    snap_timer.cancel();
    abort_snapshots();
    if (http) {
      http->close_socket();
      http.reset();
    }
    std::shared_ptr<WsConn> c = std::move(ws);
    ws.reset();
    const bool was_open = state == State::kOpen;
    state = State::kIdle;
    if (!c) return;
    if (!was_open) {
      c->close_socket();
      return;
    }
    bump(counters.disconnects);
    log::log_event(spdlog::level::info, "feed", "stopping",
                   log::LogFields().str("host", ws_ep.host));
    // The books are left as they are: the caller is shutting down and may inspect them.
    stop_timer.expires_after(cfg.close_timeout + milliseconds{200});
    stop_timer.async_wait([this](beast::error_code ec) {
      if (!ec) ioc.stop();  // the peer never answered the close: give up
    });
    close_gracefully(c, websocket::close_code::normal, /*on_stop=*/true);
  }

  void arm_tick() {
    tick_timer.expires_after(tick_period);
    tick_timer.async_wait([this](beast::error_code ec) {
      if (ec || stopping) return;
      on_tick();
      if (!stopping) arm_tick();
    });
  }

  // Deadlines checked on a coarse tick instead of per-frame timer resets: the read path only
  // stores a time stamp, and every deadline (connect incl. DNS, silence, lifetime, REST) is
  // enforced in one place.
  void on_tick() {
    // Acquire pairs with stop_from_signal()'s release; nothing else is published through it.
    if (stop_flag.load(std::memory_order_acquire)) return begin_stop();
    const Clock::time_point now = Clock::now();
    if (state == State::kConnecting && now - attempt_started >= cfg.connect_timeout) {
      connect_failed("connect timeout", make_error_code(beast::error::timeout));
    } else if (state == State::kOpen) {
      if (now - last_activity >= cfg.silence_timeout) {
        bump(counters.silence_timeouts);
        disconnect(Why::kSilence,
                   "no frame or ping for " + std::to_string(ms(now - last_activity)) + " ms");
      } else if (now - connected_at >= cfg.max_connection_lifetime) {
        bump(counters.lifetime_renewals);
        disconnect(Why::kLifetime, "connection reached max_connection_lifetime");
      }
    }
    if (http_busy && now - http_started >= cfg.rest_timeout) {
      snapshot_failed("timeout", make_error_code(beast::error::timeout));
    }
    if (tick_hook) tick_hook(pipeline);
  }

  // ---- WebSocket ------------------------------------------------------------------------

  void start_connect() {
    if (stopping) return;
    auto c = std::make_shared<WsConn>(ioc, ws_ep.tls ? &*tls : nullptr);
    ws = c;
    ++conn_gen;
    state = State::kConnecting;
    attempt_started = Clock::now();
    shutdown_announced = false;
    c->resolver.async_resolve(
        ws_ep.host, ws_ep.port_string(),
        [this, c](beast::error_code ec, const tcp::resolver::results_type& results) {
          if (c != ws) return;
          if (ec) return connect_failed("resolve", ec);
          c->visit([&](auto& s) { connect_tcp(c, s, results); });
        });
  }

  template <class Ws>
  void connect_tcp(const std::shared_ptr<WsConn>& c, Ws& s,
                   const tcp::resolver::results_type& results) {
    beast::get_lowest_layer(s).async_connect(
        results, [this, c, &s](beast::error_code ec, const tcp::endpoint&) {
          if (c != ws) return;
          if (ec) return connect_failed("connect", ec);
          beast::error_code ignored;
          beast::get_lowest_layer(s).socket().set_option(tcp::no_delay(true), ignored);
          if constexpr (std::is_same_v<Ws, TlsWs>) {
            if (!net::prepare_tls_connection(s.next_layer().native_handle(), ws_ep)) {
              return connect_failed("tls setup", make_error_code(beast::errc::invalid_argument));
            }
            s.next_layer().async_handshake(
                ssl::stream_base::client, [this, c, &s](beast::error_code ec2) {
                  if (c != ws) return;
                  if (ec2) {
                    return connect_failed("tls handshake", ec2,
                                          net::tls_error(s.next_layer().native_handle(), ec2));
                  }
                  ws_handshake(c, s);
                });
          } else {
            ws_handshake(c, s);
          }
        });
  }

  template <class Ws>
  void ws_handshake(const std::shared_ptr<WsConn>& c, Ws& s) {
    websocket::stream_base::timeout t{};
    t.handshake_timeout = cfg.connect_timeout;
    // Silence is detected by our own tick (pings count as activity); Beast's idle timer would
    // either ping Binance unasked (it counts against 5 messages/s) or miss server pings.
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    s.set_option(t);
    s.set_option(websocket::stream_base::decorator(
        [ua = cfg.user_agent](websocket::request_type& r) { r.set(http::field::user_agent, ua); }));
    s.read_message_max(cfg.max_frame_bytes);
    // Beast answers every ping with a pong carrying the same payload from inside the pending
    // read (there is no switch to turn that off); this callback only observes control frames.
    // A raw pointer: the stream owns the callback, a shared_ptr here would be a cycle.
    WsConn* raw = c.get();
    s.control_callback(
        [this, raw](websocket::frame_type kind, beast::string_view) { on_control(raw, kind); });
    s.async_handshake(
        c->handshake_response, ws_ep.host_header(), target, [this, c](beast::error_code ec) {
          if (c != ws) return;
          if (ec) {
            if (ec == websocket::error::upgrade_declined) {
              return connect_failed(
                  "ws handshake (HTTP " + std::to_string(c->handshake_response.result_int()) + ")",
                  ec);
            }
            return connect_failed("ws handshake", ec);
          }
          on_open(c);
        });
  }

  void on_open(const std::shared_ptr<WsConn>& c) {
    state = State::kOpen;
    connected_at = last_activity = Clock::now();
    shutdown_announced = false;
    bump(counters.connects);
    if (ever_connected) bump(counters.reconnects);
    ever_connected = true;
    log::log_event(spdlog::level::info, "feed", "connected",
                   log::LogFields()
                       .str("url", std::string(ws_ep.tls ? "wss://" : "ws://") +
                                       ws_ep.host_header() + ws_ep.path)
                       .unum("symbols", cfg.symbols.size())
                       .unum("streams_each", cfg.streams.size()));
    // Every book starts over on a new connection; the snapshot requests this triggers go out
    // after the read below is armed, so diffs are already being buffered (Binance step 2-3).
    pipeline.invalidate_all(md::FrameMeta{realtime_ns()});
    read(c);
  }

  void read(const std::shared_ptr<WsConn>& c) {
    c->visit([&](auto& s) {
      s.async_read(c->buffer,
                   [this, c](beast::error_code ec, std::size_t n) { on_read(c, ec, n); });
    });
  }

  void on_read(const std::shared_ptr<WsConn>& c, beast::error_code ec, std::size_t n) {
    if (c != ws) return;
    if (ec) return on_ws_error(c, ec);
    const std::int64_t receive_ns = realtime_ns();
    last_activity = Clock::now();
    bump(counters.frames_received);
    bump(counters.bytes_received, n);
    bool text = true;
    c->visit([&](auto& s) { text = s.got_text(); });
    if (text) {
      const auto data = c->buffer.cdata();
      pipeline.on_frame(receive_ns,
                        std::string_view(static_cast<const char*>(data.data()), data.size()));
    } else {
      bump(counters.binary_frames);
    }
    c->buffer.consume(c->buffer.size());
    if (stopping || c != ws) return;  // the sink stopped us, or something replaced the stream
    if (shutdown_announced) {
      bump(counters.server_shutdowns);
      return disconnect(Why::kServerShutdown, "venue sent serverShutdown");
    }
    read(c);
  }

  void on_control(WsConn* raw, websocket::frame_type kind) {
    if (!ws || raw != ws.get()) return;
    last_activity = Clock::now();
    switch (kind) {
      case websocket::frame_type::ping:
        bump(counters.pings_received);
        bump(counters.pongs_sent);
        break;
      case websocket::frame_type::close:
        bump(counters.closes_by_peer);
        break;
      case websocket::frame_type::pong:
        break;
    }
  }

  void on_ws_error(const std::shared_ptr<WsConn>& c, beast::error_code ec) {
    if (ec == websocket::error::closed) {
      websocket::close_reason r;
      c->visit([&](auto& s) { r = s.reason(); });
      return disconnect(Why::kClosedByPeer, "close code " + std::to_string(r.code) + " '" +
                                                std::string(r.reason.c_str()) + "'");
    }
    disconnect(Why::kError, "read: " + ec.message());
  }

  void connect_failed(const std::string& stage, beast::error_code ec,
                      const std::string& detail = {}) {
    std::shared_ptr<WsConn> c = std::move(ws);
    ws.reset();
    state = State::kIdle;
    if (c) c->close_socket();
    bump(counters.connect_failures);
    const std::string msg =
        stage + " " + ws_ep.host_header() + ": " + (detail.empty() ? ec.message() : detail);
    set_error(msg);
    const milliseconds delay = schedule_reconnect(false, false);
    log::log_event(spdlog::level::warn, "feed", "connection_failed",
                   log::LogFields().str("error", msg).num("retry_ms", delay.count()));
  }

  // The open connection is finished (error, close, silence, lifetime, serverShutdown).
  void disconnect(Why why, const std::string& detail) {
    std::shared_ptr<WsConn> c = std::move(ws);
    ws.reset();
    const bool was_open = state == State::kOpen;
    state = State::kIdle;
    const Clock::duration lived = was_open ? Clock::now() - connected_at : Clock::duration{};
    abort_snapshots();
    if (was_open) {
      bump(counters.disconnects);
      // Invalidate now rather than at the next connect: readers must not trust a book whose
      // feed is down, however short the outage.
      pipeline.invalidate_all(md::FrameMeta{realtime_ns()});
    }
    const bool planned = why == Why::kLifetime || why == Why::kServerShutdown;
    if (c) {
      if (planned) {
        close_gracefully(c, websocket::close_code::going_away, false);
      } else {
        c->close_socket();  // error, peer close done, or a silent peer not worth waiting for
      }
    }
    const bool healthy = was_open && lived >= cfg.backoff.healthy_after;
    const std::string msg = std::string(to_string(why)) + ": " + detail;
    if (!planned) set_error(msg);
    const milliseconds delay = schedule_reconnect(planned, healthy);
    // A planned reconnect is routine; anything else is worth an operator's attention.
    spdlog::log(planned ? spdlog::level::info : spdlog::level::warn,
                "feed: disconnected from {} after {} ms ({}); reconnect in {} ms",
                ws_ep.host_header(), ms(lived), msg, delay.count());
  }

  void close_gracefully(const std::shared_ptr<WsConn>& c, websocket::close_code code,
                        bool on_stop) {
    c->visit([&](auto& s) {
      websocket::stream_base::timeout t{};
      t.handshake_timeout = cfg.close_timeout;  // Beast applies it to the closing handshake too
      t.idle_timeout = websocket::stream_base::none();
      t.keep_alive_pings = false;
      s.set_option(t);
      s.async_close(code, [this, c, on_stop](beast::error_code) {
        c->close_socket();
        if (on_stop) stop_timer.cancel();
      });
    });
  }

  // Returns the delay chosen. A planned reconnect after a healthy connection is immediate;
  // everything else waits a jittered, growing delay so a venue-wide outage is not a stampede.
  milliseconds schedule_reconnect(bool planned, bool healthy) {
    if (stopping) return milliseconds{0};
    if (healthy) backoff.reset();
    const milliseconds delay = planned && healthy ? milliseconds{0} : backoff.next();
    state = State::kWaiting;
    reconnect_timer.expires_after(delay);
    reconnect_timer.async_wait([this](beast::error_code ec) {
      if (ec || stopping) return;
      start_connect();
    });
    return delay;
  }

  // ---- REST snapshots -------------------------------------------------------------------

  void request_snapshot(const md::SymbolState& s) {
    // Not open (or about to close): the next on_open requests every symbol anyway.
    if (state != State::kOpen || shutdown_announced || stopping) return;
    // Only configured symbols have a depth target (the pipeline could, in principle, have added
    // one it saw on the wire).
    if (s.id >= depth_targets.size()) return;
    slots[s.id].pending = true;
    schedule_pump();
  }

  // Deferred through the io_context: requests arrive from inside md::Pipeline calls, and starting
  // I/O there would re-enter the pipeline's sink from our own HTTP handler.
  void schedule_pump() {
    if (pump_posted) return;
    pump_posted = true;
    asio::post(ioc, [this] {
      pump_posted = false;
      pump_snapshots();
    });
  }

  void pump_snapshots() {
    if (state != State::kOpen || stopping || shutdown_announced || http_busy) return;
    const Clock::time_point now = Clock::now();
    if (now < rest_blocked_until) return arm_snap_timer(rest_blocked_until);
    const std::size_t n = pipeline.symbol_count();
    std::optional<Clock::time_point> earliest;
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (rr + 1 + k) % n;  // round robin: one noisy symbol cannot starve others
      const SnapSlot& slot = slots[i];
      if (!slot.pending || slot.in_flight) continue;
      if (slot.not_before <= now) {
        rr = i;
        return start_snapshot(i, now);
      }
      if (!earliest || slot.not_before < *earliest) earliest = slot.not_before;
    }
    if (earliest) arm_snap_timer(*earliest);
  }

  void arm_snap_timer(Clock::time_point when) {
    snap_timer.expires_at(when);
    snap_timer.async_wait([this](beast::error_code ec) {
      if (!ec) pump_snapshots();
    });
  }

  void start_snapshot(std::size_t i, Clock::time_point now) {
    SnapSlot& slot = slots[i];
    slot.pending = false;
    slot.in_flight = true;
    slot.not_before = now + cfg.snapshot_min_spacing;
    http_busy = true;
    http_symbol = i;
    http_gen = conn_gen;
    http_started = now;
    bump(counters.snapshots_requested);
    req.target(depth_targets[i]);
    if (http && http->connected) {
      http_send(http, /*reused=*/true);
    } else {
      http_connect();
    }
  }

  void http_connect() {
    if (http) http->close_socket();
    auto h = std::make_shared<HttpConn>(ioc, rest_ep.tls ? &*tls : nullptr);
    http = h;
    h->resolver.async_resolve(
        rest_ep.host, rest_ep.port_string(),
        [this, h](beast::error_code ec, const tcp::resolver::results_type& results) {
          if (h != http) return;
          if (ec) return snapshot_failed("resolve", ec);
          h->visit([&](auto& s) { http_tcp(h, s, results); });
        });
  }

  template <class S>
  void http_tcp(const std::shared_ptr<HttpConn>& h, S& s,
                const tcp::resolver::results_type& results) {
    beast::get_lowest_layer(s).async_connect(results, [this, h, &s](beast::error_code ec,
                                                                    const tcp::endpoint&) {
      if (h != http) return;
      if (ec) return snapshot_failed("connect", ec);
      beast::error_code ignored;
      beast::get_lowest_layer(s).socket().set_option(tcp::no_delay(true), ignored);
      if constexpr (std::is_same_v<S, TlsHttp>) {
        if (!net::prepare_tls_connection(s.native_handle(), rest_ep)) {
          return snapshot_failed("tls setup", make_error_code(beast::errc::invalid_argument));
        }
        s.async_handshake(ssl::stream_base::client, [this, h, &s](beast::error_code ec2) {
          if (h != http) return;
          if (ec2)
            return snapshot_failed("tls handshake", ec2, net::tls_error(s.native_handle(), ec2));
          h->connected = true;
          http_send(h, false);
        });
      } else {
        h->connected = true;
        http_send(h, false);
      }
    });
  }

  // `reused`: the connection carried an earlier request. A kept-alive connection may have been
  // closed by the server since, so one failure on it is retried once on a fresh connection.
  void http_send(const std::shared_ptr<HttpConn>& h, bool reused) {
    h->visit([&](auto& s) {
      http::async_write(s, req, [this, h, reused, &s](beast::error_code ec, std::size_t) {
        if (h != http) return;
        if (ec) return reused ? http_connect() : snapshot_failed("write", ec);
        h->parser.emplace();
        h->parser->body_limit(kMaxSnapshotBytes);
        http::async_read(s, h->buffer, *h->parser,
                         [this, h, reused](beast::error_code ec2, std::size_t) {
                           if (h != http) return;
                           if (ec2) return reused ? http_connect() : snapshot_failed("read", ec2);
                           on_http_response(h);
                         });
      });
    });
  }

  void finish_request() {
    http_busy = false;
    slots[http_symbol].in_flight = false;
  }

  [[nodiscard]] milliseconds failure_delay() const noexcept {
    const milliseconds base = std::max(cfg.snapshot_min_spacing, milliseconds{100});
    const milliseconds d = base * (1LL << std::min<std::uint32_t>(rest_failures, 8));
    return std::min(d, milliseconds{30'000});
  }

  void on_http_response(const std::shared_ptr<HttpConn>& h) {
    http::response<http::string_body> res = h->parser->release();
    h->parser.reset();
    if (!res.keep_alive()) {
      h->close_socket();
      http.reset();
    }
    const std::size_t i = http_symbol;
    finish_request();
    if (http_gen != conn_gen || state != State::kOpen || shutdown_announced) {
      bump(counters.snapshots_discarded);  // for a stream that has gone; on_open re-requested
      return schedule_pump();
    }
    const Clock::time_point now = Clock::now();
    md::SymbolState& s = pipeline.symbol(i);
    const unsigned status = res.result_int();
    if (status != 200) {
      if (status == 429 || status == 418) {
        // Binance: 429 = over the request weight, 418 = IP banned for ignoring 429s. Back off
        // all REST for Retry-After seconds (or a minute if absent), for every symbol.
        std::int64_t secs = 60;
        const auto ra = res[http::field::retry_after];
        if (!ra.empty()) {
          std::int64_t v = 0;
          const auto r = std::from_chars(ra.data(), ra.data() + ra.size(), v);
          if (r.ec == std::errc{} && v > 0) secs = v;
        }
        rest_blocked_until = now + std::chrono::seconds(secs);
      }
      ++rest_failures;
      bump(counters.snapshots_failed);
      const std::string msg = "snapshot " + std::string(s.name_view()) + ": HTTP " +
                              std::to_string(status) + " " + res.body().substr(0, 200);
      set_error(msg);
      log::log_event(spdlog::level::warn, "feed", "snapshot_failed",
                     log::LogFields().str("error", msg));
      slots[i].pending = true;
      slots[i].not_before = now + failure_delay();
      return schedule_pump();
    }
    const md::SnapshotOutcome o = pipeline.on_snapshot_body(s, realtime_ns(), res.body());
    if (pipeline.last_error() != md::ParseErrc::kOk) {
      // The pipeline has already asked for another snapshot (pending is set); space it out.
      ++rest_failures;
      bump(counters.snapshots_failed);
      const std::string msg = "snapshot " + std::string(s.name_view()) +
                              ": unparsable body: " + md::to_string(pipeline.last_error());
      set_error(msg);
      log::log_event(spdlog::level::warn, "feed", "snapshot_failed",
                     log::LogFields().str("error", msg));
      slots[i].not_before = now + failure_delay();
    } else {
      rest_failures = 0;
      bump(counters.snapshots_ok);
      if (o == md::SnapshotOutcome::kTooOld || o == md::SnapshotOutcome::kGap ||
          o == md::SnapshotOutcome::kCrossed) {
        bump(counters.snapshots_rejected);
      }
    }
    schedule_pump();
  }

  void snapshot_failed(const std::string& stage, beast::error_code ec,
                       const std::string& detail = {}) {
    if (http) {
      http->close_socket();
      http.reset();
    }
    if (!http_busy) return;
    const std::size_t i = http_symbol;
    finish_request();
    if (http_gen != conn_gen || state != State::kOpen) {
      bump(counters.snapshots_discarded);
      return schedule_pump();
    }
    ++rest_failures;
    bump(counters.snapshots_failed);
    const std::string msg = "snapshot " + std::string(pipeline.symbol(i).name_view()) + ": " +
                            stage + " " + rest_ep.host_header() + ": " +
                            (detail.empty() ? ec.message() : detail);
    set_error(msg);
    log::log_event(spdlog::level::warn, "feed", "snapshot_failed",
                   log::LogFields().str("error", msg));
    slots[i].pending = true;
    slots[i].not_before = Clock::now() + failure_delay();
    schedule_pump();
  }

  // The stream a snapshot was for is gone: drop what is in flight and what is queued.
  void abort_snapshots() {
    if (http_busy) {
      if (http) {
        http->close_socket();
        http.reset();
      }
      finish_request();
      bump(counters.snapshots_discarded);
    }
    for (auto& s : slots) s.pending = false;
    snap_timer.cancel();
  }

  void set_error(const std::string& msg) {
    std::lock_guard<std::mutex> lock(error_mu);
    last_error = msg;
  }

  // Declared first so it is destroyed last: sockets, timers and pending handlers below refer
  // to it.
  asio::io_context ioc{1};
  FeedConfig cfg;
  net::Endpoint ws_ep;
  net::Endpoint rest_ep;
  std::string target;
  std::vector<std::string> depth_targets;  // by symbol id
  std::optional<ssl::context> tls;
  Relay relay;
  md::Pipeline pipeline;
  Backoff backoff;
  asio::steady_timer tick_timer;
  std::function<void(md::Pipeline&)> tick_hook;
  asio::steady_timer reconnect_timer;
  asio::steady_timer snap_timer;
  asio::steady_timer stop_timer;
  milliseconds tick_period{100};

  // md-thread state.
  State state = State::kIdle;
  std::shared_ptr<WsConn> ws;
  std::uint64_t conn_gen = 0;
  bool ever_connected = false;
  bool stopping = false;
  bool shutdown_announced = false;
  Clock::time_point attempt_started{};
  Clock::time_point connected_at{};
  Clock::time_point last_activity{};

  std::array<SnapSlot, md::kMaxPipelineSymbols> slots{};
  std::size_t rr = md::kMaxPipelineSymbols - 1;
  bool pump_posted = false;
  std::shared_ptr<HttpConn> http;
  http::request<http::empty_body> req;
  bool http_busy = false;
  std::size_t http_symbol = 0;
  std::uint64_t http_gen = 0;
  Clock::time_point http_started{};
  Clock::time_point rest_blocked_until{};
  std::uint32_t rest_failures = 0;

  // Shared with other threads.
  static_assert(std::atomic<bool>::is_always_lock_free, "stop_from_signal needs a lock-free flag");
  std::atomic<bool> stop_flag{false};
  AtomicCounters counters;
  mutable std::mutex error_mu;
  std::string last_error;
};

FeedClient::FeedClient(FeedConfig cfg, md::MarketSink* downstream)
    : impl_(std::make_unique<Impl>(std::move(cfg), downstream)) {}

FeedClient::~FeedClient() = default;

void FeedClient::set_tick_hook(std::function<void(md::Pipeline&)> hook) {
  impl_->tick_hook = std::move(hook);
}

void FeedClient::run() {
  asio::post(impl_->ioc, [this] { impl_->start(); });
  impl_->ioc.run();
}

void FeedClient::run_spinning(bool yield_when_idle) {
  asio::post(impl_->ioc, [this] { impl_->start(); });
  // poll() never blocks: frames are handled as soon as the socket has them, at the price of a
  // core. run() returns when the io_context runs out of work; poll() returning 0 with no work
  // left (stopped()) is the same condition here.
  while (!impl_->ioc.stopped()) {
    if (impl_->ioc.poll() == 0 && yield_when_idle) std::this_thread::yield();
  }
}

void FeedClient::stop() noexcept {
  try {
    asio::post(impl_->ioc, [this] { impl_->begin_stop(); });
  } catch (...) {
    impl_->ioc.stop();  // could not queue (out of memory): stop hard
  }
}

void FeedClient::stop_from_signal() noexcept {
  impl_->stop_flag.store(true, std::memory_order_release);
}

FeedClient::Counters FeedClient::counters() const noexcept {
  Counters c;
#define CWTS_LOAD(name) c.name = impl_->counters.name.load(std::memory_order_relaxed);
  CWTS_FEED_COUNTERS(CWTS_LOAD)
#undef CWTS_LOAD
  return c;
}

std::string FeedClient::last_error() const {
  std::lock_guard<std::mutex> lock(impl_->error_mu);
  return impl_->last_error;
}

md::Pipeline& FeedClient::pipeline() noexcept { return impl_->pipeline; }

const FeedConfig& FeedClient::config() const noexcept { return impl_->cfg; }

}  // namespace cwts::feed
