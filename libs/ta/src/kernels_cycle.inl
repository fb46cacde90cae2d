// Part of kernels.inl (one unit per ISA): Ehlers' Hilbert-transform cycle indicators as TA-Lib
// computes them.

// The dominant cycle as TA-Lib's HT_* functions measure it, one series, TA-Lib's C source step for
// step in its operation order: the 4-bar weighted price smoother, the Hilbert transforms on odd and
// even bars (each with its own delay lines), and the cycle period with its clamps and smoothing.
// The smoother fills over bars 0..36 (3 + 34: the functions whose lookback is 63; HT_DCPERIOD's,
// 32, over bars 0..11: 3 + 9); the period is then updated on every bar.
// (TA-Lib alternates on the bar's index in its call; the two sets start alike and step their delay
// lines alike, so counting from the first bar gives the same values where the call starts on an
// odd one, as MACDEXT's averages may.)
class HilbertCycle {
 public:
  explicit HilbertCycle(long first_cycle_bar = 37) noexcept : first_cycle_bar_(first_cycle_bar) {}
  // Bar t's price: false while the smoother fills, else the period is updated and `smoothed` is
  // the bar's smoothed price.
  bool step(double x, long t, double& smoothed) noexcept {
    hist_[t % 4] = x;
    if (t < 3) {  // the smoother's first three weights (TA-Lib's unrolled start)
      wma_sub_ += x;
      wma_sum_ += x * static_cast<double>(t + 1);
      return false;
    }
    wma_sub_ += x;
    wma_sub_ -= trailing_;
    wma_sum_ += x * 4.0;
    trailing_ = hist_[(t - 3) % 4];
    smoothed = wma_sum_ * 0.1;
    wma_sum_ -= wma_sub_;
    if (t < first_cycle_bar_) return false;

    const double adj = 0.075 * period_ + 0.54;
    double q2 = 0.0, i2 = 0.0;
    if (t % 2 == 0) {
      const double detrender = even_[0].step(smoothed, hilbert_idx_, adj);
      const double q1 = even_[1].step(detrender, hilbert_idx_, adj);
      q1_ = q1;
      i1_ = i1_even_prev3_;
      const double ji = even_[2].step(i1_even_prev3_, hilbert_idx_, adj);
      const double jq = even_[3].step(q1, hilbert_idx_, adj);
      if (++hilbert_idx_ == 3) hilbert_idx_ = 0;
      q2 = 0.2 * (q1 + ji) + 0.8 * prev_q2_;
      i2 = 0.2 * (i1_even_prev3_ - jq) + 0.8 * prev_i2_;
      i1_odd_prev3_ = i1_odd_prev2_;
      i1_odd_prev2_ = detrender;
    } else {
      const double detrender = odd_[0].step(smoothed, hilbert_idx_, adj);
      const double q1 = odd_[1].step(detrender, hilbert_idx_, adj);
      q1_ = q1;
      i1_ = i1_odd_prev3_;
      const double ji = odd_[2].step(i1_odd_prev3_, hilbert_idx_, adj);
      const double jq = odd_[3].step(q1, hilbert_idx_, adj);
      q2 = 0.2 * (q1 + ji) + 0.8 * prev_q2_;
      i2 = 0.2 * (i1_odd_prev3_ - jq) + 0.8 * prev_i2_;
      i1_even_prev3_ = i1_even_prev2_;
      i1_even_prev2_ = detrender;
    }
    re_ = 0.2 * (i2 * prev_i2_ + q2 * prev_q2_) + 0.8 * re_;
    im_ = 0.2 * (i2 * prev_q2_ - q2 * prev_i2_) + 0.8 * im_;
    prev_q2_ = q2;
    prev_i2_ = i2;
    const double last = period_;
    if (im_ != 0.0 && re_ != 0.0) period_ = 360.0 / (std::atan(im_ / re_) * kRad2Deg);
    if (period_ > 1.5 * last) period_ = 1.5 * last;
    if (period_ < 0.67 * last) period_ = 0.67 * last;
    if (period_ < 6) {
      period_ = 6;
    } else if (period_ > 50) {
      period_ = 50;
    }
    period_ = 0.2 * period_ + 0.8 * last;
    smooth_period_ = 0.33 * period_ + 0.67 * smooth_period_;
    return true;
  }
  [[nodiscard]] double smooth_period() const noexcept { return smooth_period_; }
  // The last bar's quadrature (Q1) and in-phase (I1: the detrender three bars of its parity back)
  // components, as HT_PHASOR gives them and MAMA reads its phase from.
  [[nodiscard]] double q1() const noexcept { return q1_; }
  [[nodiscard]] double i1() const noexcept { return i1_; }
  // int(period + 0.5) as TA-Lib's C cast gives it, without C++'s undefined cast of a NaN (a NaN
  // input makes the period NaN; x86's conversion then gives INT_MIN: loops of zero length). The
  // period is at most 50.
  [[nodiscard]] int dc_period() const noexcept {
    const double p = smooth_period_ + 0.5;
    return p >= 0.0 && p <= 64.0 ? static_cast<int>(p) : 0;
  }

