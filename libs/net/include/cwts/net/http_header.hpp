// Numeric headers of a venue's HTTP answers: Binance's X-MBX-USED-WEIGHT-1M and X-MBX-ORDER-COUNT-*
// (what it counted for this IP or account) and Retry-After (how long to wait after a 429 or 418).
#pragma once

#include <cstdint>
#include <string_view>

#include <boost/beast/http/fields.hpp>

namespace cwts::net {

// Binance's longest ban is three days; a larger Retry-After is taken as that.
inline constexpr std::int64_t kMaxRetryAfterS = 3 * 86'400;

// A header value's leading decimal digits as a number: 0 when it does not start with a digit;
// UINT64_MAX when it is larger (saturates, never wraps).
[[nodiscard]] std::uint64_t leading_u64(std::string_view value) noexcept;

// The header's leading_u64(), 0 when it is absent.
[[nodiscard]] std::uint64_t header_u64(const boost::beast::http::fields& h,
                                       std::string_view name) noexcept;

// A Retry-After value's seconds, at most kMaxRetryAfterS.
[[nodiscard]] std::int64_t retry_after_value_s(std::string_view value) noexcept;

// Retry-After in seconds, at most kMaxRetryAfterS; 0 when absent or not a number of seconds.
[[nodiscard]] std::int64_t retry_after_s(const boost::beast::http::fields& h) noexcept;

}  // namespace cwts::net
