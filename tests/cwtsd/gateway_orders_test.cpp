// GatewayOrders: the gateway's order state, built only from the engine's execution reports.
#include "gateway/gateway_orders.hpp"

#include <gtest/gtest.h>

namespace {

using cwts::binance::NewOrder;
using cwts::binance::OrderStatus;
using cwts::daemon::GatewayOrders;
using cwts::layout::ExecReport;
using cwts::layout::RejectReason;
using cwts::layout::ReportKind;

using cwts::core::Notional;
using cwts::core::Price;
using cwts::core::Qty;
using namespace cwts::core::money_literals;

NewOrder order(cwts::binance::OrderType type, Qty qty, Price px = {}, std::string cid = "c1") {
  NewOrder o;
  o.symbol = "BTCUSDT";
  o.type = type;
  o.quantity = qty;
  o.price = px;
  o.client_order_id = std::move(cid);
  return o;
}

ExecReport rep(std::uint64_t seq, ReportKind kind, Qty cum = {}, Price avg = {}, Qty last_qty = {},
               Price last_px = {}, Notional fee = {}) {
  ExecReport r{};
  r.signal_seq = seq;
  r.kind = static_cast<std::uint8_t>(kind);
  r.cum_qty = cum;
  r.avg_px = avg;
  r.last_qty = last_qty;
  r.last_px = last_px;
  r.fee = fee;
  r.venue_order_id = 777;
  r.client_order_id.assign("x-engine-cid");
  return r;
}

TEST(GatewayOrders, MarketOrderFillIsTheVenuesWithItsFee) {
  GatewayOrders g(1000);
  g.add(5, order(cwts::binance::OrderType::kMarket, 0.01_qty), 0, "USDT", 1);
  g.apply(rep(5, ReportKind::kAccepted), 2);
  EXPECT_FALSE(g.find(5)->venue_answered);
  g.apply(rep(5, ReportKind::kFilled, 0.01_qty, 50000_px, 0.01_qty, 50000_px, 0.5_quote), 3);
  const auto* o = g.find(5);
  ASSERT_NE(o, nullptr);
  EXPECT_TRUE(o->final);
  EXPECT_EQ(o->order.status, OrderStatus::kFilled);
  EXPECT_EQ(o->order.executed_qty, 0.01_qty);
  EXPECT_EQ(o->order.cumm_quote_qty, 500_quote);
  EXPECT_EQ(o->venue_client_order_id, "x-engine-cid");
  EXPECT_EQ(o->venue_order_id, 777U);
  ASSERT_EQ(o->fills.size(), 1U);
  EXPECT_EQ(o->fills[0].commission, 0.5_amt);
  EXPECT_EQ(o->fills[0].commission_asset, "USDT");
  EXPECT_EQ(o->fills[0].trade_id, 1000);
  cwts::binance::MyTradesQuery q;
  q.symbol = "BTCUSDT";
  const auto t = g.trades(q);
  ASSERT_EQ(t.size(), 1U);
  EXPECT_EQ(t[0].order_id, 5);
  EXPECT_TRUE(t[0].is_buyer);
  EXPECT_FALSE(t[0].is_maker);
}

TEST(GatewayOrders, RestingLimitFillsOneFillPerReportAndFeesByDelta) {
  GatewayOrders g;
  g.add(7, order(cwts::binance::OrderType::kLimit, 1_qty, 100_px), 0, "USDT", 1);
  g.apply(rep(7, ReportKind::kNew), 2);
  EXPECT_TRUE(g.find(7)->venue_answered);
  EXPECT_EQ(g.open_orders("BTCUSDT").size(), 1U);
  g.apply(rep(7, ReportKind::kPartiallyFilled, 0.4_qty, 100_px, 0.4_qty, 100_px, 0_quote), 3);
  EXPECT_EQ(g.find(7)->order.status, OrderStatus::kPartiallyFilled);
  // The fee of the first fill arrives later, without new quantity: it goes to that fill.
  g.apply(rep(7, ReportKind::kPartiallyFilled, 0.4_qty, 100_px, 0_qty, 0_px, 0.04_quote), 4);
  g.apply(rep(7, ReportKind::kFilled, 1_qty, 100_px, 0.6_qty, 100_px, 0.1_quote), 5);
  const auto* o = g.find(7);
  ASSERT_EQ(o->fills.size(), 2U);
  EXPECT_EQ(o->fills[0].qty, 0.4_qty);
  EXPECT_EQ(o->fills[0].commission, 0.04_amt);
  EXPECT_EQ(o->fills[1].qty, 0.6_qty);
  EXPECT_EQ(o->fills[1].commission, 0.06_amt);
  EXPECT_EQ(o->order.cumm_quote_qty, 100_quote);
  EXPECT_EQ(o->order.status, OrderStatus::kFilled);
  EXPECT_TRUE(g.open_orders("").empty());
  cwts::binance::MyTradesQuery q;
  q.symbol = "BTCUSDT";
  q.order_id = 7;
  const auto t = g.trades(q);
  ASSERT_EQ(t.size(), 2U);
  EXPECT_TRUE(t[0].is_maker) << "rested before it filled";
  EXPECT_EQ(t[0].commission + t[1].commission, 0.1_amt);
}

TEST(GatewayOrders, CommissionsAreInTheAssetTheVenueCharged) {
  // A buy: Binance takes its commission in the bought asset (0.1 % of 0.01 BTC = 0.00001 BTC).
  GatewayOrders g;
  g.add(9, order(cwts::binance::OrderType::kMarket, 0.01_qty), 0, "USDT", 1);
  ExecReport r = rep(9, ReportKind::kFilled, 0.01_qty, 50000_px, 0.01_qty, 50000_px, 0.5_quote);
  r.fee_native = 0.00001_amt;
  r.fee_asset.assign("BTC");
  g.apply(r, 2);
  const auto* o = g.find(9);
  ASSERT_EQ(o->fills.size(), 1U);
  EXPECT_EQ(o->fills[0].commission, 0.00001_amt);
  EXPECT_EQ(o->fills[0].commission_asset, "BTC");
  cwts::binance::MyTradesQuery q;
  q.symbol = "BTCUSDT";
  EXPECT_EQ(g.trades(q).at(0).commission_asset, "BTC");
}

TEST(GatewayOrders, CommissionsKnownAfterTheFillsAreRestatedInTheVenuesAsset) {
  GatewayOrders g;
  g.add(11, order(cwts::binance::OrderType::kLimit, 1_qty, 100_px), 0, "USDT", 1);
  g.apply(rep(11, ReportKind::kNew), 2);
  // Two fills whose commissions the venue has not told yet: 0, stated in quote for now.
  g.apply(rep(11, ReportKind::kPartiallyFilled, 0.4_qty, 100_px, 0.4_qty, 100_px), 3);
  g.apply(rep(11, ReportKind::kPartiallyFilled, 0.6_qty, 100_px, 0.2_qty, 100_px), 4);
  EXPECT_EQ(g.find(11)->fills.at(1).commission_asset, "USDT");
  // Then the venue's trades: 0.0006 BTC in all, charged in BTC.
  ExecReport r = rep(11, ReportKind::kPartiallyFilled, 0.6_qty, 100_px, 0_qty, 0_px, 0.06_quote);
  r.fee_native = 0.0006_amt;
  r.fee_asset.assign("BTC");
  g.apply(r, 5);
  const auto* o = g.find(11);
  ASSERT_EQ(o->fills.size(), 2U);
  EXPECT_EQ(o->fills[0].commission + o->fills[1].commission, 0.0006_amt);
  EXPECT_EQ(o->fills[0].commission_asset, "BTC");
  EXPECT_EQ(o->fills[1].commission_asset, "BTC");
  cwts::binance::MyTradesQuery q;
  q.symbol = "BTCUSDT";
  const auto t = g.trades(q);
  ASSERT_EQ(t.size(), 2U);
  EXPECT_EQ(t[0].commission + t[1].commission, 0.0006_amt);
  EXPECT_EQ(t[0].commission_asset, "BTC");
  EXPECT_EQ(t[1].commission_asset, "BTC");
}

TEST(GatewayOrders, EngineRejectionIsNotAnOrderAndFreesTheClientId) {
  GatewayOrders g;
  g.add(9, order(cwts::binance::OrderType::kLimit, 1_qty, 100_px, "dup"), 0, "USDT", 1);
  EXPECT_TRUE(g.client_id_in_use("BTCUSDT", "dup"));
  auto r = rep(9, ReportKind::kRejected);
  r.reason = static_cast<std::uint16_t>(RejectReason::kTradingHalted);
  g.apply(r, 2);
  EXPECT_EQ(g.find(9), nullptr);
  ASSERT_NE(g.find_any(9), nullptr);
  EXPECT_TRUE(g.find_any(9)->rejected);
  EXPECT_EQ(g.find_any(9)->reject_reason, RejectReason::kTradingHalted);
  EXPECT_FALSE(g.client_id_in_use("BTCUSDT", "dup"));
  EXPECT_TRUE(g.all_orders("BTCUSDT", {}, {}, {}, 500).empty());
}

TEST(GatewayOrders, CancelEndsWithItsTarget) {
  GatewayOrders g;
  g.add(10, order(cwts::binance::OrderType::kLimit, 1_qty, 100_px), 0, "USDT", 1);
  g.apply(rep(10, ReportKind::kNew), 2);
  g.add_cancel(11, 10, "cx");
  EXPECT_EQ(g.find(10)->cancel_seq, 11U);
  g.apply(rep(11, ReportKind::kAccepted), 3);
  EXPECT_FALSE(g.cancel(11)->final);
  g.apply(rep(10, ReportKind::kCancelled), 4);
  g.apply(rep(11, ReportKind::kCancelled), 4);
  EXPECT_EQ(g.find(10)->order.status, OrderStatus::kCanceled);
  EXPECT_EQ(g.find(10)->cancel_seq, 0U);
  ASSERT_TRUE(g.cancel(11)->final);
  EXPECT_EQ(g.cancel(11)->kind, ReportKind::kCancelled);
  EXPECT_EQ(g.cancel(11)->cancel_client_order_id, "cx");
  // A cancel that found its order already ended.
  g.add_cancel(12, 10, "cy");
  auto r = rep(12, ReportKind::kRejected);
  r.reason = static_cast<std::uint16_t>(RejectReason::kUnknownOrder);
  g.apply(r, 5);
  EXPECT_EQ(g.cancel(12)->kind, ReportKind::kRejected);
  EXPECT_EQ(g.cancel(12)->reason, RejectReason::kUnknownOrder);
  g.forget_cancel(12);
  EXPECT_EQ(g.cancel(12), nullptr);
}

TEST(GatewayOrders, KeepsABoundedHistoryOldestClosedFirst) {
  GatewayOrders g(1, 2, 10);
  g.add(1, order(cwts::binance::OrderType::kLimit, 1_qty, 100_px, "a"), 0, "USDT", 1);
  g.add(2, order(cwts::binance::OrderType::kLimit, 1_qty, 100_px, "b"), 0, "USDT", 2);
  g.apply(rep(2, ReportKind::kExpired), 3);
  g.add(3, order(cwts::binance::OrderType::kLimit, 1_qty, 100_px, "c"), 0, "USDT", 4);
  EXPECT_EQ(g.size(), 2U);
  EXPECT_NE(g.find(1), nullptr) << "open orders are never forgotten";
  EXPECT_EQ(g.find(2), nullptr);
  EXPECT_FALSE(g.client_id_in_use("BTCUSDT", "b"));
  const auto recent = g.all_orders("BTCUSDT", {}, {}, {}, 1);
  ASSERT_EQ(recent.size(), 1U);
  EXPECT_EQ(recent[0].order_id, 3);
  const auto from = g.all_orders("BTCUSDT", 1, {}, {}, 1);
  ASSERT_EQ(from.size(), 1U);
  EXPECT_EQ(from[0].order_id, 1);
}

}  // namespace
