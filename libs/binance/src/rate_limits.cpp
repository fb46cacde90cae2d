#include "cwts/binance/rate_limits.hpp"

namespace cwts::binance {

std::string interval_suffix(const binance::RateLimit& limit) {
  char letter = 'S';
  switch (limit.interval) {
    case binance::RateInterval::kSecond:
      letter = 'S';
      break;
    case binance::RateInterval::kMinute:
      letter = 'M';
      break;
    case binance::RateInterval::kHour:
      letter = 'H';
      break;
    case binance::RateInterval::kDay:
      letter = 'D';
      break;
  }
  return std::to_string(limit.interval_num) + letter;
}

std::uint32_t spot_depth_weight(std::int64_t limit) noexcept {
  return limit <= 100 ? 5 : limit <= 500 ? 25 : limit <= 1000 ? 50 : 250;
}

std::uint32_t usdm_depth_weight(std::int64_t limit) noexcept {
  return limit <= 50 ? 2 : limit <= 100 ? 5 : limit <= 500 ? 10 : 20;
}

}  // namespace cwts::binance
