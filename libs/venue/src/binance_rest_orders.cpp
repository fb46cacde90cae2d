// BinanceRestVenue::Impl, order tracking: the venue's answers (order, openOrders, myTrades,
// account, errors), cancels, fees and the events reported to the listener.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "binance_rest_impl.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/net/http_header.hpp"

namespace cwts::venue {

namespace {

using core::realtime_ns;

using detail::parse8;

}  // namespace

// ---- cancels, acknowledgements, events -------------------------------------------------
// DELETE /api/v3/order for a tracked order the venue has acknowledged; before that, the cancel
// waits for the acknowledgement (sent earlier, it could overtake the order, be refused as
// unknown and leave the order resting once it arrives). An order whose request has not left the
// queue yet (held by the venue's back-off, or waiting for a connection) is taken out of it and
// ends CANCELLED here: sent later, a cancel_all or a release during a back-off would not stop it.
void BinanceRestVenue::Impl::request_cancel(const std::string& cid, const std::string& symbol,
                                            std::int64_t not_before_ns, std::uint32_t attempt) {
  if (auto it = orders.find(cid); it != orders.end() && !it->second.acknowledged) {
    if (it->second.final) return;
    const auto queued = std::find_if(queue.begin(), queue.end(), [&](const Job& j) {
      return j.kind == JobKind::kPlace && j.cid == cid;
    });
    if (queued != queue.end()) {
      queue.erase(queued);
      return end_unsent_cancelled(it);
    }
    it->second.cancel_wanted = true;
    // An order of this run waits for its acknowledgement (a cancel could overtake it). An adopted
    // one does not wait for its status query, which spends request weight the engine's budget may
    // hold back for long (found by the soak: such orders rested at the venue after the stop): a
    // cancel by client order id cancels it, or answers -2011 if it is gone, and its status, asked
    // then, says what happened to it.
    if (!it->second.adopted) return;
  }
  Job j;
  j.kind = JobKind::kCancel;
  j.verb = http::verb::delete_;
  j.path = "/api/v3/order";
  j.cid = cid;
  j.symbol = symbol;
  j.params = "symbol=" + j.symbol + "&origClientOrderId=" + j.cid;
  j.weight = 1;
  j.not_before_ns = not_before_ns;
  j.attempt = attempt;
  enqueue(std::move(j));
}

// Sent once the venue has the order, or again when a cancel was not executed: a cancel lost with
// its connection, answered 5xx or refused left the order resting with nothing behind it, and the
// engine, which saw the cancel go out, never sends another (found by the soak: an order open at
// the venue after the final stop). Every cancel after the first waits longer, to 10 s, so a venue
// that keeps refusing is not hammered.
// An order that is not on the venue (its request never left the queue, or the venue proved it
// absent) and was cancelled: it ends CANCELLED here, never sent.
void BinanceRestVenue::Impl::end_unsent_cancelled(OrderMap::iterator it) {
  it->second.status = OrderStatus::kCanceled;
  it->second.final = true;
  publish(it->first, it->second);
  forget(it);
}

void BinanceRestVenue::Impl::acknowledged(const std::string& cid, Tracked& t) {
  t.acknowledged = true;
  if (t.cancel_wanted && !is_final(t.status)) {
    std::int64_t wait_ns = 0;
    if (t.cancels_again > 0) {
      const std::uint32_t doublings = std::min<std::uint32_t>(t.cancels_again - 1, 6);
      wait_ns = std::min<std::int64_t>(250'000'000LL << doublings, 10'000'000'000LL);
    }
    ++t.cancels_again;
    request_cancel(cid, t.symbol, wait_ns == 0 ? 0 : realtime_ns() + wait_ns, t.cancels_again);
  }
  t.cancel_wanted = false;
}

void BinanceRestVenue::Impl::cancel_owed(const std::string& cid, const std::string& symbol) {
  if (auto it = orders.find(cid); it != orders.end() && !it->second.final)
    it->second.cancel_wanted = true;
  enqueue_query(cid, symbol, 0, realtime_ns());
}

void BinanceRestVenue::Impl::emit(const OrderEvent& e) {
  // With the stream live, outboundAccountPosition brings the balances a fill moved.
  if (e.cum_qty > core::Qty{} && ws_state != WsState::kLive) refresh_account_soon();
  if (listener != nullptr) listener->on_order_event(e);
}

void BinanceRestVenue::Impl::refresh_account_soon() {
  if (next_account_ns == 0) {
    account_after_fill = true;  // a refresh is queued or in flight: one more after it
    return;
  }
  next_account_ns = std::min(next_account_ns, realtime_ns() + kAccountAfterFillNs);
}

// ---- responses -------------------------------------------------------------------------
void BinanceRestVenue::Impl::on_response(Job& j, const detail::Answer& res) {
  if (listener != nullptr) {
    listener->on_rate_headers(res.used_weight_1m, res.order_count_10s, res.order_count_1d);
  }
  simdjson::dom::element doc;
  const bool parsed = json.parse(res.body).get(doc) == simdjson::SUCCESS;
  on_answer(j, res.status, doc, parsed, res.retry_after_s, res.body);
}

void BinanceRestVenue::Impl::on_answer(Job& j, int status, simdjson::dom::element doc, bool parsed,
                                       std::int64_t retry_after_s, std::string_view raw) {
  if (status == 429 || status == 418) {
    // The body's code tells which limit: -1003 request weight (per IP), -1015 order count (per
    // account: new orders only, no ban).
    std::int64_t code = -1003;
    if (!parsed || doc["code"].get(code) != simdjson::SUCCESS) code = -1003;
    // Binance's bans last at most 3 days: a larger (or garbled) Retry-After is taken as that.
    retry_after_s = std::clamp<std::int64_t>(retry_after_s, 0, net::kMaxRetryAfterS);
    if (status == 418 || code != -1015) {
      // Every request waits, not only this one: the rest of the queue would be sent at once
      // otherwise, and Binance bans an IP that goes on before Retry-After (418: 2 min to 3 days).
      const std::int64_t wait_s =
          retry_after_s > 0 ? retry_after_s : (status == 418 ? std::int64_t{120} : 1);
      opt.backoff->hold_until(realtime_ns() + wait_s * 1'000'000'000LL);
    }
    if (listener != nullptr)
      listener->on_retry_after(status, retry_after_s, static_cast<std::int32_t>(code));
    if (j.kind == JobKind::kPlace) {
      // Refused before processing: nothing was placed.
      return reject(j.cid, static_cast<std::int32_t>(code), status, "rate limited by the venue");
    }
    j.not_before_ns = realtime_ns() + std::max<std::int64_t>(retry_after_s, 1) * 1'000'000'000LL;
    if (j.kind == JobKind::kAccount) account_queued = false;
    if (j.kind == JobKind::kAccount) return enqueue_account(j.not_before_ns);
    if (j.kind == JobKind::kOpenOrders) return (void)open_orders_queued.erase(j.symbol);
    return enqueue(std::move(j));
  }
  if (status >= 500) {
    if (listener != nullptr)
      listener->on_venue_error("venue " + std::to_string(status) + " on " + j.path);
    return unknown_outcome(j, status);
  }
  if (!parsed) {
    if (listener != nullptr) listener->on_venue_error("unparsable answer on " + j.path);
    return unknown_outcome(j, status);
  }
  if (status != 200) {
    std::int64_t code = 0;
    std::string_view msg;
    if (doc["code"].get(code) != simdjson::SUCCESS) code = 0;
    if (doc["msg"].get(msg) != simdjson::SUCCESS) msg = raw;
    // -1006 / -1007: "execution status unknown", whatever the HTTP status says: the request may
    // have been executed, so its outcome is established by a query, never assumed.
    if (code == -1006 || code == -1007) {
      if (listener != nullptr) {
        listener->on_venue_error("venue " + std::to_string(code) + " on " + j.path +
                                 ": execution status unknown");
      }
      return unknown_outcome(j, status);
    }
    // -1021: the timestamp was outside recvWindow: the clock is measured again at once.
    if (code == -1021) enqueue_time(0);
    return on_error(j, status, static_cast<std::int32_t>(code), msg);
  }
  switch (j.kind) {
    case JobKind::kPlace:
    case JobKind::kQuery:
    case JobKind::kCancel:
      return on_order(j, doc);
    case JobKind::kOpenOrders:
      return on_open_orders(j, doc);
    case JobKind::kMyTrades:
      return on_my_trades(j, doc);
    case JobKind::kAccount:
      return on_account(doc);
    case JobKind::kTime:
      return on_time(j, doc);
  }
}

// An order not sent (or not resent) because its signal's deadline passed: nothing of it exists
// on the venue.
void BinanceRestVenue::Impl::reject_expired(const std::string& cid, std::string_view msg) {
  reject(cid, 0, 0, msg, /*expired=*/true);
}

void BinanceRestVenue::Impl::reject(const std::string& cid, std::int32_t code, int http_status,
                                    std::string_view msg, bool expired) {
  auto it = orders.find(cid);
  if (it == orders.end()) return;
  OrderEvent e;
  e.kind = EventKind::kRejected;
  e.client_order_id = it->first;
  e.expired = expired;
  e.code = code;
  e.http_status = http_status;
  e.message = msg;
  emit(e);
  forget(it);
}

void BinanceRestVenue::Impl::on_error(Job& j, int status, std::int32_t code, std::string_view msg) {
  switch (j.kind) {
    case JobKind::kPlace:
      return reject(j.cid, code, status, msg);
    case JobKind::kQuery: {
      auto it = orders.find(j.cid);
      if (it == orders.end()) return;
      if (code == -2013 && !it->second.acknowledged) {
        // Absence proves nothing until the order's own request can no longer execute (Binance
        // refuses it after timestamp + recvWindow): a query that may have overtaken it asks
        // again then. Not sent yet: its own answer will tell.
        const Tracked& t = it->second;
        if (t.sent_ns == 0) return;
        const std::int64_t expired = expiry_ns(t.sent_ns);
        if (j.sent_ns < expired) return enqueue_query(j.cid, j.symbol, j.attempt, expired);
        // Proven absent, and cancelled meanwhile: never sent again (a resent market order would
        // fill after its cancel).
        if (it->second.cancel_wanted) return end_unsent_cancelled(it);
        if (!it->second.resent) {
          // Proven absent after its request expired: resend once, same client order id, unless
          // the signal's own deadline has passed (then it is not executed at all).
          const auto req = placed.find(j.cid);
          if (req != placed.end() && req->second.deadline_ns != 0 &&
              realtime_ns() > req->second.deadline_ns) {
            return reject_expired(j.cid, "never reached the venue; its deadline passed");
          }
          it->second.resent = true;
          ++counters.resends;
          if (req != placed.end()) enqueue(place_job(req->second));
          return;
        }
        // Absent again after the resend expired: the venue never got it.
        return reject(j.cid, code, status, "order never reached the venue");
      }
      return query_failed(j, status, msg);
    }
    case JobKind::kCancel: {
      auto it = orders.find(j.cid);
      if (it == orders.end()) return;
      OrderEvent e;
      e.kind = EventKind::kCancelRejected;
      e.client_order_id = it->first;
      e.code = code;
      e.http_status = status;
      e.message = msg;
      emit(e);
      // Whatever happened to it (filled, already cancelled) comes from its status; still open,
      // it is cancelled again.
      return cancel_owed(j.cid, j.symbol);
    }
    case JobKind::kAccount:
      account_queued = false;
      if (listener != nullptr) {
        listener->on_venue_error("account: " + std::to_string(code) + " " + std::string(msg));
      }
      return enqueue_account(realtime_ns() + 2'000'000'000LL);
    case JobKind::kOpenOrders:
      open_orders_queued.erase(j.symbol);
      return;
    case JobKind::kMyTrades:
      if (listener != nullptr) {
        listener->on_venue_error("myTrades: " + std::to_string(code) + " " + std::string(msg));
      }
      return trades_again(j);
    case JobKind::kTime:
      time_queued = false;
      clock_tried = true;
      return enqueue_time(realtime_ns() + 5'000'000'000LL);
  }
}

// An order object (POST/GET/DELETE /api/v3/order).
void BinanceRestVenue::Impl::on_order(Job& j, simdjson::dom::element doc) {
  auto it = orders.find(j.cid);
  if (it == orders.end()) return;
  Tracked& t = it->second;
  t.answered = true;
  std::string_view status_text;
  OrderStatus st{};
  if (doc["status"].get(status_text) != simdjson::SUCCESS || !parse_status(status_text, st)) {
    if (listener != nullptr) listener->on_venue_error("order without a known status");
    return;
  }
  advance(t, st);
  std::uint64_t oid = 0;
  if (doc["orderId"].get(oid) == simdjson::SUCCESS) t.order_id = oid;
  acknowledged(it->first, t);
  std::string_view s;
  if (doc["executedQty"].get(s) == simdjson::SUCCESS)
    t.cum_qty = std::max(t.cum_qty, parse8<core::Qty>(s));
  if (doc["cummulativeQuoteQty"].get(s) == simdjson::SUCCESS)
    t.cum_quote = std::max(t.cum_quote, parse8<core::Notional>(s));
  // FULL responses carry the fills with their commissions.
  simdjson::dom::array fills;
  if (doc["fills"].get(fills) == simdjson::SUCCESS) (void)add_fills(t, fills, "tradeId");
  publish(it->first, t);
  if (t.cum_qty > t.fee_qty_covered) request_trades(it->first, t);
  finish_if_final(it);
}

void BinanceRestVenue::Impl::on_open_orders(Job& j, simdjson::dom::element doc) {
  open_orders_queued.erase(j.symbol);
  simdjson::dom::array arr;
  if (doc.get(arr) != simdjson::SUCCESS) return;
  std::vector<std::string_view> present;
  for (auto o : arr) {
    std::string_view cid;
    if (o["clientOrderId"].get(cid) != simdjson::SUCCESS) continue;
    present.push_back(cid);
    auto it = orders.find(std::string(cid));
    if (it == orders.end()) {
      std::uint64_t oid = 0;
      if (o["orderId"].get(oid) == simdjson::SUCCESS && foreign_seen.insert(oid).second &&
          listener != nullptr) {
        listener->on_foreign_order(j.symbol, cid, oid);
      }
      continue;
    }
    Tracked& t = it->second;
    std::string_view s;
    OrderStatus st = t.status;
    if (o["status"].get(s) == simdjson::SUCCESS) (void)parse_status(s, st);
    core::Qty cum = t.cum_qty;
    core::Notional quote = t.cum_quote;
    if (o["executedQty"].get(s) == simdjson::SUCCESS) cum = parse8<core::Qty>(s);
    if (o["cummulativeQuoteQty"].get(s) == simdjson::SUCCESS) quote = parse8<core::Notional>(s);
    std::uint64_t oid = 0;
    if (o["orderId"].get(oid) == simdjson::SUCCESS) t.order_id = oid;
    const OrderStatus before = t.status;
    advance(t, st);
    const bool changed = !t.acknowledged || cum > t.cum_qty || t.status != before;
    acknowledged(it->first, t);
    t.cum_qty = std::max(t.cum_qty, cum);
    t.cum_quote = std::max(t.cum_quote, quote);
    if (changed) {
      publish(it->first, t);
      if (t.cum_qty > t.fee_qty_covered) request_trades(it->first, t);
    }
  }
  // Tracked orders of this symbol that are no longer open (and were sent before this poll):
  // their final status comes from a query.
  for (auto& [cid, t] : orders) {
    if (t.symbol != j.symbol || t.final || !t.acknowledged || t.sent_ns >= j.sent_ns) continue;
    if (std::find(present.begin(), present.end(), cid) != present.end()) continue;
    enqueue_query(cid, t.symbol, 0, 0);
  }
}

void BinanceRestVenue::Impl::on_my_trades(Job& j, simdjson::dom::element doc) {
  auto it = orders.find(j.cid);
  if (it == orders.end()) return;
  Tracked& t = it->second;
  simdjson::dom::array arr;
  if (doc.get(arr) != simdjson::SUCCESS) return trades_again(j);
  if (add_fills(t, arr, "id")) {
    t.cum_qty = std::max(t.cum_qty, t.fee_qty_covered);
    publish(it->first, t);
  }
  if (t.cum_qty > t.fee_qty_covered) return trades_again(j);  // not all listed yet
  trades_queued.erase(j.cid);
  finish_if_final(it);
}

void BinanceRestVenue::Impl::on_account(simdjson::dom::element doc) {
  account_queued = false;
  ready = true;
  simdjson::dom::array arr;
  if (doc["balances"].get(arr) == simdjson::SUCCESS) {
    balances.clear();
    for (auto b : arr) {
      std::string_view asset, free_s, locked_s;
      if (b["asset"].get(asset) || b["free"].get(free_s) || b["locked"].get(locked_s)) continue;
      BalanceUpdate u;
      const std::size_t n = std::min(asset.size(), sizeof u.asset - 1);
      std::copy_n(asset.data(), n, u.asset);
      u.free = parse8<core::Amount>(free_s);
      u.locked = parse8<core::Amount>(locked_s);
      balances.push_back(u);
    }
    for (const BalanceUpdate& u : account_overlay) merge_balance(u);
    account_overlay.clear();
    if (listener != nullptr) listener->on_balances(balances);
  }
  next_account_ns =
      realtime_ns() + (account_after_fill
                           ? kAccountAfterFillNs
                           : static_cast<std::int64_t>(opt.account_poll_ms) * 1'000'000);
  account_after_fill = false;
}

// ---- helpers ---------------------------------------------------------------------------
bool BinanceRestVenue::Impl::add_fills(Tracked& t, simdjson::dom::array fills,
                                       std::string_view id_key) const {
  bool any = false;
  for (auto f : fills) {
    std::string_view px, qty, commission, asset;
    std::int64_t id = 0;
    if (f["price"].get(px) || f["qty"].get(qty) || f["commission"].get(commission) ||
        f["commissionAsset"].get(asset) || f[id_key].get(id)) {
      continue;  // not a fill as Binance lists one: its fee stays unknown (myTrades asks again)
    }
    const auto amount = parse8<core::Amount>(commission);
    any = add_fill(t, FillRec{id, parse8<core::Qty>(qty),
                              fee_in_quote(t.symbol, parse8<core::Price>(px), amount, asset),
                              amount, std::string(asset)}) ||
          any;
  }
  return any;
}

bool BinanceRestVenue::Impl::add_fill(Tracked& t, FillRec&& f) {
  for (const FillRec& g : t.fills) {
    if (g.trade_id == f.trade_id) return false;
  }
  t.fills.push_back(std::move(f));
  t.fee_qty_covered = {};
  t.fee_quote = {};
  t.fee_native = {};
  t.fee_asset = t.fills.front().asset;
  bool mixed = false;
  for (const FillRec& g : t.fills) {
    t.fee_qty_covered += g.qty;
    t.fee_quote += g.fee_quote;
    t.fee_native += g.fee_native;
    mixed = mixed || g.asset != t.fee_asset;
  }
  if (mixed) {  // only fee_quote is meaningful then
    t.fee_asset.clear();
    t.fee_native = core::Amount{};
  }
  return true;
}

bool BinanceRestVenue::Impl::fees_known(const std::string& cid) const {
  const auto it = orders.find(cid);
  return it == orders.end() || it->second.cum_qty <= it->second.fee_qty_covered;
}

void BinanceRestVenue::Impl::advance(Tracked& t, OrderStatus st) noexcept {
  if (is_final(t.status) && !is_final(st)) return;
  if (t.status == OrderStatus::kPartiallyFilled && st == OrderStatus::kNew) return;
  t.status = st;
}

core::Notional BinanceRestVenue::Impl::fee_in_quote(const std::string& symbol, core::Price px,
                                                    core::Amount commission,
                                                    std::string_view asset) const {
  const auto it = assets.find(symbol);
  if (it == assets.end()) return {};
  if (asset == it->second.second) return core::as_quote(commission);  // quote asset
  if (asset == it->second.first) {  // base asset: valued at the fill price
    return core::notional(px, core::as_base(commission));
  }
  // A third asset (the BNB discount): valued at the engine's price of it in the quote asset, if
  // it trades that pair; otherwise not, and the operator is told once per asset.
  const core::Price mark =
      listener != nullptr ? listener->mark_price(asset, it->second.second) : core::Price{};
  if (mark > core::Price{}) return core::notional(mark, core::as_base(commission));
  if (listener != nullptr && !asset.empty() &&
      unvalued_fee_assets.insert(std::string(asset)).second) {
    listener->on_venue_error("commission in " + std::string(asset) + " not valued in " +
                             it->second.second + ": add " + std::string(asset) + it->second.second +
                             " to market.symbols");
  }
  return {};
}

void BinanceRestVenue::Impl::publish(const std::string& cid, const Tracked& t) {
  OrderEvent e;
  e.kind = EventKind::kUpdate;
  e.client_order_id = cid;
  e.order_id = t.order_id;
  e.status = t.status;
  e.cum_qty = t.cum_qty;
  e.cum_quote = t.cum_quote;
  e.fee_quote = t.fee_quote;
  e.fee_native = t.fee_native;
  e.fee_asset = t.fee_asset;
  e.fee_known = t.fee_qty_covered >= t.cum_qty;
  emit(e);
}

void BinanceRestVenue::Impl::request_trades(const std::string& cid, const Tracked& t) {
  if (!trades_queued.insert(cid).second) return;
  Job j;
  j.kind = JobKind::kMyTrades;
  j.path = "/api/v3/myTrades";
  j.params = "symbol=" + t.symbol + "&orderId=" + std::to_string(t.order_id) + "&limit=1000";
  j.cid = cid;
  j.symbol = t.symbol;
  j.weight = 20;
  // With the user data stream live, the fills' executionReports normally follow within
  // milliseconds: the look-up waits a second and is dropped if they came (dispatch()).
  if (ws_state == WsState::kLive) j.not_before_ns = realtime_ns() + kStreamFillGraceNs;
  enqueue(std::move(j));
}

void BinanceRestVenue::Impl::finish_if_final(OrderMap::iterator it) {
  Tracked& t = it->second;
  if (!is_final(t.status)) return;
  t.final = true;
  // Kept until its fees are known; then forgotten.
  if (t.cum_qty <= t.fee_qty_covered) {
    trades_queued.erase(it->first);
    forget(it);
  }
}

void BinanceRestVenue::Impl::forget(OrderMap::iterator it) {
  remember_finished(it->first);
  placed.erase(it->first);
  orders.erase(it);
}

void BinanceRestVenue::Impl::merge_balance(const BalanceUpdate& u) {
  for (BalanceUpdate& b : balances) {
    if (std::string_view(b.asset) == std::string_view(u.asset)) {
      b = u;
      return;
    }
  }
  balances.push_back(u);
}

void BinanceRestVenue::Impl::remember_finished(const std::string& cid) {
  if (!finished.insert(cid).second) return;
  if (finished_ring.size() < kFinishedKept) {
    if (finished_ring.capacity() == 0) {
      finished_ring.reserve(kFinishedKept);
      finished.reserve(kFinishedKept);
    }
    finished_ring.push_back(cid);
    return;
  }
  std::string& oldest = finished_ring[finished_next];
  finished.erase(oldest);
  oldest = cid;
  finished_next = (finished_next + 1) % kFinishedKept;
}

}  // namespace cwts::venue
