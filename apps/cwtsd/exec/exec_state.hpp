// ExecEngine's private state types, shared by its translation units (exec_engine.cpp: the loop and
// signals; reports.cpp; shutdown.cpp; venue_events.cpp: the venue listener). Exec thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <string_view>

#include "cwts/concurrent/record_ring.hpp"
#include "cwts/core/money.hpp"
#include "exec/exec_engine.hpp"

namespace cwts::daemon {

inline constexpr std::uint32_t kMaxSignalsPerSlotPerLoop = 64;  // fairness between slots
// Reports held for one slot whose strategy does not read them, before its intake pauses.
inline constexpr std::size_t kMaxHeldReports = 4096;

// A signal the engine accepted and whose order is not final yet.
struct ExecEngine::Order {
  bool in_use = false;
  std::uint32_t slot = 0;
  std::uint64_t seq = 0;
  std::uint16_t symbol = 0;
  layout::Side side = layout::Side::kNone;
  core::Qty qty{};
  char cid[40] = {};
  std::uint8_t cid_len = 0;
  std::uint64_t venue_order_id = 0;
  bool acked = false;             // kNew reported (or skipped: filled at once)
  bool unknown_reported = false;  // kStatusUnknown sent (once)
  bool adopted = false;           // an earlier run's order (from the journal), not in the index
  bool left_open = false;         // shutdown ends it for the strategy; it may rest on the venue
  bool terminal_sent = false;     // its signal had its terminal report in an earlier run
  bool cancel_at_start = false;   // a cancel from an earlier run, to send again at start
  std::int64_t sent_ns = 0;
  core::Qty reported_qty{};  // cum qty already reported as fills
  core::Notional reported_quote{};
  core::Notional fee{};                 // cumulative, quote asset
  core::Amount fee_native{};            // cumulative, as the venue charged it, in fee_asset
  layout::FixedString<16> fee_asset{};  // "" = quote (see layout::ExecReport)
  std::uint64_t cancel_seq = 0;         // a cancel signal waiting for this order's end (0 = none)
  std::int64_t cancel_created = 0;
  [[nodiscard]] std::string_view cid_view() const noexcept { return {cid, cid_len}; }
};

struct ExecEngine::SlotState {
  explicit SlotState(layout::SlotEngineSide& out) : engine(out) {
    producer.emplace(out.reports, parked);
  }
  // While nobody holds the slot, the engine's own stand-in for the reader of its report ring:
  // where the last holder stopped reading, and where the next one starts (ADR 0021).
  concurrent::RingCursor parked{};
  const SlotOffer* held = nullptr;  // the memory read now (nullptr: the slot is not read)
  std::optional<concurrent::RecordConsumer<layout::Signal, layout::kSignalRingCapacity>> consumer;
  std::optional<concurrent::RecordProducer<layout::ExecReport, layout::kReportRingCapacity>>
      producer;
  layout::SlotEngineSide& engine;
  std::deque<layout::ExecReport> overflow;  // reports the strategy has not made room for yet
  std::uint64_t claim_seen = 0;
  bool intake_paused = false;  // too many reports held: its signals wait in its ring
};

struct ExecEngine::PositionBook {
  core::Qty qty{};  // signed
  core::Price avg_px{};
  core::Notional realized{};
  core::Notional fees{};
  core::Qty open_buy{};  // remaining qty of open orders
  core::Qty open_sell{};
  std::uint32_t open_orders = 0;
};

}  // namespace cwts::daemon
