// The avx2 kernels: kernels.inl compiled with lanes of 4 doubles. Flags: src/ta/CMakeLists.txt.
#define CWTS_TA_WIDTH 4
#define CWTS_TA_NS isa_avx2
#include "kernels.inl"

namespace cwts::ta::detail {

const IsaKernels& avx2_kernels() noexcept { return isa_avx2::isa_kernels(); }

}  // namespace cwts::ta::detail
