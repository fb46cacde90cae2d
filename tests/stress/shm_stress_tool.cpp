// cwts-shm-stress: the writer and reader processes the multi-process stress tests spawn.
//
//   cwts-shm-stress writer  --instance I --shm-dir D --kind seqlock|event|record --count N
//                           [--torn-after K] [--torn-mode payload|commit] [--gen G] [--unprotected]
//   cwts-shm-stress reader  --instance I --shm-dir D --kind seqlock|event|record
//                           [--expect N] [--timeout-s T] [--slow-every K] [--slow-us U]
//                           [--linger-ms L] [--until-eof]
//   cwts-shm-stress monitor --instance I --shm-dir D --kind record [--expect N] [--timeout-s T]
//
// Roles. Each region has exactly one creator, as in production:
//   seqlock/event: the writer is the engine: it creates the market region and writes
//     symbols[0].quote (Seqlock<Quote>) or events (BroadcastRing<Event>). Readers attach it
//     read-only.
//   record: the reader is the engine: it creates the market region and slot 0's memory (one
//     layout::SignalSlot) and consumes its signal ring through a read-only mapping, its cursor in
//     market.slot(0).signal_cursor. cwtsd hands a claim its slot memory over its claim socket
//     (ADR 0021, cwts/shm/slot_lease.hpp); these processes run without an engine, so the memory
//     is a file in --shm-dir: "<shm-dir>/cwts-<instance>-stress-slot0". The writer is a
//     strategy: it maps that file read-write and the market region read-only, and pushes with
//     RecordProducer (whose constructor recovers the tail a killed predecessor left). The
//     monitor watches both cursors.
//
// Payloads are self-checking (stress_checks.hpp): seqlock write k and event record k carry seq k
// (1-based); record ring index i carries seq i (0-based) and the writer's --gen.
//
// Line protocol on stdout (stdin is a pipe from the driver):
//   every role        "READY <n>" once attached/created (writers: n = first record index), then
//                     writers wait for one line ("GO") on stdin before writing.
//   writer            "DONE <count>" after the last record, then waits for stdin EOF and exits.
//     --torn-after K  after K complete records: "WROTE <complete records>", waits for a line,
//                     leaves record K+1 half-written, prints "TORN" and sleeps until SIGKILLed.
//                     seqlock: seq odd, first half of the words new. event: slot seq odd, half the
//                     words. record: all payload words, no commit (--torn-mode payload) or words
//                     and commit but no tail hint (--torn-mode commit: killed between the two).
//     --unprotected   seqlock only: writes the words without touching seq, so the readers' checks
//                     must report torn copies (proves the checker can fail).
//   reader/monitor    one JSON line of counts (stress_checks.hpp: ReadStats), exit 0 if no torn
//                     copy and no ordering violation, 1 otherwise. Seqlock/event readers stop at
//                     seq N, after the writer died (plus --linger-ms) or at the timeout; the
//                     record consumer stops after N records, or with --until-eof when stdin
//                     closes (after draining what is committed).
// Exit 2: bad arguments or a region error (message on stderr).
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cwts/shm/region.hpp"
#include "cwts/shm_layout/layout.hpp"
#include "stress_checks.hpp"

namespace {

using cwts::layout::Event;
using cwts::layout::MarketRegion;
using cwts::layout::Quote;
using cwts::layout::RegionKind;
using cwts::layout::RegionState;
using cwts::layout::Signal;
using cwts::layout::SignalSlot;
using cwts::shm::Access;
using cwts::shm::Region;
using cwts::shm::RegionError;
namespace cc = cwts::concurrent;
namespace st = cwts::stress;

using SignalProducer = cc::RecordProducer<Signal, cwts::layout::kSignalRingCapacity>;

struct Options {
  std::string role;
  std::string instance;
  std::string shm_dir;
  std::string kind;
  std::uint64_t count = 0;
  std::uint64_t expect = 0;
  std::uint64_t gen = 1;
  std::optional<std::uint64_t> torn_after;
  std::string torn_mode = "payload";
  bool unprotected = false;
  double timeout_s = 30;
  std::uint64_t slow_every = 0;
  std::uint64_t slow_us = 1000;
  std::uint64_t linger_ms = 50;
  bool until_eof = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "cwts-shm-stress: %s (see the comment at the top of shm_stress_tool.cpp)\n",
               why.c_str());
  std::exit(2);
}

