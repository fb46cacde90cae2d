// cwts-sim end to end: the real binary on an ephemeral loopback port, driven over HTTP and by the
// engine's own FeedClient (REST, signed orders, SIGTERM); WebSocket and faults: sim_server_ws_test.
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "sim_server_test_util.hpp"

namespace {

using namespace cwts::sim_server::test;

TEST(SimServerTest, ReadyLineNamesTheEphemeralPort) {
  SimProcess sim(capture_args("10"));
  ASSERT_NE(sim.port(), 0) << sim.ready_line();
  EXPECT_EQ(sim.ready_line(), "cwts-sim ready on 127.0.0.1:" + std::to_string(sim.port()));
}

TEST(SimServerTest, PublicRestAnswersAsBinance) {
  SimProcess sim(capture_args("10"));
  ASSERT_NE(sim.port(), 0);
  Reply ping = get(sim.port(), "/api/v3/ping");
  EXPECT_EQ(ping.status, 200U);
  EXPECT_EQ(ping.body, "{}");
  EXPECT_EQ(ping.headers["X-MBX-USED-WEIGHT-1M"], "1");

  Reply t = get(sim.port(), "/api/v3/time");
  simdjson::dom::parser p;
  const std::int64_t server = p.parse(t.body)["serverTime"].get_int64();
  EXPECT_LT(std::abs(server - now_ms()), 2000);

  Reply ei = get(sim.port(), "/api/v3/exchangeInfo?symbol=NKNUSDT");
  ASSERT_EQ(ei.status, 200U);
  simdjson::dom::element doc = p.parse(ei.body);
  EXPECT_EQ(doc["symbols"].get_array().size(), 1U);
  EXPECT_EQ(std::string_view(doc["symbols"].at(0)["symbol"]), "NKNUSDT");
  EXPECT_EQ(doc["rateLimits"].get_array().size(), 4U);
  Reply two = get(sim.port(), "/api/v3/exchangeInfo?symbols=%5B%22NKNUSDT%22,%22BTCUSDT%22%5D");
  EXPECT_EQ(p.parse(two.body)["symbols"].get_array().size(), 2U);
  Reply all = get(sim.port(), "/api/v3/exchangeInfo");
  EXPECT_EQ(p.parse(all.body)["symbols"].get_array().size(), 1695U);

  Reply depth = get(sim.port(), "/api/v3/depth?symbol=NKNUSDT&limit=5");
  ASSERT_EQ(depth.status, 200U);
  EXPECT_EQ(depth.headers["X-MBX-USED-WEIGHT-1M"], std::to_string(1 + 1 + 20 + 20 + 20 + 5));
  const Book b = parse_depth(depth.body);
  EXPECT_EQ(b.bids.size(), 5U);
  EXPECT_EQ(b.asks.size(), 5U);
  EXPECT_GE(b.id, 499869752U);
  EXPECT_LT(b.bids[0].px, b.asks[0].px);

  Reply bad = get(sim.port(), "/api/v3/depth?symbol=NOPE");
  EXPECT_EQ(bad.status, 400U);
  EXPECT_EQ(bad.body, R"({"code":-1121,"msg":"Invalid symbol."})");
  Reply missing = get(sim.port(), "/api/v3/depth");
  EXPECT_EQ(missing.status, 400U);
  EXPECT_NE(missing.body.find("-1102"), std::string::npos);
}

TEST(SimServerTest, FeedClientBookEqualsSimDepth) {
  SimProcess sim(capture_args("5"));
  ASSERT_NE(sim.port(), 0);
  Feed feed(sim.port(), 60s);
  ASSERT_TRUE(
      wait_until([&] { return feed.sink.view().valid && feed.sink.view().updates > 5; }, 10s));
  expect_client_book_equals_sim_depth(sim.port(), feed);
  EXPECT_EQ(feed.sink.view().gaps, 0U);
}

TEST(SimServerTest, FeedClientSurvivesDropStallAndSkippedIds) {
  SimProcess sim(capture_args("10"));
  ASSERT_NE(sim.port(), 0);
  Feed feed(sim.port(), 1000ms);
  ASSERT_TRUE(
      wait_until([&] { return feed.sink.view().valid && feed.sink.view().updates > 3; }, 10s));

  // Dropped connections: the client reconnects, resnapshots and is valid again.
  const auto c0 = feed.client->counters();
  ASSERT_EQ(
      request(sim.port(), http::verb::post, "/_sim/fault", R"({"drop_connections":true})").status,
      200U);
  ASSERT_TRUE(wait_until([&] { return feed.client->counters().reconnects > c0.reconnects; }, 10s));
  ASSERT_TRUE(wait_until([&] { return feed.sink.view().valid; }, 10s));
  expect_client_book_equals_sim_depth(sim.port(), feed);

  // Skipped update ids: a gap, detected, resnapshotted.
  const auto v0 = feed.sink.view();
  ASSERT_EQ(request(sim.port(), http::verb::post, "/_sim/fault", R"({"skip_update_ids":1})").status,
            200U);
  ASSERT_TRUE(wait_until([&] { return feed.sink.view().invalidations > v0.invalidations; }, 15s));
  ASSERT_TRUE(wait_until([&] { return feed.sink.view().valid; }, 10s));
  expect_client_book_equals_sim_depth(sim.port(), feed);

  // A stalled stream: silence past the client's timeout, reconnect, valid again.
  const auto c1 = feed.client->counters();
  ASSERT_EQ(request(sim.port(), http::verb::post, "/_sim/fault", R"({"stall_ms":2500})").status,
            200U);
  ASSERT_TRUE(wait_until(
      [&] { return feed.client->counters().silence_timeouts > c1.silence_timeouts; }, 10s));
  ASSERT_TRUE(wait_until([&] { return feed.sink.view().valid; }, 10s));
  expect_client_book_equals_sim_depth(sim.port(), feed);
}

TEST(SimServerTest, SignedOrderRoundTripAndAuthErrors) {
  SimProcess sim(capture_args("10"));
  ASSERT_NE(sim.port(), 0);
  const std::uint16_t port = sim.port();
  simdjson::dom::parser p;

  const std::string place = sign(
      "symbol=NKNUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=100&price=0.30000000"
      "&newClientOrderId=rt1&timestamp=" +
      std::to_string(now_ms()));
  Reply placed = request(port, http::verb::post, "/api/v3/order", place, kKey);
  ASSERT_EQ(placed.status, 200U) << placed.body;
  EXPECT_EQ(placed.headers["X-MBX-ORDER-COUNT-10S"], "1");
  EXPECT_EQ(placed.headers["X-MBX-ORDER-COUNT-1D"], "1");
  simdjson::dom::element o = p.parse(placed.body);
  EXPECT_EQ(std::string_view(o["status"]), "NEW");
  EXPECT_EQ(std::string_view(o["clientOrderId"]), "rt1");
  const std::int64_t id = o["orderId"].get_int64();

  Reply queried = request(port, http::verb::get,
                          "/api/v3/order?" + sign("symbol=NKNUSDT&orderId=" + std::to_string(id) +
                                                  "&timestamp=" + std::to_string(now_ms())),
                          {}, kKey);
  ASSERT_EQ(queried.status, 200U) << queried.body;
  EXPECT_EQ(std::string_view(p.parse(queried.body)["status"]), "NEW");

  Reply open =
      request(port, http::verb::get,
              "/api/v3/openOrders?" + sign("symbol=NKNUSDT&timestamp=" + std::to_string(now_ms())),
              {}, kKey);
  EXPECT_EQ(p.parse(open.body).get_array().size(), 1U);

  Reply account =
      request(port, http::verb::get,
              "/api/v3/account?" + sign("timestamp=" + std::to_string(now_ms())), {}, kKey);
  ASSERT_EQ(account.status, 200U) << account.body;
  EXPECT_NE(account.body.find(R"({"asset":"USDT","free":"9970.00000000","locked":"30.00000000"})"),
            std::string::npos)
      << account.body;

  Reply canceled = request(port, http::verb::delete_,
                           "/api/v3/order?" + sign("symbol=NKNUSDT&orderId=" + std::to_string(id) +
                                                   "&timestamp=" + std::to_string(now_ms())),
                           {}, kKey);
  ASSERT_EQ(canceled.status, 200U) << canceled.body;
  EXPECT_EQ(std::string_view(p.parse(canceled.body)["status"]), "CANCELED");

  // A signature over other bytes: -1022.
  std::string tampered = sign(
      "symbol=NKNUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=100&price=0.30000000"
      "&timestamp=" +
      std::to_string(now_ms()));
  tampered.replace(tampered.find("quantity=100"), 12, "quantity=200");
  Reply bad_sig = request(port, http::verb::post, "/api/v3/order", tampered, kKey);
  EXPECT_EQ(bad_sig.status, 400U);
  EXPECT_EQ(bad_sig.body, R"({"code":-1022,"msg":"Signature for this request is not valid."})");

  // A timestamp older than recvWindow: -1021.
  Reply stale = request(port, http::verb::post, "/api/v3/order",
                        sign("symbol=NKNUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=100"
                             "&price=0.30000000&recvWindow=5000&timestamp=" +
                             std::to_string(now_ms() - 60'000)),
                        kKey);
  EXPECT_EQ(stale.status, 400U);
  EXPECT_EQ(stale.body,
            R"({"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."})");

  Reply wrong_key =
      request(port, http::verb::get,
              "/api/v3/account?" + sign("timestamp=" + std::to_string(now_ms())), {}, "otherKey");
  EXPECT_EQ(wrong_key.status, 401U);
}

TEST(SimServerTest, InjectedHttpStatusesAnswerTheNextRequests) {
  SimProcess sim(capture_args("10"));
  ASSERT_NE(sim.port(), 0);
  ASSERT_EQ(request(sim.port(), http::verb::post, "/_sim/fault", R"({"http_status":429,"count":2})")
                .status,
            200U);
  Reply r1 = get(sim.port(), "/api/v3/ping");
  EXPECT_EQ(r1.status, 429U);
  EXPECT_EQ(r1.headers["Retry-After"], "1");
  EXPECT_NE(r1.body.find("-1003"), std::string::npos);
  EXPECT_EQ(get(sim.port(), "/api/v3/ping").status, 429U);
  // The faults are spent, but the venue said back off for a second: a client that goes on gets
  // 429 again (and, going on, 418: an IP ban); after Retry-After, 200.
  EXPECT_EQ(get(sim.port(), "/api/v3/ping").status, 429U);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(get(sim.port(), "/api/v3/ping").status, 200U);
  ASSERT_EQ(request(sim.port(), http::verb::post, "/_sim/fault",
                    R"({"http_status":429,"retry_after_s":1})")
                .status,
            200U);
  EXPECT_EQ(get(sim.port(), "/api/v3/ping").status, 429U);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(get(sim.port(), "/api/v3/ping").status, 429U);
  Reply banned = get(sim.port(), "/api/v3/ping");
  EXPECT_EQ(banned.status, 418U);
  EXPECT_EQ(banned.headers["Retry-After"], "120");
  ASSERT_EQ(request(sim.port(), http::verb::post, "/_sim/fault", R"({"http_status":503})").status,
            200U);
  EXPECT_EQ(get(sim.port(), "/api/v3/ping").status, 503U);
  EXPECT_EQ(request(sim.port(), http::verb::post, "/_sim/fault", R"({"bogus":1})").status, 400U);
}

TEST(SimServerTest, SigtermExitsZero) {
  SimProcess sim(capture_args("10"));
  ASSERT_NE(sim.port(), 0);
  Feed feed(sim.port(), 60s);  // an open WebSocket session must not hold the exit up
  ASSERT_TRUE(wait_until([&] { return feed.sink.view().valid; }, 10s));
  EXPECT_EQ(sim.terminate(), 0);
}

}  // namespace
