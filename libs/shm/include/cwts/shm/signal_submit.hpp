// The strategy's side of the signal intake protocol (docs/shm_layout.md "Stopping"): a signal is
// pushed only while the engine is live, and a pushed signal is either read by the engine (which
// sends exactly one terminal report for it) or reported to the caller as not executed.
//
// The engine's side (ExecEngine::shutdown): it publishes kStopping on the signals header, keeps
// reading the rings (every signal found gets a SHUTDOWN report) while it settles its orders,
// then stores kClosed, issues a seq_cst fence and reads every ring a last time. Here: the push's
// commit, a seq_cst fence, then the state. If this load does not see kClosed, the two fences
// order the engine's last read after the commit ([atomics.fences]), so the engine reads the
// signal; if it sees kClosed, the engine may have read it or not, but never executes it.
#pragma once

#include <atomic>
#include <cstdint>

#include "cwts/concurrent/record_ring.hpp"
#include "cwts/concurrent/word_copy.hpp"
#include "cwts/shm_layout/signal_region.hpp"

namespace cwts::shm {

enum class SubmitStatus : std::uint8_t {
  kOk,           // in the ring: the engine reads it and sends exactly one terminal report
  kRingFull,     // not pushed: the ring is full (the engine is not consuming)
  kNotLive,      // not pushed: the engine is stopping or has stopped
  kNotExecuted,  // pushed as the engine closed its intake: never executed (a SHUTDOWN report
                 // may still come for it); the caller treats it as refused
};

template <class Producer>
[[nodiscard]] SubmitStatus submit_signal(const layout::SignalsRegion& region, Producer& producer,
                                         const layout::Signal& s) noexcept {
  const std::uint64_t& state = region.header.state;
  if (concurrent::load_word(state, std::memory_order_acquire) !=
      static_cast<std::uint64_t>(layout::RegionState::kLive)) {
    return SubmitStatus::kNotLive;
  }
  if (producer.try_push(s) != concurrent::PushStatus::kOk) return SubmitStatus::kRingFull;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (concurrent::load_word(state, std::memory_order_relaxed) ==
      static_cast<std::uint64_t>(layout::RegionState::kClosed)) {
    return SubmitStatus::kNotExecuted;
  }
  return SubmitStatus::kOk;
}

}  // namespace cwts::shm
