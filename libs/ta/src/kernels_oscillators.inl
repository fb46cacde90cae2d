// Part of kernels.inl (one unit per ISA): ADX, the stochastics (STOCH, STOCHF, STOCHRSI), MFI, OBV
// and CCI. Same lane type and rules: TA-Lib's C code operation for operation, internal linkage.

// TA_ADX.
struct Adx {
  int p;
  long t = 0;
  V ph = splat(0.0), pl = splat(0.0), pc = splat(0.0);
  V mdm = splat(0.0), pdm = splat(0.0), tr = splat(0.0), sumdx = splat(0.0), adx = splat(0.0);
  explicit Adx(const Params& pr) : p(iparam(pr, 0)) {}
  void reset() noexcept {
    t = 0;
    ph = pl = pc = mdm = pdm = tr = sumdx = adx = splat(0.0);
  }
  void step(const V* x, V* y) noexcept {
    const V h = x[0], l = x[1], c = x[2];
    y[0] = splat(kNaN);
    if (t == 0) {
      ph = h;
      pl = l;
      pc = c;
      ++t;
      return;
    }
    const V diffp = h - ph;
    ph = h;
    const V diffm = pl - l;
    pl = l;
    const V pd = splat(static_cast<double>(p));
    if (t >= p) {
      mdm = mdm - mdm / pd;
      pdm = pdm - pdm / pd;
    }
    const M minus = mand(diffm > splat(0.0), diffp < diffm);
    const M plus = mand(mnot(minus), mand(diffp > splat(0.0), diffp > diffm));
    mdm = sel(minus, mdm + diffm, mdm);
    pdm = sel(plus, pdm + diffp, pdm);
    const V r = true_range_adx(ph, pl, pc);
    pc = c;
    if (t < p) {  // bars 1 .. p - 1: plain sums
      tr = tr + r;
      ++t;
      return;
    }
    tr = tr - (tr / pd) + r;
    const M tr_ok = tr != splat(0.0);
    const V minus_di = splat(100.0) * (mdm / tr);
    const V plus_di = splat(100.0) * (pdm / tr);
    const V di_sum = minus_di + plus_di;
    const M ok = mand(tr_ok, di_sum != splat(0.0));
    const V dx = splat(100.0) * (vabs(minus_di - plus_di) / di_sum);
    if (t < 2 * p - 1) {  // bars p .. 2p - 2: sum of DX
      sumdx = sel(ok, sumdx + dx, sumdx);
      ++t;
      return;
    }
    if (t == 2 * p - 1) {
      sumdx = sel(ok, sumdx + dx, sumdx);
      adx = sumdx / pd;
    } else {
      adx = smooth(adx, dx, ok, p, pd);
    }
    ++t;
    y[0] = adx;
  }
  // Wilder's smoothing of the DX into the ADX, where TA-Lib counts the bar (`ok`).
  static V smooth(V adx, V dx, M ok, int p, V pd) noexcept {
    return sel(ok, ((adx * splat(static_cast<double>(p - 1))) + dx) / pd, adx);
  }
#if CWTS_TA_WIDTH == 1
  // One whole series: step()'s operations in its order (the same bits), the state in locals and
  // each phase (the sums, the first DX sum, the smoothed ADX) in a loop of its own. The two sides'
  // movements run as the two lanes of one SSE2 vector {-DM, +DM}: one division for both where
  // step() makes two, and their selections without a branch (a mispredicted branch here flushes
  // the divisions in flight).
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    typedef double D2 __attribute__((vector_size(16)));
    const int p = iparam(pr, 0);
    const auto up = static_cast<std::size_t>(p);
    const auto pd = static_cast<double>(p);
    const D2 pd2 = {pd, pd};
    const double *h = in[0], *l = in[1], *c = in[2];
    double* y = out[0];
    std::fill(y, y + std::min(n, 2 * up - 1), kNaN);
    D2 dm = {0.0, 0.0};  // {-DM, +DM}
    double tr = 0.0, sumdx = 0.0, adx = 0.0;
    // One bar: TA-Lib's -DM takes diffm where diffm > 0 and diffp < diffm, its +DM diffp where
    // diffp > 0 and diffp > diffm (never both), so each lane takes its own where it is positive
    // and larger than the other side's.
    const auto bar = [&](std::size_t i, bool smoothed) {
      const D2 diff = {l[i - 1] - l[i], h[i] - h[i - 1]};
      const D2 other = {diff[1], diff[0]};
      if (smoothed) dm = dm - dm / pd2;
      dm = ((diff > 0.0) & (other < diff)) ? dm + diff : dm;
      const double r = true_range_adx(h[i], l[i], c[i - 1]);
      tr = smoothed ? tr - (tr / pd) + r : tr + r;
    };
    // The bar's DX and whether TA-Lib counts it (step()'s operations).
    const auto dx_of = [&](double& dx) {
      const D2 di = D2{100.0, 100.0} * (dm / D2{tr, tr});
      const double di_sum = di[0] + di[1];
      dx = 100.0 * (std::fabs(di[0] - di[1]) / di_sum);
      return tr != 0.0 && di_sum != 0.0;
    };
    std::size_t t = 1;
    for (; t < up && t < n; ++t) bar(t, false);
    double dx = 0.0;
    for (; t < 2 * up && t < n; ++t) {
      bar(t, true);
      const bool ok = dx_of(dx);
      sumdx = ok ? sumdx + dx : sumdx;
    }
    if (t == 2 * up) {
      adx = sumdx / pd;
      y[t - 1] = adx;
    }
    for (; t < n; ++t) {
      bar(t, true);
      const bool ok = dx_of(dx);
      adx = smooth(adx, dx, ok, p, pd);
      y[t] = adx;
    }
  }
