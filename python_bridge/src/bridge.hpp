// cwts_bridge._native: the strategy side of the shared-memory contract for Python — the Bridge
// (an attachment to the engine's regions), shared by the files that define its methods:
// native.cpp (the module, attach / reattach / close), bridge_reads.cpp (market data) and
// bridge_signals.cpp (the signal slot: signals and their reports).
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "cwts/concurrent/broadcast_ring.hpp"
#include "cwts/concurrent/record_ring.hpp"
#include "cwts/concurrent/seqlock.hpp"
#include "cwts/shm/region.hpp"
#include "cwts/shm/slot_lease.hpp"
#include "cwts/shm_layout/layout.hpp"
#include "cwts/shm_layout/market_region.hpp"
#include "cwts/shm_layout/signal_region.hpp"
#include "records.hpp"

namespace cwts_bridge {

namespace cc = cwts::concurrent;
namespace layout = cwts::layout;

// Exception types (created in the module init, native.cpp; Python subclasses of CwtsError).
extern PyObject* g_error;             // CwtsError
extern PyObject* g_not_running;       // EngineNotRunning
extern PyObject* g_version;           // VersionMismatch
extern PyObject* g_slot_taken;        // SlotTaken
extern PyObject* g_ring_full;         // RingFull
extern PyObject* g_unknown_symbol;    // UnknownSymbol
extern PyObject* g_engine_restarted;  // EngineRestarted

// Incremented in the child of every fork(): a bridge made before the fork belongs to the parent.
extern std::atomic<std::uint64_t> g_forks;

[[noreturn]] inline void raise(PyObject* type, const std::string& msg) {
  PyErr_SetString(type, msg.c_str());
  throw nb::python_error();
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
         std::string hugepage_dir, bool reattach);
  ~Bridge() { close(); }

  void close();

  // ---- reads (bridge_reads.cpp) ------------------------------------------------------------
  std::vector<std::string> symbols();
  nb::tuple quote(const std::string& sym);
  nb::tuple book(const std::string& sym, std::size_t depth);
  nb::list events(std::size_t max);
  bool wait(double timeout_s);
  nb::tuple candles(const std::string& sym, std::uint32_t timeframe_s, bool partial);
  std::vector<std::uint32_t> timeframes();
  nb::dict indicators(const std::string& sym);
  nb::tuple position(const std::string& sym);
  nb::dict status();
  nb::tuple symbol_meta(const std::string& sym);

  // ---- signals (bridge_signals.cpp) --------------------------------------------------------
  std::uint64_t submit_raw(const std::string& sym, int side, int type, int tif, std::int64_t price,
                           std::int64_t qty, std::uint32_t ttl_ms, const std::string& tag,
                           bool reduce_only);
  std::int64_t submit_fast(nb::handle symbol, nb::handle side, nb::handle qty, nb::handle price,
                           nb::handle type, nb::handle tif, nb::handle ttl_ms, nb::handle tag,
                           nb::handle reduce_only, nb::handle round);
  std::uint64_t cancel(std::uint64_t target_seq);
  std::vector<nb::tuple> reports();
  std::optional<nb::tuple> wait_report(std::uint64_t seq, double timeout_s);

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

  // A consistent copy of a seqlock-protected snapshot. The engine never holds a seqlock for more
  // than a few stores, so a read that keeps failing means the engine is stopped (SIGSTOP, a
  // debugger) or died mid-store and left the lock odd for good: the read then waits with the GIL
  // released, raises EngineNotRunning once the engine is gone, and lets Ctrl-C through.
  template <typename T>
  T snapshot(const std::shared_ptr<Attachment>& a, const cc::Seqlock<T>& lock) {
    T out;
    snapshot_into(a, out, [&lock](T& o) { return lock.try_load(o); });
    return out;
  }
  // The same for a record read by `try_load(out)` (one attempt each, true once consistent): a
  // book, whose length is its region's.
  template <typename T, typename TryLoad>
  void snapshot_into(const std::shared_ptr<Attachment>& a, T& out, TryLoad try_load) {
    for (std::uint32_t i = 0; i < kSpinAttempts; ++i) {
      if (try_load(out)) return;
      cc::cpu_relax();
    }
    while (true) {
      bool got = false;
      bool gone = false;
      {
        nb::gil_scoped_release release;
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
        while (!got && std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(std::chrono::microseconds(100));
          got = try_load(out);
        }
        if (!got) gone = a->market.superseded();  // `a` keeps the mapping while we look
      }
      if (closed_) raise(g_error, "the bridge is closed");
      // Before the signal handlers: a handler may read a book too, into the same per-thread copy
      // (a pending signal runs at the caller's next bytecode).
      if (got) return;
      if (PyErr_CheckSignals() != 0) throw nb::python_error();
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

  // ---- the attachment (native.cpp) ---------------------------------------------------------
  const std::shared_ptr<Attachment>& refresh_symbols(const std::shared_ptr<Attachment>& a);
  std::shared_ptr<Attachment> check_epoch();

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

  void install(std::shared_ptr<Attachment> a);
  std::shared_ptr<Attachment> make_attachment(bool initial);

  // ---- the signal slot (bridge_signals.cpp) ------------------------------------------------
  cwts::shm::ClaimResult claim(const Attachment& a, cwts::shm::SlotLease& lease);
  void adopt(Attachment& a, cwts::shm::SlotLease&& lease);
  void raise_claim_error(const cwts::shm::ClaimResult& r);
  void need_slot();
  std::uint64_t push(layout::Signal& s);
  void report_unread_signals(Attachment& a);
  void drain_reports(Attachment& a);

  int symbol_id(const std::string& sym) const;  // bridge_reads.cpp

  // One symbol's metadata and a consistent copy of one of its seqlocked records (quote, book,
  // position); `a` keeps the attachment, and so `m`, alive while the caller converts.
  template <typename T>
  struct SymbolRead {
    std::shared_ptr<Attachment> a;
    const SymbolMeta& m;
    T v;
  };
  template <typename T>
  SymbolRead<T> read_symbol(const std::string& sym, cc::Seqlock<T> layout::SymbolEntry::*field) {
    auto a = check_epoch();
    const int id = symbol_id(sym);
    const SymbolMeta& m = a->syms[static_cast<std::size_t>(id)];
    T v = snapshot(a, a->mr().symbol(id).*field);
    return {std::move(a), m, v};
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

}  // namespace cwts_bridge
