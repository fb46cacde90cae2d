// The order path does not allocate (STYLE.md, issue 19): BinanceRestVenue::place() up to the
// order's bytes on the socket, over REST or the WebSocket API session, makes no heap allocation
// once the client is running, counted on this thread (operator new replaced in this test binary,
// tests/support/alloc_count.cpp) against a real cwts-sim in this process, its own thread not
// counted. The answer's side, to the order's final update, allocates only while the client's
// pools grow: bounded here, printed, and reported by cwts-bench-venue-allocs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "../../bench/unlimited_exchange_info.hpp"
#include "../support/alloc_count.hpp"
#include "../support/sim_in_process.hpp"
#include "../support/venue_pump.hpp"
#include "cwts/venue/binance_rest.hpp"

namespace {

using namespace std::chrono_literals;
namespace venue = cwts::venue;

using Listener = cwts::test::OrderEnds;

// A directory of its own, removed with it.
struct TempDir {
  TempDir() {
    if (::mkdtemp(path) == nullptr) throw std::runtime_error("mkdtemp failed");
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  char path[40] = "/tmp/cwts-venue-allocs-XXXXXX";
};

class VenueAllocs : public ::testing::Test {
 protected:
  TempDir dir_;
  // Every rate limit raised: 250 orders in well under a second are past the venue's 50 / 10 s.
  cwts::test::SimInProcess sim_{cwts::bench::unlimited_exchange_info(
      CWTS_TEST_DATA "/binance_spot_exchangeInfo_full_cryptofeed_2021.json.gz", dir_.path)};
};

// A client of cwts-sim over `transport` (its user data stream on the WebSocket API), its orders'
// ends counted, pumped on this thread.
struct Client {
  Client(const cwts::test::SimInProcess& sim, venue::OrderTransport t)
      : transport(t), v(ioc, options(sim, t)), pump(ioc, v) {
    v.set_listener(&l);
    v.set_symbol_assets("BTCUSDT", "BTC", "USDT");
  }
  static venue::BinanceRestOptions options(const cwts::test::SimInProcess& sim,
                                           venue::OrderTransport transport) {
    venue::BinanceRestOptions o;
    o.order_transport = transport;
    o.rest_url = sim.http_url();
    o.ws_api_url = sim.ws_url();
    o.api_key = "k";
    o.api_secret = "s";
    return o;
  }
  // Connected, its user data stream live.
  bool running() {
    return pump.until([&] { return v.ready() && v.stream_live(); }, 30s);
  }
  // Market order number i (a buy when even), pumped to its final update: the heap allocations of
  // place() and of what follows to the final update, counted apart, and whether place() wrote its
  // bytes. Its id is shaped as the engine's ("cw", 7 characters of time, 2 of slot, the signal's
  // sequence in base 36): 15 characters, as long as they are for a slot's first 36^4 signals.
  struct Counts {
    std::uint64_t placing = 0, answering = 0;
    bool written = false, ended = false;
  };
  Counts order(std::uint64_t i) {
    char cid[16];
    std::snprintf(cid, sizeof cid, "cw0mf3k2q01%04llu", static_cast<unsigned long long>(i));
    const venue::OrderRequest r = cwts::test::market_order(i, cid);
    const std::uint64_t finals = l.finals;
    const auto sent = [&] {
      return transport == venue::OrderTransport::kWs ? v.counters().ws_requests
                                                     : v.counters().requests;
    };
    const std::uint64_t before = sent();
    Counts n;
    cwts::test::count_allocations(true);
    v.place(r);
    n.placing = cwts::test::take_allocations();
    n.written = sent() == before + 1;
    cwts::test::count_allocations(true);
    n.ended = pump.until([&] { return l.finals > finals; }, 10s);
    n.answering = cwts::test::take_allocations();
    return n;
  }

