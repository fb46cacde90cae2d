#include "cwts/net/http_header.hpp"

#include <algorithm>
#include <cstdint>

namespace cwts::net {

std::uint64_t leading_u64(std::string_view value) noexcept {
  std::uint64_t v = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') break;
    if (v > (UINT64_MAX - 9) / 10) return UINT64_MAX;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

std::uint64_t header_u64(const boost::beast::http::fields& h, std::string_view name) noexcept {
  const auto it = h.find(boost::beast::string_view(name.data(), name.size()));
  if (it == h.end()) return 0;
  const auto value = it->value();
  return leading_u64(std::string_view(value.data(), value.size()));
}

std::int64_t retry_after_value_s(std::string_view value) noexcept {
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(leading_u64(value), static_cast<std::uint64_t>(kMaxRetryAfterS)));
}

std::int64_t retry_after_s(const boost::beast::http::fields& h) noexcept {
  const auto it = h.find(boost::beast::http::field::retry_after);
  if (it == h.end()) return 0;
  const auto value = it->value();
  return retry_after_value_s(std::string_view(value.data(), value.size()));
}

}  // namespace cwts::net
