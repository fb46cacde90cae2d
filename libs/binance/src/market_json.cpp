#include "cwts/binance/market_json.hpp"

#include <algorithm>

namespace cwts::binance {

namespace {

void write_level(JsonWriter& w, const md::Level& l) {
  w.begin_array().decimal(l.px).decimal(l.qty).end_array();
}

}  // namespace

void write_levels(JsonWriter& w, std::span<const md::Level> levels) {
  w.begin_array();
  for (const md::Level& l : levels) write_level(w, l);
  w.end_array();
}

void write_book_side(JsonWriter& w, const md::OrderBook& book, bool bids, std::size_t n) {
  w.begin_array();
  const std::size_t count = std::min(n, bids ? book.bid_levels() : book.ask_levels());
  for (std::size_t i = 0; i < count; ++i) write_level(w, bids ? book.bid(i) : book.ask(i));
  w.end_array();
}

std::string exchange_info_json(std::int64_t server_time_ms, std::span<const RateLimit> rate_limits,
                               std::string_view exchange_filters_json,
                               std::span<const std::string_view> symbol_objects) {
  JsonWriter w;
  w.begin_object().key("timezone").string("UTC").key("serverTime").integer(server_time_ms);
  w.key("rateLimits").begin_array();
  for (const RateLimit& l : rate_limits) {
    w.begin_object().key("rateLimitType").string(to_string(l.type));
    w.key("interval").string(to_string(l.interval));
    w.key("intervalNum").uinteger(l.interval_num).key("limit").uinteger(l.limit).end_object();
  }
  w.end_array();
  w.key("exchangeFilters").raw(exchange_filters_json);
  w.key("symbols").begin_array();
  for (std::string_view o : symbol_objects) w.raw(o);
  w.end_array().end_object();
  return std::move(w).str();
}

std::string server_time_json(std::int64_t server_time_ms) {
  JsonWriter w;
  w.begin_object().key("serverTime").integer(server_time_ms).end_object();
  return std::move(w).str();
}

std::string depth_json(std::uint64_t last_update_id, const md::OrderBook& book, std::size_t n) {
  JsonWriter w;
  w.begin_object().key("lastUpdateId").uinteger(last_update_id);
  w.key("bids");
  write_book_side(w, book, true, n);
  w.key("asks");
  write_book_side(w, book, false, n);
  w.end_object();
  return std::move(w).str();
}

void write_kline_row(JsonWriter& w, const Kline& k) {
  w.begin_array().integer(k.open_ms);
  w.decimal(k.o).decimal(k.h).decimal(k.l).decimal(k.c).decimal(k.vol);
  w.integer(k.close_ms).decimal(k.quote).uinteger(k.n);
  w.decimal(k.taker_base).decimal(k.taker_quote).string("0");
  w.end_array();
}

void write_public_trade(JsonWriter& w, const PublicTrade& t) {
  w.begin_object().key("id").integer(t.id).key("price").decimal(t.px).key("qty").decimal(t.qty);
  w.key("quoteQty").decimal(t.quote).key("time").integer(t.time_ms);
  w.key("isBuyerMaker").boolean(t.buyer_maker).key("isBestMatch").boolean(true).end_object();
}

void write_agg_trade(JsonWriter& w, const PublicTrade& t) {
  w.begin_object().key("a").integer(t.id).key("p").decimal(t.px).key("q").decimal(t.qty);
  w.key("f").integer(t.id).key("l").integer(t.id).key("T").integer(t.time_ms);
  w.key("m").boolean(t.buyer_maker).key("M").boolean(true).end_object();
}

void write_ticker_price(JsonWriter& w, std::string_view symbol, core::Price price) {
  w.begin_object().key("symbol").string(symbol).key("price").decimal(price).end_object();
}

void write_book_ticker(JsonWriter& w, std::string_view symbol, md::Level bid, md::Level ask) {
  w.begin_object().key("symbol").string(symbol);
  w.key("bidPrice").decimal(bid.px).key("bidQty").decimal(bid.qty);
  w.key("askPrice").decimal(ask.px).key("askQty").decimal(ask.qty);
  w.end_object();
}

void write_ticker_24h(JsonWriter& w, std::string_view symbol, const Ticker24h& t) {
  w.begin_object().key("symbol").string(symbol);
  w.key("priceChange").decimal(t.price_change);
  w.key("priceChangePercent").decimal(t.price_change_pct_milli, 3);
  w.key("weightedAvgPrice").decimal(t.weighted_avg_price);
  w.key("prevClosePrice").decimal(t.prev_close_price);
  w.key("lastPrice").decimal(t.last_price).key("lastQty").decimal(t.last_qty);
  w.key("bidPrice").decimal(t.bid.px).key("bidQty").decimal(t.bid.qty);
  w.key("askPrice").decimal(t.ask.px).key("askQty").decimal(t.ask.qty);
  w.key("openPrice").decimal(t.open_price).key("highPrice").decimal(t.high_price);
  w.key("lowPrice").decimal(t.low_price);
  w.key("volume").decimal(t.volume).key("quoteVolume").decimal(t.quote_volume);
  w.key("openTime").integer(t.open_time_ms).key("closeTime").integer(t.close_time_ms);
  w.key("firstId").integer(t.first_id).key("lastId").integer(t.last_id);
  w.key("count").uinteger(t.count);
  w.end_object();
}

std::string depth_update_event(std::string_view symbol, std::int64_t event_ms,
                               std::uint64_t first_id, std::uint64_t last_id,
                               std::span<const md::Level> bids, std::span<const md::Level> asks) {
  JsonWriter w;
  w.begin_object().key("e").string("depthUpdate").key("E").integer(event_ms);
  w.key("s").string(symbol).key("U").uinteger(first_id).key("u").uinteger(last_id);
  w.key("b");
  write_levels(w, bids);
  w.key("a");
  write_levels(w, asks);
  w.end_object();
  return std::move(w).str();
}

std::string trade_event(std::string_view symbol, std::int64_t event_ms, const PublicTrade& t) {
  JsonWriter w;
  w.begin_object().key("e").string("trade").key("E").integer(event_ms).key("s").string(symbol);
  w.key("t").integer(t.id).key("p").decimal(t.px).key("q").decimal(t.qty);
  w.key("T").integer(t.time_ms).key("m").boolean(t.buyer_maker).key("M").boolean(true);
  w.end_object();
  return std::move(w).str();
}

std::string agg_trade_event(std::string_view symbol, std::int64_t event_ms, std::int64_t agg_id,
                            std::int64_t first_id, std::int64_t last_id, const PublicTrade& t) {
  JsonWriter w;
  w.begin_object().key("e").string("aggTrade").key("E").integer(event_ms).key("s").string(symbol);
  w.key("a").integer(agg_id).key("p").decimal(t.px).key("q").decimal(t.qty);
  w.key("f").integer(first_id).key("l").integer(last_id);
  w.key("T").integer(t.time_ms).key("m").boolean(t.buyer_maker).key("M").boolean(true);
  w.end_object();
  return std::move(w).str();
}

std::string book_ticker_event(std::uint64_t update_id, std::string_view symbol, md::Level bid,
                              md::Level ask) {
  JsonWriter w;
  w.begin_object().key("u").uinteger(update_id).key("s").string(symbol);
  w.key("b").decimal(bid.px).key("B").decimal(bid.qty);
  w.key("a").decimal(ask.px).key("A").decimal(ask.qty);
  w.end_object();
  return std::move(w).str();
}

std::string kline_event(std::string_view symbol, std::int64_t event_ms, std::string_view interval,
                        const Kline& k, bool closed) {
  JsonWriter w;
  w.begin_object().key("e").string("kline").key("E").integer(event_ms).key("s").string(symbol);
  w.key("k").begin_object();
  w.key("t").integer(k.open_ms).key("T").integer(k.close_ms);
  w.key("s").string(symbol).key("i").string(interval);
  w.key("f").integer(k.first_id).key("L").integer(k.last_id);
  w.key("o").decimal(k.o).key("c").decimal(k.c).key("h").decimal(k.h).key("l").decimal(k.l);
  w.key("v").decimal(k.vol).key("n").uinteger(k.n).key("x").boolean(closed);
  w.key("q").decimal(k.quote).key("V").decimal(k.taker_base).key("Q").decimal(k.taker_quote);
  w.key("B").string("0");
  w.end_object().end_object();
  return std::move(w).str();
}

std::string server_shutdown_event(std::int64_t event_ms) {
  JsonWriter w;
  w.begin_object().key("e").string("serverShutdown").key("E").integer(event_ms).end_object();
  return std::move(w).str();
}

std::string combined_stream_frame(std::string_view stream, std::string_view data) {
  JsonWriter w;
  w.begin_object().key("stream").string(stream).key("data").raw(data).end_object();
  return std::move(w).str();
}

}  // namespace cwts::binance
