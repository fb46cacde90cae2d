// FeedClient: the Impl's construction (config checks, TLS set-up) and life cycle (start, the
// housekeeping tick, graceful stop), and the public class forwarding to it.
#include "cwts/feed/feed_client.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "cwts/core/ascii.hpp"
#include "cwts/log/json_log.hpp"
#include "cwts/net/tls_client.hpp"
#include "feed_client_impl.hpp"

namespace cwts::feed {

using namespace detail;  // the helpers that were file-local before the split

FeedClient::Impl::Impl(FeedConfig c, md::MarketSink* down)
    : cfg((validate(c), std::move(c))),
      ws_ep(net::parse_endpoint(cfg.ws_url, net::EndpointKind::kWebSocket)),
      rest_ep(net::parse_endpoint(cfg.rest_url, net::EndpointKind::kHttp)),
      relay(*this, down),
      pipeline(cfg.venue == VenueKind::kSpot ? md::SyncVenue::kSpot : md::SyncVenue::kUsdmFutures,
               &relay),
      seed(cfg.rng_seed != 0 ? cfg.rng_seed : std::random_device{}()),
      tick_timer(ioc),
      reconnect_timer(ioc),
      snap_timer(ioc),
      stop_timer(ioc) {
  // A serverShutdown ends the connection that received it: its books, not every connection's.
  pipeline.set_shutdown_invalidates_all(false);
  // The symbols fill the connections in order, max_symbols_per_connection(cfg) each.
  const std::size_t per = max_symbols_per_connection(cfg);
  for (std::size_t i = 0; i < connections_for(cfg); ++i) add_link();
  for (const auto& s : cfg.symbols) {
    const md::SymbolState& st = *pipeline.add_symbol(core::ascii_upper(s));
    depth_targets.push_back(depth_target(cfg, s));
    link_of[st.id] = static_cast<std::uint8_t>(st.id / per);
    ++links[st.id / per]->symbols;
  }
  rebuild_targets();
  if (ws_ep.tls || rest_ep.tls) {
    // Throws if ca_file is unreadable: config time.
    tls.emplace(net::make_tls_client_context({cfg.tls_verify_peer, cfg.ca_file}));
    if (!cfg.tls_verify_peer) {
      log::log_event(spdlog::level::warn, "feed", "tls_verification_off",
                     log::LogFields().str("setting", "tls_verify_peer=false"));
    }
  }
  const milliseconds shortest = std::min(
      {cfg.silence_timeout, cfg.max_connection_lifetime, cfg.connect_timeout, cfg.rest_timeout});
  tick_period = std::clamp(shortest / 4, milliseconds{1}, milliseconds{100});
  req.method(http::verb::get);
  req.version(11);
  req.set(http::field::host, rest_ep.host_header());
  req.set(http::field::user_agent, cfg.user_agent);
  req.set(http::field::accept, "application/json");
}

// ---- life cycle -------------------------------------------------------------------------

void FeedClient::Impl::start() {
  if (stopping) return;
  started = true;
  arm_tick();
  for (auto& l : links) start_connect(*l);
}

void FeedClient::Impl::begin_stop() {
  if (stopping) return;
  stopping = true;
  tick_timer.cancel();
  snap_timer.cancel();
  abort_snapshots(nullptr);
  if (http) {
    http->close_socket();
    http.reset();
  }
  std::vector<std::shared_ptr<WsConn>> open;
  for (auto& l : links) {
    l->reconnect_timer.cancel();
    l->pace_timer.cancel();
    count_spills(*l);
    std::shared_ptr<WsConn> c = std::move(l->ws);
    l->ws.reset();
    const bool was_open = l->state == State::kOpen;
    l->state = State::kIdle;
    if (!c) continue;
    if (!was_open) {
      c->close_socket();
      continue;
    }
    bump(counters.disconnects);
    open.push_back(std::move(c));
  }
  if (open.empty()) return;
  log::log_event(spdlog::level::info, "feed", "stopping",
                 log::LogFields().str("host", ws_ep.host).unum("connections", open.size()));
  // The books are left as they are: the caller is shutting down and may inspect them.
  stop_timer.expires_after(cfg.close_timeout + milliseconds{200});
  stop_timer.async_wait([this](beast::error_code ec) {
    if (!ec) ioc.stop();  // a peer never answered the close: give up
  });
  closing = open.size();
  for (const auto& c : open) close_gracefully(c, websocket::close_code::normal, /*on_stop=*/true);
}

void FeedClient::Impl::arm_tick() {
  tick_timer.expires_after(tick_period);
  tick_timer.async_wait([this](beast::error_code ec) {
    if (ec || stopping) return;
    on_tick();
    if (!stopping) arm_tick();
  });
}

// Deadlines checked on a coarse tick instead of per-frame timer resets: the read path only
// stores a time stamp, and every deadline (connect incl. DNS, silence, lifetime, REST) is
// enforced in one place.
void FeedClient::Impl::on_tick() {
  // Acquire pairs with stop_from_signal()'s release; nothing else is published through it.
  if (stop_flag.load(std::memory_order_acquire)) return begin_stop();
  const Clock::time_point now = Clock::now();
  for (auto& link : links) {
    Link& l = *link;
    if (l.state == State::kConnecting && now - l.attempt_started >= cfg.connect_timeout) {
      connect_failed(l, "connect timeout", make_error_code(beast::error::timeout));
    } else if (l.state == State::kOpen) {
      if (now - l.last_activity >= cfg.silence_timeout) {
        bump(counters.silence_timeouts);
        disconnect(l, Why::kSilence,
                   "no frame or ping for " + std::to_string(ms(now - l.last_activity)) + " ms");
      } else if (now - l.connected_at >= connection_lifetime(cfg, l.index)) {
        bump(counters.lifetime_renewals);
        disconnect(l, Why::kLifetime, "connection reached max_connection_lifetime");
      }
    }
    if (l.state == State::kOpen) expire_subscriptions(l, now);
  }
  if (http_busy && now - http_started >= cfg.rest_timeout) {
    snapshot_failed("timeout", make_error_code(beast::error::timeout));
  }
  if (tick_hook) tick_hook(pipeline);
}

// ---- run-time symbols ---------------------------------------------------------------------

md::SymbolState& FeedClient::Impl::add_symbol(std::string_view symbol) {
  const std::string upper = core::ascii_upper(symbol);
  md::SymbolState* have = pipeline.find(upper);
  if (have != nullptr && !unsubscribed[have->id]) return *have;
  // The first connection with room carries it; with none, a new one (up to kMaxConnections).
  const std::size_t per = max_symbols_per_connection(cfg);
  Link* room = nullptr;
  for (auto& l : links) {
    if (l->symbols < per) {
      room = l.get();
      break;
    }
  }
  const bool new_link = room == nullptr;
  if (new_link && links.size() >= kMaxConnections) {
    std::size_t streaming = 0;
    for (const auto& l : links) streaming += l->symbols;
    throw std::length_error("feed: " + std::to_string(streaming) + " symbols stream already; " +
                            feed_limit_reason(cfg));
  }
  md::SymbolState& s = have != nullptr ? *have : *pipeline.add_symbol(upper);  // throws when full
  // Added again after a removal: the same id streams again (perhaps on another connection).
  unsubscribed[s.id] = false;
  if (new_link) room = &add_link();
  link_of[s.id] = static_cast<std::uint8_t>(room->index);
  ++room->symbols;
  if (s.id >= depth_targets.size()) depth_targets.push_back(depth_target(cfg, upper));
  if (std::find(cfg.symbols.begin(), cfg.symbols.end(), upper) == cfg.symbols.end()) {
    cfg.symbols.push_back(upper);
  }
  rebuild_targets();
  const bool live = room->state == State::kOpen;
  if (live) send_stream_request(*room, "SUBSCRIBE", {upper}, {s.id});
  // Not open: the next connection's target has its streams, and on_open asks for its snapshot.
  // A new connection opens now if the client runs (start() opens it otherwise).
  if (new_link && started && !stopping) start_connect(*room);
  log::log_event(spdlog::level::info, "feed", "symbol_added",
                 log::LogFields()
                     .str("symbol", upper)
                     .unum("id", s.id)
                     .unum("connection", room->index)
                     .boolean("new_connection", new_link)
                     .boolean("live_subscribe", live));
  return s;
}

void FeedClient::Impl::remove_symbol(std::string_view symbol) {
  const std::string upper = core::ascii_upper(symbol);
  md::SymbolState* s = pipeline.find(upper);
  if (s == nullptr || unsubscribed[s->id]) return;
  unsubscribed[s->id] = true;
  awaiting_subscribe[s->id] = false;
  slots[s->id].pending = false;
  ++slots[s->id].epoch;  // a snapshot in flight for it is not for its next streams
  Link& l = link_for(s->id);
  --l.symbols;
  rebuild_targets();
  if (l.state == State::kOpen) send_stream_request(l, "UNSUBSCRIBE", {upper});
  // Its book is no longer fed: readers must not trust it.
  const bool was_valid = s->sync.valid();
  s->sync.invalidate();
  if (was_valid) relay.on_book_validity(*s, false, md::FrameMeta{realtime_ns()});
  log::log_event(spdlog::level::info, "feed", "symbol_removed",
                 log::LogFields().str("symbol", upper).unum("id", s->id));
}

void FeedClient::Impl::send_stream_request(Link& l, std::string_view method,
                                           const std::vector<std::string_view>& symbols,
                                           const std::vector<std::size_t>& awaiting) {
  // {"method":"SUBSCRIBE","params":["btcusdt@depth@100ms",...],"id":N}: every configured stream.
  std::string msg = R"({"method":")";
  msg.append(method).append(R"(","params":[)");
  bool first = true;
  for (const std::string_view symbol : symbols) {
    const std::string lower = core::ascii_lower(symbol);
    for (const auto& stream : cfg.streams) {
      msg += (first ? "\"" : ",\"") + lower + "@" + stream + "\"";
      first = false;
    }
  }
  msg += R"(],"id":)" + std::to_string(++l.control_id) + "}";
  for (const std::size_t id : awaiting) {
    awaiting_subscribe[id] = true;
    subscribe_id[id] = l.control_id;
    subscribe_sent[id] = Clock::time_point{};  // set when written
  }
  send_text(l, std::move(msg), l.control_id);
}

void FeedClient::Impl::rebuild_targets() {
  for (auto& l : links) {
    FeedConfig live = cfg;
    live.symbols.clear();
    std::vector<std::size_t> ids;
    for (std::size_t i = 0; i < pipeline.symbol_count(); ++i) {
      l->in_target[i] = false;
      if (link_of[i] != l->index || unsubscribed[i]) continue;
      live.symbols.emplace_back(pipeline.symbol(i).name_view());
      ids.push_back(i);
    }
    std::size_t in_target = 0;
    l->target = stream_target(live, &in_target);
    for (std::size_t k = 0; k < in_target; ++k) l->in_target[ids[k]] = true;
  }
}

void FeedClient::Impl::subscribe_late(Link& l) {
  const std::size_t per_message =
      std::max<std::size_t>(1, kSubscribeBatchStreams / cfg.streams.size());
  std::vector<std::string_view> batch;
  std::vector<std::size_t> ids;
  const auto flush = [&](std::string_view method) {
    if (batch.empty()) return;
    send_stream_request(l, method, batch, method == "SUBSCRIBE" ? ids : std::vector<std::size_t>{});
    batch.clear();
    ids.clear();
  };
  // Carried by the handshake's target but removed, or moved to another connection, since.
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < pipeline.symbol_count(); ++i) {
    if (!l.in_handshake[i] || (link_of[i] == l.index && !unsubscribed[i])) continue;
    batch.push_back(pipeline.symbol(i).name_view());
    ++dropped;
    if (batch.size() == per_message) flush("UNSUBSCRIBE");
  }
  flush("UNSUBSCRIBE");
  // The connection's symbols its handshake's target did not carry.
  std::size_t sent = 0;
  for (std::size_t i = 0; i < pipeline.symbol_count(); ++i) {
    if (link_of[i] != l.index || unsubscribed[i] || l.in_handshake[i]) continue;
    batch.push_back(pipeline.symbol(i).name_view());
    ids.push_back(i);
    ++sent;
    if (batch.size() == per_message) flush("SUBSCRIBE");
  }
  flush("SUBSCRIBE");
  if (sent > 0 || dropped > 0) {
    log::log_event(spdlog::level::info, "feed", "subscribing_after_connect",
                   log::LogFields()
                       .unum("connection", l.index)
                       .unum("symbols", sent)
                       .unum("unsubscribed", dropped)
                       .unum("messages", l.control_id - l.first_control)
                       .str("why",
                            "the connection's target did not carry them (too long, or "
                            "they changed during the handshake)"));
  }
}

