// Signal validation: a pure function of the signal, the symbol's venue filters, the engine's risk
// limits, the market and the exposure. No allocation, no I/O, no locks (BM_Validate_Signal).
#pragma once

#include <cstdint>

#include "cwts/binance/exchange_info.hpp"
#include "cwts/core/money.hpp"
#include "cwts/shm_layout/signal_region.hpp"
#include "cwts/shm_layout/types.hpp"

namespace cwts::engine {

// A symbol's venue filters at 8 decimals (copied from binance::SymbolSpec at start-up).
struct SymbolRules {
  bool trading = false;          // status TRADING
  std::uint8_t order_types = 0;  // bit (1 << layout::OrderType)
  core::Price tick{}, min_price{}, max_price{};
  core::Qty step{}, min_qty{}, max_qty{};
  core::Qty market_min_qty{}, market_max_qty{};
  core::Notional min_notional{}, max_notional{};
  bool min_notional_market = false, max_notional_market = false;
  std::int64_t bid_up = 0, bid_down = 0, ask_up = 0, ask_down = 0;  // Ratio at 8 decimals; 0 = off
  std::uint32_t max_num_orders = 0;

  [[nodiscard]] static SymbolRules from(const binance::SymbolSpec& spec) noexcept;
};

// Engine risk limits for one symbol (0 = off unless noted).
struct RiskLimits {
  core::Notional max_order_notional{};
  core::Qty max_position{};  // |base|
  std::uint32_t max_open_orders = 0;
  std::uint32_t price_band_bps = 0;
  std::uint32_t default_ttl_ms = 5000;  // never 0
  std::uint32_t max_ttl_ms = 60000;
  // Spot sells may sell more than the engine's position (the account's other holdings). Off: a
  // sell needs the engine's own inventory, position less the sells already open (NO_INVENTORY).
  bool sell_account_holdings = false;
  // The symbol's market data must have been received within this (BOOK_STALE); 0 = off.
  std::uint32_t max_book_age_ms = 5000;
};

// When a signal stops being executable: created + its TTL (0 = the default), at most max_ttl_ms.
// Checked at intake, and again by the venue before it sends or resends the order.
[[nodiscard]] std::int64_t signal_deadline_ns(const layout::Signal& s,
                                              const RiskLimits& risk) noexcept;

struct MarketState {
  core::Price bid{};  // best bid/ask; zero when the side is empty
  core::Price ask{};
  bool book_valid = false;
  // When the md thread last received anything for the symbol (the quote's receive time, the same
  // realtime clock as `now_ns`); the book's age is measured from it.
  std::int64_t update_ns = 0;
  // The venue's average price (VWAP of the symbol's trades over the NOTIONAL filter's
  // avgPriceMins: engine::AveragePrice), which values MARKET orders; zero = not known yet.
  core::Price avg{};
  [[nodiscard]] core::Price mid() const noexcept {
    const core::Price zero{};
    return bid > zero && ask > zero ? core::Price{(bid.raw + ask.raw) / 2}
                                    : (bid > zero ? bid : ask);
  }
};

struct Exposure {
  core::Qty position{};      // signed, > 0 long
  core::Qty open_buy_qty{};  // remaining qty of open buy orders
  core::Qty open_sell_qty{};
  std::uint32_t open_orders = 0;
};

struct SlotPolicy {
  bool may_trade = true;
  bool reduce_only = false;
  bool cancel_on_release = false;  // not a check: the exec thread's, when the holder leaves
};

// The checks, in this order; the first failure is the reason (docs/engine.md has the table):
//   1 REPLAYED_SEQUENCE   seq <= the slot's last seen seq
//   2 SLOT_NOT_AUTHORISED the slot may not trade
//   3 UNKNOWN_SYMBOL      no such symbol id;   TRADING_HALTED if its status is not TRADING
//   4 BAD_SIDE, 5 BAD_TYPE (type/tif unknown or not allowed for the symbol)
//   6 BAD_VALUE           qty <= 0, or a limit price <= 0
//   7 STALE               created + min(ttl or default, max ttl) < now, or created > 1 s ahead
//   8 TRADING_HALTED      engine halted;   REDUCE_ONLY if reduce-only (engine, slot or signal) and
//                         the order would not reduce |position|
//   9 BOOK_NOT_VALID      the book is not synced; for a market order also when the side it
//                         would take is empty
//  10 BOOK_STALE          now - market.update_ns > max_book_age_ms
//  11 TICK_SIZE (price not a tick multiple or outside min/max price), 12 STEP_SIZE,
//  13 MIN_QTY, 14 MAX_QTY (market orders use MARKET_LOT_SIZE when set)
//  15 MIN_NOTIONAL, 16 MAX_NOTIONAL (venue filter, then the engine's max order notional); market
//     orders are valued at their estimated execution price (best ask for a buy, bid for a sell)
//  17 PERCENT_PRICE (limit price against mid × multipliers, by side)
//  18 PRICE_BAND (a limit price, or a market order's estimated execution price, within
//     price_band_bps of the mid)
//  19 NO_INVENTORY (a sell of more than position - open sells, unless sell_account_holdings)
//  20 MAX_POSITION (|position + open same-side qty + qty| > max_position)
//  21 MAX_OPEN_ORDERS (engine limit, then the symbol's MAX_NUM_ORDERS)
//   9 BOOK_NOT_VALID
//  10 TICK_SIZE (price not a tick multiple or outside min/max price), 11 STEP_SIZE,
//  12 MIN_QTY, 13 MAX_QTY (market orders use MARKET_LOT_SIZE when set)
//  14 MIN_NOTIONAL, 15 MAX_NOTIONAL (venue filter, then the engine's max order notional); market
//     orders are valued at MarketState::avg (the venue's average price), at the mid until known
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

[[nodiscard]] const char* to_string(layout::RejectReason r) noexcept;
// "ACCEPTED" ... "EXPIRED" (as the bridge and the control plane name them); "?" if unknown.
[[nodiscard]] const char* to_string(layout::ReportKind k) noexcept;
// "active", "halted", "reduce_only" (as the config and the control plane name them).
[[nodiscard]] const char* to_string(layout::TradingState s) noexcept;

}  // namespace cwts::engine
