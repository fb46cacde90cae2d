// CandleBuilder: OHLCV candles per symbol and timeframe from trades, or from the venue's kline
// stream where one is subscribed (docs/adr/0006-candles.md has the exact rules).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "cwts/md/frame.hpp"
#include "cwts/shm_layout/capacities.hpp"
#include "cwts/shm_layout/market_region.hpp"

namespace cwts::md {

// Receives what a CandleBuilder produces. Called on the md thread from inside the builder's
// calls; implementations must not block or call back into the builder.
class CandleListener {
 public:
  virtual ~CandleListener() = default;
  // A candle closed (closed == 1). Per (symbol, timeframe) open times strictly increase and each
  // is emitted exactly once; periods without trades come as flat fillers.
  virtual void on_candle_closed(std::uint16_t symbol, std::uint8_t timeframe,
                                const layout::Candle& candle) = 0;
  // The live (partial) candle changed or a new period started (closed == 0).
  virtual void on_candle_live(std::uint16_t symbol, std::uint8_t timeframe,
                              const layout::Candle& candle) = 0;
};

struct CandleOptions {
  // Flat filler candles emitted per series per call at most. After a longer outage the oldest
  // missing periods are skipped (counted in Stats::fillers_skipped): the shared ring keeps only
  // the region's candle_history candles anyway.
  std::uint32_t max_fillers = 1000;
  // on_time closes a trade-built candle once now >= close time + this. Covers local clock running
  // ahead of the venue's; a trade that still arrives for a closed period is dropped (late_trades).
  std::int64_t trade_close_delay_ms = 0;
  // on_time closes a kline-driven candle only this long after its close time, so the venue's own
  // closing kline (x = true) normally arrives first and supplies the final values.
  std::int64_t kline_close_delay_ms = 5000;
  // A kline-driven timeframe falls back to trades when a trade arrives this long (venue time)
  // after the last kline for it: the kline stream has gone quiet while trades still flow.
  std::int64_t kline_stale_ms = 60'000;
};

enum class CandleSource : std::uint8_t {
  kTrades,  // built from trades
  kKlines,  // the venue's kline stream for this interval is subscribed: it is the source of truth
};

// Per (symbol, timeframe): the live candle and the rules that close it. Timeframes are seconds
// that divide a day (1s .. 1d), or one week (aligned to Monday 00:00 UTC as Binance does). Open
// times are UTC, aligned: open = floor(t / tf) * tf. Not thread-safe: the md thread owns it. No
// allocation, no exceptions after construction.
class CandleBuilder {
 public:
  static constexpr std::size_t kMaxSymbols = layout::kMaxSymbols;
  static constexpr std::size_t kMaxTimeframes = layout::kMaxTimeframes;

  struct Stats {
    std::uint64_t trades = 0;               // trades seen (all timeframes)
    std::uint64_t klines = 0;               // klines applied to a configured timeframe
    std::uint64_t klines_unconfigured = 0;  // klines for an interval that is not configured
    std::uint64_t late_trades = 0;          // trade for a period already closed (per timeframe)
    std::uint64_t late_klines = 0;          // kline for a period already closed
    std::uint64_t misaligned_klines = 0;    // kline open time not on the timeframe's grid
    std::uint64_t closed = 0;               // candles emitted as closed (fillers included)
    std::uint64_t fillers = 0;              // flat candles for periods without trades
    std::uint64_t fillers_skipped = 0;      // periods skipped past max_fillers
    std::uint64_t saturated = 0;            // volume or trade count hit its limit
    std::uint64_t bad_symbol = 0;           // symbol id >= kMaxSymbols
    std::uint64_t kline_fallbacks = 0;      // kline-driven timeframes that fell back to trades
  };

  // Throws std::invalid_argument on an empty, too long, duplicate or unsupported timeframe list.
  CandleBuilder(std::span<const std::uint32_t> timeframes_s, CandleListener& listener,
                CandleOptions options = {});

  // A trade (or aggregate trade covering `trades` venue trades) at venue time `time_ms`.
  void on_trade(std::uint16_t symbol, std::int64_t time_ms, Price px, Qty qty,
                std::uint32_t trades);

  // A kline stream frame. Switches its timeframe (if configured) to CandleSource::kKlines.
  void on_kline(std::uint16_t symbol, const KlineMsg& k);

  // Wall clock (UTC ms): closes live candles whose period has ended, emitting flat fillers up to
  // the current period and leaving a flat placeholder as the live candle. Call it at least once
  // per smallest timeframe, e.g. from the md thread's idle loop.
  void on_time(std::int64_t now_ms);
  void on_time(std::uint16_t symbol, std::int64_t now_ms);

  // nullptr until the series has seen its first trade or kline.
  [[nodiscard]] const layout::Candle* live(std::uint16_t symbol, std::size_t tf) const noexcept;
  [[nodiscard]] CandleSource source(std::uint16_t symbol, std::size_t tf) const noexcept;

  [[nodiscard]] std::size_t timeframe_count() const noexcept { return tf_count_; }
  [[nodiscard]] std::uint32_t timeframe_s(std::size_t tf) const noexcept { return tf_s_[tf]; }
  // Index of a timeframe given in seconds, or -1.
  [[nodiscard]] int index_of(std::uint32_t seconds) const noexcept;
  // The open time of the period containing `t_ms` for timeframe index `tf`.
  [[nodiscard]] std::int64_t open_time(std::size_t tf, std::int64_t t_ms) const noexcept;
  [[nodiscard]] const Stats& stats() const noexcept { return stats_; }

 private:
  struct Series {
    layout::Candle live{};
    std::int64_t last_kline_ms = 0;  // venue time of the last kline applied
    bool has_live = false;
    bool kline_driven = false;
  };

  void trade_into(std::uint16_t symbol, std::uint8_t tf, Series& s, std::int64_t time_ms, Price px,
                  Qty qty, std::uint32_t trades);
  void time_into(std::uint16_t symbol, std::uint8_t tf, Series& s, std::int64_t now_ms);
  // Closes the live candle and emits fillers for the periods before `open_ms`.
  void roll_to(std::uint16_t symbol, std::uint8_t tf, Series& s, std::int64_t open_ms);
  void emit_closed(std::uint16_t symbol, std::uint8_t tf, layout::Candle c);

  CandleListener* listener_;
  CandleOptions options_;
  std::array<std::uint32_t, kMaxTimeframes> tf_s_{};
  std::array<std::int64_t, kMaxTimeframes> tf_ms_{};
  std::array<std::int64_t, kMaxTimeframes> offset_ms_{};  // grid origin (Monday for weeks)
  std::size_t tf_count_ = 0;
  std::array<std::array<Series, kMaxTimeframes>, kMaxSymbols> series_{};
  Stats stats_;
};

}  // namespace cwts::md
