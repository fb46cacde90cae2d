// Compile-time capacities of the shared-memory layout. Changing any of them changes the layout
// hash and needs a layout version bump.
#pragma once

#include <cstddef>

namespace cwts::layout {

inline constexpr std::size_t kMaxSymbols = 32;
inline constexpr std::size_t kBookDepth = 20;
inline constexpr std::size_t kEventRingCapacity = 16384;
inline constexpr std::size_t kMaxTimeframes = 8;
inline constexpr std::size_t kCandleHistory = 512;
inline constexpr std::size_t kMaxIndicators = 16;
inline constexpr std::size_t kMaxSlots = 16;
inline constexpr std::size_t kSignalRingCapacity = 1024;
inline constexpr std::size_t kReportRingCapacity = 1024;
inline constexpr std::size_t kMaxAssets = 32;

}  // namespace cwts::layout
