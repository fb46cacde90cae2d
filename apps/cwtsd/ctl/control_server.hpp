// The control plane's listener (ctl thread, Boost.Beast): GET /metrics, /healthz, /readyz and a
// WebSocket at /ws carrying JSON-RPC 2.0 (the methods are the handler's; see control_api).
// Runs on the ctl thread's io_context; every operation is asynchronous, so a slow or silent client
// holds only its own connection (read/write timeout, connection cap), never the ctl thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

namespace cwts::daemon {

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// TLS for the listener (https, wss): PEM files, both empty = plain HTTP. `on_error(peer, reason)`:
// a failed or timed-out TLS handshake (that connection only is closed).
struct ControlTls {
  std::string cert_file;
  std::string key_file;
  std::function<void(const std::string& peer, const std::string& reason)> on_error;
};

// One WebSocket client: whether its handshake carried the bearer token, and its subscriptions.
struct RpcClient {
  bool authorized = false;
  std::set<std::string> topics;
};

class ControlServer {
 public:
  // Called for each GET with the request target ("/metrics", "/readyz?verbose"), on the ctl thread.
  using Handler = std::function<HttpResponse(const std::string& target)>;
  // Called for each WebSocket text message; returns the reply ("" = none).
  using RpcHandler = std::function<std::string(std::string_view message, RpcClient& client)>;

  // Binds address:port (port 0 = any free port) and starts accepting. Throws std::runtime_error
  // naming the address when it cannot bind. `token`: the bearer token a WebSocket handshake must
  // present (Authorization: Bearer ...) for RpcClient::authorized; "" = no client is authorized.
  // `tls`: see ControlTls; a certificate or key that does not load throws std::runtime_error
  // naming the file.
  ControlServer(boost::asio::io_context& ioc, const std::string& address, std::uint16_t port,
                Handler handler, RpcHandler rpc = {}, std::string token = {}, ControlTls tls = {});
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept;
  // Stops accepting and closes every connection.
  void stop();
  // Sends `message` to every WebSocket client subscribed to `topic`. A client whose unsent queue is
  // already kMaxQueued long is disconnected instead (a slow client never holds memory or the ctl
  // thread).
  void broadcast(const std::string& topic, const std::string& message);
  [[nodiscard]] std::size_t rpc_clients() const noexcept;

  static constexpr std::size_t kMaxQueued = 256;

  static constexpr std::size_t kMaxConnections = 64;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace cwts::daemon
