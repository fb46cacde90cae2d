// The md thread does not allocate per frame (STYLE.md, docs/market_data_publishing.md): once the
// NKNUSDT book is synced, the feed client reads, parses and applies the rest of the real capture
// without a heap allocation on its thread, over ws and wss, counted there (operator new replaced in
// this test binary, tests/support/alloc_count.cpp) from the first valid book to the capture's final
// update.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "../support/alloc_count.hpp"
#include "cwts/feed/feed_client.hpp"
#include "test_pki.hpp"
#include "ws_test_server.hpp"

namespace {

namespace md = cwts::md;
namespace feed = cwts::feed;
using std::chrono::milliseconds;

// Counts allocations on the client's thread from the first valid NKNUSDT book until the book
// reaches `final_u`, then stops the client.
class CountingSink final : public md::MarketSink {
 public:
  explicit CountingSink(std::uint64_t final_u) : final_u_(final_u) {}

  void on_book(const md::SymbolState& s, const md::FrameMeta&, std::int64_t) override {
    if (s.name_view() != "NKNUSDT" || !s.sync.valid()) return;
    if (!counting_ && !done_) {
      counting_ = true;
      frames_at_start_ = client->counters().frames_received;
      cwts::test::count_allocations(true);
      return;
    }
    if (!counting_ || s.sync.update_id() != final_u_) return;
    const std::uint64_t n = cwts::test::take_allocations();
    counting_ = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      allocations = n;
      frames = client->counters().frames_received - frames_at_start_;
      done_ = true;
    }
    cv_.notify_all();
    client->stop();
  }
  void on_book_validity(const md::SymbolState& s, bool valid, const md::FrameMeta&) override {
    // A book lost in the window (a resync: a snapshot's allocations) is not the steady path.
    if (!valid && counting_ && s.name_view() == "NKNUSDT") {
      (void)cwts::test::take_allocations();
      counting_ = false;
    }
  }

  bool wait(milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done_; });
  }

  feed::FeedClient* client = nullptr;
  std::uint64_t allocations = 0;  // under mu_ once done
  std::uint64_t frames = 0;

 private:
  const std::uint64_t final_u_;
  bool counting_ = false;  // the client's thread only
  std::uint64_t frames_at_start_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

TEST(FeedAllocs, TheCountCounts) {
  EXPECT_TRUE(cwts::test::allocations_are_counted()) << "is operator new replaced in this binary?";
}

struct Counted {
  bool reached = false;
  std::uint64_t allocations = 0, frames = 0, connects = 0, spills = 0;
};

// The real NKNUSDT capture through `so`'s server (plain, or TLS with `ca_file` trusted), counted on
// the md thread from the first valid book to the capture's final update.
Counted count_after_sync(const cwts::test::WsTestServerOptions& so, const std::string& ca_file) {
  cwts::test::WsTestServer srv(so);
  feed::FeedConfig c;
  c.ws_url = srv.ws_url();
  c.rest_url = srv.rest_url();
  c.ca_file = ca_file;
  c.symbols = {"NKNUSDT"};
  c.streams = {"depth@100ms", "bookTicker", "aggTrade", "kline_1m"};  // what the capture holds
  c.rng_seed = 42;
  // The capture's last depth update, computed independently of this code.
  simdjson::dom::parser json;
  CountingSink sink(
      json.load(CWTS_TEST_DATA "/expected_books.json")["NKNUSDT"]["final_u"].get_uint64());
  feed::FeedClient client(c, &sink);
  sink.client = &client;
  std::thread t([&] { client.run(); });
  Counted r;
  r.reached = sink.wait(milliseconds(10'000));
  client.stop();
  t.join();
  r.allocations = sink.allocations;
  r.frames = sink.frames;
  r.connects = client.counters().connects;
  r.spills = client.counters().handler_spills;
  std::printf("md thread: %llu allocations over %llu frames after the sync (%s)\n",
              static_cast<unsigned long long>(r.allocations),
              static_cast<unsigned long long>(r.frames), ca_file.empty() ? "ws" : "wss");
  return r;
}

cwts::test::WsTestServerOptions capture_server() {
  cwts::test::WsTestServerOptions so;
  so.capture_path = CWTS_TEST_DATA "/spot_nknusdt_2021-10-12.capture";
  return so;
}

void expect_none(const Counted& r) {
  ASSERT_TRUE(r.reached) << "the book never reached the capture's final update";
  EXPECT_EQ(r.connects, 1U);
  // Most of the capture comes after the sync (its snapshot sits early in it).
  EXPECT_GE(r.frames, 100U);
  EXPECT_EQ(r.allocations, 0U) << "heap allocations on the md thread over " << r.frames
                               << " frames";
  // What cwtsd's cwts_handler_spills_total{thread="md"} shows: every read fit its slot, the
  // reads before the sync too.
  EXPECT_EQ(r.spills, 0U);
}

TEST(FeedAllocs, AFrameAfterTheBookIsSyncedAllocatesNothing) {
  expect_none(count_after_sync(capture_server(), ""));
}

// The same over TLS: the TLS stream's read operations fit the connection's slots too (a spill is
// an operator new, counted here; OpenSSL's own buffers come from malloc, set up in the handshake).
TEST(FeedAllocs, AFrameOverTlsAllocatesNothingEither) {
  const cwts::test::TestPki pki = cwts::test::make_test_pki("IP:127.0.0.1");
  const std::string ca = ::testing::TempDir() + "cwts_feed_allocs_ca.pem";
  std::ofstream(ca) << pki.ca_pem;
  cwts::test::WsTestServerOptions so = capture_server();
  so.tls_cert_pem = pki.leaf_pem;
  so.tls_key_pem = pki.leaf_key_pem;
  const Counted r = count_after_sync(so, ca);
  std::filesystem::remove(ca);
  expect_none(r);
}

}  // namespace
