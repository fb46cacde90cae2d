// The kernels, written once over a lane type. Included by exactly one translation unit per ISA
// (isa_scalar.cpp, isa_avx2.cpp, isa_avx512.cpp), which defines CWTS_TA_WIDTH (1, 4 or 8) and
// CWTS_TA_NS first. Everything here has internal linkage: the units are compiled with different
// -m flags, so no inline function or template instantiation may be shared between them.
//
// Each kernel follows TA-Lib's C code operation for operation (the comments name the TA-Lib
// function); with -ffp-contract=off a lane's arithmetic is the scalar arithmetic, so every ISA
// gives the same bits.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>
#include <variant>

#include "cwts/ta/ta.hpp"

#if CWTS_TA_WIDTH > 1 || defined(__AVX__)  // __AVX__: the scalar unit built with -mfma
#include <immintrin.h>
#else
#include <emmintrin.h>  // SSE2, in every x86-64 CPU: a comparison's mask where a kernel wants one
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
// a * b + c rounded once (IEEE 754 fusedMultiplyAdd), where TA-Lib's FMA build fuses it: the FMA
// instruction in the unit built with -mfma, libm's exact fma in the baseline unit; the same bits.
inline V fmadd(V a, V b, V c) noexcept { return std::fma(a, b, c); }
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
inline V fmadd(V a, V b, V c) noexcept {
  return (V)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
}
#else
inline bool any(M m) noexcept { return _mm512_test_epi64_mask((__m512i)m, (__m512i)m) != 0; }
inline V vsqrt(V x) noexcept { return (V)_mm512_mask_sqrt_pd((__m512d)x, 0xFF, (__m512d)x); }
inline V fmadd(V a, V b, V c) noexcept {
  return (V)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
}
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

