// TRIMA, KAMA, T3, TA_MA's choice among TA-Lib's moving-average types and the functions built on it
// (MA, APO, PPO, MACDEXT), included by kernels.inl after SMA, EMA, WMA, DEMA and TEMA (same lane
// type, same rules: TA-Lib's C code operation for operation, internal linkage).

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
  // ring[mid] is the input half bars back: at(p - half), kept beside head rather than computed
  // with a modulo every bar (an integer division a group a bar: cwts-bench-ta BM_Many, below).
  std::size_t mid;
  long t = 0;
  V num = splat(0.0), sub = splat(0.0), add = splat(0.0);
  explicit Trima(const Params& pr)
      : p(iparam(pr, 0)),
        half(p >> 1),
        factor(1.0 / static_cast<double>(p % 2 == 1 ? std::int64_t{half + 1} * (half + 1)
                                                    : std::int64_t{half} * (half + 1))),
        ring(static_cast<std::size_t>(p)),
        mid(static_cast<std::size_t>(p - half) % static_cast<std::size_t>(p)) {}
  void reset() noexcept {
    ring.clear();
    head = 0;
    mid = static_cast<std::size_t>(p - half) % static_cast<std::size_t>(p);
    t = 0;
    num = sub = add = splat(0.0);
  }
  [[nodiscard]] V at(int k) noexcept {  // k-th oldest of the window (0 = oldest)
    return ring[(head + static_cast<std::size_t>(k)) % static_cast<std::size_t>(p)];
  }
  void push(V v) noexcept {
    ring[head] = v;
    head = head + 1 == static_cast<std::size_t>(p) ? 0 : head + 1;
    mid = mid + 1 == static_cast<std::size_t>(p) ? 0 : mid + 1;
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
    const V oldest = ring[head];  // p bars back: at(0)
    const V middle = ring[mid];   // half bars back: at(p - half)
    num = num - sub;
    sub = sub - oldest;
    sub = sub + middle;
    if (p % 2 == 1) {
      num = num + add;
      add = add - middle;
    } else {
      add = add - middle;
      num = num + add;
    }
    add = add + v;
    num = num + v;
    push(v);
    y[0] = num * splat(factor);
  }
#if CWTS_TA_WIDTH > 1
  // A batch's series in lanes, a vector's series at a time: step() through the first p bars (the
  // first output among them), then the three sums in registers (steady_lanes()), the oldest value
  // and the middle one read from the input (tiles p and half bars back) instead of the ring.
  // step()'s operations in its order, so the same bits.
  static void lanes_form(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out, bool may_stream = true) {
    if (iparam(pr, 0) == 1) return copy_lanes(n, lanes, in, out);  // TA-Lib: the input
    by_vector<1>(
        n, lanes, in, out, may_stream, [&](std::size_t count, auto& ip, auto& op, bool stream) {
          Trima k(pr);
          const auto len = static_cast<std::size_t>(k.p);
          const std::size_t start = warm_lanes(k, len, n, count, ip, op);
          V acc = k.num, lower = k.sub, upper = k.add;
          const V scale = splat(k.factor);
          const Lagged<3> three(ip);  // the series now, p bars back and half bars back
          const auto run = [&]<bool Odd>() {
            steady_lanes<3, 1, 1>(
                start, n, count, three.ip, {0, len, static_cast<std::size_t>(k.half)}, op, stream,
                [&](const V* x, V* y, std::size_t) {
                  acc = acc - lower;
                  lower = lower - x[1];
                  lower = lower + x[2];
                  if constexpr (Odd) {
                    acc = acc + upper;
                    upper = upper - x[2];
                  } else {
                    upper = upper - x[2];
                    acc = acc + upper;
                  }
                  upper = upper + x[0];
                  acc = acc + x[0];
                  y[0] = acc * scale;
                },
                [](V*) {});
          };
          if (len % 2 == 1) {
            run.template operator()<true>();
          } else {
            run.template operator()<false>();
          }
        });
  }
