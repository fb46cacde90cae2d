// Publishing the market-data pipeline's state into the shared market region (md thread).
#include "cwts/publish/shm_publisher.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <limits>
#include <stdexcept>
#include <string>

#include "cwts/concurrent/word_copy.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/shm/region.hpp"

namespace cwts::publish {
namespace {

namespace cc = cwts::concurrent;

constexpr std::int64_t kNsPerMs = 1'000'000;

// Relaxed: the md counters are monotonic statistics; readers use them for monitoring only and
// never to order access to other data.
void store_counter(std::uint64_t& word, std::uint64_t value) noexcept {
  cc::store_word(word, value, std::memory_order_relaxed);
}

}  // namespace

ShmPublisher::ShmPublisher(layout::MarketRegion& region, const binance::ExchangeInfo& info,
                           std::span<const std::string_view> symbols,
                           std::span<const std::uint32_t> timeframes_s, PublisherOptions options)
    : region_(&region), options_(options), candles_(timeframes_s, *this, options.candles) {
  // Sized once for every symbol the region can hold: symbols.add allocates nothing.
  book_depth_ = region.book_depth();
  book_levels_.assign(region.symbol_capacity() * 4 * book_depth_, 0);
  // acquire: pairs with the creator's release of the header state.
  const auto state = static_cast<layout::RegionState>(
      cc::load_word(region.header.state, std::memory_order_acquire));
  if (state != layout::RegionState::kInitializing) {
    throw std::logic_error(
        "shm publisher: the market region is already live; create the publisher before "
        "set_state(kLive) so the timeframe table is written before readers attach");
  }
  if (symbols.empty() || symbols.size() > region.symbol_capacity()) {
    throw std::invalid_argument(
        "shm publisher: between 1 and " + std::to_string(region.symbol_capacity()) +
        " symbols (the market region's capacity), got " + std::to_string(symbols.size()));
  }
  if (candles_.timeframe_count() > region.header.max_timeframes) {
    throw std::invalid_argument("shm publisher: " + std::to_string(candles_.timeframe_count()) +
                                " timeframes, and the market region holds candles for " +
                                std::to_string(region.header.max_timeframes));
  }
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (symbols[j] == symbols[i]) {
        throw std::invalid_argument("shm publisher: symbol " + std::string(symbols[i]) +
                                    " listed twice");
      }
    }
    const binance::SymbolSpec* spec = info.find(symbols[i]);
    if (spec == nullptr) {
      throw std::invalid_argument("shm publisher: symbol " + std::string(symbols[i]) +
                                  " is not in exchangeInfo");
    }
    layout::SymbolInfo si{};
    binance::fill_symbol_info(*spec, static_cast<std::uint16_t>(i), si);
    region.symbol(i).info.store(si);
    names_[i].assign(symbols[i]);
    local_[i].status = static_cast<std::uint8_t>(spec->status);
  }
  symbol_count_ = symbols.size();

  // Plain stores: nothing reads MarketConfig until set_state(kLive), whose release store
  // publishes it (the region is still kInitializing, checked above).
  region.config.timeframe_count = static_cast<std::uint32_t>(candles_.timeframe_count());
  for (std::size_t i = 0; i < layout::kMaxTimeframes; ++i) {
    region.config.timeframe_s[i] = i < candles_.timeframe_count() ? candles_.timeframe_s(i) : 0;
  }
  setup_indicators();
  // release: a reader that sees the count also sees the SymbolInfo entries stored above.
  cc::store_word(region.symbol_count, symbol_count_, std::memory_order_release);
  pipeline_to_shm_.fill(kUnresolved);
}

int ShmPublisher::shm_id(std::string_view symbol) const noexcept {
  for (std::size_t i = 0; i < symbol_count_; ++i) {
    if (names_[i].view() == symbol) return static_cast<int>(i);
  }
  return -1;
}

