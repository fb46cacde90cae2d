// TRIMA and the linear-regression family, included by kernels.inl (same lane type, same rules:
// TA-Lib's C code operation for operation, internal linkage).

// One lane at a time through a libm function (no SIMD form gives libm's bits).
template <double (*F)(double)>
inline V per_lane(V x) noexcept {
#if CWTS_TA_WIDTH == 1
  return F(x);
#else
  V r;
  for (int l = 0; l < CWTS_TA_WIDTH; ++l) r[l] = F(x[l]);
  return r;
#endif
}
inline double libm_atan(double x) noexcept { return std::atan(x); }

// TA_TRIMA: not an SMA of an SMA but TA-Lib's walk of a numerator and two partial sums. The
// first output sums the window from its middle down to its oldest value (numeratorSub), then
// from after the middle up to the newest (numeratorAdd); each later bar takes off the oldest,
// moves the middle value from one sum to the other and adds the newest. Weights 1..h+1..1 over
// p = 2h + 1, 1..h,h..1 over p = 2h; factor 1 / (h + 1)^2 or 1 / (h (h + 1)), computed in int.
struct Trima {
  int p;
  int half;
  double factor;
  Buf ring;  // the last p inputs; ring[head] is the oldest
  std::size_t head = 0;
  long t = 0;
  V num = splat(0.0), sub = splat(0.0), add = splat(0.0);
  explicit Trima(const Params& pr)
      : p(iparam(pr, 0)),
        half(p >> 1),
        factor(1.0 / static_cast<double>(p % 2 == 1 ? std::int64_t{half + 1} * (half + 1)
                                                    : std::int64_t{half} * (half + 1))),
        ring(static_cast<std::size_t>(p)) {}
  void reset() noexcept {
    ring.clear();
    head = 0;
    t = 0;
    num = sub = add = splat(0.0);
  }
  [[nodiscard]] V at(int k) noexcept {  // k-th oldest of the window (0 = oldest)
    return ring[(head + static_cast<std::size_t>(k)) % static_cast<std::size_t>(p)];
  }
  void push(V v) noexcept {
    ring[head] = v;
    head = head + 1 == static_cast<std::size_t>(p) ? 0 : head + 1;
  }
  void step(const V* x, V* y) noexcept {
    const V v = x[0];
    if (p == 1) {  // TA-Lib's walk gives the input itself (a - a + 0 + v), bit for bit
      y[0] = v;
      return;
    }
    if (t < p - 1) {
      push(v);
      ++t;
      y[0] = splat(kNaN);
      return;
    }
    if (t == p - 1) {
      push(v);
      ++t;
      const int middle = p % 2 == 1 ? half : half - 1;
      num = sub = add = splat(0.0);
      for (int k = middle; k >= 0; --k) {
        sub = sub + at(k);
        num = num + sub;
      }
      for (int k = middle + 1; k <= p - 1; ++k) {
        add = add + at(k);
        num = num + add;
      }
      y[0] = num * splat(factor);
      return;
    }
    const V oldest = at(0);      // p bars back
    const V mid = at(p - half);  // half bars back
    num = num - sub;
    sub = sub - oldest;
    sub = sub + mid;
    if (p % 2 == 1) {
      num = num + add;
      add = add - mid;
    } else {
      add = add - mid;
      num = num + add;
    }
    add = add + v;
    num = num + v;
    push(v);
    y[0] = num * splat(factor);
  }
};

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
