// The loopback Binance look-alike used by the feed tests: capture replay, depth snapshots from
// its own book, fault injection.
#include "ws_test_server.hpp"

#include <charconv>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <type_traits>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "cwts/core/decimal.hpp"
#include "cwts/md/frame_parser.hpp"
#include "cwts/md/order_book.hpp"

namespace cwts::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
namespace md = cwts::md;

namespace {

struct Frame {
  std::string payload;
  bool depth = false;
  md::DepthMsg d{};
  std::vector<md::Level> bids, asks;
};

std::string_view query_param(std::string_view target, std::string_view key) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view kv = rest.substr(0, amp);
    const auto eq = kv.find('=');
    if (eq != std::string_view::npos && kv.substr(0, eq) == key) return kv.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return {};
}

void append_fixed(std::string& out, std::int64_t v) {
  char buf[48];
  out.append(buf, cwts::core::format_fixed(v, md::kWireDecimals, buf));
}

}  // namespace

struct WsTestServer::Impl {
  explicit Impl(WsTestServerOptions o) : opts(std::move(o)), acceptor(ioc) {}

  // ---- market: server thread only ---------------------------------------------------------

  void load() {
    std::ifstream in(opts.capture_path);
    if (!in) throw std::runtime_error("ws_test_server: cannot read " + opts.capture_path);
    md::FrameParser parser;
    md::ParsedFrame f;
    bool have_snapshot = false;
    for (std::string line; std::getline(in, line);) {
      const auto sp = line.find(' ');
      if (sp == std::string::npos) continue;
      const std::string_view payload = std::string_view(line).substr(sp + 1);
      if (parser.parse(payload, f) != md::ParseErrc::kOk) {
        throw std::runtime_error("ws_test_server: unparsable capture line");
      }
      if (f.kind == md::FrameKind::kDepthSnapshot && !have_snapshot) {
        book.load(f.bids, f.asks);
        market_id = f.depth.last_id;
        first_snapshot = std::string(payload);
        first_snapshot_id = market_id;
        snapshot_pos = frames.size();
        have_snapshot = true;
        continue;
      }
      Frame fr;
      fr.payload = std::string(payload);
      if (f.kind == md::FrameKind::kDepthUpdate) {
        fr.depth = true;
        fr.d = f.depth;
        fr.bids = f.bids;
        fr.asks = f.asks;
      }
      frames.push_back(std::move(fr));
    }
    if (!have_snapshot) throw std::runtime_error("ws_test_server: capture has no REST snapshot");
    update([&](Stats& s) { s.market_id = market_id; });
  }

  // Moves the market past frame `cursor` (whether or not any client gets to see it).
  const Frame& advance() {
    const Frame& fr = frames[cursor++];
    if (fr.depth && fr.d.last_id > market_id) {
      for (const auto& l : fr.bids) book.set_bid(l.px, l.qty);
      for (const auto& l : fr.asks) book.set_ask(l.px, l.qty);
      market_id = fr.d.last_id;
    }
    update([&](Stats& s) {
      s.market_id = market_id;
      s.replay_done = cursor >= frames.size();
    });
    return fr;
  }

  std::string snapshot_json(std::size_t limit) const {
    std::string out = "{\"lastUpdateId\":" + std::to_string(market_id) + ",\"bids\":[";
    const auto side = [&](std::size_t n, auto level) {
      for (std::size_t i = 0; i < std::min(n, limit); ++i) {
        if (i != 0) out += ',';
        out += "[\"";
        append_fixed(out, level(i).px.raw);
        out += "\",\"";
        append_fixed(out, level(i).qty.raw);
        out += "\"]";
      }
    };
    side(book.bid_levels(), [&](std::size_t i) { return book.bid(i); });
    out += "],\"asks\":[";
    side(book.ask_levels(), [&](std::size_t i) { return book.ask(i); });
    out += "]}";
    return out;
  }

  // ---- stats: written on the server thread, read anywhere ----------------------------------

  template <class F>
  void update(F&& f) {
    {
      std::lock_guard<std::mutex> lock(mu);
      f(stats);
    }
    cv.notify_all();
  }

  void start();
  void accept();

  // Declared first: destroyed last, after everything that refers to it.
  asio::io_context ioc{1};
  WsTestServerOptions opts;
  std::optional<ssl::context> tls;
  tcp::acceptor acceptor;
  std::uint16_t port = 0;
  std::thread thread;

  std::vector<Frame> frames;
  std::size_t snapshot_pos = 0;
  md::OrderBook book;
  std::uint64_t market_id = 0;
  std::size_t cursor = 0;
  std::string first_snapshot;  // the capture's REST body, verbatim
  std::uint64_t first_snapshot_id = 0;
  std::uint32_t failed_snapshots = 0;
  bool gate_passed = false;
  std::function<void()> gate_waiter;    // resumes the session waiting at the snapshot gate
  std::function<void()> retire_active;  // retires the session that currently receives frames
  bool drop_done = false, stall_done = false, skip_done = false, ping_done = false,
       shutdown_done = false;

