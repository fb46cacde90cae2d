// ExecEngine: execution reports to the slots (held while a strategy does not read them), an
// order's terminal report, and the positions it moves.
#include <algorithm>
#include <cstring>

#include "cwts/concurrent/word_copy.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/log/json_log.hpp"
#include "exec/exec_engine.hpp"
#include "exec/exec_state.hpp"

namespace cwts::daemon {

namespace cc = cwts::concurrent;
using layout::ExecReport;
using layout::RejectReason;
using layout::ReportKind;

layout::ExecReport ExecEngine::base_report(const Order& o, ReportKind kind,
                                           std::int64_t now) const noexcept {
  ExecReport r{};
  r.signal_seq = o.seq;
  r.kind = static_cast<std::uint8_t>(kind);
  r.side = static_cast<std::uint8_t>(o.side);
  r.symbol = o.symbol;
  r.client_order_id.assign(o.cid_view());
  r.venue_order_id = o.venue_order_id;
  r.cum_qty = o.reported_qty;
  r.avg_px = core::average_price(o.reported_quote, o.reported_qty);
  r.fee = o.fee;
  r.fee_native = o.fee_native;
  r.fee_asset = o.fee_asset;
  r.ts_ns = now;
  return r;
}

void ExecEngine::report(std::uint32_t slot, const layout::ExecReport& r) {
  auto& count = report_counts_[r.kind & 15U][r.reason & 31U];  // single writer: no RMW needed
  count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  SlotState& st = *slots_[slot];
  if (st.overflow.empty() && st.producer->try_push(r) == cc::PushStatus::kOk) return;
  // The strategy is behind on its reports: hold them (in order) until it makes room. A holder's
  // reports are never dropped; this is the one allocation on the exec path, and only under
  // back-pressure. For a slot nobody holds (its holder died or left without reading them) the
  // held reports are bounded: the oldest go, counted (the dead owner's loss), once a ring and
  // kMaxHeldReports are full.
  if (st.held == nullptr && st.overflow.size() >= kMaxHeldReports) {
    st.overflow.pop_front();
    ++counters_.reports_lost;
    if ((counters_.reports_lost & (counters_.reports_lost - 1)) == 0) {  // 1, 2, 4, 8, ...
      log_.push(HotRecord{r.ts_ns, spdlog::level::warn, "exec", "reports_lost"}
                    .u("slot", slot)
                    .u("total", counters_.reports_lost));
    }
  }
  st.overflow.push_back(r);
  ++counters_.reports_overflowed;
}

void ExecEngine::report_own(const Order& o, const ExecReport& r) {
  if (!o.terminal_sent) report(o.slot, r);
}

void ExecEngine::flush_overflow(std::uint32_t slot) {
  SlotState& st = *slots_[slot];
  while (!st.overflow.empty() &&
         st.producer->try_push(st.overflow.front()) == cc::PushStatus::kOk) {
    st.overflow.pop_front();
  }
}

void ExecEngine::terminal(Order& o, ReportKind kind, RejectReason reason, std::int32_t venue_code,
                          std::int64_t now) {
  journal_final(o, kind, reason, venue_code, now);
  ExecReport r = base_report(o, kind, now);
  r.reason = static_cast<std::uint16_t>(reason);
  r.venue_code = venue_code;
  report_own(o, r);
  if (o.cancel_seq != 0) {
    // The cancel signal ends with its target: CANCELLED if the cancel took, otherwise refused
    // because the order had already ended (filled, expired, rejected).
    ExecReport c = base_report(
        o, kind == ReportKind::kCancelled ? ReportKind::kCancelled : ReportKind::kRejected, now);
    c.signal_seq = o.cancel_seq;
    if (kind != ReportKind::kCancelled) {
      c.reason = static_cast<std::uint16_t>(RejectReason::kUnknownOrder);
      c.venue_code = -2011;
    }
    report(o.slot, c);
  }
  PositionBook& p = positions_[o.symbol];
  const core::Qty open_left = o.qty - o.reported_qty;
  (o.side == layout::Side::kBuy ? p.open_buy : p.open_sell) -= std::max(open_left, core::Qty{});
  if (p.open_orders > 0) --p.open_orders;
  const char* name = kind == ReportKind::kFilled      ? "FILLED"
                     : kind == ReportKind::kCancelled ? "CANCELLED"
                     : kind == ReportKind::kExpired   ? "EXPIRED"
                                                      : "REJECTED";
  log_.push(HotRecord{now,
                      kind == ReportKind::kRejected ? spdlog::level::warn : spdlog::level::info,
                      "exec", "order_final"}
                .s("client_order_id", o.cid, o.cid_len)
                .s("state", name, std::strlen(name))
                .fx("cum_qty", o.reported_qty)
                .i("venue_code", venue_code)
                .u("reason", static_cast<std::uint64_t>(reason)));
  publish_position(o.symbol, now);
  release(o);
}

void ExecEngine::publish_position(std::uint16_t symbol, std::int64_t now) {
  const PositionBook& p = positions_[symbol];
  layout::Position pos{};
  pos.qty = p.qty;
  pos.avg_px = p.avg_px;
  pos.realized_pnl = p.realized;
  pos.fees = p.fees;
  pos.open_orders = p.open_orders;
  pos.update_ts_ns = now;
  market_.symbol(symbol).position.store(pos);
}

// ---- order table ------------------------------------------------------------------------------

}  // namespace cwts::daemon
