// Rate-limit usage as Binance reports it: WS-API "rateLimits" entries and the interval suffix of
// the X-MBX-USED-WEIGHT-*/X-MBX-ORDER-COUNT-* headers; the weight of a depth snapshot.
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

// The request weight of a depth snapshot of `limit` levels: spot GET /api/v3/depth (5 up to 100
// levels, 25 up to 500, 50 up to 1000, 250 beyond) and USD-M GET /fapi/v1/depth (2 up to 50, 5 up
// to 100, 10 up to 500, 20 beyond). The one table the feed, the gateway and cwts-sim charge.
[[nodiscard]] std::uint32_t spot_depth_weight(std::int64_t limit) noexcept;
[[nodiscard]] std::uint32_t usdm_depth_weight(std::int64_t limit) noexcept;

}  // namespace cwts::binance
