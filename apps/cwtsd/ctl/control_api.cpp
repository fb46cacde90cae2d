#include "ctl/control_api.hpp"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <simdjson.h>

#include "ctl/control_api_detail.hpp"
#include "cwts/concurrent/broadcast_ring.hpp"
#include "cwts/concurrent/record_ring.hpp"
#include "cwts/concurrent/word_copy.hpp"
#include "cwts/core/ascii.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/core/json_writer.hpp"
#include "cwts/engine/validator.hpp"
#include "cwts/log/json_log.hpp"
#include "cwts/md/frame.hpp"
#include "cwts/shm/candle_history.hpp"
#include "exec/slot_broker.hpp"

namespace cwts::daemon {

namespace {

namespace cc = cwts::concurrent;
using control_detail::decimal_param;
using control_detail::int_param;
using control_detail::RpcError;
using simdjson::dom::element;
using simdjson::dom::element_type;

using core::JsonWriter;

void write_risk(JsonWriter& j, const RiskConfig& r) {
  j.begin_object();
  j.key("max_order_notional").decimal(r.max_order_notional);
  j.key("max_position").decimal(r.max_position);
  j.key("max_open_orders").uinteger(r.max_open_orders);
  j.key("price_band_bps").uinteger(r.price_band_bps);
  j.key("default_ttl_ms").uinteger(r.default_ttl_ms);
  j.key("max_ttl_ms").uinteger(r.max_ttl_ms);
  j.key("sell_account_holdings").boolean(r.sell_account_holdings);
  j.key("max_book_age_ms").uinteger(r.max_book_age_ms);
  j.key("trading_state").string(engine::to_string(r.initial_state));
  j.end_object();
}

}  // namespace

namespace control_detail {

std::uint64_t int_param(element v, std::string_view key, std::uint64_t lo, std::uint64_t hi) {
  std::int64_t x = 0;
  if (v.type() != element_type::INT64 || v.get_int64().get(x) != simdjson::SUCCESS || x < 0 ||
      static_cast<std::uint64_t>(x) < lo || static_cast<std::uint64_t>(x) > hi) {
    throw RpcError{jsonrpc::kInvalidParams, std::string(key) + " must be an integer from " +
                                                std::to_string(lo) + " to " + std::to_string(hi)};
  }
  return static_cast<std::uint64_t>(x);
}

std::int64_t decimal_param(element v, std::string_view key) {
  std::string_view s;
  std::int64_t raw = 0;
  if (v.get_string().get(s) != simdjson::SUCCESS ||
      core::parse_fixed(s, md::kWireDecimals, raw) != core::DecimalErrc::kOk || raw < 0) {
    throw RpcError{jsonrpc::kInvalidParams,
                   std::string(key) + " must be a non-negative decimal string such as \"1000\""};
  }
  return raw;
}

std::size_t symbol_param(bool have_params, element params,
                         std::span<const std::string_view> names) {
  std::string_view sym;
  if (!have_params || params.type() != element_type::OBJECT ||
      params.at_key("symbol").get_string().get(sym) != simdjson::SUCCESS) {
    throw RpcError{jsonrpc::kInvalidParams, "invalid params: {\"symbol\": \"BTCUSDT\"}"};
  }
  for (std::size_t k = 0; k < names.size(); ++k)
    if (names[k] == sym) return k;
  std::string known;
  for (const auto n : names) known += (known.empty() ? "" : ", ") + std::string(n);
  throw RpcError{jsonrpc::kInvalidParams, "invalid params: unknown symbol " + std::string(sym) +
                                              " (the engine trades " + known + ")"};
}

std::uint64_t optional_int(bool have_params, element params, std::string_view key, std::uint64_t lo,
                           std::uint64_t hi, std::uint64_t fallback) {
  element v;
  if (!have_params || params.type() != element_type::OBJECT ||
      params.at_key(key).get(v) != simdjson::SUCCESS) {
    return fallback;
  }
  return int_param(v, key, lo, hi);
}

}  // namespace control_detail

ControlApi::ControlApi(Engine& engine, Config& live, bool allow_unauthenticated_reads)
    : engine_(engine),
      live_(live),
      allow_unauthenticated_reads_(allow_unauthenticated_reads),
      remote_(engine, live) {
  // Reports from here on (a restart of the ctl thread is a restart of the engine: nothing older).
  const auto& m = engine_.market_region();
  for (std::size_t slot = 0; slot < m.slot_capacity(); ++slot)
    report_cursor_[slot] = m.slot(slot).reports.published();
}

std::string ControlApi::alert_notification(std::string_view what, std::string_view detail,
                                           std::int64_t now_ns) {
  JsonWriter j;
  j.begin_object()
      .key("jsonrpc")
      .string("2.0")
      .key("method")
      .string("alerts")
      .key("params")
      .begin_object();
  j.key("alert").string(what).key("detail").string(detail).key("ts_ns").integer(now_ns);
  j.end_object().end_object();
  return std::move(j).str();
}

std::string ControlApi::stats_notification(std::int64_t now_ns) const {
  const EngineSnapshot s = engine_.snapshot();
  const auto& m = engine_.market_region();
  const auto h = engine_.publish_latency().snapshot();
  // Percentile estimates from the histogram: the upper bound of the bucket holding the rank.
  auto pct = [&](double q) -> double {
    if (h.count == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(h.count)));
    std::uint64_t cum = 0;
    for (std::size_t i = 0; i < core::LatencyHistogram::kBuckets; ++i) {
      cum += h.buckets[i];
      if (cum >= rank) {
        return i < core::LatencyHistogram::kBoundsNs.size()
                   ? static_cast<double>(core::LatencyHistogram::kBoundsNs[i]) / 1e3
                   : INFINITY;
      }
    }
    return INFINITY;
  };
  JsonWriter j;
  j.begin_object()
      .key("jsonrpc")
      .string("2.0")
      .key("method")
      .string("stats")
      .key("params")
      .begin_object();
  j.key("ts_ns").integer(now_ns);
  j.key("frames").uinteger(s.frames).key("events").uinteger(
      cc::load_word(m.status.md.events_published, std::memory_order_relaxed));
  j.key("gaps").uinteger(s.gaps).key("resyncs").uinteger(s.resyncs);
  j.key("signals_seen")
      .uinteger(s.signals_seen)
      .key("signals_accepted")
      .uinteger(s.signals_accepted);
  j.key("signals_rejected")
      .uinteger(s.signals_rejected)
      .key("orders_sent")
      .uinteger(s.orders_sent)
      .key("fills")
      .uinteger(s.fills);
  j.key("publish_latency_us")
      .begin_object()
      .key("count")
      .uinteger(h.count)
      .key("p50_le")
      .real(pct(0.5));
  j.key("p99_le").real(pct(0.99)).key("p999_le").real(pct(0.999)).end_object();
  j.key("trading_state")
      .string(engine::to_string(s.trading_state))
      .key("venue_connected")
      .boolean(s.venue_ready);
  j.key("symbols").begin_array();
  const auto& names = engine_.symbol_names();
  for (std::size_t k = 0; k < names.size(); ++k) {
    const layout::Quote q = m.symbol(k).quote.load();
    const bool valid = cc::load_word(m.symbol(k).book_valid, std::memory_order_acquire) != 0;
    j.begin_object().key("symbol").string(names[k]).key("book_valid").boolean(valid);
    j.key("bid")
        .decimal(q.bid_px.raw)
        .key("ask")
        .decimal(q.ask_px.raw)
        .key("last")
        .decimal(q.last_px.raw);
    const double mid = (static_cast<double>(q.bid_px.raw) + static_cast<double>(q.ask_px.raw)) / 2;
    j.key("spread_bps")
        .real(mid > 0 ? static_cast<double>(q.ask_px.raw - q.bid_px.raw) / mid * 1e4 : 0.0);
    j.key("update_id").uinteger(q.update_id);
    j.end_object();
  }
  j.end_array();
  j.end_object().end_object();
  return std::move(j).str();
}

