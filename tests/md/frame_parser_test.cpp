// FrameParser on real Binance frames (spot and USD-M) and on malformed input.
#include "cwts/md/frame_parser.hpp"

#include <string>

#include <gtest/gtest.h>

namespace {

namespace md = cwts::md;
using md::FrameKind;
using md::ParseErrc;

class FrameParserTest : public ::testing::Test {
 protected:
  ParseErrc parse(const std::string& s) { return parser_.parse(s, f_); }
  md::FrameParser parser_;
  md::ParsedFrame f_;
};

TEST_F(FrameParserTest, CombinedSpotDepthUpdate) {
  ASSERT_EQ(
      parse(
          R"({"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255308,"s":"BTCUSDT","U":50093239203,"u":50093239207,"b":[["55653.87000000","0.00000000"]],"a":[["61838.04000000","0.32332000"],["61844.30000000","0.40163000"]]}})"),
      ParseErrc::kOk);
  EXPECT_EQ(f_.kind, FrameKind::kDepthUpdate);
  EXPECT_TRUE(f_.combined);
  EXPECT_EQ(f_.symbol_view(), "BTCUSDT");
  EXPECT_EQ(f_.depth.first_id, 50093239203U);
  EXPECT_EQ(f_.depth.last_id, 50093239207U);
  EXPECT_FALSE(f_.depth.has_prev_id);
  EXPECT_EQ(f_.depth.event_time_ms, 1723161255308);
  ASSERT_EQ(f_.bids.size(), 1U);
  EXPECT_EQ(f_.bids[0], (md::Level{5565387000000, 0}));
  ASSERT_EQ(f_.asks.size(), 2U);
  EXPECT_EQ(f_.asks[1], (md::Level{6184430000000, 40163000}));
}

TEST_F(FrameParserTest, UsdmDepthUpdateCarriesPreviousId) {
  ASSERT_EQ(
      parse(
          R"({"stream":"sushiusdt@depth@100ms","data":{"e":"depthUpdate","E":1626992741037,"T":1626992741024,"s":"SUSHIUSDT","U":600859599090,"u":600859600917,"pu":600859598061,"b":[["7.5040","813"]],"a":[]}})"),
      ParseErrc::kOk);
  EXPECT_TRUE(f_.depth.has_prev_id);
  EXPECT_EQ(f_.depth.prev_id, 600859598061U);
  EXPECT_EQ(f_.depth.txn_time_ms, 1626992741024);
  EXPECT_EQ(f_.bids[0], (md::Level{750400000, 81300000000}));
}

TEST_F(FrameParserTest, SpotAndUsdmBookTicker) {
  ASSERT_EQ(
      parse(
          R"({"stream":"nknusdt@bookTicker","data":{"u":499869768,"s":"NKNUSDT","b":"0.35210000","B":"672.00000000","a":"0.35260000","A":"3199.00000000"}})"),
      ParseErrc::kOk);
  EXPECT_EQ(f_.kind, FrameKind::kBookTicker);
  EXPECT_EQ(f_.book_ticker.update_id, 499869768U);
  EXPECT_EQ(f_.book_ticker.bid_px.raw, 35210000);
  EXPECT_EQ(f_.book_ticker.ask_qty.raw, 319900000000);
  ASSERT_EQ(
      parse(
          R"({"e":"bookTicker","u":600859600576,"s":"SUSHIUSDT","b":"7.6110","B":"2","a":"7.6120","A":"297","T":1626992741012,"E":1626992741017})"),
      ParseErrc::kOk);
  EXPECT_EQ(f_.kind, FrameKind::kBookTicker);
  EXPECT_FALSE(f_.combined);
  EXPECT_EQ(f_.book_ticker.event_time_ms, 1626992741017);
}

TEST_F(FrameParserTest, TradeOldTradeWithOrderIdsAndAggTrade) {
  ASSERT_EQ(
      parse(
          R"({"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true})"),
      ParseErrc::kOk);
  EXPECT_EQ(f_.kind, FrameKind::kTrade);
  EXPECT_EQ(f_.trade.id, 12345U);
  EXPECT_EQ(f_.trade.px.raw, 100000);
  EXPECT_TRUE(f_.trade.buyer_is_maker);
  // Frames before 2024 carried buyer/seller order ids in "b"/"a": ignored.
  ASSERT_EQ(
      parse(
          R"({"e":"trade","E":1,"s":"BNBBTC","t":7,"p":"1","q":"2","b":88,"a":50,"T":1,"m":false,"M":true})"),
      ParseErrc::kOk);
  EXPECT_EQ(f_.trade.id, 7U);
  ASSERT_EQ(
      parse(
          R"({"stream":"nknusdt@aggTrade","data":{"e":"aggTrade","E":1633998523963,"s":"NKNUSDT","a":15683430,"p":"0.35280000","q":"58.00000000","f":19862790,"l":19862790,"T":1633998523963,"m":false,"M":true}})"),
      ParseErrc::kOk);
  EXPECT_EQ(f_.kind, FrameKind::kAggTrade);
  EXPECT_EQ(f_.trade.id, 15683430U);
  EXPECT_EQ(f_.trade.first_id, 19862790U);
  EXPECT_EQ(f_.trade.qty.raw, 5800000000);
}

