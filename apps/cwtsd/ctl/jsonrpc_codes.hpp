// JSON-RPC 2.0 error codes the control plane answers with (its /ws methods, the remote-strategy
// protocol and the MCP endpoint alike).
#pragma once

namespace cwts::daemon::jsonrpc {

inline constexpr int kParseError = -32700;      // the message is not JSON
inline constexpr int kInvalidRequest = -32600;  // not a JSON-RPC request object
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kUnauthorized = -32001;  // no token, or a token without the scope
inline constexpr int kFailed = -32002;        // a valid call the engine could not carry out

}  // namespace cwts::daemon::jsonrpc
