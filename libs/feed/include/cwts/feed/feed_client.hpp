// FeedClient: the Binance market-data feed — combined WebSocket streams (wss, or ws on loopback)
// into a md::Pipeline, REST depth snapshots when a book needs one, liveness and reconnects.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cwts/core/rest_backoff.hpp"
#include "cwts/feed/backoff.hpp"
#include "cwts/md/pipeline.hpp"

namespace cwts::feed {

enum class VenueKind : std::uint8_t {
  kSpot,         // REST /api/v3/depth, spot sync rules
  kUsdmFutures,  // REST /fapi/v1/depth, `pu` chaining
};

struct FeedConfig {
  // Base URLs. A path after the host is a prefix ("wss://fstream.binance.com/public" →
  // "/public/stream?streams=…").
  std::string ws_url = "wss://stream.binance.com:9443";
  std::string rest_url = "https://api.binance.com";
  VenueKind venue = VenueKind::kSpot;

  // Symbols in any case ("NKNUSDT" or "nknusdt"); stream names use lowercase, REST uppercase.
  std::vector<std::string> symbols;
  // Streams subscribed for every symbol, in this order ("kline_1m", "trade", … may be added).
  std::vector<std::string> streams = {"depth@100ms", "bookTicker", "aggTrade"};
  std::uint32_t snapshot_limit = 1000;  // REST depth limit (spot 1-5000; USD-M 5…1000)

  // TLS (wss/https only). Verification is on by default and should stay on in production: it is
  // what stops a middlebox from feeding the engine a fake book.
  bool tls_verify_peer = true;
  std::string ca_file;  // PEM bundle; empty = OpenSSL's default paths (the system store)