#endif
#if CWTS_TA_WIDTH == 1
  // One whole series read straight from its array (at(k) of bar t is x[t - p + k]; no ring and
  // no modulo per read): step()'s operations in step()'s order, so the same bits.
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    const Trima k(pr);
    const auto p = static_cast<std::size_t>(k.p);
    const auto half = static_cast<std::size_t>(k.half);
    const double* x = in[0];
    double* y = out[0];
    if (p == 1) {
      std::copy(x, x + n, y);
      return;
    }
    std::fill(y, y + std::min(n, p - 1), kNaN);
    if (n < p) return;
    const std::size_t middle = p % 2 == 1 ? half : half - 1;
    double num = 0.0, sub = 0.0, add = 0.0;
    for (std::size_t j = middle + 1; j-- > 0;) {
      sub = sub + x[j];
      num = num + sub;
    }
    for (std::size_t j = middle + 1; j <= p - 1; ++j) {
      add = add + x[j];
      num = num + add;
    }
    y[p - 1] = num * k.factor;
    for (std::size_t t = p; t < n; ++t) {
      const double v = x[t], oldest = x[t - p], mid = x[t - half];
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
      y[t] = num * k.factor;
    }
  }
#endif
};

// TA_KAMA: Kaufman's adaptive average. The efficiency ratio |x - x[p back]| / (the sum of the p
// one-bar moves) at most 1, and 1 when that sum is not positive or not above the signed change
// (TA-Lib 0.8: smoothed(); the sum reset to zero after p bars without a move: slide());
// the smoothing constant (ER (2/3 - 2/31) + 2/31)^2; the first value starts from the bar before.
// The sum of moves is kept by taking off the oldest move and adding the newest, as TA-Lib does;
// the constant's and the average's multiply-adds are fused, as TA-Lib's FMA build fuses them.
struct Kama {
  static constexpr double kMax = 2.0 / (30.0 + 1.0);
  static constexpr double kDiff = 2.0 / (2.0 + 1.0) - kMax;
  int p;
  Buf ring;  // the last p inputs; ring[head] is the oldest
  std::size_t head = 0;
  long t = 0;
  V prev_x = splat(0.0), trailing = splat(0.0), sum = splat(0.0), kama = splat(0.0);
  V flat = splat(0.0);  // the last bars in a row without a move, at most p
  explicit Kama(const Params& pr) : p(iparam(pr, 0)), ring(static_cast<std::size_t>(p)) {}
  void reset() noexcept {
    ring.clear();
    head = 0;
    t = 0;
    prev_x = trailing = sum = kama = flat = splat(0.0);
  }
  void step(const V* x, V* y) noexcept {
    const V v = x[0];
    if (p == 1) {  // TA-Lib: a copy of the input
      y[0] = v;
      return;
    }
    if (t > 0 && t <= p) {  // the first p moves, oldest first
      sum = sum + vabs(prev_x - v);
      count_flat(flat, prev_x - v, p);
    }
    y[0] = splat(kNaN);
    if (t >= p) {
      const V oldest = ring[head];  // p bars back
      const V roc = v - oldest;
      if (t == p) {
        kama = prev_x;  // the bar before stands in for the previous KAMA
      } else {
        slide(sum, flat, trailing - oldest, v - prev_x, p);
      }
      trailing = oldest;
      kama = smoothed(kama, v, roc, sum);
      y[0] = kama;
    }
    ring[head] = v;
    head = head + 1 == static_cast<std::size_t>(p) ? 0 : head + 1;
    prev_x = v;
    ++t;
  }
  // The window's summed moves one bar on: the move leaving the window out, the new one in. After p
  // bars in a row without a move the window is flat and its sum exactly zero, whatever rounding
  // the running sum kept (TA-Lib 0.8 resets it there).
  static void slide(V& sum, V& flat, V out, V in, int p) noexcept {
    sum = sum - vabs(out);
    sum = sum + vabs(in);
    count_flat(flat, in, p);
    sum = sel(flat == splat(static_cast<double>(p)), splat(0.0), sum);
  }
  static void count_flat(V& flat, V move, int p) noexcept {
    const V more = sel(flat < splat(static_cast<double>(p)), flat + splat(1.0), flat);
    flat = sel(move == splat(0.0), more, splat(0.0));
  }
  // The average's step from `prev`. The efficiency ratio, as TA-Lib 0.8 takes it: 1 where the
  // summed moves are not positive or at most the period's move (compared signed), else
  // |roc / sum| at most 1.
  static V smoothed(V prev, V v, V roc, V sum) noexcept {
    const M one = mor(sum <= splat(0.0), sum <= roc);
    const V ratio = vabs(roc / sum);
    V sc = sel(one, splat(1.0), sel(splat(1.0) < ratio, splat(1.0), ratio));
    sc = fmadd(sc, splat(kDiff), splat(kMax));
    sc = sc * sc;
    return fmadd(v - prev, sc, prev);
  }
#if CWTS_TA_WIDTH > 1
  // A batch's series in lanes, a vector's series at a time: step() through the first p + 1 bars,
  // then steady_lanes() with the state in registers and the value p bars back read from the
  // input (a second tile, from bar t - p) instead of the ring. step()'s operations in its order,
  // so the same bits. Through run_groups() (the state, the ring and its index in the kernel
  // object, step()'s branches every bar) a lane-bar took about 5 cycles.
  static void lanes_form(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out, bool may_stream = true) {
    const auto p = static_cast<std::size_t>(iparam(pr, 0));
    if (p == 1) return copy_lanes(n, lanes, in, out);  // TA-Lib: a copy of the input
    by_vector<1>(
        n, lanes, in, out, may_stream, [&](std::size_t count, auto& ip, auto& op, bool stream) {
          Kama k(pr);
          const std::size_t start = warm_lanes(k, p + 1, n, count, ip, op);
          // The kernel's sum, flat, kama, prev_x and trailing.
          V moves = k.sum, still = k.flat, level = k.kama, prev = k.prev_x, gone = k.trailing;
          const Lagged<2> both(ip);  // the series now, and p bars back
          steady_lanes<2, 1, 1>(
              start, n, count, both.ip, {0, p}, op, stream,
              [&](const V* x, V* y, std::size_t) {
                const V roc = x[0] - x[1];
                slide(moves, still, gone - x[1], x[0] - prev, k.p);
                gone = x[1];
                level = smoothed(level, x[0], roc, moves);
                y[0] = level;
                prev = x[0];
              },
              [](V*) {});
        });
  }
#endif
#if CWTS_TA_WIDTH == 1
  // One whole series read straight from its array (the value p bars back is x[t - p], no ring):
  // step()'s operations in step()'s order, so the same bits.
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    const auto p = static_cast<std::size_t>(iparam(pr, 0));
    const double* x = in[0];
    double* y = out[0];
    if (p == 1) {
      std::copy(x, x + n, y);
      return;
    }
    std::fill(y, y + std::min(n, p), kNaN);
    if (n <= p) return;
    // slide()'s flat run as the last bar that moved (0: none yet): flat = t - moved, at most p.
    double sum = 0.0;
    std::size_t moved = 0;
    for (std::size_t t = 1; t <= p; ++t) {
      sum = sum + std::fabs(x[t - 1] - x[t]);
      moved = x[t - 1] - x[t] != 0.0 ? t : moved;
    }
    double kama = smoothed(x[p - 1], x[p], x[p] - x[0], sum);
    y[p] = kama;
    for (std::size_t t = p + 1; t < n; ++t) {
      const double oldest = x[t - p];
      sum = sum - std::fabs(x[t - p - 1] - oldest);
      sum = sum + std::fabs(x[t] - x[t - 1]);
      moved = x[t] - x[t - 1] != 0.0 ? t : moved;
      if (t - moved >= p) sum = 0.0;  // rare: no branch on the sum's chain most bars
      kama = smoothed(kama, x[t], x[t] - oldest, sum);
      y[t] = kama;
    }
  }
