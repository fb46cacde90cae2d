// The kernels, written once over a lane type. Included by exactly one translation unit per ISA
// (isa_scalar.cpp, isa_avx2.cpp, isa_avx512.cpp), which defines CWTS_TA_WIDTH (1, 4 or 8) and
// CWTS_TA_NS first. Everything here has internal linkage: the units are compiled with different
// -m flags, so no inline function or template instantiation may be shared between them.
//
// Each kernel follows TA-Lib's C code operation for operation (the comments name the TA-Lib
// function); with -ffp-contract=off a lane's arithmetic is the scalar arithmetic, so every ISA
// gives the same bits.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <utility>
#include <variant>

#include "cwts/ta/ta.hpp"

#if CWTS_TA_WIDTH > 1
#include <immintrin.h>
#endif

namespace cwts::ta::CWTS_TA_NS {
namespace {

// ---- lane type -----------------------------------------------------------------------------
#if CWTS_TA_WIDTH == 1
using V = double;
using M = bool;
inline V splat(double x) noexcept { return x; }
inline V sel(M m, V a, V b) noexcept { return m ? a : b; }
inline M msel(M m, M a, M b) noexcept { return m ? a : b; }
inline M mtrue() noexcept { return true; }
inline M mand(M a, M b) noexcept { return a && b; }
inline M mor(M a, M b) noexcept { return a || b; }
inline M mnot(M a) noexcept { return !a; }
inline bool any(M m) noexcept { return m; }
inline V vabs(V x) noexcept { return std::fabs(x); }
inline V vsqrt(V x) noexcept { return std::sqrt(x); }
inline V load_lanes(const double* const* p, std::size_t, std::size_t i) noexcept { return p[0][i]; }
inline void store_lanes(double* const* p, std::size_t, std::size_t i, V v) noexcept { p[0][i] = v; }
#else
typedef double V __attribute__((vector_size(CWTS_TA_WIDTH * 8)));
typedef long long M __attribute__((vector_size(CWTS_TA_WIDTH * 8)));
#if CWTS_TA_WIDTH == 4
inline V splat(double x) noexcept { return (V)_mm256_set1_pd(x); }
inline M abs_mask() noexcept { return (M)_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFLL); }
#else
inline V splat(double x) noexcept { return (V)_mm512_set1_pd(x); }
inline M abs_mask() noexcept { return (M)_mm512_set1_epi64(0x7FFFFFFFFFFFFFFFLL); }
#endif
inline V sel(M m, V a, V b) noexcept { return m ? a : b; }
inline M msel(M m, M a, M b) noexcept { return m ? a : b; }
inline M mtrue() noexcept { return M{} == M{}; }
inline M mand(M a, M b) noexcept { return a & b; }
inline M mor(M a, M b) noexcept { return a | b; }
inline M mnot(M a) noexcept { return ~a; }
inline V vabs(V x) noexcept { return (V)((M)x & abs_mask()); }
#if CWTS_TA_WIDTH == 4
inline bool any(M m) noexcept { return _mm256_movemask_pd((__m256d)m) != 0; }
inline V vsqrt(V x) noexcept { return (V)_mm256_sqrt_pd((__m256d)x); }
#else
inline bool any(M m) noexcept { return _mm512_test_epi64_mask((__m512i)m, (__m512i)m) != 0; }
inline V vsqrt(V x) noexcept { return (V)_mm512_mask_sqrt_pd((__m512d)x, 0xFF, (__m512d)x); }
#endif
// Lane l of the result is p[l][i] (lanes past `lanes` repeat lane 0 and are never stored).
inline V load_lanes(const double* const* p, std::size_t lanes, std::size_t i) noexcept {
  V v;
  for (std::size_t l = 0; l < static_cast<std::size_t>(CWTS_TA_WIDTH); ++l) {
    v[l] = p[l < lanes ? l : 0][i];
  }
  return v;
}
inline void store_lanes(double* const* p, std::size_t lanes, std::size_t i, V v) noexcept {
  for (std::size_t l = 0; l < lanes; ++l) p[l][i] = v[l];
}
#endif

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A fixed buffer of lanes, allocated once (kernel construction is off the hot path).
class Buf {
 public:
  Buf() = default;
  explicit Buf(std::size_t n) : n_(n == 0 ? 1 : n) {
    d_ = static_cast<V*>(::operator new[](n_ * sizeof(V), std::align_val_t{alignof(V)}));
    for (std::size_t i = 0; i < n_; ++i) d_[i] = splat(0.0);
  }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() {
    if (d_ != nullptr) ::operator delete[](d_, std::align_val_t{alignof(V)});
  }
  V& operator[](std::size_t i) noexcept { return d_[i]; }
  void clear() noexcept {
    for (std::size_t i = 0; i < n_; ++i) d_[i] = splat(0.0);
  }
  [[nodiscard]] std::size_t size() const noexcept { return n_; }

