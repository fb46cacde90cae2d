// Writers SIGKILLed mid-write (at a chosen point and at random points): readers must never accept
// the half-written record, and a record ring's next producer must resume exactly where it should.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cwts/concurrent/broadcast_ring.hpp"
#include "cwts/concurrent/record_ring.hpp"
#include "cwts/concurrent/word_copy.hpp"
#include "cwts/shm/region.hpp"
#include "cwts/shm_layout/layout.hpp"
#include "stress_checks.hpp"
#include "stress_harness.hpp"

namespace cwts::stress {
namespace {

using concurrent::load_word;
using concurrent::load_words;
using layout::Event;
using layout::EventRing;
using layout::MarketRegion;
using layout::Quote;
using layout::RegionKind;
using layout::Signal;
using layout::SignalSlot;
using shm::Access;
using shm::Region;
using std::to_string;

constexpr std::size_t kSignalMask = layout::kSignalRingCapacity - 1;
constexpr std::size_t kEventMask = layout::kEventRingCapacity - 1;
using SignalRing = concurrent::RecordRing<Signal, layout::kSignalRingCapacity>;

class SeqlockKill : public StressTest {};
class EventRingKill : public StressTest {};
class RecordRingKill : public StressTest {
 protected:
  void run_kill(const std::string& mode, bool torn_committed,
                const std::vector<std::string>& consumer_args,
                const std::vector<std::string>& w1_args, const std::vector<std::string>& w2_args,
                std::uint64_t k, std::uint64_t m);
};
class RandomKill : public StressTest {};

// Slot 0's memory as the record consumer (the engine) created it: a file of one SignalSlot in the
// test's shm dir (shm_stress_tool.cpp: cwtsd hands a claim this memory over its claim socket, the
// tool's processes have no engine), mapped read-only here.
class SlotView {
 public:
  explicit SlotView(const shm::RegionOptions& o)
      : path_(o.shm_dir + "/cwts-" + o.instance + "-stress-slot0") {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("open " + path_ + ": " + std::strerror(errno));
    mem_ = ::mmap(nullptr, sizeof(SignalSlot), PROT_READ, MAP_SHARED, fd, 0);
    const int e = errno;
    ::close(fd);
    if (mem_ == MAP_FAILED) {
      mem_ = nullptr;
      throw std::runtime_error("mmap " + path_ + ": " + std::strerror(e));
    }
  }
  SlotView(const SlotView&) = delete;
  SlotView& operator=(const SlotView&) = delete;
  ~SlotView() {
    if (mem_ != nullptr) ::munmap(mem_, sizeof(SignalSlot));
  }
  [[nodiscard]] const SignalSlot& slot() const noexcept {
    return *static_cast<const SignalSlot*>(mem_);
  }

