// Helpers shared by the simulated-venue tests: the real 2023 exchangeInfo, decimals, books, orders.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cwts/binance/exchange_info.hpp"
#include "cwts/binance/order.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/core/money.hpp"
#include "cwts/md/order_book.hpp"
#include "cwts/sim/wire.hpp"

namespace cwts::sim::test {

inline const std::string kData = CWTS_TEST_DATA;

// binance_spot_exchangeInfo_subset_preangelleo_2023.json: ETHBTC, BCCBTC (BREAK), BTCUSDT,
// ETHUSDT with the 2023 filter set (NOTIONAL, PERCENT_PRICE_BY_SIDE).
inline const binance::ExchangeInfo& info2023() {
  static const binance::ExchangeInfo info = binance::load_exchange_info(
      kData + "/binance_spot_exchangeInfo_subset_preangelleo_2023.json");
  return info;
}

// A decimal string at 8 decimals ("40000.5" -> 4000050000000).
inline std::int64_t d(std::string_view s) {
  std::int64_t v = 0;
  const auto rc = core::parse_fixed(s, 8, v);
  EXPECT_EQ(rc, core::DecimalErrc::kOk) << s;
  return v;
}

inline std::string fmt(std::int64_t v) {
  char buf[48];
  return std::string(buf, core::format_fixed(v, 8, buf));
}
template <class Tag>
std::string fmt(core::Fixed8<Tag> v) {
  return core::to_string(v);
}

using Levels = std::vector<std::pair<std::string_view, std::string_view>>;

inline md::OrderBook book(const Levels& bids, const Levels& asks) {
  md::OrderBook b;
  for (const auto& [px, qty] : bids) b.set_bid(md::Price{d(px)}, md::Qty{d(qty)});
  for (const auto& [px, qty] : asks) b.set_ask(md::Price{d(px)}, md::Qty{d(qty)});
  return b;
}

inline NewOrder limit(std::string_view symbol, Side side, std::string_view px, std::string_view qty,
                      TimeInForce tif = TimeInForce::kGtc) {
  NewOrder o;
  o.symbol = std::string(symbol);
  o.side = side;
  o.type = OrderType::kLimit;
  o.tif = tif;
  o.price = Price{d(px)};
  o.quantity = Qty{d(qty)};
  return o;
}

inline NewOrder market(std::string_view symbol, Side side, std::string_view qty) {
  NewOrder o;
  o.symbol = std::string(symbol);
  o.side = side;
  o.type = OrderType::kMarket;
  o.quantity = Qty{d(qty)};
  return o;
}

inline NewOrder market_quote(std::string_view symbol, Side side, std::string_view quote) {
  NewOrder o;
  o.symbol = std::string(symbol);
  o.side = side;
  o.type = OrderType::kMarket;
  o.quote_order_qty = Notional{d(quote)};
  return o;
}

inline NewOrder limit_maker(std::string_view symbol, Side side, std::string_view px,
                            std::string_view qty) {
  NewOrder o = limit(symbol, side, px, qty);
  o.type = OrderType::kLimitMaker;
  o.resp_type = RespType::kAck;
  return o;
}

}  // namespace cwts::sim::test
