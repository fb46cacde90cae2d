// FeedClient's REST depth snapshots: one kept-alive HTTP(S) connection, one request at a time,
// round robin over the symbols, spacing and back-off (429/418 Retry-After) per venue rules.
#include <algorithm>
#include <optional>
#include <string>
#include <type_traits>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "cwts/log/json_log.hpp"
#include "cwts/net/http_header.hpp"
#include "cwts/net/tls_client.hpp"
#include "feed_client_impl.hpp"

namespace cwts::feed {

using namespace detail;  // the helpers that were file-local before the split

void FeedClient::Impl::request_snapshot(const md::SymbolState& s) {
  // Only configured symbols have a depth target (the pipeline could, in principle, have added
  // one it saw on the wire).
  if (s.id >= depth_targets.size()) return;
  // Its connection not open (or about to close): its next on_open requests every symbol anyway.
  if (!link_open(link_for(s.id))) return;
  // A removed symbol streams nothing; one still waiting for its SUBSCRIBE's answer asks then.
  if (unsubscribed[s.id] || awaiting_subscribe[s.id]) return;
  slots[s.id].pending = true;
  schedule_pump();
}

// Deferred through the io_context: requests arrive from inside md::Pipeline calls, and starting
// I/O there would re-enter the pipeline's sink from our own HTTP handler.
void FeedClient::Impl::schedule_pump() {
  if (pump_posted) return;
  pump_posted = true;
  asio::post(ioc, [this] {
    pump_posted = false;
    pump_snapshots();
  });
}

void FeedClient::Impl::pump_snapshots() {
  if (stopping || http_busy) return;
  const Clock::time_point now = Clock::now();
  if (now < rest_blocked_until) return arm_snap_timer(rest_blocked_until);
  if (cfg.rest_backoff) {  // the order client was told to back off: the same IP
    const std::int64_t left = cfg.rest_backoff->until_ns() - realtime_ns();
    if (left > 0) return arm_snap_timer(now + std::chrono::nanoseconds(left));
  }
  const std::size_t n = pipeline.symbol_count();
  std::optional<Clock::time_point> earliest;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (rr + 1 + k) % n;  // round robin: one noisy symbol cannot starve others
    const SnapSlot& slot = slots[i];
    if (!slot.pending || slot.in_flight || !link_open(link_for(i))) continue;
    if (slot.not_before <= now) {
      // The engine's request weight, shared with its orders and look-ups: not now, soon.
      if (cfg.rest_backoff && !cfg.rest_backoff->try_spend(snapshot_weight(cfg))) {
        bump(counters.snapshots_waited_for_weight);
        return arm_snap_timer(now + std::chrono::milliseconds(100));
      }
      rr = i;
      return start_snapshot(i, now);
    }
    if (!earliest || slot.not_before < *earliest) earliest = slot.not_before;
  }
  if (earliest) arm_snap_timer(*earliest);
}

void FeedClient::Impl::arm_snap_timer(Clock::time_point when) {
  snap_timer.expires_at(when);
  snap_timer.async_wait([this](beast::error_code ec) {
    if (!ec) pump_snapshots();
  });
}

void FeedClient::Impl::start_snapshot(std::size_t i, Clock::time_point now) {
  SnapSlot& slot = slots[i];
  slot.pending = false;
  slot.in_flight = true;
  slot.not_before = now + cfg.snapshot_min_spacing;
  http_busy = true;
  http_symbol = i;
  http_gen = link_for(i).gen;
  http_epoch = slot.epoch;
  http_started = now;
  bump(counters.snapshots_requested);
  req.target(depth_targets[i]);
  if (http && http->connected) {
    http_send(http, /*reused=*/true);
  } else {
    http_connect();
  }
}

