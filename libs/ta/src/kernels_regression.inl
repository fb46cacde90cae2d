// The linear-regression family (LINEARREG, _SLOPE, _INTERCEPT, _ANGLE, TSF), included by
// kernels.inl (same lane type, same rules: TA-Lib's C code operation for operation, internal
// linkage).

// One lane at a time through a libm function (no SIMD form gives libm's bits).
template <double (*F)(double)>
inline V per_lane(V x) noexcept {
#if CWTS_TA_WIDTH == 1
  return F(x);
#else
  V r = x;  // every lane is written below; initialised for -O3's maybe-uninitialized
  for (int l = 0; l < CWTS_TA_WIDTH; ++l) r[l] = F(x[l]);
  return r;
#endif
}
inline double libm_atan(double x) noexcept { return std::atan(x); }

// TA_LINEARREG, _SLOPE, _INTERCEPT, _ANGLE and TA_TSF: the least-squares line over the last p
// values, the sums rebuilt over the window at every bar (oldest first, x = bars back, as TA-Lib
// does), SumX and SumXSqr from integer arithmetic (64-bit: TA-Lib's int overflows beyond p = 1290,
// where its results are meaningless and these are not).
enum class Reg { kValue, kSlope, kIntercept, kAngle, kForecast };
template <Reg Out>
struct RegT {
  int p;
  double sum_x, divisor;
  Buf ring;
  std::size_t head = 0;
  long t = 0;
  explicit RegT(const Params& pr)
      : p(iparam(pr, 0)),
        sum_x(static_cast<double>(std::int64_t{p} * (p - 1)) * 0.5),
        divisor(sum_x * sum_x -
                p * static_cast<double>(std::int64_t{p} * (p - 1) * (2 * p - 1) / 6)),
        ring(static_cast<std::size_t>(p)) {}
  void reset() noexcept {
    ring.clear();
    head = 0;
    t = 0;
  }
  void step(const V* x, V* y) noexcept {
    ring[head] = x[0];
    head = head + 1 == static_cast<std::size_t>(p) ? 0 : head + 1;
    if (t++ < p - 1) {
      y[0] = splat(kNaN);
      return;
    }
    V sum_xy = splat(0.0), sum_y = splat(0.0);
    std::size_t pos = head;  // the oldest, p - 1 bars back
    for (int i = p - 1; i >= 0; --i) {
      const V v = ring[pos];
      pos = pos + 1 == static_cast<std::size_t>(p) ? 0 : pos + 1;
      sum_y = sum_y + v;
      sum_xy = sum_xy + splat(static_cast<double>(i)) * v;
    }
    const V m = (splat(static_cast<double>(p)) * sum_xy - splat(sum_x) * sum_y) / splat(divisor);
    if constexpr (Out == Reg::kSlope) {
      y[0] = m;
    } else if constexpr (Out == Reg::kAngle) {
      y[0] = per_lane<libm_atan>(m) * splat(180.0 / 3.141592653589793);
    } else {
      const V b = (sum_y - m * splat(sum_x)) / splat(static_cast<double>(p));
      if constexpr (Out == Reg::kIntercept) {
        y[0] = b;
      } else if constexpr (Out == Reg::kValue) {
        y[0] = b + m * splat(static_cast<double>(p - 1));
      } else {
        y[0] = b + m * splat(static_cast<double>(p));
      }
    }
  }
};
using Linearreg = RegT<Reg::kValue>;
using LinearregSlope = RegT<Reg::kSlope>;
using LinearregIntercept = RegT<Reg::kIntercept>;
using LinearregAngle = RegT<Reg::kAngle>;
using Tsf = RegT<Reg::kForecast>;