TEST_F(FrameParserTest, Kline) {
  ASSERT_EQ(
      parse(
          R"({"stream":"nknusdt@kline_1m","data":{"e":"kline","E":1633998523963,"s":"NKNUSDT","k":{"t":1633998480000,"T":1633998539999,"s":"NKNUSDT","i":"1m","f":19862761,"L":19862790,"o":"0.35270000","c":"0.35280000","h":"0.35280000","l":"0.35220000","v":"25877.00000000","n":30,"x":false,"q":"9116.04600000","V":"58.00000000","Q":"20.46240000","B":"0"}}})"),
      ParseErrc::kOk);
  EXPECT_EQ(f_.kind, FrameKind::kKline);
  EXPECT_EQ(f_.kline.interval_s, 60U);
  EXPECT_EQ(f_.kline.open_time_ms, 1633998480000);
  EXPECT_EQ(f_.kline.low.raw, 35220000);
  EXPECT_EQ(f_.kline.trades, 30U);
  EXPECT_FALSE(f_.kline.closed);
}

TEST_F(FrameParserTest, SnapshotPartialDepthShutdownErrorAndReplies) {
  ASSERT_EQ(
      parse(
          R"({"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]})"),
      ParseErrc::kOk);
  EXPECT_EQ(f_.kind, FrameKind::kDepthSnapshot);
  EXPECT_EQ(f_.depth.last_id, 1027024U);
  ASSERT_EQ(
      parse(
          R"({"stream":"bnbbtc@depth5@100ms","data":{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}})"),
      ParseErrc::kOk);
  EXPECT_EQ(f_.kind, FrameKind::kPartialDepth);
  EXPECT_EQ(f_.symbol_view(), "BNBBTC");
  ASSERT_EQ(
      parse(R"({"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}})"),
      ParseErrc::kOk);
  EXPECT_EQ(f_.kind, FrameKind::kServerShutdown);
  EXPECT_EQ(f_.shutdown_time_ms, 1770123456789);
  ASSERT_EQ(parse(R"({"code":-1121,"msg":"Invalid symbol."})"), ParseErrc::kOk);
  EXPECT_EQ(f_.kind, FrameKind::kError);
  EXPECT_EQ(f_.error.code, -1121);
  EXPECT_STREQ(f_.error.msg, "Invalid symbol.");
  ASSERT_EQ(parse(R"({"result":null,"id":1})"), ParseErrc::kOk);
  EXPECT_EQ(f_.kind, FrameKind::kSubscriptionReply);
}

TEST_F(FrameParserTest, MalformedInputIsAnErrorAndLeavesNoValidFrame) {
  const std::pair<const char*, ParseErrc> cases[] = {
      {R"({"e":"depthUpdate","E":1,"s":"X","U":1,"u":2,"b":[["1","1"]])", ParseErrc::kJson},
      {R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"b":[],"a":[]})", ParseErrc::kMissingField},
      {R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":"1","u":2,"b":[],"a":[]})",
       ParseErrc::kWrongType},
      {R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":3,"u":2,"b":[],"a":[]})",
       ParseErrc::kBadNumber},
      {R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1e9","1"]],"a":[]})",
       ParseErrc::kBadNumber},
      {R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["-1","1"]],"a":[]})",
       ParseErrc::kBadNumber},
      {R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1"]],"a":[]})",
       ParseErrc::kBadNumber},
      {R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["0.000000001","1"]],"a":[]})",
       ParseErrc::kBadNumber},
      {R"({"e":"depthUpdate","E":1,"s":"btc usdt","U":1,"u":2,"b":[],"a":[]})",
       ParseErrc::kBadSymbol},
      {R"({"e":"trade","E":1,"s":"BTCUSDT","p":"1","q":"1","T":1,"m":true})",
       ParseErrc::kMissingField},
      {R"({"e":"somethingNew","E":1})", ParseErrc::kUnknownEvent},
      {R"({"stream":"btcusdt@depth"})", ParseErrc::kUnknownEvent},
      {R"([1,2,3])", ParseErrc::kWrongType},
      {R"({"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"1","A":"1"} trailing)", ParseErrc::kJson},
      {"", ParseErrc::kJson},
      {R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":99999999999999999999999,"b":[],"a":[]})",
       ParseErrc::kBadNumber},
  };
  for (const auto& [input, want] : cases) {
    EXPECT_EQ(parse(input), want) << input;
    EXPECT_EQ(f_.kind, FrameKind::kUnknown) << input;
  }
}

TEST_F(FrameParserTest, ParserIsReusableAfterErrors) {
  ASSERT_NE(parse("{\"e\":"), ParseErrc::kOk);
  ASSERT_EQ(parse(R"({"lastUpdateId":5,"bids":[],"asks":[]})"), ParseErrc::kOk);
  EXPECT_EQ(f_.depth.last_id, 5U);
}

TEST(IntervalTest, BinanceIntervalsToSeconds) {
  EXPECT_EQ(md::interval_seconds("1s"), 1U);
  EXPECT_EQ(md::interval_seconds("15m"), 900U);
  EXPECT_EQ(md::interval_seconds("4h"), 14400U);
  EXPECT_EQ(md::interval_seconds("1d"), 86400U);
  EXPECT_EQ(md::interval_seconds("1w"), 604800U);
  EXPECT_EQ(md::interval_seconds("1M"), 0U);
  EXPECT_EQ(md::interval_seconds("m"), 0U);
  EXPECT_EQ(md::interval_seconds("0m"), 0U);
}

}  // namespace
