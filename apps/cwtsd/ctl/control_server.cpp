#include "ctl/control_server.hpp"

#include <chrono>
#include <list>
#include <optional>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>
#include <openssl/crypto.h>

#include "cwts/net/http_server.hpp"

namespace cwts::daemon {

namespace {

// A request a web page made: browsers put an Origin header on every WebSocket upgrade and on
// cross-origin requests, and a page that rebinds its DNS name to this host reaches us under that
// name (the Host header). The control plane's clients (cwtsctl, Prometheus, scripts) send no
// Origin and name the host by address or "localhost". Refused, so a page open in a browser on this
// host can neither read the reports stream nor the metrics.
bool from_a_web_page(const net::HttpServerRequest& req) {
  if (req.header("origin") != nullptr) return true;
  const std::string* host = req.header("host");
  if (host == nullptr) return false;  // HTTP/1.0 clients
  std::string_view h = *host;
  if (h.starts_with('[')) {  // [v6]:port
    const auto end = h.find(']');
    h = end == std::string_view::npos ? h : h.substr(1, end - 1);
  } else if (const auto colon = h.rfind(':'); colon != std::string_view::npos) {
    h = h.substr(0, colon);
  }
  if (h == "localhost") return false;
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(h, ec);
  return static_cast<bool>(ec);  // a name other than localhost: not an address we listen on
}

}  // namespace

struct ControlServer::Impl {
  // A JSON-RPC client on /ws.
  struct Client {
    std::shared_ptr<net::WsConnection> conn;
    RpcClient rpc;
  };

  Impl(Handler h, RpcHandler r, std::string t)
      : handler(std::move(h)), rpc(std::move(r)), token(std::move(t)) {}

  // Constant-time comparison of "Bearer <token>".
  [[nodiscard]] bool authorized(const std::string* header) const {
    constexpr std::string_view kScheme = "Bearer ";
    if (header == nullptr || token.empty() || header->size() != kScheme.size() + token.size() ||
        std::string_view(*header).substr(0, kScheme.size()) != kScheme) {
      return false;
    }
    return CRYPTO_memcmp(header->data() + kScheme.size(), token.data(), token.size()) == 0;
  }

  net::HttpServerResponse answer(const net::HttpServerRequest& req) const {
    net::HttpServerResponse out;
    out.content_type = "text/plain; charset=utf-8";
    if (from_a_web_page(req)) {
      out.status = 403;
      out.body = "refused: the control plane does not answer web pages (Origin or Host header)\n";
      return out;
    }
    if (req.method != "GET" && req.method != "HEAD") {
      out.status = 405;
      out.body = "only GET\n";
      out.headers.emplace_back("Allow", "GET, HEAD");
      return out;
    }
    try {
      const HttpResponse r = handler(req.target);
      out.status = r.status;
      out.content_type = r.content_type;
      out.body = r.body;
    } catch (const std::exception& e) {
      out.status = 500;
      out.body = std::string("error: ") + e.what() + "\n";
    }
    return out;
  }

  net::WsHandlers open(const net::HttpServerRequest& req, std::shared_ptr<net::WsConnection> conn) {
    auto c = std::make_shared<Client>();
    c->conn = std::move(conn);
    c->rpc.authorized = authorized(req.header("authorization"));
    clients.push_back(c);
    Client* raw = c.get();
    return net::WsHandlers{
        [this, raw](std::string_view msg) {
          if (!rpc) return;
          std::string reply;
          try {
            reply = rpc(msg, raw->rpc);
          } catch (const std::exception&) {
            reply =
                R"({"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}})";
          }
          if (!reply.empty()) raw->conn->send(std::move(reply));
        },
        [this, raw] { clients.remove_if([raw](const auto& x) { return x.get() == raw; }); }};
  }

  Handler handler;
  RpcHandler rpc;
  std::string token;
  std::list<std::shared_ptr<Client>> clients;
  std::optional<net::HttpServer> server;
};

ControlServer::ControlServer(boost::asio::io_context& ioc, const std::string& address,
                             std::uint16_t port, Handler handler, RpcHandler rpc, std::string token,
                             ControlTls tls)
    : impl_(std::make_shared<Impl>(std::move(handler), std::move(rpc), std::move(token))) {
  net::HttpServerOptions o;
  o.max_header_bytes = 8192;
  o.max_body_bytes = 4096;  // a small body is read (and ignored) so that a POST gets its 405
  o.max_connections = kMaxConnections;
  o.io_timeout = std::chrono::seconds(10);
  o.max_ws_queue = kMaxQueued;  // a slow client is dropped, never buffered without bound
  o.max_ws_message = 64 * 1024;
  o.too_large_body = "request body too large\n";
  o.tls_cert_file = std::move(tls.cert_file);
  o.tls_key_file = std::move(tls.key_file);
  o.on_tls_error = std::move(tls.on_error);
  Impl* impl = impl_.get();
  try {
    impl->server.emplace(
        ioc, address, port,
        [impl](net::HttpServerRequest&& req, net::HttpServer::Reply reply) {
          reply(impl->answer(req));
        },
        o);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("control: ") + e.what());
  }
  impl->server->set_upgrade(
      [impl](const net::HttpServerRequest& req, std::shared_ptr<net::WsConnection> conn) {
        return impl->open(req, std::move(conn));
      },
      [](const net::HttpServerRequest& req) {
        return req.path() == "/ws" && !from_a_web_page(req);
      });
}

ControlServer::~ControlServer() { stop(); }

std::uint16_t ControlServer::port() const noexcept { return impl_->server->port(); }

void ControlServer::stop() {
  if (!impl_ || !impl_->server) return;
  impl_->clients.clear();
  impl_->server->stop();
}

void ControlServer::broadcast(const std::string& topic, const std::string& message) {
  // Copied first: a send that drops a slow client removes it from the list.
  const auto clients = impl_->clients;
  for (const auto& c : clients)
    if (c->rpc.topics.count(topic) != 0) c->conn->send(message);
}

std::size_t ControlServer::rpc_clients() const noexcept { return impl_->clients.size(); }

}  // namespace cwts::daemon
