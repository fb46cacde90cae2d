#include "engine.hpp"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "cwts/binance/exchange_info.hpp"
#include "cwts/concurrent/word_copy.hpp"
#include "cwts/core/ascii.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/engine/average_price.hpp"
#include "cwts/engine/validator.hpp"
#include "cwts/log/json_log.hpp"
#include "cwts/net/http_get.hpp"
#include "cwts/publish/shm_publisher.hpp"
#include "cwts/shm/region.hpp"
#include "engine_impl.hpp"
#include "exec/exec_engine.hpp"
#include "exec/slot_broker.hpp"
#include "kept_symbols.hpp"
#include "md/md_thread.hpp"

namespace cwts::daemon {

namespace cc = cwts::concurrent;

namespace {

using core::realtime_ns;

}  // namespace

// Pins the calling thread; a failure is logged, not fatal (the core may be offline in a VM).
void pin_current_thread(const char* name, const ThreadConfig& t) {
  ::pthread_setname_np(::pthread_self(), name);
  if (t.core < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<unsigned>(t.core), &set);
  const int rc = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
  log::log_event(rc == 0 ? spdlog::level::info : spdlog::level::warn, "engine",
                 rc == 0 ? "thread_pinned" : "thread_pin_failed",
                 log::LogFields().str("thread", name).num("core", t.core).num("errno", rc));
}

namespace {

shm::RegionOptions region_options(const Config& c) {
  const RegionConfig& r = c.region;
  shm::RegionOptions o;
  o.market_capacity.symbols = r.max_symbols;
  o.market_capacity.slots = r.max_slots;
  o.market_capacity.timeframes = static_cast<std::uint32_t>(c.market.timeframes_s.size());
  o.market_capacity.candles = r.candle_history;
  // 0: a Config not read from a file (parse_config resolves the default).
  o.market_capacity.book_depth =
      r.book_depth != 0 ? r.book_depth : static_cast<std::uint32_t>(layout::kDefaultBookDepth);
  o.instance = r.instance;
  o.hugepage_dir = r.hugepages == HugepageMode::kOff ? std::string() : r.hugepage_dir;
  o.shm_dir = r.shm_dir;
  o.group = r.group;
  o.market_mode = static_cast<mode_t>(r.market_mode);
  o.signals_mode = static_cast<mode_t>(r.signals_mode);
  o.lock_pages = r.lock_pages;
  return o;
}

// The longest the start waits out the venue's back-off (429/418 Retry-After) in all: under the
// systemd unit's TimeoutStartSec (120 s), so that a longer ban ends the start with a message.
constexpr std::int64_t kMaxStartBackoffS = 90;

// The exchangeInfo body: from venue.exchange_info_file, else from the venue for our symbols. A
// 429/418 is waited out and asked again (a restart inside the venue's back-off must neither exit
// nor go on into an IP ban); the wait holds `backoff` for the engine's other venue clients.
std::string load_info_text(const Config& cfg, core::RestBackoff& backoff) {
  std::uint64_t used_weight = 0;
  if (!cfg.venue.exchange_info_file.empty()) {
    return binance::read_file_maybe_gz(cfg.venue.exchange_info_file);
  }
  const std::string target =
      binance::exchange_info_target(cfg.market.symbols, 0, cfg.market.symbols.size());
  net::HttpGetOptions o;
  o.tls_verify = cfg.venue.tls_verify;
  o.ca_file = cfg.venue.ca_file;
  o.timeout = std::chrono::milliseconds(cfg.venue.request_timeout_ms * 2);
  o.used_weight_1m = &used_weight;
  std::int64_t waited_s = 0;
  for (;;) {
    try {
      std::string body = net::http_get(cfg.venue.rest_url, target, o);
      // What the venue counted for this IP this minute (an earlier run's requests too): the rate
      // governor starts from it, so a restart does not spend the minute's weight a second time.
      if (used_weight != 0) backoff.note_used_weight(used_weight);
      return body;
    } catch (const net::HttpStatusError& e) {
      const std::int64_t s = net::rate_limit_wait_s(e);
      if (s == 0) throw;
      if (waited_s + s > kMaxStartBackoffS) {
        throw std::runtime_error(std::string(e.what()) + " (the venue says wait " +
                                 std::to_string(s) + " s more: start again after that)");
      }
      backoff.hold_until(realtime_ns() + s * 1'000'000'000LL);
      log::log_event(spdlog::level::warn, "engine", "venue_backoff_at_start",
                     log::LogFields()
                         .num("http_status", static_cast<std::int64_t>(e.status()))
                         .num("retry_after_s", s)
                         .str("what", "exchangeInfo asked again after Retry-After"));
      std::this_thread::sleep_for(std::chrono::seconds(s));
      waited_s += s;
    }
  }
}

// `cfg` with the symbols a restart must keep appended (ADR 0025).
Config with_kept_symbols(Config cfg) {
  KeptSymbols k = kept_symbols(cfg);
  for (const auto* list : {&k.added, &k.orders_only})
    cfg.market.symbols.insert(cfg.market.symbols.end(), list->begin(), list->end());
  cfg.market.added_at_run_time = std::move(k.added);
  cfg.market.kept_for_orders = std::move(k.orders_only);
  return cfg;
}

}  // namespace

Engine::Impl::Impl(Engine& e, const Config& cfg, std::optional<Credentials> creds)
    : owner(e),
      info_text(load_info_text(cfg, *rest_backoff)),
      info(binance::parse_exchange_info(info_text)),
      ropts(daemon::region_options(cfg)),
      feed_symbols(feed::max_feed_symbols(cfg.market.streams.size())),
      streams_per_symbol(cfg.market.streams.size()) {
  std::vector<std::string_view> configured;
  for (const auto& s : cfg.market.symbols) {
    const bool kept =
        listed(cfg.market.added_at_run_time, s) || listed(cfg.market.kept_for_orders, s);
    if (!kept) from_config.push_back(s);
    if (info.find(s) == nullptr && kept) {
      log::log_event(spdlog::level::err, "engine", "kept_symbol_not_on_venue",
                     log::LogFields()
                         .str("symbol", s)
                         .str("why", "added at run time or in the journal, no longer listed"));
      continue;
    }
    if (info.find(s) == nullptr) {
      throw ConfigError("market.symbols", s + " is not in the venue's exchangeInfo");
    }
    if (configured.size() >= symbol_limit() || s.size() >= name_text[0].size()) {
      throw ConfigError("market.symbols", "at most " + std::to_string(symbol_limit()) +
                                              " symbols, with those symbols.add added and the "
                                              "journal keeps (" +
                                              symbol_table_full() + "), of at most 16 characters");
    }
    set_name(configured.size(), s);
    specs[configured.size()] = info.find(s);
    configured.emplace_back(s);
  }
  try {
    info_json = binance::split_exchange_info_json(info_text);
  } catch (const std::exception&) {
    // Parsed above, so it has its symbols; without the split the gateway serves what it can.
  }
  for (std::size_t k = 0; k < configured.size(); ++k) json_objects[k] = json_object(configured[k]);
  name_count.store(configured.size(), std::memory_order_release);
  if (cfg.region.hugepages == HugepageMode::kRequire) ropts.shm_dir.clear();
  market = shm::Region::create(layout::RegionKind::kMarket, ropts);
  try {
    signals_created = shm::Region::create(layout::RegionKind::kSignals, ropts);
    if (cfg.region.hugepages == HugepageMode::kRequire &&
        (market.backing() != shm::Backing::kHugePages ||
         signals_created.backing() != shm::Backing::kHugePages)) {
      throw std::runtime_error(
          "region.hugepages is \"require\" but the regions are not on huge pages");
    }
    md = std::make_unique<MdThread>(cfg, info, configured, market, avg_prices, rest_backoff);
    exec = std::make_unique<ExecEngine>(cfg, info, market.as<layout::MarketRegion>(),
                                        owner.hot_log_, std::move(creds), rest_backoff);
    exec->set_average_prices(&avg_prices);
  } catch (...) {
    if (signals_created.valid()) signals_created.remove();
    market.remove();
    throw;
  }
}

Engine::Engine(Config cfg, std::optional<Credentials> credentials)
    : cfg_(with_kept_symbols(std::move(cfg))),
      impl_(std::make_unique<Impl>(*this, cfg_, std::move(credentials))) {}

Engine::~Engine() {
  try {
    stop();
  } catch (...) {
  }
}

void Engine::start() {
  Impl& i = *impl_;
  i.exec->bind_signals(i.market.header().epoch_ns);
  i.exec->set_intake_publisher([&i](layout::RegionState s) { i.signals_created.set_state(s); });
  i.exec->open_journal();
  i.market.set_state(layout::RegionState::kLive);
  i.md->start();
  i.exec_thread = std::thread([this] {
    pin_current_thread("cwtsd-exec", cfg_.exec_thread);
    try {
      impl_->exec->run(impl_->exec_stop);
    } catch (const std::exception& e) {
      log::log_event(spdlog::level::critical, "exec", "thread_failed",
                     log::LogFields().str("error", e.what()));
    }
  });
  i.started = true;
  // Claims from now on: the exec thread runs, and the intake is live.
  i.signals_created.set_state(layout::RegionState::kLive);
  i.broker = std::make_unique<SlotBroker>(
      cfg_, *i.exec, i.signals_created.as<layout::SignalsRegion>().header.state);
  i.broker->start(shm::claim_socket_path(i.signals_created.path()));
  log::log_event(
      spdlog::level::info, "engine", "started",
      log::LogFields()
          .str("market_region", i.market.path())
          .str("signals_region", i.signals_created.path())
          .str("backing", i.market.backing() == shm::Backing::kHugePages ? "hugepages" : "shm")
          .boolean("locked", i.market.locked())
          .unum("epoch_ns", i.market.header().epoch_ns)
          .unum("symbols", i.names().size()));
  if (!cfg_.market.added_at_run_time.empty() || !cfg_.market.kept_for_orders.empty()) {
    std::string added, orders;
    for (const auto& s : cfg_.market.added_at_run_time) added += (added.empty() ? "" : ",") + s;
    for (const auto& s : cfg_.market.kept_for_orders) orders += (orders.empty() ? "" : ",") + s;
    log::log_event(
        spdlog::level::warn, "engine", "symbols_kept",
        log::LogFields().str("added_at_run_time", added).str("open_orders_only", orders));
  }
  // Known for their open orders only: tracked until those are over, no new signals.
  for (const auto& s : cfg_.market.kept_for_orders) {
    try {
      if (listed(std::vector<std::string>(i.names().begin(), i.names().end()), s))
        (void)remove_symbol(s, 5000);
    } catch (const std::exception& e) {
      log::log_event(spdlog::level::err, "engine", "kept_symbol_not_closed",
                     log::LogFields().str("symbol", s).str("error", e.what()));
    }
  }
}

void Engine::stop_trading() {
  Impl& i = *impl_;
  if (!i.started || i.trading_stopped.exchange(true)) return;
  // The exec thread stops intake, settles open orders (cancel or leave) and writes the final
  // reports before it returns; the feed keeps the books (and the paper venue) alive meanwhile.
  i.exec_stop.store(true, std::memory_order_release);
  if (i.exec_thread.joinable()) i.exec_thread.join();
}

void Engine::stop() {
  Impl& i = *impl_;
  if (i.stopped) return;
  i.stopped = true;
  if (i.started) {
    stop_trading();
    if (i.broker) i.broker->stop();  // the holders' connections close: their slots are gone
    i.md->stop();
  }
  hot_log_.drain();
  i.signals_created.remove();
  i.market.remove();
  log::log_event(spdlog::level::info, "engine", "stopped");
}

const binance::ExchangeInfo& Engine::exchange_info() const { return impl_->info; }
bool Engine::try_charge_venue_lookup(std::uint32_t weight) noexcept {
  // The back-off first: the exec thread's published headroom learns of it a loop later.
  return !venue_requests_held() && impl_->exec->try_charge_lookup(weight);
}
bool Engine::balances_read() const noexcept { return impl_->exec->balances_read(); }
bool Engine::venue_requests_held() const noexcept {
  return impl_->rest_backoff->holds(realtime_ns());
}
void Engine::hold_venue_requests(std::int64_t wait_s) noexcept {
  impl_->rest_backoff->hold_until(realtime_ns() + wait_s * 1'000'000'000LL);
}
const shm::RegionOptions& Engine::region_options() const { return impl_->ropts; }
const std::string& Engine::exchange_info_text() const { return impl_->info_text; }

std::string Engine::not_ready_reason() const {
  const EngineSnapshot s = snapshot();
  std::string r;
  if (s.books_valid != s.symbols) {
    r += std::to_string(s.symbols - s.books_valid) + " of " + std::to_string(s.symbols) +
         " books not synced";
  }
  if (!s.venue_ready) r += std::string(r.empty() ? "" : "; ") + "venue not connected";
  if (const std::int64_t left = s.venue_ban_until_ns - core::realtime_ns(); left > 0) {
    r += std::string(r.empty() ? "" : "; ") + "venue ban (HTTP 418): nothing is sent for " +
         std::to_string((left + 999'999'999) / 1'000'000'000) + " s";
  }
  return r;
}

bool Engine::books_synced() const {
  const EngineSnapshot s = snapshot();
  return s.books_valid == s.symbols;
}

bool Engine::progressing(std::int64_t now_ns, std::int64_t timeout_ns) const {
  const EngineSnapshot s = snapshot();
  return now_ns - s.md_heartbeat_ns < timeout_ns && now_ns - s.exec_heartbeat_ns < timeout_ns;
}

bool Engine::reload_and_wait(const Config& cfg, int timeout_ms) {
  if (impl_->broker) impl_->broker->set_policies(cfg);
  const std::uint64_t v = impl_->exec->reload(cfg, impl_->names());
  keep_limits(cfg);
  return wait_version(*impl_->exec, v, timeout_ms);
}

bool Engine::cancel_all_and_wait(int timeout_ms) {
  return wait_version(*impl_->exec, impl_->exec->request_cancel_all(), timeout_ms);
}
const layout::MarketRegion& Engine::market_region() const {
  return impl_->market.as<layout::MarketRegion>();
}
const layout::SignalsRegion& Engine::signals_region() const {
  return impl_->signals_created.as<layout::SignalsRegion>();
}
std::span<const std::string_view> Engine::symbol_names() const { return impl_->names(); }
const binance::SymbolSpec& Engine::symbol_spec(std::size_t id) const { return *impl_->specs[id]; }
std::string_view Engine::symbol_json(std::size_t id) const { return impl_->json_objects[id]; }
bool Engine::symbol_trading(std::size_t id) const noexcept {
  return id < layout::kMaxSymbols && !impl_->removed[id].load(std::memory_order_relaxed);
}

const core::LatencyHistogram& Engine::publish_latency() const {
  return impl_->md->publisher().publish_latency();
}

void Engine::reload(const Config& cfg) {
  (void)impl_->exec->reload(cfg, impl_->names());
  if (impl_->broker) impl_->broker->set_policies(cfg);
  keep_limits(cfg);
}

void Engine::keep_limits(const Config& cfg) {
  cfg_.risk = cfg.risk;
  cfg_.risk_overrides = cfg.risk_overrides;
  cfg_.slots = cfg.slots;
  cfg_.default_slot = cfg.default_slot;
  cfg_.log.level = cfg.log.level;
}

void Engine::stall_md_for(std::int64_t ms) noexcept { impl_->md->stall_for(ms); }

std::string Engine::market_path() const { return impl_->market.path(); }
std::string Engine::signals_path() const { return impl_->signals_created.path(); }
SlotBroker& Engine::slot_broker() { return *impl_->broker; }
const SlotBroker& Engine::slot_broker() const { return *impl_->broker; }

}  // namespace cwts::daemon
