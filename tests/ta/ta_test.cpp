// cwts::ta: every kernel on every ISA this machine has, lanes against the scalar reference bit
// for bit, the incremental form against the batch, plain references where TA-Lib has none (VWAP)
// or the arithmetic is trivial, lookbacks, parameter errors and the registry. Equality with TA-Lib
// itself is tested from Python (tests/python/test_ta.py), where the `ta-lib` wheel lives.
#include "cwts/ta/ta.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace ta = cwts::ta;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One OHLCV-like series: `real` and `close` are the same array, as FreqTrade passes them.
struct Series {
  std::vector<double> high, low, close, volume;
  const double* input(const char* role) const {
    const std::string r(role);
    if (r == "high") return high.data();
    if (r == "low") return low.data();
    if (r == "volume") return volume.data();
    return close.data();
  }
};

// kTicks: prices on an exchange's grid (0.25 here, exact in binary), moving by whole ticks: equal
// highs, lows and closes, and moves of equal size up and down, which a continuous walk never has.
// kCents: a grid of 0.01 (not exact in binary, so running sums keep rounding) where the close
// often stays put, now and then for 40 bars: flat windows after moves.
enum class Shape { kWalk, kConstant, kGaps, kHuge, kMicro, kLeadingNaN, kTicks, kCents };

