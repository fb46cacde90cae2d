// The WebSocket transport shared by SimServer's stream sessions (ws_session.cpp) and WebSocket API
// sessions (ws_api_session.cpp): the handshake, pings with a pong timeout, the outgoing frame
// queue with its slow-consumer cut, drop / expire / serverShutdown and the cleanup.
//
// A CRTP base: Derived supplies
//   static constexpr const char* kLogComponent;            // "ws", "ws-api"
//   void on_control(websocket::frame_type kind);          // after a control frame (pong noted)
//   void on_open();                                        // accepted and registered
//   void on_incoming();                                    // a message read, before closed_ check
//   void on_message(std::string text);                     // (or const std::string&)
//   bool hold_writes();                                    // true: leave the queue for now
//   std::string shutdown_frame(std::int64_t event_ms);     // the serverShutdown frame
//   void on_cleanup();                                     // closing: detach from the server
// and calls cleanup() from its destructor.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "json_log.hpp"
#include "sim_server_impl.hpp"

namespace cwts::sim_server::detail {

template <class Derived>
class WsServerSession : public std::enable_shared_from_this<Derived>, public Droppable {
 public:
  void drop() override {
    if (closed_) return;
    cleanup();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  // The 24 h cut: a normal close frame (code 1000), then the socket goes.
  void expire() override {
    if (closed_ || !accepted_) return;
    cleanup();
    ws_.async_close(websocket::close_code::normal,
                    [self = this->shared_from_this()](beast::error_code) {
                      beast::error_code ec;
                      beast::get_lowest_layer(self->ws_).socket().close(ec);
                    });
  }

  // Binance: `serverShutdown` precedes a disconnection (the frame is the session's own); the
  // session closes 200 ms later.
  void announce_shutdown(std::int64_t event_ms) override {
    if (closed_ || !accepted_) return;
    enqueue(std::make_shared<const std::string>(derived().shutdown_frame(event_ms)));
    aux_timer_.expires_after(std::chrono::milliseconds(200));
    aux_timer_.async_wait([self = this->shared_from_this()](beast::error_code) { self->expire(); });
  }

  [[nodiscard]] std::int64_t opened_ms() const override { return opened_ms_; }

 protected:
  WsServerSession(tcp::socket&& sock, SimServer::Impl& srv)
      : ws_(std::move(sock)),
        srv_(srv),
        ping_timer_(ws_.get_executor()),
        aux_timer_(ws_.get_executor()) {}

  // The handshake on `req` (the upgrade request), with the session's message size limit.
  void accept(const http::request<http::string_body>& req, std::size_t read_message_max) {
    target_ = std::string(req.target());
    ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(10),
                                                   websocket::stream_base::none(), false});
    ws_.read_message_max(read_message_max);
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) last_pong_ms_ = steady_ms();
      derived().on_control(kind);
    });
    ws_.async_accept(
        req, [self = this->shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  // Queues a frame; a consumer with max_ws_queue_frames already queued is dropped.
  void enqueue(std::shared_ptr<const std::string> frame) {
    if (closed_) return;
    if (q_.size() >= srv_.cfg.max_ws_queue_frames) {
      log_event(spdlog::level::warn, Derived::kLogComponent, "slow_consumer_dropped",
                LogFields().num("queued", static_cast<std::int64_t>(q_.size())));
      drop();
      return;
    }
    q_.push_back(std::move(frame));
    if (!writing_) do_write();
  }

  void do_write() {
    if (closed_ || !accepted_ || q_.empty()) return;
    if (derived().hold_writes()) return;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(*q_.front()),
                    [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                      self->writing_ = false;
                      if (ec) {
                        self->cleanup();
                        return;
                      }
                      self->q_.pop_front();
                      self->do_write();
                    });
  }

  void cleanup() {
    if (closed_) return;
    closed_ = true;
    derived().on_cleanup();
    // A write in flight still reads the front frame until its handler runs: keep that one alive.
    if (writing_ && !q_.empty()) {
      auto in_flight = std::move(q_.front());
      q_.clear();
      q_.push_back(std::move(in_flight));
    } else {
      q_.clear();
    }
    beast::error_code ec;
    ping_timer_.cancel(ec);
    aux_timer_.cancel(ec);
  }

  websocket::stream<beast::tcp_stream> ws_;
  SimServer::Impl& srv_;
  net::steady_timer ping_timer_;
  // The serverShutdown close delay (the stream session also times its stalls on it).
  net::steady_timer aux_timer_;
  beast::flat_buffer rbuf_;
  std::string target_;
  std::deque<std::shared_ptr<const std::string>> q_;
  std::int64_t last_pong_ms_ = 0;
  std::int64_t opened_ms_ = 0;
  bool writing_ = false;
  bool closed_ = false;
  bool accepted_ = false;
  bool pinging_ = false;

 private:
  Derived& derived() { return static_cast<Derived&>(*this); }

  void on_accept(beast::error_code ec) {
    if (ec) {
      cleanup();
      return;
    }
    accepted_ = true;
    opened_ms_ = steady_ms();
    srv_.ws_sessions.push_back(this->weak_from_this());
    ++srv_.sessions_opened;
    derived().on_open();
    last_pong_ms_ = steady_ms();
    arm_ping();
    do_read();
    if (!q_.empty() && !writing_) do_write();
  }

  void arm_ping() {
    ping_timer_.expires_after(srv_.cfg.ping_interval);
    ping_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      const auto& cfg = self->srv_.cfg;
      if (steady_ms() - self->last_pong_ms_ >
          static_cast<std::int64_t>(cfg.pong_timeout.count() + cfg.ping_interval.count())) {
        log_event(spdlog::level::info, Derived::kLogComponent, "pong_timeout");
        self->drop();
        return;
      }
      if (!self->pinging_) {
        self->pinging_ = true;
        self->ws_.async_ping({}, [self](beast::error_code) { self->pinging_ = false; });
      }
      self->arm_ping();
    });
  }

  void do_read() {
    ws_.async_read(rbuf_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        if (!self->closed_)
          log_event(spdlog::level::info, Derived::kLogComponent, "session_closed",
                    LogFields().str("reason", ec.message()));
        self->cleanup();
        return;
      }
      self->on_incoming();
      if (self->closed_) return;
      std::string text = beast::buffers_to_string(self->rbuf_.data());
      self->rbuf_.consume(self->rbuf_.size());
      self->on_message(std::move(text));
      self->do_read();
    });
  }
};

}  // namespace cwts::sim_server::detail
