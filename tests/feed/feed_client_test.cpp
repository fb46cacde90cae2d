// FeedClient against the loopback Binance look-alike: the real NKNUSDT capture must end in the
// independently computed book, through drops, stalls, gaps, pings, serverShutdown and TLS.
#include "cwts/feed/feed_client.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "cwts/core/decimal.hpp"
#include "cwts/md/capture_writer.hpp"
#include "cwts/md/replay.hpp"
#include "test_pki.hpp"
#include "ws_test_server.hpp"

namespace {

namespace md = cwts::md;
namespace feed = cwts::feed;
using cwts::test::WsTestServer;
using cwts::test::WsTestServerOptions;
using std::chrono::milliseconds;

const std::string kData = CWTS_TEST_DATA;
const std::string kCapture = kData + "/spot_nknusdt_2021-10-12.capture";
// Every test must finish well inside this; a client that cannot recover runs into it and fails.
constexpr milliseconds kDeadline{4000};

struct Expected {
  std::uint64_t snapshot_id, final_u, applied, n_bids, n_asks;
  std::vector<std::pair<std::string, std::string>> bids, asks;
};

const Expected& expected() {
  static const Expected x = [] {
    simdjson::dom::parser p;
    simdjson::dom::element e = p.load(kData + "/expected_books.json")["NKNUSDT"];
    Expected r{};
    r.snapshot_id = e["snapshot_lastUpdateId"].get_uint64();
    r.final_u = e["final_u"].get_uint64();
    r.applied = e["applied"].get_uint64();
    r.n_bids = e["n_bid_levels"].get_uint64();
    r.n_asks = e["n_ask_levels"].get_uint64();
    for (auto l : e["top3_bids"].get_array()) {
      r.bids.emplace_back(std::string(l.at(0).get_string().value()),
                          std::string(l.at(1).get_string().value()));
    }
    for (auto l : e["top3_asks"].get_array()) {
      r.asks.emplace_back(std::string(l.at(0).get_string().value()),
                          std::string(l.at(1).get_string().value()));
    }
    return r;
  }();
  return x;
}

void expect_expected_book(const md::SymbolState& s) {
  const Expected& x = expected();
  const md::OrderBook& book = s.sync.book();
  EXPECT_TRUE(s.sync.valid());
  EXPECT_EQ(s.sync.update_id(), x.final_u);
  EXPECT_EQ(book.bid_levels(), x.n_bids);
  EXPECT_EQ(book.ask_levels(), x.n_asks);
  ASSERT_GE(book.bid_levels(), 3U);
  ASSERT_GE(book.ask_levels(), 3U);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(cwts::core::to_string(book.bid(i).px), x.bids[i].first) << "bid " << i;
    EXPECT_EQ(cwts::core::to_string(book.bid(i).qty), x.bids[i].second) << "bid " << i;
    EXPECT_EQ(cwts::core::to_string(book.ask(i).px), x.asks[i].first) << "ask " << i;
    EXPECT_EQ(cwts::core::to_string(book.ask(i).qty), x.asks[i].second) << "ask " << i;
  }
}

// Stops the client the moment the NKNUSDT book is valid at the capture's final update id.
// Called on the client's thread; the test thread waits on it.
class FinalBookSink final : public md::MarketSink {
 public:
  void on_book(const md::SymbolState& s, const md::FrameMeta&, std::int64_t) override {
    ++books;
    if (s.name_view() != "NKNUSDT" || !s.sync.valid() || s.sync.update_id() != expected().final_u) {
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (reached_) return;
      reached_ = true;
    }
    cv_.notify_all();
    client->stop();
  }
  void on_book_validity(const md::SymbolState&, bool valid, const md::FrameMeta&) override {
    if (!valid) ++invalidations;
  }

  bool wait(milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return reached_; });
  }

  feed::FeedClient* client = nullptr;
  std::uint64_t books = 0;          // client thread only
  std::uint64_t invalidations = 0;  // client thread only

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool reached_ = false;
};

