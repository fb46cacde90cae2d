// BinanceRestVenue (see binance_rest.hpp, docs/engine.md "Venues" and ADR 0010): the public class
// and the order-field names; its Impl is in binance_rest_impl.hpp, _transport.cpp and _orders.cpp.
#include "cwts/venue/binance_rest.hpp"

#include <time.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "binance_rest_impl.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/core/decimal.hpp"

namespace cwts::venue {

namespace {

using core::realtime_ns;
using detail::Job;
using detail::JobKind;
using detail::Tracked;

// Appends the value's wire text. Binance accepts trailing zeros; they are trimmed for readability
// of logs and the sim's echo.
template <class Tag>
void append_fixed(std::string& out, core::Fixed8<Tag> v) {
  char buf[40];
  std::string_view s(buf, core::format(v, buf));
  if (s.find('.') != std::string_view::npos) {
    while (!s.empty() && s.back() == '0') s.remove_suffix(1);
    if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  }
  out += s;
}

}  // namespace

bool is_final(OrderStatus s) noexcept {
  return s == OrderStatus::kFilled || s == OrderStatus::kCanceled || s == OrderStatus::kExpired ||
         s == OrderStatus::kRejected;
}

const char* side_name(layout::Side s) noexcept { return s == layout::Side::kSell ? "SELL" : "BUY"; }
const char* type_name(layout::OrderType t) noexcept {
  switch (t) {
    case layout::OrderType::kMarket:
      return "MARKET";
    case layout::OrderType::kLimitMaker:
      return "LIMIT_MAKER";
    default:
      return "LIMIT";
  }
}
const char* tif_name(layout::TimeInForce t) noexcept {
  switch (t) {
    case layout::TimeInForce::kIoc:
      return "IOC";
    case layout::TimeInForce::kFok:
      return "FOK";
    default:
      return "GTC";
  }
}
bool parse_status(std::string_view s, OrderStatus& out) noexcept {
  if (s == "NEW" || s == "PENDING_NEW")
    out = OrderStatus::kNew;
  else if (s == "PARTIALLY_FILLED")
    out = OrderStatus::kPartiallyFilled;
  else if (s == "FILLED")
    out = OrderStatus::kFilled;
  else if (s == "CANCELED" || s == "PENDING_CANCEL")
    out = OrderStatus::kCanceled;
  else if (s == "EXPIRED" || s == "EXPIRED_IN_MATCH")
    out = OrderStatus::kExpired;
  else if (s == "REJECTED")
    out = OrderStatus::kRejected;
  else
    return false;
  return true;
}

BinanceRestVenue::BinanceRestVenue(asio::io_context& ioc, BinanceRestOptions options)
    : impl_(std::make_unique<Impl>(ioc, std::move(options))) {}

BinanceRestVenue::~BinanceRestVenue() = default;

void BinanceRestVenue::set_listener(VenueListener* l) noexcept { impl_->listener = l; }

void BinanceRestVenue::set_symbol_assets(std::string_view symbol, std::string_view base,
                                         std::string_view quote) {
  impl_->assets[std::string(symbol)] = {std::string(base), std::string(quote)};
}

Job BinanceRestVenue::Impl::place_job(const OrderRequest& r) {
  const std::string_view cid(r.client_order_id);
  Job j;
  j.kind = JobKind::kPlace;
  j.verb = http::verb::post;
  j.path = "/api/v3/order";
  j.cid = cid;
  j.symbol = r.symbol;
  j.weight = 1;
  // The query written into a string an earlier order's job gave back (allocated only while there
  // is none): its parts are bounded (a symbol of at most 15 characters, a client order id of at
  // most 36, two numbers of at most 21), so 256 bytes always hold it.
  std::string& p = j.params;
  if (!spare_params.empty()) {
    p = std::move(spare_params.back());
    spare_params.pop_back();
    p.clear();
  }
  p.reserve(256);
  p += "symbol=";
  p += j.symbol;
  p += "&side=";
  p += side_name(r.side);
  p += "&type=";
  p += type_name(r.type);
  if (r.type == layout::OrderType::kLimit) {
    p += "&timeInForce=";
    p += tif_name(r.tif);
  }
  p += "&quantity=";
  append_fixed(p, r.qty);
  if (r.type != layout::OrderType::kMarket) {
    p += "&price=";
    append_fixed(p, r.price);
  }
  p += "&newClientOrderId=";
  p += cid;
  p += "&newOrderRespType=FULL";
  j.deadline_ns = r.deadline_ns;
  return j;
}

void BinanceRestVenue::Impl::give_back(Job& j) {
  // Orders in flight at once rarely exceed a few; the constructor reserves room for these.
  if (j.kind == JobKind::kPlace && j.params.capacity() >= 256 &&
      spare_params.size() < spare_params.capacity()) {
    spare_params.push_back(std::move(j.params));
  }
}

void BinanceRestVenue::place(const OrderRequest& r) {
  Impl& i = *impl_;
  Job j = i.place_job(r);
  Tracked& t = i.orders[j.cid];
  t = Tracked{};
  t.symbol = j.symbol;
  t.placed_ns = realtime_ns();
  i.placed[j.cid] = r;
  if (i.stamp_writes) {  // log.order_stages: this order's write only (0: it waits)
    i.last_order_write_ns = 0;
    i.placing_cid = std::string_view(r.client_order_id);
  }
  i.enqueue(std::move(j));
  i.placing_cid = {};
}

void BinanceRestVenue::warm() {
  Impl& i = *impl_;
  // A limit order as the engine would give it, for a symbol it trades; a client order id no
  // order has (the engine's start with "cw" and a base-36 time).
  OrderRequest r;
  // (Both arms views: with a literal on one side the other would be copied into a temporary.)
  const std::string_view symbol =
      i.assets.empty() ? std::string_view("BTCUSDT") : std::string_view(i.assets.begin()->first);
  symbol.copy(r.symbol, std::min(symbol.size(), sizeof r.symbol - 1));
  r.side = layout::Side::kBuy;
  r.tif = layout::TimeInForce::kGtc;
  r.price = core::Price{12'345'678'900'000};
  r.qty = core::Qty{100'000};
  std::memcpy(r.client_order_id, "cw_warm_000000", 15);
  Job j = i.place_job(r);
  if (i.orders.find(j.cid) != i.orders.end()) ++i.warm_tracked;
  // The way place() would send it now: the WebSocket API session's frame, or the REST request.
  const std::int64_t now = realtime_ns();
  if (i.ws_orders()) {
    i.ws_signed_request(i.warm_out, "order.place", j.params, 0, now);
  } else {
    i.write_request(i.warm_out, j, now);
  }
  i.give_back(j);
  ++i.counters.warm_requests;
}

void BinanceRestVenue::cancel(std::string_view client_order_id, std::string_view symbol) {
  impl_->request_cancel(std::string(client_order_id), std::string(symbol));
}

bool BinanceRestVenue::adopt(std::string_view client_order_id, std::string_view symbol,
                             std::int64_t sent_ns) {
  Impl& i = *impl_;
  const std::string cid(client_order_id);
  Tracked t;
  t.symbol = std::string(symbol);
  t.placed_ns = sent_ns;
  t.sent_ns = sent_ns;
  t.resent = true;  // an earlier run's order is never sent again
  t.adopted = true;
  i.orders[cid] = t;
  i.enqueue_query(cid, t.symbol, 0, realtime_ns());
  return true;
}

void BinanceRestVenue::tick(std::int64_t now_ns) {
  Impl& i = *impl_;
  i.expire_requests();
  i.ws_tick(now_ns);
  // While the user data stream is live, fills and balances arrive on it: nothing is polled.
  const bool live = i.ws_state == Impl::WsState::kLive;
  if (!live && now_ns >= i.next_poll_ns) {
    i.next_poll_ns = now_ns + static_cast<std::int64_t>(i.opt.order_poll_ms) * 1'000'000;
    std::vector<std::string> symbols;
    for (const auto& [cid, t] : i.orders) {
      if (t.final || !t.acknowledged) continue;
      if (std::find(symbols.begin(), symbols.end(), t.symbol) == symbols.end())
        symbols.push_back(t.symbol);
    }
    for (const auto& s : symbols) i.enqueue_open_orders(s, now_ns);
    // Placed-but-unanswered orders older than the timeout are handled by their connection's
    // own deadline; nothing to do here.
  }
  if (i.ready && !i.startup_scan_done) {
    // Once, at start: every symbol's open orders, so that orders this engine did not send (or
    // recover) are seen even where it has none of its own.
    i.startup_scan_done = true;
    for (const auto& [s, assets] : i.assets) i.enqueue_open_orders(s, now_ns);
  }
  if (i.next_time_ns != 0 && now_ns >= i.next_time_ns) {
    i.next_time_ns = 0;
    i.enqueue_time(0);
  }
  if (!live && i.next_account_ns != 0 && now_ns >= i.next_account_ns) {
    i.next_account_ns = 0;
    i.enqueue_account(0);
  }
  i.dispatch();
}

bool BinanceRestVenue::ready() const noexcept { return impl_->ready; }

std::int64_t BinanceRestVenue::clock_offset_ns() const noexcept { return impl_->clock_offset_ns; }

std::string_view BinanceRestVenue::last_warm_request() const noexcept { return impl_->warm_out; }

void BinanceRestVenue::stamp_order_writes(bool on) noexcept { impl_->stamp_writes = on; }

std::int64_t BinanceRestVenue::last_order_write_ns() const noexcept {
  return impl_->last_order_write_ns;
}

VenueHealth BinanceRestVenue::health() const noexcept {
  VenueHealth h;
  h.stream_live = stream_live();
  h.stream_events = impl_->counters.stream_events;
  h.stream_gaps = impl_->counters.stream_gaps;
  h.clock_offset_ns = impl_->clock_offset_ns;
  h.tracked_orders = impl_->orders.size();
  h.kept_requests = impl_->placed.size();
  h.handler_spills = counters().handler_spills;
  return h;
}

bool BinanceRestVenue::adopted_orders_known() const noexcept {
  // Adopted orders exist only from start (the journal's open orders); few, and checked only
  // while the engine's balance check waits for them.
  return std::none_of(impl_->orders.begin(), impl_->orders.end(), [](const auto& kv) {
    const Tracked& t = kv.second;
    return t.adopted && (!t.acknowledged || t.fee_qty_covered < t.cum_qty);
  });
}

bool BinanceRestVenue::stream_live() const noexcept {
  return impl_->ws_state == Impl::WsState::kLive;
}

std::size_t BinanceRestVenue::busy() const noexcept {
  // Orders not yet final, plus order requests queued or in flight (polls and account refreshes
  // do not count: they never end).
  std::size_t n = 0;
  for (const auto& [cid, t] : impl_->orders) n += t.final ? 0 : 1;
  const auto is_order_job = [](const Job& j) {
    return j.kind == JobKind::kPlace || j.kind == JobKind::kCancel || j.kind == JobKind::kQuery;
  };
  for (const auto& j : impl_->queue) n += is_order_job(j) ? 1 : 0;
  for (const auto& c : impl_->conns) n += c->busy && is_order_job(c->job) ? 1 : 0;
  n += impl_->ws_inflight.size();
  return n;
}

const BinanceRestVenue::Counters& BinanceRestVenue::counters() const noexcept {
  std::uint64_t spills = 0;
  for (const auto& c : impl_->conns) spills += c->slots->spilled();
  spills += impl_->ws_spills_before + (impl_->ws ? impl_->ws->slots.spilled() : 0);
  impl_->counters.handler_spills = spills;
  return impl_->counters;
}

}  // namespace cwts::venue
