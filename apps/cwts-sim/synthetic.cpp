// Venue: the synthetic market generator (--synthetic): random-walk books and trades.
#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include "json_log.hpp"
#include "venue.hpp"

namespace cwts::sim_server {

namespace {

constexpr int kSyntheticLevels = 300;

}  // namespace

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

void Venue::init_synthetic(Market& m) {
  m.tick = std::max(m.spec->tick_size, md::Price{1});
  m.step = std::max(m.spec->step_size, md::Qty{1});
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
  m.mid0_ticks = std::max<std::int64_t>(md::Price{mid_raw} / m.tick, 4 * kSyntheticLevels);
  m.best_bid_ticks = m.mid0_ticks;
  std::vector<md::Level> bids, asks;
  std::uniform_int_distribution<int> notional(50, 20'000);
  auto qty_for = [&](md::Price px) {
    const double units = static_cast<double>(notional(rng_)) / (static_cast<double>(px.raw) / 1e8);
    const md::Qty qn = md::Qty{static_cast<std::int64_t>(units * 1e8)} / m.step * m.step;
    return std::max(qn, std::max(2 * m.step, 2 * m.spec->min_qty));
  };
  for (int k = 0; k < kSyntheticLevels; ++k) {
    const md::Price bp = (m.best_bid_ticks - k) * m.tick;
    const md::Price ap = (m.best_bid_ticks + 1 + k) * m.tick;
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
  auto qty_for = [&](md::Price px) {
    const double units = static_cast<double>(notional(rng_)) / (static_cast<double>(px.raw) / 1e8);
    const md::Qty qn = md::Qty{static_cast<std::int64_t>(units * 1e8)} / m.step * m.step;
    return std::max(qn, std::max(2 * m.step, 2 * m.spec->min_qty));
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
      const md::Qty q = qd(rng_) * m.step;
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
      const md::Price a = (bb + 1) * m.tick;
      asks[na++] = {a, md::Qty{}};
      bids[nb++] = {a, qty_for(a)};
      asks[na++] = {(bb + 1 + kSyntheticLevels) * m.tick,
                    qty_for((bb + 1 + kSyntheticLevels) * m.tick)};
      bids[nb++] = {(bb - kSyntheticLevels + 1) * m.tick, md::Qty{}};
      ++m.best_bid_ticks;
    } else {
      const md::Price b = bb * m.tick;
      bids[nb++] = {b, md::Qty{}};
      asks[na++] = {b, qty_for(b)};
      bids[nb++] = {(bb - kSyntheticLevels) * m.tick, qty_for((bb - kSyntheticLevels) * m.tick)};
      asks[na++] = {(bb + kSyntheticLevels) * m.tick, md::Qty{}};
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

}  // namespace cwts::sim_server
