// Exact decimal string <-> fixed-point conversion, including every way a string can be wrong.
#include "cwts/core/decimal.hpp"

#include <string>

#include <gtest/gtest.h>

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

}  // namespace
