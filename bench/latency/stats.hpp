// Latency sample statistics shared by the latency harnesses (nearest-rank percentiles).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cwts::bench {

struct Stats {
  std::uint64_t p50, p90, p99, p999, max;
  std::size_t n;
};

inline Stats stats(std::vector<std::int64_t> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double p) {
    const auto r = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.5);
    return static_cast<std::uint64_t>(v[std::min(v.size() - 1, r == 0 ? 0 : r - 1)]);
  };
  if (v.empty()) return {};
  return {at(50), at(90), at(99), at(99.9), static_cast<std::uint64_t>(v.back()), v.size()};
}

}  // namespace cwts::bench
