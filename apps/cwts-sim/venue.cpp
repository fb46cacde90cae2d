// Venue: market state, capture replay, synthetic generator and stream payloads (see venue.hpp).
#include "venue.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include <simdjson.h>

#include "cwts/binance/market_json.hpp"
#include "cwts/binance/stream_control.hpp"
#include "cwts/core/fixed_point.hpp"
#include "cwts/md/capture_reader.hpp"
#include "cwts/md/frame_parser.hpp"
#include "json_log.hpp"

namespace cwts::sim_server {

namespace {

constexpr std::size_t kTradeHistory = 1000;
constexpr std::size_t kKlineHistory = 1000;

}  // namespace

namespace {
std::int64_t g_clock_offset_us = 0;
}  // namespace

void set_clock_offset_ms(std::int64_t offset_ms) noexcept { g_clock_offset_us = offset_ms * 1000; }

std::int64_t wall_us() noexcept {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count() +
         g_clock_offset_us;
}

std::int64_t wall_ms() noexcept { return wall_us() / 1000; }

void KlineSeries::add(int idx, std::int64_t t, md::Price px, md::Qty qty, md::Notional quote,
                      bool buyer_maker, std::int64_t trade_id) {
  const std::int64_t open = interval_open(idx, t);
  if (!k_.empty() && open < k_.back().open_ms) return;  // late trade: the candle has closed
  if (k_.empty() || open > k_.back().open_ms) {
    // Binance lists quiet periods as flat candles at the previous close.
    if (!k_.empty()) {
      std::int64_t o = interval_next(idx, k_.back().open_ms);
      std::size_t fillers = 0;
      while (o < open && fillers++ < kKlineHistory) {
        Kline f;
        f.open_ms = o;
        f.close_ms = interval_next(idx, o) - 1;
        f.o = f.h = f.l = f.c = k_.back().c;
        k_.push_back(f);
        if (k_.size() > kKlineHistory) k_.pop_front();
        o = interval_next(idx, o);
      }
    }
    Kline k;
    k.open_ms = open;
    k.close_ms = interval_next(idx, open) - 1;
    k.o = k.h = k.l = k.c = px;
    k_.push_back(k);
    if (k_.size() > kKlineHistory) k_.pop_front();
  }
  Kline& k = k_.back();
  if (k.n == 0) k.o = k.h = k.l = px;
  k.h = std::max(k.h, px);
  k.l = std::min(k.l, px);
  k.c = px;
  k.vol += qty;
  k.quote += quote;
  if (!buyer_maker) {  // the taker bought
    k.taker_base += qty;
    k.taker_quote += quote;
  }
  if (k.first_id < 0) k.first_id = trade_id;
  k.last_id = trade_id;
  ++k.n;
}

// ---------------------------------------------------------------------------------------------

Venue::Venue(const Options& opts)
    : speed_(opts.speed),
      loop_(opts.loop),
      rebase_time_(opts.rebase_time),
      rate_(opts.rate),
      rng_(opts.seed) {
  if (opts.captures.empty() && opts.synthetic.empty())
    throw std::invalid_argument("need --capture FILE... or --synthetic SYMBOLS");
  if (opts.speed < 0) throw std::invalid_argument("--speed must be >= 0");
  if (!opts.synthetic.empty() && !(opts.rate > 0))
    throw std::invalid_argument("--rate must be > 0");
  load_exchange_info(opts);
  for (const auto& s : opts.synthetic)
    if (info_.find(s) == nullptr) add_synthetic_symbol(s);
  if (opts.request_weight_limit != 0)
    for (auto& l : info_.rate_limits)
      if (l.type == binance::RateLimitType::kRequestWeight) l.limit = opts.request_weight_limit;

  // From here on info_ is immutable: markets and the engine keep pointers into it.
  std::vector<binance::AssetAmount> balances;
  std::string err;
  if (!sim::parse_balance_spec(opts.balances, balances, err))
    throw std::invalid_argument("--balance: " + err);
  sim::EngineConfig engine_config;
  engine_config.bnb_fees = opts.bnb_fees;
  engine_ = std::make_unique<sim::MatchingEngine>(info_, sim::Account(balances), engine_config);

  load_captures(opts.captures);
  for (const auto& s : opts.synthetic) {
    if (find(s) != nullptr) throw std::invalid_argument("symbol both captured and synthetic: " + s);
    auto m = std::make_unique<Market>();
    m->name = s;
    m->synthetic = true;
    markets_.push_back(std::move(m));
    synth_markets_.push_back(markets_.size() - 1);
  }
  for (auto& m : markets_) {
    m->lower = core::ascii_lower(m->name);
    m->spec = info_.find(m->name);
    if (m->spec == nullptr) throw std::runtime_error("symbol not in exchangeInfo: " + m->name);
    if (m->synthetic) {
      init_synthetic(*m);
      engine_->on_book(m->name, m->book(), wall_ms());  // e.g. the BNB price for commissions
    }
  }
}

Venue::~Venue() = default;

void Venue::load_exchange_info(const Options& opts) {
  const std::string text = binance::read_file_maybe_gz(opts.exchange_info_path);
  info_ = binance::parse_exchange_info(text);
  binance::ExchangeInfoJson raw = binance::split_exchange_info_json(text);
  for (auto& [name, object] : raw.symbols) {
    symbol_order_.push_back(name);
    symbol_json_[name] = std::move(object);
  }
  exchange_filters_json_ = std::move(raw.exchange_filters);
}

Market* Venue::find(std::string_view symbol) noexcept {
  for (auto& m : markets_)
    if (m->name == symbol) return m.get();
  return nullptr;
}

const md::OrderBook& Venue::book_or_empty(std::string_view symbol) noexcept {
  const Market* m = find(symbol);
  return m != nullptr ? m->book() : empty_book_;
}

// --- Publishing -------------------------------------------------------------------------------

void Venue::publish(std::vector<Subscriber*>& subs, const std::string& stream, std::string data) {
  if (subs.empty()) return;
  std::shared_ptr<const std::string> raw, wrapped;
  for (Subscriber* s : subs) {
    if (s->combined()) {
      if (!wrapped) {
        wrapped = std::make_shared<const std::string>(binance::combined_stream_frame(stream, data));
      }
      s->send(wrapped);
    } else {
      if (!raw) raw = std::make_shared<const std::string>(data);
      s->send(raw);
    }
  }
  ++published_;
}

void Venue::apply_and_publish_diff(Market& m, const md::DepthMsg& d,
                                   std::span<const md::Level> bids, std::span<const md::Level> asks,
                                   const std::string* raw_data, std::int64_t event_ms) {
  const md::DiffOutcome out = m.sync.on_diff(d, bids, asks);
  if (out != md::DiffOutcome::kApplied) {
    if (out != md::DiffOutcome::kDropped)
      log_event(spdlog::level::warn, "market", "diff_not_applied",
                LogFields().str("symbol", m.name).str("outcome", md::to_string(out)));
    return;
  }
  if (!m.synthetic) m.clock_ms = std::max(m.clock_ms, event_ms);
  const auto first =
      static_cast<std::uint64_t>(static_cast<std::int64_t>(d.first_id) + m.id_offset);
  const auto last = static_cast<std::uint64_t>(static_cast<std::int64_t>(d.last_id) + m.id_offset);
  if (faults_.skip_update_ids > 0) {
    // The market moved but nobody hears about it: every diff stream now has a gap.
    --faults_.skip_update_ids;
    m.acc_bids.clear();
    m.acc_asks.clear();
    m.acc_first = 0;
    log_event(spdlog::level::info, "fault", "update_ids_skipped",
              LogFields()
                  .str("symbol", m.name)
                  .num("U", static_cast<std::int64_t>(first))
                  .num("u", static_cast<std::int64_t>(last)));
    return;
  }
  if (!m.subs_depth1000.empty()) {
    if (m.acc_first == 0) m.acc_first = first;
    m.acc_last = last;
    for (const auto& l : bids) m.acc_bids[l.px] = l.qty;
    for (const auto& l : asks) m.acc_asks[l.px] = l.qty;
  }
  if (m.subs_depth100.empty()) return;
  std::string data;
  if (raw_data != nullptr) {
    data = shift_field(shift_field(shift_field(*raw_data, "U", m.id_offset), "u", m.id_offset), "E",
                       time_shift_ms_);
  } else {
    data = binance::depth_update_event(m.name, event_ms, first, last, bids, asks);
  }
  publish(m.subs_depth100, m.lower + "@depth@100ms", std::move(data));
}

void Venue::record_trade(Market& m, std::int64_t id, md::Price price, md::Qty quantity,
                         std::int64_t time_ms, bool buyer_maker) {
  const PublicTrade t{id, price, quantity, core::notional(price, quantity), time_ms, buyer_maker};
  m.trades.push_back(t);
  if (m.trades.size() > kTradeHistory) m.trades.pop_front();
  if (id >= m.next_trade_id) m.next_trade_id = id + 1;
  for (std::size_t i = 0; i < kIntervals.size(); ++i)
    m.klines[i].add(static_cast<int>(i), time_ms, price, quantity, t.quote, buyer_maker, id);
  const std::int64_t minute = time_ms / 60'000;
  MinuteBucket& b = m.minutes[static_cast<std::size_t>(minute % 1440)];
  if (b.minute != minute)
    b = MinuteBucket{minute, price, price, price, price, md::Qty{}, md::Notional{}, id, id, 0};
  b.h = std::max(b.h, price);
  b.l = std::min(b.l, price);
  b.c = price;
  b.vol += quantity;
  b.quote += t.quote;
  b.last_id = id;
  ++b.n;
}

void Venue::publish_trade(Market& m, const PublicTrade& t, std::int64_t event_ms,
                          std::int64_t agg_id, std::int64_t first_id, std::int64_t last_id) {
  if (!m.subs_trade.empty()) {
    publish(m.subs_trade, m.lower + "@trade", binance::trade_event(m.name, event_ms, t));
  }
  if (agg_id >= 0 && !m.subs_agg.empty()) {
    publish(m.subs_agg, m.lower + "@aggTrade",
            binance::agg_trade_event(m.name, event_ms, agg_id, first_id, last_id, t));
  }
}

void Venue::maybe_book_ticker(Market& m) {
  const md::OrderBook& b = m.book();
  if (b.bid_levels() == 0 || b.ask_levels() == 0) return;
  const md::Level bb = b.bid(0), ba = b.ask(0);
  if (bb.px == m.last_top_bid && bb.qty == m.last_top_bq && ba.px == m.last_top_ask &&
      ba.qty == m.last_top_aq)
    return;
  m.last_top_bid = bb.px;
  m.last_top_bq = bb.qty;
  m.last_top_ask = ba.px;
  m.last_top_aq = ba.qty;
  if (m.subs_book_ticker.empty()) return;
  publish(m.subs_book_ticker, m.lower + "@bookTicker",
          binance::book_ticker_event(m.public_id(), m.name, bb, ba));
}

void Venue::on_100ms_tick(std::uint64_t tick_no, std::int64_t now_wall_ms) {
  static constexpr std::array<std::size_t, 3> kPartialLevels = {5, 10, 20};
  for (auto& mp : markets_) {
    Market& m = *mp;
    const bool second = tick_no % 10 == 0;
    for (std::size_t slot = 0; slot < 6; ++slot) {
      if (m.subs_partial[slot].empty() || (slot < 3 && !second) || !m.sync.valid()) continue;
      const std::size_t n = kPartialLevels[slot % 3];
      std::string s = binance::depth_json(m.public_id(), m.book(), n);
      std::string name = m.lower + "@depth" + std::to_string(n) + (slot >= 3 ? "@100ms" : "");
      publish(m.subs_partial[slot], name, std::move(s));
    }
    if (second && m.acc_first != 0 && !m.subs_depth1000.empty()) {
      std::vector<md::Level> bids, asks;
      for (auto it = m.acc_bids.rbegin(); it != m.acc_bids.rend(); ++it)
        bids.push_back({it->first, it->second});
      for (const auto& [px, qty] : m.acc_asks) asks.push_back({px, qty});
      std::string s = binance::depth_update_event(m.name, m.synthetic ? now_wall_ms : m.clock_ms,
                                                  m.acc_first, m.acc_last, bids, asks);
      m.acc_bids.clear();
      m.acc_asks.clear();
      m.acc_first = 0;
      publish(m.subs_depth1000, m.lower + "@depth", std::move(s));
    }
    for (std::size_t i = 0; i < kIntervals.size(); ++i) {
      if (m.subs_kline[i].empty() || m.klines[i].all().empty()) continue;
      if (tick_no % (i == 0 ? 10U : 20U) != 0) continue;  // 1 s for 1s klines, else 2 s
      const Kline& k = m.klines[i].all().back();
      const std::int64_t now = m.synthetic ? now_wall_ms : m.clock_ms;
      const bool closed = now > k.close_ms;
      if (closed && m.kline_closed_pushed[i] == k.open_ms) continue;
      if (closed) m.kline_closed_pushed[i] = k.open_ms;
      std::string s = binance::kline_event(m.name, now, kIntervals[i], k, closed);
      publish(m.subs_kline[i], m.lower + "@kline_" + std::string(kIntervals[i]), std::move(s));
    }
  }
}

// --- Streams ----------------------------------------------------------------------------------

bool Venue::parse_stream(std::string_view name, StreamId& out) const {
  const std::optional<binance::StreamName> n = binance::parse_stream_name(name);
  if (!n) return false;
  std::size_t idx = markets_.size();
  for (std::size_t i = 0; i < markets_.size(); ++i)
    if (markets_[i]->lower == n->symbol) idx = i;
  if (idx == markets_.size()) return false;
  out.market = idx;
  switch (n->kind) {
    case binance::StreamKind::kBookTicker:
      out.kind = StreamKind::kBookTicker;
      break;
    case binance::StreamKind::kDiffDepth:
      out.kind = n->speed_ms == 100 ? StreamKind::kDepth100 : StreamKind::kDepth1000;
      break;
    case binance::StreamKind::kPartialDepth:
      out.kind = StreamKind::kPartial;
      out.slot = static_cast<std::uint8_t>((n->levels == 5    ? 0
                                            : n->levels == 10 ? 1
                                                              : 2) +
                                           (n->speed_ms == 100 ? 3 : 0));
      break;
    case binance::StreamKind::kTrade:
      out.kind = StreamKind::kTrade;
      break;
    case binance::StreamKind::kAggTrade:
      out.kind = StreamKind::kAggTrade;
      break;
    case binance::StreamKind::kKline:
      out.kind = StreamKind::kKline;
      out.slot = static_cast<std::uint8_t>(n->interval);
      break;
  }
  return true;
}

namespace {
std::vector<Subscriber*>& subs_of(Market& m, const StreamId& id) {
  switch (id.kind) {
    case StreamKind::kBookTicker:
      return m.subs_book_ticker;
    case StreamKind::kDepth100:
      return m.subs_depth100;
    case StreamKind::kDepth1000:
      return m.subs_depth1000;
    case StreamKind::kTrade:
      return m.subs_trade;
    case StreamKind::kAggTrade:
      return m.subs_agg;
    case StreamKind::kPartial:
      return m.subs_partial[id.slot];
    case StreamKind::kKline:
      break;
  }
  return m.subs_kline[id.slot];
}
}  // namespace

void Venue::subscribe(Subscriber* s, const StreamId& id) {
  auto& v = subs_of(*markets_[id.market], id);
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

void Venue::unsubscribe(Subscriber* s, const StreamId& id) {
  Market& m = *markets_[id.market];
  auto& v = subs_of(m, id);
  v.erase(std::remove(v.begin(), v.end(), s), v.end());
  if (id.kind == StreamKind::kDepth1000 && v.empty()) {
    // A later subscriber must not get a merge with a hole in it.
    m.acc_bids.clear();
    m.acc_asks.clear();
    m.acc_first = 0;
  }
}

std::string Venue::exchange_info_json(std::int64_t now_ms,
                                      const std::vector<const binance::SymbolSpec*>* only) const {
  std::vector<std::string_view> symbols;
  auto add = [&](const std::string& name) {
    const auto it = symbol_json_.find(name);
    if (it != symbol_json_.end()) symbols.push_back(it->second);
  };
  if (only != nullptr) {
    for (const auto* spec : *only) add(spec->name);
  } else {
    for (const auto& n : symbol_order_) add(n);
  }
  return binance::exchange_info_json(now_ms, info_.rate_limits, exchange_filters_json_, symbols);
}

}  // namespace cwts::sim_server
