#include "cwts/journal/journal.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cwts/journal/recovery.hpp"

namespace {

using cwts::journal::FsyncPolicy;
using cwts::journal::JournalError;
using cwts::journal::read_journal;
using cwts::journal::Writer;
namespace jr = cwts::journal;
using namespace cwts::core::money_literals;

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/cwts-journal-" + std::to_string(::getpid()) + "-" + name;
}

struct Rec {
  std::uint16_t type;
  std::uint64_t seq;
  std::string payload;
};

std::vector<Rec> read_all(const std::string& path, jr::ReadResult* res = nullptr) {
  std::vector<Rec> out;
  const auto r =
      read_journal(path, [&](std::uint16_t t, std::uint64_t s, std::span<const std::byte> p) {
        out.push_back({t, s, std::string(reinterpret_cast<const char*>(p.data()), p.size())});
      });
  if (res != nullptr) *res = r;
  return out;
}

void flip_byte(const std::string& path, std::size_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5A);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

TEST(Crc32c, MatchesTheStandardCheckValue) {
  // CRC-32C("123456789") = 0xE3069283 (RFC 3720, B.4).
  EXPECT_EQ(jr::crc32c(0, "123456789", 9), 0xE3069283U);
  // Incremental = one shot.
  EXPECT_EQ(jr::crc32c(jr::crc32c(0, "1234", 4), "56789", 5), 0xE3069283U);
}

TEST(Journal, RecordsRoundTripInOrderWithConsecutiveSequenceNumbers) {
  const std::string path = temp_path("roundtrip");
  {
    Writer w(path, 1 << 20, FsyncPolicy::kInterval, 5);
    EXPECT_EQ(w.append(7, "hello", 5), 1U);
    EXPECT_EQ(w.append(8, "", 0), 2U);
    const std::string big(4096, 'x');
    EXPECT_EQ(w.append(9, big.data(), 4096), 3U);
    EXPECT_EQ(w.append(9, big.data(), 4097), 0U) << "over the payload limit: refused";
  }
  jr::ReadResult r;
  const auto recs = read_all(path, &r);
  ASSERT_EQ(recs.size(), 3U);
  EXPECT_EQ(recs[0].type, 7);
  EXPECT_EQ(recs[0].payload, "hello");
  EXPECT_EQ(recs[1].seq, 2U);
  EXPECT_EQ(recs[1].payload, "");
  EXPECT_EQ(recs[2].payload.size(), 4096U);
  EXPECT_EQ(r.last_seq, 3U);
  EXPECT_EQ(r.torn_bytes, 0U);
  ::unlink(path.c_str());
}

TEST(Journal, ATornOrCorruptTailIsDetectedAndIgnoredAndEarlierRecordsSurvive) {
  const std::string path = temp_path("torn");
  std::size_t third = 0;
  {
    Writer w(path, 1 << 20, FsyncPolicy::kNone, 0);
    w.append(1, "first", 5);
    w.append(1, "second", 6);
    third = w.used_bytes();
    w.append(1, "third-record", 12);
  }
  // A bit flipped in the last record's payload: its CRC fails; the first two are read.
  flip_byte(path, third + jr::kRecordHeaderBytes + 3);
  jr::ReadResult r;
  auto recs = read_all(path, &r);
  ASSERT_EQ(recs.size(), 2U);
  EXPECT_EQ(recs[1].payload, "second");
  EXPECT_EQ(r.end_offset, third);
  EXPECT_GT(r.torn_bytes, 0U) << "the torn tail is reported";

  // A file cut in the middle of a record (power loss with a partial write).
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(third + 10)), 0);
  recs = read_all(path, &r);
  EXPECT_EQ(recs.size(), 2U);

  // A corrupt header in the middle stops reading there: nothing after it is trusted.
  flip_byte(path, jr::kFileHeaderBytes + 8);  // the first record's seq
  recs = read_all(path, &r);
  EXPECT_TRUE(recs.empty());
  ::unlink(path.c_str());
}

