// Property test: random orders, cancels and books (fixed seed) conserve every balance exactly.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cwts/sim/matching.hpp"
#include "sim_test_util.hpp"

namespace {

using namespace cwts::binance;
using namespace cwts::sim;
using namespace cwts::sim::test;
using namespace cwts::core::money_literals;
namespace md = cwts::md;

__extension__ using i128 = __int128;

// splitmix64: the same sequence on every standard library (std distributions are not portable).
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::int64_t in(std::int64_t lo, std::int64_t hi) {  // [lo, hi]
    return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
};

struct Market {
  std::string symbol;
  std::string base;
  Price mid;
  Price tick;
  Qty step;
  md::OrderBook book;
};

void rebuild(Market& m, Rng& rng) {
  // Random walk of up to +-0.5% per book, five levels a side with a random spread.
  m.mid += Price{m.mid.raw / 1000} * rng.in(-5, 5);
  m.mid -= m.mid % m.tick;
  m.book.clear();
  const Price half = m.tick * rng.in(1, 20);
  for (std::int64_t i = 0; i < 5; ++i) {
    const Price gap = m.tick * (i * rng.in(1, 30));
    m.book.set_bid(m.mid - half - gap, m.step * rng.in(1, 20000));
    m.book.set_ask(m.mid + half + gap, m.step * rng.in(1, 20000));
  }
}

// After every step: per asset, free + locked == initial + trade flows - fees, and locked == what
// the open orders hold; every order's executed and quote totals equal the sum of its trades.
TEST(ConservationTest, BalancesAreConservedOverRandomOperations) {
  Rng rng{20240917};
  const std::map<std::string, Amount> initial = {
      {"USDT", 1000000_amt}, {"BTC", 10_amt}, {"ETH", 100_amt}};
  std::vector<AssetAmount> init;
  for (const auto& [a, v] : initial) init.push_back({a, v});
  CommissionRates rates;
  rates.maker = d("0.00075");
  rates.taker = d("0.001");
  EngineConfig cfg;
  cfg.commission = rates;
  MatchingEngine engine(info2023(), Account(init), cfg);

  std::vector<Market> markets = {{"BTCUSDT", "BTC", 40000_px, 0.01_px, 0.00001_qty, {}},
                                 {"ETHUSDT", "ETH", 2000_px, 0.01_px, 0.0001_qty, {}}};
  for (Market& m : markets) rebuild(m, rng);

  std::int64_t now = 1'700'000'000'000;
  int accepted = 0;
  int rejected = 0;
  int cancels = 0;

  auto check_invariants = [&](int step, bool orders_too) {
    SCOPED_TRACE("step " + std::to_string(step));
    // Expected totals from the trade history.
    std::map<std::string, Amount> expected = initial;
    std::map<std::pair<std::string, std::int64_t>, std::pair<Qty, Notional>> per_order;
    for (const Market& m : markets) {
      for (const Trade& t : engine.account().trades(m.symbol)) {
        expected[m.base] += as_amount(t.is_buyer ? t.qty : -t.qty);
        expected["USDT"] += as_amount(t.is_buyer ? -t.quote_qty : t.quote_qty);
        expected[t.commission_asset] -= t.commission;
        auto& po = per_order[{m.symbol, t.order_id}];
        po.first += t.qty;
        po.second += t.quote_qty;
      }
    }
    std::map<std::string, Amount> locked_by_orders;
    for (const Order& o : engine.open_orders("")) {
      const std::string base = o.symbol == "BTCUSDT" ? "BTC" : "ETH";
      locked_by_orders[o.side == Side::kBuy ? "USDT" : base] += o.locked;
      ASSERT_LT(o.executed_qty, o.orig_qty);
      if (o.side == Side::kBuy) {
        // A resting BUY holds exactly price * remaining, rounded up.
        const i128 need = (static_cast<i128>(o.price.raw) * o.remaining().raw + kOne - 1) / kOne;
        ASSERT_EQ(static_cast<i128>(o.locked.raw), need) << o.order_id;
      } else {
        ASSERT_EQ(o.locked, as_amount(o.remaining()));
      }
    }
    for (const auto& [asset, want] : expected) {
      const Balance b = engine.account().balance(asset);
      ASSERT_GE(b.free, Amount{}) << asset;
      ASSERT_GE(b.locked, Amount{}) << asset;
      ASSERT_EQ(b.free + b.locked, want) << asset;
      ASSERT_EQ(b.locked, locked_by_orders[asset]) << asset;
    }
    for (const auto& [key, sums] : per_order) {
      if (!orders_too) break;
      const auto o = engine.query_order({key.first, key.second, ""});
      ASSERT_TRUE(o.ok());
      ASSERT_EQ(o.value().executed_qty, sums.first);
      ASSERT_EQ(o.value().cumm_quote_qty, sums.second);
    }
  };

  constexpr int kSteps = 4000;
  for (int step = 0; step < kSteps; ++step) {
    now += rng.in(1, 500);
    Market& m = markets[static_cast<std::size_t>(rng.in(0, 1))];
    const std::int64_t op = rng.in(0, 99);
    if (op < 35) {
      rebuild(m, rng);
      engine.on_book(m.symbol, m.book, now);
    } else if (op < 80) {
      NewOrder o;
      o.symbol = m.symbol;
      o.side = rng.in(0, 1) == 0 ? Side::kBuy : Side::kSell;
      const std::int64_t kind = rng.in(0, 5);
      o.type = kind == 4   ? OrderType::kLimitMaker
               : kind == 5 ? OrderType::kMarket
                           : OrderType::kLimit;
      o.tif = kind == 1 ? TimeInForce::kIoc : kind == 2 ? TimeInForce::kFok : TimeInForce::kGtc;
      // Prices within +-1% of the mid; quantities worth roughly 5..20000 USDT.
      o.price = m.mid + Price{m.mid.raw / 10000} * rng.in(-100, 100);
      o.price -= o.price % m.tick;
      const std::int64_t usdt = rng.in(5, 20000);
      o.quantity =
          Qty{static_cast<std::int64_t>(static_cast<i128>(usdt) * kOne * kOne / m.mid.raw)};
      o.quantity -= o.quantity % m.step;
      if (o.type == OrderType::kMarket) {
        o.price = Price{};
        if (rng.in(0, 1) == 0) {
          o.quote_order_qty = Notional::from_units(usdt);
          o.quantity = Qty{};
        }
      }
      const auto r = engine.place_order(o, m.book, now);
      r.ok() ? ++accepted : ++rejected;
    } else if (op < 97) {
      const auto open = engine.open_orders(m.symbol);
      if (!open.empty()) {
        const Order& victim =
            open[static_cast<std::size_t>(rng.in(0, static_cast<std::int64_t>(open.size()) - 1))];
        ASSERT_TRUE(engine.cancel_order({{m.symbol, victim.order_id, ""}, "", {}}, now).ok());
        ++cancels;
      }
    } else {
      (void)engine.cancel_open_orders(m.symbol, now);
    }
    check_invariants(step, step % 50 == 0);
    if (HasFatalFailure()) return;
  }

  // Everything cancelled: nothing stays locked, and the totals still reconcile.
  for (const Market& m : markets) (void)engine.cancel_open_orders(m.symbol, now);
  check_invariants(kSteps, true);
  for (const auto& [asset, v] : initial)
    EXPECT_EQ(engine.account().balance(asset).locked, Amount{});

  // The sequence exercised what it claims to.
  std::size_t trades = 0;
  std::size_t maker = 0;
  for (const Market& m : markets) {
    for (const Trade& t : engine.account().trades(m.symbol)) {
      ++trades;
      maker += t.is_maker ? 1U : 0U;
    }
  }
  EXPECT_GT(accepted, 1000);
  EXPECT_GT(rejected, 10);
  EXPECT_GT(cancels, 100);
  EXPECT_GT(trades, 500U);
  EXPECT_GT(maker, 50U);
}

}  // namespace