void FeedClient::Impl::send_text(Link& l, std::string text, std::uint64_t request) {
  l.out.emplace_back(std::move(text), request);
  if (!l.writing && l.ws) write_next(l, l.ws);
}

void FeedClient::Impl::write_next(Link& l, const std::shared_ptr<WsConn>& c) {
  if (l.out.empty() || c != l.ws || l.state != State::kOpen) {
    l.writing = false;
    return;
  }
  l.writing = true;
  // Within Binance's incoming message rate: the message kControlPerSecond back went out at least
  // a second ago, or this one waits until then.
  const Clock::time_point now = Clock::now();
  const Clock::time_point oldest = l.sent[l.sent_next];
  if (oldest != Clock::time_point{} && now - oldest < kControlWindow) {
    l.pace_timer.expires_at(oldest + kControlWindow);
    l.pace_timer.async_wait([this, &l, c](beast::error_code ec) {
      if (!ec && c == l.ws) write_next(l, c);
    });
    return;
  }
  l.sent[l.sent_next] = now;
  l.sent_next = (l.sent_next + 1) % l.sent.size();
  auto msg = std::make_shared<std::string>(std::move(l.out.front().first));
  const std::uint64_t request = l.out.front().second;
  l.out.erase(l.out.begin());
  // The wait for its answer starts now, not when it was queued behind others.
  for (std::size_t i = 0; i < pipeline.symbol_count(); ++i) {
    if (link_of[i] == l.index && awaiting_subscribe[i] && subscribe_id[i] == request) {
      subscribe_sent[i] = now;
    }
  }
  c->visit([&](auto& s) {
    s.text(true);
    s.async_write(asio::buffer(*msg), [this, &l, c, msg](beast::error_code ec, std::size_t) {
      if (c != l.ws) return;  // that connection is gone; the new one's target has the streams
      if (ec) {
        l.writing = false;
        return;  // the read side sees the failure and reconnects
      }
      write_next(l, c);
    });
  });
}

