// A blocking HTTP(S) GET for start-up work (exchangeInfo). Never used on a hot thread.
#pragma once

#include <chrono>
#include <string>

namespace cwts::net {

struct HttpGetOptions {
  bool tls_verify = true;
  std::string ca_file;  // "" = system store
  std::chrono::milliseconds timeout{10'000};
};

// GET base_url + target ("https://api.binance.com", "/api/v3/exchangeInfo"). Returns the body of a
// 200 answer; throws std::runtime_error naming the URL and the failure otherwise.
[[nodiscard]] std::string http_get(const std::string& base_url, const std::string& target,
                                   const HttpGetOptions& options = {});

}  // namespace cwts::net
