// Request parsing, authentication and endpoint parameters: every error code and exact message.
#include "cwts/binance/request.hpp"

#include <string>

#include <gtest/gtest.h>

#include "../sim/sim_test_util.hpp"
#include "cwts/binance/json_responses.hpp"
#include "cwts/net/hmac.hpp"

namespace {

using namespace cwts::core::money_literals;

using namespace cwts::binance;
using namespace cwts::sim;
using cwts::sim::test::d;
using cwts::sim::test::info2023;
namespace md = cwts::md;
namespace binance = cwts::binance;

const Credentials kCreds{"vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
                         "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"};
constexpr std::int64_t kNowMs = 1'499'827'319'559;
constexpr std::int64_t kNowUs = kNowMs * 1000;

Request req(const std::string& query, const std::string& body = "") {
  auto r = Request::parse(query, body);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().msg);
  return r.ok() ? std::move(r).value() : Request{};
}

// The REST error body for a failed result.
template <typename T>
std::string err(const Result<T>& r) {
  EXPECT_FALSE(r.ok());
  return r.ok() ? std::string("<ok>") : error_json(r.error());
}
std::string err(const ApiError& e) { return e.ok() ? std::string("<ok>") : error_json(e); }

std::string signed_query(const std::string& q) {
  return q + "&signature=" + cwts::net::hmac_sha256_hex(kCreds.secret_key, q);
}

// A symbol with coarse asset precisions, to exercise -1111 below 8 decimals.
const binance::ExchangeInfo& coarse_info() {
  static const binance::ExchangeInfo info = [] {
    binance::ExchangeInfo i;
    binance::SymbolSpec s;
    s.name = "TESTUSDT";
    s.base = "TEST";
    s.quote = "USDT";
    s.status = cwts::layout::SymbolStatus::kTrading;
    s.base_precision = 2;
    s.quote_precision = 4;
    s.venue_order_types = 0x07;
    i.symbols.push_back(s);
    return i;
  }();
  return info;
}

// ---- parsing ---------------------------------------------------------------------------------

TEST(RequestTest, DecodesQueryAndBodyParameters) {
  const Request r = req("symbol=BTCUSDT&newClientOrderId=a%2Db+c", "quantity=0.5&price=1%2E5");
  EXPECT_EQ(*r.find("symbol"), "BTCUSDT");
  EXPECT_EQ(*r.find("newClientOrderId"), "a-b c");
  EXPECT_EQ(*r.find("quantity"), "0.5");
  EXPECT_EQ(*r.find("price"), "1.5");
  EXPECT_EQ(r.find("side"), nullptr);
  EXPECT_EQ(r.params().size(), 4U);
}

TEST(RequestTest, DuplicateParameterInQueryOrBodyIsRejected) {
  EXPECT_EQ(err(Request::parse("symbol=BTCUSDT&symbol=ETHBTC", "")),
            R"({"code":-1101,"msg":"Duplicate values for a parameter detected."})");
  EXPECT_EQ(err(Request::parse("", "price=1&price=1")),
            R"({"code":-1101,"msg":"Duplicate values for a parameter detected."})");
  EXPECT_EQ(err(Request::from_ws_params({{"a", "1"}, {"a", "2"}})),
            R"({"code":-1101,"msg":"Duplicate values for a parameter detected."})");
}

TEST(RequestTest, QueryStringWinsOverBody) {
  const Request r = req("symbol=BTCUSDT&price=2", "price=1&quantity=3");
  EXPECT_EQ(*r.find("price"), "2");
  EXPECT_EQ(*r.find("quantity"), "3");
  EXPECT_EQ(r.params().size(), 3U);
}

TEST(RequestTest, SignatureIsCutFromThePayloadWhereverItIs) {
  EXPECT_EQ(req("signature=abc&a=1&b=2").signed_payload(), "a=1&b=2");
  EXPECT_EQ(req("a=1&signature=abc&b=2").signed_payload(), "a=1&b=2");
  EXPECT_EQ(req("a=1&b=2&signature=abc").signed_payload(), "a=1&b=2");
  EXPECT_EQ(req("a=1", "signature=abc&b=2").signed_payload(), "a=1b=2");
  EXPECT_EQ(req("signature=abc", "b=2").signed_payload(), "b=2");
  // Everything else is signed exactly as sent, including encodings and empty items.
  EXPECT_EQ(req("a=%41&&b=+").signed_payload(), "a=%41&&b=+");
}

