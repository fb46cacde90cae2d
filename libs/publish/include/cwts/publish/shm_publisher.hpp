// ShmPublisher: the md::MarketSink that writes the market region — symbol table, quotes, top-N
// books, candles, the event ring and the md counters — for strategies that map it read-only.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cwts/binance/exchange_info.hpp"
#include "cwts/core/latency_histogram.hpp"
#include "cwts/md/candle_builder.hpp"
#include "cwts/md/pipeline.hpp"
#include "cwts/shm_layout/market_region.hpp"
#include "cwts/ta/ta.hpp"

namespace cwts::publish {

// Which public trades drive the Quote's last-trade fields, the kTrade events and the candles of a
// symbol. `trade` and `aggTrade` number their trades in different id spaces and describe the same
// fills, so mixing them would double-count volume and make last_trade_id jump between spaces.
enum class TradeSource : std::uint8_t {
  kAuto,      // the first kind seen for a symbol wins; the other kind is counted and ignored
  kTrade,     // <symbol>@trade only
  kAggTrade,  // <symbol>@aggTrade only
};

// One indicator the engine computes on closed candles: `kind` with `params` on the candles of
// `timeframe_s`, for `symbols` (empty = every symbol). Published in the symbol's IndicatorTable /
// IndicatorValues as `name` (one output) or `name.output` (e.g. "macd.macdsignal").
struct IndicatorSpec {
  std::string name;
  ta::Kind kind = ta::Kind::kEma;
  ta::Params params;
  std::uint32_t timeframe_s = 60;
  std::vector<std::string> symbols;
};

struct PublisherOptions {
  TradeSource trade_source = TradeSource::kAuto;
  md::CandleOptions candles;
  std::vector<IndicatorSpec> indicators;
};

// Writes one layout::MarketRegion. md thread only (every field it writes has the md thread as its
// single writer); Not thread-safe. The per-frame calls take no locks, make no allocation, never
// log and never throw; the only system call is clock_gettime(CLOCK_REALTIME) (vDSO) for the
// publish timestamp.
//
// What each sink call publishes, in this order (snapshots before the event that announces them):
//   on_book           the symbol's book (the levels it knows whole, up to the region's book_depth
//                     a side), Quote best bid/ask when the book is at least as new as the quote,
//                     then a kBook event if a published level changed.
//   on_book_ticker    Quote (unless the book already holds a newer update id), kQuote event.
//   on_trade          Quote last-trade fields, kTrade event, candles (see md::CandleBuilder).
//   on_kline          candles.
//   on_book_validity  Quote/book book_valid flags, SymbolEntry::book_valid, kStatus event
//                     (on becoming valid, the synced book is published with it, then kBook).
//   candle closed     CandleSeries::closed ring, the symbol's IndicatorValues (every indicator on
//                     that timeframe updated with the candle), then a kCandleClose event;
//   candle changed    CandleSeries::live.
//
// Timestamps: exchange = the venue's event time E (ms -> ns; 0 when the frame has none, e.g. a
// spot bookTicker or a REST snapshot; a candle close uses the candle's close instant), receive =
// md::FrameMeta::receive_ns, publish = CLOCK_REALTIME when the snapshot or event is written.
//
// Symbol ids: the shared-memory id of a symbol is its position in the list given to the
// constructor. md::Pipeline ids are mapped to them by name on first use; frames for symbols that
// are not in the table are ignored (counted). Use one publisher per pipeline.
class ShmPublisher final : public md::MarketSink, private md::CandleListener {
 public:
  struct Stats {
    std::uint64_t events = 0;              // records published to the event ring
    std::uint64_t unknown_symbol = 0;      // sink calls for a symbol not in the table
    std::uint64_t stale_book_tickers = 0;  // bookTicker older than the book already published
    std::uint64_t other_trade_source = 0;  // trades of the kind TradeSource excludes
    std::uint64_t candles_closed = 0;
  };

  // Start-up: writes the symbol table (SymbolInfo for each of `symbols`, from `info`, then
  // symbol_count) and the timeframe table. The region must still be kInitializing: MarketConfig
  // is written once, before set_state(kLive) publishes it. Throws std::invalid_argument /
  // std::runtime_error / std::logic_error naming the problem (unknown symbol, too many symbols,
  // name too long for the layout, bad timeframe, region already live).
  ShmPublisher(layout::MarketRegion& region, const binance::ExchangeInfo& info,
               std::span<const std::string_view> symbols,
               std::span<const std::uint32_t> timeframes_s, PublisherOptions options = {});

