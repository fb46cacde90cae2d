// Request: Binance REST/WS-API parameters, signature and timing checks, and endpoint parsers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cwts/binance/api_error.hpp"
#include "cwts/binance/exchange_info.hpp"
#include "cwts/binance/order.hpp"

namespace cwts::net {
class HmacSha256;  // cwts/net/hmac.hpp
}  // namespace cwts::net

namespace cwts::binance {

struct Param {
  std::string name;   // percent-decoded
  std::string value;  // percent-decoded ('+' is a space, as in form encoding)
};

// The API key and secret the venue accepts (one account).
struct Credentials {
  std::string api_key;
  std::string secret_key;
};

inline constexpr std::int64_t kDefaultRecvWindowMs = 5000;
inline constexpr std::int64_t kMaxRecvWindowMs = 60000;

// The accepted timestamp window of a request, in microseconds (Binance accepts `timestamp` in ms
// or µs and `recvWindow` in ms with up to 3 decimals, so µs holds both exactly).
struct TimingWindow {
  std::int64_t timestamp_us = 0;
  std::int64_t recv_window_us = kDefaultRecvWindowMs * 1000;

  // The second check of the documented pseudo-code, made just before the request is forwarded
  // to the matching engine: (serverTime - timestamp) <= recvWindow, else -1021 "Timestamp for
  // this request is outside of the recvWindow.".
  [[nodiscard]] ApiError recheck(std::int64_t server_now_us) const;
};

// Parameters of one request. Not thread-safe (immutable after parse; concurrent reads are fine).
class Request {
 public:
  // REST: `raw_query` is the URL's query string without '?', `raw_body` the
  // application/x-www-form-urlencoded body (empty for GET). A name repeated within the query or
  // within the body is -1101 "Duplicate values for a parameter detected."; a name in both takes
  // the query's value (rest-api.md: "query string wins"). Malformed percent-encoding is -1100.
  // The signed payload is the raw query without its `signature` item, immediately followed by the
  // raw body without its `signature` item (no separator, per the reference's example 3).
  [[nodiscard]] static Result<Request> parse(std::string_view raw_query, std::string_view raw_body);

  // WebSocket API: `params` as the server decoded them from the JSON "params" object, each value
  // as its text (strings unquoted and unescaped, numbers as written). The signed payload is every
  // param except `signature`, sorted by name, joined as name=value with '&' (web-socket-api.md).
  [[nodiscard]] static Result<Request> from_ws_params(std::vector<Param> params);

  // The decoded value of `name`, or nullptr if not sent.
  [[nodiscard]] const std::string* find(std::string_view name) const noexcept;
  [[nodiscard]] bool has(std::string_view name) const noexcept { return find(name) != nullptr; }
  [[nodiscard]] std::span<const Param> params() const noexcept { return params_; }
  [[nodiscard]] const std::string& signed_payload() const noexcept { return payload_; }

