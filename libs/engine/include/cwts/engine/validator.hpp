// Signal validation: a pure function of the signal, the symbol's venue filters, the engine's risk
// limits, the market and the exposure. No allocation, no I/O, no locks (BM_Validate_Signal).
#pragma once

#include <cstdint>

#include "cwts/binance/exchange_info.hpp"
#include "cwts/shm_layout/signal_region.hpp"
#include "cwts/shm_layout/types.hpp"

namespace cwts::engine {

// A symbol's venue filters at 8 decimals (copied from binance::SymbolSpec at start-up).
struct SymbolRules {
  bool trading = false;          // status TRADING
  std::uint8_t order_types = 0;  // bit (1 << layout::OrderType)
  std::int64_t tick = 0, min_price = 0, max_price = 0;
  std::int64_t step = 0, min_qty = 0, max_qty = 0;
  std::int64_t market_min_qty = 0, market_max_qty = 0;
  std::int64_t min_notional = 0, max_notional = 0;
  bool min_notional_market = false, max_notional_market = false;
  std::int64_t bid_up = 0, bid_down = 0, ask_up = 0, ask_down = 0;  // Ratio at 8 decimals; 0 = off
  std::uint32_t max_num_orders = 0;

  [[nodiscard]] static SymbolRules from(const binance::SymbolSpec& spec) noexcept;
};

// Engine risk limits for one symbol (0 = off unless noted).
struct RiskLimits {
  std::int64_t max_order_notional = 0;  // quote, 8 decimals
  std::int64_t max_position = 0;        // |base|, 8 decimals
  std::uint32_t max_open_orders = 0;
  std::uint32_t price_band_bps = 0;
  std::uint32_t default_ttl_ms = 5000;  // never 0
  std::uint32_t max_ttl_ms = 60000;
};

// When a signal stops being executable: created + its TTL (0 = the default), at most max_ttl_ms.
// Checked at intake, and again by the venue before it sends or resends the order.
[[nodiscard]] std::int64_t signal_deadline_ns(const layout::Signal& s,
                                              const RiskLimits& risk) noexcept;

struct MarketState {
  std::int64_t bid = 0;  // best bid/ask, 8 decimals; 0 when the side is empty
  std::int64_t ask = 0;
  bool book_valid = false;
  [[nodiscard]] std::int64_t mid() const noexcept {
    return bid > 0 && ask > 0 ? (bid + ask) / 2 : (bid > 0 ? bid : ask);
  }
};

struct Exposure {
  std::int64_t position = 0;      // signed base qty, > 0 long
  std::int64_t open_buy_qty = 0;  // remaining qty of open buy orders
  std::int64_t open_sell_qty = 0;
  std::uint32_t open_orders = 0;
};

struct SlotPolicy {
  bool may_trade = true;
  bool reduce_only = false;
};

// The checks, in this order; the first failure is the reason (docs/engine.md has the table):
//   1 REPLAYED_SEQUENCE   seq <= the slot's last seen seq
//   2 SLOT_NOT_AUTHORISED the slot may not trade
//   3 UNKNOWN_SYMBOL      no such symbol id;   TRADING_HALTED if its status is not TRADING
//   4 BAD_SIDE, 5 BAD_TYPE (type/tif unknown or not allowed for the symbol)
//   6 BAD_VALUE           qty <= 0, or a limit price <= 0
//   7 STALE               created + min(ttl or default, max ttl) < now, or created in the future
//   8 TRADING_HALTED      engine halted;   REDUCE_ONLY if reduce-only (engine, slot or signal) and
//                         the order would not reduce |position|
//   9 BOOK_NOT_VALID
//  10 TICK_SIZE (price not a tick multiple or outside min/max price), 11 STEP_SIZE,
//  12 MIN_QTY, 13 MAX_QTY (market orders use MARKET_LOT_SIZE when set)
//  14 MIN_NOTIONAL, 15 MAX_NOTIONAL (venue filter, then the engine's max order notional); market
//     orders are valued at the mid
//  16 PERCENT_PRICE (limit price against mid × multipliers, by side)
//  17 PRICE_BAND (limit price within price_band_bps of the mid)
//  18 MAX_POSITION (|position + open same-side qty + qty| > max_position)
//  19 MAX_OPEN_ORDERS (engine limit, then the symbol's MAX_NUM_ORDERS)
// Cancel signals are checked for 1-2 only (the target is looked up by the caller).
[[nodiscard]] layout::RejectReason validate(const layout::Signal& s, const SymbolRules* rules,
                                            const RiskLimits& risk, const MarketState& market,
                                            const Exposure& exposure, layout::TradingState state,
                                            const SlotPolicy& slot, std::uint64_t last_seq,
                                            std::int64_t now_ns) noexcept;

// price × qty at 8 decimals each → quote at 8 decimals (truncated), without overflow.
[[nodiscard]] std::int64_t notional(std::int64_t price, std::int64_t qty) noexcept;

[[nodiscard]] const char* to_string(layout::RejectReason r) noexcept;
// "ACCEPTED" ... "EXPIRED" (as the bridge and the control plane name them); "?" if unknown.
[[nodiscard]] const char* to_string(layout::ReportKind k) noexcept;
// "active", "halted", "reduce_only" (as the config and the control plane name them).
[[nodiscard]] const char* to_string(layout::TradingState s) noexcept;

}  // namespace cwts::engine
