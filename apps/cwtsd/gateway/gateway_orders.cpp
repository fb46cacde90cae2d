#include "gateway/gateway_orders.hpp"

#include "cwts/core/fixed_point.hpp"

namespace cwts::daemon {

using layout::ReportKind;

GatewayOrders::GatewayOrders(std::int64_t first_trade_id, std::size_t max_orders,
                             std::size_t max_trades)
    : max_orders_(max_orders), max_trades_(max_trades), next_trade_id_(first_trade_id) {}

std::string GatewayOrders::cid_key(std::string_view symbol, std::string_view cid) {
  std::string k(symbol);
  k.push_back('\0');
  k.append(cid);
  return k;
}

GatewayOrder& GatewayOrders::add(std::uint64_t seq, const binance::NewOrder& req,
                                 std::uint16_t symbol_id, std::string_view quote_asset,
                                 std::int64_t now_ms) {
  GatewayOrder& g = orders_[seq];
  g.seq = seq;
  g.symbol_id = symbol_id;
  g.quote_asset = std::string(quote_asset);
  g.fee_asset = g.quote_asset;
  binance::Order& o = g.order;
  o.symbol = req.symbol;
  o.order_id = static_cast<std::int64_t>(seq);
  o.client_order_id = req.client_order_id;
  o.side = req.side;
  o.type = req.type;
  o.tif = req.tif;
  o.price = req.price;
  o.orig_qty = req.quantity;
  o.status = binance::OrderStatus::kNew;
  o.time_ms = o.update_time_ms = o.working_time_ms = now_ms;
  o.stp_mode = req.stp_mode;
  o.strategy_id = req.strategy_id;
  o.strategy_type = req.strategy_type;
  by_cid_[cid_key(o.symbol, o.client_order_id)] = seq;
  evict();
  return g;
}

void GatewayOrders::add_cancel(std::uint64_t cancel_seq, std::uint64_t target_seq,
                               std::string cancel_cid) {
  GatewayCancel& c = cancels_[cancel_seq];
  c.target_seq = target_seq;
  c.cancel_client_order_id = std::move(cancel_cid);
  if (GatewayOrder* g = find_any(target_seq)) g->cancel_seq = cancel_seq;
}

void GatewayOrders::apply(const layout::ExecReport& r, std::int64_t now_ms) {
  const auto kind = static_cast<ReportKind>(r.kind);
  if (const auto c = cancels_.find(r.signal_seq); c != cancels_.end()) {
    if (layout::is_terminal(kind)) {
      c->second.final = true;
      c->second.kind = kind;
      c->second.reason = static_cast<layout::RejectReason>(r.reason);
      c->second.venue_code = r.venue_code;
      if (GatewayOrder* g = find_any(c->second.target_seq);
          g != nullptr && g->cancel_seq == r.signal_seq)
        g->cancel_seq = 0;
    }
    return;
  }
  GatewayOrder* gp = find_any(r.signal_seq);
  if (gp == nullptr) return;  // an order this gateway forgot (evicted) or never sent
  GatewayOrder& g = *gp;
  binance::Order& o = g.order;
  if (!r.client_order_id.view().empty())
    g.venue_client_order_id = std::string(r.client_order_id.view());
  if (r.venue_order_id != 0) g.venue_order_id = r.venue_order_id;
  if (g.final) return;  // never expected: one terminal report per signal
  switch (kind) {
    case ReportKind::kAccepted:
      return;
    case ReportKind::kRejected:
      g.venue_answered = g.final = true;
      g.reject_reason = static_cast<layout::RejectReason>(r.reason);
      g.venue_code = r.venue_code;
      // An order the venue never held is not queryable; one that rested and was then refused
      // (never expected) is reported as expired.
      if (o.executed_qty.is_zero() && o.status == binance::OrderStatus::kNew && g.fills.empty()) {
        g.rejected = true;
        by_cid_.erase(cid_key(o.symbol, o.client_order_id));
      } else {
        o.status = binance::OrderStatus::kExpired;
      }
      o.update_time_ms = now_ms;
      return;
    case ReportKind::kNew:
      g.venue_answered = g.rested = true;
      o.update_time_ms = o.working_time_ms = now_ms;
      return;
    case ReportKind::kStatusUnknown:
      return;  // the engine keeps asking the venue; a waiting client gets -1007 at its timeout
    case ReportKind::kPartiallyFilled:
    case ReportKind::kFilled:
    case ReportKind::kCancelled:
    case ReportKind::kExpired:
      break;
  }
  g.venue_answered = true;
  on_fill(g, r, now_ms);
  if (kind == ReportKind::kFilled) {
    o.status = binance::OrderStatus::kFilled;
  } else if (kind == ReportKind::kCancelled) {
    o.status = binance::OrderStatus::kCanceled;
  } else if (kind == ReportKind::kExpired) {
    o.status = binance::OrderStatus::kExpired;
  } else if (o.executed_qty > core::Qty{}) {
    o.status = binance::OrderStatus::kPartiallyFilled;
  }
  g.final = layout::is_terminal(kind);
  o.update_time_ms = now_ms;
}

// The fill(s) a report adds: cum_qty past what is recorded becomes one fill (at last_px when the
// report carries exactly that quantity, else at the average price of the new quantity); a fee
// change without new quantity is added to the order's last fill. Commissions are the venue's, in
// the asset it charged (the report's fee_asset; the quote asset when that is empty).
void GatewayOrders::on_fill(GatewayOrder& g, const layout::ExecReport& r, std::int64_t now_ms) {
  binance::Order& o = g.order;
  const bool native = !r.fee_asset.view().empty();
  set_fee_asset(g, native ? r.fee_asset.view() : std::string_view(g.quote_asset));
  // A fee valued in quote (no fee_asset) is charged in the quote asset: as that asset's amount.
  const core::Amount fee_total = native ? r.fee_native : core::as_amount(r.fee);
  const core::Amount fee_delta = fee_total - g.fee_applied;
  const core::Qty new_qty = r.cum_qty - o.executed_qty;
  if (new_qty > core::Qty{}) {
    const core::Notional cum_quote = core::notional(r.avg_px, r.cum_qty);
    binance::Fill f;
    f.qty = new_qty;
    if (r.last_qty == new_qty && r.last_px > core::Price{}) {
      f.price = r.last_px;
      f.quote_qty = core::notional(f.price, f.qty);
    } else {
      f.quote_qty = cum_quote > o.cumm_quote_qty ? cum_quote - o.cumm_quote_qty : core::Notional{};
      f.price = core::average_price(f.quote_qty, f.qty);
    }
    f.commission = fee_delta;
    f.commission_asset = g.fee_asset;
    f.trade_id = next_trade_id_++;
    o.executed_qty = r.cum_qty;
    o.cumm_quote_qty += f.quote_qty;
    g.fills.push_back(f);
    binance::Trade t;
    t.symbol = o.symbol;
    t.id = f.trade_id;
    t.order_id = o.order_id;
    t.price = f.price;
    t.qty = f.qty;
    t.quote_qty = f.quote_qty;
    t.commission = f.commission;
    t.commission_asset = f.commission_asset;
    t.time_ms = now_ms;
    t.is_buyer = o.side == binance::Side::kBuy;
    // Resting (acknowledged as NEW) before it filled: the order made the liquidity.
    t.is_maker = g.rested;
    trades_.push_back(std::move(t));
    while (trades_.size() > max_trades_) trades_.pop_front();
    g.fee_applied = fee_total;
  } else if (!fee_delta.is_zero() && !g.fills.empty()) {
    g.fills.back().commission += fee_delta;
    for (auto it = trades_.rbegin(); it != trades_.rend(); ++it) {
      if (it->id == g.fills.back().trade_id) {
        it->commission += fee_delta;
        break;
      }
    }
    g.fee_applied = fee_total;
  }
}

// The asset the order's commissions are stated in. It changes when the venue's commissions become
// known after the fills (reported as 0 in quote until then) or turn out to be in more than one
// asset (then valued in quote): the order's whole fee is then restated in the new asset, on its
// last fill.
void GatewayOrders::set_fee_asset(GatewayOrder& g, std::string_view asset) {
  if (g.fee_asset == asset) return;
  g.fee_asset = std::string(asset);
  g.fee_applied = core::Amount{};
  for (binance::Fill& f : g.fills) {
    f.commission = core::Amount{};
    f.commission_asset = g.fee_asset;
  }
  for (binance::Trade& t : trades_) {
    if (t.order_id != g.order.order_id || t.symbol != g.order.symbol) continue;
    t.commission = core::Amount{};
    t.commission_asset = g.fee_asset;
  }
}

GatewayOrder* GatewayOrders::find_any(std::uint64_t seq) noexcept {
  const auto it = orders_.find(seq);
  return it == orders_.end() ? nullptr : &it->second;
}

GatewayOrder* GatewayOrders::find(std::uint64_t seq) noexcept {
  GatewayOrder* g = find_any(seq);
  return g == nullptr || g->rejected ? nullptr : g;
}

GatewayOrder* GatewayOrders::find_client(std::string_view symbol, std::string_view cid) noexcept {
  const auto it = by_cid_.find(cid_key(symbol, cid));
  return it == by_cid_.end() ? nullptr : find(it->second);
}

bool GatewayOrders::client_id_in_use(std::string_view symbol, std::string_view cid) const {
  return by_cid_.count(cid_key(symbol, cid)) != 0;
}

const GatewayCancel* GatewayOrders::cancel(std::uint64_t cancel_seq) const noexcept {
  const auto it = cancels_.find(cancel_seq);
  return it == cancels_.end() ? nullptr : &it->second;
}

std::vector<binance::Order> GatewayOrders::open_orders(std::string_view symbol) const {
  std::vector<binance::Order> out;
  for (const auto& [seq, g] : orders_) {
    if (g.rejected || !g.order.is_open()) continue;
    if (!symbol.empty() && g.order.symbol != symbol) continue;
    out.push_back(g.order);
  }
  return out;
}

std::vector<binance::Order> GatewayOrders::all_orders(std::string_view symbol,
                                                      std::optional<std::int64_t> from_id,
                                                      std::optional<std::int64_t> start_ms,
                                                      std::optional<std::int64_t> end_ms,
                                                      std::uint32_t limit) const {
  std::vector<binance::Order> out;
  for (const auto& [seq, g] : orders_) {
    const binance::Order& o = g.order;
    if (g.rejected || o.symbol != symbol) continue;
    if (from_id && o.order_id < *from_id) continue;
    if (start_ms && o.time_ms < *start_ms) continue;
    if (end_ms && o.time_ms > *end_ms) continue;
    out.push_back(o);
  }
  binance::keep_list_window(out, from_id.has_value(), limit);
  return out;
}

std::vector<binance::Trade> GatewayOrders::trades(const binance::MyTradesQuery& q) const {
  std::vector<binance::Trade> out;
  for (const binance::Trade& t : trades_) {
    if (t.symbol != q.symbol) continue;
    if (q.order_id && t.order_id != *q.order_id) continue;
    if (q.from_id && t.id < *q.from_id) continue;
    if (q.start_time_ms && t.time_ms < *q.start_time_ms) continue;
    if (q.end_time_ms && t.time_ms > *q.end_time_ms) continue;
    out.push_back(t);
  }
  binance::keep_list_window(out, q.from_id.has_value(), q.limit);
  return out;
}

void GatewayOrders::evict() {
  for (auto it = orders_.begin(); orders_.size() > max_orders_ && it != orders_.end();) {
    if (it->second.final && it->second.cancel_seq == 0) {
      by_cid_.erase(cid_key(it->second.order.symbol, it->second.order.client_order_id));
      it = orders_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace cwts::daemon