#endif
};

// Fast %K as TA_STOCH / TA_STOCHF compute it: (close - lowest) / (highest - lowest) * 100.
struct FastK {
  Extreme<true> lo;
  Extreme<false> hi;
  int p;
  long t = 0;
  explicit FastK(int period) : lo(period), hi(period), p(period) {}
  void reset() noexcept {
    lo.reset();
    hi.reset();
    t = 0;
  }
  bool step(V h, V l, V c, V& k) noexcept {
    lo.step(l);
    hi.step(h);
    if (t++ < p - 1) return false;
    k = value(hi.value, lo.value, c);
    return true;
  }
  static V value(V highest, V lowest, V close) noexcept {
    const V range = highest - lowest;
    return sel(range != splat(0.0), (close - lowest) / range * splat(100.0), splat(0.0));
  }
#if CWTS_TA_WIDTH > 1
  // One series of STOCH or STOCHF (K): fast %K into out[0] through hl_window_series (the
  // extremes and value() with the bars in the lanes), then K::smooth_series() over that array:
  // each average a pass of its own scalar series form (run_scalar_ma), which computes what
  // K::smoothed() steps bar by bar, in its order: step()'s bits. step() itself from the first bar
  // on a series hl_window_series cannot keep. Not for a batch (series_suits false): there the
  // averages are worth more in lanes than the extremes.
  template <class K>
  static void series_of(const Params& pr, std::size_t n, const double* const* in,
                        double* const* out) {
    const auto p = static_cast<std::size_t>(iparam(pr, 0));
    for (std::size_t j = 0; j < 2; ++j) fill_nan(out[j], n, p - 1);
    if (!hl_window_series(p, n, in, value, out[0])) return step_series<K>(pr, n, in, 3, out, 2);
    if (n >= p) K::smooth_series(pr, p - 1, n, out);
  }
  static bool series_suits(const Params& /*unused*/, std::size_t /*unused*/,
                           const double* const* /*unused*/) noexcept {
    return false;
  }
#endif
};

// Bars a kernel's MA (MaAny) of this type and period takes before its first value (none for
// period 1: the value itself, whatever the type).
inline std::size_t ma_warmup(int type, int period) noexcept {
  return static_cast<std::size_t>(ma_lookback_of(type, period));
}

// y[t] = NaN for t in [begin, min(n, end)).
inline void nan_range(double* y, std::size_t begin, std::size_t end, std::size_t n) noexcept {
  for (std::size_t t = begin; t < end && t < n; ++t) y[t] = kNaN;
}

