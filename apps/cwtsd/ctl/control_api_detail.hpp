// What ctl/control_api.cpp and ctl/control_reads.cpp share: a failed call and typed reads of
// JSON-RPC params that throw it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace cwts::daemon::control_detail {

// A failed call: JSON-RPC error code and message.
struct RpcError {
  int code;
  std::string message;
};

std::uint64_t int_param(simdjson::dom::element v, std::string_view key, std::uint64_t lo,
                        std::uint64_t hi);
// A non-negative decimal string ("1000") as fixed-point raw units.
std::int64_t decimal_param(simdjson::dom::element v, std::string_view key);
// The symbol named by params.symbol: its index in the engine's symbol list.
std::size_t symbol_param(bool have_params, simdjson::dom::element params,
                         std::span<const std::string_view> names);
// An optional integer member of params (`fallback` when absent).
std::uint64_t optional_int(bool have_params, simdjson::dom::element params, std::string_view key,
                           std::uint64_t lo, std::uint64_t hi, std::uint64_t fallback);

}  // namespace cwts::daemon::control_detail
