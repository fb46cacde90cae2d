// MatchingEngine with EngineConfig::bnb_fees: commissions charged in BNB at 25% off, valued at the
// mid of the BNB<quote> book, when free BNB covers them; otherwise as without the flag.
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "cwts/binance/json_responses.hpp"
#include "cwts/sim/matching.hpp"
#include "sim_test_util.hpp"

namespace {

using namespace cwts::binance;
using namespace cwts::sim;
using namespace cwts::sim::test;
using namespace cwts::core::money_literals;
namespace md = cwts::md;

constexpr std::int64_t kT0 = 1'700'000'000'000;

// The 2023 subset plus BNBUSDT (ETHUSDT's filters, base BNB).
const ExchangeInfo& info_with_bnb() {
  static const ExchangeInfo info = [] {
    ExchangeInfo i = info2023();
    SymbolSpec bnb = *i.find("ETHUSDT");
    bnb.name = "BNBUSDT";
    bnb.base = "BNB";
    i.symbols.push_back(bnb);
    return i;
  }();
  return info;
}

// bids 39999.00 x 1 | asks 40000.00 x 0.5, 40001.00 x 0.3
md::OrderBook btc_book() {
  return book({{"39999.00", "1.0"}}, {{"40000.00", "0.5"}, {"40001.00", "0.3"}});
}
// mid 400.00
md::OrderBook bnb_book() { return book({{"399.00", "100"}}, {{"401.00", "100"}}); }

struct Positions : ExecutionListener {
  std::vector<std::string> updates;  // "BTC,USDT,BNB"
  void on_execution(const ExecutionEvent&) override {}
  void on_account_update(std::string_view base, std::string_view quote, std::string_view fee_asset,
                         std::int64_t) override {
    updates.push_back(std::string(base) + "," + std::string(quote) + "," + std::string(fee_asset));
  }
};

class BnbFeesTest : public ::testing::Test {
 protected:
  static EngineConfig bnb_config() {
    EngineConfig c;
    c.bnb_fees = true;
    return c;
  }
  MatchingEngine engine{info_with_bnb(),
                        Account({{"USDT", 100000_amt}, {"BTC", 2_amt}, {"BNB", 10_amt}}),
                        bnb_config()};
  md::OrderBook b = btc_book();
  Positions rec;

  void SetUp() override { engine.set_listener(&rec); }
  OrderResult place(const NewOrder& o) {
    auto r = engine.place_order(o, b, kT0);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().msg);
    return r.ok() ? std::move(r).value() : OrderResult{};
  }
  Balance bal(std::string_view asset) const { return engine.account().balance(asset); }
};

TEST_F(BnbFeesTest, BuyPaysTheCommissionInBnbAndReceivesTheWholeBase) {
  engine.on_book("BNBUSDT", bnb_book(), kT0);
  const OrderResult r = place(market("BTCUSDT", Side::kBuy, "0.5"));
  ASSERT_EQ(r.fills.size(), 1U);
  // 0.1% of 20000 USDT = 20 USDT, 25% off = 15 USDT, at 400 USDT/BNB = 0.0375 BNB.
  EXPECT_EQ(r.fills[0].commission, 0.0375_amt);
  EXPECT_EQ(r.fills[0].commission_asset, "BNB");
  EXPECT_EQ(bal("BTC"), (Balance{2.5_amt, {}}));
  EXPECT_EQ(bal("USDT"), (Balance{80000_amt, {}}));
  EXPECT_EQ(bal("BNB"), (Balance{9.9625_amt, {}}));
  EXPECT_EQ(rec.updates, (std::vector<std::string>{"BTC,USDT,BNB"}));

  const auto trades = engine.account().trades("BTCUSDT");
  ASSERT_EQ(trades.size(), 1U);
  EXPECT_EQ(trades[0].commission, 0.0375_amt);
  EXPECT_EQ(trades[0].commission_asset, "BNB");
  JsonWriter w(512);
  write_trade(w, trades[0]);
  const std::string json = std::move(w).str();
  EXPECT_NE(json.find(R"("commission":"0.03750000","commissionAsset":"BNB")"), std::string::npos)
      << json;
}

