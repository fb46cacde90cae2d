// Single-thread protocol tests for BroadcastRing: ordering, laps and half-written slots.
#include "cwts/concurrent/broadcast_ring.hpp"

#include <cstdint>
#include <memory>

#include <gtest/gtest.h>

namespace {

using cwts::concurrent::BroadcastReader;
using cwts::concurrent::BroadcastRing;
using cwts::concurrent::ReadStatus;

struct Rec {
  std::uint64_t seq;
  std::uint64_t check;
};
constexpr std::size_t kN = 8;
using Ring = BroadcastRing<Rec, kN>;
using Reader = BroadcastReader<Rec, kN>;

Rec make(std::uint64_t s) { return {s, s * 0x9E3779B97F4A7C15ULL}; }

TEST(BroadcastRingTest, EmptyRingReadsNothing) {
  auto ring = std::make_unique<Ring>();
  Reader reader(*ring);
  Rec out{};
  EXPECT_EQ(reader.try_read(out), ReadStatus::kEmpty);
}

TEST(BroadcastRingTest, ReaderSeesEveryRecordInOrderAcrossWraps) {
  auto ring = std::make_unique<Ring>();
  Reader reader(*ring);
  for (std::uint64_t s = 1; s <= 10 * kN; ++s) {
    EXPECT_EQ(ring->publish(make(s)), s);
    Rec out{};
    std::uint64_t seq = 0;
    ASSERT_EQ(reader.try_read(out, &seq), ReadStatus::kOk);
    EXPECT_EQ(seq, s);
    EXPECT_EQ(out.seq, s);
    EXPECT_EQ(out.check, make(s).check);
  }
  Rec out{};
  EXPECT_EQ(reader.try_read(out), ReadStatus::kEmpty);
}

TEST(BroadcastRingTest, NewReaderStartsAfterExistingRecords) {
  auto ring = std::make_unique<Ring>();
  ring->publish(make(1));
  ring->publish(make(2));
  Reader reader(*ring);
  Rec out{};
  EXPECT_EQ(reader.try_read(out), ReadStatus::kEmpty);
  ring->publish(make(3));
  ASSERT_EQ(reader.try_read(out), ReadStatus::kOk);
  EXPECT_EQ(out.seq, 3U);
}

TEST(BroadcastRingTest, LappedReaderIsToldAndResyncsToNewest) {
  auto ring = std::make_unique<Ring>();
  Reader reader(*ring);
  for (std::uint64_t s = 1; s <= kN + 3; ++s) ring->publish(make(s));
  Rec out{};
  EXPECT_EQ(reader.try_read(out), ReadStatus::kLapped);
  EXPECT_EQ(reader.backlog(), kN + 3);
  EXPECT_EQ(reader.resync(), kN + 3);
  EXPECT_EQ(reader.try_read(out), ReadStatus::kEmpty);
  ring->publish(make(kN + 4));
  ASSERT_EQ(reader.try_read(out), ReadStatus::kOk);
  EXPECT_EQ(out.seq, kN + 4);
}

TEST(BroadcastRingTest, ReaderExactlyOneLapBehindCanStillReadOldestSlot) {
  auto ring = std::make_unique<Ring>();
  Reader reader(*ring);
  for (std::uint64_t s = 1; s <= kN; ++s) ring->publish(make(s));
  Rec out{};
  ASSERT_EQ(reader.try_read(out), ReadStatus::kOk);
  EXPECT_EQ(out.seq, 1U);
}

TEST(BroadcastRingTest, HalfWrittenSlotIsNotRead) {
  auto ring = std::make_unique<Ring>();
  Reader reader(*ring);
  ring->publish(make(1));
  // The writer started record 2 (odd marker, half the payload) and stopped.
  auto& slot = ring->slots[1];
  slot.seq = 2 * 2 - 1;
  slot.words[0] = 2;
  Rec out{};
  ASSERT_EQ(reader.try_read(out), ReadStatus::kOk);
  EXPECT_EQ(reader.try_read(out), ReadStatus::kEmpty);
  EXPECT_EQ(reader.try_read(out), ReadStatus::kEmpty);
}

TEST(BroadcastRingTest, SlotRewrittenForNextLapReportsLap) {
  auto ring = std::make_unique<Ring>();
  ring->publish(make(1));
  Reader reader(*ring, 1);
  // The writer is mid-way through record 1 + kN in the same slot.
  ring->slots[0].seq = 2 * (1 + kN) - 1;
  Rec out{};
  EXPECT_EQ(reader.try_read(out), ReadStatus::kLapped);
}

}  // namespace
