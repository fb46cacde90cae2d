// Bridge.submit's common case decoded in one native call (issue 19): exact str names, float or
// int amounts, None or str tag. Anything else, and every error, is left to the Python checks
// (cwts_bridge.Bridge.submit), which raise the documented exceptions: nothing is sent then.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <nanobind/nanobind.h>

#include "cwts/shm_layout/market_region.hpp"
#include "cwts/shm_layout/signal_region.hpp"
#include "records.hpp"
#include "units.hpp"

namespace cwts_bridge {

struct FastSubmit {
  nb::handle symbol, qty, price;
  std::uint8_t side = 0, type = 0, tif = 0;
  std::uint32_t ttl_ms = 0;
  bool reduce_only = false;
  std::string_view tag;
  RoundMode mode = RoundMode::kExact;
};

// An amount (a float or an int; not a bool, a Decimal or a subclass) as units (units.hpp).
[[nodiscard]] std::optional<std::int64_t> amount_units(nb::handle h, int decimals,
                                                       std::int64_t increment, RoundMode mode);

// The arguments that need no attachment (side, type, tif, ttl_ms, tag, reduce_only, round);
// false: not the common case.
[[nodiscard]] bool decode_submit(nb::handle symbol, nb::handle side, nb::handle qty,
                                 nb::handle price, nb::handle type, nb::handle tif,
                                 nb::handle ttl_ms, nb::handle tag, nb::handle reduce_only,
                                 nb::handle round, FastSubmit& out);
// The signal for `f` with the attachment's symbols (name, exact units); false: not the common
// case (an unknown symbol, an amount off the grid, ...).
[[nodiscard]] bool fill_signal(const FastSubmit& f, const std::vector<SymbolMeta>& syms,
                               cwts::layout::Signal& s);

}  // namespace cwts_bridge