 private:
  V* d_ = nullptr;
  std::size_t n_ = 0;
};

inline int iparam(const Params& p, int i) noexcept {
  return static_cast<int>(p.v[static_cast<std::size_t>(i)]);
}

// ---- building blocks ---------------------------------------------------------------------------

// TA_INT_SMA: running total; the first output at t = p - 1.
struct SmaState {
  int p;
  Buf ring;
  std::size_t head = 0;
  long t = 0;
  V total = splat(0.0);
  explicit SmaState(int period) : p(period), ring(static_cast<std::size_t>(period)) {}
  void reset() noexcept {
    ring.clear();
    head = 0;
    t = 0;
    total = splat(0.0);
  }
  // Returns true when `out` holds a value.
  bool step(V x, V& out) noexcept {
    total = total + x;
    ring[head] = x;
    head = head + 1 == static_cast<std::size_t>(p) ? 0 : head + 1;
    if (t++ < p - 1) return false;
    const V tmp = total;
    total = total - ring[head];  // the value p - 1 bars back: next to be overwritten
    out = tmp / splat(static_cast<double>(p));
    return true;
  }
};

// TA_INT_EMA (classic compatibility): seeded by the SMA of the first p values, then
// prev = ((x - prev) * k) + prev with k = 2 / (p + 1).
struct EmaState {
  int p;
  double k;
  long t = 0;
  V acc = splat(0.0);
  explicit EmaState(int period) : p(period), k(2.0 / static_cast<double>(period + 1)) {}
  void reset() noexcept {
    t = 0;
    acc = splat(0.0);
  }
  bool step(V x, V& out) noexcept {
    if (t < p - 1) {
      acc = acc + x;
      ++t;
      return false;
    }
    if (t == p - 1) {
      acc = (acc + x) / splat(static_cast<double>(p));
      ++t;
    } else {
      acc = ((x - acc) * splat(k)) + acc;
    }
    out = acc;
    return true;
  }
};

// The lowest / highest of the last p values (van Herk / Gil-Werman, as TA-Lib's STOCH and WILLR
// batch code): bars are cut into blocks of p; the window ending at offset k of the current block
// is the suffix of the previous block from k + 1 and the prefix of the current one up to k. The
// suffix extrema are built once per block: amortised O(1) per bar, and no data-dependent branch,
// so lanes never diverge.
template <bool Lowest>  // else the highest
struct Extreme {
  int p;
  Buf cur, suf;
  std::size_t k = 0;  // offset in the current block
  V pre = splat(0.0);
  V value = splat(0.0);  // the window's extreme once p bars were seen
  explicit Extreme(int period)
      : p(period), cur(static_cast<std::size_t>(period)), suf(static_cast<std::size_t>(period)) {}
  void reset() noexcept {
    cur.clear();
    suf.clear();
    k = 0;
    pre = value = splat(0.0);
  }
  static V pick(V a, V b) noexcept {
    if constexpr (Lowest) {
      return sel(a < b, a, b);
    } else {
      return sel(a > b, a, b);
    }
  }
  void step(V x) noexcept {
    pre = k == 0 ? x : pick(x, pre);
    cur[k] = x;
    value = k + 1 < static_cast<std::size_t>(p) ? pick(suf[k + 1], pre) : pre;
    if (++k == static_cast<std::size_t>(p)) {
      k = 0;
      V m = cur[static_cast<std::size_t>(p) - 1];
      suf[static_cast<std::size_t>(p) - 1] = m;
      for (std::size_t i = static_cast<std::size_t>(p) - 1; i-- > 0;) {
        m = pick(cur[i], m);
        suf[i] = m;
      }
    }
  }
};

// TA-Lib's TRUE_RANGE as written in TA_TRANGE.
inline V true_range(V high, V low, V prev_close) noexcept {
  V greatest = high - low;
  const V v2 = vabs(prev_close - high);
  greatest = sel(v2 > greatest, v2, greatest);
  const V v3 = vabs(low - prev_close);
  greatest = sel(v3 > greatest, v3, greatest);
  return greatest;
}
// ... and as written in TA_ADX's macro (same value: |a - b| == |b - a|).
inline V true_range_adx(V th, V tl, V yc) noexcept {
  V out = th - tl;
  V t2 = vabs(th - yc);
  out = sel(t2 > out, t2, out);
  t2 = vabs(tl - yc);
  out = sel(t2 > out, t2, out);
  return out;
}

// ---- kernels -----------------------------------------------------------------------------------
// Each: constructor from validated Params, step(inputs, outputs), reset().

struct Sma {
  SmaState s;
  bool identity;
  explicit Sma(const Params& p) : s(iparam(p, 0)), identity(iparam(p, 0) == 1) {}
  void reset() noexcept { s.reset(); }
  void step(const V* x, V* y) noexcept {
    if (identity) {
      y[0] = x[0];
      return;
    }  // TA-Lib copies the input for period 1
    if (!s.step(x[0], y[0])) y[0] = splat(kNaN);
  }
};

struct Ema {
  EmaState s;
  bool identity;
  explicit Ema(const Params& p) : s(iparam(p, 0)), identity(iparam(p, 0) == 1) {}
  void reset() noexcept { s.reset(); }
  void step(const V* x, V* y) noexcept {
    if (identity) {
      y[0] = x[0];
      return;
    }
    if (!s.step(x[0], y[0])) y[0] = splat(kNaN);
  }
};

// TA_WMA: periodSum / periodSub trick with divider p (p + 1) / 2, both sums rebuilt from the
// window (oldest first, weights 1..p) every 8p bars.
struct Wma {
  int p;
  double divider;
  Buf ring;
  std::size_t head = 0;
  long t = 0;
  long since = 0;
  V sum = splat(0.0), sub = splat(0.0), trailing = splat(0.0);
  explicit Wma(const Params& pr)
      : p(iparam(pr, 0)),
        divider(static_cast<double>(p) * (p + 1) / 2.0),
        ring(static_cast<std::size_t>(p)) {}
  void reset() noexcept {
    ring.clear();
    head = 0;
    t = 0;
    since = 0;
    sum = sub = trailing = splat(0.0);
  }
  void step(const V* x, V* y) noexcept {
    const V v = x[0];
    if (p == 1) {
      y[0] = v;
      return;
    }
    ring[head] = v;
    head = head + 1 == static_cast<std::size_t>(p) ? 0 : head + 1;
    if (t < p - 1) {
      sub = sub + v;
      sum = sum + v * splat(static_cast<double>(t + 1));
      ++t;
      y[0] = splat(kNaN);
      return;
    }
    if (t++ == p - 1) since = 8L * p;
    sub = sub + v;
    sub = sub - trailing;
    sum = sum + v * splat(static_cast<double>(p));
    if (--since <= 0) {
      since = 8L * p;
      sub = sum = splat(0.0);
      std::size_t pos = head;
      for (int w = 1; w <= p; ++w) {
        sub = sub + ring[pos];
        sum = sum + ring[pos] * splat(static_cast<double>(w));
        pos = pos + 1 == static_cast<std::size_t>(p) ? 0 : pos + 1;
      }
    }
    trailing = ring[head];  // bar t - p + 1
    y[0] = sum / splat(divider);
    sum = sum - sub;
  }
};

// TA_DEMA: 2 * EMA - EMA(EMA).
struct Dema {
  EmaState e1, e2;
  explicit Dema(const Params& p) : e1(iparam(p, 0)), e2(iparam(p, 0)) {}
  void reset() noexcept {
    e1.reset();
    e2.reset();
  }
  void step(const V* x, V* y) noexcept {
    V a, b;
    if (e1.step(x[0], a) && e2.step(a, b)) {
      y[0] = (splat(2.0) * a) - b;
    } else {
      y[0] = splat(kNaN);
    }
  }
};

// TA_TEMA: EMA3 + ((3 * EMA1) - (3 * EMA2)).
struct Tema {
  EmaState e1, e2, e3;
  explicit Tema(const Params& p) : e1(iparam(p, 0)), e2(iparam(p, 0)), e3(iparam(p, 0)) {}
  void reset() noexcept {
    e1.reset();
    e2.reset();
    e3.reset();
  }
  void step(const V* x, V* y) noexcept {
    V a, b, c;
    if (e1.step(x[0], a) && e2.step(a, b) && e3.step(b, c)) {
      y[0] = c + ((splat(3.0) * a) - (splat(3.0) * b));
    } else {
      y[0] = splat(kNaN);
    }
  }
};

#include "kernels_averages.inl"  // NOLINT(bugprone-suspicious-include): part of this unit

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
};

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
// (TA_STDDEV), as TA-Lib computes it.
struct Bbands {
  double up, dn;
  bool sma_mid;
  SmaState sma;
  MaAny ma;
  VarState v;
  explicit Bbands(const Params& pr)
      : up(pr.v[1]),
        dn(pr.v[2]),
        sma_mid(iparam(pr, 3) == 0),
        sma(iparam(pr, 0)),
        ma(sma_mid ? -1 : iparam(pr, 3), sma_mid ? 1 : iparam(pr, 0)),
        v(iparam(pr, 0)) {}
  void reset() noexcept {
    sma.reset();
    ma.reset();
    v.reset();
  }
  void step(const V* x, V* y) noexcept {
    V mid, var;
    const bool ok = sma_mid ? sma.step(x[0], mid) : ma.step(x[0], mid);
    if (!v.step(x[0], var) || !ok) {
      y[0] = y[1] = y[2] = splat(kNaN);
      return;
    }
    const V sd = vsqrt(var);
    y[0] = mid + sd * splat(up);
    y[1] = mid;
    y[2] = mid - sd * splat(dn);
  }
};