  // Destroyed in reverse: the client before its listener, the io_context (and any operation still
  // queued in it) last.
  venue::OrderTransport transport;
  boost::asio::io_context ioc;
  Listener l;
  venue::BinanceRestVenue v;
  cwts::test::VenuePump pump;
};

class VenueAllocsPlacing : public VenueAllocs,
                           public ::testing::WithParamInterface<venue::OrderTransport> {};

TEST_P(VenueAllocsPlacing, PlacingAnOrderAllocatesNothingUpToItsBytes) {
  Client c(sim_, GetParam());
  ASSERT_TRUE(c.running());
  auto& v = c.v;
  auto& l = c.l;
  // Market orders, buys and sells in turn, each to its final update before the next. The first
  // ones fill what is kept for reuse (connections' buffers, pools); then every one is counted.
  constexpr std::uint64_t kWarm = 50, kCounted = 200;
  std::uint64_t place_allocs = 0, answer_allocs = 0, worst = 0;
  for (std::uint64_t i = 0; i < kWarm + kCounted; ++i) {
    const Client::Counts n = c.order(i);
    ASSERT_TRUE(n.ended) << "order " << i;
    if (i >= kWarm) {
      ASSERT_TRUE(n.written) << "order " << i << " not written in place()";
      place_allocs += n.placing;
      answer_allocs += n.answering;
      worst = std::max(worst, n.placing);
    }
  }
  ASSERT_EQ(l.refused, 0U) << "orders refused by the venue";
  EXPECT_EQ(v.counters().handler_spills, 0U);  // every operation fit its slots
  EXPECT_EQ(place_allocs, 0U) << "heap allocations in place() over " << kCounted
                              << " orders (at most " << worst << " in one)";
  // The answer's side allocates only while the client's pools and its set of finished orders
  // grow (a few in all), not per order: 3 an order before its streams were on the io_context's
  // own executor (net::TcpStream), 5 with the user data stream.
  EXPECT_LT(answer_allocs, kCounted / 10) << "heap allocations from the answers to the finals";
  std::printf("allocations per order: place() to its bytes %.2f, its answer to the final %.2f\n",
              static_cast<double>(place_allocs) / kCounted,
              static_cast<double>(answer_allocs) / kCounted);
}

// Past the 4,096 finished ids the client remembers (a ring, each new one taking the oldest's place
// and room), an order's answer still allocates nothing: 4,196 orders, the last 100 counted.
TEST_F(VenueAllocs, AnOrdersAnswerAllocatesNothingOnceTheFinishedIdsWrapAround) {
  Client c(sim_, venue::OrderTransport::kRest);
  ASSERT_TRUE(c.running());
  constexpr std::uint64_t kOrders = 4096 + 100, kCounted = 100;
  std::uint64_t answer_allocs = 0, place_allocs = 0;
  for (std::uint64_t i = 0; i < kOrders; ++i) {
    const Client::Counts n = c.order(i);
    ASSERT_TRUE(n.ended) << "order " << i;
    if (i >= kOrders - kCounted) {
      answer_allocs += n.answering;
      place_allocs += n.placing;
    }
  }
  ASSERT_EQ(c.l.refused, 0U) << "orders refused by the venue";
  EXPECT_EQ(place_allocs, 0U);
  EXPECT_EQ(answer_allocs, 0U) << "heap allocations from the answers to the finals, " << kCounted
                               << " orders after the ring wrapped";
}

// Two orders at once: the second is queued behind the first's write (WebSocket API) or takes
// another connection (REST), and is written later, from a handler. Both place() calls allocate
// nothing, pair after pair: what a write started from a handler uses is given back too.
TEST_P(VenueAllocsPlacing, OrdersPlacedBackToBackAllocateNothing) {
  Client c(sim_, GetParam());
  ASSERT_TRUE(c.running());
  auto& v = c.v;
  auto& l = c.l;
  auto& pump = c.pump;
  constexpr std::uint64_t kWarm = 20, kCounted = 100;  // pairs
  std::uint64_t place_allocs = 0;
  for (std::uint64_t i = 0; i < kWarm + kCounted; ++i) {
    char a[16], b[16];
    std::snprintf(a, sizeof a, "cw0mf3k2q02%04llu", static_cast<unsigned long long>(i));
    std::snprintf(b, sizeof b, "cw0mf3k2q03%04llu", static_cast<unsigned long long>(i));
    const std::uint64_t finals = l.finals;
    cwts::test::count_allocations(true);
    v.place(cwts::test::market_order(2 * i, a));
    v.place(cwts::test::market_order(2 * i + 1, b));
    const std::uint64_t placing = cwts::test::take_allocations();
    ASSERT_TRUE(pump.until([&] { return l.finals >= finals + 2; }, 10s)) << "pair " << i;
    if (i >= kWarm) place_allocs += placing;
  }
  ASSERT_EQ(l.refused, 0U) << "orders refused by the venue";
  EXPECT_EQ(place_allocs, 0U) << "heap allocations in place() over " << kCounted << " pairs";
  EXPECT_EQ(v.counters().handler_spills, 0U);
}

INSTANTIATE_TEST_SUITE_P(Transports, VenueAllocsPlacing,
                         ::testing::Values(venue::OrderTransport::kRest,
                                           venue::OrderTransport::kWs),
                         [](const auto& p) {
                           return p.param == venue::OrderTransport::kWs ? "WebSocketApi" : "Rest";
                         });

// The count counts (the assertions of zero above would pass without it).
TEST(VenueAllocsCount, Counts) {
  EXPECT_TRUE(cwts::test::allocations_are_counted()) << "is operator new replaced in this binary?";
}

// The operations' memory is the connection's (cwts/net/handler_memory.hpp), and an operation can
// outlive the connection: a client destroyed with a request on the wire leaves its write's
// completion and its read queued in the io_context, which frees them when it is destroyed. Under
// AddressSanitizer this fails if that memory went with the connection.
TEST_F(VenueAllocs, AClientDestroyedWithARequestOnTheWireLeavesNoOperationOnFreedMemory) {
  auto c = std::make_unique<Client>(sim_, venue::OrderTransport::kRest);
  ASSERT_TRUE(c->running());
  auto& v = c->v;
  auto& l = c->l;
  // Orders until one is written in place() itself (a connection free at that moment), the earlier
  // ones each to their final update.
  bool on_the_wire = false;
  for (int i = 0; i < 50 && !on_the_wire; ++i) {
    char cid[16];
    std::snprintf(cid, sizeof cid, "cw0mf3k2q01%04d", i);
    const venue::OrderRequest r = cwts::test::market_order(static_cast<std::uint64_t>(i), cid);
    const std::uint64_t sent = v.counters().requests, finals = l.finals;
    v.place(r);
    on_the_wire = v.counters().requests == sent + 1;
    if (!on_the_wire) {
      ASSERT_TRUE(c->pump.until([&] { return l.finals > finals; }, 10s));
    }
  }
  ASSERT_TRUE(on_the_wire);
  // The client goes (its connection with it, its write's completion still queued), then the
  // io_context, which frees that completion's memory.
  c.reset();
}

}  // namespace
