// cwtsd against cwts-sim --bnb-fees: commissions charged in BNB (Binance's 25% discount) are
// valued in the quote asset at the engine's BNB mid when it trades BNB<quote>, and reported as
// charged; the base received is whole, so the position is the base balance change exactly.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <simdjson.h>

#include "cwts/core/money.hpp"
#include "daemon_fixture.hpp"

namespace {

using namespace cwts::daemon::test;

// The one trade of a myTrades answer: its commission (8 decimals) and commissionAsset.
struct TradeFee {
  std::int64_t commission = -1;
  std::string asset;
};
TradeFee only_trade_fee(const std::string& body) {
  simdjson::dom::parser p;
  simdjson::dom::array arr;
  TradeFee out;
  if (p.parse(body).get(arr) != simdjson::SUCCESS || arr.size() != 1) return out;
  std::string_view c, a;
  for (auto t : arr) {
    if (t["commission"].get(c) != simdjson::SUCCESS ||
        t["commissionAsset"].get(a) != simdjson::SUCCESS ||
        cwts::core::parse_fixed(c, 8, out.commission) != cwts::core::DecimalErrc::kOk)
      return TradeFee{};
    out.asset = std::string(a);
  }
  return out;
}

// Waits until the engine's book of `sym` is valid (both sides).
bool wait_book(StrategyClient& s, int sym) {
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until) {
    const auto q = s.quote(sym);
    if (q.book_valid != 0 && q.bid_px.raw > 0 && q.ask_px.raw > q.bid_px.raw) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

// a x b at 8 decimals, truncated (a price times an amount of base: a notional).
std::int64_t mul8(std::int64_t a, std::int64_t b) {
  return cwts::core::notional(cwts::core::Price{a}, cwts::core::Qty{b}).raw;
}

TEST(CwtsdFees, BnbCommissionIsValuedAtTheBnbMidAndTheBaseIsReceivedWhole) {
  EngineOptions o;
  o.symbols = {"BTCUSDT", "BNBUSDT"};  // the harness funds BNB=100
  Harness h(o, {"--bnb-fees"});
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  const int bnb = s.symbol_id("BNBUSDT");
  ASSERT_GE(btc, 0);
  ASSERT_GE(bnb, 0);
  ASSERT_TRUE(wait_book(s, btc));
  ASSERT_TRUE(wait_book(s, bnb));

  const auto m = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  const auto rs = s.wait_terminal(m);
  ASSERT_FALSE(rs.empty()) << h.log();
  const auto& last = rs.back();
  ASSERT_EQ(kind_of(last), ReportKind::kFilled) << "reason " << last.reason;
  EXPECT_EQ(last.cum_qty.raw, fx(0.001));
  EXPECT_EQ(std::string(last.fee_asset.view()), "BNB");
  EXPECT_GT(last.fee_native.raw, 0);
  EXPECT_GT(last.fee.raw, 0) << "the BNB commission is valued in USDT";

  // The venue charged exactly that much BNB, and nothing in BTC or from the USDT paid.
  const auto trades = h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT");
  ASSERT_EQ(trades.status, 200U) << trades.body;
  const TradeFee tf = only_trade_fee(trades.body);
  EXPECT_EQ(tf.asset, "BNB") << trades.body;
  EXPECT_EQ(tf.commission, last.fee_native.raw) << trades.body;
  EXPECT_EQ(balance_change(h, "BNB", fx(100)), -last.fee_native.raw);
  EXPECT_EQ(balance_change(h, "BTC", fx(10)), fx(0.001));
  EXPECT_EQ(position_when(s, btc, fx(0.001)), fx(0.001));

  // fee = BNB charged x the engine's BNB mid. The mid moves a few ticks between the engine's
  // valuation and this read: allowed, as that many ticks' worth of the BNB charged.
  const auto q = s.quote(bnb);
  const std::int64_t mid = (q.bid_px.raw + q.ask_px.raw) / 2;
  const std::int64_t tick = s.market().symbol(bnb).info.load().tick_size.raw;
  ASSERT_GT(tick, 0);
  const std::int64_t want = mul8(mid, last.fee_native.raw);
  const std::int64_t slack = mul8(50 * tick, last.fee_native.raw) + 1;
  EXPECT_LE(std::llabs(last.fee.raw - want), slack)
      << "fee " << last.fee.raw << " BNB " << last.fee_native.raw << " mid " << mid;
  // ... which is the taker commission (0.1% of the USDT paid) at 25% off, give or take the BNB
  // mid's move and the rounding of the BNB amount.
  const std::int64_t paid = mul8(last.avg_px.raw, last.cum_qty.raw);
  const std::int64_t discounted = paid * 75 / 100'000;
  EXPECT_LE(std::llabs(last.fee.raw - discounted), discounted / 100)
      << "fee " << last.fee.raw << " expected about " << discounted;
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(CwtsdFees, BnbCommissionWithoutBnbUsdtIsUnvaluedAndTheOperatorIsTold) {
  // The venue has BNBUSDT (and the account BNB) but the engine does not trade it: it cannot value
  // the BNB commission.
  Harness h(EngineOptions{}, {"--bnb-fees", "--synthetic", "BNBUSDT", "--balance",
                              "USDT=1000000,BTC=10,ETH=100,BNB=100"});
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  ASSERT_GE(btc, 0);
  EXPECT_LT(s.symbol_id("BNBUSDT"), 0);
  ASSERT_TRUE(wait_book(s, btc));

  const auto m = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  const auto rs = s.wait_terminal(m);
  ASSERT_FALSE(rs.empty()) << h.log();
  const auto& last = rs.back();
  ASSERT_EQ(kind_of(last), ReportKind::kFilled) << "reason " << last.reason;
  EXPECT_EQ(std::string(last.fee_asset.view()), "BNB");
  EXPECT_GT(last.fee_native.raw, 0);
  EXPECT_EQ(last.fee.raw, 0) << "no BNB price to value it at";
  EXPECT_EQ(balance_change(h, "BNB", fx(100)), -last.fee_native.raw);
  EXPECT_EQ(balance_change(h, "BTC", fx(10)), fx(0.001));
  EXPECT_EQ(position_when(s, btc, fx(0.001)), fx(0.001));

  // The engine's log names what is missing (once, as a venue_error).
  auto told = [&] {
    const std::string log = h.log();
    const auto at = log.find("venue_error");
    return at != std::string::npos && log.find("BNBUSDT", at) != std::string::npos;
  };
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (!told() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(told()) << h.log();
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

}  // namespace