// TA_ATR / TA_NATR: SMA of the first p true ranges (bars 1..p), then Wilder's step written as
// TA-Lib writes it: atr = wAlpha * tr + wBeta * atr, wBeta = (p - 1) / p, wAlpha = 1 - wBeta.
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
      atr = splat(alpha) * tr + splat(beta) * atr;
    }
    if constexpr (Normalized) {
      // TA-Lib answers TRANGE itself, not normalised, for period 1.
      y[0] = p == 1 ? atr : sel(c != splat(0.0), (atr / c) * splat(100.0), splat(0.0));
    } else {
      y[0] = atr;
    }
  }
};
using Atr = AtrT<false>;
using Natr = AtrT<true>;

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
      adx = sel(ok, ((adx * splat(static_cast<double>(p - 1))) + dx) / pd, adx);
    }
    ++t;
    y[0] = adx;
  }
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
    const V range = hi.value - lo.value;
    k = sel(range != splat(0.0), (c - lo.value) / range * splat(100.0), splat(0.0));
    return true;
  }
};

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
    V k, slowk, slowd;
    if (fk.step(x[0], x[1], x[2], k) && sk.step(k, slowk) && sd.step(slowk, slowd)) {
      y[0] = slowk;
      y[1] = slowd;
    } else {
      y[0] = y[1] = splat(kNaN);
    }
  }
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
    V k, d;
    if (fk.step(x[0], x[1], x[2], k) && fd.step(k, d)) {
      y[0] = k;
      y[1] = d;
    } else {
      y[0] = y[1] = splat(kNaN);
    }
  }
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
    const V total = psum + nsum;
    const V clamped = sel(psum < splat(0.0), splat(0.0), sel(psum > total, total, psum));
    y[0] = sel(total <= splat(0.0), splat(0.0), splat(100.0) * (clamped / total));
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
    if constexpr (Mode == Lag::kRoc) {
      y[0] = sel(old != splat(0.0), ((x[0] / old) - splat(1.0)) * splat(100.0), splat(0.0));
    } else if constexpr (Mode == Lag::kRocr) {
      y[0] = sel(old != splat(0.0), x[0] / old, splat(0.0));
    } else {
      y[0] = x[0] - old;
    }
  }
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
    const V diffp = h - ph;
    ph = h;
    const V diffm = pl - l;
    pl = l;
    M take;
    V move;
    if constexpr (Minus) {
      take = mand(diffm > splat(0.0), diffp < diffm);
      move = diffm;
    } else {
      take = mand(diffp > splat(0.0), diffp > diffm);
      move = diffp;
    }
    const V r = true_range_adx(ph, pl, pc);
    pc = c;
    if (p == 1) {
      y[0] = sel(mand(take, r != splat(0.0)), move / r, splat(0.0));
      ++t;
      return;
    }
    const V pd = splat(static_cast<double>(p));
    if (t < p) {  // bars 1 .. p - 1: plain sums
      dm = sel(take, dm + move, dm);
      tr = tr + r;
      ++t;
      return;
    }
    dm = sel(take, dm - (dm / pd) + move, dm - (dm / pd));
    tr = tr - (tr / pd) + r;
    y[0] = sel(tr != splat(0.0), splat(100.0) * (dm / tr), splat(0.0));
    ++t;
  }
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
    const V range = hi.value - lo.value;
    y[0] = sel(range != splat(0.0), (hi.value - x[2]) / range * splat(-100.0), splat(0.0));
  }
};

