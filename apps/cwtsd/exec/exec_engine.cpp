// ExecEngine (see exec_engine.hpp and docs/engine.md).
#include "exec/exec_engine.hpp"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "cwts/concurrent/word_copy.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/core/fixed_point.hpp"
#include "cwts/log/json_log.hpp"
#include "cwts/venue/binance_rest.hpp"
#include "cwts/venue/paper.hpp"
#include "exec/exec_state.hpp"

namespace cwts::daemon {

namespace cc = cwts::concurrent;
using layout::ExecReport;
using layout::RejectReason;
using layout::ReportKind;

namespace {

constexpr std::size_t kMaxLiveOrders = 4096;

using core::realtime_ns;

// The (slot, seq) index: 4 x kMaxLiveOrders cells keep probe runs short.
constexpr std::size_t kIndexSize = 4 * kMaxLiveOrders;

}  // namespace

ExecEngine::ExecEngine(const Config& cfg, const binance::ExchangeInfo& info,
                       layout::MarketRegion& market, HotLog& log,
                       std::optional<Credentials> credentials,
                       std::shared_ptr<core::RestBackoff> rest_backoff)
    : rest_backoff_(rest_backoff ? std::move(rest_backoff) : std::make_shared<core::RestBackoff>()),
      cfg_(cfg),
      market_(market),
      log_(log),
      governor_(info.rate_limits, cfg.rate.engine_share, cfg.rate.slot_share),
      orders_(kMaxLiveOrders),
      index_(kIndexSize),
      positions_(cfg.market.symbols.size()) {
  // This thread owns the rate governor: the venue's other clients spend what it publishes.
  rest_backoff_->expect_budget();
  // Symbols may be added at run time (adopt_symbols): no vector here ever reallocates.
  rules_.reserve(layout::kMaxSymbols);
  symbol_names_.reserve(layout::kMaxSymbols);
  base_assets_.reserve(layout::kMaxSymbols);
  quote_assets_.reserve(layout::kMaxSymbols);
  positions_.reserve(layout::kMaxSymbols);
  for (const auto& name : cfg.market.symbols) {
    const binance::SymbolSpec* spec = info.find(name);
    rules_.push_back(engine::SymbolRules::from(*spec));
    symbol_names_.push_back(name);
    base_assets_.push_back(spec->base);
    quote_assets_.push_back(spec->quote);
  }
  symbols_offered_.store(rules_.size(), std::memory_order_relaxed);
  symbols_adopted_.store(rules_.size(), std::memory_order_relaxed);
  free_orders_.reserve(kMaxLiveOrders);
  for (std::size_t i = kMaxLiveOrders; i > 0; --i)
    free_orders_.push_back(static_cast<std::uint32_t>(i - 1));
  std::vector<std::string_view> names(cfg.market.symbols.begin(), cfg.market.symbols.end());
  reload(cfg, names);
  limits_ = pending_limits_.load();
  cc::store_word(market_.status.exec.trading_state, limits_.trading_state,
                 std::memory_order_relaxed);

  if (cfg.venue.kind == VenueKind::kBinance) {
    venue::BinanceRestOptions o;
    o.rest_url = cfg.venue.rest_url;
    if (credentials) {
      o.api_key = std::move(credentials->key);
      o.api_secret = std::move(credentials->secret);
    }
    o.tls_verify = cfg.venue.tls_verify;
    o.ca_file = cfg.venue.ca_file;
    o.recv_window_ms = cfg.venue.recv_window_ms;
    o.timeout_ms = cfg.venue.request_timeout_ms;
    o.order_poll_ms = cfg.venue.order_poll_ms;
    o.ws_silence_ms = cfg.venue.ws_api_silence_ms;
    o.account_poll_ms = cfg.venue.account_poll_ms;
    o.connections = cfg.venue.connections;
    o.ws_api_url = effective_ws_api_url(cfg.venue);
    o.order_transport = cfg.venue.order_transport == OrderTransport::kWs
                            ? venue::OrderTransport::kWs
                            : venue::OrderTransport::kRest;
    o.backoff = rest_backoff_;
    auto rest = std::make_unique<venue::BinanceRestVenue>(ioc_, std::move(o));
    rest_venue_ = rest.get();
    for (std::size_t i = 0; i < symbol_names_.size(); ++i) {
      rest->set_symbol_assets(symbol_names_[i], base_assets_[i], quote_assets_[i]);
    }
    venue_ = std::move(rest);
  } else {
    venue_ = std::make_unique<venue::PaperVenue>(market_, cfg.venue.paper_fee_bps);
  }
  venue_->set_listener(this);
  warm_every_ns_ = static_cast<std::int64_t>(cfg.exec_thread.warm_us) * 1'000;
  if (cfg.log.order_stages) {
    order_stamps_.resize(kStampedOrders);
    venue_->stamp_order_writes(true);
  }
}

ExecEngine::~ExecEngine() = default;

void ExecEngine::bind_signals(std::uint64_t epoch_ns) {
  signals_bound_ = true;
  epoch_ns_ = epoch_ns;
  slots_.clear();
  for (std::size_t i = 0; i < market_.slot_capacity(); ++i) {
    slots_.push_back(std::make_unique<SlotState>(market_.slot(i)));
  }
}

std::uint64_t ExecEngine::reload(const Config& cfg, std::span<const std::string_view> symbols) {
  Limits l{};
  for (std::size_t i = 0; i < symbols.size() && i < layout::kMaxSymbols; ++i) {
    engine::RiskLimits r;
    r.max_order_notional = cfg.risk.max_order_notional;
    r.max_position = cfg.risk.max_position;
    r.max_open_orders = cfg.risk.max_open_orders;
    r.price_band_bps = cfg.risk.price_band_bps;
    r.default_ttl_ms = cfg.risk.default_ttl_ms;
    r.max_ttl_ms = cfg.risk.max_ttl_ms;
    r.sell_account_holdings = cfg.risk.sell_account_holdings;
    r.max_book_age_ms = cfg.risk.max_book_age_ms;
    for (const auto& ov : cfg.risk_overrides) {
      if (ov.symbol != symbols[i]) continue;
      if (ov.max_order_notional) r.max_order_notional = *ov.max_order_notional;
      if (ov.max_position) r.max_position = *ov.max_position;
      if (ov.max_open_orders) r.max_open_orders = *ov.max_open_orders;
      if (ov.sell_account_holdings) r.sell_account_holdings = *ov.sell_account_holdings;
      if (ov.max_book_age_ms) r.max_book_age_ms = *ov.max_book_age_ms;
    }
    l.risk[i] = r;
  }
  for (std::size_t i = 0; i < layout::kMaxSlots; ++i) {
    l.slots[i] = engine::SlotPolicy{cfg.slot(i).trade, cfg.slot(i).reduce_only,
                                    cfg.slot(i).cancel_on_release};
  }
  l.trading_state = static_cast<std::uint64_t>(cfg.risk.initial_state);
  const Limits prev = pending_limits_.load();
  l.version = prev.version + 1;
  l.cancel_all_seq = prev.cancel_all_seq;               // a reload is not a cancel-all
  std::memcpy(l.closed, prev.closed, sizeof l.closed);  // nor a symbols.add / remove
  pending_limits_.store(l);
  return l.version;
}

std::uint64_t ExecEngine::set_symbol_closed(std::uint16_t id, bool closed) {
  Limits l = pending_limits_.load();
  ++l.version;
  if (id < layout::kMaxSymbols) l.closed[id] = closed ? 1 : 0;
  pending_limits_.store(l);
  return l.version;
}

void ExecEngine::add_symbol(std::uint16_t id, const binance::SymbolSpec& spec) {
  if (id != symbols_offered_.load(std::memory_order_relaxed) || id >= layout::kMaxSymbols) {
    throw std::logic_error("exec: symbol ids are consecutive (offered " + std::to_string(id) + ")");
  }
  OfferedSymbol& o = offered_symbols_[id];
  o.rules = engine::SymbolRules::from(spec);
  o.name.assign(spec.name);
  o.base.assign(spec.base);
  o.quote.assign(spec.quote);
  // release: the exec thread that sees the count sees the entry written above.
  symbols_offered_.store(static_cast<std::size_t>(id) + 1, std::memory_order_release);
}

void ExecEngine::adopt_symbols() {
  const std::size_t offered = symbols_offered_.load(std::memory_order_acquire);
  if (offered == rules_.size()) return;
  for (std::size_t id = rules_.size(); id < offered; ++id) {
    const OfferedSymbol& o = offered_symbols_[id];
    rules_.push_back(o.rules);
    symbol_names_.emplace_back(o.name.view());
    base_assets_.emplace_back(o.base.view());
    quote_assets_.emplace_back(o.quote.view());
    positions_.emplace_back();
    if (rest_venue_ != nullptr) {
      rest_venue_->set_symbol_assets(symbol_names_[id], base_assets_[id], quote_assets_[id]);
    }
    // A new base asset's balance is watched from what the account holds now (the checks are
    // built at the first balances; before that, this symbol is simply among them).
    const std::string& base = base_assets_[id];
    if (!asset_checks_.empty() &&
        std::none_of(asset_checks_.begin(), asset_checks_.end(),
                     [&base](const AssetCheck& c) { return c.asset == base; })) {
      AssetCheck c{base};
      for (const auto& b : last_balances_) {
        if (b.asset == base) c.balance_at_start = b.free + b.locked;
      }
      for (std::size_t k = 0; k < base_assets_.size(); ++k) {
        if (base_assets_[k] == base) c.position_at_start += positions_[k].qty;
      }
      asset_checks_.push_back(std::move(c));
    }
    publish_position(static_cast<std::uint16_t>(id), now_ns_);
    log_.push(HotRecord{now_ns_, spdlog::level::info, "exec", "symbol_adopted"}.u("id", id));
  }
  symbols_adopted_.store(rules_.size(), std::memory_order_release);
}

std::uint64_t ExecEngine::request_cancel_all() {
  Limits l = pending_limits_.load();
  ++l.version;
  ++l.cancel_all_seq;
  pending_limits_.store(l);
  return l.version;
}

// ---- the loop ---------------------------------------------------------------------------------

void ExecEngine::run(std::atomic<bool>& stop) {
  settle_recovered(realtime_ns());
  const IdleStrategy idle = cfg_.exec_thread.idle;
  std::int64_t idle_since = realtime_ns();
  while (!stop.load(std::memory_order_acquire)) {
    const std::int64_t now = realtime_ns();
    bool did_work = false;
    loop_once(now, did_work);
    if (did_work || now < idle_since) {  // (or the wall clock stepped back)
      idle_since = now;
      continue;
    }
    switch (idle) {
      case IdleStrategy::kBusySpin:
        warm_if_due(now);
        break;
      case IdleStrategy::kSpinThenYield:
        // Idle passes are a few hundred nanoseconds (the sockets are polled every few µs): the
        // spin's length is counted in time.
        if (now - idle_since > 20'000'000) {
          std::this_thread::sleep_for(std::chrono::microseconds(50));
        } else {
          warm_if_due(now);
          if (now - idle_since > 1'000'000) ::sched_yield();
        }
        break;
      case IdleStrategy::kBlock:
        // Waits in the venue's sockets (epoll) for up to 1 ms instead of sleeping blind.
        if (ioc_.run_for(std::chrono::milliseconds(1)) > 0) io_due_ = true;
        if (ioc_.stopped()) ioc_.restart();
        break;
    }
  }
  shutdown(realtime_ns());
}

void ExecEngine::loop_once(std::int64_t now, bool& did_work) {
  now_ns_ = now;
  if (now - headroom_published_ns_ >= 1'000'000) {
    headroom_published_ns_ = now;
    // The weight the engine's other venue clients share (core::RestBackoff): what they spent,
    // then what the venue said it counted in their answers (which includes what they spent: in
    // this order, nothing is counted twice), and what they may spend next.
    if (const std::uint64_t w = rest_backoff_->take_spent(); w != 0)
      governor_.charge_weight(w, now);
    if (std::uint64_t used = 0; rest_backoff_->take_used_weight(used)) {
      governor_.on_used_weight(used, now);
    }
    rest_backoff_->publish_headroom(governor_.background_headroom(now));
    // The venue's state for readiness and metrics: once per millisecond, not every loop.
    venue_ready_.store(venue_->ready(), std::memory_order_relaxed);
    const venue::VenueHealth vh = venue_->health();
    stream_live_.store(vh.stream_live, std::memory_order_relaxed);
    stream_events_.store(vh.stream_events, std::memory_order_relaxed);
    stream_gaps_.store(vh.stream_gaps, std::memory_order_relaxed);
    clock_offset_ns_.store(vh.clock_offset_ns, std::memory_order_relaxed);
    venue_tracked_.store(vh.tracked_orders, std::memory_order_relaxed);
    venue_kept_.store(vh.kept_requests, std::memory_order_relaxed);
    venue_spills_.store(vh.handler_spills, std::memory_order_relaxed);
  }
  heartbeat_.store(now, std::memory_order_relaxed);
  cc::store_word(market_.status.exec.heartbeat_ns, static_cast<std::uint64_t>(now),
                 std::memory_order_relaxed);
  // Symbols first: reload() published their limits before add_symbol() offered them, so the
  // limits check below sees them in the same loop.
  adopt_symbols();
  if (const std::uint64_t v = pending_limits_.version(); v != limits_seen_) {
    // Cheap check: the seqlock's version moves only on reload().
    limits_seen_ = v;
    const Limits l = pending_limits_.load();
    if (l.version != limits_.version) {
      const bool state_changed = l.trading_state != limits_.trading_state;
      const bool cancel_all = l.cancel_all_seq != limits_.cancel_all_seq;
      limits_ = l;
      if (cancel_all) {
        std::uint64_t n = 0;
        for (auto& o : orders_) {
          if (o.in_use && o.cancel_seq == 0) {
            venue_->cancel(o.cid_view(), symbol_names_[o.symbol]);
            ++n;
          }
        }
        log_.push(HotRecord{now, spdlog::level::warn, "exec", "cancel_all"}.u("orders", n));
      }
      if (state_changed) {
        cc::store_word(market_.status.exec.trading_state, limits_.trading_state,
                       std::memory_order_relaxed);
      }
      log_.push(
          HotRecord{now, spdlog::level::info, "exec", "limits_applied"}.u("version", l.version));
      applied_version_.store(l.version, std::memory_order_release);
    }
  }
  // (now < io_polled_ns_: the wall clock stepped back; polled at once rather than after the step.)
  if (io_due_ || now - io_polled_ns_ >= kIoPollEveryNs || now < io_polled_ns_) {
    io_polled_ns_ = now;
    if (ioc_.poll() > 0) did_work = true;
    if (ioc_.stopped()) ioc_.restart();
    venue_->tick(now);
    // The feed's snapshots were told to back off (the same IP): new orders wait as well.
    governor_.hold_until(rest_backoff_->until_ns());
  }
  if (mismatch_pending_ && now - last_mismatch_check_ns_ >= 100'000'000) {
    last_mismatch_check_ns_ = now;
    check_positions(last_balances_, now);
  }
  if (signals_bound_) {
    for (std::uint32_t s = 0; s < slots_.size(); ++s) poll_slot(s, now, did_work);
  }
  // After work (an answer handled, an order sent: its write's completion, the next request in
  // the queue) the next pass polls at once; idle passes only read the rings.
  io_due_ = did_work;
}

void ExecEngine::poll_slot(std::uint32_t slot, std::int64_t now, bool& did_work) {
  SlotState& st = *slots_[slot];
  if (const SlotOffer* offer = offered_[slot].load(std::memory_order_acquire); offer != st.held) {
    change_holder(slot, offer, now);
    did_work = true;
  }
  if (!st.overflow.empty()) flush_overflow(slot);
  if (st.held == nullptr) return;  // only a held slot is read (ADR 0021)
  // A strategy that does not read its reports cannot make the engine hold an unbounded number:
  // past kMaxHeldReports its new signals wait in its own ring (its submits see the ring full)
  // until it reads. Reports of orders already working are still held, never dropped; at shutdown
  // the ring is emptied regardless (each signal in it gets its SHUTDOWN report: at most a ring).
  const bool pause = !stopping_ && st.overflow.size() >= kMaxHeldReports;
  if (pause != st.intake_paused) {
    st.intake_paused = pause;
    log_.push(HotRecord{now, pause ? spdlog::level::warn : spdlog::level::info, "exec",
                        pause ? "slot_intake_paused" : "slot_intake_resumed"}
                  .u("slot", slot)
                  .u("held_reports", st.overflow.size()));
  }
  if (pause) return;
  take_signals(slot, kMaxSignalsPerSlotPerLoop, did_work);
}

void ExecEngine::take_signals(std::uint32_t slot, std::uint32_t max, bool& did_work) {
  SlotState& st = *slots_[slot];
  layout::Signal sig;
  for (std::uint32_t n = 0; n < max; ++n) {
    if (st.consumer->try_pop(sig) != cc::PopStatus::kOk) break;
    did_work = true;
    // The signal's own time (vDSO, ~20 ns): TTL checks and report stamps refer to when it was
    // taken, not to the start of the loop iteration.
    const std::int64_t now = realtime_ns();
    now_ns_ = now;
    if (slot_first_seq_[slot] == 0) slot_first_seq_[slot] = sig.seq;
    cc::store_word(market_.status.exec.signals_seen,
                   cc::load_word(market_.status.exec.signals_seen, std::memory_order_relaxed) + 1,
                   std::memory_order_relaxed);
    if (stopping_) {
      reject(slot, sig, RejectReason::kShutdown, 0, now);
    } else {
      on_signal(slot, sig, now);
    }
  }
}

// The broker granted the slot to a new holder, or its holder left (the connection closed: the
// process released it or died). Not on the signal path: claims are rare.
void ExecEngine::change_holder(std::uint32_t slot, const SlotOffer* next, std::int64_t now) {
  SlotState& st = *slots_[slot];
  if (st.held != nullptr) {
    // What the holder committed before it left is its own: read and answered to the end (a ring
    // at most; its reports wait for the next holder, as the ones of its working orders do).
    bool unused = false;
    take_signals(slot, layout::kSignalRingCapacity, unused);
    if (limits_.slots[slot].cancel_on_release && !stopping_) {  // slots.N.on_release = cancel
      std::uint64_t n = 0;
      for (auto& o : orders_) {
        if (o.in_use && o.slot == slot && o.cancel_seq == 0) {
          venue_->cancel(o.cid_view(), symbol_names_[o.symbol]);
          ++n;
        }
      }
      log_.push(HotRecord{now, spdlog::level::info, "exec", "slot_orders_cancelled"}
                    .u("slot", slot)
                    .u("orders", n));
    }
    // Where it stopped reading its reports (its own memory: never trusted beyond the ring).
    const std::uint64_t tail = st.producer->next_index();
    std::uint64_t head = st.held->mem->report_cursor.consumed();
    if (head > tail) head = tail;
    if (tail - head > layout::kReportRingCapacity) head = tail - layout::kReportRingCapacity;
    cc::store_word(st.parked.head, head, std::memory_order_release);
    st.producer.emplace(st.engine.reports, st.parked);
    log_.push(HotRecord{now, spdlog::level::info, "exec", "slot_released"}
                  .u("slot", slot)
                  .u("pid", layout::claim_pid(st.claim_seen))
                  .u("generation", layout::claim_generation(st.claim_seen))
                  .u("unread_reports", tail - head + st.overflow.size()));
    st.consumer.reset();
    st.held = nullptr;
    st.claim_seen = layout::make_claim(0, layout::claim_generation(st.claim_seen));
    cc::store_word(st.engine.claim_seen, st.claim_seen, std::memory_order_release);
    st.intake_paused = false;
    slot_adopted_[slot].store(nullptr, std::memory_order_release);
  }
  if (next == nullptr) return;
  // Fresh memory: its ring starts at record 0, and its reader starts at the reports nobody has
  // read yet (a previous holder's, or those of orders that finished while the slot was free).
  cc::store_word(st.engine.signal_cursor.head, 0, std::memory_order_release);
  st.consumer.emplace(next->mem->signals, st.engine.signal_cursor);
  cc::store_word(next->mem->report_cursor.head, st.parked.consumed(), std::memory_order_release);
  st.producer.emplace(st.engine.reports, next->mem->report_cursor);
  st.held = next;
  st.claim_seen = next->claim;
  cc::store_word(st.engine.claim_seen, next->claim, std::memory_order_release);
  log_.push(HotRecord{now, spdlog::level::info, "exec", "slot_claimed"}
                .u("slot", slot)
                .u("pid", layout::claim_pid(next->claim))
                .u("generation", layout::claim_generation(next->claim)));
  slot_adopted_[slot].store(next, std::memory_order_release);
}

// ---- signals ----------------------------------------------------------------------------------

void ExecEngine::on_signal(std::uint32_t slot, const layout::Signal& s, std::int64_t now) {
  SlotState& st = *slots_[slot];
  const std::uint64_t last_seq =
      cc::load_word(st.engine.last_signal_seq, std::memory_order_relaxed);
  const std::size_t nsym = rules_.size();
  const engine::SymbolRules* rules = s.symbol < nsym ? &rules_[s.symbol] : nullptr;
  const auto state = static_cast<layout::TradingState>(limits_.trading_state);
  if (s.type == static_cast<std::uint8_t>(layout::OrderType::kCancel)) {
    const RejectReason r = engine::validate(s, rules, limits_.risk[0], {}, {}, state,
                                            limits_.slots[slot], last_seq, now);
    if (r != RejectReason::kNone) return reject(slot, s, r, 0, now);
    return on_cancel_signal(slot, s, now);
  }
  // A removed symbol (symbols.remove) takes no new order; its open ones may still be cancelled.
  if (rules != nullptr && limits_.closed[s.symbol] != 0) rules = nullptr;
  engine::MarketState m;
  engine::Exposure ex;
  const engine::RiskLimits& risk = s.symbol < nsym ? limits_.risk[s.symbol] : limits_.risk[0];
  if (rules != nullptr) {
    const layout::Quote q = market_.symbol(s.symbol).quote.load();
    m.bid = q.bid_px;
    m.ask = q.ask_px;
    if (avg_prices_ != nullptr) m.avg = avg_prices_->load(s.symbol);
    m.book_valid = q.book_valid != 0 && cc::load_word(market_.symbol(s.symbol).book_valid,
                                                      std::memory_order_acquire) != 0;
    // Book diffs, bookTicker and trades all refresh it: a stream or an md thread that stalls
    // leaves it behind while book_valid stays set until the silence timeout.
    m.update_ns = q.receive_ts_ns;
    const PositionBook& p = positions_[s.symbol];
    ex.position = p.qty;
    ex.open_buy_qty = p.open_buy;
    ex.open_sell_qty = p.open_sell;
    ex.open_orders = p.open_orders;
  }
  RejectReason r =
      engine::validate(s, rules, risk, m, ex, state, limits_.slots[slot], last_seq, now);
  if (r == RejectReason::kNone && free_orders_.empty()) r = RejectReason::kMaxOpenOrders;
  if (r == RejectReason::kNone && !journal_has_room()) r = RejectReason::kJournalUnavailable;
  if (r == RejectReason::kNone) {
    const engine::RateDecision d = governor_.try_acquire_order(slot, 1, now);
    if (d != engine::RateDecision::kOk) {
      log_.push(HotRecord{now, spdlog::level::debug, "exec", "rate_limited"}
                    .u("slot", slot)
                    .u("seq", s.seq)
                    .s("limit", engine::to_string(d), std::strlen(engine::to_string(d))));
      r = RejectReason::kRateLimited;
    }
  }
  if (r != RejectReason::kNone) return reject(slot, s, r, 0, now);
  const bool stamping = !order_stamps_.empty();  // log.order_stages
  const std::int64_t checked = stamping ? realtime_ns() : 0;

  cc::store_word(st.engine.last_signal_seq, s.seq, std::memory_order_relaxed);
  cc::store_word(st.engine.accepted,
                 cc::load_word(st.engine.accepted, std::memory_order_relaxed) + 1,
                 std::memory_order_relaxed);
  cc::store_word(market_.status.exec.signals_accepted,
                 cc::load_word(market_.status.exec.signals_accepted, std::memory_order_relaxed) + 1,
                 std::memory_order_relaxed);
  Order& o = *allocate();
  o.slot = slot;
  o.seq = s.seq;
  o.symbol = s.symbol;
  o.side = static_cast<layout::Side>(s.side);
  o.qty = s.qty;
  o.cid_len = static_cast<std::uint8_t>(make_client_order_id(epoch_ns_, slot, s.seq, o.cid));
  index_insert(o);
  PositionBook& p = positions_[s.symbol];
  (o.side == layout::Side::kBuy ? p.open_buy : p.open_sell) += o.qty;
  ++p.open_orders;
  const std::int64_t deadline = engine::signal_deadline_ns(s, risk);
  journal_accepted(o, s, deadline, now);
  report(slot, base_report(o, ReportKind::kAccepted, now));

  venue::OrderRequest req;
  req.symbol_id = s.symbol;
  std::memcpy(req.symbol, symbol_names_[s.symbol].c_str(), symbol_names_[s.symbol].size() + 1);
  req.side = o.side;
  req.type = static_cast<layout::OrderType>(s.type);
  req.tif = static_cast<layout::TimeInForce>(s.tif);
  req.price = s.price;
  req.qty = s.qty;
  std::memcpy(req.client_order_id, o.cid, o.cid_len + 1U);
  req.deadline_ns = deadline;
  const std::int64_t handed = stamping ? realtime_ns() : 0;
  venue_->place(req);
  if (stamping) {
    order_stamps_[orders_stamped_++ & (kStampedOrders - 1)] = OrderStamps{
        s.created_ns, now, checked, handed, venue_->last_order_write_ns(), realtime_ns()};
  }
  cc::store_word(market_.status.exec.orders_sent,
                 cc::load_word(market_.status.exec.orders_sent, std::memory_order_relaxed) + 1,
                 std::memory_order_relaxed);
  log_.push(HotRecord{now, spdlog::level::info, "exec", "order_sent"}
                .u("slot", slot)
                .u("seq", s.seq)
                .s("client_order_id", o.cid, o.cid_len)
                .s("symbol", req.symbol, std::strlen(req.symbol))
                .fx("qty", req.qty)
                .fx("price", req.price));
  publish_position(s.symbol, now);
}

void ExecEngine::on_cancel_signal(std::uint32_t slot, const layout::Signal& s, std::int64_t now) {
  Order* target = find(slot, s.target_seq);
  // Lower than any seq this run took from the slot: it can only name an earlier run's order (a
  // slot's numbers start above its recovered orders' after a restart, order_journal.cpp).
  if (target == nullptr && s.target_seq < slot_first_seq_[slot])
    target = find_adopted(slot, s.target_seq);
  if (target == nullptr || target->cancel_seq != 0)
    return reject(slot, s, RejectReason::kUnknownOrder, 0, now);
  // While the venue says back off the cancel is taken all the same: it waits in the venue
  // client's queue until Retry-After, or takes its order out of the queue if that was not sent
  // yet. Refused, the order would go out when the back-off ends with no cancel behind it.
  const engine::RateDecision d = governor_.try_acquire_request(1, now);
  if (d != engine::RateDecision::kOk && d != engine::RateDecision::kBackoff) {
    return reject(slot, s, RejectReason::kRateLimited, 0, now);
  }
  SlotState& st = *slots_[slot];
  cc::store_word(st.engine.last_signal_seq, s.seq, std::memory_order_relaxed);
  target->cancel_seq = s.seq;
  journal_cancel(*target, s.seq, now);
  layout::ExecReport r = base_report(*target, ReportKind::kAccepted, now);
  r.signal_seq = s.seq;
  report(slot, r);
  venue_->cancel(target->cid_view(), symbol_names_[target->symbol]);
}

void ExecEngine::reject(std::uint32_t slot, const layout::Signal& s, RejectReason reason,
                        std::int32_t venue_code, std::int64_t now) {
  SlotState& st = *slots_[slot];
  if (reason != RejectReason::kReplayedSequence) {
    const std::uint64_t last = cc::load_word(st.engine.last_signal_seq, std::memory_order_relaxed);
    if (s.seq > last) cc::store_word(st.engine.last_signal_seq, s.seq, std::memory_order_relaxed);
  }
  cc::store_word(st.engine.rejected,
                 cc::load_word(st.engine.rejected, std::memory_order_relaxed) + 1,
                 std::memory_order_relaxed);
  cc::store_word(market_.status.exec.signals_rejected,
                 cc::load_word(market_.status.exec.signals_rejected, std::memory_order_relaxed) + 1,
                 std::memory_order_relaxed);
  ExecReport r{};
  r.signal_seq = s.seq;
  r.kind = static_cast<std::uint8_t>(ReportKind::kRejected);
  r.side = s.side;
  r.reason = static_cast<std::uint16_t>(reason);
  r.symbol = s.symbol;
  r.venue_code = venue_code;
  r.ts_ns = now;
  report(slot, r);
  const char* name = engine::to_string(reason);
  log_.push(HotRecord{now, spdlog::level::info, "exec", "signal_rejected"}
                .u("slot", slot)
                .u("seq", s.seq)
                .s("reason", name, std::strlen(name))
                .u("symbol", s.symbol));
}

// ---- reports ----------------------------------------------------------------------------------

ExecEngine::Order* ExecEngine::allocate() noexcept {
  const std::uint32_t i = free_orders_.back();
  free_orders_.pop_back();
  Order& o = orders_[i];
  o = Order{};
  o.in_use = true;
  return &o;
}

void ExecEngine::index_insert(const Order& o) noexcept {
  index_.insert(o.slot, o.seq, static_cast<std::uint32_t>(&o - orders_.data()));
}

void ExecEngine::release(Order& o) noexcept {
  if (o.adopted) {
    std::erase(adopted_, static_cast<std::uint32_t>(&o - orders_.data()));
  } else {
    (void)index_.erase(o.slot, o.seq);
  }
  o.in_use = false;
  free_orders_.push_back(static_cast<std::uint32_t>(&o - orders_.data()));
}

ExecEngine::Order* ExecEngine::find(std::uint32_t slot, std::uint64_t seq) noexcept {
  const auto i = index_.find(slot, seq);
  if (!i) return nullptr;
  Order& o = orders_[*i];
  return o.in_use ? &o : nullptr;
}

ExecEngine::Order* ExecEngine::find(std::string_view cid) noexcept {
  std::uint32_t slot = 0;
  std::uint64_t seq = 0;
  if (parse_client_order_id(cid, epoch_ns_, slot, seq)) {
    Order* o = find(slot, seq);
    if (o != nullptr && o->cid_view() == cid) return o;
  }
  for (const std::uint32_t i : adopted_) {  // an earlier run's order (few, and rare)
    if (orders_[i].in_use && orders_[i].cid_view() == cid) return &orders_[i];
  }
  return nullptr;
}

// ---- shutdown ---------------------------------------------------------------------------------

}  // namespace cwts::daemon
