// JSON bodies byte for byte against rest-api.md's examples, escaping, and validity (simdjson).
#include "cwts/binance/json_responses.hpp"

#include <string>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "../sim/sim_test_util.hpp"
#include "cwts/sim/account.hpp"

namespace {

using namespace cwts::core::money_literals;

using namespace cwts::binance;
using namespace cwts::sim;
using cwts::sim::test::d;

// Parses `json` and returns the root, failing the test if it is not valid JSON.
simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& json) {
  simdjson::dom::element e;
  const auto err = p.parse(json).get(e);
  EXPECT_EQ(err, simdjson::SUCCESS) << json;
  return e;
}

OrderResult doc_market_sell() {
  OrderResult r;
  r.order.symbol = "BTCUSDT";
  r.order.order_id = 28;
  r.order.client_order_id = "6gCrw2kRUAF9CvJDGP16IP";
  r.order.price = Price{};
  r.order.orig_qty = 10_qty;
  r.order.executed_qty = 10_qty;
  r.order.cumm_quote_qty = 10_quote;
  r.order.status = OrderStatus::kFilled;
  r.order.tif = TimeInForce::kGtc;
  r.order.type = OrderType::kMarket;
  r.order.side = Side::kSell;
  r.order.working_time_ms = 1507725176595;
  r.transact_time_ms = 1507725176595;
  const struct {
    const char *px, *qty, *fee;
    std::int64_t id;
  } fills[] = {{"4000", "1", "4", 56},
               {"3999", "5", "19.995", 57},
               {"3998", "2", "7.996", 58},
               {"3997", "1", "3.997", 59},
               {"3995", "1", "3.995", 60}};
  for (const auto& f : fills)
    r.fills.push_back({Price{d(f.px)}, Qty{d(f.qty)}, Notional{}, Amount{d(f.fee)}, "USDT", f.id});
  return r;
}

constexpr const char* kAck =
    R"({"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"6gCrw2kRUAF9CvJDGP16IP","transactTime":1507725176595})";
constexpr const char* kResult =
    R"({"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"6gCrw2kRUAF9CvJDGP16IP","transactTime":1507725176595,"price":"0.00000000","origQty":"10.00000000","executedQty":"10.00000000","origQuoteOrderQty":"0.00000000","cummulativeQuoteQty":"10.00000000","status":"FILLED","timeInForce":"GTC","type":"MARKET","side":"SELL","workingTime":1507725176595,"selfTradePreventionMode":"NONE")";

TEST(JsonResponsesTest, OrderAckResultAndFullMatchTheDocumentation) {
  OrderResult r = doc_market_sell();
  r.resp_type = RespType::kAck;
  EXPECT_EQ(order_response_json(r), kAck);
  r.resp_type = RespType::kResult;
  EXPECT_EQ(order_response_json(r), std::string(kResult) + "}");
  r.resp_type = RespType::kFull;
  EXPECT_EQ(
      order_response_json(r),
      std::string(kResult) +
          R"(,"fills":[{"price":"4000.00000000","qty":"1.00000000","commission":"4.00000000","commissionAsset":"USDT","tradeId":56},)"
          R"({"price":"3999.00000000","qty":"5.00000000","commission":"19.99500000","commissionAsset":"USDT","tradeId":57},)"
          R"({"price":"3998.00000000","qty":"2.00000000","commission":"7.99600000","commissionAsset":"USDT","tradeId":58},)"
          R"({"price":"3997.00000000","qty":"1.00000000","commission":"3.99700000","commissionAsset":"USDT","tradeId":59},)"
          R"({"price":"3995.00000000","qty":"1.00000000","commission":"3.99500000","commissionAsset":"USDT","tradeId":60}]})");
  // A resting FULL order has an empty fills array; strategy fields appear when set.
  r.fills.clear();
  r.order.strategy_id = 1;
  r.order.strategy_type = 1000000;
  const std::string full = order_response_json(r);
  EXPECT_NE(full.find(R"("side":"SELL","strategyId":1,"strategyType":1000000,"workingTime")"),
            std::string::npos);
  EXPECT_NE(full.find(R"("fills":[]})"), std::string::npos);
}

Order doc_query_order() {
  Order o;
  o.symbol = "LTCBTC";
  o.order_id = 1;
  o.client_order_id = "myOrder1";
  o.price = 0.1_px;
  o.orig_qty = 1.0_qty;
  o.status = OrderStatus::kNew;
  o.time_ms = o.update_time_ms = o.working_time_ms = 1499827319559;
  return o;
}

