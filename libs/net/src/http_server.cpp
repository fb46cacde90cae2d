#include "cwts/net/http_server.hpp"

#include <deque>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <unordered_map>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/err.h>

#include "cwts/core/ascii.hpp"
#include "cwts/net/tls_server.hpp"

namespace cwts::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

std::string_view HttpServerRequest::path() const noexcept {
  const std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view HttpServerRequest::query() const noexcept {
  const std::string_view t = target;
  const std::size_t q = t.find('?');
  return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
}

const std::string* HttpServerRequest::header(std::string_view lower_name) const noexcept {
  for (const auto& [name, value] : headers)
    if (name == lower_name) return &value;
  return nullptr;
}

namespace {

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

template <class Stream>
constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

// What the server holds of an HTTP connection, whatever its stream: enough to close it at stop().
struct SessionBase {
  virtual ~SessionBase() = default;
  virtual void close() = 0;
};

template <class Stream>
void close_stream(Stream& s) {
  beast::error_code ec;
  auto& tcp_stream = beast::get_lowest_layer(s);
  tcp_stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  tcp_stream.close();
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  // A WebSocket connection: reads messages for its owner's handler, writes queued frames one at a
  // time.
  template <class Stream>
  struct WsSession final : WsConnection, std::enable_shared_from_this<WsSession<Stream>> {
    WsSession(std::shared_ptr<Impl> owner, Stream&& stream)
        : owner_(std::move(owner)), ws_(std::move(stream)) {}

    void start(http::request<http::string_body> req, HttpServerRequest view) {
      beast::get_lowest_layer(ws_).expires_never();
      ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
      ws_.read_message_max(owner_->options_.max_ws_message);
      ws_.async_accept(
          req, [self = this->shared_from_this(), view = std::move(view)](beast::error_code ec) {
            if (ec) return self->finish();
            self->handlers_ = self->owner_->upgrade_(view, self);
            self->read();
          });
    }

    void send(std::string text) override {
      if (closed_) return;
      if (queue_.size() >= owner_->options_.max_ws_queue ||
          queued_bytes_ + text.size() > owner_->options_.max_ws_queued_bytes) {
        return close();
      }
      queued_bytes_ += text.size();
      queue_.push_back(std::move(text));
      if (queue_.size() == 1) write();
    }

    void close() override {
      if (closed_) return;
      closed_ = true;
      close_stream(ws_);
      if (handlers_.on_close) {
        auto done = std::move(handlers_.on_close);
        handlers_ = {};
        done();
      }
      owner_->ws_sessions_.erase(this);
    }

    [[nodiscard]] bool is_open() const noexcept override { return !closed_; }
    [[nodiscard]] std::size_t queued_bytes() const noexcept override { return queued_bytes_; }

   private:
    void read() {
      ws_.async_read(buffer_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec) return self->finish();
        const std::string msg = beast::buffers_to_string(self->buffer_.data());
        self->buffer_.consume(self->buffer_.size());
        if (self->handlers_.on_message) self->handlers_.on_message(msg);
        if (!self->closed_) self->read();
      });
    }

    void write() {
      ws_.text(true);
      ws_.async_write(asio::buffer(queue_.front()),
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->finish();
                        self->queued_bytes_ -= self->queue_.front().size();
                        self->queue_.pop_front();
                        if (!self->queue_.empty()) self->write();
                      });
    }

    void finish() { close(); }

    std::shared_ptr<Impl> owner_;
    websocket::stream<Stream> ws_;
    beast::flat_buffer buffer_;
    std::deque<std::string> queue_;
    std::size_t queued_bytes_ = 0;
    WsHandlers handlers_;
    bool closed_ = false;
  };

  // One connection: (TLS: the handshake,) read a request, hand it to the handler, write its
  // answer, read the next.
  template <class Stream>
  struct Session final : SessionBase, std::enable_shared_from_this<Session<Stream>> {
    Session(std::shared_ptr<Impl> owner, tcp::socket socket) requires(!kTls<Stream>)
        : owner_(std::move(owner)), stream_(std::move(socket)) {}
    Session(std::shared_ptr<Impl> owner, tcp::socket socket,
            asio::ssl::context& ctx) requires kTls<Stream>
        : owner_(std::move(owner)), stream_(beast::tcp_stream(std::move(socket)), ctx) {}

    void start() {
      if constexpr (kTls<Stream>) {
        beast::get_lowest_layer(stream_).expires_after(owner_->options_.io_timeout);
        stream_.async_handshake(asio::ssl::stream_base::server,
                                [self = this->shared_from_this()](beast::error_code ec) {
                                  if (ec) return self->handshake_failed(ec);
                                  self->read();
                                });
      } else {
        read();
      }
    }

    void close() override {
      if (closed_) return;
      closed_ = true;
      close_stream(stream_);
    }

   private:
    void handshake_failed(beast::error_code ec) {
      if (!closed_ && owner_->options_.on_tls_error) {
        beast::error_code ignored;
        const auto peer = beast::get_lowest_layer(stream_).socket().remote_endpoint(ignored);
        std::string where = peer.address().to_string();
        if (peer.address().is_v6()) where = "[" + where + "]";
        std::string why = ec.message();
        if (ec.category() == asio::error::get_ssl_category()) {
          // OpenSSL's reason ("http request", "wrong version number", "tlsv1 alert unknown ca").
          if (const char* r = ERR_reason_error_string(static_cast<unsigned long>(ec.value())))
            why = r;
        }
        owner_->options_.on_tls_error(where + ":" + std::to_string(peer.port()), why);
      }
      finish();
    }

    void read() {
      parser_.emplace();
      parser_->header_limit(static_cast<std::uint32_t>(owner_->options_.max_header_bytes));
      parser_->body_limit(owner_->options_.max_body_bytes);
      beast::get_lowest_layer(stream_).expires_after(owner_->options_.io_timeout);
      http::async_read(stream_, buffer_, *parser_,
                       [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                         self->on_read(ec);
                       });
    }

    void on_read(beast::error_code ec) {
      if (ec == http::error::body_limit) {
        HttpServerResponse r;
        r.status = 413;
        r.body = owner_->options_.too_large_body;
        keep_alive_ = false;
        return write(std::move(r));
      }
      if (ec) return finish();
      auto msg = parser_->release();
      keep_alive_ = msg.keep_alive();
      HttpServerRequest req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      req.body = msg.body();
      for (const auto& f : msg) {
        const auto n = f.name_string();
        req.headers.emplace_back(core::ascii_lower(std::string_view(n.data(), n.size())),
                                 std::string(f.value()));
      }
      head_ = msg.method() == http::verb::head;
      if (websocket::is_upgrade(msg) && owner_->upgrade_ &&
          (!owner_->upgrade_accepts_ || owner_->upgrade_accepts_(req))) {
        auto ws = std::make_shared<WsSession<Stream>>(owner_, std::move(stream_));
        owner_->ws_sessions_.emplace(ws.get(), ws);
        ws->start(std::move(msg), std::move(req));
        closed_ = true;  // the socket now belongs to the WebSocket
        owner_->sessions_.erase(this);
        return;
      }
      // The handler may take its time; the client waits.
      beast::get_lowest_layer(stream_).expires_never();
      const std::uint64_t generation = ++generation_;
      std::weak_ptr<Session> weak = this->shared_from_this();
      owner_->handler_(std::move(req), [weak, generation](HttpServerResponse r) {
        const auto self = weak.lock();
        if (!self || self->closed_ || self->generation_ != generation || self->answered_) return;
        self->write(std::move(r));
      });
    }

    void write(HttpServerResponse r) {
      answered_ = true;
      auto res = std::make_shared<http::response<http::string_body>>(
          static_cast<http::status>(r.status), 11);
      res->set(http::field::server, "cwts");
      res->set(http::field::content_type, r.content_type);
      for (auto& [name, value] : r.headers) res->set(name, value);
      res->body() = std::move(r.body);
      res->keep_alive(keep_alive_);
      res->prepare_payload();
      if (head_) {  // the GET's headers, Content-Length included, without the body
        const auto n = res->body().size();
        res->body().clear();
        res->content_length(n);
      }
      beast::get_lowest_layer(stream_).expires_after(owner_->options_.io_timeout);
      http::async_write(stream_, *res,
                        [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
                          if (ec || !self->keep_alive_) return self->finish();
                          self->answered_ = false;
                          self->read();
                        });
    }

    void finish() {
      close();
      owner_->sessions_.erase(this);
    }

    std::shared_ptr<Impl> owner_;
    Stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::uint64_t generation_ = 0;
    bool keep_alive_ = true;
    bool head_ = false;
    bool answered_ = false;
    bool closed_ = false;
  };

  Impl(asio::io_context& ioc, Handler h, HttpServerOptions o)
      : acceptor_(ioc), handler_(std::move(h)), options_(std::move(o)) {
    const bool cert = !options_.tls_cert_file.empty(), key = !options_.tls_key_file.empty();
    if (cert != key) {
      throw std::runtime_error(
          cert
              ? "TLS certificate " + options_.tls_cert_file + " given without its private key file"
              : "TLS private key " + options_.tls_key_file + " given without its certificate file");
    }
    if (cert) tls_.emplace(make_tls_server_context(options_.tls_cert_file, options_.tls_key_file));
  }

  template <class S, class... Args>
  void start_session(tcp::socket s, Args&... args) {
    auto session = std::make_shared<Session<S>>(shared_from_this(), std::move(s), args...);
    sessions_.emplace(session.get(), session);
    session->start();
  }

  void accept() {
    acceptor_.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (!self->acceptor_.is_open()) return;
      if (!ec) {
        if (self->sessions_.size() >= self->options_.max_connections) {
          beast::error_code ignored;
          s.close(ignored);
        } else {
          beast::error_code ignored;
          s.set_option(tcp::no_delay(true), ignored);
          if (self->options_.socket_send_buffer > 0) {
            s.set_option(asio::socket_base::send_buffer_size(
                             static_cast<int>(self->options_.socket_send_buffer)),
                         ignored);
          }
          if (self->tls_) {
            self->start_session<TlsStream>(std::move(s), *self->tls_);
          } else {
            self->start_session<PlainStream>(std::move(s));
          }
        }
      }
      self->accept();
    });
  }

  tcp::acceptor acceptor_;
  Handler handler_;
  HttpServerOptions options_;
  std::optional<asio::ssl::context> tls_;  // set: every connection is TLS
  // The open connections, owned here: a session waiting for its answer has no operation pending
  // that would keep it alive. A session removes itself when it ends.
  std::unordered_map<SessionBase*, std::shared_ptr<SessionBase>> sessions_;
  std::unordered_map<WsConnection*, std::shared_ptr<WsConnection>> ws_sessions_;
  Upgrade upgrade_;
  std::function<bool(const HttpServerRequest&)> upgrade_accepts_;
};

