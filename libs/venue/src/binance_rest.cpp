// BinanceRestVenue (see binance_rest.hpp, docs/engine.md "Venues" and ADR 0010).
#include "cwts/venue/binance_rest.hpp"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/hmac.h>
#include <simdjson.h>

#include "cwts/core/clock.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/net/endpoint.hpp"
#include "cwts/net/hmac.hpp"
#include "cwts/net/tls_client.hpp"

namespace cwts::venue {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

using core::realtime_ns;

std::string fixed(std::int64_t v) {
  char buf[40];
  const std::size_t n = core::format_fixed(v, 8, buf);
  // Binance accepts trailing zeros; trim them for readability of logs and the sim's echo.
  std::string s(buf, n);
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  return s;
}

std::int64_t parse8(std::string_view s) noexcept {
  std::int64_t v = 0;
  return core::parse_fixed(s, 8, v) == core::DecimalErrc::kOk ? v : 0;
}

std::uint64_t header_u64(const http::fields& h, std::string_view name) {
  const auto it = h.find(beast::string_view(name.data(), name.size()));
  if (it == h.end()) return 0;
  std::uint64_t v = 0;
  for (char c : it->value()) {
    if (c < '0' || c > '9') break;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

enum class JobKind : std::uint8_t { kPlace, kQuery, kCancel, kOpenOrders, kMyTrades, kAccount };

struct Job {
  JobKind kind = JobKind::kAccount;
  http::verb verb = http::verb::get;
  std::string path;
  std::string params;  // without timestamp / recvWindow / signature
  std::string cid;
  std::string symbol;
  std::uint64_t order_id = 0;
  std::uint32_t attempt = 0;
  std::uint32_t weight = 1;
  std::int64_t not_before_ns = 0;
  std::int64_t sent_ns = 0;      // when the (first) order request was signed
  std::int64_t deadline_ns = 0;  // kPlace: not sent (or resent) after this; 0 = none
};

struct Tracked {
  std::string symbol;
  std::uint64_t order_id = 0;
  OrderStatus status = OrderStatus::kNew;
  std::int64_t cum_qty = 0;
  std::int64_t cum_quote = 0;
  std::int64_t fee_quote = 0;
  std::int64_t fee_qty_covered = 0;  // cum qty whose commission is known
  std::int64_t fee_native = 0;       // in fee_asset ("" = none yet, or more than one asset)
  std::string fee_asset;
  bool acknowledged = false;   // the venue confirmed the order exists
  bool cancel_wanted = false;  // cancel asked before that: sent once it is acknowledged
  bool unknown_told = false;   // kUnknown emitted (its queries keep failing)
  bool resent = false;
  bool final = false;
  std::int64_t placed_ns = 0;
  std::int64_t sent_ns = 0;  // timestamp of the last order request sent
};

}  // namespace

bool is_final(OrderStatus s) noexcept {
  return s == OrderStatus::kFilled || s == OrderStatus::kCanceled || s == OrderStatus::kExpired ||
         s == OrderStatus::kRejected;
}

const char* side_name(layout::Side s) noexcept { return s == layout::Side::kSell ? "SELL" : "BUY"; }
const char* type_name(layout::OrderType t) noexcept {
  switch (t) {
    case layout::OrderType::kMarket:
      return "MARKET";
    case layout::OrderType::kLimitMaker:
      return "LIMIT_MAKER";
    default:
      return "LIMIT";
  }
}
const char* tif_name(layout::TimeInForce t) noexcept {
  switch (t) {
    case layout::TimeInForce::kIoc:
      return "IOC";
    case layout::TimeInForce::kFok:
      return "FOK";
    default:
      return "GTC";
  }
}
bool parse_status(std::string_view s, OrderStatus& out) noexcept {
  if (s == "NEW" || s == "PENDING_NEW")
    out = OrderStatus::kNew;
  else if (s == "PARTIALLY_FILLED")
    out = OrderStatus::kPartiallyFilled;
  else if (s == "FILLED")
    out = OrderStatus::kFilled;
  else if (s == "CANCELED" || s == "PENDING_CANCEL")
    out = OrderStatus::kCanceled;
  else if (s == "EXPIRED" || s == "EXPIRED_IN_MATCH")
    out = OrderStatus::kExpired;
  else if (s == "REJECTED")
    out = OrderStatus::kRejected;
  else
    return false;
  return true;
}

struct BinanceRestVenue::Impl {
  struct Conn {
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
    bool connected = false;
    bool busy = false;
    Job job;
    http::request<http::empty_body> req;
    beast::flat_buffer buf;
    std::optional<http::response_parser<http::string_body>> parser;
  };

  Impl(asio::io_context& io, BinanceRestOptions o)
      : ioc(io),
        opt(std::move(o)),
        ep(net::parse_endpoint(opt.rest_url, net::EndpointKind::kHttp)) {
    if (ep.tls) {
      tls_ctx.emplace(net::make_tls_client_context({opt.tls_verify, opt.ca_file}));
    }
    tcp::resolver resolver(ioc);
    endpoints = resolver.resolve(ep.host, ep.port_string());
    conns.resize(std::max<std::uint32_t>(1, opt.connections));
    for (auto& c : conns) c = std::make_unique<Conn>();
    enqueue_account(0);
  }

  // ---- queueing -------------------------------------------------------------------------
  void enqueue(Job j) {
    queue.push_back(std::move(j));
    dispatch();
  }
  void enqueue_account(std::int64_t not_before) {
    if (account_queued) return;
    account_queued = true;
    Job j;
    j.kind = JobKind::kAccount;
    j.path = "/api/v3/account";
    j.params = "omitZeroBalances=true";
    j.weight = 20;
    j.not_before_ns = not_before;
    enqueue(std::move(j));
  }
  void enqueue_query(const std::string& cid, const std::string& symbol, std::uint32_t attempt,
                     std::int64_t not_before) {
    Job j;
    j.kind = JobKind::kQuery;
    j.path = "/api/v3/order";
    j.params = "symbol=" + symbol + "&origClientOrderId=" + cid;
    j.cid = cid;
    j.symbol = symbol;
    j.attempt = attempt;
    j.weight = 4;
    j.not_before_ns = not_before;
    enqueue(std::move(j));
  }

  void dispatch() {
    const std::int64_t now = realtime_ns();
    // An order still waiting for a connection when its signal's deadline passes is not sent.
    for (auto it = queue.begin(); it != queue.end();) {
      if (it->kind == JobKind::kPlace && it->deadline_ns != 0 && now > it->deadline_ns) {
        const std::string cid = std::move(it->cid);
        it = queue.erase(it);
        reject_expired(cid, "not sent before its deadline");
      } else {
        ++it;
      }
    }
    for (auto& c : conns) {
      if (c->busy) continue;
      auto it = std::find_if(queue.begin(), queue.end(),
                             [&](const Job& j) { return j.not_before_ns <= now; });
      if (it == queue.end()) return;
      // Polls and account refreshes spend request weight only when the engine's budget allows;
      // order traffic was already admitted by the engine.
      if (it->kind != JobKind::kPlace && it->kind != JobKind::kCancel && listener != nullptr &&
          !listener->allow_request(it->weight)) {
        it->not_before_ns = now + 200'000'000;
        continue;
      }
      Job j = std::move(*it);
      queue.erase(it);
      start(*c, std::move(j));
    }
  }

  // ---- one request ----------------------------------------------------------------------
  void start(Conn& c, Job j) {
    c.busy = true;
    c.job = std::move(j);
    if (c.connected) return send(c);
    ++counters.connects;
    c.plain.reset();
    c.tls.reset();
    auto on_connected = [this, &c](beast::error_code ec, const tcp::endpoint&) {
      if (ec) return fail(c, ec, "connect");
      if (!c.tls) {
        c.connected = true;
        return send(c);
      }
      if (!net::prepare_tls_connection(c.tls->native_handle(), ep)) {
        return fail(c, asio::error::invalid_argument, "tls setup");
      }
      c.tls->async_handshake(ssl::stream_base::client, [this, &c](beast::error_code hec) {
        if (hec) return fail(c, hec, "tls handshake");
        c.connected = true;
        send(c);
      });
    };
    if (tls_ctx) {
      c.tls.emplace(ioc, *tls_ctx);
      beast::get_lowest_layer(*c.tls).expires_after(std::chrono::milliseconds(opt.timeout_ms));
      beast::get_lowest_layer(*c.tls).async_connect(endpoints, on_connected);
    } else {
      c.plain.emplace(ioc);
      c.plain->expires_after(std::chrono::milliseconds(opt.timeout_ms));
      c.plain->async_connect(endpoints, on_connected);
    }
  }

  void send(Conn& c) {
    Job& j = c.job;
    const std::int64_t now = realtime_ns();
    if (j.kind == JobKind::kPlace) {
      j.sent_ns = now;
      if (auto it = orders.find(j.cid); it != orders.end()) it->second.sent_ns = now;
    } else if (j.kind == JobKind::kQuery) {
      j.sent_ns = now;
    }
    std::string query = j.params;
    query += query.empty() ? "" : "&";
    query += "recvWindow=" + std::to_string(opt.recv_window_ms) +
             "&timestamp=" + std::to_string(now / 1'000'000);
    query += "&signature=" + net::hmac_sha256_hex(opt.api_secret, query);
    c.req = {};
    c.req.method(j.verb);
    c.req.target(ep.path + j.path + "?" + query);
    c.req.version(11);
    c.req.set(http::field::host, ep.host_header());
    c.req.set(http::field::user_agent, "cwtsd/0.1");
    c.req.set("X-MBX-APIKEY", opt.api_key);
    c.req.keep_alive(true);
    c.buf.clear();
    c.parser.emplace();
    c.parser->body_limit(16U << 20);
    ++counters.requests;
    auto on_read = [this, &c](beast::error_code ec, std::size_t) {
      if (ec) return fail(c, ec, "read");
      ++counters.responses;
      auto res = c.parser->release();
      if (!res.keep_alive()) close(c);
      Job done = std::move(c.job);
      c.busy = false;
      on_response(done, res);
      dispatch();
    };
    auto on_write = [this, &c, on_read](beast::error_code ec, std::size_t) {
      if (ec) return fail(c, ec, "write");
      if (c.tls) {
        http::async_read(*c.tls, c.buf, *c.parser, on_read);
      } else {
        http::async_read(*c.plain, c.buf, *c.parser, on_read);
      }
    };
    if (c.tls) {
      beast::get_lowest_layer(*c.tls).expires_after(std::chrono::milliseconds(opt.timeout_ms));
      http::async_write(*c.tls, c.req, on_write);
    } else {
      c.plain->expires_after(std::chrono::milliseconds(opt.timeout_ms));
      http::async_write(*c.plain, c.req, on_write);
    }
  }

  void close(Conn& c) {
    beast::error_code ec;
    if (c.tls) beast::get_lowest_layer(*c.tls).socket().close(ec);
    if (c.plain) c.plain->socket().close(ec);
    c.connected = false;
  }

  // Transport failure: the outcome of this request is unknown.
  void fail(Conn& c, beast::error_code ec, const char* stage) {
    ++counters.transport_errors;
    close(c);
    Job j = std::move(c.job);
    c.busy = false;
    if (listener != nullptr) {
      listener->on_venue_error(std::string("REST ") + stage + " failed: " + ec.message());
    }
    unknown_outcome(j, 0);
    dispatch();
  }

  // A request that may or may not have been executed (transport error, timeout, 5xx).
  void unknown_outcome(Job& j, int http_status) {
    const std::int64_t now = realtime_ns();
    switch (j.kind) {
      case JobKind::kPlace:
        ++counters.unknown_outcomes;
        // Query only once the request can no longer be executed: Binance refuses a request that
        // reaches the matching engine later than timestamp + recvWindow, so a -2013 after that
        // proves the order does not exist and a resend cannot duplicate it.
        enqueue_query(j.cid, j.symbol, 0, j.sent_ns + recv_window_ns() + kExpiryMarginNs);
        break;
      case JobKind::kQuery:
        query_failed(j, http_status, "order status could not be established");
        break;
      case JobKind::kCancel:
        // The cancel may or may not have happened: the order's status tells.
        enqueue_query(j.cid, j.symbol, 0, now);
        break;
      case JobKind::kAccount:
        account_queued = false;
        enqueue_account(now + 1'000'000'000);
        break;
      case JobKind::kOpenOrders:
        open_orders_queued.erase(j.symbol);
        break;
      case JobKind::kMyTrades:
        trades_again(j);
        break;
    }
  }

  // A myTrades look-up that did not give all of an order's commissions (a failure, or fills not
  // listed yet): asked again with back-off (to 3 s) for as long as the order is tracked, since its
  // terminal report and position update wait for them. Never dropped.
  void trades_again(const Job& j) {
    if (orders.find(j.cid) == orders.end()) {
      trades_queued.erase(j.cid);
      return;
    }
    Job again = j;
    ++again.attempt;
    again.not_before_ns = realtime_ns() + backoff_ns(j.attempt);
    enqueue(std::move(again));
  }

  // After sent + recvWindow + this margin, an order request can no longer be executed.
  static constexpr std::int64_t kExpiryMarginNs = 50'000'000;
  [[nodiscard]] std::int64_t recv_window_ns() const noexcept {
    return static_cast<std::int64_t>(opt.recv_window_ms) * 1'000'000;
  }

  // DELETE /api/v3/order for a tracked order the venue has acknowledged; before that, the cancel
  // waits for the acknowledgement (sent earlier, it could overtake the order, be refused as
  // unknown and leave the order resting once it arrives).
  void request_cancel(const std::string& cid, const std::string& symbol) {
    if (auto it = orders.find(cid); it != orders.end() && !it->second.acknowledged) {
      if (!it->second.final) it->second.cancel_wanted = true;
      return;
    }
    Job j;
    j.kind = JobKind::kCancel;
    j.verb = http::verb::delete_;
    j.path = "/api/v3/order";
    j.cid = cid;
    j.symbol = symbol;
    j.params = "symbol=" + j.symbol + "&origClientOrderId=" + j.cid;
    j.weight = 1;
    enqueue(std::move(j));
  }

  void acknowledged(const std::string& cid, Tracked& t) {
    t.acknowledged = true;
    if (t.cancel_wanted && !is_final(t.status)) request_cancel(cid, t.symbol);
    t.cancel_wanted = false;
  }

  static std::int64_t backoff_ns(std::uint32_t attempt) {
    return std::min<std::int64_t>(100'000'000LL << std::min<std::uint32_t>(attempt, 5),
                                  3'000'000'000LL);
  }

  // A status query that did not establish the order's state. It is asked again (back-off up to
  // 3 s) for as long as the order is tracked: giving up would leave an order that may be live on
  // the venue untracked. After unknown_query_attempts the listener is told (kUnknown, once).
  void query_failed(const Job& j, int http_status, std::string_view why) {
    auto it = orders.find(j.cid);
    if (it == orders.end()) return;
    if (j.attempt + 1 >= opt.unknown_query_attempts && !it->second.unknown_told) {
      it->second.unknown_told = true;
      OrderEvent e;
      e.kind = EventKind::kUnknown;
      e.client_order_id = it->first;
      e.http_status = http_status;
      e.message = why;
      emit(e);
    }
    enqueue_query(j.cid, j.symbol, j.attempt + 1, realtime_ns() + backoff_ns(j.attempt));
  }

  void emit(const OrderEvent& e) {
    if (e.cum_qty > 0) refresh_account_soon();
    if (listener != nullptr) listener->on_order_event(e);
  }

  // Balances moved (a fill): read /account again within kAccountAfterFillNs rather than at the
  // next periodic poll, so what the engine publishes (and the gateway reports) follows the fills.
  // Fills in a burst share one refresh.
  static constexpr std::int64_t kAccountAfterFillNs = 500'000'000;
  void refresh_account_soon() {
    if (next_account_ns == 0) {
      account_after_fill = true;  // a refresh is queued or in flight: one more after it
      return;
    }
    next_account_ns = std::min(next_account_ns, realtime_ns() + kAccountAfterFillNs);
  }

  // ---- responses ------------------------------------------------------------------------
  void on_response(Job& j, http::response<http::string_body>& res) {
    const int status = static_cast<int>(res.result_int());
    if (listener != nullptr) {
      listener->on_rate_headers(header_u64(res, "X-MBX-USED-WEIGHT-1M"),
                                header_u64(res, "X-MBX-ORDER-COUNT-10S"),
                                header_u64(res, "X-MBX-ORDER-COUNT-1D"));
    }
    if (status == 429 || status == 418) {
      const auto retry = static_cast<std::int64_t>(header_u64(res, "Retry-After"));
      if (listener != nullptr) listener->on_retry_after(status, retry);
      if (j.kind == JobKind::kPlace) {
        // Refused before processing: nothing was placed. The body's code tells which limit
        // (-1003 request weight, -1015 order count).
        std::int64_t code = -1003;
        simdjson::dom::element doc;
        if (json.parse(res.body()).get(doc) != simdjson::SUCCESS ||
            doc["code"].get(code) != simdjson::SUCCESS) {
          code = -1003;
        }
        return reject(j.cid, static_cast<std::int32_t>(code), status, "rate limited by the venue");
      }
      j.not_before_ns = realtime_ns() + std::max<std::int64_t>(retry, 1) * 1'000'000'000LL;
      if (j.kind == JobKind::kAccount) account_queued = false;
      if (j.kind == JobKind::kAccount) return enqueue_account(j.not_before_ns);
      if (j.kind == JobKind::kOpenOrders) return (void)open_orders_queued.erase(j.symbol);
      return enqueue(std::move(j));
    }
    if (status >= 500) {
      if (listener != nullptr)
        listener->on_venue_error("REST " + std::to_string(status) + " on " + j.path);
      return unknown_outcome(j, status);
    }
    simdjson::dom::element doc;
    if (json.parse(res.body()).get(doc) != simdjson::SUCCESS) {
      if (listener != nullptr) listener->on_venue_error("unparsable body on " + j.path);
      return unknown_outcome(j, status);
    }
    if (status != 200) {
      std::int64_t code = 0;
      std::string_view msg;
      if (doc["code"].get(code) != simdjson::SUCCESS) code = 0;
      if (doc["msg"].get(msg) != simdjson::SUCCESS) msg = res.body();
      // -1006 / -1007: "execution status unknown", whatever the HTTP status says: the request may
      // have been executed, so its outcome is established by a query, never assumed.
      if (code == -1006 || code == -1007) {
        if (listener != nullptr) {
          listener->on_venue_error("REST " + std::to_string(code) + " on " + j.path +
                                   ": execution status unknown");
        }
        return unknown_outcome(j, status);
      }
      return on_error(j, status, static_cast<std::int32_t>(code), msg);
    }
    switch (j.kind) {
      case JobKind::kPlace:
      case JobKind::kQuery:
      case JobKind::kCancel:
        return on_order(j, doc);
      case JobKind::kOpenOrders:
        return on_open_orders(j, doc);
      case JobKind::kMyTrades:
        return on_my_trades(j, doc);
      case JobKind::kAccount:
        return on_account(doc);
    }
  }

  // An order not sent (or not resent) because its signal's deadline passed: nothing of it exists
  // on the venue.
  void reject_expired(const std::string& cid, std::string_view msg) {
    reject(cid, 0, 0, msg, /*expired=*/true);
  }

  void reject(const std::string& cid, std::int32_t code, int http_status, std::string_view msg,
              bool expired = false) {
    auto it = orders.find(cid);
    if (it == orders.end()) return;
    OrderEvent e;
    e.kind = EventKind::kRejected;
    e.client_order_id = it->first;
    e.expired = expired;
    e.code = code;
    e.http_status = http_status;
    e.message = msg;
    emit(e);
    orders.erase(it);
  }

  void on_error(Job& j, int status, std::int32_t code, std::string_view msg) {
    switch (j.kind) {
      case JobKind::kPlace:
        return reject(j.cid, code, status, msg);
      case JobKind::kQuery: {
        auto it = orders.find(j.cid);
        if (it == orders.end()) return;
        if (code == -2013 && !it->second.acknowledged) {
          // Absence proves nothing until the order's own request can no longer execute (Binance
          // refuses it after timestamp + recvWindow): a query that may have overtaken it asks
          // again then. Not sent yet: its own answer will tell.
          const Tracked& t = it->second;
          if (t.sent_ns == 0) return;
          const std::int64_t expired = t.sent_ns + recv_window_ns() + kExpiryMarginNs;
          if (j.sent_ns < expired) return enqueue_query(j.cid, j.symbol, j.attempt, expired);
          if (!it->second.resent) {
            // Proven absent after its request expired: resend once, same client order id, unless
            // the signal's own deadline has passed (then it is not executed at all).
            Job p = place_job(j.cid);
            if (p.deadline_ns != 0 && realtime_ns() > p.deadline_ns) {
              return reject_expired(j.cid, "never reached the venue; its deadline passed");
            }
            it->second.resent = true;
            ++counters.resends;
            if (!p.path.empty()) enqueue(std::move(p));
            return;
          }
          // Absent again after the resend expired: the venue never got it.
          return reject(j.cid, code, status, "order never reached the venue");
        }
        return query_failed(j, status, msg);
      }
      case JobKind::kCancel: {
        auto it = orders.find(j.cid);
        if (it == orders.end()) return;
        OrderEvent e;
        e.kind = EventKind::kCancelRejected;
        e.client_order_id = it->first;
        e.code = code;
        e.http_status = status;
        e.message = msg;
        emit(e);
        // Whatever happened to it (filled, already cancelled) comes from its status.
        return enqueue_query(j.cid, j.symbol, 0, realtime_ns());
      }
      case JobKind::kAccount:
        account_queued = false;
        if (listener != nullptr) {
          listener->on_venue_error("account: " + std::to_string(code) + " " + std::string(msg));
        }
        return enqueue_account(realtime_ns() + 2'000'000'000LL);
      case JobKind::kOpenOrders:
        open_orders_queued.erase(j.symbol);
        return;
      case JobKind::kMyTrades:
        if (listener != nullptr) {
          listener->on_venue_error("myTrades: " + std::to_string(code) + " " + std::string(msg));
        }
        return trades_again(j);
    }
  }

  // An order object (POST/GET/DELETE /api/v3/order).
  void on_order(Job& j, simdjson::dom::element doc) {
    auto it = orders.find(j.cid);
    if (it == orders.end()) return;
    Tracked& t = it->second;
    std::string_view status_text;
    if (doc["status"].get(status_text) != simdjson::SUCCESS ||
        !parse_status(status_text, t.status)) {
      if (listener != nullptr) listener->on_venue_error("order without a known status");
      return;
    }
    std::uint64_t oid = 0;
    if (doc["orderId"].get(oid) == simdjson::SUCCESS) t.order_id = oid;
    acknowledged(it->first, t);
    std::string_view s;
    if (doc["executedQty"].get(s) == simdjson::SUCCESS) t.cum_qty = std::max(t.cum_qty, parse8(s));
    if (doc["cummulativeQuoteQty"].get(s) == simdjson::SUCCESS)
      t.cum_quote = std::max(t.cum_quote, parse8(s));
    // FULL responses carry the fills with their commissions.
    simdjson::dom::array fills;
    if (doc["fills"].get(fills) == simdjson::SUCCESS) {
      FillsSum sum = sum_fills(t.symbol, fills);
      if (sum.covered >= t.fee_qty_covered) take_fees(t, std::move(sum));
    }
    publish(it->first, t);
    if (t.cum_qty > t.fee_qty_covered) request_trades(it->first, t);
    finish_if_final(it);
  }

  void on_open_orders(Job& j, simdjson::dom::element doc) {
    open_orders_queued.erase(j.symbol);
    simdjson::dom::array arr;
    if (doc.get(arr) != simdjson::SUCCESS) return;
    std::vector<std::string_view> present;
    for (auto o : arr) {
      std::string_view cid;
      if (o["clientOrderId"].get(cid) != simdjson::SUCCESS) continue;
      present.push_back(cid);
      auto it = orders.find(std::string(cid));
      if (it == orders.end()) continue;
      Tracked& t = it->second;
      std::string_view s;
      OrderStatus st = t.status;
      if (o["status"].get(s) == simdjson::SUCCESS) (void)parse_status(s, st);
      std::int64_t cum = t.cum_qty, quote = t.cum_quote;
      if (o["executedQty"].get(s) == simdjson::SUCCESS) cum = parse8(s);
      if (o["cummulativeQuoteQty"].get(s) == simdjson::SUCCESS) quote = parse8(s);
      std::uint64_t oid = 0;
      if (o["orderId"].get(oid) == simdjson::SUCCESS) t.order_id = oid;
      const bool changed = !t.acknowledged || cum > t.cum_qty || st != t.status;
      t.status = st;
      acknowledged(it->first, t);
      t.cum_qty = std::max(t.cum_qty, cum);
      t.cum_quote = std::max(t.cum_quote, quote);
      if (changed) {
        publish(it->first, t);
        if (t.cum_qty > t.fee_qty_covered) request_trades(it->first, t);
      }
    }
    // Tracked orders of this symbol that are no longer open (and were sent before this poll):
    // their final status comes from a query.
    for (auto& [cid, t] : orders) {
      if (t.symbol != j.symbol || t.final || !t.acknowledged || t.sent_ns >= j.sent_ns) continue;
      if (std::find(present.begin(), present.end(), cid) != present.end()) continue;
      enqueue_query(cid, t.symbol, 0, 0);
    }
  }

  void on_my_trades(Job& j, simdjson::dom::element doc) {
    auto it = orders.find(j.cid);
    if (it == orders.end()) return;
    Tracked& t = it->second;
    simdjson::dom::array arr;
    if (doc.get(arr) != simdjson::SUCCESS) return trades_again(j);
    FillsSum sum = sum_fills(t.symbol, arr);
    if (sum.covered > t.fee_qty_covered) {
      t.cum_qty = std::max(t.cum_qty, sum.covered);
      take_fees(t, std::move(sum));
      publish(it->first, t);
    }
    if (t.cum_qty > t.fee_qty_covered) return trades_again(j);  // not all listed yet
    trades_queued.erase(j.cid);
    finish_if_final(it);
  }

  void on_account(simdjson::dom::element doc) {
    account_queued = false;
    ready = true;
    simdjson::dom::array arr;
    if (doc["balances"].get(arr) == simdjson::SUCCESS) {
      balances.clear();
      for (auto b : arr) {
        std::string_view asset, free_s, locked_s;
        if (b["asset"].get(asset) || b["free"].get(free_s) || b["locked"].get(locked_s)) continue;
        BalanceUpdate u;
        const std::size_t n = std::min(asset.size(), sizeof u.asset - 1);
        std::copy_n(asset.data(), n, u.asset);
        u.free = parse8(free_s);
        u.locked = parse8(locked_s);
        balances.push_back(u);
      }
      if (listener != nullptr) listener->on_balances(balances);
    }
    next_account_ns =
        realtime_ns() + (account_after_fill
                             ? kAccountAfterFillNs
                             : static_cast<std::int64_t>(opt.account_poll_ms) * 1'000'000);
    account_after_fill = false;
  }

  // ---- helpers --------------------------------------------------------------------------
  // The commissions of fills as Binance lists them (the FULL order response's `fills` and
  // `myTrades` use the same member names): valued in the quote asset, and as charged.
  struct FillsSum {
    std::int64_t fee_quote = 0;
    std::int64_t covered = 0;  // quantity of the fills summed
    std::int64_t fee_native = 0;
    std::string fee_asset;  // "" if none, or more than one asset
  };
  FillsSum sum_fills(const std::string& symbol, simdjson::dom::array fills) const {
    FillsSum sum;
    bool first = true, mixed = false;
    for (auto f : fills) {
      std::string_view px, qty, commission, asset;
      if (f["price"].get(px) || f["qty"].get(qty) || f["commission"].get(commission) ||
          f["commissionAsset"].get(asset)) {
        continue;
      }
      sum.covered += parse8(qty);
      sum.fee_quote += fee_in_quote(symbol, parse8(px), parse8(commission), asset);
      if (first) sum.fee_asset = std::string(asset);
      mixed = mixed || asset != sum.fee_asset;
      first = false;
      sum.fee_native += parse8(commission);
    }
    if (mixed) {
      sum.fee_asset.clear();
      sum.fee_native = 0;
    }
    return sum;
  }

  static void take_fees(Tracked& t, FillsSum&& sum) {
    t.fee_quote = sum.fee_quote;
    t.fee_qty_covered = sum.covered;
    t.fee_native = sum.fee_native;
    t.fee_asset = std::move(sum.fee_asset);
  }

  std::int64_t fee_in_quote(const std::string& symbol, std::int64_t px, std::int64_t commission,
                            std::string_view asset) const {
    const auto it = assets.find(symbol);
    if (it == assets.end()) return 0;
    if (asset == it->second.second) return commission;  // quote asset
    if (asset == it->second.first) {                    // base asset: valued at the fill price
      __extension__ typedef __int128 Wide;
      return static_cast<std::int64_t>(static_cast<Wide>(commission) * px / 100'000'000);
    }
    return 0;  // a third asset (BNB discount): not converted; see docs/engine.md "Venues"
  }

  void publish(const std::string& cid, const Tracked& t) {
    OrderEvent e;
    e.kind = EventKind::kUpdate;
    e.client_order_id = cid;
    e.order_id = t.order_id;
    e.status = t.status;
    e.cum_qty = t.cum_qty;
    e.cum_quote = t.cum_quote;
    e.fee_quote = t.fee_quote;
    e.fee_native = t.fee_native;
    e.fee_asset = t.fee_asset;
    e.fee_known = t.fee_qty_covered >= t.cum_qty;
    emit(e);
  }

  void request_trades(const std::string& cid, const Tracked& t) {
    if (!trades_queued.insert(cid).second) return;
    Job j;
    j.kind = JobKind::kMyTrades;
    j.path = "/api/v3/myTrades";
    j.params = "symbol=" + t.symbol + "&orderId=" + std::to_string(t.order_id) + "&limit=1000";
    j.cid = cid;
    j.symbol = t.symbol;
    j.weight = 20;
    enqueue(std::move(j));
  }

  void finish_if_final(std::unordered_map<std::string, Tracked>::iterator it) {
    Tracked& t = it->second;
    if (!is_final(t.status)) return;
    t.final = true;
    // Kept until its fees are known; then forgotten.
    if (t.cum_qty <= t.fee_qty_covered) {
      trades_queued.erase(it->first);
      orders.erase(it);
    }
  }

  Job place_job(const std::string& cid) {
    auto it = placed.find(cid);
    if (it == placed.end()) return {};
    return it->second;
  }

  asio::io_context& ioc;
  BinanceRestOptions opt;
  net::Endpoint ep;
  std::optional<ssl::context> tls_ctx;
  tcp::resolver::results_type endpoints;
  std::vector<std::unique_ptr<Conn>> conns;
  std::deque<Job> queue;
  std::unordered_map<std::string, Tracked> orders;
  std::unordered_map<std::string, Job> placed;  // the order request, for the single resend
  std::unordered_map<std::string, std::pair<std::string, std::string>>
      assets;                                          // symbol -> base, quote
  std::unordered_set<std::string> open_orders_queued;  // symbols with an openOrders poll queued
  std::unordered_set<std::string> trades_queued;       // orders with a myTrades query queued
  std::vector<BalanceUpdate> balances;
  simdjson::dom::parser json;
  VenueListener* listener = nullptr;
  bool ready = false;
  bool account_queued = false;
  std::int64_t next_poll_ns = 0;
  std::int64_t next_account_ns = 0;
  bool account_after_fill = false;
  Counters counters;
};

BinanceRestVenue::BinanceRestVenue(asio::io_context& ioc, BinanceRestOptions options)
    : impl_(std::make_unique<Impl>(ioc, std::move(options))) {}

BinanceRestVenue::~BinanceRestVenue() = default;

void BinanceRestVenue::set_listener(VenueListener* l) noexcept { impl_->listener = l; }

void BinanceRestVenue::set_symbol_assets(std::string_view symbol, std::string_view base,
                                         std::string_view quote) {
  impl_->assets[std::string(symbol)] = {std::string(base), std::string(quote)};
}

void BinanceRestVenue::place(const OrderRequest& r) {
  Impl& i = *impl_;
  const std::string cid = r.client_order_id;
  Job j;
  j.kind = JobKind::kPlace;
  j.verb = http::verb::post;
  j.path = "/api/v3/order";
  j.cid = cid;
  j.symbol = r.symbol;
  j.weight = 1;
  std::string p =
      "symbol=" + j.symbol + "&side=" + side_name(r.side) + "&type=" + type_name(r.type);
  if (r.type == layout::OrderType::kLimit) p += std::string("&timeInForce=") + tif_name(r.tif);
  p += "&quantity=" + fixed(r.qty);
  if (r.type != layout::OrderType::kMarket) p += "&price=" + fixed(r.price);
  p += "&newClientOrderId=" + cid + "&newOrderRespType=FULL";
  j.params = std::move(p);
  j.deadline_ns = r.deadline_ns;
  Tracked t;
  t.symbol = j.symbol;
  t.placed_ns = realtime_ns();
  i.orders[cid] = t;
  i.placed[cid] = j;
  i.enqueue(std::move(j));
}

void BinanceRestVenue::cancel(std::string_view client_order_id, std::string_view symbol) {
  impl_->request_cancel(std::string(client_order_id), std::string(symbol));
}

void BinanceRestVenue::tick(std::int64_t now_ns) {
  Impl& i = *impl_;
  if (now_ns >= i.next_poll_ns) {
    i.next_poll_ns = now_ns + static_cast<std::int64_t>(i.opt.order_poll_ms) * 1'000'000;
    std::vector<std::string> symbols;
    for (const auto& [cid, t] : i.orders) {
      if (t.final || !t.acknowledged) continue;
      if (std::find(symbols.begin(), symbols.end(), t.symbol) == symbols.end())
        symbols.push_back(t.symbol);
    }
    for (const auto& s : symbols) {
      if (!i.open_orders_queued.insert(s).second) continue;
      Job j;
      j.kind = JobKind::kOpenOrders;
      j.path = "/api/v3/openOrders";
      j.params = "symbol=" + s;
      j.symbol = s;
      j.weight = 6;
      j.sent_ns = now_ns;
      i.enqueue(std::move(j));
    }
    // Placed-but-unanswered orders older than the timeout are handled by their connection's
    // own deadline; nothing to do here.
  }
  if (i.next_account_ns != 0 && now_ns >= i.next_account_ns) {
    i.next_account_ns = 0;
    i.enqueue_account(0);
  }
  i.dispatch();
}

bool BinanceRestVenue::ready() const noexcept { return impl_->ready; }

std::size_t BinanceRestVenue::busy() const noexcept {
  // Orders not yet final, plus order requests queued or in flight (polls and account refreshes
  // do not count: they never end).
  std::size_t n = 0;
  for (const auto& [cid, t] : impl_->orders) n += t.final ? 0 : 1;
  const auto is_order_job = [](const Job& j) {
    return j.kind == JobKind::kPlace || j.kind == JobKind::kCancel || j.kind == JobKind::kQuery;
  };
  for (const auto& j : impl_->queue) n += is_order_job(j) ? 1 : 0;
  for (const auto& c : impl_->conns) n += c->busy && is_order_job(c->job) ? 1 : 0;
  return n;
}

const BinanceRestVenue::Counters& BinanceRestVenue::counters() const noexcept {
  return impl_->counters;
}

}  // namespace cwts::venue
