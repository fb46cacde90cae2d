// The scalar kernels: kernels.inl compiled with lanes of 1 double, for any x86-64 CPU. The kernels
// with fused multiply-adds (fmadd(): where TA-Lib's FMA build fuses) run isa_scalar_fma.cpp's copy
// instead where the CPU has FMA: the same source built with -mfma, one instruction where this
// unit calls libm's fma, with the same bits (ADR 0011). The others stay here: the VEX build of
// them measured no faster, and CCI's 1.5x slower. Flags: libs/ta/ta_sources.cmake.
#define CWTS_TA_WIDTH 1
#define CWTS_TA_NS isa_scalar
#include "kernels.inl"

namespace cwts::ta::detail {

namespace {
bool on_fma(Kind k) noexcept {
  static const bool fma = __builtin_cpu_supports("fma") != 0;
  return fma && fuses_multiply_adds(k);
}

void run_lanes(Kind k, const Params& p, std::size_t n, std::size_t lanes, const double* const* in,
               double* const* out) {
  (on_fma(k) ? fma_scalar_kernels() : baseline_scalar_kernels()).run_lanes(k, p, n, lanes, in, out);
}

bool run_series(Kind k, const Params& p, std::size_t n, const double* const* in,
                double* const* out) {
  return (on_fma(k) ? fma_scalar_kernels() : baseline_scalar_kernels())
      .run_series(k, p, n, in, out);
}
}  // namespace

bool fuses_multiply_adds(Kind k) noexcept {
  switch (k) {
    case Kind::kEma:
    case Kind::kDema:
    case Kind::kTema:
    case Kind::kMacd:
    case Kind::kAtr:
    case Kind::kNatr:
    case Kind::kKama:
    case Kind::kT3:
    // A matype (MaAny: EMA, DEMA, TEMA, KAMA, T3 among its types)
    case Kind::kBbands:
    case Kind::kStoch:
    case Kind::kStochf:
    case Kind::kStochRsi:
    case Kind::kMa:
    case Kind::kApo:
    case Kind::kPpo:
    case Kind::kMacdExt:
      return true;
    default:
      return false;
  }
}

const IsaKernels& baseline_scalar_kernels() noexcept { return isa_scalar::isa_kernels(); }

const IsaKernels& scalar_kernels() noexcept {
  static const IsaKernels k{&run_lanes,
                            isa_scalar::kLaneWidth * isa_scalar::kGroups,
                            &run_series,
                            &isa_scalar::series_suits_impl,
                            &isa_scalar::sweep_suits_impl,
                            &isa_scalar::run_sweep_impl,
                            isa_scalar::kLaneWidth,
                            &isa_scalar::sweep_fewest_impl};
  return k;
}

void run_baseline_scalar_series(Kind k, const Params& p, std::size_t n, const double* const* in,
                                double* const* out) {
  isa_scalar::run_one_impl(k, p, n, in, out);
}

void run_scalar_series(Kind k, const Params& p, std::size_t n, const double* const* in,
                       double* const* out) {
  if (on_fma(k)) {
    run_fma_scalar_series(k, p, n, in, out);
  } else {
    isa_scalar::run_one_impl(k, p, n, in, out);
  }
}

std::unique_ptr<Stream> make_scalar_stream(Kind kind, const Params& p) {
  return on_fma(kind) ? make_fma_scalar_stream(kind, p) : isa_scalar::make_stream_impl(kind, p);
}

}  // namespace cwts::ta::detail
