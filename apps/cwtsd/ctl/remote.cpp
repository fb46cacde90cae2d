#include "ctl/remote.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <memory>

#include "ctl/jsonrpc_codes.hpp"
#include "ctl/remote_params.hpp"
#include "cwts/concurrent/word_copy.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/core/json_writer.hpp"
#include "cwts/log/json_log.hpp"
#include "cwts/shm/candle_history.hpp"
#include "exec/slot_broker.hpp"

namespace cwts::daemon {

namespace {

namespace cc = cwts::concurrent;
using core::JsonWriter;
using simdjson::dom::element;
using simdjson::dom::element_type;

using jsonrpc::kFailed;
using jsonrpc::kInvalidParams;

constexpr std::string_view kReadMethods[] = {"hello",
                                             "market.quote",
                                             "market.book",
                                             "market.candles",
                                             "market.indicators",
                                             "market.position",
                                             "market.subscribe",
                                             "market.unsubscribe"};
constexpr std::string_view kTradeMethods[] = {"slot.claim", "slot.release", "slot.submit",
                                              "slot.cancel"};

using remote_params::bool_field;
using remote_params::field;
using remote_params::int_field;
using remote_params::string_field;

constexpr std::string_view kKindNames[] = {"", "quote", "trade", "book", "candle", "status"};

std::uint8_t kind_bit(layout::EventKind k) noexcept {
  return static_cast<std::uint8_t>(1U << static_cast<unsigned>(k));
}

void decimals_of(const layout::SymbolInfo& info, JsonWriter& j) {
  j.key("price_decimals").uinteger(info.price_decimals);
  j.key("qty_decimals").uinteger(info.qty_decimals);
  j.key("tick").integer(info.tick_size.raw).key("step").integer(info.step_size.raw);
}

}  // namespace

// ---- sessions -------------------------------------------------------------------------------

RemoteSession::RemoteSession(RemoteHub& hub, RpcClient& client) : hub_(hub), client_(client) {
  // Every id the table can hold: symbols.add may publish more while the session lives (ADR 0025).
  const std::size_t n = hub.market_.symbol_capacity();
  kinds_.assign(n, 0);
  latest_quote_.assign(n, std::nullopt);
  latest_book_.assign(n, std::nullopt);
  dirty_.reserve(n);
  hub.sessions_.push_back(this);
}

RemoteSession::~RemoteSession() {
  release_slot();
  std::erase(hub_.sessions_, this);
}

void RemoteSession::release_slot() {
  if (!slot_) return;
  // The exec thread drains what this connection wrote before the slot has a new holder; reports
  // not read by then wait in the slot for it (ADR 0021).
  hub_.engine_.slot_broker().release_local(*slot_);
  log::log_event(spdlog::level::info, "ctl", "remote_slot_released",
                 log::LogFields().unum("slot", *slot_).str("who", client_.who));
  producer_.reset();
  consumer_.reset();
  slot_.reset();
  claim_ = 0;
}

void RemoteSession::offer(const layout::Event& e, std::uint64_t seq) {
  if (e.symbol >= kinds_.size() ||
      (kinds_[e.symbol] & kind_bit(static_cast<layout::EventKind>(e.kind))) == 0) {
    return;
  }
  const bool quote = e.kind == static_cast<std::uint8_t>(layout::EventKind::kQuote);
  if (quote || e.kind == static_cast<std::uint8_t>(layout::EventKind::kBook)) {
    if (!latest_quote_[e.symbol] && !latest_book_[e.symbol]) dirty_.push_back(e.symbol);
    (quote ? latest_quote_ : latest_book_)[e.symbol] = Pending{e, seq};
    return;
  }
  switch (static_cast<layout::EventKind>(e.kind)) {
    default:
      if (ordered_.size() >= RemoteHub::kMaxOrdered) {
        ++dropped_;
      } else {
        ordered_.push_back(Pending{e, seq});
      }
  }
}

void RemoteSession::flush() {
  net::WsConnection* conn = client_.conn;
  if (conn == nullptr || !conn->is_open()) return;
  const std::size_t limit = hub_.clients_slow_ ? 0 : hub_.hold_back_bytes();
  // Reports first: never dropped, they wait in the slot's ring while the client is slow; all of
  // them go while the engine stops.
  if (hub_.stopping_) {
    while (send_reports()) {
    }
  } else if (conn->queued_bytes() < limit) {
    (void)send_reports();
  }
  // Market data: conflated quotes and books with the queued events, in sequence order.
  while (conn->is_open() && conn->queued_bytes() < limit) {
    std::vector<const Pending*> batch;
    for (const std::uint16_t k : dirty_) {
      if (latest_quote_[k]) batch.push_back(&*latest_quote_[k]);
      if (latest_book_[k]) batch.push_back(&*latest_book_[k]);
    }
    const std::size_t conflated = batch.size();  // at most a quote and a book per symbol
    for (const Pending& p : ordered_) {
      if (batch.size() >= RemoteHub::kMaxFrameEvents + conflated) break;
      batch.push_back(&p);
    }
    if (batch.empty() && dropped_ == 0) return;
    std::sort(batch.begin(), batch.end(),
              [](const Pending* a, const Pending* b) { return a->seq < b->seq; });
    if (batch.size() > RemoteHub::kMaxFrameEvents) batch.resize(RemoteHub::kMaxFrameEvents);
    JsonWriter j;
    j.begin_object().key("jsonrpc").string("2.0").key("method").string("market.events");
    j.key("params").begin_object().key("events").begin_array();
    if (dropped_ != 0) {  // what this client lost, before what follows it
      j.begin_array().string("lapped").integer(-1).uinteger(dropped_);
      for (int i = 0; i < 8; ++i) j.integer(0);
      j.end_array();
      dropped_ = 0;
    }
    const std::uint64_t last = batch.empty() ? 0 : batch.back()->seq;
    for (const Pending* p : batch) j.raw(hub_.event_json_row(p->event, p->seq));
    j.end_array().end_object().end_object();
    // What was sent leaves the queues: conflated values up to `last`, ordered ones in front.
    std::erase_if(dirty_, [&](std::uint16_t k) {
      if (latest_quote_[k] && latest_quote_[k]->seq <= last) latest_quote_[k].reset();
      if (latest_book_[k] && latest_book_[k]->seq <= last) latest_book_[k].reset();
      return !latest_quote_[k] && !latest_book_[k];
    });
    while (!ordered_.empty() && ordered_.front().seq <= last) ordered_.pop_front();
    conn->send(std::move(j).str());
  }
}

bool RemoteSession::send_reports() {
  net::WsConnection* conn = client_.conn;
  if (!consumer_ || conn == nullptr || !conn->is_open()) return false;
  JsonWriter j;
  j.begin_object().key("jsonrpc").string("2.0").key("method").string("slot.reports");
  j.key("params").begin_object().key("reports").begin_array();
  layout::ExecReport r{};
  std::size_t n = 0;
  while (n < RemoteHub::kMaxFrameEvents && consumer_->try_pop(r) == cc::PopStatus::kOk) {
    j.raw(hub_.report_json_row(r));
    ++n;
  }
  j.end_array().end_object().end_object();
  if (n > 0) conn->send(std::move(j).str());
  return n > 0;
}

// ---- the hub --------------------------------------------------------------------------------

RemoteHub::RemoteHub(Engine& engine, const Config& cfg)
    : engine_(engine),
      cfg_(cfg),
      market_(engine.market_region()),
      hold_back_bytes_(std::min<std::size_t>(64 * 1024, cfg.control.max_queued_bytes / 4)),
      announced_(engine.symbol_names().size()) {}

bool RemoteHub::owns(std::string_view method) noexcept {
  return std::find(std::begin(kReadMethods), std::end(kReadMethods), method) !=
             std::end(kReadMethods) ||
         trades(method);
}

bool RemoteHub::trades(std::string_view method) noexcept {
  return std::find(std::begin(kTradeMethods), std::end(kTradeMethods), method) !=
         std::end(kTradeMethods);
}

int RemoteHub::symbol_id(std::string_view name) const {
  const auto& names = engine_.symbol_names();
  for (std::size_t k = 0; k < names.size(); ++k)
    if (names[k] == name) return static_cast<int>(k);
  throw RemoteError(kInvalidParams,
                    "unknown symbol " + std::string(name) + ": the engine trades " +
                        std::to_string(names.size()) + " symbols (hello lists them)",
                    "UnknownSymbol");
}

int RemoteHub::symbol_id(element params) const { return symbol_id(string_field(params, "symbol")); }

std::string RemoteHub::event_json_row(const layout::Event& e, std::uint64_t seq) const {
  // [kind, symbol id, seq, update_id, exchange_ns, receive_ns, publish_ns, a, b, c, d]: prices
  // and quantities as the region's integers (the client scales them with the symbol's decimals).
  JsonWriter j;
  j.begin_array().string(e.kind < std::size(kKindNames) ? kKindNames[e.kind] : "?");
  j.uinteger(e.symbol).uinteger(seq).uinteger(e.update_id);
  j.integer(e.exchange_ts_ns).integer(e.receive_ts_ns).integer(e.publish_ts_ns);
  switch (static_cast<layout::EventKind>(e.kind)) {
    case layout::EventKind::kQuote:
      j.integer(e.body.quote.bid_px.raw).integer(e.body.quote.bid_qty.raw);
      j.integer(e.body.quote.ask_px.raw).integer(e.body.quote.ask_qty.raw);
      break;
    case layout::EventKind::kBook:
      j.integer(e.body.book.bid_px.raw).integer(e.body.book.bid_qty.raw);
      j.integer(e.body.book.ask_px.raw).integer(e.body.book.ask_qty.raw);
      break;
    case layout::EventKind::kTrade:
      j.integer(e.body.trade.px.raw).integer(e.body.trade.qty.raw).uinteger(e.side).integer(0);
      break;
    case layout::EventKind::kCandleClose:
      j.integer(e.body.candle.candle.close.raw).integer(e.body.candle.candle.volume.raw);
      j.uinteger(e.timeframe).integer(0);
      break;
    case layout::EventKind::kStatus:
      j.uinteger(e.body.status.book_valid).uinteger(e.body.status.symbol_status);
      j.uinteger(e.body.status.trading_state).integer(0);
      break;
    default:
      j.integer(0).integer(0).integer(0).integer(0);
  }
  j.end_array();
  return std::move(j).str();
}

std::string RemoteHub::report_json_row(const layout::ExecReport& r) const {
  // [seq, kind, reason, symbol id, side, client_order_id, venue_order_id, last_qty, last_px,
  //  cum_qty, avg_px, fee, venue_code, ts_ns, fee_native, fee_asset] as the region holds them.
  JsonWriter j;
  j.begin_array().uinteger(r.signal_seq).uinteger(r.kind).uinteger(r.reason).uinteger(r.symbol);
  j.uinteger(r.side).string(r.client_order_id.view()).uinteger(r.venue_order_id);
  j.integer(r.last_qty.raw).integer(r.last_px.raw).integer(r.cum_qty.raw).integer(r.avg_px.raw);
  j.integer(r.fee.raw).integer(r.venue_code).integer(r.ts_ns).integer(r.fee_native.raw);
  j.string(r.fee_asset.view()).end_array();
  return std::move(j).str();
}

std::string RemoteHub::hello(const RpcClient& client) const {
  JsonWriter j;
  j.begin_object();
  j.key("instance").string(cfg_.region.instance);
  j.key("epoch_ns").uinteger(cc::load_word(market_.header.epoch_ns, std::memory_order_acquire));
  j.key("layout_version").uinteger(layout::kLayoutVersion);
  j.key("who").string(client.who);
  j.key("scopes").begin_object().key("read").boolean(client.scopes.can_read());
  j.key("admin").boolean(client.scopes.admin).key("trade").begin_array();
  for (std::uint32_t s = 0; s < layout::kMaxSlots; ++s)
    if (client.scopes.can_trade(s)) j.uinteger(s);
  j.end_array().end_object();
  j.key("timeframes").begin_array();
  for (std::uint32_t i = 0; i < market_.timeframe_count(); ++i)
    j.uinteger(market_.config.timeframe_s[i]);
  j.end_array();
  j.key("symbols");
  symbols_json(0, j);
  j.end_object();
  return std::move(j).str();
}

void RemoteHub::symbols_json(std::size_t from, JsonWriter& j) const {
  j.begin_array();
  const auto names = engine_.symbol_names();
  for (std::size_t k = from; k < names.size(); ++k) {
    const layout::SymbolInfo info = market_.symbol(k).info.load();
    j.begin_object().key("symbol").string(names[k]).key("id").uinteger(k);
    j.key("base").string(info.base.view()).key("quote").string(info.quote.view());
    decimals_of(info, j);
    j.end_object();
  }
  j.end_array();
}

void RemoteHub::announce_symbols() {
  // symbols.add runs on this thread too: a symbol's events are never fanned out before it is
  // announced (this runs first in every poll).
  const std::size_t n = engine_.symbol_names().size();
  if (n <= announced_) return;
  JsonWriter j;
  j.begin_object().key("jsonrpc").string("2.0").key("method").string("market.symbols");
  j.key("params").begin_object().key("symbols");
  symbols_json(announced_, j);
  j.end_object().end_object();
  const std::string note = std::move(j).str();
  for (RemoteSession* s : sessions_)
    if (s->client_.conn != nullptr && s->client_.conn->is_open()) s->client_.conn->send(note);
  announced_ = n;
}

std::string RemoteHub::call(std::string_view method, element params, RpcClient& client) {
  if (!client.remote) client.remote = std::make_shared<RemoteSession>(*this, client);
  RemoteSession& s = *client.remote;
  JsonWriter j;
  if (method == "hello") return hello(client);
  if (method == "market.quote") {
    const int id = symbol_id(params);
    const layout::Quote q = market_.symbol(id).quote.load();
    j.begin_object();
    j.key("bid").integer(q.bid_px.raw).key("ask").integer(q.ask_px.raw);
    j.key("bid_qty").integer(q.bid_qty.raw).key("ask_qty").integer(q.ask_qty.raw);
    j.key("last").integer(q.last_px.raw).key("last_qty").integer(q.last_qty.raw);
    j.key("last_side").uinteger(q.last_side).key("update_id").uinteger(q.update_id);
    j.key("exchange_ts_ns").integer(q.exchange_ts_ns).key("receive_ts_ns").integer(q.receive_ts_ns);
    j.key("publish_ts_ns").integer(q.publish_ts_ns).key("book_valid").boolean(q.book_valid != 0);
    j.end_object();
    return std::move(j).str();
  }
  if (method == "market.book") {
    const int id = symbol_id(params);
    // As the shared-memory bridge's book(): at most the levels asked for and the region holds.
    const auto depth = static_cast<std::size_t>(
        int_field(params, "depth", 1, static_cast<std::int64_t>(layout::kMaxBookDepth), 20));
    const auto book = std::make_unique<layout::BookTop>();
    const layout::BookTop& b = *book;
    market_.book(static_cast<std::size_t>(id)).load(*book, depth);
    const std::size_t nb = b.bid_count;
    const std::size_t na = b.ask_count;
    j.begin_object();
    auto column = [&](std::string_view key, const auto& arr, std::size_t n) {
      j.key(key).begin_array();
      for (std::size_t i = 0; i < n; ++i) j.integer(arr[i].raw);
      j.end_array();
    };
    column("bid_px", b.bid_px, nb);
    column("bid_qty", b.bid_qty, nb);
    column("ask_px", b.ask_px, na);
    column("ask_qty", b.ask_qty, na);
    j.key("update_id").uinteger(b.update_id).key("valid").boolean(b.book_valid != 0);
    j.end_object();
    return std::move(j).str();
  }
  if (method == "market.candles") {
    const int id = symbol_id(params);
    const auto tf_s = static_cast<std::uint32_t>(int_field(params, "timeframe", 1, 604800));
    const bool partial = bool_field(params, "partial", false);
    int tf = -1;
    for (std::uint32_t i = 0; i < market_.timeframe_count(); ++i)
      if (market_.config.timeframe_s[i] == tf_s) tf = static_cast<int>(i);
    if (tf < 0) {
      throw RemoteError(kInvalidParams,
                        "timeframe " + std::to_string(tf_s) +
                            "s is not published by the engine (see market.timeframes in its "
                            "config; hello lists them)",
                        "ValueError");
    }
    const auto& series = market_.candles(id, tf);
    std::vector<layout::Candle> rows;
    shm::read_closed_candles(market_, id, tf, market_.candle_history(), rows);
    if (partial) {
      const layout::Candle live = series.live.load();
      if (live.open_time_ms != 0 && (rows.empty() || live.open_time_ms > rows.back().open_time_ms))
        rows.push_back(live);
    }
    j.begin_object();
    auto column = [&](std::string_view key, auto get) {
      j.key(key).begin_array();
      for (const auto& row : rows) j.integer(get(row));
      j.end_array();
    };
    using C = layout::Candle;
    column("open_time_ms", [](const C& x) { return x.open_time_ms; });
    column("open", [](const C& x) { return x.open.raw; });
    column("high", [](const C& x) { return x.high.raw; });
    column("low", [](const C& x) { return x.low.raw; });
    column("close", [](const C& x) { return x.close.raw; });
    column("volume", [](const C& x) { return x.volume.raw; });
    column("trades", [](const C& x) { return static_cast<std::int64_t>(x.trades); });
    column("closed", [](const C& x) { return static_cast<std::int64_t>(x.closed); });
    j.end_object();
    return std::move(j).str();
  }
  if (method == "market.indicators") {
    const int id = symbol_id(params);
    const layout::IndicatorTable table = market_.symbol(id).indicator_table.load();
    const layout::IndicatorValues vals = market_.symbol(id).indicators.load();
    j.begin_object();
    for (std::uint32_t i = 0; i < table.count && i < layout::kMaxIndicators; ++i)
      j.key(table.desc[i].name.view()).real(vals.value[i]);
    j.end_object();
    return std::move(j).str();
  }
  if (method == "market.position") {
    const int id = symbol_id(params);
    const layout::Position p = market_.symbol(id).position.load();
    j.begin_object().key("qty").integer(p.qty.raw).key("avg_px").integer(p.avg_px.raw);
    j.key("realized_pnl").integer(p.realized_pnl.raw).key("fees").integer(p.fees.raw);
    j.key("open_orders").uinteger(p.open_orders).end_object();
    return std::move(j).str();
  }
  if (method == "market.subscribe" || method == "market.unsubscribe") {
    const bool add = method == "market.subscribe";
    std::uint8_t bits = 0;
    const auto kinds = field(params, "kinds");
    simdjson::dom::array arr;
    if (!kinds) {
      bits = kind_bit(layout::EventKind::kQuote) | kind_bit(layout::EventKind::kTrade) |
             kind_bit(layout::EventKind::kBook) | kind_bit(layout::EventKind::kCandleClose) |
             kind_bit(layout::EventKind::kStatus);
    } else if (kinds->get_array().get(arr) == simdjson::SUCCESS) {
      for (element e : arr) {
        std::string_view k;
        unsigned idx = 0;
        if (e.get_string().get(k) == simdjson::SUCCESS) {
          for (unsigned i = 1; i < std::size(kKindNames); ++i)
            if (kKindNames[i] == k) idx = i;
        }
        if (idx == 0) {
          throw RemoteError(kInvalidParams,
                            "invalid params: kinds are quote, book, trade, candle and status",
                            "ValueError");
        }
        bits |= static_cast<std::uint8_t>(1U << idx);
      }
    } else {
      throw RemoteError(kInvalidParams, "invalid params: kinds must be a list", "ValueError");
    }
    std::vector<int> ids;
    const auto syms = field(params, "symbols");
    if (!syms) {  // every symbol, those added later included
      for (std::size_t k = 0; k < s.kinds_.size(); ++k) ids.push_back(static_cast<int>(k));
    } else if (syms->get_array().get(arr) == simdjson::SUCCESS) {
      for (element e : arr) {
        std::string_view name;
        if (e.get_string().get(name) != simdjson::SUCCESS) {
          throw RemoteError(kInvalidParams, "invalid params: symbols are strings", "ValueError");
        }
        ids.push_back(symbol_id(name));
      }
    } else {
      throw RemoteError(kInvalidParams, "invalid params: symbols must be a list", "ValueError");
    }
    for (const int id : ids) {
      auto& k = s.kinds_[static_cast<std::size_t>(id)];
      k = add ? static_cast<std::uint8_t>(k | bits) : static_cast<std::uint8_t>(k & ~bits);
      if (!add) {  // drop what waits for kinds no longer wanted
        auto& q = s.latest_quote_[static_cast<std::size_t>(id)];
        auto& b = s.latest_book_[static_cast<std::size_t>(id)];
        if ((k & kind_bit(layout::EventKind::kQuote)) == 0) q.reset();
        if ((k & kind_bit(layout::EventKind::kBook)) == 0) b.reset();
        if (!q && !b) std::erase(s.dirty_, static_cast<std::uint16_t>(id));
      }
    }
    s.subscribed_ = std::any_of(s.kinds_.begin(), s.kinds_.end(), [](auto k) { return k != 0; });
    // The hub's reader starts at the ring's head when its first subscriber comes.
    if (s.subscribed_ && !reader_) reader_.emplace(market_.events);
    j.begin_object().key("next_seq").uinteger(reader_ ? reader_->next_sequence() : 0).end_object();
    return std::move(j).str();
  }
  if (method == "slot.claim") return claim(params, client);
  if (method == "slot.release") {
    s.release_slot();
    return "{}";
  }
  if (!s.slot_) {
    throw RemoteError(kFailed,
                      std::string(method) +
                          ": this connection holds no signal slot (call "
                          "slot.claim first)",
                      "CwtsError");
  }
  if (method == "slot.submit") return submit(params, s);
  if (method == "slot.cancel") {
    layout::Signal sig{};
    sig.type = static_cast<std::uint8_t>(layout::OrderType::kCancel);
    sig.target_seq = static_cast<std::uint64_t>(
        int_field(params, "seq", 1, std::numeric_limits<std::int64_t>::max()));
    return push(params, s, sig);
  }
  throw RemoteError(-32601, "method not found: " + std::string(method));
}

void RemoteHub::poll() {
  announce_symbols();
  if (reader_) {
    const bool any = std::any_of(sessions_.begin(), sessions_.end(),
                                 [](const RemoteSession* s) { return s->subscribed_; });
    if (!any) {
      reader_.reset();  // nobody listens: a new first subscriber starts at the head again
    } else {
      layout::Event e{};
      std::uint64_t seq = 0;
      for (int n = 0; n < 65536; ++n) {
        const auto st = reader_->try_read(e, &seq);
        if (st == cc::ReadStatus::kEmpty) break;
        if (st == cc::ReadStatus::kLapped) {  // the hub itself fell a lap behind: say so
          const std::uint64_t skipped = reader_->resync();
          for (RemoteSession* s : sessions_)
            if (s->subscribed_) s->dropped_ += skipped;
          continue;
        }
        for (RemoteSession* s : sessions_)
          if (s->subscribed_) s->offer(e, seq);
      }
    }
  }
  for (RemoteSession* s : sessions_) s->flush();
}

void RemoteHub::final_flush() {
  for (RemoteSession* s : sessions_) {
    while (s->send_reports()) {
    }
  }
}

std::size_t RemoteHub::unsent_bytes() const noexcept {
  std::size_t n = 0;
  for (const RemoteSession* s : sessions_) {
    const net::WsConnection* c = s->client_.conn;
    if (c != nullptr && c->is_open()) n += c->queued_bytes();
  }
  return n;
}

}  // namespace cwts::daemon
