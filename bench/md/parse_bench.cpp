// Frame parsing: real Binance frames from the shipped captures through FrameParser.
#include <fstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "cwts/md/frame_parser.hpp"

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

}  // namespace
