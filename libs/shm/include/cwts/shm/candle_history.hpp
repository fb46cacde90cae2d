// The closed candles of a candle series as a reader copies them out of the market region: the
// newest `limit`, oldest first, without a gap. Header-only: the engine's ctl thread and the Python
// bridge read it the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cwts/concurrent/broadcast_ring.hpp"
#include "cwts/shm_layout/layout.hpp"

namespace cwts::shm {

// Appends to `rows` (cleared first) the closed candles of symbol `sym` on timeframe index `tf`:
// the newest `limit` of those after ring sequence `after` (0: all). A candle the writer overwrote
// while the others were being copied (only when it laps this reader) is dropped with every older
// one: the result never has a hole. `limit` is capped at the region's candle history, so a short
// history (1, 2, 4 candles) still gives what it keeps. Returns the sequence of the newest closed
// candle when it looked (what the next call's `after` is, to get each candle once).
inline std::uint64_t read_closed_candles(const layout::MarketRegion& region, std::size_t sym,
                                         std::size_t tf, std::size_t limit,
                                         std::vector<layout::Candle>& rows,
                                         std::uint64_t after = 0) {
  rows.clear();
  if (limit > region.candle_history()) limit = region.candle_history();
  const std::uint64_t last = region.candles(sym, tf).closed.last_sequence();
  if (last <= after) return last;
  std::uint64_t first = last >= limit ? last - limit + 1 : 1;
  if (first <= after) first = after + 1;
  auto r = region.candle_cursor(sym, tf, first);
  layout::Candle c{};
  for (std::uint64_t s = first; s <= last; ++s) {
    const auto st = r.try_read(c);
    if (st == concurrent::ReadStatus::kOk) {
      rows.push_back(c);
    } else if (st == concurrent::ReadStatus::kLapped) {
      rows.clear();
      r = region.candle_cursor(sym, tf, s + 1);
    } else {
      break;
    }
  }
  return last;
}

}  // namespace cwts::shm
