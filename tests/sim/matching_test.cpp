// MatchingEngine: fills at book prices, IOC/FOK/MARKET/LIMIT_MAKER, resting fills, locks, cancels.
#include "cwts/sim/matching.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cwts/binance/json_responses.hpp"
#include "sim_test_util.hpp"

namespace {

using namespace cwts::binance;
using namespace cwts::sim;
using namespace cwts::sim::test;
using namespace cwts::core::money_literals;
namespace md = cwts::md;

constexpr std::int64_t kT0 = 1'700'000'000'000;

// bids 39999.00 x 1, 39998.00 x 2 | asks 40000.00 x 0.5, 40001.00 x 0.3, 40002.00 x 1
md::OrderBook book_a() {
  return book({{"39999.00", "1.0"}, {"39998.00", "2.0"}},
              {{"40000.00", "0.5"}, {"40001.00", "0.3"}, {"40002.00", "1.0"}});
}

Account funded(std::string_view usdt = "100000", std::string_view btc = "2") {
  return Account({{"USDT", Amount{d(usdt)}}, {"BTC", Amount{d(btc)}}});
}

class MatchingTest : public ::testing::Test {
 protected:
  MatchingEngine engine{info2023(), funded()};
  md::OrderBook b = book_a();

  OrderResult place(const NewOrder& o, std::int64_t t = kT0) {
    auto r = engine.place_order(o, b, t);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().msg);
    return r.ok() ? std::move(r).value() : OrderResult{};
  }
  std::string reject(const NewOrder& o) {
    auto r = engine.place_order(o, b, kT0);
    EXPECT_FALSE(r.ok());
    return r.ok() ? "<accepted>" : error_json(r.error());
  }
  Balance bal(std::string_view asset) const { return engine.account().balance(asset); }
};

TEST_F(MatchingTest, LimitBuyCrossingTakesSeveralLevelsAtBookPrices) {
  const OrderResult r = place(limit("BTCUSDT", Side::kBuy, "40001.50", "1.0"));
  ASSERT_EQ(r.fills.size(), 2U);
  EXPECT_EQ(r.fills[0].price, 40000.00_px);
  EXPECT_EQ(r.fills[0].qty, 0.5_qty);
  EXPECT_EQ(r.fills[0].commission, 0.0005_amt);  // taker 0.1% of the BTC received
  EXPECT_EQ(r.fills[0].commission_asset, "BTC");
  EXPECT_EQ(r.fills[0].trade_id, 1);
  EXPECT_EQ(r.fills[1].price, 40001.00_px);
  EXPECT_EQ(r.fills[1].qty, 0.3_qty);
  EXPECT_EQ(r.fills[1].commission, 0.0003_amt);
  EXPECT_EQ(r.fills[1].trade_id, 2);
  EXPECT_EQ(r.order.status, OrderStatus::kPartiallyFilled);
  EXPECT_EQ(r.order.executed_qty, 0.8_qty);
  EXPECT_EQ(r.order.cumm_quote_qty, 32000.30_quote);
  // VWAP = cummulativeQuoteQty / executedQty.
  EXPECT_EQ(cwts::core::average_price(r.order.cumm_quote_qty, r.order.executed_qty), 40000.375_px);
  // The remainder rests with price * remaining locked; the price improvement was released.
  EXPECT_EQ(bal("USDT"), (Balance{59999.40_amt, 8000.30_amt}));
  EXPECT_EQ(bal("BTC"), (Balance{2.7992_amt, {}}));
  ASSERT_EQ(engine.open_orders("BTCUSDT").size(), 1U);
  const auto trades = engine.account().trades("BTCUSDT");
  ASSERT_EQ(trades.size(), 2U);
  EXPECT_TRUE(trades[0].is_buyer);
  EXPECT_FALSE(trades[0].is_maker);
  EXPECT_EQ(trades[1].quote_qty, 12000.30_quote);
  EXPECT_EQ(trades[1].order_id, r.order.order_id);
}

