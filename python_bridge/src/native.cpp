// cwts_bridge._native: the strategy side of the shared-memory contract for Python. Every read is
// one native call; seqlock retries happen here, and blocking waits release the GIL.
//
// This file: the module (its exception types and bindings) and the bridge's attachment — attach,
// reattach after an engine restart, close, and a fork. The reads are in bridge_reads.cpp, the
// signal slot in bridge_signals.cpp; the class is in bridge.hpp.
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "bridge.hpp"
#include "cwts/concurrent/word_copy.hpp"
#include "cwts/shm/region.hpp"
#include "cwts/shm/slot_lease.hpp"
#include "cwts/shm_layout/layout.hpp"
#include "cwts/shm_layout/market_region.hpp"
#include "fast_submit.hpp"
#include "records.hpp"
#include "units.hpp"

namespace nb = nanobind;

void register_ta(nb::module_& m);  // ta_binding.cpp
using namespace nb::literals;

namespace cwts_bridge {

// The exception types and the fork count (bridge.hpp).
PyObject* g_error = nullptr;             // CwtsError
PyObject* g_not_running = nullptr;       // EngineNotRunning
PyObject* g_version = nullptr;           // VersionMismatch
PyObject* g_slot_taken = nullptr;        // SlotTaken
PyObject* g_ring_full = nullptr;         // RingFull
PyObject* g_unknown_symbol = nullptr;    // UnknownSymbol
PyObject* g_engine_restarted = nullptr;  // EngineRestarted

std::atomic<std::uint64_t> g_forks{0};

namespace {
void after_fork_in_child() noexcept { g_forks.fetch_add(1, std::memory_order_relaxed); }
}  // namespace

Bridge::Bridge(std::string instance, std::optional<int> slot, std::string name, std::string shm_dir,
               std::string hugepage_dir, bool reattach)
    : instance_(std::move(instance)),
      want_slot_(slot),
      name_(std::move(name)),
      reattach_(reattach) {
  opts_.instance = instance_;
  opts_.lock_pages = false;
  if (!shm_dir.empty()) opts_.shm_dir = shm_dir;
  if (!hugepage_dir.empty()) opts_.hugepage_dir = hugepage_dir;
  install(make_attachment(/*initial=*/true));
}

// In a forked child it only drops the child's copy of the mappings and of the claim's
// connection (SlotLease::abandon): the claim is the parent's.
void Bridge::close() {
  closed_ = true;
  if (att_) att_->release_slot();
  att_.reset();
  pending_.clear();
  generation_.fetch_add(1, std::memory_order_release);
}

// Symbols the engine added since we last looked (symbols.add: symbol_count grows; ADR 0025):
// one acquire load per call when nothing changed.
const std::shared_ptr<Attachment>& Bridge::refresh_symbols(const std::shared_ptr<Attachment>& a) {
  const auto& m = a->mr();
  // acquire: pairs with the engine's release of the count after it wrote the entries.
  const auto n = cc::load_word(m.symbol_count, std::memory_order_acquire);
  for (std::uint64_t i = a->syms.size(); i < n && i < m.symbol_capacity(); ++i) {
    const layout::SymbolInfo si = snapshot(a, m.symbol(i).info);
    a->syms.push_back({std::string(si.name.view()), si.price_decimals, si.qty_decimals,
                       si.tick_size.raw, si.step_size.raw});
  }
  return a;
}

// The current attachment, after the closed / restarted checks; reattaches when the engine was
// replaced (at most every 200 ms it asks whether its engine is still the one it attached to).
// While no engine serves the instance it raises EngineNotRunning, and tries again on every
// later call: a bridge with reattach=True is never closed for good by a restart.
std::shared_ptr<Attachment> Bridge::check_epoch() {
  if (closed_) raise(g_error, "the bridge is closed");
  check_not_forked();
  if (att_) {
    const auto now = std::chrono::steady_clock::now();
    if (!force_check_ && now - last_check_ < kCheckEvery) return refresh_symbols(att_);
    force_check_ = false;
    last_check_ = now;
    if (!att_->market.superseded()) return refresh_symbols(att_);
    if (!reattach_) {
      force_check_ = true;  // stays restarted: every later call says so
      raise(g_engine_restarted, "the engine of instance '" + instance_ +
                                    "' stopped or restarted (epoch " + std::to_string(att_->epoch) +
                                    "); attach again");
    }
    // The engine's last reports (orders it cancelled as it stopped) stay for reports() and
    // wait_report(), tagged with its epoch.
    if (att_->consumer) drain_reports(*att_);
    report_unread_signals(*att_);
    att_->release_slot();  // a claim in a region no engine serves any more
    att_.reset();
    generation_.fetch_add(1, std::memory_order_release);
  }
  // Reading the symbol table may release the GIL (a stopped engine): one thread attaches at a
  // time, or two would claim the slot and one claim would leak.
  if (attaching_) {
    raise(g_not_running, "the bridge is reattaching to the engine of instance '" + instance_ +
                             "' in another thread; retry shortly");
  }
  attaching_ = true;
  std::shared_ptr<Attachment> fresh;
  try {
    fresh = make_attachment(/*initial=*/false);  // raises EngineNotRunning while none is live
  } catch (...) {
    attaching_ = false;
    throw;
  }
  attaching_ = false;
  if (closed_) {  // by another thread while the symbol table was read
    fresh->release_slot();
    raise(g_error, "the bridge is closed");
  }
  install(std::move(fresh));
  return att_;
}

void Bridge::install(std::shared_ptr<Attachment> a) {
  att_ = std::move(a);
  epoch_seen_ = att_->epoch;
  last_check_ = std::chrono::steady_clock::now();
  force_check_ = false;
  generation_.fetch_add(1, std::memory_order_release);
}

// Maps the regions and reads the symbol table into a new attachment; claims the slot when one
// is wanted. Throws (and leaves the bridge as it was) on any failure, except that a slot the
// engine refuses on a reattach (taken by another process, ...) is left for need_slot() to claim
// later.
std::shared_ptr<Attachment> Bridge::make_attachment(bool initial) {
  auto a = std::make_shared<Attachment>();
  try {
    a->market =
        cwts::shm::Region::attach(layout::RegionKind::kMarket, cwts::shm::Access::kReadOnly, opts_);
    if (a->market.header().state != static_cast<std::uint64_t>(layout::RegionState::kLive)) {
      raise(g_not_running, "the engine for instance '" + instance_ +
                               "' is not live yet (starting or stopped); retry shortly");
    }
    if (want_slot_)
      a->signals = cwts::shm::Region::attach(layout::RegionKind::kSignals,
                                             cwts::shm::Access::kReadOnly, opts_);
  } catch (const cwts::shm::RegionError& e) {
    using E = cwts::shm::RegionErrc;
    switch (e.code()) {
      case E::kNotFound:
      case E::kInitializing:
      case E::kClosed:
      case E::kStale:
        raise(g_not_running, std::string(e.what()) +
                                 " — is cwtsd running with region.instance = '" + instance_ + "'?");
      case E::kVersionMismatch:
      case E::kHashMismatch:
      case E::kBadMagic:
      case E::kSizeMismatch:
        raise(g_version, std::string(e.what()) +
                             " — rebuild cwts_bridge from the same source as the running cwtsd");
      case E::kPermission:
        raise(g_error,
              std::string(e.what()) +
                  " — add this user to the region's group (region.group in the engine config)");
      default:
        raise(g_error, e.what());
    }
  }
  const auto& m = a->mr();
  // Never reallocated: symbols added later are appended (refresh_symbols) while references to
  // the entries may be held.
  a->syms.reserve(layout::kMaxSymbols);
  refresh_symbols(a);
  a->events.emplace(m.events);
  a->epoch = a->market.header().epoch_ns;
  if (want_slot_) {
    cwts::shm::SlotLease lease;
    const auto r = claim(*a, lease);
    if (r.status == cwts::shm::ClaimStatus::kOk) {
      adopt(*a, std::move(lease));
    } else if (initial || r.status == cwts::shm::ClaimStatus::kBadSlot) {
      // On a reattach only a bad slot number raises: any other refusal (taken, not allowed, the
      // engine not answering yet) leaves the slot for need_slot(), and market reads work.
      raise_claim_error(r);
    }
  }
  return a;
}

}  // namespace cwts_bridge