TEST_F(BnbFeesTest, SellReceivesTheWholeQuoteAndTheBnbAmountIsRoundedUp) {
  engine.on_book("BNBUSDT", bnb_book(), kT0);
  const OrderResult r = place(market("BTCUSDT", Side::kSell, "0.3"));
  ASSERT_EQ(r.fills.size(), 1U);
  // 0.3 x 39999 = 11999.70 USDT; 0.1% = 11.9997; x 0.75 / 400 = 0.0224994375 -> 0.02249944.
  EXPECT_EQ(r.fills[0].commission, 0.02249944_amt);
  EXPECT_EQ(r.fills[0].commission_asset, "BNB");
  EXPECT_EQ(bal("BTC"), (Balance{1.7_amt, {}}));
  EXPECT_EQ(bal("USDT"), (Balance{111999.70_amt, {}}));
  EXPECT_EQ(bal("BNB"), (Balance{10_amt - 0.02249944_amt, {}}));
}

TEST_F(BnbFeesTest, RestingFillPaysTheMakerCommissionInBnb) {
  engine.on_book("BNBUSDT", bnb_book(), kT0);
  const OrderResult r = place(limit("BTCUSDT", Side::kBuy, "39000.00", "0.1"));
  EXPECT_TRUE(r.fills.empty());
  b = book({{"38000.00", "1.0"}}, {{"39000.00", "1.0"}});
  engine.on_book("BTCUSDT", b, kT0 + 1);
  const auto trades = engine.account().trades("BTCUSDT");
  ASSERT_EQ(trades.size(), 1U);
  // 3900 USDT x 0.1% = 3.9, x 0.75 / 400 = 0.0073125 BNB.
  EXPECT_EQ(trades[0].commission, 0.0073125_amt);
  EXPECT_EQ(trades[0].commission_asset, "BNB");
  EXPECT_TRUE(trades[0].is_maker);
  EXPECT_EQ(bal("BTC"), (Balance{2.1_amt, {}}));
  EXPECT_EQ(rec.updates.back(), "BTC,USDT,BNB");
}

TEST_F(BnbFeesTest, WithoutABnbPriceOrEnoughBnbTheCommissionIsChargedAsBefore) {
  // No BNBUSDT book seen yet: no BNB price.
  OrderResult r = place(market("BTCUSDT", Side::kBuy, "0.1"));
  ASSERT_EQ(r.fills.size(), 1U);
  EXPECT_EQ(r.fills[0].commission, 0.0001_amt);
  EXPECT_EQ(r.fills[0].commission_asset, "BTC");
  EXPECT_EQ(rec.updates.back(), "BTC,USDT,");

  // BNB at 0.0001 USDT: the commission needs more BNB than the account has (4 USDT x 0.75 /
  // 0.0001 = 30000 BNB).
  engine.on_book("BNBUSDT", book({{"0.00010000", "1"}}, {{"0.00010001", "1"}}), kT0);
  r = place(market("BTCUSDT", Side::kBuy, "0.1"));
  ASSERT_EQ(r.fills.size(), 1U);
  EXPECT_EQ(r.fills[0].commission_asset, "BTC");
  EXPECT_EQ(bal("BNB"), (Balance{10_amt, {}}));
  EXPECT_EQ(bal("BTC"), (Balance{2.1998_amt, {}}));

  // A one-sided BNB book forgets the price.
  engine.on_book("BNBUSDT", bnb_book(), kT0);
  engine.on_book("BNBUSDT", book({{"399.00", "1"}}, {}), kT0);
  r = place(market("BTCUSDT", Side::kBuy, "0.1"));
  ASSERT_EQ(r.fills.size(), 1U);
  EXPECT_EQ(r.fills[0].commission_asset, "BTC");
}

TEST(BnbFees, OffByDefault) {
  MatchingEngine engine{info_with_bnb(), Account({{"USDT", 100000_amt}, {"BNB", 10_amt}})};
  engine.on_book("BNBUSDT", bnb_book(), kT0);
  md::OrderBook b = btc_book();
  const auto r = engine.place_order(market("BTCUSDT", Side::kBuy, "0.5"), b, kT0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().fills.at(0).commission_asset, "BTC");
  EXPECT_EQ(engine.account().balance("BNB"), (Balance{10_amt, {}}));
}

}  // namespace