#endif
};

// TA_T3: Tillson's six chained EMAs (k = 2 / (p + 1)), each seeded by the mean of its input's
// first p values as TA-Lib's warm-up computes them, then c1 e6 + c2 e5 + c3 e4 + c4 e3 from the
// volume factor; period 1 is a copy of the input. Multiply-adds fused as TA-Lib's FMA build fuses
// them: each EMA's (1 - k) e, and the sum's c1 e6, c3 e4, c4 e3.
struct T3 {
  int p;
  double k, omk, c1, c2, c3, c4;
  long t = 0;
  V e[6] = {};
  V acc = splat(0.0);
  explicit T3(const Params& pr) : p(iparam(pr, 0)), k(2.0 / (p + 1.0)), omk(1.0 - k) {
    // TA-Lib's c1 = 0 - sq vf, c2 = 3 (sq - c1), c3 = -6 sq - 3 (vf - c1), c4 = 1 + 3 vf - c1 + 3
    // sq, with its FMA build's fusions (c4's two; found against its results for 150 random
    // factors).
    const double vf = pr.v[1];
    const double sq = vf * vf;
    c1 = 0 - sq * vf;
    c2 = 3.0 * (sq - c1);
    c3 = (0 - 6.0) * sq - 3.0 * (vf - c1);
    c4 = std::fma(3.0, sq, std::fma(3.0, vf, 1.0) - c1);
  }
  void reset() noexcept {
    t = 0;
    for (V& v : e) v = splat(0.0);
    acc = splat(0.0);
  }
  void step(const V* x, V* y) noexcept {
    const V v = x[0];
    if (p == 1) {
      y[0] = v;
      return;
    }
    y[0] = splat(kNaN);
    if (t < p) {  // e1's seed: the mean of the first p inputs
      acc = t == 0 ? v : acc + v;
      if (++t == p) acc = e[0] = acc / splat(static_cast<double>(p));
      return;
    }
    const long warm = 5L * (p - 1);  // five more phases of p - 1 bars seed e2 .. e6
    const long u = t - p;
    const int chained = u < warm ? static_cast<int>(u / (p - 1)) + 1 : 6;  // EMAs updated
    e[0] = fmadd(splat(omk), e[0], splat(k) * v);
    for (int j = 1; j < chained; ++j) e[j] = fmadd(splat(omk), e[j], splat(k) * e[j - 1]);
    ++t;
    if (u < warm) {
      acc = acc + e[chained - 1];
      if ((u + 1) % (p - 1) != 0) return;
      acc = e[chained] = acc / splat(static_cast<double>(p));  // the next EMA's seed
      if (chained < 5) return;
    }
    y[0] = fmadd(splat(c4), e[2], fmadd(splat(c3), e[3], fmadd(splat(c1), e[5], splat(c2) * e[4])));
  }
#if CWTS_TA_WIDTH > 1
  // A batch's series in lanes, a vector's series at a time: step() through the six seeds (bars
  // 0 .. 6p - 6), then the six EMAs in registers (steady_lanes()): step()'s operations, so the
  // same bits.
  static void lanes_form(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out, bool may_stream = true) {
    if (iparam(pr, 0) == 1) return copy_lanes(n, lanes, in, out);  // TA-Lib: the input
    by_vector<1>(
        n, lanes, in, out, may_stream, [&](std::size_t count, auto& ip, auto& op, bool stream) {
          T3 t3(pr);
          const std::size_t start =
              warm_lanes(t3, 6 * static_cast<std::size_t>(t3.p) - 5, n, count, ip, op);
          V e0 = t3.e[0], e1 = t3.e[1], e2 = t3.e[2], e3 = t3.e[3], e4 = t3.e[4], e5 = t3.e[5];
          const V a = splat(t3.k), b = splat(t3.omk);  // k and 1 - k
          const V w1 = splat(t3.c1), w2 = splat(t3.c2), w3 = splat(t3.c3), w4 = splat(t3.c4);
          steady_lanes<1, 1, 1>(
              start, n, count, ip, {0}, op, stream,
              [&](const V* x, V* y, std::size_t) {
                e0 = fmadd(b, e0, a * x[0]);
                e1 = fmadd(b, e1, a * e0);
                e2 = fmadd(b, e2, a * e1);
                e3 = fmadd(b, e3, a * e2);
                e4 = fmadd(b, e4, a * e3);
                e5 = fmadd(b, e5, a * e4);
                y[0] = fmadd(w4, e2, fmadd(w3, e3, fmadd(w1, e5, w2 * e4)));
              },
              [](V*) {});
        });
  }
#endif
#if CWTS_TA_WIDTH == 1
  // One whole series: step() through the six seeds (bars 0 .. 6p - 6, the first output among
  // them), then the six EMAs straight from the array (the same operations, so the same bits).
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    T3 k(pr);
    const double* x = in[0];
    double* y = out[0];
    const auto p = static_cast<std::size_t>(k.p);
    const std::size_t seeded = p == 1 ? n : 6 * p - 5;
    std::size_t t = 0;
    for (; t < n && t < seeded; ++t) k.step(x + t, y + t);
    double e0 = k.e[0], e1 = k.e[1], e2 = k.e[2], e3 = k.e[3], e4 = k.e[4], e5 = k.e[5];
    for (; t < n; ++t) {
      e0 = fmadd(k.omk, e0, k.k * x[t]);
      e1 = fmadd(k.omk, e1, k.k * e0);
      e2 = fmadd(k.omk, e2, k.k * e1);
      e3 = fmadd(k.omk, e3, k.k * e2);
      e4 = fmadd(k.omk, e4, k.k * e3);
      e5 = fmadd(k.omk, e5, k.k * e4);
      y[t] = fmadd(k.c4, e2, fmadd(k.c3, e3, fmadd(k.c1, e5, k.c2 * e4)));
    }
  }
