// WsApi in process over a synthetic venue: each method's result and error shapes, signatures,
// rateLimits, and the user data stream for orders placed over the WebSocket API and over REST.
#include "ws_api.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "cwts/net/hmac.hpp"
#include "rest_api.hpp"
#include "user_data_hub.hpp"
#include "venue.hpp"

namespace {

using cwts::sim_server::HttpRequestView;
using cwts::sim_server::RestApi;
using cwts::sim_server::UserDataHub;
using cwts::sim_server::Venue;
using cwts::sim_server::WsApi;

// The reference's HMAC key pair (binance-protocol.md §3.3).
const std::string kKey = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const std::string kSecret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Venue::Options venue_options() {
  Venue::Options o;
  o.exchange_info_path =
      std::string(CWTS_TEST_DATA) + "/binance_spot_exchangeInfo_full_cryptofeed_2021.json.gz";
  o.synthetic = {"BTCUSDT"};
  o.balances = "USDT=100000,BTC=5";
  o.request_weight_limit = 100'000;
  return o;
}

// A param: its name and its JSON value as the client writes it ("\"BUY\"", "100").
struct P {
  std::string name;
  std::string json;
};

// The frame of a request; with `sign`, apiKey, timestamp and the signature over the sorted
// params (the value text a client signs: strings without quotes).
std::string frame(const std::string& id, const std::string& method, std::vector<P> params,
                  bool sign = false, const std::string& secret = kSecret) {
  if (sign) {
    params.push_back({"apiKey", "\"" + kKey + "\""});
    params.push_back({"timestamp", std::to_string(now_ms())});
    std::vector<P> sorted = params;
    std::sort(sorted.begin(), sorted.end(), [](const P& a, const P& b) { return a.name < b.name; });
    std::string payload;
    for (const P& p : sorted) {
      if (!payload.empty()) payload += '&';
      const bool quoted = p.json.size() >= 2 && p.json.front() == '"';
      payload += p.name + "=" + (quoted ? p.json.substr(1, p.json.size() - 2) : p.json);
    }
    params.push_back({"signature", "\"" + cwts::net::hmac_sha256_hex(secret, payload) + "\""});
  }
  std::string f = R"({"id":)" + id + R"(,"method":")" + method + R"(","params":{)";
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (i != 0) f += ',';
    f += "\"" + params[i].name + "\":" + params[i].json;
  }
  return f + "}}";
}

class WsApiTest : public ::testing::Test {
 protected:
  // One frame in: every frame out (the response first).
  std::vector<std::string> call(const std::string& f) {
    sent_.clear();
    api_->handle(f);
    return std::move(sent_);
  }
  // The response to `f`, parsed; fails the test if anything else was sent.
  simdjson::dom::element response(const std::string& f) {
    const auto out = call(f);
    EXPECT_EQ(out.size(), 1U) << f;
    return parse(out.empty() ? std::string("{}") : out.front());
  }
  simdjson::dom::element parse(const std::string& s) {
    docs_.push_back(std::make_unique<simdjson::dom::parser>());
    return docs_.back()->parse(s).value();
  }
  static std::int64_t error_code(simdjson::dom::element r) {
    return r["error"]["code"].get_int64().value();
  }
  // A signed REST request on the same RestApi (one venue, one rate limiter).
  cwts::sim_server::HttpReply rest(std::string_view method, std::string_view path,
                                   std::string query) {
    query += "&timestamp=" + std::to_string(now_ms());
    query += "&signature=" + cwts::net::hmac_sha256_hex(kSecret, query);
    return rest_.handle(HttpRequestView{method, path, query, {}, &kKey});
  }
  std::string place_limit_buy(const std::string& cid) {
    return frame("\"" + cid + "\"", "order.place",
                 {{"symbol", R"("BTCUSDT")"},
                  {"side", R"("BUY")"},
                  {"type", R"("LIMIT")"},
                  {"timeInForce", R"("GTC")"},
                  {"price", R"("40000")"},
                  {"quantity", "0.01"},
                  {"newClientOrderId", "\"" + cid + "\""}},
                 true);
  }

