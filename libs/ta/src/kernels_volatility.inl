// Part of kernels.inl (one unit per ISA): TA-Lib's variance, STDDEV, BBANDS, ATR and NATR.
// Same lane type and rules: TA-Lib's C code operation for operation, internal linkage.

// TA-Lib's variance (var.c, "cancellation-free variance"): running sums of deviations from a
// shift, the shift re-anchored at the window mean (two-pass over the window) when the variance
// falls below 1e-6 of the mean squared deviation, when a removed value dwarfs the sum, or every
// 32 windows; a re-anchored variance under 1e-12 of its scale is 0.
// VarSums is the arithmetic, told each bar's value and the window's oldest; VarState keeps the
// window in a ring for a stream, and a whole series reads it from its array instead.
struct VarSums {
  int p;
  double inv;
  long t = 0;
  V shift = splat(0.0), t1 = splat(0.0), t2 = splat(0.0), since = splat(0.0);
  explicit VarSums(int period) : p(period), inv(1.0 / static_cast<double>(period)) {}
  // Adds x, bar t. From the first full window on, gives its variance in `var` and drops
  // `oldest` (bar t - p + 1); at(j) is the window's j-th value, oldest first, read only when the
  // shift is re-anchored.
  template <class At>
  bool add(V x, V oldest, At at, V& var) noexcept {
    if (t < p - 1) {
      warm(x);
      return false;
    }
    var = next(x, oldest, at);
    return true;
  }
  // add() before the window is full (bars 0 .. p - 2) ...
  void warm(V x) noexcept {
    if (t++ == 0) {
      shift = x;
      since = splat(32.0 * p);
    }
    V d = x - shift;
    t1 = t1 + d;
    d = d * d;
    t2 = t2 + d;
  }
  // ... and from then on (the window full).
  template <class At>
  V next(V x, V oldest, At at) noexcept {
    warm(x);
    V m1 = t1 * splat(inv);
    V var = t2 * splat(inv) - m1 * m1;
    V r = oldest - shift;
    t1 = t1 - r;
    r = r * r;
    t2 = t2 - r;
    since = since - splat(1.0);
    const M var_tiny = var < splat(0.000001) * (t2 * splat(inv));
    const M drop_huge = r > splat(1000000.0) * t2;
    const M reseed = mor(mor(var_tiny, drop_huge), since <= splat(0.0));
    if (any(reseed)) {
      V sum = splat(0.0);
      for (int j = 0; j < p; ++j) sum = sum + at(j);
      const V nshift = sum * splat(inv);
      V n1 = splat(0.0), n2 = splat(0.0);
      for (int j = 0; j < p; ++j) {
        V e = at(j) - nshift;
        n1 = n1 + e;
        e = e * e;
        n2 = n2 + e;
      }
      const V nm1 = n1 * splat(inv);
      V nvar = n2 * splat(inv) - nm1 * nm1;
      nvar = sel(nvar < splat(0.000000000001) * (n2 * splat(inv)), splat(0.0), nvar);
      V e = oldest - nshift;
      n1 = n1 - e;
      e = e * e;
      n2 = n2 - e;
      shift = sel(reseed, nshift, shift);
      t1 = sel(reseed, n1, t1);
      t2 = sel(reseed, n2, t2);
      var = sel(reseed, nvar, var);
      since = sel(reseed, splat(32.0 * p), since);
    }
    return var;
  }
};

#if CWTS_TA_WIDTH > 1
// The window ending at bar t (p bars, oldest first) of a vector's series, as VarSums::next()
// reads it where it re-anchors its shift.
inline auto window_of(const double* const* ip, std::size_t t, std::size_t p) noexcept {
  return [ip, from = t + 1 - p](int j) {
    return load_lanes(ip, CWTS_TA_WIDTH, from + static_cast<std::size_t>(j));
  };
}

