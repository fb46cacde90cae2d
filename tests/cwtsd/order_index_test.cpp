// OrderIndex: the exec thread's (slot, seq) -> order lookup. Erasing must leave the table as if the
// key had never been inserted: an engine places and releases orders for as long as it runs.
#include "exec/order_index.hpp"

#include <cstdint>
#include <random>
#include <unordered_map>

#include <gtest/gtest.h>

namespace {

using cwts::daemon::OrderIndex;

// The review's livelock: 16,384 cells, tombstones never reclaimed, so after ~280k orders a lookup
// of an order the engine no longer holds (a cancel of a finished order, a late venue event) found
// no empty cell and probed forever.
TEST(OrderIndex, AMillionOrdersPlacedAndReleasedLeaveLookupsOfUnknownOrdersFinite) {
  OrderIndex idx(16'384);
  for (std::uint64_t seq = 1; seq <= 1'000'000; ++seq) {
    idx.insert(static_cast<std::uint32_t>(seq % 16), seq, static_cast<std::uint32_t>(seq % 4096));
    if (seq > 100) {
      ASSERT_TRUE(idx.erase(static_cast<std::uint32_t>((seq - 100) % 16), seq - 100));
    }
  }
  EXPECT_EQ(idx.size(), 100U);
  EXPECT_FALSE(idx.find(1, 1).has_value()) << "released long ago: answered at once";
  EXPECT_FALSE(idx.find(3, 5'000'000).has_value()) << "never placed";
  EXPECT_EQ(idx.find(0, 1'000'000).value(), 1'000'000U % 4096);
}

// Backward-shift deletion against a reference map, in a small table so probe runs collide, wrap
// around the end and get long (up to 3/4 full).
TEST(OrderIndex, MatchesAMapUnderRandomInsertsAndErasesWithWrappingRuns) {
  OrderIndex idx(64);
  std::unordered_map<std::uint64_t, std::uint32_t> ref;  // key: slot << 40 | seq
  std::mt19937_64 rng(12345);
  std::uint64_t next_seq = 1;
  for (int op = 0; op < 500'000; ++op) {
    const bool add = ref.size() < 8 || (ref.size() < 48 && rng() % 2 == 0);
    if (add) {
      const auto slot = static_cast<std::uint32_t>(rng() % 4);
      const std::uint64_t seq = next_seq++;
      const auto value = static_cast<std::uint32_t>(rng());
      idx.insert(slot, seq, value);
      ref[(std::uint64_t{slot} << 40) | seq] = value;
    } else {
      auto it = ref.begin();
      std::advance(it, static_cast<long>(rng() % ref.size()));
      const auto slot = static_cast<std::uint32_t>(it->first >> 40);
      const std::uint64_t seq = it->first & ((std::uint64_t{1} << 40) - 1);
      ASSERT_TRUE(idx.erase(slot, seq)) << "op " << op;
      ASSERT_FALSE(idx.erase(slot, seq)) << "op " << op;
      ref.erase(it);
    }
    ASSERT_EQ(idx.size(), ref.size());
    if (op % 64 == 0) {
      for (const auto& [k, v] : ref) {
        const auto got = idx.find(static_cast<std::uint32_t>(k >> 40), k & ((1ULL << 40) - 1));
        ASSERT_TRUE(got.has_value()) << "op " << op << " lost key " << k;
        ASSERT_EQ(*got, v);
      }
      ASSERT_FALSE(idx.find(0, next_seq).has_value());
    }
  }
}

}  // namespace
