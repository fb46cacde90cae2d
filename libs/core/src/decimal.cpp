// Decimal formatting for fixed-point values (parsing is constexpr in the header).
#include "cwts/core/decimal.hpp"

namespace cwts::core {

const char* to_string(DecimalErrc e) noexcept {
  switch (e) {
    case DecimalErrc::kOk:
      return "ok";
    case DecimalErrc::kEmpty:
      return "empty number";
    case DecimalErrc::kSyntax:
      return "not a decimal number";
    case DecimalErrc::kPrecision:
      return "more decimals than the symbol's scale";
    case DecimalErrc::kOverflow:
      return "number too large";
  }
  return "unknown";
}

std::size_t format_fixed(std::int64_t v, int decimals, char* buf) noexcept {
  char tmp[48];
  std::size_t n = 0;
  const bool neg = v < 0;
  std::uint64_t u = neg ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
  int written = 0;
  do {
    if (written == decimals && decimals > 0) tmp[n++] = '.';
    tmp[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
    ++written;
  } while (u != 0 || written <= decimals);
  if (neg) tmp[n++] = '-';
  for (std::size_t i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  return n;
}

int significant_decimals(std::int64_t v, int decimals) noexcept {
  int d = decimals;
  while (d > 0 && v % 10 == 0) {
    v /= 10;
    --d;
  }
  return d;
}

}  // namespace cwts::core
