// Part of kernels.inl (one unit per ISA): MOM, ROC and ROCR, MIN and MAX, TRANGE, CMO, the DI pair,
// WILLR, SAR and VWAP. Same lane type and rules: TA-Lib's C code operation for operation, internal
// linkage.

// TA_ROC, TA_ROCR and TA_MOM: against the value p bars back.
enum class Lag { kMom, kRoc, kRocr };
template <Lag Mode>
struct LagT {
  int p;
  Buf ring;
  std::size_t head = 0;
  long t = 0;
  explicit LagT(const Params& pr) : p(iparam(pr, 0)), ring(static_cast<std::size_t>(p)) {}
  void reset() noexcept {
    ring.clear();
    head = 0;
    t = 0;
  }
  void step(const V* x, V* y) noexcept {
    const V old = ring[head];
    ring[head] = x[0];
    head = head + 1 == static_cast<std::size_t>(p) ? 0 : head + 1;
    if (t++ < p) {
      y[0] = splat(kNaN);
      return;
    }
    y[0] = value(x[0], old);
  }
  static V value(V x, V old) noexcept {
    if constexpr (Mode == Lag::kRoc) {
      return sel(old != splat(0.0), ((x / old) - splat(1.0)) * splat(100.0), splat(0.0));
    } else if constexpr (Mode == Lag::kRocr) {
      return sel(old != splat(0.0), x / old, splat(0.0));
    } else {
      return x - old;
    }
  }
#if CWTS_TA_WIDTH > 1
  // One whole series, its bars in the lanes: the value p bars back read from the array rather
  // than from the ring, the same expression per bar, so the same bits on every ISA.
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    constexpr std::size_t W = CWTS_TA_WIDTH;
    const auto p = static_cast<std::size_t>(iparam(pr, 0));
    const double* x = in[0];
    double* y = out[0];
    fill_nan(y, n, p);
    std::size_t t = p;
    for (; t + W <= n; t += W) {
      V now, old;
      std::memcpy(&now, x + t, sizeof(V));
      std::memcpy(&old, x + t - p, sizeof(V));
      const V v = value(now, old);
      std::memcpy(y + t, &v, sizeof(V));
    }
    for (; t < n; ++t) {
      const V v = value(splat(x[t]), splat(x[t - p]));
      std::memcpy(y + t, &v, sizeof(double));  // lane 0
    }
  }
#endif
};
using Roc = LagT<Lag::kRoc>;
using Rocr = LagT<Lag::kRocr>;
using Mom = LagT<Lag::kMom>;

// TA_MIN / TA_MAX: the lowest / highest of the last p values.
template <bool Lowest>
struct ExtremeK {
  Extreme<Lowest> e;
  int p;
  long t = 0;
  explicit ExtremeK(const Params& pr) : e(iparam(pr, 0)), p(iparam(pr, 0)) {}
  void reset() noexcept {
    e.reset();
    t = 0;
  }
  void step(const V* x, V* y) noexcept {
    e.step(x[0]);
    y[0] = t++ < p - 1 ? splat(kNaN) : e.value;
  }
#if CWTS_TA_WIDTH > 1
  // One whole series through SeriesExtreme (its bars in the lanes); a series with a NaN or a -0,
  // or a period longer than a chunk, runs step()'s order of comparisons, from its first bar.
  // series_suits: whether it keeps the lanes (else a batch runs it in lanes beside others).
  static bool series_suits(const Params& pr, std::size_t n, const double* const* in) noexcept {
    return SeriesExtreme<Lowest>::suits(static_cast<std::size_t>(iparam(pr, 0))) &&
           !WindowExtreme<Lowest>::unordered(in[0], n);
  }
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    const auto p = static_cast<std::size_t>(iparam(pr, 0));
    if (!SeriesExtreme<Lowest>::suits(p)) return step_series<ExtremeK>(pr, n, in, 1, out, 1);
    double* y = out[0];
    SeriesExtreme<Lowest> we(p);
    for (std::size_t s = 0; s < n; s += WindowExtreme<Lowest>::kChunk) {
      if (!we.run(in[0], s, std::min(n, s + WindowExtreme<Lowest>::kChunk), y + s)) {
        step_series<ExtremeK>(pr, n, in, 1, out, 1);
        return;
      }
    }
    fill_nan(y, n, p - 1);  // after: WindowStream writes the warm-up's bars too
  }
  // A sweep of periods over one series: the window passes shared by every period (WindowLevels),
  // in place of the lanes' step (a period's blocks differ from lane to lane).
  struct Sweep {
    using Of = ExtremeK;
    static bool suits(const Params& pr) noexcept {
      return WindowExtreme<Lowest>::suits(static_cast<std::size_t>(iparam(pr, 0)));
    }
    static void whole(const Params* sets, std::size_t count, std::size_t n, const double* const* in,
                      double* const* out) {
      std::array<std::size_t, CWTS_TA_WIDTH> periods{};
      const std::size_t longest = sweep_periods(sets, count, n, out, periods);
      WindowLevels<Lowest> levels(longest);
      for (std::size_t s = 0; s < n; s += WindowExtreme<Lowest>::kChunk) {
        const std::size_t e = std::min(n, s + WindowExtreme<Lowest>::kChunk);
        if (!levels.chunk(in[0], s, e)) {
          for (std::size_t k = 0; k < count; ++k) {
            step_series<ExtremeK>(sets[k], n, in, 1, out + k, 1);
          }
          return;
        }
        for (std::size_t k = 0; k < count; ++k) levels.last(periods[k], out[k] + s);
      }
    }
  };
