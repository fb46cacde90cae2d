// Part of kernels.inl (one unit per ISA): the dispatch (lane tiles transposed, a kernel run over
// series or over one series, a sweep of parameter sets over one series, the kind switch). Same lane
// type and rules: TA-Lib's C code operation for operation, internal linkage.

// ---- dispatch ----------------------------------------------------------------------------------

// Lanes per group (one kernel instance) and groups interleaved per call: G independent
// recurrences in one loop body give the out-of-order core G dependency chains to overlap (a
// recurrence such as EMA is latency-bound: one chain leaves most of the core idle).
constexpr std::size_t kLaneWidth = CWTS_TA_WIDTH;
constexpr std::size_t kGroups = CWTS_TA_WIDTH == 1 ? 1 : CWTS_TA_WIDTH == 4 ? 4 : 2;
constexpr std::size_t kPrefetchAhead = 64;  // bars (8 cache lines)

// may_stream false: ordinary stores whatever the size (outputs read again right after the call,
// MACDEXT's passes).
template <class K, std::size_t... I>
void run_groups(const Params& p, std::size_t n, std::size_t lanes, const double* const* in,
                double* const* out, std::size_t n_in, std::size_t n_out,
                [[maybe_unused]] bool may_stream, std::index_sequence<I...>) {
  constexpr std::size_t G = sizeof...(I);
  constexpr std::size_t W = kLaneWidth;
  K ks[G] = {((void)I, K(p))...};
  // Per group, input / output and lane: the series' pointers (lane-major as given). Lanes past
  // `lanes` repeat the group's first lane and are never stored.
  const double* ip[G][kMaxInputs][W];
  double* op[G][kMaxOutputs][W];
  std::size_t used[G];
  for (std::size_t g = 0; g < G; ++g) {
    used[g] = lanes > g * W ? std::min(W, lanes - g * W) : 0;
    for (std::size_t l = 0; l < W; ++l) {
      const std::size_t src =
          used[g] == 0 ? 0 : g * W + (l < used[g] ? l : 0);  // an idle group runs series 0
      for (std::size_t i = 0; i < n_in; ++i) ip[g][i][l] = in[src * n_in + i];
      for (std::size_t j = 0; j < n_out; ++j) op[g][j][l] = out[src * n_out + j];
    }
  }
  V x[G][kMaxInputs] = {};
  V y[G][kMaxOutputs] = {};
  std::size_t t = 0;
#if CWTS_TA_WIDTH > 1
  // Whole tiles of W bars: W contiguous loads per input, a transpose, W steps, a transpose
  // back and W contiguous stores per output.
  V tin[G][kMaxInputs][W] = {};
  V tout[G][kMaxOutputs][W] = {};
  // The caller's output pointers (op[][][] repeats some of them for idle lanes, never stored).
  const bool stream = may_stream && streams(out, lanes * n_out, n * lanes * n_out * sizeof(double));
  if (stream) detail::note_streamed_lanes();
  for (; t + W <= n; t += W) {
    // Many concurrent streams (lanes x groups x inputs) are more than the hardware prefetcher
    // follows: prefetch each one a few cache lines ahead, once per line. (Copying blocks of each
    // series into a cache-resident scratch first was measured too: slower, the copies cost more.)
    if ((t % 8) < W && t + kPrefetchAhead < n) {
      for (std::size_t g = 0; g < G; ++g) {
        for (std::size_t l = 0; l < used[g]; ++l) {
          for (std::size_t i = 0; i < n_in; ++i)
            __builtin_prefetch(ip[g][i][l] + t + kPrefetchAhead, 0, 0);
          for (std::size_t j = 0; j < n_out && !stream; ++j)
            __builtin_prefetch(op[g][j][l] + t + kPrefetchAhead, 1, 0);
        }
      }
    }
    for (std::size_t g = 0; g < G; ++g) {
      for (std::size_t i = 0; i < n_in; ++i) {
        for (std::size_t l = 0; l < W; ++l) std::memcpy(&tin[g][i][l], ip[g][i][l] + t, sizeof(V));
        transpose(tin[g][i]);
      }
    }
    for (std::size_t s = 0; s < W; ++s) {
      for (std::size_t g = 0; g < G; ++g) {
        for (std::size_t i = 0; i < n_in; ++i) x[g][i] = tin[g][i][s];
        ks[g].step(x[g], y[g]);
        for (std::size_t j = 0; j < n_out; ++j) tout[g][j][s] = y[g][j];
      }
    }
    for (std::size_t g = 0; g < G; ++g) {
      for (std::size_t j = 0; j < n_out; ++j) {
        transpose(tout[g][j]);
        store_tile(op[g][j], used[g], t, tout[g][j], stream);
      }
    }
  }
  if (stream) _mm_sfence();  // the streamed lines ordered before the caller's later stores
#endif
  for (; t < n; ++t) {
    for (std::size_t g = 0; g < G; ++g) {
      for (std::size_t i = 0; i < n_in; ++i) x[g][i] = load_lanes(ip[g][i], W, t);
      ks[g].step(x[g], y[g]);
      for (std::size_t j = 0; j < n_out; ++j) store_lanes(op[g][j], used[g], t, y[g][j]);
    }
  }
}

