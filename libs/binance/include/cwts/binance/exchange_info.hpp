// ExchangeInfo: the venue's symbol rules and rate limits from GET /api/v3/exchangeInfo, parsed once
// at start-up and copied into the shared-memory symbol table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cwts/shm_layout/market_region.hpp"
#include "cwts/shm_layout/types.hpp"

namespace cwts::binance {

// Binance order types as a bit set (bit = 1 << value). Only LIMIT, MARKET and LIMIT_MAKER have a
// layout::OrderType; the rest are kept so start-up code can report what the venue allows.
enum class VenueOrderType : std::uint8_t {
  kLimit = 0,
  kMarket = 1,
  kLimitMaker = 2,
  kStopLoss = 3,
  kStopLossLimit = 4,
  kTakeProfit = 5,
  kTakeProfitLimit = 6,
};

// Which of the filters the layout can hold were present for a symbol (bit set).
enum FilterBit : std::uint32_t {
  kFilterPrice = 1U << 0,               // PRICE_FILTER
  kFilterLotSize = 1U << 1,             // LOT_SIZE
  kFilterMarketLotSize = 1U << 2,       // MARKET_LOT_SIZE
  kFilterMinNotional = 1U << 3,         // MIN_NOTIONAL (until 2023)
  kFilterNotional = 1U << 4,            // NOTIONAL (since 2023)
  kFilterPercentPrice = 1U << 5,        // PERCENT_PRICE (until 2023)
  kFilterPercentPriceBySide = 1U << 6,  // PERCENT_PRICE_BY_SIDE (since 2023)
  kFilterMaxNumOrders = 1U << 7,        // MAX_NUM_ORDERS
};

// One symbol's trading rules. Prices, quantities and notionals are exact integers at
// md::kWireDecimals (8) decimals, as everything else that comes off the wire; multipliers are
// layout::Ratio at layout::kRatioDecimals. A value of 0 means "rule disabled", as Binance
// documents.
struct SymbolSpec {
  std::string name;         // "BTCUSDT"
  std::string base;         // "BTC"
  std::string quote;        // "USDT"
  std::string status_text;  // as sent ("TRADING", "BREAK", ...)
  layout::SymbolStatus status = layout::SymbolStatus::kUnknown;
  std::uint8_t base_precision = 0;     // baseAssetPrecision
  std::uint8_t quote_precision = 0;    // quoteAssetPrecision
  std::uint8_t order_types = 0;        // bit (1 << layout::OrderType) per allowed type
  std::uint8_t venue_order_types = 0;  // bit (1 << VenueOrderType) per allowed type

  std::uint32_t filters = 0;          // FilterBit set
  std::uint32_t ignored_filters = 0;  // filters present that the layout cannot hold

  // PRICE_FILTER
  layout::Price tick_size{0}, min_price{0}, max_price{0};
  // LOT_SIZE
  layout::Qty step_size{0}, min_qty{0}, max_qty{0};
  // MARKET_LOT_SIZE (the layout holds min and max; the step is usually 0 = LOT_SIZE's)
  layout::Qty market_step_size{0}, market_min_qty{0}, market_max_qty{0};
  // NOTIONAL or MIN_NOTIONAL, in quote-asset units at 8 decimals. max 0 = none.
  layout::Notional min_notional{0}, max_notional{0};
  bool apply_min_to_market = false;  // MIN_NOTIONAL applyToMarket / NOTIONAL applyMinToMarket
  bool apply_max_to_market = false;  // NOTIONAL applyMaxToMarket
  std::uint32_t notional_avg_price_mins = 0;
  // PERCENT_PRICE (both sides equal) or PERCENT_PRICE_BY_SIDE. 0 = filter absent.
  layout::Ratio bid_multiplier_up{0}, bid_multiplier_down{0};
  layout::Ratio ask_multiplier_up{0}, ask_multiplier_down{0};
  std::uint32_t avg_price_mins = 0;  // of the percent-price filter
  // MAX_NUM_ORDERS. 0 = none.
  std::uint32_t max_num_orders = 0;
};

enum class RateLimitType : std::uint8_t { kRequestWeight, kOrders, kRawRequests };
enum class RateInterval : std::uint8_t { kSecond, kMinute, kHour, kDay };

struct RateLimit {
  RateLimitType type;
  RateInterval interval;
  std::uint32_t interval_num;  // the window is interval_num intervals long
  std::uint64_t limit;