// The lanes form of a kernel K over the variance (STDDEV; BBANDS over the SMA), a vector's series
// at a time: K::step() through the first p - 1 bars, then K's VarSums in registers
// (steady_lanes()), the window's oldest bar read from the input p - 1 bars back instead of the
// ring, and the whole window, where the shift is re-anchored, too. `of(k)` gives the steady
// bars' step from the warmed kernel, `(var, x, y)`: the outputs from the bar's variance, x[0] the
// bar and x[1] the window's oldest (BBANDS's step keeps the SMA's total in registers too);
// `extra(y)` as steady_lanes()'s. Each state's operations in step()'s order (the sums and a
// total are independent of each other), so its bits.
template <class K, std::size_t NY, std::size_t NOut, class Of, class Extra>
void variance_lanes(const Params& pr, std::size_t n, std::size_t lanes, const double* const* in,
                    double* const* out, Of of, Extra extra) {
  by_vector<NOut>(n, lanes, in, out, true, [&](std::size_t count, auto& ip, auto& op, bool stream) {
    K k(pr);
    const auto p = static_cast<std::size_t>(k.v.s.p);
    const std::size_t start = warm_lanes(k, p - 1, n, count, ip, op);
    VarSums s = k.v.s;
    auto bar = of(k);
    const Lagged<2> both(ip);  // the series now, and the window's oldest bar
    steady_lanes<2, NY, NOut>(
        start, n, count, both.ip, {0, p - 1}, op, stream,
        [&](const V* x, V* y, std::size_t at) {
          bar(s.next(x[0], x[1], window_of(ip[0], at, p)), x, y);
        },
        extra);
  });
}
#endif

struct VarState {
  VarSums s;
  Buf ring;
  std::size_t head = 0;
  explicit VarState(int period) : s(period), ring(static_cast<std::size_t>(period)) {}
  void reset() noexcept {
    ring.clear();
    head = 0;
    s = VarSums(s.p);
  }
  bool step(V x, V& var) noexcept {
    const auto n = static_cast<std::size_t>(s.p);
    const std::size_t next = head + 1 == n ? 0 : head + 1;
    // ring[next] is bar t - p + 1 once the window is full (x itself when p is 1); x goes into the
    // ring after the sums, so that their loads do not wait behind its store.
    const bool full = s.add(
        x, n == 1 ? x : ring[next],
        [&](int j) {
          if (j == s.p - 1) return x;  // the newest
          const std::size_t pos = next + static_cast<std::size_t>(j);
          return ring[pos < n ? pos : pos - n];
        },
        var);
    ring[head] = x;
    head = next;
    return full;
  }
};

// TA_STDDEV: sqrt of the variance, times nbdev unless it is 1.
struct Stddev {
  VarState v;
  double nbdev;
  explicit Stddev(const Params& pr) : v(iparam(pr, 0)), nbdev(pr.v[1]) {}
  void reset() noexcept { v.reset(); }
  static V output(V var, double nbdev) noexcept {
    return nbdev != 1.0 ? vsqrt(var) * splat(nbdev) : vsqrt(var);
  }
  void step(const V* x, V* y) noexcept {
    V var;
    y[0] = v.step(x[0], var) ? output(var, nbdev) : splat(kNaN);
  }
#if CWTS_TA_WIDTH > 1
  // A batch's series in lanes (variance_lanes()).
  static void lanes_form(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out) {
    variance_lanes<Stddev, 1, 1>(
        pr, n, lanes, in, out,
        [](const Stddev& k) {
          return [nb = k.nbdev](V var, const V*, V* y) { y[0] = output(var, nb); };
        },
        [](V*) {});
  }
#endif
#if CWTS_TA_WIDTH == 1
  // One whole series: the window read straight from the array (x[t - p + 1 .. t], no ring), the
  // sums in locals; step()'s operations in step()'s order, so the same bits.
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    const double nb = pr.v[1];
    VarSums s(iparam(pr, 0));
    const auto p = static_cast<std::size_t>(s.p);
    const double* x = in[0];
    double* y = out[0];
    std::size_t t = 0;
    for (; t + 1 < p && t < n; ++t) {
      s.warm(x[t]);
      y[t] = kNaN;
    }
    for (; t < n; ++t) {
      const double* w = x + (t + 1 - p);  // the window, oldest first
      y[t] = output(s.next(x[t], *w, [w](int j) { return w[j]; }), nb);
    }
  }
#endif
};