TEST_F(MatchingTest, IocRemainderExpires) {
  const OrderResult r = place(limit("BTCUSDT", Side::kBuy, "40001.50", "1.0", TimeInForce::kIoc));
  EXPECT_EQ(r.fills.size(), 2U);
  EXPECT_EQ(r.order.status, OrderStatus::kExpired);
  EXPECT_EQ(r.order.executed_qty, 0.8_qty);
  EXPECT_EQ(bal("USDT"), (Balance{67999.70_amt, {}}));
  EXPECT_TRUE(engine.open_orders("BTCUSDT").empty());
}

TEST_F(MatchingTest, FokIsAllOrNothing) {
  const OrderResult none =
      place(limit("BTCUSDT", Side::kBuy, "40001.50", "1.0", TimeInForce::kFok));
  EXPECT_EQ(none.order.status, OrderStatus::kExpired);
  EXPECT_EQ(none.order.executed_qty, Qty{});
  EXPECT_TRUE(none.fills.empty());
  EXPECT_EQ(bal("USDT"), (Balance{100000_amt, {}}));
  EXPECT_EQ(bal("BTC"), (Balance{2_amt, {}}));
  EXPECT_TRUE(engine.account().trades("BTCUSDT").empty());

  const OrderResult all = place(limit("BTCUSDT", Side::kBuy, "40001.50", "0.8", TimeInForce::kFok));
  EXPECT_EQ(all.order.status, OrderStatus::kFilled);
  EXPECT_EQ(all.fills.size(), 2U);
  EXPECT_EQ(all.order.executed_qty, 0.8_qty);
  EXPECT_EQ(bal("USDT"), (Balance{67999.70_amt, {}}));
}

TEST_F(MatchingTest, MarketBuyWithQuoteOrderQtySpendsAtMostTheQuote) {
  const OrderResult r = place(market_quote("BTCUSDT", Side::kBuy, "30000"));
  ASSERT_EQ(r.fills.size(), 2U);
  EXPECT_EQ(r.fills[0].qty, 0.5_qty);
  // 10000 USDT left buys 0.24999375 at 40001, floored to the 0.00001 step.
  EXPECT_EQ(r.fills[1].qty, 0.24999_qty);
  EXPECT_EQ(r.order.orig_qty, 0.74999_qty);
  EXPECT_EQ(r.order.executed_qty, 0.74999_qty);
  EXPECT_EQ(r.order.orig_quote_order_qty, 30000_quote);
  EXPECT_EQ(r.order.cumm_quote_qty, 29999.84999_quote);
  EXPECT_EQ(r.order.status, OrderStatus::kFilled);
  EXPECT_EQ(r.order.price, Price{});
  EXPECT_EQ(r.order.tif, TimeInForce::kGtc);
  EXPECT_EQ(bal("USDT"), (Balance{70000.15001_amt, {}}));
  EXPECT_EQ(bal("BTC"), (Balance{2_amt + 0.74999_amt - 0.0005_amt - 0.00024999_amt, {}}));
}

TEST_F(MatchingTest, MarketSellWalksTheBidsAndPaysFeesInQuote) {
  const OrderResult r = place(market("BTCUSDT", Side::kSell, "1.5"));
  ASSERT_EQ(r.fills.size(), 2U);
  EXPECT_EQ(r.fills[0].price, 39999.00_px);
  EXPECT_EQ(r.fills[1].price, 39998.00_px);
  EXPECT_EQ(r.fills[0].commission, 39.999_amt);
  EXPECT_EQ(r.fills[1].commission_asset, "USDT");
  EXPECT_EQ(r.order.status, OrderStatus::kFilled);
  EXPECT_EQ(bal("USDT"), (Balance{100000_amt + 59998_amt - 59.998_amt, {}}));
  EXPECT_EQ(bal("BTC"), (Balance{0.5_amt, {}}));
}