std::uint16_t ShmPublisher::resolve(const md::SymbolState& s) noexcept {
  if (s.id >= pipeline_to_shm_.size()) {
    ++stats_.unknown_symbol;
    return kNoSymbol;
  }
  std::uint16_t& id = pipeline_to_shm_[s.id];
  if (id == kUnresolved) {
    // Once per pipeline symbol: pipeline ids follow configuration or arrival order, shm ids the
    // publisher's list.
    const int found = shm_id(s.name_view());
    id = found < 0 ? kNoSymbol : static_cast<std::uint16_t>(found);
  }
  if (id == kNoSymbol) ++stats_.unknown_symbol;
  return id;
}

void ShmPublisher::publish_event(layout::Event& ev) noexcept {
  region_->events.publish(ev);
  if (ev.receive_ts_ns > 0 && ev.publish_ts_ns > 0)
    publish_latency_.record(ev.publish_ts_ns - ev.receive_ts_ns);
  ++stats_.events;
  store_counter(region_->status.md.events_published, stats_.events);
}

std::uint32_t ShmPublisher::publish_book(std::uint16_t id, const md::SymbolState& s,
                                         const md::FrameMeta& meta, std::int64_t exchange_ns,
                                         std::int64_t now_ns) noexcept {
  Local& l = local_[id];
  layout::BookHead& bt = l.book;
  const md::OrderBook& book = s.sync.book();
  const std::size_t d = book_depth_;
  // The levels the engine knows whole (inside the last snapshot's deepest), up to the depth.
  const std::size_t nb = s.sync.known_bid_levels(d);
  const std::size_t na = s.sync.known_ask_levels(d);
  std::uint64_t* w = book_levels(id);
  std::uint32_t changed = 0;
  // One side's levels, px then qty words at `px` and `px + d`: a level counts as changed where it
  // differs from the last publication, a level past either count being zero. The levels past the
  // new count are zeroed here (not in the region, where a reader stops at the count).
  const auto side = [&](std::uint64_t* px, std::size_t now, std::size_t before, auto level) {
    std::uint64_t* qty = px + d;
    for (std::size_t i = 0, n = std::max(now, before); i < n; ++i) {
      const md::Level v = i < now ? level(i) : md::Level{};
      const auto p = std::bit_cast<std::uint64_t>(v.px);
      const auto q = std::bit_cast<std::uint64_t>(v.qty);
      if (px[i] != p || qty[i] != q) ++changed;
      px[i] = p;
      qty[i] = q;
    }
  };
  side(w, nb, bt.bid_count, [&](std::size_t i) { return book.bid(i); });
  side(w + 2 * d, na, bt.ask_count, [&](std::size_t i) { return book.ask(i); });
  const std::uint8_t valid = s.sync.valid() ? 1 : 0;
  bt.bid_count = static_cast<std::uint32_t>(nb);
  bt.ask_count = static_cast<std::uint32_t>(na);
  bt.update_id = s.sync.update_id();
  bt.exchange_ts_ns = exchange_ns;
  bt.receive_ts_ns = meta.receive_ns;
  bt.publish_ts_ns = now_ns;
  bt.book_valid = valid;
  region_->store_book(id, bt, w);

  // The bookTicker stream runs ahead of the 100 ms diffs; the quote only moves forward.
  layout::Quote& q = l.quote;
  if (bt.update_id >= q.update_id) {
    const layout::BookBody best = best_levels(id);
    q.bid_px = best.bid_px;
    q.bid_qty = best.bid_qty;
    q.ask_px = best.ask_px;
    q.ask_qty = best.ask_qty;
    q.update_id = bt.update_id;
    q.exchange_ts_ns = exchange_ns;
    q.receive_ts_ns = meta.receive_ns;
    q.publish_ts_ns = now_ns;
    q.book_valid = valid;
    region_->symbol(id).quote.store(q);
  }
  return changed;
}

layout::BookBody ShmPublisher::best_levels(std::uint16_t id) const noexcept {
  // Level 0 of each side; zero where a side is empty (levels past a count are kept zero).
  const std::uint64_t* w = book_levels(id);
  const std::size_t d = book_depth_;
  layout::BookBody b{};
  b.bid_px = std::bit_cast<core::Price>(w[0]);
  b.bid_qty = std::bit_cast<core::Qty>(w[d]);
  b.ask_px = std::bit_cast<core::Price>(w[2 * d]);
  b.ask_qty = std::bit_cast<core::Qty>(w[3 * d]);
  return b;
}

