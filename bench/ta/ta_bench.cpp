// cwts::ta kernels: one series (the scalar kernel every ISA uses for a single series), many series
// in SIMD lanes per ISA, a sweep of parameter sets on one series per ISA, and the incremental
// update per bar. Outputs are preallocated, so these are kernel costs; TA-Lib is compared from
// Python (bench/ta/ta_vs_talib.py), where its wheel lives.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "cwts/ta/ta.hpp"

namespace ta = cwts::ta;

namespace {

struct Data {
  std::vector<std::vector<double>> high, low, close, volume;  // [series][bar]
  Data(std::size_t series, std::size_t n) {
    std::mt19937_64 rng(42);
    std::normal_distribution<double> step(0.0, 1.0);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (std::size_t s = 0; s < series; ++s) {
      std::vector<double> h(n), l(n), c(n), v(n);
      double px = 100.0;
      for (std::size_t i = 0; i < n; ++i) {
        px += step(rng);
        c[i] = px;
        h[i] = px + u(rng);
        l[i] = px - u(rng);
        v[i] = u(rng) * 1000;
      }
      high.push_back(std::move(h));
      low.push_back(std::move(l));
      close.push_back(std::move(c));
      volume.push_back(std::move(v));
    }
  }
  const double* input(const char* role, std::size_t s) const {
    const std::string r(role);
    if (r == "high") return high[s].data();
    if (r == "low") return low[s].data();
    if (r == "volume") return volume[s].data();
    return close[s].data();
  }
};

const Data& data(std::size_t series, std::size_t n) {
  static std::vector<std::pair<std::pair<std::size_t, std::size_t>, Data*>> cache;
  for (auto& [key, d] : cache) {
    if (key.first == series && key.second == n) return *d;
  }
  cache.push_back({{series, n}, new Data(series, n)});
  return *cache.back().second;
}

// args: kind, n
void BM_Single(benchmark::State& st) {
  const auto k = static_cast<ta::Kind>(st.range(0));
  const auto n = static_cast<std::size_t>(st.range(1));
  const ta::KindSpec& spec = ta::spec(k);
  const Data& d = data(1, n);
  std::vector<const double*> in;
  for (std::size_t i = 0; i < spec.n_inputs; ++i) in.push_back(d.input(spec.inputs[i], 0));
  std::vector<std::vector<double>> outs(spec.n_outputs, std::vector<double>(n));
  std::vector<double*> op;
  for (auto& o : outs) op.push_back(o.data());
  const ta::Params p = ta::default_params(k);
  for (auto _ : st) {
    ta::run(k, p, n, in, op);
    benchmark::DoNotOptimize(op[0][n - 1]);
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * n));
  st.SetLabel(spec.name);
}

// What BM_Many and BM_Sweep share: their arguments (kind, isa, a count, bars), the ISA set (false,
// the benchmark skipped, where this CPU lacks it), the inputs of `series` series and `outputs`
// output arrays of n bars.
struct Lanes {
  ta::Kind kind;
  ta::Isa isa;
  std::size_t count, n;
  const ta::KindSpec& spec;
  std::vector<const double*> in;
  std::vector<std::vector<double>> outs;
  std::vector<double*> op;
  explicit Lanes(const benchmark::State& st)
      : kind(static_cast<ta::Kind>(st.range(0))),
        isa(static_cast<ta::Isa>(st.range(1))),
        count(static_cast<std::size_t>(st.range(2))),
        n(static_cast<std::size_t>(st.range(3))),
        spec(ta::spec(kind)) {}
  bool ready(benchmark::State& st, std::size_t series, std::size_t outputs) {
    if (!ta::isa_supported(isa)) {
      st.SkipWithError("ISA not supported on this CPU");
      return false;
    }
    ta::set_isa(isa);
    const Data& d = data(series, n);
    for (std::size_t s = 0; s < series; ++s) {
      for (std::size_t i = 0; i < spec.n_inputs; ++i) in.push_back(d.input(spec.inputs[i], s));
    }
    // Each output on a cache line of its own, as cwts_bridge.ta.batch allocates them.
    outs.assign(outputs * spec.n_outputs, std::vector<double>(n + 8));
    for (auto& o : outs) {
      const auto at = reinterpret_cast<std::uintptr_t>(o.data());
      op.push_back(o.data() + ((64 - at % 64) % 64) / sizeof(double));
    }
    return true;
  }
  void done(benchmark::State& st, std::size_t per_iteration) const {
    st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * n * per_iteration));
    st.SetLabel(std::string(spec.name) + "/" + ta::to_string(isa));
  }
};

