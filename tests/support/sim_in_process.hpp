// cwts-sim in this process on a thread of its own, for the venue client's tests and benchmarks
// (which drive the client on theirs, venue_pump.hpp), and the market orders they place on it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "cwts/venue/venue.hpp"
#include "json_log.hpp"
#include "sim_server.hpp"

namespace cwts::test {

// A synthetic BTCUSDT market with the venue's rules from `exchange_info_path`, API key "k" and
// secret "s", and balances to trade with; its log on stderr, warnings and worse.
class SimInProcess {
 public:
  explicit SimInProcess(const std::string& exchange_info_path) {
    sim_server::init_json_log(spdlog::level::warn);
    sim_server::SimServerConfig sc;
    sc.exchange_info_path = exchange_info_path;
    sc.synthetic = {"BTCUSDT"};
    sc.api_key = "k";
    sc.api_secret = "s";
    sc.balances = "USDT=100000000,BTC=1000";
    sc.handle_signals = false;
    sim_ = std::make_unique<sim_server::SimServer>(sc);
    thread_ = std::thread([this] { sim_->run(); });
  }
  ~SimInProcess() {
    sim_->stop();
    thread_.join();
  }
  SimInProcess(const SimInProcess&) = delete;
  SimInProcess& operator=(const SimInProcess&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return sim_->port(); }
  [[nodiscard]] std::string http_url() const {
    return "http://127.0.0.1:" + std::to_string(port());
  }
  [[nodiscard]] std::string ws_url() const { return "ws://127.0.0.1:" + std::to_string(port()); }

 private:
  std::unique_ptr<sim_server::SimServer> sim_;
  std::thread thread_;
};

// Counts the orders that ended (their final update, or refused) and those refused; the first
// refusal and every venue error go to stderr.
struct OrderEnds : venue::VenueListener {
  void on_order_event(const venue::OrderEvent& e) override {
    if (e.kind != venue::EventKind::kUpdate || venue::is_final(e.status)) ++finals;
    if (e.kind != venue::EventKind::kUpdate && refused++ == 0) {
      std::fprintf(stderr, "refused: %d %.*s\n", e.code, static_cast<int>(e.message.size()),
                   e.message.data());
    }
  }
  void on_venue_error(std::string_view what) override {
    std::fprintf(stderr, "venue: %.*s\n", static_cast<int>(what.size()), what.data());
  }
  std::uint64_t finals = 0;
  std::uint64_t refused = 0;
};

// Market order number `i` for 0.001 BTCUSDT, a buy when i is even, a sell when odd, with the
// client order id `cid`.
inline venue::OrderRequest market_order(std::uint64_t i, const char* cid) {
  venue::OrderRequest r;
  std::snprintf(r.symbol, sizeof r.symbol, "BTCUSDT");
  r.side = i % 2 == 0 ? layout::Side::kBuy : layout::Side::kSell;
  r.type = layout::OrderType::kMarket;
  r.qty = core::Qty{100'000};  // 0.001
  std::snprintf(r.client_order_id, sizeof r.client_order_id, "%s", cid);
  return r;
}

}  // namespace cwts::test
