// Engine: cwtsd's runtime — the two regions, the md thread (feed → pipeline → publisher), the exec
// thread (signals → validation → rate limits → venue → reports) and what the ctl thread asks of
// them (readiness, progress, status, reload, stop). See docs/engine.md and ADR 0009.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "cwts/binance/exchange_info.hpp"
#include "cwts/core/latency_histogram.hpp"
#include "cwts/shm/region.hpp"
#include "cwts/shm_layout/market_region.hpp"
#include "cwts/shm_layout/signal_region.hpp"
#include "hot_log.hpp"

namespace cwts::daemon {

class ExecEngine;
class SlotBroker;

// Names the calling thread and pins it to `t.core` (if >= 0); a failure is logged, not fatal.
void pin_current_thread(const char* name, const ThreadConfig& t);

struct EngineSnapshot {
  std::size_t symbols = 0;
  std::size_t books_valid = 0;
  std::uint64_t frames = 0;
  std::uint64_t parse_errors = 0;
  std::uint64_t gaps = 0;
  std::uint64_t resyncs = 0;
  std::uint64_t signals_seen = 0;
  std::uint64_t signals_accepted = 0;
  std::uint64_t signals_rejected = 0;
  std::uint64_t orders_sent = 0;
  std::uint64_t fills = 0;
  std::int64_t md_heartbeat_ns = 0;
  std::int64_t exec_heartbeat_ns = 0;
  bool venue_ready = false;
  std::uint64_t foreign_orders = 0;       // open orders on the account the engine did not send
  std::uint64_t journal_failures = 0;     // journal records not written (full)
  std::uint64_t position_mismatches = 0;  // base assets whose balance moved apart from positions
  std::int64_t venue_ban_until_ns = 0;    // the venue's IP ban (418) ends then (0 = none seen)
  layout::TradingState trading_state = layout::TradingState::kActive;
};

// A symbols.add / symbols.remove that cannot be done (unknown on the venue, table full, ...);
// nothing was changed. The message names the reason.
class SymbolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Engine {
 public:
  // Start-up: exchangeInfo (file or REST), both regions (kInitializing), the publisher, the feed
  // and the venue. Throws std::runtime_error (or ConfigError) naming what failed; nothing is left
  // behind (regions removed) when it does.
  Engine(Config cfg, std::optional<Credentials> credentials);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Publishes both regions (kLive) and starts the md and exec threads.
  void start();
  // Graceful stop: intake stops, open orders are cancelled or left (shutdown.on_stop), every
  // signal still open gets its final report, threads join, regions are marked closed and removed.
  void stop();
  // The first half of stop(), from any one thread: intake stops, open orders are settled, the
  // exec thread writes the final reports and joins; the regions stay (their readers, the control
  // plane's remote strategies among them, still read those reports). stop() does it if not done.
  void stop_trading();

  // ctl thread.
  [[nodiscard]] EngineSnapshot snapshot() const;
  [[nodiscard]] bool books_synced() const;
  // GET /metrics: Prometheus text exposition (version 0.0.4) of the engine's counters, gauges and
  // histograms. See docs/operations.md#metrics for every name.
  [[nodiscard]] std::string metrics_text(std::int64_t now_ns) const;
  // GET /readyz: "" when every book is synced and the venue connected, else what is missing.
  [[nodiscard]] std::string not_ready_reason() const;
  // True while both hot threads made progress within `timeout_ns`.
  [[nodiscard]] bool progressing(std::int64_t now_ns, std::int64_t timeout_ns) const;
  // SIGHUP: new risk limits (and slot policies) take effect on the exec thread's next loop.
  void reload(const Config& cfg);
  // ctl thread: the regions as the engine maps them (read-only use) and the symbols in id order.
  [[nodiscard]] const layout::MarketRegion& market_region() const;
  [[nodiscard]] const layout::SignalsRegion& signals_region() const;
  // Any thread: the symbols in id order — those configured, then those added at run time. The
  // names' storage is fixed (kMaxSymbols) and never moves; the count grows with release, so a
  // span taken now stays valid (it simply does not see later additions).
  [[nodiscard]] std::span<const std::string_view> symbol_names() const;
  // Any thread, for an id below symbol_names().size(): the symbol's exchangeInfo entry, and its
  // object as the venue wrote it ("" when the venue's text did not have it).
  [[nodiscard]] const binance::SymbolSpec& symbol_spec(std::size_t id) const;
  [[nodiscard]] std::string_view symbol_json(std::size_t id) const;
  // Any thread: false once symbols.remove took the symbol out of trading.
  [[nodiscard]] bool symbol_trading(std::size_t id) const noexcept;

