// Region create/attach: header validation, permissions, read-only enforcement, stale and
// restarted engines, and the real hugetlbfs path.
#include "cwts/shm/region.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cwts/shm/candle_history.hpp"

namespace {

namespace layout = cwts::layout;
namespace fs = std::filesystem;
using cwts::shm::Access;
using cwts::shm::Backing;
using cwts::shm::Region;
using cwts::shm::RegionErrc;
using cwts::shm::RegionError;
using cwts::shm::RegionOptions;
using layout::RegionKind;
using layout::RegionState;

// A private directory standing in for /dev/shm, and options pointing at it.
class RegionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/cwts-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    opts_.instance = "t" + std::to_string(::getpid());
    opts_.shm_dir = dir_;
    opts_.hugepage_dir = "";
    opts_.lock_pages = false;
  }
  void TearDown() override { fs::remove_all(dir_); }

  RegionErrc attach_error(RegionKind kind, Access access, std::string* what = nullptr) {
    try {
      (void)Region::attach(kind, access, opts_);
    } catch (const RegionError& e) {
      if (what != nullptr) *what = e.what();
      return e.code();
    }
    ADD_FAILURE() << "attach succeeded";
    return RegionErrc::kSystem;
  }

  // A live market region of capacity `cap` (the engine's handle) and a strategy's read-only view.
  struct LiveMarket {
    Region engine;
    Region reader;
  };
  LiveMarket live_market(const layout::MarketCapacity& cap) {
    opts_.market_capacity = cap;
    LiveMarket m;
    m.engine = Region::create(RegionKind::kMarket, opts_);
    m.engine.set_state(RegionState::kLive);
    m.reader = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
    return m;
  }

  std::string dir_;
  RegionOptions opts_;
};

TEST_F(RegionTest, ReaderSeesTheHeaderTheEngineWrote) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  Region reader = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  const auto& h = reader.header();
  EXPECT_EQ(h.magic, layout::kMarketMagic);
  EXPECT_EQ(h.layout_version, layout::kLayoutVersion);
  EXPECT_EQ(h.layout_hash, layout::kLayoutHash);
  EXPECT_EQ(h.engine_pid, ::getpid());
  EXPECT_EQ(h.instance.view(), opts_.instance);
  EXPECT_EQ(h.max_symbols, layout::kDefaultSymbols);
  EXPECT_EQ(h.max_slots, layout::kDefaultSlots);
  EXPECT_EQ(h.max_timeframes, layout::kMaxTimeframes);
  EXPECT_GE(reader.size(), layout::MarketRegion::bytes(layout::MarketCapacity{}));
  EXPECT_EQ(reader.backing(), Backing::kShm);
  EXPECT_EQ(reader.path(), dir_ + "/cwts-" + opts_.instance + "-market");
  // Data written through the engine's mapping is visible through the reader's.
  layout::Quote q{};
  q.bid_px.raw = 42;
  engine.as<layout::MarketRegion>().symbol(3).quote.store(q);
  EXPECT_EQ(reader.as<layout::MarketRegion>().symbol(3).quote.load().bid_px.raw, 42);
}

TEST_F(RegionTest, AttachWithoutEngineSaysWhereItLooked) {
  std::string what;
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what), RegionErrc::kNotFound);
  EXPECT_NE(what.find(dir_), std::string::npos) << what;
  EXPECT_NE(what.find("cwtsd"), std::string::npos) << what;
}

TEST_F(RegionTest, RegionStillStartingIsRetryable) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  try {
    (void)Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
    FAIL() << "attach to an initialising region succeeded";
  } catch (const RegionError& e) {
    EXPECT_EQ(e.code(), RegionErrc::kInitializing);
    EXPECT_TRUE(e.retryable());
  }
}

TEST_F(RegionTest, WrongVersionIsRefusedNamingBothVersionsAndHashes) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  engine.as<layout::RegionHeader>().layout_version = layout::kLayoutVersion + 41;
  engine.as<layout::RegionHeader>().layout_hash = 0x1234abcd5678ef00ULL;
  std::string what;
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what),
            RegionErrc::kVersionMismatch);
  EXPECT_NE(what.find("version " + std::to_string(layout::kLayoutVersion + 41)), std::string::npos)
      << what;
  EXPECT_NE(what.find("version " + std::to_string(layout::kLayoutVersion)), std::string::npos)
      << what;
  EXPECT_NE(what.find("0x1234abcd5678ef00"), std::string::npos) << what;
  char built[32];
  std::snprintf(built, sizeof built, "0x%016llx",
                static_cast<unsigned long long>(layout::kLayoutHash));
  EXPECT_NE(what.find(built), std::string::npos) << what;
}

TEST_F(RegionTest, SameVersionDifferentHashIsRefusedNamingBothHashes) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  engine.as<layout::RegionHeader>().layout_hash = 0xdeadbeef00000001ULL;
  std::string what;
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what), RegionErrc::kHashMismatch);
  EXPECT_NE(what.find("0xdeadbeef00000001"), std::string::npos) << what;
}