#if CWTS_TA_WIDTH > 1
// In-place transpose of a W x W tile held as W vectors (row l = lane l's W consecutive bars ->
// row t = bar t across the lanes), by log2(W) rounds of two-source shuffles.
// __builtin_shufflevector (constant lane indices) is accepted by clang and by GCC >= 12; GCC's
// own __builtin_shuffle is not known to clang. A shuffle only moves lanes: same bits either way.
#if CWTS_TA_WIDTH == 4
[[gnu::always_inline]] inline void transpose_inline(V* r) noexcept {
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
[[gnu::always_inline]] inline void transpose_round(V* r) noexcept {
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
[[gnu::always_inline]] inline void transpose_inline(V* r) noexcept {
  transpose_round<1>(r);
  transpose_round<2>(r);
  transpose_round<4>(r);
}
#endif
// The sweeps' tiles inline it (SMA's sweep on AVX-512: 57 -> 37 us for 8 periods of 10,000 bars,
// where the call left it out of line); run_groups() leaves the choice to the compiler (inlined
// there, EMA's lanes measured slower on AVX-512).
inline void transpose(V* r) noexcept { transpose_inline(r); }
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

// Outputs past the caches: a call of lanes writing this much (outputs x lanes x bars) stores its
// tiles with non-temporal stores where a vector is a whole cache line (AVX-512) and every output
// starts on one. A line so written is not read first (a store that misses reads its line from
// memory before writing it: twice the traffic) and does not evict the inputs still being read.
// cwts-bench-ta BM_Many, 32 series x 100,000 bars on AVX-512: EMA 5.3-5.6 -> 3.6 ms, STDDEV
// 8.9-9.2 -> 7.5-7.8 ms; on AVX2 a vector is half a line and streaming measured slower (EMA
// 6.8 -> 10.5 ms), so it keeps ordinary stores. docs/benchmarks.md.
constexpr std::size_t kStreamOutputBytes = std::size_t{1} << 20;

// Whether a call of lanes writing `bytes` to these `count` outputs streams its stores.
inline bool streams(double* const* op, std::size_t count, std::size_t bytes) noexcept {
  if (CWTS_TA_WIDTH != 8 || bytes < kStreamOutputBytes) return false;
  for (std::size_t i = 0; i < count; ++i) {
    if (reinterpret_cast<std::uintptr_t>(op[i]) % (CWTS_TA_WIDTH * sizeof(double)) != 0)
      return false;
  }
  return true;
}

#if CWTS_TA_WIDTH > 1
// A transposed tile (row l = lane l's W bars from bar t) into the first `lanes` outputs: streamed
// (streams() said so: the outputs start on cache lines, so row l's W bars are one line) or not.
[[gnu::always_inline]] inline void store_tile(double* const* op, std::size_t lanes, std::size_t t,
                                              const V* tile,
                                              [[maybe_unused]] bool stream) noexcept {
#if CWTS_TA_WIDTH == 8
  if (stream) {
    for (std::size_t l = 0; l < lanes; ++l) _mm512_stream_pd(op[l] + t, (__m512d)tile[l]);
    return;
  }
#endif
  for (std::size_t l = 0; l < lanes; ++l) std::memcpy(op[l] + t, &tile[l], sizeof(V));
}

// The bars of a kernel's lanes form after its warm-up (the averages, MACD, RSI, ATR, STDDEV, ...),
// its state held in registers by `bar` rather than stepped through the kernel object: bars one at a
// time up to a multiple of W (so that tiles start on whole lines), tiles of W bars (each input's W
// rows loaded and transposed, W bars, the first NT outputs' rows transposed back, `extra` working
// out the rest lane by lane from them, all stored), the last bars one at a time. bar(x, y, t): bar
// t, inputs x[NIn] to y[0..NT); extra(y): the outputs y[0..NOut) from those (element-wise, so the
// same wherever the lanes are; it may rewrite y[0..NT), as BBANDS's bands replace its variance).
// ip[i][l] / op[j][l]: input i / output j of lane l, input i read lag[i] bars back (from bar lag[i]
// on); idle lanes (from `count`) repeat lane 0 and are never stored. No software prefetch: with an
// input or two a lane the hardware's prefetcher follows the streams (MACD, BM_Many 32 x 2,000 on
// AVX-512: 61 us without, 76 with the inputs' and outputs' prefetched as run_groups() does).
template <std::size_t NIn, std::size_t NT, std::size_t NOut, class Bar, class Extra>
void steady_lanes(std::size_t t, std::size_t n, std::size_t count,
                  const double* const (&ip)[NIn][CWTS_TA_WIDTH], const std::size_t (&lag)[NIn],
                  double* const (&op)[NOut][CWTS_TA_WIDTH], bool stream, Bar&& bar, Extra&& extra) {
  constexpr std::size_t W = CWTS_TA_WIDTH;
  const auto single = [&](std::size_t at) {
    V x[NIn], y[NOut];
    for (std::size_t i = 0; i < NIn; ++i) x[i] = load_lanes(ip[i], W, at - lag[i]);
    bar(x, y, at);
    extra(y);
    for (std::size_t j = 0; j < NOut; ++j) store_lanes(op[j], count, at, y[j]);
  };
  for (; t < n && t % W != 0; ++t) single(t);
  if (stream && t + W <= n) detail::note_streamed_lanes();  // a tile will stream
  V tin[NIn][W], tout[NOut][W];
  for (; t + W <= n; t += W) {
    for (std::size_t i = 0; i < NIn; ++i) {
      for (std::size_t l = 0; l < W; ++l) {
        std::memcpy(&tin[i][l], ip[i][l] + (t - lag[i]), sizeof(V));
      }
      transpose_inline(tin[i]);
    }
    for (std::size_t b = 0; b < W; ++b) {
      V x[NIn], y[NOut];
      for (std::size_t i = 0; i < NIn; ++i) x[i] = tin[i][b];
      bar(x, y, t + b);
      for (std::size_t j = 0; j < NT; ++j) tout[j][b] = y[j];
    }
    for (std::size_t j = 0; j < NT; ++j) transpose_inline(tout[j]);
    if constexpr (NT < NOut) {
      for (std::size_t l = 0; l < W; ++l) {
        V y[NOut];
        for (std::size_t j = 0; j < NT; ++j) y[j] = tout[j][l];
        extra(y);
        for (std::size_t j = 0; j < NOut; ++j) tout[j][l] = y[j];
      }
    }
    for (std::size_t j = 0; j < NOut; ++j) store_tile(op[j], count, t, tout[j], stream);
  }
  if (stream) _mm_sfence();  // the streamed lines ordered before the later stores
  for (; t < n; ++t) single(t);
}

// A kernel's lanes form a vector's series at a time: f(count, ip, op, stream) with the
// lanes' pointers (idle lanes repeat the first series, never stored) and whether the vector's
// outputs go past the caches (streams() of that vector's outputs: from 1 MiB, MACD's from about
// 5,500 bars, a one-output kernel's from about 16,400). Decided for the whole call instead, as
// run_groups() does, a one-output kernel's vectors streamed from 8,200 bars and lost there
// (batch 16 x 8 x 10,000, AVX-512: T3 3.1-3.3x TA-Lib against 3.9, KAMA 1.9-2.3 against 2.5-2.6).
// may_stream false: ordinary stores whatever the size (MACDEXT's passes read them right after).
// NIn inputs a series (in[NIn s + i], as run_many() lays them out).
template <std::size_t NOut, std::size_t NIn = 1, class F>
void by_vector(std::size_t n, std::size_t lanes, const double* const* in, double* const* out,
               bool may_stream, F&& f) {
  constexpr std::size_t W = CWTS_TA_WIDTH;
  for (std::size_t from = 0; from < lanes; from += W) {
    const std::size_t count = std::min(W, lanes - from);
    const double* ip[NIn][W];
    double* op[NOut][W];
    for (std::size_t l = 0; l < W; ++l) {
      const std::size_t s = from + (l < count ? l : 0);
      for (std::size_t i = 0; i < NIn; ++i) ip[i][l] = in[NIn * s + i];
      for (std::size_t j = 0; j < NOut; ++j) op[j][l] = out[NOut * s + j];
    }
    f(count, ip, op,
      may_stream && streams(out + NOut * from, NOut * count, n * count * NOut * sizeof(double)));
  }
}

// TA-Lib's averages of period 1 (and TA_MA's of any type): each series' input copied.
inline void copy_lanes(std::size_t n, std::size_t lanes, const double* const* in,
                       double* const* out) noexcept {
  for (std::size_t l = 0; l < lanes; ++l) std::copy(in[l], in[l] + n, out[l]);
}

// A vector's series as the N inputs of steady_lanes() that read one series at N lags.
template <std::size_t N>
struct Lagged {
  const double* ip[N][CWTS_TA_WIDTH];
  explicit Lagged(const double* const (&one)[1][CWTS_TA_WIDTH]) noexcept {
    for (std::size_t i = 0; i < N; ++i) {
      for (std::size_t l = 0; l < CWTS_TA_WIDTH; ++l) ip[i][l] = one[0][l];
    }
  }
};

// The kernel k's step() over bars 0 .. until - 1 of a vector's series (fewer if n is): its
// warm-up, before steady_lanes() takes over. Returns the next bar.
template <class K, std::size_t NIn, std::size_t NOut>
std::size_t warm_lanes(K& k, std::size_t until, std::size_t n, std::size_t count,
                       const double* const (&ip)[NIn][CWTS_TA_WIDTH],
                       double* const (&op)[NOut][CWTS_TA_WIDTH]) {
  std::size_t t = 0;
  for (; t < n && t < until; ++t) {
    V x[NIn];
    for (std::size_t i = 0; i < NIn; ++i) x[i] = load_lanes(ip[i], CWTS_TA_WIDTH, t);
    V y[NOut];
    k.step(x, y);
    for (std::size_t j = 0; j < NOut; ++j) store_lanes(op[j], count, t, y[j]);
  }
  return t;
}
#endif

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
// prev = ((x - prev) * k) + prev with k = 2 / (p + 1), the multiply and add fused as TA-Lib's
// FMA build fuses them (its bits; and a 4-cycle step where a separate multiply and add took 6).
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
      acc = fmadd(x - acc, splat(k), acc);
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

// A zeroed array of doubles (a plain class: no std:: container is instantiated in these units,
// whose -m flags differ, so no out-of-line copy can be shared between them; std::min/max and
// std::memcpy are inlined).
class Doubles {
 public:
  struct Unset {};  // for an array every element of which is written before it is read
  explicit Doubles(std::size_t n) : d_(new double[n == 0 ? 1 : n]()) {}
  Doubles(std::size_t n, Unset) : d_(new double[n == 0 ? 1 : n]) {}
  Doubles(const Doubles&) = delete;
  Doubles& operator=(const Doubles&) = delete;
  ~Doubles() { delete[] d_; }
  [[nodiscard]] double* data() noexcept { return d_; }
  void swap(Doubles& o) noexcept {
    double* t = d_;
    d_ = o.d_;
    o.d_ = t;
  }

 private:
  double* d_;
};

// y[0, min(n, count)) = NaN (a loop: see Doubles).
inline void fill_nan(double* y, std::size_t n, std::size_t count) noexcept {
  for (std::size_t i = 0; i < n && i < count; ++i) y[i] = kNaN;
}

#if CWTS_TA_WIDTH > 1
// The lowest / highest of the p bars ending at every bar of one series, by widening windows with
// its bars in the lanes: the extreme of the last 4w bars is the extreme of four windows of w, w
// bars apart, so a few passes over a chunk that stays in L1 give every bar's window (30 bars:
// 1 -> 4 -> 16, then two windows of 16, 14 bars apart). Without NaN and -0 every order of
// comparisons gives the same extreme bit for bit (equal doubles are the same bits; only a NaN, or
// +0 against -0, depends on which side a comparison keeps): run() says when a window holds a NaN
// or a -0, and the caller then runs Extreme's order. Vector ISAs only (one lane does better with
// Extreme's passes), and periods up to a chunk (each chunk's passes cover its window again).
template <bool Lowest>
struct WindowExtreme {
  static constexpr std::size_t kChunk = 1024;  // bars per run(): with its window, in L1
  using Offsets = std::array<std::size_t, 4>;
  std::size_t p;
  // The two pass buffers, in one allocation, half a page apart modulo 4 KB: each pass reads one
  // while it writes the other, and a load whose address matches a recent store's in its low 12
  // bits waits for that store (4K aliasing). Two separate allocations of this size lay 256 bytes
  // apart modulo 4 KB, where every other pass's loads met its own stores: 9 % of MIN's time.
  static constexpr std::size_t kPage = 512, kHalfPage = 256;  // doubles
  std::size_t stride;
  Doubles buf;
  double *a, *b;
  // A pass reads its source from index 0, but the pass before it wrote that buffer only from its
  // own 3w (below that the windows are not whole, and no output takes them), 3w < p: only those
  // first elements can be read before a pass writes them, so only the first p of each buffer are
  // zeroed (zeroing both whole was a tenth of a MIN batch of 2,000-bar series).
  explicit WindowExtreme(std::size_t period)
      : p(period),
        stride((kChunk + period + kPage - 1) / kPage * kPage + kHalfPage),
        buf(2 * stride, Doubles::Unset{}),
        a(buf.data()),
        b(buf.data() + stride) {
    std::memset(a, 0, p * sizeof(double));
    std::memset(b, 0, p * sizeof(double));
  }
  [[nodiscard]] static bool suits(std::size_t period) noexcept { return period <= kChunk; }

  // dst[i] = the extreme of src[i - off[k]] (k < 4) for i < count, in lanes. Offsets past a
  // window's last repeat it (the extreme of a and a is a).
  static void pass(const double* src, const Offsets& off, double* dst, std::size_t count) noexcept {
    std::size_t i = 0;
    for (; i + CWTS_TA_WIDTH <= count; i += CWTS_TA_WIDTH) {
      // Four named loads: an array of lanes filled in a loop went through the stack on AVX2
      // (16-byte stores read back as 32: a failed store forward per load, 5x slower).
      const auto ld = [&](std::size_t k) {
        V u;
        std::memcpy(&u, src + i - off[k], sizeof(V));
        return u;
      };
      const V m = Extreme<Lowest>::pick(Extreme<Lowest>::pick(ld(0), ld(1)),
                                        Extreme<Lowest>::pick(ld(2), ld(3)));
      std::memcpy(dst + i, &m, sizeof(V));
    }
    for (; i < count; ++i) {
      V m = splat(src[i]);
      for (std::size_t k = 1; k < 4; ++k) m = Extreme<Lowest>::pick(m, splat(src[i - off[k]]));
      std::memcpy(dst + i, &m, sizeof(double));  // lane 0
    }
  }
  // Whether any of v[0, count) is NaN or -0, in lanes. On AVX-512 one vfpclasspd a vector (quiet
  // NaN 0x01, -0 0x04, signalling NaN 0x80), four vectors a step: the scan was a quarter of a MIN
  // batch's time with two compares and a merge a vector (cwts-bench-ta BM_Many, perf).
  static bool unordered(const double* v, std::size_t count) noexcept {
    std::size_t i = 0;
#if CWTS_TA_WIDTH == 8
    constexpr int kNanOrMinusZero = 0x01 | 0x04 | 0x80;
    __mmask8 k = 0;
    for (; i + 32 <= count; i += 32) {
      k = static_cast<__mmask8>(
          k | _mm512_fpclass_pd_mask(_mm512_loadu_pd(v + i), kNanOrMinusZero) |
          _mm512_fpclass_pd_mask(_mm512_loadu_pd(v + i + 8), kNanOrMinusZero) |
          _mm512_fpclass_pd_mask(_mm512_loadu_pd(v + i + 16), kNanOrMinusZero) |
          _mm512_fpclass_pd_mask(_mm512_loadu_pd(v + i + 24), kNanOrMinusZero));
    }
    if (k != 0) return true;
#endif
    M bad = mnot(mtrue());
    const M minus_zero = (M)splat(-0.0);
    for (; i + CWTS_TA_WIDTH <= count; i += CWTS_TA_WIDTH) {
      V u;
      std::memcpy(&u, v + i, sizeof(V));
      bad = mor(bad, mor(u != u, (M)u == minus_zero));
    }
    bool tail = false;
    for (; i < count; ++i) tail = tail || v[i] != v[i] || (v[i] == 0.0 && std::signbit(v[i]));
    return any(bad) || tail;
  }
  static Offsets offsets(std::size_t w, std::size_t last) noexcept {  // 0, w, 2w, 3w; <= last
    return Offsets{0, std::min(w, last), std::min(2 * w, last), std::min(3 * w, last)};
  }
  // dst[t - s] = the extreme of x[t - p + 1, t] for t in [max(s, p - 1), e), e - s <= kChunk.
  // False, with dst unwritten, when one of those windows holds a NaN or a -0.
  bool run(const double* x, std::size_t s, std::size_t e, double* dst) noexcept {
    if (e < p) return true;                                 // warm-up only
    const std::size_t base = s >= p - 1 ? s - (p - 1) : 0;  // the first output's window start
    const std::size_t len = e - base;                       // window j ends at bar base + j
    const double* src = x + base;
    if (unordered(src, len)) return false;
    // src[j] for j >= w - 1 holds the window of w bars ending at base + j (below that: unused).
    std::size_t w = 1;
    for (; 4 * w < p; w *= 4) {
      const std::size_t lo = 3 * w;  // < p - 1 < len
      pass(src + lo, offsets(w, lo), a + lo, len - lo);
      std::swap(a, b);
      src = b;
    }
    // The last pass: up to four windows of w ending at t, the oldest p - w bars earlier.
    const std::size_t first = std::max(s, p - 1);
    pass(src + (first - base), offsets(w, p - w), dst + (first - s), e - first);
    return true;
  }
};

#if CWTS_TA_WIDTH == 4
// WindowExtreme's windows in one pass over the bars, for one series on AVX2: as each vector of 4
// bars arrives, the extremes of the 4, 16, ... bars ending at them are made from the level below
// and the top level's windows give the one of p bars. WindowExtreme's passes read a chunk from
// memory, then work on it in L1 while the memory bus idles (MIN at 1e6 bars: 2.0-2.6 ns a bar,
// against 1.1 in L1); here the loads of the next bars overlap the work on these (1.0-1.3 ns a bar
// at 1e6, docs/benchmarks.md). The bars and the windows of 4 are read back at most 3 vectors
// later, so they stay in registers; a higher level, or the top one, is kept in a ring of vectors,
// each written twice (at its slot and R slots on) so that a read is one load at a fixed distance
// from the newest slot, never wrapping. Where a read of the top level lies a whole vector back or
// more, it is one unaligned load; nearer, it would take part of the vector just stored (a store
// forwards only to a load of the bytes it wrote: else the load waits for the store to reach L1),
// so it is two whole vectors shuffled. The same bits as WindowExtreme: without NaN and -0 any
// order of comparisons gives the same extreme, and run() says when its bars hold one.
template <bool Lowest>
class WindowStream {
 public:
  explicit WindowStream(std::size_t period)
      : top_(top_level(period)), rings_(2 * 4 * kBase[top_ + 1] + 4) {
    const std::size_t w = std::size_t{1} << (2 * top_);
    for (std::size_t k = 1; k < 4; ++k) {  // the top level's offsets: 0, w, 2w, 3w up to p - w
      const std::size_t o = std::min(k * w, period - w);
      if (o != 0 && (reads_ == 0 || read_[reads_ - 1].o != o)) {
        read_[reads_++] = Read{o, o / 4, o % 4};
      }
    }
    // A vector's slots 32-byte aligned (a whole slot's load never crosses a cache line); zeroed:
    // a slot is read before it is written only for windows that reach before the first bar, whose
    // extremes no output takes.
    const auto addr = reinterpret_cast<std::uintptr_t>(rings_.data());
    ring_ = rings_.data() + ((32 - addr % 32) % 32) / sizeof(double);
  }
  [[nodiscard]] static bool suits(std::size_t period) noexcept { return period <= kLongest; }

  // dst[t - s] = the extreme of x[t - p + 1, t] for t in [s, e) (below p - 1 not a window: any
  // value). s is where the last call ended (0 at the first), a multiple of 4 unless the series
  // ended there. False when one of x[s, e) is NaN or -0: the caller then runs Extreme's order.
  bool run(const double* x, std::size_t s, std::size_t e, double* dst) noexcept {
    switch (top_) {
      case 0:
        return levels<0>(x, s, e, dst);
      case 1:
        return levels<1>(x, s, e, dst);
      case 2:
        return levels<2>(x, s, e, dst);
      case 3:
        return levels<3>(x, s, e, dst);
      default:
        return levels<4>(x, s, e, dst);
    }
  }

 private:
  static constexpr std::size_t kLongest = 1024;  // 4 x 256: up to 4 levels above the bars
  // Level l's ring (l >= 1): R = kRing[l] vectors, a power of two above the vectors its oldest
  // read spans (3 x 4^l bars back, 3 x 4^(l-1) + 2 vectors with the newest); its 2R slots from
  // vector 2 kBase[l] of the rings.
  static constexpr std::size_t kRing[5] = {0, 8, 16, 64, 256};
  static constexpr std::size_t kBase[6] = {0, 0, 8, 24, 88, 344};
  struct Read {
    std::size_t o, q, r;  // o = 4q + r bars back
  };
  static std::size_t top_level(std::size_t p) noexcept {  // 4^top < p <= 4^(top + 1), or 0
    std::size_t top = 0;
    for (std::size_t w = 1; 4 * w < p && top < 4; w *= 4) ++top;
    return top;
  }
  static V pick(V a, V b) noexcept { return Extreme<Lowest>::pick(a, b); }
  // Bars 4v - o .. 4v - o + 3 for o = 4q + R, from the vectors lo (v - q - 1) and hi (v - q).
  template <std::size_t R>
  static V shifted(V lo, V hi) noexcept {
    if constexpr (R == 0) {
      return hi;
    } else if constexpr (R == 1) {
      return __builtin_shufflevector(lo, hi, 3, 4, 5, 6);
    } else if constexpr (R == 2) {
      return __builtin_shufflevector(lo, hi, 2, 3, 4, 5);
    } else {
      return __builtin_shufflevector(lo, hi, 1, 2, 3, 4);
    }
  }
  static V shifted(std::size_t r, V lo, V hi) noexcept {
    switch (r) {
      case 0:
        return hi;
      case 1:
        return shifted<1>(lo, hi);
      case 2:
        return shifted<2>(lo, hi);
      default:
        return shifted<3>(lo, hi);
    }
  }
  static V load(const double* p) noexcept {
    V u;
    std::memcpy(&u, p, sizeof(V));
    return u;
  }
  // Level L's newest slot for vector v (its mirror 4R doubles on): the bars o back are the 4
  // doubles from 4R - o past it, in order across slots (q + 2 <= R).
  template <std::size_t L>
  static double* newest(double* ring, std::size_t v) noexcept {
    return ring + 4 * (2 * kBase[L] + (v & (kRing[L] - 1)));
  }
  template <std::size_t L>
  static V back(const double* slot, std::size_t q) noexcept {
    return load(slot + 4 * (kRing[L] - q));
  }
  // Level L + 1 (L >= 2) at vector v from level L's windows cur: L's ring written, then its
  // windows 0, 1, 2 and 3 times 4^L bars back.
  template <std::size_t L>
  static V up(double* ring, std::size_t v, V cur) noexcept {
    constexpr std::size_t q = std::size_t{1} << (2 * (L - 1));  // 4^L bars in vectors
    double* const slot = newest<L>(ring, v);
    std::memcpy(slot, &cur, sizeof(V));
    std::memcpy(slot + 4 * kRing[L], &cur, sizeof(V));
    return pick(pick(cur, back<L>(slot, q)), pick(back<L>(slot, 2 * q), back<L>(slot, 3 * q)));
  }

  template <std::size_t T>
  bool levels(const double* x, std::size_t s, std::size_t e, double* dst) noexcept {
    // The members in locals: a store through a double* could alias them, and the compiler
    // reloaded them after every ring write.
    double* const ring = ring_;
    const std::size_t reads = reads_;
    const Read rd[3] = {read_[0], read_[1], read_[2]};
    std::size_t v = v_;
    V prev = prev_;                                 // the bars of vector v - 1
    V h1 = four_[0], h2 = four_[1], h3 = four_[2];  // windows of 4 at vectors v - 1 .. v - 3
    M bad = mnot(mtrue());
    const M minus_zero = (M)splat(-0.0);
    // One vector a step: the windows of p bars ending at its bars u. The series' last vector may
    // be partial: its other lanes repeat its last bar, and only its bars are stored. (One loop
    // body, no lambda: a lambda's captured vectors went through the stack.)
    for (std::size_t t = s; t < e; t += 4, ++v) {
      const bool whole = t + 4 <= e;
      alignas(32) double part[4];  // the partial vector's bars (u's address never taken: a
                                   // vector whose address is taken lives on the stack)
      if (!whole) {
        for (std::size_t i = 0; i < 4; ++i) part[i] = x[t + i < e ? t + i : e - 1];
      }
      const V u = load(whole ? x + t : part);
      bad = mor(bad, mor(u != u, (M)u == minus_zero));
      V cur = u;
      if constexpr (T >= 1) {  // windows of 4: the bars 0 .. 3 back
        cur = pick(pick(u, shifted<1>(prev, u)), pick(shifted<2>(prev, u), shifted<3>(prev, u)));
      }
      if constexpr (T >= 2) {  // windows of 16: those of 4 ending 0, 4, 8 and 12 bars back
        const V c4 = cur;
        cur = pick(pick(cur, h1), pick(h2, h3));
        h3 = h2;
        h2 = h1;
        h1 = c4;
      }
      if constexpr (T >= 3) cur = up<2>(ring, v, cur);  // windows of 64: from the ring of 16
      if constexpr (T >= 4) cur = up<3>(ring, v, cur);  // windows of 256: from the ring of 64
      // The top level's windows at its offsets.
      V y = cur;
      if constexpr (T == 0) {
        for (std::size_t i = 0; i < reads; ++i) y = pick(y, shifted(rd[i].r, prev, u));
      } else {
        double* const slot = newest<T>(ring, v);
        std::memcpy(slot, &cur, sizeof(V));
        std::memcpy(slot + 4 * kRing[T], &cur, sizeof(V));
        for (std::size_t i = 0; i < reads; ++i) {
          if (rd[i].q == 0) {  // within a vector back: this vector's store, shuffled in
            y = pick(y, shifted(rd[i].r, back<T>(slot, 1), cur));
          } else {
            y = pick(y, load(slot + 4 * kRing[T] - rd[i].o));
          }
        }
      }
      prev = u;
      if (whole) {
        std::memcpy(dst + (t - s), &y, sizeof(V));
      } else {
        std::memcpy(part, &y, sizeof(V));
        for (std::size_t i = 0; t + i < e; ++i) dst[t - s + i] = part[i];
      }
    }
    v_ = v;
    prev_ = prev;
    four_[0] = h1;
    four_[1] = h2;
    four_[2] = h3;
    return !any(bad);
  }

  std::size_t top_;    // the top level: windows of 4^top_ bars
  Read read_[3] = {};  // the top level's offsets but 0, each once
  std::size_t reads_ = 0;
  std::size_t v_ = 0;  // the next vector of bars (bars 4v_ .. 4v_ + 3)
  V prev_ = splat(0.0), four_[3] = {splat(0.0), splat(0.0), splat(0.0)};
  Doubles rings_;
  double* ring_ = nullptr;
};
template <bool Lowest>
using SeriesExtreme = WindowStream<Lowest>;
#else
template <bool Lowest>
using SeriesExtreme = WindowExtreme<Lowest>;
#endif

// The extremes of several periods over one series (a sweep of sets), chunk by chunk. The passes
// WindowExtreme::run() makes for one period are the same for every period up to its last
// (windows of 1, 4, 16, ... bars): here they are made once a chunk for the longest, each level
// kept, and each period makes only its last pass, from its own level with run()'s offsets:
// run()'s bits.
template <bool Lowest>
class WindowLevels {
  using WE = WindowExtreme<Lowest>;

 public:
  explicit WindowLevels(std::size_t longest)
      : longest_(longest),
        levels_(count_levels(longest)),
        stride_((WE::kChunk + longest + WE::kPage - 1) / WE::kPage * WE::kPage + WE::kHalfPage),
        buf_(levels_ * stride_, Doubles::Unset{}) {
    // As run()'s buffers: only elements below a level's first whole window are read unwritten.
    for (std::size_t l = 0; l < levels_; ++l) {
      std::memset(buf_.data() + l * stride_, 0, longest * sizeof(double));
    }
  }
  // The levels of bars [s, e) of x (e - s <= WE::kChunk), each with the window before it. False
  // when those windows hold a NaN or a -0 (the caller then runs Extreme's order).
  bool chunk(const double* x, std::size_t s, std::size_t e) noexcept {
    s_ = s;
    e_ = e;
    base_ = s >= longest_ - 1 ? s - (longest_ - 1) : 0;
    const std::size_t len = e - base_;
    level_[0] = x + base_;
    if (WE::unordered(level_[0], len)) return false;
    std::size_t w = 1;
    for (std::size_t l = 1; l <= levels_; ++l, w *= 4) {
      double* dst = buf_.data() + (l - 1) * stride_;
      const std::size_t lo = 3 * w;
      if (lo < len) WE::pass(level_[l - 1] + lo, WE::offsets(w, lo), dst + lo, len - lo);
      level_[l] = dst;
    }
    return true;
  }
  // dst[t - s] = the extreme of x[t - p + 1, t] for t in [max(s, p - 1), e) of the last chunk;
  // p <= longest.
  void last(std::size_t p, double* dst) const noexcept {
    if (e_ < p) return;  // warm-up only
    std::size_t l = 0, w = 1;
    for (; 4 * w < p; w *= 4) ++l;
    const std::size_t first = std::max(s_, p - 1);
    WE::pass(level_[l] + (first - base_), WE::offsets(w, p - w), dst + (first - s_), e_ - first);
  }

 private:
  static std::size_t count_levels(std::size_t longest) noexcept {
    std::size_t n = 0;  // beyond the bars themselves: windows of 4, 16, ... bars
    for (std::size_t w = 1; 4 * w < longest; w *= 4) ++n;
    return n;
  }
  std::size_t longest_, levels_, stride_;
  Doubles buf_;
  const double* level_[8] = {};  // level_[l]: windows of 4^l bars ending at base_ + j (suits())
  std::size_t s_ = 0, e_ = 0, base_ = 0;
};

// A sweep's periods (each set's first parameter) into `periods`, each output's warm-up NaN
// (out[k][0, p - 1)), and the longest period.
inline std::size_t sweep_periods(const Params* sets, std::size_t count, std::size_t n,
                                 double* const* out,
                                 std::array<std::size_t, CWTS_TA_WIDTH>& periods) noexcept {
  std::size_t longest = 1;
  for (std::size_t k = 0; k < count; ++k) {
    periods[k] = static_cast<std::size_t>(iparam(sets[k], 0));
    longest = std::max(longest, periods[k]);
    fill_nan(out[k], n, periods[k] - 1);
  }
  return longest;
}

// For kernels of the highest high and lowest low of the p bars ending at each bar (WILLR, the
// stochastics' fast %K): whether hl_window_series keeps the lanes on this series (a period within
// a chunk; no NaN or -0 in high or low), and the series itself, chunk by chunk: y[t] =
// expr(highest, lowest, close) for every bar t from p - 1, in the lanes. False, y partly
// written, at a window holding a NaN or a -0: the caller then runs step() from the first bar.
inline bool hl_window_suits(std::size_t p, std::size_t n, const double* const* in) noexcept {
  return WindowExtreme<false>::suits(p) && !WindowExtreme<false>::unordered(in[0], n) &&
         !WindowExtreme<false>::unordered(in[1], n);
}

// y[t] = expr(hh[t - s], ll[t - s], close[t]) for t in [max(s, p - 1), e), in the lanes.
template <class Expr>
void hl_window_values(std::size_t p, std::size_t s, std::size_t e, const double* hh,
                      const double* ll, const double* close, Expr expr, double* y) noexcept {
  constexpr std::size_t W = CWTS_TA_WIDTH;
  std::size_t t = std::max(s, p - 1);
  for (; t + W <= e; t += W) {
    V h, l, c;
    std::memcpy(&h, hh + (t - s), sizeof(V));
    std::memcpy(&l, ll + (t - s), sizeof(V));
    std::memcpy(&c, close + t, sizeof(V));
    const V u = expr(h, l, c);
    std::memcpy(y + t, &u, sizeof(V));
  }
  for (; t < e; ++t) {
    const V u = expr(splat(hh[t - s]), splat(ll[t - s]), splat(close[t]));
    std::memcpy(y + t, &u, sizeof(double));  // lane 0
  }
}

template <class Expr>
bool hl_window_series(std::size_t p, std::size_t n, const double* const* in, Expr expr, double* y) {
  constexpr std::size_t kChunk = WindowExtreme<false>::kChunk;
  if (!SeriesExtreme<false>::suits(p)) return false;
  const double* close = in[2];
  SeriesExtreme<false> highest(p);
  SeriesExtreme<true> lowest(p);
  // The chunk's highs and lows in one allocation, half a page apart modulo 4 KB (see
  // WindowExtreme's buffers).
  Doubles extremes(2 * kChunk + WindowExtreme<false>::kHalfPage, Doubles::Unset{});  // all written
  double* const hh = extremes.data();
  double* const ll = hh + kChunk + WindowExtreme<false>::kHalfPage;
  for (std::size_t s = 0; s < n; s += kChunk) {
    const std::size_t e = std::min(n, s + kChunk);
    if (!highest.run(in[0], s, e, hh) || !lowest.run(in[1], s, e, ll)) return false;
    hl_window_values(p, s, e, hh, ll, close, expr, y);
  }
  return true;
}

// hl_window_series for several periods over one series (a sweep of sets, each p[k] suits(), the
// longest `longest`): the highs' and lows' passes shared between them (WindowLevels), y[k][t] for
// t from p[k] - 1.
template <class Expr>
bool hl_window_sweep(const std::size_t* periods, std::size_t count, std::size_t longest,
                     std::size_t n, const double* const* in, Expr expr, double* const* y) {
  constexpr std::size_t kChunk = WindowExtreme<false>::kChunk;
  WindowLevels<false> highest(longest);
  WindowLevels<true> lowest(longest);
  Doubles extremes(2 * kChunk + WindowExtreme<false>::kHalfPage, Doubles::Unset{});  // as above
  double* const hh = extremes.data();
  double* const ll = hh + kChunk + WindowExtreme<false>::kHalfPage;
  for (std::size_t s = 0; s < n; s += kChunk) {
    const std::size_t e = std::min(n, s + kChunk);
    if (!highest.chunk(in[0], s, e) || !lowest.chunk(in[1], s, e)) return false;
    for (std::size_t k = 0; k < count; ++k) {
      highest.last(periods[k], hh);
      lowest.last(periods[k], ll);
      hl_window_values(periods[k], s, e, hh, ll, in[2], expr, y[k]);
    }
  }
  return true;
}
#endif

// One series through K::step() bar by bar (lane 0), for a whole-series form that cannot keep
// step()'s bits on this input.
template <class K>
void step_series(const Params& pr, std::size_t n, const double* const* in, std::size_t n_in,
                 double* const* out, std::size_t n_out) {
  K k(pr);
  for (std::size_t t = 0; t < n; ++t) {
    V u[kMaxInputs], v[kMaxOutputs];
    for (std::size_t i = 0; i < n_in; ++i) u[i] = splat(in[i][t]);
    k.step(u, v);
    for (std::size_t j = 0; j < n_out; ++j) std::memcpy(out[j] + t, &v[j], sizeof(double));
  }
}

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
#if CWTS_TA_WIDTH > 1
  // A batch's series in lanes, a vector's series at a time: step() through the first p - 1 bars,
  // then the total in registers (steady_lanes()), the value leaving the window read from the
  // input (a second tile, p - 1 bars back) instead of the ring. SmaState::step()'s operations in
  // its order, so the same bits.
  static void lanes_form(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out, bool may_stream = true) {
    const auto p = static_cast<std::size_t>(iparam(pr, 0));
    if (p == 1) return copy_lanes(n, lanes, in, out);
    by_vector<1>(n, lanes, in, out, may_stream,
                 [&](std::size_t count, auto& ip, auto& op, bool stream) {
                   Sma k(pr);
                   const std::size_t start = warm_lanes(k, p - 1, n, count, ip, op);
                   V total = k.s.total;
                   const V pd = splat(static_cast<double>(p));
                   const Lagged<2> both(ip);  // the series now, and p - 1 bars back
                   steady_lanes<2, 1, 1>(
                       start, n, count, both.ip, {0, p - 1}, op, stream,
                       [&](const V* x, V* y, std::size_t) {
                         total = total + x[0];
                         y[0] = total / pd;
                         total = total - x[1];
                       },
                       [](V*) {});
                 });
  }
  // A sweep of periods over one series (dispatch: sweep_lanes), SmaState's operations with the
  // period a lane's own: the value leaving each lane's window read from the array at its offset.
  struct Sweep {
    using Of = Sma;  // not a kernel deriving from Sma (CMO from RSI)
    V p = splat(0.0);
    std::size_t back[CWTS_TA_WIDTH] = {};  // p - 1: where the leaving value is, bars back
    std::size_t most = 0;
    V total = splat(0.0);
    static bool suits(const Params& pr) noexcept { return iparam(pr, 0) >= 2; }
    Sweep(const Params* sets, std::size_t count) noexcept {
      for (std::size_t l = 0; l < static_cast<std::size_t>(CWTS_TA_WIDTH); ++l) {
        const int period = iparam(sets[l < count ? l : 0], 0);
        p[l] = static_cast<double>(period);
        back[l] = static_cast<std::size_t>(period - 1);
        most = std::max(most, static_cast<std::size_t>(period));
      }
    }
    [[nodiscard]] std::size_t warm() const noexcept { return most; }
    V first(const double* const* in, std::size_t bar) noexcept {
      V old = splat(0.0);
      for (std::size_t l = 0; l < static_cast<std::size_t>(CWTS_TA_WIDTH); ++l) {
        if (bar >= back[l]) old[l] = in[0][bar - back[l]];
      }
      total = total + splat(in[0][bar]);
      const M before = splat(static_cast<double>(bar)) < p - splat(1.0);
      const V out = total / p;
      total = sel(before, total, total - old);
      return sel(before, splat(kNaN), out);
    }
    // bar >= warm(): every lane's window is full. The leaving values as W rows (lane l's W values
    // from its offset), transposed to one vector a bar.
    void tile(const double* const* in, std::size_t bar, V* y) noexcept {
      V old[CWTS_TA_WIDTH];
      for (std::size_t l = 0; l < static_cast<std::size_t>(CWTS_TA_WIDTH); ++l) {
        std::memcpy(&old[l], in[0] + bar - back[l], sizeof(V));
      }
      transpose_inline(old);
      for (std::size_t b = 0; b < static_cast<std::size_t>(CWTS_TA_WIDTH); ++b) {
        total = total + splat(in[0][bar + b]);
        y[b] = total / p;
        total = total - old[b];
      }
    }
  };
#endif
};

#if CWTS_TA_WIDTH > 1
// A batch's series of k, a chain of N EMAs of one period (EMA: 1, DEMA: 2, TEMA: 3; chain(k): its
// EmaStates in order), in lanes a vector's series at a time: k.step() through bar N (p - 1),
// where the last one takes its seed, then the recurrences in registers (steady_lanes()), value()
// the output; step()'s operations in its order, so the same bits. Stepped through run_groups()
// (EmaState's branches every bar, its state in the kernel object) a lane-bar took 1.0 ns on
// AVX-512 (cwts-bench-ta BM_Many, 32 x 2,000: 63 us).
template <std::size_t N, class K, class Chain, class Value>
void ema_chain_lanes(const Params& pr, std::size_t n, std::size_t lanes, const double* const* in,
                     double* const* out, bool may_stream, Chain&& chain, Value&& value) {
  by_vector<1>(n, lanes, in, out, may_stream,
               [&](std::size_t count, auto& ip, auto& op, bool stream) {
                 K k(pr);
                 const std::array<EmaState*, N> e = chain(k);
                 const auto p = static_cast<std::size_t>(e[0]->p);
                 const std::size_t start = warm_lanes(k, N * (p - 1) + 1, n, count, ip, op);
                 std::array<V, N> acc;
                 for (std::size_t i = 0; i < N; ++i) acc[i] = e[i]->acc;
                 const V kk = splat(e[0]->k);
                 steady_lanes<1, 1, 1>(
                     start, n, count, ip, {0}, op, stream,
                     [&](const V* x, V* y, std::size_t) {
                       V v = x[0];
                       for (std::size_t i = 0; i < N; ++i) {
                         v = acc[i] = fmadd(v - acc[i], kk, acc[i]);
                       }
                       y[0] = value(acc);
                     },
                     [](V*) {});
               });
}
#endif

#if CWTS_TA_WIDTH > 1
// A sweep of periods over one series (dispatch: sweep_lanes) for a chain of N EMAs of one period,
// each over the one before (EMA: 1; DEMA: 2; TEMA: 3): EmaState's operations with the period and
// k a lane's own. Stage s of a lane is stepped from bar s (p - 1), when the stage before has its
// first value (step()'s short-circuit), sums until its own bar p - 1, seeds there, then steps;
// by masks until every lane's last stage has seeded. Of::value() makes the output of the
// stages' values (EMA: the one value).
template <class K, int N>
struct EmaChainSweep {
  using Of = K;
  V p = splat(0.0), k = splat(0.0);
  std::array<V, N> e{};
  std::size_t most = 0;
  static bool suits(const Params& pr) noexcept { return iparam(pr, 0) >= 2; }
  EmaChainSweep(const Params* sets, std::size_t count) noexcept {
    for (std::size_t l = 0; l < static_cast<std::size_t>(CWTS_TA_WIDTH); ++l) {
      const EmaState one(iparam(sets[l < count ? l : 0], 0));
      p[l] = static_cast<double>(one.p);
      k[l] = one.k;
      most = std::max(most, static_cast<std::size_t>(one.p));
    }
    for (V& v : e) v = splat(0.0);
  }
  [[nodiscard]] std::size_t warm() const noexcept { return N * (most - 1) + 1; }
  [[nodiscard]] V value() const noexcept {
    if constexpr (N == 1) {
      return e[0];
    } else {
      return K::value(e);
    }
  }
  V first(const double* const* in, std::size_t bar) noexcept {
    const V last = p - splat(1.0);
    V x = splat(in[0][bar]);
    V local = splat(static_cast<double>(bar));  // the bar counted from where stage s starts
    for (int s = 0; s < N; ++s) {
      const M active = local >= splat(0.0), before = local < last;
      const V sum = e[s] + x;
      const V stepped = sel(before, sum, sel(local == last, sum / p, fmadd(x - e[s], k, e[s])));
      e[s] = sel(active, stepped, e[s]);
      x = e[s];
      local = local - last;
    }
    // local is now the bar counted from where a stage after the last would start: the last
    // stage has its value from there on.
    return sel(local >= splat(0.0), value(), splat(kNaN));
  }
  void tile(const double* const* in, std::size_t bar, V* y) noexcept {
    for (std::size_t b = 0; b < static_cast<std::size_t>(CWTS_TA_WIDTH); ++b) {
      V x = splat(in[0][bar + b]);
      for (int s = 0; s < N; ++s) x = e[s] = fmadd(x - e[s], k, e[s]);
      y[b] = value();
    }
  }
};
#endif

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
#if CWTS_TA_WIDTH == 1
  // One whole series: step() through the seed, then the recurrence straight from the array (the
  // same operations, so the same bits).
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    Ema k(pr);
    const double* x = in[0];
    double* y = out[0];
    std::size_t t = 0;
    for (; t < n && (k.identity || t < static_cast<std::size_t>(k.s.p)); ++t) k.step(x + t, y + t);
    if (k.identity) return;
    double acc = k.s.acc;
    const double kk = k.s.k;
    for (; t < n; ++t) y[t] = acc = fmadd(x[t] - acc, kk, acc);
  }
