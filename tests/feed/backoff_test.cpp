// Backoff: full-jitter delays stay within the ceiling, the ceiling grows and caps, reset works.
#include "cwts/feed/backoff.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include <gtest/gtest.h>

namespace {

using cwts::feed::Backoff;
using cwts::feed::BackoffPolicy;
using std::chrono::milliseconds;

BackoffPolicy policy(int initial_ms, int max_ms, double mult) {
  BackoffPolicy p;
  p.initial = milliseconds{initial_ms};
  p.max = milliseconds{max_ms};
  p.multiplier = mult;
  return p;
}

TEST(BackoffTest, DefaultsMatchTheFeedPolicy) {
  const BackoffPolicy p;
  EXPECT_EQ(p.initial, milliseconds{100});
  EXPECT_EQ(p.max, milliseconds{30'000});
  EXPECT_DOUBLE_EQ(p.multiplier, 2.0);
  EXPECT_EQ(p.healthy_after, milliseconds{30'000});
}

TEST(BackoffTest, CeilingGrowsByMultiplierUntilCap) {
  Backoff b(policy(100, 30'000, 2.0), 1);
  const int expected[] = {100,   200,   400,   800,   1600,  3200, 6400,
                          12800, 25600, 30000, 30000, 30000, 30000};
  for (int want : expected) {
    EXPECT_EQ(b.ceiling(), milliseconds{want}) << "attempt " << b.attempts();
    (void)b.next();
  }
}

TEST(BackoffTest, EveryDelayIsWithinZeroAndTheCeiling) {
  Backoff b(policy(100, 30'000, 2.0), 7);
  for (int i = 0; i < 2000; ++i) {
    if (i % 20 == 0) b.reset();  // walk the whole range of ceilings many times
    const milliseconds c = b.ceiling();
    const milliseconds d = b.next();
    ASSERT_GE(d.count(), 0);
    ASSERT_LE(d, c);
  }
}

TEST(BackoffTest, JitterSpreadsOverTheWholeRange) {
  // Full jitter: at a fixed ceiling the delays cover [0, ceiling], not a narrow band near it.
  Backoff b(policy(1000, 1000, 2.0), 11);
  milliseconds lo{1000}, hi{0};
  double sum = 0;
  constexpr int kN = 4000;
  for (int i = 0; i < kN; ++i) {
    const milliseconds d = b.next();
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    sum += static_cast<double>(d.count());
  }
  EXPECT_LT(lo.count(), 50);
  EXPECT_GT(hi.count(), 950);
  EXPECT_NEAR(sum / kN, 500.0, 30.0);
}

TEST(BackoffTest, ResetReturnsToInitialCeiling) {
  Backoff b(policy(100, 30'000, 2.0), 3);
  for (int i = 0; i < 12; ++i) (void)b.next();
  EXPECT_EQ(b.ceiling(), milliseconds{30'000});
  b.reset();
  EXPECT_EQ(b.attempts(), 0U);
  EXPECT_EQ(b.ceiling(), milliseconds{100});
  EXPECT_LE(b.next(), milliseconds{100});
}

TEST(BackoffTest, SameSeedGivesSameSequence) {
  Backoff a(BackoffPolicy{}, 42), b(BackoffPolicy{}, 42), c(BackoffPolicy{}, 43);
  bool differs = false;
  for (int i = 0; i < 16; ++i) {
    const milliseconds x = a.next();
    EXPECT_EQ(x, b.next());
    differs = differs || x != c.next();
  }
  EXPECT_TRUE(differs);
}

TEST(BackoffTest, LongOutageNeitherOverflowsNorExceedsCap) {
  Backoff b(policy(100, 30'000, 2.0), 5);
  for (int i = 0; i < 100'000; ++i) ASSERT_LE(b.next(), milliseconds{30'000});
  EXPECT_EQ(b.ceiling(), milliseconds{30'000});
}

TEST(BackoffTest, UnusablePoliciesAreRefused) {
  EXPECT_THROW(Backoff(policy(0, 100, 2.0)), std::invalid_argument);
  EXPECT_THROW(Backoff(policy(200, 100, 2.0)), std::invalid_argument);
  EXPECT_THROW(Backoff(policy(100, 200, 0.5)), std::invalid_argument);
}

}  // namespace