// args: kind, isa, series, bars per series.
void BM_Many(benchmark::State& st) {
  Lanes a(st);
  if (!a.ready(st, a.count, a.count)) return;
  const ta::Params p = ta::default_params(a.kind);
  for (auto _ : st) {
    ta::run_many(a.kind, p, a.n, a.count, a.in, a.op);
    benchmark::DoNotOptimize(a.op[0][a.n - 1]);
  }
  a.done(st, a.count);
}

// A parameter sweep (run_sets) on one series: the first parameter 5, 9, ... (0.01, 0.015, ...
// where it is not a period), as bench/ta/ta_vs_talib.py's "Sweep" table (8 sets), and 2 sets
// (below a kernel's sweep_fewest they run one after the other; the scalar ISA never sweeps);
// kernels with a sweep form run it in lanes. args: kind, isa, sets, bars.
void BM_Sweep(benchmark::State& st) {
  Lanes a(st);
  if (!a.ready(st, 1, a.count)) return;
  std::vector<ta::Params> ps(a.count, ta::default_params(a.kind));
  for (std::size_t i = 0; i < a.count && a.spec.n_params > 0; ++i) {
    ps[i].v[0] = a.spec.params[0].integer ? 5.0 + 4.0 * static_cast<double>(i)
                                          : 0.01 + 0.005 * static_cast<double>(i);
  }
  for (auto _ : st) {
    ta::run_sets(a.kind, ps, a.n, 1, a.in, a.op);
    benchmark::DoNotOptimize(a.op[0][a.n - 1]);
  }
  a.done(st, a.count);
}

// One update per bar (the engine's use on every candle close): ns per update.
void BM_Stream(benchmark::State& st) {
  const auto k = static_cast<ta::Kind>(st.range(0));
  const ta::KindSpec& spec = ta::spec(k);
  const std::size_t n = 1 << 16;
  const Data& d = data(1, n);
  auto stream = ta::make_stream(k, ta::default_params(k));
  std::size_t t = 0;
  double in[ta::kMaxInputs], out[ta::kMaxOutputs];
  for (auto _ : st) {
    for (std::size_t i = 0; i < spec.n_inputs; ++i) in[i] = d.input(spec.inputs[i], 0)[t];
    stream->update(in, out);
    benchmark::DoNotOptimize(out[0]);
    if (++t == n) {
      t = 0;
      stream->reset();
    }
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
  st.SetLabel(spec.name);
}

void kinds(benchmark::internal::Benchmark* b, std::initializer_list<std::int64_t> rest) {
  for (int k = 0; k < static_cast<int>(ta::kKindCount); ++k) {
    std::vector<std::int64_t> args{k};
    args.insert(args.end(), rest.begin(), rest.end());
    b->Args(args);
  }
}

}  // namespace

BENCHMARK(BM_Single)
    ->Apply([](auto* b) {
      for (std::int64_t n : {1'000, 1'000'000}) kinds(b, {n});
    }) -> Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Many)
    ->Apply([](auto* b) {
      for (std::int64_t n : {2'000, 100'000}) {
        for (std::int64_t isa = 0; isa < 3; ++isa) kinds(b, {isa, 32, n});
      }
    }) -> Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Sweep)
    ->Apply([](auto* b) {
      for (std::int64_t isa = 0; isa < 3; ++isa) {
        for (std::int64_t sets : {2, 8}) kinds(b, {isa, sets, 10'000});
      }
    }) -> Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Stream)->Apply([](auto* b) { kinds(b, {}); });