// TA_BBANDS: middle = MA(p) of its MAType, bands = middle +/- STDDEV(p, 1) * nbdev. For SMA the
// deviation is about that same mean; for any other type it is still the SMA-window deviation
// (TA_STDDEV), as TA-Lib computes it: called from the average's first output, so its running sums
// start p - 1 bars before that, not at the first bar (the same values to a few ulp; its bits).
struct Bbands {
  // A batch's series over the SMA run in lanes a vector's series at a time, the mean and the
  // variance in registers and the bands worked out from their transposed rows (lanes_form(),
  // kernels_dispatch.inl; stepping all three outputs through run_groups() measured slower than
  // the series form: docs/benchmarks.md, 2026-12-06). Over any other average step() in lanes.
#if CWTS_TA_WIDTH > 1
  static void lanes_form(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out);
#endif
  double up, dn;
  bool sma_mid;
  long var_from;  // the bar TA_STDDEV's sums start at
  long t = 0;
  SmaState sma;
  MaAny ma;
  VarState v;
  explicit Bbands(const Params& pr)
      : up(pr.v[1]),
        dn(pr.v[2]),
        sma_mid(iparam(pr, 3) == 0),
        var_from(sma_mid ? 0
                         : std::max(0L, ma_lookback_of(iparam(pr, 3), iparam(pr, 0)) -
                                            (iparam(pr, 0) - 1))),
        sma(iparam(pr, 0)),
        ma(sma_mid ? -1 : iparam(pr, 3), sma_mid ? 1 : iparam(pr, 0)),
        v(iparam(pr, 0)) {}
  void reset() noexcept {
    t = 0;
    sma.reset();
    ma.reset();
    v.reset();
  }
  void step(const V* x, V* y) noexcept {
    V mid, var;
    const bool ok = sma_mid ? sma.step(x[0], mid) : ma.step(x[0], mid);
    if (t < var_from) {
      ++t;
      y[0] = y[1] = y[2] = splat(kNaN);
      return;
    }
    if (!v.step(x[0], var) || !ok) {
      y[0] = y[1] = y[2] = splat(kNaN);
      return;
    }
    bands(mid, var, up, dn, y[0], y[2]);
    y[1] = mid;
  }
  static void bands(V mid, V var, double up, double dn, V& upper, V& lower) noexcept {
    const V sd = vsqrt(var);
    if (up == dn) {  // one product for both bands
      const V w = sd * splat(up);
      upper = mid + w;
      lower = mid - w;
    } else {  // TA-Lib's FMA build fuses the upper band's product with its sum, not the lower's
      upper = fmadd(sd, splat(up), mid);
      lower = mid - sd * splat(dn);
    }
  }
#if CWTS_TA_WIDTH == 1
  // bands() over bars [from, to), each one's variance in `upper` on entry (the series form's).
  static void band_pass(double* upper, const double* middle, double* lower, std::size_t from,
                        std::size_t to, double up, double dn) noexcept {
    std::size_t t = from;
    if (up == dn) {   // sqrt, a product and a sum or difference each: the same in the lanes
#if defined(__AVX__)  // the scalar unit built with -mfma
      const __m256d u4 = _mm256_set1_pd(up);
      for (; t + 4 <= to; t += 4) {
        const __m256d w = _mm256_mul_pd(_mm256_sqrt_pd(_mm256_loadu_pd(upper + t)), u4);
        const __m256d m = _mm256_loadu_pd(middle + t);
        _mm256_storeu_pd(upper + t, _mm256_add_pd(m, w));
        _mm256_storeu_pd(lower + t, _mm256_sub_pd(m, w));
      }
#endif
      const __m128d u = _mm_set1_pd(up);
      for (; t + 2 <= to; t += 2) {
        const __m128d w = _mm_mul_pd(_mm_sqrt_pd(_mm_loadu_pd(upper + t)), u);
        const __m128d m = _mm_loadu_pd(middle + t);
        _mm_storeu_pd(upper + t, _mm_add_pd(m, w));
        _mm_storeu_pd(lower + t, _mm_sub_pd(m, w));
      }
    }
    // bands()'s operations on plain doubles (std::fma is the scalar units' fmadd()).
    for (; t < to; ++t) {
      const double sd = std::sqrt(upper[t]);
      if (up == dn) {
        const double w = sd * up;
        upper[t] = middle[t] + w;
        lower[t] = middle[t] - w;
      } else {
        upper[t] = std::fma(sd, up, middle[t]);
        lower[t] = middle[t] - sd * dn;
      }
    }
  }
  // One whole series over the SMA (the other averages through step()): SmaState's and the
  // variance's operations in their order, the window read straight from the array, so the same
  // bits.
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    if (iparam(pr, 3) != 0) {
      step_series<Bbands>(pr, n, in, 1, out, 3);
      return;
    }
    const double up = pr.v[1], dn = pr.v[2];
    VarSums s(iparam(pr, 0));
    const auto p = static_cast<std::size_t>(s.p);
    const auto pd = static_cast<double>(p);
    const double* x = in[0];
    double *upper = out[0], *middle = out[1], *lower = out[2];
    double total = 0.0;
    // A chunk at a time: the sums in order, each bar's variance parked in the upper band; then
    // the bands, whose square roots no bar waits on, in lanes (band_pass).
    constexpr std::size_t kChunk = 2048;
    for (std::size_t from = 0; from < n; from += kChunk) {
      const std::size_t to = std::min(n, from + kChunk);
      std::size_t first = to;  // the chunk's first bar with a variance (the warm-up is before)
      for (std::size_t t = from; t < to; ++t) {
        const double* w = x + (t + 1 >= p ? t + 1 - p : 0);  // the window's oldest bar, once full
        total = total + x[t];
        double var;
        if (!s.add(
                x[t], *w, [w](int j) { return w[j]; }, var)) {
          upper[t] = middle[t] = lower[t] = kNaN;
          continue;
        }
        first = std::min(first, t);
        const double mid = total / pd;
        total = total - *w;
        upper[t] = var;
        middle[t] = mid;
      }
      band_pass(upper, middle, lower, first, to, up, dn);
    }
  }