TEST(JsonResponsesTest, OrderQueryAndOpenOrders) {
  const std::string q =
      R"({"symbol":"LTCBTC","orderId":1,"orderListId":-1,"clientOrderId":"myOrder1","price":"0.10000000","origQty":"1.00000000","executedQty":"0.00000000","cummulativeQuoteQty":"0.00000000","status":"NEW","timeInForce":"GTC","type":"LIMIT","side":"BUY","stopPrice":"0.00000000","icebergQty":"0.00000000","time":1499827319559,"updateTime":1499827319559,"isWorking":true,"workingTime":1499827319559,"origQuoteOrderQty":"0.00000000","selfTradePreventionMode":"NONE"})";
  EXPECT_EQ(order_query_json(doc_query_order()), q);
  const std::vector<Order> two = {doc_query_order(), doc_query_order()};
  EXPECT_EQ(open_orders_json(two), "[" + q + "," + q + "]");
  EXPECT_EQ(open_orders_json({}), "[]");
}

TEST(JsonResponsesTest, CancelResponse) {
  CancelResult c;
  c.order.symbol = "LTCBTC";
  c.order.client_order_id = "myOrder1";
  c.order.order_id = 4;
  c.order.price = 2_px;
  c.order.orig_qty = 1_qty;
  c.order.status = OrderStatus::kCanceled;
  c.cancel_client_order_id = "cancelMyOrder1";
  c.transact_time_ms = 1684804350068;
  const std::string one =
      R"({"symbol":"LTCBTC","origClientOrderId":"myOrder1","orderId":4,"orderListId":-1,"clientOrderId":"cancelMyOrder1","transactTime":1684804350068,"price":"2.00000000","origQty":"1.00000000","executedQty":"0.00000000","origQuoteOrderQty":"0.00000000","cummulativeQuoteQty":"0.00000000","status":"CANCELED","timeInForce":"GTC","type":"LIMIT","side":"BUY","selfTradePreventionMode":"NONE"})";
  EXPECT_EQ(cancel_response_json(c), one);
  const std::vector<CancelResult> all = {c};
  EXPECT_EQ(cancel_all_json(all), "[" + one + "]");
}

TEST(JsonResponsesTest, Account) {
  Account a({{"USDT", 10000_amt}, {"BTC", 4723846.89208129_amt}, {"ETH", Amount{}}});
  CommissionRates rates;
  rates.maker = d("0.0015");
  rates.taker = d("0.0015");
  a.set_commission(rates);
  ASSERT_TRUE(a.lock("USDT", 0.5_amt));
  a.touch(123456789);
  AccountFlags flags;
  flags.uid = 354937868;
  const std::string head =
      R"({"makerCommission":15,"takerCommission":15,"buyerCommission":0,"sellerCommission":0,"commissionRates":{"maker":"0.00150000","taker":"0.00150000","buyer":"0.00000000","seller":"0.00000000"},"canTrade":true,"canWithdraw":true,"canDeposit":true,"brokered":false,"requireSelfTradePrevention":false,"preventSor":false,"updateTime":123456789,"accountType":"SPOT","balances":[)";
  const std::string tail = R"(],"permissions":["SPOT"],"uid":354937868})";
  EXPECT_EQ(
      account_json(a.view(), flags),
      head +
          R"({"asset":"BTC","free":"4723846.89208129","locked":"0.00000000"},{"asset":"ETH","free":"0.00000000","locked":"0.00000000"},{"asset":"USDT","free":"9999.50000000","locked":"0.50000000"})" +
          tail);
  EXPECT_EQ(
      account_json(a.view(), flags, true),
      head +
          R"({"asset":"BTC","free":"4723846.89208129","locked":"0.00000000"},{"asset":"USDT","free":"9999.50000000","locked":"0.50000000"})" +
          tail);
}

TEST(JsonResponsesTest, MyTrades) {
  Trade t;
  t.symbol = "BNBBTC";
  t.id = 28457;
  t.order_id = 100234;
  t.price = 4.000001_px;
  t.qty = 12_qty;
  t.quote_qty = 48.000012_quote;
  t.commission = 10.1_amt;
  t.commission_asset = "BNB";
  t.time_ms = 1499865549590;
  t.is_buyer = true;
  const std::vector<Trade> trades = {t};
  EXPECT_EQ(
      my_trades_json(trades),
      R"([{"symbol":"BNBBTC","id":28457,"orderId":100234,"orderListId":-1,"price":"4.00000100","qty":"12.00000000","quoteQty":"48.00001200","commission":"10.10000000","commissionAsset":"BNB","time":1499865549590,"isBuyer":true,"isMaker":false,"isBestMatch":true}])");
}

TEST(JsonResponsesTest, ErrorsAndEscaping) {
  EXPECT_EQ(error_json(errors::filter_failure("PRICE_FILTER")),
            R"({"code":-1013,"msg":"Filter failure: PRICE_FILTER"})");
  const ApiError tricky =
      make_error(ErrorCode::kUnknown, std::string("q\"b\\n\nt\tc\x01 \xff ok é"));
  EXPECT_EQ(error_json(tricky), R"({"code":-1000,"msg":"q\"b\\n\nt\tc\u0001 \ufffd ok é"})");
  simdjson::dom::parser p;
  std::string_view msg;
  ASSERT_EQ(parse(p, error_json(tricky))["msg"].get(msg), simdjson::SUCCESS);
  EXPECT_EQ(msg, "q\"b\\n\nt\tc\x01 \xEF\xBF\xBD ok é");
}

