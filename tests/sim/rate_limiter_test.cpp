// RateLimiter: epoch-aligned windows, headers, 429 then 418 with growing bans, ORDERS limits.
#include "cwts/sim/rate_limiter.hpp"

#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "cwts/binance/json_responses.hpp"
#include "cwts/binance/rate_limits.hpp"
#include "sim_test_util.hpp"

namespace {

using namespace cwts::binance;
using namespace cwts::sim;
namespace md = cwts::md;
namespace binance = cwts::binance;

constexpr std::int64_t kMinute0 = 1'700'000'040'000;  // a minute boundary (and a 10 s one)
static_assert(kMinute0 % 60'000 == 0);

std::string header(const RateLimiter& rl, std::int64_t now, const std::string& name,
                   bool orders = false) {
  for (const auto& [k, v] : rl.headers(now, orders)) {
    if (k == name) return v;
  }
  return "<absent>";
}

// A 429 sent outside the windows (cwts-sim's injected fault): requests before its Retry-After
// has passed get 429, a few (already on their way), then 418 and a ban like requests that went
// on over the limit.
TEST(RateLimiterTest, RequestsGoingOnInsideAnInjected429sRetryAfterAre418) {
  RateLimiter rl(cwts::sim::test::info2023().rate_limits);
  const std::int64_t t = kMinute0 + 1'000;
  rl.back_off(t, 3);
  for (int k = 0; k < RateLimiter::kBackoffForgiven; ++k) {
    const RateVerdict in_flight = rl.admit(t + 10, 1);
    EXPECT_EQ(in_flight.http_status, 429);
    EXPECT_EQ(in_flight.retry_after_s, 3);
  }
  const RateVerdict early = rl.admit(t + 2'999, 1);
  EXPECT_EQ(early.http_status, 418);
  EXPECT_EQ(early.banned_until_ms, t + 2'999 + 120'000);
  // Weight that is no request (a WebSocket API connection) is counted, and neither refused nor
  // taken for a request that ignored the back-off.
  RateLimiter charged(cwts::sim::test::info2023().rate_limits);
  charged.back_off(t, 3);
  for (int k = 0; k < 10; ++k) charged.charge(t + 10, 2);
  EXPECT_EQ(header(charged, t + 10, "X-MBX-USED-WEIGHT-1M"), "20");
  EXPECT_EQ(charged.admit(t + 20, 1).http_status, 429);  // the first forgiven request
  RateLimiter waited(cwts::sim::test::info2023().rate_limits);
  waited.back_off(t, 3);
  EXPECT_EQ(waited.admit(t + 3'000, 1).http_status, 200);  // Retry-After honoured
}

TEST(RateLimiterTest, WeightOverTheLimitIs429ThenContinuingIs418) {
  RateLimiter rl(cwts::sim::test::info2023().rate_limits);
  const std::int64_t t = kMinute0 + 50'000;
  EXPECT_EQ(rl.admit(t, 5999).http_status, 200);
  EXPECT_EQ(header(rl, t, "X-MBX-USED-WEIGHT-1M"), "5999");
  EXPECT_EQ(rl.admit(t, 1).http_status, 200);  // exactly the limit is allowed
  EXPECT_EQ(header(rl, t, "X-MBX-USED-WEIGHT-1M"), "6000");

  const RateVerdict limited = rl.admit(t + 1, 1);
  EXPECT_EQ(limited.http_status, 429);
  EXPECT_EQ(limited.retry_after_s, 10);  // 9.999 s to the next minute, rounded up
  EXPECT_EQ(limited.error.http_status, 429);
  EXPECT_EQ(
      error_json(limited.error),
      R"({"code":-1003,"msg":"Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."})");
  EXPECT_EQ(header(rl, t + 1, "X-MBX-USED-WEIGHT-1M"), "6001");

  // The requests already on their way get 429 too (forgiven); going on past them is a ban.
  for (int k = 0; k < RateLimiter::kBackoffForgiven; ++k)
    EXPECT_EQ(rl.admit(t + 2, 1).http_status, 429);
  const RateVerdict banned = rl.admit(t + 2, 1);
  const std::int64_t until = t + 2 + 120'000;  // first ban: 2 minutes
  EXPECT_EQ(banned.http_status, 418);
  EXPECT_EQ(banned.error.http_status, 418);
  EXPECT_EQ(banned.retry_after_s, 120);
  EXPECT_EQ(banned.banned_until_ms, until);
  EXPECT_EQ(error_json(banned.error),
            R"({"code":-1003,"msg":"Way too much request weight used; IP banned until )" +
                std::to_string(until) +
                R"(. Please use WebSocket Streams for live updates to avoid bans."})");

  // The ban outlives the weight window.
  const RateVerdict still = rl.admit(kMinute0 + 60'005, 1);
  EXPECT_EQ(still.http_status, 418);
  EXPECT_EQ(still.retry_after_s, (until - (kMinute0 + 60'005) + 999) / 1000);
  EXPECT_EQ(rl.admit(until - 1, 1).http_status, 418);
  EXPECT_EQ(rl.admit(until, 1).http_status, 200);
  EXPECT_EQ(header(rl, until, "X-MBX-USED-WEIGHT-1M"), "1");
}

TEST(RateLimiterTest, RepeatedBansDoubleUpToThreeDays) {
  BanPolicy policy;
  RateLimiter rl({{binance::RateLimitType::kRequestWeight, binance::RateInterval::kMinute, 1, 10}},
                 policy);
  std::int64_t t = kMinute0;
  std::int64_t expected = 120'000;
  for (int i = 0; i < 15; ++i) {
    t = (t / 60'000 + 1) * 60'000;  // a fresh window
    EXPECT_EQ(rl.admit(t, 11).http_status, 429);
    for (int k = 0; k < RateLimiter::kBackoffForgiven; ++k) (void)rl.admit(t, 1);  // on their way
    const RateVerdict v = rl.admit(t, 1);
    ASSERT_EQ(v.http_status, 418);
    EXPECT_EQ(v.banned_until_ms - t, expected) << i;
    expected = std::min<std::int64_t>(expected * 2, 3 * 86'400'000);
    t = v.banned_until_ms;
  }
  EXPECT_EQ(expected, 3 * 86'400'000);
}

TEST(RateLimiterTest, WindowsAreFixedAndAlignedToTheEpoch) {
  RateLimiter rl(cwts::sim::test::info2023().rate_limits);
  EXPECT_EQ(rl.admit(kMinute0 + 59'999, 100).http_status, 200);
  EXPECT_EQ(header(rl, kMinute0 + 59'999, "X-MBX-USED-WEIGHT-1M"), "100");
  // One millisecond later is a new minute: the count starts again.
  EXPECT_EQ(header(rl, kMinute0 + 60'000, "X-MBX-USED-WEIGHT-1M"), "0");
  EXPECT_EQ(rl.admit(kMinute0 + 60'000, 20).http_status, 200);
  EXPECT_EQ(header(rl, kMinute0 + 60'000, "X-MBX-USED-WEIGHT-1M"), "20");
  const auto usage = rl.usage(kMinute0 + 60'000);
  ASSERT_EQ(usage.size(), 3U);  // weight 1M, orders 10S, orders 1D (RAW_REQUESTS ignored)
  EXPECT_EQ(usage[0].count, 20U);
  EXPECT_EQ(usage[0].limit.limit, 6000U);
}

TEST(RateLimiterTest, OrderCountsPerTenSecondsAndPerDay) {
  RateLimiter rl(cwts::sim::test::info2023().rate_limits);
  const std::int64_t t = kMinute0 + 3'000;
  for (int i = 0; i < 100; ++i) ASSERT_EQ(rl.admit(t, 1, 1).http_status, 200) << i;
  EXPECT_EQ(header(rl, t, "X-MBX-ORDER-COUNT-10S", true), "100");
  EXPECT_EQ(header(rl, t, "X-MBX-ORDER-COUNT-1D", true), "100");
  EXPECT_EQ(header(rl, t, "X-MBX-ORDER-COUNT-10S", false), "<absent>");
  const RateVerdict v = rl.admit(t + 500, 1, 1);
  EXPECT_EQ(v.http_status, 429);
  EXPECT_EQ(v.retry_after_s, 7);  // 6.5 s to the next 10 s boundary
  EXPECT_EQ(
      error_json(v.error),
      R"({"code":-1015,"msg":"Too many new orders; current limit is 100 orders per 10 SECOND."})");
  // A rejected order is not counted; orders never lead to a ban.
  EXPECT_EQ(header(rl, t + 500, "X-MBX-ORDER-COUNT-10S", true), "100");
  EXPECT_EQ(rl.admit(t + 600, 1, 1).http_status, 429);
  EXPECT_EQ(rl.admit(t + 700, 1).http_status, 200);  // non-order requests go on
  EXPECT_EQ(rl.admit(kMinute0 + 10'000, 1, 1).http_status, 200);
  EXPECT_EQ(header(rl, kMinute0 + 10'000, "X-MBX-ORDER-COUNT-10S", true), "1");
  EXPECT_EQ(header(rl, kMinute0 + 10'000, "X-MBX-ORDER-COUNT-1D", true), "101");
}

TEST(RateLimiterTest, DailyOrderLimitResetsAtMidnightUtc) {
  RateLimiter rl({{binance::RateLimitType::kOrders, binance::RateInterval::kDay, 1, 3}});
  const std::int64_t midnight = 1'700'006'400'000;  // 2023-11-15T00:00:00Z
  static_assert(midnight % 86'400'000 == 0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rl.admit(midnight - 1000, 0, 1).http_status, 200);
  const RateVerdict v = rl.admit(midnight - 1000, 0, 1);
  EXPECT_EQ(v.http_status, 429);
  EXPECT_EQ(v.retry_after_s, 1);
  EXPECT_EQ(v.error.msg, "Too many new orders; current limit is 3 orders per 1 DAY.");
  EXPECT_EQ(rl.admit(midnight, 0, 1).http_status, 200);
  EXPECT_EQ(header(rl, midnight, "X-MBX-ORDER-COUNT-1D", true), "1");
}

TEST(RateLimiterTest, HeaderSuffixes) {
  EXPECT_EQ(interval_suffix(
                {binance::RateLimitType::kRequestWeight, binance::RateInterval::kMinute, 1, 1}),
            "1M");
  EXPECT_EQ(
      interval_suffix({binance::RateLimitType::kOrders, binance::RateInterval::kSecond, 10, 1}),
      "10S");
  EXPECT_EQ(interval_suffix({binance::RateLimitType::kOrders, binance::RateInterval::kDay, 1, 1}),
            "1D");
  EXPECT_EQ(interval_suffix({binance::RateLimitType::kOrders, binance::RateInterval::kHour, 2, 1}),
            "2H");
}

// Binance's published depth weights at each boundary (rest-api.md; USD-M's futures docs).
TEST(RateLimiterTest, DepthSnapshotWeightsAtEachBoundary) {
  struct Row {
    std::int64_t limit;
    std::uint32_t spot, usdm;
  };
  for (const Row& r : {Row{1, 5, 2}, Row{50, 5, 2}, Row{51, 5, 5}, Row{100, 5, 5}, Row{101, 25, 10},
                       Row{500, 25, 10}, Row{501, 50, 20}, Row{1000, 50, 20}, Row{1001, 250, 20},
                       Row{5000, 250, 20}}) {
    EXPECT_EQ(spot_depth_weight(r.limit), r.spot) << r.limit;
    EXPECT_EQ(usdm_depth_weight(r.limit), r.usdm) << r.limit;
  }
}

}  // namespace
