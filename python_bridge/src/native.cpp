// cwts_bridge._native: the strategy side of the shared-memory contract for Python. Every read is
// one native call; seqlock retries happen here, and blocking waits release the GIL.
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "cwts/concurrent/broadcast_ring.hpp"
#include "cwts/concurrent/record_ring.hpp"
#include "cwts/concurrent/word_copy.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/shm/candle_history.hpp"
#include "cwts/shm/region.hpp"
#include "cwts/shm/signal_submit.hpp"
#include "cwts/shm/slot_lease.hpp"
#include "cwts/shm_layout/layout.hpp"
#include "cwts/shm_layout/market_region.hpp"
#include "cwts/shm_layout/signal_region.hpp"
#include "fast_submit.hpp"
#include "records.hpp"

namespace nb = nanobind;

void register_ta(nb::module_& m);  // ta_binding.cpp
namespace cc = cwts::concurrent;
namespace layout = cwts::layout;
using namespace nb::literals;

namespace {

// Exception types (created in the module init; Python subclasses of CwtsError).
PyObject* g_error = nullptr;             // CwtsError
PyObject* g_not_running = nullptr;       // EngineNotRunning
PyObject* g_version = nullptr;           // VersionMismatch
PyObject* g_slot_taken = nullptr;        // SlotTaken
PyObject* g_ring_full = nullptr;         // RingFull
PyObject* g_unknown_symbol = nullptr;    // UnknownSymbol
PyObject* g_engine_restarted = nullptr;  // EngineRestarted

// Incremented in the child of every fork(): a bridge made before the fork belongs to the parent.
std::atomic<std::uint64_t> g_forks{0};
void after_fork_in_child() noexcept { g_forks.fetch_add(1, std::memory_order_relaxed); }

[[noreturn]] void raise(PyObject* type, const std::string& msg) {
  PyErr_SetString(type, msg.c_str());
  throw nb::python_error();
}

using cwts::core::realtime_ns;
using cwts_bridge::event_object;
using cwts_bridge::report_tuple;
using cwts_bridge::SymbolMeta;
using cwts_bridge::to_f;

// A NumPy array of n values fill(0..n-1), owning its memory.
template <typename T, typename Fill>
nb::ndarray<nb::numpy, T, nb::ndim<1>> make_array(std::size_t n, Fill fill) {
  auto* data = new T[n == 0 ? 1 : n];
  for (std::size_t i = 0; i < n; ++i) data[i] = fill(i);
  nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<T*>(p); });
  return nb::ndarray<nb::numpy, T, nb::ndim<1>>(data, {n}, owner);
}

using EventReader = cc::BroadcastReader<layout::Event, layout::kEventRingCapacity>;
using SignalProducer = cc::RecordProducer<layout::Signal, layout::kSignalRingCapacity>;
using ReportConsumer = cc::RecordConsumer<layout::ExecReport, layout::kReportRingCapacity>;

// One attachment to one engine epoch: the mappings and everything that points into them. The
// bridge holds it through a shared_ptr, and so does every call that waits with the GIL released,
// so close() or a reattach from another thread never unmaps memory under a waiter: the market
// and signals mappings go when the last holder drops the attachment. (The slot's memory is
// unmapped by release_slot(), with the GIL held: no code touches it without the GIL.) Built
// whole before it is swapped in (a failed attach leaves nothing half-attached).
struct Attachment {
  Attachment() = default;
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;
  // In a forked child the claim is the parent's: drop this process's copies only (ADR 0021).
  ~Attachment() {
    if (g_forks.load(std::memory_order_relaxed) != fork_gen) lease.abandon();
  }

  cwts::shm::Region market;
  cwts::shm::Region signals;  // read-only, mapped when the bridge wants a slot: the intake state
  std::vector<SymbolMeta> syms;
  std::uint64_t epoch = 0;
  std::optional<EventReader> events;
  // The signal slot, once claimed (lease.valid()): its memory, handed over by the engine.
  cwts::shm::SlotLease lease;
  std::uint64_t first_seq = 0;  // the first sequence number this bridge sent in this attachment
  std::optional<SignalProducer> producer;
  std::optional<ReportConsumer> consumer;
  std::uint64_t fork_gen = g_forks.load(std::memory_order_relaxed);

  [[nodiscard]] const layout::MarketRegion& mr() const { return market.as<layout::MarketRegion>(); }
  [[nodiscard]] bool claimed() const noexcept { return lease.valid(); }
  [[nodiscard]] std::uint32_t slot() const noexcept { return lease.slot(); }