TEST(Journal, AFullJournalRefusesAppendsAndWritesNothing) {
  const std::string path = temp_path("full");
  const std::size_t cap = jr::kFileHeaderBytes + jr::record_bytes(jr::kMaxPayload) + 64;
  Writer w(path, cap, FsyncPolicy::kNone, 0);
  EXPECT_TRUE(w.has_room(1, jr::kMaxPayload));
  const std::string big(jr::kMaxPayload, 'y');
  EXPECT_EQ(w.append(1, big.data(), jr::kMaxPayload), 1U);
  EXPECT_FALSE(w.has_room(1, 64));
  EXPECT_EQ(w.append(1, big.data(), 64), 0U);
  EXPECT_EQ(w.last_seq(), 1U);
  EXPECT_EQ(w.append(1, "ok", 2), 2U) << "a smaller record still fits";
  ::unlink(path.c_str());
}

TEST(Journal, NotAJournalIsAClearErrorAndAMissingOneIsEmpty) {
  const std::string path = temp_path("bad");
  {
    std::ofstream(path)
        << "this is not a journal file at all, just some text......................";
  }
  try {
    (void)read_all(path);
    FAIL() << "expected JournalError";
  } catch (const JournalError& e) {
    EXPECT_NE(std::string(e.what()).find("bad magic"), std::string::npos) << e.what();
  }
  ::unlink(path.c_str());
  jr::ReadResult r;
  EXPECT_TRUE(read_all(temp_path("missing"), &r).empty());
  EXPECT_EQ(r.records, 0U);
  EXPECT_THROW(Writer(temp_path("nodir/x/y"), 1 << 20, FsyncPolicy::kNone, 0), JournalError);
}

TEST(Journal, AlwaysPolicyMakesEachRecordDurableBeforeWaitReturns) {
  const std::string path = temp_path("always");
  Writer w(path, 1 << 20, FsyncPolicy::kAlways, 0);
  for (int i = 0; i < 20; ++i) {
    const std::uint64_t s = w.append(3, &i, sizeof i);
    w.wait_durable(s);
    EXPECT_GE(w.durable_seq(), s);
  }
  Writer n(temp_path("interval"), 1 << 20, FsyncPolicy::kInterval, 2);
  const std::uint64_t s = n.append(3, "x", 1);
  for (int i = 0; i < 2000 && n.durable_seq() < s; ++i) ::usleep(1000);
  EXPECT_EQ(n.durable_seq(), s) << "the journal thread syncs within its interval";
  ::unlink(path.c_str());
  ::unlink(temp_path("interval").c_str());
}

TEST(Journal, AWriterKilledMidStreamLeavesOnlyCompleteRecords) {
  // A child appends as fast as it can and is SIGKILLed; every record the parent then reads is
  // complete and in sequence, and there are many of them (the page cache keeps what the killed
  // process wrote into the mapping).
  const std::string path = temp_path("killed");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(ready[0]);
    Writer w(path, 64 << 20, FsyncPolicy::kNone, 0);
    char payload[200];
    for (std::uint64_t i = 0;; ++i) {
      std::memset(payload, static_cast<int>('a' + i % 26), sizeof payload);
      std::memcpy(payload, &i, sizeof i);
      if (w.append(5, payload, static_cast<std::uint32_t>(8 + i % 190)) == 0) break;
      if (i == 1000) (void)!::write(ready[1], "r", 1);
    }
    ::pause();  // full: wait for the kill
    ::_exit(0);
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::usleep(2000);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(ready[0]);
  jr::ReadResult r;
  std::uint64_t expect = 0;
  bool ok = true;
  read_journal(path, [&](std::uint16_t t, std::uint64_t s, std::span<const std::byte> p) {
    std::uint64_t i = 0;
    std::memcpy(&i, p.data(), sizeof i);
    ok = ok && t == 5 && s == expect + 1 && i == expect && p.size() == 8 + expect % 190;
    for (std::size_t k = 8; ok && k < p.size(); ++k)
      ok = static_cast<char>(p[k]) == static_cast<char>('a' + expect % 26);
    ++expect;
  });
  EXPECT_TRUE(ok) << "record " << expect << " is not the one written";
  EXPECT_GT(expect, 1000U);
  ::unlink(path.c_str());
}

