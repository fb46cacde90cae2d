// Binance's fixed-point scale, defined once: every price, quantity and notional that comes off the
// wire is an exact integer count of 10^-8 (8 decimals), and the arithmetic between them is here.
// 128-bit intermediates, truncation toward zero as Binance computes cummulativeQuoteQty.
#pragma once

#include <cstdint>
#include <limits>

namespace cwts::core {

inline constexpr int kWireDecimals = 8;
inline constexpr std::int64_t kWireScale = 100'000'000;  // 1.0 at 8 decimals

// price x quantity -> quote notional (8 decimals), truncated.
[[nodiscard]] constexpr std::int64_t notional_of(std::int64_t px, std::int64_t qty) noexcept {
  __extension__ typedef __int128 Wide;
  // Saturated: a value past 64 bits (a strategy's quantity no venue filter bounds) stays the
  // largest there is rather than wrapping into a small one a notional limit would let through.
  const Wide v = static_cast<Wide>(px) * qty / kWireScale;
  constexpr Wide kMax = std::numeric_limits<std::int64_t>::max();
  constexpr Wide kMin = std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(v > kMax ? kMax : v < kMin ? kMin : v);
}

// quote notional / quantity -> average price (8 decimals), truncated; 0 for a zero quantity.
[[nodiscard]] constexpr std::int64_t average_price(std::int64_t quote, std::int64_t qty) noexcept {
  __extension__ typedef __int128 Wide;
  return qty == 0 ? 0 : static_cast<std::int64_t>(static_cast<Wide>(quote) * kWireScale / qty);
}

}  // namespace cwts::core
