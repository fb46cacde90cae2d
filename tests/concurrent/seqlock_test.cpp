// Single-thread protocol tests for Seqlock: states a concurrent writer can leave behind.
#include "cwts/concurrent/seqlock.hpp"

#include <cstdint>
#include <memory>

#include <gtest/gtest.h>

namespace {

using cwts::concurrent::Seqlock;

struct Payload {
  std::uint64_t a, b, c, d;
};

TEST(SeqlockTest, StoreThenLoadRoundTrips) {
  auto lock = std::make_unique<Seqlock<Payload>>();
  lock->store({1, 2, 3, 4});
  const Payload p = lock->load();
  EXPECT_EQ(p.a, 1U);
  EXPECT_EQ(p.d, 4U);
  lock->store({5, 6, 7, 8});
  EXPECT_EQ(lock->load().c, 7U);
}

TEST(SeqlockTest, VersionAdvancesByTwoPerStoreAndStaysEven) {
  auto lock = std::make_unique<Seqlock<Payload>>();
  EXPECT_EQ(lock->version(), 0U);
  lock->store({});
  lock->store({});
  EXPECT_EQ(lock->version(), 4U);
}

TEST(SeqlockTest, TryLoadRefusesWhileWriteInProgress) {
  auto lock = std::make_unique<Seqlock<Payload>>();
  lock->store({1, 1, 1, 1});
  // A writer that made seq odd and wrote half the payload (or was killed there).
  lock->seq += 1;
  lock->words[0] = 9;
  lock->words[1] = 9;
  Payload out{};
  EXPECT_FALSE(lock->try_load(out));
  EXPECT_FALSE(lock->load_bounded(out, 1000));
}

TEST(SeqlockTest, LoadBoundedSucceedsOnceWriterFinishes) {
  auto lock = std::make_unique<Seqlock<Payload>>();
  lock->seq = 1;  // in progress
  Payload out{};
  EXPECT_FALSE(lock->load_bounded(out, 10));
  lock->seq = 2;
  lock->words[2] = 42;
  ASSERT_TRUE(lock->load_bounded(out, 10));
  EXPECT_EQ(out.c, 42U);
}

TEST(SeqlockTest, LayoutPutsSequenceFirstOnItsOwnCacheLineStart) {
  static_assert(offsetof(Seqlock<Payload>, seq) == 0);
  static_assert(offsetof(Seqlock<Payload>, words) == 8);
  static_assert(alignof(Seqlock<Payload>) == 64);
  SUCCEED();
}

}  // namespace
