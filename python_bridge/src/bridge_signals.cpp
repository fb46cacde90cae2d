// cwts_bridge._native: the bridge's signal slot — claiming it from the engine, sending signals
// (submit, cancel) through the intake protocol, and their execution reports.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nanobind/nanobind.h>

#include "bridge.hpp"
#include "cwts/concurrent/record_ring.hpp"
#include "cwts/concurrent/word_copy.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/shm/signal_submit.hpp"
#include "cwts/shm/slot_lease.hpp"
#include "cwts/shm_layout/layout.hpp"
#include "cwts/shm_layout/signal_region.hpp"
#include "fast_submit.hpp"
#include "records.hpp"

namespace cwts_bridge {

using cwts::core::realtime_ns;

// Values are already exact integers at the symbol's scale (the Python layer converts and checks).
std::uint64_t Bridge::submit_raw(const std::string& sym, int side, int type, int tif,
                                 std::int64_t price, std::int64_t qty, std::uint32_t ttl_ms,
                                 const std::string& tag, bool reduce_only) {
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
std::int64_t Bridge::submit_fast(nb::handle symbol, nb::handle side, nb::handle qty,
                                 nb::handle price, nb::handle type, nb::handle tif,
                                 nb::handle ttl_ms, nb::handle tag, nb::handle reduce_only,
                                 nb::handle round) {
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

std::uint64_t Bridge::cancel(std::uint64_t target_seq) {
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
std::vector<nb::tuple> Bridge::reports() {
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
std::optional<nb::tuple> Bridge::wait_report(std::uint64_t seq, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
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

// Asks the engine for the wanted slot (ADR 0021: it hands over the slot's memory) with the GIL
// released: the engine answers within its loop's period, a wedged one within 10 s. `a` must be
// kept alive by the caller (its signals region is read without the GIL). On kOk `lease` holds
// the slot, for adopt().
cwts::shm::ClaimResult Bridge::claim(const Attachment& a, cwts::shm::SlotLease& lease) {
  nb::gil_scoped_release release;
  return cwts::shm::SlotLease::claim(a.signals, *want_slot_, name_, lease);
}

// Makes `lease` the slot of `a`. Every claim gets a fresh signal ring, and the engine read every
// signal of the slot's previous owner before it granted the claim, so the sequence numbers
// continue above everything the slot has seen: this bridge's own numbers (across engine epochs)
// and the engine's last_signal_seq for the slot.
void Bridge::adopt(Attachment& a, cwts::shm::SlotLease&& lease) {
  a.lease = std::move(lease);
  const auto& m = a.mr();
  const std::uint32_t slot = a.lease.slot();
  if (slot >= m.slot_capacity()) {  // the engine's grant, checked against its own region
    throw std::runtime_error("the engine granted signal slot " + std::to_string(slot) +
                             " and its market region holds " + std::to_string(m.slot_capacity()));
  }
  layout::SignalSlot& mem = a.lease.memory();
  a.producer.emplace(mem.signals, m.slot(slot).signal_cursor);
  a.consumer.emplace(m.slot(slot).reports, mem.report_cursor);
  const std::uint64_t last = cc::load_word(m.slot(slot).last_signal_seq, std::memory_order_acquire);
  next_seq_ = std::max(next_seq_, last + 1);
  a.first_seq = next_seq_;
}

// Raises the Python error for a refused claim (nothing for kOk).
void Bridge::raise_claim_error(const cwts::shm::ClaimResult& r) {
  using S = cwts::shm::ClaimStatus;
  const std::string why = r.reason.empty() ? std::string(cwts::shm::to_string(r.status)) : r.reason;
  switch (r.status) {
    case S::kOk:
      return;
    case S::kTaken:
      raise(g_slot_taken, "signal slot " + std::to_string(*want_slot_) +
                              " belongs to a running process (pid " + std::to_string(r.owner_pid) +
                              "); pick another slot or slot=-1 for any free one");
    case S::kNoFreeSlot:
      raise(g_slot_taken, "every signal slot belongs to a running process");
    case S::kBadSlot:
      raise(PyExc_ValueError, why);  // names the slots the engine's region holds
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
void Bridge::need_slot() {
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
std::uint64_t Bridge::push(layout::Signal& s) {
  s.seq = next_seq_;
  s.created_ns = realtime_ns();
  switch (cwts::shm::submit_signal(std::as_const(att_->signals).as<layout::SignalsRegion>(),
                                   *att_->producer, s)) {
    case cwts::shm::SubmitStatus::kOk:
      break;
    case cwts::shm::SubmitStatus::kRingFull:
      raise(g_ring_full, "the signal ring of slot " + std::to_string(att_->slot()) + " is full (" +
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
void Bridge::report_unread_signals(Attachment& a) {
  if (!a.claimed() || !a.producer) return;
  const std::uint64_t head = a.mr().slot(a.slot()).signal_cursor.consumed();
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

void Bridge::drain_reports(Attachment& a) {
  layout::ExecReport r;
  while (a.consumer->try_pop(r) == cc::PopStatus::kOk) pending_.push_back({a.epoch, r});
}

}  // namespace cwts_bridge
