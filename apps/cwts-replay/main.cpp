// cwts-replay: replays capture files through the market-data pipeline and reports the books.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "cwts/cli/cli.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/md/replay.hpp"

namespace {

namespace md = cwts::md;

// Usage errors exit 1 here: 2 means "malformed lines" (docs/market_data.md).
constexpr int kUsageStatus = 1;

void print_levels_json(const md::OrderBook& b, bool bids, std::size_t depth) {
  const std::size_t n = std::min(depth, bids ? b.bid_levels() : b.ask_levels());
  std::printf("[");
  for (std::size_t i = 0; i < n; ++i) {
    const md::Level& l = bids ? b.bid(i) : b.ask(i);
    std::printf("%s[\"%s\",\"%s\"]", i == 0 ? "" : ",", cwts::core::to_string(l.px).c_str(),
                cwts::core::to_string(l.qty).c_str());
  }
  std::printf("]");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  std::string only;
  std::size_t depth = 3;
  bool json = false;
  CLI::App app(
      "cwts-replay: replays capture files (<receive ns> <payload> per line, plain or .gz) through\n"
      "the same parse -> book path as the live engine and prints each symbol's book and counters.",
      "cwts-replay");
  cwts::cli::setup(app);
  app.add_option("FILE", files, "Capture files (at least one)");
  app.add_option("--symbol", only, "Only this symbol")->type_name("SYM");
  app.add_option("--depth", depth, "Levels per side to print (default 3)")
      ->type_name("N")
      ->check(CLI::Range(0, 100000).description(""));
  app.add_flag("--json", json, "One JSON object instead of the text report");
  app.footer(
      "Exit status: 0, or 2 if any line was malformed (reported on stderr), 1 on other errors.\n");
  if (const auto rc = cwts::cli::parse(app, argc, argv, kUsageStatus)) return *rc;
  if (files.empty()) return cwts::cli::usage_error(app, "FILE is required", kUsageStatus);

  md::Pipeline pipeline;
  md::ReplayStats total;
  for (const auto& f : files) {
    try {
      const auto st =
          md::replay_capture(f, pipeline, [&](std::uint64_t line, std::string_view why) {
            std::fprintf(stderr, "%s:%" PRIu64 ": malformed line: %.*s\n", f.c_str(), line,
                         static_cast<int>(why.size()), why.data());
          });
      total.lines += st.lines;
      total.frames += st.frames;
      total.malformed += st.malformed;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cwts-replay: %s\n", e.what());
      return 1;
    }
  }

  if (json) {
    std::printf("{\"frames\":%" PRIu64 ",\"malformed\":%" PRIu64 ",\"symbols\":{", total.frames,
                total.malformed);
  } else {
    std::printf("%" PRIu64 " lines, %" PRIu64 " frames, %" PRIu64 " malformed\n", total.lines,
                total.frames, total.malformed);
  }
  bool first = true;
  for (std::size_t i = 0; i < pipeline.symbol_count(); ++i) {
    const md::SymbolState& s = pipeline.symbol(i);
    if (!only.empty() && s.name_view() != only) continue;
    const auto& st = s.sync.stats();
    const auto& b = s.sync.book();
    const std::uint64_t trades = s.trades + s.agg_trades;
    if (json) {
      std::printf(
          "%s\"%.*s\":{\"final_update_id\":%" PRIu64 ",\"applied\":%" PRIu64 ",\"dropped\":%" PRIu64
          ",\"gaps\":%" PRIu64 ",\"book_valid\":%s,\"bid_levels\":%zu,\"ask_levels\":%zu,\"bids\":",
          first ? "" : ",", static_cast<int>(s.name_len), s.name, s.sync.update_id(), st.applied,
          st.dropped, st.gaps, s.sync.valid() ? "true" : "false", b.bid_levels(), b.ask_levels());
      print_levels_json(b, true, depth);
      std::printf(",\"asks\":");
      print_levels_json(b, false, depth);
      std::printf(",\"trades\":%" PRIu64 ",\"book_tickers\":%" PRIu64 ",\"klines\":%" PRIu64 "}",
                  trades, s.book_tickers, s.klines);
    } else {
      std::printf("\n%.*s  book %s, final update id %" PRIu64 "\n", static_cast<int>(s.name_len),
                  s.name, s.sync.valid() ? "valid" : "NOT VALID", s.sync.update_id());
      std::printf("  diffs applied %" PRIu64 ", dropped %" PRIu64 ", gaps %" PRIu64
                  "; levels %zu bid / %zu ask\n",
                  st.applied, st.dropped, st.gaps, b.bid_levels(), b.ask_levels());
      std::printf("  trades %" PRIu64 ", book tickers %" PRIu64 ", klines %" PRIu64 "\n", trades,
                  s.book_tickers, s.klines);
      const std::size_t n = std::min(depth, std::max(b.bid_levels(), b.ask_levels()));
      if (n > 0) std::printf("  %24s %18s | %-18s %s\n", "bid qty", "bid", "ask", "ask qty");
      for (std::size_t k = 0; k < n; ++k) {
        const bool hb = k < b.bid_levels();
        const bool ha = k < b.ask_levels();
        std::printf("  %24s %18s | %-18s %s\n",
                    hb ? cwts::core::to_string(b.bid(k).qty).c_str() : "",
                    hb ? cwts::core::to_string(b.bid(k).px).c_str() : "",
                    ha ? cwts::core::to_string(b.ask(k).px).c_str() : "",
                    ha ? cwts::core::to_string(b.ask(k).qty).c_str() : "");
      }
    }
    first = false;
  }
  if (json) std::printf("}}\n");
  return total.malformed > 0 ? 2 : 0;
}
