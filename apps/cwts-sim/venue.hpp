// Venue: cwts-sim's market state — per-symbol books, trades, klines, 24 h stats, stream
// subscribers and payloads, fed by capture replay or the synthetic generator — plus the account.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "cwts/binance/exchange_info.hpp"
#include "cwts/binance/kline.hpp"
#include "cwts/binance/market_json.hpp"
#include "cwts/core/ascii.hpp"
#include "cwts/md/book_sync.hpp"
#include "cwts/md/frame.hpp"
#include "cwts/sim/matching.hpp"

namespace cwts::sim_server {

using binance::interval_index;
using binance::interval_next;
using binance::interval_open;
using binance::kIntervals;
using binance::Kline;
using binance::PublicTrade;

// Receives stream frames (a WebSocket session). Payloads are shared between subscribers.
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  [[nodiscard]] virtual bool combined() const noexcept = 0;
  virtual void send(std::shared_ptr<const std::string> frame) = 0;
};

// Klines of one interval, built from trades (flat candles fill quiet periods), last 1000 kept.
class KlineSeries {
 public:
  void add(int idx, std::int64_t t_ms, md::Price px, md::Qty qty, md::Notional quote,
           bool buyer_maker, std::int64_t trade_id);
  [[nodiscard]] const std::deque<Kline>& all() const noexcept { return k_; }

 private:
  std::deque<Kline> k_;
};

// Rolling 24 h statistics in one-minute buckets (O(1) per trade).
struct MinuteBucket {
  std::int64_t minute = -1;
  md::Price o{}, h{}, l{}, c{};
  md::Qty vol{};
  md::Notional quote{};
  std::int64_t first_id = -1, last_id = -1;
  std::uint64_t n = 0;
};

enum class StreamKind : std::uint8_t {
  kBookTicker,
  kDepth100,
  kDepth1000,
  kTrade,
  kAggTrade,
  kPartial,
  kKline
};

struct StreamId {
  StreamKind kind = StreamKind::kTrade;
  std::size_t market = 0;
  std::uint8_t slot = 0;  // partial: 0..5 = (5,10,20) x (1000ms,100ms); kline: interval index
};

struct Market {
  std::string name;   // BTCUSDT
  std::string lower;  // btcusdt
  const binance::SymbolSpec* spec = nullptr;
  bool synthetic = false;
  md::BookSync sync{md::SyncVenue::kSpot, 64, 1U << 14, 8192};
  std::int64_t id_offset = 0;  // public ids = the book's ids + offset (capture loops)
  [[nodiscard]] std::uint64_t public_id() const noexcept {
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(sync.update_id()) + id_offset);
  }
  [[nodiscard]] const md::OrderBook& book() const noexcept { return sync.book(); }

  std::deque<PublicTrade> trades;  // last 1000
  std::int64_t next_trade_id = 1;
  std::int64_t next_agg_id = 1;
  std::array<KlineSeries, kIntervals.size()> klines;
  std::vector<MinuteBucket> minutes = std::vector<MinuteBucket>(1440);
  std::int64_t clock_ms = 0;  // market time of the last event

  // depth@1000ms: diffs merged since the last push.
  std::map<md::Price, md::Qty> acc_bids, acc_asks;
  std::uint64_t acc_first = 0, acc_last = 0;

  // Subscribers per stream.
  std::vector<Subscriber*> subs_book_ticker, subs_depth100, subs_depth1000, subs_trade, subs_agg;
  std::array<std::vector<Subscriber*>, 6> subs_partial;
  std::array<std::vector<Subscriber*>, kIntervals.size()> subs_kline;
  std::array<std::int64_t, kIntervals.size()> kline_closed_pushed{};
  std::array<std::int64_t, kIntervals.size()> kline_last_push{};

  // Synthetic generator state.
  md::Price tick{};
  md::Qty step{};
  std::int64_t mid0_ticks = 0, best_bid_ticks = 0;
  std::vector<std::int64_t> level_qty;  // scratch
  md::Price last_top_bid{}, last_top_ask{};
  md::Qty last_top_bq{}, last_top_aq{};
};