  // Gives the slot back to the engine (or, in a forked child, drops this process's copy only).
  void release_slot() {
    producer.reset();
    consumer.reset();
    if (g_forks.load(std::memory_order_relaxed) != fork_gen) {
      lease.abandon();
    } else {
      lease.release();
    }
  }
};

// An execution report with the engine epoch it came from: wait_report(seq) never matches a
// report of another epoch's signal with the same number.
struct PendingReport {
  std::uint64_t epoch;
  layout::ExecReport report;
};

// Thread safety: every method runs with the GIL held, which serialises them; the only code that
// runs without it (the waits in wait(), wait_report() and a snapshot read of a stopped engine)
// touches shared memory only through its own reference to the attachment and re-validates the
// bridge (closed? reattached?) after it takes the GIL back.
class Bridge {
 public:
  Bridge(std::string instance, std::optional<int> slot, std::string name, std::string shm_dir,
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
  ~Bridge() { close(); }

  // In a forked child it only drops the child's copy of the mappings and of the claim's
  // connection (SlotLease::abandon): the claim is the parent's.
  void close() {
    closed_ = true;
    if (att_) att_->release_slot();
    att_.reset();
    pending_.clear();
    generation_.fetch_add(1, std::memory_order_release);
  }

  // ---- reads -------------------------------------------------------------------------------
  std::vector<std::string> symbols() {
    const auto a = check_epoch();
    std::vector<std::string> out;
    for (const auto& s : a->syms) out.push_back(s.name);
    return out;
  }

  nb::tuple quote(const std::string& sym) {
    const auto a = check_epoch();
    const int id = symbol_id(sym);
    const auto& m = a->syms[static_cast<std::size_t>(id)];
    const layout::Quote q = snapshot(a, a->mr().symbols[id].quote);
    return nb::make_tuple(to_f(q.bid_px.raw, m.px_dec), to_f(q.ask_px.raw, m.px_dec),
                          to_f(q.bid_qty.raw, m.qty_dec), to_f(q.ask_qty.raw, m.qty_dec),
                          to_f(q.last_px.raw, m.px_dec), to_f(q.last_qty.raw, m.qty_dec),
                          static_cast<int>(q.last_side), q.update_id, q.exchange_ts_ns,
                          q.receive_ts_ns, q.publish_ts_ns, q.book_valid != 0);
  }

  // (bid_px, bid_qty, ask_px, ask_qty, update_id, book_valid) from one consistent snapshot.
  nb::tuple book(const std::string& sym, std::size_t depth) {
    const auto a = check_epoch();
    const int id = symbol_id(sym);
    const auto& m = a->syms[static_cast<std::size_t>(id)];
    const layout::BookTop b = snapshot(a, a->mr().symbols[id].book);
    const std::size_t nb_ = std::min({depth, std::size_t{b.bid_count}, layout::kBookDepth});
    const std::size_t na = std::min({depth, std::size_t{b.ask_count}, layout::kBookDepth});
    auto arr = [](std::size_t n, auto fill) { return make_array<double>(n, fill); };
    return nb::make_tuple(
        arr(nb_, [&](std::size_t i) { return to_f(b.bid_px[i].raw, m.px_dec); }),
        arr(nb_, [&](std::size_t i) { return to_f(b.bid_qty[i].raw, m.qty_dec); }),
        arr(na, [&](std::size_t i) { return to_f(b.ask_px[i].raw, m.px_dec); }),
        arr(na, [&](std::size_t i) { return to_f(b.ask_qty[i].raw, m.qty_dec); }), b.update_id,
        b.book_valid != 0);
  }

  // Up to `max` events, a list of cwts_bridge.Event (kind, symbol, seq, update_id, exchange_ns,
  // receive_ns, publish_ns, a, b, c, d). A lap is reported as ("lapped", "", skipped, ...) —
  // never hidden.
  nb::list events(std::size_t max) {
    const auto a = check_epoch();
    if (names_epoch_ != a->epoch) {  // the symbols' names as Python strings, made once
      names_.clear();
      names_epoch_ = a->epoch;
    }
    if (names_.empty()) names_.push_back(nb::str(""));  // [0]: an id the table does not have
    while (names_.size() < a->syms.size() + 1)
      names_.push_back(nb::str(a->syms[names_.size() - 1].name.c_str()));
    nb::list out;
    layout::Event ev{};
    std::uint64_t seq = 0;
    std::size_t n = 0;
    while (n++ < max) {
      const auto st = a->events->try_read(ev, &seq);
      if (st == cc::ReadStatus::kEmpty) break;
      if (st == cc::ReadStatus::kLapped) {
        const std::uint64_t skipped = a->events->resync();
        if (a->claimed()) {  // the slot owner tells the engine (/metrics: lapped readers)
          auto& w = a->lease.memory().events_lapped;
          cc::store_word(w, cc::load_word(w, std::memory_order_relaxed) + skipped,
                         std::memory_order_relaxed);
        }
        out.append(nb::steal(event_object(nullptr, skipped, names_[0].ptr(), 8, 8)));
        continue;
      }
      const bool known = ev.symbol < a->syms.size();
      const auto& m = known ? a->syms[ev.symbol] : cwts_bridge::SymbolMeta{};
      out.append(nb::steal(
          event_object(&ev, seq, names_[known ? ev.symbol + 1U : 0U].ptr(), m.px_dec, m.qty_dec)));
    }
    return out;
  }

  // Blocks (GIL released) until an event is published or the timeout; True if one is waiting.
  // close() from another thread makes it raise CwtsError; a reattach (by any thread) makes it
  // carry on waiting on the new engine's ring.
  bool wait(double timeout_s) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (true) {
      const auto a = check_epoch();
      const std::uint64_t gen = generation_.load(std::memory_order_acquire);
      const std::uint64_t next = a->events->next_sequence();
      const auto& ring = a->mr().events;
      enum { kEvent, kTimeout, kChanged, kGone } outcome = kEvent;
      {
        nb::gil_scoped_release release;
        // Spin, then yield the core, then sleep: a sleep costs the timer slack (~50 us) on
        // wake-up, so it is only for waits that are already long (> 2 ms).
        const auto start = std::chrono::steady_clock::now();
        auto next_liveness = start + kCheckEvery;
        std::uint32_t spins = 0;
        // The next record's own slot, not the writer's head: the head line changes with every
        // record the engine publishes, the slot only when this record is complete (and its
        // words come with the same lines). A slot already past it means a lap: events() says so.
        const std::uint64_t& slot_seq =
            ring.slots[(next - 1) & (layout::kEventRingCapacity - 1)].seq;
        while (cc::load_word(slot_seq, std::memory_order_acquire) < 2 * next) {
          if (generation_.load(std::memory_order_acquire) != gen) {
            outcome = kChanged;
            break;
          }
          if (++spins < 2000) continue;
          const auto now = std::chrono::steady_clock::now();
          if (now >= deadline) {
            outcome = kTimeout;
            break;
          }
          if (now - start < std::chrono::milliseconds(2)) {
            std::this_thread::yield();
          } else {
            if (now >= next_liveness) {  // a long wait notices an engine that went away
              next_liveness = now + kCheckEvery;
              if (a->market.superseded()) {
                outcome = kGone;
                break;
              }
            }
            std::this_thread::sleep_for(std::chrono::microseconds(50));
          }
        }
      }
      if (closed_) raise(g_error, "the bridge is closed");
      if (outcome == kEvent) return true;
      if (outcome == kTimeout) return false;
      if (outcome == kGone) force_check_ = true;  // check_epoch() reattaches or raises
      if (std::chrono::steady_clock::now() >= deadline) return false;
    }
  }

