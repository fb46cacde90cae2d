// The order journal's costs (libs/journal, docs/journal.md): what the exec thread pays per append
// (a memcpy into the shared file mapping + CRC-32C) under each fsync policy, what fsync-per-order
// (kAlways: append + wait_durable) costs on this disk, the CRC alone, and start-up recovery.
//
// The journal files are written in $CWTS_BENCH_DIR (default /tmp): put it on the disk the engine's
// journal will live on. /dev/shm (tmpfs) is not representative: msync there costs nothing. Each
// benchmark's label names the directory and its file system.
#include <sys/statfs.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "cwts/journal/journal.hpp"
#include "cwts/journal/records.hpp"
#include "cwts/journal/recovery.hpp"

namespace {

namespace cj = cwts::journal;
using cwts::core::Price;
using cwts::core::Qty;

constexpr std::size_t kCapacity = std::size_t{256} << 20;  // 256 MiB: ~2.1M OrderAccepted records

std::string bench_dir() {
  const char* d = std::getenv("CWTS_BENCH_DIR");
  return d != nullptr && *d != '\0' ? std::string(d) : std::string("/tmp");
}

std::string fs_name(const std::string& dir) {
  struct statfs s {};
  if (::statfs(dir.c_str(), &s) != 0) return "?";
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0xEF53UL:
      return "ext4";
    case 0x58465342UL:
      return "xfs";
    case 0x9123683EUL:
      return "btrfs";
    case 0x01021994UL:
      return "tmpfs";
    case 0x794C7630UL:
      return "overlayfs";
    case 0x2FC12FC1UL:
      return "zfs";
    default: {
      char b[32];
      std::snprintf(b, sizeof b, "fs 0x%lx", static_cast<unsigned long>(s.f_type));
      return b;
    }
  }
}

std::string label() {
  const std::string d = bench_dir();
  return d + " (" + fs_name(d) + ")";
}

std::string journal_path(const char* what) {
  return bench_dir() + "/cwts-bench-journal-" + std::to_string(::getpid()) + "-" + what +
         ".journal";
}