#endif
#if CWTS_TA_WIDTH > 1
  using Sweep = EmaChainSweep<Ema, 1>;
  static void lanes_form(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out, bool may_stream = true) {
    if (iparam(pr, 0) == 1) return copy_lanes(n, lanes, in, out);  // TA-Lib: the input
    ema_chain_lanes<1, Ema>(
        pr, n, lanes, in, out, may_stream, [](Ema& k) { return std::array<EmaState*, 1>{&k.s}; },
        [](const std::array<V, 1>& e) { return e[0]; });
  }
#endif
};

// TA_WMA: periodSum / periodSub trick with divider p (p + 1) / 2, both sums rebuilt from the
// window (oldest first, weights 1..p) every 8p bars.
struct Wma {
  // On the scalar unit a batch runs each series through the scalar series form; the wide units
  // run a vector's series at a time in lanes_form(): stepped through run_groups() (a ring per
  // lane) the lanes measured slower than the scalar series form (docs/benchmarks.md).
  static constexpr bool kBatchAsScalarSeries = CWTS_TA_WIDTH == 1;
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
#if CWTS_TA_WIDTH == 1
  // One whole series read straight from its array (the window is x[t - p + 1 .. t], no ring):
  // step()'s operations in step()'s order, so the same bits.
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    const Wma k(pr);
    const auto p = static_cast<std::size_t>(k.p);
    const double* x = in[0];
    double* y = out[0];
    if (p == 1) {
      std::copy(x, x + n, y);
      return;
    }
    std::fill(y, y + std::min(n, p - 1), kNaN);
    double sum = 0.0, sub = 0.0, trail = 0.0;
    for (std::size_t t = 0; t + 1 < p && t < n; ++t) {
      sub = sub + x[t];
      sum = sum + x[t] * static_cast<double>(t + 1);
    }
    const auto rebuild_every = static_cast<long>(8 * p);
    long left = rebuild_every;
    const auto weight = static_cast<double>(p);
    for (std::size_t t = p - 1; t < n; ++t) {
      const double v = x[t];
      sub = sub + v;
      sub = sub - trail;
      sum = sum + v * weight;
      if (--left <= 0) {
        left = rebuild_every;
        sub = sum = 0.0;
        for (std::size_t w = 1; w <= p; ++w) {
          sub = sub + x[t - p + w];
          sum = sum + x[t - p + w] * static_cast<double>(w);
        }
      }
      trail = x[t - p + 1];
      y[t] = sum / k.divider;
      sum = sum - sub;
    }
  }
