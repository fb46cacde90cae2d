// Binance frame parsing with simdjson On-Demand: one pass over each object, keys in any order.
#include "cwts/md/frame_parser.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include <simdjson.h>

#include "cwts/core/decimal.hpp"

namespace cwts::md {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;

ParseErrc map_error(error_code e) noexcept {
  switch (e) {
    case simdjson::INCORRECT_TYPE:
      return ParseErrc::kWrongType;
    case simdjson::NUMBER_OUT_OF_RANGE:
    case simdjson::NUMBER_ERROR:
      return ParseErrc::kBadNumber;
    default:
      return ParseErrc::kJson;
  }
}

// Field presence bits, checked once the object has been read.
enum : std::uint32_t {
  kHasE = 1U << 0,  // "e"
  kHasEventTime = 1U << 1,
  kHasSymbol = 1U << 2,
  kHasFirst = 1U << 3,  // U
  kHasLast = 1U << 4,   // u / lastUpdateId
  kHasBids = 1U << 5,
  kHasAsks = 1U << 6,
  kHasBidPx = 1U << 7,
  kHasBidQty = 1U << 8,
  kHasAskPx = 1U << 9,
  kHasAskQty = 1U << 10,
  kHasId = 1U << 11,  // t / a (agg)
  kHasPx = 1U << 12,
  kHasQty = 1U << 13,
  kHasTradeTime = 1U << 14,
  kHasMaker = 1U << 15,
  kHasKline = 1U << 16,
  kHasCode = 1U << 17,
  kHasResult = 1U << 18,
  kHasStream = 1U << 19,
  kHasData = 1U << 20,
};

struct Ctx {
  ParsedFrame& out;
  std::uint32_t have = 0;
  FrameKind kind = FrameKind::kUnknown;
  char stream[64] = {};
  std::size_t stream_len = 0;
};

#define CWTS_TRY(expr)                                                \
  do {                                                                \
    if (const ParseErrc e_ = (expr); e_ != ParseErrc::kOk) return e_; \
  } while (0)

// A decimal string as a price, quantity or notional; negative values are refused.
template <class Tag>
ParseErrc get_fixed(od::value v, core::Fixed8<Tag>& out) noexcept {
  std::string_view s;
  if (const auto e = v.get_string().get(s); e) return map_error(e);
  std::int64_t x = 0;
  if (core::parse_fixed(s, kWireDecimals, x) != core::DecimalErrc::kOk || x < 0) {
    return ParseErrc::kBadNumber;
  }
  out.raw = x;
  return ParseErrc::kOk;
}

// An integer that fails to convert is a bad number if it is a number at all (too large,
// negative, fractional), and a type error otherwise.
ParseErrc integer_error(od::value& v, error_code e) noexcept {
  od::json_type t{};
  if (e == simdjson::INCORRECT_TYPE && v.type().get(t) == simdjson::SUCCESS &&
      t == od::json_type::number) {
    return ParseErrc::kBadNumber;
  }
  return map_error(e);
}

ParseErrc get_u64(od::value v, std::uint64_t& out) noexcept {
  if (const auto e = v.get_uint64().get(out); e) return integer_error(v, e);
  return ParseErrc::kOk;
}

ParseErrc get_i64(od::value v, std::int64_t& out) noexcept {
  if (const auto e = v.get_int64().get(out); e) return integer_error(v, e);
  return ParseErrc::kOk;
}

ParseErrc get_symbol(od::value v, ParsedFrame& out) noexcept {
  std::string_view s;
  if (const auto e = v.get_string().get(s); e) return map_error(e);
  if (s.empty() || s.size() >= sizeof out.symbol) return ParseErrc::kBadSymbol;
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return ParseErrc::kBadSymbol;
  }
  std::memcpy(out.symbol, s.data(), s.size());
  out.symbol_len = static_cast<std::uint8_t>(s.size());
  return ParseErrc::kOk;
}