#endif
};

inline long ma_lookback_of(int type, int period) noexcept {
  return type < 0 || type > 8 ? 0 : ma_lookback(type, period);
}

// TA_MA's MAMA: MAMA's first output at TA_MA's limits (0.5 and 0.05); the period is not used.
struct MamaMa {
  Mama mama;
  MamaMa() : mama(mama_limits()) {}
  static Params mama_limits() noexcept {
    Params p{};
    p.v[0] = 0.5;
    p.v[1] = 0.05;
    return p;
  }
  void reset() noexcept { mama.reset(); }
  void step(const V* x, V* y) noexcept {
    V both[2];
    mama.step(x, both);
    y[0] = both[0];
  }
};

// TA_MA inside STOCH, STOCHF, STOCHRSI, BBANDS, APO, PPO and MACDEXT: TA-Lib's MAType 0..8 (SMA,
// EMA, WMA, DEMA, TEMA, TRIMA, KAMA, MAMA, T3) over a stream of values; period 1 is the value
// itself for every type, as TA_MA does; T3's vfactor is TA_MA's 0.7. step() says whether the
// average is out of its warm-up (ma_lookback() bars).
class MaAny {
 public:
  MaAny(int type, int period)
      : type_(period == 1 ? -1 : type), lookback_(ma_lookback_of(type, period)) {
    Params p{};
    p.v[0] = period;
    p.v[1] = 0.7;
    switch (type_) {
      case 0:
        k_.emplace<Sma>(p);
        break;
      case 1:
        k_.emplace<Ema>(p);
        break;
      case 2:
        k_.emplace<Wma>(p);
        break;
      case 3:
        k_.emplace<Dema>(p);
        break;
      case 4:
        k_.emplace<Tema>(p);
        break;
      case 5:
        k_.emplace<Trima>(p);
        break;
      case 6:
        k_.emplace<Kama>(p);
        break;
      case 7:
        k_.emplace<MamaMa>();
        break;
      case 8:
        k_.emplace<T3>(p);
        break;
      default:
        break;  // period 1: the input itself
    }
  }
  void reset() noexcept {
    t_ = 0;
    std::visit([](auto& k) { reset_one(k); }, k_);
  }
  bool step(V x, V& out) noexcept {
    if (type_ < 0) {
      out = x;
      return true;
    }
    std::visit([&](auto& k) { step_one(k, x, out); }, k_);
    return t_++ >= lookback_;
  }