feed::FeedConfig loopback_config(const WsTestServer& srv) {
  feed::FeedConfig c;
  c.ws_url = srv.ws_url();
  c.rest_url = srv.rest_url();
  c.symbols = {"NKNUSDT"};
  c.streams = {"depth@100ms", "bookTicker", "aggTrade", "kline_1m"};  // what the capture holds
  c.backoff.initial = milliseconds{20};
  c.backoff.max = milliseconds{200};
  c.snapshot_min_spacing = milliseconds{50};
  c.rng_seed = 42;
  return c;
}

struct Outcome {
  bool reached = false;
  milliseconds took{};
};

// Runs the client on its own thread until the final book (or the deadline), then stops it.
Outcome run_to_final_book(feed::FeedClient& client, FinalBookSink& sink,
                          milliseconds deadline = kDeadline) {
  sink.client = &client;
  const auto t0 = std::chrono::steady_clock::now();
  std::thread t([&] { client.run(); });
  Outcome o;
  o.reached = sink.wait(deadline);
  client.stop();
  t.join();
  o.took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
  return o;
}

md::SymbolState& nkn(feed::FeedClient& c) {
  md::SymbolState* s = c.pipeline().find("NKNUSDT");
  EXPECT_NE(s, nullptr);
  return *s;
}

WsTestServerOptions server_options() {
  WsTestServerOptions o;
  o.capture_path = kCapture;
  return o;
}

TEST(FeedClientTest, StreamsCaptureIntoExpectedBook) {
  WsTestServer srv(server_options());
  FinalBookSink sink;
  feed::FeedClient client(loopback_config(srv), &sink);
  const Outcome o = run_to_final_book(client, sink);
  ASSERT_TRUE(o.reached) << "last error: " << client.last_error();
  md::SymbolState& s = nkn(client);
  expect_expected_book(s);
  // The recorded procedure exactly: one snapshot at 499869752, the same diffs applied as the
  // offline replay, no gap, and every frame of the capture delivered once.
  EXPECT_EQ(s.sync.stats().applied, expected().applied);
  EXPECT_EQ(s.sync.stats().gaps, 0U);
  const auto c = client.counters();
  const auto st = srv.stats();
  EXPECT_EQ(c.connects, 1U);
  EXPECT_EQ(c.reconnects, 0U);
  EXPECT_EQ(c.snapshots_requested, 1U);
  EXPECT_EQ(c.snapshots_ok, 1U);
  EXPECT_EQ(c.snapshots_failed, 0U);
  EXPECT_EQ(c.frames_received, srv.stream_frames());
  EXPECT_GT(c.bytes_received, 0U);
  EXPECT_EQ(client.pipeline().counters().malformed, 0U);
  ASSERT_EQ(st.snapshot_ids.size(), 1U);
  EXPECT_EQ(st.snapshot_ids[0], expected().snapshot_id);
  ASSERT_EQ(st.ws_targets.size(), 1U);
  EXPECT_EQ(st.ws_targets[0],
            "/stream?streams=nknusdt@depth@100ms/nknusdt@bookTicker/nknusdt@aggTrade/"
            "nknusdt@kline_1m");
  ASSERT_EQ(st.http_targets.size(), 1U);
  EXPECT_EQ(st.http_targets[0], "/api/v3/depth?symbol=NKNUSDT&limit=1000");
  EXPECT_LT(o.took, milliseconds{3000});
}

// The engine records a live session (every frame and the REST snapshot body, as received) and the
// recording replays offline to the same book.
TEST(FeedClientTest, RecordedLiveSessionReplaysToTheSameBook) {
  const std::string dir = ::testing::TempDir() + "cwts_feed_capture_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  WsTestServer srv(server_options());
  FinalBookSink sink;
  feed::FeedClient client(loopback_config(srv), &sink);
  md::CaptureOptions copts;
  copts.dir = dir;
  copts.gzip = true;
  {
    md::CaptureWriter writer(copts);
    client.pipeline().set_recorder(&writer);
    const Outcome o = run_to_final_book(client, sink);
    ASSERT_TRUE(o.reached) << "last error: " << client.last_error();
    client.pipeline().set_recorder(nullptr);
    EXPECT_EQ(writer.write_errors(), 0U);
    EXPECT_EQ(writer.frames(), srv.stream_frames() + 1);  // every frame plus the snapshot body
  }
  md::Pipeline replayed;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    (void)md::replay_capture(e.path().string(), replayed);
  }
  std::filesystem::remove_all(dir);
  md::SymbolState* s = replayed.find("NKNUSDT");
  ASSERT_NE(s, nullptr);
  expect_expected_book(*s);
}

