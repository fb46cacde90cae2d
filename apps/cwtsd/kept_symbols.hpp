// The symbols a restarted engine must know beyond market.symbols (ADR 0025): the ones added at
// run time (symbols.add), kept in the journal directory as <dir>/cwts-<instance>.symbols, and the
// ones the order journal still has open orders on (so that no order is forgotten).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace cwts::daemon {

struct KeptSymbols {
  std::vector<std::string> added;        // added at run time, not removed: they trade
  std::vector<std::string> orders_only;  // open orders in the journal only: tracked, not traded
};

// "" without a journal directory (nothing is kept).
[[nodiscard]] std::string kept_symbols_path(const Config& cfg);
// What the file and the journal name beyond `cfg.market.symbols`, in order, each once. A missing
// file is an empty list; an unreadable journal adds nothing here (opening it reports that).
[[nodiscard]] KeptSymbols kept_symbols(const Config& cfg);
// Replaces the file with `added` (one per line), durably: a crash leaves the old list or the new.
// False (and an error logged) when it cannot be written.
bool write_kept_symbols(const Config& cfg, std::span<const std::string> added);

}  // namespace cwts::daemon