void ControlApi::poll_reports(std::vector<std::string>& out) {
  const auto& m = engine_.market_region();
  const auto& names = engine_.symbol_names();
  for (std::size_t slot = 0; slot < m.slot_capacity(); ++slot) {
    const auto& ring = m.slot(slot).reports;
    const std::uint64_t tail = ring.published();
    std::uint64_t& i = report_cursor_[slot];
    constexpr std::uint64_t kCap = layout::kReportRingCapacity;
    if (tail > i + kCap) i = tail - kCap + 1;  // a lap behind: the oldest are gone
    for (; i < tail; ++i) {
      layout::ExecReport r{};
      if (!cc::observe_record(ring, i, r)) break;
      JsonWriter j;
      j.begin_object()
          .key("jsonrpc")
          .string("2.0")
          .key("method")
          .string("reports")
          .key("params")
          .begin_object();
      j.key("slot").uinteger(slot).key("signal_seq").uinteger(r.signal_seq);
      j.key("kind").string(engine::to_string(static_cast<layout::ReportKind>(r.kind)));
      j.key("reason").string(engine::to_string(static_cast<layout::RejectReason>(r.reason)));
      j.key("symbol").string(r.symbol < names.size() ? names[r.symbol] : std::string_view());
      j.key("client_order_id").string(r.client_order_id.view());
      j.key("last_qty").decimal(r.last_qty.raw).key("last_px").decimal(r.last_px.raw);
      j.key("cum_qty").decimal(r.cum_qty.raw).key("avg_px").decimal(r.avg_px.raw);
      j.key("venue_code").integer(r.venue_code).key("ts_ns").integer(r.ts_ns);
      j.end_object().end_object();
      out.push_back(std::move(j).str());
    }
  }
}