#endif
};
using Min = ExtremeK<true>;
using Max = ExtremeK<false>;

// TA_TRANGE: from the second bar, the true range against the previous close.
struct Trange {
  long t = 0;
  V pc = splat(0.0);
  explicit Trange(const Params& /*unused*/) {}
  void reset() noexcept {
    t = 0;
    pc = splat(0.0);
  }
  void step(const V* x, V* y) noexcept {
    y[0] = t++ == 0 ? splat(kNaN) : true_range(x[0], x[1], pc);
    pc = x[2];
  }
  // One whole series from its arrays, its bars in the lanes, the previous close read rather than
  // carried: the same expression per bar, so the same bits on every ISA.
  static void series(const Params& /*unused*/, std::size_t n, const double* const* in,
                     double* const* out) {
    constexpr std::size_t W = CWTS_TA_WIDTH;
    if (n == 0) return;
    const double *h = in[0], *l = in[1], *c = in[2];
    double* y = out[0];
    y[0] = kNaN;
    std::size_t t = 1;
    for (; t + W <= n; t += W) {
      V vh, vl, vc;
      std::memcpy(&vh, h + t, sizeof(V));
      std::memcpy(&vl, l + t, sizeof(V));
      std::memcpy(&vc, c + t - 1, sizeof(V));
      const V v = true_range(vh, vl, vc);
      std::memcpy(y + t, &v, sizeof(V));
    }
    for (; t < n; ++t) {
      V vh = splat(h[t]), vl = splat(l[t]), vc = splat(c[t - 1]);
      const V v = true_range(vh, vl, vc);
      std::memcpy(y + t, &v, sizeof(double));  // lane 0
    }
  }
};

// TA_CMO: RSI's Wilder-smoothed gains and losses (divided by p where TA_RSI multiplies by 1/p),
// 100 * ((gain - loss) / (gain + loss)), 0 when the sum is 0.
struct Cmo : Rsi {
  using Rsi::Rsi;
  static constexpr bool kDivide = true;
  static V value(V gain, V loss) noexcept {
    const V sum = gain + loss;
    return sel(sum > splat(0.0), splat(100.0) * ((gain - loss) / sum), splat(0.0));
  }
  void step(const V* x, V* y) noexcept { Rsi::step_with<Cmo>(x, y); }
#if CWTS_TA_WIDTH > 1
  using Sweep = SweepOf<Cmo>;
  static void lanes_form(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out) {
    lanes_with<Cmo>(pr, n, lanes, in, out);  // not Rsi's, which it would inherit
  }
#endif
};

