// HMAC-SHA256 (RFC 2104) on OpenSSL's SHA-256 block function with the key's inner and outer
// states precomputed; constant-time comparison with CRYPTO_memcmp.
//
// OpenSSL 3 deprecates the SHA256_* functions in favour of EVP, but the EVP paths cost what this
// class exists to avoid: EVP_DigestInit_ex2 frees and allocates the digest context on every
// re-initialization, EVP_MD_CTX_copy_ex allocates, and the one-shot HMAC() fetches the algorithm
// each call (13 allocations). The SHA256_CTX functions are the same assembly (SHA-NI/AVX2) with
// the state in our own memory. The project's signature tests pin Binance's published vectors and
// RFC 4231's.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "cwts/net/hmac.hpp"

#include <array>
#include <cstdint>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace cwts::net {

namespace {
constexpr std::size_t kBlock = 64;  // SHA-256 block
constexpr std::size_t kMaxHex = 2 * std::size_t{SHA256_DIGEST_LENGTH};
constexpr char kHex[] = "0123456789abcdef";

void to_hex(const unsigned char* mac, char* out) noexcept {
  for (std::size_t i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    out[2 * i] = kHex[mac[i] >> 4];
    out[2 * i + 1] = kHex[mac[i] & 0x0F];
  }
}
}  // namespace

static_assert(sizeof(SHA256_CTX) <= 128, "HmacSha256's state buffers hold a SHA256_CTX");

HmacSha256::HmacSha256(std::string_view key) noexcept {
  std::array<unsigned char, kBlock> k{};
  if (key.size() > kBlock) {
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), k.data());
  } else if (!key.empty()) {
    std::memcpy(k.data(), key.data(), key.size());
  }
  std::array<unsigned char, kBlock> pad{};
  SHA256_CTX ctx;
  for (std::size_t i = 0; i < kBlock; ++i) pad[i] = static_cast<unsigned char>(k[i] ^ 0x36U);
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, pad.data(), kBlock);
  std::memcpy(inner_.data(), &ctx, sizeof ctx);
  for (std::size_t i = 0; i < kBlock; ++i) pad[i] = static_cast<unsigned char>(k[i] ^ 0x5cU);
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, pad.data(), kBlock);
  std::memcpy(outer_.data(), &ctx, sizeof ctx);
  OPENSSL_cleanse(&ctx, sizeof ctx);
  OPENSSL_cleanse(pad.data(), pad.size());
  OPENSSL_cleanse(k.data(), k.size());
}

HmacSha256::~HmacSha256() {
  OPENSSL_cleanse(inner_.data(), inner_.size());
  OPENSSL_cleanse(outer_.data(), outer_.size());
}

void HmacSha256::sign_hex(std::string_view head, std::string_view tail, char* out) const noexcept {
  SHA256_CTX ctx;
  std::memcpy(&ctx, inner_.data(), sizeof ctx);
  SHA256_Update(&ctx, head.data(), head.size());
  SHA256_Update(&ctx, tail.data(), tail.size());
  std::array<unsigned char, SHA256_DIGEST_LENGTH> h{};
  SHA256_Final(h.data(), &ctx);
  std::memcpy(&ctx, outer_.data(), sizeof ctx);
  SHA256_Update(&ctx, h.data(), h.size());
  SHA256_Final(h.data(), &ctx);
  OPENSSL_cleanse(&ctx, sizeof ctx);
  to_hex(h.data(), out);
}

void HmacSha256::sign_hex(std::string_view payload, char* out) const noexcept {
  sign_hex(payload, {}, out);
}

std::string HmacSha256::hex(std::string_view payload) const {
  std::string s(kHmacSha256HexLen, '\0');
  sign_hex(payload, s.data());
  return s;
}

std::string hmac_sha256_hex(std::string_view key, std::string_view payload) {
  return HmacSha256(key).hex(payload);
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
