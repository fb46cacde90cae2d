// systemd notifications (sd_notify): READY=1, WATCHDOG=1, STATUS=, STOPPING=1,
// EXTEND_TIMEOUT_USEC=. Without
// NOTIFY_SOCKET (not started by systemd) every call is a no-op.
#pragma once

#include <chrono>
#include <string>

namespace cwts::daemon {

class Notifier {
 public:
  Notifier();
  [[nodiscard]] bool enabled() const noexcept { return enabled_; }
  // The watchdog period systemd expects (WatchdogSec), or zero when the watchdog is off.
  [[nodiscard]] std::chrono::microseconds watchdog_period() const noexcept { return watchdog_; }
  void ready(const std::string& status);
  void watchdog();
  void status(const std::string& status);
  void stopping(const std::string& status);
  // EXTEND_TIMEOUT_USEC: the start may go on for `by` after now, beyond TimeoutStartSec.
  void extend_start(std::chrono::microseconds by);

 private:
  void send(const std::string& text);
  bool enabled_ = false;
  std::chrono::microseconds watchdog_{0};
};

}  // namespace cwts::daemon