void ShmPublisher::on_book(const md::SymbolState& s, const md::FrameMeta& meta,
                           std::int64_t exchange_ms) noexcept {
  count(Stream::kDepth);
  const std::uint16_t id = resolve(s);
  if (id == kNoSymbol) return;
  const std::int64_t now = core::realtime_ns();
  const std::int64_t exch = exchange_ms * kNsPerMs;
  const std::uint32_t changed = publish_book(id, s, meta, exch, now);
  if (changed == 0) return;  // a diff below the region's book depth: nothing for readers
  layout::Event ev{};
  ev.kind = static_cast<std::uint8_t>(layout::EventKind::kBook);
  ev.symbol = id;
  ev.update_id = local_[id].book.update_id;
  ev.exchange_ts_ns = exch;
  ev.receive_ts_ns = meta.receive_ns;
  ev.publish_ts_ns = now;
  ev.body.book = best_levels(id);
  ev.body.book.levels_changed = changed;
  publish_event(ev);
}

void ShmPublisher::publish_status(std::uint16_t id, std::int64_t receive_ns,
                                  std::int64_t now_ns) noexcept {
  layout::Event ev{};
  ev.kind = static_cast<std::uint8_t>(layout::EventKind::kStatus);
  ev.symbol = id;
  ev.receive_ts_ns = receive_ns;
  ev.publish_ts_ns = now_ns;
  ev.body.status.book_valid = local_[id].book.book_valid;
  ev.body.status.symbol_status = local_[id].status;
  // relaxed: the exec thread's word, copied as information only.
  ev.body.status.trading_state =
      cc::load_word(region_->status.exec.trading_state, std::memory_order_relaxed);
  publish_event(ev);
}

void ShmPublisher::track_sync_counters(std::uint16_t id, const md::SymbolState& s) noexcept {
  Local& l = local_[id];
  const auto& st = s.sync.stats();
  if (st.gaps != l.gaps_seen || st.resyncs != l.resyncs_seen) {
    gaps_ += st.gaps - l.gaps_seen;
    resyncs_ += st.resyncs - l.resyncs_seen;
    l.gaps_seen = st.gaps;
    l.resyncs_seen = st.resyncs;
    store_counter(region_->status.md.gaps, gaps_);
    store_counter(region_->status.md.resyncs, resyncs_);
  }
}

void ShmPublisher::on_book_validity(const md::SymbolState& s, bool valid,
                                    const md::FrameMeta& meta) noexcept {
  const std::uint16_t id = resolve(s);
  if (id == kNoSymbol) return;
  const std::int64_t now = core::realtime_ns();
  Local& l = local_[id];
  std::uint32_t changed = 0;
  if (valid) {
    // The synced book goes out first, so a reader that sees the flag finds the levels with it.
    changed = publish_book(id, s, meta, 0, now);
  } else {
    // Keep the last levels for diagnostics but flag them: readers must check book_valid.
    l.book.book_valid = 0;
    l.book.receive_ts_ns = meta.receive_ns;
    l.book.publish_ts_ns = now;
    region_->store_book(id, l.book, book_levels(id));
    l.quote.book_valid = 0;
    l.quote.receive_ts_ns = meta.receive_ns;
    l.quote.publish_ts_ns = now;
    region_->symbol(id).quote.store(l.quote);
  }
  // release: a reader that sees the new flag also sees the snapshots stored above.
  cc::store_word(region_->symbol(id).book_valid, valid ? 1 : 0, std::memory_order_release);
  publish_status(id, meta.receive_ns, now);
  if (valid) {
    // Announces the synced book even if its top levels equal the ones before the resync.
    layout::Event ev{};
    ev.kind = static_cast<std::uint8_t>(layout::EventKind::kBook);
    ev.symbol = id;
    ev.update_id = l.book.update_id;
    ev.receive_ts_ns = meta.receive_ns;
    ev.publish_ts_ns = now;
    ev.body.book = best_levels(id);
    ev.body.book.levels_changed = changed;
    publish_event(ev);
  }
  track_sync_counters(id, s);
}