  ShmPublisher(const ShmPublisher&) = delete;
  ShmPublisher& operator=(const ShmPublisher&) = delete;

  // --- md::MarketSink (md thread) ---
  void on_book(const md::SymbolState& s, const md::FrameMeta& meta,
               std::int64_t exchange_ms) noexcept override;
  void on_book_validity(const md::SymbolState& s, bool valid,
                        const md::FrameMeta& meta) noexcept override;
  void on_book_ticker(const md::SymbolState& s, const md::BookTickerMsg& t,
                      const md::FrameMeta& meta) noexcept override;
  void on_trade(const md::SymbolState& s, const md::TradeMsg& t, bool aggregate,
                const md::FrameMeta& meta) noexcept override;
  void on_kline(const md::SymbolState& s, const md::KlineMsg& k,
                const md::FrameMeta& meta) noexcept override;
  void on_snapshot_needed(const md::SymbolState& s) noexcept override;

  // md thread, from its loop at least every 100 ms: heartbeat, frame and parse-error counters
  // from the pipeline, and the wall-clock candle closes (CLOCK_REALTIME ns).
  void on_tick(std::int64_t now_ns, const md::Pipeline::Counters& pipeline_counters) noexcept;

  // md thread, before live data: closed candles from history (REST klines), oldest first, so the
  // indicators start warm. Each goes to the closed-candle ring and the indicators as if it had
  // just closed, without an event. Candles not newer than the last one seen are ignored.
  void seed_closed_candle(std::uint16_t symbol, std::uint8_t timeframe,
                          const layout::Candle& candle) noexcept;
  // Indicators configured for a symbol, on which timeframe, and the most candles any of them needs
  // to warm up (history to seed).
  [[nodiscard]] std::size_t indicator_warmup(std::uint16_t symbol,
                                             std::uint8_t timeframe) const noexcept;

  // md thread: a refreshed exchangeInfo. Rewrites the symbols' SymbolInfo and publishes a kStatus
  // event for each symbol whose status changed. Throws std::runtime_error if a symbol vanished.
  void update_symbol_info(const binance::ExchangeInfo& info);

  // md thread, at run time: appends `spec` to the symbol table as id symbol_count() (SymbolInfo,
  // the indicators configured for it, then symbol_count with release, then a kStatus event
  // naming the new id). Returns its id; a symbol already in the table returns its id unchanged.
  // Throws std::length_error when the region's symbol table is full (nothing written), or
  // std::invalid_argument as the constructor does (name too long, bad indicator).
  std::uint16_t add_symbol(const binance::SymbolSpec& spec);
  // md thread: the symbol's published status (SymbolInfo::status) becomes `status`, announced by a
  // kStatus event (a symbol the engine no longer trades: kBreak).
  void set_symbol_status(std::uint16_t id, layout::SymbolStatus status) noexcept;
  [[nodiscard]] std::size_t symbol_count() const noexcept { return symbol_count_; }

  // Shared-memory id of a symbol, or -1.
  [[nodiscard]] int shm_id(std::string_view symbol) const noexcept;
  [[nodiscard]] const md::CandleBuilder& candles() const noexcept { return candles_; }
  [[nodiscard]] const Stats& stats() const noexcept { return stats_; }
  // Messages taken from the feed per stream kind (any thread may read).
  enum class Stream : std::uint8_t { kDepth, kBookTicker, kTrade, kAggTrade, kKline, kCount };
  [[nodiscard]] std::uint64_t messages(Stream s) const noexcept {
    return stream_msgs_[static_cast<std::size_t>(s)].load(std::memory_order_relaxed);
  }
  // Receive (md::FrameMeta::receive_ns) -> event published, per event; any thread may read it.
  [[nodiscard]] const core::LatencyHistogram& publish_latency() const noexcept {
    return publish_latency_;
  }

 private:
  static constexpr std::uint16_t kUnresolved = 0xFFFE;
  static constexpr std::uint16_t kNoSymbol = 0xFFFF;

