// Kernel specs, parameter checks, lookbacks, the ISA registry and the dispatching entry points.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <sstream>

#include "cwts/ta/ta.hpp"

namespace cwts::ta {
namespace {

constexpr double kMaxPeriod = 100000;
constexpr double kMaxReal = 3.0e37;

constexpr ParamSpec period(const char* name, double def, double min) {
  return ParamSpec{name, def, min, kMaxPeriod, true};
}
constexpr ParamSpec real(const char* name, double def, double min) {
  return ParamSpec{name, def, min, kMaxReal, false};
}
// A moving-average type: TA-Lib's 0..8 (7 is MAMA at TA_MA's limits); SMA by default but where
// TA-Lib defaults to EMA (APO, PPO).
constexpr ParamSpec matype(const char* name, double def = 0) {
  return ParamSpec{name, def, 0, 8, true};
}

using In = std::array<const char*, kMaxInputs>;
using Out = std::array<const char*, kMaxOutputs>;
using Ps = std::array<ParamSpec, kMaxParams>;
constexpr In kReal{"real"};
constexpr In kHlc{"high", "low", "close"};
constexpr In kHlcv{"high", "low", "close", "volume"};
constexpr Out kOne{"real"};

constexpr std::array<KindSpec, kKindCount> kSpecs{{
    {Kind::kSma, "SMA", 1, kReal, 1, kOne, 1, Ps{period("timeperiod", 30, 1)}},
    {Kind::kEma, "EMA", 1, kReal, 1, kOne, 1, Ps{period("timeperiod", 30, 1)}},
    {Kind::kWma, "WMA", 1, kReal, 1, kOne, 1, Ps{period("timeperiod", 30, 1)}},
    {Kind::kDema, "DEMA", 1, kReal, 1, kOne, 1, Ps{period("timeperiod", 30, 2)}},
    {Kind::kTema, "TEMA", 1, kReal, 1, kOne, 1, Ps{period("timeperiod", 30, 2)}},
    {Kind::kRsi, "RSI", 1, kReal, 1, kOne, 1, Ps{period("timeperiod", 14, 2)}},
    {Kind::kMacd, "MACD", 1, kReal, 3, Out{"macd", "macdsignal", "macdhist"}, 3,
     Ps{period("fastperiod", 12, 2), period("slowperiod", 26, 2), period("signalperiod", 9, 1)}},
    {Kind::kBbands, "BBANDS", 1, kReal, 3, Out{"upperband", "middleband", "lowerband"}, 4,
     Ps{period("timeperiod", 20, 2), real("nbdevup", 2.0, -kMaxReal),
        real("nbdevdn", 2.0, -kMaxReal), matype("matype")}},
    {Kind::kStddev, "STDDEV", 1, kReal, 1, kOne, 2,
     Ps{period("timeperiod", 5, 2), real("nbdev", 1.0, -kMaxReal)}},
    {Kind::kAtr, "ATR", 3, kHlc, 1, kOne, 1, Ps{period("timeperiod", 14, 1)}},
    {Kind::kNatr, "NATR", 3, kHlc, 1, kOne, 1, Ps{period("timeperiod", 14, 1)}},
    {Kind::kAdx, "ADX", 3, kHlc, 1, kOne, 1, Ps{period("timeperiod", 14, 2)}},
    {Kind::kStoch, "STOCH", 3, kHlc, 2, Out{"slowk", "slowd"}, 5,
     Ps{period("fastk_period", 5, 1), period("slowk_period", 3, 1), matype("slowk_matype"),
        period("slowd_period", 3, 1), matype("slowd_matype")}},
    {Kind::kStochf, "STOCHF", 3, kHlc, 2, Out{"fastk", "fastd"}, 3,
     Ps{period("fastk_period", 5, 1), period("fastd_period", 3, 1), matype("fastd_matype")}},
    {Kind::kMfi, "MFI", 4, kHlcv, 1, kOne, 1, Ps{period("timeperiod", 14, 2)}},
    {Kind::kObv, "OBV", 2, In{"real", "volume"}, 1, kOne, 0, Ps{}},
    {Kind::kCci, "CCI", 3, kHlc, 1, kOne, 1, Ps{period("timeperiod", 14, 2)}},
    {Kind::kRoc, "ROC", 1, kReal, 1, kOne, 1, Ps{period("timeperiod", 10, 1)}},
    {Kind::kMom, "MOM", 1, kReal, 1, kOne, 1, Ps{period("timeperiod", 10, 1)}},
    {Kind::kWillr, "WILLR", 3, kHlc, 1, kOne, 1, Ps{period("timeperiod", 14, 2)}},
    {Kind::kSar, "SAR", 2, In{"high", "low"}, 1, kOne, 2,
     Ps{real("acceleration", 0.02, 0), real("maximum", 0.2, 0)}},
    {Kind::kVwap, "VWAP", 4, kHlcv, 1, kOne, 1, Ps{period("timeperiod", 14, 0)}},
    {Kind::kTrange, "TRANGE", 3, kHlc, 1, kOne, 0, Ps{}},
    {Kind::kMin, "MIN", 1, kReal, 1, kOne, 1, Ps{period("timeperiod", 30, 2)}},
    {Kind::kMax, "MAX", 1, kReal, 1, kOne, 1, Ps{period("timeperiod", 30, 2)}},
    {Kind::kRocr, "ROCR", 1, kReal, 1, kOne, 1, Ps{period("timeperiod", 10, 1)}},
    {Kind::kCmo, "CMO", 1, kReal, 1, kOne, 1, Ps{period("timeperiod", 14, 2)}},
    {Kind::kMinusDi, "MINUS_DI", 3, kHlc, 1, kOne, 1, Ps{period("timeperiod", 14, 1)}},
    {Kind::kPlusDi, "PLUS_DI", 3, kHlc, 1, kOne, 1, Ps{period("timeperiod", 14, 1)}},
    {Kind::kTrima, "TRIMA", 1, kReal, 1, kOne, 1, Ps{period("timeperiod", 30, 1)}},
    {Kind::kLinearreg, "LINEARREG", 1, kReal, 1, kOne, 1, Ps{period("timeperiod", 14, 2)}},
    {Kind::kLinearregSlope, "LINEARREG_SLOPE", 1, kReal, 1, kOne, 1,
     Ps{period("timeperiod", 14, 2)}},
    {Kind::kLinearregIntercept, "LINEARREG_INTERCEPT", 1, kReal, 1, kOne, 1,
     Ps{period("timeperiod", 14, 2)}},
    {Kind::kLinearregAngle, "LINEARREG_ANGLE", 1, kReal, 1, kOne, 1,
     Ps{period("timeperiod", 14, 2)}},
    {Kind::kTsf, "TSF", 1, kReal, 1, kOne, 1, Ps{period("timeperiod", 14, 2)}},
    {Kind::kKama, "KAMA", 1, kReal, 1, kOne, 1, Ps{period("timeperiod", 30, 1)}},
    {Kind::kT3, "T3", 1, kReal, 1, kOne, 2,
     Ps{period("timeperiod", 5, 1), ParamSpec{"vfactor", 0.7, 0.0, 1.0, false}}},
    {Kind::kStochRsi, "STOCHRSI", 1, kReal, 2, Out{"fastk", "fastd"}, 4,
     Ps{period("timeperiod", 14, 2), period("fastk_period", 5, 1), period("fastd_period", 3, 1),
        matype("fastd_matype")}},
    {Kind::kMa, "MA", 1, kReal, 1, kOne, 2, Ps{period("timeperiod", 30, 1), matype("matype")}},
    {Kind::kApo, "APO", 1, kReal, 1, kOne, 3,
     Ps{period("fastperiod", 12, 2), period("slowperiod", 26, 2), matype("matype", 1)}},
    {Kind::kPpo, "PPO", 1, kReal, 1, kOne, 3,
     Ps{period("fastperiod", 12, 2), period("slowperiod", 26, 2), matype("matype", 1)}},
    {Kind::kMacdExt, "MACDEXT", 1, kReal, 3, Out{"macd", "macdsignal", "macdhist"}, 6,
     Ps{period("fastperiod", 12, 2), matype("fastmatype"), period("slowperiod", 26, 2),
        matype("slowmatype"), period("signalperiod", 9, 1), matype("signalmatype")}},
    {Kind::kHtSine, "HT_SINE", 1, kReal, 2, Out{"sine", "leadsine"}, 0, Ps{}},
    {Kind::kHtTrendline, "HT_TRENDLINE", 1, kReal, 1, kOne, 0, Ps{}},
    {Kind::kHtDcPeriod, "HT_DCPERIOD", 1, kReal, 1, kOne, 0, Ps{}},
    {Kind::kHtDcPhase, "HT_DCPHASE", 1, kReal, 1, kOne, 0, Ps{}},
    {Kind::kHtPhasor, "HT_PHASOR", 1, kReal, 2, Out{"inphase", "quadrature"}, 0, Ps{}},
    {Kind::kMama, "MAMA", 1, kReal, 2, Out{"mama", "fama"}, 2,
     Ps{ParamSpec{"fastlimit", 0.5, 0.01, 0.99, false},
        ParamSpec{"slowlimit", 0.05, 0.01, 0.99, false}}},
}};

constexpr bool one_spec_per_kind_in_order() {
  for (std::size_t i = 0; i < kKindCount; ++i) {
    if (static_cast<std::size_t>(kSpecs[i].kind) != i || kSpecs[i].name == nullptr) return false;
  }
  return true;
}
static_assert(one_spec_per_kind_in_order(), "kSpecs: one entry per Kind, in Kind's order");

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

int ip(const Params& p, std::size_t i) { return static_cast<int>(p.v[i]); }

// ---- registry ----
std::atomic<int> g_isa{-1};
std::array<std::atomic<std::uint64_t>, kIsaCount> g_calls{};
std::atomic<std::uint64_t> g_series_form_runs{0};
std::atomic<std::uint64_t> g_batch_scalar_series_runs{0};
std::atomic<std::uint64_t> g_sweep_set_runs{0};
std::atomic<std::uint64_t> g_streamed_lane_runs{0};
std::mutex g_init_mu;

std::string supported_list() {
  std::string s;
  for (std::size_t i = 0; i < kIsaCount; ++i) {
    if (!isa_supported(static_cast<Isa>(i))) continue;
    if (!s.empty()) s += ", ";
    s += to_string(static_cast<Isa>(i));
  }
  return s;
}

Isa best_isa() noexcept {
  if (isa_supported(Isa::kAvx512)) return Isa::kAvx512;
  if (isa_supported(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kScalar;
}

const detail::IsaKernels& kernels(Isa isa) noexcept {
  switch (isa) {
    case Isa::kAvx512:
      return detail::avx512_kernels();
    case Isa::kAvx2:
      return detail::avx2_kernels();
    case Isa::kScalar:
      break;
  }
  return detail::scalar_kernels();
}

// First index at which none of the inputs is NaN (talib's begidx); n if there is none.
std::size_t first_valid(std::size_t n, std::span<const double* const> in, std::size_t n_in) {
  for (std::size_t t = 0; t < n; ++t) {
    bool ok = true;
    for (std::size_t i = 0; i < n_in && ok; ++i) ok = !std::isnan(in[i][t]);
    if (ok) return t;
  }
  return n;
}

void check_spans(const KindSpec& s, std::size_t series, std::span<const double* const> in,
                 std::span<double* const> out) {
  if (in.size() != series * s.n_inputs || out.size() != series * s.n_outputs) {
    std::ostringstream m;
    m << s.name << ": expected " << series * s.n_inputs << " input and " << series * s.n_outputs
      << " output arrays, got " << in.size() << " and " << out.size();
    throw std::invalid_argument(m.str());
  }
}

// One series from its first valid index (NaN before): through `kern`'s whole-series form when the
// kernel has one (true), else the scalar kernel (false).
bool run_series(Kind k, const Params& p, std::size_t n, const double* const* in, double* const* out,
                const detail::IsaKernels& kern) {
  const KindSpec& s = spec(k);
  const std::size_t begin =
      first_valid(n, std::span<const double* const>(in, s.n_inputs), s.n_inputs);
  for (std::size_t j = 0; j < s.n_outputs; ++j) {
    std::fill(out[j], out[j] + begin, std::numeric_limits<double>::quiet_NaN());
  }
  if (begin == n) return false;
  std::array<const double*, kMaxInputs> ip{};
  std::array<double*, kMaxOutputs> op{};
  for (std::size_t i = 0; i < s.n_inputs; ++i) ip[i] = in[i] + begin;
  for (std::size_t j = 0; j < s.n_outputs; ++j) op[j] = out[j] + begin;
  if (&kern != &detail::scalar_kernels() &&
      kern.run_series(k, p, n - begin, ip.data(), op.data())) {
    g_series_form_runs.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  detail::run_scalar_series(k, p, n - begin, ip.data(), op.data());
  return false;
}

// TA_MA of a type with a kernel of its own, period above 1: that kernel with MA's period (T3 with
// TA_MA's vfactor 0.7), which is what TA_MA calls and what MaAny runs inside, without MaAny's
// dispatch per bar (0.4x TA-Lib on one series through it). Anything else is left as it is.
void direct_ma(Kind& k, Params& p) noexcept {
  if (k != Kind::kMa || p.v[0] < 2) return;
  static constexpr std::array<Kind, 9> kByType{Kind::kSma,  Kind::kEma,   Kind::kWma,
                                               Kind::kDema, Kind::kTema,  Kind::kTrima,
                                               Kind::kKama, Kind::kCount, Kind::kT3};
  const auto type = static_cast<std::size_t>(p.v[1]);
  if (type >= kByType.size() || kByType[type] == Kind::kCount) return;  // MAMA: two outputs
  k = kByType[type];
  const double period = p.v[0];
  p = default_params(k);
  p.v[0] = period;
  if (k == Kind::kT3) p.v[1] = 0.7;
}

}  // namespace

const char* to_string(Isa isa) noexcept {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "?";
}

const KindSpec& spec(Kind k) noexcept { return kSpecs[static_cast<std::size_t>(k)]; }

const KindSpec* find_spec(std::string_view name) noexcept {
  for (const auto& s : kSpecs) {
    if (iequals(s.name, name)) return &s;
  }
  return nullptr;
}

Params default_params(Kind k) noexcept {
  Params p;
  const KindSpec& s = spec(k);
  for (std::size_t i = 0; i < s.n_params; ++i) p.v[i] = s.params[i].def;
  return p;
}

void validate(Kind k, const Params& p) {
  if (static_cast<std::size_t>(k) >= kKindCount) throw std::invalid_argument("ta: unknown kernel");
  const KindSpec& s = spec(k);
  for (std::size_t i = 0; i < s.n_params; ++i) {
    const ParamSpec& ps = s.params[i];
    const double v = p.v[i];
    const bool integral = !ps.integer || (std::isfinite(v) && std::floor(v) == v);
    if (!(v >= ps.min && v <= ps.max) || !integral) {
      std::ostringstream m;
      m << s.name << ": " << ps.name << " = " << v << " is out of range: ";
      m << (ps.integer ? "an integer " : "a number ") << "from " << ps.min << " to " << ps.max;
      throw std::invalid_argument(m.str());
    }
  }
}

int lookback(Kind k, const Params& p) noexcept {
  switch (k) {
    case Kind::kSma:
    case Kind::kEma:
    case Kind::kWma:
    case Kind::kStddev:
    case Kind::kCci:
    case Kind::kWillr:
    case Kind::kMin:
    case Kind::kMax:
    case Kind::kTrima:
    case Kind::kLinearreg:
    case Kind::kLinearregSlope:
    case Kind::kLinearregIntercept:
    case Kind::kLinearregAngle:
    case Kind::kTsf:
      return ip(p, 0) - 1;
    case Kind::kDema:
      return 2 * (ip(p, 0) - 1);
    case Kind::kTema:
      return 3 * (ip(p, 0) - 1);
    case Kind::kRsi:
    case Kind::kAtr:
    case Kind::kNatr:
    case Kind::kMfi:
    case Kind::kRoc:
    case Kind::kMom:
    case Kind::kRocr:
    case Kind::kCmo:
    case Kind::kMinusDi:
    case Kind::kPlusDi:
      return ip(p, 0);
    case Kind::kTrange:
      return 1;
    case Kind::kMacdExt:
      return std::max(ma_lookback(ip(p, 1), ip(p, 0)), ma_lookback(ip(p, 3), ip(p, 2))) +
             ma_lookback(ip(p, 5), ip(p, 4));
    case Kind::kHtSine:
    case Kind::kHtTrendline:
    case Kind::kHtDcPhase:
      return 63;
    case Kind::kHtDcPeriod:
    case Kind::kHtPhasor:
    case Kind::kMama:
      return 32;
    case Kind::kKama:
      return ip(p, 0) == 1 ? 0 : ip(p, 0);
    case Kind::kT3:
      return 6 * (ip(p, 0) - 1);
    case Kind::kMacd:
      return std::max(ip(p, 0), ip(p, 1)) - 1 + ip(p, 2) - 1;
    case Kind::kAdx:
      return 2 * ip(p, 0) - 1;
    case Kind::kStoch:
      return ip(p, 0) - 1 + ma_lookback(ip(p, 2), ip(p, 1)) + ma_lookback(ip(p, 4), ip(p, 3));
    case Kind::kStochf:
      return ip(p, 0) - 1 + ma_lookback(ip(p, 2), ip(p, 1));
    case Kind::kStochRsi:
      return ip(p, 0) + ip(p, 1) - 1 + ma_lookback(ip(p, 3), ip(p, 2));
    case Kind::kBbands:  // TA_MA's, never under STDDEV's p - 1 (MAMA's 32 is, from p = 34)
      return std::max(ma_lookback(ip(p, 3), ip(p, 0)), ip(p, 0) - 1);
    case Kind::kMa:
      return ma_lookback(ip(p, 1), ip(p, 0));
    case Kind::kApo:
    case Kind::kPpo:
      return ma_lookback(ip(p, 2), std::max(ip(p, 0), ip(p, 1)));
    case Kind::kObv:
      return 0;
    case Kind::kSar:
      return 1;
    case Kind::kVwap:
      return std::max(ip(p, 0) - 1, 0);
    case Kind::kCount:
      break;
  }
  return 0;
}

int ma_lookback(int matype, int period) noexcept {
  if (period <= 1) return 0;
  switch (matype) {
    case 0:  // SMA
    case 1:  // EMA
    case 2:  // WMA
    case 5:  // TRIMA
      return period - 1;
    case 3:  // DEMA
      return 2 * (period - 1);
    case 4:  // TEMA
      return 3 * (period - 1);
    case 6:  // KAMA
      return period;
    case 7:  // MAMA: TA_MAMA's, whatever the period
      return 32;
    case 8:  // T3
      return 6 * (period - 1);
    default:
      return 0;
  }
}

bool isa_supported(Isa isa) noexcept {
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");  // (built with both)
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") != 0;
  }
  return false;
}

Isa parse_isa(std::string_view name) {
  for (std::size_t i = 0; i < kIsaCount; ++i) {
    if (iequals(name, to_string(static_cast<Isa>(i)))) return static_cast<Isa>(i);
  }
  throw std::invalid_argument("ta: unknown ISA \"" + std::string(name) +
                              "\" (expected scalar, avx2, avx512 or auto)");
}

void set_isa(Isa isa) {
  if (!isa_supported(isa)) {
    throw std::runtime_error(std::string("ta: ISA ") + to_string(isa) +
                             " is not supported by this CPU (supported: " + supported_list() + ")");
  }
  g_isa.store(static_cast<int>(isa), std::memory_order_relaxed);
}

Isa active_isa() {
  int v = g_isa.load(std::memory_order_relaxed);
  if (v >= 0) return static_cast<Isa>(v);
  const std::lock_guard lock(g_init_mu);
  v = g_isa.load(std::memory_order_relaxed);
  if (v >= 0) return static_cast<Isa>(v);
  const char* env = std::getenv("CWTS_TA_ISA");
  Isa isa = best_isa();
  if (env != nullptr && *env != '\0' && !iequals(env, "auto")) {
    try {
      isa = parse_isa(env);
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(std::string("CWTS_TA_ISA: ") + e.what());
    }
    if (!isa_supported(isa)) {
      throw std::runtime_error(std::string("CWTS_TA_ISA=") + env +
                               ": this CPU does not support it (supported: " + supported_list() +
                               ")");
    }
  }
  g_isa.store(static_cast<int>(isa), std::memory_order_relaxed);
  return isa;
}

void detail::run_scalar_ma(int matype, int period, std::size_t n, const double* x, double* y) {
  Kind k = Kind::kMa;
  Params p = default_params(k);
  p.v[0] = period;
  p.v[1] = matype;
  direct_ma(k, p);
  const double* in[1] = {x};
  double* out[1] = {y};
  run_scalar_series(k, p, n, in, out);
}

std::uint64_t detail::series_form_runs() noexcept {
  return g_series_form_runs.load(std::memory_order_relaxed);
}

std::uint64_t detail::batch_scalar_series_runs() noexcept {
  return g_batch_scalar_series_runs.load(std::memory_order_relaxed);
}

std::uint64_t detail::streamed_lane_runs() noexcept {
  return g_streamed_lane_runs.load(std::memory_order_relaxed);
}

void detail::note_streamed_lanes() noexcept {
  g_streamed_lane_runs.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t detail::sweep_set_runs() noexcept {
  return g_sweep_set_runs.load(std::memory_order_relaxed);
}

std::array<std::uint64_t, kIsaCount> isa_calls() noexcept {
  std::array<std::uint64_t, kIsaCount> r{};
  for (std::size_t i = 0; i < kIsaCount; ++i) r[i] = g_calls[i].load(std::memory_order_relaxed);
  return r;
}

void run(Kind k, const Params& p, std::size_t n, std::span<const double* const> in,
         std::span<double* const> out) {
  validate(k, p);
  Params direct = p;
  direct_ma(k, direct);
  check_spans(spec(k), 1, in, out);
  // One series is a recurrence over time for most kernels: no lanes to fill, so they run the scalar
  // kernel (docs/adr/0011-indicator-kernels.md), counted as scalar. Those whose bars are
  // independent of each other run with their bars in the active ISA's lanes, counted as it.
  const Isa isa = active_isa();
  const bool in_lanes = run_series(k, direct, n, in.data(), out.data(), kernels(isa));
  g_calls[static_cast<std::size_t>(in_lanes ? isa : Isa::kScalar)].fetch_add(
      1, std::memory_order_relaxed);
}

namespace {

// run_many()'s work, the parameters validated and made direct (direct_ma), on `kern`; not counted.
void many_on(Kind k, const Params& p, std::size_t n, std::size_t series, const double* const* in,
             double* const* out, const detail::IsaKernels& kern) {
  const KindSpec& s = spec(k);
  const std::size_t ni = s.n_inputs, no = s.n_outputs;
  // A series the kernel's whole-series form suits runs through it: its bars in the lanes beat its
  // series in them (the form exists where bars are independent of each other, or its window is
  // read from the arrays rather than a ring).
  // Series that start with NaN begin at their own index: run them alone. The rest go in lanes,
  // among them those on which the whole-series form would fall back to one bar at a time.
  std::array<const double*, kMaxInputs * 32> lane_in{};
  std::array<double*, kMaxOutputs * 32> lane_out{};
  std::size_t lanes = 0;
  const auto alone = [&](std::size_t l) {
    if (!run_series(k, p, n, lane_in.data() + l * ni, lane_out.data() + l * no, kern)) {
      g_batch_scalar_series_runs.fetch_add(1, std::memory_order_relaxed);
    }
  };
  auto flush = [&] {
    if (lanes == 0) return;
    if (lanes * 4 <= kern.lane_width) {
      // A series or two would leave most of a vector idle, and a kernel stepping each lane on
      // its own (HT_*, MAMA) would step the idle ones too: each runs as run() runs one series,
      // the ISA's whole-series form or the scalar kernel (one MACD series in AVX-512's lanes was
      // 3x its scalar time, docs/benchmarks.md).
      for (std::size_t l = 0; l < lanes; ++l) alone(l);
    } else {
      kern.run_lanes(k, p, n, lanes, lane_in.data(), lane_out.data());
    }
    lanes = 0;
  };
  for (std::size_t sidx = 0; sidx < series; ++sidx) {
    const double* const* si = in + sidx * ni;
    double* const* so = out + sidx * no;
    if (kern.series_suits(k, p, n, si) ||
        (n > 0 && first_valid(n, std::span<const double* const>(si, ni), ni) != 0)) {
      if (!run_series(k, p, n, si, so, kern)) {
        g_batch_scalar_series_runs.fetch_add(1, std::memory_order_relaxed);
      }
      continue;
    }
    for (std::size_t i = 0; i < ni; ++i) lane_in[lanes * ni + i] = si[i];
    for (std::size_t j = 0; j < no; ++j) lane_out[lanes * no + j] = so[j];
    if (++lanes == kern.width) flush();
  }
  flush();
}

// The sets of one series that sweep (`swept`, direct, all of kind k), in runs of the ISA's sweep
// width, each from the series' first valid index (NaN before, as run()).
void sweep_series(Kind k, const std::vector<Params>& swept, const std::vector<std::size_t>& at,
                  std::size_t n, std::size_t series, std::size_t sidx, const double* const* in,
                  double* const* out, const detail::IsaKernels& kern) {
  const KindSpec& s = spec(k);
  const std::size_t ni = s.n_inputs, no = s.n_outputs;
  const double* const* si = in + sidx * ni;
  const std::size_t begin = first_valid(n, std::span<const double* const>(si, ni), ni);
  std::array<const double*, kMaxInputs> ip{};
  for (std::size_t i = 0; i < ni; ++i) ip[i] = si[i] + begin;
  std::vector<double*> op(kern.lane_width * no);
  for (std::size_t first = 0; first < swept.size(); first += kern.lane_width) {
    const std::size_t count = std::min(kern.lane_width, swept.size() - first);
    for (std::size_t c = 0; c < count; ++c) {
      for (std::size_t j = 0; j < no; ++j) {
        double* o = out[(at[first + c] * series + sidx) * no + j];
        std::fill(o, o + begin, std::numeric_limits<double>::quiet_NaN());
        op[c * no + j] = o + begin;
      }
    }
    if (begin < n) kern.run_sweep(k, swept.data() + first, count, n - begin, ip.data(), op.data());
    g_sweep_set_runs.fetch_add(count, std::memory_order_relaxed);
  }
}

}  // namespace

void run_many(Kind k, const Params& given, std::size_t n, std::size_t series,
              std::span<const double* const> in, std::span<double* const> out) {
  validate(k, given);
  Params p = given;
  direct_ma(k, p);
  check_spans(spec(k), series, in, out);
  const Isa isa = active_isa();
  g_calls[static_cast<std::size_t>(isa)].fetch_add(1, std::memory_order_relaxed);
  many_on(k, p, n, series, in.data(), out.data(), kernels(isa));
}

void run_sets(Kind k, std::span<const Params> sets, std::size_t n, std::size_t series,
              std::span<const double* const> in, std::span<double* const> out) {
  const KindSpec& s = spec(k);
  for (const Params& p : sets) validate(k, p);
  if (in.size() != series * s.n_inputs || out.size() != sets.size() * series * s.n_outputs) {
    std::ostringstream m;
    m << s.name << ": expected " << series * s.n_inputs << " input and "
      << sets.size() * series * s.n_outputs << " output arrays, got " << in.size() << " and "
      << out.size();
    throw std::invalid_argument(m.str());
  }
  const Isa isa = active_isa();
  const detail::IsaKernels& kern = kernels(isa);
  g_calls[static_cast<std::size_t>(isa)].fetch_add(1, std::memory_order_relaxed);
  // Sets sweep, a series at a time, in runs of the lane width, where a run fills at least as many
  // lanes as the series would a set at a time: with one series any two sets, with 16 series on
  // AVX-512 a full 8 (measured faster than the series in lanes, docs/benchmarks.md), not 2 sets
  // beside 16 series. Never fewer than the kernel's sweep_fewest (WMA: 3 on AVX2, 4 on AVX-512;
  // ATR, NATR: 3 on AVX-512). All swept sets share the direct kind of the first one that can sweep
  // (a matype sweep across kernels runs the others set by set).
  std::vector<Params> can;
  std::vector<std::size_t> can_at;  // each one's index in `sets`
  Kind sweep_kind = Kind::kCount;
  for (std::size_t i = 0; i < sets.size() && kern.lane_width > 1; ++i) {
    Kind dk = k;
    Params dp = sets[i];
    direct_ma(dk, dp);
    if ((sweep_kind != Kind::kCount && dk != sweep_kind) || !kern.sweep_suits(dk, dp)) continue;
    sweep_kind = dk;
    can.push_back(dp);
    can_at.push_back(i);
  }
  std::vector<Params> swept;
  std::vector<std::size_t> at;  // each swept set's index in `sets`
  std::vector<bool> done(sets.size(), false);
  // Where the batch runs the series one at a time (series_suits, asked of the first series: ATR,
  // NATR from 16,384 bars on AVX-512, their scalar whole-series form; MIN, MAX, WILLR without a
  // NaN or a -0 in their
  // windows' input), a set fills one lane either way: the kernel's fewest sets sweep.
  const bool singly =
      !can.empty() && series > 0 && kern.series_suits(sweep_kind, can[0], n, in.data());
  const std::size_t fewest =
      can.empty() ? 2 : std::max<std::size_t>(2, kern.sweep_fewest(sweep_kind));
  const std::size_t fill = singly ? fewest : std::max(fewest, std::min(series, kern.lane_width));
  for (std::size_t first = 0; first < can.size(); first += kern.lane_width) {
    const std::size_t count = std::min(kern.lane_width, can.size() - first);
    if (count < fill) continue;
    for (std::size_t c = first; c < first + count; ++c) {
      swept.push_back(can[c]);
      at.push_back(can_at[c]);
      done[can_at[c]] = true;
    }
  }
  for (std::size_t sidx = 0; sidx < series && !swept.empty(); ++sidx) {
    sweep_series(sweep_kind, swept, at, n, series, sidx, in.data(), out.data(), kern);
  }
  const std::size_t per_set = series * s.n_outputs;
  for (std::size_t i = 0; i < sets.size(); ++i) {
    if (done[i]) continue;
    Kind dk = k;
    Params dp = sets[i];
    direct_ma(dk, dp);
    many_on(dk, dp, n, series, in.data(), out.data() + i * per_set, kern);
  }
}

std::unique_ptr<Stream> make_stream(Kind k, const Params& p) {
  validate(k, p);
  return detail::make_scalar_stream(k, p);
}

}  // namespace cwts::ta
