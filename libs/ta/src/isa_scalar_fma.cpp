// The scalar kernels built with -mfma (isa_scalar.cpp runs them where the CPU has FMA).
#define CWTS_TA_WIDTH 1
#define CWTS_TA_NS isa_scalar_fma
#include "kernels.inl"

namespace cwts::ta::detail {

const IsaKernels& fma_scalar_kernels() noexcept { return isa_scalar_fma::isa_kernels(); }

void run_fma_scalar_series(Kind k, const Params& p, std::size_t n, const double* const* in,
                           double* const* out) {
  isa_scalar_fma::run_one_impl(k, p, n, in, out);
}

std::unique_ptr<Stream> make_fma_scalar_stream(Kind kind, const Params& p) {
  return isa_scalar_fma::make_stream_impl(kind, p);
}

}  // namespace cwts::ta::detail