TEST_F(MatchingTest, MarketOrderBeyondTheBookExpiresTheRest) {
  const OrderResult r = place(market("BTCUSDT", Side::kSell, "2"));  // bids hold 3
  EXPECT_EQ(r.order.status, OrderStatus::kFilled);
  const OrderResult rest = place(market("BTCUSDT", Side::kBuy, "1.9"));  // asks hold 1.8
  EXPECT_EQ(rest.order.status, OrderStatus::kExpired);
  EXPECT_EQ(rest.order.executed_qty, 1.8_qty);
  EXPECT_EQ(bal("USDT").locked, Amount{});
}

TEST_F(MatchingTest, LimitMakerIsRejectedWhenItWouldTake) {
  EXPECT_EQ(reject(limit_maker("BTCUSDT", Side::kBuy, "40000.00", "0.1")),
            R"({"code":-2010,"msg":"Order would immediately match and take."})");
  EXPECT_EQ(reject(limit_maker("BTCUSDT", Side::kSell, "39999.00", "0.1")),
            R"({"code":-2010,"msg":"Order would immediately match and take."})");
  EXPECT_EQ(bal("USDT"), (Balance{100000_amt, {}}));
  const OrderResult r = place(limit_maker("BTCUSDT", Side::kBuy, "39999.99", "0.1"));
  EXPECT_EQ(r.order.status, OrderStatus::kNew);
  EXPECT_EQ(r.order.type, OrderType::kLimitMaker);
  EXPECT_EQ(bal("USDT").locked, 3999.999_amt);
}

TEST_F(MatchingTest, RestingBuyFillsAtItsPriceWhenTheMarketComesThrough) {
  CommissionRates rates;
  rates.maker = d("0.0005");
  engine.account().set_commission(rates);
  const OrderResult r = place(limit("BTCUSDT", Side::kBuy, "39999.50", "1.0"));
  EXPECT_EQ(r.order.status, OrderStatus::kNew);
  EXPECT_TRUE(r.fills.empty());

  // Asks drop through the order's price: 0.4 at 39995 and 0.3 at 39999.50 cross it.
  b = book({{"39990.00", "1"}}, {{"39995.00", "0.4"}, {"39999.50", "0.3"}, {"40000.00", "5"}});
  engine.on_book("BTCUSDT", b, kT0 + 100);
  auto q = engine.query_order({"BTCUSDT", r.order.order_id, ""});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q.value().status, OrderStatus::kPartiallyFilled);
  EXPECT_EQ(q.value().executed_qty, 0.7_qty);
  EXPECT_EQ(q.value().cumm_quote_qty, 27999.65_quote);  // all at the order's own price
  EXPECT_EQ(q.value().update_time_ms, kT0 + 100);
  auto trades = engine.account().trades("BTCUSDT");
  ASSERT_EQ(trades.size(), 2U);
  EXPECT_TRUE(trades[0].is_maker);
  EXPECT_EQ(trades[0].price, 39999.50_px);
  EXPECT_EQ(trades[0].commission, 0.0002_amt);  // maker rate

  // The same book again: that liquidity was already taken.
  engine.on_book("BTCUSDT", b, kT0 + 200);
  EXPECT_EQ(engine.query_order({"BTCUSDT", r.order.order_id, ""}).value().executed_qty, 0.7_qty);

  // The level at 39999.50 changes: it is fresh liquidity; 39995 still shows the taken 0.4.
  b.set_ask(39999.50_px, 0.5_qty);
  engine.on_book("BTCUSDT", b, kT0 + 300);
  q = engine.query_order({"BTCUSDT", r.order.order_id, ""});
  EXPECT_EQ(q.value().status, OrderStatus::kFilled);
  EXPECT_EQ(q.value().executed_qty, 1.0_qty);
  EXPECT_EQ(bal("USDT"), (Balance{100000_amt - 39999.50_amt, {}}));
  EXPECT_EQ(bal("BTC"), (Balance{2_amt + 1_amt - 0.0005_amt, {}}));
  EXPECT_TRUE(engine.open_orders("BTCUSDT").empty());
}

