// The simulator speaks Binance's wire types: the names of cwts::binance that cwts::sim uses
// unqualified, declared once.
#pragma once

#include "cwts/binance/account.hpp"
#include "cwts/binance/api_error.hpp"
#include "cwts/binance/exchange_info.hpp"
#include "cwts/binance/execution.hpp"
#include "cwts/binance/order.hpp"
#include "cwts/binance/rate_limits.hpp"
#include "cwts/core/money.hpp"

namespace cwts::sim {

// Money at the wire scale (core/money.hpp): prices, base quantities, quote notionals, balances.
using core::Amount;
using core::Notional;
using core::Price;
using core::Qty;

namespace errors = binance::errors;
namespace msg = binance::msg;
using binance::ApiError;
using binance::AssetAmount;
using binance::Balance;
using binance::Balances;
using binance::CancelRequest;
using binance::CancelRestrictions;
using binance::CancelResult;
using binance::CommissionRates;
using binance::ErrorCode;
using binance::ExecType;
using binance::ExecutionEvent;
using binance::Fill;
using binance::kDecimals;
using binance::kOne;
using binance::MyTradesQuery;
using binance::NewOrder;
using binance::Order;
using binance::OrderRef;
using binance::OrderResult;
using binance::OrderStatus;
using binance::OrderType;
using binance::RateUsage;
using binance::RespType;
using binance::Result;
using binance::Side;
using binance::StpMode;
using binance::TimeInForce;
using binance::Trade;

}  // namespace cwts::sim