// TA_STOCH: slow %K = MA(fast %K), slow %D = MA(slow %K), each of its MAType.
struct Stoch {
  FastK fk;
  MaAny sk, sd;
  explicit Stoch(const Params& p)
      : fk(iparam(p, 0)), sk(iparam(p, 2), iparam(p, 1)), sd(iparam(p, 4), iparam(p, 3)) {}
  void reset() noexcept {
    fk.reset();
    sk.reset();
    sd.reset();
  }
  void step(const V* x, V* y) noexcept {
    V k;
    if (fk.step(x[0], x[1], x[2], k)) {
      smoothed(k, y);
    } else {
      y[0] = y[1] = splat(kNaN);
    }
  }
  // After fast %K: slow %K and slow %D, or NaN while their averages warm up.
  void smoothed(V k, V* y) noexcept {
    V slowk, slowd;
    if (sk.step(k, slowk) && sd.step(slowk, slowd)) {
      y[0] = slowk;
      y[1] = slowd;
    } else {
      y[0] = y[1] = splat(kNaN);
    }
  }
#if CWTS_TA_WIDTH > 1
  // smoothed() over a whole series, fast %K in out[0] from bar `begin`: slow %K's average over
  // it, slow %D's over slow %K from its first value (smoothed() steps slow %D only then), both
  // NaN until slow %D has its first value. The outputs hold the averages on the way (slow %K in
  // out[1], slow %D over it into out[0], then exchanged): no fresh array to fault in per call.
  static void smooth_series(const Params& pr, std::size_t begin, std::size_t n,
                            double* const* out) {
    const int kp = iparam(pr, 1), kt = iparam(pr, 2), dp = iparam(pr, 3), dt = iparam(pr, 4);
    detail::run_scalar_ma(kt, kp, n - begin, out[0] + begin, out[1] + begin);
    const std::size_t kfirst = begin + ma_warmup(kt, kp);
    if (kfirst < n) detail::run_scalar_ma(dt, dp, n - kfirst, out[1] + kfirst, out[0] + kfirst);
    const std::size_t first = std::min(n, kfirst + ma_warmup(dt, dp));
    std::swap_ranges(out[0] + first, out[0] + n, out[1] + first);
    nan_range(out[0], begin, first, n);
    nan_range(out[1], begin, first, n);
  }
  static bool series_suits(const Params& pr, std::size_t n, const double* const* in) noexcept {
    return FastK::series_suits(pr, n, in);
  }
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    FastK::series_of<Stoch>(pr, n, in, out);
  }
#endif
};

// TA_STOCHF: fast %D = MA(fast %K) of its MAType.
struct Stochf {
  FastK fk;
  MaAny fd;
  explicit Stochf(const Params& p) : fk(iparam(p, 0)), fd(iparam(p, 2), iparam(p, 1)) {}
  void reset() noexcept {
    fk.reset();
    fd.reset();
  }
  void step(const V* x, V* y) noexcept {
    V k;
    if (fk.step(x[0], x[1], x[2], k)) {
      smoothed(k, y);
    } else {
      y[0] = y[1] = splat(kNaN);
    }
  }
  // After fast %K: fast %K and fast %D, or NaN while fast %D's average warms up.
  void smoothed(V k, V* y) noexcept {
    V d;
    if (fd.step(k, d)) {
      y[0] = k;
      y[1] = d;
    } else {
      y[0] = y[1] = splat(kNaN);
    }
  }
  // smoothed() over a whole series, fast %K in out[0] from bar `begin`: fast %D's average over
  // it, both NaN until fast %D has its first value.
  static void smooth_series(const Params& pr, std::size_t begin, std::size_t n,
                            double* const* out) {
    const int dp = iparam(pr, 1), dt = iparam(pr, 2);
    detail::run_scalar_ma(dt, dp, n - begin, out[0] + begin, out[1] + begin);
    const std::size_t first = begin + ma_warmup(dt, dp);
    nan_range(out[0], begin, first, n);
    nan_range(out[1], begin, first, n);
  }
#if CWTS_TA_WIDTH > 1
  static bool series_suits(const Params& pr, std::size_t n, const double* const* in) noexcept {
    return FastK::series_suits(pr, n, in);
  }
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    FastK::series_of<Stochf>(pr, n, in, out);
  }