#endif
#if CWTS_TA_WIDTH > 1
  // A batch's series in lanes, a vector's series at a time: step() through the first p bars (the
  // first output among them), then the sums in registers (steady_lanes()), the value leaving the
  // window read from the input (a second tile, p bars back) and the whole window, where the sums
  // are rebuilt (every 8p bars, every lane on the same bar), too. step()'s operations in its
  // order, so the same bits.
  static void lanes_form(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out, bool may_stream = true) {
    if (iparam(pr, 0) == 1) return copy_lanes(n, lanes, in, out);  // TA-Lib: the input
    by_vector<1>(
        n, lanes, in, out, may_stream, [&](std::size_t count, auto& ip, auto& op, bool stream) {
          Wma k(pr);
          const auto len = static_cast<std::size_t>(k.p);
          const std::size_t start = warm_lanes(k, len, n, count, ip, op);
          V total = k.sum, part = k.sub;
          long left = k.since;
          const V weight = splat(static_cast<double>(len)), divisor = splat(k.divider);
          const Lagged<2> both(ip);  // the series now, and p bars back (the last bar's trailing)
          steady_lanes<2, 1, 1>(
              start, n, count, both.ip, {0, len}, op, stream,
              [&](const V* x, V* y, std::size_t at) {
                part = part + x[0];
                part = part - x[1];
                total = total + x[0] * weight;
                if (--left <= 0) {
                  left = 8L * k.p;
                  part = total = splat(0.0);
                  for (std::size_t w = 1; w <= len; ++w) {
                    const V v = load_lanes(ip[0], CWTS_TA_WIDTH, at - len + w);
                    part = part + v;
                    total = total + v * splat(static_cast<double>(w));
                  }
                }
                y[0] = total / divisor;
                total = total - part;
              },
              [](V*) {});
        });
  }
  // A sweep of periods over one series (dispatch: sweep_lanes): series()'s operations with the
  // period a lane's own. The value leaving a lane's window (bar t - p at bar t) is read from the
  // array at its offset; a lane rebuilds both sums from its window at its own bars (9p - 2, then
  // every 8p), in series()'s order, one lane at a time.
  struct Sweep {
    using Of = Wma;
    static constexpr std::size_t kW = CWTS_TA_WIDTH;
    // The fewest sets a run of this sweep takes (kernels_dispatch.inl, sweep_fewest_impl): its
    // divisions and rebuilds make two WMA sets swept 0.96x (AVX2) and 0.53x (AVX-512) as fast as
    // one after the other (BM_Sweep).
    static constexpr std::size_t kFewest = kW == 8 ? 4 : 3;
    V p = splat(0.0), divider = splat(0.0);
    V sum = splat(0.0), sub = splat(0.0);
    std::size_t back[kW] = {};     // the lane's period
    std::size_t rebuild[kW] = {};  // the lane's next rebuild bar
    std::size_t soonest = 0;       // the first of them
    std::size_t most = 0;
    static bool suits(const Params& pr) noexcept { return iparam(pr, 0) >= 2; }
    Sweep(const Params* sets, std::size_t count) noexcept {
      for (std::size_t l = 0; l < kW; ++l) {
        const int period = iparam(sets[l < count ? l : 0], 0);
        p[l] = static_cast<double>(period);
        divider[l] = static_cast<double>(period) * (period + 1) / 2.0;  // as Wma's
        back[l] = static_cast<std::size_t>(period);
        rebuild[l] = 9 * back[l] - 2;
        most = std::max(most, back[l]);
      }
      soonest = *std::min_element(rebuild, rebuild + kW);
    }
    [[nodiscard]] std::size_t warm() const noexcept { return most; }
    // The lanes whose rebuild bar is `bar` (every lane's window is full there).
    void rebuild_due(const double* x, std::size_t bar) noexcept {
      for (std::size_t l = 0; l < kW; ++l) {
        if (rebuild[l] != bar) continue;
        rebuild[l] += 8 * back[l];
        double s = 0.0, u = 0.0;
        for (std::size_t w = 1; w <= back[l]; ++w) {
          u = u + x[bar - back[l] + w];
          s = s + x[bar - back[l] + w] * static_cast<double>(w);
        }
        sub[l] = u;
        sum[l] = s;
      }
      soonest = *std::min_element(rebuild, rebuild + kW);
    }
    V first(const double* const* in, std::size_t bar) noexcept {
      const double* x = in[0];
      V trail = splat(0.0);  // 0 at a lane's first full window, as series() starts it
      for (std::size_t l = 0; l < kW; ++l) {
        if (bar >= back[l]) trail[l] = x[bar - back[l]];
      }
      const V v = splat(x[bar]), at = splat(static_cast<double>(bar));
      const M before = at < p - splat(1.0);
      sub = sub + v;
      sub = sel(before, sub, sub - trail);
      sum = sum + v * sel(before, at + splat(1.0), p);
      if (bar == soonest) rebuild_due(x, bar);
      const V out = sum / divider;
      sum = sel(before, sum, sum - sub);
      return sel(before, splat(kNaN), out);
    }
    // bar >= warm(): every lane's window is full and has a value leaving it. The leaving values
    // as W rows (lane l's W values from its offset), transposed to one vector a bar.
    void tile(const double* const* in, std::size_t bar, V* y) noexcept {
      const double* x = in[0];
      V old[kW];
      for (std::size_t l = 0; l < kW; ++l) std::memcpy(&old[l], x + bar - back[l], sizeof(V));
      transpose_inline(old);
      for (std::size_t b = 0; b < kW; ++b) {
        const V v = splat(x[bar + b]);
        sub = sub + v;
        sub = sub - old[b];
        sum = sum + v * p;
        if (bar + b == soonest) rebuild_due(x, bar + b);
        y[b] = sum / divider;
        sum = sum - sub;
      }
    }
  };
