// Single-thread protocol tests for RecordRing: back-pressure, torn records, producer takeover.
#include "cwts/concurrent/record_ring.hpp"

#include <cstdint>
#include <memory>

#include <gtest/gtest.h>

namespace {

using cwts::concurrent::PopStatus;
using cwts::concurrent::PushStatus;
using cwts::concurrent::RecordConsumer;
using cwts::concurrent::RecordProducer;
using cwts::concurrent::RecordRing;
using cwts::concurrent::RingCursor;

struct Rec {
  std::uint64_t seq;
  std::uint64_t check;
};
constexpr std::size_t kN = 4;
using Ring = RecordRing<Rec, kN>;
using Producer = RecordProducer<Rec, kN>;
using Consumer = RecordConsumer<Rec, kN>;

Rec make(std::uint64_t s) { return {s, ~s}; }

struct Fixture {
  std::unique_ptr<Ring> ring = std::make_unique<Ring>();
  std::unique_ptr<RingCursor> cursor = std::make_unique<RingCursor>();
};

TEST(RecordRingTest, PushedRecordsArePoppedInOrderAcrossWraps) {
  Fixture f;
  Producer prod(*f.ring, *f.cursor);
  Consumer cons(*f.ring, *f.cursor);
  for (std::uint64_t s = 0; s < 5 * kN; ++s) {
    ASSERT_EQ(prod.try_push(make(s)), PushStatus::kOk);
    Rec out{};
    ASSERT_EQ(cons.try_pop(out), PopStatus::kOk);
    EXPECT_EQ(out.seq, s);
    EXPECT_EQ(out.check, ~s);
  }
  Rec out{};
  EXPECT_EQ(cons.try_pop(out), PopStatus::kEmpty);
  EXPECT_EQ(f.cursor->consumed(), 5 * kN);
}

TEST(RecordRingTest, FullRingRefusesPushAndKeepsEveryRecord) {
  Fixture f;
  Producer prod(*f.ring, *f.cursor);
  for (std::uint64_t s = 0; s < kN; ++s) ASSERT_EQ(prod.try_push(make(s)), PushStatus::kOk);
  EXPECT_EQ(prod.try_push(make(99)), PushStatus::kFull);
  EXPECT_EQ(prod.free_space(), 0U);
  Consumer cons(*f.ring, *f.cursor);
  Rec out{};
  ASSERT_EQ(cons.try_pop(out), PopStatus::kOk);
  EXPECT_EQ(out.seq, 0U);
  EXPECT_EQ(prod.try_push(make(kN)), PushStatus::kOk);
  for (std::uint64_t s = 1; s <= kN; ++s) {
    ASSERT_EQ(cons.try_pop(out), PopStatus::kOk);
    EXPECT_EQ(out.seq, s);
  }
}

TEST(RecordRingTest, RecordWithoutCommitWordIsNeverConsumed) {
  Fixture f;
  Producer prod(*f.ring, *f.cursor);
  ASSERT_EQ(prod.try_push(make(0)), PushStatus::kOk);
  // A producer killed after writing the payload of record 1 but before its commit word.
  auto& rec = f.ring->records[1];
  rec.words[0] = 1;
  rec.words[1] = 12345;
  Consumer cons(*f.ring, *f.cursor);
  Rec out{};
  ASSERT_EQ(cons.try_pop(out), PopStatus::kOk);
  EXPECT_EQ(cons.try_pop(out), PopStatus::kEmpty);
}

TEST(RecordRingTest, CommitWordFromPreviousLapIsNotMistakenForNewRecord) {
  Fixture f;
  Producer prod(*f.ring, *f.cursor);
  Consumer cons(*f.ring, *f.cursor);
  Rec out{};
  for (std::uint64_t s = 0; s < kN; ++s) {
    ASSERT_EQ(prod.try_push(make(s)), PushStatus::kOk);
    ASSERT_EQ(cons.try_pop(out), PopStatus::kOk);
  }
  // Slot 0 still carries record 0's commit (1); record kN would need kN + 1.
  EXPECT_EQ(f.ring->records[0].commit, 1U);
  EXPECT_EQ(cons.try_pop(out), PopStatus::kEmpty);
}

TEST(RecordRingTest, TakeoverProducerResumesAfterLastCommittedRecord) {
  Fixture f;
  {
    Producer dead(*f.ring, *f.cursor);
    ASSERT_EQ(dead.try_push(make(0)), PushStatus::kOk);
    ASSERT_EQ(dead.try_push(make(1)), PushStatus::kOk);
  }
  // Killed between the commit store and the tail hint: record 2 committed, tail still 2.
  f.ring->records[2].words[0] = 2;
  f.ring->records[2].words[1] = ~2ULL;
  f.ring->records[2].commit = 3;
  EXPECT_EQ(Producer::recover_tail(*f.ring), 3U);
  Producer next(*f.ring, *f.cursor);
  EXPECT_EQ(next.next_index(), 3U);
  ASSERT_EQ(next.try_push(make(3)), PushStatus::kOk);
  Consumer cons(*f.ring, *f.cursor);
  for (std::uint64_t s = 0; s <= 3; ++s) {
    Rec out{};
    ASSERT_EQ(cons.try_pop(out), PopStatus::kOk);
    EXPECT_EQ(out.seq, s);
  }
}

TEST(RecordRingTest, TakeoverProducerOverwritesTornRecord) {
  Fixture f;
  {
    Producer dead(*f.ring, *f.cursor);
    ASSERT_EQ(dead.try_push(make(0)), PushStatus::kOk);
  }
  f.ring->records[1].words[0] = 777;  // torn: no commit
  Producer next(*f.ring, *f.cursor);
  EXPECT_EQ(next.next_index(), 1U);
  ASSERT_EQ(next.try_push(make(1)), PushStatus::kOk);
  Consumer cons(*f.ring, *f.cursor);
  Rec out{};
  ASSERT_EQ(cons.try_pop(out), PopStatus::kOk);
  ASSERT_EQ(cons.try_pop(out), PopStatus::kOk);
  EXPECT_EQ(out.seq, 1U);
  EXPECT_EQ(out.check, ~1ULL);
}

TEST(RecordRingTest, ConsumerResumesFromItsSharedCursor) {
  Fixture f;
  Producer prod(*f.ring, *f.cursor);
  for (std::uint64_t s = 0; s < 3; ++s) ASSERT_EQ(prod.try_push(make(s)), PushStatus::kOk);
  {
    Consumer first(*f.ring, *f.cursor);
    Rec out{};
    ASSERT_EQ(first.try_pop(out), PopStatus::kOk);
  }
  Consumer second(*f.ring, *f.cursor);  // e.g. a restarted engine
  EXPECT_EQ(second.next_index(), 1U);
  EXPECT_EQ(second.backlog(), 2U);
}

// A producer killed between its commit and tail stores leaves the tail one short. Its successor's
// first push overwrites the slot of record next - N; an observer's only proof that its copy of
// that record is intact is tail < i + N, so the successor must publish the true tail before it
// writes anything there (issue 17 item 10).
TEST(RecordRingTest, TakeoverProducerPublishesTheRecoveredTailBeforeItsFirstPush) {
  Fixture f;
  Consumer cons(*f.ring, *f.cursor);
  {
    Producer dead(*f.ring, *f.cursor);
    Rec out{};
    for (std::uint64_t s = 0; s < kN; ++s) {
      ASSERT_EQ(dead.try_push(make(s)), PushStatus::kOk);
      ASSERT_EQ(cons.try_pop(out), PopStatus::kOk);
    }
  }
  // Record kN committed into slot 0, the tail hint still kN.
  f.ring->records[0].words[0] = kN;
  f.ring->records[0].words[1] = ~kN;
  f.ring->records[0].commit = kN + 1;
  Rec out{};
  ASSERT_TRUE(cwts::concurrent::observe_record(*f.ring, 1, out));
  Producer next(*f.ring, *f.cursor);
  EXPECT_EQ(f.ring->published(), kN + 1);
  // Record 1's slot is the one next's first push writes: observers must now refuse it.
  EXPECT_FALSE(cwts::concurrent::observe_record(*f.ring, 1, out));
}

}  // namespace

