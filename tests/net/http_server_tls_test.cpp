// net::HttpServer with TLS: an https GET (keep-alive), a wss upgrade with a text round trip, a
// plain-HTTP client and a silent client on the TLS port (closed, counted, the server goes on),
// certificate and key load errors naming the file; and the plain path unchanged.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <gtest/gtest.h>

#include "../feed/test_pki.hpp"
#include "cwts/net/http_server.hpp"
#include "cwts/net/tls_client.hpp"
#include "cwts/net/tls_server.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using cwts::net::HttpServer;
using cwts::net::HttpServerOptions;

std::string write_file(const std::string& name, const std::string& content) {
  const std::string path =
      ::testing::TempDir() + "/cwts_net_" + std::to_string(::getpid()) + "_" + name;
  std::ofstream(path, std::ios::trunc) << content;
  return path;
}

// A server on its own thread: GET answers "hello <target>", /ws upgrades echo "echo:<text>".
class Server {
 public:
  explicit Server(HttpServerOptions o) {
    o.on_tls_error = [this](const std::string& peer, const std::string& error) {
      last_tls_error_peer = peer;
      last_tls_error = error;
      ++tls_errors;
    };
    server_.emplace(
        ioc_, "127.0.0.1", 0,
        [](cwts::net::HttpServerRequest&& req, HttpServer::Reply reply) {
          cwts::net::HttpServerResponse r;
          r.content_type = "text/plain";
          r.body = "hello " + req.target;
          reply(std::move(r));
        },
        std::move(o));
    server_->set_upgrade(
        [](const cwts::net::HttpServerRequest&, std::shared_ptr<cwts::net::WsConnection> conn) {
          std::weak_ptr<cwts::net::WsConnection> weak = conn;
          return cwts::net::WsHandlers{[weak](std::string_view msg) {
                                         if (auto c = weak.lock())
                                           c->send("echo:" + std::string(msg));
                                       },
                                       {}};
        },
        [](const cwts::net::HttpServerRequest& req) { return req.path() == "/ws"; });
    port = server_->port();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~Server() {
    asio::post(ioc_, [this] { server_->stop(); });
    thread_.join();
    server_.reset();
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::uint16_t port = 0;
  std::atomic<int> tls_errors{0};
  std::string last_tls_error, last_tls_error_peer;  // read after tls_errors moved

 private:
  asio::io_context ioc_;
  std::optional<HttpServer> server_;
  std::thread thread_;
};

struct Pki {
  cwts::test::TestPki pki = cwts::test::make_test_pki("IP:127.0.0.1");
  std::string cert = write_file("cert.pem", pki.leaf_pem);
  std::string key = write_file("key.pem", pki.leaf_key_pem);
  std::string ca = write_file("ca.pem", pki.ca_pem);

  [[nodiscard]] HttpServerOptions options() const {
    HttpServerOptions o;
    o.tls_cert_file = cert;
    o.tls_key_file = key;
    o.io_timeout = std::chrono::milliseconds(2000);
    return o;
  }
};

// A verifying client context that trusts the test CA.
ssl::context client_context(const Pki& p) {
  cwts::net::TlsClientOptions o;
  o.ca_file = p.ca;
  return cwts::net::make_tls_client_context(o);
}

template <class Stream>
void connect_tls(asio::io_context& ioc, Stream& s, std::uint16_t port) {
  tcp::resolver r(ioc);
  beast::get_lowest_layer(s).connect(*r.resolve("127.0.0.1", std::to_string(port)).begin());
  cwts::net::Endpoint ep;
  ep.host = "127.0.0.1";
  ASSERT_TRUE(cwts::net::prepare_tls_connection(s.native_handle(), ep));
  s.handshake(ssl::stream_base::client);
}

TEST(HttpServerTls, HttpsGetWithKeepAlive) {
  Pki p;
  Server srv(p.options());
  asio::io_context ioc;
  ssl::context ctx = client_context(p);
  beast::ssl_stream<beast::tcp_stream> s(ioc, ctx);
  connect_tls(ioc, s, srv.port);
  for (const char* target : {"/one", "/two?x=1"}) {
    http::request<http::empty_body> req(http::verb::get, target, 11);
    req.set(http::field::host, "127.0.0.1");
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res.body(), std::string("hello ") + target);
  }
  EXPECT_EQ(SSL_version(s.native_handle()) >= TLS1_2_VERSION, true);
  EXPECT_EQ(srv.tls_errors.load(), 0);
}

TEST(HttpServerTls, WssUpgradeRoundTrip) {
  Pki p;
  Server srv(p.options());
  asio::io_context ioc;
  ssl::context ctx = client_context(p);
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(ioc, ctx);
  connect_tls(ioc, ws.next_layer(), srv.port);
  ws.handshake("127.0.0.1:" + std::to_string(srv.port), "/ws");
  for (const std::string& msg : {std::string("ping"), std::string(10000, 'x')}) {
    ws.text(true);
    ws.write(asio::buffer(msg));
    beast::flat_buffer buf;
    ws.read(buf);
    EXPECT_EQ(beast::buffers_to_string(buf.data()), "echo:" + msg);
  }
  ws.close(websocket::close_code::normal);
}

// Reads until the server closes the connection; what it sent before.
std::string read_until_closed(tcp::socket& s) {
  std::string got;
  char buf[512];
  for (;;) {
    beast::error_code ec;
    const std::size_t n = s.read_some(asio::buffer(buf), ec);
    got.append(buf, n);
    if (ec) return got;
  }
}

TEST(HttpServerTls, PlainHttpClientOnTlsPortIsClosedAndCounted) {
  Pki p;
  Server srv(p.options());
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), srv.port));
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  asio::write(s, asio::buffer(req));
  const std::string got = read_until_closed(s);
  EXPECT_EQ(got.find("hello"), std::string::npos);
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), std::string::npos);
  for (int i = 0; i < 200 && srv.tls_errors.load() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(srv.tls_errors.load(), 1);
  EXPECT_FALSE(srv.last_tls_error.empty());
  EXPECT_EQ(srv.last_tls_error_peer.rfind("127.0.0.1:", 0), 0u) << srv.last_tls_error_peer;

  // The server goes on serving TLS clients.
  ssl::context ctx = client_context(p);
  beast::ssl_stream<beast::tcp_stream> t(ioc, ctx);
  connect_tls(ioc, t, srv.port);
  http::request<http::empty_body> get(http::verb::get, "/after", 11);
  http::write(t, get);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(t, buf, res);
  EXPECT_EQ(res.body(), "hello /after");
}

