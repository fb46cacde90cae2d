// A blocking HTTP(S) GET for start-up work (exchangeInfo). Never used on a hot thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace cwts::net {

struct HttpGetOptions {
  bool tls_verify = true;
  std::string ca_file;  // "" = system store
  std::chrono::milliseconds timeout{10'000};
  // If set: the answer's X-MBX-USED-WEIGHT-1M (Binance: the weight this IP used this minute), 0
  // when it has none. Set for an error status too.
  std::uint64_t* used_weight_1m = nullptr;
};

// A non-200 answer: its status and, for 429/418, its Retry-After (seconds; 0 if absent).
class HttpStatusError : public std::runtime_error {
 public:
  HttpStatusError(const std::string& what, unsigned status, std::int64_t retry_after_s)
      : std::runtime_error(what), status_(status), retry_after_s_(retry_after_s) {}
  [[nodiscard]] unsigned status() const noexcept { return status_; }
  [[nodiscard]] std::int64_t retry_after_s() const noexcept { return retry_after_s_; }

 private:
  unsigned status_;
  std::int64_t retry_after_s_;
};

// How long the venue asked to wait, if `e` is its 429 or 418 answer: Retry-After, else Binance's
// defaults (1 s for a 429, 2 minutes for a 418); 0 for any other failure.
[[nodiscard]] std::int64_t rate_limit_wait_s(const std::exception& e) noexcept;

// GET base_url + target ("https://api.binance.com", "/api/v3/exchangeInfo"). Returns the body of a
// 200 answer; throws HttpStatusError for another status, std::runtime_error for any other failure,
// each naming the URL.
[[nodiscard]] std::string http_get(const std::string& base_url, const std::string& target,
                                   const HttpGetOptions& options = {});

}  // namespace cwts::net
