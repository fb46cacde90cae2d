// Self-checking payloads and the verifying reader loops shared by cwts-shm-stress and the thread
// stress tests, so both exercise exactly the same checks.
#pragma once

#include <sched.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "cwts/concurrent/broadcast_ring.hpp"
#include "cwts/concurrent/record_ring.hpp"
#include "cwts/concurrent/seqlock.hpp"
#include "cwts/concurrent/word_copy.hpp"

namespace cwts::stress {

// ---------------------------------------------------------------------------------------------
// Payloads. Every word of record (seq, gen) is derived from seq and gen:
//   word 0 = seq, word 1 = gen, words 2..n-2 = (seq * kSeqMix + i) ^ (gen * kGenMix),
//   word n-1 = a checksum of words 0..n-2.
// A copy mixing words of two records, a half-overwritten record, or a slot never written (all
// zero) therefore fails check_payload. gen tells successive writers of one ring apart, so a
// record left behind by a killed writer is recognisable even when its successor reuses its seq.

inline constexpr std::uint64_t kSeqMix = 0x9E3779B97F4A7C15ULL;  // odd: seq -> word is a bijection
inline constexpr std::uint64_t kGenMix = 0xC2B2AE3D27D4EB4FULL;

template <typename T>
inline constexpr std::size_t kWordsOf = sizeof(T) / sizeof(std::uint64_t);

constexpr std::uint64_t payload_checksum(const std::uint64_t* w, std::size_t n) noexcept {
  std::uint64_t h = 0xCBF29CE484222325ULL;  // nonzero start: an all-zero record never checks out
  for (std::size_t i = 0; i < n; ++i) {
    h = (h ^ w[i]) * 0x100000001B3ULL;
    h ^= h >> 31;
  }
  return h;
}

template <std::size_t N>
constexpr std::array<std::uint64_t, N> payload_words(std::uint64_t seq,
                                                     std::uint64_t gen) noexcept {
  static_assert(N >= 4, "payloads need room for seq, gen, a derived word and the checksum");
  std::array<std::uint64_t, N> w{};
  w[0] = seq;
  w[1] = gen;
  for (std::size_t i = 2; i + 1 < N; ++i) w[i] = (seq * kSeqMix + i) ^ (gen * kGenMix);
  w[N - 1] = payload_checksum(w.data(), N - 1);
  return w;
}

template <typename T>
T make_payload(std::uint64_t seq, std::uint64_t gen) noexcept {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % 8 == 0);
  const auto w = payload_words<kWordsOf<T>>(seq, gen);
  T v{};
  std::memcpy(&v, w.data(), sizeof v);
  return v;
}

struct PayloadId {
  std::uint64_t seq = 0;
  std::uint64_t gen = 0;
};

// True if every word of `v` is the one record (seq, gen) named by its first two words.
template <typename T>
bool check_payload(const T& v, PayloadId& id) noexcept {
  std::array<std::uint64_t, kWordsOf<T>> w{};
  std::memcpy(w.data(), &v, sizeof v);
  id = {w[0], w[1]};
  return w == payload_words<kWordsOf<T>>(w[0], w[1]);
}