 private:
  static void reset_one(std::monostate&) noexcept {}
  template <class K>
  static void reset_one(K& k) noexcept {
    k.reset();
  }
  static void step_one(std::monostate&, V x, V& out) noexcept { out = x; }
  template <class K>
  static void step_one(K& k, V x, V& out) noexcept {
    k.step(&x, &out);
  }
  int type_;
  long lookback_;
  long t_ = 0;
  std::variant<std::monostate, Sma, Ema, Wma, Dema, Tema, Trima, Kama, MamaMa, T3> k_;
};

// TA_MA: the moving average of its MAType (MaAny's rules: period 1 is the input itself).
struct Ma {
  MaAny ma;
  explicit Ma(const Params& pr) : ma(iparam(pr, 1), iparam(pr, 0)) {}
  void reset() noexcept { ma.reset(); }
  void step(const V* x, V* y) noexcept {
    V out;
    y[0] = ma.step(x[0], out) ? out : splat(kNaN);
  }
};

#if CWTS_TA_WIDTH > 1
// One average of TA_MA's MAType (MaAny's rules: period 1 is the input itself) over up to a
// vector's series side by side, in[l] into out[l], with ordinary stores (the caller reads them
// next): its kernel's lanes form (every type but MAMA: the state in registers; the bits MaAny
// steps), MaAny's stepping through run_groups() for MAMA (kernels_dispatch.inl).
void run_ma_lanes(int type, int period, std::size_t n, std::size_t lanes, const double* const* in,
                  double* const* out);
