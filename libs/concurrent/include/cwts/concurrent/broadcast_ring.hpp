// BroadcastRing<T, N>: one writer, any number of readers, overwrite-oldest, laps detected; and the
// same ring with a capacity chosen at run time (BroadcastHead + BroadcastSpan / BroadcastCursor).
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

// One record's slot: its seqlock word, then the record's words, on its own cache lines, so a
// reader copying one record never shares a line with the writer's next.
template <typename T>
struct alignas(64) BroadcastSlot {
  static_assert(std::is_trivially_copyable_v<T>, "ring records must be trivially copyable");
  static_assert(sizeof(T) % 8 == 0, "ring records must be whole words");
  static constexpr std::size_t kWords = sizeof(T) / 8;

  std::uint64_t seq;
  std::uint64_t words[kWords];
};

namespace detail {
// The writer's side of the protocol above, over `mask + 1` slots (a power of two). Not
// thread-safe: one writer. Returns the record's sequence. Never blocks, never fails.
template <typename T>
std::uint64_t broadcast_publish(std::uint64_t& head, BroadcastSlot<T>* slots, std::uint64_t mask,
                                const T& value) noexcept {
  // relaxed: only the writer modifies head.
  const std::uint64_t s = load_word(head, std::memory_order_relaxed) + 1;
  BroadcastSlot<T>& slot = slots[(s - 1) & mask];
  store_word(slot.seq, 2 * s - 1, std::memory_order_relaxed);
  // Orders the odd marker before the payload stores (the seqlock writer fence).
  std::atomic_thread_fence(std::memory_order_release);
  store_words(slot.words, value);
  store_word(slot.seq, 2 * s, std::memory_order_release);
  // release: a reader that sees head == s also sees record s complete.
  store_word(head, s, std::memory_order_release);
  return s;
}
}  // namespace detail

template <typename T, std::size_t N>
struct BroadcastRing {
  static_assert(N > 0 && (N & (N - 1)) == 0, "capacity must be a power of two");

  static constexpr std::size_t kCapacity = N;
  using Slot = BroadcastSlot<T>;

  // --- written by the writer only ---
  alignas(64) std::uint64_t head;  // sequence of the last complete record, 0 = none yet
  std::uint64_t reserved_[7];
  Slot slots[N];

  // Writer only. Not thread-safe. Returns the record's sequence. Never blocks, never fails.
  std::uint64_t publish(const T& value) noexcept {
    return detail::broadcast_publish(head, slots, N - 1, value);
  }

  // Any reader: the sequence of the newest complete record.
  [[nodiscard]] std::uint64_t last_sequence() const noexcept {
    return load_word(head, std::memory_order_acquire);
  }
};

// The head line of a ring whose capacity is chosen at run time; its slots are laid out by its
// owner (a market region's candle series: ADR 0039).
struct alignas(64) BroadcastHead {
  std::uint64_t head;  // sequence of the last complete record, 0 = none yet (writer only)
  std::uint64_t reserved_[7];

  [[nodiscard]] std::uint64_t last_sequence() const noexcept {
    return load_word(head, std::memory_order_acquire);
  }
};

// The writer's view of such a ring: its head, its slots and their count (a power of two, which
// the owner checked). Same protocol, same words as BroadcastRing.
template <typename T>
struct BroadcastSpan {
  BroadcastHead* head;
  BroadcastSlot<T>* slots;
  std::size_t capacity;

  std::uint64_t publish(const T& value) noexcept {
    return detail::broadcast_publish(head->head, slots, capacity - 1, value);
  }
  [[nodiscard]] std::uint64_t last_sequence() const noexcept { return head->last_sequence(); }
};

enum class ReadStatus : std::uint8_t {
  kOk,      // a record was copied out
  kEmpty,   // nothing new yet (or the next record is mid-write): retry later
  kLapped,  // the writer overwrote records this reader had not read: call resync()
};

// Process-local read cursor over a broadcast ring of `capacity` slots (a power of two). One per
// reading thread. Not thread-safe.
template <typename T>
class BroadcastCursor {
 public:
  BroadcastCursor(const std::uint64_t& head, const BroadcastSlot<T>* slots, std::size_t capacity,
                  std::uint64_t next_sequence) noexcept
      : head_(&head), slots_(slots), mask_(capacity - 1), next_(next_sequence) {}

  // Copies the next record into `out` and reports its sequence in `seq_out`. Wait-free.
  [[nodiscard]] ReadStatus try_read(T& out, std::uint64_t* seq_out = nullptr) noexcept {
    const std::uint64_t s = next_;
    const auto& slot = slots_[(s - 1) & mask_];
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
    const std::uint64_t head = last_sequence();
    const std::uint64_t skipped = head + 1 > next_ ? head + 1 - next_ : 0;
    next_ = head + 1;
    return skipped;
  }

  [[nodiscard]] std::uint64_t next_sequence() const noexcept { return next_; }

  // Records published but not yet read (may exceed the capacity when lapped).
  [[nodiscard]] std::uint64_t backlog() const noexcept {
    const std::uint64_t head = last_sequence();
    return head + 1 > next_ ? head + 1 - next_ : 0;
  }

  // The sequence of the newest complete record.
  [[nodiscard]] std::uint64_t last_sequence() const noexcept {
    return load_word(*head_, std::memory_order_acquire);
  }

 private:
  const std::uint64_t* head_;
  const BroadcastSlot<T>* slots_;
  std::uint64_t mask_;
  std::uint64_t next_;
};

// A cursor over a BroadcastRing<T, N>.
template <typename T, std::size_t N>
class BroadcastReader : public BroadcastCursor<T> {
 public:
  using Ring = BroadcastRing<T, N>;

  // Starts after the newest complete record: the reader sees only what is published from now on.
  explicit BroadcastReader(const Ring& ring) noexcept
      : BroadcastReader(ring, ring.last_sequence() + 1) {}

  BroadcastReader(const Ring& ring, std::uint64_t next_sequence) noexcept
      : BroadcastCursor<T>(ring.head, ring.slots, N, next_sequence) {}
};

}  // namespace cwts::concurrent
