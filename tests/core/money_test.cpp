// The money types: one scale, conversions that truncate as Binance does, exact text both ways,
// and no implicit way between a price, a quantity and a notional.
#include "cwts/core/money.hpp"

#include <type_traits>

#include <gtest/gtest.h>

namespace {

using namespace cwts::core;
using namespace cwts::core::money_literals;

// Distinct types: none converts into another, and a raw integer converts into none.
static_assert(!std::is_convertible_v<Price, Qty>);
static_assert(!std::is_convertible_v<Qty, Notional>);
static_assert(!std::is_convertible_v<Notional, Price>);
static_assert(!std::is_convertible_v<Amount, Qty>);
static_assert(!std::is_convertible_v<std::int64_t, Price>);
static_assert(!std::is_convertible_v<std::int64_t, Qty>);
static_assert(!std::is_convertible_v<double, Notional>);
static_assert(std::is_trivially_copyable_v<Price> && sizeof(Qty) == sizeof(std::int64_t));

// Literals are exact and checked at compile time.
static_assert((65000.5_px).raw == 6'500'050'000'000);
static_assert((0.00000001_qty).raw == 1);
static_assert((10_quote).raw == 1'000'000'000);
static_assert(Qty::from_units(3) == 3_qty);

TEST(Money, NotionalIsPriceTimesQuantityTruncatedTowardZero) {
  // 65000.12345678 × 0.00012345 = 8.0242652438...: Binance's cummulativeQuoteQty keeps 8.02426524.
  EXPECT_EQ(notional(65000.12345678_px, 0.00012345_qty), 8.02426524_quote);
  EXPECT_EQ(notional(65000.12345678_px, -0.00012345_qty), -8.02426524_quote);
  // No overflow in the product: 1e6 × 9e4 at 8 decimals is far past int64 before the division.
  EXPECT_EQ(notional(1000000_px, 90000_qty), Notional::from_units(90'000'000'000));
}

TEST(Money, AveragePriceIsNotionalOverQuantityTruncated) {
  EXPECT_EQ(average_price(12345.67890123_quote, 3_qty), 4115.22630041_px);
  EXPECT_EQ(average_price(5_quote, Qty{}), Price{});
  EXPECT_EQ(average_price(notional(27000.5_px, 0.25_qty), 0.25_qty), 27000.5_px);
}

TEST(Money, ArithmeticStaysWithinOneType) {
  Qty position = 0.5_qty;
  position -= 0.75_qty;
  EXPECT_EQ(position, -0.25_qty);
  EXPECT_EQ(position.abs(), 0.25_qty);
  EXPECT_EQ(-position, 0.25_qty);
  EXPECT_LT(position, Qty{});
  EXPECT_EQ(1.5_quote + 2.25_quote, 3.75_quote);
  EXPECT_TRUE((1_px - 1_px).is_zero());
  EXPECT_EQ(3 * 0.01_px, 0.03_px);                // three ticks
  EXPECT_EQ(0.0123_qty / 0.001_qty, 12);          // whole steps in a quantity
  EXPECT_EQ(0.0123_qty % 0.001_qty, 0.0003_qty);  // off the step grid by this much
}

TEST(Money, AnAmountBecomesBaseOrQuoteOnlyByName) {
  EXPECT_EQ(as_base(0.001_amt), 0.001_qty);
  EXPECT_EQ(as_quote(0.05_amt), 0.05_quote);
  // And back, when a quantity or a notional moves a balance of its asset.
  EXPECT_EQ(as_amount(0.001_qty), 0.001_amt);
  EXPECT_EQ(as_amount(-0.05_quote), -0.05_amt);
  EXPECT_EQ(as_base(as_amount(1.23456789_qty)), 1.23456789_qty);
  static_assert(!std::is_convertible_v<Qty, Amount> && !std::is_convertible_v<Notional, Amount>);
}

TEST(Money, WireTextBothWaysExactly) {
  Price p{};
  ASSERT_EQ(parse("0.35270000", p), DecimalErrc::kOk);
  EXPECT_EQ(p, 0.3527_px);
  EXPECT_EQ(to_string(p), "0.35270000");
  Qty q{};
  ASSERT_EQ(parse("1.500000000", q), DecimalErrc::kOk);  // zeros past the scale are fine
  EXPECT_EQ(q, 1.5_qty);
  EXPECT_EQ(parse("0.000000001", q), DecimalErrc::kPrecision);  // refused, never rounded
  EXPECT_EQ(parse("1e-3", q), DecimalErrc::kSyntax);
  EXPECT_EQ(to_string(-0.25_qty), "-0.25000000");
  EXPECT_EQ(to_string(Notional{}), "0.00000000");
}

}  // namespace
