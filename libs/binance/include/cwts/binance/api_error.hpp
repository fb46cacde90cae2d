// ApiError and Result: the venue's {"code":..,"msg":..} errors as values, never exceptions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cwts::binance {

// Binance error codes the simulated venue returns (docs: errors.md). Codes are what clients
// branch on (ccxt maps them to exception classes), so they must be exact; messages vary on the
// real venue and are reproduced as documented.
enum class ErrorCode : std::int32_t {
  kOk = 0,
  kUnknown = -1000,
  kDisconnected = -1001,  // "Internal error; unable to process your request. Please try again."
  kTooManyRequests = -1003,
  kTimeout = -1007,         // sent, no answer in time: execution status unknown (HTTP 503)
  kInvalidMessage = -1013,  // filter failures ("Filter failure: PRICE_FILTER", ...)
  kUnsupportedOrderComposition = -1014,
  kTooManyOrders = -1015,
  kUnsupportedOperation = -1020,
  kInvalidTimestamp = -1021,
  kInvalidSignature = -1022,
  kIllegalChars = -1100,
  kTooManyParameters = -1101,
  kMandatoryParamEmptyOrMalformed = -1102,
  kParamNotRequired = -1106,
  kParamOverflow = -1108,
  kBadPrecision = -1111,
  kInvalidTif = -1115,
  kInvalidOrderType = -1116,
  kInvalidSide = -1117,
  kBadSymbol = -1121,
  kMoreThanXxHours = -1127,
  kOptionalParamsBadCombo = -1128,
  kInvalidParameter = -1130,
  kBadRecvWindow = -1131,
  kBadStrategyType = -1134,
  kInvalidJson = -1135,
  kInvalidNewOrderRespType = -1136,
  kInvalidCancelRestrictions = -1145,
  kNewOrderRejected = -2010,
  kCancelRejected = -2011,
  kNoSuchOrder = -2013,
  kBadApiKeyFmt = -2014,
  kRejectedMbxKey = -2015,
  kSubscriptionActive = -2035,    // "User Data Stream subscription already active."
  kSubscriptionInactive = -2036,  // "User Data Stream subscription not active."
};

// An error response: the body's code and msg, and the HTTP status it goes out with (400 for
// request errors, 401 for API-key errors, 429/418 for rate limits). code kOk means success.
struct ApiError {
  ErrorCode code = ErrorCode::kOk;
  std::string msg;
  int http_status = 200;

  [[nodiscard]] bool ok() const noexcept { return code == ErrorCode::kOk; }
  [[nodiscard]] int code_value() const noexcept { return static_cast<int>(code); }
};

// 401 for -2014/-2015 (as the real venue answers), 429 for -1003/-1015, 200 for kOk, else 400.
[[nodiscard]] int default_http_status(ErrorCode code) noexcept;
[[nodiscard]] ApiError make_error(ErrorCode code, std::string msg);

// The documented message templates, filled in. Each returns the complete ApiError.
namespace errors {
// -1013 "Filter failure: <FILTER>"
[[nodiscard]] ApiError filter_failure(std::string_view filter);
// -1102 "Mandatory parameter '<name>' was not sent, was empty/null, or malformed."
[[nodiscard]] ApiError mandatory(std::string_view name);
// -1102 "Param '<a>' or '<b>' must be sent, but both were empty/null!"
[[nodiscard]] ApiError mandatory_either(std::string_view a, std::string_view b);
// -1100 "Illegal characters found in parameter '<name>'; legal range is '<range>'."
[[nodiscard]] ApiError illegal_chars(std::string_view name, std::string_view legal_range);
// -1106 "Parameter '<name>' sent when not required."
[[nodiscard]] ApiError not_required(std::string_view name);
// -1108 "Parameter '<name>' overflowed."
[[nodiscard]] ApiError overflow(std::string_view name);
// -1111 "Parameter '<name>' has too much precision."
[[nodiscard]] ApiError too_much_precision(std::string_view name);
// -1130 "Data sent for parameter '<name>' is not valid."
[[nodiscard]] ApiError invalid_parameter(std::string_view name);
// -2010 with an engine message ("Account has insufficient balance for requested action.", ...)
[[nodiscard]] ApiError new_order_rejected(std::string_view msg);
// -2011 with an engine message ("Unknown order sent.", ...)
[[nodiscard]] ApiError cancel_rejected(std::string_view msg);
// -2013 "Order does not exist."
[[nodiscard]] ApiError no_such_order();
// -1121 "Invalid symbol."
[[nodiscard]] ApiError bad_symbol();
}  // namespace errors

// Engine messages (errors.md "Messages for -1010 ERROR_MSG_RECEIVED, -2010 NEW_ORDER_REJECTED,
// and -2011 CANCEL_REJECTED"), spelled exactly once here.
namespace msg {
inline constexpr std::string_view kInsufficientBalance =
    "Account has insufficient balance for requested action.";
inline constexpr std::string_view kWouldMatch = "Order would immediately match and take.";
inline constexpr std::string_view kDuplicateOrder = "Duplicate order sent.";
inline constexpr std::string_view kMarketClosed = "Market is closed.";
inline constexpr std::string_view kUnknownOrder = "Unknown order sent.";
inline constexpr std::string_view kCancelRestrictions =
    "Order was not canceled due to cancel restrictions.";
inline constexpr std::string_view kMarketNotSupported =
    "Market orders are not supported for this symbol.";
inline constexpr std::string_view kIcebergNotSupported =
    "Iceberg orders are not supported for this symbol.";
inline constexpr std::string_view kPriceQtyZero = "Price * QTY is zero or less.";
inline constexpr std::string_view kNoLiquidity =
    "Order book liquidity is less than symbol minimum quantity.";
inline constexpr std::string_view kLiquidityBelowLotSize =
    "Order book liquidity is less than LOT_SIZE filter minimum quantity.";
}  // namespace msg

// A value or an ApiError. Request-path functions return this instead of throwing. value() and
// error() must only be called for the alternative that ok() says is present.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}         // NOLINT: implicit
  Result(ApiError error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
  [[nodiscard]] T& value() & { return *std::get_if<0>(&v_); }
  [[nodiscard]] const T& value() const& { return *std::get_if<0>(&v_); }
  [[nodiscard]] T&& value() && { return std::move(*std::get_if<0>(&v_)); }
  [[nodiscard]] const ApiError& error() const& { return *std::get_if<1>(&v_); }

 private:
  std::variant<T, ApiError> v_;
};

}  // namespace cwts::binance
