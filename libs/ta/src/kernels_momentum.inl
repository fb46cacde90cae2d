// Part of kernels.inl (one unit per ISA): RSI and MACD.
// Same lane type and rules: TA-Lib's C code operation for operation, internal linkage.

// TA_RSI: Wilder-smoothed gains and losses (scaled by a hoisted 1/p), seeded by their mean over
// the first p changes; 0 when gain + loss is exactly 0 (TA-Lib #253).
struct Rsi {
  int p;
  double inv;
  long t = 0;
  V prev = splat(0.0), gain = splat(0.0), loss = splat(0.0);
  explicit Rsi(const Params& pr)
      : p(iparam(pr, 0)), inv(1.0 / static_cast<double>(iparam(pr, 0))) {}
  void reset() noexcept {
    t = 0;
    prev = gain = loss = splat(0.0);
  }
  static V value(V gain, V loss) noexcept {
    const V sum = gain + loss;
    return sel(sum > splat(0.0), splat(100.0) * (gain / sum), splat(0.0));
  }
  static constexpr bool kDivide = false;  // TA_RSI multiplies by 1/p, TA_CMO divides by p
  void step(const V* x, V* y) noexcept { step_with<Rsi>(x, y); }
  // The smoothing; K::value turns the averages into the output (Rsi, Cmo).
  template <class K>
  void step_with(const V* x, V* y) noexcept {
    const V v = x[0];
    if (t == 0) {
      prev = v;
      ++t;
      y[0] = splat(kNaN);
      return;
    }
    const V d = v - prev;
    prev = v;
    const V gd = sel(d > splat(0.0), d, splat(0.0));
    if (t > p) {
      loss = loss * splat(static_cast<double>(p - 1));
      gain = gain * splat(static_cast<double>(p - 1));
    }
    gain = gain + gd;
    loss = loss + (gd - d);
    if (t++ < p) {
      y[0] = splat(kNaN);
      return;
    }
    if constexpr (K::kDivide) {
      loss = loss / splat(static_cast<double>(p));
      gain = gain / splat(static_cast<double>(p));
    } else {
      loss = loss * splat(inv);
      gain = gain * splat(inv);
    }
    y[0] = K::value(gain, loss);
  }
#if CWTS_TA_WIDTH > 1
  // A batch's series of K (Rsi, Cmo) in lanes, a vector's series at a time: step_with<K>() through
  // the first p + 1 bars (the first output the last of them), then the averages in registers
  // (steady_lanes()), the previous value read from the input (a second tile, a bar back).
  // step_with<K>()'s operations in its order, so the same bits.
  template <class K>
  static void lanes_with(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out) {
    by_vector<1>(n, lanes, in, out, true, [&](std::size_t count, auto& ip, auto& op, bool stream) {
      K k(pr);
      const auto len = static_cast<std::size_t>(k.p);
      const std::size_t start = warm_lanes(k, len + 1, n, count, ip, op);
      V up = k.gain, down = k.loss;
      const V keep = splat(static_cast<double>(k.p - 1)), pd = splat(static_cast<double>(k.p)),
              scale = splat(k.inv);
      const Lagged<2> both(ip);  // the series now, and a bar back
      steady_lanes<2, 1, 1>(
          start, n, count, both.ip, {0, 1}, op, stream,
          [&](const V* x, V* y, std::size_t) {
            const V d = x[0] - x[1];
            const V gd = sel(d > splat(0.0), d, splat(0.0));
            down = down * keep;
            up = up * keep;
            up = up + gd;
            down = down + (gd - d);
            if constexpr (K::kDivide) {
              down = down / pd;
              up = up / pd;
            } else {
              down = down * scale;
              up = up * scale;
            }
            y[0] = K::value(up, down);
          },
          [](V*) {});
    });
  }
  static void lanes_form(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out) {
    lanes_with<Rsi>(pr, n, lanes, in, out);
  }
  // A sweep of periods over one series (dispatch: sweep_lanes): step_with<K>'s operations with
  // the period a lane's own (the previous value read from the array), by masks until the
  // longest period has seeded. K: Rsi, or Cmo (which derives from it).
  template <class K>
  struct SweepOf {
    using Of = K;
    V p = splat(0.0), less = splat(0.0), inv = splat(0.0);  // less: p - 1
    V gain = splat(0.0), loss = splat(0.0);
    std::size_t most = 0;
    static bool suits(const Params& pr) noexcept { return iparam(pr, 0) >= 2; }
    SweepOf(const Params* sets, std::size_t count) noexcept {
      for (std::size_t l = 0; l < static_cast<std::size_t>(CWTS_TA_WIDTH); ++l) {
        const Rsi r(sets[l < count ? l : 0]);
        p[l] = static_cast<double>(r.p);
        less[l] = static_cast<double>(r.p - 1);
        inv[l] = r.inv;
        most = std::max(most, static_cast<std::size_t>(r.p));
      }
    }
    [[nodiscard]] std::size_t warm() const noexcept { return most + 1; }
    // The averages of the window's gains or losses (a sum until then).
    V average(V sum) const noexcept {
      if constexpr (K::kDivide) {
        return sum / p;
      } else {
        return sum * inv;
      }
    }
    V first(const double* const* in, std::size_t bar) noexcept {
      if (bar == 0) return splat(kNaN);
      const V d = splat(in[0][bar]) - splat(in[0][bar - 1]);
      const V gd = sel(d > splat(0.0), d, splat(0.0));
      const V tv = splat(static_cast<double>(bar));
      const M after = tv > p, out = tv >= p;
      const V g = sel(after, gain * less, gain) + gd;
      const V l = sel(after, loss * less, loss) + (gd - d);
      loss = sel(out, average(l), l);
      gain = sel(out, average(g), g);
      return sel(out, K::value(gain, loss), splat(kNaN));
    }
    void tile(const double* const* in, std::size_t bar, V* y) noexcept {
      for (std::size_t b = 0; b < static_cast<std::size_t>(CWTS_TA_WIDTH); ++b) {
        const V d = splat(in[0][bar + b]) - splat(in[0][bar + b - 1]);
        const V gd = sel(d > splat(0.0), d, splat(0.0));
        loss = average(loss * less + (gd - d));
        gain = average(gain * less + gd);
        y[b] = K::value(gain, loss);
      }
    }
  };
  using Sweep = SweepOf<Rsi>;
#endif
};

