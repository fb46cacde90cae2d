#include "ctl/control_server.hpp"

#include <chrono>
#include <deque>
#include <list>
#include <optional>
#include <stdexcept>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <openssl/crypto.h>

namespace cwts::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kIoTimeout = std::chrono::seconds(10);
constexpr std::size_t kMaxHeaderBytes = 8192;
}  // namespace

struct ControlServer::Impl : std::enable_shared_from_this<ControlServer::Impl> {
  // A WebSocket client: reads JSON-RPC requests, writes replies and notifications from a bounded
  // queue, one write in flight at a time.
  struct WsSession : std::enable_shared_from_this<WsSession> {
    WsSession(std::shared_ptr<Impl> owner, beast::tcp_stream&& stream, bool authorized)
        : owner_(std::move(owner)), ws_(std::move(stream)) {
      client_.authorized = authorized;
    }

    void start(http::request<http::string_body> req) {
      beast::get_lowest_layer(ws_).expires_never();
      ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
      ws_.read_message_max(64 * 1024);
      ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
        if (ec) return self->finish();
        self->read();
      });
    }

    void send(std::string msg) {
      if (closed_) return;
      if (queue_.size() >= kMaxQueued)
        return close();  // too slow: drop it, never buffer without bound
      queue_.push_back(std::move(msg));
      if (queue_.size() == 1) write();
    }

    void close() {
      if (closed_) return;
      closed_ = true;
      beast::error_code ec;
      beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
      beast::get_lowest_layer(ws_).close();
    }

    RpcClient client_;

   private:
    void read() {
      ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec) return self->finish();
        std::string msg = beast::buffers_to_string(self->buffer_.data());
        self->buffer_.consume(self->buffer_.size());
        std::string reply;
        if (self->owner_->rpc_) {
          try {
            reply = self->owner_->rpc_(msg, self->client_);
          } catch (const std::exception&) {
            reply = std::string(
                R"({"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}})");
          }
        }
        if (!reply.empty()) self->send(std::move(reply));
        self->read();
      });
    }

    void write() {
      ws_.text(true);
      ws_.async_write(asio::buffer(queue_.front()),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->finish();
                        self->queue_.pop_front();
                        if (!self->queue_.empty()) self->write();
                      });
    }

    void finish() {
      close();
      owner_->forget_ws(this);
    }

    std::shared_ptr<Impl> owner_;
    websocket::stream<beast::tcp_stream> ws_;
    beast::flat_buffer buffer_;
    std::deque<std::string> queue_;
    bool closed_ = false;
  };

  struct Session : std::enable_shared_from_this<Session> {
    Session(std::shared_ptr<Impl> owner, tcp::socket socket)
        : owner_(std::move(owner)), stream_(std::move(socket)) {}

    void start() { read(); }
    void close() {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_.close();
    }

   private:
    void read() {
      parser_.emplace();
      parser_->header_limit(kMaxHeaderBytes);
      parser_->body_limit(4096);  // read (and ignore) a small body so a POST gets its 405
      stream_.expires_after(kIoTimeout);
      http::async_read(
          stream_, buffer_, *parser_,
          [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(beast::error_code ec) {
      if (ec) return finish();  // closed, timed out or malformed: drop the connection
      const auto& req = parser_->get();
      if (websocket::is_upgrade(req)) {
        if (req.target() != "/ws") {
          HttpResponse nf{404, "text/plain; charset=utf-8", "WebSocket: only at /ws\n"};
          return respond(req, std::move(nf));
        }
        const auto auth = req[http::field::authorization];
        const bool authorized = owner_->authorized(std::string_view(auth.data(), auth.size()));
        auto ws = std::make_shared<WsSession>(owner_, std::move(stream_), authorized);
        owner_->ws_sessions_.push_back(ws);
        owner_->forget(this);
        ws->start(parser_->release());
        return;
      }
      HttpResponse r;
      if (req.method() != http::verb::get && req.method() != http::verb::head) {
        r.status = 405;
        r.body = "only GET\n";
      } else {
        try {
          r = owner_->handler_(std::string(req.target()));
        } catch (const std::exception& e) {
          r = HttpResponse{500, "text/plain; charset=utf-8",
                           std::string("error: ") + e.what() + "\n"};
        }
      }
      respond(req, std::move(r));
    }

    void respond(const http::request<http::string_body>& req, HttpResponse r) {
      res_ = {};
      res_.result(r.status);
      res_.version(req.version());
      res_.set(http::field::server, "cwtsd");
      res_.set(http::field::content_type, r.content_type);
      if (r.status == 405) res_.set(http::field::allow, "GET, HEAD");
      res_.keep_alive(req.keep_alive());
      if (req.method() != http::verb::head) res_.body() = std::move(r.body);
      res_.prepare_payload();
      stream_.expires_after(kIoTimeout);
      http::async_write(stream_, res_,
                        [self = shared_from_this()](beast::error_code wec, std::size_t) {
                          if (wec || !self->res_.keep_alive()) return self->finish();
                          self->read();
                        });
    }

    void finish() {
      close();
      owner_->forget(this);
    }

    std::shared_ptr<Impl> owner_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    http::response<http::string_body> res_;
  };

  Impl(asio::io_context& ioc, Handler handler, RpcHandler rpc, std::string token)
      : acceptor_(ioc),
        handler_(std::move(handler)),
        rpc_(std::move(rpc)),
        token_(std::move(token)) {}

  // Constant-time comparison of "Bearer <token>".
  [[nodiscard]] bool authorized(std::string_view header) const {
    constexpr std::string_view kScheme = "Bearer ";
    if (token_.empty() || header.size() != kScheme.size() + token_.size() ||
        header.substr(0, kScheme.size()) != kScheme) {
      return false;
    }
    return CRYPTO_memcmp(header.data() + kScheme.size(), token_.data(), token_.size()) == 0;
  }

  void forget_ws(WsSession* s) {
    ws_sessions_.remove_if([s](const std::weak_ptr<WsSession>& w) {
      auto p = w.lock();
      return !p || p.get() == s;
    });
  }

  void broadcast(const std::string& topic, const std::string& message) {
    for (auto& w : ws_sessions_) {
      if (auto s = w.lock(); s && s->client_.topics.count(topic) != 0) s->send(message);
    }
  }

  void listen(const std::string& address, std::uint16_t port) {
    beast::error_code ec;
    const auto addr = asio::ip::make_address(address, ec);
    if (ec) throw std::runtime_error("control: \"" + address + "\" is not an IP address");
    const tcp::endpoint ep(addr, port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error("control: cannot listen on " + address + ":" + std::to_string(port) +
                               ": " + ec.message());
    }
  }

  void accept() {
    acceptor_.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
      if (!ec) {
        if (self->sessions_.size() + self->ws_sessions_.size() >= kMaxConnections) {
          beast::error_code ignored;
          socket.close(ignored);  // over the cap: refuse rather than queue
        } else {
          auto s = std::make_shared<Session>(self, std::move(socket));
          self->sessions_.push_back(s);
          s->start();
        }
      }
      self->accept();
    });
  }

  void forget(Session* s) {
    sessions_.remove_if([s](const std::weak_ptr<Session>& w) {
      auto p = w.lock();
      return !p || p.get() == s;
    });
  }

  void stop() {
    beast::error_code ec;
    acceptor_.close(ec);
    for (auto& w : sessions_) {
      if (auto s = w.lock()) s->close();
    }
    sessions_.clear();
    for (auto& w : ws_sessions_) {
      if (auto s = w.lock()) s->close();
    }
    ws_sessions_.clear();
  }

  tcp::acceptor acceptor_;
  Handler handler_;
  RpcHandler rpc_;
  std::string token_;
  std::list<std::weak_ptr<Session>> sessions_;
  std::list<std::weak_ptr<WsSession>> ws_sessions_;
};

ControlServer::ControlServer(asio::io_context& ioc, const std::string& address, std::uint16_t port,
                             Handler handler, RpcHandler rpc, std::string token)
    : impl_(std::make_shared<Impl>(ioc, std::move(handler), std::move(rpc), std::move(token))) {
  impl_->listen(address, port);
  impl_->accept();
}

ControlServer::~ControlServer() { stop(); }

std::uint16_t ControlServer::port() const noexcept {
  beast::error_code ec;
  const auto ep = impl_->acceptor_.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void ControlServer::stop() {
  if (impl_) impl_->stop();
}

void ControlServer::broadcast(const std::string& topic, const std::string& message) {
  impl_->broadcast(topic, message);
}

std::size_t ControlServer::rpc_clients() const noexcept { return impl_->ws_sessions_.size(); }

}  // namespace cwts::daemon
