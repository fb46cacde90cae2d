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

}  // namespace cwts::binance
