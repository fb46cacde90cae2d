// cwts_bridge._native: what the bridge (bridge.hpp) and records.cpp share — a symbol's scales,
// and the conversion of shared-memory records to the tuples Python receives (records.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nanobind/nanobind.h>
// The type casters of every C++ type records.cpp hands to Python: without them nanobind finds no
// conversion for std::string and throws std::bad_cast at run time (not at compile time).
#include <nanobind/stl/string.h>

#include "cwts/shm_layout/market_region.hpp"

namespace cwts_bridge {

namespace nb = nanobind;

struct SymbolMeta {
  std::string name;
  int px_dec = 8, qty_dec = 8;
  std::int64_t tick = 0, step = 0;
};

// An exact value at `decimals` as a float.
double to_f(std::int64_t raw, int decimals);

// (seq, kind, reason, symbol, side, client_order_id, venue_order_id, last_qty, last_px, cum_qty,
// avg_px, fee, venue_code, ts_ns, fee_native, fee_asset, epoch); `syms` indexed by symbol id.
// `epoch`: the engine run the report came from (its start time, ns).
nb::tuple report_tuple(const cwts::layout::ExecReport& r, const std::vector<SymbolMeta>& syms,
                       std::uint64_t epoch);
// The Python record type of events (cwts_bridge.Event); before any event_object().
void set_event_type(nb::handle type);
// A new cwts_bridge.Event (kind, symbol, seq, update_id, exchange_ns, receive_ns, publish_ns, a,
// b, c, d) for `e` (nullptr: a lap of `seq` skipped events), `symbol` its name (borrowed), `pd` /
// `qd` its decimals. A new reference; throws nb::python_error.
PyObject* event_object(const cwts::layout::Event* e, std::uint64_t seq, PyObject* symbol, int pd,
                       int qd);

}  // namespace cwts_bridge
