// SimServer: cwts-sim, a Binance-compatible venue on one loopback port (REST + WebSocket streams).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cwts::sim_server {

// Everything the command line can set. Start-up values; SimServer copies them.
struct SimServerConfig {
  // Loopback only: the constructor refuses anything but 127.0.0.1. Port 0 picks a free port.
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 0;
  std::string exchange_info_path;  // plain or .gz exchangeInfo body

  // Market data: captures (`<recv ns> <payload>` lines, one symbol per file) or synthetic symbols.
  std::vector<std::string> captures;
  std::vector<std::string> synthetic;  // "BTCUSDT", ...
  double speed = 1.0;                  // capture replay speed; 0 = as fast as possible
  bool loop = false;                   // replay captures forever (update ids stay monotonic)
  bool rebase_time = false;            // replay with times shifted so the capture starts now
  double rate = 1000.0;                // synthetic stream events per second, all symbols
  std::int64_t clock_offset_ms = 0;    // the venue's clock = the host's + this (--clock-offset-ms)
  std::uint64_t seed = 1;              // synthetic generator

  // The one account.
  std::string api_key;
  std::string api_secret;
  std::string balances = "USDT=10000,BTC=1";  // --balance
  bool bnb_fees = false;  // --bnb-fees: commissions in BNB at 25% off when free BNB covers them

  // WebSocket rules (Binance: ping every 20 s, pong within 60 s, 5 incoming messages/s).
  std::chrono::milliseconds ping_interval{20'000};
  std::chrono::milliseconds pong_timeout{60'000};
  std::uint32_t ws_incoming_limit = 5;
  std::size_t max_ws_queue_frames = 1U << 20;  // a slower consumer is disconnected

  std::uint64_t request_weight_limit = 0;  // 0: REQUEST_WEIGHT from exchangeInfo
  std::string fault_json;                  // applied at start, same JSON as POST /_sim/fault
  // Periodic and scheduled faults (plain flags; 0 = off).
  std::int64_t drop_every_ms = 0;  // --drop-every-ms: drop every connection periodically
  std::int64_t stall_ms = 0;       // --stall-ms with --stall-every-ms: streams stall
  std::int64_t stall_every_ms = 0;
  std::int64_t server_shutdown_after_ms = 0;  // --server-shutdown-after-ms: serverShutdown once
  // Binance cuts every WebSocket connection at 24 h (a normal close).
  std::chrono::milliseconds max_connection_age{std::chrono::hours(24)};
  bool handle_signals = true;  // SIGTERM/SIGINT stop run() cleanly
};

// Threads: the constructor loads data and binds the socket (throws std::runtime_error or
// std::invalid_argument on bad configuration). run() serves on the calling thread until stop();
// everything (sessions, market replay, matching) runs on that thread, so the venue state needs
// no locks. port() and stop() may be called from any thread.
class SimServer {
 public:
  explicit SimServer(SimServerConfig cfg);
  ~SimServer();
  SimServer(const SimServer&) = delete;
  SimServer& operator=(const SimServer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept;
  void run();
  void stop() noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cwts::sim_server
