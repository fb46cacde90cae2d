// ExecEngine's graceful stop: intake closed, every signal still in the rings refused, open
// orders cancelled or left (shutdown.on_stop), their final states awaited.
#include <algorithm>
#include <chrono>
#include <thread>

#include "cwts/core/clock.hpp"
#include "exec/exec_engine.hpp"
#include "exec/exec_state.hpp"

namespace cwts::daemon {

using core::realtime_ns;
using layout::RejectReason;
using layout::ReportKind;

// Every signal in every ring, read and refused with SHUTDOWN (stopping_); reports held back are
// flushed as room allows. A ring's worth per slot at most: that empties it of everything pushed
// before the call, and a producer that keeps pushing cannot hold the shutdown.
void ExecEngine::refuse_all_signals(std::int64_t now) {
  if (!signals_bound_) return;
  constexpr std::uint32_t kRounds = layout::kSignalRingCapacity / kMaxSignalsPerSlotPerLoop + 1;
  for (std::uint32_t s = 0; s < slots_.size(); ++s) {
    bool more = true;
    for (std::uint32_t k = 0; k < kRounds && more; ++k) {
      more = false;
      poll_slot(s, now, more);
    }
    flush_overflow(s);
  }
}

void ExecEngine::shutdown(std::int64_t now) {
  stopping_ = true;
  log_.push(HotRecord{now, spdlog::level::info, "exec", "shutdown_started"});
  // 1. Intake stops: strategies' submits are refused from now on (the signals header says
  //    kStopping); signals already in the rings, and any pushed until the intake is closed
  //    below, are read and refused with SHUTDOWN (cwts/shm/signal_submit.hpp).
  if (publish_intake_) publish_intake_(layout::RegionState::kStopping);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  refuse_all_signals(now);
  // 2. Open orders: cancelled (or left), then wait for their final states.
  if (cfg_.shutdown.on_stop == StopAction::kCancel) {
    for (auto& o : orders_) {
      if (o.in_use && o.cancel_seq == 0) venue_->cancel(o.cid_view(), symbol_names_[o.symbol]);
    }
  }
  const std::int64_t deadline =
      now + static_cast<std::int64_t>(cfg_.shutdown.timeout_ms) * 1'000'000;
  while (true) {
    const std::int64_t t = realtime_ns();
    const bool open =
        std::any_of(orders_.begin(), orders_.end(), [](const Order& o) { return o.in_use; });
    if (!open || t >= deadline) break;
    if (cfg_.shutdown.on_stop == StopAction::kLeave && venue_->busy() == 0) break;
    now_ns_ = t;
    heartbeat_.store(t, std::memory_order_relaxed);
    ioc_.run_for(std::chrono::milliseconds(5));
    if (ioc_.stopped()) ioc_.restart();
    venue_->tick(t);
    refuse_all_signals(t);
  }
  // 3. Whatever is still open gets its final report from this engine: the order may still rest
  //    on the venue (on_stop = leave, or the cancel did not finish) under its client order id.
  const std::int64_t end = realtime_ns();
  for (auto& o : orders_) {
    if (!o.in_use) continue;
    o.left_open = true;  // journaled as such: the next run adopts or cancels it
    terminal(o, ReportKind::kExpired, RejectReason::kShutdown, 0, end);
  }
  if (journal_) journal_->sync_all();
  // 4. The intake closes for good, then the rings are read a last time: a submit that did not
  //    see kClosed after its push is read here (the fences pair with submit_signal's).
  if (publish_intake_) publish_intake_(layout::RegionState::kClosed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  refuse_all_signals(realtime_ns());
  // 5. Reports the strategies have not made room for: a last chance, bounded.
  const std::int64_t flush_deadline = end + 1'000'000'000LL;
  while (realtime_ns() < flush_deadline) {
    bool pending = false;
    for (std::uint32_t s = 0; s < slots_.size(); ++s) {
      flush_overflow(s);
      pending = pending || !slots_[s]->overflow.empty();
    }
    if (!pending) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  log_order_stages(realtime_ns());
  log_.push(HotRecord{realtime_ns(), spdlog::level::info, "exec", "shutdown_done"}
                .u("reports_overflowed", counters_.reports_overflowed)
                .u("orphan_events", counters_.orphan_events)
                .u("reports_lost", counters_.reports_lost));
}

}  // namespace cwts::daemon
