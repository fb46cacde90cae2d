// WebSocket API frames: requests as clients send them (the reference's signed examples verify
// from the JSON text), the error shapes of bad frames, and the response and event envelopes.
#include "cwts/binance/ws_api.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cwts/binance/json_responses.hpp"
#include "cwts/binance/request.hpp"
#include "cwts/core/json_writer.hpp"

namespace {

using cwts::binance::ErrorCode;
using cwts::binance::parse_ws_api_request;
using cwts::binance::Request;
using cwts::binance::verify_signature;

const std::string kApiKey = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const std::string kSecret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

// The signed request exactly as web-socket-api.md shows it on the wire: recvWindow and timestamp
// are JSON numbers, the rest strings.
TEST(WsApiRequestTest, ReferenceSignedFrameVerifies) {
  const std::string frame =
      R"({"id":"4885f793-e5ad-4c3b-8f6c-55d891472b71","method":"order.place","params":{)"
      R"("symbol":"BTCUSDT","side":"SELL","type":"LIMIT","timeInForce":"GTC",)"
      R"("quantity":"0.01000000","price":"52000.00","recvWindow":100,)"
      R"("timestamp":1645423376532,"apiKey":")" +
      kApiKey +
      R"(","signature":"aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"}})";
  const auto p = parse_ws_api_request(frame);
  ASSERT_TRUE(p.error.ok()) << p.error.msg;
  EXPECT_EQ(p.request.id_json, "\"4885f793-e5ad-4c3b-8f6c-55d891472b71\"");
  EXPECT_EQ(p.request.method, "order.place");
  const auto r = Request::from_ws_params(p.request.params);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().signed_payload(),
            "apiKey=" + kApiKey +
                "&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&"
                "timeInForce=GTC&timestamp=1645423376532&type=LIMIT");
  EXPECT_TRUE(verify_signature(r.value(), kSecret).ok());
}

// Non-ASCII values are signed as UTF-8, not percent-encoded; a JSON \u escape is decoded first.
TEST(WsApiRequestTest, NonAsciiVectorVerifiesFromEscapedJson) {
  const std::string frame =
      R"({"id":7,"method":"v3/order.place","params":{"symbol":"\uff11\uff12\uff13\uff14\uff15\uff16",)"
      R"("side":"BUY","type":"LIMIT","timeInForce":"GTC","quantity":"1.00000000",)"
      R"("price":"0.10000000","recvWindow":5000,"timestamp":1645423376532,"apiKey":")" +
      kApiKey +
      R"(","signature":"b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"}})";
  const auto p = parse_ws_api_request(frame);
  ASSERT_TRUE(p.error.ok()) << p.error.msg;
  EXPECT_EQ(p.request.method, "order.place");  // the v3/ prefix is dropped
  EXPECT_EQ(p.request.id_json, "7");
  const auto r = Request::from_ws_params(p.request.params);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r.value().find("symbol"), "１２３４５６");
  EXPECT_TRUE(verify_signature(r.value(), kSecret).ok());
}

TEST(WsApiRequestTest, ValuesKeepTheirTextAndReturnRateLimitsIsRead) {
  const auto p = parse_ws_api_request(
      R"({"id":null,"method":"exchangeInfo","params":{"quantity":0.01000000,"flag":true,)"
      R"("symbols":["BTCUSDT", "ETHUSDT"],"gone":null,"returnRateLimits":false}})");
  ASSERT_TRUE(p.error.ok()) << p.error.msg;
  EXPECT_EQ(p.request.id_json, "null");
  const auto r = Request::from_ws_params(p.request.params);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r.value().find("quantity"), "0.01000000");
  EXPECT_EQ(*r.value().find("flag"), "true");
  EXPECT_EQ(*r.value().find("symbols"), R"(["BTCUSDT", "ETHUSDT"])");
  EXPECT_EQ(*r.value().find("gone"), "");
  ASSERT_TRUE(p.request.return_rate_limits.has_value());
  EXPECT_FALSE(*p.request.return_rate_limits);
}

TEST(WsApiRequestTest, ParamsMayBeOmitted) {
  const auto p = parse_ws_api_request(R"({"method":"ping","id":"x\"y"})");
  ASSERT_TRUE(p.error.ok());
  EXPECT_EQ(p.request.id_json, R"("x\"y")");
  EXPECT_TRUE(p.request.params.empty());
  EXPECT_FALSE(p.request.return_rate_limits.has_value());
}

