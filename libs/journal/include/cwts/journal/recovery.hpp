// What a journal says at start-up: the orders not known to have ended and the last position of
// each symbol. Pure (no venue, no I/O beyond reading the file); the engine then settles it with
// the venue (docs/journal.md, "Reconciliation at start").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cwts/journal/journal.hpp"
#include "cwts/journal/records.hpp"

namespace cwts::journal {

struct RecoveredOrder {
  OrderAccepted accepted{};
  OrderState state{};            // zero until the venue told something
  std::uint64_t cancel_seq = 0;  // a cancel signal waiting for the order's end
  bool left_open = false;        // reported as ended by a shutdown that left it on the venue
};

struct Recovered {
  std::vector<RecoveredOrder> open;                 // in the order they were accepted
  std::map<std::string, PositionRecord> positions;  // by symbol
  std::uint64_t epochs = 0;                         // runs recorded in the file
  std::int64_t last_order_ns = 0;  // the latest accepted_ns of any order in the file (0: none)
  ReadResult read;
  std::uint64_t unknown_records = 0;  // types this version does not know (skipped)
};

// Reads `path` (a missing file is an empty journal). Throws JournalError as read_journal.
[[nodiscard]] Recovered recover(const std::string& path);

// Writes `r`'s state (positions, then each open order's records) into a new journal, so that
// recover() of the new file gives the same state. Returns false if it did not fit.
bool write_snapshot(Writer& w, const Recovered& r);

}  // namespace cwts::journal