#endif
};

// TA_STOCHRSI: TA_STOCHF over the RSI series (its high, low and close all the RSI).
struct StochRsi {
  Rsi rsi;
  Stochf stochf;
  long rsi_lookback;
  long t = 0;
  explicit StochRsi(const Params& p)
      : rsi(p), stochf(stochf_params(p)), rsi_lookback(iparam(p, 0)) {}
  static Params stochf_params(const Params& p) noexcept {
    Params f{};
    f.v[0] = p.v[1];
    f.v[1] = p.v[2];
    f.v[2] = p.v[3];
    return f;
  }
  void reset() noexcept {
    rsi.reset();
    stochf.reset();
    t = 0;
  }
  void step(const V* x, V* y) noexcept {
    V r;
    rsi.step(x, &r);
    if (t++ < rsi_lookback) {
      y[0] = y[1] = splat(kNaN);
      return;
    }
    const V hlc[3] = {r, r, r};
    stochf.step(hlc, y);
  }
#if CWTS_TA_WIDTH == 1
  // One whole series: the RSI through its own series form (into out[1], no fresh array), fast %K
  // over it stepped (its extremes cost little next to the averages), fast %D as a pass over the %K
  // array (Stochf::smooth_series): what step() computes, the same bits.
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    const auto lb = static_cast<std::size_t>(iparam(pr, 0));
    if (n <= lb) {
      for (std::size_t j = 0; j < 2; ++j) fill_nan(out[j], n, n);
      return;
    }
    double* const r = out[1];  // the RSI, each value read before its bar's output is written
    double* rout[1] = {r};
    detail::run_scalar_series(Kind::kRsi, pr, n, in, rout);
    fill_nan(out[0], n, lb);
    fill_nan(out[1], n, lb);
    const Params fp = stochf_params(pr);
    FastK fk(iparam(fp, 0));
    std::size_t begin = n;  // fast %K's first value
    for (std::size_t t = lb; t < n; ++t) {
      const double v = r[t];
      V k;
      if (fk.step(v, v, v, k)) {
        out[0][t] = k;
        begin = std::min(begin, t);
      } else {
        out[0][t] = out[1][t] = kNaN;
      }
    }
    if (begin < n) Stochf::smooth_series(fp, begin, n, out);
  }
#else
  // One whole series: the RSI through its scalar series form into out[1], then STOCHF's one-series
  // form over it from its first value, as FastK::series_of() runs it (the window extremes and %K
  // with the bars in the lanes, fast %D over that), fast %D's warm-up NaN written only once the
  // RSI under it has been read. Where the extremes cannot keep step()'s bits (the RSI holds a NaN
  // or a -0) or take the window (fast %K longer than a chunk), the scalar series form above from
  // the first bar. What step() computes, the same bits. A batch keeps STOCHRSI in lanes
  // (series_suits).
  static bool series_suits(const Params& /*unused*/, std::size_t /*unused*/,
                           const double* const* /*unused*/) noexcept {
    return false;
  }
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    const auto lb = static_cast<std::size_t>(iparam(pr, 0));
    if (n <= lb) {
      for (std::size_t j = 0; j < 2; ++j) fill_nan(out[j], n, n);
      return;
    }
    double* const r = out[1];
    double* rout[1] = {r};
    detail::run_scalar_series(Kind::kRsi, pr, n, in, rout);
    fill_nan(out[0], n, lb);
    fill_nan(out[1], n, lb);
    const Params fp = stochf_params(pr);
    const auto p = static_cast<std::size_t>(iparam(fp, 0));
    const std::size_t m = n - lb;
    const double* rsi_hlc[3] = {r + lb, r + lb, r + lb};
    double* const from_lb[2] = {out[0] + lb, out[1] + lb};
    fill_nan(from_lb[0], m, p - 1);
    if (!hl_window_series(p, m, rsi_hlc, FastK::value, from_lb[0])) {
      detail::run_scalar_series(Kind::kStochRsi, pr, n, in, out);  // from the first bar again
      return;
    }
    fill_nan(from_lb[1], m, p - 1);
    if (m >= p) Stochf::smooth_series(fp, p - 1, m, from_lb);
  }
