// BinanceRestVenue::Impl, transport: the request queue and its dispatch to the connections, one
// signed request on a kept-alive connection, and requests whose outcome is unknown (retries).
#include <algorithm>
#include <charconv>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include "binance_rest_impl.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/net/hmac.hpp"
#include "cwts/net/tls_client.hpp"

namespace cwts::venue {

namespace {

using core::realtime_ns;

}  // namespace

BinanceRestVenue::Impl::Impl(asio::io_context& io, BinanceRestOptions o)
    : ioc(io),
      opt(std::move(o)),
      signer(opt.api_secret),
      ep(net::parse_endpoint(opt.rest_url, net::EndpointKind::kHttp)) {
  // Room for an account's answer (every asset's balance) and the WebSocket API's frames.
  detail::presize(json, 64 * 1024);
  detail::presize(ws_json, 64 * 1024);
  // A key that could end the header line would let the config inject headers.
  if (opt.api_key.find_first_of("\r\n") != std::string::npos) {
    throw std::invalid_argument("venue api key contains a line break");
  }
  request_headers = "Host: " + ep.host_header() +
                    "\r\nUser-Agent: cwtsd/0.1\r\nX-MBX-APIKEY: " + opt.api_key + "\r\n\r\n";
  if (ep.tls) {
    tls_ctx.emplace(net::make_tls_client_context({opt.tls_verify, opt.ca_file}));
  }
  endpoints = resolver.resolve(ep.host, ep.port_string());
  if (!opt.ws_api_url.empty()) {
    ws_ep = net::parse_endpoint(opt.ws_api_url, net::EndpointKind::kWebSocket);
    ws_target = ws_ep.path.empty() ? "/ws-api/v3" : ws_ep.path;
    if (ws_ep.tls) ws_tls.emplace(net::make_tls_client_context({opt.tls_verify, opt.ca_file}));
    ws_state = WsState::kDown;  // connects at the first tick
  }
  if (!opt.backoff) opt.backoff = std::make_shared<core::RestBackoff>();
  queue.reserve(64);
  spare_params.reserve(8);  // give_back()'s most
  ws_outbox.reserve(16);
  ws_spare_frames.reserve(8);  // give_back_frame()'s most
  conns.resize(std::max<std::uint32_t>(1, opt.connections));
  for (auto& c : conns) {
    c = std::make_unique<Conn>();
    c->out.reserve(2048);
    // An order's answer (FULL, a few fills) is read in one recvmsg, not 512 bytes at a time.
    c->buf.reserve(16384);
  }
  enqueue_time(0);  // first: every signed request's timestamp depends on it
  enqueue_account(0);
}

// ---- queueing --------------------------------------------------------------------------
void BinanceRestVenue::Impl::enqueue(Job j) {
  queue.push_back(std::move(j));
  dispatch();
}

void BinanceRestVenue::Impl::enqueue_open_orders(const std::string& symbol, std::int64_t now_ns) {
  if (!open_orders_queued.insert(symbol).second) return;
  Job j;
  j.kind = JobKind::kOpenOrders;
  j.path = "/api/v3/openOrders";
  j.params = "symbol=" + symbol;
  j.symbol = symbol;
  j.weight = 6;
  j.sent_ns = now_ns;
  enqueue(std::move(j));
}

void BinanceRestVenue::Impl::enqueue_account(std::int64_t not_before) {
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

void BinanceRestVenue::Impl::enqueue_time(std::int64_t not_before) {
  if (time_queued) return;
  time_queued = true;
  Job j;
  j.kind = JobKind::kTime;
  j.path = "/api/v3/time";
  j.weight = 1;
  j.not_before_ns = not_before;
  // Ahead of everything else queued: a wrong clock fails every signed request.
  queue.insert(queue.begin(), std::move(j));
  dispatch();
}

void BinanceRestVenue::Impl::on_time(const Job& j, simdjson::dom::element doc) {
  time_queued = false;
  clock_tried = true;
  const std::int64_t now = realtime_ns();
  std::int64_t server_ms = 0;
  if (doc["serverTime"].get(server_ms) != simdjson::SUCCESS) {
    if (listener != nullptr) listener->on_venue_error("time: no serverTime in the answer");
    return enqueue_time(now + 5'000'000'000LL);
  }
  const std::int64_t rtt = std::max<std::int64_t>(now - j.sent_ns, 0);
  clock_offset_ns = server_ms * 1'000'000 + 500'000 - (j.sent_ns + rtt / 2);
  clock_uncertainty_ns = rtt / 2 + 1'000'000;
  next_time_ns = now + kTimeSyncNs;
}

void BinanceRestVenue::Impl::enqueue_query(const std::string& cid, const std::string& symbol,
                                           std::uint32_t attempt, std::int64_t not_before) {
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

void BinanceRestVenue::Impl::dispatch() {
  const std::int64_t now = realtime_ns();
  // The venue said back off (429/418, here or to the feed): nothing at all is sent before its
  // Retry-After has passed, cancels included, or the IP is banned (418) and then nothing can be
  // cancelled for minutes. Queued requests wait (tick() dispatches again); an order whose
  // signal's deadline passes meanwhile is refused below.
  const bool quiet = opt.backoff->holds(now);
  // An order still waiting for a connection when its signal's deadline passes is not sent.
  for (auto it = queue.begin(); it != queue.end();) {
    if (it->kind == JobKind::kPlace && it->deadline_ns != 0 && now > it->deadline_ns) {
      const std::string cid = std::move(it->cid);
      it = queue.erase(it);
      reject_expired(cid, "not sent before its deadline");
    } else if (it->kind == JobKind::kCancel && it->attempt > 0 && [&] {
                 const auto o = orders.find(it->cid);
                 return o == orders.end() || o->second.final;
               }()) {
      it = queue.erase(it);  // a cancel sent again whose order ended while it waited
    } else if (it->kind == JobKind::kMyTrades && it->not_before_ns <= now && fees_known(it->cid)) {
      trades_queued.erase(it->cid);  // the stream told the fills meanwhile
      it = queue.erase(it);
    } else {
      ++it;
    }
  }
  // Likewise an order whose connection waits for the venue's name to be looked up again (a
  // stalled name server can take seconds): the connection is freed for the next request.
  for (auto& c : conns) {
    if (c->await_resolve && c->job.kind == JobKind::kPlace && c->job.deadline_ns != 0 &&
        now > c->job.deadline_ns) {
      c->await_resolve = false;
      c->busy = false;
      const std::string cid = std::move(c->job.cid);
      reject_expired(cid, "not sent before its deadline (the venue's name was being looked up)");
    }
  }
  if (quiet) return;
  if (ws_orders() && clock_tried) {
    // Order requests go over the WebSocket API session while it is live.
    for (auto it = queue.begin(); it != queue.end();) {
      const bool order_job = it->kind == JobKind::kPlace || it->kind == JobKind::kCancel ||
                             it->kind == JobKind::kQuery;
      // Status queries spend request weight: the engine's governor decides, as on REST.
      const bool allowed =
          it->kind != JobKind::kQuery || listener == nullptr || listener->allow_request(it->weight);
      if (order_job && it->not_before_ns <= now && allowed) {
        Job j = std::move(*it);
        it = queue.erase(it);
        ws_start(std::move(j));
      } else {
        ++it;
      }
    }
  }
  const auto due = [&](const Job& j) {
    return j.not_before_ns <= now && (clock_tried || j.kind == JobKind::kTime);
  };
  for (auto& c : conns) {
    if (c->busy) continue;
    // Orders and cancels first: they never wait behind the engine's own polls and refreshes.
    auto it = std::find_if(queue.begin(), queue.end(), [&](const Job& j) {
      return (j.kind == JobKind::kPlace || j.kind == JobKind::kCancel) && due(j);
    });
    if (it == queue.end()) it = std::find_if(queue.begin(), queue.end(), due);
    if (it == queue.end()) return;
    // Polls and account refreshes spend request weight only when the engine's budget allows;
    // order traffic was already admitted by the engine.
    if (it->kind != JobKind::kPlace && it->kind != JobKind::kCancel && it->kind != JobKind::kTime &&
        listener != nullptr && !listener->allow_request(it->weight)) {
      it->not_before_ns = now + 200'000'000;
      continue;
    }
    Job j = std::move(*it);
    queue.erase(it);
    start(*c, std::move(j));
  }
}

// ---- one request -----------------------------------------------------------------------
void BinanceRestVenue::Impl::start(Conn& c, Job j) {
  c.busy = true;
  c.job = std::move(j);
  if (c.connected) return send(c);
  if (resolve_next || resolving) {
    // The venue's name is looked up again after a connection failed (its addresses may have
    // moved); connections wait for the answer.
    c.await_resolve = true;
    if (resolving) return;
    resolve_next = false;
    resolving = true;
    resolver.async_resolve(
        ep.host, ep.port_string(),
        [this](beast::error_code ec, const tcp::resolver::results_type& results) {
          resolving = false;
          if (!ec && !results.empty()) {
            endpoints = results;
          } else if (listener != nullptr && ec != asio::error::operation_aborted) {
            listener->on_venue_error("REST resolve of " + ep.host + " failed: " + ec.message() +
                                     " (the last addresses are used)");
          }
          for (auto& waiting : conns) {
            if (!waiting->await_resolve) continue;
            waiting->await_resolve = false;
            connect(*waiting);
          }
        });
    return;
  }
  connect(c);
}

void BinanceRestVenue::Impl::connect(Conn& c) {
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

void BinanceRestVenue::Impl::stamp(Job& j, std::int64_t now) {
  if (j.kind == JobKind::kPlace) {
    j.sent_ns = now;
    if (auto it = orders.find(j.cid); it != orders.end()) it->second.sent_ns = now;
  } else if (j.kind == JobKind::kQuery || j.kind == JobKind::kTime) {
    j.sent_ns = now;
  } else if (j.kind == JobKind::kAccount) {
    account_overlay.clear();  // stream balances from now on are newer than this answer
  }
}

// A request's bytes into `out` (cleared; its capacity stays from one request to the next: no
// allocation), signed over the query in place with the key schedule made once. send() writes
// it to the connection's buffer; warm() to its own.
void BinanceRestVenue::Impl::write_request(std::string& out, const Job& j, std::int64_t now) {
  out.clear();
  const auto verb = http::to_string(j.verb);
  out.append(verb.data(), verb.size());
  out += ' ';
  out += ep.path;
  out += j.path;
  const std::size_t query_at = out.size() + 1;
  if (!j.params.empty() || j.kind != JobKind::kTime) out += '?';
  out += j.params;
  if (j.kind != JobKind::kTime) {  // SIGNED
    if (!j.params.empty()) out += '&';
    char num[24];
    out += "recvWindow=";
    out.append(num, std::to_chars(num, num + sizeof num, opt.recv_window_ms).ptr);
    out += "&timestamp=";
    out.append(num, std::to_chars(num, num + sizeof num, venue_ms(now)).ptr);
    char sig[net::kHmacSha256HexLen];
    signer.sign_hex(std::string_view(out).substr(query_at), sig);
    out += "&signature=";
    out.append(sig, sizeof sig);
  }
  out += " HTTP/1.1\r\n";
  out += request_headers;
}

void BinanceRestVenue::Impl::send(Conn& c) {
  Job& j = c.job;
  const std::int64_t now = realtime_ns();
  if (j.kind == JobKind::kPlace && j.deadline_ns != 0 && now > j.deadline_ns) {
    // Its deadline passed while the connection was made (connect, TLS handshake): not sent.
    const std::string cid = std::move(j.cid);
    c.busy = false;
    reject_expired(cid, "not sent before its deadline (the connection was being made)");
    return dispatch();
  }
  if (opt.backoff->holds(now)) {
    // The venue said back off while this connection was being made: the request waits at the
    // head of the queue like the others (tick() dispatches it again); the connection stays.
    c.busy = false;
    queue.insert(queue.begin(), std::move(j));
    return;
  }
  stamp(j, now);
  write_request(c.out, j, now);
  c.buf.clear();
  c.parser.emplace(c.answer);
  c.parser->body_limit(16U << 20);
  ++counters.requests;
  auto on_read = [this, &c](beast::error_code ec, std::size_t) {
    c.deadline_ns = 0;
    if (ec) return fail(c, c.timed_out ? beast::error::timeout : ec, "read");
    ++counters.responses;
    if (!c.parser->keep_alive()) close(c);
    Job done = std::move(c.job);
    c.busy = false;
    // The answer is read from a spare: what on_response() queues may take this connection again
    // at once, and its next request starts by clearing c.answer. A swap moves no bytes.
    std::swap(c.answer, answer_in_hand);
    on_response(done, answer_in_hand);
    give_back(done);
    dispatch();
  };
  auto on_write = [this, &c, on_read](beast::error_code ec, std::size_t) {
    if (ec) {
      c.deadline_ns = 0;
      return fail(c, c.timed_out ? beast::error::timeout : ec, "write");
    }
    if (c.tls) {
      http::async_read(*c.tls, c.buf, *c.parser, net::with_slots(c.slots, on_read));
    } else {
      http::async_read(*c.plain, c.buf, *c.parser, net::with_slots(c.slots, on_read));
    }
  };
  // No stream timer: the stream would arm one before writing and again for every read, and each
  // new earliest timer is a timerfd_settime syscall, the first before the order's bytes. The
  // request goes into the socket's send buffer at once (Asio writes before async_write returns;
  // one request at a time per connection, far below the smallest send buffer), and the answer's
  // wait is bounded by expire_requests(), from tick().
  c.timed_out = false;
  // On the monotonic clock: a step of the wall clock neither expires nor stretches it.
  c.deadline_ns = core::monotonic_ns() + static_cast<std::int64_t>(opt.timeout_ms) * 1'000'000;
  if (stamp_writes && j.kind == JobKind::kPlace && j.cid == placing_cid) {
    last_order_write_ns = realtime_ns();
  }
  if (c.tls) {
    beast::get_lowest_layer(*c.tls).expires_never();
    asio::async_write(*c.tls, asio::buffer(c.out), net::with_slots(c.slots, on_write));
  } else {
    c.plain->expires_never();
    asio::async_write(*c.plain, asio::buffer(c.out), net::with_slots(c.slots, on_write));
  }
}

void BinanceRestVenue::Impl::expire_requests() {
  std::int64_t now = 0;  // read once, and only while a request is on the wire
  for (auto& c : conns) {
    if (c->deadline_ns == 0) continue;
    if (now == 0) now = core::monotonic_ns();
    if (now <= c->deadline_ns) continue;
    c->deadline_ns = 0;
    c->timed_out = true;
    close(*c);  // the pending write or read completes with operation_aborted: fail() says timeout
  }
}

void BinanceRestVenue::Impl::close(Conn& c) {
  beast::error_code ec;
  if (c.tls) beast::get_lowest_layer(*c.tls).socket().close(ec);
  if (c.plain) c.plain->socket().close(ec);
  c.connected = false;
}

// Transport failure: the outcome of this request is unknown.
void BinanceRestVenue::Impl::fail(Conn& c, beast::error_code ec, const char* stage) {
  ++counters.transport_errors;
  resolve_next = true;
  close(c);
  Job j = std::move(c.job);
  c.busy = false;
  if (listener != nullptr) {
    listener->on_venue_error(std::string("REST ") + stage + " failed: " + ec.message());
  }
  unknown_outcome(j, 0);
  dispatch();
}

// ---- unknown outcomes and retries ------------------------------------------------------
// A request that may or may not have been executed (transport error, timeout, 5xx).
void BinanceRestVenue::Impl::unknown_outcome(Job& j, int http_status) {
  const std::int64_t now = realtime_ns();
  switch (j.kind) {
    case JobKind::kPlace:
      ++counters.unknown_outcomes;
      if (auto it = orders.find(j.cid); it != orders.end()) it->second.answered = true;
      // Query only once the request can no longer be executed: Binance refuses a request that
      // reaches the matching engine later than timestamp + recvWindow, so a -2013 after that
      // proves the order does not exist and a resend cannot duplicate it.
      enqueue_query(j.cid, j.symbol, 0, expiry_ns(j.sent_ns));
      break;
    case JobKind::kQuery:
      query_failed(j, http_status, "order status could not be established");
      break;
    case JobKind::kCancel:
      // The cancel may or may not have happened: the order's status tells, and an order still
      // open is cancelled again.
      cancel_owed(j.cid, j.symbol);
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
    case JobKind::kTime:
      time_queued = false;
      clock_tried = true;  // signed requests go on with the last offset (0 at first)
      enqueue_time(now + 1'000'000'000);
      break;
  }
}

// A myTrades look-up that did not give all of an order's commissions (a failure, or fills not
// listed yet): asked again with back-off (to 3 s) for as long as the order is tracked, since its
// terminal report and position update wait for them. Never dropped.
void BinanceRestVenue::Impl::trades_again(const Job& j) {
  if (orders.find(j.cid) == orders.end()) {
    trades_queued.erase(j.cid);
    return;
  }
  Job again = j;
  ++again.attempt;
  again.not_before_ns = realtime_ns() + backoff_ns(j.attempt);
  enqueue(std::move(again));
}

std::int64_t BinanceRestVenue::Impl::expiry_ns(std::int64_t sent_ns) const noexcept {
  return sent_ns + recv_window_ns() + clock_uncertainty_ns + kExpiryMarginNs;
}

std::int64_t BinanceRestVenue::Impl::recv_window_ns() const noexcept {
  return static_cast<std::int64_t>(opt.recv_window_ms) * 1'000'000;
}

std::int64_t BinanceRestVenue::Impl::backoff_ns(std::uint32_t attempt) {
  return std::min<std::int64_t>(100'000'000LL << std::min<std::uint32_t>(attempt, 5),
                                3'000'000'000LL);
}

// A status query that did not establish the order's state. It is asked again (back-off up to
// 3 s) for as long as the order is tracked: giving up would leave an order that may be live on
// the venue untracked. After unknown_query_attempts the listener is told (kUnknown, once).
void BinanceRestVenue::Impl::query_failed(const Job& j, int http_status, std::string_view why) {
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

}  // namespace cwts::venue
