// Part of kernels.inl (one unit per ISA): TA-Lib's variance, STDDEV, BBANDS, ATR and NATR.
// Same lane type and rules: TA-Lib's C code operation for operation, internal linkage.

// TA-Lib's variance (var.c, "cancellation-free variance"): running sums of deviations from a
// shift, the shift re-anchored at the window mean (two-pass over the window) when the variance
// falls below 1e-6 of the mean squared deviation, when a removed value dwarfs the sum, or every
// 32 windows; a re-anchored variance under 1e-12 of its scale is 0.
struct VarState {
  int p;
  double inv;
  Buf ring;
  std::size_t head = 0;
  long t = 0;
  V shift = splat(0.0), t1 = splat(0.0), t2 = splat(0.0), since = splat(0.0);
  explicit VarState(int period)
      : p(period), inv(1.0 / static_cast<double>(period)), ring(static_cast<std::size_t>(period)) {}
  void reset() noexcept {
    ring.clear();
    head = 0;
    t = 0;
    shift = t1 = t2 = since = splat(0.0);
  }
  bool step(V x, V& var) noexcept {
    ring[head] = x;
    head = head + 1 == static_cast<std::size_t>(p) ? 0 : head + 1;
    if (t == 0) {
      shift = x;
      since = splat(32.0 * p);
    }
    if (t++ < p - 1) {
      V d = x - shift;
      t1 = t1 + d;
      d = d * d;
      t2 = t2 + d;
      return false;
    }
    V d = x - shift;
    t1 = t1 + d;
    d = d * d;
    t2 = t2 + d;
    V m1 = t1 * splat(inv);
    var = t2 * splat(inv) - m1 * m1;
    const V oldest = ring[head];  // bar t - p + 1 (== x when p is 1)
    V r = oldest - shift;
    t1 = t1 - r;
    r = r * r;
    t2 = t2 - r;
    since = since - splat(1.0);
    const M var_tiny = var < splat(0.000001) * (t2 * splat(inv));
    const M drop_huge = r > splat(1000000.0) * t2;
    const M reseed = mor(mor(var_tiny, drop_huge), since <= splat(0.0));
    if (any(reseed)) {
      std::size_t pos = head;
      V sum = splat(0.0);
      for (int j = 0; j < p; ++j) {
        sum = sum + ring[pos];
        pos = pos + 1 == static_cast<std::size_t>(p) ? 0 : pos + 1;
      }
      const V nshift = sum * splat(inv);
      V n1 = splat(0.0), n2 = splat(0.0);
      pos = head;
      for (int j = 0; j < p; ++j) {
        V e = ring[pos] - nshift;
        n1 = n1 + e;
        e = e * e;
        n2 = n2 + e;
        pos = pos + 1 == static_cast<std::size_t>(p) ? 0 : pos + 1;
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
    return true;
  }
};

// TA_STDDEV: sqrt of the variance, times nbdev unless it is 1.
struct Stddev {
  VarState v;
  double nbdev;
  explicit Stddev(const Params& pr) : v(iparam(pr, 0)), nbdev(pr.v[1]) {}
  void reset() noexcept { v.reset(); }
  void step(const V* x, V* y) noexcept {
    V var;
    if (!v.step(x[0], var)) {
      y[0] = splat(kNaN);
      return;
    }
    y[0] = nbdev != 1.0 ? vsqrt(var) * splat(nbdev) : vsqrt(var);
  }
};

// TA_BBANDS: middle = MA(p) of its MAType, bands = middle +/- STDDEV(p, 1) * nbdev. For SMA the
// deviation is about that same mean; for any other type it is still the SMA-window deviation
// (TA_STDDEV), as TA-Lib computes it: called from the average's first output, so its running sums
// start p - 1 bars before that, not at the first bar (the same values to a few ulp; its bits).
struct Bbands {
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
    const V sd = vsqrt(var);
    if (up == dn) {  // one product for both bands
      const V w = sd * splat(up);
      y[0] = mid + w;
      y[2] = mid - w;
    } else {  // TA-Lib's FMA build fuses the upper band's product with its sum, not the lower's
      y[0] = fmadd(sd, splat(up), mid);
      y[2] = mid - sd * splat(dn);
    }
    y[1] = mid;
  }
};

// TA_ATR / TA_NATR: SMA of the first p true ranges (bars 1..p), then Wilder's step written as
// TA-Lib writes it: atr = wAlpha * tr + wBeta * atr, wBeta = (p - 1) / p, wAlpha = 1 - wBeta,
// with wBeta * atr fused into the sum as TA-Lib's FMA build fuses it.
template <bool Normalized>
struct AtrT {
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
    if constexpr (Normalized) {
      // TA-Lib answers TRANGE itself, not normalised, for period 1.
      return p == 1 ? value : sel(c != splat(0.0), (value / c) * splat(100.0), splat(0.0));
    } else {
      return value;
    }
  }
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