ParseErrc get_levels(od::value v, std::vector<Level>& out) noexcept {
  od::array arr;
  if (const auto e = v.get_array().get(arr); e) return map_error(e);
  out.clear();
  for (auto item : arr) {
    od::array pair;
    if (const auto e = item.get_array().get(pair); e) return map_error(e);
    Level lvl{};
    int n = 0;
    for (auto elem : pair) {
      od::value ev;
      if (const auto e = elem.get(ev); e) return map_error(e);
      if (n == 0) {
        CWTS_TRY(get_fixed(ev, lvl.px));
      } else if (n == 1) {
        CWTS_TRY(get_fixed(ev, lvl.qty));
      }
      ++n;  // USD-M and old frames may carry extra elements: ignored
    }
    if (n < 2 || lvl.px.is_zero()) return ParseErrc::kBadNumber;
    out.push_back(lvl);
  }
  return ParseErrc::kOk;
}

ParseErrc event_kind(od::value v, FrameKind& kind) noexcept {
  std::string_view s;
  if (const auto e = v.get_string().get(s); e) return map_error(e);
  if (s == "depthUpdate") {
    kind = FrameKind::kDepthUpdate;
  } else if (s == "bookTicker") {
    kind = FrameKind::kBookTicker;
  } else if (s == "trade") {
    kind = FrameKind::kTrade;
  } else if (s == "aggTrade") {
    kind = FrameKind::kAggTrade;
  } else if (s == "kline") {
    kind = FrameKind::kKline;
  } else if (s == "serverShutdown") {
    kind = FrameKind::kServerShutdown;
  } else {
    return ParseErrc::kUnknownEvent;
  }
  return ParseErrc::kOk;
}

ParseErrc parse_kline(od::value v, KlineMsg& k, std::uint32_t& have) noexcept {
  od::object obj;
  if (const auto e = v.get_object().get(obj); e) return map_error(e);
  std::uint32_t got = 0;
  for (auto field : obj) {
    std::string_view key;
    if (const auto e = field.unescaped_key().get(key); e) return map_error(e);
    od::value fv = field.value();
    if (key.size() != 1) continue;
    switch (key[0]) {
      case 't':
        CWTS_TRY(get_i64(fv, k.open_time_ms));
        got |= 1;
        break;
      case 'T':
        CWTS_TRY(get_i64(fv, k.close_time_ms));
        got |= 2;
        break;
      case 'i': {
        std::string_view iv;
        if (const auto e = fv.get_string().get(iv); e) return map_error(e);
        k.interval_s = interval_seconds(iv);
        if (k.interval_s == 0 && iv != "1M") return ParseErrc::kUnknownEvent;
        got |= 4;
        break;
      }
      case 'o':
        CWTS_TRY(get_fixed(fv, k.open));
        got |= 8;
        break;
      case 'h':
        CWTS_TRY(get_fixed(fv, k.high));
        got |= 16;
        break;
      case 'l':
        CWTS_TRY(get_fixed(fv, k.low));
        got |= 32;
        break;
      case 'c':
        CWTS_TRY(get_fixed(fv, k.close));
        got |= 64;
        break;
      case 'v':
        CWTS_TRY(get_fixed(fv, k.volume));
        got |= 128;
        break;
      case 'q':
        CWTS_TRY(get_fixed(fv, k.quote_volume));
        break;
      case 'n':
        CWTS_TRY(get_u64(fv, k.trades));
        break;
      case 'x': {
        if (const auto e = fv.get_bool().get(k.closed); e) return map_error(e);
        got |= 256;
        break;
      }
      default:
        break;
    }
  }
  if (got != 511) return ParseErrc::kMissingField;
  have |= kHasKline;
  return ParseErrc::kOk;
}

ParseErrc parse_object(od::object obj, Ctx& c, int depth) noexcept;