  static constexpr long kLookback = 63;
  static inline const double kRad2Deg = 45.0 / std::atan(1.0);

 private:
  // One of the four transforms (detrender, Q1, jI, jQ) on odd or on even bars.
  struct Hilbert {
    double delay[3] = {0.0, 0.0, 0.0};
    double prev = 0.0, prev_input = 0.0;
    double step(double input, int idx, double adj) noexcept {
      const double scaled = 0.0962 * input;
      double v = 0.0 - delay[idx];
      delay[idx] = scaled;
      v += scaled;
      v -= prev;
      prev = 0.5769 * prev_input;
      v += prev;
      prev_input = input;
      return v * adj;
    }
  };

  long first_cycle_bar_;
  double q1_ = 0.0, i1_ = 0.0;
  double hist_[4] = {0.0, 0.0, 0.0, 0.0};
  double wma_sub_ = 0.0, wma_sum_ = 0.0, trailing_ = 0.0;
  Hilbert even_[4], odd_[4];
  int hilbert_idx_ = 0;
  double prev_q2_ = 0.0, prev_i2_ = 0.0, re_ = 0.0, im_ = 0.0;
  double i1_odd_prev2_ = 0.0, i1_odd_prev3_ = 0.0, i1_even_prev2_ = 0.0, i1_even_prev3_ = 0.0;
  double period_ = 0.0, smooth_period_ = 0.0;
};

// TA_HT_DCPHASE and TA_HT_SINE: the dominant cycle's phase, summed over the last
// int(period + 0.5) smoothed prices; HT_SINE gives the sine of it and of it + 45 degrees.
template <bool Sine>
class HtPhaseLane {
 public:
  // A batch runs HT_SINE and HT_DCPHASE series through the scalar kernel (PerLaneT): measured
  // level with to 7 % faster so than W lanes stepped side by side (2,000 to 100,000 bars,
  // docs/benchmarks.md, 2026-12-06).
  static constexpr bool kBatchAsScalarSeries = true;
  static constexpr int kOutputs = Sine ? 2 : 1;
  bool step(double x, double* out) noexcept {
    const long t = t_++;
    double smoothed = 0.0;
    if (!cycle_.step(x, t, smoothed)) return false;
    smooth_[smooth_idx_] = smoothed;
    const double smooth_period = cycle_.smooth_period();
    const int dc_period = cycle_.dc_period();
    double real_part = 0.0, imag_part = 0.0;
    int idx = smooth_idx_;
    for (int i = 0; i < dc_period; ++i) {
      const double angle = static_cast<double>(i) * kDeg2RadBy360 / static_cast<double>(dc_period);
      const double v = smooth_[idx];
      real_part += std::sin(angle) * v;
      imag_part += std::cos(angle) * v;
      idx = idx == 0 ? kSmoothLen - 1 : idx - 1;
    }
    const double mag = std::fabs(imag_part);
    if (mag > 0.0) {
      phase_ = std::atan(real_part / imag_part) * HilbertCycle::kRad2Deg;
    } else if (mag <= 0.01) {
      if (real_part < 0.0) {
        phase_ -= 90.0;
      } else if (real_part > 0.0) {
        phase_ += 90.0;
      }
    }
    phase_ += 90.0;
    phase_ += 360.0 / smooth_period;  // the smoother's one-bar lag
    if (imag_part < 0.0) phase_ += 180.0;
    if (phase_ > 315.0) phase_ -= 360.0;
    if (++smooth_idx_ == kSmoothLen) smooth_idx_ = 0;
    if (t < HilbertCycle::kLookback) return false;
    if constexpr (Sine) {
      out[0] = std::sin(phase_ * kDeg2Rad);
      out[1] = std::sin((phase_ + 45) * kDeg2Rad);
    } else {
      out[0] = phase_;
    }
    return true;
  }

