// HMAC-SHA256 with OpenSSL's one-shot HMAC(); constant-time comparison with CRYPTO_memcmp.
#include "cwts/net/hmac.hpp"

#include <array>
#include <climits>
#include <cstdint>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace cwts::net {

namespace {
constexpr std::size_t kMaxHex = 2 * std::size_t{EVP_MAX_MD_SIZE};
}  // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view payload) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  // HMAC() takes the key length as int; a key longer than INT_MAX bytes cannot be a secret.
  if (key.size() > static_cast<std::size_t>(INT_MAX)) return {};
  const unsigned char* out = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                                  reinterpret_cast<const unsigned char*>(payload.data()),
                                  payload.size(), mac.data(), &len);
  if (out == nullptr) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(static_cast<std::size_t>(len) * 2, '\0');
  for (std::size_t i = 0; i < len; ++i) {
    hex[2 * i] = kHex[mac[i] >> 4];
    hex[2 * i + 1] = kHex[mac[i] & 0x0F];
  }
  return hex;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool signature_matches(std::string_view expected_lower_hex, std::string_view sent) noexcept {
  if (sent.size() != expected_lower_hex.size() || sent.size() > kMaxHex) return false;
  // Fold 'A'..'F' to lowercase without a data-dependent branch; any other byte is kept, so a
  // non-hex byte cannot equal a lowercase hex digit.
  std::array<char, kMaxHex> folded{};
  for (std::size_t i = 0; i < sent.size(); ++i) {
    const auto c = static_cast<unsigned char>(sent[i]);
    const auto upper = static_cast<unsigned>(static_cast<unsigned char>(c - 'A') < 6U);
    folded[i] = static_cast<char>(c | (upper << 5));
  }
  return CRYPTO_memcmp(folded.data(), expected_lower_hex.data(), sent.size()) == 0;
}

}  // namespace cwts::net
