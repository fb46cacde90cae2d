#include "ctl/control_server.hpp"

#include <chrono>
#include <list>
#include <optional>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <openssl/crypto.h>

#include "cwts/log/json_log.hpp"
#include "cwts/net/http_server.hpp"

namespace cwts::daemon {

namespace {

// A request a web page made: browsers put an Origin header on every WebSocket upgrade and on
// cross-origin requests, and a page that rebinds its DNS name to this host reaches us under that
// name (the Host header). The control plane's clients (cwtsctl, Prometheus, scripts) send no
// Origin and name the host by address or "localhost". Refused, so a page open in a browser on this
// host can neither read the reports stream nor the metrics. Over TLS a host name is accepted: a
// rebinding page cannot complete the handshake (the certificate does not name the page's host),
// and remote clients address the engine by its name.
bool from_a_web_page(const net::HttpServerRequest& req, bool tls) {
  if (req.header("origin") != nullptr) return true;
  const std::string* host = req.header("host");
  if (tls) return false;
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

struct ControlServer::Impl : std::enable_shared_from_this<ControlServer::Impl> {
  // A JSON-RPC client on /ws.
  struct Client {
    std::shared_ptr<net::WsConnection> conn;
    RpcClient rpc;
    std::string token;  // as presented at the handshake ("" = none): checked again at a reload
  };

  Impl(boost::asio::io_context& io, Handler h, RpcHandler r, std::vector<ControlToken> t)
      : ioc(io), handler(std::move(h)), rpc(std::move(r)), tokens(std::move(t)) {}

  // The token "Bearer <token>" names, compared in constant time with each; nullptr = none.
  [[nodiscard]] const ControlToken* token_of(const std::string* header) const {
    constexpr std::string_view kScheme = "Bearer ";
    if (header == nullptr || std::string_view(*header).substr(0, kScheme.size()) != kScheme) {
      return nullptr;
    }
    return find_token(std::string_view(*header).substr(kScheme.size()));
  }

  [[nodiscard]] const ControlToken* find_token(std::string_view presented) const {
    const ControlToken* found = nullptr;
    for (const auto& t : tokens) {  // every token compared: the time does not tell which matched
      if (!t.token.empty() && presented.size() == t.token.size() &&
          CRYPTO_memcmp(presented.data(), t.token.data(), t.token.size()) == 0) {
        found = &t;
      }
    }
    return found;
  }

  net::HttpServerResponse answer(const net::HttpServerRequest& req) const {
    net::HttpServerResponse out;
    out.content_type = "text/plain; charset=utf-8";
    if (from_a_web_page(req, server->tls())) {
      out.status = 403;
      out.body = "refused: the control plane does not answer web pages (Origin or Host header)\n";
      return out;
    }
    if (req.path() == "/mcp" && mcp) return answer_mcp(req);
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
      out.headers = r.headers;
    } catch (const std::exception& e) {
      out.status = 500;
      out.body = std::string("error: ") + e.what() + "\n";
    }
    return out;
  }

  // /mcp: every method goes to the MCP endpoint (it answers 405 to what it does not serve).
  net::HttpServerResponse answer_mcp(const net::HttpServerRequest& req) const {
    auto value = [&](std::string_view name) {
      const std::string* h = req.header(name);
      return h == nullptr ? std::string() : *h;
    };
    McpHttpRequest m;
    m.method = req.method;
    m.body = req.body;
    if (const ControlToken* t = token_of(req.header("authorization"))) {
      m.scopes = t->scopes;
      m.who = t->name;
    }
    m.content_type = value("content-type");
    m.accept = value("accept");
    m.protocol_version = value("mcp-protocol-version");
    net::HttpServerResponse out;
    try {
      HttpResponse r = mcp(m);
      out.status = r.status;
      out.content_type = std::move(r.content_type);
      out.body = std::move(r.body);
      out.headers = std::move(r.headers);
    } catch (const std::exception&) {
      out.status = 500;
      out.body =
          R"({"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}})";
    }
    return out;
  }

  net::WsHandlers open(const net::HttpServerRequest& req, std::shared_ptr<net::WsConnection> conn) {
    auto c = std::make_shared<Client>();
    c->conn = std::move(conn);
    c->rpc.conn = c->conn.get();
    if (const ControlToken* t = token_of(req.header("authorization"))) {
      c->rpc.scopes = t->scopes;
      c->rpc.who = t->name;
      c->token = t->token;
    }
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
        [this, raw] {
          // Later, not now: the close may come from inside a send() of a caller that still uses
          // the client (a remote session's flush), and the client owns that session.
          boost::asio::post(ioc, [weak = weak_from_this(), raw] {
            if (auto self = weak.lock())
              self->clients.remove_if([raw](const auto& x) { return x.get() == raw; });
          });
        }};
  }

  boost::asio::io_context& ioc;
  Handler handler;
  RpcHandler rpc;
  std::vector<ControlToken> tokens;
  McpHandler mcp;
  std::list<std::shared_ptr<Client>> clients;
  std::optional<net::HttpServer> server;
};

ControlServer::ControlServer(boost::asio::io_context& ioc, const ControlConfig& control,
                             Handler handler, RpcHandler rpc, std::vector<ControlToken> tokens,
                             ControlTls tls)
    : impl_(std::make_shared<Impl>(ioc, std::move(handler), std::move(rpc), std::move(tokens))) {
  net::HttpServerOptions o;
  o.max_header_bytes = 8192;
  o.max_body_bytes = kMaxBody;  // for /mcp; elsewhere a body is read (and ignored) for the 405
  o.max_connections = control.max_connections;
  o.io_timeout = std::chrono::seconds(10);
  // A slow client is dropped, never buffered without bound (remote strategies' market data is
  // conflated well before this: RemoteHub).
  o.max_ws_queue = kMaxQueued;
  o.max_ws_queued_bytes = control.max_queued_bytes;
  o.max_ws_message = control.max_message_bytes;
  o.socket_send_buffer = 128 * 1024;
  o.too_large_body = "request body too large\n";
  const std::string& address = control.address;
  const std::uint16_t port = control.port;
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
      [impl](const net::HttpServerRequest& req) {
        return req.path() == "/ws" && !from_a_web_page(req, impl->server->tls());
      });
}

ControlServer::~ControlServer() { stop(); }

std::uint16_t ControlServer::port() const noexcept { return impl_->server->port(); }

void ControlServer::set_mcp_handler(McpHandler handler) { impl_->mcp = std::move(handler); }

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

void ControlServer::set_tokens(std::vector<ControlToken> tokens) {
  impl_->tokens = std::move(tokens);
  // A connection opened with a token that is gone, or whose name or scopes changed, is closed
  // (a remote strategy's slot is released as on any drop): a revocation takes effect now, and a
  // client that reconnects gets its new scopes. Copied first: a close removes the client.
  const auto clients = impl_->clients;
  for (const auto& c : clients) {
    if (c->token.empty()) continue;
    const ControlToken* t = impl_->find_token(c->token);
    if (t != nullptr && t->name == c->rpc.who && t->scopes.read == c->rpc.scopes.read &&
        t->scopes.admin == c->rpc.scopes.admin && t->scopes.trade == c->rpc.scopes.trade) {
      continue;
    }
    log::log_event(spdlog::level::warn, "ctl", "control_client_closed",
                   log::LogFields()
                       .str("who", c->rpc.who)
                       .str("why", t == nullptr ? "token revoked" : "token's scopes changed"));
    c->token.clear();
    c->conn->close();
  }
}

}  // namespace cwts::daemon