  Venue venue_{venue_options()};
  RestApi rest_{venue_, cwts::binance::Credentials{kKey, kSecret}};
  UserDataHub hub_{venue_.engine()};
  std::vector<std::string> sent_;
  std::shared_ptr<WsApi> api_ = std::make_shared<WsApi>(
      rest_, hub_, true, [this](std::string f) { sent_.push_back(std::move(f)); });
  std::vector<std::unique_ptr<simdjson::dom::parser>> docs_;
};

TEST_F(WsApiTest, PublicMethodsEchoTheIdAndCountWeight) {
  auto r = response(R"({"id":17,"method":"ping"})");
  EXPECT_EQ(r["id"].get_int64().value(), 17);
  EXPECT_EQ(r["status"].get_int64().value(), 200);
  EXPECT_EQ(simdjson::minify(r["result"]), "{}");
  auto limits = r["rateLimits"].get_array().value();
  ASSERT_EQ(limits.size(), 1U);
  EXPECT_EQ(limits.at(0)["rateLimitType"].get_string().value(), "REQUEST_WEIGHT");
  const std::int64_t before = limits.at(0)["count"].get_int64().value();

  r = response(R"({"id":"t","method":"v3/time","params":{}})");
  EXPECT_EQ(r["id"].get_string().value(), "t");
  EXPECT_GT(r["result"]["serverTime"].get_int64().value(), 0);
  EXPECT_EQ(r["rateLimits"].at(0)["count"].get_int64().value(), before + 1);

  r = response(R"({"id":null,"method":"exchangeInfo","params":{"symbol":"BTCUSDT"}})");
  EXPECT_TRUE(r["id"].is_null());
  EXPECT_EQ(r["result"]["symbols"].at(0)["symbol"].get_string().value(), "BTCUSDT");
  EXPECT_EQ(r["rateLimits"].at(0)["count"].get_int64().value(), before + 21);

  r = response(R"({"id":1,"method":"exchangeInfo","params":{"symbols":["BTCUSDT"]}})");
  EXPECT_EQ(r["result"]["symbols"].get_array().value().size(), 1U);
}

TEST_F(WsApiTest, BadFramesAndUnknownMethodsGetOneErrorResponse) {
  auto r = response("not json");
  EXPECT_TRUE(r["id"].is_null());
  EXPECT_EQ(r["status"].get_int64().value(), 400);
  EXPECT_EQ(error_code(r), -1135);

  r = response(R"({"id":"u","method":"order.amend"})");
  EXPECT_EQ(r["id"].get_string().value(), "u");
  EXPECT_EQ(r["status"].get_int64().value(), 400);
  EXPECT_EQ(error_code(r), -1020);
  EXPECT_EQ(r["error"]["msg"].get_string().value(), "This operation is not supported.");

  r = response(R"({"id":2,"params":{}})");
  EXPECT_EQ(error_code(r), -1102);

  r = response(R"({"id":3,"method":"ping","params":{"a":1,"a":2}})");
  EXPECT_EQ(error_code(r), -1101);
}

TEST_F(WsApiTest, RateLimitsFollowTheParamAndTheConnectionDefault) {
  auto r = response(R"({"id":1,"method":"ping","params":{"returnRateLimits":false}})");
  EXPECT_EQ(r["rateLimits"].error(), simdjson::NO_SUCH_FIELD);

  api_ = std::make_shared<WsApi>(rest_, hub_, false,
                                 [this](std::string f) { sent_.push_back(std::move(f)); });
  r = response(R"({"id":2,"method":"ping"})");
  EXPECT_EQ(r["rateLimits"].error(), simdjson::NO_SUCH_FIELD);
  r = response(R"({"id":3,"method":"ping","params":{"returnRateLimits":true}})");
  EXPECT_EQ(r["rateLimits"].get_array().value().size(), 1U);
}

