// Parsed Binance market-data frames: plain structs the parser fills and the book/candle code reads.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "cwts/core/fixed_point.hpp"
#include "cwts/core/money.hpp"

namespace cwts::md {

// Every price and quantity off the wire is parsed at this scale (Binance sends at most 8
// decimals), so the raw integers match layout::Price/Qty with price_decimals = qty_decimals = 8.
inline constexpr int kWireDecimals = core::kWireDecimals;

using core::Notional;
using core::Price;
using core::Qty;

struct Level {
  Price px;
  Qty qty;  // 0 = remove the level
  friend constexpr bool operator==(const Level&, const Level&) = default;
};

enum class FrameKind : std::uint8_t {
  kUnknown,
  kBookTicker,
  kDepthUpdate,    // diff depth (spot; USD-M carries pu)
  kPartialDepth,   // <symbol>@depth<5|10|20>: a top-N snapshot pushed on the stream
  kDepthSnapshot,  // REST GET /api/v3/depth body
  kTrade,
  kAggTrade,
  kKline,
  kServerShutdown,
  kError,              // {"code":..,"msg":..}
  kSubscriptionReply,  // {"result":..,"id":..}
};

[[nodiscard]] const char* to_string(FrameKind k) noexcept;

enum class ParseErrc : std::uint8_t {
  kOk,
  kJson,          // not valid JSON / truncated
  kMissingField,  // a required field is absent
  kWrongType,     // a field has the wrong JSON type
  kBadNumber,     // a decimal string is not representable at kWireDecimals, or out of range
  kUnknownEvent,  // an event type or stream we do not handle
  kBadSymbol,     // symbol missing, empty or longer than 15 characters
};

[[nodiscard]] const char* to_string(ParseErrc e) noexcept;

struct BookTickerMsg {
  std::uint64_t update_id;
  Price bid_px;
  Qty bid_qty;
  Price ask_px;
  Qty ask_qty;
  std::int64_t event_time_ms;  // USD-M only (E), else 0
  std::int64_t txn_time_ms;    // USD-M only (T), else 0
};

struct DepthMsg {
  std::uint64_t first_id;  // U
  std::uint64_t last_id;   // u (lastUpdateId for snapshots and partial depth)
  std::uint64_t prev_id;   // pu (USD-M), 0 if absent
  bool has_prev_id;
  std::int64_t event_time_ms;  // E (0 for REST snapshots)
  std::int64_t txn_time_ms;    // T (USD-M)
};

struct TradeMsg {
  std::uint64_t id;        // t (trade) or a (aggTrade)
  std::uint64_t first_id;  // aggTrade f
  std::uint64_t last_id;   // aggTrade l
  Price px;
  Qty qty;
  std::int64_t event_time_ms;
  std::int64_t trade_time_ms;
  bool buyer_is_maker;
};

struct KlineMsg {
  std::int64_t open_time_ms, close_time_ms;
  std::uint32_t interval_s;  // 0 for "1M" (calendar month)
  Price open, high, low, close;
  Qty volume;
  Notional quote_volume;
  std::uint64_t trades;
  bool closed;
  std::int64_t event_time_ms;
};

struct ErrorMsg {
  std::int64_t code;
  char msg[128];
};

// One parsed frame. Reused across frames: the level vectors keep their capacity, so after
// warm-up parsing does not allocate. Not thread-safe.
struct ParsedFrame {
  FrameKind kind = FrameKind::kUnknown;
  bool combined = false;  // arrived wrapped as {"stream":..,"data":..}
  char symbol[16] = {};
  std::uint8_t symbol_len = 0;
  BookTickerMsg book_ticker{};
  DepthMsg depth{};
  TradeMsg trade{};
  KlineMsg kline{};
  ErrorMsg error{};
  std::int64_t shutdown_time_ms = 0;
  std::vector<Level> bids;  // depth: in wire order (snapshots: best first)
  std::vector<Level> asks;

  [[nodiscard]] std::string_view symbol_view() const noexcept { return {symbol, symbol_len}; }
  void reset() noexcept {
    kind = FrameKind::kUnknown;
    combined = false;
    symbol_len = 0;
    // Every per-kind struct: optional fields (spot bookTicker "E", trade "f"/"l", kline "n")
    // must not keep the previous frame's values.
    book_ticker = {};
    depth = {};
    trade = {};
    kline = {};
    error.code = 0;
    error.msg[0] = '\0';
    bids.clear();
    asks.clear();
  }
};

// Seconds in a Binance interval string ("1s", "1m", "4h", "1d", "1w"); 0 if unknown or "1M".
[[nodiscard]] std::uint32_t interval_seconds(std::string_view interval) noexcept;

}  // namespace cwts::md
