#include "gateway/gateway.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "address_file.hpp"
#include "cwts/binance/json_responses.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/engine/validator.hpp"
#include "cwts/log/json_log.hpp"
#include "cwts/shm/slot_lease.hpp"
#include "engine.hpp"
#include "exec/slot_broker.hpp"
#include "gateway/gateway_impl.hpp"

namespace cwts::daemon {

namespace asio = boost::asio;
namespace cc = concurrent;
using binance::ApiError;
using binance::ErrorCode;
using layout::RejectReason;

namespace {

// While a client waits, reports are looked at this often; otherwise only to keep order state
// current (fills of resting orders) and the report ring drained.
constexpr auto kBusyPoll = std::chrono::microseconds(200);
constexpr auto kIdlePoll = std::chrono::milliseconds(5);

std::int64_t now_ms() { return core::realtime_ns() / 1'000'000; }

// The gateway thread's event loop by its idle strategy (threads.gateway.idle): `block` waits in
// epoll, so each request first wakes the thread (tens of µs on a VM); `busy-spin` polls its
// sockets without ever sleeping (a core at 100 %); `spin-then-yield` yields after an empty poll.
// Both spinning loops end as run() does: stopped, or out of work.
void run_io(asio::io_context& ioc, IdleStrategy idle) {
  if (idle == IdleStrategy::kBlock) {
    ioc.run();
    return;
  }
  while (!ioc.stopped()) {
    if (ioc.poll() == 0 && idle == IdleStrategy::kSpinThenYield) std::this_thread::yield();
  }
}

// The Binance error a client expects for an engine refusal (docs/gateway.md#errors).
ApiError reject_error(RejectReason r, std::int32_t venue_code, bool market) {
  const auto name = [r] { return std::string(engine::to_string(r)); };
  switch (r) {
    case RejectReason::kTickSize:
      return binance::errors::filter_failure("PRICE_FILTER");
    case RejectReason::kStepSize:
    case RejectReason::kMinQty:
    case RejectReason::kMaxQty:
      return binance::errors::filter_failure(market ? "MARKET_LOT_SIZE" : "LOT_SIZE");
    case RejectReason::kMinNotional:
    case RejectReason::kMaxNotional:
      return binance::errors::filter_failure("NOTIONAL");
    case RejectReason::kPercentPrice:
      return binance::errors::filter_failure("PERCENT_PRICE_BY_SIDE");
    case RejectReason::kUnknownSymbol:  // removed (symbols.remove) since the gateway took it
      return binance::make_error(ErrorCode::kBadSymbol,
                                 "Invalid symbol. The engine does not trade this symbol (any "
                                 "more); add it again with the control plane's symbols.add.");
    case RejectReason::kRateLimited:
      if (venue_code == -1003) {  // the venue's request-weight limit
        return binance::make_error(ErrorCode::kTooManyRequests,
                                   "Too much request weight used at the venue (retry after 1 s).");
      }
      return binance::make_error(ErrorCode::kTooManyOrders,
                                 venue_code == -1015
                                     ? "Too many new orders at the venue (retry after 1 s)."
                                     : "Too many new orders; the engine's rate governor refused "
                                       "this one (retry after 1 s).");
    case RejectReason::kVenueRejected:
      return binance::make_error(
          static_cast<ErrorCode>(venue_code != 0 ? venue_code : -2010),
          "New order rejected by the venue (Binance code " + std::to_string(venue_code) + ").");
    case RejectReason::kTradingHalted:
      return binance::errors::new_order_rejected(
          "Trading is halted by the engine (cwtsctl resume); nothing was sent to the venue.");
    default:
      return binance::errors::new_order_rejected("Rejected by the engine: " + name() + ".");
  }
}

ApiError ring_full() {
  return binance::make_error(ErrorCode::kTooManyRequests,
                             "The engine's signal ring for the gateway is full; retry.");
}

// Binance's answer when the outcome is not known in time: the client must look the order up.
ApiError status_unknown() {
  return binance::make_error(ErrorCode::kTimeout,
                             "Timeout waiting for response from backend server. Send status "
                             "unknown; execution status unknown.");
}

layout::Signal make_signal(const binance::NewOrder& o, std::uint16_t symbol) {
  layout::Signal s{};
  s.symbol = symbol;
  s.side = static_cast<std::uint8_t>(o.side == binance::Side::kBuy ? layout::Side::kBuy
                                                                   : layout::Side::kSell);
  switch (o.type) {
    case binance::OrderType::kLimit:
      s.type = static_cast<std::uint8_t>(layout::OrderType::kLimit);
      s.tif = static_cast<std::uint8_t>(
          o.tif == binance::TimeInForce::kGtc   ? layout::TimeInForce::kGtc
          : o.tif == binance::TimeInForce::kIoc ? layout::TimeInForce::kIoc
                                                : layout::TimeInForce::kFok);
      break;
    case binance::OrderType::kMarket:
      s.type = static_cast<std::uint8_t>(layout::OrderType::kMarket);
      break;
    case binance::OrderType::kLimitMaker:
      s.type = static_cast<std::uint8_t>(layout::OrderType::kLimitMaker);
      break;
  }
  s.price = o.price;
  s.qty = o.quantity;
  s.created_ns = core::realtime_ns();
  s.tag.assign("gateway");
  return s;
}

}  // namespace

void reply_json(Reply& reply, std::string body) {
  net::HttpServerResponse r;
  r.body = std::move(body);
  reply(std::move(r));
}

void reply_error(Reply& reply, const ApiError& e) {
  net::HttpServerResponse r;
  r.status = static_cast<unsigned>(e.http_status);
  r.body = binance::error_json(e);
  if (r.status == 429) r.headers.emplace_back("Retry-After", "1");
  reply(std::move(r));
}

// ---- set-up -------------------------------------------------------------------------------

Gateway::Impl::Impl(const Config& c, Engine& e, Credentials cr)
    : cfg(c), engine(e), market(e.market_region()) {
  creds.api_key = std::move(cr.key);
  creds.secret_key = std::move(cr.secret);
  secret = net::HmacSha256(creds.secret_key);
  const binance::ExchangeInfo& all = e.exchange_info();
  info.rate_limits = all.rate_limits;
  info.server_time_ms = all.server_time_ms;
  info.timezone = all.timezone;
  json.exchange_filters =
      binance::split_exchange_info_json(e.exchange_info_text()).exchange_filters;
  info.symbols.reserve(layout::kMaxSymbols);
  names.reserve(layout::kMaxSymbols);
  quotes.reserve(layout::kMaxSymbols);
  follow_symbols();
  // Order ids are signal seqs; starting at the clock in µs makes them increase across restarts
  // (a client's old orderId never names a new order).
  next_seq = static_cast<std::uint64_t>(core::realtime_ns() / 1000);
  orders = GatewayOrders(static_cast<std::int64_t>(next_seq));
  const std::uint64_t journaled = journal.open(
      cfg, orders, [this](std::string_view n) { return symbol_id(n); },
      [this](int id) { return quotes[static_cast<std::size_t>(id)]; });
  next_seq = std::max(next_seq, journaled + 1);
  net::HttpServerOptions o;
  o.max_body_bytes = cfg.gateway.max_body_bytes;
  o.too_large_body =
      binance::error_json(binance::make_error(ErrorCode::kUnknown, "Request body too large."));
  server.emplace(
      ioc, cfg.gateway.address, cfg.gateway.port,
      [this](net::HttpServerRequest&& req, Reply reply) {
        handle(std::move(req), std::move(reply));
      },
      o);
  port = server->port();  // read once here: the acceptor belongs to the gateway thread later
  server->set_upgrade(
      [this](const net::HttpServerRequest& req, std::shared_ptr<net::WsConnection> conn) {
        return open_stream(req, std::move(conn));
      });
  fetcher.emplace(ioc, cfg.venue, engine);
}

Gateway::Gateway(const Config& cfg, Engine& engine, Credentials credentials)
    : impl_(std::make_unique<Impl>(cfg, engine, std::move(credentials))) {}

Gateway::~Gateway() { stop(); }

std::uint16_t Gateway::port() const noexcept { return impl_->port; }

void Gateway::Impl::claim_slot() {
  layout::SignalSlot* mem = nullptr;
  const auto r =
      engine.slot_broker().claim_local(static_cast<int>(cfg.gateway.slot), "cwtsd-gateway", mem);
  if (r.status != shm::ClaimStatus::kOk) {
    throw std::runtime_error("gateway.slot " + std::to_string(cfg.gateway.slot) + ": " + r.reason);
  }
  slot = r.slot;
  claim = r.claim;
  producer.emplace(mem->signals, market.slot(slot).signal_cursor);
  consumer.emplace(market.slot(slot).reports, mem->report_cursor);
  events.emplace(market.events);
  next_seq = std::max(
      next_seq, cc::load_word(market.slot(slot).last_signal_seq, std::memory_order_acquire) + 1);
  arm_poll();
}

void Gateway::start() {
  Impl& i = *impl_;
  i.claim_slot();
  i.thread = std::thread([&i] {
    pin_current_thread("cwtsd-gateway", i.cfg.gateway_thread);
    try {
      run_io(i.ioc, i.cfg.gateway_thread.idle);
    } catch (const std::exception& e) {
      log::log_event(spdlog::level::critical, "gateway", "thread_failed",
                     log::LogFields().str("error", e.what()));
    }
  });
  i.started = true;
  // Where clients find it when the port was ephemeral (as the control plane's .control file).
  i.port_file = i.cfg.region.shm_dir + "/cwts-" + i.cfg.region.instance + ".gateway";
  if (const std::string why =
          publish_file(i.port_file, i.cfg.gateway.address + ':' + std::to_string(port()) + '\n');
      !why.empty()) {
    log::log_event(spdlog::level::err, "gateway", "address_file_failed",
                   log::LogFields().str("file", i.port_file).str("error", why));
    i.port_file.clear();
  }
  log::log_event(spdlog::level::info, "gateway", "listening",
                 log::LogFields()
                     .str("address", i.cfg.gateway.address)
                     .unum("port", port())
                     .unum("slot", i.slot)
                     .unum("symbols", i.names.size()));
}

void Gateway::stop() {
  Impl& i = *impl_;
  if (!i.started) return;
  i.started = false;
  asio::post(i.ioc, [&i] {
    i.stream_clients.clear();
    i.server->stop();
    i.poll_timer.cancel();
    i.ioc.stop();
  });
  if (i.thread.joinable()) i.thread.join();
  i.fetcher.reset();
  if (!i.port_file.empty()) std::remove(i.port_file.c_str());
  if (i.claim != 0) i.engine.slot_broker().release_local(i.slot);
  i.claim = 0;
  log::log_event(spdlog::level::info, "gateway", "stopped",
                 log::LogFields().unum("orders_known", i.orders.size()));
}

void Gateway::Impl::follow_symbols() {
  const auto all = engine.symbol_names();
  for (std::size_t id = names.size(); id < all.size(); ++id) {
    const binance::SymbolSpec& spec = engine.symbol_spec(id);
    info.symbols.push_back(spec);
    names.emplace_back(all[id]);
    quotes.push_back(spec.quote);
    if (const std::string_view object = engine.symbol_json(id); !object.empty()) {
      json.symbols.emplace_back(names.back(), std::string(object));
    }
  }
}

int Gateway::Impl::symbol_id(std::string_view name) const noexcept {
  for (std::size_t k = 0; k < names.size(); ++k)
    if (names[k] == name) return static_cast<int>(k);
  return -1;
}

// ---- requests -----------------------------------------------------------------------------

void Gateway::Impl::handle(net::HttpServerRequest&& req, Reply reply) {
  follow_symbols();
  auto parsed = binance::Request::parse(req.query(), req.body);
  if (!parsed.ok()) return reply_error(reply, parsed.error());
  const binance::Request& r = parsed.value();
  const std::string_view path = req.path();
  const std::string& m = req.method;
  if (m == "GET" && market_endpoint(path, req.query(), r, reply)) return;

  const bool order = path == "/api/v3/order";
  const bool open = path == "/api/v3/openOrders";
  const bool known = order || open || path == "/api/v3/order/test" || path == "/api/v3/allOrders" ||
                     path == "/api/v3/myTrades" || path == "/api/v3/account";
  if (!known) {
    net::HttpServerResponse nf;
    nf.status = 404;
    nf.body = binance::error_json(binance::make_error(
        ErrorCode::kUnknown, "The gateway does not serve " + m + " " + std::string(path) + "."));
    return reply(std::move(nf));
  }
  auto auth = binance::authenticate(r, req.header("x-mbx-apikey"), creds.api_key, secret,
                                    core::realtime_ns() / 1000);
  if (!auth.ok()) return reply_error(reply, auth.error());

  if (order && m == "POST") return place(r, false, std::move(reply));
  if (path == "/api/v3/order/test" && m == "POST") return place(r, true, std::move(reply));
  if (order && m == "GET") return query(r, std::move(reply));
  if (order && m == "DELETE") return cancel(r, std::move(reply));
  if (open && m == "GET") return open_orders(r, std::move(reply));
  if (open && m == "DELETE") return cancel_all(r, std::move(reply));
  if (path == "/api/v3/allOrders" && m == "GET") return all_orders(r, std::move(reply));
  if (path == "/api/v3/myTrades" && m == "GET") return my_trades(r, std::move(reply));
  if (path == "/api/v3/account" && m == "GET") return account(r, std::move(reply));
  net::HttpServerResponse bad;
  bad.status = 405;
  bad.body = binance::error_json(
      binance::make_error(ErrorCode::kUnknown, m + " is not allowed on " + std::string(path)));
  reply(std::move(bad));
}

bool Gateway::Impl::push_signal(layout::Signal s) {
  return producer->try_push(s) == cc::PushStatus::kOk;
}

void Gateway::Impl::place(const binance::Request& r, bool test, Reply reply) {
  auto parsed = binance::parse_new_order(r, info);
  if (!parsed.ok()) {
    const std::string* name = r.find("symbol");
    if (parsed.error().code == ErrorCode::kBadSymbol && name != nullptr) {
      return reply_error(reply, not_traded(*name));  // says how to add it
    }
    return reply_error(reply, parsed.error());
  }
  binance::NewOrder o = std::move(parsed).value();
  if (o.quantity.is_zero()) {
    return reply_error(reply, binance::errors::new_order_rejected(
                                  "quoteOrderQty is not supported by the cwts gateway: send "
                                  "quantity."));
  }
  if (test) return reply_json(reply, binance::test_order_json(nullptr));
  if (!o.client_order_id.empty() && orders.client_id_in_use(o.symbol, o.client_order_id)) {
    return reply_error(reply, binance::errors::new_order_rejected(binance::msg::kDuplicateOrder));
  }
  const int sym = symbol_id(o.symbol);
  const std::uint64_t seq = next_seq;
  if (o.client_order_id.empty()) o.client_order_id = "cwtsgw-" + std::to_string(seq);
  layout::Signal s = make_signal(o, static_cast<std::uint16_t>(sym));
  s.seq = seq;
  if (!push_signal(s)) {
    return reply_error(
        reply, binance::make_error(ErrorCode::kTooManyRequests,
                                   "The engine's signal ring for the gateway is full; retry."));
  }
  ++next_seq;
  orders.add(seq, o, static_cast<std::uint16_t>(sym), quotes[static_cast<std::size_t>(sym)],
             now_ms());
  journal.order(seq, o, now_ms());
  Waiter w;
  w.seq = seq;
  w.resp = o.resp_type;
  w.until_final = o.type == binance::OrderType::kMarket || o.tif != binance::TimeInForce::kGtc;
  wait_for(std::move(w), std::move(reply));
}

namespace {

// The order a GET/DELETE names (orderId, origClientOrderId or both: then both must agree).
GatewayOrder* find_order(GatewayOrders& orders, const binance::OrderRef& ref) {
  GatewayOrder* g = nullptr;
  if (ref.order_id) g = orders.find(static_cast<std::uint64_t>(*ref.order_id));
  if (!ref.orig_client_order_id.empty()) {
    GatewayOrder* c = orders.find_client(ref.symbol, ref.orig_client_order_id);
    if (ref.order_id && c != g) return nullptr;
    g = c;
  }
  return g != nullptr && g->order.symbol == ref.symbol ? g : nullptr;
}

}  // namespace

void Gateway::Impl::query(const binance::Request& r, Reply reply) {
  auto ref = binance::parse_order_ref(r, info);
  if (!ref.ok()) return reply_error(reply, ref.error());
  const GatewayOrder* g = find_order(orders, ref.value());
  if (g == nullptr) return reply_error(reply, binance::errors::no_such_order());
  reply_json(reply, binance::order_query_json(g->order));
}

// The cancel signal for `g` (or the one already on its way): its seq, or 0 if the ring is full.
std::uint64_t Gateway::Impl::send_cancel(GatewayOrder& g, std::string cancel_cid) {
  if (g.cancel_seq != 0) return g.cancel_seq;  // a cancel is already on its way: wait for it too
  layout::Signal s{};
  s.seq = next_seq;
  s.type = static_cast<std::uint8_t>(layout::OrderType::kCancel);
  s.symbol = g.symbol_id;
  s.target_seq = g.seq;
  s.created_ns = core::realtime_ns();
  if (!push_signal(s)) return 0;
  ++next_seq;
  if (cancel_cid.empty()) cancel_cid = "cwtsgw-" + std::to_string(s.seq);
  journal.cancel(s.seq, g.seq, cancel_cid);
  orders.add_cancel(s.seq, g.seq, std::move(cancel_cid));
  return s.seq;
}

void Gateway::Impl::wait_for(Waiter w, Reply reply) {
  w.deadline_ms = now_ms() + cfg.gateway.answer_timeout_ms;
  w.reply = std::move(reply);
  waiters.push_back(std::move(w));
  arm_poll();
}

void Gateway::Impl::cancel(const binance::Request& r, Reply reply) {
  auto req = binance::parse_cancel(r, info);
  if (!req.ok()) return reply_error(reply, req.error());
  GatewayOrder* g = find_order(orders, req.value().ref);
  if (g == nullptr || g->final) {
    return reply_error(reply, binance::errors::cancel_rejected(binance::msg::kUnknownOrder));
  }
  const std::uint64_t seq = send_cancel(*g, req.value().new_client_order_id);
  if (seq == 0) return reply_error(reply, ring_full());
  Waiter w;
  w.place = false;
  w.cancel_seqs.push_back(seq);
  wait_for(std::move(w), std::move(reply));
}

void Gateway::Impl::cancel_all(const binance::Request& r, Reply reply) {
  auto sym = binance::parse_symbol(r, info);
  if (!sym.ok()) return reply_error(reply, sym.error());
  Waiter w;
  w.place = false;
  w.list = true;
  for (const binance::Order& o : orders.open_orders(sym.value()->name)) {
    GatewayOrder* g = orders.find(static_cast<std::uint64_t>(o.order_id));
    if (g == nullptr) continue;
    const std::uint64_t seq = send_cancel(*g, {});
    if (seq == 0) break;  // ring full: the ones sent are answered; the rest stay open
    w.cancel_seqs.push_back(seq);
  }
  if (w.cancel_seqs.empty()) {
    return reply_error(reply, binance::errors::cancel_rejected(binance::msg::kUnknownOrder));
  }
  wait_for(std::move(w), std::move(reply));
}

void Gateway::Impl::open_orders(const binance::Request& r, Reply reply) {
  auto sym = binance::parse_optional_symbol(r, info);
  if (!sym.ok()) return reply_error(reply, sym.error());
  const auto list = orders.open_orders(sym.value() == nullptr ? "" : sym.value()->name);
  reply_json(reply, binance::open_orders_json(list));
}

void Gateway::Impl::all_orders(const binance::Request& r, Reply reply) {
  auto sym = binance::parse_symbol(r, info);
  if (!sym.ok()) return reply_error(reply, sym.error());
  auto from = binance::parse_integer(r, "orderId", false);
  auto start = binance::parse_integer(r, "startTime", false);
  auto end = binance::parse_integer(r, "endTime", false);
  auto limit = binance::parse_integer(r, "limit", false);
  for (const auto* p : {&from, &start, &end, &limit})
    if (!p->ok()) return reply_error(reply, p->error());
  const std::int64_t n = limit.value().value_or(500);
  const auto list =
      orders.all_orders(sym.value()->name, from.value(), start.value(), end.value(),
                        static_cast<std::uint32_t>(std::clamp<std::int64_t>(n, 1, 1000)));
  reply_json(reply, binance::open_orders_json(list));
}

void Gateway::Impl::my_trades(const binance::Request& r, Reply reply) {
  auto q = binance::parse_my_trades(r, info);
  if (!q.ok()) return reply_error(reply, q.error());
  reply_json(reply, binance::my_trades_json(orders.trades(q.value())));
}

void Gateway::Impl::account(const binance::Request& r, Reply reply) {
  // Venue truth: the balances the exec thread last read from the venue. None read yet (the engine
  // is starting): Binance's retryable internal error, never an account that seems empty (a client
  // would believe it holds nothing: FreqTrade keeps such an answer for an hour).
  if (!engine.balances_read()) {
    return reply_error(reply, binance::make_error(binance::ErrorCode::kDisconnected,
                                                  "Internal error; unable to process your "
                                                  "request. Please try again."));
  }
  binance::Balances balances;
  std::int64_t update_ns = 0;
  const auto n = std::min<std::uint64_t>(
      cc::load_word(market.asset_count, std::memory_order_acquire), layout::kMaxAssets);
  for (std::uint64_t k = 0; k < n; ++k) {
    const layout::Balance b = market.balances[k].load();
    balances[std::string(b.asset.view())] = binance::Balance{b.free, b.locked};
    update_ns = std::max(update_ns, b.update_ts_ns);
  }
  const binance::CommissionRates rates;
  const bool omit = r.find("omitZeroBalances") != nullptr && *r.find("omitZeroBalances") == "true";
  reply_json(reply,
             binance::account_json(binance::AccountView{balances, rates, update_ns / 1'000'000},
                                   binance::AccountFlags{}, omit));
}

// ---- reports and answers --------------------------------------------------------------------

void Gateway::Impl::arm_poll() {
  poll_timer.expires_after(
      waiters.empty() ? std::chrono::duration_cast<asio::steady_timer::duration>(kIdlePoll)
                      : std::chrono::duration_cast<asio::steady_timer::duration>(kBusyPoll));
  poll_timer.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // cancelled: re-armed by whoever cancelled, or stopping
    poll();
  });
}

