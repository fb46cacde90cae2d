// Binance's market data bodies and stream payloads (cwts/binance/market_json.hpp), checked against
// the shapes of Binance's documented examples (web-socket-streams.md, rest-api.md): member order,
// decimal strings, integer ids and times.
#include "cwts/binance/market_json.hpp"

#include <vector>

#include <gtest/gtest.h>

namespace {

namespace binance = cwts::binance;
namespace md = cwts::md;
using cwts::md::Level;
using cwts::md::OrderBook;
using namespace cwts::core::money_literals;

constexpr std::int64_t kOne = 100'000'000;

TEST(MarketJsonTest, DepthUpdateEventHasBinanceMemberOrderAndDecimalStrings) {
  const std::vector<Level> bids = {{25'350'000, 10 * kOne}, {25'340'000, 0}};
  const std::vector<Level> asks = {{25'360'000, 100 * kOne}};
  EXPECT_EQ(binance::depth_update_event("BNBBTC", 1672515782136, 157, 160, bids, asks),
            R"({"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,)"
            R"("b":[["0.25350000","10.00000000"],["0.25340000","0.00000000"]],)"
            R"("a":[["0.25360000","100.00000000"]]})");
}

TEST(MarketJsonTest, DepthJsonListsTheBestLevelsFirstUpToTheLimit) {
  OrderBook book(16);
  book.set_bid(md::Price{100 * kOne}, md::Qty{kOne});
  book.set_bid(md::Price{101 * kOne}, md::Qty{2 * kOne});
  book.set_ask(md::Price{103 * kOne}, md::Qty{3 * kOne});
  book.set_ask(md::Price{102 * kOne}, md::Qty{4 * kOne});
  EXPECT_EQ(binance::depth_json(42, book, 1),
            R"({"lastUpdateId":42,"bids":[["101.00000000","2.00000000"]],)"
            R"("asks":[["102.00000000","4.00000000"]]})");
  EXPECT_EQ(
      binance::depth_json(42, book, 5),
      R"({"lastUpdateId":42,"bids":[["101.00000000","2.00000000"],["100.00000000","1.00000000"]],)"
      R"("asks":[["102.00000000","4.00000000"],["103.00000000","3.00000000"]]})");
}

TEST(MarketJsonTest, TradeAndAggTradeEvents) {
  const binance::PublicTrade t{12345, 0.001_px, 100_qty, 0.1_quote, 1672515782136, true};
  EXPECT_EQ(binance::trade_event("BNBBTC", 1672515782137, t),
            R"({"e":"trade","E":1672515782137,"s":"BNBBTC","t":12345,"p":"0.00100000",)"
            R"("q":"100.00000000","T":1672515782136,"m":true,"M":true})");
  EXPECT_EQ(binance::agg_trade_event("BNBBTC", 1672515782137, 7, 100, 105, t),
            R"({"e":"aggTrade","E":1672515782137,"s":"BNBBTC","a":7,"p":"0.00100000",)"
            R"("q":"100.00000000","f":100,"l":105,"T":1672515782136,"m":true,"M":true})");
}

