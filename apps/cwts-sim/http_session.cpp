// SimServer's HTTP/1.1 sessions: REST requests to the venue, the /_sim/ control endpoints, the
// hold and delay faults, and the upgrade to a WebSocket stream or WebSocket API session.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "cwts/binance/json_responses.hpp"
#include "cwts/binance/market_json.hpp"
#include "cwts/binance/request.hpp"
#include "cwts/core/json_writer.hpp"
#include "json_log.hpp"
#include "rest_api.hpp"
#include "sim_server_impl.hpp"
#include "venue.hpp"

namespace cwts::sim_server {

namespace {

using detail::Droppable;

// --- HTTP sessions ----------------------------------------------------------------------------

class HttpSession : public std::enable_shared_from_this<HttpSession>, public Droppable {
 public:
  HttpSession(tcp::socket&& sock, SimServer::Impl& srv)
      : stream_(std::move(sock)), srv_(srv), delay_timer_(stream_.get_executor()) {}

  void start() {
    srv_.http_sessions.push_back(weak_from_this());
    do_read();
  }

  // drop_connections: kept-alive REST connections go too (a request in flight loses its answer).
  void drop() override {
    if (control_) return;  // the connection that asked for the drop gets its answer
    beast::error_code ec;
    delay_timer_.cancel(ec);
    stream_.socket().close(ec);
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(1 << 20);
    stream_.expires_after(std::chrono::minutes(5));
    http::async_read(
        stream_, buf_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      return;
    }
    http::request<http::string_body> req = parser_->release();
    if (websocket::is_upgrade(req)) {
      stream_.expires_never();
      const std::string_view t(req.target().data(), req.target().size());
      // {"delay_ms":N,"path":"/stream"}: the handshake's answer comes N ms late (only with the
      // path named: a REST delay fault leaves upgrades alone).
      Faults& f = srv_.venue->faults();
      if (f.delay_count > 0 && !f.path.empty() && t.substr(0, t.find('?')) == f.path) {
        --f.delay_count;
        delay_timer_.expires_after(std::chrono::milliseconds(f.delay_ms));
        delay_timer_.async_wait(
            [self = shared_from_this(), r = std::move(req)](beast::error_code waited) mutable {
              if (!waited) self->upgrade(std::move(r));
            });
        return;
      }
      return upgrade(std::move(req));
    }
    // The hold fault: the request reaches the venue (the matching engine) only later, as one
    // stuck in Binance's gateway would; requests on other connections overtake it.
    Faults& f = srv_.venue->faults();
    const std::string_view tgt(req.target().data(), req.target().size());
    const std::string_view req_path = tgt.substr(0, tgt.find('?'));
    if (f.hold_count > 0 && !req_path.starts_with("/_sim/") && f.applies_to(req_path) &&
        (f.hold_method.empty() || f.hold_method == std::string_view(req.method_string().data(),
                                                                    req.method_string().size()))) {
      --f.hold_count;
      held_ = std::move(req);
      delay_timer_.expires_after(std::chrono::milliseconds(f.hold_ms));
      delay_timer_.async_wait([self = shared_from_this()](beast::error_code) {
        self->process(std::move(self->held_));
      });
      return;
    }
    process(std::move(req));
  }

