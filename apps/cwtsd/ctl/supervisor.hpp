// Supervisor: what the ctl thread decides on each tick, as plain logic — readiness, the systemd
// watchdog, alerts and the status line — so it can be tested without threads, sockets or systemd.
// The ctl thread feeds it the engine's snapshot and carries out the actions it returns.
// Not thread-safe (ctl thread only).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cwts/shm_layout/types.hpp"
#include "engine.hpp"

namespace cwts::daemon {

// One alert for the control plane's "alerts" topic.
struct Alert {
  std::string what;    // "ready", "trading_state", "threads_stalled", "threads_progressing",
                       // "foreign_order", "journal_full", "position_mismatch"
  std::string detail;  // human-readable
};

// What the ctl thread must do after a tick.
struct TickActions {
  std::vector<Alert> alerts;
  bool became_ready = false;            // notify READY=1 (once) and log it
  std::optional<bool> progress_change;  // hot threads started (true) or stopped (false) progressing
  bool watchdog = false;                // send WATCHDOG=1
  std::optional<std::string> status;    // a new STATUS= text (only when it changed)
  // EXTEND_TIMEOUT_USEC: the start is still making progress; systemd may wait this much longer.
  std::optional<std::int64_t> extend_start_us;
};

class Supervisor {
 public:
  // `watchdog_period_ns`: how often WATCHDOG=1 is due (half systemd's WatchdogSec); 0 = never.
  explicit Supervisor(std::int64_t watchdog_period_ns) : watchdog_period_ns_(watchdog_period_ns) {}

  // `progressing`: both hot threads advanced within the progress timeout.
  // Rules: ready once, when every book is valid and the venue is ready (never un-ready: readiness
  // for systemd is a start-up event; /readyz reports the live state). The watchdog is fed only
  // while ready and progressing, at most once per period, so a stalled thread lets systemd restart
  // the service. Trading-state and progress changes raise one alert each. The status line is
  // recomputed at most once a second and reported only when its text changed. Before ready, while
  // books keep becoming valid (snapshots paced by the venue's weight limit: minutes with hundreds
  // of symbols), systemd's start timeout is extended every kExtendEveryNs by kStartStallNs; once
  // nothing has progressed for kStartStallNs the extensions stop, and TimeoutStartSec (or the
  // last extension) ends a start that is stuck.
  static constexpr std::int64_t kStartStallNs = 60'000'000'000;
  static constexpr std::int64_t kExtendEveryNs = 10'000'000'000;
  [[nodiscard]] TickActions on_tick(std::int64_t now_ns, const EngineSnapshot& snap,
                                    bool progressing);

  [[nodiscard]] bool ready() const noexcept { return ready_; }

 private:
  std::int64_t watchdog_period_ns_;
  bool ready_ = false;
  bool progress_reported_ = true;
  std::uint64_t foreign_seen_ = 0;
  std::uint64_t journal_failures_seen_ = 0;
  std::int64_t ban_seen_ = 0;  // the venue ban's end last alerted
  std::uint64_t mismatches_seen_ = 0;
  layout::TradingState last_state_ = layout::TradingState::kActive;
  std::int64_t last_watchdog_ns_ = 0;
  std::int64_t last_status_ns_ = 0;
  std::int64_t start_progress_ns_ = -1;  // when the start last progressed (-1: no tick yet)
  std::int64_t last_extend_ns_ = 0;
  std::size_t books_seen_ = 0;
  bool venue_seen_ = false;
  std::string last_status_text_;
};

// "books 4/4 valid, 120 frames, signals 3 accepted / 0 rejected, 3 orders, 0 fills, active".
[[nodiscard]] std::string status_line(const EngineSnapshot& s);

}  // namespace cwts::daemon