 private:
  std::vector<Param> params_;
  std::string payload_;
};

// X-MBX-APIKEY: absent or not a well-formed key (1..64 of [A-Za-z0-9]) and not the configured
// key -> -2014 "API-key format invalid."; well-formed but unknown -> -2015 "Invalid API-key, IP,
// or permissions for action." (both HTTP 401). `header` is nullptr if the header was not sent.
[[nodiscard]] ApiError check_api_key(const std::string* header, std::string_view expected_key);

// HMAC-SHA256 of the request's signed payload with `secret`, compared case-insensitively in
// constant time. No `signature` -> -1102 for 'signature'; mismatch -> -1022 "Signature for this
// request is not valid.".
[[nodiscard]] ApiError verify_signature(const Request& request, std::string_view secret);
// The same with the secret's key schedule made once (net::HmacSha256): no allocation, what a
// server checking every request with one key uses.
[[nodiscard]] ApiError verify_signature(const Request& request, const net::HmacSha256& secret);

// `timestamp` (mandatory; ms, or µs if >= 10^14) and `recvWindow` (default 5000 ms, at most
// 60000, up to 3 decimals; larger -> -1131 "recvWindow must be less than 60000") checked against
// the server clock exactly as rest-api.md's pseudo-code: timestamp >= serverTime + 1 s -> -1021
// "Timestamp for this request was 1000ms ahead of the server's time."; serverTime - timestamp >
// recvWindow -> -1021 "Timestamp for this request is outside of the recvWindow.".
[[nodiscard]] Result<TimingWindow> check_timestamp(const Request& request,
                                                   std::int64_t server_now_us);

// The checks of a SIGNED endpoint in the venue's order: API key, signature, timestamp.
// `api_key_header` is nullptr if X-MBX-APIKEY was absent.
[[nodiscard]] Result<TimingWindow> authenticate(const Request& request,
                                                const std::string* api_key_header,
                                                const Credentials& credentials,
                                                std::int64_t server_now_us);
[[nodiscard]] Result<TimingWindow> authenticate(const Request& request,
                                                const std::string* api_key_header,
                                                std::string_view api_key,
                                                const net::HmacSha256& secret,
                                                std::int64_t server_now_us);

// --- Endpoint parameter parsers. Each returns the first error in the order Binance reports
// them: mandatory parameters (-1102), characters (-1100), symbol (-1121), enums (-1115/-1116/
// -1117), parameters not allowed for the order type (-1106), precision (-1111).

// `symbol` mandatory: -1102 if absent, -1100 if not ^[A-Z0-9-_.]{1,20}$, -1121 if unknown.
[[nodiscard]] Result<const binance::SymbolSpec*> parse_symbol(const Request& request,
                                                              const binance::ExchangeInfo& info);
// `symbol` optional (GET /api/v3/openOrders): nullptr if absent.
[[nodiscard]] Result<const binance::SymbolSpec*> parse_optional_symbol(
    const Request& request, const binance::ExchangeInfo& info);

// The `symbols` parameter as Binance takes it, a JSON array of names (["BTCUSDT","ETHUSDT"]),
// appended to `out`; false if it is not one (or is empty).
[[nodiscard]] bool parse_symbols_param(std::string_view v, std::vector<std::string>& out);

// A non-negative integer parameter (^[0-9]{1,20}$); nullopt if absent and not mandatory.
[[nodiscard]] Result<std::optional<std::int64_t>> parse_integer(const Request& request,
                                                                std::string_view name,
                                                                bool mandatory);

// POST /api/v3/order and /api/v3/order/test. Mandatory by type: LIMIT timeInForce, quantity,
// price; MARKET quantity or quoteOrderQty; LIMIT_MAKER quantity, price. timeInForce with MARKET
// or LIMIT_MAKER, price with MARKET, quoteOrderQty with anything but a MARKET without quantity,
// and stopPrice/trailingDelta with these types are -1106. Decimals beyond the symbol's
// baseAssetPrecision (quantity) / quoteAssetPrecision (price, quoteOrderQty) or beyond 8 are
// -1111. STOP_LOSS*/TAKE_PROFIT* are -1014 "Unsupported order combination" (not simulated);
// icebergQty is -2010 "Iceberg orders are not supported for this symbol.".
[[nodiscard]] Result<NewOrder> parse_new_order(const Request& request,
                                               const binance::ExchangeInfo& info);

// GET /api/v3/order: symbol and orderId or origClientOrderId (-1102 "Param 'origClientOrderId'
// or 'orderId' must be sent, but both were empty/null!").
[[nodiscard]] Result<OrderRef> parse_order_ref(const Request& request,
                                               const binance::ExchangeInfo& info);

// DELETE /api/v3/order: as parse_order_ref plus newClientOrderId and cancelRestrictions
// (-1145 "Invalid cancelRestrictions" for other values).
[[nodiscard]] Result<CancelRequest> parse_cancel(const Request& request,
                                                 const binance::ExchangeInfo& info);

// GET /api/v3/myTrades: combinations outside the documented list -> -1128 "Combination of
// optional parameters invalid."; startTime..endTime over 24 h -> -1127 "More than 24 hours
// between startTime and endTime."; limit default 500, values above 1000 are capped at 1000.
[[nodiscard]] Result<MyTradesQuery> parse_my_trades(const Request& request,
                                                    const binance::ExchangeInfo& info);

}  // namespace cwts::binance