std::string ControlApi::handle(std::string_view message, RpcClient& client) {
  simdjson::dom::parser parser;
  element doc;
  auto error_reply = [](std::string_view id_json, int code, std::string_view msg) {
    JsonWriter j;
    j.begin_object()
        .key("jsonrpc")
        .string("2.0")
        .key("id")
        .raw(id_json)
        .key("error")
        .begin_object();
    j.key("code").integer(code).key("message").string(msg).end_object().end_object();
    return std::move(j).str();
  };
  if (parser.parse(message.data(), message.size()).get(doc) != simdjson::SUCCESS) {
    return error_reply("null", jsonrpc::kParseError, "parse error: the message is not JSON");
  }
  if (doc.type() == element_type::ARRAY) {  // a batch: each member answered, in order, in one array
    simdjson::dom::array batch = doc.get_array().value_unsafe();
    if (batch.size() == 0)
      return error_reply("null", jsonrpc::kInvalidRequest, "invalid request: an empty batch");
    if (batch.size() > 64)
      return error_reply("null", jsonrpc::kInvalidRequest,
                         "invalid request: more than 64 requests in a batch");
    JsonWriter out;
    out.begin_array();
    bool any = false;
    for (element member : batch) {
      const std::string reply = member.type() == element_type::OBJECT
                                    ? handle(simdjson::minify(member), client)
                                    : error_reply("null", jsonrpc::kInvalidRequest,
                                                  "invalid request: batch members must be objects");
      if (reply.empty()) continue;  // a notification
      out.raw(reply);
      any = true;
    }
    out.end_array();
    return any ? std::move(out).str() : std::string();
  }
  simdjson::dom::object req;
  if (doc.get_object().get(req) != simdjson::SUCCESS) {
    return error_reply("null", jsonrpc::kInvalidRequest, "invalid request: expected an object");
  }
  // The id, echoed verbatim (string, number or null); absent = a notification (no reply).
  std::string id_json = "null";
  bool has_id = false;
  element id;
  if (req.at_key("id").get(id) == simdjson::SUCCESS) {
    if (id.type() != element_type::STRING && id.type() != element_type::INT64 &&
        id.type() != element_type::UINT64 && id.type() != element_type::NULL_VALUE) {
      return error_reply("null", jsonrpc::kInvalidRequest,
                         "invalid request: id must be a string, an integer or null");
    }
    id_json = simdjson::minify(id);
    has_id = true;
  }
  std::string_view version, method;
  element params;
  const bool have_params = req.at_key("params").get(params) == simdjson::SUCCESS;
  if (req.at_key("jsonrpc").get_string().get(version) != simdjson::SUCCESS || version != "2.0" ||
      req.at_key("method").get_string().get(method) != simdjson::SUCCESS) {
    return error_reply(id_json, jsonrpc::kInvalidRequest,
                       "invalid request: needs \"jsonrpc\":\"2.0\" and a string \"method\"");
  }
  if (have_params && params.type() != element_type::OBJECT &&
      params.type() != element_type::ARRAY) {
    return error_reply(id_json, jsonrpc::kInvalidParams,
                       "invalid params: params must be an object");
  }

  static constexpr std::string_view kMutating[] = {
      "risk.set", "halt", "resume", "reduce_only", "cancel_all", "symbols.add", "symbols.remove"};
  static constexpr std::string_view kReading[] = {
      "status",  "symbols",  "positions", "open_orders", "book",
      "candles", "risk.get", "slots",     "subscribe",   "unsubscribe"};
  const bool mutating =
      std::find(std::begin(kMutating), std::end(kMutating), method) != std::end(kMutating);
  const bool reading =
      std::find(std::begin(kReading), std::end(kReading), method) != std::end(kReading);
  const bool remote = RemoteHub::owns(method);
  if (!mutating && !reading && !remote) {
    return error_reply(
        id_json, jsonrpc::kMethodNotFound,
        "method not found: " + std::string(method) +
            " (status, symbols, positions, open_orders, book, candles, risk.get, risk.set, halt, "
            "resume, reduce_only, cancel_all, symbols.add, symbols.remove, slots, subscribe, "
            "unsubscribe; remote strategies: "
            "hello, market.quote, market.book, market.candles, market.indicators, "
            "market.position, market.subscribe, market.unsubscribe, slot.claim, slot.release, "
            "slot.submit, slot.cancel)");
  }
  const bool allowed = mutating ? client.scopes.admin
                       : remote && RemoteHub::trades(method)
                           ? client.scopes.admin || client.scopes.trade != 0
                           : allow_unauthenticated_reads_ || client.scopes.can_read();
  if (!allowed) {
    return error_reply(id_json, kUnauthorized,
                       "unauthorized: " + std::string(method) +
                           (mutating ? " needs an admin token (the control token: "
                                       "control.token_file, or the one cwtsd generated in "
                                       "<shm_dir>/cwts-<instance>.token; or a token with the "
                                       "admin scope in control.tokens_file)"
                            : remote && RemoteHub::trades(method)
                                ? " needs a token with a trade:N scope in control.tokens_file"
                                : " needs a token with the read scope (control.tokens_file) or "
                                  "the control token") +
                           " as Authorization: Bearer ... on the WebSocket handshake");
  }
  if (remote) {
    try {
      simdjson::dom::parser none;  // absent params: an empty object
      const element args = have_params ? params : none.parse(std::string_view("{}")).value();
      std::string out = remote_.call(method, args, client);
      if (!has_id) return {};
      JsonWriter j;
      j.begin_object().key("jsonrpc").string("2.0").key("id").raw(id_json);
      j.key("result").raw(out).end_object();
      return std::move(j).str();
    } catch (const RemoteError& e) {
      if (!has_id) return {};
      JsonWriter j;
      j.begin_object().key("jsonrpc").string("2.0").key("id").raw(id_json).key("error");
      j.begin_object().key("code").integer(e.code).key("message").string(e.what());
      j.key("data")
          .begin_object()
          .key("exception")
          .string(e.exception.empty() ? "CwtsError" : e.exception);
      j.end_object().end_object().end_object();
      return std::move(j).str();
    }
  }

  JsonWriter result;
  try {
    const std::int64_t now = core::realtime_ns();
    if (method == "status") {
      const EngineSnapshot s = engine_.snapshot();
      const std::string why = engine_.not_ready_reason();
      result.begin_object();
      result.key("instance").string(live_.region.instance);
      result.key("ready").boolean(why.empty()).key("not_ready").string(why);
      result.key("trading_state").string(engine::to_string(s.trading_state));
      result.key("symbols").uinteger(s.symbols).key("books_valid").uinteger(s.books_valid);
      result.key("venue_connected").boolean(s.venue_ready);
      result.key("frames")
          .uinteger(s.frames)
          .key("parse_errors")
          .uinteger(s.parse_errors)
          .key("gaps")
          .uinteger(s.gaps);
      result.key("resyncs").uinteger(s.resyncs).key("signals_seen").uinteger(s.signals_seen);
      result.key("signals_accepted")
          .uinteger(s.signals_accepted)
          .key("signals_rejected")
          .uinteger(s.signals_rejected);
      result.key("orders_sent").uinteger(s.orders_sent).key("fills").uinteger(s.fills);
      result.key("md_heartbeat_age_ms")
          .integer(std::max<std::int64_t>(0, now - s.md_heartbeat_ns) / 1'000'000);
      result.key("exec_heartbeat_age_ms")
          .integer(std::max<std::int64_t>(0, now - s.exec_heartbeat_ns) / 1'000'000);
      result.end_object();
    } else if (method == "symbols") {
      const auto& m = engine_.market_region();
      const auto& names = engine_.symbol_names();
      result.begin_array();
      for (std::size_t k = 0; k < names.size(); ++k) {
        const layout::Quote q = m.symbol(k).quote.load();
        result.begin_object().key("symbol").string(names[k]).key("id").uinteger(k);
        result.key("trading").boolean(engine_.symbol_trading(k));
        result.key("book_valid")
            .boolean(cc::load_word(m.symbol(k).book_valid, std::memory_order_acquire) != 0);
        result.key("bid").decimal(q.bid_px.raw).key("bid_qty").decimal(q.bid_qty.raw);
        result.key("ask").decimal(q.ask_px.raw).key("ask_qty").decimal(q.ask_qty.raw);
        result.key("last")
            .decimal(q.last_px.raw)
            .key("update_id")
            .uinteger(q.update_id)
            .end_object();
      }
      result.end_array();
    } else if (read_market(method, have_params, params, result)) {
      // positions, open_orders, book, candles (ctl/control_reads.cpp)
    } else if (method == "risk.get") {
      write_risk(result, live_.risk);
    } else if (method == "slots") {
      const auto holders = engine_.slot_broker().holders();
      const auto& m = engine_.market_region();
      result.begin_array();
      for (std::size_t i = 0; i < m.slot_capacity(); ++i) {
        const auto& h = holders[i];
        if (!h.held) continue;
        result.begin_object().key("slot").uinteger(i).key("pid").uinteger(h.pid);
        result.key("uid").uinteger(h.uid);
        result.key("name").string(h.name);
        result.key("claimed_at_ns").uinteger(static_cast<std::uint64_t>(h.claimed_at_ns));
        result.key("accepted")
            .uinteger(cc::load_word(m.slot(i).accepted, std::memory_order_relaxed));
        result.key("rejected")
            .uinteger(cc::load_word(m.slot(i).rejected, std::memory_order_relaxed));
        result.key("last_signal_seq")
            .uinteger(cc::load_word(m.slot(i).last_signal_seq, std::memory_order_relaxed));
        result.end_object();
      }
      result.end_array();
    } else if (method == "subscribe" || method == "unsubscribe") {
      simdjson::dom::array topics;
      element t;
      if (!have_params || params.at_key("topics").get(t) != simdjson::SUCCESS ||
          t.get_array().get(topics) != simdjson::SUCCESS) {
        throw RpcError{jsonrpc::kInvalidParams,
                       "invalid params: {\"topics\": [\"stats\", \"alerts\"]}"};
      }
      for (element e : topics) {
        std::string_view name;
        if (e.get_string().get(name) != simdjson::SUCCESS ||
            (name != "stats" && name != "alerts" && name != "reports")) {
          throw RpcError{jsonrpc::kInvalidParams,
                         "invalid params: topics are \"stats\" (each second), \"reports\" (every "
                         "execution report) "
                         "and \"alerts\" (state changes)"};
        }
        if (method == "subscribe") {
          client.topics.emplace(name);
        } else {
          client.topics.erase(std::string(name));
        }
      }
      result.begin_object().key("topics").begin_array();
      for (const auto& name : client.topics) result.string(name);
      result.end_array().end_object();
    } else if (method == "risk.set") {
      if (!have_params || params.type() != element_type::OBJECT) {
        throw RpcError{jsonrpc::kInvalidParams,
                       "invalid params: an object of risk limits, e.g. {\"max_open_orders\": 5}"};
      }
      RiskConfig r = live_.risk;
      simdjson::dom::object obj = params.get_object().value_unsafe();
      std::string changed;
      for (auto field : obj) {
        const std::string_view k = field.key;
        if (k == "max_order_notional") {
          r.max_order_notional = core::Notional{decimal_param(field.value, k)};
        } else if (k == "max_position") {
          r.max_position = core::Qty{decimal_param(field.value, k)};
        } else if (k == "max_open_orders") {
          r.max_open_orders = static_cast<std::uint32_t>(int_param(field.value, k, 0, 1000000));
        } else if (k == "price_band_bps") {
          r.price_band_bps = static_cast<std::uint32_t>(int_param(field.value, k, 0, 100000));
        } else if (k == "default_ttl_ms") {
          r.default_ttl_ms = static_cast<std::uint32_t>(int_param(field.value, k, 1, 3600000));
        } else if (k == "max_ttl_ms") {
          r.max_ttl_ms = static_cast<std::uint32_t>(int_param(field.value, k, 1, 86400000));
        } else if (k == "max_book_age_ms") {
          r.max_book_age_ms = static_cast<std::uint32_t>(int_param(field.value, k, 0, 3600000));
        } else if (k == "sell_account_holdings") {
          bool b = false;
          if (field.value.get_bool().get(b) != simdjson::SUCCESS) {
            throw RpcError{jsonrpc::kInvalidParams, "sell_account_holdings must be true or false"};
          }
          r.sell_account_holdings = b;
        } else {
          throw RpcError{jsonrpc::kInvalidParams,
                         "invalid params: unknown risk key " + std::string(k) +
                             " (max_order_notional, max_position, max_open_orders, price_band_bps, "
                             "default_ttl_ms, max_ttl_ms, max_book_age_ms, sell_account_holdings)"};
        }
        changed += (changed.empty() ? "" : ",") + std::string(k);
      }
      if (changed.empty())
        throw RpcError{jsonrpc::kInvalidParams, "invalid params: no risk key given"};
      if (r.default_ttl_ms > r.max_ttl_ms)
        throw RpcError{jsonrpc::kInvalidParams,
                       "invalid params: default_ttl_ms exceeds max_ttl_ms"};
      live_.risk = r;
      if (!engine_.reload_and_wait(live_, 1000))
        throw RpcError{kFailed, "the exec thread did not apply the limits within 1 s"};
      log::log_event(spdlog::level::warn, "ctl", "risk_set",
                     log::LogFields().str("keys", changed).str("via", "control"));
      write_risk(result, live_.risk);
    } else if (method == "halt" || method == "resume" || method == "reduce_only") {
      const auto state = method == "halt"     ? layout::TradingState::kHalted
                         : method == "resume" ? layout::TradingState::kActive
                                              : layout::TradingState::kReduceOnly;
      live_.risk.initial_state = state;
      if (!engine_.reload_and_wait(live_, 1000))
        throw RpcError{kFailed, "the exec thread did not apply the state within 1 s"};
      log::log_event(spdlog::level::warn, "ctl", "trading_state_set",
                     log::LogFields().str("state", engine::to_string(state)).str("via", "control"));
      result.begin_object().key("trading_state").string(engine::to_string(state)).end_object();
    } else if (method == "symbols.add" || method == "symbols.remove") {
      std::vector<std::string> names;
      simdjson::dom::array list;
      if (have_params && params.type() == element_type::OBJECT &&
          params.at_key("symbols").get_array().get(list) == simdjson::SUCCESS) {
        bool strings = true;
        for (element e : list) {
          std::string_view n;
          strings = strings && e.get_string().get(n) == simdjson::SUCCESS;
          if (strings) names.emplace_back(n);
        }
        if (!strings) names.clear();
      }
      if (names.empty()) {
        throw RpcError{jsonrpc::kInvalidParams,
                       "invalid params: {\"symbols\": [\"SOLUSDT\", ...]} (names as "
                       "the venue spells them, at least one)"};
      }
      try {
        result.begin_object().key("symbols").begin_array();
        if (method == "symbols.add") {
          for (const auto& a : engine_.add_symbols(names, 5000)) {
            result.begin_object().key("symbol").string(a.symbol).key("id").uinteger(a.id);
            result.key("added").boolean(a.added).end_object();
          }
        } else {
          // All or nothing for names the engine does not have.
          for (const auto& n : names) {
            const auto have = engine_.symbol_names();
            if (std::find(have.begin(), have.end(), core::ascii_upper(n)) == have.end()) {
              throw SymbolError(core::ascii_upper(n) + " is not a symbol of this engine");
            }
          }
          for (const auto& n : names) {
            const std::uint16_t sid = engine_.remove_symbol(n, 1000);
            result.begin_object().key("symbol").string(engine_.symbol_names()[sid]);
            result.key("id").uinteger(sid).key("trading").boolean(false).end_object();
          }
        }
        result.end_array().end_object();
      } catch (const SymbolError& e) {
        throw RpcError{kFailed, e.what()};
      }
    } else if (method == "cancel_all") {
      if (!engine_.cancel_all_and_wait(1000))
        throw RpcError{kFailed, "the exec thread did not take the request within 1 s"};
      log::log_event(spdlog::level::warn, "ctl", "cancel_all_requested",
                     log::LogFields().str("via", "control"));
      result.begin_object().key("requested").boolean(true).end_object();
    }
  } catch (const RpcError& e) {
    return has_id ? error_reply(id_json, e.code, e.message) : std::string();
  } catch (const std::exception& e) {
    return has_id ? error_reply(id_json, kFailed, e.what()) : std::string();
  }
  if (!has_id) return {};
  JsonWriter j;
  j.begin_object()
      .key("jsonrpc")
      .string("2.0")
      .key("id")
      .raw(id_json)
      .key("result")
      .raw(std::move(result).str())
      .end_object();
  return std::move(j).str();
}

}  // namespace cwts::daemon
