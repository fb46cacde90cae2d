// cwts-bench-replay: replay throughput and per-frame latency of parse → book → publish, on the
// shipped real captures, into a real market region (the md thread's whole job per frame).
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "cwts/binance/exchange_info.hpp"
#include "cwts/cli/cli.hpp"
#include "cwts/md/pipeline.hpp"
#include "cwts/publish/shm_publisher.hpp"
#include "cwts/shm/region.hpp"

namespace {

namespace md = cwts::md;
namespace binance = cwts::binance;
namespace publish = cwts::publish;
namespace layout = cwts::layout;

std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct Frame {
  std::int64_t receive_ns;
  std::string payload;
  std::string context;  // the file's symbol, for bare snapshots
};

std::uint64_t pct(std::vector<std::uint64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()));
  return v[std::min(v.size() - 1, rank)];
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = CWTS_BENCH_DATA;
  int passes = 2000;
  std::uint32_t book_depth = layout::kDefaultBookDepth;
  bool json = false;
  CLI::App app("cwts-bench-replay: replay throughput of the shipped captures, parse to region",
               "cwts-bench-replay");
  cwts::cli::setup(app);
  app.add_option("--passes", passes, "Passes over the captures")
      ->type_name("N")
      ->capture_default_str();
  app.add_option("--data", data, "The captures' directory")->type_name("DIR");
  app.add_option("--book-depth", book_depth, "The region's levels a side (region.book_depth)")
      ->type_name("N")
      ->check(CLI::Range(1U, static_cast<std::uint32_t>(layout::kMaxBookDepth)))
      ->capture_default_str();
  app.add_flag("--json", json, "One JSON object");
  if (const auto rc = cwts::cli::parse(app, argc, argv)) return *rc;
  const std::pair<const char*, const char*> files[] = {
      {"spot_nknusdt_2021-10-12.capture", "NKNUSDT"},
      {"spot_blzeth_2021-10-12.capture", "BLZETH"},
      {"spot_lrcbtc_2021-10-12.capture", "LRCBTC"},
      {"spot_runeeur_2021-10-12.capture", "RUNEEUR"}};
  std::vector<Frame> frames;
  for (const auto& [file, sym] : files) {
    std::ifstream in(data + "/" + file);
    for (std::string line; std::getline(in, line);) {
      const auto sp = line.find(' ');
      frames.push_back({std::atoll(line.c_str()), line.substr(sp + 1), sym});
    }
  }
  const binance::ExchangeInfo info =
      binance::load_exchange_info(data + "/binance_spot_exchangeInfo_full_cryptofeed_2021.json.gz");
  const std::string_view symbols[] = {"NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"};
  const std::uint32_t timeframes[] = {60, 300};

  cwts::shm::RegionOptions ropts;
  ropts.instance = "bench" + std::to_string(::getpid());
  ropts.hugepage_dir = "";
  ropts.lock_pages = false;
  ropts.market_capacity.book_depth = book_depth;
  cwts::shm::Region region = cwts::shm::Region::create(layout::RegionKind::kMarket, ropts);
  auto& market = region.as<layout::MarketRegion>();

  std::vector<std::uint64_t> diff_ns, ticker_ns, all_ns;
  diff_ns.reserve(static_cast<std::size_t>(passes) * 200);
  std::uint64_t total_frames = 0;
  std::int64_t total_ns = 0;
  bool books_ok = true;
  for (int p = 0; p < passes; ++p) {
    // A fresh pipeline and publisher per pass (update ids restart); set-up is not timed.
    publish::ShmPublisher pub(market, info, symbols, timeframes);
    md::Pipeline pipeline(md::SyncVenue::kSpot, &pub);
    for (auto s : symbols) pipeline.add_symbol(s);
    const std::int64_t pass_start = now_ns();
    for (const Frame& f : frames) {
      const std::int64_t t0 = now_ns();
      (void)pipeline.on_frame(f.receive_ns, f.payload, f.context);
      const auto dt = static_cast<std::uint64_t>(now_ns() - t0);
      all_ns.push_back(dt);
      const auto kind = pipeline.last_frame().kind;
      if (kind == md::FrameKind::kDepthUpdate) diff_ns.push_back(dt);
      if (kind == md::FrameKind::kBookTicker) ticker_ns.push_back(dt);
    }
    total_ns += now_ns() - pass_start;
    total_frames += frames.size();
    if (p == 0) {
      // Check before the timing counts: every book synced to the known final id.
      books_ok =
          pipeline.find("NKNUSDT")->sync.update_id() == 499870179 &&
          pipeline.find("RUNEEUR")->sync.update_id() == 15602513 &&
          cwts::concurrent::load_word(market.symbol(0).book_valid, std::memory_order_acquire) == 1;
    }
  }
  region.remove();
  if (!books_ok) {
    std::fprintf(stderr, "cwts-bench-replay: books did not reach their expected state\n");
    return 1;
  }
  const double fps = static_cast<double>(total_frames) * 1e9 / static_cast<double>(total_ns);
  const double mean = static_cast<double>(total_ns) / static_cast<double>(total_frames);
  if (json) {
    std::printf("{\"book_depth\":%u,\"frames\":%" PRIu64
                ",\"frames_per_s\":%.0f,\"mean_ns_per_frame\":%.1f,"
                "\"depth_update\":{\"p50_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64
                ",\"samples\":%zu},"
                "\"book_ticker\":{\"p50_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64
                ",\"samples\":%zu}}\n",
                book_depth, total_frames, fps, mean, pct(diff_ns, 50), pct(diff_ns, 99),
                diff_ns.size(), pct(ticker_ns, 50), pct(ticker_ns, 99), ticker_ns.size());
  } else {
    std::printf("replayed %" PRIu64
                " frames (%d passes over the shipped captures) into a real "
                "market region, books %u levels a side\n",
                total_frames, passes, book_depth);
    std::printf(
        "throughput: %.0f frames/s, %.1f ns per frame (parse + book + publish, all kinds; "
        "includes 1000-level snapshots)\n",
        fps, mean);
    const std::size_t nd = diff_ns.size();
    const std::size_t nt = ticker_ns.size();
    std::printf("depthUpdate  parse+apply+publish: p50 %" PRIu64 " ns, p99 %" PRIu64
                " ns (%zu samples)\n",
                pct(diff_ns, 50), pct(diff_ns, 99), nd);
    std::printf("bookTicker   parse+publish:       p50 %" PRIu64 " ns, p99 %" PRIu64
                " ns (%zu samples)\n",
                pct(ticker_ns, 50), pct(ticker_ns, 99), nt);
  }
  return 0;
}