TEST(MarketJsonTest, BookTickerEvent) {
  EXPECT_EQ(binance::book_ticker_event(400900217, "BNBUSDT", {2'559'010'000, 31'210'000},
                                       {2'559'020'000, 1'282'000'000}),
            R"({"u":400900217,"s":"BNBUSDT","b":"25.59010000","B":"0.31210000",)"
            R"("a":"25.59020000","A":"12.82000000"})");
}

TEST(MarketJsonTest, KlineEventAndRow) {
  binance::Kline k;
  k.open_ms = 1672515780000;
  k.close_ms = 1672515839999;
  k.o = 1_px;
  k.h = 2_px;
  k.l = 0.5_px;
  k.c = 1.5_px;
  k.vol = 10_qty;
  k.quote = 12_quote;
  k.taker_base = 4_qty;
  k.taker_quote = 5_quote;
  k.first_id = 100;
  k.last_id = 200;
  k.n = 101;
  EXPECT_EQ(binance::kline_event("BNBBTC", 1672515782136, "1m", k, false),
            R"({"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,)"
            R"("T":1672515839999,"s":"BNBBTC","i":"1m","f":100,"L":200,"o":"1.00000000",)"
            R"("c":"1.50000000","h":"2.00000000","l":"0.50000000","v":"10.00000000","n":101,)"
            R"("x":false,"q":"12.00000000","V":"4.00000000","Q":"5.00000000","B":"0"}})");
  cwts::core::JsonWriter w;
  binance::write_kline_row(w, k);
  EXPECT_EQ(w.str(), R"([1672515780000,"1.00000000","2.00000000","0.50000000","1.50000000",)"
                     R"("10.00000000",1672515839999,"12.00000000",101,"4.00000000",)"
                     R"("5.00000000","0"])");
}

TEST(MarketJsonTest, RestTradesAndAggTrades) {
  const binance::PublicTrade t{28457, 40.00001_px, 12_qty, 480.00012_quote, 1499865549590, true};
  cwts::core::JsonWriter w;
  w.begin_array();
  binance::write_public_trade(w, t);
  binance::write_agg_trade(w, t);
  w.end_array();
  EXPECT_EQ(w.str(),
            R"([{"id":28457,"price":"40.00001000","qty":"12.00000000","quoteQty":"480.00012000",)"
            R"("time":1499865549590,"isBuyerMaker":true,"isBestMatch":true},)"
            R"({"a":28457,"p":"40.00001000","q":"12.00000000","f":28457,"l":28457,)"
            R"("T":1499865549590,"m":true,"M":true}])");
}

TEST(MarketJsonTest, TickerPriceAndBookTicker) {
  cwts::core::JsonWriter w;
  w.begin_array();
  binance::write_ticker_price(w, "LTCBTC", 0.00412_px);
  binance::write_book_ticker(w, "LTCBTC", {0.00412_px, 431.125_qty}, {0.004121_px, 9.167_qty});
  w.end_array();
  EXPECT_EQ(w.str(), R"([{"symbol":"LTCBTC","price":"0.00412000"},)"
                     R"({"symbol":"LTCBTC","bidPrice":"0.00412000","bidQty":"431.12500000",)"
                     R"("askPrice":"0.00412100","askQty":"9.16700000"}])");
}