TEST_F(MatchingTest, RestingSellFillsWhenBidsRiseToIt) {
  const OrderResult r = place(limit("BTCUSDT", Side::kSell, "40010.00", "0.5"));
  EXPECT_EQ(bal("BTC"), (Balance{1.5_amt, 0.5_amt}));
  b = book({{"40012.00", "0.2"}, {"40010.00", "1"}, {"40000.00", "1"}}, {{"40013.00", "1"}});
  engine.on_book("BTCUSDT", b, kT0 + 1);
  const auto q = engine.query_order({"BTCUSDT", r.order.order_id, ""}).value();
  EXPECT_EQ(q.status, OrderStatus::kFilled);
  EXPECT_EQ(q.cumm_quote_qty, 20005_quote);
  const auto trades = engine.account().trades("BTCUSDT");
  ASSERT_EQ(trades.size(), 2U);
  EXPECT_EQ(trades[0].qty, 0.2_qty);
  EXPECT_EQ(trades[1].qty, 0.3_qty);
  EXPECT_EQ(trades[1].price, 40010.00_px);
  EXPECT_FALSE(trades[1].is_buyer);
  EXPECT_EQ(bal("BTC"), (Balance{1.5_amt, {}}));
  EXPECT_EQ(bal("USDT"), (Balance{100000_amt + 20005_amt - 20.005_amt, {}}));
}

TEST_F(MatchingTest, LiquidityTakenOnceIsNotTakenAgainFromAnUnchangedBook) {
  place(limit("BTCUSDT", Side::kBuy, "40001.50", "1.0", TimeInForce::kIoc));
  EXPECT_EQ(engine.available_at("BTCUSDT", Side::kSell, 40000.00_px, b), Qty{});
  const OrderResult again =
      place(limit("BTCUSDT", Side::kBuy, "40001.50", "1.0", TimeInForce::kIoc));
  EXPECT_EQ(again.order.executed_qty, Qty{});
  EXPECT_EQ(again.order.status, OrderStatus::kExpired);
  b.set_ask(40000.00_px, 0.6_qty);
  EXPECT_EQ(engine.available_at("BTCUSDT", Side::kSell, 40000.00_px, b), 0.6_qty);
  const OrderResult fresh =
      place(limit("BTCUSDT", Side::kBuy, "40001.50", "1.0", TimeInForce::kIoc));
  EXPECT_EQ(fresh.order.executed_qty, 0.6_qty);
}

TEST_F(MatchingTest, CancelReleasesTheLockedBalanceExactly) {
  const OrderResult rest = place(limit("BTCUSDT", Side::kBuy, "39000.01", "0.3"));
  EXPECT_EQ(bal("USDT"), (Balance{100000_amt - 11700.003_amt, 11700.003_amt}));
  CancelRequest c;
  c.ref = {"BTCUSDT", rest.order.order_id, ""};
  c.new_client_order_id = "cancelMe";
  const auto cancelled = engine.cancel_order(c, kT0 + 5);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled.value().order.status, OrderStatus::kCanceled);
  EXPECT_EQ(cancelled.value().cancel_client_order_id, "cancelMe");
  EXPECT_EQ(bal("USDT"), (Balance{100000_amt, {}}));
  EXPECT_EQ(error_json(engine.cancel_order(c, kT0 + 6).error()),
            R"({"code":-2011,"msg":"Unknown order sent."})");
  EXPECT_EQ(engine.query_order(c.ref).value().status, OrderStatus::kCanceled);

  // A partially filled order gives back exactly what its remainder held.
  const OrderResult part = place(limit("BTCUSDT", Side::kBuy, "40001.50", "1.0"));
  c.ref.order_id = part.order.order_id;
  ASSERT_TRUE(engine.cancel_order(c, kT0 + 7).ok());
  EXPECT_EQ(bal("USDT"), (Balance{67999.70_amt, {}}));
  EXPECT_EQ(bal("BTC"), (Balance{2.7992_amt, {}}));

  // A resting SELL returns its base.
  const OrderResult sell = place(limit("BTCUSDT", Side::kSell, "45000", "0.7"));
  EXPECT_EQ(bal("BTC"), (Balance{2.0992_amt, 0.7_amt}));
  c.ref.order_id = sell.order.order_id;
  ASSERT_TRUE(engine.cancel_order(c, kT0 + 8).ok());
  EXPECT_EQ(bal("BTC"), (Balance{2.7992_amt, {}}));
}

