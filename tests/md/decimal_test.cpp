// Exact decimal string <-> fixed-point conversion, including every way a string can be wrong.
#include "cwts/core/decimal.hpp"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "cwts/core/fixed_point.hpp"
#include "cwts/core/json_writer.hpp"

namespace {

using cwts::core::DecimalErrc;
using cwts::core::format_fixed;
using cwts::core::parse_fixed;

DecimalErrc p(std::string_view s, int d, std::int64_t& out) { return parse_fixed(s, d, out); }

TEST(DecimalTest, ParsesBinanceStringsExactly) {
  std::int64_t v = 0;
  ASSERT_EQ(p("0.35270000", 8, v), DecimalErrc::kOk);
  EXPECT_EQ(v, 35270000);
  ASSERT_EQ(p("61837.63000000", 8, v), DecimalErrc::kOk);
  EXPECT_EQ(v, 6183763000000);
  ASSERT_EQ(p("0.00000001", 8, v), DecimalErrc::kOk);
  EXPECT_EQ(v, 1);
  ASSERT_EQ(p("100", 8, v), DecimalErrc::kOk);
  EXPECT_EQ(v, 10000000000);
  ASSERT_EQ(p("0.1", 2, v), DecimalErrc::kOk);
  EXPECT_EQ(v, 10);
  ASSERT_EQ(p("-2.5", 1, v), DecimalErrc::kOk);
  EXPECT_EQ(v, -25);
  ASSERT_EQ(p(".5", 1, v), DecimalErrc::kOk);
  EXPECT_EQ(v, 5);
}

TEST(DecimalTest, TrailingZerosPastTheScaleAreFineOtherDigitsAreNot) {
  std::int64_t v = 0;
  EXPECT_EQ(p("1.500000000000", 8, v), DecimalErrc::kOk);
  EXPECT_EQ(v, 150000000);
  EXPECT_EQ(p("1.000000001", 8, v), DecimalErrc::kPrecision);
}

TEST(DecimalTest, RejectsSyntaxEmptyAndOverflow) {
  std::int64_t v = 7;
  EXPECT_EQ(p("", 8, v), DecimalErrc::kEmpty);
  EXPECT_EQ(p("-", 8, v), DecimalErrc::kEmpty);
  EXPECT_EQ(p(".", 8, v), DecimalErrc::kEmpty);
  EXPECT_EQ(p("1e5", 8, v), DecimalErrc::kSyntax);
  EXPECT_EQ(p("1.2.3", 8, v), DecimalErrc::kSyntax);
  EXPECT_EQ(p(" 1", 8, v), DecimalErrc::kSyntax);
  EXPECT_EQ(p("NaN", 8, v), DecimalErrc::kSyntax);
  EXPECT_EQ(p("92233720368.54775808", 8, v), DecimalErrc::kOverflow);
  EXPECT_EQ(p("99999999999999999999", 8, v), DecimalErrc::kOverflow);
  EXPECT_EQ(v, 7);  // untouched on error
  EXPECT_EQ(p("92233720368.54775807", 8, v), DecimalErrc::kOk);
  EXPECT_EQ(v, INT64_MAX);
  EXPECT_EQ(p("-92233720368.54775808", 8, v), DecimalErrc::kOk);
  EXPECT_EQ(v, INT64_MIN);
}

TEST(DecimalTest, FormatsWithExactlyTheScaleDigits) {
  char buf[64];
  EXPECT_EQ(std::string(buf, format_fixed(35270000, 8, buf)), "0.35270000");
  EXPECT_EQ(std::string(buf, format_fixed(6183763000000, 8, buf)), "61837.63000000");
  EXPECT_EQ(std::string(buf, format_fixed(-25, 1, buf)), "-2.5");
  EXPECT_EQ(std::string(buf, format_fixed(7, 0, buf)), "7");
  EXPECT_EQ(std::string(buf, format_fixed(INT64_MIN, 8, buf)), "-92233720368.54775808");
  EXPECT_EQ(cwts::core::significant_decimals(35270000, 8), 4);
}

TEST(DecimalTest, ParseOfFormatRoundTrips) {
  for (std::int64_t v : {0LL, 1LL, 99LL, 123456789LL, -5LL, 9223372036854775807LL}) {
    char buf[64];
    const std::size_t n = format_fixed(v, 8, buf);
    std::int64_t back = 0;
    ASSERT_EQ(p(std::string_view(buf, n), 8, back), DecimalErrc::kOk);
    EXPECT_EQ(back, v);
  }
}

TEST(FixedPointTest, NotionalIsPriceTimesQuantityTruncatedAtTheWireScale) {
  using cwts::core::kWireScale;
  using cwts::core::notional_of;
  EXPECT_EQ(notional_of(2 * kWireScale, 3 * kWireScale), 6 * kWireScale);
  EXPECT_EQ(notional_of(35'270'000, 12'345'678),
            4'354'320);  // 0.3527 x 0.12345678 = 0.043543206...
  EXPECT_EQ(notional_of(-35'270'000, 12'345'678), -4'354'320) << "truncates toward zero";
  // 90,000 x 50,000: the product of the raw integers overflows 64 bits; the result does not.
  EXPECT_EQ(notional_of(90'000 * kWireScale, 50'000 * kWireScale), 4'500'000'000 * kWireScale);
}

TEST(FixedPointTest, AveragePriceIsQuoteOverQuantityAndZeroForNoQuantity) {
  using cwts::core::average_price;
  using cwts::core::kWireScale;
  EXPECT_EQ(average_price(6 * kWireScale, 3 * kWireScale), 2 * kWireScale);
  EXPECT_EQ(average_price(kWireScale, 3 * kWireScale), 33'333'333);
  EXPECT_EQ(average_price(kWireScale, 0), 0);
  EXPECT_EQ(average_price(4'500'000'000 * kWireScale, 50'000 * kWireScale), 90'000 * kWireScale);
}

TEST(JsonWriterTest, CommasFollowEachContainersOwnValuesAcrossNesting) {
  cwts::core::JsonWriter w;
  w.begin_object().key("a").begin_array().integer(1).begin_object().end_object().integer(2);
  w.end_array().key("b").begin_object().key("c").boolean(true).end_object().end_object();
  EXPECT_EQ(w.str(), R"({"a":[1,{},2],"b":{"c":true}})");
}

TEST(JsonWriterTest, NestingBeyondTheLimitIsAnErrorNotCorruptOutput) {
  cwts::core::JsonWriter w;
  for (int i = 0; i < cwts::core::JsonWriter::kMaxDepth; ++i) w.begin_array();
  EXPECT_THROW(w.begin_array(), std::length_error);
}

}  // namespace
