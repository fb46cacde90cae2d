// Frame parsing: real Binance frames from the shipped captures through FrameParser.
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "cwts/md/frame_parser.hpp"
#include "cwts/md/pipeline.hpp"

namespace {

namespace md = cwts::md;

// First payload in the NKNUSDT capture containing `needle`.
std::string frame_with(const std::string& needle) {
  std::ifstream in(std::string(CWTS_BENCH_DATA) + "/spot_nknusdt_2021-10-12.capture");
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) return line.substr(line.find(' ') + 1);
  }
  return {};
}

void parse_bench(benchmark::State& state, const std::string& payload, md::FrameKind want) {
  md::FrameParser parser;
  md::ParsedFrame frame;
  // Padded copy, as the feed's receive buffer provides.
  std::vector<char> buf(payload.begin(), payload.end());
  buf.resize(payload.size() + md::FrameParser::kPadding, '\0');
  if (payload.empty() ||
      parser.parse_padded(buf.data(), payload.size(), frame) != md::ParseErrc::kOk ||
      frame.kind != want) {
    state.SkipWithError("benchmark frame did not parse to the expected kind");
    return;
  }
  for (auto _ : state) {
    const auto rc = parser.parse_padded(buf.data(), payload.size(), frame);
    benchmark::DoNotOptimize(rc);
    benchmark::DoNotOptimize(frame.depth.last_id);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload.size()));
  state.counters["frame_bytes"] = static_cast<double>(payload.size());
}

void BM_Parse_DepthUpdate(benchmark::State& state) {
  parse_bench(state, frame_with("\"depthUpdate\""), md::FrameKind::kDepthUpdate);
}
BENCHMARK(BM_Parse_DepthUpdate);

void BM_Parse_BookTicker(benchmark::State& state) {
  parse_bench(state, frame_with("@bookTicker"), md::FrameKind::kBookTicker);
}
BENCHMARK(BM_Parse_BookTicker);

void BM_Parse_AggTrade(benchmark::State& state) {
  parse_bench(state, frame_with("\"aggTrade\""), md::FrameKind::kAggTrade);
}
BENCHMARK(BM_Parse_AggTrade);

void BM_Parse_Snapshot1000Levels(benchmark::State& state) {
  parse_bench(state, frame_with("\"lastUpdateId\""), md::FrameKind::kDepthSnapshot);
}
BENCHMARK(BM_Parse_Snapshot1000Levels);

// Routing a frame to its symbol (issue 19's scale): the pipeline's hash index against the scan of
// every name it replaced, at 10, 100 and 1,000 symbols, looking up names round robin.
std::vector<std::string> lookup_names(std::size_t n) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < n; ++i) {
    std::string name(1, 'S');  // appended: GCC 12's -O3 -Wrestrict misfires on "S" + string
    name += std::to_string(1000 + i);
    name += "USDT";
    names.push_back(std::move(name));
  }
  return names;
}

void BM_Route_HashIndex(benchmark::State& state) {
  const auto names = lookup_names(static_cast<std::size_t>(state.range(0)));
  static cwts::md::Pipeline pipeline;  // 1,024 symbol states: not on the stack
  pipeline.configure_symbols({});
  for (const auto& n : names) (void)pipeline.add_symbol(n);
  std::size_t k = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(pipeline.find(names[k]));
    k = k + 1 == names.size() ? 0 : k + 1;
  }
}
BENCHMARK(BM_Route_HashIndex)->Arg(10)->Arg(100)->Arg(1000);

void BM_Route_ScanOfNames(benchmark::State& state) {
  const auto names = lookup_names(static_cast<std::size_t>(state.range(0)));
  std::vector<std::string_view> table(names.begin(), names.end());
  std::size_t k = 0;
  for (auto _ : state) {
    const std::string_view want = names[k];
    std::size_t found = table.size();
    for (std::size_t i = 0; i < table.size(); ++i) {
      if (table[i] == want) {
        found = i;
        break;
      }
    }
    benchmark::DoNotOptimize(found);
    k = k + 1 == names.size() ? 0 : k + 1;
  }
}
BENCHMARK(BM_Route_ScanOfNames)->Arg(10)->Arg(100)->Arg(1000);

}  // namespace