TEST_F(MatchingTest, CancelRestrictionsAreEnforced) {
  const OrderResult part = place(limit("BTCUSDT", Side::kBuy, "40001.50", "1.0"));
  CancelRequest c;
  c.ref = {"BTCUSDT", part.order.order_id, ""};
  c.restrictions = CancelRestrictions::kOnlyNew;
  EXPECT_EQ(error_json(engine.cancel_order(c, kT0).error()),
            R"({"code":-2011,"msg":"Order was not canceled due to cancel restrictions."})");
  c.restrictions = CancelRestrictions::kOnlyPartiallyFilled;
  EXPECT_TRUE(engine.cancel_order(c, kT0).ok());
}

TEST_F(MatchingTest, InsufficientBalanceIsRejected) {
  MatchingEngine poor(info2023(), funded("1000", "0.1"));
  for (const NewOrder& o :
       {limit("BTCUSDT", Side::kBuy, "40000", "1"), limit("BTCUSDT", Side::kSell, "40000", "0.2"),
        market("BTCUSDT", Side::kBuy, "0.5"), market("BTCUSDT", Side::kSell, "0.2"),
        market_quote("BTCUSDT", Side::kBuy, "1000.01")}) {
    const auto r = poor.place_order(o, b, kT0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(error_json(r.error()),
              R"({"code":-2010,"msg":"Account has insufficient balance for requested action."})");
  }
  EXPECT_EQ(poor.account().balance("USDT"), (Balance{1000_amt, {}}));
  EXPECT_TRUE(poor.place_order(market_quote("BTCUSDT", Side::kBuy, "1000"), b, kT0).ok());
}

TEST_F(MatchingTest, ClientOrderIdsAreUniqueAmongOpenOrders) {
  NewOrder o = limit("BTCUSDT", Side::kBuy, "39000", "0.1");
  o.client_order_id = "dup1";
  const OrderResult first = place(o);
  EXPECT_EQ(reject(o), R"({"code":-2010,"msg":"Duplicate order sent."})");
  ASSERT_TRUE(engine.cancel_order({{"BTCUSDT", std::nullopt, "dup1"}, "", {}}, kT0).ok());
  const OrderResult second = place(o);
  EXPECT_NE(second.order.order_id, first.order.order_id);
  // origClientOrderId finds the latest order with that id.
  EXPECT_EQ(engine.query_order({"BTCUSDT", std::nullopt, "dup1"}).value().order_id,
            second.order.order_id);
}

TEST_F(MatchingTest, GeneratedClientOrderIdsLookLikeBinances) {
  const OrderResult a = place(limit("BTCUSDT", Side::kBuy, "39000", "0.1"));
  const OrderResult c = place(limit("BTCUSDT", Side::kBuy, "39000", "0.1"));
  for (const std::string& id : {a.order.client_order_id, c.order.client_order_id}) {
    EXPECT_EQ(id.size(), 22U);
    for (const char ch : id) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(ch))) << id;
  }
  EXPECT_NE(a.order.client_order_id, c.order.client_order_id);
}

TEST_F(MatchingTest, OrderIdsArePerSymbol) {
  const md::OrderBook eth = book({{"0.04900", "10"}}, {{"0.05100", "10"}});
  EXPECT_EQ(place(limit("BTCUSDT", Side::kBuy, "39000", "0.1")).order.order_id, 1);
  EXPECT_EQ(place(limit("BTCUSDT", Side::kBuy, "39000", "0.1")).order.order_id, 2);
  const auto r = engine.place_order(limit("ETHBTC", Side::kBuy, "0.05", "1"), eth, kT0);
  ASSERT_TRUE(r.ok()) << r.error().msg;
  EXPECT_EQ(r.value().order.order_id, 1);
  EXPECT_EQ(engine.open_orders("").size(), 3U);
  EXPECT_EQ(engine.open_orders("ETHBTC").size(), 1U);
}

