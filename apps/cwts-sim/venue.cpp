// Venue: market state, capture replay, synthetic generator and stream payloads (see venue.hpp).
#include "venue.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include <simdjson.h>

#include "cwts/binance/market_json.hpp"
#include "cwts/md/capture_reader.hpp"
#include "cwts/md/frame_parser.hpp"
#include "json_log.hpp"

namespace cwts::sim_server {

namespace {

constexpr std::size_t kTradeHistory = 1000;
constexpr std::size_t kKlineHistory = 1000;
constexpr int kSyntheticLevels = 300;

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Adds `delta` to every integer member `"key":<digits>` of a captured payload. Keeps the bytes
// otherwise identical (the frames are forwarded as recorded).
std::string shift_field(std::string s, std::string_view key, std::int64_t delta) {
  if (delta == 0) return s;
  std::string pat = "\"";
  pat += key;
  pat += "\":";
  std::size_t pos = 0;
  while ((pos = s.find(pat, pos)) != std::string::npos) {
    const std::size_t start = pos + pat.size();
    std::size_t end = start;
    while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
    if (end == start) {
      pos = start;
      continue;
    }
    std::int64_t v = 0;
    std::from_chars(s.data() + start, s.data() + end, v);
    std::string repl;
    append_int(repl, v + delta);
    s.replace(start, end - start, repl);
    pos = start + repl.size();
  }
  return s;
}

std::vector<md::Level> copy_side(const md::OrderBook& b, bool bids) {
  std::vector<md::Level> out;
  const std::size_t n = bids ? b.bid_levels() : b.ask_levels();
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(bids ? b.bid(i) : b.ask(i));
  return out;
}

// Levels that turn side `from` into side `to` (0 for removed levels).
std::vector<md::Level> side_diff(const std::vector<md::Level>& from,
                                 const std::vector<md::Level>& to) {
  std::map<std::int64_t, std::int64_t> want;
  for (const auto& l : to) want[l.px] = l.qty;
  std::vector<md::Level> out;
  for (const auto& l : from) {
    const auto it = want.find(l.px);
    if (it == want.end()) out.push_back({l.px, 0});
  }
  std::map<std::int64_t, std::int64_t> have;
  for (const auto& l : from) have[l.px] = l.qty;
  for (const auto& l : to) {
    const auto it = have.find(l.px);
    if (it == have.end() || it->second != l.qty) out.push_back(l);
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::int64_t mul_px_qty(std::int64_t px, std::int64_t qty) noexcept {
  return static_cast<std::int64_t>(static_cast<Int128>(px) * qty / 100'000'000);
}

std::int64_t wall_ms() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void KlineSeries::add(int idx, std::int64_t t, std::int64_t px, std::int64_t qty,
                      std::int64_t quote, bool buyer_maker, std::int64_t trade_id) {
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

struct Venue::CaptureEvent {
  enum class Kind : std::uint8_t { kDiff, kBookTicker, kAggTrade, kTrade };
  std::int64_t ns = 0;
  std::size_t market = 0;
  Kind kind = Kind::kDiff;
  std::string data;  // the `data` member of the combined frame, as recorded
  md::DepthMsg depth{};
  std::vector<md::Level> bids, asks;
  md::TradeMsg trade{};
};

struct Venue::CaptureInit {
  std::size_t market = 0;
  std::uint64_t id = 0;
  std::vector<md::Level> bids, asks;
  std::int64_t first_trade = -1, first_agg = -1;
  std::int64_t trade_off = 0, agg_off = 0;
};

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
  engine_ = std::make_unique<sim::MatchingEngine>(info_, sim::Account(balances));

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
    m->lower = lower(m->name);
    m->spec = info_.find(m->name);
    if (m->spec == nullptr) throw std::runtime_error("symbol not in exchangeInfo: " + m->name);
    if (m->synthetic) init_synthetic(*m);
  }
}

Venue::~Venue() = default;

void Venue::load_exchange_info(const Options& opts) {
  const std::string text = binance::read_file_maybe_gz(opts.exchange_info_path);
  info_ = binance::parse_exchange_info(text);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text).get(doc) != simdjson::SUCCESS)
    throw std::runtime_error("exchangeInfo: invalid JSON");
  simdjson::dom::array syms;
  if (doc["symbols"].get_array().get(syms) != simdjson::SUCCESS)
    throw std::runtime_error("exchangeInfo: no symbols");
  for (simdjson::dom::element s : syms) {
    std::string_view name;
    if (s["symbol"].get_string().get(name) != simdjson::SUCCESS) continue;
    symbol_json_[std::string(name)] = simdjson::minify(s);
    symbol_order_.emplace_back(name);
  }
  simdjson::dom::element filters;
  if (doc["exchangeFilters"].get(filters) == simdjson::SUCCESS)
    exchange_filters_json_ = simdjson::minify(filters);
}

void Venue::add_synthetic_symbol(const std::string& name) {
  // Sane filters for a symbol the shipped exchangeInfo does not know: cent ticks, 1e-5 lots,
  // 10 quote units minimum notional (BTCUSDT's rules in 2021).
  static constexpr std::array<std::string_view, 9> kQuotes = {"USDT", "BUSD", "USDC", "TUSD", "BTC",
                                                              "ETH",  "BNB",  "EUR",  "TRY"};
  std::string base, quote;
  for (auto q : kQuotes)
    if (name.size() > q.size() && name.ends_with(q)) {
      quote = std::string(q);
      base = name.substr(0, name.size() - q.size());
      break;
    }
  if (quote.empty() || name.size() > 20)
    throw std::invalid_argument("cannot synthesize symbol " + name + " (unknown quote asset)");
  for (char c : name)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
      throw std::invalid_argument("bad symbol " + name);
  std::string js =
      R"({"symbol":")" + name + R"(","status":"TRADING","baseAsset":")" + base +
      R"(","baseAssetPrecision":8,"quoteAsset":")" + quote +
      R"(","quotePrecision":8,"quoteAssetPrecision":8,"baseCommissionPrecision":8,"quoteCommissionPrecision":8,"orderTypes":["LIMIT","LIMIT_MAKER","MARKET","STOP_LOSS_LIMIT","TAKE_PROFIT_LIMIT"],"icebergAllowed":true,"ocoAllowed":true,"quoteOrderQtyMarketAllowed":true,"isSpotTradingAllowed":true,"isMarginTradingAllowed":false,"filters":[{"filterType":"PRICE_FILTER","minPrice":"0.01000000","maxPrice":"1000000.00000000","tickSize":"0.01000000"},{"filterType":"PERCENT_PRICE","multiplierUp":"5","multiplierDown":"0.2","avgPriceMins":5},{"filterType":"LOT_SIZE","minQty":"0.00001000","maxQty":"9000.00000000","stepSize":"0.00001000"},{"filterType":"MIN_NOTIONAL","minNotional":"10.00000000","applyToMarket":true,"avgPriceMins":5},{"filterType":"ICEBERG_PARTS","limit":10},{"filterType":"MARKET_LOT_SIZE","minQty":"0.00000000","maxQty":"1000.00000000","stepSize":"0.00000000"},{"filterType":"MAX_NUM_ORDERS","maxNumOrders":200},{"filterType":"MAX_NUM_ALGO_ORDERS","maxNumAlgoOrders":5}],"permissions":["SPOT"]})";
  const binance::ExchangeInfo one = binance::parse_exchange_info(
      R"({"timezone":"UTC","serverTime":0,"rateLimits":[],"exchangeFilters":[],"symbols":[)" + js +
      "]}");
  info_.symbols.push_back(one.symbols.at(0));
  symbol_json_[name] = js;
  symbol_order_.push_back(name);
}

