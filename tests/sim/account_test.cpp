// Account: the --balance list parser and the balance movements the engine relies on.
#include "cwts/sim/account.hpp"

#include <gtest/gtest.h>

namespace {

using cwts::binance::AssetAmount;
using cwts::binance::Balance;
using cwts::core::Amount;
using cwts::sim::Account;
using cwts::sim::parse_balance_spec;
using namespace cwts::core::money_literals;

TEST(AccountTest, ParsesBalanceSpec) {
  std::vector<AssetAmount> out;
  std::string error;
  ASSERT_TRUE(parse_balance_spec("USDT=10000,BTC=1", out, error)) << error;
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out[0].asset, "USDT");
  EXPECT_EQ(out[0].amount, 10000_amt);
  EXPECT_EQ(out[1].asset, "BTC");
  EXPECT_EQ(out[1].amount, 1_amt);
  ASSERT_TRUE(parse_balance_spec(" ETH = 0.00000001 , BNB=2.5 ", out, error)) << error;
  EXPECT_EQ(out[0].amount, 0.00000001_amt);
  EXPECT_EQ(out[1].amount, 2.5_amt);
  ASSERT_TRUE(parse_balance_spec("", out, error));
  EXPECT_TRUE(out.empty());
}

TEST(AccountTest, RejectsMalformedBalanceSpecs) {
  std::vector<AssetAmount> out;
  std::string error;
  for (const char* bad : {"USDT", "usdt=1", "USDT=-1", "USDT=1.123456789", "USDT=abc",
                          "USDT=1,USDT=2", "USDT=1,", "=5", "TOOLONGASSETNAMEXXXXXX=1"}) {
    error.clear();
    EXPECT_FALSE(parse_balance_spec(bad, out, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
  EXPECT_FALSE(parse_balance_spec("USDT=1,USDT=2", out, error));
  EXPECT_NE(error.find("repeated"), std::string::npos) << error;
}

TEST(AccountTest, LockUnlockAndSpendMoveExactAmounts) {
  Account a({{"USDT", Amount{1000}}, {"BTC", Amount{5}}});
  EXPECT_EQ(a.balance("USDT"), (Balance{Amount{1000}, {}}));
  EXPECT_EQ(a.balance("ETH"), (Balance{Amount{0}, {}}));
  EXPECT_TRUE(a.lock("USDT", Amount{600}));
  EXPECT_FALSE(a.lock("USDT", Amount{401}));  // only 400 free
  EXPECT_EQ(a.balance("USDT"), (Balance{Amount{400}, Amount{600}}));
  a.spend_locked("USDT", Amount{250});
  a.unlock("USDT", Amount{350});
  EXPECT_EQ(a.balance("USDT"), (Balance{Amount{750}, {}}));
  a.credit("ETH", Amount{7});
  a.debit("ETH", Amount{2});
  EXPECT_EQ(a.balance("ETH"), (Balance{Amount{5}, {}}));
  EXPECT_EQ(a.balances().size(), 3U);
  EXPECT_EQ(a.balances().begin()->first, "BTC");  // sorted by asset
}

TEST(AccountTest, TradesArePerSymbolInOrder) {
  Account a;
  cwts::binance::Trade t;
  t.symbol = "BTCUSDT";
  t.id = 1;
  a.add_trade(t);
  t.id = 2;
  a.add_trade(t);
  t.symbol = "ETHBTC";
  t.id = 1;
  a.add_trade(t);
  ASSERT_EQ(a.trades("BTCUSDT").size(), 2U);
  EXPECT_EQ(a.trades("BTCUSDT")[1].id, 2);
  EXPECT_EQ(a.trades("ETHBTC").size(), 1U);
  EXPECT_TRUE(a.trades("ETHUSDT").empty());
}

}  // namespace