// Faults requested through flags or POST /_sim/fault. Venue thread only.
struct Faults {
  std::int64_t skip_update_ids = 0;  // next N diff frames not sent (the book still moves)
  std::int64_t stall_until_ms = 0;   // steady ms: WebSocket sessions send nothing until then
  std::int64_t delay_ms = 0;         // next delay_count REST responses wait this long
  std::int64_t delay_count = 0;
  int http_status = 0;  // next http_status_count REST requests get this status
  std::int64_t http_status_count = 0;
  std::string status_method;  // "" = any; else only requests with this method get that status
  std::int64_t hold_ms = 0;   // next hold_count matching requests reach the venue this much later
  std::int64_t hold_count = 0;
  std::string hold_method;          // "" = any; else only requests with this method are held
  int code = 0;                     // the Binance code of that answer's body (0 = the status's own)
  std::int64_t retry_after_s = 0;   // 429/418: their Retry-After (0 = 1 s for 429, 120 s for 418)
  bool after_processing = false;    // the faulted request is executed, only its answer is replaced
  bool paused = false;              // market replay/generator paused
  bool server_shutdown = false;     // one-shot: send serverShutdown on every session, then close
  bool expire_connections = false;  // one-shot: close every session as its 24 h cut would
  // One-shot: drop the stream connections carrying this symbol's streams (lowercase), the others
  // stay: one connection of a client that spreads its symbols over several.
  std::string drop_symbol;
  // delay_ms and http_status apply only to requests for this path ("" = every REST request), so a
  // test can fault the order it sends and not the engine's account refresh that runs meanwhile.
  std::string path;

  [[nodiscard]] bool applies_to(std::string_view request_path) const noexcept {
    return path.empty() || request_path == path;
  }
};

// Loads and holds everything the venue serves. Venue thread only (Not thread-safe).
class Venue {
 public:
  struct Options {
    std::string exchange_info_path;
    std::vector<std::string> captures;
    std::vector<std::string> synthetic;
    double speed = 1.0;
    bool loop = false;
    bool rebase_time = false;  // event/trade/kline times shifted so the capture starts at start-up
    double rate = 1000.0;
    std::uint64_t seed = 1;
    std::string balances;
    std::uint64_t request_weight_limit = 0;
    bool bnb_fees = false;  // commissions in BNB (sim::EngineConfig::bnb_fees)
  };
  // Start-up: throws std::runtime_error on unreadable data or bad options.
  explicit Venue(const Options& opts);
  ~Venue();

  // Advances the market to wall time `now_steady_ns`; returns the steady ns at which it wants
  // to be called again (or now for as-fast-as-possible replay).
  std::int64_t advance(std::int64_t now_steady_ns);
  // Periodic pushes (partial depth every 100 ms, depth@1000ms, klines); call every 100 ms.
  void on_100ms_tick(std::uint64_t tick_no, std::int64_t wall_ms);

  // Streams. Names are Binance's ("btcusdt@depth@100ms"); false if malformed or unknown symbol.
  [[nodiscard]] bool parse_stream(std::string_view name, StreamId& out) const;
  void subscribe(Subscriber* s, const StreamId& id);
  void unsubscribe(Subscriber* s, const StreamId& id);

  [[nodiscard]] Market* find(std::string_view symbol) noexcept;
  [[nodiscard]] std::vector<std::unique_ptr<Market>>& markets() noexcept { return markets_; }
  [[nodiscard]] const binance::ExchangeInfo& info() const noexcept { return info_; }
  [[nodiscard]] sim::MatchingEngine& engine() noexcept { return *engine_; }
  [[nodiscard]] Faults& faults() noexcept { return faults_; }
  [[nodiscard]] const md::OrderBook& book_or_empty(std::string_view symbol) noexcept;

  // GET /api/v3/exchangeInfo bodies.
  [[nodiscard]] std::string exchange_info_json(
      std::int64_t now_ms, const std::vector<const binance::SymbolSpec*>* only) const;
  [[nodiscard]] std::uint64_t frames_published() const noexcept { return published_; }