jr::OrderAccepted accepted(const char* cid, const char* symbol, std::uint64_t seq) {
  jr::OrderAccepted a{};
  a.cid.assign(cid);
  a.symbol.assign(symbol);
  a.slot = 2;
  a.seq = seq;
  a.qty = 0.5_qty;
  a.price = 100.25_px;
  return a;
}

TEST(Recovery, OpenOrdersAndLastPositionsAreRecoveredAndASnapshotReproducesThem) {
  const std::string path = temp_path("recover");
  {
    Writer w(path, 1 << 20, FsyncPolicy::kNone, 0);
    w.append(jr::EpochRecord{});
    w.append(accepted("cwA", "BTCUSDT", 1));
    w.append(accepted("cwB", "BTCUSDT", 2));
    w.append(accepted("cwC", "ETHUSDT", 3));
    jr::OrderState s{};
    s.cid.assign("cwB");
    s.venue_order_id = 77;
    s.acked = 1;
    s.reported_qty = 0.2_qty;
    s.fee = 0.01_quote;
    s.fee_asset.assign("BNB");
    w.append(s);
    jr::OrderFinal f{};
    f.cid.assign("cwA");
    w.append(f);
    jr::CancelRequested c{};
    c.cid.assign("cwC");
    c.cancel_seq = 9;
    w.append(c);
    jr::OrderLeftOpen l{};
    l.cid.assign("cwC");
    w.append(l);
    jr::PositionRecord p{};
    p.symbol.assign("BTCUSDT");
    p.qty = 0.1_qty;
    w.append(p);
    p.qty = 0.3_qty;
    w.append(p);
    w.append(99, "future", 6);  // a record type this version does not know
  }
  const jr::Recovered r = jr::recover(path);
  EXPECT_EQ(r.epochs, 1U);
  EXPECT_EQ(r.unknown_records, 1U);
  ASSERT_EQ(r.open.size(), 2U);
  EXPECT_EQ(r.open[0].accepted.cid.view(), "cwB");
  EXPECT_EQ(r.open[0].state.venue_order_id, 77U);
  EXPECT_EQ(r.open[0].state.reported_qty, 0.2_qty);
  EXPECT_EQ(r.open[0].state.fee_asset.view(), "BNB");
  EXPECT_FALSE(r.open[0].left_open);
  EXPECT_EQ(r.open[1].accepted.cid.view(), "cwC");
  EXPECT_EQ(r.open[1].cancel_seq, 9U);
  EXPECT_TRUE(r.open[1].left_open);
  ASSERT_EQ(r.positions.count("BTCUSDT"), 1U);
  EXPECT_EQ(r.positions.at("BTCUSDT").qty, 0.3_qty) << "the last position record counts";

  const std::string snap = temp_path("snapshot");
  {
    Writer w(snap, 1 << 20, FsyncPolicy::kNone, 0);
    ASSERT_TRUE(jr::write_snapshot(w, r));
  }
  const jr::Recovered again = jr::recover(snap);
  ASSERT_EQ(again.open.size(), 2U);
  EXPECT_EQ(again.open[0].state.reported_qty, 0.2_qty);
  EXPECT_EQ(again.open[1].cancel_seq, 9U);
  EXPECT_TRUE(again.open[1].left_open);
  EXPECT_EQ(again.positions.at("BTCUSDT").qty, 0.3_qty);
  ::unlink(path.c_str());
  ::unlink(snap.c_str());
}

}  // namespace
