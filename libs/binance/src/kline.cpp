#include "cwts/binance/kline.hpp"

namespace cwts::binance {

namespace {

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::array<std::int64_t, 15> kIntervalMs = {
    1000,       60'000,     180'000,    300'000,    900'000, 1'800'000,  3'600'000, 7'200'000,
    14'400'000, 21'600'000, 28'800'000, 43'200'000, kDayMs,  3 * kDayMs, 7 * kDayMs};
// Howard Hinnant's civil-date algorithms, for calendar-month klines.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3U : 9U)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2 ? 1 : 0;
}

}  // namespace

int interval_index(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kIntervals.size(); ++i)
    if (kIntervals[i] == name) return static_cast<int>(i);
  return -1;
}

std::int64_t interval_open(int idx, std::int64_t t) noexcept {
  if (idx == 15) {
    std::int64_t y = 0;
    unsigned m = 0;
    civil_from_days(t / kDayMs, y, m);
    return days_from_civil(y, m, 1) * kDayMs;
  }
  if (idx == 14) {  // weeks start on Monday; 1970-01-01 was a Thursday
    const std::int64_t off = 4 * kDayMs;
    return (t - off) / kIntervalMs[14] * kIntervalMs[14] + off;
  }
  const std::int64_t len = kIntervalMs[static_cast<std::size_t>(idx)];
  return t / len * len;
}

std::int64_t interval_next(int idx, std::int64_t open_ms) noexcept {
  if (idx == 15) {
    std::int64_t y = 0;
    unsigned m = 0;
    civil_from_days(open_ms / kDayMs, y, m);
    if (++m == 13) {
      m = 1;
      ++y;
    }
    return days_from_civil(y, m, 1) * kDayMs;
  }
  return open_ms + kIntervalMs[static_cast<std::size_t>(idx)];
}

}  // namespace cwts::binance
