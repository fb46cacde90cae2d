// cwts-latency-pingpong: engine→strategy→engine over the real shared-memory regions, against a
// Unix-domain-socket baseline, between two pinned processes, in the same run.
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "cwts/cli/cli.hpp"
#include "cwts/concurrent/broadcast_ring.hpp"
#include "cwts/concurrent/record_ring.hpp"
#include "cwts/shm/region.hpp"
#include "cwts/shm/sealed_memory.hpp"
#include "cwts/shm_layout/layout.hpp"
#include "stats.hpp"

namespace {

namespace cc = cwts::concurrent;
namespace layout = cwts::layout;
using cwts::shm::Access;
using cwts::shm::Region;

// CLOCK_MONOTONIC through the vDSO: comparable across processes on one machine.
std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

bool pin(int cpu) {
  if (cpu < 0) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

using cwts::bench::Stats;
using cwts::bench::stats;

struct Options {
  std::size_t samples = 200'000;
  std::size_t warmup = 20'000;
  int cpu_parent = 0;
  int cpu_child = 1;
  bool json = false;
  std::string raw;  // shm one-way samples (ns), one per line
  std::string hugepage_dir;
};

// The memory of signal slot 0, as cwtsd hands it to a claim (ADR 0021): a sealed memfd, here
// mapped before the fork (the benchmark plays the engine without its claim socket).
layout::SignalSlot* map_slot_memory() {
  const cwts::shm::UniqueFd fd =
      cwts::shm::create_sealed_memory("cwts-pingpong-slot0", sizeof(layout::SignalSlot));
  void* p =
      ::mmap(nullptr, sizeof(layout::SignalSlot), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) {
    std::perror("mmap slot memory");
    std::exit(1);
  }
  return static_cast<layout::SignalSlot*>(p);
}

// Child side of the shared-memory ping-pong: the "strategy".
int shm_child(const cwts::shm::RegionOptions& ropts, layout::SignalSlot& slot, std::size_t total,
              std::int64_t* oneway) {
  Region market = Region::attach(layout::RegionKind::kMarket, Access::kReadOnly, ropts);
  const auto& m = market.as<layout::MarketRegion>();
  cc::BroadcastReader<layout::Event, layout::kEventRingCapacity> reader(m.events, 1);
  cc::RecordProducer<layout::Signal, layout::kSignalRingCapacity> prod(slot.signals,
                                                                       m.slot(0).signal_cursor);
  layout::Event ev{};
  layout::Signal sig{};
  for (std::size_t i = 0; i < total; ++i) {
    cc::ReadStatus st;
    while ((st = reader.try_read(ev)) == cc::ReadStatus::kEmpty) cc::cpu_relax();
    const std::int64_t t = now_ns();
    if (st != cc::ReadStatus::kOk || ev.update_id != i + 1) return 1;
    oneway[i] = t - ev.publish_ts_ns;
    sig.seq = ev.update_id;
    sig.created_ns = t;
    while (prod.try_push(sig) != cc::PushStatus::kOk) cc::cpu_relax();
  }
  return 0;
}

// Child side of the socket ping-pong: echo every message.
int uds_child(int fd, std::size_t total, bool busy) {
  char buf[64];
  for (std::size_t i = 0; i < total; ++i) {
    ssize_t n;
    if (busy) {
      while ((n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) < 0 && errno == EAGAIN) {
      }
    } else {
      n = ::recv(fd, buf, sizeof buf, 0);
    }
    if (n != static_cast<ssize_t>(sizeof buf)) return 1;
    if (::send(fd, buf, sizeof buf, 0) != static_cast<ssize_t>(sizeof buf)) return 1;
  }
  return 0;
}

std::vector<std::int64_t> uds_run(const Options& o, bool busy) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0) return {};
  const std::size_t total = o.warmup + o.samples;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(sv[0]);
    pin(o.cpu_child);
    ::_exit(uds_child(sv[1], total, busy));
  }
  ::close(sv[1]);
  std::vector<std::int64_t> rtt;
  rtt.reserve(o.samples);
  char buf[64] = {};
  for (std::size_t i = 0; i < total; ++i) {
    const std::int64_t t0 = now_ns();
    std::memcpy(buf, &t0, sizeof t0);
    if (::send(sv[0], buf, sizeof buf, 0) != static_cast<ssize_t>(sizeof buf)) break;
    ssize_t n;
    if (busy) {
      while ((n = ::recv(sv[0], buf, sizeof buf, MSG_DONTWAIT)) < 0 && errno == EAGAIN) {
      }
    } else {
      n = ::recv(sv[0], buf, sizeof buf, 0);
    }
    const std::int64_t t1 = now_ns();
    if (n != static_cast<ssize_t>(sizeof buf)) break;
    if (i >= o.warmup) rtt.push_back(t1 - t0);
  }
  ::close(sv[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return rtt;
}

void print_row(const char* name, const Stats& s) {
  std::printf("%-34s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %9" PRIu64 " %10" PRIu64 " %9zu\n",
              name, s.p50, s.p90, s.p99, s.p999, s.max, s.n);
}
void print_json(const char* key, const Stats& s, bool last) {
  std::printf("\"%s\":{\"p50_ns\":%" PRIu64 ",\"p90_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64
              ",\"p999_ns\":%" PRIu64 ",\"max_ns\":%" PRIu64 ",\"samples\":%zu}%s",
              key, s.p50, s.p90, s.p99, s.p999, s.max, s.n, last ? "" : ",");
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string cpus;
  CLI::App app("cwts-latency-pingpong: round trip between two processes through a shared region",
               "cwts-latency-pingpong");
  cwts::cli::setup(app);
  app.add_option("--samples", o.samples, "Round trips measured (> 0)")
      ->type_name("N")
      ->capture_default_str();
  app.add_option("--warmup", o.warmup, "Round trips first, not measured")
      ->type_name("N")
      ->capture_default_str();
  app.add_option("--cpus", cpus, "Pin the two processes to these cores")->type_name("A,B");
  app.add_option("--hugepages", o.hugepage_dir, "The region on huge pages in DIR")
      ->type_name("DIR");
  app.add_flag("--json", o.json, "One JSON object");
  app.add_option("--raw", o.raw, "Every sample (ns), one a line")->type_name("FILE");
  if (const auto rc = cwts::cli::parse(app, argc, argv)) return *rc;
  if (!cpus.empty() && std::sscanf(cpus.c_str(), "%d,%d", &o.cpu_parent, &o.cpu_child) != 2)
    return cwts::cli::usage_error(app, "--cpus takes A,B");
  if (o.samples == 0) return cwts::cli::usage_error(app, "--samples must be > 0");
  spdlog::set_level(spdlog::level::err);
  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (cores < 2) {
    std::fprintf(stderr, "cwts-latency-pingpong: fewer than 2 cores: running unpinned\n");
    o.cpu_parent = o.cpu_child = -1;
  }

  // --- shared memory: event ring out, signal ring back ---
  cwts::shm::RegionOptions ropts;
  ropts.instance = "pingpong" + std::to_string(::getpid());
  ropts.hugepage_dir = o.hugepage_dir;
  Region market = Region::create(layout::RegionKind::kMarket, ropts);
  market.set_state(layout::RegionState::kLive);
  layout::SignalSlot* slot0 = map_slot_memory();
  auto& m = market.as<layout::MarketRegion>();
  const std::size_t total = o.warmup + o.samples;
  auto* oneway =
      static_cast<std::int64_t*>(::mmap(nullptr, total * sizeof(std::int64_t),
                                        PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  const pid_t child = ::fork();
  if (child == 0) {
    pin(o.cpu_child);
    int rc = 1;
    try {
      rc = shm_child(ropts, *slot0, total, oneway);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    }
    ::_exit(rc);
  }
  pin(o.cpu_parent);
  cc::RecordConsumer<layout::Signal, layout::kSignalRingCapacity> cons(slot0->signals,
                                                                       m.slot(0).signal_cursor);
  std::vector<std::int64_t> rtt;
  rtt.reserve(o.samples);
  layout::Event ev{};
  layout::Signal sig{};
  bool ok = true;
  for (std::size_t i = 0; i < total && ok; ++i) {
    ev.update_id = i + 1;
    const std::int64_t t0 = now_ns();
    ev.publish_ts_ns = t0;
    m.events.publish(ev);
    while (cons.try_pop(sig) != cc::PopStatus::kOk) cc::cpu_relax();
    const std::int64_t t1 = now_ns();
    ok = sig.seq == i + 1;
    if (i >= o.warmup) rtt.push_back(t1 - t0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  const bool huge = market.backing() == cwts::shm::Backing::kHugePages;
  market.remove();
  if (!ok) {
    std::fprintf(stderr,
                 "cwts-latency-pingpong: shared-memory ping-pong lost or reordered a "
                 "message; figures discarded\n");
    return 1;
  }
  const std::vector<std::int64_t> ow(oneway + o.warmup, oneway + total);
  const Stats shm_ow = stats(ow);
  if (!o.raw.empty()) {
    std::ofstream out(o.raw);
    for (auto v : ow) out << v << '\n';
  }
  const Stats shm_rt = stats(rtt);
  const Stats uds_rt = stats(uds_run(o, false));
  const Stats uds_busy = stats(uds_run(o, true));

  if (o.json) {
    std::printf("{");
    print_json("shm_oneway", shm_ow, false);
    print_json("shm_roundtrip", shm_rt, false);
    print_json("uds_roundtrip", uds_rt, false);
    print_json("uds_busy_roundtrip", uds_busy, false);
    std::printf(
        "\"machine\":{\"cpu\":\"%s\",\"cores\":%ld,\"pinned\":[%d,%d],\"huge_pages\":%s}}\n",
        cpu_model().c_str(), cores, o.cpu_parent, o.cpu_child, huge ? "true" : "false");
    return 0;
  }
  std::printf(
      "cwts-latency-pingpong: %zu samples after %zu warm-up, processes pinned to cpus "
      "%d and %d, %s, %s\n\n",
      o.samples, o.warmup, o.cpu_parent, o.cpu_child, cpu_model().c_str(),
      huge ? "huge pages" : "normal pages");
  std::printf("%-34s %8s %8s %8s %9s %10s %9s\n", "path (ns)", "p50", "p90", "p99", "p99.9", "max",
              "samples");
  print_row("shm event publish -> reader", shm_ow);
  print_row("shm round trip (event -> signal)", shm_rt);
  print_row("unix socket round trip (blocking)", uds_rt);
  print_row("unix socket round trip (busy-poll)", uds_busy);
  return 0;
}
