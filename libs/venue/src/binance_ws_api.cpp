// BinanceRestVenue::Impl, the WebSocket API session: one connection to /ws-api/v3 that carries the
// user data stream (userDataStream.subscribe.signature; executionReport, outboundAccountPosition)
// and, with order_transport ws, order.place / order.cancel / order.status. REST takes over
// whatever the session cannot do while it is down. See docs/engine.md "Venues".
#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "binance_rest_impl.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/core/json_writer.hpp"
#include "cwts/net/hmac.hpp"
#include "cwts/net/tls_client.hpp"

namespace cwts::venue {

namespace websocket = beast::websocket;

namespace {

using core::realtime_ns;

using detail::parse8;

// Parameters Binance types as integers; the rest are sent as JSON strings.
bool integer_param(std::string_view name) noexcept {
  return name == "timestamp" || name == "recvWindow" || name == "orderId" || name == "limit" ||
         name == "fromId" || name == "startTime" || name == "endTime";
}

std::int64_t reconnect_backoff_ns(std::uint32_t failures) {
  return std::min<std::int64_t>(250'000'000LL << std::min<std::uint32_t>(failures, 6),
                                10'000'000'000LL);
}

}  // namespace

// ---- the connection --------------------------------------------------------------------
void BinanceRestVenue::Impl::ws_tick(std::int64_t now_ns) {
  if (ws_state == WsState::kOff) return;
  if (ws_state == WsState::kDown && now_ns >= ws_next_connect_ns && clock_tried &&
      !opt.backoff->holds(now_ns)) {
    ws_connect();  // a connection costs request weight too: not while the venue said back off
  }
  // Requests without an answer in time: their outcome is unknown (the session may be stuck).
  for (const auto& [id, j] : ws_inflight) {
    if (now_ns > j.ws_timeout_ns) return ws_down("no answer within request_timeout_ms");
  }
  if (ws_state == WsState::kSubscribing && ws_subscribe_id != 0 &&
      now_ns > ws_connected_ns + static_cast<std::int64_t>(opt.timeout_ms) * 1'000'000) {
    return ws_down("the user data stream subscription was not answered");
  }
  // Silence on the open session: a ping at half the limit, dead at the limit (nothing at all
  // came back, not even the ping's pong). The clock is read only while a session is open.
  if (ws_state == WsState::kSubscribing || ws_state == WsState::kLive) {
    const std::int64_t silent = core::monotonic_ns() - ws_heard_ns;
    const auto limit = static_cast<std::int64_t>(opt.ws_silence_ms) * 1'000'000;
    if (silent >= limit) {
      return ws_down("nothing heard for " + std::to_string(opt.ws_silence_ms) +
                     " ms, not even a pong");
    }
    if (silent >= limit / 2 && !ws_ping_sent && !ws_ping_pending) ws_ping();
  }
}

void BinanceRestVenue::Impl::ws_heard() noexcept {
  ws_heard_ns = core::monotonic_ns();
  ws_ping_sent = false;
}

void BinanceRestVenue::Impl::ws_ping() {
  ws_ping_sent = ws_ping_pending = true;
  std::shared_ptr<net::WsConn> c = ws;
  std::weak_ptr<int> alive = life;
  c->visit([&](auto& s) {
    // Beast queues the ping behind a write in progress; one at a time (ws_ping_pending).
    s.async_ping({}, [this, c, alive](beast::error_code ec) {
      if (alive.expired() || c != ws) return;
      ws_ping_pending = false;
      if (ec) ws_down("ping: " + ec.message());
    });
  });
}

void BinanceRestVenue::Impl::ws_connect() {
  auto c = std::make_shared<net::WsConn>(ioc, ws_ep.tls ? &*ws_tls : nullptr);
  end_session_slots();
  ws = c;
  ws_state = WsState::kConnecting;
  ws_writing = false;
  ws_drop_outbox();
  ws_connected_ns = realtime_ns();
  std::weak_ptr<int> alive = life;
  c->resolver.async_resolve(
      ws_ep.host, ws_ep.port_string(),
      [this, c, alive](beast::error_code ec, const tcp::resolver::results_type& results) {
        if (alive.expired() || c != ws) return;
        if (ec) return ws_down("resolve: " + ec.message());
        c->visit([&](auto& s) {
          beast::get_lowest_layer(s).expires_after(std::chrono::milliseconds(opt.timeout_ms));
          beast::get_lowest_layer(s).async_connect(
              results, [this, c, alive, &s](beast::error_code ec2, const tcp::endpoint&) {
                if (alive.expired() || c != ws) return;
                if (ec2) return ws_down("connect: " + ec2.message());
                beast::error_code ignored;
                beast::get_lowest_layer(s).socket().set_option(tcp::no_delay(true), ignored);
                if constexpr (std::is_same_v<std::decay_t<decltype(s)>, net::TlsWs>) {
                  if (!net::prepare_tls_connection(s.next_layer().native_handle(), ws_ep)) {
                    return ws_down("tls setup refused");
                  }
                  s.next_layer().async_handshake(
                      ssl::stream_base::client, [this, c, alive, &s](beast::error_code ec3) {
                        if (alive.expired() || c != ws) return;
                        if (ec3) {
                          return ws_down("tls handshake: " +
                                         net::tls_error(s.next_layer().native_handle(), ec3));
                        }
                        ws_handshake(c, s);
                      });
                } else {
                  ws_handshake(c, s);
                }
              });
        });
      });
}

template <class Ws>
void BinanceRestVenue::Impl::ws_handshake(const std::shared_ptr<net::WsConn>& c, Ws& s) {
  beast::get_lowest_layer(s).expires_never();  // the WebSocket timeouts below take over
  websocket::stream_base::timeout t{};
  t.handshake_timeout = std::chrono::milliseconds(opt.timeout_ms);
  // Silence is ws_tick()'s (ws_silence_ms): Beast's idle timer is re-armed on every frame, a
  // timerfd_settime each: 1,704 over 347 orders on the exec thread (strace), about five per order.
  t.idle_timeout = websocket::stream_base::none();
  t.keep_alive_pings = false;
  s.set_option(t);
  // Pings and pongs are heard too (Beast answers the venue's pings itself, inside the read). A
  // raw pointer: the stream owns the callback, a shared_ptr would be a cycle.
  const net::WsConn* raw = c.get();
  s.control_callback(
      [this, raw, alive = std::weak_ptr<int>(life)](websocket::frame_type, beast::string_view) {
        if (!alive.expired() && raw == ws.get()) ws_heard();
      });
  s.set_option(websocket::stream_base::decorator(
      [](websocket::request_type& r) { r.set(http::field::user_agent, "cwtsd/0.1"); }));
  s.read_message_max(16U << 20);
  std::weak_ptr<int> alive = life;
  s.async_handshake(c->handshake_response, ws_ep.host_header(), ws_target,
                    [this, c, alive](beast::error_code ec) {
                      if (alive.expired() || c != ws) return;
                      if (ec) {
                        return ws_down("WebSocket API handshake (HTTP " +
                                       std::to_string(c->handshake_response.result_int()) +
                                       "): " + ec.message());
                      }
                      ++counters.ws_connects;
                      ws_state = WsState::kSubscribing;
                      ws_connected_ns = realtime_ns();
                      ws_heard();
                      ws_ping_pending = false;
                      ws_read(c);
                      ws_subscribe();
                    });
}

void BinanceRestVenue::Impl::ws_read(const std::shared_ptr<net::WsConn>& c) {
  std::weak_ptr<int> alive = life;
  c->visit([&](auto& s) {
    s.async_read(c->buffer, net::with_slots(net::slots_of(c), [this, c, alive](beast::error_code ec,
                                                                               std::size_t n) {
                   if (alive.expired() || c != ws) return;
                   if (ec) return ws_down("read: " + ec.message());
                   ws_heard();
                   const auto data = c->buffer.cdata();
                   ws_frame(std::string_view(static_cast<const char*>(data.data()), data.size()));
                   c->buffer.consume(n);
                   if (c == ws) ws_read(c);  // a frame may have ended the session
                 }));
  });
}

void BinanceRestVenue::Impl::ws_send(std::string&& frame) {
  ws_outbox.push_back(std::move(frame));
  if (!ws_writing) ws_write_next();
}

void BinanceRestVenue::Impl::end_session_slots() noexcept {
  if (ws) ws_spills_before += ws->slots.spilled();
}

void BinanceRestVenue::Impl::ws_drop_outbox() {
  for (std::string& f : ws_outbox) give_back_frame(std::move(f));  // their room, for the next
  ws_outbox.clear();
}

std::string BinanceRestVenue::Impl::take_frame() {
  if (ws_spare_frames.empty()) return {};
  std::string f = std::move(ws_spare_frames.back());
  ws_spare_frames.pop_back();
  return f;
}

void BinanceRestVenue::Impl::give_back_frame(std::string&& frame) {
  if (frame.capacity() >= 256 && ws_spare_frames.size() < ws_spare_frames.capacity()) {
    ws_spare_frames.push_back(std::move(frame));
  }
}

void BinanceRestVenue::Impl::ws_write_next() {
  if (ws_outbox.empty() || !ws) {
    ws_writing = false;
    return;
  }
  ws_writing = true;
  std::shared_ptr<net::WsConn> c = ws;
  std::weak_ptr<int> alive = life;
  // The frame lives in the handler too: a session dropped meanwhile clears the outbox, while the
  // aborted write may still refer to its bytes until the handler runs. The string on the wire is
  // reused while no handler holds it (a write's handler lets go of it before starting the next;
  // after an aborted write a new one is taken); the previous frame's room goes back to the spares.
  if (!ws_wire || ws_wire.use_count() > 1) ws_wire = std::make_shared<std::string>();
  ws_wire->swap(ws_outbox.front());
  give_back_frame(std::move(ws_outbox.front()));
  ws_outbox.erase(ws_outbox.begin());
  std::shared_ptr<const std::string> frame = ws_wire;
  c->visit([&](auto& s) {
    s.text(true);
    s.async_write(asio::buffer(*frame),
                  net::with_slots(net::slots_of(c), [this, c, alive, frame](beast::error_code ec,
                                                                            std::size_t) mutable {
                    if (alive.expired() || c != ws) return;
                    if (ec) return ws_down("write: " + ec.message());
                    // Written: this handler (the only copy left) lets go of the frame, so the
                    // next write reuses the string rather than taking a new one.
                    frame.reset();
                    ws_write_next();
                  }));
  });
}

// The session ended (or never opened): REST takes over and a new session is attempted with
// back-off. Order requests in flight on it have an unknown outcome: queried, never resent blind.
void BinanceRestVenue::Impl::ws_down(const std::string& why) {
  if (ws_state == WsState::kOff) return;
  const bool was_live = ws_state == WsState::kLive;
  if (ws) ws->close_socket();
  end_session_slots();
  ws.reset();
  ws_state = WsState::kDown;
  ws_writing = false;
  ws_drop_outbox();
  ws_subscribe_id = 0;
  ws_next_connect_ns = realtime_ns() + reconnect_backoff_ns(ws_failures);
  ++ws_failures;
  if (was_live) ++counters.stream_gaps;
  if (listener != nullptr) {
    listener->on_venue_error(std::string(was_live ? "user data stream lost" : "WebSocket API") +
                             ": " + why + "; polling over REST until it is back");
  }
  std::vector<Job> lost;
  for (auto& [id, j] : ws_inflight) lost.push_back(std::move(j));
  ws_inflight.clear();
  for (Job& j : lost) unknown_outcome(j, 0);
  dispatch();
}

// ---- requests --------------------------------------------------------------------------
void BinanceRestVenue::Impl::ws_signed_request(std::string& out, std::string_view method,
                                               std::string_view params, std::uint64_t id,
                                               std::int64_t now_ns) {
  // The parameters as views, in a fixed array: the jobs' fixed sets are at most 11, and 3 are
  // added (a throw here would be a programming error, loud rather than a request signed wrong).
  constexpr std::size_t kMaxParams = 32;
  std::array<std::pair<std::string_view, std::string_view>, kMaxParams> kv;
  std::size_t n = 0;
  const auto add = [&](std::string_view k, std::string_view v) {
    if (n == kMaxParams) throw std::length_error("WebSocket API request: too many parameters");
    kv[n++] = {k, v};
  };
  while (!params.empty()) {
    const std::size_t amp = params.find('&');
    const std::string_view item = params.substr(0, amp);
    const std::size_t eq = item.find('=');
    if (eq != std::string_view::npos) add(item.substr(0, eq), item.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    params.remove_prefix(amp + 1);
  }
  char recv[24], ts[24];
  const char* recv_end = std::to_chars(recv, recv + sizeof recv, opt.recv_window_ms).ptr;
  const char* ts_end = std::to_chars(ts, ts + sizeof ts, venue_ms(now_ns)).ptr;
  add("apiKey", opt.api_key);
  add("recvWindow", std::string_view(recv, static_cast<std::size_t>(recv_end - recv)));
  add("timestamp", std::string_view(ts, static_cast<std::size_t>(ts_end - ts)));
  std::sort(kv.begin(), kv.begin() + static_cast<std::ptrdiff_t>(n));
  std::string& payload = ws_payload;  // its room kept from one request to the next
  payload.clear();
  for (std::size_t i = 0; i < n; ++i) {
    if (i != 0) payload += '&';
    payload.append(kv[i].first).append("=").append(kv[i].second);
  }
  char sig[net::kHmacSha256HexLen];
  signer.sign_hex(payload, sig);
  // The JSON is the payload plus quotes, the method, the id and the signature: under 256 more.
  core::JsonWriter w(std::move(out), payload.size() + 256);
  w.begin_object().key("id").uinteger(id).key("method").string(method).key("params");
  w.begin_object();
  for (std::size_t i = 0; i < n; ++i) {
    const auto& [k, v] = kv[i];
    w.key(k);
    std::int64_t num = 0;
    const char* end = v.data() + v.size();
    if (integer_param(k) && std::from_chars(v.data(), end, num).ptr == end) {
      w.integer(num);
    } else {
      w.string(v);
    }
  }
  w.key("signature").string(std::string_view(sig, sizeof sig));
  w.end_object().end_object();
  out = std::move(w).str();
}

void BinanceRestVenue::Impl::ws_subscribe() {
  ws_subscribe_id = ws_next_id++;
  std::string frame = take_frame();
  ws_signed_request(frame, "userDataStream.subscribe.signature", "", ws_subscribe_id,
                    realtime_ns());
  ws_send(std::move(frame));
}

bool BinanceRestVenue::Impl::ws_orders() const noexcept {
  return opt.order_transport == OrderTransport::kWs &&
         (ws_state == WsState::kSubscribing || ws_state == WsState::kLive);
}

void BinanceRestVenue::Impl::ws_start(Job j) {
  const std::int64_t now = realtime_ns();
  stamp(j, now);
  const char* method = j.kind == JobKind::kPlace    ? "order.place"
                       : j.kind == JobKind::kCancel ? "order.cancel"
                                                    : "order.status";
  const std::uint64_t id = ws_next_id++;
  j.ws_timeout_ns = now + static_cast<std::int64_t>(opt.timeout_ms) * 1'000'000;
  std::string frame = take_frame();
  ws_signed_request(frame, method, j.params, id, now);
  const bool placing = stamp_writes && j.kind == JobKind::kPlace && j.cid == placing_cid;
  ws_inflight.emplace(id, std::move(j));
  ++counters.requests;
  ++counters.ws_requests;
  if (placing && !ws_writing) last_order_write_ns = realtime_ns();
  ws_send(std::move(frame));
}

// ---- frames ----------------------------------------------------------------------------
void BinanceRestVenue::Impl::ws_frame(std::string_view text) {
  simdjson::dom::element frame;
  if (ws_json.parse(text.data(), text.size()).get(frame) != simdjson::SUCCESS) {
    if (listener != nullptr) listener->on_venue_error("unparsable WebSocket API frame");
    return;
  }
  simdjson::dom::element ev;
  if (frame["event"].get(ev) == simdjson::SUCCESS) {
    if (frame["subscriptionId"].error() == simdjson::SUCCESS) return on_stream_event(ev);
    std::string_view e;
    if (ev["e"].get(e) == simdjson::SUCCESS && e == "serverShutdown") {
      // The venue closes this session soon: open the next one now (a short gap, reconciled).
      ws_failures = 0;
      ws_down("the venue announced a shutdown of the session");
      ws_next_connect_ns = 0;
    }
    return;
  }
  // A response: its rateLimits first (the same figures REST gives as headers).
  simdjson::dom::array limits;
  if (listener != nullptr && frame["rateLimits"].get(limits) == simdjson::SUCCESS) {
    std::uint64_t weight = 0, orders10s = 0, orders1d = 0;
    for (auto l : limits) {
      std::string_view type, interval;
      std::uint64_t num = 0, count = 0;
      if (l["rateLimitType"].get(type) || l["interval"].get(interval) ||
          l["intervalNum"].get(num) || l["count"].get(count)) {
        continue;
      }
      if (type == "REQUEST_WEIGHT" && interval == "MINUTE" && num == 1) weight = count;
      if (type == "ORDERS" && interval == "SECOND" && num == 10) orders10s = count;
      if (type == "ORDERS" && interval == "DAY" && num == 1) orders1d = count;
    }
    listener->on_rate_headers(weight, orders10s, orders1d);
  }
  std::uint64_t id = 0;
  if (frame["id"].get(id) != simdjson::SUCCESS) return;  // not one of ours (ids are numbers)
  if (id == ws_subscribe_id) {
    ws_subscribe_id = 0;
    std::int64_t status = 0;
    if (frame["status"].get(status) != simdjson::SUCCESS) status = 0;
    if (status != 200) {
      std::string_view msg;
      if (frame["error"]["msg"].get(msg) != simdjson::SUCCESS) msg = "no reason given";
      return ws_down("user data stream subscription refused (" + std::to_string(status) +
                     "): " + std::string(msg));
    }
    ws_state = WsState::kLive;
    ws_failures = 0;
    return reconcile_gap(realtime_ns());
  }
  on_ws_response(id, frame);
}

void BinanceRestVenue::Impl::on_ws_response(std::uint64_t id, simdjson::dom::element frame) {
  auto it = ws_inflight.find(id);
  if (it == ws_inflight.end()) return;  // timed out already: its query settles it
  Job j = std::move(it->second);
  ws_inflight.erase(it);
  ++counters.responses;
  std::int64_t status = 0;
  if (frame["status"].get(status) != simdjson::SUCCESS) status = 0;
  simdjson::dom::element doc;
  bool parsed = frame["result"].get(doc) == simdjson::SUCCESS;
  std::int64_t retry_after_s = 0;
  if (!parsed && frame["error"].get(doc) == simdjson::SUCCESS) {
    parsed = true;
    std::int64_t retry_ms = 0;  // Binance: data.retryAfter, a time in ms
    if (doc["data"]["retryAfter"].get(retry_ms) == simdjson::SUCCESS) {
      // Rounded up: rounded down, the client comes back before the venue's time and is banned.
      const std::int64_t left_ms =
          std::clamp<std::int64_t>(retry_ms - realtime_ns() / 1'000'000, 0, 3 * 86'400'000LL);
      retry_after_s = std::max<std::int64_t>(1, (left_ms + 999) / 1000);
    }
  }
  on_answer(j, static_cast<int>(status), doc, parsed, retry_after_s, "WebSocket API error");
  give_back(j);
  dispatch();
}

// ---- the user data stream --------------------------------------------------------------
void BinanceRestVenue::Impl::on_stream_event(simdjson::dom::element ev) {
  ++counters.stream_events;
  std::string_view e;
  if (ev["e"].get(e) != simdjson::SUCCESS) return;
  if (e == "executionReport") return on_execution_report(ev);
  if (e == "outboundAccountPosition") return on_account_position(ev);
  if (e == "eventStreamTerminated") {
    // The subscription ended while the session stays: subscribe again; what happened in
    // between is reconciled when it is live again.
    if (ws_state == WsState::kLive) ++counters.stream_gaps;
    ws_state = WsState::kSubscribing;
    ws_connected_ns = realtime_ns();
    return ws_subscribe();
  }
  // balanceUpdate: the outboundAccountPosition that follows carries the balances; listStatus:
  // this engine places no order lists.
}

void BinanceRestVenue::Impl::on_execution_report(simdjson::dom::element ev) {
  std::string_view cid, orig, x, status_text, symbol;
  if (ev["c"].get(cid) || ev["x"].get(x) || ev["X"].get(status_text) || ev["s"].get(symbol)) {
    if (listener != nullptr) listener->on_venue_error("executionReport without c, x, X or s");
    return;
  }
  if (ev["C"].get(orig) != simdjson::SUCCESS) orig = {};  // null or absent
  std::uint64_t oid = 0;
  if (ev["i"].get(oid) != simdjson::SUCCESS) oid = 0;
  auto it = orders.find(std::string(cid));
  // A cancel's report names the cancel request in c and the order in C.
  if (it == orders.end() && !orig.empty()) it = orders.find(std::string(orig));
  if (it == orders.end()) {
    const bool ours = finished.count(std::string(cid)) != 0 ||
                      (!orig.empty() && finished.count(std::string(orig)) != 0);
    if (!ours && x == "NEW" && oid != 0 && foreign_seen.insert(oid).second && listener != nullptr) {
      listener->on_foreign_order(symbol, cid, oid);
    }
    return;
  }
  Tracked& t = it->second;
  OrderStatus st{};
  if (!parse_status(status_text, st)) {
    if (listener != nullptr) listener->on_venue_error("executionReport with an unknown status");
    return;
  }
  const OrderStatus before = t.status;
  const core::Qty cum_before = t.cum_qty;
  if (oid != 0) t.order_id = oid;
  advance(t, st);
  std::string_view s;
  if (ev["z"].get(s) == simdjson::SUCCESS) t.cum_qty = std::max(t.cum_qty, parse8<core::Qty>(s));
  if (ev["Z"].get(s) == simdjson::SUCCESS)
    t.cum_quote = std::max(t.cum_quote, parse8<core::Notional>(s));
  bool filled = false;
  if (x == "TRADE") {
    std::string_view qty, px, commission, asset;
    std::int64_t trade_id = 0;
    if (ev["l"].get(qty) || ev["L"].get(px) || ev["n"].get(commission) || ev["t"].get(trade_id)) {
      if (listener != nullptr) listener->on_venue_error("executionReport TRADE without l, L, n, t");
    } else {
      if (ev["N"].get(asset) != simdjson::SUCCESS) asset = {};
      const auto amount = parse8<core::Amount>(commission);
      filled = add_fill(t, FillRec{trade_id, parse8<core::Qty>(qty),
                                   fee_in_quote(t.symbol, parse8<core::Price>(px), amount, asset),
                                   amount, std::string(asset)});
    }
  }
  const bool was_acknowledged = t.acknowledged;
  acknowledged(it->first, t);
  const bool bare_new_before_answer = x == "NEW" && !t.answered && !t.resent;
  if ((!was_acknowledged || t.status != before || t.cum_qty > cum_before || filled) &&
      !bare_new_before_answer) {
    publish(it->first, t);
  }
  finish_if_final(it);
}

void BinanceRestVenue::Impl::on_account_position(simdjson::dom::element ev) {
  simdjson::dom::array arr;
  if (ev["B"].get(arr) != simdjson::SUCCESS) return;
  for (auto b : arr) {
    std::string_view asset, free_s, locked_s;
    if (b["a"].get(asset) || b["f"].get(free_s) || b["l"].get(locked_s)) continue;
    BalanceUpdate u;
    const std::size_t n = std::min(asset.size(), sizeof u.asset - 1);
    std::copy_n(asset.data(), n, u.asset);
    u.free = parse8<core::Amount>(free_s);
    u.locked = parse8<core::Amount>(locked_s);
    merge_balance(u);
    if (account_queued) account_overlay.push_back(u);
  }
  // Before the first /account answer the list is partial: it is told with that answer.
  if (ready && listener != nullptr) listener->on_balances(balances);
}

void BinanceRestVenue::Impl::reconcile_gap(std::int64_t now_ns) {
  std::vector<std::string> symbols;
  for (const auto& [cid, t] : orders) {
    if (t.final || !t.acknowledged) continue;
    if (std::find(symbols.begin(), symbols.end(), t.symbol) == symbols.end())
      symbols.push_back(t.symbol);
  }
  for (const auto& s : symbols) enqueue_open_orders(s, now_ns);
  enqueue_account(0);
}

}  // namespace cwts::venue
