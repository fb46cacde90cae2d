// cwts::ta — technical-analysis kernels with TA-Lib's exact semantics.
//
// Every kernel is written once, as an incremental state machine (one `step` per bar) over a lane
// type: `double` for the scalar translation unit, 4 x double (AVX2) and 8 x double (AVX-512) for
// the SIMD units, where each lane carries an independent series with the same parameters. The
// arithmetic of a lane is the scalar arithmetic, operation for operation and without contraction
// into FMA, so every ISA produces the same bits as the scalar reference, and the scalar reference
// follows TA-Lib's own order of operations (seeding, Wilder smoothing, zero rules).
//
// Three forms:
//   run()          one series (batch), on the ISA the registry chose;
//   run_many()     many series with one parameter set, lanes across series;
//   run_sets()     many series x many parameter sets (a hyperparameter search): a kernel with a
//                  sweep form runs one series' sets in the lanes (a parameter sweep on one
//                  symbol), any other one run_many() per set;
//   Stream         incremental: one update per candle, for the engine (scalar; no batch to
//   vectorise).
//
// The registry picks the widest ISA the CPU and OS support at first use; the environment variable
// CWTS_TA_ISA (scalar | avx2 | avx512 | auto) forces one. See docs/indicators.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cwts::ta {

enum class Kind : std::uint8_t {
  kSma,
  kEma,
  kWma,
  kDema,
  kTema,
  kRsi,
  kMacd,
  kBbands,
  kStddev,
  kAtr,
  kNatr,
  kAdx,
  kStoch,
  kStochf,
  kMfi,
  kObv,
  kCci,
  kRoc,
  kMom,
  kWillr,
  kSar,
  kVwap,
  kTrange,
  kMin,
  kMax,
  kRocr,
  kCmo,
  kMinusDi,
  kPlusDi,
  kTrima,
  kLinearreg,
  kLinearregSlope,
  kLinearregIntercept,
  kLinearregAngle,
  kTsf,
  kKama,
  kT3,
  kStochRsi,
  kMa,
  kApo,
  kPpo,
  kMacdExt,
  kHtSine,
  kHtTrendline,
  kHtDcPeriod,
  kHtDcPhase,
  kHtPhasor,
  kMama,
  kCount
};
inline constexpr std::size_t kKindCount = static_cast<std::size_t>(Kind::kCount);
inline constexpr std::size_t kMaxInputs = 4;
inline constexpr std::size_t kMaxOutputs = 3;
inline constexpr std::size_t kMaxParams = 6;

enum class Isa : std::uint8_t { kScalar, kAvx2, kAvx512 };
inline constexpr std::size_t kIsaCount = 3;
[[nodiscard]] const char* to_string(Isa isa) noexcept;

struct ParamSpec {
  const char* name;
  double def;
  double min;
  double max;
  bool integer;
};

// What a kernel reads, writes and takes, with TA-Lib's names and defaults.
struct KindSpec {
  Kind kind;
  const char* name;  // TA-Lib's function name, e.g. "MACD"
  std::uint8_t n_inputs;
  std::array<const char*, kMaxInputs> inputs;  // "real", "high", "low", "close", "volume"
  std::uint8_t n_outputs;
  std::array<const char*, kMaxOutputs> outputs;  // TA-Lib's output names
  std::uint8_t n_params;
  std::array<ParamSpec, kMaxParams> params;
};

[[nodiscard]] const KindSpec& spec(Kind k) noexcept;
// By TA-Lib name (case-insensitive); nullptr if unknown.
[[nodiscard]] const KindSpec* find_spec(std::string_view name) noexcept;

// Parameter values in the order of KindSpec::params.
struct Params {
  std::array<double, kMaxParams> v{};
};
// The defaults of a kind.
[[nodiscard]] Params default_params(Kind k) noexcept;
// Checks every value against its range (and integrality). Throws std::invalid_argument naming the
// kernel, the parameter and the allowed range.
void validate(Kind k, const Params& p);
// Number of leading outputs that are NaN (TA-Lib's lookback). Requires valid params.
[[nodiscard]] int lookback(Kind k, const Params& p) noexcept;
// TA_MA_Lookback: the warm-up of TA-Lib's moving-average type `matype` (0 SMA, 1 EMA, 2 WMA,
// 3 DEMA, 4 TEMA, 5 TRIMA, 6 KAMA, 7 MAMA, 8 T3) at `period`; 0 for period 1, as TA_MA copies
// its input then; 32 for 7 (TA_MAMA's) whatever the period above 1.
[[nodiscard]] int ma_lookback(int matype, int period) noexcept;

