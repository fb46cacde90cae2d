// The scalar kernels: kernels.inl compiled with lanes of 1 double. Flags: src/ta/CMakeLists.txt.
#define CWTS_TA_WIDTH 1
#define CWTS_TA_NS isa_scalar
#include "kernels.inl"

namespace cwts::ta::isa_scalar {
namespace {
void run_one_impl(Kind kind, const Params& p, std::size_t n, const double* const* in,
                  double* const* out) {
  // MOM and ROC over a whole array need no state: the same expression as LagT::step, read
  // straight from the input (no ring), which the compiler vectorises. Same bits as the kernel.
  if (kind == Kind::kMom || kind == Kind::kRoc) {
    const auto lag = static_cast<std::size_t>(iparam(p, 0));
    const double* x = in[0];
    double* y = out[0];
    const std::size_t warm = std::min(lag, n);
    for (std::size_t t = 0; t < warm; ++t) y[t] = kNaN;
    if (kind == Kind::kMom) {
      for (std::size_t t = lag; t < n; ++t) y[t] = x[t] - x[t - lag];
    } else {
      for (std::size_t t = lag; t < n; ++t) {
        const double old = x[t - lag];
        y[t] = old != 0.0 ? ((x[t] / old) - 1.0) * 100.0 : 0.0;
      }
    }
    return;
  }
  if (!run_series_impl(kind, p, n, in, out)) run_lanes_impl(kind, p, n, 1, in, out);
}

}  // namespace
}  // namespace cwts::ta::isa_scalar

namespace cwts::ta::detail {

const IsaKernels& scalar_kernels() noexcept {
  static const IsaKernels k{&isa_scalar::run_lanes_impl,
                            isa_scalar::kLaneWidth * isa_scalar::kGroups,
                            &isa_scalar::run_series_impl, &isa_scalar::series_suits_impl};
  return k;
}

void run_scalar_series(Kind k, const Params& p, std::size_t n, const double* const* in,
                       double* const* out) {
  isa_scalar::run_one_impl(k, p, n, in, out);
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
