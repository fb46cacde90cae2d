// Feed endpoints and config: URL parsing, stream and depth targets, validation messages.
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "cwts/feed/feed_client.hpp"
#include "cwts/net/endpoint.hpp"

namespace {

using cwts::feed::FeedConfig;
using cwts::net::EndpointKind;
using cwts::net::parse_endpoint;

TEST(EndpointTest, BinanceDefaultsParse) {
  const auto ws = parse_endpoint("wss://stream.binance.com:9443", EndpointKind::kWebSocket);
  EXPECT_TRUE(ws.tls);
  EXPECT_EQ(ws.host, "stream.binance.com");
  EXPECT_EQ(ws.port, 9443);
  EXPECT_EQ(ws.path, "");
  EXPECT_EQ(ws.host_header(), "stream.binance.com:9443");
  EXPECT_FALSE(ws.host_is_ip());

  const auto rest = parse_endpoint("https://api.binance.com", EndpointKind::kHttp);
  EXPECT_TRUE(rest.tls);
  EXPECT_EQ(rest.port, 443);
  EXPECT_EQ(rest.host_header(), "api.binance.com");
}

TEST(EndpointTest, LoopbackPathPrefixAndIpv6Parse) {
  const auto a = parse_endpoint("ws://127.0.0.1:8080/public/", EndpointKind::kWebSocket);
  EXPECT_FALSE(a.tls);
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 8080);
  EXPECT_EQ(a.path, "/public");
  EXPECT_TRUE(a.host_is_ip());

  const auto b = parse_endpoint("http://[::1]:9000", EndpointKind::kHttp);
  EXPECT_EQ(b.host, "::1");
  EXPECT_EQ(b.port, 9000);
  EXPECT_EQ(b.host_header(), "[::1]:9000");
  EXPECT_TRUE(b.host_is_ip());

  EXPECT_EQ(parse_endpoint("ws://localhost", EndpointKind::kWebSocket).port, 80);
}

TEST(EndpointTest, MalformedUrlsAreRefused) {
  for (const char* url :
       {"stream.binance.com", "https://api.binance.com", "ws://", "ws://:80", "ws://h:0",
        "ws://h:65536", "ws://h:x", "ws://h:", "ws://h/?a=b", "ws://u@h", "ws://[::1"}) {
    EXPECT_THROW((void)parse_endpoint(url, EndpointKind::kWebSocket), std::invalid_argument) << url;
  }
  EXPECT_THROW((void)parse_endpoint("wss://x", EndpointKind::kHttp), std::invalid_argument);
}

FeedConfig nkn() {
  FeedConfig c;
  c.symbols = {"NKNUSDT"};
  return c;
}

TEST(FeedConfigTest, CombinedStreamTargetIsLowercaseInConfigOrder) {
  FeedConfig c = nkn();
  c.symbols = {"NKNUSDT", "btcUsdt"};
  EXPECT_EQ(cwts::feed::stream_target(c),
            "/stream?streams=nknusdt@depth@100ms/nknusdt@bookTicker/nknusdt@aggTrade/"
            "btcusdt@depth@100ms/btcusdt@bookTicker/btcusdt@aggTrade");
  c.ws_url = "wss://fstream.binance.com/public";
  c.symbols = {"sushiusdt"};
  c.streams = {"depth@100ms"};
  EXPECT_EQ(cwts::feed::stream_target(c), "/public/stream?streams=sushiusdt@depth@100ms");
}

TEST(FeedConfigTest, DepthTargetFollowsVenueAndLimit) {
  FeedConfig c = nkn();
  EXPECT_EQ(cwts::feed::depth_target(c, "nknusdt"), "/api/v3/depth?symbol=NKNUSDT&limit=1000");
  c.venue = cwts::feed::VenueKind::kUsdmFutures;
  c.rest_url = "https://fapi.binance.com";
  c.snapshot_limit = 500;
  EXPECT_EQ(cwts::feed::depth_target(c, "SUSHIUSDT"), "/fapi/v1/depth?symbol=SUSHIUSDT&limit=500");
}

TEST(FeedConfigTest, DefaultsAreTheProductionPolicy) {
  const FeedConfig c;
  EXPECT_EQ(c.ws_url, "wss://stream.binance.com:9443");
  EXPECT_EQ(c.rest_url, "https://api.binance.com");
  EXPECT_TRUE(c.tls_verify_peer);
  EXPECT_TRUE(c.ca_file.empty());
  EXPECT_EQ(c.silence_timeout, std::chrono::seconds(60));
  EXPECT_EQ(c.max_connection_lifetime, std::chrono::minutes(23 * 60 + 50));
  EXPECT_EQ(c.snapshot_limit, 1000U);
  EXPECT_EQ(c.snapshot_min_spacing, std::chrono::seconds(1));
  EXPECT_NO_THROW(cwts::feed::validate(nkn()));
}