void FeedClient::Impl::on_subscription_reply(Link& l) {
  const std::uint64_t answered = l.first_control + ++l.replies;
  for (std::size_t i = 0; i < pipeline.symbol_count(); ++i) {
    if (link_of[i] != l.index || !awaiting_subscribe[i] || subscribe_id[i] > answered) continue;
    awaiting_subscribe[i] = false;
    request_snapshot(pipeline.symbol(i));
  }
}

void FeedClient::Impl::expire_subscriptions(Link& l, Clock::time_point now) {
  for (std::size_t i = 0; i < pipeline.symbol_count(); ++i) {
    if (link_of[i] != l.index || !awaiting_subscribe[i] ||
        subscribe_sent[i] == Clock::time_point{} ||  // not written yet
        now - subscribe_sent[i] < kSubscribeAnswerTimeout) {
      continue;
    }
    awaiting_subscribe[i] = false;
    log::log_event(spdlog::level::warn, "feed", "subscribe_unanswered",
                   log::LogFields()
                       .str("symbol", pipeline.symbol(i).name_view())
                       .unum("id", subscribe_id[i])
                       .str("then", "its snapshot is asked for anyway"));
    request_snapshot(pipeline.symbol(i));
  }
}

void FeedClient::Impl::set_error(const std::string& msg) {
  std::lock_guard<std::mutex> lock(error_mu);
  last_error = msg;
}

