// Backoff: capped exponential reconnect delays with full jitter, for the feed and REST clients.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>

namespace cwts::feed {

struct BackoffPolicy {
  std::chrono::milliseconds initial{100};  // ceiling of the first delay
  std::chrono::milliseconds max{30'000};   // the ceiling never grows past this
  double multiplier = 2.0;                 // ceiling growth per attempt
  // A connection that stayed up (and healthy) this long resets the ceiling to `initial`.
  std::chrono::milliseconds healthy_after{30'000};
};

// "Full jitter" (each delay uniform in [0, ceiling]) rather than "equal" or "decorrelated"
// jitter: after a venue-wide disconnect every client reconnects at once, and full jitter spreads
// that herd the most for the same mean delay. Deterministic for a given seed, so tests can replay
// a sequence. Not thread-safe: the feed's thread owns it.
class Backoff {
 public:
  // Throws std::invalid_argument on a policy that cannot work (config time only).
  explicit Backoff(BackoffPolicy policy = {}, std::uint64_t seed = 0x6377747362ULL)
      : policy_(policy), rng_(seed) {
    if (policy_.initial.count() <= 0) throw std::invalid_argument("backoff: initial must be > 0");
    if (policy_.max < policy_.initial) throw std::invalid_argument("backoff: max < initial");
    if (!(policy_.multiplier >= 1.0) || !std::isfinite(policy_.multiplier)) {
      throw std::invalid_argument("backoff: multiplier must be finite and >= 1");
    }
    if (policy_.healthy_after.count() < 0) {
      throw std::invalid_argument("backoff: healthy_after must be >= 0");
    }
  }

  // The delay before the next attempt, uniform in [0, ceiling()]; then the ceiling grows.
  [[nodiscard]] std::chrono::milliseconds next() {
    const std::chrono::milliseconds c = ceiling();
    std::uniform_int_distribution<std::int64_t> pick(0, c.count());
    if (attempts_ < kMaxCountedAttempts) ++attempts_;
    return std::chrono::milliseconds{pick(rng_)};
  }

  // min(max, initial × multiplier^attempts). Computed in double and clamped before converting,
  // so a long outage cannot overflow the integer.
  [[nodiscard]] std::chrono::milliseconds ceiling() const noexcept {
    const double grown = static_cast<double>(policy_.initial.count()) *
                         std::pow(policy_.multiplier, static_cast<double>(attempts_));
    const double capped = std::min(grown, static_cast<double>(policy_.max.count()));
    return std::chrono::milliseconds{static_cast<std::int64_t>(capped)};
  }

  // After a healthy connection: the next outage starts from `initial` again.
  void reset() noexcept { attempts_ = 0; }

  [[nodiscard]] std::uint32_t attempts() const noexcept { return attempts_; }
  [[nodiscard]] const BackoffPolicy& policy() const noexcept { return policy_; }

 private:
  // Past this the ceiling is long since capped; stop counting so the counter cannot wrap.
  static constexpr std::uint32_t kMaxCountedAttempts = 1024;

  BackoffPolicy policy_;
  std::mt19937_64 rng_;
  std::uint32_t attempts_ = 0;
};

}  // namespace cwts::feed