#endif
};

// TA_ATR / TA_NATR: SMA of the first p true ranges (bars 1..p), then Wilder's step written as
// TA-Lib writes it: atr = wAlpha * tr + wBeta * atr, wBeta = (p - 1) / p, wAlpha = 1 - wBeta,
// with wBeta * atr fused into the sum as TA-Lib's FMA build fuses it.
template <bool Normalized>
struct AtrT {
  // A batch runs each series of kScalarSeriesFrom bars or more through the scalar series form,
  // shorter ones a vector's series at a time in lanes_form() (stepped through run_groups() the
  // lanes had measured slower than the scalar series form). Measured, 32 series (batch, `out=`,
  // us, scalar series / AVX2 lanes / AVX-512 lanes): 1,000 bars 46 / 29 / 32, 10,000 365 / 209 /
  // 270, 20,000 729 / 419 / 647, 50,000 1,984 / 1,379 / 3,296: AVX-512's eight lanes read 24
  // streams at once and lose from about 20,000 bars, AVX2's four (12 streams) do not
  // (docs/benchmarks.md).
  static constexpr std::size_t kScalarSeriesFrom = CWTS_TA_WIDTH == 1 ? 0
                                                   : CWTS_TA_WIDTH == 8
                                                       ? 16'384
                                                       : std::numeric_limits<std::size_t>::max();
  int p;
  double beta, alpha;
  long t = 0;
  V prev_close = splat(0.0), sum = splat(0.0), atr = splat(0.0);
  explicit AtrT(const Params& pr)
      : p(iparam(pr, 0)),
        beta(static_cast<double>(p - 1) / static_cast<double>(p)),
        alpha(1.0 - beta) {}
  void reset() noexcept {
    t = 0;
    prev_close = sum = atr = splat(0.0);
  }
  void step(const V* x, V* y) noexcept {
    const V h = x[0], l = x[1], c = x[2];
    if (t == 0) {
      prev_close = c;
      ++t;
      y[0] = splat(kNaN);
      return;
    }
    const V tr = true_range(h, l, prev_close);
    prev_close = c;
    if (t < p) {
      sum = sum + tr;
      ++t;
      y[0] = splat(kNaN);
      return;
    }
    if (t++ == p) {
      atr = (sum + tr) / splat(static_cast<double>(p));
    } else {
      atr = fmadd(splat(beta), atr, splat(alpha) * tr);
    }
    y[0] = output(atr, c);
  }
  [[nodiscard]] V output(V value, V c) const noexcept {
    // TA-Lib answers TRANGE itself, not normalised, for period 1.
    return Normalized && p == 1 ? value : of(value, c);
  }
  static V of(V value, V c) noexcept {  // the output above period 1
    if constexpr (Normalized) {
      return sel(c != splat(0.0), (value / c) * splat(100.0), splat(0.0));
    } else {
      return value;
    }
  }
#if CWTS_TA_WIDTH > 1
  // A batch's series in lanes, a vector's series at a time: step() through the first p + 1 bars
  // (the first output the last of them), then Wilder's step in registers (steady_lanes()), the
  // previous close read from the input (a tile a bar back). step()'s operations in its order, so
  // the same bits.
  static void lanes_form(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out) {
    by_vector<1, 3>(n, lanes, in, out, true,
                    [&](std::size_t count, auto& ip, auto& op, bool stream) {
                      AtrT k(pr);
                      const std::size_t start =
                          warm_lanes(k, static_cast<std::size_t>(k.p) + 1, n, count, ip, op);
                      V range = k.atr;
                      const V b = splat(k.beta), a = splat(k.alpha);
                      // High, low, the close a bar back and (NATR's output) the close now.
                      constexpr std::size_t kN = Normalized ? 4 : 3;
                      const double* xs[kN][CWTS_TA_WIDTH];
                      for (std::size_t l = 0; l < CWTS_TA_WIDTH; ++l) {
                        for (std::size_t i = 0; i < kN; ++i) xs[i][l] = ip[i < 3 ? i : 2][l];
                      }
                      std::size_t lag[kN] = {};
                      lag[2] = 1;
                      steady_lanes<kN, 1, 1>(
                          start, n, count, xs, lag, op, stream,
                          [&](const V* x, V* y, std::size_t) {
                            range = fmadd(b, range, a * true_range(x[0], x[1], x[2]));
                            y[0] = k.output(range, x[kN - 1]);
                          },
                          [](V*) {});
                    });
  }
  // A sweep of periods over one series (dispatch: sweep_lanes): step()'s operations with the
  // period, beta and alpha a lane's own; the true range, the same for every lane, made once a bar.
  struct Sweep {
    using Of = AtrT;
    // The fewest sets a run of this sweep takes (kernels_dispatch.inl, sweep_fewest_impl): on
    // AVX-512 two ATR sets ran 0.72x as fast swept as one after the other (BM_Sweep).
    static constexpr std::size_t kFewest = CWTS_TA_WIDTH == 8 ? 3 : 2;
    V p = splat(0.0), beta = splat(0.0), alpha = splat(0.0), sum = splat(0.0), atr = splat(0.0);
    std::size_t most = 0;
    static bool suits(const Params& pr) noexcept { return iparam(pr, 0) >= 2; }
    Sweep(const Params* sets, std::size_t count) noexcept {
      for (std::size_t l = 0; l < static_cast<std::size_t>(CWTS_TA_WIDTH); ++l) {
        const AtrT k(sets[l < count ? l : 0]);
        p[l] = static_cast<double>(k.p);
        beta[l] = k.beta;
        alpha[l] = k.alpha;
        most = std::max(most, static_cast<std::size_t>(k.p));
      }
    }
    [[nodiscard]] std::size_t warm() const noexcept { return most + 1; }
    static V range(const double* const* in, std::size_t bar) noexcept {
      return true_range(splat(in[0][bar]), splat(in[1][bar]), splat(in[2][bar - 1]));
    }
    V first(const double* const* in, std::size_t bar) noexcept {
      if (bar == 0) return splat(kNaN);
      const V tr = range(in, bar), tv = splat(static_cast<double>(bar));
      const M before = tv < p;
      const V seeded = (sum + tr) / p;
      atr = sel(before, atr, sel(tv == p, seeded, fmadd(beta, atr, alpha * tr)));
      sum = sel(before, sum + tr, sum);
      return sel(before, splat(kNaN), of(atr, splat(in[2][bar])));
    }
    void tile(const double* const* in, std::size_t bar, V* y) noexcept {
      for (std::size_t b = 0; b < static_cast<std::size_t>(CWTS_TA_WIDTH); ++b) {
        atr = fmadd(beta, atr, alpha * range(in, bar + b));
        y[b] = of(atr, splat(in[2][bar + b]));
      }
    }
  };
#endif
#if CWTS_TA_WIDTH == 1
  // One whole series read straight from its arrays: step()'s operations in step()'s order (the
  // same bits), without its per-bar state and branches.
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    const AtrT k(pr);
    const double *h = in[0], *l = in[1], *c = in[2];
    double* y = out[0];
    const auto p = static_cast<std::size_t>(k.p);
    std::fill(y, y + std::min(n, p), kNaN);
    if (n <= p) return;
    double sum = 0.0;
    for (std::size_t t = 1; t < p; ++t) sum = sum + true_range(h[t], l[t], c[t - 1]);
    double a = (sum + true_range(h[p], l[p], c[p - 1])) / static_cast<double>(p);
    y[p] = k.output(a, c[p]);
    for (std::size_t t = p + 1; t < n; ++t) {
      a = fmadd(k.beta, a, k.alpha * true_range(h[t], l[t], c[t - 1]));
      y[t] = k.output(a, c[t]);
    }
  }
#endif
};
using Atr = AtrT<false>;
using Natr = AtrT<true>;