// ADR 0035: the capacities are the region's, chosen at creation and recorded in its header; the
// arrays after the fixed part are laid out from them, in the engine's and the reader's mapping.
TEST_F(RegionTest, AThousandSymbolsAndSixtyFourSlotsAreLaidOutFromTheHeadersCapacities) {
  auto [engine, reader] = live_market({1000, 64, 3});
  const auto& h = reader.header();
  EXPECT_EQ(h.max_symbols, 1000U);
  EXPECT_EQ(h.max_slots, 64U);
  EXPECT_EQ(h.max_timeframes, 3U);
  const std::size_t bytes = layout::MarketRegion::bytes({1000, 64, 3});
  EXPECT_EQ(bytes, sizeof(layout::MarketRegion) + 1000 * sizeof(layout::SymbolEntry) +
                       64 * sizeof(layout::SlotEngineSide) +
                       3000 * layout::CandleSeries::bytes(layout::kDefaultCandleHistory) +
                       1000 * layout::BookRecord::bytes(layout::kDefaultBookDepth));
  EXPECT_GE(reader.size(), bytes);
  EXPECT_EQ(h.region_size, reader.size());

  // The last entry of each array is inside the mapping, and each array starts where the one
  // before it ends: a write to one entry changes no other.
  auto& w = engine.as<layout::MarketRegion>();
  const auto& r = reader.as<layout::MarketRegion>();
  const auto* base = static_cast<const unsigned char*>(reader.data());
  const auto end_of = [&](const auto& x) {
    return static_cast<std::size_t>(reinterpret_cast<const unsigned char*>(&x) - base) + sizeof x;
  };
  EXPECT_EQ(end_of(r.symbol(999)), layout::MarketRegion::slots_offset({1000, 64, 3}));
  EXPECT_EQ(end_of(r.slot(63)), layout::MarketRegion::candles_offset({1000, 64, 3}));
  EXPECT_EQ(end_of(r.candles(999, 2).closed_slots()[layout::kDefaultCandleHistory - 1]),
            layout::MarketRegion::books_offset({1000, 64, 3}));
  layout::Quote q{};
  q.bid_px.raw = 999;
  w.symbol(999).quote.store(q);
  w.slot(63).accepted = 63;
  layout::Candle c{};
  c.open_time_ms = 60'000;
  w.candles(999, 2).live.store(c);
  w.candles(998, 2).live.store(layout::Candle{});
  EXPECT_EQ(r.symbol(999).quote.load().bid_px.raw, 999);
  EXPECT_EQ(r.symbol(998).quote.load().bid_px.raw, 0);
  EXPECT_EQ(r.slot(63).accepted, 63U);
  EXPECT_EQ(r.slot(62).accepted, 0U);
  EXPECT_EQ(r.candles(999, 2).live.load().open_time_ms, 60'000);
  EXPECT_EQ(r.candles(999, 1).live.load().open_time_ms, 0);
}

// ADR 0039: the candle history is the region's too. Each series keeps candle_history closed
// candles (its slots follow it in the region), a reader gets every one of them, and no series'
// slots reach into the next series.
TEST_F(RegionTest, TheCandleHistoryIsTheRegionsAndEveryCandleItKeepsIsRead) {
  const layout::MarketCapacity cap{8, 2, 2, 2048};
  auto [engine, reader] = live_market(cap);
  EXPECT_EQ(reader.header().candle_history, 2048U);
  const std::size_t bytes = layout::MarketRegion::bytes(cap);
  EXPECT_EQ(bytes, sizeof(layout::MarketRegion) + 8 * sizeof(layout::SymbolEntry) +
                       2 * sizeof(layout::SlotEngineSide) +
                       16 * (sizeof(layout::CandleSeries) + 2048 * 64) +
                       8 * layout::BookRecord::bytes(layout::kDefaultBookDepth));
  EXPECT_GE(reader.size(), bytes);
  auto& w = engine.as<layout::MarketRegion>();
  const auto& r = reader.as<layout::MarketRegion>();
  EXPECT_EQ(r.candle_history(), 2048U);
  const auto* base = static_cast<const unsigned char*>(reader.data());
  const auto* past_last =
      reinterpret_cast<const unsigned char*>(r.candles(7, 1).closed_slots() + 2048);
  EXPECT_EQ(static_cast<std::size_t>(past_last - base), layout::MarketRegion::books_offset(cap));

  const auto publish = [&](std::size_t sym, std::size_t tf, std::int64_t n) {
    for (std::int64_t s = 1; s <= n; ++s) {
      layout::Candle c{};
      c.open_time_ms = s * 60'000;
      c.close.raw = static_cast<std::int64_t>(sym * 1'000'000 + tf * 100'000) + s;
      c.closed = 1;
      w.closed_candles(sym, tf).publish(c);
    }
  };
  publish(3, 1, 3000);  // laps its ring once
  publish(3, 0, 7);
  publish(4, 0, 2048);  // the series after (3, 1): fills every slot
  std::vector<layout::Candle> rows;
  cwts::shm::read_closed_candles(r, 3, 1, 5000, rows);
  ASSERT_EQ(rows.size(), 2048U);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::int64_t s = 3000 - 2048 + 1 + static_cast<std::int64_t>(i);
    ASSERT_EQ(rows[i].open_time_ms, s * 60'000) << i;
    ASSERT_EQ(rows[i].close.raw, 3'100'000 + s) << i;
  }
  cwts::shm::read_closed_candles(r, 3, 1, 100, rows);
  ASSERT_EQ(rows.size(), 100U);
  EXPECT_EQ(rows.front().open_time_ms, 2901 * 60'000);
  cwts::shm::read_closed_candles(r, 3, 0, 5000, rows);
  ASSERT_EQ(rows.size(), 7U);
  EXPECT_EQ(rows.back().close.raw, 3'000'007);
  cwts::shm::read_closed_candles(r, 4, 0, 5000, rows);
  ASSERT_EQ(rows.size(), 2048U);
  EXPECT_EQ(rows.front().close.raw, 4'000'001);
  EXPECT_EQ(rows.back().close.raw, 4'002'048);
  cwts::shm::read_closed_candles(r, 2, 1, 5000, rows);
  EXPECT_TRUE(rows.empty());
}

// The gateway's kline streams send the candles closed since their last look: the newest 8 at
// most, and never more than the region keeps. A history under 8 (1, 2, 4 candles) gives what it
// keeps, not nothing (a cursor at a slot the ring has overwritten reads nothing), and each call
// says where the next one starts, so every candle is sent once.
TEST_F(RegionTest, TheCandlesClosedSinceASequenceAreTheNewestTheRingKeeps) {
  for (const std::uint32_t history : {1U, 2U, 4U, 512U}) {
    SCOPED_TRACE(history);
    opts_.market_capacity = layout::MarketCapacity{2, 1, 1, history};
    Region engine = Region::create(RegionKind::kMarket, opts_);
    engine.set_state(RegionState::kLive);
    auto& w = engine.as<layout::MarketRegion>();
    for (std::int64_t seq = 1; seq <= 7; ++seq) {
      layout::Candle c{};
      c.open_time_ms = seq * 1'000;
      c.closed = 1;
      w.closed_candles(0, 0).publish(c);
    }
    const auto seqs = [](const std::vector<layout::Candle>& rows) {
      std::vector<std::int64_t> v;
      for (const auto& c : rows) v.push_back(c.open_time_ms / 1'000);
      return v;
    };
    std::vector<layout::Candle> rows;
    // Sent up to 4 before; 5, 6 and 7 closed since: what the ring still holds of them.
    EXPECT_EQ(cwts::shm::read_closed_candles(w, 0, 0, 8, rows, 4), 7U);
    const std::vector<std::int64_t> since4 = history == 1   ? std::vector<std::int64_t>{7}
                                             : history == 2 ? std::vector<std::int64_t>{6, 7}
                                                            : std::vector<std::int64_t>{5, 6, 7};
    EXPECT_EQ(seqs(rows), since4);
    // Nothing closed since the last look: nothing, and the same place to start from.
    EXPECT_EQ(cwts::shm::read_closed_candles(w, 0, 0, 8, rows, 7), 7U);
    EXPECT_TRUE(rows.empty());
    // Fewer than asked for since the start: the newest `limit` of them.
    EXPECT_EQ(cwts::shm::read_closed_candles(w, 0, 0, 2, rows), 7U);
    EXPECT_EQ(seqs(rows),
              (history == 1 ? std::vector<std::int64_t>{7} : std::vector<std::int64_t>{6, 7}));
  }
}

// A region larger than its tmpfs has room for is refused when it is created, with the reason:
// sized sparsely, it would map fine and kill the engine with SIGBUS at the first write past the
// room (a container's 64 MB /dev/shm and a long candle history, ADR 0039).
TEST_F(RegionTest, ARegionItsDirectoryCannotHoldIsRefusedAtCreateNotAtItsFirstWrite) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  const std::string small = dir_ + "/small";
  ASSERT_TRUE(fs::create_directory(small));
  if (::mount("none", small.c_str(), "tmpfs", 0, "size=4m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  }
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount(dir.c_str()); }
  } unmount{small};
  opts_.shm_dir = small;
  opts_.market_capacity = {64, 16, 2, 1024};  // 13.8 MB
  try {
    Region r = Region::create(RegionKind::kMarket, opts_);
    ADD_FAILURE() << "created " << r.size() << " bytes in a 4 MB tmpfs";
  } catch (const RegionError& e) {
    EXPECT_EQ(e.code(), RegionErrc::kSystem);
    const std::string what = e.what();
    EXPECT_NE(what.find("cannot reserve"), std::string::npos) << what;
    EXPECT_NE(what.find(std::strerror(ENOSPC)), std::string::npos) << what;
  }
  EXPECT_TRUE(fs::is_empty(small)) << "the half-made file was left behind";
  opts_.market_capacity = {8, 2, 1, 16};  // fits
  Region fits = Region::create(RegionKind::kMarket, opts_);
  EXPECT_EQ(fits.header().candle_history, 16U);
}

// ADR 0042: the book depth is the region's. Each symbol's book holds book_depth levels a side
// after the candles; a reader gets the levels written, as many as it asks for, and no book
// reaches into the next one.
TEST_F(RegionTest, TheBookDepthIsTheRegionsAndEveryLevelItHoldsIsRead) {
  const layout::MarketCapacity cap{8, 2, 1, 512, 1000};
  auto [engine, reader] = live_market(cap);
  EXPECT_EQ(reader.header().book_depth, 1000U);
  const std::size_t bytes = layout::MarketRegion::bytes(cap);
  EXPECT_EQ(layout::BookRecord::bytes(1000), 32064U);  // 56 + 32,000, to a whole cache line
  EXPECT_EQ(bytes, layout::MarketRegion::books_offset(cap) + 8 * 32064);
  EXPECT_GE(reader.size(), bytes);
  auto& w = engine.as<layout::MarketRegion>();
  const auto& r = reader.as<layout::MarketRegion>();
  EXPECT_EQ(r.book_depth(), 1000U);

  // A whole book in the last entry, three levels a side in the one before.
  const auto word = [](std::size_t sym, std::size_t side, std::size_t i) {
    return static_cast<std::uint64_t>(sym * 10'000'000 + side * 1'000'000 + i + 1);
  };
  for (const std::size_t sym : {std::size_t{6}, std::size_t{7}}) {
    std::vector<std::uint64_t> levels(4 * 1000);
    for (std::size_t k = 0; k < 4; ++k)
      for (std::size_t i = 0; i < 1000; ++i) levels[k * 1000 + i] = word(sym, k, i);
    layout::BookHead h{};
    h.update_id = sym;
    h.bid_count = sym == 7 ? 1000 : 3;
    h.ask_count = sym == 7 ? 1000 : 3;
    h.book_valid = 1;
    w.store_book(sym, h, levels.data());
  }
  auto b = std::make_unique<layout::BookTop>();
  r.book(7).load(*b);
  ASSERT_EQ(b->bid_count, 1000U);
  ASSERT_EQ(b->ask_count, 1000U);
  EXPECT_EQ(b->update_id, 7U);
  for (std::size_t i = 0; i < 1000; ++i) {
    ASSERT_EQ(static_cast<std::uint64_t>(b->bid_px[i].raw), word(7, 0, i)) << i;
    ASSERT_EQ(static_cast<std::uint64_t>(b->bid_qty[i].raw), word(7, 1, i)) << i;
    ASSERT_EQ(static_cast<std::uint64_t>(b->ask_px[i].raw), word(7, 2, i)) << i;
    ASSERT_EQ(static_cast<std::uint64_t>(b->ask_qty[i].raw), word(7, 3, i)) << i;
  }
  r.book(6).load(*b);
  EXPECT_EQ(b->update_id, 6U);
  EXPECT_EQ(b->bid_count, 3U);
  EXPECT_EQ(static_cast<std::uint64_t>(b->ask_qty[2].raw), word(6, 3, 2));
  r.book(7).load(*b, 10);  // fewer asked: fewer copied
  EXPECT_EQ(b->bid_count, 10U);
  EXPECT_EQ(b->ask_count, 10U);
  EXPECT_EQ(static_cast<std::uint64_t>(b->ask_px[9].raw), word(7, 2, 9));
  r.book(5).load(*b);  // never written
  EXPECT_EQ(b->update_id, 0U);
  EXPECT_EQ(b->bid_count, 0U);
}

TEST_F(RegionTest, CapacitiesOutsideTheCompiledCeilingsAreRefusedAtCreate) {
  for (const layout::MarketCapacity cap :
       {layout::MarketCapacity{0, 16, 2},
        layout::MarketCapacity{static_cast<std::uint32_t>(layout::kMaxSymbols + 1), 16, 2},
        layout::MarketCapacity{64, static_cast<std::uint32_t>(layout::kMaxSlots + 1), 2},
        layout::MarketCapacity{64, 16, 0}, layout::MarketCapacity{64, 16, 2, 0},
        layout::MarketCapacity{64, 16, 2, 1000},
        layout::MarketCapacity{64, 16, 2,
                               static_cast<std::uint32_t>(layout::kMaxCandleHistory * 2)},
        layout::MarketCapacity{64, 16, 2, 512, 0},
        layout::MarketCapacity{64, 16, 2, 512,
                               static_cast<std::uint32_t>(layout::kMaxBookDepth + 1)}}) {
    opts_.market_capacity = cap;
    try {
      (void)Region::create(RegionKind::kMarket, opts_);
      ADD_FAILURE() << "created " << cap.symbols << "/" << cap.slots << "/" << cap.timeframes << "/"
                    << cap.candles << "/" << cap.book_depth;
    } catch (const RegionError& e) {
      EXPECT_EQ(e.code(), RegionErrc::kSizeMismatch);
      EXPECT_NE(std::string(e.what()).find("within 1.."), std::string::npos) << e.what();
    }
  }
}

// A reader lays out the arrays from the header, so a header that declares more than the file
// holds, or more than the reader's tables (the ceilings), is refused before anything is read.
TEST_F(RegionTest, AHeaderDeclaringMoreThanItsFileOrTheCeilingsIsRefused) {
  opts_.market_capacity = {100, 8, 2};
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  auto& h = engine.as<layout::RegionHeader>();
  std::string what;
  h.max_symbols = 200;  // the file holds 100
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what), RegionErrc::kSizeMismatch);
  EXPECT_NE(what.find("layout needs"), std::string::npos) << what;
  h.max_symbols = 100;
  h.max_slots = static_cast<std::uint32_t>(layout::kMaxSlots + 1);
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what), RegionErrc::kSizeMismatch);
  EXPECT_NE(what.find("max_slots"), std::string::npos) << what;
  h.max_slots = 8;
  h.max_timeframes = 0;
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what), RegionErrc::kSizeMismatch);
  h.max_timeframes = 2;
  h.candle_history = 1024;  // the file holds 512 per series
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what), RegionErrc::kSizeMismatch);
  EXPECT_NE(what.find("layout needs"), std::string::npos) << what;
  h.candle_history = 500;  // fits the file, but a reader masks sequences with it
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what), RegionErrc::kSizeMismatch);
  EXPECT_NE(what.find("candle_history 500 is not a power of two"), std::string::npos) << what;
  h.candle_history = 512;
  h.book_depth = 21;  // the file holds 20 levels a side per book
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what), RegionErrc::kSizeMismatch);
  EXPECT_NE(what.find("layout needs"), std::string::npos) << what;
  h.book_depth = 0;
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what), RegionErrc::kSizeMismatch);
  EXPECT_NE(what.find("book_depth 0 is not within"), std::string::npos) << what;
  h.book_depth = 20;
  EXPECT_NO_THROW((void)Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_));
}