// TA_SAR: direction from the first bar's -DM, then Wilder's parabolic stop and reverse. All four
// cases are computed and the lanes pick theirs (one lane: the branches themselves).
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
    // One lane: TA_SAR's branches as written (reversals are rare, so they predict well).
    if (is_long) {
      if (nl <= sar) {
        is_long = false;
        sar = lift(ep, ph, nh);
        y[0] = sar;
        af = acc;
        ep = nl;
        sar = lift(sar + af * (ep - sar), ph, nh);
      } else {
        y[0] = sar;
        if (nh > ep) {
          ep = nh;
          af += acc;
          if (af > max) af = max;
        }
        sar = drop(sar + af * (ep - sar), pl, nl);
      }
    } else {
      if (nh >= sar) {
        is_long = true;
        sar = drop(ep, pl, nl);
        y[0] = sar;
        af = acc;
        ep = nh;
        sar = drop(sar + af * (ep - sar), pl, nl);
      } else {
        y[0] = sar;
        if (nl < ep) {
          ep = nl;
          af += acc;
          if (af > max) af = max;
        }
        sar = lift(sar + af * (ep - sar), ph, nh);
      }
    }
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

#include "kernels_cycle.inl"       // NOLINT(bugprone-suspicious-include): part of this unit
#include "kernels_regression.inl"  // NOLINT(bugprone-suspicious-include): part of this unit