  mutable std::mutex mu;
  mutable std::condition_variable cv;
  Stats stats;
};

namespace {

using Impl = WsTestServer::Impl;

// One replaying WebSocket session. Only the newest session sends; older ones are retired (they
// keep reading so that pings, pongs and close frames are still handled).
template <class Stream>
class WsSession : public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(Stream&& s, Impl& srv) : ws_(std::move(s)), timer_(srv.ioc), srv_(srv) {}

  void accept(http::request<http::string_body> req) {
    req_ = std::move(req);
    srv_.update([&](WsTestServer::Stats& st) { st.ws_targets.emplace_back(req_.target()); });
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view payload) {
      if (kind == websocket::frame_type::pong) {
        srv_.update([&](WsTestServer::Stats& st) { st.pongs.emplace_back(payload); });
      } else if (kind == websocket::frame_type::close) {
        srv_.update([&](WsTestServer::Stats& st) { ++st.closes_received; });
      }
    });
    ws_.async_accept(req_, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->activate();
      self->read();
      self->pump();
    });
  }

 private:
  void activate() {
    if (srv_.retire_active) srv_.retire_active();
    std::weak_ptr<WsSession> weak = this->shared_from_this();
    srv_.retire_active = [weak] {
      if (auto s = weak.lock()) {
        s->retired_ = true;
        s->timer_.cancel();
      }
    };
    srv_.update([](WsTestServer::Stats& st) { ++st.ws_sessions; });
  }

  void read() {
    ws_.async_read(rbuf_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->closed_ = true;
        self->timer_.cancel();
        return;
      }
      self->rbuf_.consume(self->rbuf_.size());
      self->read();
    });
  }

  void next() {
    if (srv_.opts.frame_interval.count() == 0) {
      asio::post(srv_.ioc, [self = this->shared_from_this()] { self->pump(); });
      return;
    }
    timer_.expires_after(srv_.opts.frame_interval);
    timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (!ec) self->pump();
    });
  }

  void pump() {
    if (closed_ || retired_ || muted_) return;
    Impl& m = srv_;
    const WsTestServerOptions& o = m.opts;
    if (m.cursor >= m.frames.size()) return;  // replay finished: stay connected, say nothing
    const auto i = static_cast<std::int64_t>(m.cursor);
    auto self = this->shared_from_this();

    if (i == o.drop_at && !m.drop_done) {
      m.drop_done = true;
      closed_ = true;
      m.update([](WsTestServer::Stats& st) { ++st.drops; });
      beast::get_lowest_layer(ws_).close();  // no close frame: the connection just dies
      return;
    }
    if (i == o.stall_at && !m.stall_done) {
      m.stall_done = true;
      m.update([](WsTestServer::Stats& st) { ++st.stalls; });
      timer_.expires_after(o.stall_for);
      timer_.async_wait([self](beast::error_code ec) {
        if (!ec) self->pump();
      });
      return;
    }
    if (o.gate_at_snapshot && !m.gate_passed && m.cursor == m.snapshot_pos) {
      m.gate_waiter = [weak = std::weak_ptr<WsSession>(self)] {
        if (auto s = weak.lock()) s->pump();
      };
      return;
    }
    if (i == o.ping_at && !m.ping_done) {
      m.ping_done = true;
      m.update([](WsTestServer::Stats& st) { ++st.pings_sent; });
      ws_.async_ping(websocket::ping_data(o.ping_payload.c_str()), [self](beast::error_code ec) {
        if (ec) return;
        self->pump();
      });
      return;
    }
    if (i == o.shutdown_at && !m.shutdown_done) {
      m.shutdown_done = true;
      muted_ = true;
      m.update([](WsTestServer::Stats& st) { ++st.shutdowns_sent; });
      out_ = R"({"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1633998600000}})";
      ws_.text(true);
      ws_.async_write(asio::buffer(out_), [self](beast::error_code, std::size_t) {});
      return;
    }

    const Frame& fr = m.advance();
    if (fr.depth && o.skip_depth_from >= 0 && i >= o.skip_depth_from && !m.skip_done) {
      m.skip_done = true;
      m.update([](WsTestServer::Stats& st) { ++st.skips; });
      return next();
    }
    ws_.text(true);
    ws_.async_write(asio::buffer(fr.payload), [self](beast::error_code ec, std::size_t) {
      if (ec) {
        self->closed_ = true;
        return;
      }
      self->srv_.update([](WsTestServer::Stats& st) { ++st.frames_sent; });
      self->next();
    });
  }

  websocket::stream<Stream> ws_;
  asio::steady_timer timer_;
  Impl& srv_;
  http::request<http::string_body> req_;
  beast::flat_buffer rbuf_;
  std::string out_;
  bool closed_ = false;
  bool retired_ = false;
  bool muted_ = false;
};

