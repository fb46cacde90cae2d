// Order, its enums, and the parsed requests that create, cancel, query and list orders and trades.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cwts/core/fixed_point.hpp"
#include "cwts/core/money.hpp"

namespace cwts::binance {

// Prices, quantities and quote amounts below are the money types (core/money.hpp) at 8 decimals
// (core::kWireDecimals), the scale of every Binance spot value.
using core::Amount;
using core::Notional;
using core::Price;
using core::Qty;
inline constexpr int kDecimals = core::kWireDecimals;
inline constexpr std::int64_t kOne = core::kWireScale;  // 1.0 at 8 decimals

enum class Side : std::uint8_t { kBuy, kSell };
// The types the venue executes. STOP_LOSS* / TAKE_PROFIT* are valid Binance types that the
// simulator does not implement (rejected with -1014, see request.hpp).
enum class OrderType : std::uint8_t { kLimit, kMarket, kLimitMaker };
enum class TimeInForce : std::uint8_t { kGtc, kIoc, kFok };
enum class OrderStatus : std::uint8_t { kNew, kPartiallyFilled, kFilled, kCanceled, kExpired };
enum class RespType : std::uint8_t { kAck, kResult, kFull };
enum class StpMode : std::uint8_t { kNone, kExpireTaker, kExpireMaker, kExpireBoth };
enum class CancelRestrictions : std::uint8_t { kNone, kOnlyNew, kOnlyPartiallyFilled };

// Binance's spelling of each value ("BUY", "LIMIT_MAKER", "PARTIALLY_FILLED", ...).
[[nodiscard]] std::string_view to_string(Side v) noexcept;
[[nodiscard]] std::string_view to_string(OrderType v) noexcept;
[[nodiscard]] std::string_view to_string(TimeInForce v) noexcept;
[[nodiscard]] std::string_view to_string(OrderStatus v) noexcept;
[[nodiscard]] std::string_view to_string(StpMode v) noexcept;

// POST /api/v3/order (and /order/test), validated by parse_new_order. Absent numbers are 0.
struct NewOrder {
  std::string symbol;
  Side side = Side::kBuy;
  OrderType type = OrderType::kLimit;
  TimeInForce tif = TimeInForce::kGtc;  // GTC for MARKET and LIMIT_MAKER, as Binance reports
  Qty quantity{};                       // 0: not sent (MARKET with quoteOrderQty)
  Notional quote_order_qty{};           // MARKET only; 0: not sent
  Price price{};                        // LIMIT and LIMIT_MAKER
  std::string client_order_id;          // empty: the venue generates one
  RespType resp_type = RespType::kFull;
  StpMode stp_mode = StpMode::kNone;
  std::optional<std::int64_t> strategy_id;
  std::optional<std::int64_t> strategy_type;
};

// One order as the venue keeps it; open and closed orders stay queryable.
struct Order {
  std::string symbol;
  std::int64_t order_id = 0;
  std::int64_t order_list_id = -1;
  std::string client_order_id;
  Side side = Side::kBuy;
  OrderType type = OrderType::kLimit;
  TimeInForce tif = TimeInForce::kGtc;
  Price price{};
  Qty orig_qty{};
  Qty executed_qty{};
  Notional cumm_quote_qty{};
  Notional orig_quote_order_qty{};
  OrderStatus status = OrderStatus::kNew;
  std::int64_t time_ms = 0;
  std::int64_t update_time_ms = 0;
  std::int64_t working_time_ms = 0;
  StpMode stp_mode = StpMode::kNone;
  std::optional<std::int64_t> strategy_id;
  std::optional<std::int64_t> strategy_type;
  // Amount of the locked asset (quote for BUY, base for SELL) still held for this order. Goes
  // back to free when the order ends.
  Amount locked{};

  [[nodiscard]] bool is_open() const noexcept {
    return status == OrderStatus::kNew || status == OrderStatus::kPartiallyFilled;
  }
  [[nodiscard]] Qty remaining() const noexcept { return orig_qty - executed_qty; }
};

// One execution of an order, as listed in a FULL response's "fills".
struct Fill {
  Price price{};
  Qty qty{};
  Notional quote_qty{};  // price * qty truncated to 8 decimals (not in the FULL body)
  Amount commission{};   // of commission_asset
  std::string commission_asset;
  std::int64_t trade_id = 0;
};

// The outcome of an accepted new order: the order after matching and its immediate fills.
struct OrderResult {
  Order order;
  std::vector<Fill> fills;
  RespType resp_type = RespType::kFull;
  std::int64_t transact_time_ms = 0;
};

// Identifies an order for GET/DELETE /api/v3/order: orderId, origClientOrderId or both (then
// both must name the same order).
struct OrderRef {
  std::string symbol;
  std::optional<std::int64_t> order_id;
  std::string orig_client_order_id;  // empty: not sent
};

// DELETE /api/v3/order.
struct CancelRequest {
  OrderRef ref;
  std::string new_client_order_id;  // the cancel's own clientOrderId; empty: generated
  CancelRestrictions restrictions = CancelRestrictions::kNone;
};

// A canceled order and the cancel's identity (clientOrderId of the cancel request).
struct CancelResult {
  Order order;                         // after the cancel (status CANCELED)
  std::string cancel_client_order_id;  // "clientOrderId" of the response
  std::int64_t transact_time_ms = 0;
};

// GET /api/v3/myTrades. Supported combinations (rest-api.md): symbol; +orderId; +startTime;
// +endTime; +fromId; +startTime+endTime; +orderId+fromId.
struct MyTradesQuery {
  std::string symbol;
  std::optional<std::int64_t> order_id;
  std::optional<std::int64_t> start_time_ms;
  std::optional<std::int64_t> end_time_ms;
  std::optional<std::int64_t> from_id;
  std::uint32_t limit = 500;  // default 500, max 1000
};

// The window Binance's list endpoints return (allOrders, myTrades): from a given id the first
// `limit` items, otherwise the most recent `limit`. `items` are in ascending order.
template <typename T>
void keep_list_window(std::vector<T>& items, bool from_id_given, std::size_t limit) {
  if (items.size() <= limit) return;
  if (from_id_given) {
    items.resize(limit);
  } else {
    items.erase(items.begin(), items.end() - static_cast<std::ptrdiff_t>(limit));
  }
}

}  // namespace cwts::binance