// The message names the offending field.
void expect_refused(const FeedConfig& c, const std::string& field) {
  try {
    cwts::feed::validate(c);
    ADD_FAILURE() << "accepted a config with a bad " << field;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
}

TEST(FeedConfigTest, BadConfigsAreRefusedNamingTheField) {
  FeedConfig c = nkn();
  c.symbols.clear();
  expect_refused(c, "symbols");
  c = nkn();
  c.symbols = {"NKN-USDT"};
  expect_refused(c, "symbols[0]");
  c = nkn();
  c.symbols = {"NKNUSDT", "nknusdt"};
  expect_refused(c, "symbols[1]");
  c = nkn();
  c.streams = {"depth@100ms", "book/Ticker"};
  expect_refused(c, "streams[1]");
  c = nkn();
  c.ws_url = "https://stream.binance.com";
  expect_refused(c, "ws_url");
  c = nkn();
  c.rest_url = "wss://api.binance.com";
  expect_refused(c, "rest_url");
  c = nkn();
  c.snapshot_limit = 5001;
  expect_refused(c, "snapshot_limit");
  c = nkn();
  c.venue = cwts::feed::VenueKind::kUsdmFutures;
  c.snapshot_limit = 5000;
  expect_refused(c, "snapshot_limit");
  c = nkn();
  c.silence_timeout = std::chrono::milliseconds{0};
  expect_refused(c, "silence_timeout");
  c = nkn();
  c.backoff.multiplier = 0.5;
  expect_refused(c, "backoff");
  c = nkn();
  c.symbols.assign(481, "A");  // 17 streams: 60 a connection, 480 on the feed's 8 connections
  for (std::size_t i = 0; i < c.symbols.size(); ++i) c.symbols[i] = "S" + std::to_string(i);
  c.streams.assign(17, "trade");
  expect_refused(c,
                 "481 symbols with 17 streams each: the feed's 8 connections of 1024 streams "
                 "carry at most 480 symbols");
  c.symbols.pop_back();
  EXPECT_NO_THROW(cwts::feed::validate(c));
  EXPECT_EQ(cwts::feed::connections_for(c), 8U);
}

// Issue 19's scale: 341 symbols of three streams fill one connection (Binance: 1,024 streams);
// the target the client connects with carries those that fit in a request line HTTP servers
// accept, and the client subscribes the rest on the open connection.
TEST(FeedConfigTest, ManySymbolsFillOneConnectionAndTheTargetCarriesWhatFitsInARequestLine) {
  FeedConfig c = nkn();
  EXPECT_EQ(cwts::feed::max_symbols_per_connection(c), 341U);
  c.symbols.clear();
  for (int i = 0; i < 341; ++i) c.symbols.push_back("S" + std::to_string(1000 + i) + "USDT");
  EXPECT_NO_THROW(cwts::feed::validate(c));
  std::size_t in_target = 0;
  const std::string t = cwts::feed::stream_target(c, &in_target);
  EXPECT_LE(t.size(), cwts::feed::kMaxStreamTargetBytes);
  EXPECT_GT(in_target, 10U);
  EXPECT_LT(in_target, 341U);
  const std::string last = "s" + std::to_string(1000 + in_target - 1) + "usdt@aggTrade";
  EXPECT_EQ(t.substr(t.size() - last.size()), last);  // whole symbols only, in order
  EXPECT_EQ(t.find("s" + std::to_string(1000 + in_target) + "usdt"), std::string::npos);
  EXPECT_EQ(cwts::feed::connections_for(c), 1U);
  // One more takes a second connection; the feed carries 1,024 symbols at most (the pipeline's
  // table: three connections of 341 and one of 1).
  c.symbols.push_back("S2000USDT");
  EXPECT_NO_THROW(cwts::feed::validate(c));
  EXPECT_EQ(cwts::feed::connections_for(c), 2U);
  EXPECT_EQ(cwts::feed::max_feed_symbols(c), 1024U);
  while (c.symbols.size() < 1024) c.symbols.push_back("T" + std::to_string(c.symbols.size()));
  EXPECT_NO_THROW(cwts::feed::validate(c));
  EXPECT_EQ(cwts::feed::connections_for(c), 4U);
  c.symbols.push_back("U1");
  expect_refused(c, "1025 symbols with 3 streams each: the feed carries at most 1024 symbols");
}

// Connections opened together would renew together (and resync all their books at once): each
// renews a sixteenth of the lifetime before the one before it.
TEST(FeedConfigTest, TheConnectionsPlannedRenewalsAreStaggered) {
  FeedConfig c = nkn();
  c.max_connection_lifetime = std::chrono::minutes(1600);
  EXPECT_EQ(cwts::feed::connection_lifetime(c, 0), std::chrono::minutes(1600));
  EXPECT_EQ(cwts::feed::connection_lifetime(c, 1), std::chrono::minutes(1500));
  EXPECT_EQ(cwts::feed::connection_lifetime(c, 7), std::chrono::minutes(900));
  EXPECT_EQ(cwts::feed::connection_lifetime(c, 8), std::chrono::minutes(900));  // no ninth
}

TEST(FeedConfigTest, ClientConstructorValidates) {
  FeedConfig c = nkn();
  c.symbols.clear();
  EXPECT_THROW(cwts::feed::FeedClient client(c), std::invalid_argument);
}

TEST(FeedConfigTest, UnreadableCaFileFailsAtConstruction) {
  FeedConfig c = nkn();
  c.ca_file = "/nonexistent/cwts-ca.pem";
  EXPECT_THROW(cwts::feed::FeedClient client(c), std::runtime_error);
}

}  // namespace