TEST(JsonResponsesTest, EscapedStringsRoundTripThroughAParser) {
  // Every single byte, and truncated / overlong / surrogate UTF-8 sequences.
  simdjson::dom::parser p;
  std::vector<std::string> inputs;
  for (int c = 0; c < 256; ++c) inputs.emplace_back(1, static_cast<char>(c));
  for (const char* s : {"\xC3", "\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82",
                        "\xF0\x9F\x98\x80", "\xE2\x82\xAC",
                        "a\xE2\x82\xAC"
                        "b"}) {
    inputs.emplace_back(s);
  }
  for (const std::string& in : inputs) {
    std::string out;
    cwts::core::append_json_string(out, in);
    std::string_view back;
    ASSERT_EQ(parse(p, out).get(back), simdjson::SUCCESS) << out;
    if (simdjson::validate_utf8(in.data(), in.size())) {
      EXPECT_EQ(back, in);
    }
  }
}

TEST(JsonResponsesTest, TestOrderWithCommissionRates) {
  EXPECT_EQ(test_order_json(nullptr), "{}");
  CommissionRates r;
  EXPECT_EQ(
      test_order_json(&r),
      R"({"standardCommissionForOrder":{"maker":"0.00100000","taker":"0.00100000"},"specialCommissionForOrder":{"maker":"0.00000000","taker":"0.00000000"},"taxCommissionForOrder":{"maker":"0.00000000","taker":"0.00000000"},"discount":{"enabledForAccount":false,"enabledForSymbol":false,"discountAsset":"BNB","discount":"0.00000000"}})");
}

TEST(JsonResponsesTest, ExecutionReportForATradeAndACancel) {
  Order o = doc_query_order();
  o.status = OrderStatus::kPartiallyFilled;
  o.executed_qty = 0.4_qty;
  o.cumm_quote_qty = 0.04_quote;
  const Fill f{0.1_px, 0.4_qty, 0.04_quote, 0.0004_amt, "LTC", 77};
  JsonWriter w;
  write_execution_report(w, ExecutionEvent{o, ExecType::kTrade, &f, true, 1499827319560, {}},
                         1499827319561, 5);
  EXPECT_EQ(
      w.str(),
      R"({"e":"executionReport","E":1499827319561,"s":"LTCBTC","c":"myOrder1","S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000","p":"0.10000000","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"TRADE","X":"PARTIALLY_FILLED","r":"NONE","i":1,"l":"0.40000000","z":"0.40000000","L":"0.10000000","n":"0.00040000","N":"LTC","T":1499827319560,"t":77,"I":5,"w":true,"m":true,"M":false,"O":1499827319559,"Z":"0.04000000","Y":"0.04000000","Q":"0.00000000","W":1499827319559,"V":"NONE"})");
  o.status = OrderStatus::kCanceled;
  JsonWriter c;
  write_execution_report(
      c, ExecutionEvent{o, ExecType::kCanceled, nullptr, false, 1499827319570, "cancel1"},
      1499827319570, 6);
  simdjson::dom::parser p;
  const auto e = parse(p, c.str());
  EXPECT_EQ(std::string_view(e["c"]), "cancel1");
  EXPECT_EQ(std::string_view(e["C"]), "myOrder1");
  EXPECT_EQ(std::string_view(e["x"]), "CANCELED");
  EXPECT_EQ(std::string_view(e["n"]), "0");
  EXPECT_TRUE(e["N"].is_null());
  EXPECT_EQ(int64_t(e["t"]), -1);
  EXPECT_FALSE(bool(e["w"]));
}

TEST(JsonResponsesTest, WsApiRateLimits) {
  const std::vector<RateUsage> usage = {
      {{cwts::binance::RateLimitType::kRequestWeight, cwts::binance::RateInterval::kMinute, 1,
        6000},
       2411},
      {{cwts::binance::RateLimitType::kOrders, cwts::binance::RateInterval::kSecond, 10, 50}, 1}};
  JsonWriter w;
  write_rate_limits(w, usage);
  EXPECT_EQ(
      w.str(),
      R"([{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000,"count":2411},{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":50,"count":1}])");
}

TEST(JsonResponsesTest, WriterNestsAndSeparates) {
  JsonWriter w;
  w.begin_object()
      .key("a")
      .begin_array()
      .integer(1)
      .integer(-2)
      .begin_object()
      .end_object()
      .end_array()
      .key("b")
      .null()
      .key("c")
      .boolean(false)
      .key("d")
      .raw(R"({"x":1})")
      .key("e")
      .decimal(-150000000)
      .end_object();
  EXPECT_EQ(w.str(), R"({"a":[1,-2,{}],"b":null,"c":false,"d":{"x":1},"e":"-1.50000000"})");
}

}  // namespace
