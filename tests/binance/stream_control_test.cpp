// Market-stream control messages (cwts/binance/stream_control.hpp): requests and the documented
// error replies of web-socket-streams.md.
#include "cwts/binance/stream_control.hpp"

#include <gtest/gtest.h>

namespace {

namespace binance = cwts::binance;
using binance::StreamControl;
using binance::StreamControlError;
using binance::StreamMethod;

StreamControl ok(std::string_view text) {
  auto r = binance::parse_stream_control(text);
  EXPECT_TRUE(std::holds_alternative<StreamControl>(r)) << text;
  return std::holds_alternative<StreamControl>(r) ? std::get<StreamControl>(r) : StreamControl{};
}

std::string err(std::string_view text) {
  auto r = binance::parse_stream_control(text);
  EXPECT_TRUE(std::holds_alternative<StreamControlError>(r)) << text;
  return std::holds_alternative<StreamControlError>(r)
             ? binance::stream_error_json(std::get<StreamControlError>(r))
             : std::string();
}

TEST(StreamControlTest, SubscribeCarriesTheStreamsAndTheId) {
  const StreamControl c =
      ok(R"({"method":"SUBSCRIBE","params":["btcusdt@aggTrade","btcusdt@depth"],"id":1})");
  EXPECT_EQ(c.method, StreamMethod::kSubscribe);
  ASSERT_EQ(c.streams.size(), 2U);
  EXPECT_EQ(c.streams[1], "btcusdt@depth");
  EXPECT_EQ(c.id_json, "1");
  EXPECT_EQ(binance::stream_result_json(c.id_json, "null"), R"({"result":null,"id":1})");
}

TEST(StreamControlTest, StringAndMissingIdsAreEchoedAsJson) {
  EXPECT_EQ(ok(R"({"method":"LIST_SUBSCRIPTIONS","id":"abc1"})").id_json, R"("abc1")");
  EXPECT_EQ(ok(R"({"method":"LIST_SUBSCRIPTIONS"})").id_json, "null");
}

TEST(StreamControlTest, PropertiesGetAndSetCombined) {
  EXPECT_EQ(ok(R"({"method":"GET_PROPERTY","params":["combined"],"id":2})").method,
            StreamMethod::kGetProperty);
  const StreamControl set = ok(R"({"method":"SET_PROPERTY","params":["combined",true],"id":5})");
  EXPECT_EQ(set.method, StreamMethod::kSetProperty);
  EXPECT_TRUE(set.combined);
}

TEST(StreamControlTest, ErrorsAreBinancesCodesAndMessages) {
  EXPECT_EQ(err("{"), R"({"code":3,"msg":"Invalid JSON: expected value at line 1 column 1"})");
  EXPECT_EQ(err("[1]"), R"({"code":2,"msg":"Invalid request: expected a map"})");
  EXPECT_EQ(err(R"({"method":"SUBSCRIBE","id":-1.5})"),
            R"({"code":2,"msg":"Invalid request: request ID must be an unsigned integer"})");
  EXPECT_EQ(
      err(R"({"id":7})"),
      R"({"code":2,"msg":"Invalid request: missing field `method` at line 1 column 8","id":7})");
  EXPECT_EQ(err(R"({"method":"SUBSCRIBE","id":7})"),
            R"({"code":2,"msg":"Invalid request: missing field `params`","id":7})");
  EXPECT_EQ(err(R"({"method":"SUBSCRIBE","params":[1],"id":7})"),
            R"({"code":2,"msg":"Invalid request: invalid stream name","id":7})");
  EXPECT_EQ(err(R"({"method":"SET_PROPERTY","params":["colour",true],"id":7})"),
            R"({"code":0,"msg":"Unknown property","id":7})");
  EXPECT_EQ(err(R"({"method":"SET_PROPERTY","params":["combined","yes"],"id":7})"),
            R"({"code":1,"msg":"Invalid value type: expected Boolean","id":7})");
  EXPECT_EQ(err(R"({"method":"SET_PROPERTY","params":["combined",true,1],"id":7})"),
            R"({"code":2,"msg":"Invalid request: too many parameters","id":7})");
  EXPECT_EQ(err(R"({"method":"PING","id":7})"),
            R"({"code":2,"msg":"Invalid request: unknown variant `PING`, expected one of )"
            R"(`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, )"
            R"(`GET_PROPERTY` at line 1 column 16","id":7})");
}

}  // namespace

namespace {

TEST(StreamNameTest, EveryMarketStreamNameParses) {
  using cwts::binance::parse_stream_name;
  using cwts::binance::StreamKind;
  const auto bt = parse_stream_name("BTCUSDT@bookTicker");
  ASSERT_TRUE(bt);
  EXPECT_EQ(bt->symbol, "btcusdt");
  EXPECT_EQ(bt->kind, StreamKind::kBookTicker);
  const auto d = parse_stream_name("btcusdt@depth@100ms");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, StreamKind::kDiffDepth);
  EXPECT_EQ(d->speed_ms, 100);
  EXPECT_EQ(parse_stream_name("btcusdt@depth")->speed_ms, 1000);
  const auto p = parse_stream_name("ethusdt@depth20@100ms");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, StreamKind::kPartialDepth);
  EXPECT_EQ(p->levels, 20);
  EXPECT_EQ(p->speed_ms, 100);
  EXPECT_EQ(parse_stream_name("ethusdt@depth5")->levels, 5);
  EXPECT_EQ(parse_stream_name("ethusdt@aggTrade")->kind, StreamKind::kAggTrade);
  EXPECT_EQ(parse_stream_name("ethusdt@trade")->kind, StreamKind::kTrade);
  const auto k = parse_stream_name("btcusdt@kline_1m");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, StreamKind::kKline);
  EXPECT_NE(k->interval, parse_stream_name("btcusdt@kline_1M")->interval);  // minute vs month
  EXPECT_FALSE(parse_stream_name("btcusdt@kline_7m"));
  EXPECT_FALSE(parse_stream_name("btcusdt@depth15"));
  EXPECT_FALSE(parse_stream_name("btcusdt@ticker_x"));
  EXPECT_FALSE(parse_stream_name("@trade"));
  EXPECT_FALSE(parse_stream_name("btcusdt"));
}

}  // namespace
