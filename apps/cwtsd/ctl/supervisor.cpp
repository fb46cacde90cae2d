#include "ctl/supervisor.hpp"

#include <algorithm>

#include "cwts/engine/validator.hpp"

namespace cwts::daemon {

std::string status_line(const EngineSnapshot& s) {
  static constexpr const char* kStates[] = {"active", "halted", "reduce-only"};
  const auto st = static_cast<std::size_t>(s.trading_state);
  return "books " + std::to_string(s.books_valid) + "/" + std::to_string(s.symbols) + " valid, " +
         std::to_string(s.frames) + " frames, signals " + std::to_string(s.signals_accepted) +
         " accepted / " + std::to_string(s.signals_rejected) + " rejected, " +
         std::to_string(s.orders_sent) + " orders, " + std::to_string(s.fills) + " fills, " +
         (st < 3 ? kStates[st] : "?") + (s.venue_ready ? "" : ", venue not ready");
}

TickActions Supervisor::on_tick(std::int64_t now_ns, const EngineSnapshot& snap, bool progressing) {
  TickActions a;
  if (snap.trading_state != last_state_) {
    last_state_ = snap.trading_state;
    a.alerts.push_back({"trading_state", std::string(engine::to_string(snap.trading_state))});
  }
  if (snap.foreign_orders > foreign_seen_) {
    a.alerts.push_back({"foreign_order", std::to_string(snap.foreign_orders - foreign_seen_) +
                                             " open order(s) on the account not sent by this "
                                             "engine (see the log: foreign_order)"});
    foreign_seen_ = snap.foreign_orders;
  }
  if (snap.position_mismatches > mismatches_seen_) {
    a.alerts.push_back({"position_mismatch",
                        "a balance moved differently from the engine's positions (see the log: "
                        "position_mismatch)"});
    mismatches_seen_ = snap.position_mismatches;
  }
  if (snap.venue_ban_until_ns != ban_seen_) {
    ban_seen_ = snap.venue_ban_until_ns;
    if (ban_seen_ > now_ns) {
      a.alerts.push_back({"venue_ban", "the venue banned this IP (HTTP 418): nothing is sent for " +
                                           std::to_string((ban_seen_ - now_ns) / 1'000'000'000) +
                                           " s; orders are refused (RATE_LIMITED)"});
    }
  }
  if (snap.journal_failures > 0 && journal_failures_seen_ == 0) {
    a.alerts.push_back({"journal_full",
                        "the order journal is full: new orders are refused (JOURNAL_UNAVAILABLE); "
                        "restart to compact it or raise journal.size_mb"});
  }
  journal_failures_seen_ = snap.journal_failures;
  if (!ready_ && snap.books_valid == snap.symbols && snap.venue_ready) {
    ready_ = true;
    a.became_ready = true;
    a.alerts.push_back({"ready", "every book synced, venue connected"});
  }
  if (!ready_) {
    // A start that moves on (another book synced, the venue connected) may take longer than
    // TimeoutStartSec; one that has stalled may not.
    if (start_progress_ns_ < 0 || snap.books_valid > books_seen_ ||
        (snap.venue_ready && !venue_seen_)) {
      start_progress_ns_ = now_ns;
    }
    books_seen_ = std::max(books_seen_, snap.books_valid);
    venue_seen_ = venue_seen_ || snap.venue_ready;
    if (now_ns - start_progress_ns_ < kStartStallNs &&
        (last_extend_ns_ == 0 || now_ns - last_extend_ns_ >= kExtendEveryNs)) {
      last_extend_ns_ = now_ns;
      a.extend_start_us = kStartStallNs / 1000;
    }
  }
  if (progressing != progress_reported_) {
    progress_reported_ = progressing;
    a.progress_change = progressing;
    a.alerts.push_back({progressing ? "threads_progressing" : "threads_stalled", ""});
  }
  if (ready_ && progressing && watchdog_period_ns_ > 0 &&
      now_ns - last_watchdog_ns_ >= watchdog_period_ns_) {
    last_watchdog_ns_ = now_ns;
    a.watchdog = true;
  }
  if (now_ns - last_status_ns_ >= 1'000'000'000LL) {
    last_status_ns_ = now_ns;
    std::string text = status_line(snap);
    if (text != last_status_text_) {
      last_status_text_ = text;
      a.status = std::move(text);
    }
  }
  return a;
}

}  // namespace cwts::daemon
