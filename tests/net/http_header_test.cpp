// The venue's numeric answer headers: what Binance counted (X-MBX-USED-WEIGHT-1M) and how long to
// wait (Retry-After), read the same way by the feed, the venue client and the start-up GET.
#include "cwts/net/http_header.hpp"

#include <cstdint>

#include <boost/beast/http/fields.hpp>
#include <gtest/gtest.h>

namespace {

using cwts::net::header_u64;
using cwts::net::retry_after_s;

TEST(HttpHeader, ANumberIsItsLeadingDigitsAndAnAbsentOneIsZero) {
  boost::beast::http::fields h;
  EXPECT_EQ(header_u64(h, "X-MBX-USED-WEIGHT-1M"), 0U);
  h.set("X-MBX-USED-WEIGHT-1M", "1234");
  EXPECT_EQ(header_u64(h, "X-MBX-USED-WEIGHT-1M"), 1234U);
  EXPECT_EQ(header_u64(h, "x-mbx-used-weight-1m"), 1234U) << "header names are case-insensitive";
  h.set("X-MBX-ORDER-COUNT-10S", "12 ");
  EXPECT_EQ(header_u64(h, "X-MBX-ORDER-COUNT-10S"), 12U);
  h.set("X-MBX-ORDER-COUNT-1D", "-5");
  EXPECT_EQ(header_u64(h, "X-MBX-ORDER-COUNT-1D"), 0U);
  h.set("X-MBX-ORDER-COUNT-1D", "");
  EXPECT_EQ(header_u64(h, "X-MBX-ORDER-COUNT-1D"), 0U);
}

TEST(HttpHeader, AHugeNumberSaturatesInsteadOfWrapping) {
  boost::beast::http::fields h;
  h.set("X-MBX-USED-WEIGHT-1M", "18446744073709551615");
  EXPECT_EQ(header_u64(h, "X-MBX-USED-WEIGHT-1M"), UINT64_MAX);
  h.set("X-MBX-USED-WEIGHT-1M", "99999999999999999999999");
  EXPECT_EQ(header_u64(h, "X-MBX-USED-WEIGHT-1M"), UINT64_MAX);
}

TEST(HttpHeader, RetryAfterIsCappedAtBinancesLongestBan) {
  boost::beast::http::fields h;
  EXPECT_EQ(retry_after_s(h), 0);
  h.set(boost::beast::http::field::retry_after, "7");
  EXPECT_EQ(retry_after_s(h), 7);
  h.set(boost::beast::http::field::retry_after, "99999999999999999999999");
  EXPECT_EQ(retry_after_s(h), cwts::net::kMaxRetryAfterS);
  h.set(boost::beast::http::field::retry_after, "Wed, 21 Oct 2026 07:28:00 GMT");
  EXPECT_EQ(retry_after_s(h), 0)
      << "an HTTP date is not Binance's form; the caller's default applies";
}

}  // namespace