TEST_F(MatchingTest, QueryAndCancelAll) {
  NewOrder o = limit("BTCUSDT", Side::kBuy, "39000", "0.1");
  o.client_order_id = "a1";
  const OrderResult a = place(o);
  o.client_order_id = "b2";
  place(o);
  EXPECT_EQ(engine.query_order({"BTCUSDT", a.order.order_id, "a1"}).value().client_order_id, "a1");
  EXPECT_EQ(error_json(engine.query_order({"BTCUSDT", a.order.order_id, "b2"}).error()),
            R"({"code":-2013,"msg":"Order does not exist."})");
  EXPECT_EQ(engine.query_order({"BTCUSDT", 99, ""}).error().code, ErrorCode::kNoSuchOrder);
  EXPECT_EQ(engine.query_order({"BTCUSDT", std::nullopt, "zz"}).error().code,
            ErrorCode::kNoSuchOrder);
  const auto all = engine.cancel_open_orders("BTCUSDT", kT0 + 9);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all.value().size(), 2U);
  EXPECT_EQ(all.value()[0].order.client_order_id, "a1");
  EXPECT_EQ(all.value()[1].order.status, OrderStatus::kCanceled);
  EXPECT_EQ(bal("USDT"), (Balance{100000_amt, {}}));
  EXPECT_EQ(error_json(engine.cancel_open_orders("BTCUSDT", kT0).error()),
            R"({"code":-2011,"msg":"Unknown order sent."})");
}

