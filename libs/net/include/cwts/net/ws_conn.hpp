// WsConn: one outgoing WebSocket connection attempt (plain or TLS) and its lifetime, for the feed's
// market streams and the venue's WebSocket API session.
#pragma once

#include <variant>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace cwts::net {

using PlainWs = boost::beast::websocket::stream<boost::beast::tcp_stream>;
using TlsWs = boost::beast::websocket::stream<boost::beast::ssl_stream<boost::beast::tcp_stream>>;

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
};

}  // namespace cwts::net