TEST_F(RegionTest, WrongMagicIsNotACwtsRegion) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  engine.as<layout::RegionHeader>().magic = 0x4141414141414141ULL;
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly), RegionErrc::kBadMagic);
}

TEST_F(RegionTest, FilesGetTheConfiguredModes) {
  opts_.market_mode = 0640;
  opts_.signals_mode = 0660;
  ::umask(0077);  // must not matter
  Region market = Region::create(RegionKind::kMarket, opts_);
  Region signals = Region::create(RegionKind::kSignals, opts_);
  ::umask(0022);
  struct stat st {};
  ASSERT_EQ(::stat(market.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640U);
  ASSERT_EQ(::stat(signals.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660U);
}

TEST_F(RegionTest, FilesGetTheConfiguredGroup) {
  if (::geteuid() != 0) GTEST_SKIP() << "changing a file's group to another group needs root";
  const struct group* g = ::getgrnam("nogroup");
  if (g == nullptr) GTEST_SKIP() << "no 'nogroup' group on this machine";
  opts_.group = "nogroup";
  Region market = Region::create(RegionKind::kMarket, opts_);
  struct stat st {};
  ASSERT_EQ(::stat(market.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, g->gr_gid);
}

TEST_F(RegionTest, UnknownGroupIsAClearError) {
  opts_.group = "no-such-group-cwts";
  try {
    (void)Region::create(RegionKind::kMarket, opts_);
    FAIL() << "create with an unknown group succeeded";
  } catch (const RegionError& e) {
    EXPECT_EQ(e.code(), RegionErrc::kPermission);
    EXPECT_NE(std::string(e.what()).find("no-such-group-cwts"), std::string::npos);
  }
}

using RegionDeathTest = RegionTest;

TEST_F(RegionDeathTest, ReaderCannotWriteToTheMarketRegion) {
  // "fast" (fork, no re-exec): the child must not re-run SetUp and leave its own directory.
  GTEST_FLAG_SET(death_test_style, "fast");
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  Region reader = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  auto* header = const_cast<layout::RegionHeader*>(&reader.header());
  // The kernel enforces PROT_READ: the store faults.
  EXPECT_DEATH({ *reinterpret_cast<volatile std::uint64_t*>(&header->magic) = 1; }, "");
  EXPECT_EQ(reader.header().magic, layout::kMarketMagic);
}

TEST_F(RegionTest, RestartedEngineSupersedesOldMapping) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  Region reader = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  const auto epoch = reader.header().epoch_ns;
  EXPECT_FALSE(reader.superseded());
  engine.remove();
  EXPECT_TRUE(reader.superseded());
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly), RegionErrc::kNotFound);

  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  Region engine2 = Region::create(RegionKind::kMarket, opts_);
  engine2.set_state(RegionState::kLive);
  Region reader2 = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  EXPECT_GT(reader2.header().epoch_ns, epoch);
  EXPECT_TRUE(reader.superseded());
  EXPECT_FALSE(reader2.superseded());
}