  // Candles of one timeframe: (open_time_ms, open, high, low, close, volume, trades, closed) as
  // NumPy arrays, oldest first; the live candle last when `partial`.
  nb::tuple candles(const std::string& sym, std::uint32_t timeframe_s, bool partial) {
    const auto a = check_epoch();
    const int id = symbol_id(sym);
    const auto& m = a->syms[static_cast<std::size_t>(id)];
    const auto& mr = a->mr();
    int tf = -1;
    const auto n_tf = mr.config.timeframe_count;
    std::string known;
    for (std::uint32_t i = 0; i < n_tf && i < layout::kMaxTimeframes; ++i) {
      if (mr.config.timeframe_s[i] == timeframe_s) tf = static_cast<int>(i);
      known += (known.empty() ? "" : ", ") + std::to_string(mr.config.timeframe_s[i]) + "s";
    }
    if (tf < 0) {
      raise(PyExc_ValueError, "timeframe " + std::to_string(timeframe_s) +
                                  "s is not published by the engine (it publishes " + known +
                                  "; see market.timeframes in its config)");
    }
    const auto& series = mr.candles[id][tf];
    std::vector<layout::Candle> rows;
    cwts::shm::read_closed_candles(series, layout::kCandleHistory, rows);
    if (partial) {
      const layout::Candle live = snapshot(a, series.live);
      if (live.open_time_ms != 0 && (rows.empty() || live.open_time_ms > rows.back().open_time_ms))
        rows.push_back(live);
    }
    const std::size_t n = rows.size();
    auto col = [&](auto get) {
      return make_array<double>(n, [&](std::size_t i) { return get(rows[i]); });
    };
    return nb::make_tuple(
        make_array<std::int64_t>(n, [&](std::size_t i) { return rows[i].open_time_ms; }),
        col([&](const layout::Candle& x) { return to_f(x.open.raw, m.px_dec); }),
        col([&](const layout::Candle& x) { return to_f(x.high.raw, m.px_dec); }),
        col([&](const layout::Candle& x) { return to_f(x.low.raw, m.px_dec); }),
        col([&](const layout::Candle& x) { return to_f(x.close.raw, m.px_dec); }),
        col([&](const layout::Candle& x) { return to_f(x.volume.raw, m.qty_dec); }),
        col([&](const layout::Candle& x) { return static_cast<double>(x.trades); }),
        col([&](const layout::Candle& x) { return static_cast<double>(x.closed); }));
  }

