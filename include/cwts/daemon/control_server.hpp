// The control plane's HTTP listener (ctl thread, Boost.Beast): GET /metrics, /healthz, /readyz.
// Runs on the ctl thread's io_context; every operation is asynchronous, so a slow or silent client
// holds only its own connection (read/write timeout, connection cap), never the ctl thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace cwts::daemon {

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class ControlServer {
 public:
  // Called for each GET with the request target ("/metrics", "/readyz?verbose"), on the ctl thread.
  using Handler = std::function<HttpResponse(const std::string& target)>;

  // Binds address:port (port 0 = any free port) and starts accepting. Throws std::runtime_error
  // naming the address when it cannot bind.
  ControlServer(boost::asio::io_context& ioc, const std::string& address, std::uint16_t port, Handler handler);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept;
  // Stops accepting and closes every connection.
  void stop();

  static constexpr std::size_t kMaxConnections = 64;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace cwts::daemon