TEST_F(WsApiTest, SignedMethodsCheckKeySignatureAndTimestamp) {
  // Reference vector (§3.8) as sent: right signature, but its 2022 timestamp is stale.
  auto r = response(
      R"({"id":"4885f793-e5ad-4c3b-8f6c-55d891472b71","method":"order.place","params":{)"
      R"("symbol":"BTCUSDT","side":"SELL","type":"LIMIT","timeInForce":"GTC",)"
      R"("quantity":"0.01000000","price":"52000.00","recvWindow":100,"timestamp":1645423376532,)"
      R"("apiKey":")" +
      kKey +
      R"(","signature":"aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"}})");
  EXPECT_EQ(error_code(r), -1021);
  EXPECT_EQ(r["status"].get_int64().value(), 400);

  const std::vector<P> q = {{"symbol", R"("BTCUSDT")"}};
  r = response(frame("1", "openOrders.status", q, true, "wrong-secret"));
  EXPECT_EQ(error_code(r), -1022);

  r = response(frame("2", "openOrders.status", q));
  EXPECT_EQ(error_code(r), -2014);
  EXPECT_EQ(r["status"].get_int64().value(), 401);

  r = response(frame("3", "openOrders.status",
                     {{"symbol", R"("BTCUSDT")"},
                      {"apiKey", R"("otherKey123")"},
                      {"timestamp", std::to_string(now_ms())},
                      {"signature", R"("00")"}}));
  EXPECT_EQ(error_code(r), -2015);

  r = response(frame("4", "openOrders.status", q, true));
  EXPECT_EQ(r["status"].get_int64().value(), 200);
  EXPECT_EQ(r["result"].get_array().value().size(), 0U);
}

TEST_F(WsApiTest, OrderLifecycleOverTheWebSocketApi) {
  auto r = response(place_limit_buy("ws1"));
  ASSERT_EQ(r["status"].get_int64().value(), 200) << simdjson::minify(r);
  const std::int64_t id = r["result"]["orderId"].get_int64().value();
  EXPECT_EQ(r["result"]["status"].get_string().value(), "NEW");
  EXPECT_EQ(r["result"]["fills"].get_array().value().size(), 0U);  // LIMIT: FULL by default
  // order.place: ORDERS 10 s, ORDERS 1 d, then REQUEST_WEIGHT.
  auto limits = r["rateLimits"].get_array().value();
  ASSERT_EQ(limits.size(), 3U);
  EXPECT_EQ(limits.at(0)["rateLimitType"].get_string().value(), "ORDERS");
  EXPECT_EQ(limits.at(0)["interval"].get_string().value(), "SECOND");
  EXPECT_EQ(limits.at(0)["intervalNum"].get_int64().value(), 10);
  EXPECT_EQ(limits.at(0)["count"].get_int64().value(), 1);
  EXPECT_EQ(limits.at(1)["interval"].get_string().value(), "DAY");
  EXPECT_EQ(limits.at(2)["rateLimitType"].get_string().value(), "REQUEST_WEIGHT");

  r = response(frame("2", "order.status",
                     {{"symbol", R"("BTCUSDT")"}, {"orderId", std::to_string(id)}}, true));
  EXPECT_EQ(r["result"]["clientOrderId"].get_string().value(), "ws1");
  EXPECT_EQ(r["result"]["isWorking"].get_bool().value(), true);

  r = response(frame("3", "openOrders.status", {}, true));
  EXPECT_EQ(r["result"].get_array().value().size(), 1U);

  r = response(frame("4", "order.test",
                     {{"symbol", R"("BTCUSDT")"},
                      {"side", R"("SELL")"},
                      {"type", R"("MARKET")"},
                      {"quantity", R"("0.001")"}},
                     true));
  EXPECT_EQ(simdjson::minify(r["result"]), "{}");

  r = response(frame("5", "order.cancel",
                     {{"symbol", R"("BTCUSDT")"}, {"origClientOrderId", R"("ws1")"}}, true));
  EXPECT_EQ(r["result"]["status"].get_string().value(), "CANCELED");
  EXPECT_EQ(r["result"]["origClientOrderId"].get_string().value(), "ws1");

  r = response(frame("6", "order.cancel", {{"symbol", R"("BTCUSDT")"}, {"orderId", "999"}}, true));
  EXPECT_EQ(error_code(r), -2011);
  r = response(frame("7", "order.status", {{"symbol", R"("BTCUSDT")"}, {"orderId", "999"}}, true));
  EXPECT_EQ(error_code(r), -2013);
  r = response(frame("8", "openOrders.cancelAll", {{"symbol", R"("BTCUSDT")"}}, true));
  EXPECT_EQ(error_code(r), -2011);

  r = response(place_limit_buy("ws2"));
  r = response(frame("9", "openOrders.cancelAll", {{"symbol", R"("BTCUSDT")"}}, true));
  EXPECT_EQ(r["result"].get_array().value().size(), 1U);

  r = response(frame("10", "allOrders", {{"symbol", R"("BTCUSDT")"}}, true));
  EXPECT_EQ(r["result"].get_array().value().size(), 2U);

  r = response(frame("11", "order.place",
                     {{"symbol", R"("BTCUSDT")"},
                      {"side", R"("BUY")"},
                      {"type", R"("MARKET")"},
                      {"quantity", R"("0.01")"}},
                     true));
  EXPECT_EQ(r["result"]["status"].get_string().value(), "FILLED");
  r = response(frame("12", "myTrades", {{"symbol", R"("BTCUSDT")"}}, true));
  EXPECT_EQ(r["result"].get_array().value().size(), 1U);
  r = response(frame("13", "account.status", {{"omitZeroBalances", "true"}}, true));
  EXPECT_EQ(r["result"]["balances"].get_array().value().size(), 2U);

  r = response(frame("14", "order.place",
                     {{"symbol", R"("BTCUSDT")"},
                      {"side", R"("BUY")"},
                      {"type", R"("MARKET")"},
                      {"quantity", R"("100")"}},
                     true));
  EXPECT_EQ(error_code(r), -2010);
  EXPECT_EQ(r["status"].get_int64().value(), 400);
}

