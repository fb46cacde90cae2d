// Symbol filters with the exact -1013 messages, on the real 2023 and 2021 exchangeInfo.
#include <string>

#include <gtest/gtest.h>

#include "cwts/binance/json_responses.hpp"
#include "cwts/binance/request.hpp"
#include "cwts/sim/matching.hpp"
#include "sim_test_util.hpp"

namespace {

using namespace cwts::core::money_literals;

using namespace cwts::binance;
using namespace cwts::sim;
using namespace cwts::sim::test;
namespace md = cwts::md;
namespace binance = cwts::binance;

constexpr std::int64_t kT0 = 1'700'000'000'000;

std::string failure(const char* filter) {
  return std::string(R"({"code":-1013,"msg":"Filter failure: )") + filter + R"("})";
}

class FiltersTest : public ::testing::Test {
 protected:
  MatchingEngine engine{info2023(), Account({{"USDT", 100000000_amt}, {"BTC", 10000_amt}})};
  // mid 39999.50
  md::OrderBook b = book({{"39999.00", "1000"}}, {{"40000.00", "1000"}});

  // "ok" or the error body of a test order (no state change) for BTCUSDT.
  std::string check(const NewOrder& o) {
    const ApiError e = engine.test_order(o, b);
    return e.ok() ? "ok" : error_json(e);
  }
};

TEST_F(FiltersTest, PriceFilter) {
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "40000.005", "0.001")), failure("PRICE_FILTER"));
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "0.001", "10000")), failure("PRICE_FILTER"));
  EXPECT_EQ(check(limit("BTCUSDT", Side::kSell, "1000000.01", "0.001")), failure("PRICE_FILTER"));
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "40000.01", "0.001")), "ok");
  // Exactly at minPrice and maxPrice (with a reference price that lets PERCENT_PRICE pass).
  engine.set_reference_price("BTCUSDT", 0.02_px);
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "0.01", "500")), "ok");
  engine.set_reference_price("BTCUSDT", 500000_px);
  EXPECT_EQ(check(limit("BTCUSDT", Side::kSell, "1000000.00", "1")), "ok");
}

TEST_F(FiltersTest, LotSize) {
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "40000", "0.000015")), failure("LOT_SIZE"));
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "40000", "0.000001")), failure("LOT_SIZE"));
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "40000", "9000.00001")), failure("LOT_SIZE"));
  EXPECT_EQ(check(market("BTCUSDT", Side::kBuy, "0.000015")), failure("LOT_SIZE"));
  // minQty passes LOT_SIZE but 0.00001 * 40000 = 0.4 is below the 5 USDT NOTIONAL.
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "40000", "0.00001")), failure("NOTIONAL"));
  engine.set_reference_price("BTCUSDT", 1000_px);
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "1000", "9000")), "ok");  // maxQty, maxNotional
}

TEST_F(FiltersTest, MarketLotSizeAppliesToMarketOrdersOnly) {
  // MARKET_LOT_SIZE maxQty 98.37379079 (stepSize 0 = LOT_SIZE's step only).
  EXPECT_EQ(check(market("BTCUSDT", Side::kSell, "98.38")), failure("MARKET_LOT_SIZE"));
  EXPECT_EQ(check(market("BTCUSDT", Side::kSell, "98.37")), "ok");
  EXPECT_EQ(check(limit("BTCUSDT", Side::kSell, "40000", "98.38")), "ok");
}

TEST_F(FiltersTest, PercentPriceBySideAgainstTheReferencePrice) {
  // bid/ask multipliers 5 and 0.2 around the reference.
  engine.set_reference_price("BTCUSDT", 40000_px);
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "200000.00", "0.001")), "ok");
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "200000.01", "0.001")),
            failure("PERCENT_PRICE_BY_SIDE"));
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "8000.00", "0.001")), "ok");
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "7999.99", "0.001")),
            failure("PERCENT_PRICE_BY_SIDE"));
  EXPECT_EQ(check(limit("BTCUSDT", Side::kSell, "7999.99", "0.001")),
            failure("PERCENT_PRICE_BY_SIDE"));
  EXPECT_EQ(check(limit_maker("BTCUSDT", Side::kSell, "200000.01", "0.001")),
            failure("PERCENT_PRICE_BY_SIDE"));
  // Without a reference price the book mid (39999.50) is used.
  engine.set_reference_price("BTCUSDT", Price{});
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "199997.50", "0.001")), "ok");
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "199997.51", "0.001")),
            failure("PERCENT_PRICE_BY_SIDE"));
  // MARKET orders have no price to check.
  EXPECT_EQ(check(market("BTCUSDT", Side::kBuy, "0.001")), "ok");
}