 private:
  struct CaptureEvent;
  struct CaptureInit;

  void load_exchange_info(const Options& opts);
  void add_synthetic_symbol(const std::string& name);
  void load_captures(const std::vector<std::string>& paths);
  void init_synthetic(Market& m);
  void synthetic_step(Market& m, std::int64_t wall_ms);
  void replay_event(const CaptureEvent& e);
  void restart_loop();
  [[nodiscard]] std::string shift_times(std::string data) const;

  // Publishing helpers.
  void publish(std::vector<Subscriber*>& subs, const std::string& stream, std::string data);
  void apply_and_publish_diff(Market& m, const md::DepthMsg& d, std::span<const md::Level> bids,
                              std::span<const md::Level> asks, const std::string* raw_data,
                              std::int64_t event_ms);
  void record_trade(Market& m, std::int64_t id, md::Price px, md::Qty qty, std::int64_t time_ms,
                    bool buyer_maker);
  void publish_trade(Market& m, const PublicTrade& t, std::int64_t event_ms, std::int64_t agg_id,
                     std::int64_t first_id, std::int64_t last_id);
  void maybe_book_ticker(Market& m);

  binance::ExchangeInfo info_;
  std::map<std::string, std::string, std::less<>> symbol_json_;  // minified symbol objects
  std::vector<std::string> symbol_order_;
  std::string exchange_filters_json_ = "[]";
  std::string all_symbols_json_;
  std::vector<std::unique_ptr<Market>> markets_;
  std::unique_ptr<sim::MatchingEngine> engine_;
  Faults faults_;
  md::OrderBook empty_book_;

  // Capture replay.
  std::vector<CaptureEvent> events_;
  std::vector<CaptureInit> inits_;
  std::size_t next_event_ = 0;
  std::int64_t replay_base_steady_ns_ = -1;
  std::int64_t replay_base_capture_ns_ = 0;
  std::int64_t loop_span_ms_ = 0;
  std::int64_t time_shift_ms_ = 0;
  std::int64_t paused_at_ns_ = -1;
  double speed_ = 1.0;
  bool loop_ = false;
  bool rebase_time_ = false;

  // Synthetic generator.
  double rate_ = 0;
  std::int64_t synth_base_ns_ = -1;
  std::uint64_t synth_done_ = 0;
  std::mt19937_64 rng_;
  std::vector<std::size_t> synth_markets_;

  std::uint64_t published_ = 0;
};

// 128-bit intermediates for price x quantity (the extension keeps -Wpedantic quiet).
__extension__ typedef __int128 Int128;

// A recorded frame and the start of a capture, as replay keeps them (replay.cpp).
struct Venue::CaptureEvent {
  enum class Kind : std::uint8_t { kDiff, kBookTicker, kAggTrade, kTrade };
  std::int64_t ns = 0;
  std::size_t market = 0;
  Kind kind = Kind::kDiff;
  std::string data;  // the `data` member of the combined frame, as recorded
  md::DepthMsg depth{};
  std::vector<md::Level> bids, asks;
  md::TradeMsg trade{};
};

struct Venue::CaptureInit {
  std::size_t market = 0;
  std::uint64_t id = 0;
  std::vector<md::Level> bids, asks;
  std::int64_t first_trade = -1, first_agg = -1;
  std::int64_t trade_off = 0, agg_off = 0;
};

// Adds `delta` to every integer member `"key":<digits>` of a captured payload, leaving the other
// bytes as recorded (replay.cpp).
[[nodiscard]] std::string shift_field(std::string s, std::string_view key, std::int64_t delta);
[[nodiscard]] std::int64_t wall_ms() noexcept;
// The same clock in microseconds (timestamp and recvWindow checks).
[[nodiscard]] std::int64_t wall_us() noexcept;
// --clock-offset-ms: the venue's clock runs this far from the host's (a venue whose clock
// differs from the client's, as a real one's does). Set once at start-up.
void set_clock_offset_ms(std::int64_t offset_ms) noexcept;

}  // namespace cwts::sim_server