void ShmPublisher::on_snapshot_needed(const md::SymbolState& s) noexcept {
  const std::uint16_t id = resolve(s);
  if (id == kNoSymbol) return;
  track_sync_counters(id, s);
}

void ShmPublisher::on_book_ticker(const md::SymbolState& s, const md::BookTickerMsg& t,
                                  const md::FrameMeta& meta) noexcept {
  count(Stream::kBookTicker);
  const std::uint16_t id = resolve(s);
  if (id == kNoSymbol) return;
  layout::Quote& q = local_[id].quote;
  if (t.update_id < q.update_id) {
    ++stats_.stale_book_tickers;
    return;
  }
  const std::int64_t now = core::realtime_ns();
  const std::int64_t exch = t.event_time_ms * kNsPerMs;  // spot bookTicker: no E, 0
  q.bid_px = t.bid_px;
  q.bid_qty = t.bid_qty;
  q.ask_px = t.ask_px;
  q.ask_qty = t.ask_qty;
  q.update_id = t.update_id;
  q.exchange_ts_ns = exch;
  q.receive_ts_ns = meta.receive_ns;
  q.publish_ts_ns = now;
  q.book_valid = local_[id].book.book_valid;
  region_->symbol(id).quote.store(q);

  layout::Event ev{};
  ev.kind = static_cast<std::uint8_t>(layout::EventKind::kQuote);
  ev.symbol = id;
  ev.update_id = t.update_id;
  ev.exchange_ts_ns = exch;
  ev.receive_ts_ns = meta.receive_ns;
  ev.publish_ts_ns = now;
  ev.body.quote.bid_px = q.bid_px;
  ev.body.quote.bid_qty = q.bid_qty;
  ev.body.quote.ask_px = q.ask_px;
  ev.body.quote.ask_qty = q.ask_qty;
  publish_event(ev);
}

void ShmPublisher::on_trade(const md::SymbolState& s, const md::TradeMsg& t, bool aggregate,
                            const md::FrameMeta& meta) noexcept {
  count(aggregate ? Stream::kAggTrade : Stream::kTrade);
  const std::uint16_t id = resolve(s);
  if (id == kNoSymbol) return;
  Local& l = local_[id];
  const std::uint8_t kind = aggregate ? 2 : 1;
  bool accept = true;
  switch (options_.trade_source) {
    case TradeSource::kAuto:
      if (l.trade_kind == 0) l.trade_kind = kind;
      accept = l.trade_kind == kind;
      break;
    case TradeSource::kTrade:
      accept = !aggregate;
      break;
    case TradeSource::kAggTrade:
      accept = aggregate;
      break;
  }
  if (!accept) {
    ++stats_.other_trade_source;
    return;
  }
  const std::int64_t now = core::realtime_ns();
  const std::int64_t event_ms = t.event_time_ms != 0 ? t.event_time_ms : t.trade_time_ms;
  const std::int64_t exch = event_ms * kNsPerMs;
  // m = buyer is maker, so the aggressor sold.
  const auto side = t.buyer_is_maker ? layout::Side::kSell : layout::Side::kBuy;

  layout::Quote& q = l.quote;
  q.last_px = t.px;
  q.last_qty = t.qty;
  q.last_trade_id = t.id;
  q.last_side = static_cast<std::uint8_t>(side);
  q.exchange_ts_ns = exch;
  q.receive_ts_ns = meta.receive_ns;
  q.publish_ts_ns = now;
  region_->symbol(id).quote.store(q);

  layout::Event ev{};
  ev.kind = static_cast<std::uint8_t>(layout::EventKind::kTrade);
  ev.side = static_cast<std::uint8_t>(side);
  ev.symbol = id;
  ev.update_id = t.id;
  ev.exchange_ts_ns = exch;
  ev.receive_ts_ns = meta.receive_ns;
  ev.publish_ts_ns = now;
  ev.body.trade.px = t.px;
  ev.body.trade.qty = t.qty;
  ev.body.trade.trade_id = t.id;
  publish_event(ev);

  // An aggTrade covers venue trades f..l; counting them makes the candle's trade count comparable
  // with the kline's n. (md::TradeMsg::first_id/last_id are only meaningful for aggTrades.)
  std::uint32_t n = 1;
  if (aggregate && t.last_id >= t.first_id && t.last_id - t.first_id < 0xFFFFFFFFULL) {
    n = static_cast<std::uint32_t>(t.last_id - t.first_id + 1);
  }
  context_receive_ns_ = meta.receive_ns;
  candles_.on_trade(id, t.trade_time_ms != 0 ? t.trade_time_ms : event_ms, t.px, t.qty, n);
}

