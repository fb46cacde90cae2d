#include "cwts/net/http_header.hpp"

#include <algorithm>
#include <cstdint>

namespace cwts::net {

std::uint64_t header_u64(const boost::beast::http::fields& h, std::string_view name) noexcept {
  const auto it = h.find(boost::beast::string_view(name.data(), name.size()));
  if (it == h.end()) return 0;
  std::uint64_t v = 0;
  for (const char c : it->value()) {
    if (c < '0' || c > '9') break;
    if (v > (UINT64_MAX - 9) / 10) return UINT64_MAX;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

std::int64_t retry_after_s(const boost::beast::http::fields& h) noexcept {
  return static_cast<std::int64_t>(std::min<std::uint64_t>(
      header_u64(h, "Retry-After"), static_cast<std::uint64_t>(kMaxRetryAfterS)));
}

}  // namespace cwts::net
