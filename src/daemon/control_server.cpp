#include "cwts/daemon/control_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <list>
#include <optional>
#include <stdexcept>

namespace cwts::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kIoTimeout = std::chrono::seconds(10);
constexpr std::size_t kMaxHeaderBytes = 8192;
}  // namespace

struct ControlServer::Impl : std::enable_shared_from_this<ControlServer::Impl> {
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
      parser_->body_limit(0);  // GET only: a body is refused
      stream_.expires_after(kIoTimeout);
      http::async_read(stream_, buffer_, *parser_,
                       [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(beast::error_code ec) {
      if (ec) return finish();  // closed, timed out or malformed: drop the connection
      const auto& req = parser_->get();
      HttpResponse r;
      if (req.method() != http::verb::get && req.method() != http::verb::head) {
        r.status = 405;
        r.body = "only GET\n";
      } else {
        try {
          r = owner_->handler_(std::string(req.target()));
        } catch (const std::exception& e) {
          r = HttpResponse{500, "text/plain; charset=utf-8", std::string("error: ") + e.what() + "\n"};
        }
      }
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
      http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code wec, std::size_t) {
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
    std::optional<http::request_parser<http::empty_body>> parser_;
    http::response<http::string_body> res_;
  };

  Impl(asio::io_context& ioc, Handler handler) : acceptor_(ioc), handler_(std::move(handler)) {}

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
      throw std::runtime_error("control: cannot listen on " + address + ":" + std::to_string(port) + ": " +
                               ec.message());
    }
  }

  void accept() {
    acceptor_.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
      if (!ec) {
        if (self->sessions_.size() >= kMaxConnections) {
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
  }

  tcp::acceptor acceptor_;
  Handler handler_;
  std::list<std::weak_ptr<Session>> sessions_;
};

ControlServer::ControlServer(asio::io_context& ioc, const std::string& address, std::uint16_t port,
                             Handler handler)
    : impl_(std::make_shared<Impl>(ioc, std::move(handler))) {
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

}  // namespace cwts::daemon