TEST(FeedClientTest, DroppedConnectionReconnectsInvalidatesAndResyncs) {
  WsTestServerOptions so = server_options();
  so.drop_at = 120;
  WsTestServer srv(so);
  FinalBookSink sink;
  feed::FeedClient client(loopback_config(srv), &sink);
  const Outcome o = run_to_final_book(client, sink);
  ASSERT_TRUE(o.reached) << "last error: " << client.last_error();
  md::SymbolState& s = nkn(client);
  expect_expected_book(s);
  const auto c = client.counters();
  EXPECT_EQ(srv.stats().drops, 1U);
  EXPECT_EQ(c.connects, 2U);
  EXPECT_EQ(c.reconnects, 1U);
  EXPECT_GE(c.disconnects, 1U);
  EXPECT_GE(s.sync.stats().resyncs, 1U);  // the live book was thrown away on the drop
  EXPECT_GE(sink.invalidations, 1U);      // and readers were told at once
  EXPECT_GE(c.snapshots_ok, 2U);          // one per connection
  EXPECT_EQ(srv.stats().ws_sessions, 2U);
  EXPECT_FALSE(client.last_error().empty());
}

TEST(FeedClientTest, SilentConnectionTimesOutAndReconnects) {
  WsTestServerOptions so = server_options();
  so.stall_at = 120;
  so.stall_for = milliseconds{60'000};  // never resumes within the test: only a timeout helps
  WsTestServer srv(so);
  FinalBookSink sink;
  feed::FeedConfig cfg = loopback_config(srv);
  cfg.silence_timeout = milliseconds{300};
  feed::FeedClient client(cfg, &sink);
  const Outcome o = run_to_final_book(client, sink);
  ASSERT_TRUE(o.reached) << "last error: " << client.last_error();
  expect_expected_book(nkn(client));
  const auto c = client.counters();
  EXPECT_EQ(srv.stats().stalls, 1U);
  // At least the stall's timeout; on a loaded machine a slow replay after it may be silent past
  // 300 ms too (seen in CI): every timeout is followed by exactly one new connection.
  EXPECT_GE(c.silence_timeouts, 1U);
  EXPECT_EQ(c.connects, c.silence_timeouts + 1);
  EXPECT_NE(client.last_error().find("silence"), std::string::npos) << client.last_error();
}

TEST(FeedClientTest, SkippedDiffIsDetectedAsGapAndResnapshotted) {
  WsTestServerOptions so = server_options();
  so.skip_depth_from = 60;
  WsTestServer srv(so);
  FinalBookSink sink;
  feed::FeedClient client(loopback_config(srv), &sink);
  const Outcome o = run_to_final_book(client, sink);
  ASSERT_TRUE(o.reached) << "last error: " << client.last_error();
  md::SymbolState& s = nkn(client);
  expect_expected_book(s);
  const auto c = client.counters();
  const auto st = srv.stats();
  EXPECT_EQ(st.skips, 1U);
  EXPECT_GE(s.sync.stats().gaps, 1U);
  EXPECT_EQ(c.connects, 1U);  // a gap is fixed with a snapshot, not a reconnect
  EXPECT_GE(c.snapshots_ok, 2U);
  ASSERT_GE(st.snapshot_ids.size(), 2U);
  EXPECT_GT(st.snapshot_ids.back(), st.snapshot_ids.front());
  EXPECT_EQ(st.http_connections, 1U);  // the snapshots shared one kept-alive connection
}

TEST(FeedClientTest, RefusedSnapshotsAreRefetchedNoFasterThanTheMinimumSpacing) {
  // After the gap every snapshot is the capture's original one, older than the buffered diffs:
  // the book must refuse each, and the client must keep asking, but only once per spacing.
  WsTestServerOptions so = server_options();
  so.skip_depth_from = 60;
  so.stale_snapshots = true;
  WsTestServer srv(so);
  feed::FeedConfig cfg = loopback_config(srv);
  cfg.snapshot_min_spacing = milliseconds{100};
  feed::FeedClient client(cfg);
  std::thread t([&] { client.run(); });
  const bool six =
      srv.wait_for([](const WsTestServer::Stats& st) { return st.depth_requests >= 6; }, kDeadline);
  client.stop();
  t.join();
  ASSERT_TRUE(six) << "last error: " << client.last_error();
  const auto st = srv.stats();
  for (std::size_t i = 2; i < st.depth_request_times.size(); ++i) {
    // Server receive times jitter a little around the client's send times.
    EXPECT_GE(st.depth_request_times[i] - st.depth_request_times[i - 1], milliseconds{90})
        << "request " << i;
  }
  const auto c = client.counters();
  EXPECT_GE(c.snapshots_rejected, 4U);
  EXPECT_EQ(c.connects, 1U);
  EXPECT_FALSE(nkn(client).sync.valid());
  EXPECT_GE(nkn(client).snapshot_refetches, 4U);
}

TEST(FeedClientTest, FailedSnapshotIsRetriedWithGrowingDelay) {
  WsTestServerOptions so = server_options();
  so.fail_snapshots = 2;
  WsTestServer srv(so);
  FinalBookSink sink;
  feed::FeedClient client(loopback_config(srv), &sink);
  const Outcome o = run_to_final_book(client, sink);
  ASSERT_TRUE(o.reached) << "last error: " << client.last_error();
  expect_expected_book(nkn(client));
  const auto c = client.counters();
  EXPECT_EQ(c.snapshots_failed, 2U);
  EXPECT_EQ(c.snapshots_ok, 1U);
  EXPECT_NE(client.last_error().find("HTTP 503"), std::string::npos) << client.last_error();
  const auto st = srv.stats();
  ASSERT_EQ(st.depth_request_times.size(), 3U);
  const auto first_gap = st.depth_request_times[1] - st.depth_request_times[0];
  const auto second_gap = st.depth_request_times[2] - st.depth_request_times[1];
  EXPECT_GE(first_gap, milliseconds{90});
  EXPECT_GT(second_gap, first_gap);
}

TEST(FeedClientTest, RateLimitedSnapshotWaitsForRetryAfter) {
  WsTestServerOptions so = server_options();
  so.fail_snapshots = 1;
  so.fail_status = 429;
  so.retry_after_s = 1;
  WsTestServer srv(so);
  FinalBookSink sink;
  feed::FeedClient client(loopback_config(srv), &sink);
  const Outcome o = run_to_final_book(client, sink);
  ASSERT_TRUE(o.reached) << "last error: " << client.last_error();
  expect_expected_book(nkn(client));
  const auto st = srv.stats();
  ASSERT_EQ(st.depth_request_times.size(), 2U);
  EXPECT_GE(st.depth_request_times[1] - st.depth_request_times[0], milliseconds{990});
  EXPECT_EQ(client.counters().snapshots_failed, 1U);
}

TEST(FeedClientTest, ServerPingIsAnsweredWithSamePayload) {
  WsTestServerOptions so = server_options();
  so.ping_at = 30;
  so.ping_payload = "cwts-ping-4f1c";
  WsTestServer srv(so);
  FinalBookSink sink;
  feed::FeedClient client(loopback_config(srv), &sink);
  const Outcome o = run_to_final_book(client, sink);
  ASSERT_TRUE(o.reached) << "last error: " << client.last_error();
  ASSERT_TRUE(srv.wait_for([](const WsTestServer::Stats& st) { return !st.pongs.empty(); },
                           milliseconds{1000}));
  const auto st = srv.stats();
  EXPECT_EQ(st.pings_sent, 1U);
  ASSERT_EQ(st.pongs.size(), 1U);
  EXPECT_EQ(st.pongs[0], "cwts-ping-4f1c");
  const auto c = client.counters();
  EXPECT_EQ(c.pings_received, 1U);
  EXPECT_EQ(c.pongs_sent, 1U);
  EXPECT_EQ(c.connects, 1U);
}

TEST(FeedClientTest, ServerShutdownTriggersPromptReconnect) {
  WsTestServerOptions so = server_options();
  so.shutdown_at = 120;
  WsTestServer srv(so);
  FinalBookSink sink;
  feed::FeedConfig cfg = loopback_config(srv);
  cfg.silence_timeout = milliseconds{30'000};  // so only the serverShutdown can explain a reconnect
  feed::FeedClient client(cfg, &sink);
  const Outcome o = run_to_final_book(client, sink);
  ASSERT_TRUE(o.reached) << "last error: " << client.last_error();
  expect_expected_book(nkn(client));
  const auto c = client.counters();
  EXPECT_EQ(srv.stats().shutdowns_sent, 1U);
  EXPECT_EQ(client.pipeline().counters().server_shutdowns, 1U);
  EXPECT_EQ(c.server_shutdowns, 1U);
  EXPECT_EQ(c.silence_timeouts, 0U);
  EXPECT_EQ(c.connects, 2U);
  // The client closed the old connection itself, with a close frame.
  EXPECT_TRUE(srv.wait_for([](const WsTestServer::Stats& st) { return st.closes_received >= 1; },
                           milliseconds{1000}));
}

TEST(FeedClientTest, ConnectionIsRenewedBeforeMaxLifetime) {
  WsTestServerOptions so = server_options();
  so.frame_interval = std::chrono::microseconds{2000};  // the replay outlives a few lifetimes
  WsTestServer srv(so);
  FinalBookSink sink;
  feed::FeedConfig cfg = loopback_config(srv);
  cfg.max_connection_lifetime = milliseconds{150};
  feed::FeedClient client(cfg, &sink);
  const Outcome o = run_to_final_book(client, sink);
  ASSERT_TRUE(o.reached) << "last error: " << client.last_error();
  expect_expected_book(nkn(client));
  const auto c = client.counters();
  EXPECT_GE(c.lifetime_renewals, 1U);
  EXPECT_EQ(c.connects, c.lifetime_renewals + 1);
  EXPECT_EQ(c.silence_timeouts, 0U);
}

TEST(FeedClientTest, RefusedConnectionsBackOffAndReportTheError) {
  // A port nobody listens on: bind one, note it, close it.
  std::uint16_t port = 0;
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(
        ioc, {boost::asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(0)});
    port = a.local_endpoint().port();
  }
  feed::FeedConfig cfg;
  cfg.ws_url = "ws://127.0.0.1:" + std::to_string(port);
  cfg.rest_url = "http://127.0.0.1:" + std::to_string(port);
  cfg.symbols = {"NKNUSDT"};
  cfg.backoff.initial = milliseconds{10};
  cfg.backoff.max = milliseconds{40};
  feed::FeedClient client(cfg);
  std::thread t([&] { client.run(); });
  const auto until = std::chrono::steady_clock::now() + kDeadline;
  while (client.counters().connect_failures < 4 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(
        milliseconds{2});  // polling a counter: there is no event to wait on
  }
  client.stop();
  t.join();
  const auto c = client.counters();
  EXPECT_GE(c.connect_failures, 4U);
  EXPECT_EQ(c.connects, 0U);
  EXPECT_EQ(c.snapshots_requested, 0U);  // never a REST call without an open stream
  EXPECT_NE(client.last_error().find("refused"), std::string::npos) << client.last_error();
}

TEST(FeedClientTest, StopBeforeRunReturnsAtOnce) {
  WsTestServer srv(server_options());
  feed::FeedClient client(loopback_config(srv));
  client.stop();
  const auto t0 = std::chrono::steady_clock::now();
  client.run();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds{500});
  EXPECT_EQ(client.counters().connects, 0U);
}