TEST_F(FiltersTest, NotionalMinAndMaxWithMarketFlags) {
  engine.set_reference_price("BTCUSDT", 40000_px);
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "40000", "0.0001")), failure("NOTIONAL"));
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "50000", "0.0001")), "ok");  // exactly 5
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "40000", "225")), "ok");     // exactly 9e6
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "40000", "225.00001")), failure("NOTIONAL"));
  // applyMinToMarket: the market quantity is valued at the reference price.
  EXPECT_EQ(check(market("BTCUSDT", Side::kBuy, "0.0001")), failure("NOTIONAL"));
  engine.set_reference_price("BTCUSDT", 50000_px);
  EXPECT_EQ(check(market("BTCUSDT", Side::kBuy, "0.0001")), "ok");  // exactly 5
  EXPECT_EQ(check(market_quote("BTCUSDT", Side::kBuy, "4.99999999")), failure("NOTIONAL"));
  EXPECT_EQ(check(market_quote("BTCUSDT", Side::kBuy, "5")), "ok");
  // applyMaxToMarket is false: 98 * 100000 = 9.8e6 passes for MARKET.
  engine.set_reference_price("BTCUSDT", 100000_px);
  EXPECT_EQ(check(market("BTCUSDT", Side::kBuy, "98")), "ok");
}

TEST_F(FiltersTest, MaxNumOrders) {
  for (int i = 0; i < 200; ++i) {
    const auto r = engine.place_order(limit("BTCUSDT", Side::kBuy, "30000", "0.001"), b, kT0);
    ASSERT_TRUE(r.ok()) << i << " " << r.error().msg;
  }
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "30000", "0.001")), failure("MAX_NUM_ORDERS"));
  const auto r = engine.place_order(market("BTCUSDT", Side::kBuy, "0.001"), b, kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(error_json(r.error()), failure("MAX_NUM_ORDERS"));
  ASSERT_TRUE(engine.cancel_order({{"BTCUSDT", 1, ""}, "", {}}, kT0).ok());
  EXPECT_EQ(check(limit("BTCUSDT", Side::kBuy, "30000", "0.001")), "ok");
}

TEST_F(FiltersTest, RejectedOrdersChangeNothing) {
  const auto before = engine.account().balances();
  const auto r = engine.place_order(limit("BTCUSDT", Side::kBuy, "40000.005", "1"), b, kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(engine.account().balances(), before);
  EXPECT_TRUE(engine.open_orders("BTCUSDT").empty());
  // The next accepted order still gets orderId 1.
  EXPECT_EQ(
      engine.place_order(limit("BTCUSDT", Side::kBuy, "39000", "1"), b, kT0).value().order.order_id,
      1);
}

TEST_F(FiltersTest, EndToEndFromTheRequestText) {
  auto body = [&](const std::string& q) {
    auto r = Request::parse(q, "");
    EXPECT_TRUE(r.ok());
    auto o = parse_new_order(r.value(), info2023());
    if (!o.ok()) return error_json(o.error());
    auto placed = engine.place_order(o.value(), b, kT0);
    return placed.ok() ? std::string("ok") : error_json(placed.error());
  };
  const std::string head = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC";
  EXPECT_EQ(body(head + "&quantity=0.000015&price=40000"), failure("LOT_SIZE"));
  EXPECT_EQ(body(head + "&quantity=0.001&price=40000.001"), failure("PRICE_FILTER"));
  EXPECT_EQ(body(head + "&quantity=0.0000000001&price=40000"),
            R"({"code":-1111,"msg":"Parameter 'quantity' has too much precision."})");
  EXPECT_EQ(body(head + "&quantity=0.001&price=39000"), "ok");
}

TEST(LegacyFiltersTest, MinNotionalAndPercentPriceFrom2021) {
  const binance::ExchangeInfo info = binance::load_exchange_info(
      kData + "/binance_spot_exchangeInfo_full_cryptofeed_2021.json.gz");
  MatchingEngine engine(info, Account({{"USDT", 1000000_amt}, {"BTC", 100_amt}}));
  const md::OrderBook b = book({{"39999.00", "10"}}, {{"40000.00", "10"}});
  engine.set_reference_price("BTCUSDT", 40000_px);
  // MIN_NOTIONAL 10 (2021), applyToMarket true.
  EXPECT_EQ(error_json(engine.test_order(limit("BTCUSDT", Side::kBuy, "40000", "0.0002"), b)),
            failure("MIN_NOTIONAL"));
  EXPECT_EQ(error_json(engine.test_order(market("BTCUSDT", Side::kSell, "0.0002"), b)),
            failure("MIN_NOTIONAL"));
  EXPECT_TRUE(engine.test_order(limit("BTCUSDT", Side::kBuy, "40000", "0.00025"), b).ok());
  // PERCENT_PRICE 5 / 0.2 on both sides.
  EXPECT_EQ(error_json(engine.test_order(limit("BTCUSDT", Side::kSell, "200000.01", "0.001"), b)),
            failure("PERCENT_PRICE"));
  EXPECT_TRUE(engine.test_order(limit("BTCUSDT", Side::kSell, "200000.00", "0.001"), b).ok());
  // MARKET_LOT_SIZE maxQty 100.05381873.
  EXPECT_EQ(error_json(engine.test_order(market("BTCUSDT", Side::kSell, "100.06"), b)),
            failure("MARKET_LOT_SIZE"));
}

}  // namespace