TEST(MarketJsonTest, Ticker24hHasBinanceMemberOrder) {
  binance::Ticker24h t;
  t.price_change = -0.094_px;  // from 4.00000200 to 3.90600200
  t.price_change_pct_milli = -2'350;
  t.weighted_avg_price = 0.2979602_px;
  t.prev_close_price = 4.000002_px;
  t.last_price = 3.906002_px;
  t.last_qty = 200_qty;
  t.bid = {4_px, 100_qty};
  t.ask = {4.000002_px, 100_qty};
  t.open_price = 4.000002_px;
  t.high_price = 4.000002_px;
  t.low_price = 3.906002_px;
  t.volume = 8387227.43_qty;
  t.quote_volume = 34.567742_quote;
  t.open_time_ms = 1499783499040;
  t.close_time_ms = 1499869899040;
  t.first_id = 28385;
  t.last_id = 28460;
  t.count = 76;
  cwts::core::JsonWriter w;
  binance::write_ticker_24h(w, "BNBBTC", t);
  EXPECT_EQ(w.str(),
            R"({"symbol":"BNBBTC","priceChange":"-0.09400000","priceChangePercent":"-2.350",)"
            R"("weightedAvgPrice":"0.29796020","prevClosePrice":"4.00000200",)"
            R"("lastPrice":"3.90600200","lastQty":"200.00000000","bidPrice":"4.00000000",)"
            R"("bidQty":"100.00000000","askPrice":"4.00000200","askQty":"100.00000000",)"
            R"("openPrice":"4.00000200","highPrice":"4.00000200","lowPrice":"3.90600200",)"
            R"("volume":"8387227.43000000","quoteVolume":"34.56774200","openTime":1499783499040,)"
            R"("closeTime":1499869899040,"firstId":28385,"lastId":28460,"count":76})");
  // No trade in 24 h: zeros and ids -1, as Binance reports a quiet symbol.
  cwts::core::JsonWriter quiet;
  binance::write_ticker_24h(quiet, "BNBBTC", binance::Ticker24h{});
  EXPECT_EQ(quiet.str(),
            R"({"symbol":"BNBBTC","priceChange":"0.00000000","priceChangePercent":"0.000",)"
            R"("weightedAvgPrice":"0.00000000","prevClosePrice":"0.00000000",)"
            R"("lastPrice":"0.00000000","lastQty":"0.00000000","bidPrice":"0.00000000",)"
            R"("bidQty":"0.00000000","askPrice":"0.00000000","askQty":"0.00000000",)"
            R"("openPrice":"0.00000000","highPrice":"0.00000000","lowPrice":"0.00000000",)"
            R"("volume":"0.00000000","quoteVolume":"0.00000000","openTime":0,"closeTime":0,)"
            R"("firstId":-1,"lastId":-1,"count":0})");
}

TEST(MarketJsonTest, CombinedStreamFrameWrapsThePayloadVerbatim) {
  EXPECT_EQ(binance::combined_stream_frame("bnbbtc@trade", R"({"e":"trade"})"),
            R"({"stream":"bnbbtc@trade","data":{"e":"trade"}})");
}

TEST(MarketJsonTest, ExchangeInfoPassesSymbolsAndFiltersThrough) {
  binance::RateLimit l{};
  l.type = binance::RateLimitType::kRequestWeight;
  l.interval = binance::RateInterval::kMinute;
  l.interval_num = 1;
  l.limit = 6000;
  const std::vector<binance::RateLimit> limits = {l};
  const std::vector<std::string_view> symbols = {R"({"symbol":"A"})", R"({"symbol":"B"})"};
  EXPECT_EQ(binance::exchange_info_json(1000, limits, "[]", symbols),
            R"({"timezone":"UTC","serverTime":1000,"rateLimits":[{"rateLimitType":)"
            R"("REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000}],)"
            R"("exchangeFilters":[],"symbols":[{"symbol":"A"},{"symbol":"B"}]})");
}

TEST(MarketJsonTest, KlineIntervalsFollowTheUtcCalendar) {
  const int month = binance::interval_index("1M");
  const int week = binance::interval_index("1w");
  ASSERT_EQ(month, 15);
  ASSERT_EQ(week, 14);
  EXPECT_EQ(binance::interval_index("2m"), -1);
  // 2024-02-15T12:00:00Z -> month opens 2024-02-01, next 2024-03-01 (leap year).
  EXPECT_EQ(binance::interval_open(month, 1707998400000), 1706745600000);
  EXPECT_EQ(binance::interval_next(month, 1706745600000), 1709251200000);
  // Thursday 2024-02-15 -> the week opened on Monday 2024-02-12.
  EXPECT_EQ(binance::interval_open(week, 1707998400000), 1707696000000);
}

TEST(MarketJsonTest, ServerTimeAndServerShutdown) {
  EXPECT_EQ(binance::server_time_json(1499827319559), R"({"serverTime":1499827319559})");
  EXPECT_EQ(binance::server_shutdown_event(1696849000000),
            R"({"e":"serverShutdown","E":1696849000000})");
  EXPECT_EQ(binance::combined_stream_frame("!serverShutdown",
                                           binance::server_shutdown_event(1696849000000)),
            R"({"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1696849000000}})");
}

}  // namespace