// The module definition names the bridge's types and exceptions unqualified.
using namespace cwts_bridge;

NB_MODULE(_native, m) {
  m.doc() = "cwts_bridge native core (use the cwts_bridge package)";
  register_ta(m);
  m.def("_set_event_type", &cwts_bridge::set_event_type, "type"_a);
  // The fast path of _to_units, for the test that it equals the reference: units or None.
  m.def(
      "_fast_units",
      [](nb::handle value, int decimals, std::int64_t increment,
         nb::handle round) -> std::optional<std::int64_t> {
        using cwts_bridge::RoundMode;
        const std::string r = round.is_none() ? std::string() : nb::cast<std::string>(round);
        const RoundMode mode = r == "down"      ? RoundMode::kDown
                               : r == "nearest" ? RoundMode::kNearest
                                                : RoundMode::kExact;
        return cwts_bridge::amount_units(value, decimals, increment, mode);
      },
      "value"_a.none(), "decimals"_a, "increment"_a, "round"_a.none());
  ::pthread_atfork(nullptr, nullptr, after_fork_in_child);
  g_error = PyErr_NewException("cwts_bridge.CwtsError", PyExc_RuntimeError, nullptr);
  g_not_running = PyErr_NewException("cwts_bridge.EngineNotRunning", g_error, nullptr);
  g_version = PyErr_NewException("cwts_bridge.VersionMismatch", g_error, nullptr);
  g_slot_taken = PyErr_NewException("cwts_bridge.SlotTaken", g_error, nullptr);
  g_ring_full = PyErr_NewException("cwts_bridge.RingFull", g_error, nullptr);
  g_unknown_symbol = PyErr_NewException("cwts_bridge.UnknownSymbol", g_error, nullptr);
  g_engine_restarted = PyErr_NewException("cwts_bridge.EngineRestarted", g_error, nullptr);
  m.attr("CwtsError") = nb::handle(g_error);
  m.attr("EngineNotRunning") = nb::handle(g_not_running);
  m.attr("VersionMismatch") = nb::handle(g_version);
  m.attr("SlotTaken") = nb::handle(g_slot_taken);
  m.attr("RingFull") = nb::handle(g_ring_full);
  m.attr("UnknownSymbol") = nb::handle(g_unknown_symbol);
  m.attr("EngineRestarted") = nb::handle(g_engine_restarted);
  m.attr("LAYOUT_VERSION") = static_cast<std::uint32_t>(layout::kLayoutVersion);
  m.attr("LAYOUT_HASH") = static_cast<std::uint64_t>(layout::kLayoutHash);

  nb::class_<Bridge>(m, "NativeBridge")
      .def(nb::init<std::string, std::optional<int>, std::string, std::string, std::string, bool>(),
           "instance"_a, "slot"_a, "name"_a, "shm_dir"_a, "hugepage_dir"_a, "reattach"_a)
      .def("close", &Bridge::close)
      .def("symbols", &Bridge::symbols)
      .def("quote", &Bridge::quote)
      .def("book", &Bridge::book)
      .def("events", &Bridge::events)
      .def("wait", &Bridge::wait)
      .def("candles", &Bridge::candles)
      .def("timeframes", &Bridge::timeframes)
      .def("indicators", &Bridge::indicators)
      .def("position", &Bridge::position)
      .def("status", &Bridge::status)
      .def("submit_raw", &Bridge::submit_raw)
      .def("submit_fast", &Bridge::submit_fast, "symbol"_a.none(), "side"_a.none(), "qty"_a.none(),
           "price"_a.none(), "type"_a.none(), "tif"_a.none(), "ttl_ms"_a.none(), "tag"_a.none(),
           "reduce_only"_a.none(), "round"_a.none())
      .def("cancel", &Bridge::cancel)
      .def("reports", &Bridge::reports)
      .def("wait_report", &Bridge::wait_report)
      .def("symbol_meta", &Bridge::symbol_meta)
      .def_prop_ro("epoch", &Bridge::epoch)
      .def_prop_ro("slot", &Bridge::slot)
      .def_prop_ro("next_seq", &Bridge::next_seq);
}
