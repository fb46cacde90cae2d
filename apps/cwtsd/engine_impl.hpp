// Engine::Impl: the engine's private state, shared by its translation units (engine.cpp: start,
// stop and limits; engine_metrics.cpp: the snapshot and /metrics; engine_symbols.cpp: symbols
// added and removed at run time).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cwts/binance/exchange_info.hpp"
#include "cwts/core/rest_backoff.hpp"
#include "cwts/engine/average_price.hpp"
#include "cwts/feed/feed_client.hpp"
#include "cwts/shm/region.hpp"
#include "engine.hpp"
#include "exec/exec_engine.hpp"
#include "exec/slot_broker.hpp"
#include "md/md_thread.hpp"

namespace cwts::daemon {

// Whether `s` is in `v`.
inline bool listed(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Waits (at most `timeout_ms`) until the exec thread has applied limits `version`.
inline bool wait_version(const ExecEngine& exec, std::uint64_t version, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (exec.applied_version() < version) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

struct Engine::Impl {
  Impl(Engine& e, const Config& cfg, std::optional<Credentials> creds);

  Engine& owner;
  // The venue's 429/418 back-off: one IP, so one for the feed's snapshots, the order client and
  // the gateway's look-ups.
  std::shared_ptr<core::RestBackoff> rest_backoff = std::make_shared<core::RestBackoff>();
  std::vector<std::string> from_config;  // market.symbols as the file lists them
  std::string info_text;  // the exchangeInfo body as the venue sent it (the gateway serves it)
  binance::ExchangeInfo info;
  shm::RegionOptions ropts;
  // The symbols by id (ADR 0025): fixed storage, written by the ctl thread before name_count is
  // released; any thread reads [0, name_count).
  std::array<std::array<char, 17>, layout::kMaxSymbols> name_text{};
  std::array<std::string_view, layout::kMaxSymbols> name_views{};
  std::atomic<std::size_t> name_count{0};
  std::array<std::atomic<bool>, layout::kMaxSymbols> removed{};
  // The exchangeInfo entries of symbols added at run time (the md thread refers to them).
  std::array<std::unique_ptr<binance::SymbolSpec>, layout::kMaxSymbols> added_specs;
  // Every symbol's entry and JSON object by id (start-up info or added_specs); written by the ctl
  // thread before name_count is released, never again.
  std::array<const binance::SymbolSpec*, layout::kMaxSymbols> specs{};
  std::array<std::string, layout::kMaxSymbols> json_objects;
  binance::ExchangeInfoJson info_json;  // the start-up text's symbol objects

  // Symbols the market-data feed carries (feed::max_feed_symbols: its connections of 1,024
  // streams, market.streams each).
  std::size_t feed_symbols = 0;
  std::size_t streams_per_symbol = 1;
  // Symbols the engine can hold over the region's life: the market region's capacity, and the
  // feed's, whichever is smaller.
  [[nodiscard]] std::size_t symbol_limit() const noexcept {
    return std::min<std::size_t>(ropts.market_capacity.symbols, feed_symbols);
  }
  [[nodiscard]] std::string symbol_table_full() const {
    return ropts.market_capacity.symbols <= feed_symbols
               ? "the symbol table is full: the market region holds " +
                     std::to_string(ropts.market_capacity.symbols) + " symbols (region.max_symbols)"
               : "the symbol table is full: " + feed::feed_limit_reason(streams_per_symbol) +
                     " (region.max_symbols is " + std::to_string(ropts.market_capacity.symbols) +
                     ")";
  }

  [[nodiscard]] std::string json_object(std::string_view name) const {
    for (const auto& [n, object] : info_json.symbols) {
      if (n == name) return object;
    }
    return {};
  }
  std::vector<std::uint16_t> draining;  // ctl thread: removed, streams still subscribed
  std::string symbols_broken;           // ctl thread: why no symbol can be added any more

  void set_name(std::size_t id, std::string_view n) {
    std::memcpy(name_text[id].data(), n.data(), n.size());
    name_text[id][n.size()] = '\0';
    name_views[id] = std::string_view(name_text[id].data(), n.size());
  }
  [[nodiscard]] std::span<const std::string_view> names() const {
    return {name_views.data(), name_count.load(std::memory_order_acquire)};
  }
  shm::Region market;
  shm::Region signals_created;           // the engine's writable mapping: header and state only
  std::unique_ptr<SlotBroker> broker;    // grants the slots' memory (ADR 0021)
  engine::AveragePriceBoard avg_prices;  // md thread writes, exec thread reads
  std::unique_ptr<MdThread> md;
  std::unique_ptr<ExecEngine> exec;
  std::thread exec_thread;
  std::atomic<bool> exec_stop{false};
  std::atomic<bool> trading_stopped{false};  // stop_trading() done (or under way)
  bool started = false;
  bool stopped = false;
};

}  // namespace cwts::daemon