  // The writer's own copy of what it last published per symbol: snapshots are rebuilt from it and
  // stored whole, so a partial update (last trade only) never needs to read shared memory back.
  struct Local {
    layout::Quote quote{};
    layout::BookHead book{};      // its levels: book_levels(id)
    std::uint8_t status = 0;      // layout::SymbolStatus
    std::uint8_t trade_kind = 0;  // 0 none yet, 1 trade, 2 aggTrade
    std::uint64_t gaps_seen = 0;  // the pipeline book's counters when last looked at
    std::uint64_t resyncs_seen = 0;
  };

  // md::CandleListener
  void on_candle_closed(std::uint16_t symbol, std::uint8_t timeframe,
                        const layout::Candle& candle) override;
  void on_candle_live(std::uint16_t symbol, std::uint8_t timeframe,
                      const layout::Candle& candle) override;

  [[nodiscard]] std::uint16_t resolve(const md::SymbolState& s) noexcept;
  // Rebuilds and stores the symbol's book (and Quote when not older); returns the levels changed.
  std::uint32_t publish_book(std::uint16_t id, const md::SymbolState& s, const md::FrameMeta& meta,
                             std::int64_t exchange_ns, std::int64_t now_ns) noexcept;
  // The best level of each side as last published (zero where a side is empty).
  [[nodiscard]] layout::BookBody best_levels(std::uint16_t id) const noexcept;
  // The levels last published for symbol `id`, laid out as the region's book record (four arrays
  // of book_depth_ words; entries past a side's count are zero).
  [[nodiscard]] std::uint64_t* book_levels(std::size_t id) noexcept {
    return book_levels_.data() + id * 4 * book_depth_;
  }
  [[nodiscard]] const std::uint64_t* book_levels(std::size_t id) const noexcept {
    return book_levels_.data() + id * 4 * book_depth_;
  }
  void publish_event(layout::Event& ev) noexcept;
  void publish_status(std::uint16_t id, std::int64_t receive_ns, std::int64_t now_ns) noexcept;
  void track_sync_counters(std::uint16_t id, const md::SymbolState& s) noexcept;
  void setup_indicators();
  // One symbol's indicators, table and (NaN) values; throws std::invalid_argument.
  void setup_indicators(std::size_t id);
  // Updates the symbol's indicators on `timeframe` with a closed candle and stores IndicatorValues.
  void update_indicators(std::uint16_t symbol, std::uint8_t timeframe,
                         const layout::Candle& candle) noexcept;

  struct Indicator {
    std::unique_ptr<ta::Stream> stream;
    std::uint8_t timeframe = 0;
    std::uint8_t first_slot = 0;  // its outputs are slots first_slot .. first_slot + n_outputs - 1
    int lookback = 0;
    std::uint8_t n_inputs = 0;
    std::array<std::uint8_t, ta::kMaxInputs>
        field{};  // per input: 0 high, 1 low, 2 close, 3 volume
  };

  layout::MarketRegion* region_;
  PublisherOptions options_;
  md::CandleBuilder candles_;
  std::size_t symbol_count_ = 0;
  std::array<layout::FixedString<16>, layout::kMaxSymbols> names_{};
  std::array<Local, layout::kMaxSymbols> local_{};
  std::size_t book_depth_ = 0;              // the region's
  std::vector<std::uint64_t> book_levels_;  // book_levels(id): symbol_capacity() x 4 x book_depth_
  std::array<std::uint16_t, md::kMaxPipelineSymbols> pipeline_to_shm_{};
  std::array<std::vector<Indicator>, layout::kMaxSymbols> indicators_;
  std::array<layout::IndicatorValues, layout::kMaxSymbols> indicator_values_{};
  std::array<std::array<std::int64_t, layout::kMaxTimeframes>, layout::kMaxSymbols>
      last_closed_ms_{};
  std::int64_t context_receive_ns_ = 0;  // receive time of the frame that drives the candles
  std::uint64_t gaps_ = 0;
  std::uint64_t resyncs_ = 0;
  Stats stats_;
  core::LatencyHistogram publish_latency_;
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(Stream::kCount)> stream_msgs_{};
  void count(Stream s) noexcept {  // md thread only: no RMW
    auto& c = stream_msgs_[static_cast<std::size_t>(s)];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
};

}  // namespace cwts::publish
