// Binance's order-book sync rules, case by case, for spot and USD-M futures.
#include "cwts/md/book_sync.hpp"

#include <vector>

#include <gtest/gtest.h>

namespace {

namespace md = cwts::md;
using md::DiffOutcome;
using md::SnapshotOutcome;

md::DepthMsg diff(std::uint64_t U, std::uint64_t u, std::uint64_t pu = 0) {
  md::DepthMsg d{};
  d.first_id = U;
  d.last_id = u;
  d.prev_id = pu;
  d.has_prev_id = pu != 0;
  return d;
}

const std::vector<md::Level> kBids = {{100, 5}, {99, 7}};
const std::vector<md::Level> kAsks = {{101, 3}, {102, 4}};
const std::vector<md::Level> kNone;

TEST(OrderBookTest, SetsRemovesAndOrdersLevels) {
  md::OrderBook b(4);
  b.set_bid(md::Price{10}, md::Qty{1});
  b.set_bid(md::Price{12}, md::Qty{2});
  b.set_bid(md::Price{11}, md::Qty{3});
  b.set_ask(md::Price{15}, md::Qty{1});
  b.set_ask(md::Price{13}, md::Qty{1});
  EXPECT_EQ(b.bid(0).px.raw, 12);
  EXPECT_EQ(b.bid(2).px.raw, 10);
  EXPECT_EQ(b.ask(0).px.raw, 13);
  EXPECT_TRUE(b.set_bid(md::Price{12}, md::Qty{9}));
  EXPECT_EQ(b.bid(0).qty.raw, 9);
  EXPECT_FALSE(b.set_bid(md::Price{12}, md::Qty{9}));  // unchanged
  EXPECT_TRUE(b.set_bid(md::Price{12}, md::Qty{0}));
  EXPECT_FALSE(b.set_bid(md::Price{50}, md::Qty{0}));  // removing an absent level is normal
  EXPECT_EQ(b.bid(0).px.raw, 11);
  EXPECT_FALSE(b.crossed());
  b.set_bid(md::Price{13}, md::Qty{1});
  EXPECT_TRUE(b.crossed());
}

TEST(BookSyncSpotTest, DiffsBufferedBeforeSnapshotApplyAfterIt) {
  md::BookSync s(md::SyncVenue::kSpot);
  EXPECT_EQ(s.on_diff(diff(90, 100), kNone, kNone), DiffOutcome::kBuffered);  // u <= lastUpdateId
  EXPECT_EQ(s.on_diff(diff(101, 105), {{{100, 6}}}, kNone), DiffOutcome::kBuffered);
  EXPECT_EQ(s.on_diff(diff(106, 106), kNone, {{{101, 0}}}), DiffOutcome::kBuffered);
  EXPECT_EQ(s.on_snapshot(100, kBids, kAsks), SnapshotOutcome::kSynced);
  EXPECT_TRUE(s.valid());
  EXPECT_EQ(s.update_id(), 106U);
  EXPECT_EQ(s.stats().applied, 2U);
  EXPECT_EQ(s.stats().dropped, 1U);
  EXPECT_EQ(s.book().bid(0).qty.raw, 6);
  EXPECT_EQ(s.book().ask(0).px.raw, 102);
}

// A snapshot reaches some depth; past its deepest level the venue's levels are known only where a
// diff touched them, so the whole part of each side ends there (what the region publishes).
TEST(BookSyncSpotTest, TheWholeBookEndsAtTheSnapshotsDeepestLevel) {
  md::BookSync s(md::SyncVenue::kSpot);
  ASSERT_EQ(s.on_snapshot(100, {{{100, 5}, {98, 7}, {96, 1}}}, {{{101, 3}, {102, 4}}}),
            SnapshotOutcome::kSynced);
  EXPECT_EQ(s.known_bid_levels(10), 3U);
  EXPECT_EQ(s.known_bid_levels(2), 2U);
  EXPECT_EQ(s.known_ask_levels(10), 2U);
  // 98 leaves, 95 arrives past the snapshot's 96, 103 past its 102: held, not whole.
  ASSERT_EQ(s.on_diff(diff(101, 101), {{{98, 0}, {95, 2}}}, {{{103, 1}}}), DiffOutcome::kApplied);
  EXPECT_EQ(s.book().bid_levels(), 3U);
  EXPECT_EQ(s.known_bid_levels(10), 2U);  // 100, 96
  EXPECT_EQ(s.known_ask_levels(10), 2U);  // 101, 102
  // A level inside the snapshot's reach is whole as it comes.
  ASSERT_EQ(s.on_diff(diff(102, 102), {{{97, 1}}}, kNone), DiffOutcome::kApplied);
  EXPECT_EQ(s.known_bid_levels(10), 3U);
  // The best levels all gone, a level past the reach is still not shown as the book.
  ASSERT_EQ(s.on_diff(diff(103, 103), {{{100, 0}, {97, 0}, {96, 0}}}, kNone),
            DiffOutcome::kApplied);
  EXPECT_EQ(s.known_bid_levels(10), 0U);
  // A side the snapshot had empty is whole: every level on it came from a diff.
  md::BookSync e(md::SyncVenue::kSpot);
  ASSERT_EQ(e.on_snapshot(200, kNone, {{{101, 3}}}), SnapshotOutcome::kSynced);
  ASSERT_EQ(e.on_diff(diff(201, 201), {{{90, 1}, {80, 1}}}, {{{150, 1}}}), DiffOutcome::kApplied);
  EXPECT_EQ(e.known_bid_levels(10), 2U);
  EXPECT_EQ(e.known_ask_levels(10), 1U);
}

TEST(BookSyncSpotTest, SnapshotInsideAFirstDiffsRangeIsBridged) {
  md::BookSync s(md::SyncVenue::kSpot);
  (void)s.on_diff(diff(95, 110), kNone, kNone);
  EXPECT_EQ(s.on_snapshot(100, kBids, kAsks), SnapshotOutcome::kSynced);
  EXPECT_EQ(s.update_id(), 110U);
}

TEST(BookSyncSpotTest, SnapshotOlderThanFirstBufferedDiffMustBeRefetched) {
  md::BookSync s(md::SyncVenue::kSpot);
  (void)s.on_diff(diff(200, 210), kNone, kNone);
  EXPECT_EQ(s.on_snapshot(150, kBids, kAsks), SnapshotOutcome::kTooOld);
  EXPECT_FALSE(s.valid());
  EXPECT_EQ(s.buffered_diffs(), 1U);  // kept for the next snapshot
  EXPECT_EQ(s.on_snapshot(205, kBids, kAsks), SnapshotOutcome::kSynced);
  EXPECT_EQ(s.update_id(), 210U);
}

TEST(BookSyncSpotTest, GapInLiveBookInvalidatesAndAsksForSnapshot) {
  md::BookSync s(md::SyncVenue::kSpot);
  ASSERT_EQ(s.on_snapshot(100, kBids, kAsks), SnapshotOutcome::kSynced);
  EXPECT_EQ(s.on_diff(diff(101, 103), kNone, kNone), DiffOutcome::kApplied);
  EXPECT_EQ(s.on_diff(diff(102, 103), kNone, kNone), DiffOutcome::kDropped);
  EXPECT_EQ(s.on_diff(diff(105, 107), kNone, kNone), DiffOutcome::kGap);
  EXPECT_FALSE(s.valid());
  EXPECT_EQ(s.stats().gaps, 1U);
  EXPECT_EQ(s.book().bid_levels(), 0U);
  EXPECT_EQ(s.buffered_diffs(), 1U);  // the gapping diff waits for the new snapshot
  EXPECT_EQ(s.on_diff(diff(108, 108), kNone, kNone), DiffOutcome::kBuffered);
  EXPECT_EQ(s.on_snapshot(107, kBids, kAsks), SnapshotOutcome::kSynced);
  EXPECT_EQ(s.update_id(), 108U);
}

TEST(BookSyncSpotTest, BufferedDiffsThatDoNotConnectFailTheSnapshot) {
  md::BookSync s(md::SyncVenue::kSpot);
  (void)s.on_diff(diff(101, 102), kNone, kNone);
  (void)s.on_diff(diff(110, 111), kNone, kNone);  // missing 103..109
  EXPECT_EQ(s.on_snapshot(101, kBids, kAsks), SnapshotOutcome::kGap);
  EXPECT_FALSE(s.valid());
}

TEST(BookSyncSpotTest, CrossedBookIsInvalidated) {
  md::BookSync s(md::SyncVenue::kSpot);
  ASSERT_EQ(s.on_snapshot(100, kBids, kAsks), SnapshotOutcome::kSynced);
  EXPECT_EQ(s.on_diff(diff(101, 101), {{{101, 1}}}, kNone), DiffOutcome::kCrossed);
  EXPECT_FALSE(s.valid());
  EXPECT_EQ(s.stats().crossed, 1U);
  EXPECT_EQ(s.stats().resyncs, 1U);
}

TEST(BookSyncSpotTest, InvalidateDropsTheBookUntilNextSnapshot) {
  md::BookSync s(md::SyncVenue::kSpot);
  ASSERT_EQ(s.on_snapshot(100, kBids, kAsks), SnapshotOutcome::kSynced);
  s.invalidate();
  EXPECT_FALSE(s.valid());
  EXPECT_EQ(s.on_diff(diff(101, 101), kNone, kNone), DiffOutcome::kBuffered);
  EXPECT_EQ(s.on_snapshot(100, kBids, kAsks), SnapshotOutcome::kSynced);
  EXPECT_EQ(s.on_snapshot(100, kBids, kAsks), SnapshotOutcome::kIgnored);
}

TEST(BookSyncSpotTest, BufferOverflowStartsOverWithoutCorruptingTheBook) {
  md::BookSync s(md::SyncVenue::kSpot, 4, 1024);
  for (std::uint64_t i = 0; i < 6; ++i) (void)s.on_diff(diff(101 + i, 101 + i), kNone, kNone);
  EXPECT_EQ(s.stats().buffer_overflows, 1U);
  EXPECT_EQ(s.buffered_diffs(), 2U);
  EXPECT_EQ(s.on_snapshot(100, kBids, kAsks), SnapshotOutcome::kTooOld);
  EXPECT_EQ(s.on_snapshot(104, kBids, kAsks), SnapshotOutcome::kSynced);
  EXPECT_EQ(s.update_id(), 106U);
}

TEST(BookSyncFuturesTest, FirstDiffMustStraddleSnapshotThenPreviousIdsChain) {
  md::BookSync s(md::SyncVenue::kUsdmFutures);
  (void)s.on_diff(diff(80, 99, 79), kNone, kNone);     // u < lastUpdateId: dropped
  (void)s.on_diff(diff(100, 120, 99), kNone, kNone);   // U <= 100 <= u: first applied
  (void)s.on_diff(diff(121, 130, 120), kNone, kNone);  // pu == 120
  EXPECT_EQ(s.on_snapshot(100, kBids, kAsks), SnapshotOutcome::kSynced);
  EXPECT_EQ(s.update_id(), 130U);
  EXPECT_EQ(s.stats().dropped, 1U);
  EXPECT_EQ(s.on_diff(diff(131, 140, 130), kNone, kNone), DiffOutcome::kApplied);
  // A diff whose pu does not match the last u is a gap even if U looks contiguous.
  EXPECT_EQ(s.on_diff(diff(141, 150, 139), kNone, kNone), DiffOutcome::kGap);
}

TEST(BookSyncFuturesTest, SnapshotBeforeAnyDiffUsesFirstDiffRuleForTheNextDiff) {
  md::BookSync s(md::SyncVenue::kUsdmFutures);
  ASSERT_EQ(s.on_snapshot(1000, kBids, kAsks), SnapshotOutcome::kSynced);
  // The diff spanning lastUpdateId arrives after the snapshot; its pu is older than 1000.
  EXPECT_EQ(s.on_diff(diff(995, 1005, 990), {{{99, 2}}}, kNone), DiffOutcome::kApplied);
  EXPECT_EQ(s.on_diff(diff(1006, 1010, 1005), kNone, kNone), DiffOutcome::kApplied);
  EXPECT_EQ(s.on_diff(diff(1011, 1020, 1009), kNone, kNone), DiffOutcome::kGap);
}

TEST(OrderBookTest, LoadSortsAnyOrderAndKeepsLastDuplicate) {
  md::OrderBook b(8);
  b.load(std::vector<md::Level>{{100, 1}, {102, 2}, {101, 0}, {99, 3}, {102, 5}},
         std::vector<md::Level>{{105, 1}, {103, 2}, {104, 3}});
  ASSERT_EQ(b.bid_levels(), 3U);
  EXPECT_EQ(b.bid(0), (md::Level{102, 5}));
  EXPECT_EQ(b.bid(2), (md::Level{99, 3}));
  EXPECT_EQ(b.ask(0), (md::Level{103, 2}));
  EXPECT_EQ(b.ask(2), (md::Level{105, 1}));
}

TEST(BookSyncFuturesTest, DiffEndingExactlyAtSnapshotIsKeptForFuturesButDroppedForSpot) {
  md::BookSync fut(md::SyncVenue::kUsdmFutures);
  (void)fut.on_diff(diff(90, 100, 89), kNone, kNone);
  ASSERT_EQ(fut.on_snapshot(100, kBids, kAsks), SnapshotOutcome::kSynced);
  EXPECT_EQ(fut.stats().applied, 1U);
  md::BookSync spot(md::SyncVenue::kSpot);
  (void)spot.on_diff(diff(90, 100), kNone, kNone);
  ASSERT_EQ(spot.on_snapshot(100, kBids, kAsks), SnapshotOutcome::kSynced);
  EXPECT_EQ(spot.stats().applied, 0U);
  EXPECT_EQ(spot.stats().dropped, 1U);
}

}  // namespace
