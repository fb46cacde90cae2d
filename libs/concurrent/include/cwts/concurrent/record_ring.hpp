// RecordRing<T, N>: a single-producer, single-consumer ring whose two cursors live in different
// shared-memory regions (signals in, execution reports out), with commit words that make a record
// torn by a killed producer invisible.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "cwts/concurrent/word_copy.hpp"

namespace cwts::concurrent {

// Ordering protocol. Record i (0-based, 64-bit, never wraps) lives in records[i % N]; its commit
// word holds i + 1 once complete. The consumer's cursor `head` sits in the consumer's own region
// because each side maps the other's region read-only.
//
//   producer (push i)                            consumer (pop i)
//   h = cursor.head.load(acquire)                c = records[i%N].commit.load(acquire)
//   i - h >= N -> kFull (nothing written)        c != i + 1 -> kEmpty
//   fence(release)                               load words (relaxed)
//   store words (relaxed)                        cursor.head.store(i + 1, release)
//   records[i%N].commit.store(i+1, release)
//   tail.store(i + 1, release)
//
//   observer (observe_record i, never writes)
//   c = records[i%N].commit.load(acquire); c != i + 1 -> false
//   load words (relaxed); fence(acquire)
//   t = tail.load(relaxed); t >= i + N -> false (the slot may hold record i + N by now)
//
// The producer's acquire load of head pairs with the consumer's release store, so slot i%N is
// only rewritten after the consumer finished copying record i - N. The consumer's acquire load of
// the commit word pairs with the producer's release store, so the words it copies are complete.
// A producer killed before its commit store leaves the old commit value (i + 1 - N, or 0), which
// never equals i + 1: the torn record is never consumed. A full ring is reported, never
// overwritten (back-pressure).
//
// `tail` is a hint for observers and for a producer taking over a slot after its previous owner
// died; it may lag the true tail by one record (a producer killed between the two stores), so
// recover_tail() walks the commit words forward from it, and a new producer publishes the
// recovered value before its first push (the observer's proof below needs tail >= j to be stored
// before any word of record j is).
//
// The release fence at the top of a push is for observers only (the consumer needs no more than
// the commit word): it orders the previous push's `tail.store(j)` before record j's word stores,
// which otherwise may become visible first (a release store orders only what precedes it, and
// ARMv8/POWER do reorder). An observer copying record i = j - N that reads any word of record j
// therefore, by fence-fence synchronisation with its acquire fence, also reads tail >= j = i + N
// and rejects its copy. Without the fence it could read a new word and the old tail and accept a
// torn record. It is free on x86 (TSO keeps stores in order; the fence only stops the compiler).
//
// Rejected: an acquire-release RMW or a second "writing" marker per record (a seqlock per slot,
// like BroadcastRing): more stores on the push path for a reader that is only an observer.
template <typename T, std::size_t N>
struct RecordRing {
  static_assert(std::is_trivially_copyable_v<T>, "ring records must be trivially copyable");
  static_assert(sizeof(T) % 8 == 0, "ring records must be whole words");
  static_assert(N > 0 && (N & (N - 1)) == 0, "capacity must be a power of two");

  static constexpr std::size_t kCapacity = N;
  static constexpr std::size_t kWords = sizeof(T) / 8;

  struct alignas(64) Record {
    std::uint64_t commit;
    std::uint64_t words[kWords];
  };

  // --- written by the producer only ---
  alignas(64) std::uint64_t tail;  // records pushed (hint; see above)
  std::uint64_t reserved_[7];
  Record records[N];

  [[nodiscard]] std::uint64_t published() const noexcept {
    return load_word(tail, std::memory_order_acquire);
  }
};

// Reads record `i` of a ring without consuming it (an observer such as the control plane; the
// ring keeps its single consumer). True with `out` filled when record i was committed and still
// intact; false when it is not committed yet or the producer may have overwritten it (the
// observer fell a lap behind). The producer writes record i + N into the same slot only after it
// stored tail = i + N and then a release fence (try_push), so a copy that saw any word of record
// i + N also sees, after the acquire fence, tail >= i + N: a tail still below that proves the copy
// was not torn.
template <typename T, std::size_t N>
[[nodiscard]] bool observe_record(const RecordRing<T, N>& ring, std::uint64_t i, T& out) noexcept {
  const auto& rec = ring.records[i & (N - 1)];
  if (load_word(rec.commit, std::memory_order_acquire) != i + 1) return false;
  load_words(rec.words, out);
  std::atomic_thread_fence(std::memory_order_acquire);  // the copy happens before the check below
  return load_word(ring.tail, std::memory_order_relaxed) < i + N;
}

// The consumer's cursor; lives in the consumer's region, one cache line of its own.
struct alignas(64) RingCursor {
  std::uint64_t head;  // records consumed
  std::uint64_t reserved_[7];

