// RestApi: cwts-sim's REST endpoints (see rest_api.hpp).
#include "rest_api.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>

#include <simdjson.h>

#include "cwts/sim/json_responses.hpp"
#include "json_log.hpp"

namespace cwts::sim_server {

namespace {

using sim::ApiError;
using sim::ErrorCode;

HttpReply error_reply(const ApiError& e) {
  return HttpReply{static_cast<unsigned>(e.http_status), sim::error_json(e), {}};
}

void append_int(std::string& out, std::int64_t v) { out += std::to_string(v); }

// A handler's outcome: a body or an error.
struct Outcome {
  std::string body;
  ApiError error;
  bool ok() const { return error.ok(); }
};
Outcome fail(ApiError e) { return Outcome{{}, std::move(e)}; }
Outcome good(std::string s) { return Outcome{std::move(s), {}}; }

// "symbols" as Binance takes it: a JSON array of names, ["BTCUSDT","ETHUSDT"].
bool parse_symbols_param(std::string_view v, std::vector<std::string>& out) {
  if (v.size() < 2 || v.front() != '[' || v.back() != ']') return false;
  v = v.substr(1, v.size() - 2);
  while (!v.empty()) {
    const std::size_t comma = v.find(',');
    std::string_view item = v.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.size() < 3 || item.front() != '"' || item.back() != '"') return false;
    out.emplace_back(item.substr(1, item.size() - 2));
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return !out.empty();
}

// The symbols a ticker or exchangeInfo request names: `symbol`, `symbols`, or nullopt for all.
sim::Result<std::vector<const md::SymbolSpec*>> requested_symbols(const sim::Request& r,
                                                                  const md::ExchangeInfo& info,
                                                                  bool& all) {
  std::vector<const md::SymbolSpec*> out;
  all = false;
  if (r.has("symbol") && r.has("symbols"))
    return sim::make_error(ErrorCode::kOptionalParamsBadCombo,
                           "Combination of optional parameters invalid.");
  if (r.has("symbol")) {
    auto s = sim::parse_symbol(r, info);
    if (!s.ok()) return s.error();
    out.push_back(s.value());
    return out;
  }
  if (const std::string* v = r.find("symbols")) {
    std::vector<std::string> names;
    if (!parse_symbols_param(*v, names)) return sim::errors::illegal_chars("symbols", "^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$");
    for (const auto& n : names) {
      const md::SymbolSpec* s = info.find(n);
      if (s == nullptr) return sim::errors::bad_symbol();
      out.push_back(s);
    }
    return out;
  }
  all = true;
  return out;
}

std::uint32_t depth_weight(std::int64_t limit) {
  if (limit <= 100) return 5;
  if (limit <= 500) return 25;
  if (limit <= 1000) return 50;
  return 250;
}

}  // namespace

bool apply_fault_json(std::string_view json, Faults& f, std::int64_t steady_now_ms, bool& drop,
                      std::string& error) {
  drop = false;
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(json.data(), json.size()).get_object().get(obj) != simdjson::SUCCESS) {
    error = "fault: expected a JSON object";
    return false;
  }
  std::int64_t count = 1;
  if (obj["count"].get_int64().get(count) != simdjson::SUCCESS) count = 1;
  for (auto [key, value] : obj) {
    std::int64_t n = 0;
    bool b = false;
    if (key == "count") continue;
    if (key == "drop_connections" && value.get_bool().get(b) == simdjson::SUCCESS) {
      drop = b;
    } else if (key == "pause" && value.get_bool().get(b) == simdjson::SUCCESS) {
      f.paused = b;
    } else if (key == "server_shutdown" && value.get_bool().get(b) == simdjson::SUCCESS) {
      f.server_shutdown = b;
    } else if (key == "expire_connections" && value.get_bool().get(b) == simdjson::SUCCESS) {
      f.expire_connections = b;
    } else if (key == "stall_ms" && value.get_int64().get(n) == simdjson::SUCCESS && n >= 0) {
      f.stall_until_ms = steady_now_ms + n;
    } else if (key == "skip_update_ids" && value.get_int64().get(n) == simdjson::SUCCESS && n >= 0) {
      f.skip_update_ids = n;
    } else if (key == "delay_ms" && value.get_int64().get(n) == simdjson::SUCCESS && n >= 0) {
      f.delay_ms = n;
      f.delay_count = count;
    } else if (key == "http_status" && value.get_int64().get(n) == simdjson::SUCCESS &&
               n >= 400 && n <= 599) {
      f.http_status = static_cast<int>(n);
      f.http_status_count = count;
    } else {
      error = "fault: unknown or malformed member '" + std::string(key) + "'";
      return false;
    }
  }
  return true;
}