TEST(RequestTest, MalformedPercentEncodingIsIllegal) {
  EXPECT_EQ(err(Request::parse("a=%4", "")),
            R"({"code":-1100,"msg":"Illegal characters found in a parameter."})");
  EXPECT_EQ(err(Request::parse("", "a=%zz")),
            R"({"code":-1100,"msg":"Illegal characters found in a parameter."})");
}

// ---- authentication ----------------------------------------------------------------------------

TEST(RequestTest, WrongOrMissingSignature) {
  const std::string q = "symbol=BTCUSDT&timestamp=" + std::to_string(kNowMs);
  EXPECT_TRUE(verify_signature(req(signed_query(q)), kCreds.secret_key).ok());
  EXPECT_EQ(err(verify_signature(req(signed_query(q) + "0"), kCreds.secret_key)),
            R"({"code":-1022,"msg":"Signature for this request is not valid."})");
  EXPECT_EQ(err(verify_signature(req(signed_query(q)), "other-secret")),
            R"({"code":-1022,"msg":"Signature for this request is not valid."})");
  // Tampering with a signed parameter breaks the signature.
  std::string tampered = signed_query(q);
  tampered.replace(tampered.find("BTCUSDT"), 7, "ETHUSDT");
  EXPECT_EQ(verify_signature(req(tampered), kCreds.secret_key).code, ErrorCode::kInvalidSignature);
  EXPECT_EQ(
      err(verify_signature(req(q), kCreds.secret_key)),
      R"({"code":-1102,"msg":"Mandatory parameter 'signature' was not sent, was empty/null, or malformed."})");
}

TEST(RequestTest, ApiKeyHeader) {
  const std::string good = kCreds.api_key;
  const std::string unknown(64, 'A');
  const std::string malformed = "not a key!";
  EXPECT_TRUE(check_api_key(&good, kCreds.api_key).ok());
  const ApiError missing = check_api_key(nullptr, kCreds.api_key);
  EXPECT_EQ(err(missing), R"({"code":-2014,"msg":"API-key format invalid."})");
  EXPECT_EQ(missing.http_status, 401);
  EXPECT_EQ(err(check_api_key(&malformed, kCreds.api_key)),
            R"({"code":-2014,"msg":"API-key format invalid."})");
  const ApiError rejected = check_api_key(&unknown, kCreds.api_key);
  EXPECT_EQ(err(rejected),
            R"({"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."})");
  EXPECT_EQ(rejected.http_status, 401);
}

TEST(RequestTest, TimestampWindowFollowsTheDocumentedPseudoCode) {
  auto at = [](std::int64_t ts_ms, const std::string& extra = "") {
    return check_timestamp(req("timestamp=" + std::to_string(ts_ms) + extra), kNowUs);
  };
  constexpr const char* kOutside =
      R"({"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."})";
  constexpr const char* kAhead =
      R"({"code":-1021,"msg":"Timestamp for this request was 1000ms ahead of the server's time."})";
  EXPECT_TRUE(at(kNowMs).ok());
  EXPECT_TRUE(at(kNowMs + 999).ok());
  EXPECT_EQ(err(at(kNowMs + 1000)), kAhead);
  EXPECT_TRUE(at(kNowMs - 5000).ok());  // default recvWindow 5000, inclusive
  EXPECT_EQ(err(at(kNowMs - 5001)), kOutside);
  EXPECT_TRUE(at(kNowMs - 60000, "&recvWindow=60000").ok());
  EXPECT_EQ(err(at(kNowMs - 60001, "&recvWindow=60000")), kOutside);
  EXPECT_EQ(err(at(kNowMs, "&recvWindow=60001")),
            R"({"code":-1131,"msg":"recvWindow must be less than 60000"})");
  EXPECT_EQ(err(at(kNowMs, "&recvWindow=60000.001")),
            R"({"code":-1131,"msg":"recvWindow must be less than 60000"})");
  // recvWindow takes up to 3 decimals (µs); more is too much precision.
  EXPECT_TRUE(at(kNowMs - 100, "&recvWindow=100.5").ok());
  EXPECT_EQ(err(at(kNowMs - 101, "&recvWindow=100.5")), kOutside);
  EXPECT_EQ(err(at(kNowMs, "&recvWindow=100.5001")),
            R"({"code":-1111,"msg":"Parameter 'recvWindow' has too much precision."})");
  EXPECT_EQ(
      err(at(kNowMs, "&recvWindow=-5")),
      R"({"code":-1100,"msg":"Illegal characters found in parameter 'recvWindow'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'."})");
  // Microsecond timestamps.
  EXPECT_TRUE(check_timestamp(req("timestamp=" + std::to_string(kNowUs - 4'999'999)), kNowUs).ok());
  EXPECT_EQ(err(check_timestamp(req("timestamp=" + std::to_string(kNowUs - 5'000'001)), kNowUs)),
            kOutside);
  // Missing or malformed.
  EXPECT_EQ(
      err(check_timestamp(req("a=1"), kNowUs)),
      R"({"code":-1102,"msg":"Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."})");
  EXPECT_EQ(
      err(check_timestamp(req("timestamp="), kNowUs)),
      R"({"code":-1102,"msg":"Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."})");
  EXPECT_EQ(
      err(check_timestamp(req("timestamp=12a"), kNowUs)),
      R"({"code":-1100,"msg":"Illegal characters found in parameter 'timestamp'; legal range is '^[0-9]{1,20}$'."})");
}

TEST(RequestTest, SecondTimingCheckBeforeTheMatchingEngine) {
  const auto w = check_timestamp(req("timestamp=" + std::to_string(kNowMs - 4000)), kNowUs);
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w.value().recheck(kNowUs + 1'000'000).ok());
  EXPECT_EQ(err(w.value().recheck(kNowUs + 1'000'001)),
            R"({"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."})");
}

