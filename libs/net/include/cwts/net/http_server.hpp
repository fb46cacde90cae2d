// HttpServer: a small asynchronous HTTP/1.1 server (Boost.Beast) on the caller's io_context, for
// endpoints that answer later than they are asked (the gateway answers an order once the venue
// has). Keep-alive, one request in flight per connection (HTTP/1.1 pipelining is answered in
// order), bounded header and body sizes, a read/write timeout and a connection cap, so a slow or
// hostile client holds only its own connection. Not the hot path: a request allocates.
//
// Optionally TLS (https, and wss for WebSocket upgrades): HttpServerOptions::tls_cert_file and
// tls_key_file. Plain and TLS connections are two instantiations of the same session code, chosen
// once per accepted connection: the plain path costs nothing for TLS being possible.
//
// HEAD is answered as GET without the body. Thread-safety: every member and every Reply runs on the
// io_context's thread (one thread runs it); nothing here is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace cwts::net {

struct HttpServerRequest {
  std::string method;  // "GET", "POST", "DELETE", "PUT"
  std::string target;  // "/api/v3/order?symbol=BTCUSDT&..."
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower case

  [[nodiscard]] std::string_view path() const noexcept;
  [[nodiscard]] std::string_view query() const noexcept;  // without '?'
  // The first header named `lower_name` (lower case), or nullptr.
  [[nodiscard]] const std::string* header(std::string_view lower_name) const noexcept;
};

struct HttpServerResponse {
  unsigned status = 200;
  std::string content_type = "application/json;charset=UTF-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// A WebSocket client of the server (text frames). io_context thread only.
class WsConnection {
 public:
  virtual ~WsConnection() = default;
  // Queues a text frame. A client more than HttpServerOptions::max_ws_queue frames (or
  // max_ws_queued_bytes) behind is disconnected instead: a slow client never holds memory or the
  // thread.
  virtual void send(std::string text) = 0;
  // Bytes queued and not yet written to the socket: an owner that can conflate (send the latest
  // value instead of every one) holds back while this is high.
  [[nodiscard]] virtual std::size_t queued_bytes() const noexcept = 0;
  virtual void close() = 0;
  [[nodiscard]] virtual bool is_open() const noexcept = 0;
};

// What a WebSocket connection's owner is told: each text message, and the end (once).
struct WsHandlers {
  std::function<void(std::string_view message)> on_message;
  std::function<void()> on_close;
};

struct HttpServerOptions {
  std::size_t max_header_bytes = 8192;
  std::size_t max_body_bytes = 64 * 1024;  // larger: 413 with `too_large_body`
  std::size_t max_connections = 256;
  std::chrono::milliseconds io_timeout{30'000};  // idle keep-alive and slow reads/writes
  std::size_t max_ws_queue = 4096;               // frames
  std::size_t max_ws_queued_bytes = 64 << 20;    // bytes of those frames
  // SO_SNDBUF of each connection; 0 = the kernel's (autotuned up to net.ipv4.tcp_wmem, MiBs).
  // Bounded, a slow reader shows as queued_bytes() soon rather than after megabytes.
  std::size_t socket_send_buffer = 0;
  std::size_t max_ws_message = 64 * 1024;  // incoming
  // Body of the 413 answer to an oversized request (the connection is then closed).
  std::string too_large_body = R"({"code":-1000,"msg":"Request body too large."})";
  // TLS: the certificate chain (PEM, leaf first) and its private key (PEM). Both empty: plain
  // HTTP; both set: every connection is TLS 1.2 or newer (https, wss), its handshake under
  // io_timeout; one alone is an error. No client certificates. Loaded by the constructor.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Called when a TLS handshake fails or times out (a plain-HTTP client on a TLS port, a client
  // that does not trust the certificate): the peer's address and the reason. Only that connection
  // is closed. Optional.
  std::function<void(const std::string& peer, const std::string& error)> on_tls_error;
};

class HttpServer {
 public:
  // Answers the request it was given; call it exactly once, on the io_context's thread. Calling
  // it after the connection closed is harmless (the answer is dropped).
  using Reply = std::function<void(HttpServerResponse)>;
  using Handler = std::function<void(HttpServerRequest&& request, Reply reply)>;
  // A WebSocket upgrade request (already accepted when called): the handlers of the new
  // connection. Without one, upgrade requests go to the Handler as plain requests.
  using Upgrade =
      std::function<WsHandlers(const HttpServerRequest& request, std::shared_ptr<WsConnection>)>;

  // Binds address:port (port 0 = any free port) and starts accepting. Throws std::runtime_error
  // naming the address when it cannot bind, and naming the file when the TLS certificate or key
  // cannot be loaded (or the key does not belong to the certificate).
  HttpServer(boost::asio::io_context& ioc, const std::string& address, std::uint16_t port,
             Handler handler, HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept;
  // `accepts(request)` false: the upgrade request is answered by the Handler like any request (a
  // 404 or 403 there). Without `accepts`, every request may upgrade.
  void set_upgrade(Upgrade upgrade,
                   std::function<bool(const HttpServerRequest& request)> accepts = {});
  // Stops accepting and closes every connection (answers still pending are dropped).
  void stop();
  [[nodiscard]] std::size_t connections() const noexcept;
  [[nodiscard]] bool tls() const noexcept;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace cwts::net
