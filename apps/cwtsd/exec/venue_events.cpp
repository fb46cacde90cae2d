// ExecEngine's venue listener (exec thread): order events, rate-limit headers, Retry-After and
// balances from the venue turn into execution reports, positions and balances.
#include <algorithm>

#include "cwts/concurrent/word_copy.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/core/fixed_point.hpp"
#include "cwts/log/json_log.hpp"
#include "exec/exec_engine.hpp"
#include "exec/exec_state.hpp"

namespace cwts::daemon {

namespace cc = cwts::concurrent;
using core::realtime_ns;
using layout::ExecReport;
using layout::RejectReason;
using layout::ReportKind;

namespace {
__extension__ typedef __int128 Wide;
}  // namespace

void ExecEngine::take_fees(Order& o, const venue::OrderEvent& e) noexcept {
  o.fee = e.fee_quote;
  o.fee_native = e.fee_native;
  o.fee_asset.assign(e.fee_asset);
}

core::Qty ExecEngine::base_fee_delta(const Order& o, const venue::OrderEvent& e) const noexcept {
  if (e.fee_asset.empty() || e.fee_asset != base_assets_[o.symbol]) return {};
  const core::Amount before = o.fee_asset.view() == e.fee_asset ? o.fee_native : core::Amount{};
  return core::as_base(e.fee_native - before);
}

void ExecEngine::on_order_event(const venue::OrderEvent& e) {
  const std::int64_t now = now_ns_ != 0 ? now_ns_ : realtime_ns();
  Order* o = find(e.client_order_id);
  if (o == nullptr) {
    ++counters_.orphan_events;
    log_.push(HotRecord{now, spdlog::level::warn, "exec", "orphan_venue_event"}
                  .s("client_order_id", e.client_order_id.data(), e.client_order_id.size())
                  .u("order_id", e.order_id));
    return;
  }
  switch (e.kind) {
    case venue::EventKind::kRejected: {
      const RejectReason r =
          e.expired ? RejectReason::kStale
          : e.code == -1003 || e.code == -1015 || e.http_status == 429 || e.http_status == 418
              ? RejectReason::kRateLimited
              : RejectReason::kVenueRejected;
      return terminal(*o, ReportKind::kRejected, r, e.code, now);
    }
    case venue::EventKind::kUnknown:
      // The venue keeps asking; the order stays open (its fills may still come), and the strategy
      // is told once that its state is not known.
      log_.push(HotRecord{now, spdlog::level::err, "exec", "order_outcome_unknown"}
                    .s("client_order_id", o->cid, o->cid_len)
                    .i("http_status", e.http_status));
      if (!o->unknown_reported) {
        o->unknown_reported = true;
        ExecReport r = base_report(*o, ReportKind::kStatusUnknown, now);
        r.venue_code = e.code;
        report_own(*o, r);
      }
      return;
    case venue::EventKind::kCancelRejected:
      log_.push(HotRecord{now, spdlog::level::info, "exec", "cancel_refused"}
                    .s("client_order_id", o->cid, o->cid_len)
                    .i("venue_code", e.code));
      return;  // the order's own status follows from the venue's query
    case venue::EventKind::kUpdate:
      break;
  }
  o->venue_order_id = e.order_id;
  const bool final = venue::is_final(e.status);
  if (!final && !o->acked) {
    o->acked = true;
    journal_state(*o, now);
    report_own(*o, base_report(*o, ReportKind::kNew, now));
  }
  if (final && !e.fee_known) return;  // the terminal report waits for the fees (myTrades)
  if (e.cum_qty > o->reported_qty) {
    const core::Qty last_qty = e.cum_qty - o->reported_qty;
    const core::Notional last_quote = e.cum_quote - o->reported_quote;
    o->reported_qty = e.cum_qty;
    o->reported_quote = e.cum_quote;
    const core::Notional fee_delta = e.fee_quote - o->fee;
    const core::Qty base_fee = base_fee_delta(*o, e);
    take_fees(*o, e);
    PositionBook& p = positions_[o->symbol];
    const core::Price px = core::average_price(last_quote, last_qty);
    const core::Qty signed_qty = o->side == layout::Side::kBuy ? last_qty : -last_qty;
    (o->side == layout::Side::kBuy ? p.open_buy : p.open_sell) -= last_qty;
    const core::Qty flat{};
    if (p.qty == flat || (p.qty > flat) == (signed_qty > flat)) {
      // Adding to the position: volume-weighted average entry (one division, no rounding of the
      // two notionals on the way).
      const Wide notional = static_cast<Wide>(p.avg_px.raw) * p.qty.abs().raw +
                            static_cast<Wide>(px.raw) * last_qty.raw;
      p.qty += signed_qty;
      p.avg_px = core::Price{static_cast<std::int64_t>(notional / p.qty.abs().raw)};
    } else {
      // Reducing: realise PnL on the closed part; a flip opens at the fill price.
      const core::Qty closing = std::min(last_qty, p.qty.abs());
      p.realized += core::notional(p.qty > flat ? px - p.avg_px : p.avg_px - px, closing);
      p.qty += signed_qty;
      if (p.qty == flat) {
        p.avg_px = core::Price{};
      } else if ((p.qty > flat) == (signed_qty > flat)) {
        p.avg_px = px;
      }
    }
    p.fees += fee_delta;
    // A commission in the base asset leaves the balance short of the fill by that much: the
    // position follows the balance (its cost is in `fees` already, valued in quote).
    p.qty -= base_fee;
    if (p.qty == flat) p.avg_px = core::Price{};
    journal_state(*o, now);
    journal_position(o->symbol, now);
    cc::store_word(market_.status.exec.fills,
                   cc::load_word(market_.status.exec.fills, std::memory_order_relaxed) + 1,
                   std::memory_order_relaxed);
    ExecReport r =
        base_report(*o,
                    e.status == venue::OrderStatus::kFilled ? ReportKind::kFilled
                                                            : ReportKind::kPartiallyFilled,
                    now);
    r.last_qty = last_qty;
    r.last_px = px;
    if (e.status == venue::OrderStatus::kFilled) {
      // The fill report is the terminal one.
      PositionBook& pb = positions_[o->symbol];
      if (pb.open_orders > 0) --pb.open_orders;
      journal_final(*o, ReportKind::kFilled, RejectReason::kNone, 0, now);
      report_own(*o, r);
      if (o->cancel_seq != 0) {
        ExecReport c = base_report(*o, ReportKind::kRejected, now);
        c.signal_seq = o->cancel_seq;
        c.reason = static_cast<std::uint16_t>(RejectReason::kUnknownOrder);
        c.venue_code = -2011;
        report(o->slot, c);
      }
      log_.push(HotRecord{now, spdlog::level::info, "exec", "order_final"}
                    .s("client_order_id", o->cid, o->cid_len)
                    .s("state", "FILLED", 6)
                    .fx("cum_qty", o->reported_qty)
                    .fx("avg_px", r.avg_px)
                    .fx("fee", o->fee));
      publish_position(o->symbol, now);
      release(*o);
      return;
    }
    report_own(*o, r);
    publish_position(o->symbol, now);
  } else if (e.fee_quote != o->fee && e.cum_qty == o->reported_qty) {
    positions_[o->symbol].fees += e.fee_quote - o->fee;
    positions_[o->symbol].qty -= base_fee_delta(*o, e);
    take_fees(*o, e);
    journal_state(*o, now);
    journal_position(o->symbol, now);
  }
  if (!final) return;
  switch (e.status) {
    case venue::OrderStatus::kFilled:
      return terminal(*o, ReportKind::kFilled, RejectReason::kNone, 0, now);
    case venue::OrderStatus::kCanceled:
      return terminal(*o, ReportKind::kCancelled, RejectReason::kNone, 0, now);
    case venue::OrderStatus::kExpired:
      return terminal(*o, ReportKind::kExpired, RejectReason::kNone, 0, now);
    default:
      return terminal(*o, ReportKind::kRejected, RejectReason::kVenueRejected, 0, now);
  }
}

void ExecEngine::on_rate_headers(std::uint64_t used_weight_1m, std::uint64_t orders_10s,
                                 std::uint64_t orders_1d) {
  const std::int64_t now = now_ns_ != 0 ? now_ns_ : realtime_ns();
  if (used_weight_1m != 0) used_weight_1m_.store(used_weight_1m, std::memory_order_relaxed);
  if (orders_10s != 0) orders_10s_.store(orders_10s, std::memory_order_relaxed);
  if (orders_1d != 0) orders_1d_.store(orders_1d, std::memory_order_relaxed);
  if (used_weight_1m != 0) governor_.on_used_weight(used_weight_1m, now);
  if (orders_10s != 0 || orders_1d != 0) governor_.on_order_count(orders_10s, orders_1d, now);
}

void ExecEngine::on_retry_after(int http_status, std::int64_t retry_after_s, std::int32_t code) {
  const std::int64_t now = now_ns_ != 0 ? now_ns_ : realtime_ns();
  governor_.on_retry_after(http_status, retry_after_s, now, code);
  if (http_status == 429) backoffs_429_.fetch_add(1, std::memory_order_relaxed);
  if (http_status == 418) backoffs_418_.fetch_add(1, std::memory_order_relaxed);
  if (http_status == 418) {
    // An IP ban: shown in /readyz, the metrics and an alert until it ends (Binance always sends
    // Retry-After with a 418; two minutes, its shortest ban, if it did not).
    const std::int64_t s = retry_after_s > 0 ? retry_after_s : 120;
    venue_ban_until_ns_.store(now + s * 1'000'000'000, std::memory_order_relaxed);
  }
  log_.push(HotRecord{now, spdlog::level::warn, "exec", "backoff"}
                .i("http_status", http_status)
                .i("retry_after_s", retry_after_s));
}

void ExecEngine::on_balances(std::span<const venue::BalanceUpdate> balances) {
  const std::int64_t now = now_ns_ != 0 ? now_ns_ : realtime_ns();
  std::size_t n = 0;
  for (const auto& b : balances) {
    if (n == layout::kMaxAssets) break;
    const std::size_t len = std::strlen(b.asset);
    if (len > 8) continue;  // the layout's asset names hold 8 characters
    layout::Balance out{};
    out.asset.assign(std::string_view(b.asset, len));
    out.free = b.free;
    out.locked = b.locked;
    out.update_ts_ns = now;
    market_.balances[n++].store(out);
  }
  cc::store_word(market_.asset_count, n, std::memory_order_release);
  balances_read_.store(true, std::memory_order_release);
  if (cfg_.venue.kind == VenueKind::kBinance) {
    last_balances_.assign(balances.begin(), balances.end());
    check_positions(balances, now);
  }
}

void ExecEngine::check_positions(std::span<const venue::BalanceUpdate> balances, std::int64_t now) {
  if (asset_checks_.empty()) {
    for (const auto& b : base_assets_) {
      if (std::none_of(asset_checks_.begin(), asset_checks_.end(),
                       [&b](const AssetCheck& c) { return c.asset == b; }))
        asset_checks_.push_back(AssetCheck{b});
    }
  }
  mismatch_pending_ = false;
  // The baseline is the first balances read once the engine knows what its earlier runs' orders
  // did while it was down: an account read before that holds their fills, and the positions
  // learn of them only afterwards (a false position_mismatch at every such restart).
  const bool baseline_now =
      !balances_seen_ && (rest_venue_ == nullptr || rest_venue_->adopted_orders_known());
  for (AssetCheck& c : asset_checks_) {
    core::Amount held{};  // absent = zero (the account omits zero balances)
    for (const auto& b : balances) {
      if (c.asset == b.asset) held = b.free + b.locked;
    }
    core::Qty position{};
    for (std::size_t s = 0; s < base_assets_.size(); ++s) {
      if (base_assets_[s] == c.asset) position += positions_[s].qty;
    }
    if (!balances_seen_) {
      c.balance_at_start = held;
      c.position_at_start = position;
      continue;
    }
    const core::Qty venue_moved = core::as_base(held - c.balance_at_start);
    const core::Qty engine_moved = position - c.position_at_start;
    if (venue_moved == engine_moved) {
      c.mismatch_since_ns = 0;
      c.told = false;
      continue;
    }
    if (c.mismatch_since_ns == 0) c.mismatch_since_ns = now;
    // Balances may not be told again (the user data stream tells changes only): the exec loop
    // checks a pending difference again until it lasts kMismatchNs or goes away.
    mismatch_pending_ = mismatch_pending_ || !c.told;
    if (c.told || now - c.mismatch_since_ns < kMismatchNs) continue;
    c.told = true;
    position_mismatches_.fetch_add(1, std::memory_order_relaxed);
    char a[40], b[40];
    const std::size_t an = core::format(venue_moved, a), bn = core::format(engine_moved, b);
    log::log_event(spdlog::level::err, "exec", "position_mismatch",
                   log::LogFields()
                       .str("asset", c.asset)
                       .str("venue_change", std::string_view(a, an))
                       .str("position_change", std::string_view(b, bn))
                       .str("why",
                            "the balance moved differently from the engine's positions: "
                            "activity on the account the engine did not cause"));
  }
  balances_seen_ = balances_seen_ || baseline_now;
}

bool ExecEngine::allow_request(std::uint32_t weight) {
  return governor_.try_acquire_background(weight, now_ns_ != 0 ? now_ns_ : realtime_ns()) ==
         engine::RateDecision::kOk;
}

core::Price ExecEngine::mark_price(std::string_view base, std::string_view quote) {
  for (std::size_t i = 0; i < base_assets_.size(); ++i) {
    if (base_assets_[i] != base || quote_assets_[i] != quote) continue;
    const layout::Quote q = market_.symbol(i).quote.load();
    if (q.book_valid == 0 || q.bid_px <= core::Price{} || q.ask_px <= q.bid_px) return {};
    return core::Price{(q.bid_px.raw + q.ask_px.raw) / 2};
  }
  return {};
}

void ExecEngine::on_foreign_order(std::string_view symbol, std::string_view client_order_id,
                                  std::uint64_t order_id) {
  // Cold path (once per foreign order). The engine neither tracks nor reports it, and its
  // positions stay its own: the operator decides (the ctl thread raises an alert).
  foreign_orders_.fetch_add(1, std::memory_order_relaxed);
  log::log_event(spdlog::level::err, "exec", "foreign_order",
                 log::LogFields()
                     .str("symbol", symbol)
                     .str("client_order_id", client_order_id)
                     .unum("order_id", order_id)
                     .str("why", "an open order on the account that this engine did not send"));
}

void ExecEngine::on_venue_error(std::string_view what) {
  // Cold path (transport failures): formatted here, on the exec thread, but only on errors.
  log::log_event(spdlog::level::warn, "venue", "venue_error", log::LogFields().str("error", what));
}

}  // namespace cwts::daemon