std::uint64_t to_u64(const std::string& s, const std::string& flag) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno != 0) usage("bad number for " + flag + ": " + s);
  return v;
}

Options parse(int argc, char** argv) {
  if (argc < 2) usage("missing role");
  Options o;
  o.role = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--unprotected") {
      o.unprotected = true;
      continue;
    }
    if (flag == "--until-eof") {
      o.until_eof = true;
      continue;
    }
    if (i + 1 >= argc) usage("missing value for " + flag);
    const std::string v = argv[++i];
    if (flag == "--instance") {
      o.instance = v;
    } else if (flag == "--shm-dir") {
      o.shm_dir = v;
    } else if (flag == "--kind") {
      o.kind = v;
    } else if (flag == "--count") {
      o.count = to_u64(v, flag);
    } else if (flag == "--expect") {
      o.expect = to_u64(v, flag);
    } else if (flag == "--gen") {
      o.gen = to_u64(v, flag);
    } else if (flag == "--torn-after") {
      o.torn_after = to_u64(v, flag);
    } else if (flag == "--torn-mode") {
      o.torn_mode = v;
    } else if (flag == "--timeout-s") {
      o.timeout_s = static_cast<double>(to_u64(v, flag));
    } else if (flag == "--slow-every") {
      o.slow_every = to_u64(v, flag);
    } else if (flag == "--slow-us") {
      o.slow_us = to_u64(v, flag);
    } else if (flag == "--linger-ms") {
      o.linger_ms = to_u64(v, flag);
    } else {
      usage("unknown flag " + flag);
    }
  }
  if (o.instance.empty() || o.shm_dir.empty()) usage("--instance and --shm-dir are required");
  if (o.kind != "seqlock" && o.kind != "event" && o.kind != "record") usage("bad --kind");
  if (o.torn_mode != "payload" && o.torn_mode != "commit") usage("bad --torn-mode");
  if (o.unprotected && o.kind != "seqlock") usage("--unprotected is for --kind seqlock");
  return o;
}

cwts::shm::RegionOptions region_options(const Options& o) {
  cwts::shm::RegionOptions r;
  r.instance = o.instance;
  r.hugepage_dir = "";  // never the real hugetlbfs mount: tests must not touch real instances
  r.shm_dir = o.shm_dir;
  r.lock_pages = false;  // RLIMIT_MEMLOCK is small on CI machines and locking proves nothing here
  return r;
}

// stdout carries the line protocol: flush every line, the driver is waiting for it.
void say(const char* word) {
  std::printf("%s\n", word);
  std::fflush(stdout);
}
void say(const char* word, std::uint64_t n) {
  std::printf("%s %" PRIu64 "\n", word, n);
  std::fflush(stdout);
}

// Raw reads, no stdio buffering: the reader roles poll the same descriptor.
bool read_stdin_line() {
  for (;;) {
    char c = 0;
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n == 1) {
      if (c == '\n') return true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return false;  // EOF or error: the driver is gone or done with us
  }
}

void wait_stdin_eof() {
  while (read_stdin_line()) {
  }
}

bool stdin_closed() {
  pollfd p{STDIN_FILENO, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  char buf[64];
  const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
  return n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN);
}

[[noreturn]] void sleep_until_killed() {
  for (;;) ::pause();
}

