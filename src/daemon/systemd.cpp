#include "cwts/daemon/systemd.hpp"

#include <cstdint>
#include <cstdlib>

#include <systemd/sd-daemon.h>

namespace cwts::daemon {

Notifier::Notifier() {
  const char* sock = std::getenv("NOTIFY_SOCKET");
  enabled_ = sock != nullptr && *sock != '\0';
  std::uint64_t usec = 0;
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0) watchdog_ = std::chrono::microseconds(usec);
}

void Notifier::send(const std::string& text) {
  if (enabled_) (void)sd_notify(0, text.c_str());
}

void Notifier::ready(const std::string& status) { send("READY=1\nSTATUS=" + status); }
void Notifier::watchdog() { send("WATCHDOG=1"); }
void Notifier::status(const std::string& status) { send("STATUS=" + status); }
void Notifier::stopping(const std::string& status) { send("STOPPING=1\nSTATUS=" + status); }

}  // namespace cwts::daemon