#endif
};

// TA_MFI: money flow split by the sign of the typical-price change (a change within 1e-14 of
// the prices' magnitude is no change), summed over a p-bar circular buffer; the sums are reset
// to exactly 0 after p bars without flow, the ratio clamped into [0, 100], 0 for no flow.
struct Mfi {
  int p;
  Buf pos, neg;
  std::size_t idx = 0;
  long t = 0;
  V prev = splat(0.0), psum = splat(0.0), nsum = splat(0.0), null_run = splat(0.0);
  explicit Mfi(const Params& pr)
      : p(iparam(pr, 0)), pos(static_cast<std::size_t>(p)), neg(static_cast<std::size_t>(p)) {}
  void reset() noexcept {
    pos.clear();
    neg.clear();
    idx = 0;
    t = 0;
    prev = psum = nsum = null_run = splat(0.0);
  }
  void step(const V* x, V* y) noexcept {
    const V tp = (x[0] + x[1] + x[2]) / splat(3.0);
    if (t == 0) {
      prev = tp;
      ++t;
      y[0] = splat(kNaN);
      return;
    }
    if (t > p) {
      psum = psum - pos[idx];
      nsum = nsum - neg[idx];
    }
    const V d = tp - prev;
    const V scale = vabs(tp) + vabs(prev);
    prev = tp;
    const V flow = tp * x[3];
    const V mf = sel(vabs(d) <= splat(0.00000000000001) * scale, splat(0.0), flow);
    const M dn = d < splat(0.0);
    const V pf = sel(dn, splat(0.0), mf);
    const V nf = sel(dn, mf, splat(0.0));
    pos[idx] = pf;
    neg[idx] = nf;
    psum = psum + pf;
    nsum = nsum + nf;
    null_run = sel(mf == splat(0.0), null_run + splat(1.0), splat(0.0));
    const M empty = null_run >= splat(static_cast<double>(p));
    null_run = sel(empty, splat(static_cast<double>(p)), null_run);
    psum = sel(empty, splat(0.0), psum);
    nsum = sel(empty, splat(0.0), nsum);
    idx = idx + 1 == static_cast<std::size_t>(p) ? 0 : idx + 1;
    if (t++ < p) {
      y[0] = splat(kNaN);
      return;
    }
    y[0] = ratio(psum, nsum);
  }
  static V ratio(V ps, V ns) noexcept {
    const V total = ps + ns;
    const V clamped = sel(ps < splat(0.0), splat(0.0), sel(ps > total, total, ps));
    return sel(total <= splat(0.0), splat(0.0), splat(100.0) * (clamped / total));
  }
  // One whole series (run()), a chunk of bars at a time: the typical prices, then each bar's
  // positive and negative flow, in the lanes; then the two sums in order, one bar at a time (the
  // only recurrence); then the ratios in the lanes. step()'s operations on every value, so the same
  // bits. The flows of the last p bars stay ahead of the chunk's, for the values leaving the sums.
  // A bar's flow is zero (step()'s mf == 0) exactly when both its flows are: one of them is mf.
  // A batch keeps MFI in lanes (series_suits), four or eight sums per chain.
  static bool series_suits(const Params& /*unused*/, std::size_t /*unused*/,
                           const double* const* /*unused*/) noexcept {
    return false;
  }
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    constexpr std::size_t W = CWTS_TA_WIDTH;
    const auto q = static_cast<std::size_t>(iparam(pr, 0));
    const double *high = in[0], *low = in[1], *close = in[2], *volume = in[3];
    double* y = out[0];
    if (n == 0) return;
    y[0] = kNaN;
    // Chunks of at least q bars (the carried flows fit ahead of one), or the whole series.
    const std::size_t chunk = std::min(n, std::max<std::size_t>(2048, q));
    // pf / nf[i - s + q]: bar i's positive / negative flow in the chunk from bar s (bars s - q ..
    // s - 1 before it); tp[i + 1 - s]: bar i's typical price, from bar s - 1; ns[i - s]: the
    // negative sum.
    Doubles up_buf(q + chunk, Doubles::Unset{}), down_buf(q + chunk, Doubles::Unset{});
    Doubles tp_buf(chunk + 1, Doubles::Unset{}), ns_buf(chunk, Doubles::Unset{});
    double* const pf = up_buf.data();
    double* const nf = down_buf.data();
    double* const tp = tp_buf.data();
    double* const ns = ns_buf.data();
    double up_sum = 0.0, down_sum = 0.0;
    std::size_t idle_run = 0;
    for (std::size_t s = 0; s < n; s += chunk) {
      const std::size_t e = std::min(n, s + chunk);
      // Lanes 0 .. W - 1: bars i .. i + W - 1 (the tails: lane 0, its input splat).
      const auto typical_price = [](V h, V l, V c) { return (h + l + c) / splat(3.0); };
      std::size_t i = s == 0 ? 0 : s - 1;
      for (; i + W <= e; i += W) {
        V h, l, c;
        std::memcpy(&h, high + i, sizeof(V));
        std::memcpy(&l, low + i, sizeof(V));
        std::memcpy(&c, close + i, sizeof(V));
        const V v = typical_price(h, l, c);
        std::memcpy(tp + (i + 1 - s), &v, sizeof(V));
      }
      for (; i < e; ++i) {
        const V v = typical_price(splat(high[i]), splat(low[i]), splat(close[i]));
        std::memcpy(tp + (i + 1 - s), &v, sizeof(double));
      }
      const auto flows = [&](std::size_t b, V now, V before, V vol, std::size_t lanes) {
        const V d = now - before;
        const V scale = vabs(now) + vabs(before);
        const V flow = now * vol;
        const V mf = sel(vabs(d) <= splat(0.00000000000001) * scale, splat(0.0), flow);
        const M dn = d < splat(0.0);
        const V up = sel(dn, splat(0.0), mf);
        const V down = sel(dn, mf, splat(0.0));
        std::memcpy(pf + (b - s + q), &up, lanes * sizeof(double));
        std::memcpy(nf + (b - s + q), &down, lanes * sizeof(double));
      };
      const std::size_t first = std::max<std::size_t>(s, 1);
      for (i = first; i + W <= e; i += W) {
        V now, before, vol;
        std::memcpy(&now, tp + (i + 1 - s), sizeof(V));
        std::memcpy(&before, tp + (i - s), sizeof(V));
        std::memcpy(&vol, volume + i, sizeof(V));
        flows(i, now, before, vol, W);
      }
      for (; i < e; ++i) flows(i, splat(tp[i + 1 - s]), splat(tp[i - s]), splat(volume[i]), 1);
      for (i = first; i < e; ++i) {
        if (i > q) {
          up_sum = up_sum - pf[i - s];
          down_sum = down_sum - nf[i - s];
        }
        const double up = pf[i - s + q], down = nf[i - s + q];
        up_sum = up_sum + up;
        down_sum = down_sum + down;
        idle_run = up == 0.0 && down == 0.0 ? idle_run + 1 : 0;
        if (idle_run >= q) [[unlikely]] {
          idle_run = q;
          up_sum = down_sum = 0.0;
        }
        if (i < q) {
          y[i] = kNaN;
        } else {
          y[i] = up_sum;
          ns[i - s] = down_sum;
        }
      }
      for (i = std::max(s, q); i + W <= e; i += W) {
        V ps, neg_sum;
        std::memcpy(&ps, y + i, sizeof(V));
        std::memcpy(&neg_sum, ns + (i - s), sizeof(V));
        const V r = ratio(ps, neg_sum);
        std::memcpy(y + i, &r, sizeof(V));
      }
      for (; i < e; ++i) {
        const V r = ratio(splat(y[i]), splat(ns[i - s]));
        std::memcpy(y + i, &r, sizeof(double));
      }
      if (e < n) {  // the chunk's last q flows lead the next one
        std::memmove(pf, pf + (e - s), q * sizeof(double));
        std::memmove(nf, nf + (e - s), q * sizeof(double));
      }
    }
  }
};

