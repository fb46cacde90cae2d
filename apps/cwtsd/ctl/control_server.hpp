// The control plane's listener (ctl thread, Boost.Beast): GET /metrics, /healthz, /readyz, a
// WebSocket at /ws carrying JSON-RPC 2.0 (the methods are the handler's; see control_api), and
// the MCP endpoint at /mcp (POST; see mcp_endpoint), the only path that takes a body.
// Runs on the ctl thread's io_context; every operation is asynchronous, so a slow or silent client
// holds only its own connection (read/write timeout, connection cap), never the ctl thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "config/config.hpp"
#include "cwts/net/http_server.hpp"

namespace cwts::daemon {

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // beyond Content-Type
};

// A request to /mcp, as the MCP endpoint needs it (header values "" when absent).
struct McpHttpRequest {
  std::string method;  // POST, GET, DELETE, ...
  std::string body;
  ControlScopes scopes;  // of the bearer token it carried (Authorization: Bearer ...), if any
  std::string who;       // that token's name
  std::string content_type;
  std::string accept;
  std::string protocol_version;  // MCP-Protocol-Version
};

// TLS for the listener (https, wss): PEM files, both empty = plain HTTP. `on_error(peer, reason)`:
// a failed or timed-out TLS handshake (that connection only is closed).
struct ControlTls {
  std::string cert_file;
  std::string key_file;
  std::function<void(const std::string& peer, const std::string& reason)> on_error;
};

class RemoteSession;

// One WebSocket client: what its handshake's bearer token lets it do, its subscriptions, and its
// remote-strategy state (market data subscriptions, a claimed slot) once it uses any.
struct RpcClient {
  ControlScopes scopes;
  std::string who;  // the token's name ("control" for the control token), "" without a token
  std::set<std::string> topics;
  net::WsConnection* conn = nullptr;      // valid while the client is
  std::shared_ptr<RemoteSession> remote;  // released (slot and all) when the client goes
};

class ControlServer {
 public:
  // Called for each GET with the request target ("/metrics", "/readyz?verbose"), on the ctl thread.
  using Handler = std::function<HttpResponse(const std::string& target)>;
  // Called for each WebSocket text message; returns the reply ("" = none).
  using RpcHandler = std::function<std::string(std::string_view message, RpcClient& client)>;
  // Called for each request to /mcp (any method); without one, /mcp is answered like any path.
  using McpHandler = std::function<HttpResponse(const McpHttpRequest& request)>;

  // Binds control.address:port (port 0 = any free port) and starts accepting, with control's
  // limits. Throws std::runtime_error naming the address when it cannot bind. `tokens`: the bearer
  // tokens a WebSocket handshake may present (Authorization: Bearer ...) and their scopes; a
  // client without one of them has none. `tls`: see ControlTls; a certificate or key that does
  // not load throws std::runtime_error naming the file.
  ControlServer(boost::asio::io_context& ioc, const ControlConfig& control, Handler handler,
                RpcHandler rpc, std::vector<ControlToken> tokens, ControlTls tls = {});
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // SIGHUP: the tokens new connections are checked against (connected clients keep theirs).
  void set_tokens(std::vector<ControlToken> tokens);

  [[nodiscard]] std::uint16_t port() const noexcept;
  void set_mcp_handler(McpHandler handler);
  // Stops accepting and closes every connection.
  void stop();
  // Sends `message` to every WebSocket client subscribed to `topic`. A client whose unsent queue is
  // already kMaxQueued frames or control.max_queued_bytes long is disconnected instead (a slow
  // client never holds memory or the ctl thread).
  void broadcast(const std::string& topic, const std::string& message);
  [[nodiscard]] std::size_t rpc_clients() const noexcept;

  static constexpr std::size_t kMaxQueued = 4096;
  // Request bodies (only /mcp reads one; elsewhere it is read and refused with 405).
  static constexpr std::size_t kMaxBody = 64 * 1024;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace cwts::daemon