ParseErrc parse_field(std::string_view key, od::value v, Ctx& c, int depth) noexcept {
  ParsedFrame& f = c.out;
  if (key == "stream") {
    std::string_view s;
    if (const auto e = v.get_string().get(s); e) return map_error(e);
    c.stream_len = std::min(s.size(), sizeof c.stream);
    std::memcpy(c.stream, s.data(), c.stream_len);
    c.have |= kHasStream;
    return ParseErrc::kOk;
  }
  if (key == "data") {
    if (depth > 0) return ParseErrc::kOk;
    od::object inner;
    if (const auto e = v.get_object().get(inner); e) return map_error(e);
    f.combined = true;
    c.have |= kHasData;
    return parse_object(inner, c, depth + 1);
  }
  if (key == "lastUpdateId") {
    c.kind = FrameKind::kDepthSnapshot;
    c.have |= kHasLast;
    return get_u64(v, f.depth.last_id);
  }
  if (key == "bids") {
    c.have |= kHasBids;
    return get_levels(v, f.bids);
  }
  if (key == "asks") {
    c.have |= kHasAsks;
    return get_levels(v, f.asks);
  }
  if (key == "pu") {
    f.depth.has_prev_id = true;
    return get_u64(v, f.depth.prev_id);
  }
  if (key == "code") {
    c.have |= kHasCode;
    return get_i64(v, f.error.code);
  }
  if (key == "msg") {
    std::string_view s;
    if (const auto e = v.get_string().get(s); e) return map_error(e);
    const std::size_t n = std::min(s.size(), sizeof f.error.msg - 1);
    std::memcpy(f.error.msg, s.data(), n);
    f.error.msg[n] = '\0';
    return ParseErrc::kOk;
  }
  if (key == "result") {
    c.have |= kHasResult;
    return ParseErrc::kOk;  // value skipped by the iterator
  }
  if (key.size() != 1) return ParseErrc::kOk;  // unknown keys are ignored

  // One-letter keys: their meaning depends on the event type (and "b"/"a" on the JSON type).
  switch (key[0]) {
    case 'e':
      c.have |= kHasE;
      return event_kind(v, c.kind);
    case 'E': {
      c.have |= kHasEventTime;
      std::int64_t t = 0;
      CWTS_TRY(get_i64(v, t));
      f.depth.event_time_ms = t;
      f.trade.event_time_ms = t;
      f.kline.event_time_ms = t;
      f.book_ticker.event_time_ms = t;
      f.shutdown_time_ms = t;
      return ParseErrc::kOk;
    }
    case 'T': {
      std::int64_t t = 0;
      CWTS_TRY(get_i64(v, t));
      f.trade.trade_time_ms = t;
      f.depth.txn_time_ms = t;
      f.book_ticker.txn_time_ms = t;
      c.have |= kHasTradeTime;
      return ParseErrc::kOk;
    }
    case 's':
      c.have |= kHasSymbol;
      return get_symbol(v, f);
    case 'U':
      c.have |= kHasFirst;
      return get_u64(v, f.depth.first_id);
    case 'u': {
      c.have |= kHasLast;
      std::uint64_t u = 0;
      CWTS_TRY(get_u64(v, u));
      f.depth.last_id = u;
      f.book_ticker.update_id = u;
      if (!(c.have & kHasE)) c.kind = FrameKind::kBookTicker;  // spot bookTicker has no "e"
      return ParseErrc::kOk;
    }
    case 'b':
    case 'a': {
      const bool bid = key[0] == 'b';
      od::json_type t{};
      if (const auto e = v.type().get(t); e) return map_error(e);
      if (t == od::json_type::array) {
        c.have |= bid ? kHasBids : kHasAsks;
        return get_levels(v, bid ? f.bids : f.asks);
      }
      if (t == od::json_type::string) {  // bookTicker best price
        c.have |= bid ? kHasBidPx : kHasAskPx;
        return get_fixed(v, bid ? f.book_ticker.bid_px : f.book_ticker.ask_px);
      }
      if (t == od::json_type::number && !bid && c.kind == FrameKind::kAggTrade) {
        c.have |= kHasId;
        return get_u64(v, f.trade.id);
      }
      return ParseErrc::kOk;  // old trade frames' buyer/seller order ids
    }
    case 'B':
      c.have |= kHasBidQty;
      return get_fixed(v, f.book_ticker.bid_qty);
    case 'A':
      c.have |= kHasAskQty;
      return get_fixed(v, f.book_ticker.ask_qty);
    case 't':
      c.have |= kHasId;
      return get_u64(v, f.trade.id);
    case 'f':
      return get_u64(v, f.trade.first_id);
    case 'l':
      return get_u64(v, f.trade.last_id);
    case 'p':
      c.have |= kHasPx;
      return get_fixed(v, f.trade.px);
    case 'q':
      c.have |= kHasQty;
      return get_fixed(v, f.trade.qty);
    case 'm': {
      c.have |= kHasMaker;
      if (const auto e = v.get_bool().get(f.trade.buyer_is_maker); e) return map_error(e);
      return ParseErrc::kOk;
    }
    case 'k':
      return parse_kline(v, f.kline, c.have);
    default:
      return ParseErrc::kOk;
  }
}