RestApi::RestApi(Venue& venue, sim::Credentials credentials)
    : venue_(venue), creds_(std::move(credentials)), limiter_(venue.info().rate_limits) {}

HttpReply RestApi::handle(const HttpRequestView& req) {
  const std::int64_t now_ms = wall_ms();
  Faults& faults = venue_.faults();
  if (faults.http_status_count > 0) {
    // Injected: the venue answers the next N requests with this status, as an overloaded or
    // rate-limiting Binance would.
    --faults.http_status_count;
    HttpReply r;
    r.status = static_cast<unsigned>(faults.http_status);
    if (r.status == 429 || r.status == 418) {
      r.body = sim::error_json(sim::make_error(
          ErrorCode::kTooManyRequests,
          r.status == 429 ? "Too much request weight used; current limit is 1200 request weight "
                            "per 1 MINUTE. Please use WebSocket Streams for live updates to avoid "
                            "polling the API."
                          : "Way too much request weight used; IP banned until " +
                                std::to_string(now_ms + 120'000) +
                                ". Please use WebSocket Streams for live updates to avoid bans."));
      r.headers.emplace_back("Retry-After", r.status == 429 ? "1" : "120");
    } else {
      r.body = sim::error_json(sim::make_error(
          static_cast<ErrorCode>(-1008),
          "Server is currently overloaded with other requests. Please try again in a few "
          "minutes."));
    }
    return r;
  }

  const std::string_view m = req.method;
  const std::string_view p = req.path;
  enum class Ep {
    kPing, kTime, kExchangeInfo, kDepth, kKlines, kTicker24, kTickerPrice, kBookTicker, kTrades, kAggTrades,
    kOrderNew, kOrderTest, kOrderGet, kOrderCancel, kOpenOrders, kCancelAll, kAccount, kMyTrades,
    kNone
  };
  Ep ep = Ep::kNone;
  if (m == "GET") {
    if (p == "/api/v3/ping") ep = Ep::kPing;
    else if (p == "/api/v3/time") ep = Ep::kTime;
    else if (p == "/api/v3/exchangeInfo") ep = Ep::kExchangeInfo;
    else if (p == "/api/v3/depth") ep = Ep::kDepth;
    else if (p == "/api/v3/klines") ep = Ep::kKlines;
    else if (p == "/api/v3/ticker/24hr") ep = Ep::kTicker24;
    else if (p == "/api/v3/ticker/price") ep = Ep::kTickerPrice;
    else if (p == "/api/v3/ticker/bookTicker") ep = Ep::kBookTicker;
    else if (p == "/api/v3/trades") ep = Ep::kTrades;
    else if (p == "/api/v3/aggTrades") ep = Ep::kAggTrades;
    else if (p == "/api/v3/order") ep = Ep::kOrderGet;
    else if (p == "/api/v3/openOrders") ep = Ep::kOpenOrders;
    else if (p == "/api/v3/account") ep = Ep::kAccount;
    else if (p == "/api/v3/myTrades") ep = Ep::kMyTrades;
  } else if (m == "POST") {
    if (p == "/api/v3/order") ep = Ep::kOrderNew;
    else if (p == "/api/v3/order/test") ep = Ep::kOrderTest;
  } else if (m == "DELETE") {
    if (p == "/api/v3/order") ep = Ep::kOrderCancel;
    else if (p == "/api/v3/openOrders") ep = Ep::kCancelAll;
  }
  if (ep == Ep::kNone) return HttpReply{404, "", {}};

  // GET parameters live in the query only.
  auto parsed = sim::Request::parse(req.query, m == "GET" ? std::string_view{} : req.body);
  const bool order_req = ep == Ep::kOrderNew;
  auto finish = [&](Outcome o) {
    HttpReply r = o.ok() ? HttpReply{200, std::move(o.body), {}} : error_reply(o.error);
    for (auto& h : limiter_.headers(now_ms, order_req)) r.headers.push_back(std::move(h));
    return r;
  };
  if (!parsed.ok()) {
    (void)limiter_.admit(now_ms, 1);
    return finish(fail(parsed.error()));
  }
  const sim::Request& r = parsed.value();
  const md::ExchangeInfo& info = venue_.info();

  std::uint32_t weight = 1;
  bool all = false;
  switch (ep) {
    case Ep::kExchangeInfo: weight = 20; break;
    case Ep::kDepth: {
      std::int64_t limit = 100;
      if (const std::string* v = r.find("limit")) std::from_chars(v->data(), v->data() + v->size(), limit);
      weight = depth_weight(limit);
      break;
    }
    case Ep::kKlines: weight = 2; break;
    case Ep::kTicker24: weight = r.has("symbol") ? 2 : 80; break;
    case Ep::kTickerPrice:
    case Ep::kBookTicker: weight = r.has("symbol") ? 2 : 4; break;
    case Ep::kTrades: weight = 25; break;
    case Ep::kAggTrades: weight = 4; break;
    case Ep::kOrderGet: weight = 4; break;
    case Ep::kOpenOrders: weight = r.has("symbol") ? 6 : 80; break;
    case Ep::kAccount:
    case Ep::kMyTrades: weight = 20; break;
    default: break;
  }
  const sim::RateVerdict verdict = limiter_.admit(now_ms, weight, order_req ? 1 : 0);
  if (verdict.http_status != 200) {
    HttpReply rep = finish(fail(verdict.error));
    rep.status = static_cast<unsigned>(verdict.http_status);
    rep.headers.emplace_back("Retry-After", std::to_string(verdict.retry_after_s));
    log_event(spdlog::level::info, "rest", "rate_limited",
              LogFields().num("status", verdict.http_status).str("path", p));
    return rep;
  }

  // SIGNED endpoints: API key, signature, timestamp, in the venue's order.
  const bool is_signed = ep >= Ep::kOrderNew && ep <= Ep::kMyTrades;
  if (is_signed) {
    const std::int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    auto auth = sim::authenticate(r, req.api_key, creds_, now_us);
    if (!auth.ok()) return finish(fail(auth.error()));
    const ApiError late = auth.value().recheck(now_us);
    if (!late.ok()) return finish(fail(late));
  }

  sim::MatchingEngine& engine = venue_.engine();
  switch (ep) {
    case Ep::kPing: return finish(good("{}"));
    case Ep::kTime: return finish(good("{\"serverTime\":" + std::to_string(now_ms) + "}"));
    case Ep::kExchangeInfo: {
      auto syms = requested_symbols(r, info, all);
      if (!syms.ok()) return finish(fail(syms.error()));
      return finish(good(venue_.exchange_info_json(now_ms, all ? nullptr : &syms.value())));
    }
    case Ep::kDepth: {
      auto sym = sim::parse_symbol(r, info);
      if (!sym.ok()) return finish(fail(sym.error()));
      auto lim = sim::parse_integer(r, "limit", false);
      if (!lim.ok()) return finish(fail(lim.error()));
      const std::int64_t limit = std::clamp<std::int64_t>(lim.value().value_or(100), 1, 5000);
      const Market* mk = venue_.find(sym.value()->name);
      const md::OrderBook& book = venue_.book_or_empty(sym.value()->name);
      std::string s = "{\"lastUpdateId\":";
      append_int(s, mk != nullptr ? static_cast<std::int64_t>(mk->public_id()) : 0);
      for (int side = 0; side < 2; ++side) {
        s += side == 0 ? ",\"bids\":[" : "],\"asks\":[";
        const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(limit),
                                                    side == 0 ? book.bid_levels() : book.ask_levels());
        for (std::size_t i = 0; i < n; ++i) {
          const md::Level& l = side == 0 ? book.bid(i) : book.ask(i);
          if (i != 0) s += ',';
          s += "[\"";
          append_decimal(s, l.px);
          s += "\",\"";
          append_decimal(s, l.qty);
          s += "\"]";
        }
      }
      s += "]}";
      return finish(good(std::move(s)));
    }
    case Ep::kKlines: {
      auto sym = sim::parse_symbol(r, info);
      if (!sym.ok()) return finish(fail(sym.error()));
      const std::string* iv = r.find("interval");
      if (iv == nullptr || iv->empty()) return finish(fail(sim::errors::mandatory("interval")));
      const int idx = interval_index(*iv);
      if (idx < 0) return finish(fail(sim::make_error(static_cast<ErrorCode>(-1120), "Invalid interval.")));
      auto start = sim::parse_integer(r, "startTime", false);
      auto end = sim::parse_integer(r, "endTime", false);
      auto lim = sim::parse_integer(r, "limit", false);
      if (!start.ok()) return finish(fail(start.error()));
      if (!end.ok()) return finish(fail(end.error()));
      if (!lim.ok()) return finish(fail(lim.error()));
      const auto limit = static_cast<std::size_t>(std::clamp<std::int64_t>(lim.value().value_or(500), 1, 1000));
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
        if (start.value()) sel.resize(limit);
        else sel.erase(sel.begin(), sel.end() - static_cast<std::ptrdiff_t>(limit));
      }
      std::string s = "[";
      for (std::size_t i = 0; i < sel.size(); ++i) {
        const Kline& k = *sel[i];
        if (i != 0) s += ',';
        s += '[';
        append_int(s, k.open_ms);
        for (std::int64_t v : {k.o, k.h, k.l, k.c, k.vol}) {
          s += ",\"";
          append_decimal(s, v);
          s += '"';
        }
        s += ',';
        append_int(s, k.close_ms);
        s += ",\"";
        append_decimal(s, k.quote);
        s += "\",";
        append_int(s, static_cast<std::int64_t>(k.n));
        s += ",\"";
        append_decimal(s, k.taker_base);
        s += "\",\"";
        append_decimal(s, k.taker_quote);
        s += "\",\"0\"]";
      }
      s += ']';
      return finish(good(std::move(s)));
    }
    case Ep::kTicker24:
    case Ep::kTickerPrice:
    case Ep::kBookTicker: {
      auto syms = requested_symbols(r, info, all);
      if (!syms.ok()) return finish(fail(syms.error()));
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
        const md::Level bb = book.bid_levels() != 0 ? book.bid(0) : md::Level{0, 0};
        const md::Level ba = book.ask_levels() != 0 ? book.ask(0) : md::Level{0, 0};
        const std::int64_t last_px = mk != nullptr && !mk->trades.empty() ? mk->trades.back().px : 0;
        sim::JsonWriter w;
        w.begin_object().key("symbol").string(names[i]);
        if (ep == Ep::kTickerPrice) {
          w.key("price").decimal(last_px);
        } else if (ep == Ep::kBookTicker) {
          w.key("bidPrice").decimal(bb.px).key("bidQty").decimal(bb.qty);
          w.key("askPrice").decimal(ba.px).key("askQty").decimal(ba.qty);
        } else {
          // Rolling 24 h from one-minute buckets, ending at the market's clock.
          const std::int64_t now_m = (mk != nullptr && mk->clock_ms != 0 ? mk->clock_ms : now_ms) / 60'000;
          MinuteBucket agg;
          bool any = false;
          std::int64_t prev_close = 0;
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
          prev_close = agg.o;
          const std::int64_t change = agg.c - agg.o;
          const std::int64_t pct_milli =
              agg.o != 0 ? static_cast<std::int64_t>(static_cast<Int128>(change) * 100'000 / agg.o) : 0;
          const std::int64_t wavg =
              agg.vol != 0 ? static_cast<std::int64_t>(static_cast<Int128>(agg.quote) * 100'000'000 / agg.vol) : 0;
          w.key("priceChange").decimal(change).key("priceChangePercent").decimal(pct_milli, 3);
          w.key("weightedAvgPrice").decimal(wavg).key("prevClosePrice").decimal(prev_close);
          w.key("lastPrice").decimal(agg.c).key("lastQty").decimal(mk != nullptr && !mk->trades.empty() ? mk->trades.back().qty : 0);
          w.key("bidPrice").decimal(bb.px).key("bidQty").decimal(bb.qty);
          w.key("askPrice").decimal(ba.px).key("askQty").decimal(ba.qty);
          w.key("openPrice").decimal(agg.o).key("highPrice").decimal(agg.h).key("lowPrice").decimal(agg.l);
          w.key("volume").decimal(agg.vol).key("quoteVolume").decimal(agg.quote);
          const std::int64_t close_t = now_m * 60'000 + 59'999;
          w.key("openTime").integer(close_t - 86'400'000 + 1).key("closeTime").integer(close_t);
          w.key("firstId").integer(any ? agg.first_id : -1).key("lastId").integer(any ? agg.last_id : -1);
          w.key("count").integer(static_cast<std::int64_t>(agg.n));
        }
        w.end_object();
        s += w.str();
      }
      if (all || r.has("symbols")) s += ']';
      return finish(good(std::move(s)));
    }
    case Ep::kTrades: {
      auto sym = sim::parse_symbol(r, info);
      if (!sym.ok()) return finish(fail(sym.error()));
      auto lim = sim::parse_integer(r, "limit", false);
      if (!lim.ok()) return finish(fail(lim.error()));
      const auto limit = static_cast<std::size_t>(std::clamp<std::int64_t>(lim.value().value_or(500), 1, 1000));
      sim::JsonWriter w;
      w.begin_array();
      if (const Market* mk = venue_.find(sym.value()->name)) {
        const std::size_t n = std::min(limit, mk->trades.size());
        for (std::size_t i = mk->trades.size() - n; i < mk->trades.size(); ++i) {
          const PublicTrade& t = mk->trades[i];
          w.begin_object().key("id").integer(t.id).key("price").decimal(t.px).key("qty").decimal(t.qty);
          w.key("quoteQty").decimal(t.quote).key("time").integer(t.time_ms);
          w.key("isBuyerMaker").boolean(t.buyer_maker).key("isBestMatch").boolean(true).end_object();
        }
      }
      w.end_array();
      return finish(good(std::move(w).str()));
    }
    case Ep::kAggTrades: {
      // Every trade of the sim is its own aggregate (one taker order per trade), so aggregate id
      // = first = last trade id. limit and fromId are honoured; startTime/endTime filter.
      auto sym = sim::parse_symbol(r, info);
      if (!sym.ok()) return finish(fail(sym.error()));
      auto lim = sim::parse_integer(r, "limit", false);
      if (!lim.ok()) return finish(fail(lim.error()));
      auto from = sim::parse_integer(r, "fromId", false);
      if (!from.ok()) return finish(fail(from.error()));
      auto start = sim::parse_integer(r, "startTime", false);
      if (!start.ok()) return finish(fail(start.error()));
      auto end = sim::parse_integer(r, "endTime", false);
      if (!end.ok()) return finish(fail(end.error()));
      const auto limit = static_cast<std::size_t>(std::clamp<std::int64_t>(lim.value().value_or(500), 1, 1000));
      sim::JsonWriter w;
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
          const PublicTrade& t = *sel[i];
          w.begin_object().key("a").integer(t.id).key("p").decimal(t.px).key("q").decimal(t.qty);
          w.key("f").integer(t.id).key("l").integer(t.id).key("T").integer(t.time_ms);
          w.key("m").boolean(t.buyer_maker).key("M").boolean(true).end_object();
        }
      }
      w.end_array();
      return finish(good(std::move(w).str()));
    }
    case Ep::kOrderNew:
    case Ep::kOrderTest: {
      auto o = sim::parse_new_order(r, info);
      if (!o.ok()) return finish(fail(o.error()));
      const md::OrderBook& book = venue_.book_or_empty(o.value().symbol);
      if (ep == Ep::kOrderTest) {
        const ApiError e = engine.test_order(o.value(), book);
        if (!e.ok()) return finish(fail(e));
        const std::string* ccr = r.find("computeCommissionRates");
        const bool rates = ccr != nullptr && *ccr == "true";
        return finish(good(sim::test_order_json(rates ? &engine.account().commission() : nullptr)));
      }
      auto res = engine.place_order(o.value(), book, now_ms);
      if (!res.ok()) return finish(fail(res.error()));
      log_event(spdlog::level::info, "rest", "order_placed",
                LogFields().str("symbol", res.value().order.symbol).num("orderId", res.value().order.order_id)
                    .str("status", sim::to_string(res.value().order.status)));
      return finish(good(sim::order_response_json(res.value())));
    }
    case Ep::kOrderGet: {
      auto ref = sim::parse_order_ref(r, info);
      if (!ref.ok()) return finish(fail(ref.error()));
      auto o = engine.query_order(ref.value());
      if (!o.ok()) return finish(fail(o.error()));
      return finish(good(sim::order_query_json(o.value())));
    }
    case Ep::kOrderCancel: {
      auto c = sim::parse_cancel(r, info);
      if (!c.ok()) return finish(fail(c.error()));
      auto res = engine.cancel_order(c.value(), now_ms);
      if (!res.ok()) return finish(fail(res.error()));
      return finish(good(sim::cancel_response_json(res.value())));
    }
    case Ep::kOpenOrders: {
      auto sym = sim::parse_optional_symbol(r, info);
      if (!sym.ok()) return finish(fail(sym.error()));
      const auto orders = engine.open_orders(sym.value() != nullptr ? sym.value()->name : std::string());
      return finish(good(sim::open_orders_json(orders)));
    }
    case Ep::kCancelAll: {
      auto sym = sim::parse_symbol(r, info);
      if (!sym.ok()) return finish(fail(sym.error()));
      auto res = engine.cancel_open_orders(sym.value()->name, now_ms);
      if (!res.ok()) return finish(fail(res.error()));
      return finish(good(sim::cancel_all_json(res.value())));
    }
    case Ep::kAccount: {
      const std::string* omit = r.find("omitZeroBalances");
      return finish(good(sim::account_json(engine.account(), sim::AccountFlags{},
                                           omit != nullptr && *omit == "true")));
    }
    case Ep::kMyTrades: {
      auto q = sim::parse_my_trades(r, info);
      if (!q.ok()) return finish(fail(q.error()));
      return finish(good(sim::my_trades_json(engine.my_trades(q.value()))));
    }
    case Ep::kNone: break;
  }
  return HttpReply{404, "", {}};
}

}  // namespace cwts::sim_server
