// Word-wise copies through std::atomic_ref, the building block of every shared-memory protocol
// here.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace cwts::concurrent {

// Pause hint for spin loops: keeps a spinning hyperthread from starving its sibling.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Copies `value` into `dst` one 64-bit word at a time with relaxed atomic stores. Relaxed is
// enough: every caller orders these stores with a fence or a release store of its own.
template <typename T>
inline void store_words(std::uint64_t* dst, const T& value) noexcept {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % 8 == 0);
  constexpr std::size_t n = sizeof(T) / 8;
  std::uint64_t tmp[n];
  std::memcpy(tmp, &value, sizeof(T));
  for (std::size_t i = 0; i < n; ++i) {
    std::atomic_ref<std::uint64_t>(dst[i]).store(tmp[i], std::memory_order_relaxed);
  }
}

// Copies words from `src` into `out` with relaxed atomic loads; callers validate the copy with
// their own acquire fence and sequence check. `src` may be in a read-only mapping: these are
// plain loads (the const_cast never leads to a write).
template <typename T>
inline void load_words(const std::uint64_t* src, T& out) noexcept {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % 8 == 0);
  constexpr std::size_t n = sizeof(T) / 8;
  std::uint64_t tmp[n];
  for (std::size_t i = 0; i < n; ++i) {
    tmp[i] = std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(src[i]))
                 .load(std::memory_order_relaxed);
  }
  std::memcpy(&out, tmp, sizeof(T));
}

// One shared word accessed atomically; the order is always spelled out by the caller.
[[nodiscard]] inline std::uint64_t load_word(const std::uint64_t& w,
                                             std::memory_order mo) noexcept {
  return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(w)).load(mo);
}
inline void store_word(std::uint64_t& w, std::uint64_t v, std::memory_order mo) noexcept {
  std::atomic_ref<std::uint64_t>(w).store(v, mo);
}

}  // namespace cwts::concurrent
