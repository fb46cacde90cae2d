// MatchingEngine, orders in: symbol, type and filter checks, test_order, and place_order (balance
// locks, the taker walk, immediate fills).
#include <algorithm>
#include <cassert>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "cwts/sim/matching.hpp"
#include "matching_state.hpp"

namespace cwts::sim {

using detail::base_or_quote;
using detail::i128;
using detail::kMax;
using detail::opposite_levels;
using detail::quote_ceil;
using detail::quote_of;
using detail::release;

ApiError MatchingEngine::check_filters(const SymbolState& s, const NewOrder& o,
                                       const md::OrderBook& book) const {
  const binance::SymbolSpec& spec = *s.spec;
  const bool limit_like = o.type != OrderType::kMarket;
  const bool has_qty = o.quantity > Qty{} || limit_like;

  if (limit_like && (spec.filters & binance::kFilterPrice) != 0) {
    if ((spec.min_price > Price{} && o.price < spec.min_price) ||
        (spec.max_price > Price{} && o.price > spec.max_price) ||
        (spec.tick_size > Price{} && !(o.price % spec.tick_size).is_zero())) {
      return errors::filter_failure("PRICE_FILTER");
    }
  }
  if (has_qty && (spec.filters & binance::kFilterLotSize) != 0) {
    if ((spec.min_qty > Qty{} && o.quantity < spec.min_qty) ||
        (spec.max_qty > Qty{} && o.quantity > spec.max_qty) ||
        (spec.step_size > Qty{} && !(o.quantity % spec.step_size).is_zero())) {
      return errors::filter_failure("LOT_SIZE");
    }
  }
  if (!limit_like && o.quantity > Qty{} && (spec.filters & binance::kFilterMarketLotSize) != 0) {
    if ((spec.market_min_qty > Qty{} && o.quantity < spec.market_min_qty) ||
        (spec.market_max_qty > Qty{} && o.quantity > spec.market_max_qty) ||
        (spec.market_step_size > Qty{} && !(o.quantity % spec.market_step_size).is_zero())) {
      return errors::filter_failure("MARKET_LOT_SIZE");
    }
  }
  const Price ref = s.reference_price(book);
  const std::uint32_t pct = binance::kFilterPercentPrice | binance::kFilterPercentPriceBySide;
  if (limit_like && (spec.filters & pct) != 0 && ref > Price{}) {
    const bool buy = o.side == Side::kBuy;
    const std::int64_t up = buy ? spec.bid_multiplier_up.raw : spec.ask_multiplier_up.raw;
    const std::int64_t down = buy ? spec.bid_multiplier_down.raw : spec.ask_multiplier_down.raw;
    // avg * multiplierDown <= price <= avg * multiplierUp, exactly (multipliers at 8 decimals).
    const i128 p = static_cast<i128>(o.price.raw) * kOne;
    const bool too_high = up > 0 && p > static_cast<i128>(ref.raw) * up;
    const bool too_low = p < static_cast<i128>(ref.raw) * down;
    if (too_high || too_low) {
      return errors::filter_failure((spec.filters & binance::kFilterPercentPriceBySide) != 0
                                        ? "PERCENT_PRICE_BY_SIDE"
                                        : "PERCENT_PRICE");
    }
  }
  const std::uint32_t notional_bits = binance::kFilterNotional | binance::kFilterMinNotional;
  if ((spec.filters & notional_bits) != 0) {
    const bool apply_min = limit_like || spec.apply_min_to_market;
    const bool apply_max = spec.max_notional.raw > 0 && (limit_like || spec.apply_max_to_market);
    if (apply_min || apply_max) {
      // Notional at 16 decimals (price * qty) or at 8 (quoteOrderQty), compared exactly: 128-bit
      // products of the raw integers.
      i128 notional = 0;
      bool known = true;
      if (limit_like) {
        notional = static_cast<i128>(o.price.raw) * o.quantity.raw;
      } else if (o.quote_order_qty > Notional{}) {
        notional = static_cast<i128>(o.quote_order_qty.raw) * kOne;
      } else if (ref > Price{}) {
        notional = static_cast<i128>(ref.raw) * o.quantity.raw;
      } else {
        // No reference price: what the walk would pay on average.
        const auto fills =
            s.plan(book, o.side, std::nullopt, o.quantity, Notional{}, Qty::from_raw(1));
        i128 paid = 0;
        Qty got{};
        for (const auto& f : fills) {
          paid += static_cast<i128>(f.px.raw) * f.qty.raw;
          got += f.qty;
        }
        known = got > Qty{};
        if (known) notional = paid / got.raw * o.quantity.raw;
      }
      const i128 min = static_cast<i128>(spec.min_notional.raw) * kOne;
      const i128 max = static_cast<i128>(spec.max_notional.raw) * kOne;
      if (known && ((apply_min && notional < min) || (apply_max && notional > max))) {
        return errors::filter_failure(
            (spec.filters & binance::kFilterNotional) != 0 ? "NOTIONAL" : "MIN_NOTIONAL");
      }
    }
  }
  if ((spec.filters & binance::kFilterMaxNumOrders) != 0 && spec.max_num_orders > 0 &&
      s.open.size() >= spec.max_num_orders) {
    return errors::filter_failure("MAX_NUM_ORDERS");
  }
  return {};
}

namespace {

// Symbol status and order-type checks shared by place_order and test_order.
ApiError check_symbol(const binance::SymbolSpec& spec, const NewOrder& o) {
  if (spec.status != layout::SymbolStatus::kTrading) {
    return errors::new_order_rejected(msg::kMarketClosed);
  }
  const binance::VenueOrderType vt = o.type == OrderType::kLimit ? binance::VenueOrderType::kLimit
                                     : o.type == OrderType::kMarket
                                         ? binance::VenueOrderType::kMarket
                                         : binance::VenueOrderType::kLimitMaker;
  if ((spec.venue_order_types & (1U << static_cast<unsigned>(vt))) == 0) {
    if (o.type == OrderType::kMarket) return errors::new_order_rejected(msg::kMarketNotSupported);
    return make_error(ErrorCode::kUnsupportedOrderComposition, "Unsupported order combination");
  }
  if (o.type != OrderType::kMarket && quote_of(o.price, o.quantity) <= Notional{}) {
    return errors::new_order_rejected(msg::kPriceQtyZero);
  }
  return {};
}

}  // namespace

ApiError MatchingEngine::test_order(const NewOrder& o, const md::OrderBook& book) const {
  const SymbolState* s = state(o.symbol);
  if (s == nullptr) return errors::bad_symbol();
  if (ApiError e = check_symbol(*s->spec, o); !e.ok()) return e;
  return check_filters(*s, o, book);
}

Result<OrderResult> MatchingEngine::place_order(const NewOrder& o, const md::OrderBook& book,
                                                std::int64_t now_ms) {
  SymbolState* s = state(o.symbol);
  if (s == nullptr) return errors::bad_symbol();
  on_book(o.symbol, book, now_ms);
  const binance::SymbolSpec& spec = *s->spec;
  if (ApiError e = check_symbol(spec, o); !e.ok()) return e;
  if (ApiError e = check_filters(*s, o, book); !e.ok()) return e;
  if (!o.client_order_id.empty() && s->open_client_id(o.client_order_id)) {
    return errors::new_order_rejected(msg::kDuplicateOrder);
  }

  // What would execute immediately.
  const bool limit_like = o.type != OrderType::kMarket;
  std::vector<PlannedFill> plan;
  Qty orig_qty = o.quantity;
  const Qty one_unit = Qty::from_raw(1);
  if (limit_like) {
    plan = s->plan(book, o.side, o.price, o.quantity, Notional{}, one_unit);
    if (o.type == OrderType::kLimitMaker && !plan.empty()) {
      return errors::new_order_rejected(msg::kWouldMatch);
    }
  } else if (o.quantity > Qty{}) {
    plan = s->plan(book, o.side, std::nullopt, o.quantity, Notional{}, one_unit);
  } else {
    // quoteOrderQty: the quantity is what the quote buys (or must sell to receive it) in steps.
    const Qty step = spec.market_step_size > Qty{} ? spec.market_step_size : spec.step_size;
    plan = s->plan(book, o.side, std::nullopt, Qty::from_raw(kMax), o.quote_order_qty,
                   std::max(step, one_unit));
    orig_qty = Qty{};
    for (const auto& p : plan) orig_qty += p.qty;
    if (opposite_levels(book, o.side) == 0) return errors::new_order_rejected(msg::kNoLiquidity);
    if ((spec.filters & binance::kFilterLotSize) != 0 &&
        ((spec.min_qty > Qty{} && orig_qty < spec.min_qty) ||
         (spec.max_qty > Qty{} && orig_qty > spec.max_qty))) {
      return orig_qty.is_zero() ? errors::new_order_rejected(msg::kLiquidityBelowLotSize)
                                : errors::filter_failure("LOT_SIZE");
    }
    if ((spec.filters & binance::kFilterMarketLotSize) != 0 &&
        ((spec.market_min_qty > Qty{} && orig_qty < spec.market_min_qty) ||
         (spec.market_max_qty > Qty{} && orig_qty > spec.market_max_qty))) {
      return errors::filter_failure("MARKET_LOT_SIZE");
    }
    if (orig_qty.is_zero()) return errors::new_order_rejected(msg::kNoLiquidity);
  }
  Qty planned_qty{};
  Notional planned_quote{};
  for (const auto& p : plan) {
    planned_qty += p.qty;
    planned_quote += quote_of(p.px, p.qty);
  }

  // Balance: a BUY locks quote (LIMIT: price * qty rounded up; MARKET by quantity: what the walk
  // costs; MARKET by quoteOrderQty: all of it), a SELL locks the base it may sell. What is not
  // spent goes back to free when the order ends.
  const bool buy = o.side == Side::kBuy;
  Amount lock{};
  if (buy) {
    lock = as_amount(limit_like                       ? quote_ceil(o.price, o.quantity)
                     : o.quote_order_qty > Notional{} ? o.quote_order_qty
                                                      : planned_quote);
  } else {
    lock = as_amount(orig_qty);
  }
  const std::string_view lock_asset = base_or_quote(spec, !buy);
  if (account_.balance(lock_asset).free < lock || lock.raw == kMax) {
    return errors::new_order_rejected(msg::kInsufficientBalance);
  }
  const bool fok_fails = limit_like && o.tif == TimeInForce::kFok && planned_qty < o.quantity;

  // Accepted.
  Order order;
  order.symbol = spec.name;
  order.order_id = s->next_order_id++;
  order.client_order_id = o.client_order_id;
  if (order.client_order_id.empty()) {
    do {
      order.client_order_id = generate_client_order_id();
    } while (s->open_client_id(order.client_order_id));
  }
  order.side = o.side;
  order.type = o.type;
  order.tif = limit_like && o.type == OrderType::kLimit ? o.tif : TimeInForce::kGtc;
  order.price = limit_like ? o.price : Price{};
  order.orig_qty = orig_qty;
  order.orig_quote_order_qty = o.quote_order_qty;
  order.status = OrderStatus::kNew;
  order.time_ms = order.update_time_ms = order.working_time_ms = now_ms;
  order.stp_mode = o.stp_mode;
  order.strategy_id = o.strategy_id;
  order.strategy_type = o.strategy_type;
  const std::size_t idx = s->orders.size();
  s->orders.push_back(std::move(order));
  s->by_client_id[s->orders[idx].client_order_id] = idx;
  Order& placed = s->orders[idx];

  OrderResult result;
  result.resp_type = o.resp_type;
  result.transact_time_ms = now_ms;

  if (!fok_fails) {
    const bool locked = account_.lock(lock_asset, lock);
    assert(locked);
    (void)locked;
    placed.locked = lock;
  }
  s->open.push_back(idx);
  emit(placed, ExecType::kNew, nullptr, false, now_ms);

  if (!fok_fails) {
    const Side book_side = buy ? Side::kSell : Side::kBuy;
    for (const PlannedFill& p : plan) {
      s->take(book_side, p.level_px, p.displayed, p.qty);
      result.fills.push_back(settle(*s, placed, p.px, p.qty, false, now_ms));
      emit(placed, ExecType::kTrade, &result.fills.back(), false, now_ms);
    }
  }

  const bool rests = o.type == OrderType::kLimitMaker ||
                     (o.type == OrderType::kLimit && o.tif == TimeInForce::kGtc);
  if (placed.status == OrderStatus::kFilled) {
    release(account_, spec, placed);
    s->close(idx);
  } else if (!rests) {
    // IOC and MARKET remainders and unfillable FOKs expire.
    placed.status = OrderStatus::kExpired;
    placed.update_time_ms = now_ms;
    release(account_, spec, placed);
    s->close(idx);
    emit(placed, ExecType::kExpired, nullptr, false, now_ms);
  }
  emit_account(*s, now_ms);
  result.order = placed;
  return result;
}

}  // namespace cwts::sim