  [[nodiscard]] std::uint64_t consumed() const noexcept {
    return load_word(head, std::memory_order_acquire);
  }
};
static_assert(sizeof(RingCursor) == 64);

enum class PushStatus : std::uint8_t {
  kOk,
  kFull,  // the consumer has not caught up: nothing was written; retry later or shed load
};

enum class PopStatus : std::uint8_t {
  kOk,
  kEmpty,  // no committed record at the cursor
};

// Producer handle. One per ring, in one thread. Not thread-safe.
template <typename T, std::size_t N>
class RecordProducer {
 public:
  using Ring = RecordRing<T, N>;

  // Resumes at the ring's true tail (recover_tail), so a producer that takes over a slot from a
  // dead one neither loses committed records nor overwrites unconsumed ones.
  RecordProducer(Ring& ring, const RingCursor& consumer) noexcept
      : ring_(&ring),
        consumer_(&consumer),
        tail_(recover_tail(ring)),
        head_cache_(consumer.consumed()) {
    // A predecessor killed between its commit and tail stores left tail one record short. Publish
    // the true tail before the first push overwrites anything (see the observer's proof above).
    if (load_word(ring.tail, std::memory_order_relaxed) != tail_) {
      store_word(ring.tail, tail_, std::memory_order_release);
    }
  }

  [[nodiscard]] PushStatus try_push(const T& value) noexcept {
    if (tail_ - head_cache_ >= N) {
      head_cache_ = consumer_->consumed();
      if (tail_ - head_cache_ >= N) return PushStatus::kFull;
    }
    auto& rec = ring_->records[tail_ & (N - 1)];
    // release fence: tail_ (stored by the previous push, or by the constructor) must be visible
    // before any word of this record to an observer that reads the word and then, after its
    // acquire fence, the tail: the slot still holds record tail_ - N, which observe_record may be
    // copying. The release store of tail does not order these later stores; this fence does.
    std::atomic_thread_fence(std::memory_order_release);
    store_words(rec.words, value);
    store_word(rec.commit, tail_ + 1, std::memory_order_release);
    ++tail_;
    store_word(ring_->tail, tail_, std::memory_order_release);
    return PushStatus::kOk;
  }

  // Index the next pushed record will get.
  [[nodiscard]] std::uint64_t next_index() const noexcept { return tail_; }

  // Free records as of the last look at the consumer's cursor (refreshes it).
  [[nodiscard]] std::uint64_t free_space() noexcept {
    head_cache_ = consumer_->consumed();
    return N - (tail_ - head_cache_);
  }

  // Walks commit words forward from the published tail to the true end of the committed records.
  [[nodiscard]] static std::uint64_t recover_tail(const Ring& ring) noexcept {
    std::uint64_t t = ring.published();
    for (std::size_t i = 0; i < N; ++i) {
      if (load_word(ring.records[t & (N - 1)].commit, std::memory_order_acquire) != t + 1) break;
      ++t;
    }
    return t;
  }

 private:
  Ring* ring_;
  const RingCursor* consumer_;
  std::uint64_t tail_;
  std::uint64_t head_cache_;
};

// Consumer handle. One per ring, in one thread. Not thread-safe.
template <typename T, std::size_t N>
class RecordConsumer {
 public:
  using Ring = RecordRing<T, N>;

  RecordConsumer(const Ring& ring, RingCursor& cursor) noexcept
      : ring_(&ring), cursor_(&cursor), head_(cursor.consumed()) {}

  [[nodiscard]] PopStatus try_pop(T& out) noexcept {
    const auto& rec = ring_->records[head_ & (N - 1)];
    if (load_word(rec.commit, std::memory_order_acquire) != head_ + 1) return PopStatus::kEmpty;
    load_words(rec.words, out);
    ++head_;
    // release: the producer may reuse the slot only after these loads.
    store_word(cursor_->head, head_, std::memory_order_release);
    return PopStatus::kOk;
  }

  // Index of the next record to consume.
  [[nodiscard]] std::uint64_t next_index() const noexcept { return head_; }

  // Committed records waiting (from the producer's tail hint; may lag by one).
  [[nodiscard]] std::uint64_t backlog() const noexcept {
    const std::uint64_t t = ring_->published();
    return t > head_ ? t - head_ : 0;
  }

 private:
  const Ring* ring_;
  RingCursor* cursor_;
  std::uint64_t head_;
};

}  // namespace cwts::concurrent
