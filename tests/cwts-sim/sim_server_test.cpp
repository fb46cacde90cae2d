// cwts-sim end to end: the real binary on an ephemeral loopback port, driven over HTTP and by the
// engine's own FeedClient, including injected faults.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "../support/child_process.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/feed/feed_client.hpp"
#include "cwts/net/hmac.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;
using namespace std::chrono_literals;

const std::string kCapture = std::string(CWTS_TEST_DATA) + "/spot_nknusdt_2021-10-12.capture";
constexpr const char* kKey = "simTestKey123";
constexpr const char* kSecret = "simTestSecret456";

// The cwts-sim binary as a child process (tests/support), started with these arguments.
class SimProcess : public cwts::test::SimProcess {
 public:
  explicit SimProcess(std::vector<std::string> args)
      : cwts::test::SimProcess(CWTS_SIM_BINARY, std::move(args)) {}
};

using Reply = cwts::test::HttpReply;
Reply request(std::uint16_t port, http::verb verb, const std::string& target,
              const std::string& body = {}, const std::string& api_key = {}) {
  return cwts::test::http_request(port, verb, target, body, api_key);
}
Reply get(std::uint16_t port, const std::string& target) {
  return request(port, http::verb::get, target);
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string sign(const std::string& payload) {
  return payload + "&signature=" + cwts::net::hmac_sha256_hex(kSecret, payload);
}

std::vector<std::string> capture_args(std::string speed) {
  return {"--listen",
          "127.0.0.1:0",
          "--capture",
          kCapture,
          "--speed",
          std::move(speed),
          "--loop",
          "--api-key",
          kKey,
          "--api-secret",
          kSecret,
          "--balance",
          "USDT=10000,NKN=1000",
          "--weight-limit",
          "100000"};
}

// The book as REST /depth reports it: levels best first, and lastUpdateId.
struct Book {
  std::uint64_t id = 0;
  std::vector<cwts::md::Level> bids, asks;
};

Book parse_depth(const std::string& body) {
  simdjson::dom::parser p;
  simdjson::dom::element doc = p.parse(body);
  Book b;
  b.id = doc["lastUpdateId"].get_uint64();
  for (int side = 0; side < 2; ++side) {
    for (simdjson::dom::element lv : doc[side == 0 ? "bids" : "asks"].get_array()) {
      cwts::md::Level l{};
      EXPECT_EQ(cwts::core::parse_fixed(lv.at(0).get_string().value(), 8, l.px),
                cwts::core::DecimalErrc::kOk);
      EXPECT_EQ(cwts::core::parse_fixed(lv.at(1).get_string().value(), 8, l.qty),
                cwts::core::DecimalErrc::kOk);
      (side == 0 ? b.bids : b.asks).push_back(l);
    }
  }
  return b;
}

// Copies the feed client's book on every change (md thread) for the test thread.
class BookSink : public cwts::md::MarketSink {
 public:
  void on_book(const cwts::md::SymbolState& s, const cwts::md::FrameMeta&, std::int64_t) override {
    std::lock_guard<std::mutex> lock(mu_);
    const auto& b = s.sync.book();
    book_.id = s.sync.update_id();
    book_.bids.clear();
    book_.asks.clear();
    for (std::size_t i = 0; i < b.bid_levels(); ++i) book_.bids.push_back(b.bid(i));
    for (std::size_t i = 0; i < b.ask_levels(); ++i) book_.asks.push_back(b.ask(i));
    valid_ = s.sync.valid();
    gaps_ = s.sync.stats().gaps;
    ++updates_;
  }
  void on_book_validity(const cwts::md::SymbolState& s, bool valid,
                        const cwts::md::FrameMeta&) override {
    std::lock_guard<std::mutex> lock(mu_);
    valid_ = valid;
    gaps_ = s.sync.stats().gaps;
    if (!valid) ++invalidations_;
  }
  struct View {
    Book book;
    bool valid = false;
    std::uint64_t gaps = 0, updates = 0, invalidations = 0;
  };
  View view() const {
    std::lock_guard<std::mutex> lock(mu_);
    return View{book_, valid_, gaps_, updates_, invalidations_};
  }

 private:
  mutable std::mutex mu_;
  Book book_;
  bool valid_ = false;
  std::uint64_t gaps_ = 0, updates_ = 0, invalidations_ = 0;
};

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

// A FeedClient on its own thread against the sim.
struct Feed {
  Feed(std::uint16_t port, std::chrono::milliseconds silence) {
    cwts::feed::FeedConfig cfg;
    cfg.ws_url = "ws://127.0.0.1:" + std::to_string(port);
    cfg.rest_url = "http://127.0.0.1:" + std::to_string(port);
    cfg.symbols = {"NKNUSDT"};
    cfg.snapshot_limit = 5000;
    cfg.silence_timeout = silence;
    cfg.snapshot_min_spacing = 100ms;
    cfg.backoff.initial = 50ms;
    cfg.backoff.max = 500ms;
    cfg.rng_seed = 7;
    client = std::make_unique<cwts::feed::FeedClient>(cfg, &sink);
    thread = std::thread([this] { client->run(); });
  }
  ~Feed() {
    client->stop();
    thread.join();
  }
  BookSink sink;
  std::unique_ptr<cwts::feed::FeedClient> client;
  std::thread thread;
};

// Pauses the market, waits until the client has caught up with the sim, and compares the two
// books level by level (the sim's /depth with limit 5000 is its whole book).
void expect_client_book_equals_sim_depth(std::uint16_t port, Feed& feed) {
  ASSERT_EQ(request(port, http::verb::post, "/_sim/fault", R"({"pause":true})").status, 200U);
  const Book sim = parse_depth(get(port, "/api/v3/depth?symbol=NKNUSDT&limit=5000").body);
  ASSERT_TRUE(
      wait_until([&] { return feed.sink.view().valid && feed.sink.view().book.id == sim.id; }, 10s))
      << "client id " << feed.sink.view().book.id << " sim id " << sim.id;
  const Book client = feed.sink.view().book;
  EXPECT_EQ(client.bids, sim.bids);
  EXPECT_EQ(client.asks, sim.asks);
  EXPECT_GT(sim.bids.size(), 100U);
  ASSERT_EQ(request(port, http::verb::post, "/_sim/fault", R"({"pause":false})").status, 200U);
}

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
  EXPECT_EQ(get(sim.port(), "/api/v3/ping").status, 200U);
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

namespace websocket = beast::websocket;

struct WsClient {
  WsClient(std::uint16_t port, const std::string& target) : ws(ioc) {
    beast::get_lowest_layer(ws).connect(
        tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    ws.handshake("127.0.0.1", target);
  }
  std::string read() {
    buf.consume(buf.size());
    ws.read(buf);
    return beast::buffers_to_string(buf.data());
  }
  // Reads until a frame containing `needle` (stream frames may come first).
  std::string read_until(const std::string& needle) {
    for (int i = 0; i < 100000; ++i) {
      std::string f = read();
      if (f.find(needle) != std::string::npos) return f;
    }
    return {};
  }
  boost::asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws;
  beast::flat_buffer buf;
};

std::vector<std::string> synthetic_args(std::string rate) {
  return {"--listen", "127.0.0.1:0", "--synthetic", "BTCUSDT,ETHUSDT", "--rate", std::move(rate)};
}

TEST(SimServerWsTest, ControlMessagesGetDocumentedReplies) {
  SimProcess sim(synthetic_args("2000"));
  ASSERT_NE(sim.port(), 0);
  WsClient c(sim.port(), "/ws");
  c.ws.write(boost::asio::buffer(std::string(
      R"({"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@depth5@100ms"],"id":1})")));
  EXPECT_EQ(c.read_until("\"id\":1"), R"({"result":null,"id":1})");
  c.ws.write(boost::asio::buffer(std::string(R"({"method":"LIST_SUBSCRIPTIONS","id":2})")));
  EXPECT_EQ(c.read_until("\"id\":2"),
            R"({"result":["btcusdt@trade","btcusdt@depth5@100ms"],"id":2})");
  // Frames of both streams arrive, raw (no wrapper) on /ws.
  EXPECT_NE(c.read_until("\"e\":\"trade\""), "");
  const std::string partial = c.read_until("lastUpdateId");
  EXPECT_EQ(partial.rfind(R"({"lastUpdateId":)", 0), 0U) << partial;
  c.ws.write(boost::asio::buffer(std::string(R"({"method":"SUBSCRIB","id":3})")));
  EXPECT_EQ(
      c.read_until("\"id\":3"),
      R"({"code":2,"msg":"Invalid request: unknown variant `SUBSCRIB`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY` at line 1 column 20","id":3})");
  c.ws.write(boost::asio::buffer(std::string("{nope")));
  EXPECT_NE(c.read_until("\"code\":3").find("Invalid JSON"), std::string::npos);
  // A sixth message within the second: disconnected.
  c.ws.write(boost::asio::buffer(std::string(R"({"method":"LIST_SUBSCRIPTIONS","id":4})")));
  c.ws.write(boost::asio::buffer(std::string(R"({"method":"LIST_SUBSCRIPTIONS","id":5})")));
  beast::error_code ec;
  for (int i = 0; i < 100000 && !ec; ++i) {
    c.buf.consume(c.buf.size());
    c.ws.read(c.buf, ec);
  }
  EXPECT_TRUE(ec);
}

TEST(SimServerWsTest, CombinedStreamsWrapPayloadsAndIdsChain) {
  SimProcess sim(synthetic_args("5000"));
  ASSERT_NE(sim.port(), 0);
  WsClient c(sim.port(), "/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker");
  simdjson::dom::parser p;
  std::uint64_t last_u = 0;
  int diffs = 0, tickers = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string f = c.read();
    simdjson::dom::element doc = p.parse(f);
    const std::string_view stream = doc["stream"];
    if (stream == "btcusdt@depth@100ms") {
      const std::uint64_t U = doc["data"]["U"].get_uint64();
      if (last_u != 0) {
        EXPECT_EQ(U, last_u + 1);
      }
      last_u = doc["data"]["u"].get_uint64();
      ++diffs;
    } else {
      EXPECT_EQ(stream, "btcusdt@bookTicker");
      EXPECT_LE(std::uint64_t(doc["data"]["u"].get_uint64()), last_u);
      ++tickers;
    }
  }
  EXPECT_GT(diffs, 0);
  EXPECT_GT(tickers, 0);
}

// At a high configured rate the generator's streams stay well-formed and each symbol's diff ids
// chain. The rate reached is reported (docs/benchmarks.md), not asserted: timing is measured,
// never a pass/fail criterion.
TEST(SimServerWsTest, SyntheticGeneratorAtHighRateKeepsDiffIdsChained) {
  SimProcess sim(synthetic_args("120000"));
  ASSERT_NE(sim.port(), 0);
  WsClient c(sim.port(),
             "/stream?streams=btcusdt@depth@100ms/ethusdt@depth@100ms/btcusdt@trade/ethusdt@trade");
  c.read();  // connected and flowing
  simdjson::dom::parser parser;
  std::map<std::string, std::uint64_t> last_u;
  std::uint64_t n = 0;
  std::uint64_t diffs = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (n < 20'000 && std::chrono::steady_clock::now() - t0 < 30s) {
    c.buf.consume(c.buf.size());
    c.ws.read(c.buf);
    ++n;
    const std::string msg = beast::buffers_to_string(c.buf.data());
    simdjson::dom::element doc = parser.parse(msg);
    const std::string stream(doc["stream"].get_string().value());
    if (stream.find("@depth") == std::string::npos) continue;
    const std::uint64_t U = doc["data"]["U"].get_uint64();
    const std::uint64_t u = doc["data"]["u"].get_uint64();
    auto it = last_u.find(stream);
    if (it != last_u.end()) {
      EXPECT_EQ(U, it->second + 1) << stream;
    }
    last_u[stream] = u;
    ++diffs;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(n, 20'000U) << "the stream stalled";
  EXPECT_GT(diffs, 0U);
  RecordProperty("messages_per_second", static_cast<int>(static_cast<double>(n) / secs));
  std::printf("synthetic stream: %.0f messages/s to one client (reported, not asserted)\n",
              static_cast<double>(n) / secs);
}

}  // namespace

namespace {

// Reads frames until the peer closes; returns the close reason code (0 if the read failed in
// another way, e.g. a reset) and whether a frame containing `needle` was seen first.
std::pair<int, bool> read_until_close(WsClient& c, const std::string& needle) {
  bool seen = false;
  try {
    for (int i = 0; i < 1'000'000; ++i) seen = c.read().find(needle) != std::string::npos || seen;
  } catch (const boost::system::system_error& e) {
    if (e.code() == websocket::error::closed) return {static_cast<int>(c.ws.reason().code), seen};
  }
  return {0, seen};
}

TEST(SimServerFaultTest, ServerShutdownIsAnnouncedThenTheSessionCloses) {
  SimProcess sim(synthetic_args("200"));
  ASSERT_NE(sim.port(), 0);
  WsClient c(sim.port(), "/stream?streams=btcusdt@bookTicker");
  ASSERT_FALSE(c.read().empty());
  ASSERT_EQ(
      request(sim.port(), http::verb::post, "/_sim/fault", R"({"server_shutdown":true})").status,
      200U);
  const auto [code, seen] =
      read_until_close(c, R"({"stream":"!serverShutdown","data":{"e":"serverShutdown","E":)");
  EXPECT_TRUE(seen) << "the combined stream carries Binance's wrapped serverShutdown";
  EXPECT_EQ(code, 1000) << "then a normal close";
}

TEST(SimServerFaultTest, FeedClientReconnectsOnServerShutdown) {
  SimProcess sim(capture_args("10"));
  Feed feed(sim.port(), 5000ms);
  ASSERT_TRUE(wait_until([&] { return feed.sink.view().valid; }, 10s));
  const auto c0 = feed.client->counters();
  ASSERT_EQ(
      request(sim.port(), http::verb::post, "/_sim/fault", R"({"server_shutdown":true})").status,
      200U);
  ASSERT_TRUE(wait_until(
      [&] { return feed.client->counters().server_shutdowns > c0.server_shutdowns; }, 10s));
  ASSERT_TRUE(wait_until([&] { return feed.client->counters().connects > c0.connects; }, 10s));
  ASSERT_TRUE(wait_until([&] { return feed.sink.view().valid; }, 10s));
  expect_client_book_equals_sim_depth(sim.port(), feed);
}

TEST(SimServerFaultTest, ConnectionsAreCutAtTheirMaximumAgeWithANormalClose) {
  auto args = synthetic_args("100");
  args.insert(args.end(), {"--max-connection-age-ms", "600"});
  SimProcess sim(args);
  ASSERT_NE(sim.port(), 0);
  WsClient c(sim.port(), "/ws/btcusdt@bookTicker");
  const auto t0 = std::chrono::steady_clock::now();
  const auto [code, seen] = read_until_close(c, "\"s\":\"BTCUSDT\"");
  EXPECT_TRUE(seen);
  EXPECT_EQ(code, 1000);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 500ms) << "not before its age";

  // And on demand, as if every connection reached 24 h.
  SimProcess sim2(synthetic_args("100"));
  WsClient c2(sim2.port(), "/ws/btcusdt@bookTicker");
  ASSERT_FALSE(c2.read().empty());
  ASSERT_EQ(request(sim2.port(), http::verb::post, "/_sim/fault", R"({"expire_connections":true})")
                .status,
            200U);
  EXPECT_EQ(read_until_close(c2, "x").first, 1000);
}

TEST(SimServerFaultTest, DropConnectionsAlsoDropsKeptAliveHttp) {
  SimProcess sim(synthetic_args("100"));
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), sim.port()));
  auto get_ping = [&]() -> unsigned {
    http::request<http::empty_body> req{http::verb::get, "/api/v3/ping", 11};
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(true);
    http::write(stream, req);
    beast::flat_buffer b;
    http::response<http::string_body> res;
    http::read(stream, b, res);
    return res.result_int();
  };
  ASSERT_EQ(get_ping(), 200U);
  ASSERT_EQ(get_ping(), 200U) << "kept alive";
  ASSERT_EQ(
      request(sim.port(), http::verb::post, "/_sim/fault", R"({"drop_connections":true})").status,
      200U);
  EXPECT_ANY_THROW(get_ping()) << "the kept-alive connection was dropped";
}

TEST(SimServerFaultTest, PlainFaultFlags) {
  auto args = synthetic_args("100");
  args.insert(args.end(), {"--http-status", "503", "--http-count", "2"});
  SimProcess sim(args);
  ASSERT_NE(sim.port(), 0);
  EXPECT_EQ(get(sim.port(), "/api/v3/time").status, 503U);
  EXPECT_EQ(get(sim.port(), "/api/v3/time").status, 503U);
  EXPECT_EQ(get(sim.port(), "/api/v3/time").status, 200U);

  // Periodic drops: a feed client keeps reconnecting and resyncing.
  auto cap = capture_args("10");
  cap.insert(cap.end(), {"--drop-every-ms", "700"});
  SimProcess dropping(cap);
  Feed feed(dropping.port(), 5000ms);
  ASSERT_TRUE(wait_until([&] { return feed.client->counters().reconnects >= 2; }, 10s));
  ASSERT_TRUE(wait_until([&] { return feed.sink.view().valid; }, 10s));

  // A bad value names the flag and exits 2.
  for (std::vector<std::string> bad : {std::vector<std::string>{"--drop-every-ms", "soon"},
                                       std::vector<std::string>{"--http-status", "200"},
                                       std::vector<std::string>{"--stall-ms", "100"}}) {
    auto a = synthetic_args("100");
    a.insert(a.end(), bad.begin(), bad.end());
    const pid_t pid = fork();
    if (pid == 0) {
      std::vector<char*> argv;
      std::string bin = CWTS_SIM_BINARY;
      argv.push_back(bin.data());
      for (auto& x : a) argv.push_back(x.data());
      argv.push_back(nullptr);
      const int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, STDERR_FILENO);
      dup2(devnull, STDOUT_FILENO);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 2) << bad[0];
  }
}

}  // namespace
