// Thread versions of the stress tests: a writer thread and reader threads in one process on a real
// region, with the same self-checks, few enough iterations to run under ThreadSanitizer.
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "cwts/concurrent/record_ring.hpp"
#include "cwts/shm/region.hpp"
#include "cwts/shm/sealed_memory.hpp"
#include "cwts/shm_layout/layout.hpp"
#include "stress_checks.hpp"

namespace cwts::stress {
namespace {

using layout::Event;
using layout::MarketRegion;
using layout::Quote;
using layout::RegionKind;
using layout::RegionState;
using layout::Signal;
using layout::SignalSlot;
using shm::Region;

constexpr std::uint64_t kIterations = 200'000;

// All threads use the one read-write mapping on purpose: ThreadSanitizer tracks memory by virtual
// address, so readers on a second (read-only) mapping of the same pages would hide every race
// from it. The read-only mapping is what the multi-process tests use.
class ThreadStress : public ::testing::Test {
 protected:
  void SetUp() override {
    // Expected here and noise in the test log: "normal pages" warnings for a /dev/shm temp dir.
    spdlog::set_level(spdlog::level::err);
    char tmpl[] = "/dev/shm/cwts-tstress-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    static std::atomic<int> counter{0};
    shm::RegionOptions o;
    o.instance = "t" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    o.hugepage_dir = "";
    o.shm_dir = dir_;
    o.lock_pages = false;
    market_.emplace(Region::create(RegionKind::kMarket, o));
    market_->set_state(RegionState::kLive);
    // A slot's memory as cwtsd hands it to a claim (ADR 0021): a sealed memfd, mapped once.
    const shm::UniqueFd fd = shm::create_sealed_memory("cwts-tstress-slot", sizeof(SignalSlot));
    void* p = ::mmap(nullptr, sizeof(SignalSlot), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    ASSERT_NE(p, MAP_FAILED) << std::strerror(errno);
    slot_ = static_cast<SignalSlot*>(p);
  }

  void TearDown() override {
    market_.reset();
    if (slot_ != nullptr) ::munmap(slot_, sizeof(SignalSlot));
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  MarketRegion& market() { return market_->as<MarketRegion>(); }
  SignalSlot& slot() { return *slot_; }

  static ReadControl control(std::uint64_t expect) {
    ReadControl c;
    c.expect = expect;
    c.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    return c;
  }

  std::string dir_;
  std::optional<Region> market_;
  SignalSlot* slot_ = nullptr;
};

TEST_F(ThreadStress, SeqlockReadersNeverSeeTornWrite) {
  auto& lock = market().symbol(0).quote;
  const ReadControl c = control(kIterations);
  std::array<ReadStats, 2> stats;
  std::vector<std::thread> readers;
  for (auto& s : stats) readers.emplace_back([&lock, &c, &s] { s = read_seqlock(lock, c); });
  std::thread writer([&lock] {
    for (std::uint64_t seq = 1; seq <= kIterations; ++seq) {
      lock.store(make_payload<Quote>(seq, 1));
    }
  });
  writer.join();
  for (auto& t : readers) t.join();

  for (const auto& s : stats) {
    SCOPED_TRACE(to_json(s));
    EXPECT_EQ(s.torn, 0U);
    EXPECT_EQ(s.monotonic_violations, 0U);
    EXPECT_EQ(s.timed_out, 0U);
    EXPECT_EQ(s.last_seq, kIterations);
    EXPECT_GT(s.ok, 0U);
  }
}

// A book record, whose length is the region's book_depth (ADR 0042): every copy try_load accepts
// is one write whole, whatever the counts of the writes around it, and holds no more levels than
// the reader asked for or the record has; a torn head never sends a reader past the record.
TEST_F(ThreadStress, BookReadersNeverSeeTornWriteAtAnyCount) {
  MarketRegion& m = market();
  const std::size_t d = m.book_depth();
  constexpr std::uint64_t kBooks = 50'000;
  // Write `id`: bid_count id % (2d + 1), ask_count 7 id % (2d + 1), up to twice what the record
  // holds (a reader must stop at the record whatever a head says); word i of side k is
  // id * 4096 + k * 1024 + i.
  const auto bids_of = [d](std::uint64_t id) {
    return static_cast<std::uint32_t>(id % (2 * d + 1));
  };
  const auto asks_of = [d](std::uint64_t id) {
    return static_cast<std::uint32_t>((7 * id) % (2 * d + 1));
  };
  std::atomic<bool> done{false};
  struct Seen {
    std::uint64_t ok = 0, torn = 0, too_many = 0, last = 0;
  };
  std::array<Seen, 2> seen;
  const std::array<std::size_t, 2> want = {3, layout::kMaxBookDepth};
  std::vector<std::thread> readers;
  for (std::size_t r = 0; r < seen.size(); ++r) {
    readers.emplace_back([&, r] {
      auto b = std::make_unique<layout::BookTop>();
      Seen& s = seen[r];
      while (!done.load(std::memory_order_acquire) || s.last < kBooks) {
        if (!m.book(0).try_load(*b, want[r])) continue;
        const std::uint64_t id = b->update_id;
        if (id == 0) continue;  // nothing written yet
        ++s.ok;
        s.last = id;
        const std::size_t cap = std::min(want[r], d);
        if (b->bid_count != std::min<std::size_t>(bids_of(id), cap) ||
            b->ask_count != std::min<std::size_t>(asks_of(id), cap)) {
          ++s.too_many;
          continue;
        }
        bool whole = b->book_valid == (id & 1);
        for (std::uint32_t i = 0; i < b->bid_count; ++i) {
          whole = whole && static_cast<std::uint64_t>(b->bid_px[i].raw) == id * 4096 + i &&
                  static_cast<std::uint64_t>(b->bid_qty[i].raw) == id * 4096 + 1024 + i;
        }
        for (std::uint32_t i = 0; i < b->ask_count; ++i) {
          whole = whole && static_cast<std::uint64_t>(b->ask_px[i].raw) == id * 4096 + 2048 + i &&
                  static_cast<std::uint64_t>(b->ask_qty[i].raw) == id * 4096 + 3072 + i;
        }
        if (!whole) ++s.torn;
      }
    });
  }
  std::thread writer([&] {
    std::vector<std::uint64_t> levels(4 * d);
    for (std::uint64_t id = 1; id <= kBooks; ++id) {
      for (std::size_t k = 0; k < 4; ++k) {
        for (std::size_t i = 0; i < d; ++i) levels[k * d + i] = id * 4096 + k * 1024 + i;
      }
      layout::BookHead h{};
      h.update_id = id;
      h.bid_count = bids_of(id);
      h.ask_count = asks_of(id);
      h.book_valid = static_cast<std::uint8_t>(id & 1);
      m.store_book(0, h, levels.data());
    }
    done.store(true, std::memory_order_release);
  });
  writer.join();
  for (auto& t : readers) t.join();
  for (const Seen& s : seen) {
    EXPECT_GT(s.ok, 0U);
    EXPECT_EQ(s.torn, 0U);
    EXPECT_EQ(s.too_many, 0U);
    EXPECT_EQ(s.last, kBooks);
  }
}

TEST_F(ThreadStress, EventRingReadersGetEveryRecordOrDetectLap) {
  auto& ring = market().events;
  const ReadControl c = control(kIterations);
  ReadControl slow = control(kIterations);
  // Sleeping 2 ms every 64 records reads at most 32k records/s: lapped by any writer.
  slow.slow_every = 64;
  slow.slow_sleep = std::chrono::microseconds(2000);
  std::array<ReadStats, 3> stats;
  std::vector<std::thread> readers;
  readers.emplace_back([&] { stats[0] = read_events(ring, c, 1); });
  readers.emplace_back([&] { stats[1] = read_events(ring, c, 1); });
  readers.emplace_back([&] { stats[2] = read_events(ring, slow, 1); });
  std::thread writer([&ring] {
    for (std::uint64_t seq = 1; seq <= kIterations; ++seq) {
      ring.publish(make_payload<Event>(seq, 1));
    }
  });
  writer.join();
  for (auto& t : readers) t.join();

  for (std::size_t i = 0; i < stats.size(); ++i) {
    const auto& s = stats[i];
    SCOPED_TRACE(to_json(s));
    EXPECT_EQ(s.torn, 0U);
    EXPECT_EQ(s.monotonic_violations, 0U);
    EXPECT_EQ(s.timed_out, 0U);
    EXPECT_EQ(s.next_seq, kIterations + 1);
    EXPECT_EQ(s.ok + s.skipped, kIterations);
    if (i == 2) {
      EXPECT_GT(s.lapped, 0U) << "the slow reader was never lapped";
    }
  }
}

TEST_F(ThreadStress, RecordRingConsumerGetsEveryRecordOnceInOrder) {
  constexpr std::size_t kCap = layout::kSignalRingCapacity;
  auto& ring = slot().signals;
  auto& cursor = market().slot(0).signal_cursor;
  const ReadControl c = control(kIterations);
  ReadStats consumed;
  ReadStats watched;
  std::thread consumer([&] { consumed = consume_records(ring, cursor, c); });
  std::thread monitor([&] { watched = watch_cursors(ring, cursor, c); });
  std::thread producer([&] {
    concurrent::RecordProducer<Signal, kCap> p(ring, cursor);
    for (std::uint64_t i = 0; i < kIterations; ++i) {
      const Signal s = make_payload<Signal>(p.next_index(), 1);
      std::uint64_t idle = 0;
      while (p.try_push(s) == concurrent::PushStatus::kFull) idle_backoff(idle);
    }
  });
  producer.join();
  consumer.join();
  monitor.join();

  SCOPED_TRACE(to_json(consumed));
  EXPECT_EQ(consumed.torn, 0U);
  EXPECT_EQ(consumed.monotonic_violations, 0U);
  EXPECT_EQ(consumed.timed_out, 0U);
  EXPECT_EQ(consumed.ok, kIterations);
  EXPECT_EQ(consumed.next_seq, kIterations);
  EXPECT_EQ(consumed.last_seq, kIterations - 1);
  ASSERT_EQ(consumed.per_gen.size(), 2U);
  EXPECT_EQ(consumed.per_gen[1], kIterations);
  EXPECT_EQ(watched.monotonic_violations, 0U) << to_json(watched);
  EXPECT_EQ(watched.last_seq, kIterations);
}

}  // namespace
}  // namespace cwts::stress

// The control plane's observer: while a producer and the consumer run flat out, an observer reads
// records by index; every record it accepts is exactly what was pushed at that index.
TEST(RecordRingObserver, AcceptedRecordsAreNeverTorn) {
  struct Rec {
    std::uint64_t seq;
    std::uint64_t words[5];
  };
  constexpr std::size_t kN = 64;
  using Ring = cwts::concurrent::RecordRing<Rec, kN>;
  auto ring = std::make_unique<Ring>();
  auto cursor = std::make_unique<cwts::concurrent::RingCursor>();
  // Producer and consumer run until the observer has checked enough records (or 10 s): on two
  // busy cores the observer may not be scheduled for a while, so a fixed count could end first.
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    cwts::concurrent::RecordProducer<Rec, kN> p(*ring, *cursor);
    for (std::uint64_t s = 0; !stop.load(std::memory_order_relaxed);) {
      Rec r{s, {s * 3, s * 5, s * 7, s * 11, ~s}};
      if (p.try_push(r) == cwts::concurrent::PushStatus::kOk) ++s;
    }
  });
  std::thread consumer([&] {
    cwts::concurrent::RecordConsumer<Rec, kN> c(*ring, *cursor);
    Rec r{};
    while (!stop.load(std::memory_order_relaxed)) (void)c.try_pop(r);
  });
  std::uint64_t accepted = 0, bad = 0, i = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (accepted < 20'000 && std::chrono::steady_clock::now() < deadline) {
    const std::uint64_t tail = ring->published();
    if (i + kN < tail) i = tail - kN / 2;  // fell behind: jump near the end
    Rec r{};
    if (i < tail && cwts::concurrent::observe_record(*ring, i, r)) {
      const std::uint64_t s = r.seq;
      if (s != i || r.words[0] != s * 3 || r.words[1] != s * 5 || r.words[2] != s * 7 ||
          r.words[3] != s * 11 || r.words[4] != ~s) {
        ++bad;
      }
      ++accepted;
      ++i;
    }
  }
  stop.store(true);
  producer.join();
  consumer.join();
  EXPECT_EQ(bad, 0U);
  EXPECT_GT(accepted, 0U);
}
