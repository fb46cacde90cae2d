// HMAC-SHA256 request signatures as Binance computes them, and constant-time signature checks.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace cwts::net {

inline constexpr std::size_t kHmacSha256HexLen = 64;

// HMAC-SHA256 with one key: the key's inner and outer SHA-256 states are computed once, so a
// signature costs the payload's blocks plus one block, with no allocation and no look-up of the
// algorithm (OpenSSL 3's one-shot HMAC() fetches it on every call: 13 allocations and ~2 µs, ~20
// µs with cold caches on the exec thread). Keys longer than SHA-256's 64-byte block are hashed
// first (RFC 2104). The states are wiped on destruction. const methods are reentrant.
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key) noexcept;
  ~HmacSha256();
  HmacSha256(const HmacSha256&) noexcept = default;
  HmacSha256& operator=(const HmacSha256&) noexcept = default;

  // The signature of the concatenation of `parts` as lowercase hex into out[0..63] (no NUL).
  void sign_hex(std::string_view payload, char* out) const noexcept;
  void sign_hex(std::string_view head, std::string_view tail, char* out) const noexcept;
  [[nodiscard]] std::string hex(std::string_view payload) const;

 private:
  // Two SHA256_CTX (112 bytes each in OpenSSL 3), kept opaque so includers need no OpenSSL.
  alignas(8) std::array<unsigned char, 128> inner_{};
  alignas(8) std::array<unsigned char, 128> outer_{};
};

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
