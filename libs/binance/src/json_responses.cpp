// Binance response bodies, field for field in the order of rest-api.md's examples.
#include "cwts/binance/json_responses.hpp"

#include "cwts/binance/exchange_info.hpp"

namespace cwts::binance {

namespace {

// Conditional fields (rest-api.md: "appear only when relevant").
void write_strategy(JsonWriter& w, const Order& o) {
  if (o.strategy_id) w.key("strategyId").integer(*o.strategy_id);
  if (o.strategy_type) w.key("strategyType").integer(*o.strategy_type);
}

// The part shared by RESULT/FULL and the cancel response, from "price" to "side".
void write_order_body(JsonWriter& w, const Order& o) {
  w.key("price").decimal(o.price);
  w.key("origQty").decimal(o.orig_qty);
  w.key("executedQty").decimal(o.executed_qty);
  w.key("origQuoteOrderQty").decimal(o.orig_quote_order_qty);
  w.key("cummulativeQuoteQty").decimal(o.cumm_quote_qty);
  w.key("status").string(to_string(o.status));
  w.key("timeInForce").string(to_string(o.tif));
  w.key("type").string(to_string(o.type));
  w.key("side").string(to_string(o.side));
  write_strategy(w, o);
}

std::int64_t basis_points(std::int64_t rate) noexcept { return rate / 10'000; }

}  // namespace

void write_error(JsonWriter& w, const ApiError& e) {
  w.begin_object();
  w.key("code").integer(e.code_value());
  w.key("msg").string(e.msg);
  w.end_object();
}

std::string error_json(const ApiError& e) {
  JsonWriter w;
  write_error(w, e);
  return std::move(w).str();
}

void write_order_response(JsonWriter& w, const OrderResult& r) {
  const Order& o = r.order;
  w.begin_object();
  w.key("symbol").string(o.symbol);
  w.key("orderId").integer(o.order_id);
  w.key("orderListId").integer(o.order_list_id);
  w.key("clientOrderId").string(o.client_order_id);
  w.key("transactTime").integer(r.transact_time_ms);
  if (r.resp_type != RespType::kAck) {
    write_order_body(w, o);
    w.key("workingTime").integer(o.working_time_ms);
    w.key("selfTradePreventionMode").string(to_string(o.stp_mode));
    if (r.resp_type == RespType::kFull) {
      w.key("fills").begin_array();
      for (const Fill& f : r.fills) {
        w.begin_object();
        w.key("price").decimal(f.price);
        w.key("qty").decimal(f.qty);
        w.key("commission").decimal(f.commission);
        w.key("commissionAsset").string(f.commission_asset);
        w.key("tradeId").integer(f.trade_id);
        w.end_object();
      }
      w.end_array();
    }
  }
  w.end_object();
}

std::string order_response_json(const OrderResult& r) {
  JsonWriter w;
  write_order_response(w, r);
  return std::move(w).str();
}

void write_order_query(JsonWriter& w, const Order& o) {
  w.begin_object();
  w.key("symbol").string(o.symbol);
  w.key("orderId").integer(o.order_id);
  w.key("orderListId").integer(o.order_list_id);
  w.key("clientOrderId").string(o.client_order_id);
  w.key("price").decimal(o.price);
  w.key("origQty").decimal(o.orig_qty);
  w.key("executedQty").decimal(o.executed_qty);
  w.key("cummulativeQuoteQty").decimal(o.cumm_quote_qty);
  w.key("status").string(to_string(o.status));
  w.key("timeInForce").string(to_string(o.tif));
  w.key("type").string(to_string(o.type));
  w.key("side").string(to_string(o.side));
  write_strategy(w, o);
  w.key("stopPrice").decimal(0);
  w.key("icebergQty").decimal(0);
  w.key("time").integer(o.time_ms);
  w.key("updateTime").integer(o.update_time_ms);
  w.key("isWorking").boolean(true);
  w.key("workingTime").integer(o.working_time_ms);
  w.key("origQuoteOrderQty").decimal(o.orig_quote_order_qty);
  w.key("selfTradePreventionMode").string(to_string(o.stp_mode));
  w.end_object();
}

std::string order_query_json(const Order& o) {
  JsonWriter w;
  write_order_query(w, o);
  return std::move(w).str();
}

std::string open_orders_json(std::span<const Order> orders) {
  JsonWriter w;
  w.begin_array();
  for (const Order& o : orders) write_order_query(w, o);
  w.end_array();
  return std::move(w).str();
}

void write_cancel_response(JsonWriter& w, const CancelResult& c) {
  const Order& o = c.order;
  w.begin_object();
  w.key("symbol").string(o.symbol);
  w.key("origClientOrderId").string(o.client_order_id);
  w.key("orderId").integer(o.order_id);
  w.key("orderListId").integer(o.order_list_id);
  w.key("clientOrderId").string(c.cancel_client_order_id);
  w.key("transactTime").integer(c.transact_time_ms);
  write_order_body(w, o);
  w.key("selfTradePreventionMode").string(to_string(o.stp_mode));
  w.end_object();
}

std::string cancel_response_json(const CancelResult& c) {
  JsonWriter w;
  write_cancel_response(w, c);
  return std::move(w).str();
}

std::string cancel_all_json(std::span<const CancelResult> cancels) {
  JsonWriter w;
  w.begin_array();
  for (const CancelResult& c : cancels) write_cancel_response(w, c);
  w.end_array();
  return std::move(w).str();
}

void write_account(JsonWriter& w, const AccountView& a, const AccountFlags& flags,
                   bool omit_zero_balances) {
  const CommissionRates& r = a.commission;
  w.begin_object();
  w.key("makerCommission").integer(basis_points(r.maker));
  w.key("takerCommission").integer(basis_points(r.taker));
  w.key("buyerCommission").integer(basis_points(r.buyer));
  w.key("sellerCommission").integer(basis_points(r.seller));
  w.key("commissionRates").begin_object();
  w.key("maker").decimal(r.maker);
  w.key("taker").decimal(r.taker);
  w.key("buyer").decimal(r.buyer);
  w.key("seller").decimal(r.seller);
  w.end_object();
  w.key("canTrade").boolean(flags.can_trade);
  w.key("canWithdraw").boolean(flags.can_withdraw);
  w.key("canDeposit").boolean(flags.can_deposit);
  w.key("brokered").boolean(flags.brokered);
  w.key("requireSelfTradePrevention").boolean(flags.require_self_trade_prevention);
  w.key("preventSor").boolean(flags.prevent_sor);
  w.key("updateTime").integer(a.update_time_ms);
  w.key("accountType").string("SPOT");
  w.key("balances").begin_array();
  for (const auto& [asset, b] : a.balances) {
    if (omit_zero_balances && b.free.is_zero() && b.locked.is_zero()) continue;
    w.begin_object();
    w.key("asset").string(asset);
    w.key("free").decimal(b.free);
    w.key("locked").decimal(b.locked);
    w.end_object();
  }
  w.end_array();
  w.key("permissions").begin_array().string("SPOT").end_array();
  w.key("uid").integer(flags.uid);
  w.end_object();
}

std::string account_json(const AccountView& a, const AccountFlags& flags, bool omit_zero_balances) {
  JsonWriter w;
  write_account(w, a, flags, omit_zero_balances);
  return std::move(w).str();
}

void write_trade(JsonWriter& w, const Trade& t) {
  w.begin_object();
  w.key("symbol").string(t.symbol);
  w.key("id").integer(t.id);
  w.key("orderId").integer(t.order_id);
  w.key("orderListId").integer(t.order_list_id);
  w.key("price").decimal(t.price);
  w.key("qty").decimal(t.qty);
  w.key("quoteQty").decimal(t.quote_qty);
  w.key("commission").decimal(t.commission);
  w.key("commissionAsset").string(t.commission_asset);
  w.key("time").integer(t.time_ms);
  w.key("isBuyer").boolean(t.is_buyer);
  w.key("isMaker").boolean(t.is_maker);
  w.key("isBestMatch").boolean(t.is_best_match);
  w.end_object();
}

std::string my_trades_json(std::span<const Trade> trades) {
  JsonWriter w;
  w.begin_array();
  for (const Trade& t : trades) write_trade(w, t);
  w.end_array();
  return std::move(w).str();
}

std::string test_order_json(const CommissionRates* rates) {
  if (rates == nullptr) return "{}";
  JsonWriter w;
  w.begin_object();
  w.key("standardCommissionForOrder").begin_object();
  w.key("maker").decimal(rates->maker);
  w.key("taker").decimal(rates->taker);
  w.end_object();
  w.key("specialCommissionForOrder").begin_object();
  w.key("maker").decimal(0);
  w.key("taker").decimal(0);
  w.end_object();
  w.key("taxCommissionForOrder").begin_object();
  w.key("maker").decimal(0);
  w.key("taker").decimal(0);
  w.end_object();
  w.key("discount").begin_object();
  w.key("enabledForAccount").boolean(false);
  w.key("enabledForSymbol").boolean(false);
  w.key("discountAsset").string("BNB");
  w.key("discount").decimal(0);
  w.end_object();
  w.end_object();
  return std::move(w).str();
}

void write_execution_report(JsonWriter& w, const ExecutionEvent& e, std::int64_t event_time_ms,
                            std::int64_t execution_id) {
  const Order& o = e.order;
  const bool canceled = e.type == ExecType::kCanceled;
  w.begin_object();
  w.key("e").string("executionReport");
  w.key("E").integer(event_time_ms);
  w.key("s").string(o.symbol);
  // A cancel's event carries the cancel's id in "c" and the order's in "C".
  w.key("c").string(canceled ? e.cancel_client_order_id : std::string_view(o.client_order_id));
  w.key("S").string(to_string(o.side));
  w.key("o").string(to_string(o.type));
  w.key("f").string(to_string(o.tif));
  w.key("q").decimal(o.orig_qty);
  w.key("p").decimal(o.price);
  w.key("P").decimal(0);
  w.key("F").decimal(0);
  w.key("g").integer(o.order_list_id);
  w.key("C").string(canceled ? std::string_view(o.client_order_id) : std::string_view());
  w.key("x").string(to_string(e.type));
  w.key("X").string(to_string(o.status));
  w.key("r").string("NONE");
  w.key("i").integer(o.order_id);
  w.key("l").decimal(e.fill != nullptr ? e.fill->qty : Qty{});
  w.key("z").decimal(o.executed_qty);
  w.key("L").decimal(e.fill != nullptr ? e.fill->price : Price{});
  if (e.fill != nullptr) {
    w.key("n").decimal(e.fill->commission);
    w.key("N").string(e.fill->commission_asset);
  } else {
    w.key("n").string("0");
    w.key("N").null();
  }
  w.key("T").integer(e.time_ms);
  w.key("t").integer(e.fill != nullptr ? e.fill->trade_id : -1);
  w.key("I").integer(execution_id);
  w.key("w").boolean(o.is_open());
  w.key("m").boolean(e.fill != nullptr && e.is_maker);
  w.key("M").boolean(false);
  w.key("O").integer(o.time_ms);
  w.key("Z").decimal(o.cumm_quote_qty);
  w.key("Y").decimal(e.fill != nullptr ? e.fill->quote_qty : Notional{});
  w.key("Q").decimal(o.orig_quote_order_qty);
  w.key("W").integer(o.working_time_ms);
  w.key("V").string(to_string(o.stp_mode));
  w.end_object();
}

void write_account_position(JsonWriter& w, std::span<const AssetBalance> assets,
                            std::int64_t event_time_ms, std::int64_t update_time_ms) {
  w.begin_object();
  w.key("e").string("outboundAccountPosition");
  w.key("E").integer(event_time_ms);
  w.key("u").integer(update_time_ms);
  w.key("B").begin_array();
  for (const AssetBalance& a : assets) {
    w.begin_object();
    w.key("a").string(a.asset);
    w.key("f").decimal(a.balance.free);
    w.key("l").decimal(a.balance.locked);
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

void write_balance_update(JsonWriter& w, std::string_view asset, std::int64_t delta_raw,
                          std::int64_t event_time_ms, std::int64_t clear_time_ms) {
  w.begin_object();
  w.key("e").string("balanceUpdate");
  w.key("E").integer(event_time_ms);
  w.key("a").string(asset);
  w.key("d").decimal(delta_raw);
  w.key("T").integer(clear_time_ms);
  w.end_object();
}

void write_event_stream_terminated(JsonWriter& w, std::int64_t event_time_ms) {
  w.begin_object().key("e").string("eventStreamTerminated").key("E").integer(event_time_ms);
  w.end_object();
}

void write_rate_limits(JsonWriter& w, std::span<const RateUsage> usage) {
  w.begin_array();
  for (const RateUsage& u : usage) {
    w.begin_object();
    w.key("rateLimitType").string(binance::to_string(u.limit.type));
    w.key("interval").string(binance::to_string(u.limit.interval));
    w.key("intervalNum").integer(static_cast<std::int64_t>(u.limit.interval_num));
    w.key("limit").integer(static_cast<std::int64_t>(u.limit.limit));
    w.key("count").integer(static_cast<std::int64_t>(u.count));
    w.end_object();
  }
  w.end_array();
}

}  // namespace cwts::binance