Series make_series(Shape shape, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> step(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  double scale = 1.0, level = 100.0;
  if (shape == Shape::kHuge) {
    scale = 1e3;
    level = 1e9;
  }
  if (shape == Shape::kCents) scale = 10.0;  // windows' summed moves past 128: they round
  if (shape == Shape::kMicro) {
    scale = 1e-12;
    level = 3e-10;
  }
  Series s;
  double c = level;
  int hold = 0;  // kCents: bars left without a move
  for (std::size_t i = 0; i < n; ++i) {
    if (shape != Shape::kConstant) c += step(rng) * scale;
    if (shape == Shape::kGaps && (i == n / 3 || i == 2 * n / 3)) c += (i == n / 3 ? 40.0 : -60.0);
    if (shape == Shape::kMicro) c = std::fabs(c - level) + level;
    const double spread = shape == Shape::kConstant ? 0.0 : u(rng) * scale;
    if (shape == Shape::kCents) {
      const auto cents = [](double x) { return std::round(x * 100.0) / 100.0; };
      if (hold > 0 || u(rng) < 0.5) c = s.close.empty() ? level : s.close.back();  // no move
      hold = hold > 0 ? hold - 1 : (u(rng) < 0.03 ? 40 : 0);  // now and then 40 bars flat
      c = cents(c);
      s.close.push_back(c);
      s.high.push_back(cents(c + spread));
      s.low.push_back(cents(c - u(rng)));
      s.volume.push_back(cents(100.0 * u(rng)));
      continue;
    }
    if (shape == Shape::kTicks) {
      const auto ticks = [](double x) { return std::round(x * 4.0) / 4.0; };
      c = ticks(c);
      s.close.push_back(c);
      s.high.push_back(c + ticks(2.0 * spread));
      s.low.push_back(c - ticks(2.0 * u(rng)));
      s.volume.push_back(ticks(4.0 * u(rng)));
      continue;
    }
    s.close.push_back(c);
    s.high.push_back(c + spread);
    s.low.push_back(c - u(rng) * scale * (shape == Shape::kConstant ? 0.0 : 1.0));
    s.volume.push_back(shape == Shape::kConstant ? 5.0 : u(rng) * 1000.0);
  }
  if (shape == Shape::kLeadingNaN) {
    for (std::size_t i = 0; i < 17 && i < n; ++i) s.close[i] = kNaN;
  }
  return s;
}

struct Outputs {
  std::vector<std::vector<double>> v;
  std::vector<double*> ptrs;
  Outputs(std::size_t count, std::size_t n) : v(count, std::vector<double>(n, -1.0)) {
    for (auto& o : v) ptrs.push_back(o.data());
  }
};

Outputs run_one(ta::Kind k, const ta::Params& p, const Series& s) {
  const ta::KindSpec& spec = ta::spec(k);
  std::vector<const double*> in;
  for (std::size_t i = 0; i < spec.n_inputs; ++i) in.push_back(s.input(spec.inputs[i]));
  Outputs out(spec.n_outputs, s.close.size());
  ta::run(k, p, s.close.size(), in, out.ptrs);
  return out;
}

bool same_bits(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
}

std::vector<ta::Isa> machine_isas() {
  std::vector<ta::Isa> r;
  for (std::size_t i = 0; i < ta::kIsaCount; ++i) {
    if (ta::isa_supported(static_cast<ta::Isa>(i))) r.push_back(static_cast<ta::Isa>(i));
  }
  return r;
}

// Non-default parameters too, so every kernel is exercised off its defaults.
std::vector<ta::Params> param_sets(ta::Kind k) {
  std::vector<ta::Params> r{ta::default_params(k)};
  ta::Params p = ta::default_params(k);
  switch (k) {
    case ta::Kind::kMacd:
      p.v = {26, 12, 1};  // swapped fast/slow, signal 1
      r.push_back(p);
      p.v = {5, 5, 4};  // fast = slow: a line of zeros
      r.push_back(p);
      p.v = {3, 17, 2};
      break;
    case ta::Kind::kBbands:
      p.v = {5, 1.0, 3.0, 0};
      r.push_back(p);
      for (const int ma : {1, 2, 3, 4, 5, 6, 7, 8}) {  // the middle band of every MAType
        p.v = {7, 2.0, 1.5, static_cast<double>(ma)};
        r.push_back(p);
      }
      p.v = {50, 2.0, 2.0, 7};  // STDDEV's warm-up (49) longer than MAMA's (32)
      r.push_back(p);
      return r;
    case ta::Kind::kMacdExt:  // every MAType somewhere, fast above slow too: swapped
      for (const auto& [f, fm, sl, sm, g, gm] : {std::array<int, 6>{12, 0, 26, 0, 9, 0},
                                                 {5, 1, 13, 3, 4, 2},
                                                 {20, 4, 6, 6, 1, 5},
                                                 {3, 8, 9, 2, 7, 1},
                                                 {8, 5, 8, 0, 3, 8},
                                                 {12, 7, 42, 0, 9, 7},
                                                 {4, 2, 11, 1, 5, 3},
                                                 {6, 3, 14, 4, 3, 4},
                                                 {5, 5, 12, 6, 4, 5},
                                                 {3, 4, 10, 7, 6, 6},
                                                 {2, 1, 9, 8, 2, 0}}) {
        p.v = {static_cast<double>(f),  static_cast<double>(fm), static_cast<double>(sl),
               static_cast<double>(sm), static_cast<double>(g),  static_cast<double>(gm)};
        r.push_back(p);
      }
      return r;
    case ta::Kind::kApo:
    case ta::Kind::kPpo:
      for (const int ma : {0, 1, 2, 3, 4, 5, 6, 7, 8}) {  // fast above slow too: swapped
        p.v = {ma % 2 ? 9.0 : 3.0, ma % 2 ? 3.0 : 9.0, static_cast<double>(ma)};
        r.push_back(p);
      }
      return r;
    case ta::Kind::kMa:
      for (const int ma : {0, 1, 2, 3, 4, 5, 6, 7, 8}) {
        for (const int period : {1, 2, 9}) {
          p.v = {static_cast<double>(period), static_cast<double>(ma)};
          r.push_back(p);
        }
      }
      return r;
    case ta::Kind::kStddev:
      p.v = {30, 2.0};
      break;
    case ta::Kind::kStoch:
      p.v = {14, 1, 0, 5, 0};
      r.push_back(p);
      // Every other MAType, for slow %K and (another) for slow %D.
      for (const auto& [mk, md] :
           {std::pair{1, 8}, {2, 6}, {3, 5}, {4, 3}, {5, 2}, {6, 1}, {8, 4}, {7, 0}, {0, 7}}) {
        p.v = {5, 4, static_cast<double>(mk), 3, static_cast<double>(md)};
        r.push_back(p);
      }
      p.v = {5, 1, 7, 3, 0};  // slow %K of period 1 of a type that warms up longer: the value
      r.push_back(p);
      return r;
    case ta::Kind::kStochf:
      p.v = {1, 1, 0};
      r.push_back(p);
      p.v = {5, 1, 7};  // period 1 of a type whose average warms up longer: the value itself
      r.push_back(p);
      p.v = {5, 3, 2};
      break;
    case ta::Kind::kStochRsi:
      p.v = {2, 1, 1, 0};
      r.push_back(p);
      for (const int ma : {1, 6, 7, 8}) {  // fast %D over EMA, KAMA, MAMA, T3
        p.v = {9, 5, 3, static_cast<double>(ma)};
        r.push_back(p);
      }
      p.v = {14, 5, 1, 7};  // fast %D of period 1 of a type that warms up longer
      r.push_back(p);
      p.v = {14, 5, 3, 2};
      break;
    case ta::Kind::kSar:
      p.v = {0.05, 0.02};
      break;                // acceleration above maximum: clamped
    case ta::Kind::kTrima:  // odd and even periods: the window's middle bar, its two sums
      for (const int period : {2, 3, 9, 10, 31}) {
        p.v[0] = period;
        r.push_back(p);
      }
      p.v[0] = ta::spec(k).params[0].min;
      break;
    case ta::Kind::kObv:
    case ta::Kind::kTrange:
      return r;
    case ta::Kind::kVwap:
      p.v = {0};
      break;  // cumulative
    default:
      p.v[0] = ta::spec(k).params[0].min;
      break;  // the smallest period
  }
  r.push_back(p);
  return r;
}

// A batch's arrays: each series' inputs, and outputs for each (filled with -1).
struct Batch {
  std::vector<const double*> in;
  std::vector<Outputs> got;
  std::vector<double*> out;
  Batch(const ta::KindSpec& spec, const std::vector<Series>& series, std::size_t n) {
    for (const auto& s : series) {
      for (std::size_t i = 0; i < spec.n_inputs; ++i) in.push_back(s.input(spec.inputs[i]));
      got.emplace_back(spec.n_outputs, n);
    }
    for (auto& g : got) out.insert(out.end(), g.ptrs.begin(), g.ptrs.end());
  }
};

// Each output of each of `got` has `expect`'s bits (NaN for NaN); else which index, output and
// bar first differ.
::testing::AssertionResult same_outputs(const std::vector<Outputs>& got,
                                        const std::vector<Outputs>& expect, std::size_t n) {
  for (std::size_t s = 0; s < expect.size(); ++s) {
    for (std::size_t j = 0; j < expect[s].v.size(); ++j) {
      for (std::size_t t = 0; t < n; ++t) {
        if (!same_bits(got[s].v[j][t], expect[s].v[j][t])) {
          return ::testing::AssertionFailure()
                 << "index " << s << " output " << j << " bar " << t << ": " << got[s].v[j][t]
                 << " vs " << expect[s].v[j][t];
        }
      }
    }
  }
  return ::testing::AssertionSuccess();
}

// The stream's outputs over a series, bar by bar.
Outputs stream_outputs(ta::Kind k, const ta::Params& p, const Series& s, std::size_t n) {
  const ta::KindSpec& spec = ta::spec(k);
  Outputs o(spec.n_outputs, n);
  auto stream = ta::make_stream(k, p);
  for (std::size_t t = 0; t < n; ++t) {
    double in[ta::kMaxInputs], out[ta::kMaxOutputs];
    for (std::size_t j = 0; j < spec.n_inputs; ++j) in[j] = s.input(spec.inputs[j])[t];
    stream->update(in, out);
    for (std::size_t j = 0; j < spec.n_outputs; ++j) o.v[j][t] = out[j];
  }
  return o;
}

const Shape kShapes[] = {Shape::kWalk,  Shape::kConstant,   Shape::kGaps,  Shape::kHuge,
                         Shape::kMicro, Shape::kLeadingNaN, Shape::kTicks, Shape::kCents};

class EveryKernel : public ::testing::TestWithParam<int> {
 protected:
  ta::Kind kind() const { return static_cast<ta::Kind>(GetParam()); }
};

// Lanes must reproduce the scalar kernel exactly: 37 series (not a multiple of any width or call,
// so full calls, partial lane groups and several calls per batch all run; a kernel with several
// inputs or outputs runs in calls of fewer groups), six of them starting with NaN (they leave the
// lanes).
TEST_P(EveryKernel, EveryIsaMatchesTheScalarKernelBitForBit) {
  const ta::Kind k = kind();
  const ta::KindSpec& spec = ta::spec(k);
  const std::size_t n = 700, count = 37;
  std::vector<Series> series;
  for (std::size_t i = 0; i < count; ++i)
    series.push_back(make_series(kShapes[i % std::size(kShapes)], n, 100 + i));
  for (const ta::Params& p : param_sets(k)) {
    ta::set_isa(ta::Isa::kScalar);
    std::vector<Outputs> expect;
    for (const auto& s : series) expect.push_back(run_one(k, p, s));
    for (ta::Isa isa : machine_isas()) {
      ta::set_isa(isa);
      Batch b(spec, series, n);
      auto& got = b.got;
      const auto before = ta::isa_calls();
      ta::run_many(k, p, n, count, b.in, b.out);
      EXPECT_EQ(ta::isa_calls()[static_cast<std::size_t>(isa)],
                before[static_cast<std::size_t>(isa)] + 1);
      for (std::size_t s = 0; s < count; ++s) {
        for (std::size_t j = 0; j < spec.n_outputs; ++j) {
          for (std::size_t t = 0; t < n; ++t) {
            ASSERT_TRUE(same_bits(got[s].v[j][t], expect[s].v[j][t]))
                << spec.name << " isa " << ta::to_string(isa) << " series " << s << " output " << j
                << " bar " << t << ": " << got[s].v[j][t] << " vs " << expect[s].v[j][t];
          }
        }
      }
    }
  }
  ta::set_isa(ta::Isa::kScalar);
}

// One update per bar gives the batch outputs, bit for bit; reset() starts over.
TEST_P(EveryKernel, IncrementalEqualsBatch) {
  const ta::Kind k = kind();
  const ta::KindSpec& spec = ta::spec(k);
  for (const ta::Params& p : param_sets(k)) {
    const Series s = make_series(Shape::kGaps, 500, 7);
    const Outputs batch = run_one(k, p, s);
    auto stream = ta::make_stream(k, p);
    for (int pass = 0; pass < 2; ++pass) {
      for (std::size_t t = 0; t < s.close.size(); ++t) {
        double in[ta::kMaxInputs], out[ta::kMaxOutputs];
        for (std::size_t i = 0; i < spec.n_inputs; ++i) in[i] = s.input(spec.inputs[i])[t];
        stream->update(in, out);
        for (std::size_t j = 0; j < spec.n_outputs; ++j) {
          ASSERT_TRUE(same_bits(out[j], batch.v[j][t]))
              << spec.name << " bar " << t << " pass " << pass;
        }
      }
      stream->reset();
    }
  }
}

// One series runs on the active ISA where the kernel has a whole-series form (LINEARREG's and
// TRANGE's bars in the lanes; TRIMA's recurrence read straight from the array): the same bits as
// the scalar stream on every ISA, at every length (whole lane groups, a tail, shorter than the
// window, a single bar), with NaN bars inside the series, and with leading NaN the same as the
// scalar ISA's.
TEST_P(EveryKernel, OneSeriesOnEveryIsaMatchesTheStreamBitForBit) {
  const ta::Kind k = kind();
  const ta::KindSpec& spec = ta::spec(k);
  for (const ta::Params& p : param_sets(k)) {
    for (const Shape shape : kShapes) {
      for (const std::size_t n : {1UL, 2UL, 3UL, 7UL, 13UL, 64UL, 701UL}) {
        Series s = make_series(shape, n, 31 + n);
        if (shape == Shape::kGaps && n > 40) {  // and a hole inside: NaN bars after the warm-up
          for (const std::size_t t : {n / 2, n / 2 + 1, n - 3}) {
            s.close[t] = s.high[t] = s.low[t] = s.volume[t] = kNaN;
          }
        }
        ta::set_isa(ta::Isa::kScalar);
        Outputs expect = run_one(k, p, s);
        if (shape != Shape::kLeadingNaN) {  // the stream does not skip leading NaN; run() does
          expect = stream_outputs(k, p, s, n);
        }
        for (const ta::Isa isa : machine_isas()) {
          ta::set_isa(isa);
          const Outputs got = run_one(k, p, s);
          for (std::size_t j = 0; j < spec.n_outputs; ++j) {
            for (std::size_t t = 0; t < n; ++t) {
              ASSERT_TRUE(same_bits(got.v[j][t], expect.v[j][t]))
                  << spec.name << " isa " << ta::to_string(isa) << " n " << n << " output " << j
                  << " bar " << t << ": " << got.v[j][t] << " vs " << expect.v[j][t];
            }
          }
        }
      }
    }
  }
  ta::set_isa(ta::Isa::kScalar);
}

// The kernels' fused multiply-adds (fmadd(), where TA-Lib's FMA build fuses) are one instruction
// in the scalar unit built with -mfma, and libm's fma in the baseline unit that CPUs without FMA
// run: the same bits, for every kernel, whichever unit the scalar ISA picks.
TEST_P(EveryKernel, TheBaselineScalarUnitGivesTheFmaUnitsBits) {
  if (__builtin_cpu_supports("fma") == 0)
    GTEST_SKIP() << "no FMA: the baseline unit is the only one";
  const ta::Kind k = kind();
  const ta::KindSpec& spec = ta::spec(k);
  for (const ta::Params& p : param_sets(k)) {
    for (const Shape shape : {Shape::kWalk, Shape::kGaps, Shape::kHuge, Shape::kMicro}) {
      const Series s = make_series(shape, 701, 57);
      std::vector<const double*> in;
      for (std::size_t i = 0; i < spec.n_inputs; ++i) in.push_back(s.input(spec.inputs[i]));
      Outputs base(spec.n_outputs, 701), fused(spec.n_outputs, 701);
      ta::detail::run_baseline_scalar_series(k, p, 701, in.data(), base.ptrs.data());
      ta::detail::run_fma_scalar_series(k, p, 701, in.data(), fused.ptrs.data());
      for (std::size_t j = 0; j < spec.n_outputs; ++j) {
        for (std::size_t t = 0; t < 701; ++t) {
          ASSERT_TRUE(same_bits(base.v[j][t], fused.v[j][t]))
              << spec.name << " output " << j << " bar " << t << ": " << base.v[j][t] << " vs "
              << fused.v[j][t];
        }
      }
    }
  }
}

// The NaN warm-up is exactly the lookback, shifted by leading NaN inputs; values follow.
TEST_P(EveryKernel, WarmUpIsTheLookback) {
  const ta::Kind k = kind();
  const ta::KindSpec& spec = ta::spec(k);
  for (const ta::Params& p : param_sets(k)) {
    for (Shape shape : {Shape::kWalk, Shape::kLeadingNaN}) {
      const Series s = make_series(shape, 400, 3);
      const Outputs o = run_one(k, p, s);
      bool reads_close = false;  // the NaNs are in close (= real)
      for (std::size_t i = 0; i < spec.n_inputs; ++i) {
        const std::string role(spec.inputs[i]);
        reads_close = reads_close || role == "close" || role == "real";
      }
      const std::size_t lead = shape == Shape::kLeadingNaN && reads_close ? 17 : 0;
      const std::size_t lb = static_cast<std::size_t>(ta::lookback(k, p)) + lead;
      for (std::size_t j = 0; j < spec.n_outputs; ++j) {
        for (std::size_t t = 0; t < s.close.size(); ++t) {
          EXPECT_EQ(std::isnan(o.v[j][t]), t < lb) << spec.name << " output " << j << " bar " << t;
        }
      }
    }
  }
}

// Too short for one output: all NaN, nothing read past the end.
TEST_P(EveryKernel, ShortSeriesGiveNaNOnly) {
  const ta::Kind k = kind();
  const ta::Params p = ta::default_params(k);
  const std::size_t n = static_cast<std::size_t>(ta::lookback(k, p));
  const Series s = make_series(Shape::kWalk, n, 5);
  const Outputs o = run_one(k, p, s);
  for (const auto& v : o.v) {
    for (double x : v) EXPECT_TRUE(std::isnan(x));
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, EveryKernel,
                         ::testing::Range(0, static_cast<int>(ta::kKindCount)),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return std::string(
                               ta::spec(static_cast<ta::Kind>(param_info.param)).name);
                         });

// ---- plain references ----

TEST(TaReference, SmaIsTheWindowMean) {
  const Series s = make_series(Shape::kWalk, 300, 11);
  ta::Params p = ta::default_params(ta::Kind::kSma);
  p.v[0] = 9;
  const Outputs o = run_one(ta::Kind::kSma, p, s);
  for (std::size_t t = 8; t < 300; ++t) {
    double sum = 0;
    for (std::size_t i = t - 8; i <= t; ++i) sum += s.close[i];
    EXPECT_NEAR(o.v[0][t], sum / 9, 1e-12 * std::fabs(sum / 9));
  }
}

TEST(TaReference, VwapRollingAndCumulative) {
  const Series s = make_series(Shape::kWalk, 400, 13);
  for (std::size_t period : {0U, 1U, 20U}) {
    ta::Params p;
    p.v[0] = static_cast<double>(period);
    const Outputs o = run_one(ta::Kind::kVwap, p, s);
    for (std::size_t t = 0; t < 400; ++t) {
      const std::size_t from = period == 0 ? 0 : (t + 1 >= period ? t + 1 - period : 0);
      if (period != 0 && t + 1 < period) {
        EXPECT_TRUE(std::isnan(o.v[0][t]));
        continue;
      }
      double pv = 0, vol = 0;
      for (std::size_t i = from; i <= t; ++i) {
        const double tp = (s.high[i] + s.low[i] + s.close[i]) / 3.0;
        pv += tp * s.volume[i];
        vol += s.volume[i];
      }
      EXPECT_NEAR(o.v[0][t], pv / vol, 1e-11 * pv / vol) << "period " << period << " bar " << t;
    }
  }
}

TEST(TaReference, VwapWithoutVolumeIsTheTypicalPrice) {
  Series s = make_series(Shape::kWalk, 50, 17);
  std::fill(s.volume.begin(), s.volume.end(), 0.0);
  ta::Params p;
  p.v[0] = 5;
  const Outputs o = run_one(ta::Kind::kVwap, p, s);
  for (std::size_t t = 4; t < 50; ++t) {
    EXPECT_EQ(o.v[0][t], (s.high[t] + s.low[t] + s.close[t]) / 3.0);
  }
}

TEST(TaReference, MomObvAndRocAreExact) {
  const Series s = make_series(Shape::kWalk, 200, 19);
  ta::Params p;
  p.v[0] = 4;
  const Outputs mom = run_one(ta::Kind::kMom, p, s);
  const Outputs roc = run_one(ta::Kind::kRoc, p, s);
  const Outputs obv = run_one(ta::Kind::kObv, ta::Params{}, s);
  double acc = s.volume[0];
  EXPECT_EQ(obv.v[0][0], acc);
  for (std::size_t t = 1; t < 200; ++t) {
    if (s.close[t] > s.close[t - 1]) acc += s.volume[t];
    if (s.close[t] < s.close[t - 1]) acc -= s.volume[t];
    EXPECT_EQ(obv.v[0][t], acc);
    if (t >= 4) {
      EXPECT_EQ(mom.v[0][t], s.close[t] - s.close[t - 4]);
      EXPECT_EQ(roc.v[0][t], ((s.close[t] / s.close[t - 4]) - 1.0) * 100.0);
    }
  }
}

// OBV's whole-series form adds -v for a fall and -0 for no change where step() subtracts v or
// leaves the sum: the same bits only if no signed zero is lost, and no NaN's sign. Zero volumes of
// both signs and NaN volumes of both signs, every move, on every ISA, against TA-Lib's loop, bit
// for bit (a NaN's sign included).
TEST(TaReference, ObvKeepsTheSignOfAZeroSumOnEveryIsa) {
  // A sum of zeros is -0 only while every step keeps it so (-0 + -0, -0 - +0): short series that
  // start at -0, 12 bars each (through the lanes and the tail on AVX2 and AVX-512); every other
  // one with a NaN volume of either sign at one bar.
  std::mt19937_64 rng(7);
  std::size_t negative_zeros = 0;
  for (int round = 0; round < 400; ++round) {
    Series s = make_series(Shape::kWalk, 12, 23);
    for (std::size_t t = 0; t < s.close.size(); ++t) {
      s.close[t] = static_cast<double>(rng() % 3);  // up, down or flat
      s.volume[t] = t == 0 || rng() % 2 == 0 ? -0.0 : 0.0;
    }
    if (round % 2 == 1) s.volume[1 + rng() % 11] = rng() % 2 == 0 ? kNaN : -kNaN;
    std::vector<double> expect(s.close.size());
    double obv = s.volume[0];
    expect[0] = obv;
    for (std::size_t t = 1; t < s.close.size(); ++t) {
      if (s.close[t] > s.close[t - 1]) {
        obv += s.volume[t];
      } else if (s.close[t] < s.close[t - 1]) {
        obv -= s.volume[t];
      }
      expect[t] = obv;
      negative_zeros += std::signbit(obv) ? 1 : 0;
    }
    for (const ta::Isa isa : machine_isas()) {
      ta::set_isa(isa);
      const Outputs got = run_one(ta::Kind::kObv, ta::Params{}, s);
      for (std::size_t t = 0; t < expect.size(); ++t) {
        ASSERT_EQ(std::memcmp(&got.v[0][t], &expect[t], sizeof(double)), 0)
            << ta::to_string(isa) << " round " << round << " bar " << t << ": " << got.v[0][t]
            << " vs " << expect[t];
      }
    }
  }
  EXPECT_GT(negative_zeros, 200U);  // the case this test is for did occur
  ta::set_isa(ta::Isa::kScalar);
}

// TA_MA is the average its MAType names, bar for bar; BBANDS's middle band is that average and its
// bands the middle +/- STDDEV(p, 1) * nbdev (TA_STDDEV's, whatever the MAType).
TEST(TaReference, MaIsEachAverageAndBbandsBandsItsMiddle) {
  const Series s = make_series(Shape::kWalk, 300, 23);
  const std::pair<int, ta::Kind> types[] = {
      {0, ta::Kind::kSma},  {1, ta::Kind::kEma},   {2, ta::Kind::kWma},  {3, ta::Kind::kDema},
      {4, ta::Kind::kTema}, {5, ta::Kind::kTrima}, {6, ta::Kind::kKama}, {8, ta::Kind::kT3}};
  ta::Params sd;
  sd.v[0] = 6;
  sd.v[1] = 1.0;
  for (const auto& [type, kind] : types) {
    ta::Params one = ta::default_params(kind);
    one.v[0] = 6;
    ta::Params ma;
    ma.v[0] = 6;
    ma.v[1] = type;
    ta::Params bb = ta::default_params(ta::Kind::kBbands);
    bb.v[0] = 6;
    bb.v[1] = 2.0;
    bb.v[2] = 0.5;
    bb.v[3] = type;
    const Outputs want = run_one(kind, one, s), got = run_one(ta::Kind::kMa, ma, s),
                  bands = run_one(ta::Kind::kBbands, bb, s);
    EXPECT_EQ(ta::lookback(ta::Kind::kMa, ma), ta::lookback(kind, one)) << "matype " << type;
    EXPECT_EQ(ta::lookback(ta::Kind::kBbands, bb), ta::lookback(kind, one)) << "matype " << type;
    // The deviation is TA_STDDEV called from the average's first output: its sums start 5 bars
    // before it. The upper band's product is fused with its sum (TA-Lib's FMA build), the
    // lower's is not.
    const auto from = static_cast<std::size_t>(std::max(ta::lookback(kind, one) - 5, 0));
    Series tail = s;
    for (auto* v : {&tail.close, &tail.high, &tail.low, &tail.volume}) {
      v->erase(v->begin(), v->begin() + static_cast<std::ptrdiff_t>(from));
    }
    const Outputs dev = run_one(ta::Kind::kStddev, sd, tail);
    for (std::size_t t = 0; t < 300; ++t) {
      EXPECT_TRUE(same_bits(got.v[0][t], want.v[0][t])) << "matype " << type << " bar " << t;
      if (type == 0) continue;  // BBANDS over an SMA: the deviation about that mean (TA-Lib's)
      EXPECT_TRUE(same_bits(bands.v[1][t], want.v[0][t])) << "matype " << type << " bar " << t;
      if (std::isnan(want.v[0][t])) continue;
      EXPECT_EQ(bands.v[0][t], std::fma(dev.v[0][t - from], 2.0, want.v[0][t]))
          << "matype " << type << " bar " << t;
      EXPECT_EQ(bands.v[2][t], want.v[0][t] - dev.v[0][t - from] * 0.5)
          << "matype " << type << " bar " << t;
    }
  }
  ta::Params copy;
  copy.v[0] = 1;
  copy.v[1] = 4;  // period 1: the input itself, whatever the type
  const Outputs same = run_one(ta::Kind::kMa, copy, s);
  EXPECT_EQ(same.v[0], s.close);
}

// TA_APO is MA(fast) - MA(slow) of one MAType, each over the whole series; TA_PPO is that over the
// slow average, in percent.
TEST(TaReference, ApoAndPpoAreTheDifferenceOfTwoAverages) {
  const Series s = make_series(Shape::kWalk, 300, 29);
  for (const int type : {0, 1, 2, 3, 4, 5, 6, 8}) {
    ta::Params fast, slow, po;
    fast.v[0] = 4;
    slow.v[0] = 11;
    fast.v[1] = slow.v[1] = type;
    po.v[0] = 11;  // fast above slow: swapped, as TA-Lib does
    po.v[1] = 4;
    po.v[2] = type;
    const Outputs f = run_one(ta::Kind::kMa, fast, s), sl = run_one(ta::Kind::kMa, slow, s),
                  apo = run_one(ta::Kind::kApo, po, s), ppo = run_one(ta::Kind::kPpo, po, s);
    EXPECT_EQ(ta::lookback(ta::Kind::kApo, po), ta::lookback(ta::Kind::kMa, slow));
    for (std::size_t t = 0; t < 300; ++t) {
      if (std::isnan(sl.v[0][t])) {
        EXPECT_TRUE(std::isnan(apo.v[0][t]) && std::isnan(ppo.v[0][t])) << type << " bar " << t;
        continue;
      }
      EXPECT_EQ(apo.v[0][t], f.v[0][t] - sl.v[0][t]) << "matype " << type << " bar " << t;
      EXPECT_EQ(ppo.v[0][t], (f.v[0][t] - sl.v[0][t]) / sl.v[0][t] * 100.0)
          << "matype " << type << " bar " << t;
    }
  }
}

TEST(TaReference, ConstantSeriesFollowTaLibsZeroRules) {
  const Series s = make_series(Shape::kConstant, 120, 1);
  for (ta::Kind k : {ta::Kind::kRsi, ta::Kind::kStddev, ta::Kind::kCci, ta::Kind::kWillr,
                     ta::Kind::kMfi, ta::Kind::kAdx, ta::Kind::kAtr, ta::Kind::kMom}) {
    const Outputs o = run_one(k, ta::default_params(k), s);
    EXPECT_EQ(o.v[0].back(), 0.0) << ta::spec(k).name;
  }
  const Outputs ema = run_one(ta::Kind::kEma, ta::default_params(ta::Kind::kEma), s);
  EXPECT_EQ(ema.v[0].back(), 100.0);
}

// ---- parameters, registry ----

// MIN, MAX, WILLR and the stochastics' fast %K over one series take their window extremes in
// chunks of widening windows (on AVX2 in one pass, each level in registers or a ring): across
// chunk edges, periods longer than a chunk (the stream's own passes), series with a NaN or +0
// beside -0 late, or a NaN in the first chunk (the stream's order of comparisons from the first
// bar), with a +0 only (still in the lanes), and shorter than a vector, the same bits as the
// stream; without those, the window's extreme read bar by bar.
TEST(TaReference, WindowExtremesOverManyChunksAreTheStreamsBits) {
  for (const ta::Kind k :
       {ta::Kind::kMin, ta::Kind::kMax, ta::Kind::kWillr, ta::Kind::kStoch, ta::Kind::kStochf}) {
    const ta::KindSpec& spec = ta::spec(k);
    // On AVX2 a period's top level of windows is 4^l bars, 4^l < p <= 4^(l + 1): each side of
    // every step (4, 16, 64, 256); the top level's windows read 1, 2 or 3 bars off a vector's
    // edge, within a vector back (6, 7, 18, 19, 66, 67, 258, 259) and further (13, 29, 199, 201);
    // the series' last vector of 4 bars whole or 1 to 3 short.
    for (const int period :
         {2,  3,  4,  5,   6,   7,   13,  14,  16,  17,  18,   19,   29,   30,  64,
          65, 66, 67, 199, 200, 201, 256, 257, 258, 259, 1023, 1024, 1025, 3000}) {
      ta::Params p = ta::default_params(k);
      p.v[0] = period;
      for (const std::size_t n : {3UL, 1023UL, 1024UL, 1025UL, 1026UL, 4097UL, 9000UL}) {
        // none, a NaN, +0 and -0, +0 only (each 5 bars before the end), a NaN at bar 100
        for (const int late : {0, 1, 2, 3, 4}) {
          if (n < 101 && late != 0) continue;
          Series s = make_series(Shape::kWalk, n, 7 + n);
          for (auto* v : {&s.close, &s.high, &s.low}) {
            if (late == 1) (*v)[n - 5] = kNaN;
            if (late >= 2 && late <= 3) (*v)[n - 5] = 0.0;
            if (late == 2) (*v)[n - 4] = -0.0;
            if (late == 4) (*v)[100] = kNaN;
          }
          const Outputs expect = stream_outputs(k, p, s, n);
          if (late == 0 &&
              spec.n_outputs == 1) {  // MIN, MAX, WILLR against the windows read bar by bar
            const auto w = static_cast<std::size_t>(period);
            for (std::size_t t = w - 1; t < n; t += 97) {
              const std::size_t b = t + 1 - w;
              const double lo = *std::min_element(s.low.begin() + b, s.low.begin() + t + 1);
              const double hi = *std::max_element(s.high.begin() + b, s.high.begin() + t + 1);
              const double range = hi - lo;
              const double m = k == ta::Kind::kMin
                                   ? *std::min_element(s.close.begin() + b, s.close.begin() + t + 1)
                               : k == ta::Kind::kMax
                                   ? *std::max_element(s.close.begin() + b, s.close.begin() + t + 1)
                               : range != 0.0 ? (hi - s.close[t]) / range * -100.0
                                              : 0.0;
              ASSERT_TRUE(same_bits(expect.v[0][t], m))
                  << spec.name << " p " << period << " bar " << t;
            }
          }
          for (const ta::Isa isa : machine_isas()) {
            ta::set_isa(isa);
            const Outputs got = run_one(k, p, s);
            for (std::size_t j = 0; j < spec.n_outputs; ++j) {
              for (std::size_t t = 0; t < n; ++t) {
                ASSERT_TRUE(same_bits(got.v[j][t], expect.v[j][t]))
                    << spec.name << " isa " << ta::to_string(isa) << " p " << period << " n " << n
                    << " case " << late << " output " << j << " bar " << t << ": " << got.v[j][t]
                    << " vs " << expect.v[j][t];
              }
            }
          }
        }
      }
    }
  }
  ta::set_isa(ta::Isa::kScalar);
}

// STOCHRSI over one series on a vector ISA takes fast %K's window extremes over the RSI in the
// lanes (the RSI in the fast %D output until fast %D is written over it), and runs its scalar
// one-series form where the window is longer than a chunk of those extremes: the stream's bits
// either way.
TEST(TaReference, StochRsiOverShortAndLongWindowsIsTheStreamsBits) {
  const ta::Kind k = ta::Kind::kStochRsi;
  for (const int fastk : {1, 5, 1024, 1025, 2000}) {
    for (const int fastd : {1, 3, 40}) {
      ta::Params p = ta::default_params(k);
      p.v[1] = fastk;
      p.v[2] = fastd;
      for (const std::size_t n : {1100UL, 4097UL}) {
        const Series s = make_series(Shape::kWalk, n, 5 + n);
        Outputs expect(2, n);
        auto stream = ta::make_stream(k, p);
        for (std::size_t t = 0; t < n; ++t) {
          double out[2];
          stream->update(&s.close[t], out);
          expect.v[0][t] = out[0];
          expect.v[1][t] = out[1];
        }
        for (const ta::Isa isa : machine_isas()) {
          ta::set_isa(isa);
          const Outputs got = run_one(k, p, s);
          for (std::size_t j = 0; j < 2; ++j) {
            for (std::size_t t = 0; t < n; ++t) {
              ASSERT_TRUE(same_bits(got.v[j][t], expect.v[j][t]))
                  << "isa " << ta::to_string(isa) << " fastk " << fastk << " fastd " << fastd
                  << " n " << n << " output " << j << " bar " << t << ": " << got.v[j][t] << " vs "
                  << expect.v[j][t];
            }
          }
        }
      }
    }
  }
  ta::set_isa(ta::Isa::kScalar);
}

// BBANDS over the SMA runs its sums a chunk of 2,048 bars at a time and its bands after each chunk,
// in lanes: the stream's bits across chunk edges, for windows shorter and longer than a chunk,
// equal and unequal deviations (the unequal ones bar by bar), series whose sums are re-anchored
// (huge, constant runs), NaN bars, and lengths that leave every remainder of the lanes; in the
// scalar unit's FMA build (four lanes, what run() takes on a CPU with FMA) and in its baseline
// build (two lanes).
TEST(TaReference, BbandsOverManyChunksIsTheStreamsBits) {
  const ta::Kind k = ta::Kind::kBbands;
  for (const int period : {2, 5, 20, 2047, 2048, 2049, 3000}) {
    for (const auto& [up, dn] : {std::pair{2.0, 2.0}, std::pair{1.5, 2.5}}) {
      ta::Params p = ta::default_params(k);
      p.v[0] = period;
      p.v[1] = up;
      p.v[2] = dn;
      for (const std::size_t n : {2047UL, 2049UL, 4097UL, 4102UL, 9003UL}) {
        for (const Shape shape : {Shape::kWalk, Shape::kHuge, Shape::kConstant, Shape::kGaps}) {
          Series s = make_series(shape, n, 23 + n);
          if (shape == Shape::kGaps) {  // NaN bars after the warm-up, in the middle of chunks
            for (const std::size_t t : {n / 3, n / 3 + 1, n - 5}) s.close[t] = kNaN;
          }
          Outputs expect(3, n);
          auto stream = ta::make_stream(k, p);
          for (std::size_t t = 0; t < n; ++t) {
            double out[3];
            stream->update(&s.close[t], out);
            for (std::size_t j = 0; j < 3; ++j) expect.v[j][t] = out[j];
          }
          Outputs base(3, n);  // the baseline unit's, called directly (no NaN skipping)
          const double* in[1] = {s.close.data()};
          ta::detail::run_baseline_scalar_series(k, p, n, in, base.ptrs.data());
          for (const ta::Isa isa : machine_isas()) {
            ta::set_isa(isa);
            const Outputs got = run_one(k, p, s);
            for (std::size_t j = 0; j < 3; ++j) {
              for (std::size_t t = 0; t < n; ++t) {
                ASSERT_TRUE(same_bits(got.v[j][t], expect.v[j][t]) &&
                            same_bits(base.v[j][t], expect.v[j][t]))
                    << "isa " << ta::to_string(isa) << " p " << period << " up " << up << " n " << n
                    << " shape " << static_cast<int>(shape) << " output " << j << " bar " << t
                    << ": " << got.v[j][t] << ", baseline " << base.v[j][t] << " vs "
                    << expect.v[j][t];
              }
            }
          }
        }
      }
    }
  }
  ta::set_isa(ta::Isa::kScalar);
}

// MFI over one series runs in chunks of bars (its flows in the lanes, its sums in order): across
// chunk edges, periods up to and past a chunk, runs of bars without volume or without a price move
// (no flow) long enough to empty the sums (TA-Lib's reset) and shorter, and NaN bars inside (the
// sums NaN until a reset empties them), the same bits as the stream.
TEST(TaReference, MfiOverManyChunksIsTheStreamsBits) {
  const ta::Kind k = ta::Kind::kMfi;
  for (const int period : {2, 14, 2047, 2048, 2049, 3000}) {
    ta::Params p = ta::default_params(k);
    p.v[0] = period;
    for (const std::size_t n : {2047UL, 2049UL, 4097UL, 9000UL}) {
      for (const Shape shape : {Shape::kWalk, Shape::kCents}) {
        for (const int holes : {0, 1, 2}) {
          Series s = make_series(shape, n, 11 + n);
          // Bars [from, from + count) without flow: no volume (holes 1) or one price (holes 2).
          const auto idle = [&](std::size_t from, std::size_t count) {
            for (std::size_t t = from; t < from + count && t < n; ++t) {
              if (holes == 1) {
                s.volume[t] = 0.0;
              } else {
                s.close[t] = s.high[t] = s.low[t] = s.close[from];
              }
            }
          };
          if (holes > 0) {
            const auto reset = static_cast<std::size_t>(period) + 3;
            const std::size_t a = n / 50, b = a + reset + 20;
            idle(a, reset);                // the sums reset
            idle(a + reset + 7, 5);        // a short idle run after
            if (b < n) s.close[b] = kNaN;  // the sums NaN from here ...
            idle(b + 3, reset);      // ... until the next reset (past the end for some periods)
            s.volume[n - 2] = kNaN;  // and NaN again near the end
          }
          Outputs expect(1, n);
          auto stream = ta::make_stream(k, p);
          for (std::size_t t = 0; t < n; ++t) {
            const double in[4] = {s.high[t], s.low[t], s.close[t], s.volume[t]};
            stream->update(in, &expect.v[0][t]);
          }
          for (const ta::Isa isa : machine_isas()) {
            ta::set_isa(isa);
            const Outputs got = run_one(k, p, s);
            for (std::size_t t = 0; t < n; ++t) {
              ASSERT_TRUE(same_bits(got.v[0][t], expect.v[0][t]))
                  << "isa " << ta::to_string(isa) << " p " << period << " n " << n << " shape "
                  << static_cast<int>(shape) << " holes " << holes << " bar " << t << ": "
                  << got.v[0][t] << " vs " << expect.v[0][t];
            }
          }
        }
      }
    }
  }
  ta::set_isa(ta::Isa::kScalar);
}

// `count` series of n bars (every shape but a leading NaN) and the stream's outputs over each.
std::vector<Series> routing_series(ta::Kind k, const ta::Params& p, std::size_t n,
                                   std::size_t count, std::uint64_t seed,
                                   std::vector<Outputs>& expect) {
  ta::set_isa(ta::Isa::kScalar);
  std::vector<Series> series;
  for (std::size_t i = 0; i < count; ++i) {
    series.push_back(make_series(kShapes[i % std::size(kShapes)], n, seed + i));
    if (i % std::size(kShapes) == 5) series.back() = make_series(Shape::kWalk, n, seed + i);
    expect.push_back(stream_outputs(k, p, series.back(), n));
  }
  return series;
}

// `count` series of n bars (every shape but a leading NaN) through run_many() on every ISA: the
// stream's bits, and `scalar(isa)` of them run one at a time as scalar series.
template <class F>
void check_batch_routing(ta::Kind k, const ta::Params& p, std::size_t n, std::size_t count,
                         std::uint64_t seed, F scalar) {
  const ta::KindSpec& spec = ta::spec(k);
  std::vector<Outputs> expect;
  const std::vector<Series> series = routing_series(k, p, n, count, seed, expect);
  for (const ta::Isa isa : machine_isas()) {
    ta::set_isa(isa);
    Batch b(spec, series, n);
    const std::uint64_t before = ta::detail::batch_scalar_series_runs();
    ta::run_many(k, p, n, count, b.in, b.out);
    EXPECT_EQ(ta::detail::batch_scalar_series_runs() - before, scalar(isa))
        << spec.name << " isa " << ta::to_string(isa) << " n " << n;
    ASSERT_TRUE(same_outputs(b.got, expect, n))
        << spec.name << " isa " << ta::to_string(isa) << " n " << n;
  }
  ta::set_isa(ta::Isa::kScalar);
}

// HT_TRENDLINE, HT_SINE, HT_DCPHASE and MAMA run each series of a batch through
// the scalar series form, on every ISA: measured faster than their lanes (docs/benchmarks.md).
// EMA, whose lanes pay, keeps them. The stream's bits either way. (On a machine with the scalar
// ISA only, every series takes the scalar form anyway: the count shows the routing on AVX2 and
// AVX-512.)
TEST(TaReference, ABatchRunsTheKernelsWhoseLanesDoNotPayAsScalarSeries) {
  for (const ta::Kind k : {ta::Kind::kHtTrendline, ta::Kind::kHtSine, ta::Kind::kHtDcPhase,
                           ta::Kind::kMama, ta::Kind::kEma}) {
    const std::size_t count = 11;
    check_batch_routing(k, ta::default_params(k), 700, count, 70, [&](ta::Isa isa) {
      return k == ta::Kind::kEma && isa != ta::Isa::kScalar ? 0 : count;
    });
  }
}

// MACDEXT runs a batch's series in lanes, a pass per average (each through its own kernel's
// lanes), a vector's series at a time (11 series: a full vector and a part of one on AVX-512). The
// stream's bits, for every MAType in each of the three averages (MAMA's through MaAny, period 1
// the input itself), fast above slow too, short series and long.
TEST(TaReference, AMacdExtBatchRunsItsAveragesInLanes) {
  const std::size_t count = 11;
  for (const ta::Params& p : param_sets(ta::Kind::kMacdExt)) {
    for (const std::size_t n : {700UL, 40'001UL}) {
      check_batch_routing(ta::Kind::kMacdExt, p, n, count, 171,
                          [&](ta::Isa isa) { return isa == ta::Isa::kScalar ? count : 0; });
    }
  }
}

// APO and PPO run a batch's series in lanes as MACDEXT does, a pass per average (the slow one into
// a scratch), then the difference or the percentage a vector of bars at a time. The stream's
// bits, for every MAType, fast above slow too; series shorter than either average's warm-up,
// ending on its last bar, and longer (the last bars fewer than a vector: 3,001).
TEST(TaReference, AnApoOrPpoBatchRunsItsAveragesInLanes) {
  const std::size_t count = 11;
  for (const ta::Kind k : {ta::Kind::kApo, ta::Kind::kPpo}) {
    for (const ta::Params& p : param_sets(k)) {
      const auto first = static_cast<std::size_t>(ta::lookback(k, p));
      for (const std::size_t n :
           {std::size_t{1}, first, first + 1, first + 2, std::size_t{700}, std::size_t{3001}}) {
        check_batch_routing(k, p, n, count, 172,
                            [&](ta::Isa isa) { return isa == ta::Isa::kScalar ? count : 0; });
      }
    }
  }
}

// MACD runs a batch's series in lanes at every length, a vector's series at a time: step() until
// the signal average is seeded, then the three recurrences in registers, a tile of bars at a time
// from a multiple of the lane width (11 series: a full vector and part of one on AVX-512). The
// stream's bits: series that end before the signal is seeded, on the bar it is, in the bars
// before the first tile, in a tile and past the last one.
TEST(TaReference, AMacdBatchRunsInLanesAtEveryLength) {
  const std::size_t count = 11;
  for (const ta::Params& p : param_sets(ta::Kind::kMacd)) {
    for (const std::size_t n : {20UL, 33UL, 34UL, 37UL, 700UL, 2048UL, 3001UL}) {
      check_batch_routing(ta::Kind::kMacd, p, n, count, 170,
                          [&](ta::Isa isa) { return isa == ta::Isa::kScalar ? count : 0; });
    }
  }
}

// KAMA, T3, STDDEV, SMA, TRIMA, WMA, EMA, DEMA, TEMA, RSI, CMO, ATR and NATR run a batch's series
// in lanes, a vector's series at a time: step() through the warm-up (KAMA's, RSI's, CMO's, ATR's
// and NATR's first p + 1 bars, T3's six seeds: 6p - 5 bars, STDDEV's and SMA's p - 1, TRIMA's,
// WMA's and EMA's p, DEMA's 2p - 1, TEMA's 3p - 2), then the state in registers, RSI and CMO
// reading the bar before (ATR and NATR the close before), KAMA and WMA reading the value p bars
// back from the input, SMA the one p - 1 back, TRIMA the ones p and p / 2 back (odd periods and
// even), STDDEV the window's oldest bar and, where it re-anchors its shift (every 32 windows, and
// where the variance is tiny in some lanes and not others: constant series among random walks), the
// whole window, WMA the whole window where it rebuilds its sums (every 8p bars). 11 series of every
// shape (flat runs among them: KAMA's summed moves reset to 0). The stream's bits: series that end
// inside the warm-up, on its last bar, before the first tile, in one and past the last; period 1 (a
// copy of the input but for STDDEV) and 2; T3 with other volume factors, STDDEV with other
// deviations.
TEST(TaReference, TheLanesFormsRunAtEveryLength) {
  const std::size_t count = 11;
  struct Case {
    ta::Kind k;
    double period, second;
    std::size_t warm;  // the bars step() runs before the state goes into registers
  };
  for (const Case c : {Case{ta::Kind::kKama, 1, 0, 1},     Case{ta::Kind::kKama, 2, 0, 3},
                       Case{ta::Kind::kKama, 10, 0, 11},   Case{ta::Kind::kKama, 30, 0, 31},
                       Case{ta::Kind::kT3, 1, 0.7, 1},     Case{ta::Kind::kT3, 2, 0.7, 7},
                       Case{ta::Kind::kT3, 5, 0.7, 25},    Case{ta::Kind::kT3, 9, 0.35, 49},
                       Case{ta::Kind::kStddev, 2, 1.0, 1}, Case{ta::Kind::kStddev, 3, 1.0, 2},
                       Case{ta::Kind::kStddev, 5, 2.0, 4}, Case{ta::Kind::kStddev, 20, 1.5, 19},
                       Case{ta::Kind::kSma, 1, 0, 1},      Case{ta::Kind::kSma, 2, 0, 1},
                       Case{ta::Kind::kSma, 10, 0, 9},     Case{ta::Kind::kSma, 30, 0, 29},
                       Case{ta::Kind::kTrima, 1, 0, 1},    Case{ta::Kind::kTrima, 2, 0, 2},
                       Case{ta::Kind::kTrima, 3, 0, 3},    Case{ta::Kind::kTrima, 10, 0, 10},
                       Case{ta::Kind::kTrima, 31, 0, 31},  Case{ta::Kind::kWma, 1, 0, 1},
                       Case{ta::Kind::kWma, 2, 0, 2},      Case{ta::Kind::kWma, 5, 0, 5},
                       Case{ta::Kind::kWma, 30, 0, 30},    Case{ta::Kind::kEma, 1, 0, 1},
                       Case{ta::Kind::kEma, 2, 0, 2},      Case{ta::Kind::kEma, 30, 0, 30},
                       Case{ta::Kind::kDema, 2, 0, 3},     Case{ta::Kind::kDema, 10, 0, 19},
                       Case{ta::Kind::kTema, 2, 0, 4},     Case{ta::Kind::kTema, 9, 0, 25},
                       Case{ta::Kind::kRsi, 2, 0, 3},      Case{ta::Kind::kRsi, 14, 0, 15},
                       Case{ta::Kind::kCmo, 2, 0, 3},      Case{ta::Kind::kCmo, 14, 0, 15},
                       Case{ta::Kind::kAtr, 1, 0, 2},      Case{ta::Kind::kAtr, 2, 0, 3},
                       Case{ta::Kind::kAtr, 14, 0, 15},    Case{ta::Kind::kNatr, 1, 0, 2},
                       Case{ta::Kind::kNatr, 2, 0, 3},     Case{ta::Kind::kNatr, 14, 0, 15}}) {
    ta::Params p = ta::default_params(c.k);
    p.v[0] = c.period;
    if (c.k == ta::Kind::kT3 || c.k == ta::Kind::kStddev) p.v[1] = c.second;
    for (const std::size_t n : {c.warm / 2 + 1, std::max<std::size_t>(1, c.warm - 1), c.warm,
                                c.warm + 1, c.warm + 9, std::size_t{700}, std::size_t{3001}}) {
      // On the scalar unit the kernels run their series forms; SMA, RSI and CMO, without one, step.
      const bool stepped = c.k == ta::Kind::kSma || c.k == ta::Kind::kRsi || c.k == ta::Kind::kCmo;
      check_batch_routing(c.k, p, n, count, 180, [&](ta::Isa isa) {
        return isa == ta::Isa::kScalar && !stepped ? count : 0;
      });
    }
  }
}

// ATR and NATR run a batch's series in lanes on AVX2 at every length, on AVX-512 up to 16,383
// bars (from 16,384 its eight lanes' 24 input streams lose to the scalar series form); the
// scalar series form on the scalar unit. The stream's bits either side of the edge.
TEST(TaReference, AnAtrBatchRunsInLanesBelowItsLengthOnAvx512) {
  const std::size_t count = 11;
  for (const ta::Kind k : {ta::Kind::kAtr, ta::Kind::kNatr}) {
    for (const std::size_t n : {std::size_t{16'383}, std::size_t{16'384}}) {
      check_batch_routing(k, ta::default_params(k), n, count, 181, [&](ta::Isa isa) {
        const bool alone =
            isa == ta::Isa::kScalar || (isa == ta::Isa::kAvx512 && n >= std::size_t{16'384});
        return alone ? count : 0;
      });
    }
  }
}

// Lanes writing 1 MiB or more a call stream their stores where a vector is a cache line (AVX-512)
// and every output starts on one: run_groups() decides for a call of its groups (OBV: a group of 8
// series a call; of 13 series of 17,001 bars the first call's 1.09 MB stream), the
// lanes forms (among them MACD, EMA, KAMA, T3, STDDEV, BBANDS over the SMA) a vector's series at a
// time (MACD, 10 series of 9,001 bars: the first 8 stream, the last 2 do not; 9 of 45,001: the last
// one alone writes 1 MiB and streams too; EMA, T3, 13 of 17,001, and KAMA, 9: the first 8 stream;
// STDDEV, 16: both vectors; BBANDS, 10 of 9,001: the first 8). Into outputs one double off the
// lines, ordinary stores. The lanes forms run in lanes either way. The stream's bits every way, the
// tiles' bars and the last bars past them (n is not a multiple of 8), full calls and calls with
// idle lanes (13 series: a group of 8 and one of 5), and nothing written past an output's n bars.
TEST(TaReference, LanesPastTheCachesStreamTheSameBitsIntoOutputsOnCacheLines) {
  struct Case {
    ta::Kind k;
    std::size_t count, n;
    std::uint64_t streamed;  // calls (OBV) or vectors' series (the lanes forms) streamed, AVX-512
  };
  for (const Case c : {Case{ta::Kind::kObv, 13, 17001, 1}, Case{ta::Kind::kEma, 13, 17001, 1},
                       Case{ta::Kind::kStddev, 16, 17001, 2}, Case{ta::Kind::kT3, 13, 17001, 1},
                       Case{ta::Kind::kKama, 9, 17001, 1}, Case{ta::Kind::kMacd, 16, 9001, 2},
                       Case{ta::Kind::kMacd, 10, 9001, 1}, Case{ta::Kind::kMacd, 9, 45001, 2},
                       Case{ta::Kind::kBbands, 10, 9001, 1}}) {
    const ta::KindSpec& spec = ta::spec(c.k);
    const ta::Params p = ta::default_params(c.k);
    const std::size_t n = c.n, count = c.count;
    std::vector<Outputs> expect;
    const std::vector<Series> series = routing_series(c.k, p, n, count, 410, expect);
    std::vector<const double*> in;
    for (const auto& s : series) {
      for (std::size_t i = 0; i < spec.n_inputs; ++i) in.push_back(s.input(spec.inputs[i]));
    }
    for (const ta::Isa isa : machine_isas()) {
      for (const std::size_t off : {std::size_t{0}, std::size_t{1}}) {
        ta::set_isa(isa);
        const std::string what = std::string(spec.name) + " x" + std::to_string(count) + " isa " +
                                 ta::to_string(isa) + " off " + std::to_string(off);
        // Each output on a cache line of its own (+ off doubles), -1 in the gaps between.
        const std::size_t stride = (n + 15) / 8 * 8, outs = count * spec.n_outputs;
        std::vector<double> block(outs * stride + 8, -1.0);
        double* first = block.data();
        while (reinterpret_cast<std::uintptr_t>(first) % 64 != 0) ++first;
        std::vector<double*> out;
        for (std::size_t o = 0; o < outs; ++o) out.push_back(first + o * stride + off);
        const std::uint64_t streamed = ta::detail::streamed_lane_runs(),
                            scalar = ta::detail::batch_scalar_series_runs();
        ta::run_many(c.k, p, n, count, in, out);
        const bool streams = isa == ta::Isa::kAvx512 && off == 0;
        EXPECT_EQ(ta::detail::streamed_lane_runs() - streamed, streams ? c.streamed : 0) << what;
        if (c.k != ta::Kind::kObv) {
          EXPECT_EQ(ta::detail::batch_scalar_series_runs() - scalar,
                    isa == ta::Isa::kScalar ? count : 0)
              << what;
        }
        for (std::size_t s = 0; s < count; ++s) {
          for (std::size_t j = 0; j < spec.n_outputs; ++j) {
            const double* got = out[s * spec.n_outputs + j];
            for (std::size_t t = 0; t < n; ++t) {
              ASSERT_TRUE(same_bits(got[t], expect[s].v[j][t]))
                  << what << " series " << s << " output " << j << " bar " << t << ": " << got[t]
                  << " vs " << expect[s].v[j][t];
            }
            for (std::size_t t = n; t + off < stride; ++t) {
              ASSERT_EQ(got[t], -1.0) << what << " series " << s << " output " << j << " bar " << t;
            }
          }
        }
      }
    }
  }
  ta::set_isa(ta::Isa::kScalar);
}

// BBANDS runs a batch's series in lanes: over the SMA its sums (the mean, the variance) in lanes
// and then its bands over each series, a vector's series at a time (11 series: a full vector and
// part of one on AVX-512); over any other average step() in lanes. The stream's bits either way,
// with one width for both bands and two (the upper band's product fused with its sum), periods
// 2 and 20.
TEST(TaReference, ABbandsBatchRunsInLanesOverEveryAverage) {
  const std::size_t count = 11;
  for (const int matype : {0, 1, 3}) {
    for (const auto& [period, up, dn] : {std::array<double, 3>{20, 2.0, 2.0}, {2, 1.5, 2.5}}) {
      ta::Params p = ta::default_params(ta::Kind::kBbands);
      p.v = {period, up, dn, static_cast<double>(matype)};
      const auto pn = static_cast<std::size_t>(period);
      for (const std::size_t n : {pn - 1, pn, pn + 9, std::size_t{700}, std::size_t{3001}}) {
        check_batch_routing(ta::Kind::kBbands, p, n, count, 270,
                            [&](ta::Isa isa) { return isa == ta::Isa::kScalar ? count : 0; });
      }
    }
  }
}

// A batch of one or two series leaves most of a vector's lanes idle: on AVX2 (4 lanes) one series,
// on AVX-512 (8) one or two, run as run() runs one series instead (the scalar kernel, or the
// ISA's whole-series form: STOCH's, OBV's, which a batch of more keeps in lanes), with the
// stream's bits. Three fill AVX-512's lanes enough and stay there.
TEST(TaReference, ALoneSeriesOfABatchRunsAsOneSeries) {
  for (const ta::Kind k :
       {ta::Kind::kAdx, ta::Kind::kHtDcPeriod, ta::Kind::kStoch, ta::Kind::kObv}) {
    const ta::KindSpec& spec = ta::spec(k);
    const ta::Params p = ta::default_params(k);
    const std::size_t n = 500;
    for (const std::size_t count : {std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
      std::vector<Series> series;
      std::vector<Outputs> expect;
      ta::set_isa(ta::Isa::kScalar);
      for (std::size_t i = 0; i < count; ++i) {
        series.push_back(make_series(Shape::kWalk, n, 90 + i));
        expect.push_back(run_one(k, p, series.back()));
      }
      for (const ta::Isa isa : machine_isas()) {
        if (isa == ta::Isa::kScalar) continue;
        ta::set_isa(isa);
        Batch b(spec, series, n);
        const std::uint64_t scalar = ta::detail::batch_scalar_series_runs(),
                            form = ta::detail::series_form_runs();
        ta::run_many(k, p, n, count, b.in, b.out);
        const std::size_t lanes = isa == ta::Isa::kAvx2 ? 4 : 8;
        const bool isa_form = k == ta::Kind::kStoch || k == ta::Kind::kObv;
        const std::size_t alone = count * 4 <= lanes ? count : 0;
        EXPECT_EQ(ta::detail::batch_scalar_series_runs() - scalar, isa_form ? 0 : alone)
            << spec.name << " isa " << ta::to_string(isa) << " series " << count;
        EXPECT_EQ(ta::detail::series_form_runs() - form, isa_form ? alone : 0)
            << spec.name << " isa " << ta::to_string(isa) << " series " << count;
        ASSERT_TRUE(same_outputs(b.got, expect, n)) << spec.name << " isa " << ta::to_string(isa);
      }
    }
  }
  ta::set_isa(ta::Isa::kScalar);
}

// run_sets() of `sets` over `series` on the active ISA against run() of each set and series on the
// scalar ISA, bit for bit; returns how many sets (x series) ran in a sweep.
std::uint64_t run_sets_as_run(ta::Kind kind, const std::vector<ta::Params>& sets,
                              const std::vector<Series>& series, std::size_t n,
                              const std::string& what) {
  const ta::KindSpec& spec = ta::spec(kind);
  const ta::Isa isa = ta::active_isa();
  ta::set_isa(ta::Isa::kScalar);
  std::vector<Outputs> expect;  // [set * series + s]
  for (const ta::Params& p : sets) {
    for (const Series& s : series) expect.push_back(run_one(kind, p, s));
  }
  ta::set_isa(isa);
  std::vector<const double*> in;
  for (const Series& s : series) {
    for (std::size_t i = 0; i < spec.n_inputs; ++i) in.push_back(s.input(spec.inputs[i]));
  }
  std::vector<Outputs> got;
  for (std::size_t i = 0; i < sets.size() * series.size(); ++i) got.emplace_back(spec.n_outputs, n);
  std::vector<double*> out;
  for (auto& g : got) out.insert(out.end(), g.ptrs.begin(), g.ptrs.end());
  const std::uint64_t before = ta::detail::sweep_set_runs();
  ta::run_sets(kind, sets, n, series.size(), in, out);
  EXPECT_TRUE(same_outputs(got, expect, n))
      << spec.name << " " << what << " isa " << ta::to_string(isa) << " n " << n
      << " (set = index / " << series.size() << ", series = index % " << series.size() << ")";
  return ta::detail::sweep_set_runs() - before;
}

// The sets of `candidates` (in order) that sweep on an ISA of `lanes` lanes beside `count` series:
// runs of the lane width that fill at least as many lanes as the series would (two at least).
std::size_t expected_swept(std::size_t candidates, std::size_t lanes, std::size_t count,
                           bool singly, std::size_t fewest) {
  const std::size_t fill = singly ? fewest : std::max(fewest, std::min(count, lanes));
  std::size_t swept = 0;
  for (std::size_t first = 0; first < candidates; first += lanes) {
    const std::size_t c = std::min(lanes, candidates - first);
    if (c >= fill) swept += c;
  }
  return swept * count;
}

// A sweep of parameter sets over one, two or nine series (run_sets) gives run()'s bits for every
// set, on every ISA; on the SIMD ISAs the sets a kernel's sweep form covers (EMA, DEMA, TEMA, SMA,
// WMA, RSI, CMO, ATR, NATR with a period above 1; MA's through them; MIN, MAX and WILLR, whose
// sweeps share their window passes between the periods) ran in its lanes in runs that fill them,
// the rest set by set. 13 sets: full and partial runs of lanes on either width, repeated periods,
// periods longer than the shorter series (WMA's rebuilds of its sums at 9p - 2 and every 8p bars
// after fall in the first bars and in the tiles). CMO derives from RSI's kernel and has its own
// sweep.
TEST(TaReference, ASweepOfParameterSetsGivesEachSetsBitsAlone) {
  const int periods[] = {2, 3, 14, 5, 9, 30, 14, 2, 61, 7, 250, 20, 4};
  struct Case {
    ta::Kind kind;
    int matype;                      // MA's, or -1
    bool sweeps;                     // every set but MA's period 1
    bool singly;                     // a batch runs its series one at a time: the fewest sets sweep
    std::size_t fewest[2];           // the fewest sets a sweep run takes on AVX2, AVX-512
    bool singly_if_ordered = false;  // singly where the first series has no NaN and no -0
  };
  const Case cases[] = {{ta::Kind::kEma, -1, true, false, {2, 2}},
                        {ta::Kind::kSma, -1, true, false, {2, 2}},
                        {ta::Kind::kRsi, -1, true, false, {2, 2}},
                        {ta::Kind::kMa, 0, true, false, {2, 2}},
                        {ta::Kind::kMa, 1, true, false, {2, 2}},
                        {ta::Kind::kCmo, -1, true, false, {2, 2}},
                        {ta::Kind::kAtr, -1, true, false, {2, 3}},
                        {ta::Kind::kNatr, -1, true, false, {2, 3}},
                        {ta::Kind::kDema, -1, true, false, {2, 2}},
                        {ta::Kind::kTema, -1, true, false, {2, 2}},
                        {ta::Kind::kMa, 3, true, false, {2, 2}},
                        {ta::Kind::kMa, 4, true, false, {2, 2}},
                        {ta::Kind::kWma, -1, true, false, {3, 4}},
                        {ta::Kind::kMa, 2, true, false, {3, 4}},
                        {ta::Kind::kMom, -1, false, false, {2, 2}},
                        {ta::Kind::kMin, -1, true, false, {2, 2}, true},
                        {ta::Kind::kMax, -1, true, false, {2, 2}, true},
                        {ta::Kind::kWillr, -1, true, false, {2, 2}, true}};
  for (const Case& c : cases) {
    std::vector<ta::Params> sets;
    for (const int period : periods) {
      ta::Params p = ta::default_params(c.kind);
      p.v[0] = period;
      if (c.matype >= 0) p.v[1] = c.matype;
      sets.push_back(p);
    }
    std::size_t alone = 0;  // sets that cannot sweep
    if (c.kind == ta::Kind::kMa) {
      sets[3].v[0] = 1;  // MA's period 1 copies its input: run set by set
      alone = 1;
    }
    std::vector<std::size_t> lengths = {1, 9, 203, 1000};
    // MIN's, MAX's and WILLR's passes go a chunk of 1,024 bars at a time, each with the window
    // before it.
    if (c.singly_if_ordered) lengths.push_back(2600);
    for (const std::size_t n : lengths) {
      for (const std::size_t count : {std::size_t{1}, std::size_t{2}, std::size_t{9}}) {
        for (const Shape shape : kShapes) {
          std::vector<Series> series;
          for (std::size_t s = 0; s < count; ++s) {
            series.push_back(make_series(shape, n, 300 + s + static_cast<std::size_t>(shape)));
          }
          // MIN's, MAX's and WILLR's batches run a series one at a time unless the input of its
          // window extremes (MIN's, MAX's input; WILLR's high and low) holds a NaN or a -0.
          bool ordered = true;
          for (std::size_t i = 0; i < std::min<std::size_t>(2, ta::spec(c.kind).n_inputs); ++i) {
            const double* x = series[0].input(ta::spec(c.kind).inputs[i]);
            ordered = ordered && std::none_of(x, x + n, [](double v) {
                        return std::isnan(v) || (v == 0.0 && std::signbit(v));
                      });
          }
          const bool singly = c.singly || (c.singly_if_ordered && ordered);
          for (const ta::Isa isa : machine_isas()) {
            ta::set_isa(isa);
            const std::size_t lanes = isa == ta::Isa::kAvx2 ? 4 : 8;
            const std::size_t swept = isa != ta::Isa::kScalar && c.sweeps
                                          ? expected_swept(sets.size() - alone, lanes, count,
                                                           singly, c.fewest[lanes == 8 ? 1 : 0])
                                          : 0;
            EXPECT_EQ(
                run_sets_as_run(c.kind, sets, series, n, "matype " + std::to_string(c.matype)),
                swept)
                << ta::spec(c.kind).name << " isa " << ta::to_string(isa) << " series " << count;
          }
        }
      }
    }
  }
  ta::set_isa(ta::Isa::kScalar);
}

// MIN's, MAX's and WILLR's sweeps over a series with a NaN or a -0 after its first chunks (the
// sweep then runs every set through step(), from the first bar, over what it already wrote) and
// with long periods (1,024, the longest they take: four levels of passes; 300): every set's bits
// are run()'s, and the sets did go through the sweep.
TEST(TaReference, AWindowExtremesSweepFallsBackAtANaNOrAMinusZeroAndTakesLongPeriods) {
  const std::size_t n = 3000;
  std::vector<ta::Params> sets;
  for (const int period : {2, 300, 1024, 14, 61}) {
    ta::Params p = ta::default_params(ta::Kind::kMin);
    p.v[0] = period;
    sets.push_back(p);
  }
  for (const ta::Kind kind : {ta::Kind::kMin, ta::Kind::kMax, ta::Kind::kWillr}) {
    for (int bad = 0; bad < 3; ++bad) {  // none, a NaN, a -0
      std::vector<Series> series{make_series(Shape::kWalk, n, 77)};
      Series& s = series[0];
      if (bad == 1) s.close[2500] = s.high[2500] = s.low[2500] = kNaN;
      if (bad == 2) s.close[2100] = s.high[2100] = s.low[2100] = -0.0;
      for (const ta::Isa isa : machine_isas()) {
        ta::set_isa(isa);
        const std::uint64_t swept =
            run_sets_as_run(kind, sets, series, n, "bad input " + std::to_string(bad));
        if (isa != ta::Isa::kScalar) {
          EXPECT_GE(swept, 4U) << ta::spec(kind).name << " isa " << ta::to_string(isa);
        }
      }
    }
  }
  ta::set_isa(ta::Isa::kScalar);
}

// What run_sets() sweeps and what it runs set by set, on the edges: a lone set that could sweep
// (nothing to sweep beside), an MA sweep whose matypes map to two kernels (the first's sets sweep,
// the others set by set), two EMA sets beside 16 series (the series fill the lanes better), ATR
// beside 16 series (the series fill the lanes better), MAX beside 16 and ATR beside 4 series of
// 16,384 bars on AVX-512 (their series run one at a time: sets sweep from their fewest), WMA's
// fewest and two of
// its lanes rebuilding on one bar among the last bars, no
// sets, no bars, and series of one call starting with different runs of NaN.
TEST(TaReference, ASweepRunsOnlySetsThatFillTheLanes) {
  const auto with = [](ta::Kind k, std::initializer_list<std::pair<int, int>> period_type) {
    std::vector<ta::Params> sets;
    for (const auto& [period, type] : period_type) {
      ta::Params p = ta::default_params(k);
      p.v[0] = period;
      if (type >= 0) p.v[1] = type;
      sets.push_back(p);
    }
    return sets;
  };
  const std::size_t n = 300;
  std::vector<Series> one{make_series(Shape::kWalk, n, 11)};
  std::vector<Series> sixteen;
  for (std::size_t s = 0; s < 16; ++s) sixteen.push_back(make_series(Shape::kWalk, n, 20 + s));
  const std::size_t long_n = 16'384;
  std::vector<Series> long_four;
  for (std::size_t s = 0; s < 4; ++s)
    long_four.push_back(make_series(Shape::kWalk, long_n, 70 + s));
  std::vector<Series> nan_starts;  // NaN over the first 0, 7 and 40 bars
  for (const std::size_t lead : {0U, 7U, 40U}) {
    nan_starts.push_back(make_series(Shape::kWalk, n, 50 + lead));
    for (std::size_t t = 0; t < lead; ++t) nan_starts.back().close[t] = std::nan("");
  }
  for (const ta::Isa isa : machine_isas()) {
    ta::set_isa(isa);
    const bool simd = isa != ta::Isa::kScalar;
    EXPECT_EQ(run_sets_as_run(ta::Kind::kEma, with(ta::Kind::kEma, {{9, -1}}), one, n, "one"), 0U);
    EXPECT_EQ(run_sets_as_run(ta::Kind::kMa,
                              with(ta::Kind::kMa, {{10, 0}, {10, 1}, {20, 0}, {30, 1}, {40, 0}}),
                              one, n, "SMA and EMA"),
              simd ? 3U : 0U);
    EXPECT_EQ(run_sets_as_run(ta::Kind::kEma, with(ta::Kind::kEma, {{9, -1}, {21, -1}}), sixteen, n,
                              "two beside 16"),
              0U);
    const bool avx2 = isa == ta::Isa::kAvx2;
    EXPECT_EQ(run_sets_as_run(ta::Kind::kAtr, with(ta::Kind::kAtr, {{9, -1}, {21, -1}, {30, -1}}),
                              sixteen, n, "three ATR beside 16: the series fill the lanes better"),
              0U);
    EXPECT_EQ(run_sets_as_run(ta::Kind::kMax, with(ta::Kind::kMax, {{9, -1}, {21, -1}}), sixteen, n,
                              "two MAX beside 16: its series run one at a time"),
              simd ? 32U : 0U);
    // From 16,384 bars AVX-512 runs ATR's series one at a time: its fewest sets (3) sweep beside
    // any number of series; AVX2 keeps them in lanes, so 3 sets (fewer than its 4 lanes) do not.
    EXPECT_EQ(run_sets_as_run(ta::Kind::kAtr, with(ta::Kind::kAtr, {{9, -1}, {21, -1}, {30, -1}}),
                              long_four, long_n, "three ATR beside 4 long series"),
              isa == ta::Isa::kAvx512 ? 12U : 0U);
    EXPECT_EQ(run_sets_as_run(ta::Kind::kWma, with(ta::Kind::kWma, {{9, -1}, {21, -1}, {30, -1}}),
                              one, n, "three WMA"),
              avx2 ? 3U : 0U);  // AVX-512: fewer than its fewest (4)
    // WMA's periods 9 and 17 rebuild their sums at the same bar, 151 (9p - 2 + 8p k), which is
    // among the last bars after the tiles (152 bars, warm-up 17) on either width.
    const std::vector<Series> short_one{make_series(Shape::kWalk, 152, 12)};
    EXPECT_EQ(
        run_sets_as_run(ta::Kind::kWma, with(ta::Kind::kWma, {{9, -1}, {17, -1}, {3, -1}, {5, -1}}),
                        short_one, 152, "WMA rebuilds of two lanes on one bar, in the tail"),
        simd ? 4U : 0U);
    EXPECT_EQ(run_sets_as_run(ta::Kind::kRsi, with(ta::Kind::kRsi, {{5, -1}, {14, -1}, {50, -1}}),
                              nan_starts, n, "NaN starts"),
              simd ? 9U : 0U);
    EXPECT_EQ(run_sets_as_run(ta::Kind::kEma, {}, one, n, "no sets"), 0U);
    EXPECT_EQ(run_sets_as_run(ta::Kind::kEma, with(ta::Kind::kEma, {{9, -1}, {21, -1}}), one, 0,
                              "no bars"),
              simd ? 2U : 0U);
  }
  ta::set_isa(ta::Isa::kScalar);
}

// A batch of MIN, MAX, WILLR, STOCH or STOCHF runs through the whole-series form only the series
// it keeps: one
// with a NaN or a -0, or a period over a chunk, would fall back to one bar at a time in one lane,
// so it goes into the lanes beside the others instead. Every series keeps the stream's bits.
TEST(TaReference, AWindowExtremeBatchRunsTheSeriesItsFormCannotKeepInLanes) {
  for (const ta::Kind k :
       {ta::Kind::kMin, ta::Kind::kMax, ta::Kind::kWillr, ta::Kind::kStoch, ta::Kind::kStochf}) {
    const ta::KindSpec& spec = ta::spec(k);
    for (const int period : {30, 1025}) {
      ta::Params p = ta::default_params(k);
      p.v[0] = period;
      const std::size_t n = 3000, count = 12;  // per 3: clean, a late NaN, a late -0
      ta::set_isa(ta::Isa::kScalar);
      std::vector<Series> series;
      std::vector<Outputs> expect;
      for (std::size_t i = 0; i < count; ++i) {
        Series s = make_series(Shape::kWalk, n, 40 + i);
        for (auto* v : {&s.close, &s.high, &s.low}) {
          if (i % 3 == 1) (*v)[n - 7] = kNaN;
          if (i % 3 == 2) (*v)[n - 7] = -0.0;
        }
        expect.push_back(run_one(k, p, s));  // scalar ISA: the stream's bits
        series.push_back(std::move(s));
      }
      for (const ta::Isa isa : machine_isas()) {
        ta::set_isa(isa);
        Batch b(spec, series, n);
        auto& got = b.got;
        const std::uint64_t before = ta::detail::series_form_runs();
        ta::run_many(k, p, n, count, b.in, b.out);
        // STOCH and STOCHF keep every series of a batch in lanes: their whole-series form steps
        // its averages one bar at a time.
        const bool form = isa != ta::Isa::kScalar && period <= 1024 && spec.n_outputs == 1;
        const std::uint64_t kept = form ? count / 3 : 0;
        EXPECT_EQ(ta::detail::series_form_runs() - before, kept)
            << spec.name << " isa " << ta::to_string(isa) << " p " << period;
        for (std::size_t s = 0; s < count; ++s) {
          for (std::size_t j = 0; j < spec.n_outputs; ++j) {
            for (std::size_t t = 0; t < n; ++t) {
              ASSERT_TRUE(same_bits(got[s].v[j][t], expect[s].v[j][t]))
                  << spec.name << " isa " << ta::to_string(isa) << " p " << period << " series "
                  << s << " output " << j << " bar " << t << ": " << got[s].v[j][t] << " vs "
                  << expect[s].v[j][t];
            }
          }
        }
      }
    }
  }
  ta::set_isa(ta::Isa::kScalar);
}

TEST(TaParams, OutOfRangeValuesAreNamed) {
  ta::Params p = ta::default_params(ta::Kind::kRsi);
  p.v[0] = 1;
  try {
    ta::validate(ta::Kind::kRsi, p);
    FAIL() << "RSI period 1 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("RSI: timeperiod = 1 is out of range"), std::string::npos)
        << e.what();
  }
  p = ta::default_params(ta::Kind::kEma);
  p.v[0] = 2.5;
  EXPECT_THROW(ta::validate(ta::Kind::kEma, p), std::invalid_argument);
  p = ta::default_params(ta::Kind::kBbands);
  p.v[3] = 1;  // EMA: every MAType has a kernel
  EXPECT_NO_THROW(ta::validate(ta::Kind::kBbands, p));
  p.v[3] = 9;
  try {
    ta::validate(ta::Kind::kBbands, p);
    FAIL() << "matype 9 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(
        std::string(e.what()).find("BBANDS: matype = 9 is out of range: an integer from 0 to 8"),
        std::string::npos)
        << e.what();
  }
  p = ta::default_params(ta::Kind::kStochRsi);
  p.v[3] = 7;  // MAMA
  EXPECT_NO_THROW(ta::validate(ta::Kind::kStochRsi, p));
  p = ta::default_params(ta::Kind::kMama);
  p.v[1] = 1.0;  // TA-Lib's range: 0.01 to 0.99
  EXPECT_THROW(ta::validate(ta::Kind::kMama, p), std::invalid_argument);
  p = ta::default_params(ta::Kind::kStochRsi);
  p.v[3] = 9;
  EXPECT_THROW(ta::validate(ta::Kind::kStochRsi, p), std::invalid_argument);
  const Series s = make_series(Shape::kWalk, 10, 1);
  std::vector<const double*> in{s.close.data()};
  std::vector<double> out(10);
  std::vector<double*> outs{out.data(), out.data()};
  EXPECT_THROW(ta::run(ta::Kind::kSma, ta::default_params(ta::Kind::kSma), 10, in, outs),
               std::invalid_argument);
}

TEST(TaParams, SpecsAreFoundByTaLibName) {
  ASSERT_NE(ta::find_spec("macd"), nullptr);
  EXPECT_EQ(ta::find_spec("MACD")->n_outputs, 3);
  EXPECT_EQ(std::string(ta::find_spec("stochf")->outputs[1]), "fastd");
  EXPECT_EQ(ta::find_spec("CDLHAMMER"),
            nullptr);  // no kernel: cwts_bridge.ta hands it to TA-Lib
  EXPECT_EQ(ta::lookback(ta::Kind::kMacd, ta::default_params(ta::Kind::kMacd)), 33);
  EXPECT_EQ(ta::lookback(ta::Kind::kAdx, ta::default_params(ta::Kind::kAdx)), 27);
  EXPECT_EQ(ta::lookback(ta::Kind::kTema, ta::default_params(ta::Kind::kTema)), 87);
  EXPECT_EQ(ta::lookback(ta::Kind::kMama, ta::default_params(ta::Kind::kMama)), 32);
  EXPECT_EQ(ta::lookback(ta::Kind::kHtPhasor, ta::default_params(ta::Kind::kHtPhasor)), 32);
  EXPECT_EQ(std::string(ta::find_spec("mama")->outputs[1]), "fama");
  EXPECT_EQ(std::string(ta::find_spec("HT_PHASOR")->outputs[0]), "inphase");
  // TA_MA_Lookback of MAMA: TA_MAMA's whatever the period, but for period 1 (the input itself).
  EXPECT_EQ(ta::ma_lookback(7, 30), 32);
  EXPECT_EQ(ta::ma_lookback(7, 1), 0);
}

// LINEARREG's bars are independent of each other: one series runs in the active ISA's lanes, and is
// counted as it. EMA's are a recurrence: the scalar kernel runs it on every ISA.
TEST(TaRegistry, OneSeriesRunsInTheLanesOnlyWhereItsBarsAreIndependent) {
  const Series s = make_series(Shape::kWalk, 300, 41);
  for (const ta::Isa isa : machine_isas()) {
    ta::set_isa(isa);
    const auto before = ta::isa_calls();
    (void)run_one(ta::Kind::kLinearreg, ta::default_params(ta::Kind::kLinearreg), s);
    EXPECT_EQ(ta::isa_calls()[static_cast<std::size_t>(isa)],
              before[static_cast<std::size_t>(isa)] + 1)
        << ta::to_string(isa);
    const auto mid = ta::isa_calls();
    (void)run_one(ta::Kind::kEma, ta::default_params(ta::Kind::kEma), s);
    EXPECT_EQ(ta::isa_calls()[0], mid[0] + 1) << ta::to_string(isa);
    if (isa == ta::Isa::kScalar) continue;
    // The kernels with a whole-series form on the vector ISAs run it on a clean series.
    for (const ta::Kind k : {ta::Kind::kMom, ta::Kind::kRoc, ta::Kind::kRocr, ta::Kind::kTrange,
                             ta::Kind::kMin, ta::Kind::kMax, ta::Kind::kWillr, ta::Kind::kStoch,
                             ta::Kind::kStochf, ta::Kind::kTsf, ta::Kind::kObv}) {
      const std::uint64_t runs = ta::detail::series_form_runs();
      (void)run_one(k, ta::default_params(k), s);
      EXPECT_EQ(ta::detail::series_form_runs(), runs + 1)
          << ta::spec(k).name << " " << ta::to_string(isa);
    }
  }
  ta::set_isa(ta::Isa::kScalar);
}

TEST(TaRegistry, IsaNamesAndSupport) {
  EXPECT_EQ(ta::parse_isa("AVX2"), ta::Isa::kAvx2);
  EXPECT_EQ(ta::parse_isa("scalar"), ta::Isa::kScalar);
  EXPECT_THROW((void)ta::parse_isa("sse9"), std::invalid_argument);
  EXPECT_TRUE(ta::isa_supported(ta::Isa::kScalar));
  for (std::size_t i = 0; i < ta::kIsaCount; ++i) {
    const auto isa = static_cast<ta::Isa>(i);
    if (ta::isa_supported(isa)) {
      ta::set_isa(isa);
      EXPECT_EQ(ta::active_isa(), isa);
    } else {
      EXPECT_THROW(ta::set_isa(isa), std::runtime_error);
    }
  }
  ta::set_isa(ta::Isa::kScalar);
}

}  // namespace