// Up to kGroups * kLaneWidth series, in calls of G groups: G independent recurrences overlap in
// the core, but every lane of every group reads and writes its own arrays, and past about 32
// concurrent streams the loads wait on the caches instead (measured, cwts-bench-ta BM_Many, 32
// series x 2,000 bars: STOCH's 5 streams a lane ran 1.8x faster on AVX-512 in one group than in
// two, MACD's and ATR's 4 on AVX2 1.6x faster in two groups than in four). So G is the most
// groups whose streams stay within kStreamBudget; a kernel with one input and one output keeps
// them all. Which series share a call changes no lane's arithmetic: the same bits either way.
constexpr std::size_t kStreamBudget = 32;

constexpr std::size_t groups_for(std::size_t n_in, std::size_t n_out) noexcept {
  const std::size_t per_group = kLaneWidth * (n_in + n_out);
  const std::size_t g = per_group == 0 ? kGroups : kStreamBudget / per_group;
  return g >= kGroups ? kGroups : g >= 2 ? 2 : 1;
}

template <class K, std::size_t G>
void run_in_calls_of(const Params& p, std::size_t n, std::size_t lanes, const double* const* in,
                     double* const* out, std::size_t n_in, std::size_t n_out, bool may_stream) {
  for (std::size_t first = 0; first < lanes; first += G * kLaneWidth) {
    run_groups<K>(p, n, std::min(lanes - first, G * kLaneWidth), in + first * n_in,
                  out + first * n_out, n_in, n_out, may_stream, std::make_index_sequence<G>{});
  }
}

template <class K>
void run_kernel(const Params& p, std::size_t n, std::size_t lanes, const double* const* in,
                double* const* out, std::size_t n_in, std::size_t n_out, bool may_stream = true) {
  const std::size_t g = lanes > kLaneWidth ? groups_for(n_in, n_out) : 1;
  if constexpr (kGroups >= 4) {
    if (g >= 4) return run_in_calls_of<K, kGroups>(p, n, lanes, in, out, n_in, n_out, may_stream);
  }
  if constexpr (kGroups >= 2) {
    if (g >= 2) return run_in_calls_of<K, 2>(p, n, lanes, in, out, n_in, n_out, may_stream);
  }
  run_in_calls_of<K, 1>(p, n, lanes, in, out, n_in, n_out, may_stream);
}

