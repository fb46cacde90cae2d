// Request parsing (query + body, percent-decoding), authentication and endpoint parameters.
#include "cwts/binance/request.hpp"

#include <algorithm>

#include "cwts/core/decimal.hpp"
#include "cwts/net/hmac.hpp"

namespace cwts::binance {

namespace {

// Legal ranges as the venue prints them in -1100 messages.
constexpr std::string_view kIntegerRange = "^[0-9]{1,20}$";
constexpr std::string_view kDecimalRange = "^([0-9]{1,20})(\\.[0-9]{1,20})?$";
constexpr std::string_view kSymbolRange = "^[A-Z0-9-_.]{1,20}$";
constexpr std::string_view kClientIdRange = "^[a-zA-Z0-9-_]{1,36}$";

constexpr std::string_view kSignature = "signature";

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding: %XX and '+' for space.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>((hi << 4) | lo));
      i += 2;
    } else if (c == '+') {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

ApiError duplicate() {
  return make_error(ErrorCode::kTooManyParameters, "Duplicate values for a parameter detected.");
}

// Splits one raw source into `params` (skipping names already taken by an earlier source, the
// query string) and appends the source without its signature items to `payload`.
ApiError split_source(std::string_view raw, std::vector<Param>& params, std::string& payload) {
  bool first_kept = true;
  std::string name;
  std::string value;
  const std::size_t own_begin = params.size();
  std::size_t pos = 0;
  while (pos <= raw.size()) {
    std::size_t amp = raw.find('&', pos);
    if (amp == std::string_view::npos) amp = raw.size();
    const std::string_view item = raw.substr(pos, amp - pos);
    const std::size_t eq = item.find('=');
    const std::string_view raw_name = item.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
    if (!percent_decode(raw_name, name) || !percent_decode(raw_value, value)) {
      return make_error(ErrorCode::kIllegalChars, "Illegal characters found in a parameter.");
    }
    if (name != kSignature) {
      // Every item but the signature is signed exactly as sent, empty items included.
      if (!first_kept) payload.push_back('&');
      payload.append(item);
      first_kept = false;
    }
    if (!name.empty()) {
      for (std::size_t i = own_begin; i < params.size(); ++i) {
        if (params[i].name == name) return duplicate();
      }
      bool shadowed = false;
      for (std::size_t i = 0; i < own_begin; ++i) {
        if (params[i].name == name) shadowed = true;
      }
      if (!shadowed) params.push_back({name, value});
    }
    if (amp == raw.size()) break;
    pos = amp + 1;
  }
  return {};
}

// The value of `name` if sent and non-empty, else nullptr (Binance treats empty as not sent).
const std::string* non_empty(const Request& r, std::string_view name) noexcept {
  const std::string* v = r.find(name);
  return v != nullptr && !v->empty() ? v : nullptr;
}

bool is_digits(std::string_view s, std::size_t max) noexcept {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_decimal_syntax(std::string_view s) noexcept {
  const std::size_t dot = s.find('.');
  if (dot == std::string_view::npos) return is_digits(s, 20);
  return is_digits(s.substr(0, dot), 20) && is_digits(s.substr(dot + 1), 20);
}

bool is_symbol_syntax(std::string_view s) noexcept {
  if (s.empty() || s.size() > 20) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

bool is_client_id_syntax(std::string_view s) noexcept {
  if (s.empty() || s.size() > 36) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

bool is_api_key_syntax(std::string_view s) noexcept {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  });
}

// A non-negative decimal at 8 decimals with at most `precision` significant decimals, as the
// money type T (Price, Qty, Notional).
template <class T>
Result<std::optional<T>> parse_decimal(const Request& r, std::string_view name, int precision,
                                       bool mandatory) {
  const std::string* v = non_empty(r, name);
  if (v == nullptr) {
    if (mandatory) return errors::mandatory(name);
    return std::optional<T>{};
  }
  if (!is_decimal_syntax(*v)) return errors::illegal_chars(name, kDecimalRange);
  T out{};
  const core::DecimalErrc rc = core::parse(*v, out);
  if (rc == core::DecimalErrc::kPrecision) return errors::too_much_precision(name);
  if (rc != core::DecimalErrc::kOk) return errors::overflow(name);
  if (precision >= 0 && precision < kDecimals &&
      out.raw % core::kPow10[kDecimals - precision] != 0) {
    return errors::too_much_precision(name);
  }
  return std::optional<T>{out};
}

Result<std::optional<std::string>> parse_client_id(const Request& r, std::string_view name) {
  const std::string* v = non_empty(r, name);
  if (v == nullptr) return std::optional<std::string>{};
  if (!is_client_id_syntax(*v)) return errors::illegal_chars(name, kClientIdRange);
  return std::optional<std::string>{*v};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Request

Result<Request> Request::parse(std::string_view raw_query, std::string_view raw_body) {
  Request r;
  if (ApiError e = split_source(raw_query, r.params_, r.payload_); !e.ok()) return e;
  // The body is appended with no separator: rest-api.md's example 3 signs "...GTCquantity=1...".
  std::string body_payload;
  if (ApiError e = split_source(raw_body, r.params_, body_payload); !e.ok()) return e;
  r.payload_ += body_payload;
  return r;
}

Result<Request> Request::from_ws_params(std::vector<Param> params) {
  Request r;
  std::vector<const Param*> sorted;
  sorted.reserve(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (params[j].name == params[i].name) return duplicate();
    }
  }
  r.params_ = std::move(params);
  for (const Param& p : r.params_) {
    if (p.name != kSignature) sorted.push_back(&p);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const Param* a, const Param* b) { return a->name < b->name; });
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (i != 0) r.payload_.push_back('&');
    r.payload_.append(sorted[i]->name).push_back('=');
    r.payload_.append(sorted[i]->value);
  }
  return r;
}