 private:
  static constexpr int kSmoothLen = 50;
  static inline const double kDeg2Rad = 1.0 / HilbertCycle::kRad2Deg;
  static inline const double kDeg2RadBy360 = std::atan(1.0) * 8.0;
  long t_ = 0;
  HilbertCycle cycle_;
  double phase_ = 0.0;
  double smooth_[kSmoothLen] = {};
  int smooth_idx_ = 0;
};

// TA_HT_DCPERIOD: the dominant cycle's smoothed period (lookback 32).
class HtDcPeriodLane {
 public:
  static constexpr int kOutputs = 1;
  static constexpr long kLookback = 32;
  bool step(double x, double* out) noexcept {
    const long t = t_++;
    double smoothed = 0.0;
    if (!cycle_.step(x, t, smoothed) || t < kLookback) return false;
    out[0] = cycle_.smooth_period();
    return true;
  }

 private:
  long t_ = 0;
  HilbertCycle cycle_{12};
};

// TA_HT_TRENDLINE: the instantaneous trendline, the mean of the last int(period + 0.5) prices
// weighted 4-3-2-1 with the three before it.
class HtTrendlineLane {
 public:
  // A batch runs HT_TRENDLINE series through the scalar kernel, not in lanes (PerLaneT).
  static constexpr bool kBatchAsScalarSeries = true;
  static constexpr int kOutputs = 1;
  bool step(double x, double* out) noexcept {
    const long t = t_++;
    raw_[static_cast<unsigned long>(t) % kRawLen] = x;
    double smoothed = 0.0;
    if (!cycle_.step(x, t, smoothed)) return false;
    const int dc_period = cycle_.dc_period();
    double mean = 0.0;
    for (int i = 0; i < dc_period; ++i) mean += raw_[static_cast<unsigned long>(t - i) % kRawLen];
    if (dc_period > 0) mean = mean / static_cast<double>(dc_period);
    const double trend = (4.0 * mean + 3.0 * trend1_ + 2.0 * trend2_ + trend3_) / 10.0;
    trend3_ = trend2_;
    trend2_ = trend1_;
    trend1_ = mean;
    if (t < HilbertCycle::kLookback) return false;
    out[0] = trend;
    return true;
  }

 private:
  static constexpr unsigned long kRawLen = 64;  // more than the longest period (50)
  long t_ = 0;
  HilbertCycle cycle_;
  double raw_[kRawLen] = {};
  double trend1_ = 0.0, trend2_ = 0.0, trend3_ = 0.0;
};

// TA_HT_PHASOR: the cycle's in-phase and quadrature components (lookback 32).
class HtPhasorLane {
 public:
  static constexpr int kOutputs = 2;
  static constexpr long kLookback = 32;
  bool step(double x, double* out) noexcept {
    const long t = t_++;
    double smoothed = 0.0;
    if (!cycle_.step(x, t, smoothed) || t < kLookback) return false;
    out[0] = cycle_.i1();
    out[1] = cycle_.q1();
    return true;
  }

 private:
  long t_ = 0;
  HilbertCycle cycle_{12};
};