void ShmPublisher::on_kline(const md::SymbolState& s, const md::KlineMsg& k,
                            const md::FrameMeta& meta) noexcept {
  count(Stream::kKline);
  const std::uint16_t id = resolve(s);
  if (id == kNoSymbol) return;
  context_receive_ns_ = meta.receive_ns;
  candles_.on_kline(id, k);
}

void ShmPublisher::setup_indicators() {
  for (auto& per_symbol : last_closed_ms_)
    per_symbol.fill(std::numeric_limits<std::int64_t>::min());
  for (std::size_t id = 0; id < symbol_count_; ++id) setup_indicators(id);
}

void ShmPublisher::setup_indicators(std::size_t id) {
  {
    layout::IndicatorTable table{};
    std::size_t slots = 0;
    for (const IndicatorSpec& spec : options_.indicators) {
      const std::string_view sym = names_[id].view();
      if (!spec.symbols.empty() &&
          std::find(spec.symbols.begin(), spec.symbols.end(), sym) == spec.symbols.end()) {
        continue;
      }
      const ta::KindSpec& ks = ta::spec(spec.kind);
      const int tf = candles_.index_of(spec.timeframe_s);
      if (tf < 0) {
        throw std::invalid_argument("shm publisher: indicator " + spec.name + " uses timeframe " +
                                    std::to_string(spec.timeframe_s) +
                                    " s, which is not configured");
      }
      if (slots + ks.n_outputs > layout::kMaxIndicators) {
        throw std::invalid_argument("shm publisher: more than " +
                                    std::to_string(layout::kMaxIndicators) +
                                    " indicator values for " + std::string(sym));
      }
      Indicator ind;
      ind.stream = ta::make_stream(spec.kind, spec.params);  // validates the parameters
      ind.timeframe = static_cast<std::uint8_t>(tf);
      ind.first_slot = static_cast<std::uint8_t>(slots);
      ind.lookback = ta::lookback(spec.kind, spec.params);
      ind.n_inputs = ks.n_inputs;
      for (std::size_t i = 0; i < ks.n_inputs; ++i) {
        const std::string_view role = ks.inputs[i];  // "real" is the close
        ind.field[i] = role == "high" ? 0 : role == "low" ? 1 : role == "volume" ? 3 : 2;
      }
      for (std::size_t j = 0; j < ks.n_outputs; ++j) {
        const std::string name = ks.n_outputs == 1 ? spec.name : spec.name + "." + ks.outputs[j];
        if (name.empty() || name.size() > sizeof(layout::IndicatorDesc{}.name.data)) {
          throw std::invalid_argument(
              "shm publisher: indicator name \"" + name + "\" must have 1 to " +
              std::to_string(sizeof(layout::IndicatorDesc{}.name.data)) + " characters");
        }
        for (std::size_t k = 0; k < slots; ++k) {
          if (table.desc[k].name.view() == name) {
            throw std::invalid_argument("shm publisher: indicator name \"" + name +
                                        "\" used twice for " + std::string(sym));
          }
        }
        layout::IndicatorDesc& d = table.desc[slots];
        d.name.assign(name);
        d.timeframe = static_cast<std::uint8_t>(tf);
        d.kind = static_cast<std::uint8_t>(spec.kind);
        d.period = static_cast<std::uint16_t>(ks.n_params > 0 ? spec.params.v[0] : 0);
        d.output = static_cast<std::uint32_t>(j);
        ++slots;
      }
      indicators_[id].push_back(std::move(ind));
    }
    table.count = static_cast<std::uint32_t>(slots);
    region_->symbol(id).indicator_table.store(table);
    layout::IndicatorValues& vals = indicator_values_[id];
    vals = layout::IndicatorValues{};
    vals.count = table.count;
    for (double& v : vals.value) v = std::numeric_limits<double>::quiet_NaN();
    region_->symbol(id).indicators.store(vals);
  }
}