  std::vector<std::uint32_t> timeframes() {
    const auto a = check_epoch();
    const auto& mr = a->mr();
    std::vector<std::uint32_t> out;
    for (std::uint32_t i = 0; i < mr.config.timeframe_count && i < layout::kMaxTimeframes; ++i) {
      out.push_back(mr.config.timeframe_s[i]);
    }
    return out;
  }

  nb::dict indicators(const std::string& sym) {
    const auto a = check_epoch();
    const int id = symbol_id(sym);
    const layout::IndicatorTable table = snapshot(a, a->mr().symbols[id].indicator_table);
    const layout::IndicatorValues vals = snapshot(a, a->mr().symbols[id].indicators);
    nb::dict d;
    for (std::uint32_t i = 0; i < table.count && i < layout::kMaxIndicators; ++i) {
      d[nb::str(std::string(table.desc[i].name.view()).c_str())] = vals.value[i];
    }
    return d;
  }

  nb::tuple position(const std::string& sym) {
    const auto a = check_epoch();
    const int id = symbol_id(sym);
    const auto& m = a->syms[static_cast<std::size_t>(id)];
    const layout::Position p = snapshot(a, a->mr().symbols[id].position);
    return nb::make_tuple(to_f(p.qty.raw, m.qty_dec), to_f(p.avg_px.raw, m.px_dec),
                          to_f(p.realized_pnl.raw, m.px_dec), to_f(p.fees.raw, m.px_dec),
                          p.open_orders);
  }

  nb::dict status() {
    const auto a = check_epoch();
    const auto& st = a->mr().status;
    auto rd = [](const std::uint64_t& w) { return cc::load_word(w, std::memory_order_relaxed); };
    nb::dict d;
    d["instance"] = instance_;
    d["epoch_ns"] = a->epoch;
    d["layout_version"] = static_cast<std::uint32_t>(layout::kLayoutVersion);
    d["symbols"] = a->syms.size();
    d["frames"] = rd(st.md.frames);
    d["parse_errors"] = rd(st.md.parse_errors);
    d["gaps"] = rd(st.md.gaps);
    d["resyncs"] = rd(st.md.resyncs);
    d["signals_seen"] = rd(st.exec.signals_seen);
    d["signals_accepted"] = rd(st.exec.signals_accepted);
    d["signals_rejected"] = rd(st.exec.signals_rejected);
    d["orders_sent"] = rd(st.exec.orders_sent);
    d["fills"] = rd(st.exec.fills);
    d["trading_state"] = rd(st.exec.trading_state);
    d["md_heartbeat_ns"] = rd(st.md.heartbeat_ns);
    d["exec_heartbeat_ns"] = rd(st.exec.heartbeat_ns);
    d["slot"] = a->claimed() ? nb::cast(a->slot()) : nb::none();
    nb::dict bal;
    const auto n = cc::load_word(a->mr().asset_count, std::memory_order_acquire);
    for (std::uint64_t i = 0; i < n && i < layout::kMaxAssets; ++i) {
      const layout::Balance b = snapshot(a, a->mr().balances[i]);
      bal[nb::str(std::string(b.asset.view()).c_str())] =
          nb::make_tuple(to_f(b.free.raw, 8), to_f(b.locked.raw, 8));
    }
    d["balances"] = bal;
    return d;
  }

