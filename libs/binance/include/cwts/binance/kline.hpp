// Klines: Binance's 16 intervals, their UTC calendar (weeks from Monday, months by calendar) and
// one kline as the klines endpoint and the kline stream report it.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "cwts/core/money.hpp"

namespace cwts::binance {

// The 16 Binance kline intervals, in Binance's order.
inline constexpr std::array<std::string_view, 16> kIntervals = {
    "1s", "1m", "3m", "5m",  "15m", "30m", "1h", "2h",
    "4h", "6h", "8h", "12h", "1d",  "3d",  "1w", "1M"};
[[nodiscard]] int interval_index(std::string_view name) noexcept;  // -1 if unknown
// Open time of the interval containing t (UTC; weeks from Monday, months by calendar).
[[nodiscard]] std::int64_t interval_open(int idx, std::int64_t t_ms) noexcept;
[[nodiscard]] std::int64_t interval_next(int idx, std::int64_t open_ms) noexcept;

// Open, high, low and close are prices; the volumes are base quantities and quote notionals (the
// takers' share: trades whose buyer was the taker). Ids -1 when the kline has no trade.
struct Kline {
  std::int64_t open_ms = 0, close_ms = 0;
  core::Price o{}, h{}, l{}, c{};
  core::Qty vol{}, taker_base{};
  core::Notional quote{}, taker_quote{};
  std::int64_t first_id = -1, last_id = -1;
  std::uint64_t n = 0;
};

}  // namespace cwts::binance
