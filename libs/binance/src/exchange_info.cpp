// exchangeInfo parsing (simdjson DOM: start-up code) and the copy into the shared symbol table.
#include "cwts/binance/exchange_info.hpp"

#include <zlib.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

#include <simdjson.h>

#include "cwts/core/decimal.hpp"
#include "cwts/md/frame.hpp"

namespace cwts::binance {
namespace {

namespace dom = simdjson::dom;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw std::runtime_error("exchangeInfo: " + where + ": " + what);
}

const char* json_type_name(dom::element_type t) noexcept {
  switch (t) {
    case dom::element_type::ARRAY:
      return "an array";
    case dom::element_type::OBJECT:
      return "an object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return "a number";
    case dom::element_type::STRING:
      return "a string";
    case dom::element_type::BOOL:
      return "a boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "?";
}

// Field access with error messages that name where the field was looked for.
class Fields {
 public:
  Fields(dom::object obj, std::string where) : obj_(obj), where_(std::move(where)) {}

  [[nodiscard]] bool has(std::string_view key) const {
    dom::element e;
    return obj_[key].get(e) == simdjson::SUCCESS;
  }

  [[nodiscard]] dom::element get(std::string_view key) const {
    dom::element e;
    if (obj_[key].get(e) != simdjson::SUCCESS) {
      fail(where_, "missing field '" + std::string(key) + "'");
    }
    return e;
  }

  [[nodiscard]] std::string_view string(std::string_view key) const {
    std::string_view s;
    const dom::element e = get(key);
    if (e.get(s) != simdjson::SUCCESS) type_error(key, e, "a string");
    return s;
  }

  [[nodiscard]] dom::array array(std::string_view key) const {
    dom::array a;
    const dom::element e = get(key);
    if (e.get(a) != simdjson::SUCCESS) type_error(key, e, "an array");
    return a;
  }

  [[nodiscard]] bool boolean(std::string_view key) const {
    bool b = false;
    const dom::element e = get(key);
    if (e.get(b) != simdjson::SUCCESS) type_error(key, e, "a boolean");
    return b;
  }

  // A non-negative integer no larger than `max`.
  [[nodiscard]] std::uint64_t uint(std::string_view key, std::uint64_t max) const {
    std::uint64_t v = 0;
    const dom::element e = get(key);
    if (e.get(v) != simdjson::SUCCESS) type_error(key, e, "a non-negative integer");
    if (v > max) {
      fail(where_, "field '" + std::string(key) + "': " + std::to_string(v) + " is larger than " +
                       std::to_string(max));
    }
    return v;
  }

  [[nodiscard]] std::int64_t int64(std::string_view key) const {
    std::int64_t v = 0;
    const dom::element e = get(key);
    if (e.get(v) != simdjson::SUCCESS) type_error(key, e, "an integer");
    return v;
  }

  // A decimal string, exact at `decimals` decimals, never negative. Binance sends every price,
  // quantity and multiplier as a string; a JSON number here would mean a changed format.
  [[nodiscard]] std::int64_t fixed(std::string_view key, int decimals) const {
    const std::string_view s = string(key);
    std::int64_t v = 0;
    const core::DecimalErrc rc = core::parse_fixed(s, decimals, v);
    if (rc != core::DecimalErrc::kOk) {
      fail(where_, "field '" + std::string(key) + "': '" + std::string(s) +
                       "': " + core::to_string(rc) + " (scale " + std::to_string(decimals) + ")");
    }
    if (v < 0)
      fail(where_, "field '" + std::string(key) + "': '" + std::string(s) + "' is negative");
    return v;
  }

  [[nodiscard]] const std::string& where() const noexcept { return where_; }

 private:
  [[noreturn]] void type_error(std::string_view key, const dom::element& e,
                               const char* expected) const {
    fail(where_, "field '" + std::string(key) + "' must be " + expected + ", not " +
                     json_type_name(e.type()));
  }

  dom::object obj_;
  std::string where_;
};

dom::object as_object(dom::element e, const std::string& where) {
  dom::object o;
  if (e.get(o) != simdjson::SUCCESS)
    fail(where, std::string("must be an object, not ") + json_type_name(e.type()));
  return o;
}

layout::SymbolStatus map_status(std::string_view s) noexcept {
  if (s == "TRADING") return layout::SymbolStatus::kTrading;
  if (s == "HALT") return layout::SymbolStatus::kHalt;
  if (s == "BREAK") return layout::SymbolStatus::kBreak;
  if (s == "END_OF_DAY") return layout::SymbolStatus::kEndOfDay;
  if (s == "CANCEL_ONLY") return layout::SymbolStatus::kCancelOnly;
  // PRE_TRADING, POST_TRADING, AUCTION_MATCH (older enums) and anything new: not tradable for us.
  return layout::SymbolStatus::kUnknown;
}

template <typename E>
constexpr std::uint8_t bit(E e) noexcept {
  return static_cast<std::uint8_t>(1U << static_cast<unsigned>(e));
}

void parse_order_types(const Fields& f, SymbolSpec& s) {
  for (dom::element e : f.array("orderTypes")) {
    std::string_view t;
    if (e.get(t) != simdjson::SUCCESS) {
      fail(f.where(),
           "field 'orderTypes' must hold strings, not " + std::string(json_type_name(e.type())));
    }
    if (t == "LIMIT") {
      s.venue_order_types |= bit(VenueOrderType::kLimit);
      s.order_types |= bit(layout::OrderType::kLimit);
    } else if (t == "MARKET") {
      s.venue_order_types |= bit(VenueOrderType::kMarket);
      s.order_types |= bit(layout::OrderType::kMarket);
    } else if (t == "LIMIT_MAKER") {
      s.venue_order_types |= bit(VenueOrderType::kLimitMaker);
      s.order_types |= bit(layout::OrderType::kLimitMaker);
    } else if (t == "STOP_LOSS") {
      s.venue_order_types |= bit(VenueOrderType::kStopLoss);
    } else if (t == "STOP_LOSS_LIMIT") {
      s.venue_order_types |= bit(VenueOrderType::kStopLossLimit);
    } else if (t == "TAKE_PROFIT") {
      s.venue_order_types |= bit(VenueOrderType::kTakeProfit);
    } else if (t == "TAKE_PROFIT_LIMIT") {
      s.venue_order_types |= bit(VenueOrderType::kTakeProfitLimit);
    }
    // Unknown order types are ignored: the engine only sends the three it knows.
  }
}

constexpr int kPx = md::kWireDecimals;
constexpr int kRatio = layout::kRatioDecimals;

// Returns false for a filter type the layout cannot hold.
bool parse_filter(std::string_view type, const Fields& f, SymbolSpec& s) {
  if (type == "PRICE_FILTER") {
    s.min_price.raw = f.fixed("minPrice", kPx);
    s.max_price.raw = f.fixed("maxPrice", kPx);
    s.tick_size.raw = f.fixed("tickSize", kPx);
    s.filters |= kFilterPrice;
  } else if (type == "LOT_SIZE") {
    s.min_qty.raw = f.fixed("minQty", kPx);
    s.max_qty.raw = f.fixed("maxQty", kPx);
    s.step_size.raw = f.fixed("stepSize", kPx);
    s.filters |= kFilterLotSize;
  } else if (type == "MARKET_LOT_SIZE") {
    s.market_min_qty.raw = f.fixed("minQty", kPx);
    s.market_max_qty.raw = f.fixed("maxQty", kPx);
    s.market_step_size.raw = f.fixed("stepSize", kPx);
    s.filters |= kFilterMarketLotSize;
  } else if (type == "MIN_NOTIONAL") {
    // The newer NOTIONAL filter supersedes it if a symbol ever carried both.
    if ((s.filters & kFilterNotional) == 0) {
      s.min_notional.raw = f.fixed("minNotional", kPx);
      s.max_notional.raw = 0;
      s.apply_min_to_market = f.boolean("applyToMarket");
      s.apply_max_to_market = false;
      s.notional_avg_price_mins = static_cast<std::uint32_t>(f.uint("avgPriceMins", 0xFFFFFFFFU));
    }
    s.filters |= kFilterMinNotional;
  } else if (type == "NOTIONAL") {
    s.min_notional.raw = f.fixed("minNotional", kPx);
    s.max_notional.raw = f.fixed("maxNotional", kPx);
    s.apply_min_to_market = f.boolean("applyMinToMarket");
    s.apply_max_to_market = f.boolean("applyMaxToMarket");
    s.notional_avg_price_mins = static_cast<std::uint32_t>(f.uint("avgPriceMins", 0xFFFFFFFFU));
    s.filters |= kFilterNotional;
  } else if (type == "PERCENT_PRICE") {
    if ((s.filters & kFilterPercentPriceBySide) == 0) {
      s.bid_multiplier_up.raw = s.ask_multiplier_up.raw = f.fixed("multiplierUp", kRatio);
      s.bid_multiplier_down.raw = s.ask_multiplier_down.raw = f.fixed("multiplierDown", kRatio);
      s.avg_price_mins = static_cast<std::uint32_t>(f.uint("avgPriceMins", 0xFFFFFFFFU));
    }
    s.filters |= kFilterPercentPrice;
  } else if (type == "PERCENT_PRICE_BY_SIDE") {
    s.bid_multiplier_up.raw = f.fixed("bidMultiplierUp", kRatio);
    s.bid_multiplier_down.raw = f.fixed("bidMultiplierDown", kRatio);
    s.ask_multiplier_up.raw = f.fixed("askMultiplierUp", kRatio);
    s.ask_multiplier_down.raw = f.fixed("askMultiplierDown", kRatio);
    s.avg_price_mins = static_cast<std::uint32_t>(f.uint("avgPriceMins", 0xFFFFFFFFU));
    s.filters |= kFilterPercentPriceBySide;
  } else if (type == "MAX_NUM_ORDERS") {
    s.max_num_orders = static_cast<std::uint32_t>(f.uint("maxNumOrders", 0xFFFFFFFFU));
    s.filters |= kFilterMaxNumOrders;
  } else {
    return false;
  }
  return true;
}

void note_ignored(ExchangeInfo& info, std::string_view type) {
  ++info.ignored_filters;
  for (const auto& t : info.ignored_filter_types) {
    if (t == type) return;
  }
  info.ignored_filter_types.emplace_back(type);
}

SymbolSpec parse_symbol(dom::element e, std::size_t index, ExchangeInfo& info) {
  const std::string pos = "symbols[" + std::to_string(index) + "]";
  const dom::object obj = as_object(e, pos);
  SymbolSpec s;
  s.name = std::string(Fields(obj, pos).string("symbol"));
  const Fields f(obj, "symbol '" + s.name + "'");
  if (s.name.empty()) fail(pos, "empty 'symbol'");
  s.base = std::string(f.string("baseAsset"));
  s.quote = std::string(f.string("quoteAsset"));
  s.status_text = std::string(f.string("status"));
  s.status = map_status(s.status_text);
  s.base_precision = static_cast<std::uint8_t>(f.uint("baseAssetPrecision", core::kMaxDecimals));
  s.quote_precision = static_cast<std::uint8_t>(f.uint("quoteAssetPrecision", core::kMaxDecimals));
  parse_order_types(f, s);
  std::size_t i = 0;
  for (dom::element fe : f.array("filters")) {
    const std::string fpos = f.where() + ": filters[" + std::to_string(i++) + "]";
    const dom::object fo = as_object(fe, fpos);
    const std::string_view type = Fields(fo, fpos).string("filterType");
    const Fields ff(fo, f.where() + ": filter " + std::string(type));
    if (!parse_filter(type, ff, s)) {
      ++s.ignored_filters;
      note_ignored(info, type);
    }
  }
  return s;
}

RateLimit parse_rate_limit(dom::element e, std::size_t index) {
  const std::string pos = "rateLimits[" + std::to_string(index) + "]";
  const Fields f(as_object(e, pos), pos);
  RateLimit r{};
  const std::string_view type = f.string("rateLimitType");
  if (type == "REQUEST_WEIGHT") {
    r.type = RateLimitType::kRequestWeight;
  } else if (type == "ORDERS") {
    r.type = RateLimitType::kOrders;
  } else if (type == "RAW_REQUESTS") {
    r.type = RateLimitType::kRawRequests;
  } else {
    fail(pos, "unknown rateLimitType '" + std::string(type) + "'");
  }
  const std::string_view iv = f.string("interval");
  if (iv == "SECOND") {
    r.interval = RateInterval::kSecond;
  } else if (iv == "MINUTE") {
    r.interval = RateInterval::kMinute;
  } else if (iv == "HOUR") {
    r.interval = RateInterval::kHour;
  } else if (iv == "DAY") {
    r.interval = RateInterval::kDay;
  } else {
    fail(pos, "unknown interval '" + std::string(iv) + "'");
  }
  r.interval_num = static_cast<std::uint32_t>(f.uint("intervalNum", 1'000'000));
  if (r.interval_num == 0) fail(pos, "field 'intervalNum' must be positive");
  r.limit = f.uint("limit", UINT64_MAX);
  return r;
}

}  // namespace

std::int64_t RateLimit::window_ms() const noexcept {
  std::int64_t unit = 1000;
  switch (interval) {
    case RateInterval::kSecond:
      unit = 1000;
      break;
    case RateInterval::kMinute:
      unit = 60'000;
      break;
    case RateInterval::kHour:
      unit = 3'600'000;
      break;
    case RateInterval::kDay:
      unit = 86'400'000;
      break;
  }
  return unit * static_cast<std::int64_t>(interval_num);
}

const char* to_string(RateLimitType t) noexcept {
  switch (t) {
    case RateLimitType::kRequestWeight:
      return "REQUEST_WEIGHT";
    case RateLimitType::kOrders:
      return "ORDERS";
    case RateLimitType::kRawRequests:
      return "RAW_REQUESTS";
  }
  return "?";
}

const char* to_string(RateInterval i) noexcept {
  switch (i) {
    case RateInterval::kSecond:
      return "SECOND";
    case RateInterval::kMinute:
      return "MINUTE";
    case RateInterval::kHour:
      return "HOUR";
    case RateInterval::kDay:
      return "DAY";
  }
  return "?";
}

const SymbolSpec* ExchangeInfo::find(std::string_view symbol) const noexcept {
  for (const auto& s : symbols) {
    if (s.name == symbol) return &s;
  }
  return nullptr;
}

ExchangeInfo parse_exchange_info(std::string_view json) {
  dom::parser parser;
  const simdjson::padded_string padded(json);
  dom::element root;
  if (const auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
    fail("body", std::string("not valid JSON: ") + simdjson::error_message(err));
  }
  const Fields top(as_object(root, "body"), "body");
  ExchangeInfo info;
  info.server_time_ms = top.int64("serverTime");
  if (top.has("timezone")) info.timezone = std::string(top.string("timezone"));
  std::size_t i = 0;
  for (dom::element e : top.array("rateLimits"))
    info.rate_limits.push_back(parse_rate_limit(e, i++));
  const dom::array syms = top.array("symbols");
  info.symbols.reserve(syms.size());
  i = 0;
  for (dom::element e : syms) info.symbols.push_back(parse_symbol(e, i++, info));
  return info;
}

std::string read_file_maybe_gz(const std::string& path) {
  const bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  std::string out;
  if (gz) {
    const std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
    if (!f) throw std::runtime_error("cannot open " + path);
    char buf[1 << 16];
    for (;;) {
      const int n = gzread(f.get(), buf, sizeof buf);
      if (n < 0) {
        int errnum = 0;
        throw std::runtime_error("gunzip " + path + ": " + gzerror(f.get(), &errnum));
      }
      if (n == 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"),
                                                          std::fclose);
  if (!f) throw std::runtime_error("cannot open " + path);
  char buf[1 << 16];
  for (;;) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, f.get());
    out.append(buf, n);
    if (n < sizeof buf) break;
  }
  if (std::ferror(f.get()) != 0) throw std::runtime_error("read error on " + path);
  return out;
}

ExchangeInfo load_exchange_info(const std::string& path) {
  const std::string body = read_file_maybe_gz(path);
  try {
    return parse_exchange_info(body);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

void fill_symbol_info(const SymbolSpec& spec, std::uint16_t id, layout::SymbolInfo& out) {
  // The pipeline and the frame parser cap symbols at 15 characters; assets have 8 bytes in the
  // layout. Truncating would silently publish a different name, so refuse.
  if (spec.name.empty() || spec.name.size() > 15) {
    throw std::runtime_error("symbol '" + spec.name +
                             "': name does not fit the symbol table (1-15 characters)");
  }
  if (spec.base.size() > sizeof out.base.data || spec.quote.size() > sizeof out.quote.data) {
    throw std::runtime_error("symbol '" + spec.name + "': asset '" +
                             (spec.base.size() > sizeof out.base.data ? spec.base : spec.quote) +
                             "' is longer than the layout's 8 characters");
  }
  out = layout::SymbolInfo{};
  out.name.assign(spec.name);
  out.base.assign(spec.base);
  out.quote.assign(spec.quote);
  out.id = id;
  out.status = static_cast<std::uint8_t>(spec.status);
  out.price_decimals = static_cast<std::uint8_t>(md::kWireDecimals);
  out.qty_decimals = static_cast<std::uint8_t>(md::kWireDecimals);
  out.base_precision = spec.base_precision;
  out.quote_precision = spec.quote_precision;
  out.order_types = spec.order_types;
  out.tick_size = spec.tick_size;
  out.min_price = spec.min_price;
  out.max_price = spec.max_price;
  out.step_size = spec.step_size;
  out.min_qty = spec.min_qty;
  out.max_qty = spec.max_qty;
  out.market_min_qty = spec.market_min_qty;
  out.market_max_qty = spec.market_max_qty;
  out.min_notional = spec.min_notional;
  out.max_notional = spec.max_notional;
  out.bid_multiplier_up = spec.bid_multiplier_up;
  out.bid_multiplier_down = spec.bid_multiplier_down;
  out.ask_multiplier_up = spec.ask_multiplier_up;
  out.ask_multiplier_down = spec.ask_multiplier_down;
  out.avg_price_mins = spec.avg_price_mins;
  out.max_num_orders = spec.max_num_orders;
  out.filter_flags = (spec.apply_min_to_market ? layout::kApplyMinNotionalToMarket : 0U) |
                     (spec.apply_max_to_market ? layout::kApplyMaxNotionalToMarket : 0U);
}

ExchangeInfoJson split_exchange_info_json(std::string_view json) {
  dom::parser parser;
  dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) {
    throw std::runtime_error("exchangeInfo: invalid JSON");
  }
  dom::array syms;
  if (doc["symbols"].get_array().get(syms) != simdjson::SUCCESS) {
    throw std::runtime_error("exchangeInfo: no symbols");
  }
  ExchangeInfoJson out;
  for (dom::element s : syms) {
    std::string_view name;
    if (s["symbol"].get_string().get(name) != simdjson::SUCCESS) continue;
    out.symbols.emplace_back(std::string(name), simdjson::minify(s));
  }
  dom::element filters;
  if (doc["exchangeFilters"].get(filters) == simdjson::SUCCESS) {
    out.exchange_filters = simdjson::minify(filters);
  }
  return out;
}

std::string exchange_info_target(const std::vector<std::string>& symbols, std::size_t first,
                                 std::size_t last) {
  std::string target = "/api/v3/exchangeInfo?symbols=[";
  for (std::size_t k = first; k < last; ++k) {
    target += (k == first ? "%22" : ",%22") + symbols[k] + "%22";
    if (target.size() > kMaxExchangeInfoQuery) return "/api/v3/exchangeInfo";
  }
  return target + "]";
}

}  // namespace cwts::binance