cj::OrderAccepted make_accepted(std::uint64_t i) {
  cj::OrderAccepted a{};
  char cid[40];
  std::snprintf(cid, sizeof cid, "x-CWTS0a1b2c3d4e%014llu", static_cast<unsigned long long>(i));
  a.cid.assign(cid);
  a.symbol.assign("BTCUSDT");
  a.slot = 3;
  a.side = 1;
  a.type = 1;
  a.tif = 1;
  a.seq = i;
  a.price = Price{5'000'012'000'000};
  a.qty = Qty{100'000};
  a.accepted_ns = 1'764'000'000'000'000'000 + static_cast<std::int64_t>(i);
  a.deadline_ns = a.accepted_ns + 5'000'000'000;
  return a;
}

// What the exec thread pays per OrderAccepted: append() only (the journal thread syncs on its own
// for kInterval). A fresh 256 MiB Writer per run; recreated, untimed, if it fills.
void BM_Append(benchmark::State& state) {
  const auto policy = static_cast<cj::FsyncPolicy>(state.range(0));
  const std::string path = journal_path("append");
  auto w = std::make_unique<cj::Writer>(path, kCapacity, policy, 10);
  cj::OrderAccepted a = make_accepted(1);
  for (auto _ : state) {
    ++a.seq;
    std::uint64_t seq = w->append(a);
    if (seq == 0) {
      state.PauseTiming();
      w.reset();
      w = std::make_unique<cj::Writer>(path, kCapacity, policy, 10);
      state.ResumeTiming();
      seq = w->append(a);
    }
    benchmark::DoNotOptimize(seq);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() *
                          static_cast<std::int64_t>(cj::record_bytes(sizeof a)));
  state.SetLabel(label());
  w.reset();
  ::unlink(path.c_str());
}

// The per-append distribution (each append timed on its own with steady_clock, ~20 ns of clock
// overhead included): the mean hides the first write to each page after a sync, which faults.
void BM_AppendTail(benchmark::State& state) {
  const auto policy = static_cast<cj::FsyncPolicy>(state.range(0));
  const std::string path = journal_path("tail");
  std::vector<std::int64_t> ns;
  ns.reserve(1'000'000);
  for (auto _ : state) {
    state.PauseTiming();
    auto w = std::make_unique<cj::Writer>(path, kCapacity, policy, 10);
    ns.clear();
    state.ResumeTiming();
    cj::OrderAccepted a = make_accepted(1);
    for (int i = 0; i < 1'000'000; ++i) {
      ++a.seq;
      const auto t0 = std::chrono::steady_clock::now();
      benchmark::DoNotOptimize(w->append(a));
      const auto t1 = std::chrono::steady_clock::now();
      ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    }
    state.PauseTiming();
    w.reset();
    state.ResumeTiming();
  }
  std::sort(ns.begin(), ns.end());
  auto pct = [&](double p) {
    return static_cast<double>(
        ns[static_cast<std::size_t>(p * static_cast<double>(ns.size() - 1))]);
  };
  state.counters["p50_ns"] = pct(0.50);
  state.counters["p99_ns"] = pct(0.99);
  state.counters["p999_ns"] = pct(0.999);
  state.counters["p9999_ns"] = pct(0.9999);
  state.counters["max_ns"] = static_cast<double>(ns.back());
  state.SetLabel(label() + ", 1M appends per iteration");
  ::unlink(path.c_str());
}

// fsync-per-order: append, then wait until the journal thread's msync has it on disk.
void BM_AppendWaitDurable(benchmark::State& state) {
  const std::string path = journal_path("always");
  auto w = std::make_unique<cj::Writer>(path, kCapacity, cj::FsyncPolicy::kAlways, 10);
  cj::OrderAccepted a = make_accepted(1);
  std::vector<std::int64_t> ns;
  for (auto _ : state) {
    ++a.seq;
    const auto t0 = std::chrono::steady_clock::now();
    std::uint64_t seq = w->append(a);
    if (seq == 0) {
      state.PauseTiming();
      w.reset();
      w = std::make_unique<cj::Writer>(path, kCapacity, cj::FsyncPolicy::kAlways, 10);
      state.ResumeTiming();
      seq = w->append(a);
    }
    w->wait_durable(seq);
    const auto t1 = std::chrono::steady_clock::now();
    ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  }
  std::sort(ns.begin(), ns.end());
  if (!ns.empty()) {
    state.counters["p50_us"] = static_cast<double>(ns[ns.size() / 2]) / 1e3;
    state.counters["p99_us"] = static_cast<double>(ns[(ns.size() - 1) * 99 / 100]) / 1e3;
    state.counters["max_us"] = static_cast<double>(ns.back()) / 1e3;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(label());
  w.reset();
  ::unlink(path.c_str());
}

void BM_Crc32c_104(benchmark::State& state) {
  const cj::OrderAccepted a = make_accepted(42);
  static_assert(sizeof a == 104);
  std::uint32_t c = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(&a);
    c = cj::crc32c(0, &a, sizeof a);
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(sizeof a));
}

// recover() of a 64 MiB journal (the default size_mb) holding 100k records: range(0) orders left
// open (an OrderAccepted each, first), then ~25k orders with their whole life (OrderAccepted,
// OrderState, PositionRecord, OrderFinal: the exec thread's records for an order that fills).
// Reads the file from the page cache. recover() looks each record's order up among the open ones,
// so its cost grows with records x open orders.
void BM_Recover(benchmark::State& state) {
  const auto open = static_cast<std::uint64_t>(state.range(0));
  constexpr std::uint64_t kRecords = 100'000;
  const std::string path = journal_path("recover");
  std::uint64_t written = 0;
  {
    cj::Writer w(path, std::size_t{64} << 20, cj::FsyncPolicy::kNone, 10);  // as size_mb 64
    cj::EpochRecord e{};
    e.epoch_ns = 1;
    e.venue.assign("binance");
    w.append(e);
    ++written;
    std::uint64_t order = 0;
    // Orders left open first (they stay open to the end), then complete lifecycles.
    for (; order < open && written < kRecords; ++order, ++written) w.append(make_accepted(order));
    while (written + 4 <= kRecords) {
      const cj::OrderAccepted a = make_accepted(order++);
      w.append(a);
      cj::OrderState s{};
      s.cid = a.cid;
      s.venue_order_id = order;
      s.acked = 1;
      s.reported_qty = a.qty;
      w.append(s);
      cj::PositionRecord p{};
      p.symbol = a.symbol;
      p.qty = a.qty;
      p.avg_px = a.price;
      w.append(p);
      cj::OrderFinal f{};
      f.cid = a.cid;
      f.kind = 3;
      w.append(f);
      written += 4;
    }
    while (written < kRecords) {
      w.append(make_accepted(order++));  // remainder, left open
      ++written;
    }
  }
  std::size_t left_open = 0;
  for (auto _ : state) {
    const cj::Recovered r = cj::recover(path);
    if (r.read.records != kRecords) state.SkipWithError("wrong record count");
    left_open = r.open.size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["records_per_s"] =
      benchmark::Counter(static_cast<double>(kRecords) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
  state.counters["open_orders"] = static_cast<double>(left_open);
  state.SetLabel(label() + ", 100k records");
  ::unlink(path.c_str());
}

}  // namespace

BENCHMARK(BM_Append)
    ->ArgName("policy")
    ->Arg(static_cast<int>(cj::FsyncPolicy::kNone))
    ->Arg(static_cast<int>(cj::FsyncPolicy::kInterval))
    ->Iterations(2'000'000)  // fits one 256 MiB Writer: no recreation while timed
    ->Repetitions(3);
BENCHMARK(BM_AppendTail)
    ->ArgName("policy")
    ->Arg(static_cast<int>(cj::FsyncPolicy::kNone))
    ->Arg(static_cast<int>(cj::FsyncPolicy::kInterval))
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AppendWaitDurable)->UseRealTime()->MinTime(3.0)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Crc32c_104);
BENCHMARK(BM_Recover)->ArgName("open")->Arg(0)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);