// TA_MACD: the slow EMA is seeded at bar slow - 1 as usual, the fast EMA *also* at bar slow - 1
// (the SMA of the fast period ending there), the signal EMA on the MACD line from there.
struct Macd {
  int fast, slow, delay;
  long t = 0;
  EmaState ef, es, sig;
  static int fast_of(const Params& p) { return std::min(iparam(p, 0), iparam(p, 1)); }
  static int slow_of(const Params& p) { return std::max(iparam(p, 0), iparam(p, 1)); }
  explicit Macd(const Params& p)
      : fast(fast_of(p)),
        slow(slow_of(p)),
        delay(slow - fast),
        ef(fast),
        es(slow),
        sig(iparam(p, 2)) {}
  void reset() noexcept {
    t = 0;
    ef.reset();
    es.reset();
    sig.reset();
  }
  void step(const V* x, V* y) noexcept {
    V f = splat(0.0), s = splat(0.0), g = splat(0.0);
    const bool fast_ok = t++ >= delay && ef.step(x[0], f);
    const bool slow_ok = es.step(x[0], s);
    if (fast_ok && slow_ok) {
      const V m = f - s;
      if (sig.step(m, g)) {
        y[0] = m;
        y[1] = g;
        y[2] = m - g;
        return;
      }
    }
    y[0] = y[1] = y[2] = splat(kNaN);
  }
#if CWTS_TA_WIDTH > 1
  // A batch's series in lanes, a vector's series at a time: step() until the signal average is
  // seeded, then the three recurrences in registers (steady_lanes(): tiles of W bars, the
  // histogram worked out from the line's and the signal's transposed rows, one transpose of three
  // saved). Through run_groups() each step kept the three averages in the kernel object and took
  // step()'s seeding branches: 1.4 ns a lane-bar on AVX-512, more than the scalar series form on
  // long series. The same operations as step(), so the same bits. Outputs past the caches are
  // streamed (streams()).
  static void lanes_form(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out) {
    by_vector<3>(n, lanes, in, out, true, [&](std::size_t count, auto& ip, auto& op, bool stream) {
      Macd k(pr);
      // Bars 0 .. slow + signal - 2: the signal average's seed is the last of them.
      const auto warm = static_cast<std::size_t>(k.slow + k.sig.p - 1);
      const std::size_t start = warm_lanes(k, warm, n, count, ip, op);
      V f = k.ef.acc, s = k.es.acc, g = k.sig.acc;
      const V kf = splat(k.ef.k), ks = splat(k.es.k), kg = splat(k.sig.k);
      steady_lanes<1, 2, 3>(
          start, n, count, ip, {0}, op, stream,
          [&](const V* x, V* y, std::size_t) {  // the MACD line and the signal
            f = fmadd(x[0] - f, kf, f);
            s = fmadd(x[0] - s, ks, s);
            y[0] = f - s;
            g = fmadd(y[0] - g, kg, g);
            y[1] = g;
          },
          [](V* y) { y[2] = y[0] - y[1]; });  // the histogram
    });
  }
#endif
#if CWTS_TA_WIDTH == 1
  // One whole series: step() until the signal average is seeded (the two others are by then),
  // then the three recurrences side by side straight over the arrays: the fast and slow averages
  // are independent chains, which TA-Lib runs as passes of their own. The same operations as
  // step(), so the same bits.
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    Macd k(pr);
    const double* x = in[0];
    double *macd = out[0], *signal = out[1], *hist = out[2];
    std::size_t t = 0;
    for (; t < n && k.sig.t < k.sig.p; ++t) {
      double y[3];
      k.step(x + t, y);
      macd[t] = y[0];
      signal[t] = y[1];
      hist[t] = y[2];
    }
    double f = k.ef.acc, s = k.es.acc, g = k.sig.acc;
    const double kf = k.ef.k, ks = k.es.k, kg = k.sig.k;
    for (; t < n; ++t) {
      f = fmadd(x[t] - f, kf, f);
      s = fmadd(x[t] - s, ks, s);
      const double m = f - s;
      g = fmadd(m - g, kg, g);
      macd[t] = m;
      signal[t] = g;
      hist[t] = m - g;
    }
  }
#endif
};