feed::FeedClient* g_signal_client = nullptr;
extern "C" void stop_on_signal(int) { g_signal_client->stop_from_signal(); }

TEST(FeedClientTest, StopFromSignalHandlerEndsRunGracefully) {
  WsTestServerOptions so = server_options();
  so.frame_interval = std::chrono::microseconds{50'000};  // still streaming when the signal comes
  WsTestServer srv(so);
  feed::FeedClient client(loopback_config(srv));
  std::thread t([&] { client.run(); });
  ASSERT_TRUE(
      srv.wait_for([](const WsTestServer::Stats& st) { return st.frames_sent >= 3; }, kDeadline));
  g_signal_client = &client;
  struct sigaction sa {};
  struct sigaction old {};
  sa.sa_handler = stop_on_signal;
  ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(std::raise(SIGUSR1), 0);
  t.join();
  const auto took = std::chrono::steady_clock::now() - t0;
  ::sigaction(SIGUSR1, &old, nullptr);
  EXPECT_LT(took, milliseconds{1000});
  // Graceful: the server saw a close frame, not a dropped socket.
  EXPECT_TRUE(srv.wait_for([](const WsTestServer::Stats& st) { return st.closes_received >= 1; },
                           milliseconds{1000}));
  EXPECT_EQ(client.counters().connects, 1U);
}

// ---- TLS: the wss/https path, with a throwaway CA ------------------------------------------

class TempFile {
 public:
  explicit TempFile(const std::string& content)
      : path_(::testing::TempDir() + "cwts_feed_ca_" +
              std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".pem") {
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(FeedClientTlsTest, VerifiedTlsFeedReachesExpectedBook) {
  const cwts::test::TestPki pki = cwts::test::make_test_pki("IP:127.0.0.1");
  TempFile ca(pki.ca_pem);
  WsTestServerOptions so = server_options();
  so.tls_cert_pem = pki.leaf_pem;
  so.tls_key_pem = pki.leaf_key_pem;
  WsTestServer srv(so);
  ASSERT_EQ(srv.ws_url().rfind("wss://", 0), 0U);
  FinalBookSink sink;
  feed::FeedConfig cfg = loopback_config(srv);
  cfg.ca_file = ca.path();
  feed::FeedClient client(cfg, &sink);
  const Outcome o = run_to_final_book(client, sink);
  ASSERT_TRUE(o.reached) << "last error: " << client.last_error();
  expect_expected_book(nkn(client));
  EXPECT_EQ(client.counters().connect_failures, 0U);
  EXPECT_EQ(client.counters().snapshots_ok, 1U);
}

// Runs a client that must never get through; returns its last error.
std::string refused_tls(const feed::FeedConfig& cfg) {
  feed::FeedClient client(cfg);
  std::thread t([&] { client.run(); });
  const auto until = std::chrono::steady_clock::now() + kDeadline;
  while (client.counters().connect_failures < 2 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(milliseconds{2});
  }
  client.stop();
  t.join();
  EXPECT_GE(client.counters().connect_failures, 2U);
  EXPECT_EQ(client.counters().connects, 0U);
  EXPECT_EQ(client.counters().frames_received, 0U);
  return client.last_error();
}

TEST(FeedClientTlsTest, CertificateForAnotherHostIsRefused) {
  const cwts::test::TestPki pki = cwts::test::make_test_pki("DNS:other.example");
  TempFile ca(pki.ca_pem);
  WsTestServerOptions so = server_options();
  so.tls_cert_pem = pki.leaf_pem;
  so.tls_key_pem = pki.leaf_key_pem;
  WsTestServer srv(so);
  feed::FeedConfig cfg = loopback_config(srv);
  cfg.ca_file = ca.path();  // trusted CA, wrong name: only host verification can refuse it
  const std::string err = refused_tls(cfg);
  EXPECT_NE(err.find("IP address mismatch"), std::string::npos) << err;
}

TEST(FeedClientTlsTest, UntrustedCertificateIsRefusedByDefault) {
  const cwts::test::TestPki pki = cwts::test::make_test_pki("IP:127.0.0.1");
  WsTestServerOptions so = server_options();
  so.tls_cert_pem = pki.leaf_pem;
  so.tls_key_pem = pki.leaf_key_pem;
  WsTestServer srv(so);
  const std::string err = refused_tls(loopback_config(srv));  // system trust store only
  EXPECT_NE(err.find("self-signed certificate in certificate chain"), std::string::npos) << err;
}

}  // namespace