const std::string* Request::find(std::string_view name) const noexcept {
  for (const Param& p : params_) {
    if (p.name == name) return &p.value;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Authentication

ApiError TimingWindow::recheck(std::int64_t server_now_us) const {
  if (server_now_us - timestamp_us <= recv_window_us) return {};
  return make_error(ErrorCode::kInvalidTimestamp,
                    "Timestamp for this request is outside of the recvWindow.");
}

ApiError check_api_key(const std::string* header, std::string_view expected_key) {
  if (header != nullptr && net::constant_time_equal(*header, expected_key)) return {};
  if (header == nullptr || !is_api_key_syntax(*header)) {
    return make_error(ErrorCode::kBadApiKeyFmt, "API-key format invalid.");
  }
  return make_error(ErrorCode::kRejectedMbxKey, "Invalid API-key, IP, or permissions for action.");
}

ApiError verify_signature(const Request& request, const net::HmacSha256& secret) {
  const std::string* sent = non_empty(request, kSignature);
  if (sent == nullptr) return errors::mandatory(kSignature);
  char expected[net::kHmacSha256HexLen];
  secret.sign_hex(request.signed_payload(), expected);
  if (!net::signature_matches(std::string_view(expected, sizeof expected), *sent)) {
    return make_error(ErrorCode::kInvalidSignature, "Signature for this request is not valid.");
  }
  return {};
}

ApiError verify_signature(const Request& request, std::string_view secret) {
  return verify_signature(request, net::HmacSha256(secret));
}

Result<TimingWindow> check_timestamp(const Request& request, std::int64_t server_now_us) {
  TimingWindow w;
  const std::string* ts = non_empty(request, "timestamp");
  if (ts == nullptr) return errors::mandatory("timestamp");
  if (!is_digits(*ts, 20)) return errors::illegal_chars("timestamp", kIntegerRange);
  std::int64_t t = 0;
  if (core::parse_fixed(*ts, 0, t) != core::DecimalErrc::kOk) return errors::overflow("timestamp");
  // Microsecond timestamps are 16 digits today, millisecond ones 13; 10^14 separates them until
  // the year 5138 (ms) and has been below every µs time since 1973.
  constexpr std::int64_t kMicrosThreshold = 100'000'000'000'000;
  if (t < kMicrosThreshold) {
    w.timestamp_us = t * 1000;
  } else {
    w.timestamp_us = t;
  }

  if (const std::string* rw = non_empty(request, "recvWindow"); rw != nullptr) {
    if (!is_decimal_syntax(*rw)) return errors::illegal_chars("recvWindow", kDecimalRange);
    std::int64_t us = 0;  // recvWindow is ms with up to 3 decimals: parse at scale 3 = µs
    const core::DecimalErrc rc = core::parse_fixed(*rw, 3, us);
    if (rc == core::DecimalErrc::kPrecision) return errors::too_much_precision("recvWindow");
    if (rc != core::DecimalErrc::kOk || us > kMaxRecvWindowMs * 1000) {
      // Documented as -1131 BAD_RECV_WINDOW (errors.md of the USD-M/options APIs and spot
      // CHANGELOG 2019-08-15); the live spot venue has been seen to send the same code with
      // "'recvWindow' must be less than 60000.".
      return make_error(ErrorCode::kBadRecvWindow, "recvWindow must be less than 60000");
    }
    w.recv_window_us = us;
  }

  // rest-api.md "Timing security", first check.
  if (w.timestamp_us < server_now_us + 1'000'000 &&
      server_now_us - w.timestamp_us <= w.recv_window_us) {
    return w;
  }
  if (w.timestamp_us >= server_now_us + 1'000'000) {
    return make_error(ErrorCode::kInvalidTimestamp,
                      "Timestamp for this request was 1000ms ahead of the server's time.");
  }
  return make_error(ErrorCode::kInvalidTimestamp,
                    "Timestamp for this request is outside of the recvWindow.");
}

Result<TimingWindow> authenticate(const Request& request, const std::string* api_key_header,
                                  std::string_view api_key, const net::HmacSha256& secret,
                                  std::int64_t server_now_us) {
  if (ApiError e = check_api_key(api_key_header, api_key); !e.ok()) return e;
  Result<TimingWindow> timing = check_timestamp(request, server_now_us);
  if (!timing.ok()) return timing;
  if (ApiError e = verify_signature(request, secret); !e.ok()) return e;
  return timing;
}

Result<TimingWindow> authenticate(const Request& request, const std::string* api_key_header,
                                  const Credentials& credentials, std::int64_t server_now_us) {
  return authenticate(request, api_key_header, credentials.api_key,
                      net::HmacSha256(credentials.secret_key), server_now_us);
}

// ---------------------------------------------------------------------------------------------
// Endpoint parameters

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

Result<const binance::SymbolSpec*> parse_optional_symbol(const Request& request,
                                                         const binance::ExchangeInfo& info) {
  const std::string* s = non_empty(request, "symbol");
  if (s == nullptr) return static_cast<const binance::SymbolSpec*>(nullptr);
  if (!is_symbol_syntax(*s)) return errors::illegal_chars("symbol", kSymbolRange);
  const binance::SymbolSpec* spec = info.find(*s);
  if (spec == nullptr) return errors::bad_symbol();
  return spec;
}

Result<const binance::SymbolSpec*> parse_symbol(const Request& request,
                                                const binance::ExchangeInfo& info) {
  if (non_empty(request, "symbol") == nullptr) return errors::mandatory("symbol");
  return parse_optional_symbol(request, info);
}

Result<std::optional<std::int64_t>> parse_integer(const Request& request, std::string_view name,
                                                  bool mandatory) {
  const std::string* v = non_empty(request, name);
  if (v == nullptr) {
    if (mandatory) return errors::mandatory(name);
    return std::optional<std::int64_t>{};
  }
  if (!is_digits(*v, 20)) return errors::illegal_chars(name, kIntegerRange);
  std::int64_t out = 0;
  if (core::parse_fixed(*v, 0, out) != core::DecimalErrc::kOk) return errors::overflow(name);
  return std::optional<std::int64_t>{out};
}

Result<NewOrder> parse_new_order(const Request& request, const binance::ExchangeInfo& info) {
  NewOrder o;
  Result<const binance::SymbolSpec*> sym = parse_symbol(request, info);
  if (!sym.ok()) return sym.error();
  const binance::SymbolSpec& spec = *sym.value();
  o.symbol = spec.name;

  const std::string* side = non_empty(request, "side");
  if (side == nullptr) return errors::mandatory("side");
  if (*side == "BUY") {
    o.side = Side::kBuy;
  } else if (*side == "SELL") {
    o.side = Side::kSell;
  } else {
    return make_error(ErrorCode::kInvalidSide, "Invalid side.");
  }

  const std::string* type = non_empty(request, "type");
  if (type == nullptr) return errors::mandatory("type");
  if (*type == "LIMIT") {
    o.type = OrderType::kLimit;
  } else if (*type == "MARKET") {
    o.type = OrderType::kMarket;
  } else if (*type == "LIMIT_MAKER") {
    o.type = OrderType::kLimitMaker;
  } else if (*type == "STOP_LOSS" || *type == "STOP_LOSS_LIMIT" || *type == "TAKE_PROFIT" ||
             *type == "TAKE_PROFIT_LIMIT") {
    // Valid Binance types; the simulator has no stop orders.
    return make_error(ErrorCode::kUnsupportedOrderComposition, "Unsupported order combination");
  } else {
    return make_error(ErrorCode::kInvalidOrderType, "Invalid orderType.");
  }
  const bool limit_like = o.type != OrderType::kMarket;

  // Which parameters the type needs and which it must not have.
  const std::string* tif = non_empty(request, "timeInForce");
  if (o.type == OrderType::kLimit) {
    if (tif == nullptr) return errors::mandatory("timeInForce");
  } else if (tif != nullptr) {
    return errors::not_required("timeInForce");
  }
  const bool has_qty = non_empty(request, "quantity") != nullptr;
  const bool has_quote = non_empty(request, "quoteOrderQty") != nullptr;
  const bool has_price = non_empty(request, "price") != nullptr;
  if (limit_like) {
    if (!has_qty) return errors::mandatory("quantity");
    if (!has_price) return errors::mandatory("price");
    if (has_quote) return errors::not_required("quoteOrderQty");
  } else {
    if (!has_qty && !has_quote) return errors::mandatory_either("quantity", "quoteOrderQty");
    if (has_qty && has_quote) return errors::not_required("quoteOrderQty");
    if (has_price) return errors::not_required("price");
  }
  for (const std::string_view p : {"stopPrice", "trailingDelta"}) {
    if (non_empty(request, p) != nullptr) return errors::not_required(p);
  }
  if (non_empty(request, "icebergQty") != nullptr) {
    if (!limit_like) return errors::not_required("icebergQty");
    return errors::new_order_rejected(msg::kIcebergNotSupported);
  }

  if (tif != nullptr) {
    if (*tif == "GTC") {
      o.tif = TimeInForce::kGtc;
    } else if (*tif == "IOC") {
      o.tif = TimeInForce::kIoc;
    } else if (*tif == "FOK") {
      o.tif = TimeInForce::kFok;
    } else {
      return make_error(ErrorCode::kInvalidTif, "Invalid timeInForce.");
    }
  }

  // Values: syntax (-1100), then precision (-1111) against the symbol's asset precisions.
  if (has_qty) {
    auto q = parse_decimal<Qty>(request, "quantity", spec.base_precision, true);
    if (!q.ok()) return q.error();
    o.quantity = *q.value();
  }
  if (has_quote) {
    auto q = parse_decimal<Notional>(request, "quoteOrderQty", spec.quote_precision, true);
    if (!q.ok()) return q.error();
    o.quote_order_qty = *q.value();
  }
  if (has_price) {
    auto p = parse_decimal<Price>(request, "price", spec.quote_precision, true);
    if (!p.ok()) return p.error();
    o.price = *p.value();
  }

  auto cid = parse_client_id(request, "newClientOrderId");
  if (!cid.ok()) return cid.error();
  if (cid.value()) o.client_order_id = std::move(*cid.value());

  o.resp_type = o.type == OrderType::kLimitMaker ? RespType::kAck : RespType::kFull;
  if (const std::string* rt = non_empty(request, "newOrderRespType"); rt != nullptr) {
    if (*rt == "ACK") {
      o.resp_type = RespType::kAck;
    } else if (*rt == "RESULT") {
      o.resp_type = RespType::kResult;
    } else if (*rt == "FULL") {
      o.resp_type = RespType::kFull;
    } else {
      return make_error(ErrorCode::kInvalidNewOrderRespType, "Invalid newOrderRespType");
    }
  }

  if (const std::string* stp = non_empty(request, "selfTradePreventionMode"); stp != nullptr) {
    if (*stp == "NONE") {
      o.stp_mode = StpMode::kNone;
    } else if (*stp == "EXPIRE_TAKER") {
      o.stp_mode = StpMode::kExpireTaker;
    } else if (*stp == "EXPIRE_MAKER") {
      o.stp_mode = StpMode::kExpireMaker;
    } else if (*stp == "EXPIRE_BOTH") {
      o.stp_mode = StpMode::kExpireBoth;
    } else {
      return errors::invalid_parameter("selfTradePreventionMode");
    }
  }

  auto sid = parse_integer(request, "strategyId", false);
  if (!sid.ok()) return sid.error();
  o.strategy_id = sid.value();
  auto stype = parse_integer(request, "strategyType", false);
  if (!stype.ok()) return stype.error();
  if (stype.value() && *stype.value() < 1'000'000) {
    return make_error(ErrorCode::kBadStrategyType, "strategyType was less than 1000000.");
  }
  o.strategy_type = stype.value();
  return o;
}

Result<OrderRef> parse_order_ref(const Request& request, const binance::ExchangeInfo& info) {
  OrderRef ref;
  Result<const binance::SymbolSpec*> sym = parse_symbol(request, info);
  if (!sym.ok()) return sym.error();
  ref.symbol = sym.value()->name;
  auto id = parse_integer(request, "orderId", false);
  if (!id.ok()) return id.error();
  ref.order_id = id.value();
  if (const std::string* orig = non_empty(request, "origClientOrderId"); orig != nullptr) {
    ref.orig_client_order_id = *orig;
  }
  if (!ref.order_id && ref.orig_client_order_id.empty()) {
    return errors::mandatory_either("origClientOrderId", "orderId");
  }
  return ref;
}

Result<CancelRequest> parse_cancel(const Request& request, const binance::ExchangeInfo& info) {
  CancelRequest c;
  Result<OrderRef> ref = parse_order_ref(request, info);
  if (!ref.ok()) return ref.error();
  c.ref = std::move(ref).value();
  auto cid = parse_client_id(request, "newClientOrderId");
  if (!cid.ok()) return cid.error();
  if (cid.value()) c.new_client_order_id = std::move(*cid.value());
  if (const std::string* cr = non_empty(request, "cancelRestrictions"); cr != nullptr) {
    if (*cr == "ONLY_NEW") {
      c.restrictions = CancelRestrictions::kOnlyNew;
    } else if (*cr == "ONLY_PARTIALLY_FILLED") {
      c.restrictions = CancelRestrictions::kOnlyPartiallyFilled;
    } else {
      return make_error(ErrorCode::kInvalidCancelRestrictions, "Invalid cancelRestrictions");
    }
  }
  return c;
}

Result<MyTradesQuery> parse_my_trades(const Request& request, const binance::ExchangeInfo& info) {
  MyTradesQuery q;
  Result<const binance::SymbolSpec*> sym = parse_symbol(request, info);
  if (!sym.ok()) return sym.error();
  q.symbol = sym.value()->name;
  struct Field {
    std::string_view name;
    std::optional<std::int64_t>* out;
  };
  for (const Field f : {Field{"orderId", &q.order_id}, Field{"startTime", &q.start_time_ms},
                        Field{"endTime", &q.end_time_ms}, Field{"fromId", &q.from_id}}) {
    auto v = parse_integer(request, f.name, false);
    if (!v.ok()) return v.error();
    *f.out = v.value();
  }
  auto limit = parse_integer(request, "limit", false);
  if (!limit.ok()) return limit.error();
  if (limit.value()) {
    if (*limit.value() < 1) return errors::invalid_parameter("limit");
    q.limit = static_cast<std::uint32_t>(std::min<std::int64_t>(*limit.value(), 1000));
  }

  const bool o = q.order_id.has_value();
  const bool s = q.start_time_ms.has_value();
  const bool e = q.end_time_ms.has_value();
  const bool f = q.from_id.has_value();
  const bool supported = (!o && !s && !e && !f) ||  // symbol
                         (o && !s && !e && !f) ||   // + orderId
                         (!o && (s || e) && !f) ||  // + startTime / endTime / both
                         (!o && !s && !e && f) ||   // + fromId
                         (o && !s && !e && f);      // + orderId + fromId
  if (!supported) {
    return make_error(ErrorCode::kOptionalParamsBadCombo,
                      "Combination of optional parameters invalid.");
  }
  constexpr std::int64_t kDayMs = 86'400'000;
  if (s && e && *q.end_time_ms - *q.start_time_ms > kDayMs) {
    return make_error(ErrorCode::kMoreThanXxHours,
                      "More than 24 hours between startTime and endTime.");
  }
  return q;
}

}  // namespace cwts::binance
