#include "units.hpp"

#include <charconv>
#include <cmath>
#include <limits>

namespace cwts_bridge {

namespace {

constexpr int kMaxPow = 18;

constexpr std::uint64_t pow10(int n) noexcept {
  std::uint64_t p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

// q rounded half to even, given the remainder r of a division by d (0 <= r < d).
std::uint64_t half_even(std::uint64_t q, std::uint64_t r, std::uint64_t d) noexcept {
  const unsigned __int128 twice = static_cast<unsigned __int128>(r) * 2;
  if (twice > d || (twice == d && (q & 1U) != 0)) return q + 1;
  return q;
}

// digits * 10^exp10 (a positive decimal) -> units, per fast_units.
std::optional<std::int64_t> scale(std::uint64_t digits, int exp10, int decimals,
                                  std::int64_t increment, RoundMode mode) {
  if (digits == 0 || increment < 0) return std::nullopt;
  const int k = exp10 + decimals;
  std::uint64_t units = 0;
  if (k >= 0) {
    if (k > kMaxPow) return std::nullopt;
    const unsigned __int128 u = static_cast<unsigned __int128>(digits) * pow10(k);
    if (u > static_cast<unsigned __int128>(std::numeric_limits<std::int64_t>::max()))
      return std::nullopt;
    units = static_cast<std::uint64_t>(u);
  } else {
    if (-k > kMaxPow) return std::nullopt;
    const std::uint64_t p = pow10(-k);
    units = digits / p;
    const std::uint64_t r = digits % p;
    if (r != 0) {
      if (mode == RoundMode::kExact) return std::nullopt;
      if (mode == RoundMode::kNearest) units = half_even(units, r, p);
    }
  }
  if (increment > 0) {
    const auto inc = static_cast<std::uint64_t>(increment);
    const std::uint64_t q = units / inc, r = units % inc;
    if (r != 0) {
      if (mode == RoundMode::kExact) return std::nullopt;
      units = (mode == RoundMode::kNearest ? half_even(q, r, inc) : q) * inc;
    }
  }
  if (units == 0 || units > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return std::nullopt;
  return static_cast<std::int64_t>(units);
}

}  // namespace

std::optional<std::int64_t> fast_units(double value, int decimals, std::int64_t increment,
                                       RoundMode mode) {
  if (!std::isfinite(value) || !(value > 0)) return std::nullopt;
  // The shortest decimal that round-trips, its digits as repr() prints them: "1e-03", "5.0123e-05".
  // (Not the plain form: for large integers it prints every digit of the double, not the shortest.)
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  if (res.ec != std::errc()) return std::nullopt;
  std::uint64_t digits = 0;
  int significant = 0, fraction = 0, exponent = 0;
  bool dot = false;
  const char* p = buf;
  for (; p != res.ptr && *p != 'e'; ++p) {
    if (*p == '.') {
      dot = true;
      continue;
    }
    const int d = *p - '0';
    if (dot) ++fraction;
    if (significant == 0 && d == 0) continue;  // leading zeros
    if (++significant > kMaxPow) return std::nullopt;
    digits = digits * 10 + static_cast<std::uint64_t>(d);
  }
  if (p != res.ptr) {
    const auto e = std::from_chars(p + 1 + (p[1] == '+' ? 1 : 0), res.ptr, exponent);
    if (e.ec != std::errc() || e.ptr != res.ptr) return std::nullopt;
  }
  return scale(digits, exponent - fraction, decimals, increment, mode);
}

std::optional<std::int64_t> fast_units(std::int64_t value, int decimals, std::int64_t increment,
                                       RoundMode mode) {
  if (value <= 0) return std::nullopt;
  return scale(static_cast<std::uint64_t>(value), 0, decimals, increment, mode);
}

}  // namespace cwts_bridge
