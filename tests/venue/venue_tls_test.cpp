// BinanceRestVenue over TLS: certificate and host verification against a loopback HTTPS server
// with a generated PKI (the same server the feed client's TLS tests use).
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../feed/test_pki.hpp"
#include "../feed/ws_test_server.hpp"
#include "cwts/net/hmac.hpp"
#include "cwts/venue/binance_rest.hpp"
#include "error_listener.hpp"

namespace {

using namespace std::chrono_literals;

using Listener = cwts::venue::test::ErrorListener;

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

cwts::venue::BinanceRestOptions options(const std::string& url, const std::string& ca_pem,
                                        const char* file) {
  cwts::venue::BinanceRestOptions o;
  o.rest_url = url;
  o.api_key = "k";
  o.api_secret = "s";
  o.ca_file = write_file(file, ca_pem);
  return o;
}

// Runs the venue's io_context until `pred` or the timeout.
template <typename Pred>
void run_until(boost::asio::io_context& ioc, cwts::venue::BinanceRestVenue& v, Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!pred() && std::chrono::steady_clock::now() < deadline) {
    ioc.run_for(5ms);
    if (ioc.stopped()) ioc.restart();
    v.tick(std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count());
  }
}

TEST(VenueTls, VerifiedHandshakeThenHttpAndRefusalOfAnUnknownIssuer) {
  const auto pki = cwts::test::make_test_pki("IP:127.0.0.1");
  cwts::test::WsTestServerOptions so;
  so.capture_path = std::string(CWTS_TEST_DATA) + "/spot_nknusdt_2021-10-12.capture";
  so.tls_cert_pem = pki.leaf_pem;
  so.tls_key_pem = pki.leaf_key_pem;
  so.ws_any_target = true;  // the venue's WebSocket API session (it reads the frames, unanswered)
  cwts::test::WsTestServer server(so);
  ASSERT_EQ(server.rest_url().rfind("https://", 0), 0U);

  {  // Trusted CA: the TLS session is established and HTTP flows (the test server has no
     // /api/v3/account, so the venue reports the answer it could not use — after a handshake).
    boost::asio::io_context ioc;
    auto o = options(server.rest_url(), pki.ca_pem, "venue-ca.pem");
    o.ws_api_url = server.ws_url() + "/ws-api/v3";  // a wss session: its operations use slots too
    cwts::venue::BinanceRestVenue v(ioc, o);
    Listener l;
    v.set_listener(&l);
    run_until(ioc, v, [&] { return v.counters().responses > 0 && v.counters().ws_connects > 0; });
    EXPECT_GT(v.counters().ws_connects, 0U);
    const auto reading = std::chrono::steady_clock::now() + 100ms;  // frames every millisecond
    run_until(ioc, v, [&] { return std::chrono::steady_clock::now() > reading; });
    EXPECT_GT(v.counters().responses, 0U);
    EXPECT_EQ(v.counters().transport_errors, 0U);
    // The TLS streams' write and read operations (REST and the WebSocket API session's) fit their
    // slots as the plain streams' do (handler_memory.hpp; venue_allocs_test.cpp counts those).
    EXPECT_EQ(v.counters().handler_spills, 0U);
    for (const auto& e : l.errors) EXPECT_EQ(e.find("handshake"), std::string::npos) << e;
  }
  {  // Another CA: the handshake is refused and nothing is sent.
    const auto other = cwts::test::make_test_pki("IP:127.0.0.1");
    boost::asio::io_context ioc;
    cwts::venue::BinanceRestVenue v(ioc,
                                    options(server.rest_url(), other.ca_pem, "venue-other-ca.pem"));
    Listener l;
    v.set_listener(&l);
    run_until(ioc, v, [&] { return v.counters().transport_errors > 0; });
    EXPECT_GT(v.counters().transport_errors, 0U);
    EXPECT_EQ(v.counters().responses, 0U);
    ASSERT_FALSE(l.errors.empty());
    EXPECT_NE(l.errors.front().find("tls handshake"), std::string::npos) << l.errors.front();
  }
}

TEST(VenueHmac, BinanceReferenceVector) {
  // From Binance's REST documentation (SIGNED endpoint example), also in binance-protocol.md.
  EXPECT_EQ(
      cwts::net::hmac_sha256_hex("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
                                 "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&"
                                 "price=0.1&recvWindow=5000&timestamp=1499827319559"),
      "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
}

}  // namespace