TEST(HttpServerTls, SilentClientIsClosedAfterTheTimeout) {
  Pki p;
  HttpServerOptions o = p.options();
  o.io_timeout = std::chrono::milliseconds(200);
  Server srv(std::move(o));
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), srv.port));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(read_until_closed(s), "");  // no handshake: closed by the timeout
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST(HttpServerTls, UntrustingClientFailsOnlyItsOwnConnection) {
  Pki p;
  Server srv(p.options());
  asio::io_context ioc;
  const cwts::test::TestPki other = cwts::test::make_test_pki("IP:127.0.0.1");
  cwts::net::TlsClientOptions co;
  co.ca_file = write_file("other_ca.pem", other.ca_pem);
  ssl::context wrong = cwts::net::make_tls_client_context(co);
  beast::ssl_stream<beast::tcp_stream> s(ioc, wrong);
  EXPECT_THROW(connect_tls(ioc, s, srv.port), boost::system::system_error);
  for (int i = 0; i < 200 && srv.tls_errors.load() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(srv.tls_errors.load(), 1);
  ssl::context ctx = client_context(p);
  beast::ssl_stream<beast::tcp_stream> t(ioc, ctx);
  EXPECT_NO_THROW(connect_tls(ioc, t, srv.port));
}

std::string load_error(const std::string& cert, const std::string& key) {
  try {
    (void)cwts::net::make_tls_server_context(cert, key);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(HttpServerTls, LoadErrorsNameTheFile) {
  Pki p;
  const std::string garbage = write_file("garbage.pem", "not a key\n");
  const std::string missing = ::testing::TempDir() + "/cwts_net_no_such_file.pem";
  const cwts::test::TestPki other = cwts::test::make_test_pki("IP:127.0.0.1");
  const std::string other_key = write_file("other_key.pem", other.leaf_key_pem);

  std::string e = load_error(p.cert, garbage);
  EXPECT_NE(e.find(garbage), std::string::npos) << e;
  e = load_error(p.cert, missing);
  EXPECT_NE(e.find(missing), std::string::npos) << e;
  e = load_error(missing, p.key);
  EXPECT_NE(e.find(missing), std::string::npos) << e;
  e = load_error(garbage, p.key);
  EXPECT_NE(e.find(garbage), std::string::npos) << e;
  e = load_error(p.cert, other_key);  // a key that is not the certificate's
  EXPECT_NE(e.find(other_key), std::string::npos) << e;

  // Through the server's constructor, and one file alone.
  asio::io_context ioc;
  const auto handler = [](cwts::net::HttpServerRequest&&, HttpServer::Reply r) { r({}); };
  HttpServerOptions o = p.options();
  o.tls_key_file = garbage;
  try {
    HttpServer s(ioc, "127.0.0.1", 0, handler, o);
    ADD_FAILURE() << "a garbage key was accepted";
  } catch (const std::runtime_error& ex) {
    EXPECT_NE(std::string(ex.what()).find(garbage), std::string::npos) << ex.what();
  }
  o.tls_key_file.clear();
  EXPECT_THROW(HttpServer(ioc, "127.0.0.1", 0, handler, o), std::runtime_error);
  o = p.options();
  HttpServer ok(ioc, "127.0.0.1", 0, handler, o);
  EXPECT_TRUE(ok.tls());
}

TEST(HttpServerPlain, GetAndWebSocketUnchanged) {
  Server srv(HttpServerOptions{});
  asio::io_context ioc;
  beast::tcp_stream s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), srv.port));
  http::request<http::empty_body> req(http::verb::get, "/plain", 11);
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  EXPECT_EQ(res.body(), "hello /plain");

  websocket::stream<beast::tcp_stream> ws(ioc);
  ws.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), srv.port));
  ws.handshake("127.0.0.1", "/ws");
  ws.write(asio::buffer(std::string("hi")));
  beast::flat_buffer b2;
  ws.read(b2);
  EXPECT_EQ(beast::buffers_to_string(b2.data()), "echo:hi");
  ws.close(websocket::close_code::normal);
}

}  // namespace
