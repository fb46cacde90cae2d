// Order-book update cost: the sorted-vector OrderBook against std::map and a flat price ladder,
// on the real NKNUSDT diff stream replayed repeatedly (the comparison behind ADR 0005).
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "cwts/md/frame_parser.hpp"
#include "cwts/md/order_book.hpp"

namespace {

namespace md = cwts::md;

struct Update {
  bool bid;
  md::Level level;
};

struct Workload {
  std::vector<md::Level> snap_bids, snap_asks;
  std::vector<Update> updates;  // every level of every diff, in order
};

const Workload& workload() {
  static const Workload w = [] {
    Workload x;
    md::FrameParser parser;
    md::ParsedFrame f;
    std::ifstream in(std::string(CWTS_BENCH_DATA) + "/spot_nknusdt_2021-10-12.capture");
    for (std::string line; std::getline(in, line);) {
      if (parser.parse(line.substr(line.find(' ') + 1), f) != md::ParseErrc::kOk) continue;
      if (f.kind == md::FrameKind::kDepthSnapshot) {
        x.snap_bids = f.bids;
        x.snap_asks = f.asks;
      } else if (f.kind == md::FrameKind::kDepthUpdate) {
        for (const auto& l : f.bids) x.updates.push_back({true, l});
        for (const auto& l : f.asks) x.updates.push_back({false, l});
      }
    }
    return x;
  }();
  return w;
}

// Alternative 1: std::map per side (node allocation per new level).
struct MapBook {
  std::map<std::int64_t, std::int64_t, std::greater<>> bids;
  std::map<std::int64_t, std::int64_t> asks;
  template <typename M>
  static void set(M& m, std::int64_t px, std::int64_t qty) {
    if (qty == 0) {
      m.erase(px);
    } else {
      m[px] = qty;
    }
  }
  void load(const Workload& w) {
    bids.clear();
    asks.clear();
    for (const auto& l : w.snap_bids) set(bids, l.px.raw, l.qty.raw);
    for (const auto& l : w.snap_asks) set(asks, l.px.raw, l.qty.raw);
  }
  void apply(const Update& u) {
    u.bid ? set(bids, u.level.px.raw, u.level.qty.raw) : set(asks, u.level.px.raw, u.level.qty.raw);
  }
  std::int64_t best_bid() const { return bids.empty() ? 0 : bids.begin()->first; }
};

// Alternative 2: a flat ladder indexed by (price - base) / tick; O(1) updates, but best-level
// search scans, and the range must be known (here: generous bounds around the snapshot).
struct LadderBook {
  std::int64_t base = 0, tick = 10000;  // NKNUSDT tick 0.0001 at 8 decimals
  std::vector<std::int64_t> bid_qty, ask_qty;
  std::size_t best_bid_idx = 0;
  void load(const Workload& w) {
    std::int64_t lo = INT64_MAX, hi = 0;
    for (const auto* side : {&w.snap_bids, &w.snap_asks}) {
      for (const auto& l : *side) {
        lo = std::min(lo, l.px.raw);
        hi = std::max(hi, l.px.raw);
      }
    }
    base = lo - 1000 * tick;
    const auto n = static_cast<std::size_t>((hi - base) / tick + 1000);
    bid_qty.assign(n, 0);
    ask_qty.assign(n, 0);
    for (const auto& l : w.snap_bids) set(true, l);
    for (const auto& l : w.snap_asks) set(false, l);
  }
  void set(bool bid, const md::Level& l) {
    const auto i = static_cast<std::size_t>((l.px.raw - base) / tick);
    if (i >= bid_qty.size()) return;
    (bid ? bid_qty : ask_qty)[i] = l.qty.raw;
    if (bid) {
      if (l.qty.raw != 0 && i > best_bid_idx) best_bid_idx = i;
      while (best_bid_idx > 0 && bid_qty[best_bid_idx] == 0) --best_bid_idx;
    }
  }
  void apply(const Update& u) { set(u.bid, u.level); }
  std::int64_t best_bid() const { return base + static_cast<std::int64_t>(best_bid_idx) * tick; }
};

template <typename Book, typename Load, typename Apply, typename Best>
void run(benchmark::State& state, Book& book, Load load, Apply apply, Best best) {
  const Workload& w = workload();
  if (w.updates.empty()) {
    state.SkipWithError("no diffs in the capture");
    return;
  }
  load(book);
  std::size_t i = 0;
  for (auto _ : state) {
    apply(book, w.updates[i]);
    if (++i == w.updates.size()) {
      i = 0;
      state.PauseTiming();
      load(book);  // restart from the snapshot so the book keeps its real shape
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(best(book));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Book_Apply(benchmark::State& state) {
  md::OrderBook book;
  const Workload& w = workload();
  run(
      state, book, [&](md::OrderBook& b) { b.load(w.snap_bids, w.snap_asks); },
      [](md::OrderBook& b, const Update& u) {
        u.bid ? b.set_bid(u.level.px, u.level.qty) : b.set_ask(u.level.px, u.level.qty);
      },
      [](const md::OrderBook& b) { return b.bid_levels() ? b.bid(0).px.raw : 0; });
  // Check: the final book after the capture matches the known level counts.
  book.load(w.snap_bids, w.snap_asks);
  for (const auto& u : w.updates)
    u.bid ? book.set_bid(u.level.px, u.level.qty) : book.set_ask(u.level.px, u.level.qty);
  if (book.bid_levels() != 614 || book.ask_levels() != 994) state.SkipWithError("book mismatch");
}
BENCHMARK(BM_Book_Apply);

void BM_Book_ApplyStdMap(benchmark::State& state) {
  MapBook book;
  const Workload& w = workload();
  run(
      state, book, [&](MapBook& b) { b.load(w); }, [](MapBook& b, const Update& u) { b.apply(u); },
      [](const MapBook& b) { return b.best_bid(); });
}
BENCHMARK(BM_Book_ApplyStdMap);

void BM_Book_ApplyLadder(benchmark::State& state) {
  LadderBook book;
  const Workload& w = workload();
  run(
      state, book, [&](LadderBook& b) { b.load(w); },
      [](LadderBook& b, const Update& u) { b.apply(u); },
      [](const LadderBook& b) { return b.best_bid(); });
}
BENCHMARK(BM_Book_ApplyLadder);

}  // namespace
