// FeedClient's WebSocket: connect (resolve, TCP, TLS, handshake), read frames into the pipeline,
// watch control frames, disconnect and reconnect with backoff.
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <spdlog/spdlog.h>

#include "cwts/log/json_log.hpp"
#include "cwts/net/tls_client.hpp"
#include "feed_client_impl.hpp"

namespace cwts::feed {

using namespace detail;  // the helpers that were file-local before the split

FeedClient::Impl::Link& FeedClient::Impl::add_link() {
  links.push_back(std::make_unique<Link>(ioc, links.size(), cfg.backoff, seed + links.size()));
  return *links.back();
}

void FeedClient::Impl::start_connect(Link& l) {
  if (stopping) return;
  auto c = std::make_shared<WsConn>(ioc, ws_ep.tls ? &*tls : nullptr);
  l.ws = c;
  l.spills_counted = 0;
  l.gen = ++next_gen;
  l.state = State::kConnecting;
  l.attempt_started = Clock::now();
  l.shutdown_announced = false;
  c->resolver.async_resolve(
      ws_ep.host, ws_ep.port_string(),
      [this, &l, c](beast::error_code ec, const tcp::resolver::results_type& results) {
        if (c != l.ws) return;
        if (ec) return connect_failed(l, "resolve", ec);
        c->visit([&](auto& s) { connect_tcp(l, c, s, results); });
      });
}

template <class Ws>
void FeedClient::Impl::connect_tcp(Link& l, const std::shared_ptr<WsConn>& c, Ws& s,
                                   const tcp::resolver::results_type& results) {
  beast::get_lowest_layer(s).async_connect(
      results, [this, &l, c, &s](beast::error_code ec, const tcp::endpoint&) {
        if (c != l.ws) return;
        if (ec) return connect_failed(l, "connect", ec);
        beast::error_code ignored;
        beast::get_lowest_layer(s).socket().set_option(tcp::no_delay(true), ignored);
        if constexpr (std::is_same_v<Ws, TlsWs>) {
          if (!net::prepare_tls_connection(s.next_layer().native_handle(), ws_ep)) {
            return connect_failed(l, "tls setup", make_error_code(beast::errc::invalid_argument));
          }
          s.next_layer().async_handshake(
              ssl::stream_base::client, [this, &l, c, &s](beast::error_code ec2) {
                if (c != l.ws) return;
                if (ec2) {
                  return connect_failed(l, "tls handshake", ec2,
                                        net::tls_error(s.next_layer().native_handle(), ec2));
                }
                ws_handshake(l, c, s);
              });
        } else {
          ws_handshake(l, c, s);
        }
      });
}

template <class Ws>
void FeedClient::Impl::ws_handshake(Link& l, const std::shared_ptr<WsConn>& c, Ws& s) {
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
  s.control_callback([this, &l, raw](websocket::frame_type kind, beast::string_view) {
    on_control(l, raw, kind);
  });
  l.in_handshake = l.in_target;  // what this handshake's target carries
  s.async_handshake(
      c->handshake_response, ws_ep.host_header(), l.target, [this, &l, c](beast::error_code ec) {
        if (c != l.ws) return;
        if (ec) {
          if (ec == websocket::error::upgrade_declined) {
            return connect_failed(
                l, "ws handshake (HTTP " + std::to_string(c->handshake_response.result_int()) + ")",
                ec);
          }
          return connect_failed(l, "ws handshake", ec);
        }
        on_open(l, c);
      });
}

void FeedClient::Impl::on_open(Link& l, const std::shared_ptr<WsConn>& c) {
  l.state = State::kOpen;
  l.connected_at = l.last_activity = Clock::now();
  l.shutdown_announced = false;
  // A new connection's target has the subscribed symbols that fit in it; subscribe_late() below
  // asks for the rest: nothing queued for the old connection is sent.
  l.out.clear();
  l.writing = false;
  l.sent.fill(Clock::time_point{});  // the venue counts per connection
  l.pace_timer.cancel();
  for (std::size_t i = 0; i < pipeline.symbol_count(); ++i) {
    if (link_of[i] == l.index) awaiting_subscribe[i] = false;
  }
  l.first_control = l.control_id;
  l.replies = 0;
  bump(counters.connects);
  if (l.ever_connected) bump(counters.reconnects);
  l.ever_connected = true;
  log::log_event(spdlog::level::info, "feed", "connected",
                 log::LogFields()
                     .str("url", std::string(ws_ep.tls ? "wss://" : "ws://") + ws_ep.host_header() +
                                     ws_ep.path)
                     .unum("connection", l.index)
                     .unum("symbols", l.symbols)
                     .unum("streams_each", cfg.streams.size()));
  // The symbols the target could not carry are subscribed now; their snapshots wait for the
  // answers. Every book starts over on a new connection; the snapshot requests this triggers go
  // out after the read below is armed, so diffs are already being buffered (Binance step 2-3).
  subscribe_late(l);
  invalidate_books(l);
  read(l, c);
}

void FeedClient::Impl::invalidate_books(Link& l) {
  const md::FrameMeta meta{realtime_ns()};
  for (std::size_t i = 0; i < pipeline.symbol_count(); ++i) {
    if (link_of[i] == l.index) pipeline.invalidate(pipeline.symbol(i), meta);
  }
}

void FeedClient::Impl::read(Link& l, const std::shared_ptr<WsConn>& c) {
  c->visit([&](auto& s) {
    s.async_read(c->buffer, net::with_slots(net::slots_of(c),
                                            [this, &l, c](beast::error_code ec, std::size_t n) {
                                              on_read(l, c, ec, n);
                                            }));
  });
}

void FeedClient::Impl::on_read(Link& l, const std::shared_ptr<WsConn>& c, beast::error_code ec,
                               std::size_t n) {
  if (c != l.ws) return;
  count_spills(l);
  if (ec) return on_ws_error(l, c, ec);
  const std::int64_t receive_ns = realtime_ns();
  l.last_activity = Clock::now();
  bump(counters.frames_received);
  bump(counters.bytes_received, n);
  bool text = true;
  c->visit([&](auto& s) { text = s.got_text(); });
  if (text) {
    const auto data = c->buffer.cdata();
    reading = &l;
    pipeline.on_frame(receive_ns,
                      std::string_view(static_cast<const char*>(data.data()), data.size()));
    reading = nullptr;
    const md::FrameKind kind = pipeline.last_frame().kind;
    if (pipeline.last_error() == md::ParseErrc::kOk &&
        (kind == md::FrameKind::kSubscriptionReply || kind == md::FrameKind::kError)) {
      on_subscription_reply(l);
    }
  } else {
    bump(counters.binary_frames);
  }
  c->buffer.consume(c->buffer.size());
  if (stopping || c != l.ws) return;  // the sink stopped us, or something replaced the stream
  if (l.shutdown_announced) {
    bump(counters.server_shutdowns);
    return disconnect(l, Why::kServerShutdown, "venue sent serverShutdown");
  }
  read(l, c);
}

void FeedClient::Impl::on_control(Link& l, WsConn* raw, websocket::frame_type kind) {
  if (!l.ws || raw != l.ws.get()) return;
  l.last_activity = Clock::now();
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

void FeedClient::Impl::on_ws_error(Link& l, const std::shared_ptr<WsConn>& c,
                                   beast::error_code ec) {
  if (ec == websocket::error::closed) {
    websocket::close_reason r;
    c->visit([&](auto& s) { r = s.reason(); });
    return disconnect(
        l, Why::kClosedByPeer,
        "close code " + std::to_string(r.code) + " '" + std::string(r.reason.c_str()) + "'");
  }
  disconnect(l, Why::kError, "read: " + ec.message());
}

void FeedClient::Impl::connect_failed(Link& l, const std::string& stage, beast::error_code ec,
                                      const std::string& detail) {
  std::shared_ptr<WsConn> c = std::move(l.ws);
  l.ws.reset();
  l.state = State::kIdle;
  if (c) c->close_socket();
  bump(counters.connect_failures);
  const std::string msg =
      stage + " " + ws_ep.host_header() + ": " + (detail.empty() ? ec.message() : detail);
  set_error(msg);
  const milliseconds delay = schedule_reconnect(l, false, false);
  log::log_event(spdlog::level::warn, "feed", "connection_failed",
                 log::LogFields()
                     .str("error", msg)
                     .unum("connection", l.index)
                     .num("retry_ms", delay.count()));
}

// The only operations that take a connection's slots are its frame reads.
void FeedClient::Impl::count_spills(Link& l) {
  if (!l.ws || l.ws->slots.spilled() == l.spills_counted) return;  // no atomic add a frame
  const std::size_t spills = l.ws->slots.spilled();
  bump(counters.handler_spills, spills - l.spills_counted);
  l.spills_counted = spills;
}

// The open connection is finished (error, close, silence, lifetime, serverShutdown).
void FeedClient::Impl::disconnect(Link& l, Why why, const std::string& detail) {
  count_spills(l);
  std::shared_ptr<WsConn> c = std::move(l.ws);
  l.ws.reset();
  const bool was_open = l.state == State::kOpen;
  l.state = State::kIdle;
  const Clock::duration lived = was_open ? Clock::now() - l.connected_at : Clock::duration{};
  abort_snapshots(&l);
  if (was_open) {
    bump(counters.disconnects);
    // Invalidate now rather than at the next connect: readers must not trust a book whose
    // feed is down, however short the outage. Other connections' books are not affected.
    invalidate_books(l);
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
  const milliseconds delay = schedule_reconnect(l, planned, healthy);
  // A planned reconnect is routine; anything else is worth an operator's attention.
  spdlog::log(planned ? spdlog::level::info : spdlog::level::warn,
              "feed: connection {} disconnected from {} after {} ms ({}); reconnect in {} ms",
              l.index, ws_ep.host_header(), ms(lived), msg, delay.count());
}

void FeedClient::Impl::close_gracefully(const std::shared_ptr<WsConn>& c,
                                        websocket::close_code code, bool on_stop) {
  c->visit([&](auto& s) {
    websocket::stream_base::timeout t{};
    t.handshake_timeout = cfg.close_timeout;  // Beast applies it to the closing handshake too
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    s.set_option(t);
    s.async_close(code, [this, c, on_stop](beast::error_code) {
      c->close_socket();
      if (on_stop && --closing == 0) stop_timer.cancel();  // the last one
    });
  });
}

// Returns the delay chosen. A planned reconnect after a healthy connection is immediate;
// everything else waits a jittered, growing delay so a venue-wide outage is not a stampede.
milliseconds FeedClient::Impl::schedule_reconnect(Link& l, bool planned, bool healthy) {
  if (stopping) return milliseconds{0};
  if (healthy) l.backoff.reset();
  const milliseconds delay = planned && healthy ? milliseconds{0} : l.backoff.next();
  l.state = State::kWaiting;
  l.reconnect_timer.expires_after(delay);
  l.reconnect_timer.async_wait([this, &l](beast::error_code ec) {
    if (ec || stopping) return;
    start_connect(l);
  });
  return delay;
}

}  // namespace cwts::feed