// TA_MINUS_DI / TA_PLUS_DI: the directional movement and true range of TA_ADX (summed over bars
// 1 .. p - 1, Wilder-smoothed from bar p), 100 * dm / tr; p = 1: dm / tr of the bar alone.
template <bool Minus>
struct DiT {
  int p;
  long t = 0;
  V ph = splat(0.0), pl = splat(0.0), pc = splat(0.0), dm = splat(0.0), tr = splat(0.0);
  explicit DiT(const Params& pr) : p(iparam(pr, 0)) {}
  void reset() noexcept {
    t = 0;
    ph = pl = pc = dm = tr = splat(0.0);
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
    const V pd = splat(static_cast<double>(p));
    if (p == 1) {
      M take;
      V move;
      movement(h, l, ph, pl, take, move);
      const V r = true_range_adx(h, l, pc);
      y[0] = sel(mand(take, r != splat(0.0)), move / r, splat(0.0));
    } else {
      bar(h, l, ph, pl, pc, t >= p, pd, dm, tr);
      if (t >= p) y[0] = di(dm, tr);
    }
    ph = h;
    pl = l;
    pc = c;
    ++t;
  }
  // This side's directional movement on a bar (`move`, counted where `take`).
  static void movement(V h, V l, V ph, V pl, M& take, V& move) noexcept {
    const V diffp = h - ph;
    const V diffm = pl - l;
    if constexpr (Minus) {
      take = mand(diffm > splat(0.0), diffp < diffm);
      move = diffm;
    } else {
      take = mand(diffp > splat(0.0), diffp > diffm);
      move = diffp;
    }
  }
  // One bar from the second (p above 1): its movement into dm and its true range into tr, summed
  // over bars 1 .. p - 1, Wilder-smoothed from bar p.
  static void bar(V h, V l, V ph, V pl, V pc, bool smoothed, V pd, V& dm, V& tr) noexcept {
    M take;
    V move;
    movement(h, l, ph, pl, take, move);
    const V r = true_range_adx(h, l, pc);
    if (!smoothed) {
      dm = sel(take, dm + move, dm);
      tr = tr + r;
      return;
    }
    dm = sel(take, dm - (dm / pd) + move, dm - (dm / pd));
    tr = tr - (tr / pd) + r;
  }
  static V di(V dm, V tr) noexcept {
    return sel(tr != splat(0.0), splat(100.0) * (dm / tr), splat(0.0));
  }
#if CWTS_TA_WIDTH == 1
  // One whole series (p above 1): bar()'s operations in step()'s order (the same bits), the state
  // in locals, the sums and the smoothing loops of their own.
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    if (iparam(pr, 0) == 1) {
      step_series<DiT>(pr, n, in, 3, out, 1);
      return;
    }
    const auto p = static_cast<std::size_t>(iparam(pr, 0));
    const auto pd = static_cast<double>(p);
    const double *h = in[0], *l = in[1], *c = in[2];
    double* y = out[0];
    std::fill(y, y + std::min(n, p), kNaN);
    double dm = 0.0, tr = 0.0;
    std::size_t t = 1;
    for (; t < p && t < n; ++t) bar(h[t], l[t], h[t - 1], l[t - 1], c[t - 1], false, pd, dm, tr);
    for (; t < n; ++t) {
      bar(h[t], l[t], h[t - 1], l[t - 1], c[t - 1], true, pd, dm, tr);
      y[t] = di(dm, tr);
    }
  }
#endif
};
using MinusDi = DiT<true>;
using PlusDi = DiT<false>;

// TA_WILLR: (highest - close) / (highest - lowest) * -100.
struct Willr {
  Extreme<true> lo;
  Extreme<false> hi;
  int p;
  long t = 0;
  explicit Willr(const Params& pr) : lo(iparam(pr, 0)), hi(iparam(pr, 0)), p(iparam(pr, 0)) {}
  void reset() noexcept {
    lo.reset();
    hi.reset();
    t = 0;
  }
  void step(const V* x, V* y) noexcept {
    lo.step(x[1]);
    hi.step(x[0]);
    if (t++ < p - 1) {
      y[0] = splat(kNaN);
      return;
    }
    y[0] = value(hi.value, lo.value, x[2]);
  }
  static V value(V highest, V lowest, V close) noexcept {
    const V range = highest - lowest;
    return sel(range != splat(0.0), (highest - close) / range * splat(-100.0), splat(0.0));
  }
#if CWTS_TA_WIDTH > 1
  // One whole series: the window extremes through SeriesExtreme, then value() per bar, both with
  // the bars in the lanes (the same bits as step(): the extremes are exact, value() is step()'s
  // expression). A NaN or a -0 in high or low, or a period longer than a chunk, runs step()
  // instead, from the first bar (series_suits says which: a batch runs those in lanes instead).
  static bool series_suits(const Params& pr, std::size_t n, const double* const* in) noexcept {
    return hl_window_suits(static_cast<std::size_t>(iparam(pr, 0)), n, in);
  }
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    const auto p = static_cast<std::size_t>(iparam(pr, 0));
    double* y = out[0];
    fill_nan(y, n, p - 1);
    if (!hl_window_series(p, n, in, value, y)) step_series<Willr>(pr, n, in, 3, out, 1);
  }
  // A sweep of periods over one series: the highs' and lows' passes shared (hl_window_sweep).
  struct Sweep {
    using Of = Willr;
    static bool suits(const Params& pr) noexcept {
      return WindowExtreme<false>::suits(static_cast<std::size_t>(iparam(pr, 0)));
    }
    static void whole(const Params* sets, std::size_t count, std::size_t n, const double* const* in,
                      double* const* out) {
      std::array<std::size_t, CWTS_TA_WIDTH> periods{};
      const std::size_t longest = sweep_periods(sets, count, n, out, periods);
      if (!hl_window_sweep(periods.data(), count, longest, n, in, value, out)) {
        for (std::size_t k = 0; k < count; ++k) step_series<Willr>(sets[k], n, in, 3, out + k, 1);
      }
    }
  };