  // Length of the window in milliseconds (e.g. ORDERS 10 SECOND -> 10000).
  [[nodiscard]] std::int64_t window_ms() const noexcept;
};

[[nodiscard]] const char* to_string(RateLimitType t) noexcept;
[[nodiscard]] const char* to_string(RateInterval i) noexcept;

struct ExchangeInfo {
  std::vector<SymbolSpec> symbols;
  std::vector<RateLimit> rate_limits;
  std::int64_t server_time_ms = 0;
  std::string timezone;
  // Filter types seen that the layout cannot hold (ICEBERG_PARTS, TRAILING_DELTA, ...), each
  // once, in order of first appearance; and how many such filter objects there were in total.
  std::vector<std::string> ignored_filter_types;
  std::uint64_t ignored_filters = 0;

  // Linear search; start-up use only.
  [[nodiscard]] const SymbolSpec* find(std::string_view symbol) const noexcept;
};

// Everything in this header is start-up (or control-plane refresh) code: it allocates and throws,
// and must not run on the md thread's hot path. The functions are reentrant; ExchangeInfo itself
// is Not thread-safe for concurrent mutation.

// Parses an exchangeInfo body. Unknown keys and unknown filter types are ignored (the latter
// counted); both the 2021 filter set (MIN_NOTIONAL, PERCENT_PRICE) and the 2023+ set (NOTIONAL,
// PERCENT_PRICE_BY_SIDE) are accepted. Throws std::runtime_error naming the symbol and the field
// on malformed input: a missing required field, a wrong JSON type, or a decimal that is not exact
// at 8 decimals. Start-up code: allocates freely.
[[nodiscard]] ExchangeInfo parse_exchange_info(std::string_view json);

// The parts of an exchangeInfo body that are served again as the venue wrote them (cwts-sim, the
// engine's gateway): "exchangeFilters" and each symbol object, minified, in document order.
struct ExchangeInfoJson {
  std::string exchange_filters = "[]";
  std::vector<std::pair<std::string, std::string>> symbols;  // name, object
};
// Throws std::runtime_error if `json` is not an exchangeInfo document with a "symbols" array.
[[nodiscard]] ExchangeInfoJson split_exchange_info_json(std::string_view json);

// Reads `path` (plain, or gzip if it ends in ".gz") and parses it. Throws std::runtime_error.
[[nodiscard]] ExchangeInfo load_exchange_info(const std::string& path);

// The request target for exchangeInfo about `symbols`: `/api/v3/exchangeInfo?symbols=[...]`, or,
// when that list would make the request line longer than kMaxExchangeInfoQuery bytes (about 250
// symbols; HTTP servers refuse longer lines), the whole exchangeInfo (the same weight, 20).
inline constexpr std::size_t kMaxExchangeInfoQuery = 4096;
[[nodiscard]] std::string exchange_info_target(const std::vector<std::string>& symbols,
                                               std::size_t first, std::size_t last);

// Reads a whole file, gunzipping it if its name ends in ".gz". Throws std::runtime_error.
[[nodiscard]] std::string read_file_maybe_gz(const std::string& path);

// Fills a shared-memory symbol-table entry from `spec` with price and quantity scale
// md::kWireDecimals. Throws std::runtime_error if a name does not fit the layout's fixed-size
// strings (symbol 15 characters, assets 8: the 2021 list has 9-character assets such as SUSHIDOWN).
void fill_symbol_info(const SymbolSpec& spec, std::uint16_t id, layout::SymbolInfo& out);

}  // namespace cwts::binance
