// cwtsd against cwts-sim: the risk checks that protect the account itself — spot sells need the
// engine's own inventory, and a stale book refuses orders (limit and market alike).
#include <chrono>
#include <string>
#include <thread>

#include "daemon_fixture.hpp"

namespace {

using namespace cwts::daemon::test;

// The orders the venue holds or filled for a symbol (open orders + trades), as a count.
std::size_t venue_activity(Harness& h, const std::string& symbol) {
  return array_size(h.signed_get("/api/v3/openOrders", "symbol=" + symbol).body) +
         array_size(h.signed_get("/api/v3/myTrades", "symbol=" + symbol).body);
}

TEST(CwtsdRisk, ASpotSellWithoutInventoryIsRefused) {
  // The sim's account holds 10 BTC and 100 ETH the engine never bought. ETHUSDT is configured to
  // sell the account's holdings; BTCUSDT has the default.
  EngineOptions o;
  o.risk = R"("max_order_notional":"100000","max_open_orders":5,"price_band_bps":500,)"
           R"("symbols":{"ETHUSDT":{"sell_account_holdings":true}})";
  Harness h(o);
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  const int eth = s.symbol_id("ETHUSDT");
  ASSERT_GE(btc, 0);
  ASSERT_GE(eth, 0);

  // A market sell from position 0, without reduce-only: refused, nothing reaches the venue.
  const auto sell = s.submit(StrategyClient::make(btc, Side::kSell, OrderType::kMarket, fx(0.001)));
  auto rs = s.wait_terminal(sell);
  ASSERT_EQ(rs.size(), 1U) << h.log();
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kRejected);
  EXPECT_EQ(static_cast<RejectReason>(rs.back().reason), RejectReason::kNoInventory);
  EXPECT_EQ(s.position(btc).qty.raw, 0);
  EXPECT_EQ(venue_activity(h, "BTCUSDT"), 0U);

  // Buy 0.002, then sell 0.001 of it: the engine holds it, so the sell goes through.
  const auto buy = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.002)));
  rs = s.wait_terminal(buy);
  ASSERT_FALSE(rs.empty()) << h.log();
  ASSERT_EQ(kind_of(rs.back()), ReportKind::kFilled) << "reason " << rs.back().reason;
  const std::int64_t held = balance_change(h, "BTC", fx(10));  // 0.002 less the BTC commission
  ASSERT_EQ(position_when(s, btc, held), held);
  const auto q = s.quote(btc);
  const auto rest = s.submit(StrategyClient::make(
      btc, Side::kSell, OrderType::kLimit, fx(0.001),
      tick_floor(q.ask_px.raw + q.ask_px.raw / 100 + fx(0.01), fx(0.01))));  // rests 1 % above
  const auto again = s.submit(
      StrategyClient::make(btc, Side::kSell, OrderType::kMarket, tick_floor(held, fx(0.00001))));
  rs = s.wait_terminal(again);
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(static_cast<RejectReason>(rs.back().reason), RejectReason::kNoInventory)
      << "0.001 of the position is already offered by the resting sell";
  s.cancel(rest);
  rs = s.wait_terminal(rest);
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kCancelled);
  const auto exit = s.submit(StrategyClient::make(btc, Side::kSell, OrderType::kMarket, fx(0.001)));
  rs = s.wait_terminal(exit);
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled) << "reason " << rs.back().reason;
  EXPECT_EQ(position_when(s, btc, held - fx(0.001)), held - fx(0.001));

  // ETHUSDT sells the account's holdings by configuration: filled from position 0.
  const auto eth_sell =
      s.submit(StrategyClient::make(eth, Side::kSell, OrderType::kMarket, fx(0.01)));
  rs = s.wait_terminal(eth_sell);
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled) << "reason " << rs.back().reason;
  EXPECT_EQ(position_when(s, eth, -fx(0.01)), -fx(0.01));
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(CwtsdRisk, AStaleBookIsRefusedUntilMarketDataFlowsAgain) {
  // The sim's streams stall for 3 s (its book keeps moving); the engine's book stays "valid" (the
  // silence timeout is 60 s) but is older than max_book_age_ms after 1 s.
  EngineOptions o;
  o.risk = R"("max_order_notional":"100000","max_open_orders":5,"price_band_bps":500,)"
           R"("max_book_age_ms":1000)";
  Harness h(o);
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  ASSERT_GE(btc, 0);
  ASSERT_EQ(h.fault(R"({"stall_ms":3000})").status, 200U);
  std::this_thread::sleep_for(1500ms);
  const auto frozen = s.quote(btc);
  ASSERT_NE(frozen.book_valid, 0) << "the engine still calls the book valid";
  const std::int64_t mid = tick_floor((frozen.bid_px.raw + frozen.ask_px.raw) / 2, fx(0.01));
  const auto lim = s.submit(
      StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                           tick_floor(mid - mid / 100, fx(0.01))));  // rests 1 % under the mid
  const auto mkt = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  for (const auto seq : {lim, mkt}) {
    const auto rs = s.wait_terminal(seq);
    ASSERT_EQ(rs.size(), 1U) << h.log();
    EXPECT_EQ(kind_of(rs.back()), ReportKind::kRejected);
    EXPECT_EQ(static_cast<RejectReason>(rs.back().reason), RejectReason::kBookStale);
  }
  EXPECT_EQ(venue_activity(h, "BTCUSDT"), 0U);

  // Once the stall ends and data flows, orders are accepted again.
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (cwts::core::realtime_ns() - s.quote(btc).receive_ts_ns > 200'000'000 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
  }
  const auto buy = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  const auto rs = s.wait_terminal(buy);
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled) << "reason " << rs.back().reason;
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

}  // namespace