ParseErrc parse_object(od::object obj, Ctx& c, int depth) noexcept {
  for (auto field : obj) {
    std::string_view key;
    if (const auto e = field.unescaped_key().get(key); e) return map_error(e);
    CWTS_TRY(parse_field(key, field.value(), c, depth));
  }
  return ParseErrc::kOk;
}

// The symbol of a combined stream name ("nknusdt@depth5@100ms" → "NKNUSDT").
ParseErrc symbol_from_stream(const Ctx& c, ParsedFrame& f) noexcept {
  const std::string_view s(c.stream, c.stream_len);
  const auto at = s.find('@');
  if (at == std::string_view::npos || at == 0 || at >= sizeof f.symbol) {
    return ParseErrc::kBadSymbol;
  }
  for (std::size_t i = 0; i < at; ++i) {
    const char ch = s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) return ParseErrc::kBadSymbol;
    f.symbol[i] = static_cast<char>(ch >= 'a' ? ch - 'a' + 'A' : ch);
  }
  f.symbol_len = static_cast<std::uint8_t>(at);
  return ParseErrc::kOk;
}

bool all(std::uint32_t have, std::uint32_t need) { return (have & need) == need; }

// Checks that the fields the kind needs were present.
ParseErrc finish(Ctx& c) noexcept {
  ParsedFrame& f = c.out;
  const std::uint32_t h = c.have;
  switch (c.kind) {
    case FrameKind::kDepthUpdate:
      if (!all(h, kHasSymbol | kHasFirst | kHasLast | kHasBids | kHasAsks)) {
        return ParseErrc::kMissingField;
      }
      if (f.depth.first_id > f.depth.last_id) return ParseErrc::kBadNumber;
      break;
    case FrameKind::kDepthSnapshot:
      if (!all(h, kHasLast | kHasBids | kHasAsks)) return ParseErrc::kMissingField;
      if (f.combined) {
        c.kind = FrameKind::kPartialDepth;
        CWTS_TRY(symbol_from_stream(c, f));
      }
      break;
    case FrameKind::kBookTicker:
      if (!all(h, kHasSymbol | kHasLast | kHasBidPx | kHasBidQty | kHasAskPx | kHasAskQty)) {
        return ParseErrc::kMissingField;
      }
      break;
    case FrameKind::kTrade:
    case FrameKind::kAggTrade:
      if (!all(h, kHasSymbol | kHasId | kHasPx | kHasQty | kHasTradeTime | kHasMaker)) {
        return ParseErrc::kMissingField;
      }
      break;
    case FrameKind::kKline:
      if (!all(h, kHasSymbol | kHasKline)) return ParseErrc::kMissingField;
      break;
    case FrameKind::kServerShutdown:
      break;
    case FrameKind::kUnknown:
      if (h & kHasCode) {
        c.kind = FrameKind::kError;
      } else if (h & kHasResult) {
        c.kind = FrameKind::kSubscriptionReply;
      } else if (h & kHasE) {
        return ParseErrc::kUnknownEvent;
      } else {
        return ParseErrc::kUnknownEvent;
      }
      break;
    default:
      break;
  }
  if ((h & kHasStream) && !(h & kHasData)) return ParseErrc::kMissingField;
  return ParseErrc::kOk;
}

}  // namespace

