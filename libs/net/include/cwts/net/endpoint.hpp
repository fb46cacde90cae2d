// Endpoint: a parsed ws/wss/http/https base URL (scheme, host, port, path prefix) for the feed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cwts::net {

struct Endpoint {
  bool tls = false;        // wss / https
  std::string host;        // without brackets for IPv6 literals
  std::uint16_t port = 0;  // explicit or the scheme's default
  std::string path;        // prefix before the venue's own paths ("" or "/public"), no trailing '/'

  // The Host header: the port is omitted when it is the scheme's default, as browsers do
  // (Binance's edge accepts both; tests check the exact form).
  [[nodiscard]] std::string host_header() const;
  [[nodiscard]] std::string port_string() const { return std::to_string(port); }
  // True if `host` is an IPv4 or IPv6 literal (no SNI is sent and the certificate must name the
  // address instead of a DNS name).
  [[nodiscard]] bool host_is_ip() const;
};

enum class EndpointKind : std::uint8_t { kWebSocket, kHttp };

// Parses "wss://stream.binance.com:9443", "ws://127.0.0.1:8080", "https://api.binance.com",
// "wss://fstream.binance.com/public", "ws://[::1]:9000". Throws std::invalid_argument naming the
// URL and the reason (config time only). Query strings, fragments and user info are refused.
[[nodiscard]] Endpoint parse_endpoint(std::string_view url, EndpointKind kind);

}  // namespace cwts::net