void FeedClient::Impl::http_connect() {
  if (http) http->close_socket();
  auto h = std::make_shared<HttpConn>(ioc, rest_ep.tls ? &*tls : nullptr);
  http = h;
  h->resolver.async_resolve(
      rest_ep.host, rest_ep.port_string(),
      [this, h](beast::error_code ec, const tcp::resolver::results_type& results) {
        if (h != http) return;
        if (ec) return snapshot_failed("resolve", ec);
        h->visit([&](auto& s) { http_tcp(h, s, results); });
      });
}

template <class S>
void FeedClient::Impl::http_tcp(const std::shared_ptr<HttpConn>& h, S& s,
                                const tcp::resolver::results_type& results) {
  beast::get_lowest_layer(s).async_connect(
      results, [this, h, &s](beast::error_code ec, const tcp::endpoint&) {
        if (h != http) return;
        if (ec) return snapshot_failed("connect", ec);
        beast::error_code ignored;
        beast::get_lowest_layer(s).socket().set_option(tcp::no_delay(true), ignored);
        if constexpr (std::is_same_v<S, TlsHttp>) {
          if (!net::prepare_tls_connection(s.native_handle(), rest_ep)) {
            return snapshot_failed("tls setup", make_error_code(beast::errc::invalid_argument));
          }
          s.async_handshake(ssl::stream_base::client, [this, h, &s](beast::error_code ec2) {
            if (h != http) return;
            if (ec2)
              return snapshot_failed("tls handshake", ec2, net::tls_error(s.native_handle(), ec2));
            h->connected = true;
            http_send(h, false);
          });
        } else {
          h->connected = true;
          http_send(h, false);
        }
      });
}

// `reused`: the connection carried an earlier request. A kept-alive connection may have been
// closed by the server since, so one failure on it is retried once on a fresh connection.
void FeedClient::Impl::http_send(const std::shared_ptr<HttpConn>& h, bool reused) {
  h->visit([&](auto& s) {
    http::async_write(s, req, [this, h, reused, &s](beast::error_code ec, std::size_t) {
      if (h != http) return;
      if (ec) return reused ? http_connect() : snapshot_failed("write", ec);
      h->parser.emplace();
      h->parser->body_limit(kMaxSnapshotBytes);
      http::async_read(s, h->buffer, *h->parser,
                       [this, h, reused](beast::error_code ec2, std::size_t) {
                         if (h != http) return;
                         if (ec2) return reused ? http_connect() : snapshot_failed("read", ec2);
                         on_http_response(h);
                       });
    });
  });
}

void FeedClient::Impl::finish_request() {
  http_busy = false;
  slots[http_symbol].in_flight = false;
}

