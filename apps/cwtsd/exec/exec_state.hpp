// ExecEngine's private state types, shared by its translation units (exec_engine.cpp: the loop,
// signals and reports; venue_events.cpp: the venue listener). Exec thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <string_view>

#include "cwts/concurrent/record_ring.hpp"
#include "exec/exec_engine.hpp"

namespace cwts::daemon {

// A signal the engine accepted and whose order is not final yet.
struct ExecEngine::Order {
  bool in_use = false;
  std::uint32_t slot = 0;
  std::uint64_t seq = 0;
  std::uint16_t symbol = 0;
  layout::Side side = layout::Side::kNone;
  std::int64_t qty = 0;
  char cid[40] = {};
  std::uint8_t cid_len = 0;
  std::uint64_t venue_order_id = 0;
  bool acked = false;             // kNew reported (or skipped: filled at once)
  bool unknown_reported = false;  // kStatusUnknown sent (once)
  std::int64_t reported_qty = 0;  // cum qty already reported as fills
  std::int64_t reported_quote = 0;
  std::int64_t fee = 0;                 // cumulative, quote asset
  std::int64_t fee_native = 0;          // cumulative, as the venue charged it, in fee_asset
  layout::FixedString<16> fee_asset{};  // "" = quote (see layout::ExecReport)
  std::uint64_t cancel_seq = 0;         // a cancel signal waiting for this order's end (0 = none)
  std::int64_t cancel_created = 0;
  [[nodiscard]] std::string_view cid_view() const noexcept { return {cid, cid_len}; }
};

struct ExecEngine::SlotState {
  SlotState(const layout::SignalSlot& in, layout::SlotEngineSide& out)
      : consumer(in.signals, out.signal_cursor),
        producer(out.reports, in.report_cursor),
        engine(out) {}
  concurrent::RecordConsumer<layout::Signal, layout::kSignalRingCapacity> consumer;
  concurrent::RecordProducer<layout::ExecReport, layout::kReportRingCapacity> producer;
  layout::SlotEngineSide& engine;
  std::deque<layout::ExecReport> overflow;  // reports the strategy has not made room for yet
  std::uint64_t claim_seen = 0;
};

struct ExecEngine::PositionBook {
  std::int64_t qty = 0;  // signed
  std::int64_t avg_px = 0;
  std::int64_t realized = 0;  // quote
  std::int64_t fees = 0;      // quote
  std::int64_t open_buy = 0;  // remaining qty of open orders
  std::int64_t open_sell = 0;
  std::uint32_t open_orders = 0;
};

}  // namespace cwts::daemon
