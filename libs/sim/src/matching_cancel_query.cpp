// MatchingEngine: cancels (one order, a symbol's open orders) and the order and trade queries.
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "cwts/binance/order.hpp"
#include "cwts/sim/matching.hpp"
#include "matching_state.hpp"

namespace cwts::sim {

using detail::release;

Result<CancelResult> MatchingEngine::cancel_order(const CancelRequest& request,
                                                  std::int64_t now_ms) {
  SymbolState* s = state(request.ref.symbol);
  if (s == nullptr) return errors::bad_symbol();
  const Order* found = s->find(request.ref);
  if (found == nullptr || !found->is_open()) return errors::cancel_rejected(msg::kUnknownOrder);
  if ((request.restrictions == CancelRestrictions::kOnlyNew &&
       found->status != OrderStatus::kNew) ||
      (request.restrictions == CancelRestrictions::kOnlyPartiallyFilled &&
       found->status != OrderStatus::kPartiallyFilled)) {
    return errors::cancel_rejected(msg::kCancelRestrictions);
  }
  const auto idx = static_cast<std::size_t>(found - s->orders.data());
  Order& o = s->orders[idx];
  o.status = OrderStatus::kCanceled;
  o.update_time_ms = now_ms;
  release(account_, *s->spec, o);
  s->close(idx);

  CancelResult c;
  c.cancel_client_order_id = request.new_client_order_id.empty() ? generate_client_order_id()
                                                                 : request.new_client_order_id;
  c.transact_time_ms = now_ms;
  c.order = o;
  emit(o, ExecType::kCanceled, nullptr, false, now_ms, c.cancel_client_order_id);
  emit_account(*s, now_ms);
  return c;
}

Result<std::vector<CancelResult>> MatchingEngine::cancel_open_orders(std::string_view symbol,
                                                                     std::int64_t now_ms) {
  SymbolState* s = state(symbol);
  if (s == nullptr) return errors::bad_symbol();
  if (s->open.empty()) return errors::cancel_rejected(msg::kUnknownOrder);
  std::vector<CancelResult> out;
  const std::vector<std::size_t> open = s->open;
  for (const std::size_t idx : open) {
    CancelRequest r;
    r.ref.symbol = s->spec->name;
    r.ref.order_id = s->orders[idx].order_id;
    Result<CancelResult> c = cancel_order(r, now_ms);
    if (c.ok()) out.push_back(std::move(c).value());
  }
  return out;
}

Result<Order> MatchingEngine::query_order(const OrderRef& ref) const {
  const SymbolState* s = state(ref.symbol);
  if (s == nullptr) return errors::bad_symbol();
  const Order* o = s->find(ref);
  if (o == nullptr) return errors::no_such_order();
  return *o;
}

std::vector<Order> MatchingEngine::open_orders(std::string_view symbol) const {
  std::vector<Order> out;
  for (const auto& [name, s] : symbols_) {
    if (!symbol.empty() && name != symbol) continue;
    for (const std::size_t idx : s->open) out.push_back(s->orders[idx]);
  }
  return out;
}

std::vector<Order> MatchingEngine::all_orders(std::string_view symbol,
                                              std::optional<std::int64_t> from_id,
                                              std::uint32_t limit) const {
  std::vector<Order> out;
  const SymbolState* s = state(symbol);
  if (s == nullptr) return out;
  for (const Order& o : s->orders)
    if (!from_id || o.order_id >= *from_id) out.push_back(o);
  binance::keep_list_window(out, from_id.has_value(), limit);
  return out;
}

std::vector<Trade> MatchingEngine::my_trades(const MyTradesQuery& q) const {
  constexpr std::int64_t kDayMs = 86'400'000;
  std::vector<Trade> selected;
  for (const Trade& t : account_.trades(q.symbol)) {
    if (q.order_id && t.order_id != *q.order_id) continue;
    if (q.from_id && t.id < *q.from_id) continue;
    if (q.start_time_ms) {
      const std::int64_t end = q.end_time_ms ? *q.end_time_ms : *q.start_time_ms + kDayMs;
      if (t.time_ms < *q.start_time_ms || t.time_ms > end) continue;
    } else if (q.end_time_ms) {
      if (t.time_ms > *q.end_time_ms || t.time_ms < *q.end_time_ms - kDayMs) continue;
    }
    selected.push_back(t);
  }
  const std::size_t limit = q.limit;
  if (selected.size() > limit) {
    // fromId and startTime walk forward from their start; otherwise the most recent trades.
    if (q.from_id || q.start_time_ms) {
      selected.resize(limit);
    } else {
      selected.erase(selected.begin(),
                     selected.begin() + static_cast<std::ptrdiff_t>(selected.size() - limit));
    }
  }
  return selected;
}

}  // namespace cwts::sim