milliseconds FeedClient::Impl::failure_delay() const noexcept {
  const milliseconds base = std::max(cfg.snapshot_min_spacing, milliseconds{100});
  const milliseconds d = base * (1LL << std::min<std::uint32_t>(rest_failures, 8));
  return std::min(d, milliseconds{30'000});
}

void FeedClient::Impl::on_http_response(const std::shared_ptr<HttpConn>& h) {
  http::response<http::string_body> res = h->parser->release();
  h->parser.reset();
  if (!res.keep_alive()) {
    h->close_socket();
    http.reset();
  }
  const std::size_t i = http_symbol;
  finish_request();
  if (answer_outdated(i)) {
    bump(counters.snapshots_discarded);
    return schedule_pump();
  }
  const Clock::time_point now = Clock::now();
  md::SymbolState& s = pipeline.symbol(i);
  const unsigned status = res.result_int();
  if (cfg.rest_backoff) {  // what the venue counted for this IP, for the rate governor
    const std::uint64_t used = net::header_u64(res, "X-MBX-USED-WEIGHT-1M");
    if (used != 0) cfg.rest_backoff->note_used_weight(used);
  }
  if (status != 200) {
    if (status == 429 || status == 418) {
      // Binance: 429 = over the request weight, 418 = IP banned for ignoring 429s. Back off
      // all REST for Retry-After seconds (or a minute if absent), for every symbol.
      const std::int64_t ra = net::retry_after_s(res);
      const std::int64_t secs = ra > 0 ? ra : 60;
      rest_blocked_until = now + std::chrono::seconds(secs);
      if (cfg.rest_backoff) cfg.rest_backoff->hold_until(realtime_ns() + secs * 1'000'000'000LL);
    }
    ++rest_failures;
    bump(counters.snapshots_failed);
    const std::string msg = "snapshot " + std::string(s.name_view()) + ": HTTP " +
                            std::to_string(status) + " " + res.body().substr(0, 200);
    set_error(msg);
    log::log_event(spdlog::level::warn, "feed", "snapshot_failed",
                   log::LogFields().str("error", msg));
    slots[i].pending = true;
    slots[i].not_before = now + failure_delay();
    return schedule_pump();
  }
  const md::SnapshotOutcome o = pipeline.on_snapshot_body(s, realtime_ns(), res.body());
  if (pipeline.last_error() != md::ParseErrc::kOk) {
    // The pipeline has already asked for another snapshot (pending is set); space it out.
    ++rest_failures;
    bump(counters.snapshots_failed);
    const std::string msg = "snapshot " + std::string(s.name_view()) +
                            ": unparsable body: " + md::to_string(pipeline.last_error());
    set_error(msg);
    log::log_event(spdlog::level::warn, "feed", "snapshot_failed",
                   log::LogFields().str("error", msg));
    slots[i].not_before = now + failure_delay();
  } else {
    rest_failures = 0;
    bump(counters.snapshots_ok);
    if (o == md::SnapshotOutcome::kTooOld || o == md::SnapshotOutcome::kGap ||
        o == md::SnapshotOutcome::kCrossed) {
      bump(counters.snapshots_rejected);
    }
  }
  schedule_pump();
}

// The answer to the request in flight for symbol `i` is not for the streams it has now: they have
// gone (a new connection's on_open asked again), or the symbol was removed meanwhile (and perhaps
// added again: its SUBSCRIBE's answer asks again). Synced from it, the book would be valid and
// stale until the first diff showed the gap.
bool FeedClient::Impl::answer_outdated(std::size_t i) const noexcept {
  const Link& l = *links[link_of[i]];
  return http_gen != l.gen || !link_open(l) || unsubscribed[i] || http_epoch != slots[i].epoch ||
         awaiting_subscribe[i];
}

void FeedClient::Impl::snapshot_failed(const std::string& stage, beast::error_code ec,
                                       const std::string& detail) {
  if (http) {
    http->close_socket();
    http.reset();
  }
  if (!http_busy) return;
  const std::size_t i = http_symbol;
  finish_request();
  if (answer_outdated(i)) {
    bump(counters.snapshots_discarded);
    return schedule_pump();
  }
  ++rest_failures;
  bump(counters.snapshots_failed);
  const std::string msg = "snapshot " + std::string(pipeline.symbol(i).name_view()) + ": " + stage +
                          " " + rest_ep.host_header() + ": " +
                          (detail.empty() ? ec.message() : detail);
  set_error(msg);
  log::log_event(spdlog::level::warn, "feed", "snapshot_failed",
                 log::LogFields().str("error", msg));
  slots[i].pending = true;
  slots[i].not_before = Clock::now() + failure_delay();
  schedule_pump();
}

// The stream a snapshot was for is gone: drop what is in flight and what is queued for it.
void FeedClient::Impl::abort_snapshots(const Link* l) {
  const auto gone = [&](std::size_t i) { return l == nullptr || link_of[i] == l->index; };
  if (http_busy && gone(http_symbol)) {
    if (http) {
      http->close_socket();
      http.reset();
    }
    finish_request();
    bump(counters.snapshots_discarded);
  }
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (gone(i)) slots[i].pending = false;
  }
  // The other connections' queued snapshots go on (the pump re-arms its timer for them).
  if (l != nullptr && !stopping) schedule_pump();
}

}  // namespace cwts::feed