void Gateway::Impl::poll() {
  layout::ExecReport rep;
  const std::int64_t now = now_ms();
  while (consumer->try_pop(rep) == cc::PopStatus::kOk) {
    journal.report(rep);  // before any client can be told
    orders.apply(rep, now);
  }

  std::erase_if(waiters, [&](Waiter& w) {
    if (w.place) {
      GatewayOrder* g = orders.find_any(w.seq);
      if (g == nullptr) {  // never expected (only final orders are evicted): still one answer
        reply_error(w.reply, status_unknown());
        return true;
      }
      if (g->rejected) {
        const bool market_order = g->order.type == binance::OrderType::kMarket;
        reply_error(w.reply, reject_error(g->reject_reason, g->venue_code, market_order));
        return true;
      }
      if (g->final || (g->venue_answered && !w.until_final)) {
        binance::OrderResult res;
        res.order = g->order;
        res.fills = g->fills;
        res.resp_type = w.resp;
        res.transact_time_ms = g->order.time_ms;
        reply_json(w.reply, binance::order_response_json(res));
        return true;
      }
    } else {
      bool all_final = true;
      for (const std::uint64_t c : w.cancel_seqs) {
        const GatewayCancel* gc = orders.cancel(c);
        all_final = all_final && (gc == nullptr || gc->final);
      }
      if (all_final) {
        std::vector<binance::CancelResult> done;
        ApiError first_error;
        for (const std::uint64_t c : w.cancel_seqs) {
          const GatewayCancel* gc = orders.cancel(c);
          const GatewayOrder* g = gc == nullptr ? nullptr : orders.find(gc->target_seq);
          if (gc != nullptr && g != nullptr && gc->kind == layout::ReportKind::kCancelled) {
            done.push_back(binance::CancelResult{g->order, gc->cancel_client_order_id, now});
          } else if (first_error.ok()) {
            first_error = gc != nullptr && gc->reason == RejectReason::kRateLimited
                              ? reject_error(gc->reason, 0, false)
                              : binance::errors::cancel_rejected(binance::msg::kUnknownOrder);
          }
        }
        for (const std::uint64_t c : w.cancel_seqs) orders.forget_cancel(c);
        if (w.list && !done.empty()) {
          reply_json(w.reply, binance::cancel_all_json(done));
        } else if (!w.list && done.size() == 1) {
          reply_json(w.reply, binance::cancel_response_json(done.front()));
        } else {
          reply_error(w.reply, first_error);
        }
        return true;
      }
    }
    if (now >= w.deadline_ms) {
      reply_error(w.reply, status_unknown());
      return true;
    }
    return false;
  });
  pump_streams();
  arm_poll();
}

}  // namespace cwts::daemon
