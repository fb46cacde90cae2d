// RestBackoff: the venue's "back off" (HTTP 429 or 418 with Retry-After), shared by every client of
// one venue in a process. Binance counts request weight and bans per IP, so a 429 answered to the
// feed's depth snapshot binds the order client too, and the other way round: any request sent
// before Retry-After has passed is one that ignored the 429, and Binance bans the IP for it (418),
// which stops cancels as well as orders.
#pragma once

#include <atomic>
#include <cstdint>

namespace cwts::core {

class RestBackoff {
 public:
  // Nothing may be sent before `until_ns` (realtime ns); an earlier time than the one held is
  // ignored. Any thread.
  void hold_until(std::int64_t until_ns) noexcept {
    std::int64_t cur = until_ns_.load(std::memory_order_relaxed);
    while (cur < until_ns &&
           !until_ns_.compare_exchange_weak(cur, until_ns, std::memory_order_release,
                                            std::memory_order_relaxed)) {
    }
  }
  // Until when nothing may be sent (realtime ns; 0 = never held). Any thread.
  [[nodiscard]] std::int64_t until_ns() const noexcept {
    return until_ns_.load(std::memory_order_acquire);
  }
  [[nodiscard]] bool holds(std::int64_t now_ns) const noexcept { return now_ns < until_ns(); }

 private:
  std::atomic<std::int64_t> until_ns_{0};
};

}  // namespace cwts::core