std::size_t ShmPublisher::indicator_warmup(std::uint16_t symbol,
                                           std::uint8_t timeframe) const noexcept {
  std::size_t most = 0;
  if (symbol >= symbol_count_) return 0;
  for (const Indicator& ind : indicators_[symbol]) {
    if (ind.timeframe == timeframe)
      most = std::max(most, static_cast<std::size_t>(ind.lookback) + 1);
  }
  return most;
}

void ShmPublisher::update_indicators(std::uint16_t symbol, std::uint8_t timeframe,
                                     const layout::Candle& candle) noexcept {
  auto& list = indicators_[symbol];
  if (list.empty()) return;
  // Price / Qty raw at md::kWireDecimals, divided (not multiplied by 1e-8) so the doubles are the
  // ones cwts_bridge gives for the same candles: indicators recomputed there agree to the bit.
  constexpr double kScale = 1e8;
  static_assert(md::kWireDecimals == 8);
  const double fields[4] = {static_cast<double>(candle.high.raw) / kScale,
                            static_cast<double>(candle.low.raw) / kScale,
                            static_cast<double>(candle.close.raw) / kScale,
                            static_cast<double>(candle.volume.raw) / kScale};
  layout::IndicatorValues& vals = indicator_values_[symbol];
  bool any = false;
  for (Indicator& ind : list) {
    if (ind.timeframe != timeframe) continue;
    double in[ta::kMaxInputs];
    for (std::size_t i = 0; i < ind.n_inputs; ++i) in[i] = fields[ind.field[i]];
    ind.stream->update(in, &vals.value[ind.first_slot]);
    any = true;
  }
  if (!any) return;
  vals.candle_open_ms = candle.open_time_ms;
  vals.publish_ts_ns = core::realtime_ns();
  region_->symbol(symbol).indicators.store(vals);
}

void ShmPublisher::seed_closed_candle(std::uint16_t symbol, std::uint8_t timeframe,
                                      const layout::Candle& candle) noexcept {
  if (symbol >= symbol_count_ || timeframe >= candles_.timeframe_count()) return;
  if (candle.open_time_ms <= last_closed_ms_[symbol][timeframe]) return;
  last_closed_ms_[symbol][timeframe] = candle.open_time_ms;
  region_->closed_candles(symbol, timeframe).publish(candle);
  update_indicators(symbol, timeframe, candle);
}

void ShmPublisher::on_candle_closed(std::uint16_t symbol, std::uint8_t timeframe,
                                    const layout::Candle& candle) {
  if (candle.open_time_ms <= last_closed_ms_[symbol][timeframe]) return;  // seeded from history
  last_closed_ms_[symbol][timeframe] = candle.open_time_ms;
  ++stats_.candles_closed;
  region_->closed_candles(symbol, timeframe).publish(candle);
  update_indicators(symbol, timeframe, candle);
  layout::Event ev{};
  ev.kind = static_cast<std::uint8_t>(layout::EventKind::kCandleClose);
  ev.symbol = symbol;
  ev.timeframe = timeframe;
  ev.update_id = static_cast<std::uint64_t>(candle.open_time_ms);
  // The close instant of the candle, on the venue's clock.
  ev.exchange_ts_ns =
      (candle.open_time_ms + static_cast<std::int64_t>(candles_.timeframe_s(timeframe)) * 1000) *
      kNsPerMs;
  ev.receive_ts_ns = context_receive_ns_;
  ev.publish_ts_ns = core::realtime_ns();
  ev.body.candle.candle = candle;
  publish_event(ev);
}