// TA_OBV.
struct Obv {
  long t = 0;
  V obv = splat(0.0), prev = splat(0.0);
  explicit Obv(const Params&) {}
  void reset() noexcept {
    t = 0;
    obv = prev = splat(0.0);
  }
  void step(const V* x, V* y) noexcept {
    const V c = x[0], v = x[1];
    if (t++ == 0) {
      obv = v;
    } else {
      const M up = c > prev;
      const M dn = mand(mnot(up), c < prev);
      obv = sel(up, obv + v, sel(dn, obv - v, obv));
    }
    y[0] = obv;
    prev = c;
  }
#if CWTS_TA_WIDTH > 1
  // One whole series: each bar's signed volume in the lanes (+v up, -v down, -0 otherwise), then
  // the running sum in order, one addition per bar. The same bits as step(): obv - v is obv + (-v)
  // in IEEE arithmetic, and x + (-0) is x for every x (+0, -0 and a quiet NaN included), so the
  // chain carries one addition and no select. A NaN volume on a down bar is added as it is, not
  // negated: x86 answers the NaN operand, so obv - NaN and obv + NaN are the same NaN, sign
  // included, where obv + (-NaN) would flip it. (A signalling NaN sum would come out quiet;
  // arrays from numpy hold quiet NaNs.) A batch keeps OBV in lanes (series_suits), four or eight
  // sums per chain.
  static bool series_suits(const Params& /*unused*/, std::size_t /*unused*/,
                           const double* const* /*unused*/) noexcept {
    return false;
  }
  static void series(const Params& /*unused*/, std::size_t n, const double* const* in,
                     double* const* out) {
    constexpr std::size_t W = CWTS_TA_WIDTH;
    if (n == 0) return;
    const double *c = in[0], *v = in[1];
    double* y = out[0];
    const auto signed_volume = [](V now, V before, V vol) {
      const M up = now > before;
      const M dn = mand(mnot(up), now < before);
      return sel(up, vol, sel(dn, sel(vol != vol, vol, -vol), splat(-0.0)));
    };
    std::size_t t = 1;
    for (; t + W <= n; t += W) {
      V vc, vp, vv;
      std::memcpy(&vc, c + t, sizeof(V));
      std::memcpy(&vp, c + t - 1, sizeof(V));
      std::memcpy(&vv, v + t, sizeof(V));
      const V d = signed_volume(vc, vp, vv);
      std::memcpy(y + t, &d, sizeof(V));
    }
    for (; t < n; ++t) y[t] = signed_volume(splat(c[t]), splat(c[t - 1]), splat(v[t]))[0];
    double obv = v[0];
    y[0] = obv;
    for (t = 1; t < n; ++t) {
      obv += y[t];
      y[t] = obv;
    }
  }
#endif
};