TEST_F(MatchingTest, MyTradesFilters) {
  // Five one-fill market buys, one per minute.
  b = book({}, {{"40000.00", "100"}});
  std::vector<std::int64_t> order_ids;
  for (int i = 0; i < 5; ++i) {
    b.set_ask(40000.00_px, 100_qty + Qty::from_raw(i));  // fresh liquidity each time
    order_ids.push_back(
        place(market("BTCUSDT", Side::kBuy, "0.01"), kT0 + i * 60'000).order.order_id);
  }
  auto ids = [&](MyTradesQuery q) {
    q.symbol = "BTCUSDT";
    std::vector<std::int64_t> out;
    for (const Trade& t : engine.my_trades(q)) out.push_back(t.id);
    return out;
  };
  using V = std::vector<std::int64_t>;
  EXPECT_EQ(ids({}), (V{1, 2, 3, 4, 5}));
  MyTradesQuery q;
  q.limit = 2;
  EXPECT_EQ(ids(q), (V{4, 5}));  // most recent
  q.from_id = 2;
  EXPECT_EQ(ids(q), (V{2, 3}));
  q = {};
  q.order_id = order_ids[2];
  EXPECT_EQ(ids(q), (V{3}));
  q = {};
  q.start_time_ms = kT0 + 60'000;
  q.end_time_ms = kT0 + 180'000;
  EXPECT_EQ(ids(q), (V{2, 3, 4}));
  q.limit = 2;
  EXPECT_EQ(ids(q), (V{2, 3}));
  q = {};
  q.end_time_ms = kT0 + 120'000;
  q.limit = 2;
  EXPECT_EQ(ids(q), (V{2, 3}));
  q = {};
  q.start_time_ms = kT0 + 240'001;
  EXPECT_TRUE(ids(q).empty());
}

TEST_F(MatchingTest, SymbolStatusAndEmptyBooks) {
  const md::OrderBook eth = book({{"0.04900", "10"}}, {{"0.05100", "10"}});
  EXPECT_EQ(
      error_json(engine.place_order(limit("BCCBTC", Side::kBuy, "0.01", "1"), eth, kT0).error()),
      R"({"code":-2010,"msg":"Market is closed."})");
  EXPECT_EQ(engine.place_order(limit("NOPE", Side::kBuy, "1", "1"), eth, kT0).error().code,
            ErrorCode::kBadSymbol);
  b = md::OrderBook{};
  const OrderResult r = place(market("BTCUSDT", Side::kBuy, "0.1"));
  EXPECT_EQ(r.order.status, OrderStatus::kExpired);
  EXPECT_EQ(r.order.executed_qty, Qty{});
  EXPECT_EQ(reject(market_quote("BTCUSDT", Side::kBuy, "100")),
            R"({"code":-2010,"msg":"Order book liquidity is less than symbol minimum quantity."})");
  EXPECT_EQ(bal("USDT"), (Balance{100000_amt, {}}));
}

TEST_F(MatchingTest, CommissionIsRoundedHalfUpToEightDecimals) {
  // 0.00017 * 40000.57 = 6.8000969 USDT; 0.1% of it is 0.0068000969 -> 0.00680010.
  b = book({{"40000.57", "1"}}, {{"40001.00", "1"}});
  const OrderResult r = place(market("BTCUSDT", Side::kSell, "0.00017"));
  ASSERT_EQ(r.fills.size(), 1U);
  EXPECT_EQ(r.fills[0].commission, 0.0068001_amt);
  EXPECT_EQ(bal("USDT").free, 100000_amt + 6.8000969_amt - 0.0068001_amt);
}

TEST_F(MatchingTest, LimitBuyLockIsRoundedUpAndTheRestReleased) {
  // ETHBTC: 0.0021 * 0.05123 = 0.000107583 BTC, which is not exact at 8 decimals.
  md::OrderBook eth = book({{"0.05100", "10"}}, {{"0.05200", "10"}});
  const auto r = engine.place_order(limit("ETHBTC", Side::kBuy, "0.05123", "0.0021"), eth, kT0);
  ASSERT_TRUE(r.ok()) << r.error().msg;
  EXPECT_EQ(bal("BTC"), (Balance{2_amt - 0.00010759_amt, 0.00010759_amt}));
  // Filled at its own price it pays the truncated 0.00010758; the last satoshi goes back.
  eth.set_ask(0.05123_px, 1_qty);
  engine.on_book("ETHBTC", eth, kT0 + 1);
  EXPECT_EQ(engine.query_order({"ETHBTC", r.value().order.order_id, ""}).value().status,
            OrderStatus::kFilled);
  EXPECT_EQ(bal("BTC"), (Balance{2_amt - 0.00010758_amt, {}}));
  EXPECT_EQ(bal("ETH"), (Balance{0.0021_amt - 0.0000021_amt, {}}));
}

struct Recorder : ExecutionListener {
  std::vector<std::string> events;
  int account_updates = 0;
  void on_execution(const ExecutionEvent& e) override {
    events.push_back(std::string(to_string(e.type)) + "/" + std::string(to_string(e.order.status)));
  }
  void on_account_update(std::string_view base, std::string_view quote, std::string_view fee_asset,
                         std::int64_t) override {
    EXPECT_EQ(fee_asset, "");
    EXPECT_EQ(base, "BTC");
    EXPECT_EQ(quote, "USDT");
    ++account_updates;
  }
};

TEST_F(MatchingTest, ListenerSeesTheOrderLifeCycle) {
  Recorder rec;
  engine.set_listener(&rec);
  place(limit("BTCUSDT", Side::kBuy, "40001.50", "1.0", TimeInForce::kIoc));
  EXPECT_EQ(rec.events, (std::vector<std::string>{"NEW/NEW", "TRADE/PARTIALLY_FILLED",
                                                  "TRADE/PARTIALLY_FILLED", "EXPIRED/EXPIRED"}));
  EXPECT_EQ(rec.account_updates, 1);
  rec.events.clear();
  const OrderResult r = place(limit("BTCUSDT", Side::kSell, "41000", "0.1"));
  ASSERT_TRUE(engine.cancel_order({{"BTCUSDT", r.order.order_id, ""}, "", {}}, kT0).ok());
  EXPECT_EQ(rec.events, (std::vector<std::string>{"NEW/NEW", "CANCELED/CANCELED"}));
}

}  // namespace
