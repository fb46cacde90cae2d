// Binance spellings of the order enums.
#include "cwts/binance/order.hpp"

#include "cwts/binance/execution.hpp"

namespace cwts::binance {

std::string_view to_string(Side v) noexcept { return v == Side::kBuy ? "BUY" : "SELL"; }

std::string_view to_string(OrderType v) noexcept {
  switch (v) {
    case OrderType::kLimit:
      return "LIMIT";
    case OrderType::kMarket:
      return "MARKET";
    case OrderType::kLimitMaker:
      return "LIMIT_MAKER";
  }
  return "?";
}

std::string_view to_string(TimeInForce v) noexcept {
  switch (v) {
    case TimeInForce::kGtc:
      return "GTC";
    case TimeInForce::kIoc:
      return "IOC";
    case TimeInForce::kFok:
      return "FOK";
  }
  return "?";
}

std::string_view to_string(OrderStatus v) noexcept {
  switch (v) {
    case OrderStatus::kNew:
      return "NEW";
    case OrderStatus::kPartiallyFilled:
      return "PARTIALLY_FILLED";
    case OrderStatus::kFilled:
      return "FILLED";
    case OrderStatus::kCanceled:
      return "CANCELED";
    case OrderStatus::kExpired:
      return "EXPIRED";
  }
  return "?";
}

std::string_view to_string(StpMode v) noexcept {
  switch (v) {
    case StpMode::kNone:
      return "NONE";
    case StpMode::kExpireTaker:
      return "EXPIRE_TAKER";
    case StpMode::kExpireMaker:
      return "EXPIRE_MAKER";
    case StpMode::kExpireBoth:
      return "EXPIRE_BOTH";
  }
  return "?";
}

std::string_view to_string(ExecType v) noexcept {
  switch (v) {
    case ExecType::kNew:
      return "NEW";
    case ExecType::kTrade:
      return "TRADE";
    case ExecType::kCanceled:
      return "CANCELED";
    case ExecType::kExpired:
      return "EXPIRED";
  }
  return "?";
}

}  // namespace cwts::binance