// TA_MAMA: Ehlers' MESA adaptive moving average and its following average FAMA (lookback 32).
// Each bar's smoothing factor is fastlimit over the phase's change in degrees (at least 1), never
// under slowlimit; MAMA averages the price itself, FAMA averages MAMA at half that factor.
class MamaLane {
 public:
  // A batch runs MAMA series through the scalar kernel, as HT_SINE's (measured 5 % faster).
  static constexpr bool kBatchAsScalarSeries = true;
  static constexpr int kOutputs = 2;
  static constexpr long kLookback = 32;
  MamaLane() = default;
  explicit MamaLane(const Params& p) noexcept : fast_(p.v[0]), slow_(p.v[1]) {}
  bool step(double x, double* out) noexcept {
    const long t = t_++;
    double smoothed = 0.0;
    if (!cycle_.step(x, t, smoothed)) return false;
    const double i1 = cycle_.i1();
    const double phase = i1 != 0.0 ? std::atan(cycle_.q1() / i1) * HilbertCycle::kRad2Deg : 0.0;
    double delta = prev_phase_ - phase;
    prev_phase_ = phase;
    if (delta < 1.0) delta = 1.0;
    double alpha = fast_;  // (also for a NaN delta, as TA-Lib's comparisons fall through)
    if (delta > 1.0) {
      alpha = fast_ / delta;
      if (alpha < slow_) alpha = slow_;
    }
    mama_ = alpha * x + (1.0 - alpha) * mama_;
    alpha *= 0.5;
    fama_ = alpha * mama_ + (1.0 - alpha) * fama_;
    if (t < kLookback) return false;
    out[0] = mama_;
    out[1] = fama_;
    return true;
  }

 private:
  double fast_ = 0.5, slow_ = 0.05;
  long t_ = 0;
  HilbertCycle cycle_{12};
  double prev_phase_ = 0.0, mama_ = 0.0, fama_ = 0.0;
};

// An HT_* function over lanes: each lane its own series state (the loops' lengths and the libm
// calls differ per lane, and no SIMD form gives libm's bits), so every ISA gives the scalar bits.
// A lane with parameters (MAMA's limits) is made from them.
template <class Lane>
struct PerLaneT {
  static constexpr bool kBatchAsScalarSeries = [] {
    if constexpr (requires { Lane::kBatchAsScalarSeries; }) {
      return Lane::kBatchAsScalarSeries;
    } else {
      return false;
    }
  }();
  Lane lane[CWTS_TA_WIDTH];
  Params params;
  explicit PerLaneT(const Params& p) : params(p) { reset(); }
  static Lane make(const Params& p) noexcept {
    if constexpr (std::is_constructible_v<Lane, const Params&>) {
      return Lane(p);
    } else {
      return Lane{};
    }
  }
  void reset() noexcept {
    for (auto& l : lane) l = make(params);
  }
#if CWTS_TA_WIDTH == 1
  // One whole series: the lane stepped over the arrays as they are, its state in one local, without
  // the kernel loop's copies of each bar in and out. step()'s calls, so the same bits. A batch
  // takes it only where the kernel says so (kBatchAsScalarSeries).
  static bool series_suits(const Params& /*unused*/, std::size_t /*unused*/,
                           const double* const* /*unused*/) noexcept {
    return kBatchAsScalarSeries;
  }
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    Lane one = make(pr);
    const double* x = in[0];
    for (std::size_t t = 0; t < n; ++t) {
      double o[Lane::kOutputs];
      const bool ready = one.step(x[t], o);
      for (int j = 0; j < Lane::kOutputs; ++j) out[j][t] = ready ? o[j] : kNaN;
    }
  }
#endif
  void step(const V* x, V* y) noexcept {
    for (int j = 0; j < Lane::kOutputs; ++j) y[j] = splat(kNaN);
    for (int l = 0; l < CWTS_TA_WIDTH; ++l) {
      double out[Lane::kOutputs];
#if CWTS_TA_WIDTH == 1
      if (lane[l].step(x[0], out)) {
        for (int j = 0; j < Lane::kOutputs; ++j) y[j] = out[j];
      }
#else
      if (lane[l].step(x[0][l], out)) {
        for (int j = 0; j < Lane::kOutputs; ++j) y[j][l] = out[j];
      }
#endif
    }
  }
};
using HtSine = PerLaneT<HtPhaseLane<true>>;
using HtDcPhase = PerLaneT<HtPhaseLane<false>>;
using HtDcPeriod = PerLaneT<HtDcPeriodLane>;
using HtTrendline = PerLaneT<HtTrendlineLane>;
using HtPhasor = PerLaneT<HtPhasorLane>;
using Mama = PerLaneT<MamaLane>;
