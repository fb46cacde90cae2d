// WsConn: one outgoing WebSocket connection attempt (plain or TLS) and its lifetime, for the feed's
// market streams and the venue's WebSocket API session.
#pragma once

#include <memory>
#include <variant>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "cwts/net/handler_memory.hpp"

namespace cwts::net {

// A TCP stream on the io_context's own executor. beast::tcp_stream's is the type-erased
// any_io_executor, through which Boost 1.74 completes every operation by way of a function object
// it allocates from a one-block per-thread cache: a heap allocation whenever completions nest and
// miss it (a REST write's completion starting the answer's read: twice an order), whatever the
// handler's allocator. The feed's and the venue client's streams are these (handler_memory.hpp,
// ADR 0044).
using TcpStream =
    boost::beast::basic_stream<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;
using PlainWs = boost::beast::websocket::stream<TcpStream>;
using TlsWs = boost::beast::websocket::stream<boost::beast::ssl_stream<TcpStream>>;

// Held by shared_ptr so completion handlers keep it alive after the client has moved on to a
// newer connection; a handler whose connection is no longer the client's current one does nothing
// (that is how stale completions are fenced).
struct WsConn {
  WsConn(boost::asio::io_context& ioc, boost::asio::ssl::context* tls) : resolver(ioc) {
    if (tls != nullptr) {
      ws.emplace<TlsWs>(ioc, *tls);
    } else {
      ws.emplace<PlainWs>(ioc);
    }
  }

  template <class F>
  void visit(F&& f) {
    if (auto* p = std::get_if<PlainWs>(&ws)) {
      f(*p);
    } else if (auto* t = std::get_if<TlsWs>(&ws)) {
      f(*t);
    }
  }

  void close_socket() noexcept {
    resolver.cancel();
    visit([](auto& s) { boost::beast::get_lowest_layer(s).close(); });
  }

  std::variant<std::monostate, PlainWs, TlsWs> ws;
  boost::asio::ip::tcp::resolver resolver;
  boost::beast::flat_buffer buffer;
  boost::beast::websocket::response_type handshake_response;
  // The memory of its reads' and writes' operations (handler_memory.hpp, through slots_of()): a
  // frame read or written allocates nothing.
  HandlerSlots slots;
};

// `c`'s slots for with_slots(), sharing `c`'s ownership: the connection outlives every operation
// whose memory is in them.
inline std::shared_ptr<HandlerSlots> slots_of(const std::shared_ptr<WsConn>& c) noexcept {
  return {c, &c->slots};
}

}  // namespace cwts::net