HttpServer::HttpServer(asio::io_context& ioc, const std::string& address, std::uint16_t port,
                       Handler handler, HttpServerOptions options)
    : impl_(std::make_shared<Impl>(ioc, std::move(handler), std::move(options))) {
  beast::error_code ec;
  const auto addr = asio::ip::make_address(address, ec);
  if (ec) throw std::runtime_error("not an IP address: " + address);
  const tcp::endpoint ep(addr, port);
  auto& a = impl_->acceptor_;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + address + ":" + std::to_string(port) + ": " +
                             ec.message());
  }
  impl_->accept();
}

HttpServer::~HttpServer() { stop(); }

std::uint16_t HttpServer::port() const noexcept {
  beast::error_code ec;
  const auto ep = impl_->acceptor_.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void HttpServer::stop() {
  beast::error_code ec;
  impl_->acceptor_.close(ec);
  auto sessions = std::move(impl_->sessions_);
  impl_->sessions_.clear();
  for (const auto& [raw, s] : sessions) s->close();
  auto ws = std::move(impl_->ws_sessions_);
  impl_->ws_sessions_.clear();
  for (const auto& [raw, s] : ws) s->close();
}

std::size_t HttpServer::connections() const noexcept {
  return impl_->sessions_.size() + impl_->ws_sessions_.size();
}

bool HttpServer::tls() const noexcept { return impl_->tls_.has_value(); }

void HttpServer::set_upgrade(Upgrade upgrade,
                             std::function<bool(const HttpServerRequest&)> accepts) {
  impl_->upgrade_ = std::move(upgrade);
  impl_->upgrade_accepts_ = std::move(accepts);
}

}  // namespace cwts::net
