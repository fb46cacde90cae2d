// BinanceRestVenue::warm() (threads.exec.warm_us) against a real cwts-sim in this process: it goes
// through a new order's request, REST or WebSocket API, and makes no order. Nothing is sent,
// tracked or queued, and the order placed after thousands of warm-ups is answered as any other
// (signed with the same key, on the same connection).
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "../support/sim_in_process.hpp"
#include "../support/venue_pump.hpp"
#include "cwts/venue/binance_rest.hpp"

namespace {

using namespace std::chrono_literals;
namespace venue = cwts::venue;

struct Listener : venue::VenueListener {
  void on_order_event(const venue::OrderEvent& e) override {
    ++events;
    if (e.kind != venue::EventKind::kUpdate || venue::is_final(e.status)) {
      ++finals;
      last_status = e.status;
      last_kind = e.kind;
      last_code = e.code;
    }
  }
  std::uint64_t events = 0;
  std::uint64_t finals = 0;
  venue::OrderStatus last_status = venue::OrderStatus::kNew;
  venue::EventKind last_kind = venue::EventKind::kUpdate;
  std::int32_t last_code = 0;
};

class VenueWarm : public ::testing::TestWithParam<venue::OrderTransport> {
 protected:
  cwts::test::SimInProcess sim_{CWTS_TEST_DATA
                                "/binance_spot_exchangeInfo_full_cryptofeed_2021.json.gz"};
};

TEST_P(VenueWarm, WarmingMakesNoOrderAndTheNextOrderIsAnsweredAsAnyOther) {
  boost::asio::io_context ioc;
  venue::BinanceRestOptions o;
  o.rest_url = sim_.http_url();
  o.ws_api_url = sim_.ws_url();
  o.api_key = "k";
  o.api_secret = "s";
  o.order_transport = GetParam();
  venue::BinanceRestVenue v(ioc, o);
  Listener l;
  v.set_listener(&l);
  v.set_symbol_assets("BTCUSDT", "BTC", "USDT");
  cwts::test::VenuePump pump(ioc, v);
  const auto pass = [&] { pump.pass(); };
  const auto until = [&](auto done, std::chrono::seconds limit) { return pump.until(done, limit); };
  ASSERT_TRUE(until([&] { return v.ready() && v.stream_live(); }, 30s));
  // Settled: the start's own requests (account, open orders, time) answered. busy() leaves out
  // polls and account refreshes, so the venue must also have answered (or failed) every request
  // it sent, and sent and received nothing for 200 ms of passes: an answer or a request landing
  // among the warm-ups below would count as theirs (an answer did, once, under ASan). No order
  // has gone over the WebSocket API yet: every request so far is REST's, which ends in a
  // response or a transport error.
  ASSERT_TRUE(until([&] { return v.busy() == 0; }, 10s));
  const auto quiet = [&] {
    const auto c0 = v.counters();
    if (c0.responses + c0.transport_errors < c0.requests) return false;
    const auto end = std::chrono::steady_clock::now() + 200ms;
    while (std::chrono::steady_clock::now() < end) pass();
    const auto c1 = v.counters();
    return c1.requests == c0.requests && c1.responses == c0.responses;
  };
  ASSERT_TRUE(until(quiet, 10s));
  std::this_thread::sleep_for(50ms);
  pass();

  const venue::BinanceRestVenue::Counters before = v.counters();
  const std::uint64_t tracked = v.health().tracked_orders;
  constexpr std::uint64_t kWarmUps = 3000;
  for (std::uint64_t i = 0; i < kWarmUps; ++i) {
    v.warm();
    pass();
  }
  std::this_thread::sleep_for(100ms);  // anything sent would be answered by now
  for (int i = 0; i < 100; ++i) pass();
  EXPECT_EQ(v.counters().warm_requests, before.warm_requests + kWarmUps);
  EXPECT_EQ(v.counters().requests, before.requests) << "a warm-up sent a request";
  EXPECT_EQ(v.counters().ws_requests, before.ws_requests);
  EXPECT_EQ(v.counters().responses, before.responses);
  EXPECT_EQ(v.busy(), 0U) << "a warm-up queued a request";
  EXPECT_EQ(v.health().tracked_orders, tracked) << "a warm-up is tracked as an order";
  EXPECT_EQ(l.events, 0U) << "a warm-up made an order event";
  EXPECT_EQ(v.counters().connects, before.connects) << "a warm-up touched the connections";
  // What it built is a new order's request as the transport would carry it, signed.
  const std::string_view built = v.last_warm_request();
  if (GetParam() == venue::OrderTransport::kWs) {
    EXPECT_NE(built.find(R"("method":"order.place")"), std::string_view::npos) << built;
    EXPECT_NE(built.find(R"("symbol":"BTCUSDT")"), std::string_view::npos) << built;
    EXPECT_NE(built.find(R"("signature":")"), std::string_view::npos) << built;
  } else {
    EXPECT_TRUE(built.starts_with("POST /api/v3/order?symbol=BTCUSDT&side=BUY&type=LIMIT&"))
        << built;
    const auto sig = built.find("&signature=");
    ASSERT_NE(sig, std::string_view::npos) << built;
    EXPECT_EQ(built.substr(sig + 11 + 64, 11), " HTTP/1.1\r\n") << built;
    EXPECT_TRUE(built.ends_with("\r\n\r\n")) << built;
  }

  // The next real order: a market buy, filled, over the configured transport.
  venue::OrderRequest r;
  std::snprintf(r.symbol, sizeof r.symbol, "BTCUSDT");
  r.side = cwts::layout::Side::kBuy;
  r.type = cwts::layout::OrderType::kMarket;
  r.qty = cwts::core::Qty{100'000};  // 0.001
  std::snprintf(r.client_order_id, sizeof r.client_order_id, "cwwarmtest1");
  v.place(r);
  ASSERT_TRUE(until([&] { return l.finals > 0; }, 10s));
  EXPECT_EQ(l.last_kind, venue::EventKind::kUpdate) << "refused, code " << l.last_code;
  EXPECT_EQ(l.last_status, venue::OrderStatus::kFilled);
  EXPECT_GT(v.counters().requests, before.requests);
  if (GetParam() == venue::OrderTransport::kWs) {
    EXPECT_GT(v.counters().ws_requests, before.ws_requests) << "not over the WebSocket API";
  } else {
    EXPECT_EQ(v.counters().ws_requests, before.ws_requests) << "not over REST";
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, VenueWarm,
                         ::testing::Values(venue::OrderTransport::kRest,
                                           venue::OrderTransport::kWs),
                         [](const auto& p) {
                           return p.param == venue::OrderTransport::kWs ? "WebSocketApi" : "Rest";
                         });

}  // namespace
