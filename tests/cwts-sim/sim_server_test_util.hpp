// Helpers shared by the cwts-sim end-to-end tests: the binary as a child process, HTTP requests,
// signing, the capture arguments, and a FeedClient whose book is compared with the sim's /depth.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "../support/child_process.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/feed/feed_client.hpp"
#include "cwts/net/hmac.hpp"

namespace cwts::sim_server::test {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;
using namespace std::chrono_literals;

inline const std::string kCapture =
    std::string(CWTS_TEST_DATA) + "/spot_nknusdt_2021-10-12.capture";
inline constexpr const char* kKey = "simTestKey123";
inline constexpr const char* kSecret = "simTestSecret456";

// The cwts-sim binary as a child process (tests/support), started with these arguments.
class SimProcess : public cwts::test::SimProcess {
 public:
  explicit SimProcess(std::vector<std::string> args)
      : cwts::test::SimProcess(CWTS_SIM_BINARY, std::move(args)) {}
};

using Reply = cwts::test::HttpReply;
inline Reply request(std::uint16_t port, http::verb verb, const std::string& target,
                     const std::string& body = {}, const std::string& api_key = {}) {
  return cwts::test::http_request(port, verb, target, body, api_key);
}
inline Reply get(std::uint16_t port, const std::string& target) {
  return request(port, http::verb::get, target);
}

inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string sign(const std::string& payload) {
  return payload + "&signature=" + cwts::net::hmac_sha256_hex(kSecret, payload);
}

inline std::vector<std::string> capture_args(std::string speed) {
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

inline Book parse_depth(const std::string& body) {
  simdjson::dom::parser p;
  simdjson::dom::element doc = p.parse(body);
  Book b;
  b.id = doc["lastUpdateId"].get_uint64();
  for (int side = 0; side < 2; ++side) {
    for (simdjson::dom::element lv : doc[side == 0 ? "bids" : "asks"].get_array()) {
      cwts::md::Level l{};
      EXPECT_EQ(cwts::core::parse_fixed(lv.at(0).get_string().value(), 8, l.px.raw),
                cwts::core::DecimalErrc::kOk);
      EXPECT_EQ(cwts::core::parse_fixed(lv.at(1).get_string().value(), 8, l.qty.raw),
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

inline bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

// A feed client's config for the sim on `port`: quick retries, a fixed jitter seed.
inline cwts::feed::FeedConfig sim_feed_config(std::uint16_t port) {
  cwts::feed::FeedConfig cfg;
  cfg.ws_url = "ws://127.0.0.1:" + std::to_string(port);
  cfg.rest_url = "http://127.0.0.1:" + std::to_string(port);
  cfg.snapshot_min_spacing = 100ms;
  cfg.backoff.initial = 50ms;
  cfg.backoff.max = 500ms;
  cfg.rng_seed = 7;
  return cfg;
}

// A FeedClient on its own thread against the sim.
struct Feed {
  Feed(std::uint16_t port, std::chrono::milliseconds silence) {
    cwts::feed::FeedConfig cfg = sim_feed_config(port);
    cfg.symbols = {"NKNUSDT"};
    cfg.snapshot_limit = 5000;
    cfg.silence_timeout = silence;
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
inline void expect_client_book_equals_sim_depth(std::uint16_t port, Feed& feed) {
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

}  // namespace cwts::sim_server::test
