// Money types at Binance's wire scale (8 decimals, core::kWireScale): a price, a quantity of the
// base asset, a notional in the quote asset and an amount of a named asset cannot be mixed up in
// a signature. Each is one int64 (`raw`, a count of 10^-8 units), free at run time; the only ways
// between them are the named conversions below, each truncating toward zero as Binance does.
//
//   Price    quote asset per unit of base ("price", "avgPrice", a book level's price)
//   Qty      base asset, signed so a position can be short ("origQty", "executedQty", a level's
//            size)
//   Notional quote asset ("cummulativeQuoteQty", "quoteOrderQty", realized PnL, a fee valued in
//            quote)
//   Amount   an amount of the asset named beside it (a balance, a commission as charged)
//
// Rejected: one `Decimal` type with a scale field (costs a byte and a branch per operation, and a
// price still equals a quantity); operator* between Price and Qty (the truncation would hide in an
// expression; `notional(px, qty)` says where it happens); implicit conversion from int64 (a raw
// integer at another scale would slip in unnoticed).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "cwts/core/decimal.hpp"
#include "cwts/core/fixed_point.hpp"

namespace cwts::core {

template <class Tag>
struct Fixed8 {
  // value × 10^8. No default member initializer: the type stays trivial, as the shared-memory
  // layout needs (layout::Price and layout::Qty are these); write `Price p{}` for zero.
  std::int64_t raw;

  [[nodiscard]] static constexpr Fixed8 from_raw(std::int64_t r) noexcept { return Fixed8{r}; }
  // A whole number of units (tests, limits in configuration): from_units(2) is 2.00000000.
  [[nodiscard]] static constexpr Fixed8 from_units(std::int64_t u) noexcept {
    return Fixed8{u * kWireScale};
  }

  [[nodiscard]] constexpr bool is_zero() const noexcept { return raw == 0; }
  [[nodiscard]] constexpr Fixed8 abs() const noexcept { return Fixed8{raw < 0 ? -raw : raw}; }

  friend constexpr bool operator==(Fixed8, Fixed8) = default;
  friend constexpr auto operator<=>(Fixed8, Fixed8) = default;

  constexpr Fixed8 operator-() const noexcept { return Fixed8{-raw}; }
  friend constexpr Fixed8 operator+(Fixed8 a, Fixed8 b) noexcept { return Fixed8{a.raw + b.raw}; }
  friend constexpr Fixed8 operator-(Fixed8 a, Fixed8 b) noexcept { return Fixed8{a.raw - b.raw}; }
  constexpr Fixed8& operator+=(Fixed8 b) noexcept {
    raw += b.raw;
    return *this;
  }
  constexpr Fixed8& operator-=(Fixed8 b) noexcept {
    raw -= b.raw;
    return *this;
  }

  // k of a value (k ticks, k steps) and how many of one fit in another (a quantity in steps):
  // dimensionally sound, so allowed; price × quantity is not here (see notional()).
  friend constexpr Fixed8 operator*(Fixed8 a, std::int64_t k) noexcept { return Fixed8{a.raw * k}; }
  friend constexpr Fixed8 operator*(std::int64_t k, Fixed8 a) noexcept { return Fixed8{a.raw * k}; }
  friend constexpr std::int64_t operator/(Fixed8 a, Fixed8 b) noexcept { return a.raw / b.raw; }
  friend constexpr Fixed8 operator%(Fixed8 a, Fixed8 b) noexcept { return Fixed8{a.raw % b.raw}; }
};

struct PriceTag;
struct QtyTag;
struct NotionalTag;
struct AmountTag;
using Price = Fixed8<PriceTag>;
using Qty = Fixed8<QtyTag>;
using Notional = Fixed8<NotionalTag>;
using Amount = Fixed8<AmountTag>;

static_assert(sizeof(Price) == 8 && sizeof(Qty) == 8 && sizeof(Notional) == 8);
static_assert(std::is_trivial_v<Price> && std::is_standard_layout_v<Price>);

// price × quantity → quote notional, truncated toward zero (as cummulativeQuoteQty).
[[nodiscard]] constexpr Notional notional(Price px, Qty qty) noexcept {
  return Notional{notional_of(px.raw, qty.raw)};
}
// quote notional / quantity → average price, truncated; zero for a zero quantity.
[[nodiscard]] constexpr Price average_price(Notional quote, Qty qty) noexcept {
  return Price{core::average_price(quote.raw, qty.raw)};
}
// An amount charged in the base asset, as a quantity of it (a commission taken from a buy).
[[nodiscard]] constexpr Qty as_base(Amount a) noexcept { return Qty{a.raw}; }
// An amount charged in the quote asset, as a notional.
[[nodiscard]] constexpr Notional as_quote(Amount a) noexcept { return Notional{a.raw}; }
// A quantity of the base asset, or a notional in the quote asset, as an amount of that asset (a
// balance credited, debited or locked; the asset is named beside it).
[[nodiscard]] constexpr Amount as_amount(Qty q) noexcept { return Amount{q.raw}; }
[[nodiscard]] constexpr Amount as_amount(Notional n) noexcept { return Amount{n.raw}; }

// Wire text ("0.35270000", "-1.5", "7") → value. Digits past the eighth decimal that are not zero
// are kPrecision: the value is refused, never rounded.
template <class Tag>
[[nodiscard]] constexpr DecimalErrc parse(std::string_view s, Fixed8<Tag>& out) noexcept {
  return parse_fixed(s, kWireDecimals, out.raw);
}

// Value → wire text with all eight decimals ("0.35270000"), Binance's own form; `buf` holds at
// least 32 characters. Returns the length.
template <class Tag>
std::size_t format(Fixed8<Tag> v, char* buf) noexcept {
  return format_fixed(v.raw, kWireDecimals, buf);
}
template <class Tag>
[[nodiscard]] std::string to_string(Fixed8<Tag> v) {
  char buf[32];
  return std::string(buf, format(v, buf));
}

namespace detail {
// A literal's characters at 8 decimals; a literal that is not representable does not compile.
consteval std::int64_t literal_raw(const char* s) {
  std::size_t n = 0;
  while (s[n] != '\0') ++n;
  std::int64_t v = 0;
  if (parse_fixed(std::string_view(s, n), kWireDecimals, v) != DecimalErrc::kOk)
    throw "not a decimal representable at 8 decimals";
  return v;
}
}  // namespace detail

// 65000.5_px, 0.001_qty, 10_quote, 0.1_amt — for tests and constants.
namespace money_literals {
consteval Price operator""_px(const char* s) { return Price{detail::literal_raw(s)}; }
consteval Qty operator""_qty(const char* s) { return Qty{detail::literal_raw(s)}; }
consteval Notional operator""_quote(const char* s) { return Notional{detail::literal_raw(s)}; }
consteval Amount operator""_amt(const char* s) { return Amount{detail::literal_raw(s)}; }
}  // namespace money_literals

}  // namespace cwts::core
