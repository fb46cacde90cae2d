// libFuzzer target: an HTTP request as the gateway and cwts-sim receive it (query string, then a
// newline, then the form body) through the parameter parser, the signature and timestamp checks
// and the new-order parser. They must answer every input with a result or a Binance error, never
// crash; a request the signature check accepts must carry the signature of its own payload.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cwts/binance/exchange_info.hpp"
#include "cwts/binance/request.hpp"
#include "cwts/net/hmac.hpp"

namespace {

const cwts::binance::ExchangeInfo& info() {
  static const auto i = cwts::binance::parse_exchange_info(R"({"timezone":"UTC","serverTime":0,
    "rateLimits":[],"exchangeFilters":[],"symbols":[{"symbol":"BTCUSDT","status":"TRADING",
    "baseAsset":"BTC","baseAssetPrecision":8,"quoteAsset":"USDT","quotePrecision":8,
    "quoteAssetPrecision":8,"orderTypes":["LIMIT","LIMIT_MAKER","MARKET"],
    "filters":[{"filterType":"PRICE_FILTER","minPrice":"0.01","maxPrice":"1000000.00",
    "tickSize":"0.01"},{"filterType":"LOT_SIZE","minQty":"0.00001","maxQty":"9000.0",
    "stepSize":"0.00001"}]}]})");
  return i;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto nl = in.find('\n');
  const std::string_view query = in.substr(0, nl);
  const std::string_view body =
      nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  auto parsed = cwts::binance::Request::parse(query, body);
  if (!parsed.ok()) return 0;
  const cwts::binance::Request& r = parsed.value();
  static const cwts::net::HmacSha256 secret("fuzz-secret");
  if (cwts::binance::verify_signature(r, secret).ok()) {
    char expected[cwts::net::kHmacSha256HexLen];
    secret.sign_hex(r.signed_payload(), expected);
    const std::string* sig = r.find("signature");
    if (sig == nullptr || sig->size() != sizeof expected) __builtin_trap();
    for (std::size_t i = 0; i < sizeof expected; ++i) {
      const char c = (*sig)[i];
      if ((c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c) != expected[i])
        __builtin_trap();
    }
  }
  (void)cwts::binance::check_timestamp(r, 1'700'000'000'000'000);
  (void)cwts::binance::parse_symbol(r, info());
  (void)cwts::binance::parse_integer(r, "limit", false);
  (void)cwts::binance::parse_new_order(r, info());
  return 0;
}
