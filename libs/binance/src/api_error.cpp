// Error construction with the documented Binance message templates.
#include "cwts/binance/api_error.hpp"

namespace cwts::binance {

namespace {

std::string quoted(std::string_view before, std::string_view name, std::string_view after) {
  std::string s;
  s.reserve(before.size() + name.size() + after.size());
  s.append(before).append(name).append(after);
  return s;
}

}  // namespace

int default_http_status(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kOk:
      return 200;
    case ErrorCode::kTooManyRequests:
    case ErrorCode::kTooManyOrders:
      return 429;
    case ErrorCode::kBadApiKeyFmt:
    case ErrorCode::kRejectedMbxKey:
      return 401;
    case ErrorCode::kTimeout:
    case ErrorCode::kDisconnected:
      return 503;
    case ErrorCode::kUnknown:
      return 500;
    default:
      return 400;
  }
}

ApiError make_error(ErrorCode code, std::string msg) {
  return ApiError{code, std::move(msg), default_http_status(code)};
}

namespace errors {

ApiError filter_failure(std::string_view filter) {
  return make_error(ErrorCode::kInvalidMessage, quoted("Filter failure: ", filter, ""));
}

ApiError mandatory(std::string_view name) {
  return make_error(
      ErrorCode::kMandatoryParamEmptyOrMalformed,
      quoted("Mandatory parameter '", name, "' was not sent, was empty/null, or malformed."));
}

ApiError mandatory_either(std::string_view a, std::string_view b) {
  std::string s = "Param '";
  s.append(a).append("' or '").append(b).append("' must be sent, but both were empty/null!");
  return make_error(ErrorCode::kMandatoryParamEmptyOrMalformed, std::move(s));
}

ApiError illegal_chars(std::string_view name, std::string_view legal_range) {
  std::string s = "Illegal characters found in parameter '";
  s.append(name).append("'; legal range is '").append(legal_range).append("'.");
  return make_error(ErrorCode::kIllegalChars, std::move(s));
}

ApiError not_required(std::string_view name) {
  return make_error(ErrorCode::kParamNotRequired,
                    quoted("Parameter '", name, "' sent when not required."));
}

ApiError overflow(std::string_view name) {
  return make_error(ErrorCode::kParamOverflow, quoted("Parameter '", name, "' overflowed."));
}

ApiError too_much_precision(std::string_view name) {
  return make_error(ErrorCode::kBadPrecision,
                    quoted("Parameter '", name, "' has too much precision."));
}

ApiError invalid_parameter(std::string_view name) {
  return make_error(ErrorCode::kInvalidParameter,
                    quoted("Data sent for parameter '", name, "' is not valid."));
}

ApiError new_order_rejected(std::string_view msg) {
  return make_error(ErrorCode::kNewOrderRejected, std::string(msg));
}

ApiError cancel_rejected(std::string_view msg) {
  return make_error(ErrorCode::kCancelRejected, std::string(msg));
}

ApiError no_such_order() { return make_error(ErrorCode::kNoSuchOrder, "Order does not exist."); }

ApiError bad_symbol() { return make_error(ErrorCode::kBadSymbol, "Invalid symbol."); }

}  // namespace errors

}  // namespace cwts::binance
