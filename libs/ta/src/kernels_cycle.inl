// Part of kernels.inl (one unit per ISA): Ehlers' Hilbert-transform cycle indicators as TA-Lib
// computes them.

// TA_HT_SINE, one series: TA-Lib's C source step for step, in its operation order — the 4-bar
// weighted price smoother, the Hilbert transforms on odd and even bars (each with its own delay
// lines), the dominant cycle period with its clamps and smoothing, and the phase summed over the
// last int(period + 0.5) smoothed prices. 37 bars fill the smoother, the transforms then run
// unseen until bar 63 (TA-Lib's lookback).
class HtSineLane {
 public:
  // Whether (sine, leadsine) are out of the warm-up.
  bool step(double x, double& sine, double& lead) noexcept {
    const long t = t_++;
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
    const double smoothed = wma_sum_ * 0.1;
    wma_sum_ -= wma_sub_;
    if (t < kFirstCycleBar) return false;

    const double adj = 0.075 * period_ + 0.54;
    smooth_[smooth_idx_] = smoothed;
    double q2 = 0.0, i2 = 0.0;
    if (t % 2 == 0) {
      const double detrender = even_[0].step(smoothed, hilbert_idx_, adj);
      const double q1 = even_[1].step(detrender, hilbert_idx_, adj);
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

    const int dc_period = static_cast<int>(smooth_period_ + 0.5);
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
      phase_ = std::atan(real_part / imag_part) * kRad2Deg;
    } else if (mag <= 0.01) {
      if (real_part < 0.0) {
        phase_ -= 90.0;
      } else if (real_part > 0.0) {
        phase_ += 90.0;
      }
    }
    phase_ += 90.0;
    phase_ += 360.0 / smooth_period_;  // the smoother's one-bar lag
    if (imag_part < 0.0) phase_ += 180.0;
    if (phase_ > 315.0) phase_ -= 360.0;
    if (++smooth_idx_ == kSmoothLen) smooth_idx_ = 0;
    if (t < kLookback) return false;
    sine = std::sin(phase_ * kDeg2Rad);
    lead = std::sin((phase_ + 45) * kDeg2Rad);
    return true;
  }

  static constexpr long kLookback = 63;

 private:
  static constexpr long kFirstCycleBar = 37;  // 3 + 34 smoother bars
  static constexpr int kSmoothLen = 50;
  static inline const double kRad2Deg = 45.0 / std::atan(1.0);
  static inline const double kDeg2Rad = 1.0 / kRad2Deg;
  static inline const double kDeg2RadBy360 = std::atan(1.0) * 8.0;

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

  long t_ = 0;
  double hist_[4] = {0.0, 0.0, 0.0, 0.0};
  double wma_sub_ = 0.0, wma_sum_ = 0.0, trailing_ = 0.0;
  Hilbert even_[4], odd_[4];
  int hilbert_idx_ = 0;
  double prev_q2_ = 0.0, prev_i2_ = 0.0, re_ = 0.0, im_ = 0.0;
  double i1_odd_prev2_ = 0.0, i1_odd_prev3_ = 0.0, i1_even_prev2_ = 0.0, i1_even_prev3_ = 0.0;
  double period_ = 0.0, smooth_period_ = 0.0, phase_ = 0.0;
  double smooth_[kSmoothLen] = {};
  int smooth_idx_ = 0;
};

// TA_HT_SINE over lanes: each lane its own HtSineLane (the phase loop's length and the libm calls
// differ per lane, and no SIMD form gives libm's bits), so every ISA gives the scalar bits.
struct HtSine {
  HtSineLane lane[CWTS_TA_WIDTH];
  explicit HtSine(const Params&) {}
  void reset() noexcept {
    for (auto& l : lane) l = HtSineLane{};
  }
  void step(const V* x, V* y) noexcept {
#if CWTS_TA_WIDTH == 1
    double s = kNaN, ls = kNaN;
    if (!lane[0].step(x[0], s, ls)) s = ls = kNaN;
    y[0] = s;
    y[1] = ls;
#else
    V s = splat(kNaN), ls = splat(kNaN);
    for (int l = 0; l < CWTS_TA_WIDTH; ++l) {
      double a = kNaN, b = kNaN;
      if (lane[l].step(x[0][l], a, b)) {
        s[l] = a;
        ls[l] = b;
      }
    }
    y[0] = s;
    y[1] = ls;
#endif
  }
};