TEST_F(RegionTest, ReaderRemoveNeverUnlinksTheEnginesRegion) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  Region reader = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  reader.remove();
  Region again = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  EXPECT_FALSE(again.superseded());
}

TEST_F(RegionTest, ClosedRegionIsRefusedAsClosed) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kClosed);
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly), RegionErrc::kClosed);
}

// Runs `fn` in a child process and returns its exit status.
template <typename Fn>
int in_child(Fn fn) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 1;
    try {
      rc = fn();
    } catch (...) {
      rc = 3;
    }
    ::_exit(rc);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_F(RegionTest, RegionOfDeadEngineIsStaleAndReplacedOnCreate) {
  // An engine that dies without removing its region (SIGKILL, crash).
  ASSERT_EQ(in_child([&] {
              Region r = Region::create(RegionKind::kMarket, opts_);
              r.set_state(RegionState::kLive);
              return 0;  // exits without remove()
            }),
            0);
  std::string what;
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what), RegionErrc::kStale);
  EXPECT_NE(what.find("is gone"), std::string::npos) << what;
  Region engine = Region::create(RegionKind::kMarket, opts_);
  EXPECT_EQ(engine.header().engine_pid, ::getpid());
}

TEST_F(RegionTest, SecondEngineIsRefusedWhileFirstRuns) {
  int to_child[2];
  int from_child[2];
  ASSERT_EQ(::pipe(to_child), 0);
  ASSERT_EQ(::pipe(from_child), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    Region r = Region::create(RegionKind::kMarket, opts_);
    r.set_state(RegionState::kLive);
    char c = 'r';
    (void)!::write(from_child[1], &c, 1);
    (void)!::read(to_child[0], &c, 1);  // wait until the parent is done
    r.remove();
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(from_child[0], &c, 1), 1);
  try {
    (void)Region::create(RegionKind::kMarket, opts_);
    ADD_FAILURE() << "second engine created the region";
  } catch (const RegionError& e) {
    EXPECT_EQ(e.code(), RegionErrc::kAlreadyServed);
    EXPECT_NE(std::string(e.what()).find(std::to_string(pid)), std::string::npos) << e.what();
  }
  (void)!::write(to_child[1], &c, 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) ::close(fd);
}

