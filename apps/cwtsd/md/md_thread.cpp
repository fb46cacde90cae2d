#include "md/md_thread.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

#include <simdjson.h>

#include "cwts/core/clock.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/log/json_log.hpp"
#include "cwts/net/http_get.hpp"
#include "engine.hpp"

namespace cwts::daemon {

namespace {

// Seeds the indicators with the venue's closed klines (GET /api/v3/klines), oldest first, so they
// are warm from the first live candle. Start-up only (the md thread is not running yet). A failed
// request is logged and skipped: those indicators then warm up on live candles. A 429/418, or a
// back-off the venue asked for already, ends the seeding: the rest warm up on live candles, and
// the back-off holds the engine's other venue requests (more requests inside Retry-After get
// the IP banned).
void seed_indicator_history(const Config& cfg, publish::ShmPublisher& pub,
                            core::RestBackoff* backoff) {
  net::HttpGetOptions o;
  o.tls_verify = cfg.venue.tls_verify;
  o.ca_file = cfg.venue.ca_file;
  o.timeout = std::chrono::milliseconds(cfg.venue.request_timeout_ms * 2);
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  for (std::size_t id = 0; id < cfg.market.symbols.size(); ++id) {
    for (const std::uint32_t tf_s : cfg.market.timeframes_s) {
      const int tf = pub.candles().index_of(tf_s);
      if (tf < 0) continue;
      const auto sid = static_cast<std::uint16_t>(id);
      const auto stf = static_cast<std::uint8_t>(tf);
      const std::size_t need = pub.indicator_warmup(sid, stf);
      if (need == 0) continue;
      const std::size_t limit = std::min<std::size_t>(1000, std::max<std::size_t>(need * 4, 100));
      const std::string& sym = cfg.market.symbols[id];
      const std::string target = "/api/v3/klines?symbol=" + sym +
                                 "&interval=" + interval_name(tf_s) +
                                 "&limit=" + std::to_string(limit);
      std::size_t seeded = 0;
      if (backoff != nullptr && backoff->holds(core::realtime_ns())) {
        log::log_event(
            spdlog::level::warn, "md", "indicator_history_stopped",
            log::LogFields()
                .str("symbol", sym)
                .str("timeframe", interval_name(tf_s))
                .str("why", "the venue said back off: the rest warm up on live candles"));
        return;
      }
      try {
        const std::string body = net::http_get(cfg.venue.rest_url, target, o);
        simdjson::dom::parser parser;
        simdjson::dom::array rows;
        if (parser.parse(body).get_array().get(rows) != simdjson::SUCCESS) {
          throw std::runtime_error("klines: the answer is not a JSON array");
        }
        for (simdjson::dom::element row : rows) {
          simdjson::dom::array k;
          std::int64_t open_ms = 0, close_ms = 0, trades = 0;
          if (row.get_array().get(k) != simdjson::SUCCESS || k.at(0).get_int64().get(open_ms) ||
              k.at(6).get_int64().get(close_ms) || k.at(8).get_int64().get(trades)) {
            throw std::runtime_error(
                "klines: a row is not [openTime, o, h, l, c, v, closeTime, q, n, ...]");
          }
          if (close_ms >= now_ms) continue;  // the open kline: live trades build it
          layout::Candle c{};
          c.open_time_ms = open_ms;
          std::int64_t* fields[] = {&c.open.raw, &c.high.raw, &c.low.raw, &c.close.raw,
                                    &c.volume.raw};
          for (std::size_t f = 0; f < 5; ++f) {
            std::string_view text;
            if (k.at(f + 1).get_string().get(text) != simdjson::SUCCESS ||
                core::parse_fixed(text, md::kWireDecimals, *fields[f]) != core::DecimalErrc::kOk) {
              throw std::runtime_error("klines: a price or volume is not a decimal string");
            }
          }
          c.trades = static_cast<std::uint32_t>(trades);
          c.closed = 1;
          pub.seed_closed_candle(sid, stf, c);
          ++seeded;
        }
        log::log_event(spdlog::level::info, "md", "indicator_history",
                       log::LogFields()
                           .str("symbol", sym)
                           .str("timeframe", interval_name(tf_s))
                           .num("candles", static_cast<std::int64_t>(seeded)));
      } catch (const std::exception& e) {
        if (const std::int64_t wait_s = net::rate_limit_wait_s(e); wait_s > 0) {
          if (backoff != nullptr)
            backoff->hold_until(core::realtime_ns() + wait_s * 1'000'000'000LL);
          log::log_event(spdlog::level::warn, "md", "indicator_history_stopped",
                         log::LogFields()
                             .str("symbol", sym)
                             .str("timeframe", interval_name(tf_s))
                             .num("retry_after_s", wait_s)
                             .str("error", e.what())
                             .str("why", "the rest warm up on live candles"));
          return;
        }
        log::log_event(spdlog::level::warn, "md", "indicator_history_failed",
                       log::LogFields()
                           .str("symbol", sym)
                           .str("timeframe", interval_name(tf_s))
                           .str("error", e.what()));
      }
    }
  }
}

feed::FeedConfig feed_config(const Config& cfg, std::shared_ptr<core::RestBackoff> rest_backoff) {
  feed::FeedConfig f;
  f.rest_backoff = std::move(rest_backoff);
  f.ws_url = cfg.venue.ws_url;
  f.rest_url = cfg.venue.rest_url;
  f.symbols = cfg.market.symbols;
  f.streams = cfg.market.streams;
  f.snapshot_limit = cfg.market.snapshot_limit;
  f.tls_verify_peer = cfg.venue.tls_verify;
  f.ca_file = cfg.venue.ca_file;
  f.user_agent = "cwtsd/0.1";
  return f;
}
}  // namespace

MdThread::MdThread(const Config& cfg, const binance::ExchangeInfo& info,
                   const std::vector<std::string_view>& symbols, shm::Region& market,
                   engine::AveragePriceBoard& avg_prices,
                   std::shared_ptr<core::RestBackoff> rest_backoff)
    : cfg_(cfg), market_(market) {
  publish::PublisherOptions popts;
  popts.indicators = cfg.indicators;
  publisher_ = std::make_unique<publish::ShmPublisher>(market.as<layout::MarketRegion>(), info,
                                                       symbols, cfg.market.timeframes_s, popts);
  if (cfg.market.indicator_history && !cfg.indicators.empty()) {
    seed_indicator_history(cfg, *publisher_, rest_backoff.get());
  }
  std::vector<std::uint32_t> minutes;
  for (const std::string_view name : symbols) {
    const binance::SymbolSpec* spec = info.find(name);
    // No avgPriceMins (no NOTIONAL / MIN_NOTIONAL filter): Binance's usual 5.
    const std::uint32_t m = spec != nullptr ? spec->notional_avg_price_mins : 0xFFFFFFFFU;
    minutes.push_back(m == 0xFFFFFFFFU ? 5U : m);
  }
  tap_ = std::make_unique<AveragePriceTap>(*publisher_, avg_prices, minutes);
  feed_ = std::make_unique<feed::FeedClient>(feed_config(cfg, std::move(rest_backoff)), tap_.get());
  feed_->set_tick_hook([this](md::Pipeline& p) { on_tick(p); });
}

MdThread::~MdThread() { stop(); }

void MdThread::start() {
  heartbeat_ns_.store(core::realtime_ns(), std::memory_order_relaxed);
  thread_ = std::thread([this] { run(); });
}

void MdThread::stop() {
  if (!thread_.joinable()) return;
  feed_->stop();
  thread_.join();
}

void MdThread::run() {
  pin_current_thread("cwtsd-md", cfg_.md_thread);
  try {
    switch (cfg_.md_thread.idle) {
      case IdleStrategy::kBusySpin:
        feed_->run_spinning(false);
        break;
      case IdleStrategy::kSpinThenYield:
        feed_->run_spinning(true);
        break;
      case IdleStrategy::kBlock:
        feed_->run();
        break;
    }
  } catch (const std::exception& e) {
    log::log_event(spdlog::level::critical, "md", "thread_failed",
                   log::LogFields().str("error", e.what()));
  }
}

void MdThread::add_symbol(const binance::SymbolSpec& spec, std::shared_ptr<std::atomic<int>> done) {
  feed_->post([this, &spec, done = std::move(done)] {
    try {
      // The table entry first: the pipeline routes the symbol's first frame by name to it.
      const std::size_t before = publisher_->symbol_count();
      publisher_->add_symbol(spec);
      if (publisher_->symbol_count() > before) {
        // No avgPriceMins (no NOTIONAL / MIN_NOTIONAL filter): Binance's usual 5.
        const std::uint32_t m = spec.notional_avg_price_mins;
        tap_->add(m == 0xFFFFFFFFU ? 5U : m);
      }
      feed_->add_symbol(spec.name);
      done->store(1, std::memory_order_release);
    } catch (const std::exception& e) {
      log::log_event(spdlog::level::err, "md", "symbol_add_failed",
                     log::LogFields().str("symbol", spec.name).str("error", e.what()));
      done->store(-1, std::memory_order_release);
    }
  });
}

void MdThread::retire_symbol(std::uint16_t id) {
  feed_->post([this, id] { publisher_->set_symbol_status(id, layout::SymbolStatus::kBreak); });
}

void MdThread::unsubscribe_symbol(std::string name) {
  feed_->post([this, name = std::move(name)] { feed_->remove_symbol(name); });
}

void MdThread::on_tick(md::Pipeline& p) {
  const std::int64_t stall = stall_ms_.exchange(0, std::memory_order_relaxed);
  if (stall > 0) std::this_thread::sleep_for(std::chrono::milliseconds(stall));
  const std::int64_t now = core::realtime_ns();
  publisher_->on_tick(now, p.counters());
  tap_->refresh(now / 1'000'000);
  market_.heartbeat(static_cast<std::uint64_t>(now));
  heartbeat_ns_.store(now, std::memory_order_relaxed);
}

}  // namespace cwts::daemon