// One series: `in[i]` points at n values of input i, `out[j]` at n values of output j. The first
// lookback() outputs are NaN, as are the first `skip` outputs more when the inputs start with
// NaN: like the `talib` module, the series starts at the first index where no input is NaN.
// Outputs must not overlap inputs or each other (whole-series forms read earlier inputs after
// writing earlier outputs, and may park a value in one output that another is computed from).
// Throws std::invalid_argument for bad parameters.
void run(Kind k, const Params& p, std::size_t n, std::span<const double* const> in,
         std::span<double* const> out);

// Many series with the same parameters: `in[s * n_inputs + i]` is input i of series s, `out[s *
// n_outputs + j]` output j of series s, each n long. Lanes across series; bit-identical to run()
// of each series. Leading NaNs are handled per series as in run().
void run_many(Kind k, const Params& p, std::size_t n, std::size_t series,
              std::span<const double* const> in, std::span<double* const> out);

// Many series x many parameter sets: `in` as run_many(); `out[(k * series + s) * n_outputs + j]` is
// output j of set k on series s. Where the kernel has a sweep form for the sets (EMA, DEMA, TEMA,
// SMA, WMA, RSI, CMO, ATR, NATR with a period above 1; MA through them), each series runs them side
// by side in the lanes, a set per lane, reading the series once, in runs of the lane width that
// fill at least as many lanes as the series would a set at a time (with one series, any two sets;
// never fewer than the kernel's IsaKernels::sweep_fewest, and from that many where a batch runs
// the series one at a time anyway: ATR, NATR from 16,384 bars on AVX-512; MIN, MAX, WILLR where
// the first series' input holds no NaN and no -0); other
// sets (and every set on the scalar ISA) run as run_many() of that set. Bit-identical to run() of
// each set and series either way. Counted as one call.
void run_sets(Kind k, std::span<const Params> sets, std::size_t n, std::size_t series,
              std::span<const double* const> in, std::span<double* const> out);

// --- registry ---------------------------------------------------------------------------------
// The ISA run()/run_many() dispatch to. First use reads CWTS_TA_ISA; an unknown value or an ISA
// this machine lacks throws std::runtime_error saying so (and which ISAs it has).
[[nodiscard]] Isa active_isa();
[[nodiscard]] bool isa_supported(Isa isa) noexcept;
// Forces an ISA for the rest of the process (tests, benchmarks). Throws if unsupported.
void set_isa(Isa isa);
[[nodiscard]] Isa parse_isa(std::string_view name);  // throws std::invalid_argument
// Calls served per ISA since start: evidence of which kernels ran.
[[nodiscard]] std::array<std::uint64_t, kIsaCount> isa_calls() noexcept;

// --- incremental ------------------------------------------------------------------------------
// One series, one bar at a time: update() takes the bar's inputs (in KindSpec::inputs order) and
// writes the outputs for that bar (NaN while warming up), equal to the batch outputs at the same
// index. No allocation after construction.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual void update(const double* in, double* out) noexcept = 0;
  // Back to the state before the first bar.
  virtual void reset() noexcept = 0;
  [[nodiscard]] Kind kind() const noexcept { return kind_; }

 protected:
  explicit Stream(Kind k) noexcept : kind_(k) {}

 private:
  Kind kind_;
};
// Throws std::invalid_argument for bad parameters.
[[nodiscard]] std::unique_ptr<Stream> make_stream(Kind k, const Params& p);