TEST_F(WsApiTest, StatsNameWsMethodsAndTheirKey) {
  (void)call(frame("1", "openOrders.status", {}, true));
  (void)call(R"({"id":2,"method":"ping"})");
  auto s = parse(rest_.stats_json());
  EXPECT_EQ(s["endpoints"]["WS openOrders.status"]["weight"].get_int64().value(), 80);
  EXPECT_EQ(s["endpoints"]["WS ping"]["requests"].get_int64().value(), 1);
  EXPECT_EQ(s["apiKeys"][kKey]["weight"].get_int64().value(), 80);
}

TEST_F(WsApiTest, UserDataStreamCarriesEventsAfterTheResponse) {
  auto out = call(frame("\"s\"", "userDataStream.subscribe.signature", {}, true));
  ASSERT_EQ(out.size(), 1U);
  auto r = parse(out[0]);
  ASSERT_EQ(r["status"].get_int64().value(), 200) << out[0];
  EXPECT_EQ(r["result"]["subscriptionId"].get_int64().value(), 0);
  EXPECT_EQ(r["rateLimits"].at(0)["count"].get_int64().value(), 2);  // weight 2

  r = response(frame("2", "userDataStream.subscribe.signature", {}, true));
  EXPECT_EQ(error_code(r), -2035);
  r = response(R"({"id":3,"method":"session.subscriptions"})");
  EXPECT_EQ(simdjson::minify(r["result"]), R"([{"subscriptionId":0}])");

  // A market buy over the WebSocket API: the response, then NEW, TRADE and the balances.
  out = call(frame("4", "order.place",
                   {{"symbol", R"("BTCUSDT")"},
                    {"side", R"("BUY")"},
                    {"type", R"("MARKET")"},
                    {"quantity", R"("0.01")"}},
                   true));
  ASSERT_EQ(out.size(), 4U);
  EXPECT_EQ(parse(out[0])["id"].get_int64().value(), 4);
  auto e = parse(out[1]);
  EXPECT_EQ(e["subscriptionId"].get_int64().value(), 0);
  EXPECT_EQ(e["event"]["e"].get_string().value(), "executionReport");
  EXPECT_EQ(e["event"]["x"].get_string().value(), "NEW");
  e = parse(out[2]);
  EXPECT_EQ(e["event"]["x"].get_string().value(), "TRADE");
  EXPECT_EQ(e["event"]["X"].get_string().value(), "FILLED");
  EXPECT_EQ(e["event"]["N"].get_string().value(), "BTC");
  EXPECT_EQ(e["event"]["n"].get_string().value(), "0.00001000");  // 0.1% taker of 0.01
  e = parse(out[3]);
  EXPECT_EQ(e["event"]["e"].get_string().value(), "outboundAccountPosition");
  EXPECT_EQ(e["event"]["B"].get_array().value().size(), 2U);

  // An order placed and canceled over REST: its events reach the subscriber too.
  auto placed = rest("POST", "/api/v3/order",
                     "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&price=60000&quantity=0.01"
                     "&newClientOrderId=rest1");
  ASSERT_EQ(placed.status, 200U) << placed.body;
  ASSERT_EQ(sent_.size(), 2U);
  e = parse(sent_[0]);
  EXPECT_EQ(e["event"]["x"].get_string().value(), "NEW");
  EXPECT_EQ(e["event"]["c"].get_string().value(), "rest1");
  EXPECT_EQ(parse(sent_[1])["event"]["B"].at(0)["l"].get_string().value(), "0.01000000");
  sent_.clear();
  auto canceled = rest("DELETE", "/api/v3/order",
                       "symbol=BTCUSDT&origClientOrderId=rest1&newClientOrderId=cancel1");
  ASSERT_EQ(canceled.status, 200U) << canceled.body;
  ASSERT_EQ(sent_.size(), 2U);
  e = parse(sent_[0]);
  EXPECT_EQ(e["event"]["x"].get_string().value(), "CANCELED");
  EXPECT_EQ(e["event"]["c"].get_string().value(), "cancel1");
  EXPECT_EQ(e["event"]["C"].get_string().value(), "rest1");
  sent_.clear();

  // A withdrawal by the operator: balanceUpdate, then the asset's position.
  std::string err;
  EXPECT_FALSE(hub_.apply_balance_delta("BTC", -1'000'000'000'000, 1, err));
  EXPECT_FALSE(err.empty());
  EXPECT_TRUE(sent_.empty());
  ASSERT_TRUE(hub_.apply_balance_delta("BTC", -50'000'000, 7, err)) << err;
  ASSERT_EQ(sent_.size(), 2U);
  e = parse(sent_[0]);
  EXPECT_EQ(e["event"]["e"].get_string().value(), "balanceUpdate");
  EXPECT_EQ(e["event"]["d"].get_string().value(), "-0.50000000");
  e = parse(sent_[1]);
  EXPECT_EQ(e["event"]["e"].get_string().value(), "outboundAccountPosition");
  EXPECT_EQ(e["event"]["B"].get_array().value().size(), 1U);
  EXPECT_EQ(e["event"]["B"].at(0)["f"].get_string().value(), "4.50999000");

  // Unsubscribe: {} then eventStreamTerminated; nothing after.
  out = call(R"({"id":5,"method":"userDataStream.unsubscribe","params":{"subscriptionId":0}})");
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(simdjson::minify(parse(out[0])["result"]), "{}");
  e = parse(out[1]);
  EXPECT_EQ(e["subscriptionId"].get_int64().value(), 0);
  EXPECT_EQ(e["event"]["e"].get_string().value(), "eventStreamTerminated");
  EXPECT_EQ(hub_.sinks(), 0U);
  r = response(R"({"id":6,"method":"userDataStream.unsubscribe"})");
  EXPECT_EQ(error_code(r), -2036);
  (void)rest("POST", "/api/v3/order",
             "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&price=60000&quantity=0.01");
  EXPECT_TRUE(sent_.empty());

  // A new subscription gets the next id.
  r = response(frame("7", "userDataStream.subscribe.signature", {}, true));
  EXPECT_EQ(r["result"]["subscriptionId"].get_int64().value(), 1);
}

TEST_F(WsApiTest, AClosedSessionGetsNothing) {
  (void)call(frame("1", "userDataStream.subscribe.signature", {}, true));
  api_->close();
  EXPECT_EQ(hub_.sinks(), 0U);
  EXPECT_TRUE(call(R"({"id":2,"method":"ping"})").empty());
}

TEST_F(WsApiTest, ADestroyedSessionIsForgotten) {
  (void)call(frame("1", "userDataStream.subscribe.signature", {}, true));
  EXPECT_EQ(hub_.sinks(), 1U);
  api_.reset();
  EXPECT_EQ(hub_.sinks(), 0U);
  auto placed =
      rest("POST", "/api/v3/order",
           "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&price=60000&quantity=0.01");
  EXPECT_EQ(placed.status, 200U);
}

}  // namespace