// One accepted TCP (or TLS) connection: HTTP requests until it upgrades to a WebSocket.
template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(Stream&& s, Impl& srv) : stream_(std::move(s)), srv_(srv) {}

  void start() {
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->read();
                              });
    } else {
      read();
    }
  }

 private:
  void read() {
    req_ = {};
    http::async_read(stream_, buf_, req_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       if (!ec) self->handle();
                     });
  }

  void handle() {
    if (websocket::is_upgrade(req_)) {
      const std::string_view target(req_.target().data(), req_.target().size());
      if (target.rfind("/stream?streams=", 0) != 0 && !srv_.opts.ws_any_target)
        return respond(404, R"({"code":-1,"msg":"no"})");
      auto ws = std::make_shared<WsSession<Stream>>(std::move(stream_), srv_);
      ws->accept(std::move(req_));
      return;
    }
    const std::string_view target(req_.target().data(), req_.target().size());
    srv_.update([&](WsTestServer::Stats& st) {
      st.http_targets.emplace_back(target);
      if (!counted_) ++st.http_connections;
      counted_ = true;
    });
    if (target.rfind("/api/v3/depth?", 0) != 0) {
      return respond(404, R"({"code":-1,"msg":"not found"})");
    }
    if (query_param(target, "symbol") != srv_.opts.symbol) {
      return respond(400, R"({"code":-1121,"msg":"Invalid symbol."})");
    }
    std::size_t limit = 100;  // Binance's default
    const std::string_view l = query_param(target, "limit");
    if (!l.empty()) (void)std::from_chars(l.data(), l.data() + l.size(), limit);
    const auto now = std::chrono::steady_clock::now();
    if (srv_.failed_snapshots < srv_.opts.fail_snapshots) {
      ++srv_.failed_snapshots;
      srv_.update([&](WsTestServer::Stats& st) {
        ++st.depth_requests;
        st.depth_request_times.push_back(now);
      });
      return respond(srv_.opts.fail_status, R"({"code":-1003,"msg":"Too much request weight."})",
                     srv_.opts.retry_after_s);
    }
    const std::string body =
        srv_.opts.stale_snapshots ? srv_.first_snapshot : srv_.snapshot_json(limit);
    const std::uint64_t id = srv_.opts.stale_snapshots ? srv_.first_snapshot_id : srv_.market_id;
    srv_.update([&](WsTestServer::Stats& st) {
      ++st.depth_requests;
      st.depth_request_times.push_back(now);
      st.snapshot_ids.push_back(id);
    });
    if (!srv_.gate_passed) {
      srv_.gate_passed = true;
      if (srv_.gate_waiter) asio::post(srv_.ioc, std::exchange(srv_.gate_waiter, nullptr));
    }
    respond(200, body);
  }

  void respond(unsigned status, std::string body, std::uint32_t retry_after_s = 0) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(status), req_.version());
    res->set(http::field::content_type, "application/json;charset=UTF-8");
    if (retry_after_s != 0) res->set(http::field::retry_after, std::to_string(retry_after_s));
    res->keep_alive(req_.keep_alive());
    res->body() = std::move(body);
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (res->keep_alive()) {
                          self->read();
                        } else {
                          beast::get_lowest_layer(self->stream_).close();
                        }
                      });
  }

  Stream stream_;
  Impl& srv_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  bool counted_ = false;
};

}  // namespace

void WsTestServer::Impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket sock) {
    if (ec) return;  // closed
    if (tls) {
      auto s = std::make_shared<HttpSession<beast::ssl_stream<beast::tcp_stream>>>(
          beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(sock)), *tls), *this);
      s->start();
    } else {
      auto s = std::make_shared<HttpSession<beast::tcp_stream>>(beast::tcp_stream(std::move(sock)),
                                                                *this);
      s->start();
    }
    accept();
  });
}

void WsTestServer::Impl::start() {
  load();
  if (!opts.tls_cert_pem.empty()) {
    tls.emplace(ssl::context::tls_server);
    tls->use_certificate_chain(asio::buffer(opts.tls_cert_pem));
    tls->use_private_key(asio::buffer(opts.tls_key_pem), ssl::context::pem);
  }
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  acceptor.open(ep.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen();
  port = acceptor.local_endpoint().port();
  accept();
  thread = std::thread([this] { ioc.run(); });
}

WsTestServer::WsTestServer(WsTestServerOptions opts)
    : impl_(std::make_unique<Impl>(std::move(opts))) {
  impl_->start();
}

WsTestServer::~WsTestServer() {
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::uint16_t WsTestServer::port() const { return impl_->port; }

std::string WsTestServer::ws_url() const {
  return std::string(impl_->tls ? "wss" : "ws") + "://127.0.0.1:" + std::to_string(port());
}

std::string WsTestServer::rest_url() const {
  return std::string(impl_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port());
}

std::size_t WsTestServer::stream_frames() const { return impl_->frames.size(); }

WsTestServer::Stats WsTestServer::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

bool WsTestServer::wait_for(const std::function<bool(const Stats&)>& pred,
                            std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return pred(impl_->stats); });
}

}  // namespace cwts::test