// Internal: one ISA's entry points (defined in isa_<name>.cpp).
namespace detail {
struct IsaKernels {
  // `lanes` series (1 <= lanes <= width): in[l * n_inputs + i], out[l * n_outputs + j].
  // width = SIMD lanes x interleaved groups.
  void (*run_lanes)(Kind, const Params&, std::size_t n, std::size_t lanes, const double* const* in,
                    double* const* out);
  std::size_t width;
  // One series through the kernel's whole-series form on this ISA (its bars in the lanes where
  // they are independent of each other); false, having done nothing, for a kernel without one.
  bool (*run_series)(Kind, const Params&, std::size_t n, const double* const* in,
                     double* const* out);
  // Whether a batch should run this series (n bars, its inputs) through run_series: the kernel
  // has a whole-series form and it is worth it here. Not where the form would fall back to one
  // bar at a time (MIN, MAX, WILLR: a NaN or a -0, a period over a chunk), nor where the series'
  // recurrences gain more in lanes beside other series (STOCH, STOCHF).
  bool (*series_suits)(Kind, const Params&, std::size_t n, const double* const* in) noexcept;
  // Whether this set can run in a sweep (the kernel has a sweep form on this ISA and the set is
  // one it covers); always false on the scalar ISA.
  bool (*sweep_suits)(Kind, const Params&) noexcept;
  // Up to lane_width sets that sweep_suits() all accepted, over one series of n bars with no
  // leading NaN, a set per lane: out[k * n_outputs + j] is output j of set k.
  void (*run_sweep)(Kind, const Params* sets, std::size_t count, std::size_t n,
                    const double* const* in, double* const* out);
  std::size_t lane_width;  // SIMD lanes in one vector (1 on the scalar ISA)
  // The fewest sets a run_sweep() of this kind should take: below it the sets run faster one
  // after the other (2 unless the kernel's sweep form measured otherwise).
  std::size_t (*sweep_fewest)(Kind) noexcept;
};
// Series an ISA's whole-series form has run since start (run() and run_many(); a form that fell
// back to one bar at a time inside counts too): which path a batch took, for tests.
[[nodiscard]] std::uint64_t series_form_runs() noexcept;
// Series run_many() has handed to the scalar kernel rather than to lanes or an ISA's form: on any
// ISA a series starting with NaN or all NaN, a kernel whose scalar series form beats its lanes,
// and a batch's last one or two series (one on AVX2, up to two on AVX-512) where the kernel has no
// whole-series form on the ISA; on the scalar ISA also every series of a kernel with a scalar
// series form. For tests.
[[nodiscard]] std::uint64_t batch_scalar_series_runs() noexcept;
// Calls of lanes that streamed their stores past the caches (kernels.inl: AVX-512, outputs on
// cache lines, 1 MiB or more a call; a lanes form counts each vector's series that streamed),
// and note_streamed_lanes() counting one: for tests.
[[nodiscard]] std::uint64_t streamed_lane_runs() noexcept;
void note_streamed_lanes() noexcept;
// Parameter sets run_sets() has run in a sweep (a set per lane over one series): for tests.
[[nodiscard]] std::uint64_t sweep_set_runs() noexcept;
// The scalar ISA: a kernel with fused multiply-adds runs the unit built with -mfma where the CPU
// has FMA, anything else the baseline unit (libm's fma for its fused multiply-adds); the same bits
// either way.
[[nodiscard]] bool fuses_multiply_adds(Kind k) noexcept;
const IsaKernels& scalar_kernels() noexcept;
const IsaKernels& baseline_scalar_kernels() noexcept;
const IsaKernels& fma_scalar_kernels() noexcept;
const IsaKernels& avx2_kernels() noexcept;
const IsaKernels& avx512_kernels() noexcept;
// One series on the scalar kernel (what every ISA runs for a kernel without a whole-series form),
// no NaN skipping; the baseline and FMA units' own (for tests).
void run_scalar_series(Kind k, const Params& p, std::size_t n, const double* const* in,
                       double* const* out);
void run_baseline_scalar_series(Kind k, const Params& p, std::size_t n, const double* const* in,
                                double* const* out);
void run_fma_scalar_series(Kind k, const Params& p, std::size_t n, const double* const* in,
                           double* const* out);
std::unique_ptr<Stream> make_scalar_stream(Kind k, const Params& p);
std::unique_ptr<Stream> make_fma_scalar_stream(Kind k, const Params& p);
// TA_MA of `matype` and `period` over x[0, n) into y (NaN while it warms up) through the scalar
// kernel of that average and its whole-series form where it has one: what a kernel's MA (MaAny)
// computes stepping bar by bar, the same bits (period 1: a copy).
void run_scalar_ma(int matype, int period, std::size_t n, const double* x, double* y);
}  // namespace detail

}  // namespace cwts::ta
