// The clock: wall-clock nanoseconds since the Unix epoch, the time base of every timestamp the
// engine publishes, logs or sends (venue timestamps are wall-clock milliseconds). One vDSO call,
// no syscall, no allocation: safe on hot threads.
#pragma once

#include <time.h>

#include <cstdint>

namespace cwts::core {

[[nodiscard]] inline std::int64_t realtime_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
}

// Monotonic nanoseconds (CLOCK_MONOTONIC): for intervals and deadlines that must not jump.
[[nodiscard]] inline std::int64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
}

}  // namespace cwts::core
