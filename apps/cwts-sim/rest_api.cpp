// RestApi: cwts-sim's REST endpoints (see rest_api.hpp); injected faults in rest_faults.cpp.
#include "rest_api.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "cwts/binance/json_responses.hpp"
#include "cwts/binance/market_json.hpp"
#include "cwts/binance/rate_limits.hpp"
#include "cwts/core/fixed_point.hpp"
#include "json_log.hpp"

namespace cwts::sim_server {

namespace {

using binance::ApiError;
using binance::ErrorCode;

ApiReply fail(ApiError e) {
  ApiReply r;
  r.status = e.http_status;
  r.error = std::move(e);
  return r;
}
ApiReply good(std::string s) {
  ApiReply r;
  r.body = std::move(s);
  return r;
}

Endpoint route(std::string_view m, std::string_view p) {
  if (m == "GET") {
    if (p == "/api/v3/ping") return Endpoint::kPing;
    if (p == "/api/v3/time") return Endpoint::kTime;
    if (p == "/api/v3/exchangeInfo") return Endpoint::kExchangeInfo;
    if (p == "/api/v3/depth") return Endpoint::kDepth;
    if (p == "/api/v3/klines") return Endpoint::kKlines;
    if (p == "/api/v3/ticker/24hr") return Endpoint::kTicker24;
    if (p == "/api/v3/ticker/price") return Endpoint::kTickerPrice;
    if (p == "/api/v3/ticker/bookTicker") return Endpoint::kBookTicker;
    if (p == "/api/v3/trades") return Endpoint::kTrades;
    if (p == "/api/v3/aggTrades") return Endpoint::kAggTrades;
    if (p == "/api/v3/order") return Endpoint::kOrderGet;
    if (p == "/api/v3/openOrders") return Endpoint::kOpenOrders;
    if (p == "/api/v3/allOrders") return Endpoint::kAllOrders;
    if (p == "/api/v3/account") return Endpoint::kAccount;
    if (p == "/api/v3/myTrades") return Endpoint::kMyTrades;
  } else if (m == "POST") {
    if (p == "/api/v3/order") return Endpoint::kOrderNew;
    if (p == "/api/v3/order/test") return Endpoint::kOrderTest;
  } else if (m == "DELETE") {
    if (p == "/api/v3/order") return Endpoint::kOrderCancel;
    if (p == "/api/v3/openOrders") return Endpoint::kCancelAll;
  }
  return Endpoint::kNone;
}

bool is_signed(Endpoint ep) noexcept {
  return (ep >= Endpoint::kOrderNew && ep <= Endpoint::kAllOrders) ||
         ep == Endpoint::kUserStreamSubscribe;
}

// The symbols a ticker or exchangeInfo request names: `symbol`, `symbols`, or nullopt for all.
binance::Result<std::vector<const binance::SymbolSpec*>> requested_symbols(
    const binance::Request& r, const binance::ExchangeInfo& info, bool& all) {
  std::vector<const binance::SymbolSpec*> out;
  all = false;
  if (r.has("symbol") && r.has("symbols"))
    return binance::make_error(ErrorCode::kOptionalParamsBadCombo,
                               "Combination of optional parameters invalid.");
  if (r.has("symbol")) {
    auto s = binance::parse_symbol(r, info);
    if (!s.ok()) return s.error();
    out.push_back(s.value());
    return out;
  }
  if (const std::string* v = r.find("symbols")) {
    std::vector<std::string> names;
    if (!binance::parse_symbols_param(*v, names))
      return binance::errors::illegal_chars(
          "symbols", "^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$");
    for (const auto& n : names) {
      const binance::SymbolSpec* s = info.find(n);
      if (s == nullptr) return binance::errors::bad_symbol();
      out.push_back(s);
    }
    return out;
  }
  all = true;
  return out;
}

}  // namespace

RestApi::RestApi(Venue& venue, binance::Credentials credentials)
    : venue_(venue),
      creds_(std::move(credentials)),
      secret_(creds_.secret_key),
      limiter_(venue.info().rate_limits),
      stats_since_ms_(wall_ms()) {}

void RestApi::count(std::string_view stats_name, const std::string* api_key, std::uint32_t weight) {
  Usage& e = by_endpoint_[std::string(stats_name)];
  ++e.requests;
  e.weight += weight;
  Usage& k = by_key_[api_key != nullptr ? *api_key : std::string()];
  ++k.requests;
  k.weight += weight;
}

std::string RestApi::stats_json() const {
  core::JsonWriter w;
  const auto usage = [&w](const std::map<std::string, Usage>& m) {
    w.begin_object();
    for (const auto& [name, u] : m) {
      w.key(name)
          .begin_object()
          .key("requests")
          .integer(static_cast<std::int64_t>(u.requests))
          .key("weight")
          .integer(static_cast<std::int64_t>(u.weight))
          .end_object();
    }
    w.end_object();
  };
  w.begin_object().key("sinceMs").integer(stats_since_ms_).key("endpoints");
  usage(by_endpoint_);
  w.key("apiKeys");
  usage(by_key_);
  w.end_object();
  return w.str();
}

void RestApi::reset_stats() {
  by_endpoint_.clear();
  by_key_.clear();
  stats_since_ms_ = wall_ms();
}

HttpReply RestApi::serve(const HttpRequestView& req) {
  const std::int64_t now_ms = wall_ms();
  const Endpoint ep = route(req.method, req.path);
  if (ep == Endpoint::kNone) return HttpReply{404, "", {}};
  std::string name;
  name.reserve(req.method.size() + 1 + req.path.size());
  name.append(req.method).append(" ").append(req.path);
  // GET parameters live in the query only.
  auto parsed =
      binance::Request::parse(req.query, req.method == "GET" ? std::string_view{} : req.body);
  ApiReply a = parsed.ok() ? execute(Call{ep, &parsed.value(), req.api_key, name}, now_ms)
                           : reject(name, req.api_key, parsed.error(), now_ms);
  HttpReply r{static_cast<unsigned>(a.status),
              a.ok() ? std::move(a.body) : binance::error_json(a.error),
              limiter_.headers(now_ms, ep == Endpoint::kOrderNew)};
  if (a.status == 429 || a.status == 418)
    r.headers.emplace_back("Retry-After", std::to_string(a.retry_after_s));
  return r;
}

ApiReply RestApi::reject(std::string_view stats_name, const std::string* api_key, ApiError error,
                         std::int64_t now_ms) {
  count(stats_name, api_key, 1);
  (void)limiter_.admit(now_ms, 1);
  return fail(std::move(error));
}

void RestApi::charge(std::string_view stats_name, std::uint32_t weight, std::int64_t now_ms) {
  count(stats_name, nullptr, weight);
  limiter_.charge(now_ms, weight);
}

std::vector<binance::RateUsage> RestApi::rate_usage(std::int64_t now_ms, bool order_request) const {
  // Binance lists ORDERS (10 s, then 1 d) before REQUEST_WEIGHT (web-socket-api.md "Response
  // format"); ORDERS only in the answer to an order.
  std::vector<binance::RateUsage> out;
  const std::vector<binance::RateUsage> all = limiter_.usage(now_ms);
  if (order_request) {
    for (const auto& u : all)
      if (u.limit.type == binance::RateLimitType::kOrders) out.push_back(u);
  }
  for (const auto& u : all)
    if (u.limit.type == binance::RateLimitType::kRequestWeight) out.push_back(u);
  return out;
}

ApiReply RestApi::execute(const Call& call, std::int64_t now_ms) {
  const Endpoint ep = call.endpoint;
  const binance::Request& r = *call.request;
  std::uint32_t weight = 1;
  switch (ep) {
    case Endpoint::kExchangeInfo:
      weight = 20;
      break;
    case Endpoint::kDepth: {
      std::int64_t limit = 100;
      if (const std::string* v = r.find("limit"))
        std::from_chars(v->data(), v->data() + v->size(), limit);
      weight = binance::spot_depth_weight(limit);
      break;
    }
    case Endpoint::kKlines:
    case Endpoint::kUserStreamSubscribe:
    case Endpoint::kUserStreamUnsubscribe:
    case Endpoint::kSessionSubscriptions:
      weight = 2;
      break;
    case Endpoint::kTicker24:
      weight = r.has("symbol") ? 2 : 80;
      break;
    case Endpoint::kTickerPrice:
    case Endpoint::kBookTicker:
      weight = r.has("symbol") ? 2 : 4;
      break;
    case Endpoint::kTrades:
      weight = 25;
      break;
    case Endpoint::kAggTrades:
    case Endpoint::kOrderGet:
      weight = 4;
      break;
    case Endpoint::kOpenOrders:
      weight = r.has("symbol") ? 6 : 80;
      break;
    case Endpoint::kAccount:
    case Endpoint::kMyTrades:
    case Endpoint::kAllOrders:
      weight = 20;
      break;
    default:
      break;
  }
  count(call.stats_name, call.api_key, weight);
  const bool order_req = ep == Endpoint::kOrderNew;
  const sim::RateVerdict verdict = limiter_.admit(now_ms, weight, order_req ? 1 : 0);
  if (verdict.http_status != 200) {
    ApiReply rep = fail(verdict.error);
    rep.status = verdict.http_status;
    rep.retry_after_s = verdict.retry_after_s;
    rep.banned_until_ms = verdict.banned_until_ms;
    log_event(spdlog::level::info, "rest", "rate_limited",
              LogFields()
                  .num("status", verdict.http_status)
                  .str("endpoint", call.stats_name)
                  .str("reason", verdict.reason));
    return rep;
  }

  // SIGNED endpoints: API key, signature, timestamp, in the venue's order.
  if (is_signed(ep)) {
    const std::int64_t now_us = wall_us();
    auto auth = binance::authenticate(r, call.api_key, creds_.api_key, secret_, now_us);
    if (!auth.ok()) return fail(auth.error());
    const ApiError late = auth.value().recheck(now_us);
    if (!late.ok()) return fail(late);
  }
  return dispatch(ep, r, now_ms);
}

// The handlers, shared by REST and the WebSocket API.
ApiReply RestApi::dispatch(Endpoint ep, const binance::Request& r, std::int64_t now_ms) {
  const binance::ExchangeInfo& info = venue_.info();
  bool all = false;
  sim::MatchingEngine& engine = venue_.engine();
  switch (ep) {
    case Endpoint::kPing:
      return good("{}");
    case Endpoint::kTime:
      return good(binance::server_time_json(now_ms));
    case Endpoint::kExchangeInfo: {
      auto syms = requested_symbols(r, info, all);
      if (!syms.ok()) return fail(syms.error());
      return good(venue_.exchange_info_json(now_ms, all ? nullptr : &syms.value()));
    }
    case Endpoint::kDepth: {
      auto sym = binance::parse_symbol(r, info);
      if (!sym.ok()) return fail(sym.error());
      auto lim = binance::parse_integer(r, "limit", false);
      if (!lim.ok()) return fail(lim.error());
      const std::int64_t limit = std::clamp<std::int64_t>(lim.value().value_or(100), 1, 5000);
      const Market* mk = venue_.find(sym.value()->name);
      const md::OrderBook& book = venue_.book_or_empty(sym.value()->name);
      return good(binance::depth_json(mk != nullptr ? mk->public_id() : 0, book,
                                      static_cast<std::size_t>(limit)));
    }
    case Endpoint::kKlines: {
      auto sym = binance::parse_symbol(r, info);
      if (!sym.ok()) return fail(sym.error());
      const std::string* iv = r.find("interval");
      if (iv == nullptr || iv->empty()) return fail(binance::errors::mandatory("interval"));
      const int idx = interval_index(*iv);
      if (idx < 0)
        return fail(binance::make_error(static_cast<ErrorCode>(-1120), "Invalid interval."));
      auto start = binance::parse_integer(r, "startTime", false);
      auto end = binance::parse_integer(r, "endTime", false);
      auto lim = binance::parse_integer(r, "limit", false);
      if (!start.ok()) return fail(start.error());
      if (!end.ok()) return fail(end.error());
      if (!lim.ok()) return fail(lim.error());
      const auto limit =
          static_cast<std::size_t>(std::clamp<std::int64_t>(lim.value().value_or(500), 1, 1000));
      std::vector<const Kline*> sel;
      if (const Market* mk = venue_.find(sym.value()->name)) {
        for (const Kline& k : mk->klines[static_cast<std::size_t>(idx)].all()) {
          if (start.value() && k.open_ms < *start.value()) continue;
          if (end.value() && k.open_ms > *end.value()) continue;
          sel.push_back(&k);
        }
      }
      // With startTime: the first `limit` from it; otherwise the most recent `limit`.
      if (sel.size() > limit) {
        if (start.value())
          sel.resize(limit);
        else
          sel.erase(sel.begin(), sel.end() - static_cast<std::ptrdiff_t>(limit));
      }
      core::JsonWriter w;
      w.begin_array();
      for (const Kline* k : sel) binance::write_kline_row(w, *k);
      w.end_array();
      return good(std::move(w).str());
    }
    case Endpoint::kTicker24:
    case Endpoint::kTickerPrice:
    case Endpoint::kBookTicker: {
      auto syms = requested_symbols(r, info, all);
      if (!syms.ok()) return fail(syms.error());
      std::vector<std::string> names;
      if (all) {
        for (const auto& mk : venue_.markets()) names.push_back(mk->name);
      } else {
        for (const auto* spec : syms.value()) names.push_back(spec->name);
      }
      std::string s = (all || r.has("symbols")) ? "[" : "";
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (i != 0) s += ',';
        const Market* mk = venue_.find(names[i]);
        const md::OrderBook& book = venue_.book_or_empty(names[i]);
        const md::Level bb = book.bid_levels() != 0 ? book.bid(0) : md::Level{{0}, {0}};
        const md::Level ba = book.ask_levels() != 0 ? book.ask(0) : md::Level{{0}, {0}};
        const md::Price last_px =
            mk != nullptr && !mk->trades.empty() ? mk->trades.back().px : md::Price{};
        core::JsonWriter w;
        if (ep == Endpoint::kTickerPrice) {
          binance::write_ticker_price(w, names[i], last_px);
        } else if (ep == Endpoint::kBookTicker) {
          binance::write_book_ticker(w, names[i], bb, ba);
        } else {
          // Rolling 24 h from one-minute buckets, ending at the market's clock.
          const std::int64_t now_m =
              (mk != nullptr && mk->clock_ms != 0 ? mk->clock_ms : now_ms) / 60'000;
          MinuteBucket agg;
          bool any = false;
          for (std::int64_t mi = now_m - 1439; mk != nullptr && mi <= now_m; ++mi) {
            const MinuteBucket& b = mk->minutes[static_cast<std::size_t>(mi % 1440)];
            if (b.minute != mi || b.n == 0) continue;
            if (!any) {
              agg = b;
              any = true;
              continue;
            }
            agg.h = std::max(agg.h, b.h);
            agg.l = std::min(agg.l, b.l);
            agg.c = b.c;
            agg.vol += b.vol;
            agg.quote += b.quote;
            agg.last_id = b.last_id;
            agg.n += b.n;
          }
          binance::Ticker24h t;
          t.price_change = agg.c - agg.o;
          t.price_change_pct_milli =
              agg.o.raw != 0 ? static_cast<std::int64_t>(static_cast<Int128>(t.price_change.raw) *
                                                         100'000 / agg.o.raw)
                             : 0;
          t.weighted_avg_price = core::average_price(agg.quote, agg.vol);
          t.prev_close_price = agg.o;
          t.last_price = agg.c;
          t.last_qty = mk != nullptr && !mk->trades.empty() ? mk->trades.back().qty : md::Qty{};
          t.bid = bb;
          t.ask = ba;
          t.open_price = agg.o;
          t.high_price = agg.h;
          t.low_price = agg.l;
          t.volume = agg.vol;
          t.quote_volume = agg.quote;
          t.close_time_ms = now_m * 60'000 + 59'999;
          t.open_time_ms = t.close_time_ms - 86'400'000 + 1;
          t.first_id = any ? agg.first_id : -1;
          t.last_id = any ? agg.last_id : -1;
          t.count = agg.n;
          binance::write_ticker_24h(w, names[i], t);
        }
        s += w.str();
      }
      if (all || r.has("symbols")) s += ']';
      return good(std::move(s));
    }
    case Endpoint::kTrades: {
      auto sym = binance::parse_symbol(r, info);
      if (!sym.ok()) return fail(sym.error());
      auto lim = binance::parse_integer(r, "limit", false);
      if (!lim.ok()) return fail(lim.error());
      const auto limit =
          static_cast<std::size_t>(std::clamp<std::int64_t>(lim.value().value_or(500), 1, 1000));
      core::JsonWriter w;
      w.begin_array();
      if (const Market* mk = venue_.find(sym.value()->name)) {
        const std::size_t n = std::min(limit, mk->trades.size());
        for (std::size_t i = mk->trades.size() - n; i < mk->trades.size(); ++i) {
          binance::write_public_trade(w, mk->trades[i]);
        }
      }
      w.end_array();
      return good(std::move(w).str());
    }
    case Endpoint::kAggTrades: {
      // Every trade of the sim is its own aggregate (one taker order per trade), so aggregate id
      // = first = last trade id. limit and fromId are honoured; startTime/endTime filter.
      auto sym = binance::parse_symbol(r, info);
      if (!sym.ok()) return fail(sym.error());
      auto lim = binance::parse_integer(r, "limit", false);
      if (!lim.ok()) return fail(lim.error());
      auto from = binance::parse_integer(r, "fromId", false);
      if (!from.ok()) return fail(from.error());
      auto start = binance::parse_integer(r, "startTime", false);
      if (!start.ok()) return fail(start.error());
      auto end = binance::parse_integer(r, "endTime", false);
      if (!end.ok()) return fail(end.error());
      const auto limit =
          static_cast<std::size_t>(std::clamp<std::int64_t>(lim.value().value_or(500), 1, 1000));
      core::JsonWriter w;
      w.begin_array();
      if (const Market* mk = venue_.find(sym.value()->name)) {
        std::vector<const PublicTrade*> sel;
        for (const PublicTrade& t : mk->trades) {
          if (from.value() && t.id < *from.value()) continue;
          if (start.value() && t.time_ms < *start.value()) continue;
          if (end.value() && t.time_ms > *end.value()) continue;
          sel.push_back(&t);
        }
        // fromId / startTime: the first `limit` from there; otherwise the most recent `limit`.
        const bool from_start = from.value().has_value() || start.value().has_value();
        const std::size_t n = std::min(limit, sel.size());
        const std::size_t first = from_start ? 0 : sel.size() - n;
        for (std::size_t i = first; i < first + n; ++i) {
          binance::write_agg_trade(w, *sel[i]);
        }
      }
      w.end_array();
      return good(std::move(w).str());
    }
    case Endpoint::kOrderNew:
    case Endpoint::kOrderTest: {
      auto o = binance::parse_new_order(r, info);
      if (!o.ok()) return fail(o.error());
      const md::OrderBook& book = venue_.book_or_empty(o.value().symbol);
      if (ep == Endpoint::kOrderTest) {
        const ApiError e = engine.test_order(o.value(), book);
        if (!e.ok()) return fail(e);
        const std::string* ccr = r.find("computeCommissionRates");
        const bool rates = ccr != nullptr && *ccr == "true";
        return good(binance::test_order_json(rates ? &engine.account().commission() : nullptr));
      }
      auto res = engine.place_order(o.value(), book, now_ms);
      if (!res.ok()) return fail(res.error());
      log_event(spdlog::level::info, "rest", "order_placed",
                LogFields()
                    .str("symbol", res.value().order.symbol)
                    .num("orderId", res.value().order.order_id)
                    .str("status", binance::to_string(res.value().order.status)));
      return good(binance::order_response_json(res.value()));
    }
    case Endpoint::kOrderGet: {
      auto ref = binance::parse_order_ref(r, info);
      if (!ref.ok()) return fail(ref.error());
      auto o = engine.query_order(ref.value());
      if (!o.ok()) return fail(o.error());
      return good(binance::order_query_json(o.value()));
    }
    case Endpoint::kOrderCancel: {
      auto c = binance::parse_cancel(r, info);
      if (!c.ok()) return fail(c.error());
      auto res = engine.cancel_order(c.value(), now_ms);
      if (!res.ok()) return fail(res.error());
      return good(binance::cancel_response_json(res.value()));
    }
    case Endpoint::kOpenOrders: {
      auto sym = binance::parse_optional_symbol(r, info);
      if (!sym.ok()) return fail(sym.error());
      const auto orders =
          engine.open_orders(sym.value() != nullptr ? sym.value()->name : std::string());
      return good(binance::open_orders_json(orders));
    }
    case Endpoint::kAllOrders: {
      auto sym = binance::parse_symbol(r, info);
      if (!sym.ok()) return fail(sym.error());
      auto from = binance::parse_integer(r, "orderId", false);
      if (!from.ok()) return fail(from.error());
      auto limit = binance::parse_integer(r, "limit", false);
      if (!limit.ok()) return fail(limit.error());
      const auto n = static_cast<std::uint32_t>(
          std::clamp<std::int64_t>(limit.value().value_or(500), 1, 1000));
      return good(binance::open_orders_json(engine.all_orders(sym.value()->name, from.value(), n)));
    }
    case Endpoint::kCancelAll: {
      auto sym = binance::parse_symbol(r, info);
      if (!sym.ok()) return fail(sym.error());
      auto res = engine.cancel_open_orders(sym.value()->name, now_ms);
      if (!res.ok()) return fail(res.error());
      return good(binance::cancel_all_json(res.value()));
    }
    case Endpoint::kAccount: {
      const std::string* omit = r.find("omitZeroBalances");
      return good(binance::account_json(engine.account().view(), binance::AccountFlags{},
                                        omit != nullptr && *omit == "true"));
    }
    case Endpoint::kMyTrades: {
      auto q = binance::parse_my_trades(r, info);
      if (!q.ok()) return fail(q.error());
      return good(binance::my_trades_json(engine.my_trades(q.value())));
    }
    case Endpoint::kUserStreamSubscribe:
    case Endpoint::kUserStreamUnsubscribe:
    case Endpoint::kSessionSubscriptions:
      return good("{}");  // the WebSocket session answers these
    case Endpoint::kNone:
      break;
  }
  return fail(binance::make_error(ErrorCode::kUnknown,
                                  "An unknown error occurred while processing the request."));
}

}  // namespace cwts::sim_server
