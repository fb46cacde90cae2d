// OHLCV candle building: trade aggregation, flat fillers, wall-clock closes, kline precedence.
#include "cwts/md/candle_builder.hpp"

#include <limits>
#include <stdexcept>
#include <string>

namespace cwts::md {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;
// 1970-01-01 was a Thursday; Binance's weekly klines open on Monday 00:00 UTC.
constexpr std::int64_t kFirstMondayMs = 4 * kDayMs;

std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// A candle with no trades: every price at `px`, as Binance reports periods without trades.
layout::Candle flat(std::int64_t open_ms, Price px) noexcept {
  layout::Candle c{};
  c.open_time_ms = open_ms;
  c.open = c.high = c.low = c.close = px;
  return c;
}

}  // namespace

CandleBuilder::CandleBuilder(std::span<const std::uint32_t> timeframes_s, CandleListener& listener,
                             CandleOptions options)
    : listener_(&listener), options_(options) {
  if (timeframes_s.empty() || timeframes_s.size() > kMaxTimeframes) {
    throw std::invalid_argument("candles: between 1 and " + std::to_string(kMaxTimeframes) +
                                " timeframes, got " + std::to_string(timeframes_s.size()));
  }
  for (std::size_t i = 0; i < timeframes_s.size(); ++i) {
    const std::uint32_t s = timeframes_s[i];
    const bool divides_day = s > 0 && 86400 % s == 0;
    if (!divides_day && s != 7 * 86400) {
      throw std::invalid_argument("candles: timeframe " + std::to_string(s) +
                                  " s is not supported (use a divisor of one day, or one week)");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (tf_s_[j] == s) {
        throw std::invalid_argument("candles: timeframe " + std::to_string(s) + " s listed twice");
      }
    }
    tf_s_[i] = s;
    tf_ms_[i] = static_cast<std::int64_t>(s) * 1000;
    offset_ms_[i] = s == 7 * 86400 ? kFirstMondayMs : 0;
  }
  tf_count_ = timeframes_s.size();
}

int CandleBuilder::index_of(std::uint32_t seconds) const noexcept {
  for (std::size_t i = 0; i < tf_count_; ++i) {
    if (tf_s_[i] == seconds) return static_cast<int>(i);
  }
  return -1;
}

std::int64_t CandleBuilder::open_time(std::size_t tf, std::int64_t t_ms) const noexcept {
  const std::int64_t off = offset_ms_[tf];
  return floor_div(t_ms - off, tf_ms_[tf]) * tf_ms_[tf] + off;
}

const layout::Candle* CandleBuilder::live(std::uint16_t symbol, std::size_t tf) const noexcept {
  if (symbol >= kMaxSymbols || tf >= tf_count_) return nullptr;
  const Series& s = series_[symbol][tf];
  return s.has_live ? &s.live : nullptr;
}

CandleSource CandleBuilder::source(std::uint16_t symbol, std::size_t tf) const noexcept {
  if (symbol >= kMaxSymbols || tf >= tf_count_) return CandleSource::kTrades;
  return series_[symbol][tf].kline_driven ? CandleSource::kKlines : CandleSource::kTrades;
}

void CandleBuilder::emit_closed(std::uint16_t symbol, std::uint8_t tf, layout::Candle c) {
  c.closed = 1;
  ++stats_.closed;
  listener_->on_candle_closed(symbol, tf, c);
}

void CandleBuilder::roll_to(std::uint16_t symbol, std::uint8_t tf, Series& s,
                            std::int64_t open_ms) {
  const std::int64_t step = tf_ms_[tf];
  const Price prev_close = s.live.close;
  emit_closed(symbol, tf, s.live);
  std::int64_t next = s.live.open_time_ms + step;
  // Whole periods strictly between the closed candle and `open_ms`.
  const std::int64_t missing = (open_ms - next) / step;
  if (missing > static_cast<std::int64_t>(options_.max_fillers)) {
    const std::int64_t skip = missing - static_cast<std::int64_t>(options_.max_fillers);
    stats_.fillers_skipped += static_cast<std::uint64_t>(skip);
    next += skip * step;
  }
  for (; next < open_ms; next += step) {
    ++stats_.fillers;
    emit_closed(symbol, tf, flat(next, prev_close));
  }
  // The new period starts as a flat placeholder at the previous close; its first trade (or
  // kline) replaces the prices.
  s.live = flat(open_ms, prev_close);
}