  // Liveness. Binance pings every 20 s (spot) and sends frames constantly on busy symbols, so a
  // minute with neither means the connection is dead even if TCP has not noticed.
  std::chrono::milliseconds silence_timeout{60'000};
  // Binance cuts every connection at 24 h; renewing 10 minutes earlier makes it a planned event.
  // Connection N (of several) renews N/16 of it earlier (connection_lifetime), so that the
  // connections' planned renewals, and their books' resyncs, do not coincide.
  std::chrono::milliseconds max_connection_lifetime{std::chrono::hours(23) +
                                                    std::chrono::minutes(50)};
  std::chrono::milliseconds connect_timeout{10'000};  // resolve + TCP + TLS + WS handshake
  std::chrono::milliseconds close_timeout{2'000};     // graceful WS close before we just drop it
  std::chrono::milliseconds rest_timeout{10'000};     // one snapshot request, connect included
  BackoffPolicy backoff{};
  // At most one snapshot in flight per symbol, and never two requests for a symbol closer than
  // this: a feed that keeps gapping must not hammer REST (depth limit=1000 costs 50 weight).
  std::chrono::milliseconds snapshot_min_spacing{1'000};
  std::uint64_t rng_seed = 0;  // backoff jitter; 0 = seeded from std::random_device
  std::size_t max_frame_bytes = 4U << 20;
  std::string user_agent = "cwts-ultra-feed/0.1";
  // The venue's 429/418 back-off, shared with the process's other clients of the same venue (the
  // order client): no snapshot is requested while it holds. With an owner of the request weight
  // (the engine's exec thread, core::RestBackoff::budgeted()), a snapshot is sent only when its
  // weight is in the published headroom (else asked again 100 ms later), and every answer's
  // X-MBX-USED-WEIGHT-1M is passed on. nullptr = this client's own.
  std::shared_ptr<core::RestBackoff> rest_backoff;
};

// Binance's limit of streams on one WebSocket connection: a connection carries the streams of at
// most kMaxStreamsPerConnection / streams-per-symbol symbols, and the feed opens another
// connection for the symbols past that.
inline constexpr std::size_t kMaxStreamsPerConnection = 1024;
// The WebSocket connections the feed opens at most (Binance counts 300 connection attempts per
// 5 minutes per IP; every reconnect of every connection is one).
inline constexpr std::size_t kMaxConnections = 8;
// The longest stream target the client connects with (HTTP servers refuse long request lines):
// the symbols whose streams do not fit are subscribed on the open connection (SUBSCRIBE).
inline constexpr std::size_t kMaxStreamTargetBytes = 4096;
// Symbols one connection can carry with cfg.streams (kMaxStreamsPerConnection / streams).
[[nodiscard]] std::size_t max_symbols_per_connection(const FeedConfig& cfg) noexcept;
// Symbols the feed can carry with cfg.streams: kMaxConnections connections' worth, at most the
// pipeline's kMaxPipelineSymbols.
[[nodiscard]] std::size_t max_feed_symbols(const FeedConfig& cfg) noexcept;
[[nodiscard]] std::size_t max_feed_symbols(std::size_t streams_per_symbol) noexcept;
// What bounds max_feed_symbols(cfg), for error messages: "the feed carries at most 1024 symbols"
// or "the feed's 8 connections of 1024 streams carry at most N symbols".
[[nodiscard]] std::string feed_limit_reason(const FeedConfig& cfg);
[[nodiscard]] std::string feed_limit_reason(std::size_t streams_per_symbol);
// How long connection `index` lives before its planned renewal: max_connection_lifetime less
// index/16 of it (connection 0 the whole of it, the eighth 7/16 less).
[[nodiscard]] std::chrono::milliseconds connection_lifetime(const FeedConfig& cfg,
                                                            std::size_t index) noexcept;
// The connections cfg.symbols take: one per max_symbols_per_connection(cfg) symbols, in order.
[[nodiscard]] std::size_t connections_for(const FeedConfig& cfg) noexcept;

// The request target of the combined stream, e.g.
// "/stream?streams=nknusdt@depth@100ms/nknusdt@bookTicker/nknusdt@aggTrade", with the first
// symbols whose streams fit in kMaxStreamTargetBytes (at least one); `in_target`, if given, is
// set to how many.
[[nodiscard]] std::string stream_target(const FeedConfig& cfg, std::size_t* in_target = nullptr);
// The REST target of a depth snapshot, e.g. "/api/v3/depth?symbol=NKNUSDT&limit=1000".
[[nodiscard]] std::string depth_target(const FeedConfig& cfg, std::string_view symbol);
// Binance's request weight of one depth snapshot at cfg.snapshot_limit (binance::spot_depth_weight,
// binance::usdm_depth_weight).
[[nodiscard]] std::uint32_t snapshot_weight(const FeedConfig& cfg) noexcept;
// Throws std::invalid_argument naming the field and the reason.
void validate(const FeedConfig& cfg);

// Threads: run() blocks the calling thread (the md thread) on the client's own io_context until
// stop(). Everything — socket callbacks, the pipeline, the sink — runs on that thread. stop(),
// counters() and last_error() may be called from any thread. pipeline() is md-thread only
// (or after run() has returned).
//
// Connection cycle: resolve → TCP → TLS (SNI + certificate and host name verification) → WS
// handshake → open: every book is invalidated and one REST snapshot per symbol is requested
// (after the stream is open, so diffs buffer first, as Binance's procedure requires) → frames
// go to the pipeline → on error, close, silence, serverShutdown or the lifetime limit: every
// book is invalidated at once, and the client reconnects after a backoff delay (none for a
// planned reconnect after a healthy connection).
//
// Symbols past one connection's streams (max_symbols_per_connection) go on a second connection,
// and so on (connections_for): each connection has that cycle of its own, for its own symbols
// (a connection lost invalidates its books only); the REST snapshots of all of them share one
// kept-alive HTTP connection. The counters add up every connection's events.
class FeedClient {
 public:
  struct Counters {
    std::uint64_t connects = 0;          // WS handshakes completed
    std::uint64_t disconnects = 0;       // open connections lost or closed (any reason)
    std::uint64_t reconnects = 0;        // connects after the first
    std::uint64_t connect_failures = 0;  // attempts that never reached the open state
    std::uint64_t pings_received = 0;
    std::uint64_t pongs_sent = 0;  // pings answered (Beast writes the pong inside the read)
    std::uint64_t silence_timeouts = 0;
    std::uint64_t lifetime_renewals = 0;  // planned reconnects before the venue's 24 h cut
    std::uint64_t server_shutdowns = 0;   // serverShutdown frames that triggered a reconnect
    std::uint64_t closes_by_peer = 0;     // WS close frames received
    std::uint64_t snapshots_requested = 0;
    std::uint64_t snapshots_ok = 0;         // 200 with a parsable depth body
    std::uint64_t snapshots_failed = 0;     // transport error, timeout, non-200, unparsable
    std::uint64_t snapshots_rejected = 0;   // parsed, but the book refused it (too old, gap…)
    std::uint64_t snapshots_discarded = 0;  // arrived after the stream it was for had gone
    // A due snapshot held back 100 ms: its weight was not in the engine's published headroom.
    std::uint64_t snapshots_waited_for_weight = 0;
    std::uint64_t frames_received = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t binary_frames = 0;  // not expected from Binance; counted, not parsed
    // Frame reads whose handler memory did not fit their connection's slots: each a heap
    // allocation on the md thread (0 in the tests; cwts/net/handler_memory.hpp)
    std::uint64_t handler_spills = 0;
  };

  // Throws std::invalid_argument on a bad config, std::runtime_error if TLS cannot be set up
  // (e.g. an unreadable ca_file). `downstream` receives every pipeline event; it may be null and
  // must outlive the client.
  explicit FeedClient(FeedConfig cfg, md::MarketSink* downstream = nullptr);
  ~FeedClient();
  FeedClient(const FeedClient&) = delete;
  FeedClient& operator=(const FeedClient&) = delete;

  // Called on the md thread from the client's housekeeping tick (every <= 100 ms, whatever the
  // traffic): the place for periodic md-thread work such as ShmPublisher::on_tick. Set before
  // run().
  void set_tick_hook(std::function<void(md::Pipeline&)> hook);
  // Connects and serves until stop(). Call once (this or run_spinning).
  void run();
  // The same, busy-polling the sockets instead of sleeping in epoll (isolated cores): the md
  // thread never sleeps; `yield_when_idle` calls sched_yield between empty polls.
  void run_spinning(bool yield_when_idle);
  // Any thread. Posts a graceful shutdown to the client's thread: WS close, sockets closed,
  // run() returns (at the latest close_timeout later). Posting locks and may allocate, so this
  // is not for a POSIX signal handler; use stop_from_signal() there.
  void stop() noexcept;
  // Any thread: runs `fn` on the client's thread (the md thread) between frames. Posting locks and
  // allocates: for rare control work (adding a symbol), never a hot path.
  void post(std::function<void()> fn);
  // Client's thread only (a function given to post()): adds `symbol` at run time. Its streams are
  // subscribed on the first connection with room (Binance's live {"method":"SUBSCRIBE"}) and are
  // part of its every later connection; once the venue confirms the subscription
  // ({"result":null}) its book syncs from a REST snapshot like every book at start-up. With no
  // connection left with room, a new connection is opened for it. Returns its pipeline state
  // (the existing one if it is already there). Throws std::length_error past
  // max_feed_symbols (naming the limit).
  md::SymbolState& add_symbol(std::string_view symbol);
  // Client's thread only: the symbol's streams are unsubscribed (UNSUBSCRIBE) and left out of
  // later connections; its book is invalidated and no longer synced. It keeps its pipeline id.
  void remove_symbol(std::string_view symbol);
  // Async-signal-safe: only sets a lock-free atomic flag, which the client's housekeeping tick
  // (every ≤ 100 ms) turns into the same graceful shutdown as stop().
  void stop_from_signal() noexcept;

  [[nodiscard]] Counters counters() const noexcept;  // any thread
  [[nodiscard]] std::string last_error() const;      // any thread
  [[nodiscard]] md::Pipeline& pipeline() noexcept;   // md thread, or after run() returned
  [[nodiscard]] const FeedConfig& config() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cwts::feed
