// Seqlock<T>: a single-writer, many-reader sequence lock that lives in shared memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cwts/concurrent/word_copy.hpp"

namespace cwts::concurrent {

// Ordering protocol (portable; no reliance on x86 TSO):
//
//   writer                                   reader
//   s = seq (relaxed, writer owns it)        s1 = seq.load(acquire)
//   seq.store(s + 1, relaxed)   -- odd       if s1 odd -> retry
//   fence(release)                           copy words (relaxed atomic loads)
//   store words (relaxed atomics)            fence(acquire)
//   seq.store(s + 2, release)   -- even      s2 = seq.load(relaxed)
//                                            s1 == s2 -> the copy is consistent
//
// The release fence orders the odd store before any payload store, so a reader that observed a
// payload word from this write and then (after its acquire fence) reloads seq sees at least the
// odd value and retries. The final release store publishes the payload to a reader whose first
// acquire load sees the even value. Payload words go through std::atomic_ref so the races the
// protocol tolerates are not data races (ThreadSanitizer stays clean, and the compiler may not
// tear or elide the accesses).
//
// Rejected: a plain memcpy of the payload (a data race under the C++ memory model); an
// acquire-release RMW on seq by the reader (makes readers write the writer's cache line).
//
// Layout: the struct starts a cache line (alignas(64)); seq is its first word and shares that line
// with the first 56 payload bytes (both are written by the one writer, so nothing is false-shared).
// The struct is standard layout and trivially copyable so it can be placed in a mapped region by
// offset.
// The protocol above, step by step, for a payload whose length is known only at run time (a
// market region's book, ADR 0042); Seqlock<T> is made of the same four steps.
//
// Writer only: makes `seq` odd before any payload store; returns what seqlock_write_end takes.
inline std::uint64_t seqlock_write_begin(std::uint64_t& seq) noexcept {
  std::atomic_ref<std::uint64_t> s(seq);
  // relaxed: only this writer ever modifies seq.
  const std::uint64_t cur = s.load(std::memory_order_relaxed);
  // relaxed + the fence below: the odd value must be visible before any payload word.
  s.store(cur + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  return cur;
}
// Writer only: publishes the payload stored since seqlock_write_begin returned `begun`.
inline void seqlock_write_end(std::uint64_t& seq, std::uint64_t begun) noexcept {
  std::atomic_ref<std::uint64_t>(seq).store(begun + 2, std::memory_order_release);
}
// Reader: false while a write is in progress; else the sequence the copy starts from, in `s1`.
[[nodiscard]] inline bool seqlock_read_begin(const std::uint64_t& seq, std::uint64_t& s1) noexcept {
  s1 = std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(seq))
           .load(std::memory_order_acquire);
  return (s1 & 1U) == 0;
}
// Reader, after copying the payload with relaxed loads: whether the copy is consistent.
[[nodiscard]] inline bool seqlock_read_valid(const std::uint64_t& seq, std::uint64_t s1) noexcept {
  std::atomic_thread_fence(std::memory_order_acquire);
  // relaxed: ordered after the payload loads by the acquire fence above.
  return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(seq))
             .load(std::memory_order_relaxed) == s1;
}

template <typename T>
struct alignas(64) Seqlock {
  static_assert(std::is_trivially_copyable_v<T>, "Seqlock payload must be trivially copyable");
  static_assert(sizeof(T) % sizeof(std::uint64_t) == 0, "Seqlock payload must be whole words");

  static constexpr std::size_t kWords = sizeof(T) / sizeof(std::uint64_t);

  std::uint64_t seq;            // even: stable, odd: write in progress
  std::uint64_t words[kWords];  // payload, copied word by word through atomic_ref

  // Writer thread (or process) only. Never blocks.
  void store(const T& value) noexcept {
    const std::uint64_t begun = seqlock_write_begin(seq);
    store_words(words, value);
    seqlock_write_end(seq, begun);
  }

  // Any reader. Returns false if a write was in progress or completed during the copy; the copy
  // in `out` is then unusable. Wait-free: one attempt.
  [[nodiscard]] bool try_load(T& out) const noexcept {
    std::uint64_t s1 = 0;
    if (!seqlock_read_begin(seq, s1)) return false;
    load_words(words, out);
    return seqlock_read_valid(seq, s1);
  }

  // Any reader. Spins until a consistent copy is taken; the writer never holds the lock for more
  // than a few stores, so this terminates unless the writer died mid-write (see load_bounded).
  [[nodiscard]] T load() const noexcept {
    T out;
    while (!try_load(out)) cpu_relax();
    return out;
  }

  // Any reader. Gives up after `max_attempts`; used where the writer may have been killed
  // mid-write and left seq odd for good.
  [[nodiscard]] bool load_bounded(T& out, std::uint32_t max_attempts) const noexcept {
    for (std::uint32_t i = 0; i < max_attempts; ++i) {
      if (try_load(out)) return true;
      cpu_relax();
    }
    return false;
  }

  // Any reader: the sequence, for change detection without copying. Acquire so a caller that sees
  // a new even value and then calls try_load observes at least that write.
  [[nodiscard]] std::uint64_t version() const noexcept {
    return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(seq))
        .load(std::memory_order_acquire);
  }
};

}  // namespace cwts::concurrent
