// Parsing the feed's base URLs into host, port and path prefix.
#include "cwts/net/endpoint.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <stdexcept>

namespace cwts::net {

namespace {

[[noreturn]] void bad(std::string_view url, const char* why) {
  throw std::invalid_argument("bad URL '" + std::string(url) + "': " + why);
}

}  // namespace

std::string Endpoint::host_header() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string h;
  h.reserve(host.size() + 8);
  if (v6) h += '[';
  h += host;
  if (v6) h += ']';
  const std::uint16_t def = tls ? 443 : 80;
  if (port != def) {
    h += ':';
    h += std::to_string(port);  // appended separately: g++ 12 -O3 warns (-Wrestrict) on ":" + s
  }
  return h;
}

bool Endpoint::host_is_ip() const {
  in6_addr a6{};
  in_addr a4{};
  return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

Endpoint parse_endpoint(std::string_view url, EndpointKind kind) {
  Endpoint e;
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) bad(url, "no scheme");
  const std::string_view scheme = url.substr(0, sep);
  if (kind == EndpointKind::kWebSocket) {
    if (scheme == "wss") {
      e.tls = true;
    } else if (scheme != "ws") {
      bad(url, "scheme must be ws or wss");
    }
  } else {
    if (scheme == "https") {
      e.tls = true;
    } else if (scheme != "http") {
      bad(url, "scheme must be http or https");
    }
  }
  std::string_view rest = url.substr(sep + 3);
  if (rest.find_first_of("?#@") != std::string_view::npos) {
    bad(url, "query, fragment or user info not allowed");
  }
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  e.path = std::string(path);

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) bad(url, "unterminated IPv6 literal");
    e.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') bad(url, "junk after IPv6 literal");
      port_text = after.substr(1);
      if (port_text.empty()) bad(url, "empty port");
    }
  } else {
    const auto colon = authority.find(':');
    e.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) bad(url, "empty port");
    }
  }
  if (e.host.empty()) bad(url, "no host");
  if (port_text.empty()) {
    e.port = e.tls ? 443 : 80;
  } else {
    unsigned v = 0;
    const auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), v);
    if (r.ec != std::errc{} || r.ptr != port_text.data() + port_text.size() || v == 0 ||
        v > 65535) {
      bad(url, "port must be 1-65535");
    }
    e.port = static_cast<std::uint16_t>(v);
  }
  return e;
}

}  // namespace cwts::net
