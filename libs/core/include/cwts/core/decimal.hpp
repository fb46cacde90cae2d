// Exact conversion between decimal strings ("0.35270000") and fixed-point integers, never via
// double.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cwts::core {

enum class DecimalErrc : std::uint8_t {
  kOk,
  kEmpty,      // no digits
  kSyntax,     // anything but [-]digits[.digits]
  kPrecision,  // non-zero digits beyond the scale (the value is not representable)
  kOverflow,   // does not fit in int64 at this scale
};

[[nodiscard]] const char* to_string(DecimalErrc e) noexcept;

inline constexpr std::int64_t kPow10[] = {1LL,
                                          10LL,
                                          100LL,
                                          1000LL,
                                          10000LL,
                                          100000LL,
                                          1000000LL,
                                          10000000LL,
                                          100000000LL,
                                          1000000000LL,
                                          10000000000LL,
                                          100000000000LL,
                                          1000000000000LL,
                                          10000000000000LL,
                                          100000000000000LL,
                                          1000000000000000LL,
                                          10000000000000000LL,
                                          100000000000000000LL,
                                          1000000000000000000LL};
inline constexpr int kMaxDecimals = 18;

// Parses `s` as value × 10^decimals into `out`. Trailing zeros past the scale are accepted
// ("1.500000000" at scale 8); other digits past it are kPrecision. Hot path: no allocation, no
// locale, no exceptions.
[[nodiscard]] constexpr DecimalErrc parse_fixed(std::string_view s, int decimals,
                                                std::int64_t& out) noexcept {
  if (decimals < 0 || decimals > kMaxDecimals) return DecimalErrc::kOverflow;
  std::size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
    neg = s[i] == '-';
    ++i;
  }
  // Accumulate as unsigned; the limit leaves room for the negative extreme.
  constexpr std::uint64_t kLimit = 9223372036854775808ULL;
  std::uint64_t v = 0;
  bool any = false;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    any = true;
    const auto d = static_cast<std::uint64_t>(s[i] - '0');
    if (v > (kLimit - d) / 10) return DecimalErrc::kOverflow;
    v = v * 10 + d;
  }
  int frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      any = true;
      const auto d = static_cast<std::uint64_t>(s[i] - '0');
      if (frac < decimals) {
        if (v > (kLimit - d) / 10) return DecimalErrc::kOverflow;
        v = v * 10 + d;
        ++frac;
      } else if (d != 0) {
        return DecimalErrc::kPrecision;
      }
    }
  }
  if (i != s.size()) return DecimalErrc::kSyntax;
  if (!any) return DecimalErrc::kEmpty;
  for (; frac < decimals; ++frac) {
    if (v > kLimit / 10) return DecimalErrc::kOverflow;
    v *= 10;
  }
  if (!neg && v == kLimit) return DecimalErrc::kOverflow;
  if (v > kLimit) return DecimalErrc::kOverflow;
  out = neg ? static_cast<std::int64_t>(0 - v) : static_cast<std::int64_t>(v);
  return DecimalErrc::kOk;
}

// Writes `v` × 10^-decimals as a decimal string with exactly `decimals` fraction digits (Binance's
// own format: "0.35270000"). Returns the length written; `buf` needs 21 + decimals bytes.
std::size_t format_fixed(std::int64_t v, int decimals, char* buf) noexcept;

// Number of fraction digits needed to write `v` × 10^-decimals without trailing zeros.
[[nodiscard]] int significant_decimals(std::int64_t v, int decimals) noexcept;

}  // namespace cwts::core