// ---- dispatch ----------------------------------------------------------------------------------

#if CWTS_TA_WIDTH > 1
// In-place transpose of a W x W tile held as W vectors (row l = lane l's W consecutive bars ->
// row t = bar t across the lanes), by log2(W) rounds of two-source shuffles.
// __builtin_shufflevector (constant lane indices) is accepted by clang and by GCC >= 12; GCC's
// own __builtin_shuffle is not known to clang. A shuffle only moves lanes: same bits either way.
#if CWTS_TA_WIDTH == 4
inline void transpose(V* r) noexcept {
  const V t0 = __builtin_shufflevector(r[0], r[1], 0, 4, 2, 6);
  const V t1 = __builtin_shufflevector(r[0], r[1], 1, 5, 3, 7);
  const V t2 = __builtin_shufflevector(r[2], r[3], 0, 4, 2, 6);
  const V t3 = __builtin_shufflevector(r[2], r[3], 1, 5, 3, 7);
  r[0] = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
  r[2] = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
  r[1] = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
  r[3] = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
}
#else
// One round: rows i and i + D (for i with bit D clear) exchange blocks of D lanes.
template <int D>
inline void transpose_round(V* r) noexcept {
  for (int i = 0; i < 8; ++i) {
    if ((i / D) % 2 != 0) continue;
    const V a = r[i], b = r[i + D];
    if constexpr (D == 1) {
      r[i] = __builtin_shufflevector(a, b, 0, 8, 2, 10, 4, 12, 6, 14);
      r[i + D] = __builtin_shufflevector(a, b, 1, 9, 3, 11, 5, 13, 7, 15);
    } else if constexpr (D == 2) {
      r[i] = __builtin_shufflevector(a, b, 0, 1, 8, 9, 4, 5, 12, 13);
      r[i + D] = __builtin_shufflevector(a, b, 2, 3, 10, 11, 6, 7, 14, 15);
    } else {
      r[i] = __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11);
      r[i + D] = __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15);
    }
  }
}
inline void transpose(V* r) noexcept {
  transpose_round<1>(r);
  transpose_round<2>(r);
  transpose_round<4>(r);
}
#endif
#endif