  // ---- signals -----------------------------------------------------------------------------
  // Values are already exact integers at the symbol's scale (the Python layer converts and checks).
  std::uint64_t submit_raw(const std::string& sym, int side, int type, int tif, std::int64_t price,
                           std::int64_t qty, std::uint32_t ttl_ms, const std::string& tag,
                           bool reduce_only) {
    check_epoch();
    need_slot();
    layout::Signal s{};
    s.symbol = static_cast<std::uint16_t>(symbol_id(sym));
    s.side = static_cast<std::uint8_t>(side);
    s.type = static_cast<std::uint8_t>(type);
    s.tif = static_cast<std::uint8_t>(tif);
    s.flags = reduce_only ? layout::kSignalReduceOnly : 0;
    s.price.raw = price;
    s.qty.raw = qty;
    s.ttl_ms = ttl_ms;
    s.tag.assign(tag);
    return push(s);
  }

  // Bridge.submit's common case in one call (fast_submit.hpp): its sequence number, or -1 when it
  // is not the common case and nothing was sent (the Python checks decide, and raise).
  std::int64_t submit_fast(nb::handle symbol, nb::handle side, nb::handle qty, nb::handle price,
                           nb::handle type, nb::handle tif, nb::handle ttl_ms, nb::handle tag,
                           nb::handle reduce_only, nb::handle round) {
    cwts_bridge::FastSubmit f;
    if (!cwts_bridge::decode_submit(symbol, side, qty, price, type, tif, ttl_ms, tag, reduce_only,
                                    round, f)) {
      return -1;
    }
    const auto a = check_epoch();
    layout::Signal s;
    if (!cwts_bridge::fill_signal(f, a->syms, s)) return -1;
    need_slot();
    return static_cast<std::int64_t>(push(s));
  }

  std::uint64_t cancel(std::uint64_t target_seq) {
    check_epoch();
    need_slot();
    layout::Signal s{};
    s.type = static_cast<std::uint8_t>(layout::OrderType::kCancel);
    s.target_seq = target_seq;
    return push(s);
  }

  // New execution reports: tuples (seq, kind, reason, symbol, side, client_order_id,
  // venue_order_id, last_qty, last_px, cum_qty, avg_px, fee, venue_code, ts_ns, fee_native,
  // fee_asset, epoch).
  std::vector<nb::tuple> reports() {
    const auto a = check_epoch();
    need_slot();
    drain_reports(*a);
    std::vector<nb::tuple> out;
    for (const auto& p : pending_) out.push_back(report_tuple(p.report, a->syms, p.epoch));
    pending_.clear();
    return out;
  }

