// Rate-limit usage as Binance reports it: WS-API "rateLimits" entries and the interval suffix of
// the X-MBX-USED-WEIGHT-*/X-MBX-ORDER-COUNT-* headers.
#pragma once

#include <cstdint>
#include <string>

#include "cwts/binance/exchange_info.hpp"

namespace cwts::binance {

// One limit with its count in the current window (WS-API "rateLimits" entries).
struct RateUsage {
  RateLimit limit{};
  std::uint64_t count = 0;
};

// "1M", "10S", "1D": the suffix of the X-MBX-* header names for a limit.
[[nodiscard]] std::string interval_suffix(const RateLimit& limit);

}  // namespace cwts::binance