 private:
  std::string path_;
  void* mem_ = nullptr;
};

std::vector<std::unique_ptr<Child>> start_readers(const std::vector<std::string>& args, int n) {
  std::vector<std::unique_ptr<Child>> readers;
  for (int i = 0; i < n; ++i) {
    readers.push_back(std::make_unique<Child>(args));
    EXPECT_TRUE(readers.back()->expect_line("READY", 10s));
  }
  return readers;
}

void kill_and_reap(Child& c) {
  c.kill9();
  const auto st = c.wait(10s);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFSIGNALED(*st) && WTERMSIG(*st) == SIGKILL) << "status " << *st;
}

void expect_clean_exit(Child& c) {
  c.close_stdin();
  const auto st = c.wait(10s);
  ASSERT_TRUE(st.has_value()) << c.cmdline();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << c.cmdline() << " status " << *st;
}

// Polls until `pred` holds; false after `timeout`.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Where a record ring's committed records end, found independently of the producer's tail hint:
// from the consumer's cursor, walk commit words forward. Valid while no producer runs.
std::uint64_t committed_end(const SignalRing& ring, const concurrent::RingCursor& cursor) {
  std::uint64_t t = cursor.consumed();
  while (load_word(ring.records[t & kSignalMask].commit, std::memory_order_acquire) == t + 1) ++t;
  return t;
}

std::uint64_t seed_from_env() {
  if (const char* s = std::getenv("CWTS_STRESS_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// (b) A writer killed inside Seqlock::store leaves seq odd with half the words new: load_bounded
// gives up and try_load never succeeds, in the test process and in two reader processes.
TEST_F(SeqlockKill, WriterKilledMidWriteNeverYieldsHalfWrittenQuote) {
  const std::uint64_t k = 100'000;
  Child writer(
      tool("writer", "seqlock", {"--count", to_string(k + 10), "--torn-after", to_string(k)}));
  ASSERT_TRUE(writer.expect_line("READY", 10s));
  // Attach before the kill: a region whose engine is dead is refused as stale.
  const Region market = Region::attach(RegionKind::kMarket, Access::kReadOnly, options());
  const auto& lock = market.as<MarketRegion>().symbol(0).quote;
  auto readers =
      start_readers(tool("reader", "seqlock", {"--timeout-s", "60", "--linger-ms", "300"}), 2);
  ASSERT_TRUE(writer.send_line("GO"));
  ASSERT_EQ(writer.expect_number("WROTE", 60s), k);
  // Let the readers take write k (the last complete one) before the tear.
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(writer.send_line("GO"));
  ASSERT_TRUE(writer.expect_line("TORN", 10s));
  kill_and_reap(writer);

  // The torn state really is in memory: seq odd, first half of the words from write k + 1, the
  // rest still from write k; as a whole, not a payload the checker accepts.
  EXPECT_EQ(lock.version(), 2 * k + 1);
  Quote raw{};
  load_words(lock.words, raw);
  PayloadId id;
  EXPECT_FALSE(check_payload(raw, id));
  const auto next = payload_words<kWordsOf<Quote>>(k + 1, 1);
  const auto prev = payload_words<kWordsOf<Quote>>(k, 1);
  for (std::size_t i = 0; i < next.size(); ++i) {
    EXPECT_EQ(load_word(lock.words[i], std::memory_order_relaxed),
              i < next.size() / 2 ? next[i] : prev[i])
        << "word " << i;
  }

  Quote out{};
  EXPECT_FALSE(lock.load_bounded(out, 1'000'000));
  std::uint64_t accepted = 0;
  for (int i = 0; i < 1'000'000; ++i) accepted += lock.try_load(out) ? 1 : 0;
  EXPECT_EQ(accepted, 0U);

  for (auto& r : readers) {
    const Report rep = finish(*r, 30s);
    EXPECT_EQ(rep.exit_code, 0);
    EXPECT_EQ(rep["torn"], 0U);
    EXPECT_EQ(rep["monotonic_violations"], 0U);
    EXPECT_EQ(rep["timed_out"], 0U);
    EXPECT_EQ(rep["last_seq"], k);
    EXPECT_EQ(rep["writer_gone"], 1U);
    EXPECT_EQ(rep["post_gone_ok"], 0U);
    EXPECT_GT(rep["post_gone_fail"], 0U);
  }
}

// (c) A writer killed inside publish leaves the slot marked "record k + 1 being written": that
// sequence reads kEmpty forever (never kOk with half a record, never a false kLapped).
TEST_F(EventRingKill, WriterKilledMidPublishLeavesSequenceEmptyForever) {
  // More than one lap, so the torn slot is overwriting an older record rather than zeros.
  const std::uint64_t k = 50'000;
  Child writer(
      tool("writer", "event", {"--count", to_string(k + 10), "--torn-after", to_string(k)}));
  ASSERT_TRUE(writer.expect_line("READY", 10s));
  const Region market = Region::attach(RegionKind::kMarket, Access::kReadOnly, options());
  const EventRing& ring = market.as<MarketRegion>().events;
  auto readers =
      start_readers(tool("reader", "event", {"--timeout-s", "60", "--linger-ms", "300"}), 2);
  ASSERT_TRUE(writer.send_line("GO"));
  ASSERT_EQ(writer.expect_number("WROTE", 60s), k);
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(writer.send_line("GO"));
  ASSERT_TRUE(writer.expect_line("TORN", 10s));
  kill_and_reap(writer);

  EXPECT_EQ(ring.last_sequence(), k);
  EXPECT_EQ(load_word(ring.slots[k & kEventMask].seq, std::memory_order_acquire), 2 * k + 1);

  concurrent::BroadcastReader<Event, layout::kEventRingCapacity> probe(ring, k + 1);
  Event ev{};
  std::uint64_t not_empty = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    not_empty += probe.try_read(ev) != concurrent::ReadStatus::kEmpty ? 1 : 0;
  }
  EXPECT_EQ(not_empty, 0U);
  EXPECT_EQ(probe.next_sequence(), k + 1);

  for (auto& r : readers) {
    const Report rep = finish(*r, 30s);
    EXPECT_EQ(rep.exit_code, 0);
    EXPECT_EQ(rep["torn"], 0U);
    EXPECT_EQ(rep["monotonic_violations"], 0U);
    EXPECT_EQ(rep["timed_out"], 0U);
    EXPECT_EQ(rep["next_seq"], k + 1);
    EXPECT_EQ(rep["ok"] + rep["skipped"], k);
    EXPECT_EQ(rep["writer_gone"], 1U);
    EXPECT_EQ(rep["post_gone_ok"], 0U);
    EXPECT_EQ(rep["post_gone_lapped"], 0U);
    EXPECT_GT(rep["post_gone_fail"], 0U);
  }
}

// Drives one record-ring kill scenario: writer 1 (gen 1) pushes k records, leaves record k torn
// as `mode` says, is SIGKILLed; writer 2 (gen 2) takes over the ring and pushes m more. (cwtsd
// gives every claim a fresh ring (ADR 0021), so a successor there never resumes a dead
// producer's ring; these scenarios prove RecordProducer's tail recovery and the consumer's
// commit checks, which the engine relies on to finish a dead owner's ring.)
// `torn_committed`: whether the torn record's commit word was stored (killed before the tail hint).
void RecordRingKill::run_kill(const std::string& mode, bool torn_committed,
                              const std::vector<std::string>& consumer_args,
                              const std::vector<std::string>& w1_args,
                              const std::vector<std::string>& w2_args, std::uint64_t k,
                              std::uint64_t m) {
  // The consumer is the engine: it outlives both writers, so the regions stay attachable.
  Child consumer(consumer_args);
  ASSERT_TRUE(consumer.expect_line("READY", 10s));
  const Region market = Region::attach(RegionKind::kMarket, Access::kReadOnly, options());
  const SlotView signals(options());
  const auto& cursor = market.as<MarketRegion>().slot(0).signal_cursor;
  const SignalRing& ring = signals.slot().signals;
  const std::uint64_t first_tail = torn_committed ? k + 1 : k;

  {
    Child w1(w1_args);
    ASSERT_EQ(w1.expect_number("READY", 10s), 0U);
    ASSERT_TRUE(w1.send_line("GO"));
    ASSERT_EQ(w1.expect_number("WROTE", 60s), k);
    ASSERT_TRUE(eventually([&] { return cursor.consumed() == k; }, 30s))
        << "consumed " << cursor.consumed();
    ASSERT_TRUE(w1.send_line("GO"));
    ASSERT_TRUE(w1.expect_line("TORN", 10s));
    kill_and_reap(w1);
  }

  // Record k is in memory with a complete, self-consistent payload; only its commit word (or,
  // in commit mode, only the tail hint) is missing.
  const auto& rec = ring.records[k & kSignalMask];
  Signal raw{};
  load_words(rec.words, raw);
  PayloadId id;
  EXPECT_TRUE(check_payload(raw, id));
  EXPECT_EQ(id.seq, k);
  EXPECT_EQ(id.gen, 1U);
  EXPECT_EQ(ring.published(), k);
  if (torn_committed) {
    EXPECT_EQ(load_word(rec.commit, std::memory_order_acquire), k + 1);
    EXPECT_TRUE(eventually([&] { return cursor.consumed() == k + 1; }, 10s));
  } else {
    EXPECT_NE(load_word(rec.commit, std::memory_order_acquire), k + 1);
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(cursor.consumed(), k) << "the consumer took the uncommitted record";
  }
  EXPECT_EQ(committed_end(ring, cursor), first_tail);

  Child w2(w2_args);
  // RecordProducer's constructor recovered the true tail: past a committed record the hint
  // missed, and not past the torn one.
  EXPECT_EQ(w2.expect_number("READY", 10s), first_tail) << mode;
  ASSERT_TRUE(w2.send_line("GO"));
  ASSERT_TRUE(w2.expect_line("DONE", 60s));
  expect_clean_exit(w2);

  const Report rep = finish(consumer, 60s);
  EXPECT_EQ(rep.exit_code, 0);
  EXPECT_EQ(rep["torn"], 0U);
  EXPECT_EQ(rep["monotonic_violations"], 0U);
  EXPECT_EQ(rep["timed_out"], 0U);
  EXPECT_EQ(rep["ok"], first_tail + m);
  EXPECT_EQ(rep["last_seq"], first_tail + m - 1);
  EXPECT_EQ(rep.gen(1), first_tail);
  EXPECT_EQ(rep.gen(2), m);
}

// (a) Killed after writing a record's words but before its commit word: the consumer stops at
// exactly k records; the next producer overwrites the torn record and the consumer gets its
// records in order, the torn one never (it would show up as a gen-1 record k).
TEST_F(RecordRingKill, TornRecordIsNeverConsumedAndNextWriterResumes) {
  const std::uint64_t k = 100'000;
  const std::uint64_t m = 100'000;
  run_kill("payload", false,
           tool("reader", "record", {"--expect", to_string(k + m), "--timeout-s", "90"}),
           tool("writer", "record",
                {"--count", to_string(k + 1), "--torn-after", to_string(k), "--gen", "1"}),
           tool("writer", "record", {"--count", to_string(m), "--gen", "2"}), k, m);
}

// Killed between the commit word and the tail hint: the record is complete and must be consumed,
// and the next producer must start after it although the hint says otherwise.
TEST_F(RecordRingKill, ProducerKilledBetweenCommitAndTailLosesNothing) {
  const std::uint64_t k = 100'000;
  const std::uint64_t m = 100'000;
  run_kill("commit", true,
           tool("reader", "record", {"--expect", to_string(k + 1 + m), "--timeout-s", "90"}),
           tool("writer", "record",
                {"--count", to_string(k + 1), "--torn-after", to_string(k), "--torn-mode", "commit",
                 "--gen", "1"}),
           tool("writer", "record", {"--count", to_string(m), "--gen", "2"}), k, m);
}

constexpr int kRandomKills = 20;
constexpr std::uint64_t kForever = 1'000'000'000'000ULL;

// (d) Seqlock writer SIGKILLed at a random point, 20 times on one instance (each new writer
// replaces the dead one's region). Readers never accept a corrupt copy; if the kill left seq odd
// they accept nothing after it, otherwise they end on the writer's last complete write.
TEST_F(RandomKill, SeqlockReadersNeverAcceptCorruptCopy) {
  const std::uint64_t seed = seed_from_env();
  SCOPED_TRACE("CWTS_STRESS_SEED=" + to_string(seed));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> delay_ms(1, 25);
  int odd = 0;
  for (int iter = 0; iter < kRandomKills; ++iter) {
    SCOPED_TRACE("iteration " + to_string(iter));
    Child writer(tool("writer", "seqlock", {"--count", to_string(kForever)}));
    ASSERT_TRUE(writer.expect_line("READY", 10s));
    const Region market = Region::attach(RegionKind::kMarket, Access::kReadOnly, options());
    const auto& lock = market.as<MarketRegion>().symbol(0).quote;
    auto readers =
        start_readers(tool("reader", "seqlock", {"--timeout-s", "30", "--linger-ms", "30"}), 2);
    ASSERT_TRUE(writer.send_line("GO"));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    kill_and_reap(writer);

    const std::uint64_t v = lock.version();
    Quote q{};
    std::uint64_t final_seq = 0;
    if (v % 2 == 1) {
      ++odd;
      EXPECT_FALSE(lock.load_bounded(q, 100'000));
    } else {
      ASSERT_TRUE(lock.load_bounded(q, 100'000));
      PayloadId id;
      if (v != 0) {
        EXPECT_TRUE(check_payload(q, id));
        final_seq = id.seq;
        EXPECT_EQ(final_seq, v / 2);
      }
    }
    for (auto& r : readers) {
      const Report rep = finish(*r, 30s);
      EXPECT_EQ(rep.exit_code, 0);
      EXPECT_EQ(rep["torn"], 0U);
      EXPECT_EQ(rep["monotonic_violations"], 0U);
      EXPECT_EQ(rep["timed_out"], 0U);
      EXPECT_EQ(rep["writer_gone"], 1U);
      if (v % 2 == 1) {
        EXPECT_EQ(rep["post_gone_ok"], 0U);
        EXPECT_LE(rep["last_seq"], v / 2);
      } else {
        EXPECT_EQ(rep["last_seq"], final_seq);
      }
    }
  }
  std::printf("[random-kill] seqlock: %d of %d kills left a write in progress\n", odd,
              kRandomKills);
}

// (d) Event ring writer SIGKILLed at a random point, 20 times. Readers end exactly where the
// ring's state says: after the last complete record (which may be one past a head the writer did
// not get to update).
TEST_F(RandomKill, EventReadersNeverAcceptCorruptRecord) {
  const std::uint64_t seed = seed_from_env();
  SCOPED_TRACE("CWTS_STRESS_SEED=" + to_string(seed));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> delay_ms(1, 25);
  int mid_publish = 0;
  for (int iter = 0; iter < kRandomKills; ++iter) {
    SCOPED_TRACE("iteration " + to_string(iter));
    Child writer(tool("writer", "event", {"--count", to_string(kForever)}));
    ASSERT_TRUE(writer.expect_line("READY", 10s));
    const Region market = Region::attach(RegionKind::kMarket, Access::kReadOnly, options());
    const EventRing& ring = market.as<MarketRegion>().events;
    auto readers =
        start_readers(tool("reader", "event", {"--timeout-s", "30", "--linger-ms", "30"}), 2);
    ASSERT_TRUE(writer.send_line("GO"));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    kill_and_reap(writer);

    const std::uint64_t head = ring.last_sequence();
    const std::uint64_t slot_seq =
        load_word(ring.slots[head & kEventMask].seq, std::memory_order_acquire);
    const std::uint64_t expected_next = slot_seq == 2 * (head + 1) ? head + 2 : head + 1;
    if (slot_seq == 2 * head + 1) ++mid_publish;
    for (auto& r : readers) {
      const Report rep = finish(*r, 30s);
      EXPECT_EQ(rep.exit_code, 0);
      EXPECT_EQ(rep["torn"], 0U);
      EXPECT_EQ(rep["monotonic_violations"], 0U);
      EXPECT_EQ(rep["timed_out"], 0U);
      EXPECT_EQ(rep["writer_gone"], 1U);
      EXPECT_EQ(rep["next_seq"], expected_next);
      EXPECT_EQ(rep["ok"] + rep["skipped"], expected_next - 1);
    }
  }
  std::printf("[random-kill] event ring: %d of %d kills left a record mid-publish\n", mid_publish,
              kRandomKills);
}

// (d) Record ring producer SIGKILLed at a random point, 20 producers in a row on one slot with one
// consumer throughout: each producer resumes at the true end of the committed records, and the
// consumer gets every committed record exactly once, in order, and nothing else.
TEST_F(RandomKill, RecordConsumerNeverAcceptsCorruptRecord) {
  const std::uint64_t seed = seed_from_env();
  SCOPED_TRACE("CWTS_STRESS_SEED=" + to_string(seed));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> delay_ms(1, 25);
  Child consumer(tool("reader", "record", {"--until-eof", "--timeout-s", "120"}));
  ASSERT_TRUE(consumer.expect_line("READY", 10s));
  const Region market = Region::attach(RegionKind::kMarket, Access::kReadOnly, options());
  const SlotView signals(options());
  const auto& cursor = market.as<MarketRegion>().slot(0).signal_cursor;
  const SignalRing& ring = signals.slot().signals;

  for (int gen = 1; gen <= kRandomKills; ++gen) {
    SCOPED_TRACE("writer generation " + to_string(gen));
    const std::uint64_t resume_at = committed_end(ring, cursor);
    Child writer(
        tool("writer", "record", {"--count", to_string(kForever), "--gen", to_string(gen)}));
    EXPECT_EQ(writer.expect_number("READY", 10s), resume_at);
    ASSERT_TRUE(writer.send_line("GO"));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    kill_and_reap(writer);
  }
  const std::uint64_t total = committed_end(ring, cursor);
  consumer.close_stdin();
  const Report rep = finish(consumer, 60s);
  EXPECT_EQ(rep.exit_code, 0);
  EXPECT_EQ(rep["torn"], 0U);
  EXPECT_EQ(rep["monotonic_violations"], 0U);
  EXPECT_EQ(rep["timed_out"], 0U);
  EXPECT_EQ(rep["ok"], total);
  EXPECT_EQ(rep["next_seq"], total);
  EXPECT_EQ(rep.gen(0), 0U);
  std::uint64_t sum = 0;
  for (auto c : rep.per_gen) sum += c;
  EXPECT_EQ(sum, total);
  std::printf("[random-kill] record ring: %llu records from %d killed producers\n",
              static_cast<unsigned long long>(total), kRandomKills);
}

}  // namespace
}  // namespace cwts::stress