  // Waits (GIL released) for the terminal report of `seq`; returns it (and keeps the others for
  // reports()), or None at the timeout. Only a report of the epoch `seq` was sent in matches.
  std::optional<nb::tuple> wait_report(std::uint64_t seq, double timeout_s) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (true) {
      const auto a = check_epoch();  // after every sleep: closed or reattached by another thread?
      need_slot();
      drain_reports(*a);
      // A sequence number below the first one sent in this attachment was sent to an earlier
      // engine; reports of this epoch with such a number belong to a previous owner of the slot.
      const bool this_epoch = seq >= a->first_seq;
      for (auto it = pending_.begin(); it != pending_.end(); ++it) {
        if (it->report.signal_seq == seq && (it->epoch == a->epoch) == this_epoch &&
            layout::is_terminal(static_cast<layout::ReportKind>(it->report.kind))) {
          nb::tuple t = report_tuple(it->report, a->syms, it->epoch);
          pending_.erase(it);
          return t;
        }
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      nb::gil_scoped_release release;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  nb::tuple symbol_meta(const std::string& sym) {
    const auto a = check_epoch();
    const int id = symbol_id(sym);
    const auto& m = a->syms[static_cast<std::size_t>(id)];
    return nb::make_tuple(m.px_dec, m.qty_dec, m.tick, m.step);
  }

  // The epoch of the engine the bridge is attached to; while it waits to reattach, the last one.
  [[nodiscard]] std::uint64_t epoch() const {
    if (closed_) raise(g_error, "the bridge is closed");
    check_not_forked();
    return att_ ? att_->epoch : epoch_seen_;
  }
  [[nodiscard]] std::optional<int> slot() const {
    return att_ && att_->claimed() ? std::optional<int>(static_cast<int>(att_->slot()))
                                   : std::nullopt;
  }
  [[nodiscard]] std::uint64_t next_seq() const { return next_seq_; }

 private:
  static constexpr auto kCheckEvery = std::chrono::milliseconds(200);
  // Seqlock attempts before a read suspects the writer stopped mid-store (a store takes well under
  // a microsecond; this is about 100 us of spinning).
  static constexpr std::uint32_t kSpinAttempts = 4096;

  // Symbols the engine added since we last looked (symbols.add: symbol_count grows; ADR 0025):
  // one acquire load per call when nothing changed.
  const std::shared_ptr<Attachment>& refresh_symbols(const std::shared_ptr<Attachment>& a) {
    const auto& m = a->mr();
    // acquire: pairs with the engine's release of the count after it wrote the entries.
    const auto n = cc::load_word(m.symbol_count, std::memory_order_acquire);
    for (std::uint64_t i = a->syms.size(); i < n && i < layout::kMaxSymbols; ++i) {
      const layout::SymbolInfo si = snapshot(a, m.symbols[i].info);
      a->syms.push_back({std::string(si.name.view()), si.price_decimals, si.qty_decimals,
                         si.tick_size.raw, si.step_size.raw});
    }
    return a;
  }

  // A consistent copy of a seqlock-protected snapshot. The engine never holds a seqlock for more
  // than a few stores, so a read that keeps failing means the engine is stopped (SIGSTOP, a
  // debugger) or died mid-store and left the lock odd for good: the read then waits with the GIL
  // released, raises EngineNotRunning once the engine is gone, and lets Ctrl-C through.
  template <typename T>
  T snapshot(const std::shared_ptr<Attachment>& a, const cc::Seqlock<T>& lock) {
    T out;
    if (lock.load_bounded(out, kSpinAttempts)) return out;
    while (true) {
      bool got = false;
      bool gone = false;
      {
        nb::gil_scoped_release release;
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
        while (!got && std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(std::chrono::microseconds(100));
          got = lock.try_load(out);
        }
        if (!got) gone = a->market.superseded();  // `a` keeps the mapping while we look
      }
      if (PyErr_CheckSignals() != 0) throw nb::python_error();
      if (closed_) raise(g_error, "the bridge is closed");
      if (got) return out;
      if (gone) {
        force_check_ = true;  // the next call reattaches (or raises) at once
        raise(g_not_running,
              "the engine of instance '" + instance_ +
                  "' stopped in the middle of an update (epoch " + std::to_string(a->epoch) +
                  "); retry: the bridge " +
                  (reattach_ ? "reattaches to the next engine" : "raises EngineRestarted") +
                  " on a later call");
      }
    }
  }

  // The current attachment, after the closed / restarted checks; reattaches when the engine was
  // replaced (at most every 200 ms it asks whether its engine is still the one it attached to).
  // While no engine serves the instance it raises EngineNotRunning, and tries again on every
  // later call: a bridge with reattach=True is never closed for good by a restart.
  std::shared_ptr<Attachment> check_epoch() {
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
                                      "' stopped or restarted (epoch " +
                                      std::to_string(att_->epoch) + "); attach again");
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

  // A forked child (os.fork, multiprocessing's fork start method) holds a copy of the parent's
  // bridge: the same ring tail, the same claim. Using it would interleave two producers on one
  // ring; releasing it would free the parent's slot. It refuses every call instead.
  [[nodiscard]] bool forked() const noexcept {
    return g_forks.load(std::memory_order_relaxed) != fork_gen_;
  }
  void check_not_forked() const {
    if (forked()) {
      raise(g_error, "this bridge was attached by process " + std::to_string(owner_pid_) +
                         " before it forked: attach again in this process (pid " +
                         std::to_string(::getpid()) + ")");
    }
  }

  void install(std::shared_ptr<Attachment> a) {
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
  std::shared_ptr<Attachment> make_attachment(bool initial) {
    auto a = std::make_shared<Attachment>();
    try {
      a->market = cwts::shm::Region::attach(layout::RegionKind::kMarket,
                                            cwts::shm::Access::kReadOnly, opts_);
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
                                   " — is cwtsd running with region.instance = '" + instance_ +
                                   "'?");
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

  // Asks the engine for the wanted slot (ADR 0021: it hands over the slot's memory) with the GIL
  // released: the engine answers within its loop's period, a wedged one within 10 s. `a` must be
  // kept alive by the caller (its signals region is read without the GIL). On kOk `lease` holds
  // the slot, for adopt().
  cwts::shm::ClaimResult claim(const Attachment& a, cwts::shm::SlotLease& lease) {
    nb::gil_scoped_release release;
    return cwts::shm::SlotLease::claim(a.signals, *want_slot_, name_, lease);
  }

  // Makes `lease` the slot of `a`. Every claim gets a fresh signal ring, and the engine read every
  // signal of the slot's previous owner before it granted the claim, so the sequence numbers
  // continue above everything the slot has seen: this bridge's own numbers (across engine epochs)
  // and the engine's last_signal_seq for the slot.
  void adopt(Attachment& a, cwts::shm::SlotLease&& lease) {
    a.lease = std::move(lease);
    const auto& m = a.mr();
    const std::uint32_t slot = a.lease.slot();
    layout::SignalSlot& mem = a.lease.memory();
    a.producer.emplace(mem.signals, m.slots[slot].signal_cursor);
    a.consumer.emplace(m.slots[slot].reports, mem.report_cursor);
    const std::uint64_t last =
        cc::load_word(m.slots[slot].last_signal_seq, std::memory_order_acquire);
    next_seq_ = std::max(next_seq_, last + 1);
    a.first_seq = next_seq_;
  }

  // Raises the Python error for a refused claim (nothing for kOk).
  void raise_claim_error(const cwts::shm::ClaimResult& r) {
    using S = cwts::shm::ClaimStatus;
    const std::string why =
        r.reason.empty() ? std::string(cwts::shm::to_string(r.status)) : r.reason;
    switch (r.status) {
      case S::kOk:
        return;
      case S::kTaken:
        raise(g_slot_taken,
              "signal slot " + std::to_string(*want_slot_) + " belongs to a running process (pid " +
                  std::to_string(r.owner_pid) + "); pick another slot or slot=-1 for any free one");
      case S::kNoFreeSlot:
        raise(g_slot_taken, "every signal slot belongs to a running process");
      case S::kBadSlot:
        raise(PyExc_ValueError,
              "slot must be -1 (any) or 0.." + std::to_string(layout::kMaxSlots - 1));
      case S::kNotAllowed:
        raise(g_error, "the engine of instance '" + instance_ + "' refused signal slot " +
                           (*want_slot_ < 0 ? std::string("(any)") : std::to_string(*want_slot_)) +
                           " to this process: " + why +
                           " (see slots.N.users / slots.N.groups in the engine config)");
      case S::kNotLive:
      case S::kUnavailable:
        raise(g_not_running, "the engine of instance '" + instance_ +
                                 "' does not hand out signal slots: " + why +
                                 " — is cwtsd running with region.instance = '" + instance_ + "'?");
      case S::kProtocol:
        break;
    }
    raise(g_error,
          "claiming a signal slot from the engine of instance '" + instance_ + "' failed: " + why);
  }

  // The slot calls: a bridge that lost its slot across an engine restart claims it again here.
  // The claim waits for the engine with the GIL released: one thread claims at a time, and a
  // close() or reattach by another thread meanwhile raises (so when this returns, att_ is still
  // the attachment the caller got from check_epoch()).
  void need_slot() {
    if (!want_slot_) {
      raise(g_error,
            "this bridge has no signal slot: attach(..., slot=N) or slot=-1 to send signals");
    }
    if (att_->claimed()) return;
    if (claiming_) {
      raise(g_not_running, "the bridge is claiming its signal slot from the engine of instance '" +
                               instance_ + "' in another thread; retry shortly");
    }
    const std::shared_ptr<Attachment> a = att_;  // keeps the signals mapping while unlocked
    cwts::shm::SlotLease lease;
    claiming_ = true;
    const auto r = claim(*a, lease);
    claiming_ = false;
    if (closed_) raise(g_error, "the bridge is closed");  // `lease` gives the slot back
    if (att_ != a) {  // reattached (or dropped) by another thread meanwhile: the caller's
                      // attachment is stale
      raise(g_not_running, "the engine of instance '" + instance_ +
                               "' was replaced while the signal slot was claimed; retry");
    }
    if (r.status != cwts::shm::ClaimStatus::kOk) raise_claim_error(r);
    adopt(*a, std::move(lease));
  }

  // Through the intake protocol (cwts/shm/signal_submit.hpp): a signal returned a seq is read
  // by the engine and gets exactly one terminal report; otherwise this raises and it was not
  // executed.
  std::uint64_t push(layout::Signal& s) {
    s.seq = next_seq_;
    s.created_ns = realtime_ns();
    switch (cwts::shm::submit_signal(std::as_const(att_->signals).as<layout::SignalsRegion>(),
                                     *att_->producer, s)) {
      case cwts::shm::SubmitStatus::kOk:
        break;
      case cwts::shm::SubmitStatus::kRingFull:
        raise(g_ring_full,
              "the signal ring of slot " + std::to_string(att_->slot()) + " is full (" +
                  std::to_string(layout::kSignalRingCapacity) +
                  " signals): the engine is not consuming; check that cwtsd is running");
      case cwts::shm::SubmitStatus::kNotLive:
        raise(g_not_running,
              "the engine of instance '" + instance_ + "' is stopping: the signal was not sent");
      case cwts::shm::SubmitStatus::kNotExecuted:
        ++next_seq_;  // the engine may still report this seq (SHUTDOWN): never reused
        raise(g_not_running, "the engine of instance '" + instance_ +
                                 "' stopped as the signal was sent: it was not executed");
    }
    return next_seq_++;
  }

  // The signals of `a`'s slot its engine never read: it is gone (it stopped, or was killed
  // before it read them). They were never executed and no engine will ever report them, so each
  // gets its terminal report here, REJECTED/SHUTDOWN, of the old epoch (issue 17 #6). Which ones:
  // the engine's cursor into the ring, in the market region this attachment still maps.
  void report_unread_signals(Attachment& a) {
    if (!a.claimed() || !a.producer) return;
    const std::uint64_t head = a.mr().slots[a.slot()].signal_cursor.consumed();
    const std::uint64_t tail = a.producer->next_index();
    const auto& ring = a.lease.memory().signals;
    for (std::uint64_t i = head; i < tail; ++i) {
      layout::Signal s;
      if (tail - i > layout::kSignalRingCapacity || !cc::observe_record(ring, i, s)) continue;
      layout::ExecReport r{};
      r.signal_seq = s.seq;
      r.kind = static_cast<std::uint8_t>(layout::ReportKind::kRejected);
      r.side = s.side;
      r.reason = static_cast<std::uint16_t>(layout::RejectReason::kShutdown);
      r.symbol = s.symbol;
      r.ts_ns = realtime_ns();
      pending_.push_back({a.epoch, r});
    }
  }

  void drain_reports(Attachment& a) {
    layout::ExecReport r;
    while (a.consumer->try_pop(r) == cc::PopStatus::kOk) pending_.push_back({a.epoch, r});
  }

  // In the current attachment (the one check_epoch() just returned).
  int symbol_id(const std::string& sym) const {
    const auto& syms = att_->syms;
    for (std::size_t i = 0; i < syms.size(); ++i) {
      if (syms[i].name == sym) return static_cast<int>(i);
    }
    std::string names;
    for (const auto& s : syms) names += (names.empty() ? "" : ", ") + s.name;
    raise(g_unknown_symbol, "unknown symbol '" + sym + "': the engine publishes " + names);
  }

  std::string instance_;
  std::vector<nb::object> names_;  // events(): "" then each symbol's name, for names_epoch_
  std::uint64_t names_epoch_ = 0;
  std::optional<int> want_slot_;
  std::string name_;
  bool reattach_;
  cwts::shm::RegionOptions opts_;
  std::shared_ptr<Attachment> att_;  // null once closed, or while waiting to reattach
  bool closed_ = false;
  // Changes on close() and on every (re)attach; read without the GIL by waiting calls.
  std::atomic<std::uint64_t> generation_{0};
  std::uint64_t next_seq_ = 1;  // never goes back, across engine epochs and slot claims
  std::uint64_t epoch_seen_ = 0;
  std::chrono::steady_clock::time_point last_check_{};
  bool force_check_ = false;
  bool attaching_ = false;  // a reattach is under way (it may have released the GIL)
  bool claiming_ = false;   // need_slot() waits for the engine's answer (GIL released)
  std::vector<PendingReport> pending_;
  std::uint64_t fork_gen_ = g_forks.load(std::memory_order_relaxed);
  pid_t owner_pid_ = ::getpid();
};

}  // namespace

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
