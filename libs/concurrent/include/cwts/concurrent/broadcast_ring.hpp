// BroadcastRing<T, N>: one writer, any number of readers, overwrite-oldest, laps detected.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "cwts/concurrent/word_copy.hpp"

namespace cwts::concurrent {

// Ordering protocol. Records carry a global sequence s = 1, 2, 3, ...; record s lives in slot
// (s - 1) % N, and each slot is its own seqlock whose word encodes which record it holds:
//
//   slot.seq == 2s - 1   record s is being written
//   slot.seq == 2s       record s is complete
//
//   writer (publish s)                         reader (expects s)
//   slot.seq.store(2s-1, relaxed)              v1 = slot.seq.load(acquire)
//   fence(release)                             v1 <  2s-1 -> not written yet (kEmpty)
//   store words (relaxed)                      v1 == 2s-1 -> being written (kEmpty, retry)
//   slot.seq.store(2s, release)                v1 >  2s   -> overwritten: lapped (kLapped)
//   head.store(s, release)                     copy words (relaxed); fence(acquire)
//                                              v2 = slot.seq.load(relaxed)
//                                              v2 != 2s   -> overwritten during copy (kLapped)
//
// A reader therefore never returns a torn or overwritten record: it either gets record s
// exactly as written or learns that it fell a lap behind, and then re-reads the snapshots.
// Sequences are 64-bit and never wrap. The writer never waits for readers (overwrite-oldest);
// readers never write to the ring, so it can be mapped read-only by them.
//
// Rejected: a single global head read by readers before and after the copy (Aeron's broadcast
// style) — it needs the same fence pair but makes every reader hit the writer's head line on
// every record; a per-slot sequence keeps readers on the slot they already fetch.
template <typename T, std::size_t N>
struct BroadcastRing {
  static_assert(std::is_trivially_copyable_v<T>, "ring records must be trivially copyable");
  static_assert(sizeof(T) % 8 == 0, "ring records must be whole words");
  static_assert(N > 0 && (N & (N - 1)) == 0, "capacity must be a power of two");

  static constexpr std::size_t kCapacity = N;
  static constexpr std::size_t kWords = sizeof(T) / 8;

  struct alignas(64) Slot {
    std::uint64_t seq;
    std::uint64_t words[kWords];
  };

  // --- written by the writer only ---
  alignas(64) std::uint64_t head;  // sequence of the last complete record, 0 = none yet
  std::uint64_t reserved_[7];
  Slot slots[N];

  // Writer only. Not thread-safe. Returns the record's sequence. Never blocks, never fails.
  std::uint64_t publish(const T& value) noexcept {
    // relaxed: only the writer modifies head.
    const std::uint64_t s = load_word(head, std::memory_order_relaxed) + 1;
    Slot& slot = slots[(s - 1) & (N - 1)];
    store_word(slot.seq, 2 * s - 1, std::memory_order_relaxed);
    // Orders the odd marker before the payload stores (the seqlock writer fence).
    std::atomic_thread_fence(std::memory_order_release);
    store_words(slot.words, value);
    store_word(slot.seq, 2 * s, std::memory_order_release);
    // release: a reader that sees head == s also sees record s complete.
    store_word(head, s, std::memory_order_release);
    return s;
  }

  // Any reader: the sequence of the newest complete record.
  [[nodiscard]] std::uint64_t last_sequence() const noexcept {
    return load_word(head, std::memory_order_acquire);
  }
};

enum class ReadStatus : std::uint8_t {
  kOk,      // a record was copied out
  kEmpty,   // nothing new yet (or the next record is mid-write): retry later
  kLapped,  // the writer overwrote records this reader had not read: call resync()
};

// Process-local read cursor over a BroadcastRing. One per reading thread. Not thread-safe.
template <typename T, std::size_t N>
class BroadcastReader {
 public:
  using Ring = BroadcastRing<T, N>;

  // Starts after the newest complete record: the reader sees only what is published from now on.
  explicit BroadcastReader(const Ring& ring) noexcept
      : ring_(&ring), next_(ring.last_sequence() + 1) {}

  BroadcastReader(const Ring& ring, std::uint64_t next_sequence) noexcept
      : ring_(&ring), next_(next_sequence) {}

  // Copies the next record into `out` and reports its sequence in `seq_out`. Wait-free.
  [[nodiscard]] ReadStatus try_read(T& out, std::uint64_t* seq_out = nullptr) noexcept {
    const std::uint64_t s = next_;
    const auto& slot = ring_->slots[(s - 1) & (N - 1)];
    const std::uint64_t v1 = load_word(slot.seq, std::memory_order_acquire);
    if (v1 < 2 * s) return ReadStatus::kEmpty;  // older lap, or record s mid-write
    if (v1 != 2 * s) return ReadStatus::kLapped;
    load_words(slot.words, out);
    std::atomic_thread_fence(std::memory_order_acquire);
    // relaxed: ordered after the payload loads by the acquire fence.
    if (load_word(slot.seq, std::memory_order_relaxed) != 2 * s) return ReadStatus::kLapped;
    if (seq_out != nullptr) *seq_out = s;
    ++next_;
    return ReadStatus::kOk;
  }

  // After kLapped: jumps past everything published so far and returns how many records were
  // skipped. The caller re-reads the snapshots it derives state from.
  std::uint64_t resync() noexcept {
    const std::uint64_t head = ring_->last_sequence();
    const std::uint64_t skipped = head + 1 > next_ ? head + 1 - next_ : 0;
    next_ = head + 1;
    return skipped;
  }

  [[nodiscard]] std::uint64_t next_sequence() const noexcept { return next_; }

  // Records published but not yet read (may exceed N when lapped).
  [[nodiscard]] std::uint64_t backlog() const noexcept {
    const std::uint64_t head = ring_->last_sequence();
    return head + 1 > next_ ? head + 1 - next_ : 0;
  }

 private:
  const Ring* ring_;
  std::uint64_t next_;
};

}  // namespace cwts::concurrent
