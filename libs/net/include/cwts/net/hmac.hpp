// HMAC-SHA256 request signatures as Binance computes them, and constant-time signature checks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cwts::net {

inline constexpr std::size_t kHmacSha256HexLen = 64;

// Lowercase hex of HMAC-SHA256(key, payload) (OpenSSL). Key and payload are taken byte for byte:
// Binance signs the raw, already percent-encoded request text (REST) or the sorted UTF-8 params
// (WebSocket API). Reentrant.
[[nodiscard]] std::string hmac_sha256_hex(std::string_view key, std::string_view payload);

// Byte equality in time that depends only on the lengths (which are not secret: a signature is
// always 64 hex digits), so a client cannot find the expected signature byte by byte by timing.
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

// True if `sent` is the hex signature `expected_lower_hex` in any letter case (Binance: "HMAC
// signatures are case-insensitive"). Constant time for equal lengths; a non-hex byte in `sent`
// never matches.
[[nodiscard]] bool signature_matches(std::string_view expected_lower_hex,
                                     std::string_view sent) noexcept;

}  // namespace cwts::net
