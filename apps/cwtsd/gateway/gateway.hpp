// Gateway: the gateway thread. Serves Binance spot's REST protocol on a local port so that an
// unmodified Binance client (FreqTrade's ccxt, binance-sdk-spot) trades through the engine: every
// order it receives becomes a signal in the gateway's own slot and takes the same path as a
// shared-memory signal (validation, rate governor, exactly one terminal report, the venue); what
// it answers (status, fills, fees) comes from the engine's execution reports. Market data comes
// from the market region; what the engine does not hold (older klines, public trades) is fetched
// from the venue. See docs/gateway.md and ADR 0014.
//
// Owns: its io_context, the listening socket and connections, its order store (GatewayOrders),
// a worker thread for venue look-ups. Writes: its slot's signal ring (producer) and report cursor
// (the slot claim, like any strategy). Reads: the market region (books, quotes, candles,
// balances, its slot's report ring). Never touches: the exec thread's state or other slots.
#pragma once

#include <cstdint>
#include <memory>

#include "config/config.hpp"

namespace cwts::daemon {

class Engine;

class Gateway {
 public:
  // Binds cfg.gateway's address (throws std::runtime_error naming it when it cannot).
  Gateway(const Config& cfg, Engine& engine, Credentials credentials);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // After Engine::start(): claims the gateway's slot and starts the gateway thread. Throws
  // std::runtime_error if the slot is held by another process.
  void start();
  // Stops accepting, answers nothing more, joins the thread and releases the slot.
  void stop();
  [[nodiscard]] std::uint16_t port() const noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cwts::daemon