TEST(WsApiRequestTest, BadFramesGetDocumentedErrors) {
  struct Case {
    const char* frame;
    ErrorCode code;
    const char* msg;
    const char* id;
  };
  const Case cases[] = {
      {"{bad", ErrorCode::kInvalidJson, "Invalid JSON Request", "null"},
      {"[1,2]", ErrorCode::kInvalidJson, "Invalid JSON Request", "null"},
      {R"({"id":1,"method":"ping"} trailing)", ErrorCode::kInvalidJson, "Invalid JSON Request",
       "null"},
      {R"({"id":1,"method":"ping","params":[1]})", ErrorCode::kInvalidJson,
       "Invalid 'params' in JSON request; expected an object.", "1"},
      {R"({"id":2,"params":{}})", ErrorCode::kMandatoryParamEmptyOrMalformed,
       "Mandatory parameter 'method' was not sent, was empty/null, or malformed.", "2"},
      {R"({"id":3,"method":42})", ErrorCode::kMandatoryParamEmptyOrMalformed,
       "Mandatory parameter 'method' was not sent, was empty/null, or malformed.", "3"},
      {R"({"method":"ping"})", ErrorCode::kMandatoryParamEmptyOrMalformed,
       "Mandatory parameter 'id' was not sent, was empty/null, or malformed.", "null"},
      {R"({"id":1.5,"method":"ping"})", ErrorCode::kMandatoryParamEmptyOrMalformed,
       "Mandatory parameter 'id' was not sent, was empty/null, or malformed.", "null"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.frame);
    const auto p = parse_ws_api_request(c.frame);
    EXPECT_EQ(p.error.code, c.code);
    EXPECT_EQ(p.error.msg, c.msg);
    EXPECT_EQ(p.error.http_status, 400);
    EXPECT_EQ(p.request.id_json, c.id);
  }
}

TEST(WsApiResponseTest, SuccessErrorAndRateLimitShapes) {
  using cwts::binance::RateInterval;
  using cwts::binance::RateLimitType;
  const std::vector<cwts::binance::RateUsage> usage = {
      {{RateLimitType::kRequestWeight, RateInterval::kMinute, 1, 6000}, 3}};
  cwts::binance::WsApiResponse ok;
  ok.id_json = "\"a\"";
  ok.result_json = R"({"serverTime":1})";
  ok.rate_limits = &usage;
  EXPECT_EQ(cwts::binance::ws_api_response_json(ok),
            R"({"id":"a","status":200,"result":{"serverTime":1},"rateLimits":[{"rateLimitType":)"
            R"("REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000,"count":3}]})");

  const auto banned = cwts::binance::make_error(ErrorCode::kTooManyRequests, "Way too much");
  cwts::binance::WsApiResponse err;
  err.id_json = "5";
  err.status = 418;
  err.error = &banned;
  err.server_time_ms = 10;
  err.retry_after_ms = 20;
  EXPECT_EQ(cwts::binance::ws_api_response_json(err),
            R"({"id":5,"status":418,"error":{"code":-1003,"msg":"Way too much",)"
            R"("data":{"serverTime":10,"retryAfter":20}}})");
}

TEST(WsApiResponseTest, UserDataAndConnectionEventFrames) {
  cwts::core::JsonWriter w;
  cwts::binance::write_event_stream_terminated(w, 1728973001334);
  EXPECT_EQ(cwts::binance::user_data_event_frame(0, w.str()),
            R"({"subscriptionId":0,"event":{"e":"eventStreamTerminated","E":1728973001334}})");
  EXPECT_EQ(cwts::binance::connection_event_frame(R"({"e":"serverShutdown","E":1})"),
            R"({"event":{"e":"serverShutdown","E":1}})");

  cwts::core::JsonWriter b;
  cwts::binance::write_balance_update(b, "BTC", -50'000'000, 2, 1);
  EXPECT_EQ(b.str(), R"({"e":"balanceUpdate","E":2,"a":"BTC","d":"-0.50000000","T":1})");

  const cwts::binance::AssetBalance assets[] = {
      {"ETH", {cwts::core::Amount{1'000'000'000'000}, cwts::core::Amount{0}}}};
  cwts::core::JsonWriter a;
  cwts::binance::write_account_position(a, assets, 1564034571105, 1564034571073);
  EXPECT_EQ(a.str(), R"({"e":"outboundAccountPosition","E":1564034571105,"u":1564034571073,)"
                     R"("B":[{"a":"ETH","f":"10000.00000000","l":"0.00000000"}]})");
}

}  // namespace
