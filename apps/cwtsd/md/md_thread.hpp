// MdThread: cwtsd's md thread — venue streams in, books and candles out to the market region.
//
// Owns: the feed client (WebSocket streams, REST snapshots, reconnects), the pipeline and its
// books, the publisher (every byte of the market region except the exec-written status and
// positions), the candle builders and indicators, the region's heartbeat. Writes: the market
// region (single writer of books, events, candles, indicators, md status), its heartbeat atomic.
// Never touches: the signals region, orders, the venue's order connections (exec thread).
// Constructed and started by the Engine on the main thread; heartbeat_ns() and stall_for() are
// safe from any thread, everything else is md-thread or start-up only.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "cwts/binance/exchange_info.hpp"
#include "cwts/feed/feed_client.hpp"
#include "cwts/publish/shm_publisher.hpp"
#include "cwts/shm/region.hpp"
#include "md/average_price_tap.hpp"

namespace cwts::daemon {

class MdThread {
 public:
  // Start-up: the publisher over `market` (which must outlive this), indicator history from the
  // venue's REST klines when configured, the feed client. Each symbol's average price (the
  // venue's avgPriceMins VWAP) goes to `avg_prices` (which must outlive this) for the exec
  // thread. Throws on bad configuration.
  MdThread(const Config& cfg, const binance::ExchangeInfo& info,
           const std::vector<std::string_view>& symbols, shm::Region& market,
           engine::AveragePriceBoard& avg_prices, std::shared_ptr<core::RestBackoff> rest_backoff);
  ~MdThread();
  MdThread(const MdThread&) = delete;
  MdThread& operator=(const MdThread&) = delete;

  // Starts the thread (pinned and idling as md_thread configures); stop() ends the feed and joins.
  void start();
  void stop();

  // CLOCK_REALTIME of the thread's last housekeeping tick (<= 100 ms apart while it runs).
  [[nodiscard]] std::int64_t heartbeat_ns() const noexcept {
    return heartbeat_ns_.load(std::memory_order_relaxed);
  }
  // Test hook: the thread sleeps `ms` on its next tick (a stalled md thread on demand).
  void stall_for(std::int64_t ms) noexcept { stall_ms_.store(ms, std::memory_order_relaxed); }

  // Run-time symbols (ADR 0025). Any thread (the ctl thread): each posts a command the md thread
  // runs between frames. add_symbol: the symbol table entry (publisher), its average price, then
  // its streams (live SUBSCRIBE) and book sync; `done` becomes 1 once the entry is published (or
  // -1 if the md thread refused it; the error is logged). `spec` must outlive the engine.
  void add_symbol(const binance::SymbolSpec& spec, std::shared_ptr<std::atomic<int>> done);
  // The symbol no longer trades: its published status becomes kBreak (a kStatus event).
  void retire_symbol(std::uint16_t id);
  // Its streams are unsubscribed and its book invalidated (after its last order is over).
  void unsubscribe_symbol(std::string name);

  // Read by the ctl thread for /metrics: the publisher's counters are atomics or snapshots.
  [[nodiscard]] const publish::ShmPublisher& publisher() const noexcept { return *publisher_; }
  // The feed's frame reads that allocated their handler memory (FeedClient::Counters, atomics).
  [[nodiscard]] std::uint64_t feed_handler_spills() const noexcept {
    return feed_->counters().handler_spills;
  }

 private:
  void on_tick(md::Pipeline& p);  // md thread, from the feed's housekeeping tick
  void run();

  const Config& cfg_;
  shm::Region& market_;
  std::unique_ptr<publish::ShmPublisher> publisher_;
  std::unique_ptr<AveragePriceTap> tap_;  // in front of the publisher
  std::unique_ptr<feed::FeedClient> feed_;
  std::thread thread_;
  // Relaxed: a liveness hint read by the ctl thread; nothing is published through it.
  std::atomic<std::int64_t> heartbeat_ns_{0};
  std::atomic<std::int64_t> stall_ms_{0};
};

}  // namespace cwts::daemon
