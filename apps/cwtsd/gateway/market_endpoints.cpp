// The gateway's public market-data endpoints: served from the market region where the engine
// holds the data (books, quotes, candles), fetched from the venue otherwise (docs/gateway.md).
#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include <simdjson.h>

#include "cwts/binance/json_responses.hpp"
#include "cwts/binance/kline.hpp"
#include "cwts/binance/market_json.hpp"
#include "cwts/binance/rate_limits.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/net/http_get.hpp"
#include "cwts/shm/candle_history.hpp"
#include "engine.hpp"
#include "gateway/gateway_impl.hpp"

namespace cwts::daemon {

namespace asio = boost::asio;
using binance::JsonWriter;

namespace {

md::Level level(layout::Price px, layout::Qty qty) { return md::Level{{px.raw}, {qty.raw}}; }

// The closed candles the region holds for (symbol, timeframe), oldest first, then the live one
// if it is newer than the last closed.
// (A candle closing during the read that overtakes it drops the older ones: the answer then does
// not cover the request and goes to the venue.)
std::vector<layout::Candle> held_candles(const layout::MarketRegion& market, std::size_t sym,
                                         std::size_t tf) {
  std::vector<layout::Candle> out;
  shm::read_closed_candles(market, sym, tf, market.candle_history(), out);
  const layout::Candle live = market.candles(sym, tf).live.load();
  if (live.open_time_ms != 0 && (out.empty() || live.open_time_ms > out.back().open_time_ms)) {
    out.push_back(live);
  }
  return out;
}

// Binance's request weight of a public look-up (rest-api.md), for the rate governor.
std::uint32_t lookup_weight(std::string_view path, const binance::Request& r) {
  if (path == "/api/v3/depth") {
    const std::string* l = r.find("limit");
    return binance::spot_depth_weight(l == nullptr ? 100 : std::strtol(l->c_str(), nullptr, 10));
  }
  if (path == "/api/v3/ticker/24hr") return r.has("symbol") ? 2 : 80;
  if (path == "/api/v3/trades" || path == "/api/v3/historicalTrades") return 25;
  if (path == "/api/v3/aggTrades") return 4;
  return 2;  // klines, uiKlines, avgPrice
}

// True if every row of a klines body closed before `now_ms` (such an answer never changes).
bool klines_all_closed(const std::string& body, std::int64_t now_ms) {
  simdjson::dom::parser parser;
  simdjson::dom::array rows;
  if (parser.parse(body).get_array().get(rows) != simdjson::SUCCESS) return false;
  std::int64_t last_close = 0;
  for (simdjson::dom::element row : rows) {
    if (row.at(6).get_int64().get(last_close) != simdjson::SUCCESS) return false;
  }
  return last_close < now_ms;
}

}  // namespace

binance::Kline kline_of(const layout::Candle& c, std::uint32_t timeframe_s) {
  binance::Kline k;
  k.open_ms = c.open_time_ms;
  k.close_ms = c.open_time_ms + static_cast<std::int64_t>(timeframe_s) * 1000 - 1;
  k.o = c.open;
  k.h = c.high;
  k.l = c.low;
  k.c = c.close;
  k.vol = c.volume;
  k.n = c.trades;
  return k;
}

bool Gateway::Impl::market_endpoint(std::string_view path, std::string_view raw_query,
                                    const binance::Request& r, Reply& reply) {
  const std::int64_t now_ms = core::realtime_ns() / 1'000'000;
  if (path == "/api/v3/ping") {
    reply_json(reply, "{}");
    return true;
  }
  if (path == "/api/v3/time") {
    reply_json(reply, binance::server_time_json(now_ms));
    return true;
  }
  if (path == "/api/v3/exchangeInfo") {
    exchange_info(r, std::move(reply));  // venue_markets.cpp
    return true;
  }
  const bool depth = path == "/api/v3/depth";
  const bool book_ticker = path == "/api/v3/ticker/bookTicker";
  const bool price = path == "/api/v3/ticker/price";
  const bool klines = path == "/api/v3/klines";
  const bool forwarded = path == "/api/v3/ticker/24hr" || path == "/api/v3/trades" ||
                         path == "/api/v3/aggTrades" || path == "/api/v3/avgPrice" ||
                         path == "/api/v3/uiKlines" || path == "/api/v3/historicalTrades";
  if (!depth && !book_ticker && !price && !klines && !forwarded) return false;

  std::string target(path);  // as the client sent it, for the venue
  if (!raw_query.empty()) target.append("?").append(raw_query);
  if (forwarded) {
    forward_to_venue(std::move(target), lookup_weight(path, r), std::move(reply));
    return true;
  }

  // One symbol (depth, klines: mandatory) or all of the engine's (tickers without `symbol`).
  const std::string* sym_param = r.find("symbol");
  // A symbol the engine does not hold: the venue's data, read-only (exchangeInfo lists the
  // venue's markets; FreqTrade's pairlists look at them before the engine trades them).
  if (sym_param != nullptr && !sym_param->empty() && symbol_id(*sym_param) < 0) {
    forward_to_venue(std::move(target), lookup_weight(path, r), std::move(reply));
    return true;
  }
  if ((book_ticker || price) && sym_param == nullptr) {
    JsonWriter w(4096);
    w.begin_array();
    for (std::size_t k = 0; k < names.size(); ++k) {
      const layout::Quote q = market.symbol(k).quote.load();
      if (book_ticker) {
        binance::write_book_ticker(w, names[k], level(q.bid_px, q.bid_qty),
                                   level(q.ask_px, q.ask_qty));
      } else {
        binance::write_ticker_price(w, names[k], q.last_px);
      }
    }
    w.end_array();
    reply_json(reply, std::move(w).str());
    return true;
  }
  auto spec = binance::parse_symbol(r, info);
  if (!spec.ok()) {
    reply_error(reply, spec.error());
    return true;
  }
  const auto id = static_cast<std::size_t>(symbol_id(spec.value()->name));
  const layout::SymbolEntry& entry = market.symbol(id);

  if (book_ticker || price) {
    const layout::Quote q = entry.quote.load();
    JsonWriter w;
    if (book_ticker) {
      binance::write_book_ticker(w, names[id], level(q.bid_px, q.bid_qty),
                                 level(q.ask_px, q.ask_qty));
    } else {
      binance::write_ticker_price(w, names[id], q.last_px);
    }
    reply_json(reply, std::move(w).str());
    return true;
  }

  if (depth) {
    auto limit = binance::parse_integer(r, "limit", false);
    if (!limit.ok()) {
      reply_error(reply, limit.error());
      return true;
    }
    const std::int64_t n = limit.value().value_or(100);
    // Deeper than the engine's region holds, or its book not synced: the venue's book.
    if (n > static_cast<std::int64_t>(market.book_depth())) {
      forward_to_venue(std::move(target), lookup_weight(path, r), std::move(reply));
      return true;
    }
    layout::BookTop* const b = &book_scratch();
    market.book(id).load(*b, static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
    // Not synced, or fewer levels than asked that the engine knows whole (past its snapshot's
    // reach, or a side that thin): the venue's answer is the book.
    if (b->book_valid == 0 || b->bid_count < n || b->ask_count < n) {
      forward_to_venue(std::move(target), lookup_weight(path, r), std::move(reply));
      return true;
    }
    std::vector<md::Level> bids, asks;
    for (std::uint32_t k = 0; k < b->bid_count; ++k)
      bids.push_back(level(b->bid_px[k], b->bid_qty[k]));
    for (std::uint32_t k = 0; k < b->ask_count; ++k)
      asks.push_back(level(b->ask_px[k], b->ask_qty[k]));
    JsonWriter w(2048);
    w.begin_object().key("lastUpdateId").uinteger(b->update_id).key("bids");
    binance::write_levels(w, bids);
    w.key("asks");
    binance::write_levels(w, asks);
    w.end_object();
    reply_json(reply, std::move(w).str());
    return true;
  }

  // klines: from the engine's candles when it holds the whole answer, else from the venue.
  const std::string* interval = r.find("interval");
  int tf = -1;
  std::uint32_t tf_s = 0;
  const auto count = market.timeframe_count();
  for (std::uint32_t k = 0; interval != nullptr && k < count; ++k) {
    if (*interval == interval_name(market.config.timeframe_s[k])) {
      tf = static_cast<int>(k);
      tf_s = market.config.timeframe_s[k];
    }
  }
  auto start = binance::parse_integer(r, "startTime", false);
  auto end = binance::parse_integer(r, "endTime", false);
  auto limit = binance::parse_integer(r, "limit", false);
  if (tf < 0 || !start.ok() || !end.ok() || !limit.ok()) {
    forward_to_venue(std::move(target), lookup_weight(path, r),
                     std::move(reply));  // the venue names the error
    return true;
  }
  const auto n =
      static_cast<std::size_t>(std::clamp<std::int64_t>(limit.value().value_or(500), 1, 1000));
  const std::vector<layout::Candle> held =
      held_candles(market, static_cast<std::size_t>(id), static_cast<std::size_t>(tf));
  std::vector<layout::Candle> sel;
  for (const layout::Candle& c : held) {
    if (start.value() && c.open_time_ms < *start.value()) continue;
    if (end.value() && c.open_time_ms > *end.value()) continue;
    sel.push_back(c);
  }
  const bool covers_start =
      start.value() && !held.empty() && held.front().open_time_ms <= *start.value();
  if (start.value() ? !covers_start : sel.size() < n) {
    forward_to_venue(std::move(target), lookup_weight(path, r), std::move(reply));
    return true;
  }
  if (sel.size() > n) {
    if (start.value()) {
      sel.resize(n);
    } else {
      sel.erase(sel.begin(), sel.end() - static_cast<std::ptrdiff_t>(n));
    }
  }
  JsonWriter w(64 + sel.size() * 160);
  w.begin_array();
  for (const layout::Candle& c : sel) binance::write_kline_row(w, kline_of(c, tf_s));
  w.end_array();
  reply_json(reply, std::move(w).str());
  return true;
}

void Gateway::Impl::forward_to_venue(std::string target, std::uint32_t weight, Reply reply) {
  // Klines of the past never change: answered once by the venue, then from here.
  const bool klines = target.starts_with("/api/v3/klines?");
  if (klines) {
    if (const auto it = kline_cache.find(target); it != kline_cache.end()) {
      return reply_json(reply, it->second);
    }
  }
  // The engine's rate governor decides: look-ups spend only what orders and cancels leave.
  if (!engine.try_charge_venue_lookup(weight)) {
    return reply_error(reply, binance::make_error(binance::ErrorCode::kTooManyRequests,
                                                  "The engine's request-weight budget for venue "
                                                  "look-ups is used up; retry later."));
  }
  fetcher->get(
      target, [this, klines, target, reply = std::move(reply)](bool ok, std::string body) mutable {
        if (!ok) {
          net::HttpServerResponse r;
          r.status = 502;
          r.body = binance::error_json(binance::make_error(binance::ErrorCode::kUnknown, body));
          return reply(std::move(r));
        }
        if (klines && klines_all_closed(body, core::realtime_ns() / 1'000'000)) {
          if (kline_cache_order.size() >= kKlineCacheEntries) {
            kline_cache.erase(kline_cache_order.front());
            kline_cache_order.pop_front();
          }
          if (kline_cache.emplace(target, body).second) kline_cache_order.push_back(target);
        }
        reply_json(reply, std::move(body));
      });
}

// ---- VenueFetcher -------------------------------------------------------------------------

VenueFetcher::VenueFetcher(asio::io_context& ioc, const VenueConfig& venue, Engine& engine)
    : ioc_(ioc), venue_(venue), engine_(engine), worker_([this] { work(); }) {}

VenueFetcher::~VenueFetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  worker_.join();
}

void VenueFetcher::get(std::string target, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() < kMaxQueued) {
      queue_.emplace_back(std::move(target), std::move(done));
      cv_.notify_one();
      return;
    }
  }
  done(false, "too many venue look-ups waiting; retry");
}

void VenueFetcher::work() {
  for (;;) {
    std::pair<std::string, Done> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    bool ok = true;
    std::string body;
    try {
      if (engine_.venue_requests_held()) {
        throw std::runtime_error(
            "the venue said back off (a 429/418): retry after its Retry-After");
      }
      net::HttpGetOptions o;
      o.tls_verify = venue_.tls_verify;
      o.ca_file = venue_.ca_file;
      o.timeout = std::chrono::milliseconds(venue_.request_timeout_ms * 2);
      body = net::http_get(venue_.rest_url, job.first, o);
    } catch (const std::exception& e) {
      ok = false;
      body = std::string("venue look-up failed: ") + e.what();
      // A 429/418: every venue request of the engine waits (the look-ups behind this one are
      // refused by the governor meanwhile).
      if (const std::int64_t s = net::rate_limit_wait_s(e); s > 0) engine_.hold_venue_requests(s);
    }
    asio::post(ioc_, [done = std::move(job.second), ok, body = std::move(body)]() mutable {
      done(ok, std::move(body));
    });
  }
}

}  // namespace cwts::daemon