template <class F>
decltype(auto) with_kernel(Kind kind, F&& f) {
  switch (kind) {
    case Kind::kSma:
      return f.template operator()<Sma>();
    case Kind::kEma:
      return f.template operator()<Ema>();
    case Kind::kWma:
      return f.template operator()<Wma>();
    case Kind::kDema:
      return f.template operator()<Dema>();
    case Kind::kTema:
      return f.template operator()<Tema>();
    case Kind::kRsi:
      return f.template operator()<Rsi>();
    case Kind::kMacd:
      return f.template operator()<Macd>();
    case Kind::kBbands:
      return f.template operator()<Bbands>();
    case Kind::kStddev:
      return f.template operator()<Stddev>();
    case Kind::kAtr:
      return f.template operator()<Atr>();
    case Kind::kNatr:
      return f.template operator()<Natr>();
    case Kind::kAdx:
      return f.template operator()<Adx>();
    case Kind::kStoch:
      return f.template operator()<Stoch>();
    case Kind::kStochf:
      return f.template operator()<Stochf>();
    case Kind::kStochRsi:
      return f.template operator()<StochRsi>();
    case Kind::kMfi:
      return f.template operator()<Mfi>();
    case Kind::kObv:
      return f.template operator()<Obv>();
    case Kind::kCci:
      return f.template operator()<Cci>();
    case Kind::kRoc:
      return f.template operator()<Roc>();
    case Kind::kMom:
      return f.template operator()<Mom>();
    case Kind::kWillr:
      return f.template operator()<Willr>();
    case Kind::kSar:
      return f.template operator()<Sar>();
    case Kind::kVwap:
      return f.template operator()<Vwap>();
    case Kind::kTrange:
      return f.template operator()<Trange>();
    case Kind::kMin:
      return f.template operator()<Min>();
    case Kind::kMax:
      return f.template operator()<Max>();
    case Kind::kRocr:
      return f.template operator()<Rocr>();
    case Kind::kCmo:
      return f.template operator()<Cmo>();
    case Kind::kMinusDi:
      return f.template operator()<MinusDi>();
    case Kind::kPlusDi:
      return f.template operator()<PlusDi>();
    case Kind::kTrima:
      return f.template operator()<Trima>();
    case Kind::kLinearreg:
      return f.template operator()<Linearreg>();
    case Kind::kLinearregSlope:
      return f.template operator()<LinearregSlope>();
    case Kind::kLinearregIntercept:
      return f.template operator()<LinearregIntercept>();
    case Kind::kLinearregAngle:
      return f.template operator()<LinearregAngle>();
    case Kind::kTsf:
      return f.template operator()<Tsf>();
    case Kind::kKama:
      return f.template operator()<Kama>();
    case Kind::kT3:
      return f.template operator()<T3>();
    case Kind::kMa:
      return f.template operator()<Ma>();
    case Kind::kApo:
      return f.template operator()<Apo>();
    case Kind::kPpo:
      return f.template operator()<Ppo>();
    case Kind::kMacdExt:
      return f.template operator()<MacdExt>();
    case Kind::kHtSine:
      return f.template operator()<HtSine>();
    case Kind::kHtTrendline:
      return f.template operator()<HtTrendline>();
    case Kind::kHtDcPeriod:
      return f.template operator()<HtDcPeriod>();
    case Kind::kHtDcPhase:
      return f.template operator()<HtDcPhase>();
    case Kind::kHtPhasor:
      return f.template operator()<HtPhasor>();
    case Kind::kMama:
      return f.template operator()<Mama>();
    case Kind::kCount:
      break;
  }
  return f.template operator()<Sma>();  // unreachable: callers validate the kind
}

// Whether a batch should run this series through the kernel's whole-series form: the kernel has
// one, and K::series_suits (where defined) says the form is worth it on this series (MIN, MAX,
// WILLR: it would not fall back to step() one bar at a time; STOCH, STOCHF: never, their
// averages gain more in lanes), or K::kBatchAsScalarSeries says its scalar series form beats its
// lanes (HT_TRENDLINE, HT_SINE, HT_DCPHASE, MAMA; ATR and NATR from K::kScalarSeriesFrom bars:
// run_series() runs that form
// where this unit has none).
// Otherwise the batch runs the series in lanes beside others.
bool series_suits_impl(Kind kind, const Params& p, std::size_t n,
                       const double* const* in) noexcept {
  return with_kernel(kind, [&]<class K>() -> bool {
    if constexpr (requires { K::kBatchAsScalarSeries; }) {
      if (K::kBatchAsScalarSeries) return true;  // run_series() then runs the scalar form
    }
    if constexpr (requires { K::kScalarSeriesFrom; }) {
      if (n >= K::kScalarSeriesFrom) return true;  // from that length (ATR, NATR), as above
    }
    if constexpr (!requires(double* const* o) { K::series(p, n, in, o); }) {
      return false;
    } else if constexpr (requires { K::series_suits(p, n, in); }) {
      return K::series_suits(p, n, in);
    } else {
      return true;
    }
  });
}

