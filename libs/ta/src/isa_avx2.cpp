// The avx2 kernels: kernels.inl compiled with lanes of 4 doubles. Flags: src/ta/CMakeLists.txt.
#define CWTS_TA_WIDTH 4
#define CWTS_TA_NS isa_avx2
#include "kernels.inl"

namespace cwts::ta::detail {

const IsaKernels& avx2_kernels() noexcept {
  static const IsaKernels k{&isa_avx2::run_lanes_impl, isa_avx2::kLaneWidth * isa_avx2::kGroups,
                            &isa_avx2::run_series_impl, &isa_avx2::series_suits_impl};
  return k;
}

}  // namespace cwts::ta::detail
