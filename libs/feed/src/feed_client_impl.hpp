// FeedClient::Impl, the Binance feed client: Beast WebSocket (streams) and HTTP (depth snapshots)
// on one io_context, feeding a md::Pipeline. Defined in feed_{client,stream,snapshot}.cpp.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "cwts/core/clock.hpp"
#include "cwts/feed/feed_client.hpp"
#include "cwts/net/endpoint.hpp"
#include "cwts/net/ws_conn.hpp"

namespace cwts::feed {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace detail {

using net::PlainWs;
using net::TlsWs;
using PlainHttp = net::TcpStream;
using TlsHttp = beast::ssl_stream<net::TcpStream>;

// A depth body at limit=5000 is ~400 KB; anything far larger is not a depth snapshot.
constexpr std::uint64_t kMaxSnapshotBytes = 16U << 20;
// Streams per SUBSCRIBE message (about 6 KB of JSON), and how long a symbol's snapshot waits for
// its SUBSCRIBE's answer.
constexpr std::size_t kSubscribeBatchStreams = 240;
constexpr milliseconds kSubscribeAnswerTimeout{10'000};
// Binance cuts a connection that sends more than 5 messages a second (pings, pongs and control
// messages all count): control messages go out at most 4 in any second, leaving one for the pong
// Beast sends when the venue pings.
constexpr std::size_t kControlPerSecond = 4;
constexpr milliseconds kControlWindow{1'010};  // a second, and a margin for the venue's clock

using core::realtime_ns;

inline std::int64_t ms(Clock::duration d) noexcept {
  return std::chrono::duration_cast<milliseconds>(d).count();
}

// Counters are written by the md thread only and read by anyone for monitoring: a single
// writer's relaxed load + store is exact (no lost updates) and avoids a locked RMW per frame;
// readers need no ordering with anything else, so relaxed loads suffice.
inline void bump(std::atomic<std::uint64_t>& a, std::uint64_t n = 1) noexcept {
  a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

using net::WsConn;

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
  X(snapshots_rejected) X(snapshots_discarded) X(snapshots_waited_for_weight)                 \
  X(frames_received) X(bytes_received)                                                      \
  X(binary_frames) X(handler_spills)
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

}  // namespace detail

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
      // The connection whose frame the pipeline is reading announced it.
      if (impl_.reading != nullptr) impl_.reading->shutdown_announced = true;
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

  // One WebSocket connection and its cycle (connect, open, read, reconnect), carrying the streams
  // of the symbols whose link_of is its index. Never moved (handlers hold a reference).
  struct Link {
    Link(asio::io_context& ioc, std::size_t i, const BackoffPolicy& policy, std::uint64_t seed)
        : index(i),
          in_target(md::kMaxPipelineSymbols, false),
          in_handshake(md::kMaxPipelineSymbols, false),
          backoff(policy, seed),
          reconnect_timer(ioc),
          pace_timer(ioc) {}
    std::size_t index;
    State state = State::kIdle;
    std::shared_ptr<detail::WsConn> ws;
    std::size_t spills_counted = 0;  // ws->slots.spilled() already in counters.handler_spills
    std::uint64_t gen = 0;  // unique per connection attempt: snapshots name the one they were for
    bool ever_connected = false;
    bool shutdown_announced = false;
    Clock::time_point attempt_started{};
    Clock::time_point connected_at{};
    Clock::time_point last_activity{};
    std::string target;           // the stream target of its next connection
    std::vector<bool> in_target;  // by symbol id: its streams are in `target`
    // By symbol id: in the target of the handshake under way or done. A symbol added or removed
    // since is subscribed or unsubscribed when the connection opens.
    std::vector<bool> in_handshake;
    std::size_t symbols = 0;          // streaming symbols it carries
    std::uint64_t control_id = 0;     // id of the last SUBSCRIBE / UNSUBSCRIBE sent on it
    std::uint64_t first_control = 0;  // control_id when this connection opened
    std::uint64_t replies = 0;        // answers to control messages on this connection
    // Text messages waiting for the connection's write, with their request ids.
    std::vector<std::pair<std::string, std::uint64_t>> out;
    bool writing = false;  // a write in flight, or waiting for pace_timer
    // When the last kControlPerSecond messages were written (a ring; `sent_next` is the oldest).
    std::array<Clock::time_point, detail::kControlPerSecond> sent{};
    std::size_t sent_next = 0;
    Backoff backoff;
    asio::steady_timer reconnect_timer;
    asio::steady_timer pace_timer;
  };

  struct SnapSlot {
    bool pending = false;    // a snapshot is wanted
    bool in_flight = false;  // a request for this symbol is on the wire
    Clock::time_point not_before{};
    // Bumped when the symbol is removed: an answer to a request made before then is not for the
    // streams it has now (added again, it streams from its new SUBSCRIBE on).
    std::uint32_t epoch = 0;
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

  Impl(FeedConfig c, md::MarketSink* down);

  // ---- life cycle -------------------------------------------------------------------------

  void start();
  void begin_stop();
  void arm_tick();
  void on_tick();

  // ---- WebSocket ------------------------------------------------------------------------

  Link& add_link();
  [[nodiscard]] Link& link_for(std::size_t symbol_id) noexcept {
    return *links[link_of[symbol_id]];
  }
  [[nodiscard]] bool link_open(const Link& l) const noexcept {
    return l.state == State::kOpen && !l.shutdown_announced && !stopping;
  }
  void start_connect(Link& l);
  template <class Ws>
  void connect_tcp(Link& l, const std::shared_ptr<detail::WsConn>& c, Ws& s,
                   const tcp::resolver::results_type& results);
  template <class Ws>
  void ws_handshake(Link& l, const std::shared_ptr<detail::WsConn>& c, Ws& s);
  void on_open(Link& l, const std::shared_ptr<detail::WsConn>& c);
  void read(Link& l, const std::shared_ptr<detail::WsConn>& c);
  void on_read(Link& l, const std::shared_ptr<detail::WsConn>& c, beast::error_code ec,
               std::size_t n);
  void on_control(Link& l, detail::WsConn* raw, websocket::frame_type kind);
  void on_ws_error(Link& l, const std::shared_ptr<detail::WsConn>& c, beast::error_code ec);
  void connect_failed(Link& l, const std::string& stage, beast::error_code ec,
                      const std::string& detail = {});
  void disconnect(Link& l, Why why, const std::string& detail);
  // l.ws's operations that did not fit its slots since last counted, into
  // counters.handler_spills: after each read, and before the connection is let go (a read still
  // pending then took its memory when it began).
  void count_spills(Link& l);
  // Every book the connection carries is invalid until its next snapshot (asked for if open).
  void invalidate_books(Link& l);
  void close_gracefully(const std::shared_ptr<detail::WsConn>& c, websocket::close_code code,
                        bool on_stop);
  milliseconds schedule_reconnect(Link& l, bool planned, bool healthy);

  // ---- REST snapshots -------------------------------------------------------------------

  void request_snapshot(const md::SymbolState& s);
  void schedule_pump();
  void pump_snapshots();
  void arm_snap_timer(Clock::time_point when);
  void start_snapshot(std::size_t i, Clock::time_point now);
  void http_connect();
  template <class S>
  void http_tcp(const std::shared_ptr<detail::HttpConn>& h, S& s,
                const tcp::resolver::results_type& results);
  void http_send(const std::shared_ptr<detail::HttpConn>& h, bool reused);
  void finish_request();
  [[nodiscard]] bool answer_outdated(std::size_t i) const noexcept;
  [[nodiscard]] milliseconds failure_delay() const noexcept;
  void on_http_response(const std::shared_ptr<detail::HttpConn>& h);
  void snapshot_failed(const std::string& stage, beast::error_code ec,
                       const std::string& detail = {});
  // The connection's streams are gone: its snapshot in flight and queued are dropped (nullptr:
  // every connection's).
  void abort_snapshots(const Link* l);

  void set_error(const std::string& msg);

  // ---- run-time symbols (feed_client.cpp) ----------------------------------------------------

  md::SymbolState& add_symbol(std::string_view symbol);
  void remove_symbol(std::string_view symbol);
  // Each connection's combined stream target from its symbols still subscribed (its next
  // connection's), and which of them it carries (`in_target`; on_open subscribes the rest).
  void rebuild_targets();
  // A live SUBSCRIBE / UNSUBSCRIBE of the symbols' configured streams on the connection; the
  // symbols `awaiting` (ids) wait for its answer before their snapshots.
  void send_stream_request(Link& l, std::string_view method,
                           const std::vector<std::string_view>& symbols,
                           const std::vector<std::size_t>& awaiting = {});
  // on_open: SUBSCRIBE the connection's symbols its handshake's target did not carry (late, or
  // added during the handshake), UNSUBSCRIBE those it carried that have gone since, in messages
  // of at most kSubscribeBatchStreams streams; each symbol's snapshot waits for its answer.
  void subscribe_late(Link& l);
  // Queues a text message on the open connection (one write in flight at a time).
  void send_text(Link& l, std::string text, std::uint64_t request);
  void write_next(Link& l, const std::shared_ptr<detail::WsConn>& c);
  // A {"result":..,"id":..} (or an error answer) arrived on the connection: answers come in the
  // order of the requests, so its symbols whose SUBSCRIBE it answers (or an earlier one did) ask
  // for snapshots.
  void on_subscription_reply(Link& l);
  // A symbol whose SUBSCRIBE got no answer within kSubscribeAnswerTimeout asks anyway (the book's
  // sync refetches a snapshot that turns out older than the first buffered diff).
  void expire_subscriptions(Link& l, Clock::time_point now);

  // Declared first so it is destroyed last: sockets, timers and pending handlers below refer
  // to it.
  asio::io_context ioc{1};
  FeedConfig cfg;
  net::Endpoint ws_ep;
  net::Endpoint rest_ep;
  std::vector<std::string> depth_targets;  // by symbol id
  std::optional<ssl::context> tls;
  Relay relay;
  md::Pipeline pipeline;
  std::uint64_t seed;  // the connections' backoff jitter: seed + index
  asio::steady_timer tick_timer;
  std::function<void(md::Pipeline&)> tick_hook;
  asio::steady_timer reconnect_timer;
  asio::steady_timer snap_timer;
  asio::steady_timer stop_timer;
  milliseconds tick_period{100};

  // md-thread state.
  std::vector<std::unique_ptr<Link>> links;
  static_assert(kMaxConnections <= 256, "link_of holds a connection index in a byte");
  std::array<std::uint8_t, md::kMaxPipelineSymbols> link_of{};  // by symbol id
  Link* reading = nullptr;  // the connection whose frame the pipeline is reading
  bool started = false;
  bool stopping = false;
  std::size_t closing = 0;  // graceful closes under way at stop

  std::array<SnapSlot, md::kMaxPipelineSymbols> slots{};
  // Run-time symbols: unsubscribed ones keep their id but stream nothing and sync no book; added
  // ones wait for the venue's answer to their SUBSCRIBE before their snapshot is requested (the
  // diffs must be buffering first, as at start-up).
  std::array<bool, md::kMaxPipelineSymbols> unsubscribed{};
  std::array<bool, md::kMaxPipelineSymbols> awaiting_subscribe{};
  std::array<std::uint64_t, md::kMaxPipelineSymbols> subscribe_id{};  // the request awaited
  // When that request was written (zero while it waits for its turn: the answer's timeout runs
  // from the write).
  std::array<Clock::time_point, md::kMaxPipelineSymbols> subscribe_sent{};
  std::uint64_t next_gen = 0;  // connection attempts of every connection
  std::size_t rr = md::kMaxPipelineSymbols - 1;
  bool pump_posted = false;
  std::shared_ptr<detail::HttpConn> http;
  http::request<http::empty_body> req;
  bool http_busy = false;
  std::size_t http_symbol = 0;
  std::uint64_t http_gen = 0;
  std::uint32_t http_epoch = 0;  // slots[http_symbol].epoch when the request went out
  Clock::time_point http_started{};
  Clock::time_point rest_blocked_until{};
  std::uint32_t rest_failures = 0;

  // Shared with other threads.
  static_assert(std::atomic<bool>::is_always_lock_free, "stop_from_signal needs a lock-free flag");
  std::atomic<bool> stop_flag{false};
  detail::AtomicCounters counters;
  mutable std::mutex error_mu;
  std::string last_error;
};

}  // namespace cwts::feed