// Lanes per group (one kernel instance) and groups interleaved per call: G independent
// recurrences in one loop body give the out-of-order core G dependency chains to overlap (a
// recurrence such as EMA is latency-bound: one chain leaves most of the core idle).
constexpr std::size_t kLaneWidth = CWTS_TA_WIDTH;
constexpr std::size_t kGroups = CWTS_TA_WIDTH == 1 ? 1 : CWTS_TA_WIDTH == 4 ? 4 : 2;
constexpr std::size_t kPrefetchAhead = 64;  // bars (8 cache lines)

template <class K, std::size_t... I>
void run_groups(const Params& p, std::size_t n, std::size_t lanes, const double* const* in,
                double* const* out, std::size_t n_in, std::size_t n_out,
                std::index_sequence<I...>) {
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
  for (; t + W <= n; t += W) {
    // Many concurrent streams (lanes x groups x inputs) are more than the hardware prefetcher
    // follows: prefetch each one a few cache lines ahead, once per line. (Copying blocks of each
    // series into a cache-resident scratch first was measured too: slower, the copies cost more.)
    if ((t % 8) < W && t + kPrefetchAhead < n) {
      for (std::size_t g = 0; g < G; ++g) {
        for (std::size_t l = 0; l < used[g]; ++l) {
          for (std::size_t i = 0; i < n_in; ++i)
            __builtin_prefetch(ip[g][i][l] + t + kPrefetchAhead, 0, 0);
          for (std::size_t j = 0; j < n_out; ++j)
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
        for (std::size_t l = 0; l < used[g]; ++l)
          std::memcpy(op[g][j][l] + t, &tout[g][j][l], sizeof(V));
      }
    }
  }
#endif
  for (; t < n; ++t) {
    for (std::size_t g = 0; g < G; ++g) {
      for (std::size_t i = 0; i < n_in; ++i) x[g][i] = load_lanes(ip[g][i], W, t);
      ks[g].step(x[g], y[g]);
      for (std::size_t j = 0; j < n_out; ++j) store_lanes(op[g][j], used[g], t, y[g][j]);
    }
  }
}

// Up to kGroups * kLaneWidth series: whole calls of kGroups groups, or one group alone.
template <class K>
void run_kernel(const Params& p, std::size_t n, std::size_t lanes, const double* const* in,
                double* const* out, std::size_t n_in, std::size_t n_out) {
  if (lanes > kLaneWidth) {
    run_groups<K>(p, n, lanes, in, out, n_in, n_out, std::make_index_sequence<kGroups>{});
  } else {
    run_groups<K>(p, n, lanes, in, out, n_in, n_out, std::make_index_sequence<1>{});
  }
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
    case Kind::kCount:
      break;
  }
  return f.template operator()<Sma>();  // unreachable: callers validate the kind
}

// One series through its kernel's whole-series form (K::series: its bars in the lanes where they
// do not depend on each other, or step()'s recurrence read straight from the arrays). False for a
// kernel without one: the caller runs it through step().
bool has_series_impl(Kind kind) noexcept {
  return with_kernel(kind, [&]<class K>() -> bool {
    return requires(const Params& p, std::size_t n, const double* const* in, double* const* out) {
      K::series(p, n, in, out);
    };
  });
}

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

void run_lanes_impl(Kind kind, const Params& p, std::size_t n, std::size_t lanes,
                    const double* const* in, double* const* out) {
  const KindSpec& s = spec(kind);
  with_kernel(kind,
              [&]<class K>() { run_kernel<K>(p, n, lanes, in, out, s.n_inputs, s.n_outputs); });
}

}  // namespace
}  // namespace cwts::ta::CWTS_TA_NS