// Readers are started right after the creator printed READY; retry the retryable errors anyway.
Region attach_retry(RegionKind kind, Access access, const Options& o) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    try {
      return Region::attach(kind, access, region_options(o));
    } catch (const RegionError& e) {
      if (!e.retryable() || std::chrono::steady_clock::now() > deadline) throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Slot 0's memory: a file of one SignalSlot in --shm-dir (see the top of this file), mapped
// read-write (the writer) or read-only (the engine, the monitor). Move-only; unmaps on
// destruction.
class SlotMemory {
 public:
  // The engine: creates the file zero-filled (an empty ring), whole before it appears under its
  // name (written under a temporary name, then renamed), and maps it read-only.
  static SlotMemory create(const Options& o) {
    const std::string path = slot_memory_path(o);
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) fail("create", tmp);
    if (::ftruncate(fd, sizeof(SignalSlot)) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      errno = e;
      fail("size or rename", tmp);
    }
    SlotMemory m = map(fd, false, path);
    m.owner_ = true;
    return m;
  }
  // The writer and the monitor: the file the engine created (waiting up to 10 s for it).
  static SlotMemory open(const Options& o, bool writable) {
    const std::string path = slot_memory_path(o);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      const int fd = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
      if (fd >= 0) return map(fd, writable, path);
      if (errno != ENOENT || std::chrono::steady_clock::now() > deadline) fail("open", path);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  SlotMemory(SlotMemory&& other) noexcept
      : mem_(std::exchange(other.mem_, nullptr)),
        path_(std::move(other.path_)),
        owner_(std::exchange(other.owner_, false)) {}
  SlotMemory& operator=(SlotMemory&&) = delete;
  SlotMemory(const SlotMemory&) = delete;
  SlotMemory& operator=(const SlotMemory&) = delete;
  ~SlotMemory() {
    if (mem_ != nullptr) ::munmap(mem_, sizeof(SignalSlot));
  }

  [[nodiscard]] SignalSlot& slot() const noexcept { return *static_cast<SignalSlot*>(mem_); }
  // The engine, at the end: removes the file (the mapping stays valid until destruction).
  void remove() const noexcept {
    if (owner_) ::unlink(path_.c_str());
  }

 private:
  SlotMemory(void* mem, std::string path) : mem_(mem), path_(std::move(path)) {}

  static std::string slot_memory_path(const Options& o) {
    return o.shm_dir + "/cwts-" + o.instance + "-stress-slot0";
  }
  [[noreturn]] static void fail(const char* what, const std::string& path) {
    throw std::runtime_error(std::string("slot memory ") + what + " " + path + ": " +
                             std::strerror(errno));
  }
  static SlotMemory map(int fd, bool writable, const std::string& path) {
    struct stat info {};
    if (::fstat(fd, &info) != 0 || info.st_size != static_cast<off_t>(sizeof(SignalSlot))) {
      ::close(fd);
      throw std::runtime_error("slot memory " + path + ": not " +
                               std::to_string(sizeof(SignalSlot)) + " bytes");
    }
    void* p = ::mmap(nullptr, sizeof(SignalSlot), PROT_READ | (writable ? PROT_WRITE : 0),
                     MAP_SHARED, fd, 0);
    const int e = errno;
    ::close(fd);  // the mapping keeps the memory
    errno = e;
    if (p == MAP_FAILED) fail("mmap", path);
    return SlotMemory(p, path);
  }

  void* mem_ = nullptr;
  std::string path_;
  bool owner_ = false;
};

// --- writers ---------------------------------------------------------------------------------

// Leaves Seqlock write `seq` half done, exactly as a writer killed inside store() would.
template <typename T>
void tear_seqlock(cc::Seqlock<T>& lock, std::uint64_t seq, std::uint64_t gen) {
  const auto w = st::payload_words<st::kWordsOf<T>>(seq, gen);
  const std::uint64_t cur = cc::load_word(lock.seq, std::memory_order_relaxed);
  cc::store_word(lock.seq, cur + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (std::size_t i = 0; i < w.size() / 2; ++i) {
    cc::store_word(lock.words[i], w[i], std::memory_order_relaxed);
  }
}

// Leaves the next broadcast record half published: odd slot seq, half the words, head unchanged.
template <typename T, std::size_t N>
void tear_event(cc::BroadcastRing<T, N>& ring, std::uint64_t gen) {
  const std::uint64_t s = cc::load_word(ring.head, std::memory_order_relaxed) + 1;
  auto& slot = ring.slots[(s - 1) & (N - 1)];
  const auto w = st::payload_words<st::kWordsOf<T>>(s, gen);
  cc::store_word(slot.seq, 2 * s - 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (std::size_t i = 0; i < w.size() / 2; ++i) {
    cc::store_word(slot.words[i], w[i], std::memory_order_relaxed);
  }
}

int run_engine_writer(const Options& o) {
  Region market = Region::create(RegionKind::kMarket, region_options(o));
  market.set_state(RegionState::kLive);
  auto& m = market.as<MarketRegion>();
  auto& quote = m.symbol(0).quote;
  say("READY", 0);
  read_stdin_line();
  for (std::uint64_t seq = 1; seq <= o.count; ++seq) {
    if (o.torn_after && seq == *o.torn_after + 1) {
      say("WROTE", seq - 1);
      read_stdin_line();
      if (o.kind == "seqlock") {
        tear_seqlock(quote, seq, o.gen);
      } else {
        tear_event(m.events, o.gen);
      }
      say("TORN");
      sleep_until_killed();
    }
    if (o.kind == "seqlock") {
      const Quote q = st::make_payload<Quote>(seq, o.gen);
      if (o.unprotected) {
        // Every 16th write: half the words, a pause, the other half — a wide torn window, so the
        // readers' checks are certain to meet one even when sanitizers slow everything down.
        std::uint64_t w[sizeof(Quote) / 8];
        std::memcpy(w, &q, sizeof w);
        constexpr std::size_t kHalf = sizeof(Quote) / 16;
        for (std::size_t i = 0; i < sizeof(Quote) / 8; ++i) {
          if (i == kHalf && (seq & 15) == 0) {
            for (int k = 0; k < 200; ++k) cc::cpu_relax();
          }
          cc::store_word(quote.words[i], w[i], std::memory_order_relaxed);
        }
      } else {
        quote.store(q);
      }
    } else {
      const std::uint64_t s = m.events.publish(st::make_payload<Event>(seq, o.gen));
      if (s != seq) {
        std::fprintf(stderr,
                     "cwts-shm-stress: publish returned %" PRIu64 " for record %" PRIu64 "\n", s,
                     seq);
        return 1;
      }
    }
  }
  say("DONE", o.count);
  wait_stdin_eof();
  market.remove();
  return 0;
}

void push_blocking(SignalProducer& producer, const Signal& s) {
  std::uint64_t idle = 0;  // consecutive kFull: reset per record
  while (producer.try_push(s) == cc::PushStatus::kFull) st::idle_backoff(idle);
}

int run_strategy_writer(const Options& o) {
  const SlotMemory mem = SlotMemory::open(o, /*writable=*/true);
  Region market = attach_retry(RegionKind::kMarket, Access::kReadOnly, o);
  auto& ring = mem.slot().signals;
  const auto& cursor = market.as<MarketRegion>().slot(0).signal_cursor;
  SignalProducer producer(ring, cursor);
  say("READY", producer.next_index());
  read_stdin_line();
  for (std::uint64_t i = 0; i < o.count; ++i) {
    const std::uint64_t index = producer.next_index();
    if (o.torn_after && i == *o.torn_after) {
      say("WROTE", index);
      read_stdin_line();
      // As try_push would: never write into a record the consumer has not released.
      std::uint64_t idle = 0;
      while (producer.free_space() == 0) st::idle_backoff(idle);
      auto& rec = ring.records[index & (cwts::layout::kSignalRingCapacity - 1)];
      cc::store_words(rec.words, st::make_payload<Signal>(index, o.gen));
      if (o.torn_mode == "commit") {
        cc::store_word(rec.commit, index + 1, std::memory_order_release);
      }
      say("TORN");
      sleep_until_killed();
    }
    push_blocking(producer, st::make_payload<Signal>(index, o.gen));
  }
  say("DONE", o.count);
  wait_stdin_eof();
  return 0;
}

// --- readers ---------------------------------------------------------------------------------

st::ReadControl control(const Options& o) {
  st::ReadControl c;
  c.expect = o.expect;
  c.deadline = std::chrono::steady_clock::now() +
               std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout_s * 1000));
  c.slow_every = o.slow_every;
  c.slow_sleep = std::chrono::microseconds(o.slow_us);
  c.linger = std::chrono::milliseconds(o.linger_ms);
  if (o.until_eof) c.stop_requested = [] { return stdin_closed(); };
  return c;
}

int report(const st::ReadStats& s) {
  std::printf("%s\n", st::to_json(s).c_str());
  std::fflush(stdout);
  return s.clean() ? 0 : 1;
}

int run_market_reader(const Options& o) {
  // The market region is only ever mapped read-only by readers (PROT_READ): a stray write would
  // fault instead of corrupting the engine's data.
  const Region market = attach_retry(RegionKind::kMarket, Access::kReadOnly, o);
  const auto& m = market.as<MarketRegion>();
  const pid_t engine = m.header.engine_pid;
  const std::uint64_t ticks = m.header.engine_start_ticks;
  st::ReadControl c = control(o);
  c.writer_alive = [engine, ticks] { return cwts::shm::process_alive(engine, ticks); };
  say("READY", 0);
  // The writer waits for the driver's GO, sent after every reader is READY: start at record 1.
  const st::ReadStats s = o.kind == "seqlock" ? st::read_seqlock(m.symbol(0).quote, c)
                                              : st::read_events(m.events, c, 1);
  return report(s);
}

int run_engine_consumer(const Options& o) {
  Region market = Region::create(RegionKind::kMarket, region_options(o));
  market.set_state(RegionState::kLive);
  // The engine reads the strategy's ring through a read-only mapping, as in production.
  const SlotMemory mem = SlotMemory::create(o);
  auto& cursor = market.as<MarketRegion>().slot(0).signal_cursor;
  const st::ReadControl c = control(o);
  say("READY", 0);
  const st::ReadStats s = st::consume_records(std::as_const(mem.slot()).signals, cursor, c);
  const int rc = report(s);
  mem.remove();
  market.remove();
  return rc;
}

int run_monitor(const Options& o) {
  const Region market = attach_retry(RegionKind::kMarket, Access::kReadOnly, o);
  const SlotMemory mem = SlotMemory::open(o, /*writable=*/false);
  const st::ReadControl c = control(o);
  say("READY", 0);
  return report(st::watch_cursors(std::as_const(mem.slot()).signals,
                                  market.as<MarketRegion>().slot(0).signal_cursor, c));
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  // spdlog logs to stdout by default, which carries the line protocol: errors only, to stderr.
  auto logger = spdlog::stderr_color_st("cwts-shm-stress");
  logger->set_level(spdlog::level::err);
  spdlog::set_default_logger(logger);
  try {
    if (o.role == "writer") {
      return o.kind == "record" ? run_strategy_writer(o) : run_engine_writer(o);
    }
    if (o.role == "reader") {
      return o.kind == "record" ? run_engine_consumer(o) : run_market_reader(o);
    }
    if (o.role == "monitor" && o.kind == "record") return run_monitor(o);
    usage("bad role " + o.role);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cwts-shm-stress %s %s: %s\n", o.role.c_str(), o.kind.c_str(), e.what());
    return 2;
  }
}