TEST(RequestTest, AuthenticateChecksKeyThenTimestampThenSignature) {
  const std::string q = "symbol=BTCUSDT&timestamp=" + std::to_string(kNowMs);
  const std::string key = kCreds.api_key;
  EXPECT_TRUE(authenticate(req(signed_query(q)), &key, kCreds, kNowUs).ok());
  EXPECT_EQ(authenticate(req(signed_query(q)), nullptr, kCreds, kNowUs).error().code,
            ErrorCode::kBadApiKeyFmt);
  EXPECT_EQ(authenticate(req(signed_query(q)), &key, kCreds, kNowUs + 6'000'000).error().code,
            ErrorCode::kInvalidTimestamp);
  EXPECT_EQ(authenticate(req(q + "&signature=00"), &key, kCreds, kNowUs).error().code,
            ErrorCode::kInvalidSignature);
}

// ---- POST /api/v3/order ------------------------------------------------------------------------

Result<NewOrder> order(const std::string& q, const binance::ExchangeInfo& info = info2023()) {
  return parse_new_order(req(q), info);
}

constexpr const char* kLimit =
    "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.5&price=40000.01";

TEST(RequestTest, ParsesALimitOrder) {
  const auto o = order(std::string(kLimit) + "&newClientOrderId=my-order_1");
  ASSERT_TRUE(o.ok()) << o.error().msg;
  EXPECT_EQ(o.value().symbol, "BTCUSDT");
  EXPECT_EQ(o.value().side, Side::kBuy);
  EXPECT_EQ(o.value().type, OrderType::kLimit);
  EXPECT_EQ(o.value().tif, TimeInForce::kGtc);
  EXPECT_EQ(o.value().quantity, 0.5_qty);
  EXPECT_EQ(o.value().price, 40000.01_px);
  EXPECT_EQ(o.value().client_order_id, "my-order_1");
  EXPECT_EQ(o.value().resp_type, RespType::kFull);
  EXPECT_EQ(o.value().stp_mode, StpMode::kNone);
}