// One series through its kernel's whole-series form (K::series: its bars in the lanes where they
// do not depend on each other, or step()'s recurrence read straight from the arrays). False for a
// kernel without one: the caller runs it through step().
bool run_series_impl(Kind kind, const Params& p, std::size_t n, const double* const* in,
                     double* const* out) {
  return with_kernel(kind, [&]<class K>() -> bool {
    if constexpr (requires { K::series(p, n, in, out); }) {
      K::series(p, n, in, out);
      return true;
    } else {
      return false;
    }
  });
}

// Series in lanes: run_groups() stepping the kernel, or the kernel's own lanes form where it has
// one (MACDEXT, APO, PPO: a pass per average, each through its own kernel's lanes; SMA, EMA,
// DEMA, TEMA, WMA, TRIMA, KAMA, T3, MACD, RSI, CMO, ATR, NATR, STDDEV, BBANDS over the SMA: their
// state in registers after the warm-up).
void run_lanes_impl(Kind kind, const Params& p, std::size_t n, std::size_t lanes,
                    const double* const* in, double* const* out) {
  const KindSpec& s = spec(kind);
  with_kernel(kind, [&]<class K>() {
    if constexpr (requires { K::lanes_form(p, n, lanes, in, out); }) {
      K::lanes_form(p, n, lanes, in, out);
    } else {
      run_kernel<K>(p, n, lanes, in, out, s.n_inputs, s.n_outputs);
    }
  });
}

#if CWTS_TA_WIDTH > 1
void Bbands::lanes_form(const Params& pr, std::size_t n, std::size_t lanes, const double* const* in,
                        double* const* out) {
  if (iparam(pr, 3) != 0) return run_kernel<Bbands>(pr, n, lanes, in, out, 1, 3);
  const double up = pr.v[1], dn = pr.v[2];
  // The mean and the variance in registers (variance_lanes()), their rows transposed back and
  // the bands worked out from them lane by lane (bands(), element-wise: the same wherever the
  // lanes are).
  variance_lanes<Bbands, 2, 3>(
      pr, n, lanes, in, out,
      [](const Bbands& k) {
        return [total = k.sma.total, pd = splat(static_cast<double>(k.v.s.p))](V var, const V* x,
                                                                               V* y) mutable {
          total = total + x[0];  // SmaState::step()'s operations
          y[1] = total / pd;
          total = total - x[1];
          y[0] = var;  // for now
        };
      },
      [up, dn](V* y) { bands(y[1], y[0], up, dn, y[0], y[2]); });
}

void run_ma_lanes(int type, int period, std::size_t n, std::size_t lanes, const double* const* in,
                  double* const* out) {
  if (period == 1) return copy_lanes(n, lanes, in, out);  // TA_MA: the input, whatever the type
  Params p{};
  p.v[0] = period;
  p.v[1] = 0.7;  // T3's vfactor in TA_MA, as MaAny's
  // Ordinary stores: the next pass reads this one's output at once (streamed past the caches,
  // 32 x 100,000 bars measured 14.2 against 13.3 ms on AVX-512). The kernel's own lanes form
  // where it has one (every type but MAMA: the state in registers), else run_groups().
  const auto run = [&]<class K>() {
    if constexpr (requires { K::lanes_form(p, n, lanes, in, out, false); }) {
      K::lanes_form(p, n, lanes, in, out, false);
    } else {
      run_kernel<K>(p, n, lanes, in, out, 1, 1, false);
    }
  };
  switch (type) {
    case 0:
      return run.template operator()<Sma>();
    case 1:
      return run.template operator()<Ema>();
    case 2:
      return run.template operator()<Wma>();
    case 3:
      return run.template operator()<Dema>();
    case 4:
      return run.template operator()<Tema>();
    case 5:
      return run.template operator()<Trima>();
    case 6:
      return run.template operator()<Kama>();
    case 8:
      return run.template operator()<T3>();
    default:  // MAMA (two outputs of its own): TA_MA's through MaAny
      p.v[1] = type;
      return run.template operator()<Ma>();
  }
}
#endif

