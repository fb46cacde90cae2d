// A fixed-bucket latency histogram with one writer thread and any number of readers (Prometheus
// scrapes from the ctl thread). record() is two relaxed loads and stores per call: no RMW, no
// lock, no allocation — fit for a hot thread.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace cwts::core {

class LatencyHistogram {
 public:
  // Upper bounds in ns (Prometheus `le`), then +Inf.
  static constexpr std::array<std::int64_t, 14> kBoundsNs{
      1'000,   2'500,   5'000,     10'000,    25'000,     50'000,      100'000,
      250'000, 500'000, 1'000'000, 2'500'000, 10'000'000, 100'000'000, 1'000'000'000};
  static constexpr std::size_t kBuckets = kBoundsNs.size() + 1;

  // Writer thread only.
  void record(std::int64_t ns) noexcept {
    if (ns < 0) ns = 0;
    std::size_t b = 0;
    while (b < kBoundsNs.size() && ns > kBoundsNs[b]) ++b;
    bump(buckets_[b], 1);
    bump(sum_ns_, static_cast<std::uint64_t>(ns));
    bump(count_, 1);
  }

  struct Snapshot {
    std::array<std::uint64_t, kBuckets> buckets{};  // per bucket, not cumulative
    std::uint64_t sum_ns = 0;
    std::uint64_t count = 0;
  };
  // Any thread. Counts may be one record apart from each other, never going backwards.
  [[nodiscard]] Snapshot snapshot() const noexcept {
    Snapshot s;
    for (std::size_t i = 0; i < kBuckets; ++i)
      s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    s.sum_ns = sum_ns_.load(std::memory_order_relaxed);
    s.count = count_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  static void bump(std::atomic<std::uint64_t>& a, std::uint64_t by) noexcept {
    a.store(a.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> sum_ns_{0};
  std::atomic<std::uint64_t> count_{0};
};

}  // namespace cwts::core