#endif

// TA_APO / TA_PPO: MA(fast) - MA(slow) of one MAType over the whole series (the periods swapped
// when fast > slow); PPO is that as a percentage of the slow average, 0 where the slow average is
// TA-Lib's zero (|v| < 1e-14).
template <bool Percent>
struct PoT {
  MaAny fast, slow;
  explicit PoT(const Params& p)
      : fast(iparam(p, 2), std::min(iparam(p, 0), iparam(p, 1))),
        slow(iparam(p, 2), std::max(iparam(p, 0), iparam(p, 1))) {}
  void reset() noexcept {
    fast.reset();
    slow.reset();
  }
  void step(const V* x, V* y) noexcept {
    V f, s;
    const bool fast_ok = fast.step(x[0], f);
    if (!slow.step(x[0], s) || !fast_ok) {
      y[0] = splat(kNaN);
      return;
    }
    y[0] = value(f, s);
  }
  static V value(V f, V s) noexcept {
    if constexpr (Percent) {
      const M zero = mand(splat(-1e-14) < s, s < splat(1e-14));
      return sel(zero, splat(0.0), ((f - s) / s) * splat(100.0));
    } else {
      return f - s;
    }
  }
#if CWTS_TA_WIDTH > 1
  // A batch's series in lanes, a vector's series at a time, as series() runs one: each average a
  // pass through run_ma_lanes() (what MaAny steps bar by bar, the same bits), the fast one into
  // the outputs, the slow one into a scratch of a vector's series, then value() over both a
  // vector of bars at a time (element-wise: the same wherever the lanes are). Stepping both
  // averages through MaAny in lanes took its type's dispatch every bar.
  static void lanes_form(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out) {
    constexpr std::size_t W = CWTS_TA_WIDTH;
    const int type = iparam(pr, 2);
    const int fp = std::min(iparam(pr, 0), iparam(pr, 1)),
              sp = std::max(iparam(pr, 0), iparam(pr, 1));
    const auto first = std::min(
        n, static_cast<std::size_t>(std::max(ma_lookback_of(type, fp), ma_lookback_of(type, sp))));
    if (lanes == 0) return;
    const std::size_t rows = std::min(W, lanes);  // the most series a vector runs
    Doubles scratch(rows * n, Doubles::Unset{});
    std::array<double*, W> slow{};
    for (std::size_t l = 0; l < W; ++l) slow[l] = scratch.data() + std::min(l, rows - 1) * n;
    for (std::size_t from = 0; from < lanes; from += W) {
      const std::size_t count = std::min(W, lanes - from);
      run_ma_lanes(type, fp, n, count, in + from, out + from);
      run_ma_lanes(type, sp, n, count, in + from, slow.data());
      for (std::size_t l = 0; l < count; ++l) {
        double* y = out[from + l];
        const double* s = slow[l];
        std::fill(y, y + first, kNaN);
        std::size_t t = first;
        for (; t + W <= n; t += W) {
          V f, v;
          std::memcpy(&f, y + t, sizeof(V));
          std::memcpy(&v, s + t, sizeof(V));
          const V r = value(f, v);
          std::memcpy(y + t, &r, sizeof(V));
        }
        if (t < n) {  // the last bars: a vector filled from them (the rest never stored)
          V f = splat(1.0), v = splat(1.0);
          std::memcpy(&f, y + t, (n - t) * sizeof(double));
          std::memcpy(&v, s + t, (n - t) * sizeof(double));
          const V r = value(f, v);
          std::memcpy(y + t, &r, (n - t) * sizeof(double));
        }
      }
    }
  }
#endif
#if CWTS_TA_WIDTH == 1
  // One whole series: each average a pass over the array through its own kernel's scalar series
  // form (detail::run_scalar_ma: what MaAny steps bar by bar, the same bits), the fast one into
  // the output, then value() where both have values.
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    const int type = iparam(pr, 2);
    const int fp = std::min(iparam(pr, 0), iparam(pr, 1)),
              sp = std::max(iparam(pr, 0), iparam(pr, 1));
    double* y = out[0];
    Doubles s(n, Doubles::Unset{});
    detail::run_scalar_ma(type, fp, n, in[0], y);
    detail::run_scalar_ma(type, sp, n, in[0], s.data());
    const auto first =
        static_cast<std::size_t>(std::max(ma_lookback_of(type, fp), ma_lookback_of(type, sp)));
    for (std::size_t t = 0; t < n; ++t) y[t] = t < first ? kNaN : value(y[t], s.data()[t]);
  }
