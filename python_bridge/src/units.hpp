// Prices and quantities as the symbol's exact integers, the common cases in C++: the fast path of
// cwts_bridge's _to_units (its Python reference, which submit() falls back to for everything
// else and for every error, so the messages are the reference's).
#pragma once

#include <cstdint>
#include <optional>

namespace cwts_bridge {

enum class RoundMode { kExact, kDown, kNearest };

// `value` * 10^decimals as an integer on the `increment` grid (0: no grid), exactly as
// _to_units computes it from the shortest decimal that round-trips the double (Python's repr):
// kExact needs the value on the grid, kDown rounds toward zero, kNearest half to even (on the
// decimal scale first, then on the grid). nullopt: not a case this path decides (not finite, not
// positive, off the grid with kExact, rounds to zero, too large or too small): the reference
// decides, and raises.
[[nodiscard]] std::optional<std::int64_t> fast_units(double value, int decimals,
                                                     std::int64_t increment, RoundMode mode);
// The same for an integer value.
[[nodiscard]] std::optional<std::int64_t> fast_units(std::int64_t value, int decimals,
                                                     std::int64_t increment, RoundMode mode);

}  // namespace cwts_bridge
