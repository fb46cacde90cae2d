// Multi-process stress: one writer process and several reader processes on one real region,
// millions of updates, every accepted copy verified word by word (cwts-shm-stress does the
// reading).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "stress_harness.hpp"

namespace cwts::stress {
namespace {

using std::to_string;

class SeqlockStress : public StressTest {};
class EventRingStress : public StressTest {};
class RecordRingStress : public StressTest {};

// Spawns readers and waits until each has attached, so none misses the start of the stream.
std::vector<std::unique_ptr<Child>> start_readers(
    const std::vector<std::vector<std::string>>& argvs) {
  std::vector<std::unique_ptr<Child>> readers;
  for (const auto& a : argvs) {
    readers.push_back(std::make_unique<Child>(a));
    EXPECT_TRUE(readers.back()->expect_line("READY", 10s)) << a[1];
  }
  return readers;
}

void expect_clean_exit(Child& c) {
  c.close_stdin();
  const auto st = c.wait(10s);
  ASSERT_TRUE(st.has_value()) << c.cmdline();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << c.cmdline() << " status " << *st;
}

TEST_F(SeqlockStress, ReadersNeverSeeTornWrite) {
  const std::uint64_t n = 2'000'000 / kScaleDown;
  Child writer(tool("writer", "seqlock", {"--count", to_string(n)}));
  ASSERT_TRUE(writer.expect_line("READY", 10s));
  const std::vector<std::string> reader_args =
      tool("reader", "seqlock", {"--expect", to_string(n), "--timeout-s", "60"});
  auto readers = start_readers({reader_args, reader_args});
  ASSERT_TRUE(writer.send_line("GO"));
  ASSERT_TRUE(writer.expect_line("DONE", 60s));

  for (auto& r : readers) {
    const Report rep = finish(*r, 60s);
    EXPECT_EQ(rep.exit_code, 0);
    EXPECT_EQ(rep["torn"], 0U);
    EXPECT_EQ(rep["monotonic_violations"], 0U);
    EXPECT_EQ(rep["timed_out"], 0U);
    EXPECT_EQ(rep["last_seq"], n);
    EXPECT_GT(rep["ok"], 0U);
  }
  expect_clean_exit(writer);
}

// The checks above are only worth something if they can fail: a writer that skips the seqlock
// protocol (payload rewritten while seq stays even) must be caught by the same readers.
TEST_F(SeqlockStress, CheckerCatchesUnprotectedWriter) {
  const std::uint64_t n = 2'000'000 / kScaleDown;
  Child writer(tool("writer", "seqlock", {"--count", to_string(n), "--unprotected"}));
  ASSERT_TRUE(writer.expect_line("READY", 10s));
  const std::vector<std::string> reader_args =
      tool("reader", "seqlock", {"--expect", to_string(n), "--timeout-s", "60"});
  auto readers = start_readers({reader_args, reader_args});
  ASSERT_TRUE(writer.send_line("GO"));
  ASSERT_TRUE(writer.expect_line("DONE", 60s));

  std::uint64_t torn = 0;
  for (auto& r : readers) {
    const Report rep = finish(*r, 60s);
    EXPECT_EQ(rep.exit_code, rep["torn"] > 0 ? 1 : 0);
    torn += rep["torn"];
  }
  EXPECT_GT(torn, 0U) << "readers accepted 2x" << n << " unprotected writes without one torn copy";
  expect_clean_exit(writer);
}

// Two readers that keep up as best they can and one that sleeps every 64 records: the slow one
// must be told it was lapped (kLapped) and must never be handed an overwritten record.
TEST_F(EventRingStress, ReadersGetEveryRecordOrDetectLap) {
  const std::uint64_t n = 2'000'000 / kScaleDown;
  Child writer(tool("writer", "event", {"--count", to_string(n)}));
  ASSERT_TRUE(writer.expect_line("READY", 10s));
  const std::vector<std::string> fast =
      tool("reader", "event", {"--expect", to_string(n), "--timeout-s", "60"});
  const std::vector<std::string> slow = tool(
      "reader", "event",
      {"--expect", to_string(n), "--timeout-s", "60", "--slow-every", "64", "--slow-us", "2000"});
  auto readers = start_readers({fast, fast, slow});
  ASSERT_TRUE(writer.send_line("GO"));
  ASSERT_TRUE(writer.expect_line("DONE", 60s));

  for (std::size_t i = 0; i < readers.size(); ++i) {
    SCOPED_TRACE(i == 2 ? "slow reader" : "fast reader");
    const Report rep = finish(*readers[i], 60s);
    EXPECT_EQ(rep.exit_code, 0);
    EXPECT_EQ(rep["torn"], 0U);
    EXPECT_EQ(rep["monotonic_violations"], 0U);
    EXPECT_EQ(rep["timed_out"], 0U);
    EXPECT_EQ(rep["first_seq"], 1U);
    EXPECT_EQ(rep["next_seq"], n + 1);
    // Every sequence was either read once or skipped after a reported lap.
    EXPECT_EQ(rep["ok"] + rep["skipped"], n);
    if (i == 2) {
      EXPECT_GT(rep["lapped"], 0U);
      EXPECT_GT(rep["skipped"], 0U);
    }
  }
  expect_clean_exit(writer);
}

// The consumer process is the engine (it creates both regions), the writer a strategy; a monitor
// process watches the two cursors.
TEST_F(RecordRingStress, ConsumerGetsEveryRecordOnceInOrder) {
  const std::uint64_t n = 1'000'000 / kScaleDown;
  Child consumer(tool("reader", "record", {"--expect", to_string(n), "--timeout-s", "60"}));
  ASSERT_TRUE(consumer.expect_line("READY", 10s));
  Child monitor(tool("monitor", "record", {"--expect", to_string(n), "--timeout-s", "60"}));
  ASSERT_TRUE(monitor.expect_line("READY", 10s));
  Child writer(tool("writer", "record", {"--count", to_string(n), "--gen", "1"}));
  ASSERT_EQ(writer.expect_number("READY", 10s), 0U);
  ASSERT_TRUE(writer.send_line("GO"));
  ASSERT_TRUE(writer.expect_line("DONE", 60s));

  const Report rep = finish(consumer, 60s);
  EXPECT_EQ(rep.exit_code, 0);
  EXPECT_EQ(rep["torn"], 0U);
  EXPECT_EQ(rep["monotonic_violations"], 0U);
  EXPECT_EQ(rep["timed_out"], 0U);
  EXPECT_EQ(rep["ok"], n);
  EXPECT_EQ(rep["next_seq"], n);
  EXPECT_EQ(rep["last_seq"], n - 1);
  EXPECT_EQ(rep.gen(1), n);

  const Report mon = finish(monitor, 60s);
  EXPECT_EQ(mon.exit_code, 0);
  EXPECT_EQ(mon["monotonic_violations"], 0U);
  EXPECT_EQ(mon["last_seq"], n);
  expect_clean_exit(writer);
}

}  // namespace
}  // namespace cwts::stress