void Venue::load_captures(const std::vector<std::string>& paths) {
  md::FrameParser parser;
  md::ParsedFrame f;
  std::int64_t first_ns = INT64_MAX, last_ns = 0;
  for (const auto& path : paths) {
    md::CaptureReader reader(path);
    Market* m = nullptr;
    std::size_t mi = 0;
    bool synced = false;
    CaptureInit init;
    std::int64_t ns = 0;
    std::string_view payload;
    for (;;) {
      const auto st = reader.next(ns, payload);
      if (st == md::CaptureReader::Status::kEnd) break;
      if (st == md::CaptureReader::Status::kError) throw std::runtime_error("read error: " + path);
      if (st != md::CaptureReader::Status::kLine) continue;
      if (parser.parse(payload, f) != md::ParseErrc::kOk) continue;
      if (f.symbol_len != 0 && m == nullptr) {
        const std::string sym(f.symbol_view());
        if (find(sym) != nullptr) throw std::runtime_error("two captures of " + sym);
        markets_.push_back(std::make_unique<Market>());
        m = markets_.back().get();
        m->name = sym;
        mi = markets_.size() - 1;
      }
      if (m == nullptr) continue;
      if (f.symbol_len != 0 && f.symbol_view() != m->name) continue;  // one symbol per file
      if (!synced) {
        if (f.kind == md::FrameKind::kDepthUpdate) {
          (void)m->sync.on_diff(f.depth, f.bids, f.asks);
        } else if (f.kind == md::FrameKind::kDepthSnapshot) {
          if (m->sync.on_snapshot(f.depth.last_id, f.bids, f.asks) ==
              md::SnapshotOutcome::kSynced) {
            synced = true;
            init.market = mi;
            init.id = m->sync.update_id();
            init.bids = copy_side(m->book(), true);
            init.asks = copy_side(m->book(), false);
          }
        }
        continue;
      }
      CaptureEvent e;
      e.ns = ns;
      e.market = mi;
      const std::size_t dpos = payload.find("\"data\":");
      e.data = dpos == std::string_view::npos
                   ? std::string(payload)
                   : std::string(payload.substr(dpos + 7, payload.size() - dpos - 8));
      switch (f.kind) {
        case md::FrameKind::kDepthUpdate:
          e.kind = CaptureEvent::Kind::kDiff;
          e.depth = f.depth;
          e.bids = f.bids;
          e.asks = f.asks;
          break;
        case md::FrameKind::kBookTicker:
          e.kind = CaptureEvent::Kind::kBookTicker;
          break;
        case md::FrameKind::kAggTrade:
        case md::FrameKind::kTrade:
          e.kind = f.kind == md::FrameKind::kAggTrade ? CaptureEvent::Kind::kAggTrade
                                                      : CaptureEvent::Kind::kTrade;
          e.trade = f.trade;
          if (init.first_agg < 0) {
            init.first_agg = static_cast<std::int64_t>(f.trade.id);
            init.first_trade = static_cast<std::int64_t>(
                f.kind == md::FrameKind::kAggTrade ? f.trade.first_id : f.trade.id);
          }
          break;
        default:
          continue;  // klines are rebuilt from trades; later snapshots are not market events
      }
      if (m->clock_ms == 0) m->clock_ms = f.depth.event_time_ms;
      first_ns = std::min(first_ns, ns);
      last_ns = std::max(last_ns, ns);
      events_.push_back(std::move(e));
    }
    if (m == nullptr || !synced)
      throw std::runtime_error(path + ": no depth snapshot that syncs the book");
    log_event(spdlog::level::info, "market", "capture_loaded",
              LogFields()
                  .str("file", path)
                  .str("symbol", m->name)
                  .num("update_id", static_cast<std::int64_t>(init.id)));
    inits_.push_back(std::move(init));
  }
  std::stable_sort(events_.begin(), events_.end(),
                   [](const CaptureEvent& a, const CaptureEvent& b) { return a.ns < b.ns; });
  if (!events_.empty()) {
    replay_base_capture_ns_ = first_ns;
    loop_span_ms_ = (last_ns - first_ns) / 1'000'000 + 1000;
    // The replay's times (E, T, klines) then read as if the capture were being recorded now, so
    // a client's wall-clock candle closes and the captured trades agree.
    if (rebase_time_) time_shift_ms_ = wall_ms() - first_ns / 1'000'000;
  }
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

// --- Synthetic generator ----------------------------------------------------------------------

void Venue::init_synthetic(Market& m) {
  m.tick = std::max<std::int64_t>(m.spec->tick_size.raw, 1);
  m.step = std::max<std::int64_t>(m.spec->step_size.raw, 1);
  const std::string& b = m.spec->base;
  const std::string& q = m.spec->quote;
  double mid = 100.0;
  if (q == "BTC" || q == "ETH" || q == "BNB")
    mid = 0.05;
  else if (b == "BTC")
    mid = 50'000.0;
  else if (b == "ETH")
    mid = 3'000.0;
  else if (b == "BNB")
    mid = 400.0;
  auto mid_raw = static_cast<std::int64_t>(mid * 1e8);
  m.mid0_ticks = std::max<std::int64_t>(mid_raw / m.tick, 4 * kSyntheticLevels);
  m.best_bid_ticks = m.mid0_ticks;
  std::vector<md::Level> bids, asks;
  std::uniform_int_distribution<int> notional(50, 20'000);
  auto qty_for = [&](std::int64_t px) {
    const double units = static_cast<double>(notional(rng_)) / (static_cast<double>(px) / 1e8);
    std::int64_t qn = static_cast<std::int64_t>(units * 1e8) / m.step * m.step;
    return std::max(qn, std::max(m.step * 2, m.spec->min_qty.raw * 2));
  };
  for (int k = 0; k < kSyntheticLevels; ++k) {
    const std::int64_t bp = (m.best_bid_ticks - k) * m.tick;
    const std::int64_t ap = (m.best_bid_ticks + 1 + k) * m.tick;
    bids.push_back({bp, qty_for(bp)});
    asks.push_back({ap, qty_for(ap)});
  }
  (void)m.sync.on_snapshot(1'000'000'000ULL, bids, asks);
  m.clock_ms = wall_ms();
}

void Venue::synthetic_step(Market& m, std::int64_t now_ms) {
  const md::OrderBook& book = m.book();
  std::uniform_int_distribution<int> pct(0, 99);
  std::uniform_int_distribution<int> notional(50, 20'000);
  auto qty_for = [&](std::int64_t px) {
    const double units = static_cast<double>(notional(rng_)) / (static_cast<double>(px) / 1e8);
    std::int64_t qn = static_cast<std::int64_t>(units * 1e8) / m.step * m.step;
    return std::max(qn, std::max(m.step * 2, m.spec->min_qty.raw * 2));
  };
  md::Level bids[2], asks[2];
  std::size_t nb = 0, na = 0;
  const int r = pct(rng_);
  m.clock_ms = now_ms;
  if (r < 20) {
    // A trade against the touch that leaves at least one step there (the book keeps its shape).
    const bool buyer_taker = (rng_() & 1U) != 0;
    const md::Level top = buyer_taker ? book.ask(0) : book.bid(0);
    if (top.qty > 2 * m.step) {
      std::uniform_int_distribution<std::int64_t> qd(
          1, std::max<std::int64_t>(1, (top.qty / m.step - 1) / 4));
      const std::int64_t q = qd(rng_) * m.step;
      const std::int64_t id = m.next_trade_id;
      record_trade(m, id, top.px, q, now_ms, !buyer_taker);
      publish_trade(m, m.trades.back(), now_ms, m.next_agg_id++, id, id);
      (buyer_taker ? asks[na++] : bids[nb++]) = md::Level{top.px, top.qty - q};
    }
  } else if (r < 30) {
    // Mid moves one tick, mean-reverting around the start price.
    const double drift = static_cast<double>(m.best_bid_ticks - m.mid0_ticks) /
                         static_cast<double>(m.mid0_ticks) * 50.0;
    const bool up =
        std::uniform_real_distribution<double>(0, 1)(rng_) < 0.5 - std::clamp(drift, -0.4, 0.4);
    const std::int64_t bb = m.best_bid_ticks;
    if (up) {
      const std::int64_t a = (bb + 1) * m.tick;
      asks[na++] = {a, 0};
      bids[nb++] = {a, qty_for(a)};
      asks[na++] = {(bb + 1 + kSyntheticLevels) * m.tick,
                    qty_for((bb + 1 + kSyntheticLevels) * m.tick)};
      bids[nb++] = {(bb - kSyntheticLevels + 1) * m.tick, 0};
      ++m.best_bid_ticks;
    } else {
      const std::int64_t b = bb * m.tick;
      bids[nb++] = {b, 0};
      asks[na++] = {b, qty_for(b)};
      bids[nb++] = {(bb - kSyntheticLevels) * m.tick, qty_for((bb - kSyntheticLevels) * m.tick)};
      asks[na++] = {(bb + kSyntheticLevels) * m.tick, 0};
      --m.best_bid_ticks;
    }
  }
  if (nb == 0 && na == 0) {
    // A quantity change, mostly near the touch.
    std::geometric_distribution<int> depth(0.08);
    const auto k = static_cast<std::size_t>(std::min(depth(rng_), kSyntheticLevels - 1));
    const bool bid_side = (rng_() & 1U) != 0;
    const md::Level l = bid_side ? book.bid(k) : book.ask(k);
    (bid_side ? bids[nb++] : asks[na++]) = md::Level{l.px, qty_for(l.px)};
  }
  md::DepthMsg d{};
  d.first_id = d.last_id = m.sync.update_id() + 1;
  d.event_time_ms = now_ms;
  apply_and_publish_diff(m, d, {bids, nb}, {asks, na}, nullptr, now_ms);
  maybe_book_ticker(m);
}

// --- Replay -----------------------------------------------------------------------------------

std::int64_t Venue::advance(std::int64_t now_ns) {
  if (faults_.paused) {
    if (paused_at_ns_ < 0) paused_at_ns_ = now_ns;
    return now_ns + 20'000'000;
  }
  if (paused_at_ns_ >= 0) {  // resume where the market stopped
    const std::int64_t paused = now_ns - paused_at_ns_;
    if (replay_base_steady_ns_ >= 0) replay_base_steady_ns_ += paused;
    if (synth_base_ns_ >= 0) synth_base_ns_ += paused;
    paused_at_ns_ = -1;
  }
  std::int64_t next = now_ns + 1'000'000'000;
  if (!events_.empty()) {
    if (replay_base_steady_ns_ < 0) replay_base_steady_ns_ = now_ns;
    std::size_t batch = 0;
    for (;;) {
      if (next_event_ == events_.size()) {
        if (!loop_) break;
        restart_loop();
        replay_base_steady_ns_ = now_ns;
        next_event_ = 0;
        if (speed_ == 0) {
          next = now_ns;
          break;
        }
      }
      const CaptureEvent& e = events_[next_event_];
      if (speed_ > 0) {
        const auto due =
            replay_base_steady_ns_ +
            static_cast<std::int64_t>(static_cast<double>(e.ns - replay_base_capture_ns_) / speed_);
        if (due > now_ns) {
          next = std::min(next, due);
          break;
        }
      } else if (++batch > 2000) {  // as fast as possible, but let sessions run in between
        next = now_ns;
        break;
      }
      replay_event(e);
      ++next_event_;
    }
  }
  if (!synth_markets_.empty()) {
    if (synth_base_ns_ < 0) synth_base_ns_ = now_ns;
    const auto target =
        static_cast<std::uint64_t>(static_cast<double>(now_ns - synth_base_ns_) * rate_ / 1e9);
    std::uint64_t todo = target > synth_done_ ? target - synth_done_ : 0;
    const auto burst = static_cast<std::uint64_t>(rate_ / 100.0) + 1;  // at most 10 ms worth
    if (todo > burst) {
      synth_done_ += todo - burst;  // fell behind: drop the backlog instead of bursting
      todo = burst;
    }
    const std::int64_t now_ms = wall_ms();
    std::uniform_int_distribution<std::size_t> pick(0, synth_markets_.size() - 1);
    for (std::uint64_t i = 0; i < todo; ++i)
      synthetic_step(*markets_[synth_markets_[pick(rng_)]], now_ms);
    synth_done_ += todo;
    if (todo != 0)
      for (std::size_t i : synth_markets_)
        engine_->on_book(markets_[i]->name, markets_[i]->book(), now_ms);
    next = std::min(next, now_ns + 1'000'000);
  }
  return next;
}

// A captured trade payload's event and trade times, moved by the replay's time shift (loops,
// --rebase-time).
std::string Venue::shift_times(std::string data) const {
  return shift_field(shift_field(std::move(data), "E", time_shift_ms_), "T", time_shift_ms_);
}

void Venue::replay_event(const CaptureEvent& e) {
  Market& m = *markets_[e.market];
  const CaptureInit* init = nullptr;
  for (const auto& i : inits_)
    if (i.market == e.market) init = &i;
  switch (e.kind) {
    case CaptureEvent::Kind::kDiff: {
      apply_and_publish_diff(m, e.depth, e.bids, e.asks, &e.data,
                             e.depth.event_time_ms + time_shift_ms_);
      engine_->on_book(m.name, m.book(), wall_ms());
      break;
    }
    case CaptureEvent::Kind::kBookTicker:
      if (!m.subs_book_ticker.empty())
        publish(m.subs_book_ticker, m.lower + "@bookTicker", shift_field(e.data, "u", m.id_offset));
      break;
    case CaptureEvent::Kind::kAggTrade:
    case CaptureEvent::Kind::kTrade: {
      const bool agg = e.kind == CaptureEvent::Kind::kAggTrade;
      const std::int64_t toff = init != nullptr ? init->trade_off : 0;
      const std::int64_t aoff = init != nullptr ? init->agg_off : 0;
      const auto last = static_cast<std::int64_t>(agg ? e.trade.last_id : e.trade.id) + toff;
      const auto first = static_cast<std::int64_t>(agg ? e.trade.first_id : e.trade.id) + toff;
      const std::int64_t t_ms = e.trade.trade_time_ms + time_shift_ms_;
      m.clock_ms = std::max(m.clock_ms, t_ms);
      record_trade(m, last, e.trade.px, e.trade.qty, t_ms, e.trade.buyer_is_maker);
      m.next_trade_id = last + 1;
      if (agg) {
        m.next_agg_id = static_cast<std::int64_t>(e.trade.id) + aoff + 1;
        if (!m.subs_agg.empty())
          publish(m.subs_agg, m.lower + "@aggTrade",
                  shift_times(shift_field(shift_field(shift_field(e.data, "a", aoff), "f", toff),
                                          "l", toff)));
        // The capture has no trade stream: each aggregate is published as one trade.
        if (!m.subs_trade.empty()) {
          PublicTrade t = m.trades.back();
          t.time_ms = e.trade.trade_time_ms + time_shift_ms_;
          const std::int64_t keep_agg = m.next_agg_id;
          publish_trade(m, t, e.trade.event_time_ms + time_shift_ms_, -1, first, last);
          m.next_agg_id = keep_agg;
        }
      } else if (!m.subs_trade.empty()) {
        publish(m.subs_trade, m.lower + "@trade", shift_times(shift_field(e.data, "t", toff)));
      }
      break;
    }
  }
}

void Venue::restart_loop() {
  time_shift_ms_ += loop_span_ms_;
  for (auto& init : inits_) {
    Market& m = *markets_[init.market];
    const std::uint64_t x = m.public_id();
    const auto old_bids = copy_side(m.book(), true);
    const auto old_asks = copy_side(m.book(), false);
    m.sync = md::BookSync(md::SyncVenue::kSpot, 64, 1U << 14, 8192);
    (void)m.sync.on_snapshot(init.id, init.bids, init.asks);
    m.id_offset = static_cast<std::int64_t>(x + 1) - static_cast<std::int64_t>(init.id);
    // One diff turns the old book into the capture's first book, so clients stay in sync
    // across the loop: U = u = previous id + 1.
    const auto db = side_diff(old_bids, init.bids);
    const auto da = side_diff(old_asks, init.asks);
    std::string data = binance::depth_update_event(m.name, m.clock_ms, x + 1, x + 1, db, da);
    if (!m.subs_depth1000.empty()) {
      if (m.acc_first == 0) m.acc_first = x + 1;
      m.acc_last = x + 1;
      for (const auto& l : db) m.acc_bids[l.px] = l.qty;
      for (const auto& l : da) m.acc_asks[l.px] = l.qty;
    }
    publish(m.subs_depth100, m.lower + "@depth@100ms", std::move(data));
    if (init.first_trade >= 0) init.trade_off = m.next_trade_id - init.first_trade;
    if (init.first_agg >= 0) init.agg_off = m.next_agg_id - init.first_agg;
    engine_->on_book(m.name, m.book(), wall_ms());
    log_event(spdlog::level::debug, "market", "capture_loop",
              LogFields().str("symbol", m.name).num("update_id", static_cast<std::int64_t>(x + 1)));
  }
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

void Venue::record_trade(Market& m, std::int64_t id, std::int64_t px, std::int64_t qty,
                         std::int64_t time_ms, bool buyer_maker) {
  PublicTrade t{id, px, qty, mul_px_qty(px, qty), time_ms, buyer_maker};
  m.trades.push_back(t);
  if (m.trades.size() > kTradeHistory) m.trades.pop_front();
  if (id >= m.next_trade_id) m.next_trade_id = id + 1;
  for (std::size_t i = 0; i < kIntervals.size(); ++i)
    m.klines[i].add(static_cast<int>(i), time_ms, px, qty, t.quote, buyer_maker, id);
  const std::int64_t minute = time_ms / 60'000;
  MinuteBucket& b = m.minutes[static_cast<std::size_t>(minute % 1440)];
  if (b.minute != minute) b = MinuteBucket{minute, px, px, px, px, 0, 0, id, id, 0};
  b.h = std::max(b.h, px);
  b.l = std::min(b.l, px);
  b.c = px;
  b.vol += qty;
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
  const std::size_t at = name.find('@');
  if (at == std::string_view::npos || at == 0) return false;
  const std::string sym = lower(name.substr(0, at));
  const std::string_view rest = name.substr(at + 1);
  std::size_t idx = markets_.size();
  for (std::size_t i = 0; i < markets_.size(); ++i)
    if (markets_[i]->lower == sym) idx = i;
  if (idx == markets_.size()) return false;
  out.market = idx;
  const std::string r = lower(rest);
  if (r == "bookticker")
    out.kind = StreamKind::kBookTicker;
  else if (r == "depth" || r == "depth@1000ms")
    out.kind = StreamKind::kDepth1000;
  else if (r == "depth@100ms")
    out.kind = StreamKind::kDepth100;
  else if (r == "trade")
    out.kind = StreamKind::kTrade;
  else if (r == "aggtrade")
    out.kind = StreamKind::kAggTrade;
  else if (rest.starts_with("kline_")) {
    const int i = interval_index(rest.substr(6));  // case matters: 1m vs 1M
    if (i < 0) return false;
    out.kind = StreamKind::kKline;
    out.slot = static_cast<std::uint8_t>(i);
  } else {
    static constexpr std::array<std::string_view, 3> kN = {"depth5", "depth10", "depth20"};
    for (std::size_t i = 0; i < 3; ++i) {
      if (r == kN[i] || r == std::string(kN[i]) + "@1000ms") {
        out.kind = StreamKind::kPartial;
        out.slot = static_cast<std::uint8_t>(i);
        return true;
      }
      if (r == std::string(kN[i]) + "@100ms") {
        out.kind = StreamKind::kPartial;
        out.slot = static_cast<std::uint8_t>(i + 3);
        return true;
      }
    }
    return false;
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
