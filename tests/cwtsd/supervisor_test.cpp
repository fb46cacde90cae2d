// The ctl thread's decisions (ctl/supervisor.hpp): readiness, the systemd watchdog, alerts and the
// status line, driven tick by tick with made-up snapshots and times.
#include "ctl/supervisor.hpp"

#include <gtest/gtest.h>

namespace {

using cwts::daemon::EngineSnapshot;
using cwts::daemon::Supervisor;
using cwts::daemon::TickActions;
using cwts::layout::TradingState;

constexpr std::int64_t kSec = 1'000'000'000;
constexpr std::int64_t kWatchdog = 5 * kSec;  // WatchdogSec=10s -> every 5 s

EngineSnapshot synced() {
  EngineSnapshot s;
  s.symbols = 4;
  s.books_valid = 4;
  s.venue_ready = true;
  return s;
}

bool has_alert(const TickActions& a, std::string_view what) {
  for (const auto& al : a.alerts)
    if (al.what == what) return true;
  return false;
}

TEST(SupervisorTest, NotReadyUntilEveryBookIsValidAndTheVenueIsReady) {
  Supervisor sup(kWatchdog);
  EngineSnapshot s = synced();
  s.books_valid = 3;
  EXPECT_FALSE(sup.on_tick(1 * kSec, s, true).became_ready);
  s.books_valid = 4;
  s.venue_ready = false;
  EXPECT_FALSE(sup.on_tick(2 * kSec, s, true).became_ready);
  EXPECT_FALSE(sup.ready());
  s.venue_ready = true;
  const TickActions a = sup.on_tick(3 * kSec, s, true);
  EXPECT_TRUE(a.became_ready);
  EXPECT_TRUE(has_alert(a, "ready"));
  EXPECT_TRUE(sup.ready());
}

TEST(SupervisorTest, ReadinessIsAnnouncedOnceEvenIfABookLaterGoesInvalid) {
  Supervisor sup(kWatchdog);
  EXPECT_TRUE(sup.on_tick(1 * kSec, synced(), true).became_ready);
  EngineSnapshot s = synced();
  s.books_valid = 2;
  EXPECT_FALSE(sup.on_tick(2 * kSec, s, true).became_ready);
  EXPECT_FALSE(sup.on_tick(3 * kSec, synced(), true).became_ready);
  EXPECT_TRUE(sup.ready());
}

TEST(SupervisorTest, WatchdogIsFedOnlyWhileReadyAndProgressingOncePerPeriod) {
  Supervisor sup(kWatchdog);
  EngineSnapshot s = synced();
  s.venue_ready = false;
  EXPECT_FALSE(sup.on_tick(10 * kSec, s, true).watchdog) << "not ready yet";
  EXPECT_TRUE(sup.on_tick(20 * kSec, synced(), true).watchdog);
  EXPECT_FALSE(sup.on_tick(21 * kSec, synced(), true).watchdog) << "within the period";
  EXPECT_FALSE(sup.on_tick(26 * kSec, synced(), false).watchdog) << "a hot thread stalled";
  EXPECT_FALSE(sup.on_tick(40 * kSec, synced(), false).watchdog);
  EXPECT_TRUE(sup.on_tick(41 * kSec, synced(), true).watchdog) << "progressing again";
}

TEST(SupervisorTest, WatchdogNeverFedWhenSystemdHasNoWatchdog) {
  Supervisor sup(0);
  for (std::int64_t t = 1; t < 100; ++t)
    EXPECT_FALSE(sup.on_tick(t * kSec, synced(), true).watchdog);
}

TEST(SupervisorTest, StallAndRecoveryRaiseOneAlertEach) {
  Supervisor sup(kWatchdog);
  (void)sup.on_tick(1 * kSec, synced(), true);
  TickActions a = sup.on_tick(2 * kSec, synced(), false);
  ASSERT_TRUE(a.progress_change.has_value());
  EXPECT_FALSE(*a.progress_change);
  EXPECT_TRUE(has_alert(a, "threads_stalled"));
  a = sup.on_tick(3 * kSec, synced(), false);
  EXPECT_FALSE(a.progress_change.has_value()) << "still stalled: no second alert";
  EXPECT_TRUE(a.alerts.empty());
  a = sup.on_tick(4 * kSec, synced(), true);
  ASSERT_TRUE(a.progress_change.has_value());
  EXPECT_TRUE(*a.progress_change);
  EXPECT_TRUE(has_alert(a, "threads_progressing"));
}

TEST(SupervisorTest, ForeignOrdersAndAFullJournalRaiseAlertsOnce) {
  Supervisor sup(kWatchdog);
  (void)sup.on_tick(1 * kSec, synced(), true);
  EngineSnapshot s = synced();
  s.foreign_orders = 2;
  TickActions a = sup.on_tick(2 * kSec, s, true);
  ASSERT_TRUE(has_alert(a, "foreign_order"));
  EXPECT_EQ(a.alerts[0].detail.substr(0, 2), "2 ");
  EXPECT_TRUE(sup.on_tick(3 * kSec, s, true).alerts.empty()) << "the same orders: no new alert";
  s.foreign_orders = 3;
  EXPECT_TRUE(has_alert(sup.on_tick(4 * kSec, s, true), "foreign_order"));
  s.journal_failures = 1;
  EXPECT_TRUE(has_alert(sup.on_tick(5 * kSec, s, true), "journal_full"));
  s.journal_failures = 5;
  EXPECT_FALSE(has_alert(sup.on_tick(6 * kSec, s, true), "journal_full")) << "one alert";
  s.position_mismatches = 1;
  EXPECT_TRUE(has_alert(sup.on_tick(7 * kSec, s, true), "position_mismatch"));
  EXPECT_FALSE(has_alert(sup.on_tick(8 * kSec, s, true), "position_mismatch"));
}

TEST(SupervisorTest, TradingStateChangeRaisesAnAlertNamingTheNewState) {
  Supervisor sup(kWatchdog);
  (void)sup.on_tick(1 * kSec, synced(), true);
  EngineSnapshot s = synced();
  s.trading_state = TradingState::kHalted;
  TickActions a = sup.on_tick(2 * kSec, s, true);
  ASSERT_EQ(a.alerts.size(), 1U);
  EXPECT_EQ(a.alerts[0].what, "trading_state");
  EXPECT_EQ(a.alerts[0].detail, "halted");
  EXPECT_TRUE(sup.on_tick(3 * kSec, s, true).alerts.empty());
}

TEST(SupervisorTest, StatusLineIsReportedAtMostOnceASecondAndOnlyWhenItChanged) {
  Supervisor sup(kWatchdog);
  EngineSnapshot s = synced();
  TickActions a = sup.on_tick(1 * kSec, s, true);
  ASSERT_TRUE(a.status.has_value());
  EXPECT_EQ(*a.status,
            "books 4/4 valid, 0 frames, signals 0 accepted / 0 rejected, 0 orders, "
            "0 fills, active");
  s.frames = 10;
  EXPECT_FALSE(sup.on_tick(1 * kSec + 500'000'000, s, true).status.has_value()) << "too soon";
  a = sup.on_tick(2 * kSec, s, true);
  ASSERT_TRUE(a.status.has_value());
  EXPECT_NE(a.status->find("10 frames"), std::string::npos);
  EXPECT_FALSE(sup.on_tick(3 * kSec, s, true).status.has_value()) << "unchanged";
}

// A start with many symbols syncs its books at the pace of the venue's weight limit: minutes. While
// books keep becoming valid, systemd's start timeout is extended (EXTEND_TIMEOUT_USEC) every 10 s
// by 60 s; a start that has not progressed for 60 s is extended no more, so TimeoutStartSec ends
// it; none after ready.
TEST(SupervisorTest, AStartThatKeepsSyncingBooksExtendsTheStartTimeoutAndAStalledOneDoesNot) {
  Supervisor sup(kWatchdog);
  EngineSnapshot s = synced();
  s.symbols = 100;
  s.books_valid = 0;
  s.venue_ready = false;
  TickActions a = sup.on_tick(1 * kSec, s, true);
  ASSERT_TRUE(a.extend_start_us.has_value());
  EXPECT_EQ(*a.extend_start_us, 60'000'000);
  EXPECT_FALSE(sup.on_tick(5 * kSec, s, true).extend_start_us.has_value()) << "at most every 10 s";
  // One book every 2 s for 150 s, far beyond TimeoutStartSec=120: extended all along.
  int extensions = 1;
  std::int64_t t = 1 * kSec;
  for (int i = 1; i <= 75; ++i) {
    t += 2 * kSec;
    s.books_valid = static_cast<std::size_t>(i);
    s.venue_ready = i > 3;
    if (sup.on_tick(t, s, true).extend_start_us) ++extensions;
  }
  EXPECT_GE(extensions, 15);
  // Then nothing more for a minute: extended for 60 s after the last book, then no more.
  const std::int64_t last_progress = t;
  bool extended_late = false;
  for (t += kSec; t < last_progress + 120 * kSec; t += kSec) {
    const TickActions b = sup.on_tick(t, s, true);
    if (b.extend_start_us && t >= last_progress + 60 * kSec) extended_late = true;
  }
  EXPECT_FALSE(extended_late) << "a stalled start must be left to TimeoutStartSec";
  // It resumes: extended again, and once ready, never.
  s.books_valid = 80;
  EXPECT_TRUE(sup.on_tick(t, s, true).extend_start_us.has_value());
  s.books_valid = 100;
  const TickActions r = sup.on_tick(t + 20 * kSec, s, true);
  EXPECT_TRUE(r.became_ready);
  EXPECT_FALSE(r.extend_start_us.has_value());
  EXPECT_FALSE(sup.on_tick(t + 40 * kSec, s, true).extend_start_us.has_value());
}

}  // namespace
