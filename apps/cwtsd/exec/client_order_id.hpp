// The engine's client order ids: every order the exec thread sends names its signal, so a report,
// a venue event or a query after a restart can be traced back to (epoch, slot, seq), and a retry
// of the same signal can never carry a different id. Pure functions, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cwts::daemon {

// newClientOrderId = "cw" + base36(epoch ms mod 36^7, 7 chars) + base36(slot, 2) + base36(seq):
// at most 24 characters of [0-9a-z]; a retry of a signal always carries the same id.
std::size_t make_client_order_id(std::uint64_t epoch_ns, std::uint32_t slot, std::uint64_t seq,
                                 char* out /* >= 25 bytes */) noexcept;
// Inverse; false if `cid` is not one of this epoch's ids.
bool parse_client_order_id(std::string_view cid, std::uint64_t epoch_ns, std::uint32_t& slot,
                           std::uint64_t& seq) noexcept;

}  // namespace cwts::daemon