#endif
};

// TA_SAR: direction from the first bar's -DM, then Wilder's parabolic stop and reverse. All four
// cases are computed and the lanes pick theirs (one lane: TA_SAR's branches, but for a new
// extreme).
struct Sar {
  double acc, max;
  long t = 0;
  M is_long{};
  V sar = splat(0.0), ep = splat(0.0), af = splat(0.0), nh = splat(0.0), nl = splat(0.0);
  explicit Sar(const Params& pr) : acc(pr.v[0]), max(pr.v[1]) {
    if (acc > max) acc = max;
  }
  void reset() noexcept {
    t = 0;
    is_long = M{};
    sar = ep = af = nh = nl = splat(0.0);
  }
  static V lift(V s, V a, V b) noexcept {  // if (s < a) s = a; if (s < b) s = b;
    s = sel(s < a, a, s);
    return sel(s < b, b, s);
  }
  static V drop(V s, V a, V b) noexcept {  // if (s > a) s = a; if (s > b) s = b;
    s = sel(s > a, a, s);
    return sel(s > b, b, s);
  }
#if CWTS_TA_WIDTH == 1
  // A new extreme, `if (fresh) { ep = extreme; af += acc; if (af > max) af = max; }`, without a
  // branch: one comes on a third of the bars or so, at random, where the clamps above are rare.
  // The extreme and the clamp are selects (MAXSD / MINSD or a branch, the compiler's choice, their
  // NaN rules kept: not the _mm_max_sd / _mm_min_sd intrinsics, whose operands GCC may swap), af
  // is picked by the comparison's mask.
  static void extend(__m128d fresh, double& af, double acc, double max) noexcept {
    double grown = af + acc;
    grown = grown > max ? max : grown;
    af = _mm_cvtsd_f64(
        _mm_or_pd(_mm_and_pd(fresh, _mm_set_sd(grown)), _mm_andnot_pd(fresh, _mm_set_sd(af))));
  }
  // One lane, one bar from the third on: TA_SAR's branches as written for the reversals (rare, so
  // they predict well), a new extreme through extend(); ph/pl the previous bar's high and low,
  // nh/nl this bar's. The output.
  [[gnu::always_inline]] static double advance(bool& is_long, double& sar, double& ep, double& af,
                                               double ph, double pl, double nh, double nl,
                                               double acc, double max) noexcept {
    double out;
    if (is_long) {
      if (nl <= sar) {
        is_long = false;
        sar = lift(ep, ph, nh);
        out = sar;
        af = acc;
        ep = nl;
        sar = lift(sar + af * (ep - sar), ph, nh);
      } else {
        out = sar;
        extend(_mm_cmpgt_sd(_mm_set_sd(nh), _mm_set_sd(ep)), af, acc, max);
        ep = nh > ep ? nh : ep;
        sar = drop(sar + af * (ep - sar), pl, nl);
      }
    } else {
      if (nh >= sar) {
        is_long = true;
        sar = drop(ep, pl, nl);
        out = sar;
        af = acc;
        ep = nh;
        sar = drop(sar + af * (ep - sar), pl, nl);
      } else {
        out = sar;
        extend(_mm_cmplt_sd(_mm_set_sd(nl), _mm_set_sd(ep)), af, acc, max);
        ep = nl < ep ? nl : ep;
        sar = lift(sar + af * (ep - sar), ph, nh);
      }
    }
    return out;
  }
  // One whole series: step() for the first two bars, then advance() with the state in locals,
  // read straight from the arrays; step()'s operations, so the same bits.
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    Sar k(pr);
    const double* hi = in[0];
    const double* lo = in[1];
    double* y = out[0];
    std::size_t t = 0;
    for (; t < n && t < 2; ++t) {
      const V bar[2] = {hi[t], lo[t]};
      k.step(bar, y + t);
    }
    bool is_long = k.is_long;
    double sar = k.sar, ep = k.ep, af = k.af, nh = k.nh, nl = k.nl;
    for (; t < n; ++t) {
      const double ph = nh, pl = nl;
      nh = hi[t];
      nl = lo[t];
      y[t] = advance(is_long, sar, ep, af, ph, pl, nh, nl, k.acc, k.max);
    }
  }