// The signals region is the engine's intake state only (ADR 0021: each slot's memory is handed
// over separately); strategies map it read-only and see the state the engine publishes.
TEST_F(RegionTest, StrategiesSeeTheSignalsRegionStateTheEnginePublishes) {
  Region created = Region::create(RegionKind::kSignals, opts_);
  created.set_state(RegionState::kLive);
  Region strategy = Region::attach(RegionKind::kSignals, Access::kReadOnly, opts_);
  EXPECT_EQ(strategy.access(), Access::kReadOnly);
  EXPECT_EQ(strategy.header().state, static_cast<std::uint64_t>(RegionState::kLive));
  created.set_state(RegionState::kStopping);
  EXPECT_EQ(strategy.header().state, static_cast<std::uint64_t>(RegionState::kStopping));
}

TEST_F(RegionDeathTest, StrategyCannotWriteToTheSignalsRegion) {
  GTEST_FLAG_SET(death_test_style, "fast");  // as above: no re-exec, no second SetUp
  Region engine = Region::create(RegionKind::kSignals, opts_);
  engine.set_state(RegionState::kLive);
  Region strategy = Region::attach(RegionKind::kSignals, Access::kReadOnly, opts_);
  auto* header = const_cast<layout::RegionHeader*>(&strategy.header());
  EXPECT_DEATH({ *reinterpret_cast<volatile std::uint64_t*>(&header->state) = 0; }, "");
  EXPECT_EQ(strategy.header().state, static_cast<std::uint64_t>(RegionState::kLive));
}

// --- liveness without a shared PID namespace (ADR 0027) ---

// An engine in a child process: creates the region, says so on `ready`, then waits for a signal.
pid_t start_child_engine(const RegionOptions& opts, pid_t forged_pid = 0) {
  int ready[2];
  if (::pipe(ready) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    try {
      Region r = Region::create(RegionKind::kMarket, opts);
      // The pid as another PID namespace would show it (or a pid that is nobody's here).
      if (forged_pid != 0) r.as<layout::RegionHeader>().engine_pid = forged_pid;
      r.set_state(RegionState::kLive);
      char c = 'r';
      (void)!::write(ready[1], &c, 1);
      for (;;) ::pause();
    } catch (...) {
      ::_exit(3);
    }
  }
  ::close(ready[1]);
  char c = 0;
  const bool ok = ::read(ready[0], &c, 1) == 1;
  ::close(ready[0]);
  if (!ok) {
    ::waitpid(pid, nullptr, 0);
    return -1;
  }
  return pid;
}

// Whether a read-only descriptor of `path` sees a write lock on it (what a strategy asks).
bool write_locked(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock fl {};
  fl.l_type = F_RDLCK;
  fl.l_whence = SEEK_SET;
  const bool conflict = ::fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type == F_WRLCK;
  ::close(fd);
  return conflict;
}

