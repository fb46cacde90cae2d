#include "cwts/net/http_get.hpp"

#include <algorithm>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>

#include "cwts/net/endpoint.hpp"
#include "cwts/net/http_header.hpp"
#include "cwts/net/tls_client.hpp"

namespace cwts::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

namespace {

template <typename Stream>
std::string exchange(Stream& stream, const net::Endpoint& ep, const std::string& target,
                     std::uint64_t* used_weight_1m) {
  http::request<http::empty_body> req{http::verb::get, ep.path + target, 11};
  req.set(http::field::host, ep.host_header());
  req.set(http::field::user_agent, "cwtsd/0.1");
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64U << 20);
  http::read(stream, buf, parser);
  auto res = parser.release();
  if (used_weight_1m != nullptr) *used_weight_1m = header_u64(res, "X-MBX-USED-WEIGHT-1M");
  if (res.result() != http::status::ok) {
    throw HttpStatusError(
        "HTTP " + std::to_string(res.result_int()) + ": " + res.body().substr(0, 200),
        res.result_int(), retry_after_s(res));
  }
  return std::move(res.body());
}

}  // namespace

std::string http_get(const std::string& base_url, const std::string& target,
                     const HttpGetOptions& o) {
  const Endpoint ep = parse_endpoint(base_url, EndpointKind::kHttp);
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    const auto addrs = resolver.resolve(ep.host, ep.port_string());
    if (!ep.tls) {
      beast::tcp_stream stream(ioc);
      stream.expires_after(o.timeout);
      stream.connect(addrs);
      return exchange(stream, ep, target, o.used_weight_1m);
    }
    ssl::context ctx = make_tls_client_context({o.tls_verify, o.ca_file});
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    if (!prepare_tls_connection(stream.native_handle(), ep)) {
      throw std::runtime_error("TLS set-up for " + ep.host + " refused");
    }
    beast::get_lowest_layer(stream).expires_after(o.timeout);
    beast::get_lowest_layer(stream).connect(addrs);
    stream.handshake(ssl::stream_base::client);
    return exchange(stream, ep, target, o.used_weight_1m);
  } catch (const HttpStatusError& e) {
    throw HttpStatusError("GET " + base_url + target + ": " + e.what(), e.status(),
                          e.retry_after_s());
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("GET " + base_url + target + ": " + e.code().message());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("GET " + base_url + target + ": " + e.what());
  }
}

std::int64_t rate_limit_wait_s(const std::exception& e) noexcept {
  const auto* s = dynamic_cast<const HttpStatusError*>(&e);
  if (s == nullptr || (s->status() != 429 && s->status() != 418)) return 0;
  if (s->retry_after_s() > 0) return s->retry_after_s();
  return s->status() == 418 ? 120 : 1;
}

}  // namespace cwts::net