template <typename T>
bool all_zero(const T& v) noexcept {
  std::array<std::uint64_t, kWordsOf<T>> w{};
  std::memcpy(w.data(), &v, sizeof v);
  for (auto x : w) {
    if (x != 0) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Reader loops.

// What a reader saw. Printed as one JSON line by the tool; asserted on by the tests.
struct ReadStats {
  std::uint64_t ok = 0;           // copies the primitive accepted that passed check_payload
  std::uint64_t torn = 0;         // copies the primitive accepted that failed it: must stay 0
  std::uint64_t lapped = 0;       // event ring: kLapped; seqlock: jumps over unseen writes
  std::uint64_t skipped = 0;      // event ring: records skipped by resync()
  std::uint64_t empty_polls = 0;  // nothing new: kEmpty, empty record ring, unchanged seqlock
  std::uint64_t retries = 0;      // seqlock: try_load / load_bounded refused the copy
  std::uint64_t last_seq = 0;     // seq of the last verified copy
  std::uint64_t first_seq = 0;    // event ring: where the reader started
  std::uint64_t next_seq = 0;     // event ring: reader's next sequence; record ring: next index
  std::uint64_t monotonic_violations = 0;  // out-of-order, repeated or misplaced records
  std::uint64_t writer_gone = 0;           // 1 once the writer was seen dead
  std::uint64_t post_gone_ok = 0;          // verified copies taken after that
  std::uint64_t post_gone_fail = 0;        // refused copies (retry / kEmpty) after that
  std::uint64_t post_gone_lapped = 0;      // kLapped after that
  std::uint64_t timed_out = 0;
  std::vector<std::uint64_t> per_gen;  // record ring: records consumed per writer generation

  [[nodiscard]] bool clean() const noexcept { return torn == 0 && monotonic_violations == 0; }
};

inline std::string to_json(const ReadStats& s) {
  std::string out = "{";
  auto field = [&out](const char* key, std::uint64_t v) {
    if (out.size() > 1) out += ", ";
    out += '"';
    out += key;
    out += "\":";
    out += std::to_string(v);
  };
  field("ok", s.ok);
  field("torn", s.torn);
  field("lapped", s.lapped);
  field("skipped", s.skipped);
  field("empty_polls", s.empty_polls);
  field("retries", s.retries);
  field("last_seq", s.last_seq);
  field("first_seq", s.first_seq);
  field("next_seq", s.next_seq);
  field("monotonic_violations", s.monotonic_violations);
  field("writer_gone", s.writer_gone);
  field("post_gone_ok", s.post_gone_ok);
  field("post_gone_fail", s.post_gone_fail);
  field("post_gone_lapped", s.post_gone_lapped);
  field("timed_out", s.timed_out);
  out += ", \"per_gen\":[";
  for (std::size_t i = 0; i < s.per_gen.size(); ++i) {
    if (i != 0) out += ',';
    out += std::to_string(s.per_gen[i]);
  }
  out += "]}";
  return out;
}

// When a reader loop stops.
struct ReadControl {
  std::uint64_t expect = 0;  // stop once seq `expect` was seen (record ring: consumed); 0 = never
  std::chrono::steady_clock::time_point deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::uint64_t slow_every = 0;  // sleep `slow_sleep` after every that many verified copies
  std::chrono::microseconds slow_sleep{0};
  std::function<bool()> writer_alive;    // polled every few ms; empty: assumed alive
  std::function<bool()> stop_requested;  // polled every few ms; the record consumer then drains
  std::chrono::milliseconds linger{50};  // after the writer died: keep reading this long
};

// Deadline, liveness and stop checks, amortised over loop iterations (/proc reads are slow).
class Supervisor {
 public:
  explicit Supervisor(const ReadControl& c) noexcept : c_(c) {}

  // False when the loop should end (deadline, stop request, or linger after writer death over).
  bool keep_going(ReadStats& st) {
    if ((++iter_ & 255U) != 0) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now >= c_.deadline) {
      st.timed_out = 1;
      return false;
    }
    if (now >= next_check_) {
      next_check_ = now + std::chrono::milliseconds(2);
      if (!gone_ && c_.writer_alive && !c_.writer_alive()) {
        gone_ = true;
        gone_at_ = now;
        st.writer_gone = 1;
      }
      if (c_.stop_requested && c_.stop_requested()) {
        stopped_ = true;
        return false;
      }
    }
    return !(gone_ && now - gone_at_ >= c_.linger);
  }

  // True once the writer was seen dead: every result counted after this comes from memory the
  // writer can no longer change.
  [[nodiscard]] bool writer_gone() const noexcept { return gone_; }
  [[nodiscard]] bool stop_requested() const noexcept { return stopped_; }

  void maybe_slow(std::uint64_t ok) const {
    if (c_.slow_every != 0 && ok % c_.slow_every == 0) std::this_thread::sleep_for(c_.slow_sleep);
  }

 private:
  const ReadControl& c_;
  std::uint64_t iter_ = 0;
  std::chrono::steady_clock::time_point next_check_{};
  std::chrono::steady_clock::time_point gone_at_{};
  bool gone_ = false;
  bool stopped_ = false;
};

// Spinning readers share two cores with the writer in the tests: after 256 consecutive idle polls
// yield, so a preempted writer gets its core back instead of being starved by a polling loop.
// Callers reset `idle` on progress: a reader that keeps up must not yield (and be lapped).
inline void idle_backoff(std::uint64_t& idle) noexcept {
  if (++idle % 256 == 0) {
    sched_yield();
  } else {
    concurrent::cpu_relax();
  }
}

// Seqlock reader: the writer stores seq 1, 2, ... N. Mostly try_load (the one-attempt path), every
// 64th iteration load_bounded (the path for readers that must not hang on a dead writer).
template <typename T>
ReadStats read_seqlock(const concurrent::Seqlock<T>& lock, const ReadControl& c) {
  ReadStats st;
  Supervisor sup(c);
  T v{};
  bool have = false;
  std::uint64_t iter = 0;
  while (sup.keep_going(st)) {
    const bool got = (++iter % 64 == 0) ? lock.load_bounded(v, 16) : lock.try_load(v);
    const bool after = sup.writer_gone();
    if (!got) {
      ++st.retries;
      if (after) ++st.post_gone_fail;
      continue;
    }
    if (after) ++st.post_gone_ok;
    PayloadId id;
    if (!check_payload(v, id)) {
      // All zero before the first store is the legitimate initial state, not a torn copy.
      if (!have && all_zero(v)) {
        ++st.empty_polls;
      } else {
        ++st.torn;
      }
      continue;
    }
    if (have && id.seq < st.last_seq) {
      ++st.monotonic_violations;
    } else if (have && id.seq == st.last_seq) {
      ++st.empty_polls;
    } else if (id.seq > st.last_seq + 1) {
      ++st.lapped;
    }
    have = true;
    st.last_seq = id.seq;
    ++st.ok;
    if (c.expect != 0 && st.last_seq >= c.expect) break;
    sup.maybe_slow(st.ok);
  }
  return st;
}

// Broadcast ring reader: record s carries payload seq s. Starts at `first` (0: after the newest
// record, the BroadcastReader default). On kLapped it resyncs and counts what it skipped.
template <typename T, std::size_t N>
ReadStats read_events(const concurrent::BroadcastRing<T, N>& ring, const ReadControl& c,
                      std::uint64_t first = 0) {
  using concurrent::ReadStatus;
  ReadStats st;
  Supervisor sup(c);
  concurrent::BroadcastReader<T, N> reader = first == 0
                                                 ? concurrent::BroadcastReader<T, N>(ring)
                                                 : concurrent::BroadcastReader<T, N>(ring, first);
  st.first_seq = reader.next_sequence();
  T v{};
  std::uint64_t idle = 0;
  while (sup.keep_going(st)) {
    if (c.expect != 0 && reader.next_sequence() > c.expect) break;
    std::uint64_t s = 0;
    const ReadStatus rs = reader.try_read(v, &s);
    const bool after = sup.writer_gone();
    if (rs == ReadStatus::kEmpty) {
      ++st.empty_polls;
      if (after) ++st.post_gone_fail;
      idle_backoff(idle);
      continue;
    }
    if (rs == ReadStatus::kLapped) {
      ++st.lapped;
      idle = 0;
      if (after) ++st.post_gone_lapped;
      st.skipped += reader.resync();
      continue;
    }
    idle = 0;
    if (after) ++st.post_gone_ok;
    PayloadId id;
    // A record whose payload names another sequence is as wrong as a torn one: the ring handed
    // out the contents of a different lap.
    if (!check_payload(v, id) || id.seq != s) {
      ++st.torn;
      continue;
    }
    if (st.ok != 0 && s <= st.last_seq) ++st.monotonic_violations;
    st.last_seq = s;
    ++st.ok;
    sup.maybe_slow(st.ok);
  }
  st.next_seq = reader.next_sequence();
  return st;
}

// Record ring consumer: record i carries payload seq i; generations never go back. Stops once
// `expect` records were consumed, or on a stop request after draining what is committed.
template <typename T, std::size_t N>
ReadStats consume_records(const concurrent::RecordRing<T, N>& ring, concurrent::RingCursor& cursor,
                          const ReadControl& c) {
  using concurrent::PopStatus;
  ReadStats st;
  Supervisor sup(c);
  concurrent::RecordConsumer<T, N> consumer(ring, cursor);
  T v{};
  std::uint64_t last_gen = 0;
  std::uint64_t idle = 0;
  auto handle = [&](std::uint64_t index) {
    PayloadId id;
    if (!check_payload(v, id) || id.gen >= 4096) {
      ++st.torn;
      return;
    }
    // Exactly once, in order: the record at index i must be record i, and a writer that took
    // over the slot never precedes the one it replaced.
    if (id.seq != index || id.gen < last_gen) ++st.monotonic_violations;
    last_gen = id.gen;
    if (st.per_gen.size() <= id.gen) st.per_gen.resize(id.gen + 1);
    ++st.per_gen[id.gen];
    st.last_seq = id.seq;
    ++st.ok;
  };
  for (;;) {
    if (c.expect != 0 && consumer.next_index() >= c.expect) break;
    if (!sup.keep_going(st)) {
      if (sup.stop_requested()) {
        for (std::uint64_t index = consumer.next_index(); consumer.try_pop(v) == PopStatus::kOk;
             index = consumer.next_index()) {
          handle(index);
        }
      }
      break;
    }
    const std::uint64_t index = consumer.next_index();
    if (consumer.try_pop(v) != PopStatus::kOk) {
      ++st.empty_polls;
      idle_backoff(idle);
      continue;
    }
    idle = 0;
    handle(index);
  }
  st.next_seq = consumer.next_index();
  return st;
}

// Observer of a record ring's two cursors (it reads nothing else: record payloads carry no
// in-progress marker, so only the consumer may copy them). Checks that both cursors only grow and
// that the consumer is never more than one record past the producer's tail hint (the producer
// stores the hint right after the commit word the consumer acts on).
template <typename T, std::size_t N>
ReadStats watch_cursors(const concurrent::RecordRing<T, N>& ring,
                        const concurrent::RingCursor& cursor, const ReadControl& c) {
  ReadStats st;
  Supervisor sup(c);
  std::uint64_t last_h = 0;
  std::uint64_t last_t = 0;
  std::uint64_t idle = 0;
  while (sup.keep_going(st)) {
    // Head first: the tail read afterwards is then at least head - 1.
    const std::uint64_t h = cursor.consumed();
    const std::uint64_t t = ring.published();
    if (h < last_h || t < last_t || h > t + 1) ++st.monotonic_violations;
    if (h == last_h && t == last_t) {
      ++st.empty_polls;
      idle_backoff(idle);
    } else {
      ++st.ok;
      idle = 0;
    }
    last_h = h;
    last_t = t;
    st.last_seq = h;
    if (c.expect != 0 && h >= c.expect) break;
  }
  st.next_seq = last_t;
  return st;
}

}  // namespace cwts::stress