#endif
};

#if CWTS_TA_WIDTH == 1
// One whole series of k, a chain of N EMAs of one period (DEMA: 2, TEMA: 3; e: the chain in
// order): k.step() through bar N (p - 1), where the last one takes its seed, then each EMA's
// recurrence in a tight loop, K::value() the output; step()'s operations, so the same bits.
template <std::size_t N, class K>
void ema_chain_series(K& k, const std::array<EmaState*, N>& e, std::size_t n, const double* x,
                      double* y) {
  const std::size_t seeded = N * (static_cast<std::size_t>(e[0]->p) - 1);
  std::size_t t = 0;
  for (; t < n && t <= seeded; ++t) k.step(x + t, y + t);
  std::array<double, N> acc;
  for (std::size_t i = 0; i < N; ++i) acc[i] = e[i]->acc;
  const double kk = e[0]->k;
  for (; t < n; ++t) {
    double v = x[t];
    for (std::size_t i = 0; i < N; ++i) v = acc[i] = fmadd(v - acc[i], kk, acc[i]);
    y[t] = K::value(acc);
  }
}
#endif

// TA_DEMA: 2 * EMA - EMA(EMA).
struct Dema {
  EmaState e1, e2;
  explicit Dema(const Params& p) : e1(iparam(p, 0)), e2(iparam(p, 0)) {}
  void reset() noexcept {
    e1.reset();
    e2.reset();
  }
  template <class A>
  static V value(const A& e) noexcept {
    return (splat(2.0) * e[0]) - e[1];
  }
  void step(const V* x, V* y) noexcept {
    std::array<V, 2> e{};
    y[0] = e1.step(x[0], e[0]) && e2.step(e[0], e[1]) ? value(e) : splat(kNaN);
  }
#if CWTS_TA_WIDTH == 1
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    Dema k(pr);
    ema_chain_series<2>(k, {&k.e1, &k.e2}, n, in[0], out[0]);
  }