TEST_F(RegionTest, TheEnginesLockLivesWithItsProcessStoppedOrNotAndGoesWithSigkill) {
  const pid_t child = start_child_engine(opts_);
  ASSERT_GT(child, 0);
  const std::string path =
      opts_.shm_dir + "/" + cwts::shm::region_file_name(opts_.instance, RegionKind::kMarket);
  EXPECT_TRUE(write_locked(path)) << "a read-only descriptor sees the engine's lock";
  Region reader = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  EXPECT_NE(reader.header().flags & layout::kFlagEngineLock, 0U);
  EXPECT_FALSE(reader.superseded());

  ::kill(child, SIGSTOP);  // stopped is alive: it still holds the lock
  EXPECT_TRUE(write_locked(path));
  EXPECT_FALSE(reader.superseded());
  EXPECT_NO_THROW((void)Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_));

  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_FALSE(write_locked(path)) << "the kernel drops the lock with the process";
  EXPECT_TRUE(reader.superseded());
  std::string what;
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what), RegionErrc::kStale);
  EXPECT_NE(what.find("is gone"), std::string::npos) << what;
  // The next engine replaces the dead one's file.
  Region engine = Region::create(RegionKind::kMarket, opts_);
  EXPECT_EQ(engine.header().engine_pid, ::getpid());
}

TEST_F(RegionTest, AnEngineWhosePidThisProcessCannotSeeIsJudgedByItsLock) {
  // A pid above any pid_max: nobody's in this namespace, as the engine's pid is from another one.
  const pid_t child = start_child_engine(opts_, 0x7ffffff0);
  ASSERT_GT(child, 0);
  Region reader = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  EXPECT_EQ(reader.header().engine_pid, 0x7ffffff0);
  EXPECT_FALSE(reader.superseded());
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_TRUE(reader.superseded());
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly), RegionErrc::kStale);
}

TEST_F(RegionTest, AnotherNamespacesEngineWithThisProcesssPidIsNotReplaced) {
  // Two containers' engines may both be pid 1: the header's pid equal to ours says nothing.
  const pid_t child = start_child_engine(opts_, ::getpid());
  ASSERT_GT(child, 0);
  try {
    (void)Region::create(RegionKind::kMarket, opts_);
    ADD_FAILURE() << "a live engine's region was replaced";
  } catch (const RegionError& e) {
    EXPECT_EQ(e.code(), RegionErrc::kAlreadyServed) << e.what();
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_NO_THROW((void)Region::create(RegionKind::kMarket, opts_));
}

TEST_F(RegionTest, TheEnginesViewsKeepItsLockAfterTheCreatedHandleIsGone) {
  Region view;
  {
    Region engine = Region::create(RegionKind::kMarket, opts_);
    engine.set_state(RegionState::kLive);
    view = engine.view(Access::kReadOnly);
  }
  Region reader = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  EXPECT_FALSE(reader.superseded());
  EXPECT_FALSE(view.superseded());
  view = Region();
  EXPECT_TRUE(reader.superseded());
}

TEST(ProcessIdentityTest, LiveProcessMatchesItsStartTimeAndDeadOneDoesNot) {
  const auto me = cwts::shm::process_start_ticks(::getpid());
  EXPECT_GT(me, 0U);
  EXPECT_TRUE(cwts::shm::process_alive(::getpid(), me));
  EXPECT_FALSE(cwts::shm::process_alive(::getpid(), me + 1));  // a reused pid
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  // Unreaped: a zombie counts as dead.
  for (int i = 0; i < 200 && cwts::shm::process_alive(child, 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(cwts::shm::process_alive(child, 0));
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(cwts::shm::process_alive(child, 0));
}

// --- hostile files at the region's name (issue 17 item 3) ---

// A user created for one test and removed after it, so a file can be planted by someone other than
// the engine. Needs root.
class ThrowawayUser {
 public:
  explicit ThrowawayUser(char tag = 'a') {
    name_ = std::string("cwtst") + tag + std::to_string(::getpid() % 1000000);
    (void)!std::system(("userdel " + name_ + " >/dev/null 2>&1").c_str());
    const std::string cmd =
        "useradd --no-create-home --no-user-group --shell /usr/sbin/nologin " + name_ + " 2>&1";
    if (std::system(cmd.c_str()) != 0) return;
    const struct passwd* pw = ::getpwnam(name_.c_str());
    if (pw == nullptr) return;
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
    ok_ = true;
  }
  ~ThrowawayUser() { (void)!std::system(("userdel " + name_ + " >/dev/null 2>&1").c_str()); }
  ThrowawayUser(const ThrowawayUser&) = delete;
  ThrowawayUser& operator=(const ThrowawayUser&) = delete;

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] uid_t uid() const { return uid_; }

  // Runs `fn` in a child process that dropped to this user; returns its exit status.
  int run(const std::function<int()>& fn) const {
    return in_child([&] {
      if (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0) return 90;
      return fn();
    });
  }

 private:
  std::string name_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  bool ok_ = false;
};

// Runs `fn` in a child killed after `seconds`: a call that blocks forever shows up as 128 + SIGALRM
// instead of hanging the test.
int in_child_bounded(unsigned seconds, const std::function<int()>& fn) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(seconds);
    int rc = 1;
    try {
      rc = fn();
    } catch (...) {
      rc = 3;
    }
    ::_exit(rc);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Reads a whole file (the engine's region, to be copied by a forger).
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class HostileFileTest : public RegionTest {
 protected:
  void SetUp() override {
    RegionTest::SetUp();
    // A directory anyone may create files in, like /dev/shm (1777) or the hugetlbfs mount (1770).
    planted_dir_ = dir_ + "/planted";
    ASSERT_EQ(::mkdir(planted_dir_.c_str(), 0755), 0);
    ASSERT_EQ(::chmod(planted_dir_.c_str(), 01777), 0);
    ASSERT_EQ(::chmod(dir_.c_str(), 01777), 0);
  }
  std::string name(RegionKind kind) const {
    return cwts::shm::region_file_name(opts_.instance, kind);
  }
  std::string planted_dir_;
};

// The review's case: the engine's regions are in the shm directory; a group member copies the
// market region into the directory searched first and changes a quote. Readers must ignore it.
TEST_F(HostileFileTest, ForgedMarketRegionOfAnotherUserIsIgnored) {
  if (::geteuid() != 0) GTEST_SKIP() << "planting a file as another user needs root";
  ThrowawayUser forger;
  if (!forger.ok()) GTEST_SKIP() << "useradd failed";
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  layout::Quote q{};
  q.bid_px.raw = 42;
  engine.as<layout::MarketRegion>().symbol(3).quote.store(q);
  const std::string bytes = slurp(engine.path());
  ASSERT_GE(bytes.size(), layout::kMarketRegionBytes);
  const std::string forged = planted_dir_ + "/" + name(RegionKind::kMarket);
  ASSERT_EQ(forger.run([&] {
    const int fd = ::open(forged.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return 10;
    if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
      return 11;
    }
    void* p = ::mmap(nullptr, bytes.size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return 12;
    layout::Quote fake{};
    fake.bid_px.raw = 666;
    static_cast<layout::MarketRegion*>(p)->symbol(3).quote.store(fake);
    ::munmap(p, bytes.size());
    ::close(fd);
    return 0;
  }),
            0);
  opts_.hugepage_dir = planted_dir_;  // searched first
  Region reader = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  EXPECT_EQ(reader.path(), engine.path());
  EXPECT_EQ(reader.as<layout::MarketRegion>().symbol(3).quote.load().bid_px.raw, 42);

  // With the engine gone, the forged copy (which names a live pid) is refused, not mapped.
  engine.remove();
  std::string what;
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what), RegionErrc::kUntrusted);
  EXPECT_NE(what.find(forged), std::string::npos) << what;
  EXPECT_NE(what.find("uid " + std::to_string(forger.uid())), std::string::npos) << what;
}

TEST_F(HostileFileTest, FifoAtTheRegionNameDoesNotBlockAttach) {
  const std::string fifo = dir_ + "/" + name(RegionKind::kMarket);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0666), 0);
  for (const Access access : {Access::kReadOnly, Access::kReadWrite}) {
    const int rc = in_child_bounded(5, [&] {
      try {
        (void)Region::attach(RegionKind::kMarket, access, opts_);
        return 20;
      } catch (const RegionError& e) {
        return e.code() == RegionErrc::kUntrusted ? 0 : 21;
      }
    });
    EXPECT_EQ(rc, 0) << "128 + " << SIGALRM << " = attach blocked on the FIFO";
  }
}

