// McpEndpoint: the engine as a Model Context Protocol server at /mcp on the control port (ctl
// thread). Streamable HTTP transport, JSON answers only: each POST carries one JSON-RPC message
// and gets one application/json answer (202 without a body for a notification or a response);
// no server-sent events, no session (no Mcp-Session-Id): every request stands alone. ADR 0022.
//
// Tools and resources are JSON-RPC methods of the control plane: each call becomes a request to
// the control plane's handler (ControlApi::handle) with the HTTP request's bearer token as the
// client's authorization, so the token rules, the validation and the effects are the control
// plane's, never a second copy of them. docs/operations.md (MCP) lists the tools and resources.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <string_view>

#include "ctl/control_server.hpp"

namespace cwts::daemon {

class McpEndpoint {
 public:
  // The control plane's JSON-RPC handler: one request -> the reply text.
  using Rpc = std::function<std::string(std::string_view request, RpcClient& client)>;

  // Protocol revisions served through the initialize handshake, oldest first. The client's
  // revision is answered when it is one of these, otherwise the newest.
  static constexpr std::array<std::string_view, 4> kProtocolVersions = {"2024-11-05", "2025-03-26",
                                                                        "2025-06-18", "2025-11-25"};

  explicit McpEndpoint(Rpc rpc, std::string server_version = {});

  // One HTTP request to /mcp -> its answer.
  [[nodiscard]] HttpResponse handle(const McpHttpRequest& request) const;

 private:
  Rpc rpc_;
  std::string server_version_;
};

}  // namespace cwts::daemon
