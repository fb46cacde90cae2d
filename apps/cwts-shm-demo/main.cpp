// cwts-shm-demo: the engine's paths that exist so far, end to end — the real Binance captures
// through parse → book → shared memory, then a publisher process, reader processes that follow
// the event ring, and a strategy process that answers with signals, with live figures.
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <spdlog/spdlog.h>

#include "cwts/binance/exchange_info.hpp"
#include "cwts/cli/cli.hpp"
#include "cwts/concurrent/broadcast_ring.hpp"
#include "cwts/concurrent/record_ring.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/md/pipeline.hpp"
#include "cwts/md/replay.hpp"
#include "cwts/publish/shm_publisher.hpp"
#include "cwts/shm/region.hpp"
#include "cwts/shm/sealed_memory.hpp"
#include "cwts/shm_layout/layout.hpp"

namespace {

namespace layout = cwts::layout;
namespace cc = cwts::concurrent;
using cwts::shm::Access;
using cwts::shm::Region;
using cwts::shm::RegionOptions;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

std::int64_t mono_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct Options {
  std::string data = CWTS_DEMO_DATA;
  int seconds = 10;
  int readers = 2;
  long rate = 200'000;  // events per second
};

// The options, or the exit status (--help, --version, a usage error).
std::variant<Options, int> parse(int argc, char** argv) {
  Options o;
  CLI::App app("cwts-shm-demo: publishes replayed captures into a market region, read by N readers",
               "cwts-shm-demo");
  cwts::cli::setup(app);
  app.add_option("--seconds", o.seconds, "How long (> 0)")->type_name("N")->capture_default_str();
  app.add_option("--readers", o.readers, "Reader processes (1..8)")
      ->type_name("N")
      ->check(CLI::Range(1, 8).description(""))
      ->capture_default_str();
  app.add_option("--rate", o.rate, "Events per second (> 0)")
      ->type_name("EVENTS_PER_S")
      ->capture_default_str();
  app.add_option("--data", o.data, "The captures' directory")
      ->type_name("DIR")
      ->capture_default_str();
  if (const auto rc = cwts::cli::parse(app, argc, argv)) return *rc;
  if (o.seconds <= 0) return cwts::cli::usage_error(app, "--seconds must be > 0");
  if (o.rate <= 0) return cwts::cli::usage_error(app, "--rate must be > 0");
  return o;
}

// Per-reader statistics, written by the reader into a small anonymous shared page.
struct alignas(64) ReaderStats {
  std::uint64_t events;
  std::uint64_t lapped;
  std::uint64_t corrupt;
  std::uint64_t lat_p50_ns;
  std::uint64_t lat_p99_ns;
  std::uint64_t signals_sent;
  std::uint64_t done;
};

// Payload check: body.raw[9] = checksum of the rest, so a torn copy cannot pass.
std::uint64_t checksum(const layout::Event& e) {
  std::uint64_t h = e.update_id * 0x9E3779B97F4A7C15ULL;
  for (int i = 0; i < 9; ++i) h = (h ^ e.body.raw[i]) * 0x100000001b3ULL;
  return h;
}

void percentiles(std::vector<std::uint64_t>& v, std::uint64_t& p50, std::uint64_t& p99) {
  if (v.empty()) return;
  std::sort(v.begin(), v.end());
  p50 = v[v.size() / 2];
  p99 = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  v.clear();
}

// The memory of signal slot 0. cwtsd hands every claim its own sealed memfd over its claim socket
// (ADR 0021, cwts/shm/slot_lease.hpp); the demo plays the engine without that socket: it creates
// the memory itself and the reader processes inherit the mapping across fork().
layout::SignalSlot* map_slot_memory() {
  const cwts::shm::UniqueFd fd =
      cwts::shm::create_sealed_memory("cwts-demo-slot0", sizeof(layout::SignalSlot));
  void* p =
      ::mmap(nullptr, sizeof(layout::SignalSlot), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) {
    std::perror("mmap slot memory");
    std::exit(1);
  }
  return static_cast<layout::SignalSlot*>(p);  // zero-filled: an empty ring
}

// Reader process: follows the event ring; reader 0 is also a strategy that sends a signal back
// for every 1000th event into the slot memory `slot`.
int run_reader(const RegionOptions& ropts, int index, ReaderStats* stats,
               layout::SignalSlot& slot) {
  Region market = Region::attach(layout::RegionKind::kMarket, Access::kReadOnly, ropts);
  const auto& m = market.as<layout::MarketRegion>();
  cc::RecordProducer<layout::Signal, layout::kSignalRingCapacity> producer(slot.signals,
                                                                           m.slot(0).signal_cursor);

  cc::BroadcastReader<layout::Event, layout::kEventRingCapacity> reader(m.events);
  std::vector<std::uint64_t> lat;
  lat.reserve(1 << 20);
  std::int64_t last_report = mono_ns();
  layout::Event ev{};
  std::uint64_t seq = 0;
  std::int64_t last_check = last_report;
  while (g_stop == 0) {
    // superseded() costs a stat(): a human-rate check, not per poll.
    if (mono_ns() - last_check > 100'000'000) {
      if (market.superseded()) break;
      last_check = mono_ns();
    }
    const auto st = reader.try_read(ev, &seq);
    if (st == cc::ReadStatus::kOk) {
      const std::int64_t now = mono_ns();
      if (checksum(ev) != ev.body.raw[9]) ++stats->corrupt;
      lat.push_back(static_cast<std::uint64_t>(std::max<std::int64_t>(0, now - ev.publish_ts_ns)));
      ++stats->events;
      if (index == 0 && seq % 1000 == 0) {
        layout::Signal s{};
        s.seq = seq;
        s.symbol = ev.symbol;
        s.side = static_cast<std::uint8_t>(layout::Side::kBuy);
        s.type = static_cast<std::uint8_t>(layout::OrderType::kLimit);
        s.price = ev.body.quote.bid_px;
        s.qty = layout::Qty{100};
        s.created_ns = now;
        if (producer.try_push(s) == cc::PushStatus::kOk) ++stats->signals_sent;
      }
    } else if (st == cc::ReadStatus::kLapped) {
      ++stats->lapped;
      (void)reader.resync();
    } else {
      cc::cpu_relax();
    }
    if (const std::int64_t now = mono_ns(); now - last_report > 500'000'000) {
      percentiles(lat, stats->lat_p50_ns, stats->lat_p99_ns);
      last_report = now;
    }
  }
  percentiles(lat, stats->lat_p50_ns, stats->lat_p99_ns);
  stats->done = 1;
  return stats->corrupt == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const auto parsed = parse(argc, argv);
  if (const int* rc = std::get_if<int>(&parsed)) return *rc;
  const Options o = std::get<Options>(parsed);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  spdlog::set_pattern("%v");

  RegionOptions ropts;
  ropts.instance = "demo" + std::to_string(::getpid());
  ropts.lock_pages = false;

  auto* stats = static_cast<ReaderStats*>(::mmap(
      nullptr, sizeof(ReaderStats) * 8, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (stats == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  std::memset(static_cast<void*>(stats), 0, sizeof(ReaderStats) * 8);

  Region market = Region::create(layout::RegionKind::kMarket, ropts);
  layout::SignalSlot* slot0 = map_slot_memory();
  auto& m = market.as<layout::MarketRegion>();
  // Phase 1: the shipped real Binance captures through the engine's market-data path (parse →
  // book sync → publisher) into the region: symbol table, books, quotes, candles, events.
  const std::string_view names[] = {"NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"};
  const std::uint32_t timeframes[] = {60, 300};
  const auto info = cwts::binance::load_exchange_info(
      o.data + "/binance_spot_exchangeInfo_full_cryptofeed_2021.json.gz");
  {
    cwts::publish::ShmPublisher publisher(m, info, names, timeframes);
    cwts::md::Pipeline pipeline(cwts::md::SyncVenue::kSpot, &publisher);
    for (const char* f : {"spot_nknusdt_2021-10-12.capture", "spot_blzeth_2021-10-12.capture",
                          "spot_lrcbtc_2021-10-12.capture", "spot_runeeur_2021-10-12.capture"}) {
      const auto st = cwts::md::replay_capture(o.data + "/" + f, pipeline);
      std::printf("replayed %-34s %4" PRIu64 " frames, %" PRIu64 " malformed\n", f, st.frames,
                  st.malformed);
    }
  }
  market.set_state(layout::RegionState::kLive);
  {
    // What a strategy sees: attach read-only, as cwts_bridge does, and read the books.
    Region view = Region::attach(layout::RegionKind::kMarket, Access::kReadOnly, ropts);
    const auto& r = view.as<layout::MarketRegion>();
    const auto n = cc::load_word(r.symbol_count, std::memory_order_acquire);
    std::printf("\nbooks in shared memory (read-only reader):\n");
    for (std::uint64_t i = 0; i < n; ++i) {
      const auto si = r.symbol(i).info.load();
      auto book = std::make_unique<layout::BookTop>();
      const layout::BookTop& bt = *book;
      r.book(i).load(*book, 1);
      char bid[32], ask[32];
      bid[cwts::core::format_fixed(bt.bid_count ? bt.bid_px[0].raw : 0, si.price_decimals, bid)] =
          0;
      ask[cwts::core::format_fixed(bt.ask_count ? bt.ask_px[0].raw : 0, si.price_decimals, ask)] =
          0;
      std::printf(
          "  %-8.*s valid=%d update_id=%-10" PRIu64 " best bid %s  best ask %s\n",
          static_cast<int>(si.name.view().size()), si.name.view().data(),
          static_cast<int>(cc::load_word(r.symbol(i).book_valid, std::memory_order_acquire)),
          bt.update_id, bid, ask);
    }
    std::printf("\n");
  }

  std::printf(
      "cwts-shm-demo: market region %s (%zu bytes, %s), %d reader processes, %ld events/s "
      "for %d s\n",
      market.path().c_str(), market.size(),
      market.backing() == cwts::shm::Backing::kHugePages ? "huge pages" : "normal pages", o.readers,
      o.rate, o.seconds);

  std::vector<pid_t> children;
  for (int r = 0; r < o.readers; ++r) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      int rc = 1;
      try {
        rc = run_reader(ropts, r, &stats[r], *slot0);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "reader %d: %s\n", r, e.what());
      }
      ::_exit(rc);
    }
    children.push_back(pid);
  }

  cc::RecordConsumer<layout::Signal, layout::kSignalRingCapacity> consumer(slot0->signals,
                                                                           m.slot(0).signal_cursor);
  std::vector<std::uint64_t> signal_lat;
  std::uint64_t signals_in = 0;
  std::uint64_t published = 0;
  std::uint64_t mid[4] = {35'270'000, 6'550, 637, 625'100'000};
  std::uint64_t rng = 0x2545F4914F6CDD1DULL;
  const std::int64_t start = mono_ns();
  const std::int64_t interval = 1'000'000'000 / o.rate;
  std::int64_t next_pub = start;
  std::int64_t next_print = start + 1'000'000'000;
  int second = 0;
  std::printf("%4s %12s %10s %10s %10s %10s %8s %9s\n", "t(s)", "events", "ev/s", "lag_p50",
              "lag_p99", "lapped", "signals", "sig_p50");
  std::uint64_t last_published = 0;
  while (g_stop == 0) {
    const std::int64_t now = mono_ns();
    if (now >= next_pub) {
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      const auto sym = static_cast<std::uint16_t>(rng % 4);
      mid[sym] += (rng >> 8) % 3 - 1 + (mid[sym] < 10 ? 1 : 0);
      layout::Event ev{};
      ev.kind = static_cast<std::uint8_t>(layout::EventKind::kQuote);
      ev.symbol = sym;
      ev.update_id = ++published;
      ev.body.quote.bid_px = layout::Price{static_cast<std::int64_t>(mid[sym])};
      ev.body.quote.ask_px = layout::Price{static_cast<std::int64_t>(mid[sym] + 1)};
      ev.body.quote.bid_qty = layout::Qty{static_cast<std::int64_t>(rng % 100000)};
      ev.body.quote.ask_qty = layout::Qty{static_cast<std::int64_t>((rng >> 20) % 100000)};
      ev.body.raw[9] = checksum(ev);
      ev.publish_ts_ns = mono_ns();
      m.events.publish(ev);
      next_pub += interval;
    }
    layout::Signal s{};
    while (consumer.try_pop(s) == cc::PopStatus::kOk) {
      ++signals_in;
      signal_lat.push_back(static_cast<std::uint64_t>(mono_ns() - s.created_ns));
    }
    if (now >= next_print) {
      ++second;
      std::uint64_t lapped = 0, p50 = 0, p99 = 0;
      for (int r = 0; r < o.readers; ++r) {
        lapped += stats[r].lapped;
        p50 = std::max(p50, stats[r].lat_p50_ns);
        p99 = std::max(p99, stats[r].lat_p99_ns);
      }
      std::uint64_t sp50 = 0, sp99 = 0;
      percentiles(signal_lat, sp50, sp99);
      std::printf("%4d %12" PRIu64 " %10" PRIu64 " %8" PRIu64 "ns %8" PRIu64 "ns %10" PRIu64
                  " %8" PRIu64 " %7" PRIu64 "ns\n",
                  second, published, published - last_published, p50, p99, lapped, signals_in,
                  sp50);
      std::fflush(stdout);
      last_published = published;
      next_print += 1'000'000'000;
      market.heartbeat(static_cast<std::uint64_t>(cwts::core::realtime_ns()));
      if (second >= o.seconds) break;
    }
    if (next_pub - now > 2000) ::sched_yield();
  }

  // Clean stop: mark the region closed (readers see it and leave), reap them, remove files.
  market.remove();
  int failures = 0;
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
  }
  std::uint64_t corrupt = 0, events = 0;
  for (int r = 0; r < o.readers; ++r) {
    corrupt += stats[r].corrupt;
    events += stats[r].events;
  }
  std::printf("summary: published %" PRIu64 " events, readers received %" PRIu64
              ", corrupt %" PRIu64 ", signals back %" PRIu64 ", reader failures %d\n",
              published, events, corrupt, signals_in, failures);
  return failures == 0 && corrupt == 0 ? 0 : 1;
}