TEST_F(HostileFileTest, FifoAtTheRegionNameDoesNotBlockCreate) {
  const std::string fifo = dir_ + "/" + name(RegionKind::kMarket);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0666), 0);
  const int rc = in_child_bounded(10, [&] {
    Region r = Region::create(RegionKind::kMarket, opts_);
    struct stat st {};
    if (::lstat(r.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return 30;
    return r.path() == fifo ? 0 : 31;
  });
  EXPECT_EQ(rc, 0) << "128 + " << SIGALRM << " = create blocked on the FIFO";
}

TEST_F(HostileFileTest, SymlinkAtTheRegionNameIsNotFollowed) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  // A link in the directory searched first, pointing at the real region: still not trusted.
  opts_.hugepage_dir = planted_dir_;
  const std::string link = planted_dir_ + "/" + name(RegionKind::kMarket);
  ASSERT_EQ(::symlink(engine.path().c_str(), link.c_str()), 0);
  Region reader = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  EXPECT_EQ(reader.path(), engine.path());
}

// Another user squats the name with a header naming a live process (pid 1): the engine must not
// take it for a running engine and refuse to start.
TEST_F(HostileFileTest, NameSquattedByAnotherUserDoesNotStopTheEngine) {
  if (::geteuid() != 0) GTEST_SKIP() << "planting a file as another user needs root";
  ThrowawayUser squatter;
  if (!squatter.ok()) GTEST_SKIP() << "useradd failed";
  layout::RegionHeader h{};
  h.magic = layout::kMarketMagic;
  h.layout_version = layout::kLayoutVersion;
  h.layout_hash = layout::kLayoutHash;
  h.region_kind = static_cast<std::uint32_t>(RegionKind::kMarket);
  h.region_size = layout::kMarketRegionBytes;
  h.engine_pid = 1;
  h.engine_start_ticks = cwts::shm::process_start_ticks(1);
  h.state = static_cast<std::uint64_t>(RegionState::kLive);
  const std::string squatted = dir_ + "/" + name(RegionKind::kMarket);
  ASSERT_EQ(squatter.run([&] {
    const int fd = ::open(squatted.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return 10;
    return ::write(fd, &h, sizeof h) == static_cast<ssize_t>(sizeof h) ? 0 : 11;
  }),
            0);
  Region engine = Region::create(RegionKind::kMarket, opts_);
  EXPECT_EQ(engine.path(), squatted);
  struct stat st {};
  ASSERT_EQ(::stat(squatted.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_EQ(engine.header().engine_pid, ::getpid());
}

// An engine that is not root cannot remove another user's file from a sticky directory: it must
// say whose file blocks it, not hang or blame its own permissions.
TEST_F(HostileFileTest, UnremovableForeignFileIsAClearErrorForAnUnprivilegedEngine) {
  if (::geteuid() != 0) GTEST_SKIP() << "running as two other users needs root";
  ThrowawayUser engine_user('e');
  ThrowawayUser squatter('s');
  if (!engine_user.ok() || !squatter.ok()) GTEST_SKIP() << "useradd failed";
  const std::string squatted = dir_ + "/" + name(RegionKind::kMarket);
  ASSERT_EQ(squatter.run([&] { return ::mkfifo(squatted.c_str(), 0600) == 0 ? 0 : 10; }), 0);
  opts_.engine_user = "nobody-cwts-none";
  const int rc = engine_user.run([&] {
    ::alarm(10);
    try {
      (void)Region::create(RegionKind::kMarket, opts_);
      return 20;
    } catch (const RegionError& e) {
      const std::string what = e.what();
      if (e.code() != RegionErrc::kUntrusted) return 21;
      if (what.find(squatted) == std::string::npos) return 22;
      return what.find("FIFO") == std::string::npos ? 23 : 0;
    }
  });
  EXPECT_EQ(rc, 0) << "21: wrong code, 22/23: the message does not name the file and its type, "
                   << 128 + SIGALRM << ": blocked";
}

// The engine maps the signals region it created through the descriptor it created, never by
// searching for the name again (where someone else's file may now be).
TEST_F(HostileFileTest, EngineViewOfItsSignalsRegionIsTheFileItCreated) {
  Region created = Region::create(RegionKind::kSignals, opts_);
  created.set_state(RegionState::kLive);
  // Someone replaces the name (here: another valid-looking region renamed over it).
  RegionOptions other = opts_;
  other.shm_dir = planted_dir_;
  Region impostor = Region::create(RegionKind::kSignals, other);
  impostor.set_state(RegionState::kLive);
  ASSERT_EQ(::rename(impostor.path().c_str(), created.path().c_str()), 0);

  Region view = created.view(Access::kReadOnly);
  EXPECT_EQ(view.access(), Access::kReadOnly);
  created.set_state(RegionState::kStopping);  // the impostor stays kLive
  EXPECT_EQ(view.header().state, static_cast<std::uint64_t>(RegionState::kStopping));
  EXPECT_EQ(view.header().epoch_ns, created.header().epoch_ns);
}

// --- the real huge-page path: reserve pages, mount hugetlbfs, use it, undo both ---

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}
bool write_file(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

class HugePageRegionTest : public RegionTest {
 protected:
  void SetUp() override {
    RegionTest::SetUp();
    if (::geteuid() != 0) GTEST_SKIP() << "reserving huge pages and mounting hugetlbfs need root";
    // The pool is machine-wide: serialise with other test processes (parallel ctest, other
    // build directories) so each one restores what it found.
    lock_fd_ = ::open("/tmp/cwts-hugepage-test.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX) != 0) GTEST_SKIP() << "cannot take the lock";
    saved_ = read_file(kNrHugepages);
    if (saved_.empty()) GTEST_SKIP() << "no " << kNrHugepages;
    mount_dir_ = dir_ + "/huge";
    fs::create_directory(mount_dir_);
    if (::mount("none", mount_dir_.c_str(), "hugetlbfs", 0, "pagesize=2M") != 0) {
      GTEST_SKIP() << "cannot mount hugetlbfs: " << std::strerror(errno);
    }
    mounted_ = true;
    opts_.hugepage_dir = mount_dir_;
  }
  void TearDown() override {
    if (mounted_) ::umount(mount_dir_.c_str());
    if (!saved_.empty()) write_file(kNrHugepages, saved_);
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
    RegionTest::TearDown();
  }
  static long free_huge_pages() {
    return std::stol(read_file("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"));
  }
  // Reserves `extra` pages on top of what is there; false if the kernel gave fewer.
  bool reserve(long extra) {
    const long want = std::stol(saved_) + extra;
    write_file(kNrHugepages, std::to_string(want));
    return std::stol(read_file(kNrHugepages)) >= want;
  }

  static constexpr const char* kNrHugepages = "/proc/sys/vm/nr_hugepages";
  std::string saved_;
  std::string mount_dir_;
  bool mounted_ = false;
  int lock_fd_ = -1;
};

TEST_F(HugePageRegionTest, RegionsLiveOnHugetlbfsWhenPagesAreReserved) {
  const long pages = static_cast<long>((layout::MarketRegion::bytes(opts_.market_capacity) +
                                        layout::kSignalsRegionBytes) /
                                       (2 << 20)) +
                     3;
  if (!reserve(pages)) GTEST_SKIP() << "the kernel could not reserve " << pages << " huge pages";
  const long free_before = free_huge_pages();
  {
    Region market = Region::create(RegionKind::kMarket, opts_);
    Region signals = Region::create(RegionKind::kSignals, opts_);
    market.set_state(RegionState::kLive);
    signals.set_state(RegionState::kLive);
    EXPECT_EQ(market.backing(), Backing::kHugePages);
    EXPECT_EQ(market.header().page_size_kib, 2048U);
    EXPECT_NE(market.header().flags & layout::kFlagHugePages, 0U);
    EXPECT_EQ(market.size() % (2 << 20), 0U);
    EXPECT_EQ(market.path(), mount_dir_ + "/cwts-" + opts_.instance + "-market");

    Region reader = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
    EXPECT_EQ(reader.backing(), Backing::kHugePages);
    market.as<layout::MarketRegion>().events.publish(layout::Event{});
    EXPECT_EQ(reader.as<layout::MarketRegion>().events.last_sequence(), 1U);
    const long used = free_before - free_huge_pages();
    EXPECT_EQ(used, static_cast<long>((market.size() + signals.size()) / (2 << 20)))
        << "the regions did not consume huge pages";
    market.remove();
    signals.remove();
  }
}

TEST_F(HugePageRegionTest, FallsBackToShmWhenNoHugePagesAreFree) {
  // Mounted, but the pool is empty: creation must fall back to the shm directory.
  if (free_huge_pages() > 0) {
    GTEST_SKIP() << "huge pages are free on this machine; cannot provoke the fallback";
  }
  Region market = Region::create(RegionKind::kMarket, opts_);
  EXPECT_EQ(market.backing(), Backing::kShm);
  EXPECT_EQ(market.path(), dir_ + "/cwts-" + opts_.instance + "-market");
  EXPECT_EQ(market.header().flags & layout::kFlagHugePages, 0U);
}

}  // namespace
