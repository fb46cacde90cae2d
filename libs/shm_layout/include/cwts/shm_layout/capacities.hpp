// Capacities of the shared-memory layout. The per-record sizes (ring capacities, indicators,
// assets) are compiled in: changing any of them changes the layout hash and needs a layout version
// bump. The symbol, slot and timeframe counts, the candle history and the book depth of a market
// region are chosen when the engine creates it (region.max_symbols, region.max_slots, the
// configured timeframes, region.candle_history, region.book_depth) and recorded in its header; the
// constants below are their ceilings, which every reader checks a header against
// (docs/adr/0035-capacities-chosen-at-region-creation.md,
// 0039-candle-history-chosen-at-region-creation.md, 0042-book-depth-chosen-at-region-creation.md).
#pragma once

#include <cstddef>

namespace cwts::layout {

inline constexpr std::size_t kMaxSymbols = 1024;  // ceiling of RegionHeader::max_symbols
// Ceiling of RegionHeader::book_depth, the levels a side each symbol's book snapshot holds (the
// largest depth Binance's REST snapshot gives at its middle weight).
inline constexpr std::size_t kMaxBookDepth = 1000;
inline constexpr std::size_t kEventRingCapacity = 16384;
inline constexpr std::size_t kMaxTimeframes = 8;  // ceiling of RegionHeader::max_timeframes
// Ceiling of RegionHeader::candle_history, the closed candles each series keeps (a power of two).
inline constexpr std::size_t kMaxCandleHistory = 16384;
inline constexpr std::size_t kMaxIndicators = 16;
inline constexpr std::size_t kMaxSlots = 64;  // ceiling of RegionHeader::max_slots
inline constexpr std::size_t kSignalRingCapacity = 1024;
inline constexpr std::size_t kReportRingCapacity = 1024;
inline constexpr std::size_t kMaxAssets = 32;

// What a market region holds when nothing else is asked for (region.max_symbols, region.max_slots,
// region.candle_history, region.book_depth).
inline constexpr std::size_t kDefaultSymbols = 64;
inline constexpr std::size_t kDefaultSlots = 16;
inline constexpr std::size_t kDefaultCandleHistory = 512;
inline constexpr std::size_t kDefaultBookDepth = 20;

}  // namespace cwts::layout
