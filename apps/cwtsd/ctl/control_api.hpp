// The control plane's JSON-RPC 2.0 methods (ctl thread): status, symbols, positions, open_orders,
// book, candles, risk.get, risk.set, halt, resume, reduce_only, cancel_all, slots,
// subscribe/unsubscribe (the MCP endpoint's tools and resources call them too); and the
// notifications the ctl thread pushes (stats each second, alerts on state changes).
// docs/operations.md (control plane) lists them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "ctl/control_server.hpp"
#include "ctl/jsonrpc_codes.hpp"
#include "ctl/remote.hpp"
#include "engine.hpp"

namespace cwts::daemon {

class ControlApi {
 public:
  // JSON-RPC error codes beyond the standard ones.
  static constexpr int kUnauthorized = jsonrpc::kUnauthorized;
  static constexpr int kFailed = jsonrpc::kFailed;

  // `live` is the ctl thread's copy of the configuration: risk.set and the trading-state methods
  // change it and hand it to Engine::reload (a SIGHUP reload replaces it with the file's).
  // `allow_unauthenticated_reads`: the read-only methods answer a client without the token
  // (control.allow_unauthenticated_reads); otherwise every method needs it.
  ControlApi(Engine& engine, Config& live, bool allow_unauthenticated_reads);

  // One request (or a batch array) -> the reply text ("" for notifications without an id).
  [[nodiscard]] std::string handle(std::string_view message, RpcClient& client);
  // {"jsonrpc":"2.0","method":"stats","params":{...}}
  [[nodiscard]] std::string stats_notification(std::int64_t now_ns) const;
  // New execution reports in every slot's report ring, read without consuming them (the
  // strategies remain their consumers), one "reports" notification each. Call it from the ctl
  // tick; reports from the construction of this object on.
  void poll_reports(std::vector<std::string>& out);
  // Remote strategies (RemoteHub): poll their market data and reports; whether any is connected.
  void poll_remote() { remote_.poll(); }
  [[nodiscard]] bool remote_active() const noexcept { return remote_.active(); }
  void final_flush_remote() { remote_.final_flush(); }
  void remote_stopping() noexcept { remote_.stopping(); }
  void set_remote_clients_slow(bool slow) noexcept { remote_.set_clients_slow(slow); }
  [[nodiscard]] std::size_t remote_unsent_bytes() const noexcept { return remote_.unsent_bytes(); }
  // {"jsonrpc":"2.0","method":"alerts","params":{"alert":what,"detail":detail,"ts_ns":..}}
  [[nodiscard]] static std::string alert_notification(std::string_view what,
                                                      std::string_view detail, std::int64_t now_ns);

 private:
  // positions, open_orders, book, candles into `result`; false for any other method.
  bool read_market(std::string_view method, bool have_params, simdjson::dom::element params,
                   core::JsonWriter& result) const;

  Engine& engine_;
  Config& live_;
  bool allow_unauthenticated_reads_;
  std::array<std::uint64_t, layout::kMaxSlots> report_cursor_{};
  RemoteHub remote_;
};

}  // namespace cwts::daemon
