// BinanceRestVenue: Binance spot REST (or cwts-sim) over kept-alive HTTP/1.1 connections, plain or
// TLS, with HMAC-SHA256 signed requests. Runs on the caller's io_context (the exec thread polls
// it). See docs/engine.md "Venues".
//
// Retries never create a second order: an order request whose outcome is unknown (timeout,
// disconnect, 5xx) is followed by GET /api/v3/order?origClientOrderId=…; an existing order is
// adopted, -2013 (does not exist) allows exactly one resend with the same newClientOrderId, and
// after that only queries. 4xx answers are final.
//
// With a WebSocket API URL, the venue also keeps one WebSocket API session open: it subscribes to
// the user data stream (userDataStream.subscribe.signature) at start and after every reconnect,
// and takes order states, fills and commissions from executionReport and balances from
// outboundAccountPosition. While that stream is live nothing is polled; after a gap in it the
// open orders and the account are read once over REST to reconcile. With order_transport kWs,
// orders and cancels go over that session too (REST while it is down). See docs/engine.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "cwts/core/rest_backoff.hpp"
#include "cwts/venue/venue.hpp"

namespace cwts::venue {

enum class OrderTransport : std::uint8_t { kRest, kWs };

struct BinanceRestOptions {
  std::string rest_url = "https://api.binance.com";
  std::string api_key;
  std::string api_secret;
  bool tls_verify = true;
  std::string ca_file;
  std::uint32_t recv_window_ms = 5000;
  std::uint32_t timeout_ms = 5000;
  std::uint32_t order_poll_ms = 500;
  std::uint32_t account_poll_ms = 5000;
  std::uint32_t connections = 2;
  std::uint32_t unknown_query_attempts = 5;  // failed queries before kUnknown (queries go on)
  std::string ws_api_url;  // "" = no WebSocket API: fills and balances are polled over REST
  // The WebSocket API session is dead after this long without a frame, ping or pong from the
  // venue (Binance pings every 20 s); a ping goes out at half of it.
  std::uint32_t ws_silence_ms = 60000;
  OrderTransport order_transport = OrderTransport::kRest;
  // The venue's 429/418 back-off, shared with the process's other clients of the same venue (the
  // feed's snapshots): nothing is sent while it holds. nullptr = this client's own.
  std::shared_ptr<core::RestBackoff> backoff;
};

class BinanceRestVenue final : public VenueClient {
 public:
  BinanceRestVenue(boost::asio::io_context& ioc, BinanceRestOptions options);
  ~BinanceRestVenue() override;
  BinanceRestVenue(const BinanceRestVenue&) = delete;
  BinanceRestVenue& operator=(const BinanceRestVenue&) = delete;

  void set_listener(VenueListener* l) noexcept override;
  // The base and quote assets of a symbol, to value commissions paid in the base asset.
  void set_symbol_assets(std::string_view symbol, std::string_view base, std::string_view quote);
  void place(const OrderRequest& r) override;
  void cancel(std::string_view client_order_id, std::string_view symbol) override;
  bool adopt(std::string_view client_order_id, std::string_view symbol,
             std::int64_t sent_ns) override;
  void tick(std::int64_t now_ns) override;
  [[nodiscard]] bool ready() const noexcept override;
  [[nodiscard]] std::size_t busy() const noexcept override;
  [[nodiscard]] VenueHealth health() const noexcept override;
  void warm() override;
  // The bytes the last warm() built and signed (never sent): the REST request, or the WebSocket
  // API frame when orders go over the session.
  [[nodiscard]] std::string_view last_warm_request() const noexcept;
  void stamp_order_writes(bool on) noexcept override;
  [[nodiscard]] std::int64_t last_order_write_ns() const noexcept override;

  struct Counters {
    std::uint64_t requests = 0;
    std::uint64_t responses = 0;
    std::uint64_t transport_errors = 0;
    std::uint64_t unknown_outcomes = 0;  // order requests followed by a status query
    std::uint64_t resends = 0;           // orders resent after -2013
    std::uint64_t connects = 0;
    std::uint64_t ws_connects = 0;    // WebSocket API sessions opened
    std::uint64_t stream_gaps = 0;    // user data stream lost after it was live
    std::uint64_t stream_events = 0;  // user data stream events received
    std::uint64_t ws_requests = 0;    // order requests sent over the WebSocket API
    std::uint64_t warm_requests = 0;  // order requests built and signed by warm(), never sent
    // Socket operations (REST connections', the WebSocket API session's) whose memory did not
    // fit their slots and was allocated instead
    std::uint64_t handler_spills = 0;
  };
  // True while the user data stream is subscribed (fills arrive without polling).
  [[nodiscard]] bool stream_live() const noexcept;
  // True once every order taken over with adopt() has its state from the venue and the
  // commissions of its fills (or has ended and been forgotten). Until then the account's balances
  // may hold fills of those orders, made while the engine was down, that the engine has not been
  // told of yet: its balance check takes no baseline from them.
  [[nodiscard]] bool adopted_orders_known() const noexcept;
  // The venue's clock minus this host's, measured with GET /api/v3/time (0 before that).
  [[nodiscard]] std::int64_t clock_offset_ns() const noexcept;
  [[nodiscard]] const Counters& counters() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cwts::venue