TEST(RequestTest, MandatoryParameters) {
  auto mandatory = [](const char* name) {
    return std::string(R"({"code":-1102,"msg":"Mandatory parameter ')") + name +
           R"(' was not sent, was empty/null, or malformed."})";
  };
  EXPECT_EQ(err(order("side=BUY&type=LIMIT")), mandatory("symbol"));
  EXPECT_EQ(err(order("symbol=&side=BUY&type=LIMIT")), mandatory("symbol"));
  EXPECT_EQ(err(order("symbol=BTCUSDT&type=LIMIT")), mandatory("side"));
  EXPECT_EQ(err(order("symbol=BTCUSDT&side=BUY")), mandatory("type"));
  EXPECT_EQ(err(order("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=1")),
            mandatory("timeInForce"));
  EXPECT_EQ(err(order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&price=1")),
            mandatory("quantity"));
  EXPECT_EQ(err(order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1")),
            mandatory("price"));
  EXPECT_EQ(err(order("symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=1")), mandatory("price"));
  EXPECT_EQ(
      err(order("symbol=BTCUSDT&side=BUY&type=MARKET")),
      R"({"code":-1102,"msg":"Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"})");
}

TEST(RequestTest, SymbolSideTypeAndTimeInForceValues) {
  EXPECT_EQ(
      err(order("symbol=btcusdt&side=BUY&type=LIMIT")),
      R"({"code":-1100,"msg":"Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'."})");
  EXPECT_EQ(err(order("symbol=NOPEUSDT&side=BUY&type=LIMIT")),
            R"({"code":-1121,"msg":"Invalid symbol."})");
  EXPECT_EQ(err(order("symbol=BTCUSDT&side=buy&type=LIMIT")),
            R"({"code":-1117,"msg":"Invalid side."})");
  EXPECT_EQ(err(order("symbol=BTCUSDT&side=BUY&type=LIMITED")),
            R"({"code":-1116,"msg":"Invalid orderType."})");
  EXPECT_EQ(err(order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTD&quantity=1&price=1")),
            R"({"code":-1115,"msg":"Invalid timeInForce."})");
  EXPECT_EQ(err(order("symbol=BTCUSDT&side=BUY&type=STOP_LOSS_LIMIT")),
            R"({"code":-1014,"msg":"Unsupported order combination"})");
}

TEST(RequestTest, ParametersNotRequiredForTheType) {
  EXPECT_EQ(err(order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&timeInForce=GTC")),
            R"({"code":-1106,"msg":"Parameter 'timeInForce' sent when not required."})");
  EXPECT_EQ(err(order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&price=1")),
            R"({"code":-1106,"msg":"Parameter 'price' sent when not required."})");
  EXPECT_EQ(err(order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&quoteOrderQty=10")),
            R"({"code":-1106,"msg":"Parameter 'quoteOrderQty' sent when not required."})");
  EXPECT_EQ(err(order(std::string(kLimit) + "&quoteOrderQty=10")),
            R"({"code":-1106,"msg":"Parameter 'quoteOrderQty' sent when not required."})");
  EXPECT_EQ(
      err(order("symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=1&price=1&timeInForce=GTC")),
      R"({"code":-1106,"msg":"Parameter 'timeInForce' sent when not required."})");
  EXPECT_EQ(err(order(std::string(kLimit) + "&stopPrice=1")),
            R"({"code":-1106,"msg":"Parameter 'stopPrice' sent when not required."})");
  EXPECT_EQ(err(order(std::string(kLimit) + "&icebergQty=0.1")),
            R"({"code":-2010,"msg":"Iceberg orders are not supported for this symbol."})");
}

TEST(RequestTest, DecimalSyntaxAndPrecision) {
  EXPECT_EQ(
      err(order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1e-5")),
      R"({"code":-1100,"msg":"Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'."})");
  EXPECT_EQ(err(order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=-1")).substr(0, 19),
            R"({"code":-1100,"msg")");
  EXPECT_EQ(err(order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=.5")).substr(0, 19),
            R"({"code":-1100,"msg")");
  // Beyond 8 decimals: not exact at the wire scale.
  EXPECT_EQ(err(order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.000000001")),
            R"({"code":-1111,"msg":"Parameter 'quantity' has too much precision."})");
  EXPECT_EQ(
      err(order("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1.123456789")),
      R"({"code":-1111,"msg":"Parameter 'price' has too much precision."})");
  // Trailing zeros beyond the scale change nothing.
  EXPECT_TRUE(order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.5000000000").ok());
  // Beyond the symbol's asset precision (base 2 for quantity, quote 4 for price/quoteOrderQty).
  const std::string t = "symbol=TESTUSDT&side=SELL&type=LIMIT&timeInForce=IOC";
  EXPECT_TRUE(order(t + "&quantity=1.25&price=2.1234", coarse_info()).ok());
  EXPECT_EQ(err(order(t + "&quantity=1.251&price=2", coarse_info())),
            R"({"code":-1111,"msg":"Parameter 'quantity' has too much precision."})");
  EXPECT_EQ(err(order(t + "&quantity=1&price=2.12345", coarse_info())),
            R"({"code":-1111,"msg":"Parameter 'price' has too much precision."})");
  EXPECT_EQ(err(order("symbol=TESTUSDT&side=BUY&type=MARKET&quoteOrderQty=0.00001", coarse_info())),
            R"({"code":-1111,"msg":"Parameter 'quoteOrderQty' has too much precision."})");
  EXPECT_EQ(err(order("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=99999999999999999999")),
            R"({"code":-1108,"msg":"Parameter 'quantity' overflowed."})");
}

TEST(RequestTest, OptionalOrderParameters) {
  EXPECT_EQ(
      err(order(std::string(kLimit) + "&newClientOrderId=has%20space")),
      R"({"code":-1100,"msg":"Illegal characters found in parameter 'newClientOrderId'; legal range is '^[a-zA-Z0-9-_]{1,36}$'."})");
  EXPECT_EQ(err(order(std::string(kLimit) + "&newOrderRespType=FAST")),
            R"({"code":-1136,"msg":"Invalid newOrderRespType"})");
  EXPECT_EQ(order(std::string(kLimit) + "&newOrderRespType=RESULT").value().resp_type,
            RespType::kResult);
  EXPECT_EQ(order("symbol=BTCUSDT&side=SELL&type=LIMIT_MAKER&quantity=1&price=1").value().resp_type,
            RespType::kAck);
  EXPECT_EQ(order("symbol=BTCUSDT&side=SELL&type=MARKET&quantity=1").value().resp_type,
            RespType::kFull);
  EXPECT_EQ(order(std::string(kLimit) + "&selfTradePreventionMode=EXPIRE_MAKER").value().stp_mode,
            StpMode::kExpireMaker);
  EXPECT_EQ(
      err(order(std::string(kLimit) + "&selfTradePreventionMode=SOMETIMES")),
      R"({"code":-1130,"msg":"Data sent for parameter 'selfTradePreventionMode' is not valid."})");
  const auto s = order(std::string(kLimit) + "&strategyId=7&strategyType=1000000");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s.value().strategy_id, 7);
  EXPECT_EQ(*s.value().strategy_type, 1000000);
  EXPECT_EQ(err(order(std::string(kLimit) + "&strategyType=999999")),
            R"({"code":-1134,"msg":"strategyType was less than 1000000."})");
}

// ---- cancel, query, myTrades ------------------------------------------------------------------

TEST(RequestTest, OrderReferenceNeedsAnId) {
  EXPECT_EQ(
      err(parse_order_ref(req("symbol=BTCUSDT"), info2023())),
      R"({"code":-1102,"msg":"Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"})");
  EXPECT_EQ(
      err(parse_order_ref(req("symbol=BTCUSDT&orderId=x"), info2023())),
      R"({"code":-1100,"msg":"Illegal characters found in parameter 'orderId'; legal range is '^[0-9]{1,20}$'."})");
  const auto ref =
      parse_order_ref(req("symbol=BTCUSDT&orderId=12&origClientOrderId=abc"), info2023());
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(*ref.value().order_id, 12);
  EXPECT_EQ(ref.value().orig_client_order_id, "abc");
}

TEST(RequestTest, CancelRestrictions) {
  const auto c = parse_cancel(
      req("symbol=BTCUSDT&orderId=1&newClientOrderId=cancelMe&cancelRestrictions=ONLY_NEW"),
      info2023());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.value().restrictions, CancelRestrictions::kOnlyNew);
  EXPECT_EQ(c.value().new_client_order_id, "cancelMe");
  EXPECT_EQ(err(parse_cancel(req("symbol=BTCUSDT&orderId=1&cancelRestrictions=ANY"), info2023())),
            R"({"code":-1145,"msg":"Invalid cancelRestrictions"})");
}

TEST(RequestTest, MyTradesParameterCombinations) {
  auto q = [](const std::string& s) {
    return parse_my_trades(req("symbol=BTCUSDT" + s), info2023());
  };
  for (const char* ok : {"", "&orderId=1", "&startTime=1", "&endTime=1", "&fromId=1",
                         "&startTime=1&endTime=2", "&orderId=1&fromId=2"}) {
    EXPECT_TRUE(q(ok).ok()) << ok;
  }
  for (const char* bad : {"&orderId=1&startTime=1", "&fromId=1&startTime=1", "&fromId=1&endTime=5",
                          "&orderId=1&endTime=1"}) {
    EXPECT_EQ(err(q(bad)), R"({"code":-1128,"msg":"Combination of optional parameters invalid."})")
        << bad;
  }
  EXPECT_TRUE(q("&startTime=0&endTime=86400000").ok());
  EXPECT_EQ(err(q("&startTime=0&endTime=86400001")),
            R"({"code":-1127,"msg":"More than 24 hours between startTime and endTime."})");
  EXPECT_EQ(q("").value().limit, 500U);
  EXPECT_EQ(q("&limit=1000").value().limit, 1000U);
  EXPECT_EQ(q("&limit=5000").value().limit, 1000U);
  EXPECT_EQ(q("&limit=0").error().code, ErrorCode::kInvalidParameter);
}

}  // namespace
