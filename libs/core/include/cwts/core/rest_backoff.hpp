// RestBackoff: the venue's "back off" (HTTP 429 or 418 with Retry-After), shared by every client of
// one venue in a process. Binance counts request weight and bans per IP, so a 429 answered to the
// feed's depth snapshot binds the order client too, and the other way round: any request sent
// before Retry-After has passed is one that ignored the 429, and Binance bans the IP for it (418),
// which stops cancels as well as orders.
//
// For the same reason it also carries the request weight those clients share: the rate governor's
// owner (the engine's exec thread) publishes what the other clients (market-data snapshots, the
// gateway's look-ups) may spend now, takes back what they spent, and hears the venue's
// X-MBX-USED-WEIGHT-1M from their answers. Without an owner (budgeted() false) spending is not
// limited here.
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

  // ---- the shared request weight (any thread) ----
  // The governor's owner declares itself: from now on nothing is spent beyond what it publishes
  // (nothing until its first publication).
  void expect_budget() noexcept { budgeted_.store(true, std::memory_order_release); }
  [[nodiscard]] bool budgeted() const noexcept { return budgeted_.load(std::memory_order_acquire); }
  // The owner: what may be spent now (it replaces what was left of the last publication).
  void publish_headroom(std::uint64_t weight) noexcept {
    headroom_.store(weight, std::memory_order_relaxed);
  }
  // A client about to send a request of `weight`: true = send it (the weight is taken from the
  // headroom and handed to the owner); false = not now. Always true without an owner.
  [[nodiscard]] bool try_spend(std::uint64_t weight) noexcept {
    if (!budgeted()) return true;
    std::uint64_t h = headroom_.load(std::memory_order_relaxed);
    do {
      if (h < weight) return false;
    } while (!headroom_.compare_exchange_weak(h, h - weight, std::memory_order_relaxed));
    spent_.fetch_add(weight, std::memory_order_relaxed);
    return true;
  }
  // The owner: the weight spent since it last asked (charged to its buckets).
  [[nodiscard]] std::uint64_t take_spent() noexcept {
    return spent_.exchange(0, std::memory_order_relaxed);
  }
  // A client saw the venue's X-MBX-USED-WEIGHT-1M (what the IP used this minute); the owner
  // applies the latest (take_used_weight: false = nothing new).
  void note_used_weight(std::uint64_t used) noexcept {
    used_seen_.store(used + 1, std::memory_order_relaxed);
  }
  [[nodiscard]] bool take_used_weight(std::uint64_t& used) noexcept {
    const std::uint64_t v = used_seen_.exchange(0, std::memory_order_relaxed);
    if (v != 0) used = v - 1;
    return v != 0;
  }

 private:
  std::atomic<std::int64_t> until_ns_{0};
  std::atomic<bool> budgeted_{false};
  std::atomic<std::uint64_t> headroom_{0};
  std::atomic<std::uint64_t> spent_{0};
  std::atomic<std::uint64_t> used_seen_{0};  // used + 1; 0 = nothing new
};

}  // namespace cwts::core