FeedClient::FeedClient(FeedConfig cfg, md::MarketSink* downstream)
    : impl_(std::make_unique<Impl>(std::move(cfg), downstream)) {}

FeedClient::~FeedClient() = default;

void FeedClient::set_tick_hook(std::function<void(md::Pipeline&)> hook) {
  impl_->tick_hook = std::move(hook);
}

void FeedClient::run() {
  asio::post(impl_->ioc, [this] { impl_->start(); });
  impl_->ioc.run();
}

void FeedClient::run_spinning(bool yield_when_idle) {
  asio::post(impl_->ioc, [this] { impl_->start(); });
  // poll() never blocks: frames are handled as soon as the socket has them, at the price of a
  // core. run() returns when the io_context runs out of work; poll() returning 0 with no work
  // left (stopped()) is the same condition here.
  while (!impl_->ioc.stopped()) {
    if (impl_->ioc.poll() == 0 && yield_when_idle) std::this_thread::yield();
  }
}

void FeedClient::post(std::function<void()> fn) { asio::post(impl_->ioc, std::move(fn)); }

md::SymbolState& FeedClient::add_symbol(std::string_view symbol) {
  return impl_->add_symbol(symbol);
}

void FeedClient::remove_symbol(std::string_view symbol) { impl_->remove_symbol(symbol); }

void FeedClient::stop() noexcept {
  try {
    asio::post(impl_->ioc, [this] { impl_->begin_stop(); });
  } catch (...) {
    impl_->ioc.stop();  // could not queue (out of memory): stop hard
  }
}

void FeedClient::stop_from_signal() noexcept {
  impl_->stop_flag.store(true, std::memory_order_release);
}

FeedClient::Counters FeedClient::counters() const noexcept {
  Counters c;
#define CWTS_LOAD(name) c.name = impl_->counters.name.load(std::memory_order_relaxed);
  CWTS_FEED_COUNTERS(CWTS_LOAD)
#undef CWTS_LOAD
  return c;
}

std::string FeedClient::last_error() const {
  std::lock_guard<std::mutex> lock(impl_->error_mu);
  return impl_->last_error;
}

md::Pipeline& FeedClient::pipeline() noexcept { return impl_->pipeline; }

const FeedConfig& FeedClient::config() const noexcept { return impl_->cfg; }

}  // namespace cwts::feed
