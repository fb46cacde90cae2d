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

shm::RegionOptions region_options(const RegionConfig& r) {
  shm::RegionOptions o;
  o.instance = r.instance;
  o.hugepage_dir = r.hugepages == HugepageMode::kOff ? std::string() : r.hugepage_dir;
  o.shm_dir = r.shm_dir;
  o.group = r.group;
  o.market_mode = static_cast<mode_t>(r.market_mode);
  o.signals_mode = static_cast<mode_t>(r.signals_mode);
  o.lock_pages = r.lock_pages;
  return o;
}

// The exchangeInfo body: from venue.exchange_info_file, else from the venue for our symbols.
std::string load_info_text(const Config& cfg) {
  if (!cfg.venue.exchange_info_file.empty()) {
    return binance::read_file_maybe_gz(cfg.venue.exchange_info_file);
  }
  std::string target = "/api/v3/exchangeInfo?symbols=[";
  for (std::size_t i = 0; i < cfg.market.symbols.size(); ++i) {
    target += (i == 0 ? "%22" : ",%22") + cfg.market.symbols[i] + "%22";
  }
  target += "]";
  net::HttpGetOptions o;
  o.tls_verify = cfg.venue.tls_verify;
  o.ca_file = cfg.venue.ca_file;
  o.timeout = std::chrono::milliseconds(cfg.venue.request_timeout_ms * 2);
  return net::http_get(cfg.venue.rest_url, target, o);
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

bool listed(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

struct Engine::Impl {
  Impl(Engine& e, const Config& cfg, std::optional<Credentials> creds)
      : owner(e),
        info_text(load_info_text(cfg)),
        info(binance::parse_exchange_info(info_text)),
        ropts(daemon::region_options(cfg.region)) {
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
      if (configured.size() >= layout::kMaxSymbols || s.size() >= name_text[0].size()) {
        throw ConfigError("market.symbols", "at most " + std::to_string(layout::kMaxSymbols) +
                                                " symbols of at most 16 characters");
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
    for (std::size_t k = 0; k < configured.size(); ++k)
      json_objects[k] = json_object(configured[k]);
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
  bool started = false;
  bool stopped = false;
};

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

void Engine::stop() {
  Impl& i = *impl_;
  if (i.stopped) return;
  i.stopped = true;
  if (i.started) {
    // The exec thread stops intake, settles open orders (cancel or leave) and writes the final
    // reports before it returns; the feed keeps the books (and the paper venue) alive meanwhile.
    i.exec_stop.store(true, std::memory_order_release);
    if (i.exec_thread.joinable()) i.exec_thread.join();
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
  return impl_->exec->try_charge_lookup(weight);
}
const shm::RegionOptions& Engine::region_options() const { return impl_->ropts; }
const std::string& Engine::exchange_info_text() const { return impl_->info_text; }

EngineSnapshot Engine::snapshot() const {
  const Impl& i = *impl_;
  const auto& m = i.market.as<layout::MarketRegion>();
  EngineSnapshot s;
  // Readiness counts the symbols that trade: a removed one's book is no longer kept.
  const std::size_t n = i.names().size();
  for (std::size_t k = 0; k < n; ++k) {
    if (i.removed[k].load(std::memory_order_relaxed)) continue;
    ++s.symbols;
    if (cc::load_word(m.symbols[k].book_valid, std::memory_order_acquire) != 0) ++s.books_valid;
  }
  const auto rd = [](const std::uint64_t& w) {
    return cc::load_word(w, std::memory_order_relaxed);
  };
  s.frames = rd(m.status.md.frames);
  s.parse_errors = rd(m.status.md.parse_errors);
  s.gaps = rd(m.status.md.gaps);
  s.resyncs = rd(m.status.md.resyncs);
  s.signals_seen = rd(m.status.exec.signals_seen);
  s.signals_accepted = rd(m.status.exec.signals_accepted);
  s.signals_rejected = rd(m.status.exec.signals_rejected);
  s.orders_sent = rd(m.status.exec.orders_sent);
  s.fills = rd(m.status.exec.fills);
  s.trading_state = static_cast<layout::TradingState>(rd(m.status.exec.trading_state));
  s.md_heartbeat_ns = i.md->heartbeat_ns();
  s.exec_heartbeat_ns = i.exec->heartbeat_ns();
  s.venue_ready = i.exec->venue_ready();
  s.foreign_orders = i.exec->foreign_orders();
  s.journal_failures = i.exec->journal_failures();
  s.position_mismatches = i.exec->position_mismatches();
  s.venue_ban_until_ns = i.exec->venue_ban_until_ns();
  return s;
}

namespace {

// Prometheus text format helpers: one family (HELP, TYPE) then its samples.
class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // labels: already formatted `a="x",b="y"` (or empty).
  void sample(std::string_view name, std::string_view labels, double v) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    char buf[64];
    const int n = std::snprintf(buf, sizeof buf, " %.17g\n", v);
    out_.append(buf, static_cast<std::size_t>(n));
  }
  void sample(std::string_view name, std::string_view labels, std::uint64_t v) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += std::to_string(v);
    out_ += '\n';
  }
  void counter(std::string_view name, std::string_view help, std::uint64_t v) {
    family(name, "counter", help);
    sample(name, "", v);
  }
  void gauge(std::string_view name, std::string_view help, double v) {
    family(name, "gauge", help);
    sample(name, "", v);
  }
  void histogram(std::string_view name, std::string_view help,
                 const core::LatencyHistogram::Snapshot& h) {
    family(name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    std::uint64_t cum = 0;
    for (std::size_t i = 0; i < core::LatencyHistogram::kBuckets; ++i) {
      cum += h.buckets[i];
      char le[48];
      if (i < core::LatencyHistogram::kBoundsNs.size()) {
        std::snprintf(le, sizeof le, "le=\"%g\"",
                      static_cast<double>(core::LatencyHistogram::kBoundsNs[i]) / 1e9);
      } else {
        std::snprintf(le, sizeof le, "le=\"+Inf\"");
      }
      sample(bucket, le, cum);
    }
    sample(std::string(name) + "_sum", "", static_cast<double>(h.sum_ns) / 1e9);
    sample(std::string(name) + "_count", "", cum);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string Engine::metrics_text(std::int64_t now_ns) const {
  const Impl& i = *impl_;
  const auto& m = i.market.as<layout::MarketRegion>();
  const EngineSnapshot s = snapshot();
  Exposition e;
  e.counter("cwts_md_frames_total", "Market-data frames received (all streams).", s.frames);
  e.counter("cwts_md_parse_errors_total", "Frames that did not parse.", s.parse_errors);
  e.counter("cwts_md_gaps_total", "Order-book update-id gaps detected.", s.gaps);
  e.counter("cwts_md_resyncs_total", "Order-book resynchronisations (snapshot + replay).",
            s.resyncs);
  e.counter("cwts_md_events_published_total", "Events published to the market region's event ring.",
            cc::load_word(m.status.md.events_published, std::memory_order_relaxed));
  e.histogram("cwts_md_publish_latency_seconds",
              "Frame received -> event published in shared memory.",
              i.md->publisher().publish_latency().snapshot());
  e.family("cwts_md_messages_total", "counter", "Market-data messages per stream kind.");
  static constexpr std::pair<publish::ShmPublisher::Stream, const char*> kStreams[] = {
      {publish::ShmPublisher::Stream::kDepth, "depth"},
      {publish::ShmPublisher::Stream::kBookTicker, "bookTicker"},
      {publish::ShmPublisher::Stream::kTrade, "trade"},
      {publish::ShmPublisher::Stream::kAggTrade, "aggTrade"},
      {publish::ShmPublisher::Stream::kKline, "kline"}};
  for (const auto& [stream, name] : kStreams) {
    e.sample("cwts_md_messages_total", std::string("stream=\"") + name + "\"",
             i.md->publisher().messages(stream));
  }
  e.family("cwts_book_valid", "gauge", "1 while the symbol's order book is synced.");
  const auto names = i.names();
  for (std::size_t k = 0; k < names.size(); ++k) {
    const bool valid = cc::load_word(m.symbols[k].book_valid, std::memory_order_acquire) != 0;
    e.sample("cwts_book_valid", "symbol=\"" + std::string(names[k]) + "\"", valid ? 1.0 : 0.0);
  }
  e.gauge("cwts_books_valid", "Symbols whose order book is synced.",
          static_cast<double>(s.books_valid));
  e.counter("cwts_signals_seen_total", "Signals taken from the strategies' rings.", s.signals_seen);
  e.family("cwts_signals_total", "counter", "Signals by outcome of validation and rate limits.");
  e.sample("cwts_signals_total", "outcome=\"accepted\"", s.signals_accepted);
  e.sample("cwts_signals_total", "outcome=\"rejected\"", s.signals_rejected);
  e.family(
      "cwts_reports_total", "counter",
      "Execution reports sent to strategies, by kind and reason (REJECTED: why; RATE_LIMITED = "
      "rate-limit rejections).");
  for (std::uint8_t kind = 1; kind <= 8; ++kind) {
    for (std::uint16_t reason = 0; reason < 32; ++reason) {
      const std::uint64_t n = i.exec->reports_sent(kind, reason);
      if (n == 0 && reason != 0) continue;
      e.sample("cwts_reports_total",
               std::string("kind=\"") + engine::to_string(static_cast<layout::ReportKind>(kind)) +
                   "\",reason=\"" + engine::to_string(static_cast<layout::RejectReason>(reason)) +
                   "\"",
               n);
    }
  }
  e.counter("cwts_orders_sent_total", "Orders sent to the venue.", s.orders_sent);
  e.family("cwts_venue_usage", "gauge",
           "The venue's count of this account's usage from its last response headers (0 before the "
           "first).");
  e.sample("cwts_venue_usage", "limit=\"request_weight_1m\"", i.exec->venue_used_weight_1m());
  e.sample("cwts_venue_usage", "limit=\"orders_10s\"", i.exec->venue_orders_10s());
  e.sample("cwts_venue_usage", "limit=\"orders_1d\"", i.exec->venue_orders_1d());
  // The venue's limits for the same windows (exchangeInfo rateLimits), so usage / limit is one
  // expression (dashboards, the weight-near-the-limit alert); absent when the venue lists none.
  e.family("cwts_venue_limit", "gauge",
           "The venue's limit per window (exchangeInfo rateLimits), for the cwts_venue_usage "
           "windows.");
  for (const auto& l : i.info.rate_limits) {
    const char* name = nullptr;
    if (l.type == binance::RateLimitType::kRequestWeight &&
        l.interval == binance::RateInterval::kMinute && l.interval_num == 1) {
      name = "request_weight_1m";
    } else if (l.type == binance::RateLimitType::kOrders &&
               l.interval == binance::RateInterval::kSecond && l.interval_num == 10) {
      name = "orders_10s";
    } else if (l.type == binance::RateLimitType::kOrders &&
               l.interval == binance::RateInterval::kDay && l.interval_num == 1) {
      name = "orders_1d";
    }
    if (name != nullptr)
      e.sample("cwts_venue_limit", std::string("limit=\"") + name + "\"", l.limit);
  }
  // Ring occupancy per claimed slot: signals waiting for the engine, reports waiting for the
  // strategy.
  const auto holders =
      i.broker ? i.broker->holders() : std::array<SlotBroker::Holder, layout::kMaxSlots>{};
  e.family("cwts_ring_occupancy", "gauge", "Records waiting in a claimed slot's rings.");
  for (std::size_t k = 0; k < layout::kMaxSlots; ++k) {
    if (!holders[k].held) continue;
    const std::string slot = "slot=\"" + std::to_string(k) + "\"";
    const std::uint64_t sp = holders[k].signals_published, sc = m.slots[k].signal_cursor.consumed();
    const std::uint64_t rp = m.slots[k].reports.published(), rc = holders[k].reports_consumed;
    e.sample("cwts_ring_occupancy", slot + ",ring=\"signals\"", sp > sc ? sp - sc : 0);
    e.sample("cwts_ring_occupancy", slot + ",ring=\"reports\"", rp > rc ? rp - rc : 0);
  }
  // Lapped readers: slot owners (cwts_bridge) count the events the event ring overwrote before
  // they read them; the engine cannot see a reader's position, the reader tells it.
  e.family("cwts_reader_events_lapped_total", "counter",
           "Events a slot's owner lost to event-ring laps.");
  std::size_t lapped_readers = 0;
  for (std::size_t k = 0; k < layout::kMaxSlots; ++k) {
    if (!holders[k].held) continue;
    const std::uint64_t lost = holders[k].events_lapped;
    if (lost > 0) ++lapped_readers;
    e.sample("cwts_reader_events_lapped_total", "slot=\"" + std::to_string(k) + "\"", lost);
  }
  e.gauge("cwts_lapped_readers", "Claimed slots whose owner has been lapped by the event ring.",
          static_cast<double>(lapped_readers));
  e.counter("cwts_fills_total", "Fills reported by the venue.", s.fills);
  e.counter("cwts_foreign_orders_total",
            "Open orders seen on the account that this engine did not send (alert).",
            s.foreign_orders);
  e.counter("cwts_position_mismatches_total",
            "Times a base asset's balance moved differently from the engine's positions (alert).",
            s.position_mismatches);
  e.counter("cwts_journal_failures_total",
            "Order journal records that could not be written (the journal is full).",
            s.journal_failures);
  e.gauge("cwts_journal_used_bytes", "The order journal's fill level (0 without a journal).",
          static_cast<double>(i.exec->journal_used_bytes()));
  e.gauge("cwts_journal_capacity_bytes", "The order journal's size (0 without a journal).",
          static_cast<double>(i.exec->journal_capacity_bytes()));
  e.gauge("cwts_venue_connected", "1 while the venue answers.", s.venue_ready ? 1.0 : 0.0);
  e.gauge("cwts_venue_user_stream_live",
          "1 while the user data stream is subscribed (fills arrive without polling).",
          i.exec->stream_live() ? 1.0 : 0.0);
  e.counter("cwts_venue_user_stream_events_total", "User data stream events received.",
            i.exec->stream_events());
  e.counter("cwts_venue_user_stream_gaps_total",
            "Times the user data stream was lost after being live (each reconciled over REST).",
            i.exec->stream_gaps());
  e.gauge("cwts_venue_clock_offset_seconds",
          "The venue's clock minus this host's (GET /api/v3/time, every minute).",
          static_cast<double>(i.exec->clock_offset_ns()) / 1e9);
  e.gauge("cwts_venue_ban_seconds",
          "Seconds left of the venue's IP ban (HTTP 418 Retry-After; 0 = none): nothing is sent.",
          static_cast<double>(
              std::max<std::int64_t>(0, i.exec->venue_ban_until_ns() - core::realtime_ns())) /
              1e9);
  e.gauge("cwts_venue_backoff_seconds",
          "Seconds left of the venue's last 429/418 Retry-After, to the order client or the feed's "
          "snapshots (one IP; 0 = none): no REST or WebSocket API request is sent meanwhile.",
          static_cast<double>(
              std::max<std::int64_t>(0, i.rest_backoff->until_ns() - core::realtime_ns())) /
              1e9);
  e.family("cwts_venue_backoffs_total", "counter",
           "Times the venue said back off: HTTP 429 (weight or order limit hit) or 418 (IP ban).");
  e.sample("cwts_venue_backoffs_total", "http_status=\"429\"", i.exec->venue_backoffs(429));
  e.sample("cwts_venue_backoffs_total", "http_status=\"418\"", i.exec->venue_backoffs(418));
  e.gauge("cwts_venue_tracked_orders",
          "Orders the venue client follows (open, or their fees not known yet).",
          static_cast<double>(i.exec->venue_tracked_orders()));
  e.gauge("cwts_venue_kept_requests",
          "Order requests the venue client keeps for a possible resend (dropped when the order is "
          "over).",
          static_cast<double>(i.exec->venue_kept_requests()));
  e.family("cwts_trading_state", "gauge", "1 for the engine's trading state.");
  for (const auto st : {layout::TradingState::kActive, layout::TradingState::kHalted,
                        layout::TradingState::kReduceOnly}) {
    e.sample("cwts_trading_state", std::string("state=\"") + engine::to_string(st) + "\"",
             s.trading_state == st ? 1.0 : 0.0);
  }
  e.gauge("cwts_ready", "1 while /readyz answers 200 (books synced, venue connected, no ban).",
          not_ready_reason().empty() ? 1.0 : 0.0);
  e.gauge("cwts_progress_timeout_seconds",
          "Heartbeat age past which a hot thread counts as stalled: /healthz answers 503 and "
          "systemd's watchdog is no longer fed (systemd.progress_timeout_ms).",
          static_cast<double>(cfg_.systemd.progress_timeout_ms) / 1e3);
  e.family("cwts_thread_heartbeat_age_seconds", "gauge", "Time since the hot thread's last loop.");
  e.sample("cwts_thread_heartbeat_age_seconds", "thread=\"md\"",
           static_cast<double>(std::max<std::int64_t>(0, now_ns - s.md_heartbeat_ns)) / 1e9);
  e.sample("cwts_thread_heartbeat_age_seconds", "thread=\"exec\"",
           static_cast<double>(std::max<std::int64_t>(0, now_ns - s.exec_heartbeat_ns)) / 1e9);
  return e.take();
}

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

namespace {
bool wait_version(const ExecEngine& exec, std::uint64_t version, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (exec.applied_version() < version) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}
}  // namespace

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

namespace {

// The symbols' exchangeInfo entries from the venue, one request for them all
// (GET /api/v3/exchangeInfo?symbols=[...]); missing from the map when the venue does not list
// them. Binance refuses the whole request (-1121 "Invalid symbol.", HTTP 400) when one is unknown:
// then each is asked alone, so the error can name it.
struct FetchedSymbol {
  std::unique_ptr<binance::SymbolSpec> spec;
  std::string json;  // its object as the venue wrote it
};
std::vector<FetchedSymbol> fetch_symbol_specs(const Config& cfg,
                                              const std::vector<std::string>& names,
                                              Engine& engine) {
  net::HttpGetOptions o;
  o.tls_verify = cfg.venue.tls_verify;
  o.ca_file = cfg.venue.ca_file;
  o.timeout = std::chrono::milliseconds(cfg.venue.request_timeout_ms * 2);
  std::vector<FetchedSymbol> out(names.size());
  const auto ask = [&](std::size_t first, std::size_t last) {
    // exchangeInfo weighs 20: charged to the engine's budget like the gateway's look-ups.
    if (!engine.try_charge_venue_lookup(20)) {
      throw SymbolError(
          "the venue's request-weight budget is spent for now; ask again in a minute");
    }
    std::string target = "/api/v3/exchangeInfo?symbols=[";
    for (std::size_t k = first; k < last; ++k) {
      target += (k == first ? "%22" : ",%22") + names[k] + "%22";
    }
    target += "]";
    const std::string body = net::http_get(cfg.venue.rest_url, target, o);
    const binance::ExchangeInfo info = binance::parse_exchange_info(body);
    const binance::ExchangeInfoJson objects = binance::split_exchange_info_json(body);
    for (std::size_t k = first; k < last; ++k) {
      if (const binance::SymbolSpec* spec = info.find(names[k])) {
        out[k].spec = std::make_unique<binance::SymbolSpec>(*spec);
      }
      for (const auto& [n, object] : objects.symbols) {
        if (n == names[k]) out[k].json = object;
      }
    }
  };
  const auto unknown = [](const std::string& what) {
    return what.find("-1121") != std::string::npos ||
           what.find("Invalid symbol") != std::string::npos;
  };
  try {
    ask(0, names.size());
  } catch (const SymbolError&) {
    throw;
  } catch (const std::exception& e) {
    if (!unknown(e.what())) {
      throw SymbolError("exchangeInfo could not be fetched: " + std::string(e.what()));
    }
    for (std::size_t k = 0; k < names.size(); ++k) {
      try {
        ask(k, k + 1);
      } catch (const SymbolError&) {
        throw;
      } catch (const std::exception& e1) {
        if (!unknown(e1.what())) {
          throw SymbolError("exchangeInfo for " + names[k] +
                            " could not be fetched: " + std::string(e1.what()));
        }
        break;  // this one is unknown: the caller names it
      }
    }
  }
  return out;
}

bool wait_until(const std::function<bool()>& done, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

}  // namespace

namespace {
std::string normalise_symbol(std::string_view requested) {
  const std::string name = core::ascii_upper(requested);
  if (name.empty() || name.size() > 16 || !std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      })) {
    throw SymbolError("bad symbol \"" + std::string(requested) +
                      "\": 1 to 16 letters and digits, e.g. SOLUSDT");
  }
  return name;
}
}  // namespace

std::vector<Engine::SymbolAdded> Engine::add_symbols(std::span<const std::string> requested,
                                                     int timeout_ms) {
  Impl& i = *impl_;
  // Everything that can refuse the request is checked first (names, the venue, capacity):
  // an unknown symbol changes nothing, whatever its place in the list.
  std::vector<std::string> wanted;
  for (const std::string& r : requested) {
    std::string n = normalise_symbol(r);
    if (std::find(wanted.begin(), wanted.end(), n) == wanted.end()) wanted.push_back(std::move(n));
  }
  const auto names = i.names();
  std::vector<std::unique_ptr<binance::SymbolSpec>> specs(wanted.size());
  std::vector<std::string> jsons(wanted.size());
  std::vector<std::string> to_fetch;
  std::size_t fresh = 0;
  for (std::size_t k = 0; k < wanted.size(); ++k) {
    if (std::find(names.begin(), names.end(), wanted[k]) != names.end()) continue;
    ++fresh;
    // The start-up exchangeInfo has it when it came from a file (every symbol) or listed it.
    if (const binance::SymbolSpec* known = i.info.find(wanted[k])) {
      specs[k] = std::make_unique<binance::SymbolSpec>(*known);
      jsons[k] = i.json_object(wanted[k]);
    } else if (cfg_.venue.exchange_info_file.empty()) {
      to_fetch.push_back(wanted[k]);
    }
  }
  if (names.size() + fresh > layout::kMaxSymbols) {
    throw SymbolError("the symbol table is full: the market region holds kMaxSymbols = " +
                      std::to_string(layout::kMaxSymbols) + " symbols (" +
                      std::to_string(names.size()) + " in use, " + std::to_string(fresh) +
                      " asked for; ids are not reused)");
  }
  if (!to_fetch.empty()) {
    auto fetched = fetch_symbol_specs(cfg_, to_fetch, *this);
    for (std::size_t f = 0, k = 0; k < wanted.size(); ++k) {
      if (f < to_fetch.size() && wanted[k] == to_fetch[f]) {
        specs[k] = std::move(fetched[f].spec);
        jsons[k] = std::move(fetched[f++].json);
      }
    }
  }
  for (std::size_t k = 0; k < wanted.size(); ++k) {
    if (std::find(names.begin(), names.end(), wanted[k]) != names.end()) continue;
    if (!specs[k]) {
      throw SymbolError(wanted[k] + " is not a symbol of the venue (not in its exchangeInfo)");
    }
  }
  std::vector<SymbolAdded> out;
  for (std::size_t k = 0; k < wanted.size(); ++k) {
    bool added = false;
    const std::uint16_t id =
        add_symbol(wanted[k], std::move(specs[k]), std::move(jsons[k]), timeout_ms, added);
    out.push_back({wanted[k], id, added});
    if (added) keep_symbols();
  }
  return out;
}

void Engine::keep_symbols() {
  Impl& i = *impl_;
  std::vector<std::string> added;
  const auto names = i.names();
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (!i.removed[k].load(std::memory_order_relaxed) && !listed(i.from_config, names[k]))
      added.emplace_back(names[k]);
  }
  (void)write_kept_symbols(cfg_, added);
}

std::uint16_t Engine::add_symbol(const std::string& name, std::unique_ptr<binance::SymbolSpec> spec,
                                 std::string json, int timeout_ms, bool& added) {
  Impl& i = *impl_;
  added = false;
  const auto names = i.names();
  for (std::size_t id = 0; id < names.size(); ++id) {
    if (names[id] != name) continue;
    const auto sid = static_cast<std::uint16_t>(id);
    if (!i.removed[id].load(std::memory_order_relaxed)) return sid;  // idempotent
    // Removed earlier: it trades again under its id (re-subscribed if it was unsubscribed).
    const binance::SymbolSpec* known =
        i.added_specs[id] ? i.added_specs[id].get() : i.info.find(name);
    auto done = std::make_shared<std::atomic<int>>(0);
    i.md->add_symbol(*known, done);
    if (!wait_until([&] { return done->load(std::memory_order_acquire) != 0; }, timeout_ms) ||
        done->load() < 0) {
      throw SymbolError("the md thread did not take " + name + " back within " +
                        std::to_string(timeout_ms) + " ms");
    }
    if (!wait_version(*i.exec, i.exec->set_symbol_closed(sid, false), timeout_ms)) {
      throw SymbolError("the exec thread did not reopen " + name + " within " +
                        std::to_string(timeout_ms) + " ms");
    }
    std::erase(i.draining, sid);
    i.removed[id].store(false, std::memory_order_relaxed);
    added = true;
    log::log_event(spdlog::level::warn, "engine", "symbol_readded",
                   log::LogFields().str("symbol", name).unum("id", sid));
    return sid;
  }
  if (!i.symbols_broken.empty()) throw SymbolError(i.symbols_broken);
  const std::size_t id = names.size();
  if (id >= layout::kMaxSymbols) {
    throw SymbolError("the symbol table is full: the market region holds kMaxSymbols = " +
                      std::to_string(layout::kMaxSymbols) + " symbols (ids are not reused)");
  }
  if (!spec) throw SymbolError(name + " is not a symbol of the venue (not in its exchangeInfo)");
  const auto sid = static_cast<std::uint16_t>(id);
  // Every thread's state for the id is written before anything is handed over: the exec thread
  // first (limits for the new list, then the rules), then the md thread (table, streams).
  i.added_specs[id] = std::move(spec);
  const binance::SymbolSpec& s = *i.added_specs[id];
  i.specs[id] = &s;
  i.json_objects[id] = std::move(json);
  i.set_name(id, name);
  std::vector<std::string_view> next(names.begin(), names.end());
  next.push_back(i.name_views[id]);
  (void)i.exec->reload(cfg_, next);
  i.exec->add_symbol(sid, s);
  auto done = std::make_shared<std::atomic<int>>(0);
  i.md->add_symbol(s, done);
  const bool md_ok =
      wait_until([&] { return done->load(std::memory_order_acquire) != 0; }, timeout_ms) &&
      done->load(std::memory_order_acquire) > 0;
  const bool exec_ok = wait_until([&] { return i.exec->symbols_adopted() > id; }, timeout_ms);
  // Published either way: the exec thread may have it, and ids must stay in step.
  i.name_count.store(id + 1, std::memory_order_release);
  if (!md_ok || !exec_ok) {
    // The threads' ids could diverge from here: no more additions until a restart.
    i.symbols_broken = "adding symbols is disabled: " + name + " was not taken by the " +
                       (md_ok ? "exec" : "md") + " thread within " + std::to_string(timeout_ms) +
                       " ms (restart the engine)";
    i.removed[id].store(true, std::memory_order_relaxed);
    (void)i.exec->set_symbol_closed(sid, true);
    throw SymbolError(i.symbols_broken);
  }
  added = true;
  log::log_event(spdlog::level::warn, "engine", "symbol_added",
                 log::LogFields().str("symbol", name).unum("id", sid).str("status", s.status_text));
  return sid;
}

std::uint16_t Engine::remove_symbol(std::string_view requested, int timeout_ms) {
  Impl& i = *impl_;
  const std::string name = core::ascii_upper(requested);
  const auto names = i.names();
  std::size_t id = names.size();
  std::size_t trading = 0;
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (names[k] == name) id = k;
    if (!i.removed[k].load(std::memory_order_relaxed)) ++trading;
  }
  if (id == names.size()) throw SymbolError(name + " is not a symbol of this engine");
  const auto sid = static_cast<std::uint16_t>(id);
  if (i.removed[id].load(std::memory_order_relaxed)) return sid;  // idempotent
  if (trading <= 1) throw SymbolError(name + " is the last symbol trading: it stays");
  // Refused from this limits version on; the positions' open_orders the exec thread publishes
  // after it are final but for the orders that end.
  if (!wait_version(*i.exec, i.exec->set_symbol_closed(sid, true), timeout_ms)) {
    throw SymbolError("the exec thread did not close " + name + " within " +
                      std::to_string(timeout_ms) + " ms");
  }
  i.removed[id].store(true, std::memory_order_relaxed);
  i.md->retire_symbol(sid);
  i.draining.push_back(sid);
  keep_symbols();
  log::log_event(spdlog::level::warn, "engine", "symbol_removed",
                 log::LogFields().str("symbol", name).unum("id", sid));
  poll_symbols();
  return sid;
}

void Engine::poll_symbols() {
  Impl& i = *impl_;
  if (i.draining.empty()) return;
  const auto& m = i.market.as<layout::MarketRegion>();
  std::erase_if(i.draining, [&](std::uint16_t id) {
    if (m.symbols[id].position.load().open_orders != 0) return false;
    i.md->unsubscribe_symbol(std::string(i.name_views[id]));
    log::log_event(spdlog::level::info, "engine", "symbol_unsubscribed",
                   log::LogFields().str("symbol", i.name_views[id]).unum("id", id));
    return true;
  });
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
