// The avx512 kernels: kernels.inl compiled with lanes of 8 doubles. Flags: src/ta/CMakeLists.txt.
#define CWTS_TA_WIDTH 8
#define CWTS_TA_NS isa_avx512
#include "kernels.inl"

namespace cwts::ta::detail {

const IsaKernels& avx512_kernels() noexcept { return isa_avx512::isa_kernels(); }

}  // namespace cwts::ta::detail