  // ctl thread (ADR 0025). Adds each symbol at run time: its exchangeInfo entry (the start-up
  // one, or GET /api/v3/exchangeInfo?symbol=), the exec thread's rules and limits, the market
  // region's table entry (a kStatus event; symbol_count grows) with candles and indicators, its
  // streams (live SUBSCRIBE) and book sync. Returns each one's id once the md and exec threads
  // have it (its book may still be syncing). A symbol already there gives its id (added false;
  // one removed trades again, added true). Throws SymbolError, nothing changed, when a name is
  // bad, not on the venue, or the table lacks room for them all; and when a thread did not take
  // one within `timeout_ms` (the ones before it stay added).
  struct SymbolAdded {
    std::string symbol;
    std::uint16_t id = 0;
    bool added = false;
  };
  std::vector<SymbolAdded> add_symbols(std::span<const std::string> names, int timeout_ms);
  // ctl thread: new signals for the symbol are refused (UNKNOWN_SYMBOL) and its status in the
  // table becomes BREAK; its open orders go on until they are over, then poll_symbols()
  // unsubscribes its streams. Its id is never reused. Throws SymbolError (not a symbol of the
  // engine, or the last one trading).
  std::uint16_t remove_symbol(std::string_view name, int timeout_ms);
  // ctl tick: removed symbols whose last open order is over are unsubscribed.
  void poll_symbols();
  [[nodiscard]] const core::LatencyHistogram& publish_latency() const;
  // The venue's exchangeInfo, parsed and as sent (start-up values; any thread).
  [[nodiscard]] const binance::ExchangeInfo& exchange_info() const;
  [[nodiscard]] const std::string& exchange_info_text() const;
  // How the regions are found (a strategy-side attach inside the process: the gateway).
  [[nodiscard]] const shm::RegionOptions& region_options() const;
  // ctl thread: reload(), or cancel every open order, and wait (at most `timeout_ms`) until the
  // exec thread has applied it, so a signal sent afterwards is judged by the new limits. False at
  // the timeout.
  bool reload_and_wait(const Config& cfg, int timeout_ms);
  bool cancel_all_and_wait(int timeout_ms);
  [[nodiscard]] HotLog& hot_log() noexcept { return hot_log_; }
  // Any thread: a venue request made outside the exec thread (the gateway's look-ups) asks the
  // rate governor's leftover budget; true = send it (its weight is charged).
  [[nodiscard]] bool try_charge_venue_lookup(std::uint32_t weight) noexcept;
  // A look-up outside the exec thread got the venue's 429/418: every venue request of the engine
  // waits `wait_s` (Binance counts per IP and bans one that goes on). Any thread.
  void hold_venue_requests(std::int64_t wait_s) noexcept;
  // Whether the venue's back-off holds requests now (a 429/418 to any of the engine's clients).
  [[nodiscard]] bool venue_requests_held() const noexcept;
  // Whether the exec thread has read the venue's account since start (any thread).
  [[nodiscard]] bool balances_read() const noexcept;
  [[nodiscard]] const Config& config() const noexcept { return cfg_; }
  [[nodiscard]] std::string market_path() const;
  [[nodiscard]] std::string signals_path() const;
  // After start(): who holds which signal slot, in-process claims (the gateway).
  [[nodiscard]] SlotBroker& slot_broker();
  [[nodiscard]] const SlotBroker& slot_broker() const;

  // Test hook (CWTSD_TEST_HOOKS=1): the md thread sleeps this long on its next tick.
  void stall_md_for(std::int64_t ms) noexcept;

 private:
  // The limits a reload handed over, kept for symbols added later (their limits come from them).
  void keep_limits(const Config& cfg);
  // Writes the symbols added at run time and still trading to the journal directory, for the
  // next start (kept_symbols.hpp).
  void keep_symbols();
  std::uint16_t add_symbol(const std::string& name, std::unique_ptr<binance::SymbolSpec> spec,
                           std::string json, int timeout_ms, bool& added);

  struct Impl;
  Config cfg_;
  HotLog hot_log_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cwts::daemon