#endif
};
using Apo = PoT<false>;
using Ppo = PoT<true>;

// TA_MACDEXT: MACD with an MAType per average. The periods (and their types) are swapped when fast
// > slow; as TA-Lib computes both averages from the bar where the longer warm-up ends, each starts
// that many bars late (TA_MACD's delay, per type); the signal is the MA of the MACD line.

struct MacdExt {
  // A batch runs its series in lanes a pass per average (lanes_form()), not three MaAny stepped
  // per bar (MaAny's dispatch every bar cost more than the lanes gained: 415 / 429 us for 32 x
  // 2,000 bars on AVX2 / AVX-512 against 357 as scalar series), one vector's series at a time so
  // that a pass's arrays stay in the caches for the next: cwts-bench-ta BM_Many, 32 series,
  // AVX2 / AVX-512 / scalar series 190 / 195 / 352 us at 2,000 bars, 11.9 / 13.8 / 18.8 ms at
  // 100,000; 116 / 127 us and 8.9 / 9.2 ms with SMA's lanes form in the passes (docs/benchmarks.md,
  // 2026-12-07). On the scalar unit each series runs through series(), the same passes one series
  // at a time.
  static constexpr bool kBatchAsScalarSeries = CWTS_TA_WIDTH == 1;
  long fast_delay, slow_delay;
  long t = 0;
  MaAny fast, slow, sig;
  static bool swapped(const Params& p) { return iparam(p, 2) < iparam(p, 0); }
  static long largest(const Params& p) {
    return std::max(ma_lookback_of(iparam(p, 1), iparam(p, 0)),
                    ma_lookback_of(iparam(p, 3), iparam(p, 2)));
  }
  explicit MacdExt(const Params& p)
      : fast_delay(largest(p) - (swapped(p) ? ma_lookback_of(iparam(p, 3), iparam(p, 2))
                                            : ma_lookback_of(iparam(p, 1), iparam(p, 0)))),
        slow_delay(largest(p) - (swapped(p) ? ma_lookback_of(iparam(p, 1), iparam(p, 0))
                                            : ma_lookback_of(iparam(p, 3), iparam(p, 2)))),
        fast(swapped(p) ? iparam(p, 3) : iparam(p, 1), swapped(p) ? iparam(p, 2) : iparam(p, 0)),
        slow(swapped(p) ? iparam(p, 1) : iparam(p, 3), swapped(p) ? iparam(p, 0) : iparam(p, 2)),
        sig(iparam(p, 5), iparam(p, 4)) {}
  void reset() noexcept {
    t = 0;
    fast.reset();
    slow.reset();
    sig.reset();
  }
  void step(const V* x, V* y) noexcept {
    V f = splat(0.0), s = splat(0.0), g = splat(0.0);
    const long now = t++;
    const bool fast_ok = now >= fast_delay && fast.step(x[0], f);
    const bool slow_ok = now >= slow_delay && slow.step(x[0], s);
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
  // `lanes` series (in[l]; out[3 * l + j]), each average a pass over the arrays from the bar
  // step() starts it at, ma(type, period, bars, lanes, x, y) running it over every lane's x[l]
  // into y[l] (the same bits as MaAny stepped bar by bar); the signal's average over the MACD line
  // from its first value. The outputs hold the averages on the way (no scratch: a fresh array of
  // a million bars costs its page faults on every call).
  template <class RunMa>
  static void passes(const Params& pr, std::size_t n, std::size_t lanes, const double* const* in,
                     double* const* out, RunMa&& ma) {
    const MacdExt k(pr);
    const bool sw = swapped(pr);
    const int fp = iparam(pr, sw ? 2 : 0), ft = iparam(pr, sw ? 3 : 1);
    const int sp = iparam(pr, sw ? 0 : 2), st = iparam(pr, sw ? 1 : 3);
    const int gp = iparam(pr, 4), gt = iparam(pr, 5);
    const auto start = static_cast<std::size_t>(largest(pr));
    const std::size_t first = std::min(n, start + static_cast<std::size_t>(ma_lookback_of(gt, gp)));
    std::array<const double*, CWTS_TA_WIDTH> x{};  // lanes <= CWTS_TA_WIDTH (lanes_form())
    std::array<double*, CWTS_TA_WIDTH> y{};
    // One average from bar `from`: lane l's source (its input, or its MACD line) into output j.
    const auto average = [&](int type, int period, std::size_t from, bool of_line, std::size_t j) {
      for (std::size_t l = 0; l < lanes; ++l) {
        x[l] = (of_line ? out[3 * l] : in[l]) + from;
        y[l] = out[3 * l + j] + from;
      }
      ma(type, period, n - from, lanes, x.data(), y.data());
    };
    if (start < n) {
      average(ft, fp, static_cast<std::size_t>(k.fast_delay), false, 0);  // the fast average
      average(st, sp, static_cast<std::size_t>(k.slow_delay), false, 1);  // the slow one
      for (std::size_t l = 0; l < lanes; ++l) {                           // the MACD line
        double *m = out[3 * l], *g = out[3 * l + 1];
        for (std::size_t t = start; t < n; ++t) m[t] = m[t] - g[t];
      }
      average(gt, gp, start, true, 1);  // the signal
    }
    for (std::size_t l = 0; l < lanes; ++l) {
      double *m = out[3 * l], *g = out[3 * l + 1], *h = out[3 * l + 2];
      for (std::size_t t = first; t < n; ++t) h[t] = m[t] - g[t];
      for (std::size_t j = 0; j < 3; ++j) std::fill(out[3 * l + j], out[3 * l + j] + first, kNaN);
    }
  }
#if CWTS_TA_WIDTH == 1
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    passes(pr, n, 1, in, out,
           [](int type, int period, std::size_t bars, std::size_t /*lanes*/, const double* const* x,
              double* const* y) { detail::run_scalar_ma(type, period, bars, x[0], y[0]); });
  }
#else
  static void lanes_form(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out) {
    // A vector's series at a time: all of the batch's series in each pass measured slower from
    // 10,000 bars on (the arrays of 16 series leave L2: 1.26 against 1.06 ms for 32 x 10,000 on
    // AVX-512, 20.3 against 13.8 at 100,000).
    for (std::size_t first = 0; first < lanes; first += CWTS_TA_WIDTH) {
      passes(pr, n, std::min<std::size_t>(CWTS_TA_WIDTH, lanes - first), in + first,
             out + 3 * first, run_ma_lanes);
    }
  }
#endif
};