struct FrameParser::Impl {
  od::parser parser;
  std::vector<char> scratch;
  explicit Impl(std::size_t max) : parser(max), scratch(max + kPadding) {}
};

FrameParser::FrameParser(std::size_t max_frame_bytes)
    : impl_(std::make_unique<Impl>(max_frame_bytes)) {}
FrameParser::~FrameParser() = default;

ParseErrc FrameParser::parse_padded(const char* data, std::size_t len, ParsedFrame& out) noexcept {
  out.reset();
  if (len > impl_->parser.capacity() && impl_->parser.allocate(len) != simdjson::SUCCESS) {
    return ParseErrc::kJson;
  }
  od::document doc;
  if (const auto e = impl_->parser.iterate(data, len, len + kPadding).get(doc); e) {
    return map_error(e);
  }
  od::object obj;
  if (const auto e = doc.get_object().get(obj); e) return map_error(e);
  Ctx c{out};
  ParseErrc rc = parse_object(obj, c, 0);
  // A token after the top-level object is trailing garbage (current_location fails at the end).
  if (rc == ParseErrc::kOk && doc.current_location().error() == simdjson::SUCCESS) {
    rc = ParseErrc::kJson;
  }
  if (rc == ParseErrc::kOk) rc = finish(c);
  if (rc != ParseErrc::kOk) {
    out.kind = FrameKind::kUnknown;
    return rc;
  }
  out.kind = c.kind;
  return ParseErrc::kOk;
}

ParseErrc FrameParser::parse(std::string_view payload, ParsedFrame& out) noexcept {
  auto& buf = impl_->scratch;
  if (payload.size() + kPadding > buf.size()) {
    out.reset();
    return ParseErrc::kJson;  // larger than the configured maximum frame
  }
  std::memcpy(buf.data(), payload.data(), payload.size());
  std::memset(buf.data() + payload.size(), 0, kPadding);
  return parse_padded(buf.data(), payload.size(), out);
}

const char* to_string(FrameKind k) noexcept {
  switch (k) {
    case FrameKind::kUnknown:
      return "unknown";
    case FrameKind::kBookTicker:
      return "bookTicker";
    case FrameKind::kDepthUpdate:
      return "depthUpdate";
    case FrameKind::kPartialDepth:
      return "partialDepth";
    case FrameKind::kDepthSnapshot:
      return "depthSnapshot";
    case FrameKind::kTrade:
      return "trade";
    case FrameKind::kAggTrade:
      return "aggTrade";
    case FrameKind::kKline:
      return "kline";
    case FrameKind::kServerShutdown:
      return "serverShutdown";
    case FrameKind::kError:
      return "error";
    case FrameKind::kSubscriptionReply:
      return "subscriptionReply";
  }
  return "?";
}

const char* to_string(ParseErrc e) noexcept {
  switch (e) {
    case ParseErrc::kOk:
      return "ok";
    case ParseErrc::kJson:
      return "malformed JSON";
    case ParseErrc::kMissingField:
      return "missing field";
    case ParseErrc::kWrongType:
      return "wrong field type";
    case ParseErrc::kBadNumber:
      return "bad number";
    case ParseErrc::kUnknownEvent:
      return "unknown event";
    case ParseErrc::kBadSymbol:
      return "bad symbol";
  }
  return "?";
}

std::uint32_t interval_seconds(std::string_view iv) noexcept {
  if (iv.size() < 2) return 0;
  std::uint32_t n = 0;
  std::size_t i = 0;
  for (; i < iv.size() && iv[i] >= '0' && iv[i] <= '9'; ++i) {
    n = n * 10 + static_cast<std::uint32_t>(iv[i] - '0');
    if (n > 1000) return 0;
  }
  if (i == 0 || i + 1 != iv.size() || n == 0) return 0;
  switch (iv[i]) {
    case 's':
      return n;
    case 'm':
      return n * 60;
    case 'h':
      return n * 3600;
    case 'd':
      return n * 86400;
    case 'w':
      return n * 604800;
    default:
      return 0;  // 'M' (month) has no fixed length
  }
}

}  // namespace cwts::md
