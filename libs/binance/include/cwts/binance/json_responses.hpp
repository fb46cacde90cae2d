// The venue's exact Binance JSON bodies (orders, cancels, account, trades, errors, events).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "cwts/binance/account.hpp"
#include "cwts/binance/api_error.hpp"
#include "cwts/binance/execution.hpp"
#include "cwts/binance/order.hpp"
#include "cwts/binance/rate_limits.hpp"
#include "cwts/core/json_writer.hpp"

namespace cwts::binance {

using core::JsonWriter;

// Field order follows rest-api.md's examples; decimals are strings with 8 decimals
// ("0.10000000"); times are ms. Every function has a JsonWriter form (to embed the value in a
// WS-API envelope) and a string form (a REST body).

// {"code":-1013,"msg":"Filter failure: PRICE_FILTER"}
void write_error(JsonWriter& w, const ApiError& e);
[[nodiscard]] std::string error_json(const ApiError& e);

// POST /api/v3/order in the result's resp_type: ACK, RESULT (+ price, quantities, status, ...,
// "workingTime", "selfTradePreventionMode"), FULL (+ "fills" with tradeId).
void write_order_response(JsonWriter& w, const OrderResult& r);
[[nodiscard]] std::string order_response_json(const OrderResult& r);

// GET /api/v3/order (also each element of GET /api/v3/openOrders): adds stopPrice, icebergQty,
// time, updateTime, isWorking, workingTime, origQuoteOrderQty.
void write_order_query(JsonWriter& w, const Order& o);
[[nodiscard]] std::string order_query_json(const Order& o);
[[nodiscard]] std::string open_orders_json(std::span<const Order> orders);

// DELETE /api/v3/order, and DELETE /api/v3/openOrders (an array of the same objects).
void write_cancel_response(JsonWriter& w, const CancelResult& c);
[[nodiscard]] std::string cancel_response_json(const CancelResult& c);
[[nodiscard]] std::string cancel_all_json(std::span<const CancelResult> cancels);

// Account-level constants of GET /api/v3/account that the simulator does not model.
struct AccountFlags {
  bool can_trade = true;
  bool can_withdraw = true;
  bool can_deposit = true;
  bool brokered = false;
  bool require_self_trade_prevention = false;
  bool prevent_sor = false;
  std::int64_t uid = 1;
};

// GET /api/v3/account. Commissions in basis points ("makerCommission":10 for 0.001) and as
// "commissionRates" decimals; balances sorted by asset; `omit_zero_balances` drops assets with
// free = locked = 0 (the omitZeroBalances parameter).
// What the account endpoint reports, as views of the caller's state.
struct AccountView {
  const Balances& balances;
  const CommissionRates& commission;
  std::int64_t update_time_ms = 0;  // last balance change
};
void write_account(JsonWriter& w, const AccountView& a, const AccountFlags& flags,
                   bool omit_zero_balances = false);
[[nodiscard]] std::string account_json(const AccountView& a, const AccountFlags& flags,
                                       bool omit_zero_balances = false);

// GET /api/v3/myTrades.
void write_trade(JsonWriter& w, const Trade& t);
[[nodiscard]] std::string my_trades_json(std::span<const Trade> trades);

// POST /api/v3/order/test: "{}", or with computeCommissionRates=true the commission object
// (standard = the account's rates, no special/tax commission, no BNB discount).
[[nodiscard]] std::string test_order_json(const CommissionRates* rates);

// User data stream executionReport for an engine event ("E" = event_time_ms; execution ids
// are the caller's counter).
void write_execution_report(JsonWriter& w, const ExecutionEvent& e, std::int64_t event_time_ms,
                            std::int64_t execution_id);

// User data stream outboundAccountPosition: {"e":"outboundAccountPosition","E":..,"u":..,
// "B":[{"a":"BTC","f":"1.00000000","l":"0.00000000"},..]} for the assets a change touched
// ("u" = time of the account's last update).
struct AssetBalance {
  std::string_view asset;
  Balance balance;
};
void write_account_position(JsonWriter& w, std::span<const AssetBalance> assets,
                            std::int64_t event_time_ms, std::int64_t update_time_ms);

// User data stream balanceUpdate (a deposit or withdrawal): {"e":"balanceUpdate","E":..,
// "a":"BTC","d":"-0.50000000","T":..} ("d" signed, "T" = clear time).
void write_balance_update(JsonWriter& w, std::string_view asset, std::int64_t delta_raw,
                          std::int64_t event_time_ms, std::int64_t clear_time_ms);

// {"e":"eventStreamTerminated","E":..}: the last event of a subscription that was stopped.
void write_event_stream_terminated(JsonWriter& w, std::int64_t event_time_ms);

// WS-API "rateLimits" array: [{"rateLimitType":..,"interval":..,"intervalNum":..,"limit":..,
// "count":..},...].
void write_rate_limits(JsonWriter& w, std::span<const RateUsage> usage);

}  // namespace cwts::binance