  void process(http::request<http::string_body> req) {
    const std::string target(req.target());
    const std::size_t q = target.find('?');
    const std::string_view path = std::string_view(target).substr(0, q);
    const std::string_view query =
        q == std::string::npos ? std::string_view{} : std::string_view(target).substr(q + 1);
    HttpReply reply;
    if (path.starts_with("/_sim/")) {
      control_ = true;
      if (path == "/_sim/fault" && req.method() == http::verb::post) {
        reply.body = srv_.fault(req.body(), reply.status);
      } else if (path == "/_sim/balance" && req.method() == http::verb::post) {
        reply.body = srv_.balance(req.body(), reply.status);
      } else if (path == "/_sim/stats" && req.method() == http::verb::get) {
        reply.body = srv_.rest->stats_json();
      } else if (path == "/_sim/stats" && req.method() == http::verb::delete_) {
        srv_.rest->reset_stats();
        reply.body = "{}";
      } else if (path == "/_sim/depth" && req.method() == http::verb::get) {
        reply.body = sim_depth(query, reply.status);
      } else if (path == "/_sim/status") {
        core::JsonWriter w;
        w.begin_object().key("markets").begin_array();
        for (const auto& m : srv_.venue->markets())
          w.begin_object()
              .key("symbol")
              .string(m->name)
              .key("lastUpdateId")
              .integer(static_cast<std::int64_t>(m->public_id()))
              .key("valid")
              .boolean(m->sync.valid())
              .end_object();
        w.end_array()
            .key("framesPublished")
            .integer(static_cast<std::int64_t>(srv_.venue->frames_published()));
        w.key("wsSessionsOpened").integer(static_cast<std::int64_t>(srv_.sessions_opened));
        w.key("restRequests").begin_object();  // by path: what clients asked of the venue
        for (const auto& [p, n] : srv_.rest_requests) w.key(p).integer(n);
        w.end_object().end_object();
        reply.body = w.str();
      } else {
        reply.status = 404;
      }
    } else {
      std::string key_storage;
      const std::string* key = nullptr;
      if (const auto it = req.find("X-MBX-APIKEY"); it != req.end()) {
        key_storage = std::string(it->value());
        key = &key_storage;
      }
      ++srv_.rest_requests[std::string(path)];
      reply = srv_.rest->handle(
          HttpRequestView{std::string_view(req.method_string().data(), req.method_string().size()),
                          path, query, req.body(), key});
      log_event(spdlog::level::debug, "rest", "request",
                LogFields()
                    .str("method", std::string(req.method_string()))
                    .str("target", target)
                    .num("status", reply.status));
    }
    res_ = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(reply.status), req.version());
    res_->set(http::field::server, "cwts-sim");
    if (!reply.body.empty()) res_->set(http::field::content_type, "application/json;charset=UTF-8");
    for (const auto& [k, v] : reply.headers) res_->set(k, v);
    res_->keep_alive(req.keep_alive());
    res_->body() = std::move(reply.body);
    res_->prepare_payload();
    Faults& f = srv_.venue->faults();
    if (f.delay_count > 0 && !path.starts_with("/_sim/") && f.applies_to(path)) {
      --f.delay_count;
      delay_timer_.expires_after(std::chrono::milliseconds(f.delay_ms));
      delay_timer_.async_wait([self = shared_from_this()](beast::error_code) { self->do_write(); });
      return;
    }
    do_write();
  }

  // The WebSocket handshake: a stream session, or a WebSocket API session on /ws-api/v3.
  void upgrade(http::request<http::string_body> req) {
    const std::string_view t(req.target().data(), req.target().size());
    if (t.substr(0, t.find('?')) == "/ws-api/v3") {
      detail::start_ws_api_session(stream_.release_socket(), srv_, req);
    } else {
      detail::start_ws_session(stream_.release_socket(), srv_, std::move(req));
    }
  }

  // GET /_sim/depth?symbol=S[&limit=N]: the sim's book as /api/v3/depth gives it (lastUpdateId
  // = the market's current id), but never faulted and never counted by the rate limiter, so a
  // harness can compare a client's book to the venue's in a back-off without being banned.
  std::string sim_depth(std::string_view query, unsigned& status) {
    // The venue's own parameter parsing (cwts::binance), as /api/v3/depth.
    const auto parsed = binance::Request::parse(query, {});
    if (!parsed.ok()) {
      status = 400;
      return binance::error_json(parsed.error());
    }
    const auto limit = binance::parse_integer(parsed.value(), "limit", false);
    if (!limit.ok() || (limit.value() && (*limit.value() < 1 || *limit.value() > 5000))) {
      status = 400;
      return R"({"error":"limit: 1 to 5000"})";
    }
    const std::string* sym = parsed.value().find("symbol");
    const std::string_view symbol = sym != nullptr ? std::string_view(*sym) : std::string_view{};
    const Market* mk = srv_.venue->find(symbol);
    if (mk == nullptr) {
      status = 404;
      return R"({"error":"no such market"})";
    }
    return binance::depth_json(mk->public_id(), srv_.venue->book_or_empty(symbol),
                               static_cast<std::size_t>(limit.value().value_or(100)));
  }

  void do_write() {
    http::async_write(stream_, *res_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec || !self->res_->keep_alive()) {
                          beast::error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
                          return;
                        }
                        self->do_read();
                      });
  }

  beast::tcp_stream stream_;
  SimServer::Impl& srv_;
  net::steady_timer delay_timer_;
  http::request<http::string_body> held_;  // a request the hold fault keeps back
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> res_;
  bool control_ = false;  // carries /_sim/ requests: never dropped by a fault
};

}  // namespace

namespace detail {

void start_http_session(tcp::socket&& sock, SimServer::Impl& srv) {
  std::make_shared<HttpSession>(std::move(sock), srv)->start();
}

}  // namespace detail

}  // namespace cwts::sim_server
