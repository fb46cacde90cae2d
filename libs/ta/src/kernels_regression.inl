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
    y[0] = value(p, sum_x, divisor, sum_xy, sum_y);
  }
  // The line's output from the window's sums (static, of plain values: the whole-series loop
  // below keeps them in registers and vectorises across bars).
  static V value(int p, double sum_x, double divisor, V sum_xy, V sum_y) noexcept {
    const V m = (splat(static_cast<double>(p)) * sum_xy - splat(sum_x) * sum_y) / splat(divisor);
    if constexpr (Out == Reg::kSlope) {
      return m;
    } else if constexpr (Out == Reg::kAngle) {
      return per_lane<libm_atan>(m) * splat(180.0 / 3.141592653589793);
    } else {
      const V b = (sum_y - m * splat(sum_x)) / splat(static_cast<double>(p));
      if constexpr (Out == Reg::kIntercept) {
        return b;
      } else if constexpr (Out == Reg::kValue) {
        return b + m * splat(static_cast<double>(p - 1));
      } else {
        return b + m * splat(static_cast<double>(p));
      }
    }
  }
  // One whole series read straight from its array rather than through the ring, its bars in the
  // lanes (lane l is bar t + l: its window is the same array W doubles on). Each lane runs step()'s
  // operations in step()'s order, so the same bits on every ISA.
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    constexpr std::size_t W = CWTS_TA_WIDTH;
    const RegT k(pr);
    const int pi = k.p;
    const double sum_x = k.sum_x, divisor = k.divisor;
    const auto p = static_cast<std::size_t>(pi);
    const double* x = in[0];
    double* y = out[0];
    std::fill(y, y + std::min(n, p - 1), kNaN);
    // The line of W consecutive bars' windows, lane l's window bar j (oldest first) from load(j).
    const auto line = [&](auto load) {
      V sum_xy = splat(0.0), sum_y = splat(0.0);
      double i = static_cast<double>(p - 1);  // bars back: exact in a double, no conversion
      for (std::size_t j = 0; j < p; ++j, i -= 1.0) {
        const V u = load(j);
        sum_y = sum_y + u;
        sum_xy = sum_xy + splat(i) * u;
      }
      return value(pi, sum_x, divisor, sum_xy, sum_y);
    };
    std::size_t t = p - 1;
    // kTiles tiles of W bars at once: each tile's two sums are a chain of dependent adds (its
    // latency bounds one tile), the tiles' chains are independent and interleave. The same
    // operations per lane in the same order, so the same bits.
    constexpr std::size_t kTiles = 4;
    for (; t + kTiles * W <= n; t += kTiles * W) {
      const double* w = x + (t + 1 - p);  // lane 0's oldest, p - 1 bars back
      V sum_xy[kTiles], sum_y[kTiles];
      for (std::size_t tile = 0; tile < kTiles; ++tile) sum_xy[tile] = sum_y[tile] = splat(0.0);
      double i = static_cast<double>(p - 1);
      for (std::size_t j = 0; j < p; ++j, i -= 1.0) {
        const V weight = splat(i);
        for (std::size_t tile = 0; tile < kTiles; ++tile) {
          V u;
          std::memcpy(&u, w + tile * W + j, sizeof(V));
          sum_y[tile] = sum_y[tile] + u;
          sum_xy[tile] = sum_xy[tile] + weight * u;
        }
      }
      for (std::size_t tile = 0; tile < kTiles; ++tile) {
        const V v = value(pi, sum_x, divisor, sum_xy[tile], sum_y[tile]);
        std::memcpy(y + t + tile * W, &v, sizeof(V));
      }
    }
    for (; t + W <= n; t += W) {
      const double* w = x + (t + 1 - p);  // lane 0's oldest, p - 1 bars back
      const V v = line([w](std::size_t j) {
        V u;
        std::memcpy(&u, w + j, sizeof(V));
        return u;
      });
      std::memcpy(y + t, &v, sizeof(V));
    }
    while (t < n) {  // the last bars: lanes past the end repeat the last bar and are not stored
      const V v = line([x, t, n, p](std::size_t j) {
        double lane[W];
        for (std::size_t l = 0; l < W; ++l) lane[l] = x[std::min(t + l, n - 1) + 1 - p + j];
        V u;
        std::memcpy(&u, lane, sizeof(V));
        return u;
      });
      double res[W];
      std::memcpy(res, &v, sizeof(V));
      const std::size_t m = std::min(W, n - t);
      std::copy(res, res + m, y + t);
      t += m;
    }
  }
};
using Linearreg = RegT<Reg::kValue>;
using LinearregSlope = RegT<Reg::kSlope>;
using LinearregIntercept = RegT<Reg::kIntercept>;
using LinearregAngle = RegT<Reg::kAngle>;
using Tsf = RegT<Reg::kForecast>;
