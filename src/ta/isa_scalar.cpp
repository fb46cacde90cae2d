// The scalar kernels: kernels.inl compiled with lanes of 1 double. Flags: src/ta/CMakeLists.txt.
#define CWTS_TA_WIDTH 1
#define CWTS_TA_NS isa_scalar
#include "kernels.inl"

namespace cwts::ta::detail {

const IsaKernels& scalar_kernels() noexcept {
  static const IsaKernels k{&isa_scalar::run_one_impl, &isa_scalar::run_lanes_impl,
                              isa_scalar::kLaneWidth * isa_scalar::kGroups};
  return k;
}

namespace {
template <class K>
class StreamImpl final : public Stream {
 public:
  StreamImpl(Kind kind, const Params& p) : Stream(kind), k_(p) {}
  void update(const double* in, double* out) noexcept override { k_.step(in, out); }
  void reset() noexcept override { k_.reset(); }

 private:
  K k_;
};
}  // namespace

std::unique_ptr<Stream> make_scalar_stream(Kind kind, const Params& p) {
  return isa_scalar::with_kernel(kind, [&]<class K>() -> std::unique_ptr<Stream> {
    return std::make_unique<StreamImpl<K>>(kind, p);
  });
}

}  // namespace cwts::ta::detail