#endif
  void step(const V* x, V* y) noexcept {
    const V h = x[0], l = x[1];
    if (t == 0) {
      nh = h;
      nl = l;
      ++t;
      y[0] = splat(kNaN);
      return;
    }
    V ph, pl;
    if (t == 1) {
      const V diffp = h - nh;
      const V diffm = nl - l;
      const M minus_dm = mand(diffm > splat(0.0), diffp < diffm);
      is_long = mnot(minus_dm);
      ep = sel(is_long, h, l);
      sar = sel(is_long, nl, nh);
      af = splat(acc);
      ph = h;
      pl = l;
    } else {
      ph = nh;
      pl = nl;
    }
    nh = h;
    nl = l;
    ++t;
#if CWTS_TA_WIDTH == 1
    y[0] = advance(is_long, sar, ep, af, ph, pl, nh, nl, acc, max);
#else
    const V vacc = splat(acc), vmax = splat(max);
    // long, reversing to short
    V lr = lift(ep, ph, nh);
    const V lr_out = lr;
    lr = lift(lr + vacc * (nl - lr), ph, nh);
    // long, continuing
    const M lc_new = nh > ep;
    const V lc_ep = sel(lc_new, nh, ep);
    V lc_af = sel(lc_new, af + vacc, af);
    lc_af = sel(lc_af > vmax, vmax, lc_af);
    const V lc = drop(sar + lc_af * (lc_ep - sar), pl, nl);
    // short, reversing to long
    V sr = drop(ep, pl, nl);
    const V sr_out = sr;
    sr = drop(sr + vacc * (nh - sr), pl, nl);
    // short, continuing
    const M sc_new = nl < ep;
    const V sc_ep = sel(sc_new, nl, ep);
    V sc_af = sel(sc_new, af + vacc, af);
    sc_af = sel(sc_af > vmax, vmax, sc_af);
    const V sc = lift(sar + sc_af * (sc_ep - sar), ph, nh);

    const M long_rev = mand(is_long, nl <= sar);
    const M short_rev = mand(mnot(is_long), nh >= sar);
    const M long_cont = mand(is_long, mnot(long_rev));
    y[0] = sel(long_rev, lr_out, sel(short_rev, sr_out, sar));
    const V new_sar = sel(long_rev, lr, sel(short_rev, sr, sel(long_cont, lc, sc)));
    ep = sel(long_rev, nl, sel(short_rev, nh, sel(long_cont, lc_ep, sc_ep)));
    af = sel(long_rev, vacc, sel(short_rev, vacc, sel(long_cont, lc_af, sc_af)));
    is_long = msel(long_rev, M{}, msel(short_rev, mtrue(), is_long));
    sar = new_sar;
#endif
  }
};

// VWAP (no TA-Lib equivalent): sum(tp * volume) / sum(volume) over the last p bars, tp = (high +
// low + close) / 3; p = 0: cumulative from the first bar. A window without volume gives the bar's
// typical price. See docs/indicators.md.
struct Vwap {
  int p;
  Buf pv_ring, v_ring;
  std::size_t head = 0;
  long t = 0;
  V pv = splat(0.0), vol = splat(0.0);
  explicit Vwap(const Params& pr)
      : p(iparam(pr, 0)),
        pv_ring(static_cast<std::size_t>(p)),
        v_ring(static_cast<std::size_t>(p)) {}
  void reset() noexcept {
    pv_ring.clear();
    v_ring.clear();
    head = 0;
    t = 0;
    pv = vol = splat(0.0);
  }
  void step(const V* x, V* y) noexcept {
    const V tp = (x[0] + x[1] + x[2]) / splat(3.0);
    const V w = tp * x[3];
    pv = pv + w;
    vol = vol + x[3];
    const V value = sel(vol != splat(0.0), pv / vol, tp);
    if (p == 0) {
      y[0] = value;
      return;
    }
    pv_ring[head] = w;
    v_ring[head] = x[3];
    head = head + 1 == static_cast<std::size_t>(p) ? 0 : head + 1;
    if (t++ < p - 1) {
      y[0] = splat(kNaN);
      return;
    }
    y[0] = value;
    pv = pv - pv_ring[head];
    vol = vol - v_ring[head];
  }
};
