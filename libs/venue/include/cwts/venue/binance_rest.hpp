// BinanceRestVenue: Binance spot REST (or cwts-sim) over kept-alive HTTP/1.1 connections, plain or
// TLS, with HMAC-SHA256 signed requests. Runs on the caller's io_context (the exec thread polls
// it). See docs/engine.md "Venues".
//
// Retries never create a second order: an order request whose outcome is unknown (timeout,
// disconnect, 5xx) is followed by GET /api/v3/order?origClientOrderId=…; an existing order is
// adopted, -2013 (does not exist) allows exactly one resend with the same newClientOrderId, and
// after that only queries. 4xx answers are final.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "cwts/venue/venue.hpp"

namespace cwts::venue {

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

  struct Counters {
    std::uint64_t requests = 0;
    std::uint64_t responses = 0;
    std::uint64_t transport_errors = 0;
    std::uint64_t unknown_outcomes = 0;  // order requests followed by a status query
    std::uint64_t resends = 0;           // orders resent after -2013
    std::uint64_t connects = 0;
  };
  [[nodiscard]] const Counters& counters() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cwts::venue
