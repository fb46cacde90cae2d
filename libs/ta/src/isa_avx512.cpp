// The avx512 kernels: kernels.inl compiled with lanes of 8 doubles. Flags: src/ta/CMakeLists.txt.
#define CWTS_TA_WIDTH 8
#define CWTS_TA_NS isa_avx512
#include "kernels.inl"

namespace cwts::ta::detail {

const IsaKernels& avx512_kernels() noexcept {
  static const IsaKernels k{&isa_avx512::run_lanes_impl,
                            isa_avx512::kLaneWidth * isa_avx512::kGroups,
                            &isa_avx512::run_series_impl, &isa_avx512::series_suits_impl};
  return k;
}

}  // namespace cwts::ta::detail