void CandleBuilder::trade_into(std::uint16_t symbol, std::uint8_t tf, Series& s,
                               std::int64_t time_ms, Price px, Qty qty, std::uint32_t trades) {
  const std::int64_t p = open_time(tf, time_ms);
  if (!s.has_live) {
    s.live = flat(p, px);
    s.has_live = true;
  } else if (p > s.live.open_time_ms) {
    roll_to(symbol, tf, s, p);
  } else if (p < s.live.open_time_ms) {
    // The period was closed already (by a later trade or the clock); closed candles are final.
    ++stats_.late_trades;
    return;
  }
  layout::Candle& c = s.live;
  if (c.trades == 0) {
    // First trade of the period: a flat placeholder takes the trade's price, as Binance's
    // kline open is the period's first trade, not the previous close.
    c.open = c.high = c.low = c.close = px;
  } else {
    if (px > c.high) c.high = px;
    if (px < c.low) c.low = px;
    c.close = px;
  }
  std::int64_t vol = 0;
  if (__builtin_add_overflow(c.volume.raw, qty.raw, &vol)) {
    vol = std::numeric_limits<std::int64_t>::max();
    ++stats_.saturated;
  }
  c.volume.raw = vol;
  std::uint32_t n = 0;
  if (__builtin_add_overflow(c.trades, trades, &n)) {
    n = std::numeric_limits<std::uint32_t>::max();
    ++stats_.saturated;
  }
  c.trades = n;
  listener_->on_candle_live(symbol, tf, c);
}

void CandleBuilder::on_trade(std::uint16_t symbol, std::int64_t time_ms, Price px, Qty qty,
                             std::uint32_t trades) {
  if (symbol >= kMaxSymbols) {
    ++stats_.bad_symbol;
    return;
  }
  ++stats_.trades;
  for (std::size_t tf = 0; tf < tf_count_; ++tf) {
    Series& s = series_[symbol][tf];
    if (s.kline_driven) {
      // The venue's klines are the source of truth there, unless they stopped coming.
      if (time_ms - s.last_kline_ms <= options_.kline_stale_ms) continue;
      s.kline_driven = false;
      ++stats_.kline_fallbacks;
    }
    trade_into(symbol, static_cast<std::uint8_t>(tf), s, time_ms, px, qty, trades);
  }
}

void CandleBuilder::on_kline(std::uint16_t symbol, const KlineMsg& k) {
  if (symbol >= kMaxSymbols) {
    ++stats_.bad_symbol;
    return;
  }
  const int idx = k.interval_s == 0 ? -1 : index_of(k.interval_s);
  if (idx < 0) {
    ++stats_.klines_unconfigured;
    return;
  }
  const auto tf = static_cast<std::uint8_t>(idx);
  if (open_time(tf, k.open_time_ms) != k.open_time_ms) {
    ++stats_.misaligned_klines;
    return;
  }
  Series& s = series_[symbol][tf];
  // From the first kline on, trades no longer touch this timeframe. A trade-built live candle of
  // the same period is replaced below by the venue's values.
  s.kline_driven = true;
  const std::int64_t p = k.open_time_ms;
  // Even a late kline proves the stream is alive (see the fallback in on_trade).
  s.last_kline_ms = k.event_time_ms != 0 ? k.event_time_ms : p;
  if (!s.has_live) {
    s.has_live = true;
  } else if (p > s.live.open_time_ms) {
    // The closing kline of the live period never came (lost with a reconnect): close it with the
    // last values known for it.
    roll_to(symbol, tf, s, p);
  } else if (p < s.live.open_time_ms) {
    ++stats_.late_klines;
    return;
  }
  ++stats_.klines;
  layout::Candle& c = s.live;
  c.open_time_ms = p;
  c.open = k.open;
  c.high = k.high;
  c.low = k.low;
  c.close = k.close;
  c.volume = k.volume;
  c.trades = k.trades > std::numeric_limits<std::uint32_t>::max()
                 ? std::numeric_limits<std::uint32_t>::max()
                 : static_cast<std::uint32_t>(k.trades);
  c.closed = 0;
  if (k.closed) {
    emit_closed(symbol, tf, c);
    s.live = flat(p + tf_ms_[tf], c.close);
  }
  listener_->on_candle_live(symbol, tf, s.live);
}

void CandleBuilder::time_into(std::uint16_t symbol, std::uint8_t tf, Series& s,
                              std::int64_t now_ms) {
  if (!s.has_live) return;  // no price known yet: nothing to fill with
  const std::int64_t delay =
      s.kline_driven ? options_.kline_close_delay_ms : options_.trade_close_delay_ms;
  const std::int64_t t = now_ms - delay;
  if (t < s.live.open_time_ms + tf_ms_[tf]) return;
  roll_to(symbol, tf, s, open_time(tf, t));
  listener_->on_candle_live(symbol, tf, s.live);
}

void CandleBuilder::on_time(std::uint16_t symbol, std::int64_t now_ms) {
  if (symbol >= kMaxSymbols) {
    ++stats_.bad_symbol;
    return;
  }
  for (std::size_t tf = 0; tf < tf_count_; ++tf) {
    time_into(symbol, static_cast<std::uint8_t>(tf), series_[symbol][tf], now_ms);
  }
}

void CandleBuilder::on_time(std::int64_t now_ms) {
  for (std::size_t sym = 0; sym < kMaxSymbols; ++sym) {
    for (std::size_t tf = 0; tf < tf_count_; ++tf) {
      time_into(static_cast<std::uint16_t>(sym), static_cast<std::uint8_t>(tf), series_[sym][tf],
                now_ms);
    }
  }
}

}  // namespace cwts::md