void ShmPublisher::on_candle_live(std::uint16_t symbol, std::uint8_t timeframe,
                                  const layout::Candle& candle) {
  region_->candles(symbol, timeframe).live.store(candle);
}

void ShmPublisher::on_tick(std::int64_t now_ns, const md::Pipeline::Counters& c) noexcept {
  context_receive_ns_ = now_ns;
  candles_.on_time(now_ns / kNsPerMs);
  auto& md = region_->status.md;
  store_counter(md.frames, c.frames);
  store_counter(md.parse_errors, c.malformed);
  store_counter(md.heartbeat_ns, static_cast<std::uint64_t>(now_ns));
}

std::uint16_t ShmPublisher::add_symbol(const binance::SymbolSpec& spec) {
  if (const int have = shm_id(spec.name); have >= 0) {
    // Added again after a removal: it trades again under its old id.
    const auto id = static_cast<std::uint16_t>(have);
    if (local_[id].status != static_cast<std::uint8_t>(spec.status)) {
      set_symbol_status(id, spec.status);
    }
    return id;
  }
  if (symbol_count_ >= region_->symbol_capacity()) {
    throw std::length_error("the market region's symbol table is full (its capacity is " +
                            std::to_string(region_->symbol_capacity()) +
                            " symbols: region.max_symbols)");
  }
  const std::size_t id = symbol_count_;
  layout::SymbolInfo si{};
  binance::fill_symbol_info(spec, static_cast<std::uint16_t>(id), si);
  if (si.name.view() != spec.name) {
    throw std::invalid_argument("shm publisher: symbol name " + spec.name +
                                " is too long for the layout");
  }
  indicators_[id].clear();
  setup_indicators(id);  // throws before anything a reader can see changes: the count is not up
  region_->symbol(id).info.store(si);
  names_[id].assign(spec.name);
  local_[id] = Local{};
  std::fill_n(book_levels(id), 4 * book_depth_, std::uint64_t{0});
  local_[id].status = static_cast<std::uint8_t>(spec.status);
  symbol_count_ = id + 1;
  // release: a reader that sees the count also sees the SymbolInfo and indicator table above.
  cc::store_word(region_->symbol_count, symbol_count_, std::memory_order_release);
  // Pipeline symbols that were looked up before and found nothing may be this one now.
  for (auto& m : pipeline_to_shm_) {
    if (m == kNoSymbol) m = kUnresolved;
  }
  publish_status(static_cast<std::uint16_t>(id), 0, core::realtime_ns());
  return static_cast<std::uint16_t>(id);
}

void ShmPublisher::set_symbol_status(std::uint16_t id, layout::SymbolStatus status) noexcept {
  if (id >= symbol_count_) return;
  layout::SymbolInfo si = region_->symbol(id).info.load();
  si.status = static_cast<std::uint8_t>(status);
  region_->symbol(id).info.store(si);
  local_[id].status = static_cast<std::uint8_t>(status);
  publish_status(id, 0, core::realtime_ns());
}

void ShmPublisher::update_symbol_info(const binance::ExchangeInfo& info) {
  const std::int64_t now = core::realtime_ns();
  for (std::size_t i = 0; i < symbol_count_; ++i) {
    const binance::SymbolSpec* spec = info.find(names_[i].view());
    if (spec == nullptr) {
      throw std::runtime_error("shm publisher: symbol " + std::string(names_[i].view()) +
                               " is no longer in exchangeInfo");
    }
    layout::SymbolInfo si{};
    binance::fill_symbol_info(*spec, static_cast<std::uint16_t>(i), si);
    region_->symbol(i).info.store(si);
    const auto status = static_cast<std::uint8_t>(spec->status);
    if (status != local_[i].status) {
      local_[i].status = status;
      publish_status(static_cast<std::uint16_t>(i), 0, now);
    }
  }
}

}  // namespace cwts::publish
