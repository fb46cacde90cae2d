// SimServer's private state, shared by its translation units (sim_server.cpp: the acceptor, the
// market clock and faults; http_session.cpp: REST and /_sim/ requests; ws_session.cpp: streams;
// ws_api_session.cpp: the WebSocket API).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "rest_api.hpp"
#include "sim_server.hpp"
#include "user_data_hub.hpp"
#include "venue.hpp"

namespace cwts::sim_server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace detail {

inline std::int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
inline std::int64_t steady_ms() noexcept { return steady_ns() / 1'000'000; }

// Something the fault injector can cut off.
// A connection the server can act on for fault injection and the connection lifetime.
class Droppable {
 public:
  virtual ~Droppable() = default;
  virtual void drop() = 0;                         // abrupt: the socket is closed
  virtual void expire() {}                         // graceful: a WebSocket close frame
  virtual void announce_shutdown(std::int64_t) {}  // Binance's serverShutdown event, then close
  [[nodiscard]] virtual std::int64_t opened_ms() const { return 0; }
  // A stream session subscribed to a stream of `symbol` (lowercase, e.g. "btcusdt").
  [[nodiscard]] virtual bool streams_symbol(std::string_view /*symbol*/) const { return false; }
};

}  // namespace detail

struct SimServer::Impl {
  explicit Impl(SimServerConfig c);

  void start_accept();
  void schedule_market(std::int64_t at_ns);
  void schedule_tick();
  void shutdown();
  void drop_all();
  void drop_streaming(std::string_view symbol);
  std::string fault(std::string_view body, unsigned& status);
  std::string balance(std::string_view body, unsigned& status);  // POST /_sim/balance

  SimServerConfig cfg;
  // Declared before the io_context: sessions destroyed with it unsubscribe from the venue.
  std::unique_ptr<Venue> venue;
  std::unique_ptr<RestApi> rest;
  // The engine's listener; after the venue (it unsets itself on the engine) and before the
  // io_context (WebSocket API sessions detach from it when the io_context destroys them).
  std::unique_ptr<UserDataHub> user_data;
  std::list<std::weak_ptr<detail::Droppable>> ws_sessions;
  std::list<std::weak_ptr<detail::Droppable>> http_sessions;  // kept-alive REST connections
  std::int64_t next_drop_ms = 0;                              // --drop-every-ms
  std::int64_t next_stall_ms = 0;                             // --stall-every-ms
  std::int64_t shutdown_at_ms = 0;  // --server-shutdown-after-ms (steady ms; 0 = none)
  void expire_all(const char* why);
  void announce_shutdown_all();
  void housekeeping();
  std::uint64_t tick_no = 0;
  std::uint64_t sessions_opened = 0;
  std::map<std::string, std::int64_t> rest_requests;  // by path, for /_sim/status

  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  net::steady_timer market_timer{ioc};
  net::steady_timer tick_timer{ioc};
  net::signal_set signals{ioc};
  std::atomic<std::uint16_t> port{0};
  std::atomic<bool> stopping{false};
};

namespace detail {

// An accepted connection: HTTP/1.1 requests until it closes or upgrades (http_session.cpp).
void start_http_session(tcp::socket&& sock, SimServer::Impl& srv);
// A WebSocket upgrade request read on `sock`: the handshake, then the stream session
// (ws_session.cpp).
void start_ws_session(tcp::socket&& sock, SimServer::Impl& srv,
                      http::request<http::string_body> req);
// The same for /ws-api/v3: the WebSocket API session (ws_api_session.cpp).
void start_ws_api_session(tcp::socket&& sock, SimServer::Impl& srv,
                          const http::request<http::string_body>& req);

}  // namespace detail

}  // namespace cwts::sim_server