#else
  using Sweep = EmaChainSweep<Dema, 2>;
  static void lanes_form(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out, bool may_stream = true) {
    ema_chain_lanes<2, Dema>(
        pr, n, lanes, in, out, may_stream,
        [](Dema& k) {
          return std::array<EmaState*, 2>{&k.e1, &k.e2};
        },
        [](const std::array<V, 2>& e) { return value(e); });
  }
#endif
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
  template <class A>
  static V value(const A& e) noexcept {
    return e[2] + ((splat(3.0) * e[0]) - (splat(3.0) * e[1]));
  }
  void step(const V* x, V* y) noexcept {
    std::array<V, 3> e{};
    y[0] =
        e1.step(x[0], e[0]) && e2.step(e[0], e[1]) && e3.step(e[1], e[2]) ? value(e) : splat(kNaN);
  }
#if CWTS_TA_WIDTH == 1
  static void series(const Params& pr, std::size_t n, const double* const* in, double* const* out) {
    Tema k(pr);
    ema_chain_series<3>(k, {&k.e1, &k.e2, &k.e3}, n, in[0], out[0]);
  }
#else
  using Sweep = EmaChainSweep<Tema, 3>;
  static void lanes_form(const Params& pr, std::size_t n, std::size_t lanes,
                         const double* const* in, double* const* out, bool may_stream = true) {
    ema_chain_lanes<3, Tema>(
        pr, n, lanes, in, out, may_stream,
        [](Tema& k) {
          return std::array<EmaState*, 3>{&k.e1, &k.e2, &k.e3};
        },
        [](const std::array<V, 3>& e) { return value(e); });
  }
#endif
};

// The kernel families, in this order (later ones build on earlier ones; the dispatch last).
// clang-format off
#include "kernels_cycle.inl"        // NOLINT(bugprone-suspicious-include): part of this unit
#include "kernels_averages.inl"     // NOLINT(bugprone-suspicious-include): part of this unit
#include "kernels_momentum.inl"     // NOLINT(bugprone-suspicious-include): part of this unit
#include "kernels_volatility.inl"   // NOLINT(bugprone-suspicious-include): part of this unit
#include "kernels_oscillators.inl"  // NOLINT(bugprone-suspicious-include): part of this unit
#include "kernels_trend.inl"        // NOLINT(bugprone-suspicious-include): part of this unit
#include "kernels_regression.inl"   // NOLINT(bugprone-suspicious-include): part of this unit
#include "kernels_dispatch.inl"     // NOLINT(bugprone-suspicious-include): part of this unit
// clang-format on

}  // namespace
}  // namespace cwts::ta::CWTS_TA_NS
