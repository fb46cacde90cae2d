// Binance spot's public market data as JSON: the REST bodies (depth, klines, trades, aggTrades,
// tickers) and the market stream payloads (depthUpdate, partial depth, trade, aggTrade,
// bookTicker, kline, the combined-stream envelope). Byte for byte what Binance sends: members in
// its order, decimals as strings with 8 decimals, times in ms. cwts-sim serves these; so will
// the engine's gateway.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "cwts/binance/exchange_info.hpp"
#include "cwts/binance/kline.hpp"
#include "cwts/core/json_writer.hpp"
#include "cwts/core/money.hpp"
#include "cwts/md/frame.hpp"
#include "cwts/md/order_book.hpp"

namespace cwts::binance {

using core::JsonWriter;

// One public trade (GET /api/v3/trades, the trade stream). quote = notional(px, qty).
struct PublicTrade {
  std::int64_t id = 0;
  core::Price px{};
  core::Qty qty{};
  core::Notional quote{};
  std::int64_t time_ms = 0;
  bool buyer_maker = false;
};

// Rolling 24 h statistics (GET /api/v3/ticker/24hr). Ids -1 when there was no trade.
struct Ticker24h {
  core::Price price_change{};               // last - open, signed
  std::int64_t price_change_pct_milli = 0;  // percent at 3 decimals (not money)
  core::Price weighted_avg_price{}, prev_close_price{}, last_price{};
  core::Qty last_qty{};
  md::Level bid{}, ask{};
  core::Price open_price{}, high_price{}, low_price{};
  core::Qty volume{};             // base asset
  core::Notional quote_volume{};  // quote asset
  std::int64_t open_time_ms = 0, close_time_ms = 0;
  std::int64_t first_id = -1, last_id = -1;
  std::uint64_t count = 0;
};

// [["price","qty"],...]: a span of levels in the order given, or the best `n` of a book's side.
void write_levels(JsonWriter& w, std::span<const md::Level> levels);
void write_book_side(JsonWriter& w, const md::OrderBook& book, bool bids, std::size_t n);

// --- REST bodies ------------------------------------------------------------------------------

// GET /api/v3/exchangeInfo: {"timezone":"UTC","serverTime":..,"rateLimits":[..],
// "exchangeFilters":<raw>,"symbols":[<raw>,...]}. Filters and symbol objects are passed through
// as the venue described them (already-serialised JSON).
[[nodiscard]] std::string exchange_info_json(std::int64_t server_time_ms,
                                             std::span<const RateLimit> rate_limits,
                                             std::string_view exchange_filters_json,
                                             std::span<const std::string_view> symbol_objects);

// GET /api/v3/time: {"serverTime":..}.
[[nodiscard]] std::string server_time_json(std::int64_t server_time_ms);
// GET /api/v3/depth, and the <symbol>@depth<N> stream payload: {"lastUpdateId":..,"bids":..,
// "asks":..}, the best `n` levels of each side.
[[nodiscard]] std::string depth_json(std::uint64_t last_update_id, const md::OrderBook& book,
                                     std::size_t n);
// One row of GET /api/v3/klines: [openTime,"o","h","l","c","v",closeTime,"quoteVolume",trades,
// "takerBase","takerQuote","0"].
void write_kline_row(JsonWriter& w, const Kline& k);
// One element of GET /api/v3/trades.
void write_public_trade(JsonWriter& w, const PublicTrade& t);
// One element of GET /api/v3/aggTrades for a trade that is its own aggregate (a = f = l = id).
void write_agg_trade(JsonWriter& w, const PublicTrade& t);
// GET /api/v3/ticker/price, /ticker/bookTicker and /ticker/24hr, one symbol.
void write_ticker_price(JsonWriter& w, std::string_view symbol, core::Price price);
void write_book_ticker(JsonWriter& w, std::string_view symbol, md::Level bid, md::Level ask);
void write_ticker_24h(JsonWriter& w, std::string_view symbol, const Ticker24h& t);

// --- Stream payloads --------------------------------------------------------------------------

// <symbol>@depth and @depth@100ms: {"e":"depthUpdate","E":..,"s":..,"U":..,"u":..,"b":..,"a":..}.
[[nodiscard]] std::string depth_update_event(std::string_view symbol, std::int64_t event_ms,
                                             std::uint64_t first_id, std::uint64_t last_id,
                                             std::span<const md::Level> bids,
                                             std::span<const md::Level> asks);
// <symbol>@trade.
[[nodiscard]] std::string trade_event(std::string_view symbol, std::int64_t event_ms,
                                      const PublicTrade& t);
// <symbol>@aggTrade.
[[nodiscard]] std::string agg_trade_event(std::string_view symbol, std::int64_t event_ms,
                                          std::int64_t agg_id, std::int64_t first_id,
                                          std::int64_t last_id, const PublicTrade& t);
// <symbol>@bookTicker: {"u":..,"s":..,"b":..,"B":..,"a":..,"A":..}.
[[nodiscard]] std::string book_ticker_event(std::uint64_t update_id, std::string_view symbol,
                                            md::Level bid, md::Level ask);
// <symbol>@kline_<interval>.
[[nodiscard]] std::string kline_event(std::string_view symbol, std::int64_t event_ms,
                                      std::string_view interval, const Kline& k, bool closed);
// {"e":"serverShutdown","E":..}: sent before the venue closes a stream connection for maintenance.
[[nodiscard]] std::string server_shutdown_event(std::int64_t event_ms);
// A payload as a combined stream (/stream) sends it: {"stream":"<name>","data":<payload>}.
[[nodiscard]] std::string combined_stream_frame(std::string_view stream, std::string_view data);

}  // namespace cwts::binance
