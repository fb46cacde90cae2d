// Engine: its snapshot (EngineSnapshot, the status every reader shows) and the Prometheus text of
// /metrics (docs/operations.md lists every metric).
#include <algorithm>
#include <cstdio>
#include <string>

#include "cwts/concurrent/word_copy.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/publish/shm_publisher.hpp"
#include "engine_impl.hpp"

namespace cwts::daemon {

namespace cc = cwts::concurrent;

EngineSnapshot Engine::snapshot() const {
  const Impl& i = *impl_;
  const auto& m = i.market.as<layout::MarketRegion>();
  EngineSnapshot s;
  // Readiness counts the symbols that trade: a removed one's book is no longer kept.
  const std::size_t n = i.names().size();
  for (std::size_t k = 0; k < n; ++k) {
    if (i.removed[k].load(std::memory_order_relaxed)) continue;
    ++s.symbols;
    if (cc::load_word(m.symbol(k).book_valid, std::memory_order_acquire) != 0) ++s.books_valid;
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
    const bool valid = cc::load_word(m.symbol(k).book_valid, std::memory_order_acquire) != 0;
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
    const std::uint64_t sp = holders[k].signals_published, sc = m.slot(k).signal_cursor.consumed();
    const std::uint64_t rp = m.slot(k).reports.published(), rc = holders[k].reports_consumed;
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
  e.family("cwts_handler_spills_total", "counter",
           "Socket operations on a hot thread whose memory did not fit their connection's fixed "
           "slots: each a heap allocation on that thread (0 expected).");
  e.sample("cwts_handler_spills_total", "thread=\"md\"", i.md->feed_handler_spills());
  e.sample("cwts_handler_spills_total", "thread=\"exec\"", i.exec->venue_handler_spills());
  return e.take();
}

}  // namespace cwts::daemon
