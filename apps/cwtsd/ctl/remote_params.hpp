// The parameters of the remote-strategy protocol's calls (ctl/remote.cpp, ctl/remote_signals.cpp):
// typed reads of a JSON-RPC params object that throw RemoteError (invalid params, ValueError on
// the client) naming the parameter.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "ctl/jsonrpc_codes.hpp"
#include "ctl/remote.hpp"

namespace cwts::daemon::remote_params {

// The parameter `key` of `params` (an object), or nullopt when absent.
inline std::optional<simdjson::dom::element> field(simdjson::dom::element params,
                                                   std::string_view key) {
  simdjson::dom::element v;
  if (params.type() != simdjson::dom::element_type::OBJECT ||
      params.at_key(key).get(v) != simdjson::SUCCESS)
    return std::nullopt;
  return v;
}

inline std::int64_t int_field(simdjson::dom::element params, std::string_view key, std::int64_t lo,
                              std::int64_t hi,
                              std::optional<std::int64_t> fallback = std::nullopt) {
  const auto v = field(params, key);
  if (!v) {
    if (fallback) return *fallback;
    throw RemoteError(jsonrpc::kInvalidParams,
                      "invalid params: " + std::string(key) + " is required", "ValueError");
  }
  std::int64_t x = 0;
  if (v->type() == simdjson::dom::element_type::UINT64 ||
      v->get_int64().get(x) != simdjson::SUCCESS || x < lo || x > hi) {
    throw RemoteError(jsonrpc::kInvalidParams,
                      "invalid params: " + std::string(key) + " must be an integer from " +
                          std::to_string(lo) + " to " + std::to_string(hi),
                      "ValueError");
  }
  return x;
}

inline std::string_view string_field(simdjson::dom::element params, std::string_view key,
                                     std::optional<std::string_view> fallback = std::nullopt) {
  const auto v = field(params, key);
  std::string_view s;
  if (!v) {
    if (fallback) return *fallback;
    throw RemoteError(jsonrpc::kInvalidParams,
                      "invalid params: " + std::string(key) + " is required", "ValueError");
  }
  if (v->get_string().get(s) != simdjson::SUCCESS) {
    throw RemoteError(jsonrpc::kInvalidParams,
                      "invalid params: " + std::string(key) + " must be a string", "ValueError");
  }
  return s;
}

inline bool bool_field(simdjson::dom::element params, std::string_view key, bool fallback) {
  const auto v = field(params, key);
  if (!v) return fallback;
  bool b = false;
  if (v->get_bool().get(b) != simdjson::SUCCESS) {
    throw RemoteError(jsonrpc::kInvalidParams,
                      "invalid params: " + std::string(key) + " must be true or false",
                      "ValueError");
  }
  return b;
}

}  // namespace cwts::daemon::remote_params
