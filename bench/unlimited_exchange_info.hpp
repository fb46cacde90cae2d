// The shipped exchangeInfo with every rate limit raised, for the harnesses that measure the order
// path and not the venue's 50 orders / 10 s (cwts-latency-order, cwts-bench-venue-allocs).
#pragma once

#include <fstream>
#include <regex>
#include <string>

#include "cwts/binance/exchange_info.hpp"

namespace cwts::bench {

// Writes it as `dir`/exchangeInfo-unlimited.json and returns that path.
inline std::string unlimited_exchange_info(const std::string& source, const std::string& dir) {
  std::string json = cwts::binance::read_file_maybe_gz(source);
  const auto a = json.find("\"rateLimits\"");
  const auto b = json.find(']', a);
  const std::string limits = std::regex_replace(
      json.substr(a, b - a), std::regex(R"("limit"\s*:\s*\d+)"), "\"limit\":100000000");
  json = json.substr(0, a) + limits + json.substr(b);
  const std::string path = dir + "/exchangeInfo-unlimited.json";
  std::ofstream(path) << json;
  return path;
}

}  // namespace cwts::bench