TEST(RecordRingTest, ObserverSeesCommittedRecordsWithoutConsumingAndRefusesOverwrittenOnes) {
  Fixture f;
  Producer prod(*f.ring, *f.cursor);
  Consumer cons(*f.ring, *f.cursor);
  Rec out{};
  EXPECT_FALSE(cwts::concurrent::observe_record(*f.ring, 0, out));  // nothing committed yet
  ASSERT_EQ(prod.try_push(make(0)), PushStatus::kOk);
  ASSERT_TRUE(cwts::concurrent::observe_record(*f.ring, 0, out));
  EXPECT_EQ(out.seq, 0U);
  EXPECT_EQ(f.cursor->consumed(), 0U);  // observing is not consuming
  ASSERT_EQ(cons.try_pop(out), PopStatus::kOk);
  ASSERT_TRUE(cwts::concurrent::observe_record(*f.ring, 0, out));  // still intact after the pop
  // Fill the ring past a lap: record 0's slot now holds record kN.
  for (std::uint64_t s = 1; s <= kN; ++s) {
    ASSERT_EQ(prod.try_push(make(s)), PushStatus::kOk);
    ASSERT_EQ(cons.try_pop(out), PopStatus::kOk);
  }
  EXPECT_FALSE(cwts::concurrent::observe_record(*f.ring, 0, out));
  ASSERT_TRUE(cwts::concurrent::observe_record(*f.ring, kN, out));
  EXPECT_EQ(out.seq, kN);
  EXPECT_EQ(out.check, ~kN);
  // The slot about to be reused (the producer's tail reached i + N) is refused even though its
  // commit word still reads i + 1.
  EXPECT_FALSE(cwts::concurrent::observe_record(*f.ring, 1, out));
}
