// ExecutionEvent: one change of an order as the user data stream's executionReport reports it.
#pragma once

#include <cstdint>
#include <string_view>

#include "cwts/binance/order.hpp"

namespace cwts::binance {

// What happened to an order, for the user data stream (executionReport "x").
enum class ExecType : std::uint8_t { kNew, kTrade, kCanceled, kExpired };
[[nodiscard]] std::string_view to_string(ExecType v) noexcept;

struct ExecutionEvent {
  const Order& order;  // state after the event
  ExecType type;
  const Fill* fill;  // kTrade only, else nullptr
  bool is_maker;     // kTrade only
  std::int64_t time_ms;
  std::string_view cancel_client_order_id;  // kCanceled: the cancel's clientOrderId
};

}  // namespace cwts::binance
