// Test support: what a strategy process does, in C++ — attach the engine's regions, claim a signal
// slot from the engine (ADR 0021: it hands over the slot's memory), push signals, read execution
// reports and market snapshots.
#pragma once

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cwts/concurrent/record_ring.hpp"
#include "cwts/concurrent/word_copy.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/shm/region.hpp"
#include "cwts/shm/signal_submit.hpp"
#include "cwts/shm/slot_lease.hpp"
#include "cwts/shm_layout/market_region.hpp"
#include "cwts/shm_layout/signal_region.hpp"

namespace cwts::test {

using core::realtime_ns;

// Exact decimal → 8-decimal integer for test literals ("0.001" → 100000).
inline std::int64_t fx(double v) {
  return static_cast<std::int64_t>(v * 1e8 + (v >= 0 ? 0.5 : -0.5));
}

class StrategyClient {
 public:
  // Throws std::runtime_error (with the engine's reason) when the slot is not claimed.
  StrategyClient(const std::string& instance, int slot, const std::string& name = "test") {
    shm::RegionOptions o;
    o.instance = instance;
    o.lock_pages = false;
    market_ = shm::Region::attach(layout::RegionKind::kMarket, shm::Access::kReadOnly, o);
    signals_ = shm::Region::attach(layout::RegionKind::kSignals, shm::Access::kReadOnly, o);
    const auto r = shm::SlotLease::claim(signals_, slot, name, lease_);
    if (r.status != shm::ClaimStatus::kOk) {
      throw std::runtime_error("slot not claimed (" + std::string(shm::to_string(r.status)) +
                               "): " + r.reason);
    }
    slot_ = lease_.slot();
    const auto& m = market_.as<layout::MarketRegion>();
    layout::SignalSlot& mem = lease_.memory();
    producer_.emplace(mem.signals, m.slot(slot_).signal_cursor);
    consumer_.emplace(m.slot(slot_).reports, mem.report_cursor);
    next_seq_ = concurrent::load_word(m.slot(slot_).last_signal_seq, std::memory_order_acquire) + 1;
  }
  StrategyClient(const StrategyClient&) = delete;
  StrategyClient& operator=(const StrategyClient&) = delete;
  // Releases the slot (the lease, after the producer and consumer that point into its memory).
  ~StrategyClient() = default;

  [[nodiscard]] const layout::MarketRegion& market() const {
    return market_.as<layout::MarketRegion>();
  }
  [[nodiscard]] const shm::Region& market_region() const { return market_; }
  [[nodiscard]] std::uint32_t slot() const { return slot_; }
  [[nodiscard]] std::uint64_t next_seq() const { return next_seq_; }
  // Numbers the next signal at least `seq` (a strategy that numbers across engine runs).
  void skip_to(std::uint64_t seq) { next_seq_ = std::max(next_seq_, seq); }
  // The slot's memory and claim (ADR 0021), e.g. for a test that plays a misbehaving owner.
  [[nodiscard]] shm::SlotLease& lease() { return lease_; }

  [[nodiscard]] int symbol_id(const std::string& name) const {
    const auto& m = market();
    const auto n = concurrent::load_word(m.symbol_count, std::memory_order_acquire);
    for (std::uint64_t i = 0; i < n; ++i) {
      if (m.symbol(i).info.load().name.view() == name) return static_cast<int>(i);
    }
    return -1;
  }
  [[nodiscard]] layout::Quote quote(int sym) const { return market().symbol(sym).quote.load(); }
  [[nodiscard]] layout::Position position(int sym) const {
    return market().symbol(sym).position.load();
  }

  static layout::Signal make(int sym, layout::Side side, layout::OrderType type, std::int64_t qty,
                             std::int64_t price = 0,
                             layout::TimeInForce tif = layout::TimeInForce::kGtc) {
    layout::Signal s{};
    s.symbol = static_cast<std::uint16_t>(sym);
    s.side = static_cast<std::uint8_t>(side);
    s.type = static_cast<std::uint8_t>(type);
    s.tif = static_cast<std::uint8_t>(
        type == layout::OrderType::kLimit ? tif : layout::TimeInForce::kNone);
    s.price.raw = price;
    s.qty.raw = qty;
    return s;
  }

  // Assigns the next seq (unless `keep_seq`), stamps created_ns, pushes (waiting for room).
  std::uint64_t submit(layout::Signal s, bool keep_seq = false) {
    if (!keep_seq) s.seq = next_seq_++;
    if (s.created_ns == 0) s.created_ns = realtime_ns();
    while (producer_->try_push(s) != concurrent::PushStatus::kOk) {
      drain();
      std::this_thread::yield();
    }
    return s.seq;
  }
  std::uint64_t cancel(std::uint64_t target_seq) {
    layout::Signal s{};
    s.type = static_cast<std::uint8_t>(layout::OrderType::kCancel);
    s.target_seq = target_seq;
    return submit(s);
  }
  [[nodiscard]] concurrent::PushStatus try_submit(layout::Signal s) {
    s.seq = next_seq_;
    if (s.created_ns == 0) s.created_ns = realtime_ns();
    const auto st = producer_->try_push(s);
    if (st == concurrent::PushStatus::kOk) ++next_seq_;
    return st;
  }

  // As a strategy sends (the bridge's submit()): through the intake protocol, never waiting.
  // kOk consumes a seq; so does a signal pushed as the engine closed its intake.
  [[nodiscard]] shm::SubmitStatus send(layout::Signal s) {
    s.seq = next_seq_;
    if (s.created_ns == 0) s.created_ns = realtime_ns();
    const auto st = shm::submit_signal(signals_.as<layout::SignalsRegion>(), *producer_, s);
    if (st == shm::SubmitStatus::kOk) ++next_seq_;
    return st;
  }

  // Moves every available report into reports().
  std::size_t drain() {
    std::size_t n = 0;
    layout::ExecReport r;
    while (consumer_->try_pop(r) == concurrent::PopStatus::kOk) {
      reports_.push_back(r);
      ++n;
    }
    return n;
  }
  [[nodiscard]] const std::vector<layout::ExecReport>& reports() const { return reports_; }
  // The reports read so far (draining first), handed over: a long-running client's way.
  [[nodiscard]] std::vector<layout::ExecReport> take_reports() {
    drain();
    return std::exchange(reports_, {});
  }

  // Reports of one signal, waiting until its terminal one arrives (or the timeout).
  std::vector<layout::ExecReport> wait_terminal(
      std::uint64_t seq, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      drain();
      std::vector<layout::ExecReport> out;
      bool done = false;
      for (const auto& r : reports_) {
        if (r.signal_seq != seq) continue;
        out.push_back(r);
        done = done || layout::is_terminal(static_cast<layout::ReportKind>(r.kind));
      }
      if (done) return out;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return {};
  }

 private:
  shm::Region market_;
  shm::Region signals_;   // read-only: the engine's intake state (header)
  shm::SlotLease lease_;  // declared before producer_/consumer_: destroyed after them
  std::uint32_t slot_ = 0;
  std::uint64_t next_seq_ = 1;
  std::optional<concurrent::RecordProducer<layout::Signal, layout::kSignalRingCapacity>> producer_;
  std::optional<concurrent::RecordConsumer<layout::ExecReport, layout::kReportRingCapacity>>
      consumer_;
  std::vector<layout::ExecReport> reports_;
};

}  // namespace cwts::test