// TA_CCI: typical prices in a circular buffer summed in buffer order (not time order), mean
// deviation recomputed over the buffer each bar.
struct Cci {
  int p;
  Buf ring;
  std::size_t idx = 0;
  long t = 0;
  explicit Cci(const Params& pr) : p(iparam(pr, 0)), ring(static_cast<std::size_t>(p)) {}
  void reset() noexcept {
    ring.clear();
    idx = 0;
    t = 0;
  }
  void step(const V* x, V* y) noexcept {
    const V last = (x[0] + x[1] + x[2]) / splat(3.0);
    ring[idx] = last;
    idx = idx + 1 == static_cast<std::size_t>(p) ? 0 : idx + 1;
    if (t++ < p - 1) {
      y[0] = splat(kNaN);
      return;
    }
    V avg = splat(0.0);
    for (std::size_t j = 0; j < static_cast<std::size_t>(p); ++j) avg = avg + ring[j];
    avg = avg / splat(static_cast<double>(p));
    V dev = splat(0.0);
    for (std::size_t j = 0; j < static_cast<std::size_t>(p); ++j) dev = dev + vabs(ring[j] - avg);
    const V num = last - avg;
    const M ok = mand(num != splat(0.0), dev != splat(0.0));
    y[0] = sel(ok, num / (splat(0.015) * (dev / splat(static_cast<double>(p)))), splat(0.0));
  }
};