// A parameter sweep: up to W sets of one kernel over one series, a set per lane. K::Sweep holds
// the lanes' state and their parameters as vectors: first() is one bar of the general step (each
// lane's own warm-up by masks, so any bar), warm() the bars after which every lane has warmed up,
// tile() W bars of the warmed step, a row a bar (row s = bar t + s across the lanes). Each lane
// performs the operations step() performs for its set, so the bits are run()'s.
#if CWTS_TA_WIDTH > 1
template <class S>
void sweep_lanes(const Params* sets, std::size_t count, std::size_t n, const double* const* in,
                 double* const* out) {
  S s(sets, count);
  std::size_t t = 0;
  for (const std::size_t warm = std::min(n, s.warm()); t < warm; ++t) {
    store_lanes(out, count, t, s.first(in, t));
  }
  V tile[kLaneWidth];
  for (; t + kLaneWidth <= n; t += kLaneWidth) {
    s.tile(in, t, tile);
    transpose_inline(tile);  // row l = lane l's W bars
    for (std::size_t l = 0; l < count; ++l) std::memcpy(out[l] + t, &tile[l], sizeof(V));
  }
  for (; t < n; ++t) store_lanes(out, count, t, s.first(in, t));
}
#endif

// K's own sweep form, not one inherited from the kernel it derives from.
template <class K>
constexpr bool has_sweep() noexcept {
  if constexpr (requires { typename K::Sweep::Of; }) {
    return std::is_same_v<typename K::Sweep::Of, K>;
  } else {
    return false;
  }
}

bool sweep_suits_impl(Kind kind, const Params& p) noexcept {
#if CWTS_TA_WIDTH > 1
  return with_kernel(kind, [&]<class K>() -> bool {
    if constexpr (has_sweep<K>()) {
      return K::Sweep::suits(p);
    } else {
      return false;
    }
  });
#else
  (void)kind;
  (void)p;
  return false;
#endif
}

// The fewest sets a run of K's sweep should take: K::Sweep::kFewest where the sweep costs more
// than two sets one after the other would, else 2.
std::size_t sweep_fewest_impl(Kind kind) noexcept {
#if CWTS_TA_WIDTH > 1
  return with_kernel(kind, [&]<class K>() -> std::size_t {
    if constexpr (has_sweep<K>()) {
      if constexpr (requires { K::Sweep::kFewest; }) return K::Sweep::kFewest;
    }
    return 2;
  });
#else
  (void)kind;
  return 2;
#endif
}

void run_sweep_impl(Kind kind, const Params* sets, std::size_t count, std::size_t n,
                    const double* const* in, double* const* out) {
#if CWTS_TA_WIDTH > 1
  with_kernel(kind, [&]<class K>() {
    if constexpr (has_sweep<K>()) {
      if constexpr (requires { &K::Sweep::whole; }) {
        K::Sweep::whole(sets, count, n, in, out);  // a form of its own over the whole series
      } else {
        sweep_lanes<typename K::Sweep>(sets, count, n, in, out);
      }
    }
  });
#else
  (void)kind, (void)sets, (void)count, (void)n, (void)in, (void)out;
#endif
}

// This unit's entry points (detail::avx2_kernels() and the others hand them out).
const detail::IsaKernels& isa_kernels() noexcept {
  static const detail::IsaKernels k{&run_lanes_impl,    kLaneWidth * kGroups, &run_series_impl,
                                    &series_suits_impl, &sweep_suits_impl,    &run_sweep_impl,
                                    kLaneWidth,         &sweep_fewest_impl};
  return k;
}

#if CWTS_TA_WIDTH == 1
// One series on this scalar unit (what run_scalar_series() runs).
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

template <class K>
class StreamImpl final : public Stream {
 public:
  StreamImpl(Kind kind, const Params& p) : Stream(kind), k_(p) {}
  void update(const double* in, double* out) noexcept override { k_.step(in, out); }
  void reset() noexcept override { k_.reset(); }

 private:
  K k_;
};

std::unique_ptr<Stream> make_stream_impl(Kind kind, const Params& p) {
  return with_kernel(kind, [&]<class K>() -> std::unique_ptr<Stream> {
    return std::make_unique<StreamImpl<K>>(kind, p);
  });
}
#endif
