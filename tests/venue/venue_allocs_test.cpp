// The order path does not allocate (STYLE.md, issue 19): BinanceRestVenue::place() up to the
// order's bytes on the socket, over REST or the WebSocket API session, makes no heap allocation
// once the client is running, counted on this thread (operator new replaced in this test binary,
// tests/support/alloc_count.cpp) against a real cwts-sim in this process, its own thread not
// counted. The answer's side is counted and printed, not asserted (cwts-bench-venue-allocs
// reports it).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "../../bench/unlimited_exchange_info.hpp"
#include "../support/alloc_count.hpp"
#include "../support/venue_pump.hpp"
#include "cwts/venue/binance_rest.hpp"
#include "json_log.hpp"
#include "sim_server.hpp"

namespace {

using namespace std::chrono_literals;
namespace venue = cwts::venue;

struct Listener : venue::VenueListener {
  void on_order_event(const venue::OrderEvent& e) override {
    if (e.kind != venue::EventKind::kUpdate || venue::is_final(e.status)) ++finals;
    if (e.kind != venue::EventKind::kUpdate) ++refused;
  }
  std::uint64_t finals = 0;
  std::uint64_t refused = 0;
};

class VenueAllocs : public ::testing::Test {
 protected:
  void SetUp() override {
    cwts::sim_server::init_json_log(spdlog::level::warn);
    cwts::sim_server::SimServerConfig sc;
    // Every rate limit raised: 250 orders in well under a second are past the venue's 50 / 10 s.
    ASSERT_NE(::mkdtemp(dir_), nullptr);
    sc.exchange_info_path = cwts::bench::unlimited_exchange_info(
        CWTS_TEST_DATA "/binance_spot_exchangeInfo_full_cryptofeed_2021.json.gz", dir_);
    sc.synthetic = {"BTCUSDT"};
    sc.api_key = "k";
    sc.api_secret = "s";
    sc.balances = "USDT=100000000,BTC=1000";
    sc.handle_signals = false;
    sim_ = std::make_unique<cwts::sim_server::SimServer>(sc);
    sim_thread_ = std::thread([this] { sim_->run(); });
  }
  void TearDown() override {
    if (sim_) sim_->stop();
    if (sim_thread_.joinable()) sim_thread_.join();
    std::filesystem::remove_all(dir_);
  }
  char dir_[40] = "/tmp/cwts-venue-allocs-XXXXXX";
  std::unique_ptr<cwts::sim_server::SimServer> sim_;
  std::thread sim_thread_;
};

class VenueAllocsPlacing : public VenueAllocs,
                           public ::testing::WithParamInterface<venue::OrderTransport> {};

TEST_P(VenueAllocsPlacing, PlacingAnOrderAllocatesNothingUpToItsBytes) {
  boost::asio::io_context ioc;
  venue::BinanceRestOptions o;
  o.order_transport = GetParam();
  o.rest_url = "http://127.0.0.1:" + std::to_string(sim_->port());
  o.ws_api_url = "ws://127.0.0.1:" + std::to_string(sim_->port());  // the user data stream
  o.api_key = "k";
  o.api_secret = "s";
  venue::BinanceRestVenue v(ioc, o);
  Listener l;
  v.set_listener(&l);
  v.set_symbol_assets("BTCUSDT", "BTC", "USDT");
  cwts::test::VenuePump pump(ioc, v);
  ASSERT_TRUE(pump.until([&] { return v.ready() && v.stream_live(); }, 30s));
  // Market orders, buys and sells in turn, each to its final update before the next. The first
  // ones fill what is kept for reuse (connections' buffers, pools); then every one is counted.
  constexpr std::uint64_t kWarm = 50, kCounted = 200;
  std::uint64_t place_allocs = 0, answer_allocs = 0, worst = 0;
  for (std::uint64_t i = 0; i < kWarm + kCounted; ++i) {
    venue::OrderRequest r;
    std::snprintf(r.symbol, sizeof r.symbol, "BTCUSDT");
    r.side = i % 2 == 0 ? cwts::layout::Side::kBuy : cwts::layout::Side::kSell;
    r.type = cwts::layout::OrderType::kMarket;
    r.qty = cwts::core::Qty{100'000};  // 0.001
    // Shaped as the engine's ids ("cw", 7 characters of time, 2 of slot, the signal's sequence in
    // base 36): 15 characters, as long as they are for a slot's first 36^4 signals.
    std::snprintf(r.client_order_id, sizeof r.client_order_id, "cw0mf3k2q01%04llu",
                  static_cast<unsigned long long>(i));
    const std::uint64_t finals = l.finals;
    const auto sent = [&] {
      return GetParam() == venue::OrderTransport::kWs ? v.counters().ws_requests
                                                      : v.counters().requests;
    };
    const std::uint64_t before = sent();
    cwts::test::count_allocations(true);
    v.place(r);
    const std::uint64_t placing = cwts::test::take_allocations();
    if (i >= kWarm) {
      ASSERT_EQ(sent(), before + 1) << "order " << i << " not written in place()";
    }
    cwts::test::count_allocations(true);
    ASSERT_TRUE(pump.until([&] { return l.finals > finals; }, 10s)) << "order " << i;
    const std::uint64_t answering = cwts::test::take_allocations();
    if (i >= kWarm) {
      place_allocs += placing;
      answer_allocs += answering;
      worst = std::max(worst, placing);
    }
  }
  ASSERT_EQ(l.refused, 0U) << "orders refused by the venue";
  // The count works (the answer's side does allocate) and every operation fit its slots.
  EXPECT_GT(answer_allocs, 0U) << "nothing counted at all: is operator new replaced?";
  EXPECT_EQ(v.counters().handler_spills, 0U);
  EXPECT_EQ(place_allocs, 0U) << "heap allocations in place() over " << kCounted
                              << " orders (at most " << worst << " in one)";
  std::printf("allocations per order: place() to its bytes %.2f, its answer to the final %.2f\n",
              static_cast<double>(place_allocs) / kCounted,
              static_cast<double>(answer_allocs) / kCounted);
}

INSTANTIATE_TEST_SUITE_P(Transports, VenueAllocsPlacing,
                         ::testing::Values(venue::OrderTransport::kRest,
                                           venue::OrderTransport::kWs),
                         [](const auto& p) {
                           return p.param == venue::OrderTransport::kWs ? "WebSocketApi" : "Rest";
                         });

// The operations' memory is the connection's (handler_memory.hpp), and an operation can outlive
// the connection: a client destroyed with a request on the wire leaves its write's completion and
// its read queued in the io_context, which frees them when it is destroyed. Under AddressSanitizer
// this fails if that memory went with the connection.
TEST_F(VenueAllocs, AClientDestroyedWithARequestOnTheWireLeavesNoOperationOnFreedMemory) {
  auto ioc = std::make_unique<boost::asio::io_context>();
  venue::BinanceRestOptions o;
  o.rest_url = "http://127.0.0.1:" + std::to_string(sim_->port());
  o.ws_api_url = "ws://127.0.0.1:" + std::to_string(sim_->port());
  o.api_key = "k";
  o.api_secret = "s";
  auto v = std::make_unique<venue::BinanceRestVenue>(*ioc, o);
  Listener l;
  v->set_listener(&l);
  v->set_symbol_assets("BTCUSDT", "BTC", "USDT");
  cwts::test::VenuePump pump(*ioc, *v);
  ASSERT_TRUE(pump.until([&] { return v->ready() && v->stream_live(); }, 30s));
  // Orders until one is written in place() itself (a connection free at that moment), the earlier
  // ones each to their final update.
  bool on_the_wire = false;
  for (int i = 0; i < 50 && !on_the_wire; ++i) {
    venue::OrderRequest r;
    std::snprintf(r.symbol, sizeof r.symbol, "BTCUSDT");
    r.side = i % 2 == 0 ? cwts::layout::Side::kBuy : cwts::layout::Side::kSell;
    r.type = cwts::layout::OrderType::kMarket;
    r.qty = cwts::core::Qty{100'000};
    std::snprintf(r.client_order_id, sizeof r.client_order_id, "cw0mf3k2q01%04d", i);
    const std::uint64_t sent = v->counters().requests, finals = l.finals;
    v->place(r);
    on_the_wire = v->counters().requests == sent + 1;
    if (!on_the_wire) {
      ASSERT_TRUE(pump.until([&] { return l.finals > finals; }, 10s));
    }
  }
  ASSERT_TRUE(on_the_wire);
  v.reset();    // the connection goes; its write's completion is still queued
  ioc.reset();  // destroys it, freeing its memory
}

}  // namespace
