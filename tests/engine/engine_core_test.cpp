// Signal validation (every reason and their precedence), token buckets, the rate governor, and
// client order ids.
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "cwts/engine/rate_governor.hpp"
#include "cwts/engine/token_bucket.hpp"
#include "cwts/engine/validator.hpp"
#include "exec/exec_engine.hpp"

namespace {

using cwts::engine::Exposure;
using cwts::engine::MarketState;
using cwts::engine::RiskLimits;
using cwts::engine::SlotPolicy;
using cwts::engine::SymbolRules;
using cwts::engine::validate;
using cwts::layout::OrderType;
using cwts::layout::RejectReason;
using cwts::layout::Side;
using cwts::layout::Signal;
using cwts::layout::TimeInForce;
using cwts::layout::TradingState;

using cwts::core::Notional;
using cwts::core::Qty;
using namespace cwts::core::money_literals;

constexpr std::int64_t k1 = 100'000'000;  // 1.0 at 8 decimals
constexpr std::int64_t kNow = 1'700'000'000'000'000'000LL;

SymbolRules btc_rules() {
  SymbolRules r;
  r.trading = true;
  r.order_types = (1U << 1) | (1U << 2) | (1U << 3);
  r.tick = 0.01_px;
  r.min_price = 0.01_px;
  r.max_price = 1000000_px;
  r.step = 0.00001_qty;
  r.min_qty = 0.00001_qty;
  r.max_qty = 9000_qty;
  r.market_max_qty = 100_qty;
  r.min_notional = 10_quote;
  r.min_notional_market = true;
  r.bid_up = 5 * k1;
  r.bid_down = k1 / 5;
  r.ask_up = 5 * k1;
  r.ask_down = k1 / 5;
  r.max_num_orders = 200;
  return r;
}

RiskLimits risk() {
  RiskLimits r;
  r.max_order_notional = 100000_quote;
  r.max_position = 2_qty;
  r.max_open_orders = 3;
  r.price_band_bps = 500;
  r.default_ttl_ms = 5000;
  r.max_ttl_ms = 60000;
  return r;
}

Signal limit(Side side, std::int64_t px, std::int64_t qty) {
  Signal s{};
  s.seq = 10;
  s.symbol = 0;
  s.side = static_cast<std::uint8_t>(side);
  s.type = static_cast<std::uint8_t>(OrderType::kLimit);
  s.tif = static_cast<std::uint8_t>(TimeInForce::kGtc);
  s.price.raw = px;
  s.qty.raw = qty;
  s.created_ns = kNow - 1'000'000;
  return s;
}

struct Ctx {
  SymbolRules rules = btc_rules();
  RiskLimits lim = risk();
  MarketState m{50000_px, 50000.01_px, true, kNow - 100'000'000};  // 0.1 s old
  Exposure ex{};
  TradingState state = TradingState::kActive;
  SlotPolicy slot{};
  std::uint64_t last_seq = 9;
  RejectReason run(const Signal& s, bool with_rules = true) const {
    return validate(s, with_rules ? &rules : nullptr, lim, m, ex, state, slot, last_seq, kNow);
  }
};

const std::int64_t kPx = 49'900 * k1;  // a valid resting buy price
const std::int64_t kQty = k1 / 1000;   // 0.001 (≈ 50 USDT)

TEST(Validate, AValidSignalPasses) {
  Ctx c;
  EXPECT_EQ(c.run(limit(Side::kBuy, kPx, kQty)), RejectReason::kNone);
  Signal m = limit(Side::kSell, 0, kQty);
  m.type = static_cast<std::uint8_t>(OrderType::kMarket);
  m.tif = 0;
  c.ex.position = Qty{kQty};  // a sell needs the engine's inventory
  EXPECT_EQ(c.run(m), RejectReason::kNone);
}

// created_ns is the strategy's to write: one at the end of time is stale like any other from the
// future, with no overflow on the way (its deadline is created_ns + the TTL; UBSan stops on it).
TEST(Validate, ACreationTimeAtEitherEndOfTimeIsStaleWithoutOverflow) {
  for (const std::int64_t created :
       {std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min()}) {
    Ctx c;
    Signal s = limit(Side::kBuy, kPx, kQty);
    s.created_ns = created;
    s.ttl_ms = std::numeric_limits<std::uint32_t>::max();
    c.lim.max_ttl_ms = std::numeric_limits<std::uint32_t>::max();
    EXPECT_EQ(c.run(s), RejectReason::kStale) << created;
    EXPECT_GE(cwts::engine::signal_deadline_ns(s, c.lim), created) << "the deadline wrapped";
  }
}

// A quantity the venue's filters do not bound (a symbol without maxQty, no position limit): its
// value at 49,900 is 1.8e11 USDT, past 64 bits in 8 decimals. Wrapped, it was 50.87 USDT and went
// through max_order_notional; it is refused.
TEST(Validate, AnOrderWorthMoreThan64BitsHoldIsRefusedByItsNotional) {
  Ctx c;
  c.rules.max_qty = Qty{};
  c.lim.max_position = Qty{};
  const Signal s = limit(Side::kBuy, kPx, 369'674'230'036'000);
  EXPECT_EQ(c.run(s), RejectReason::kMaxNotional);
  EXPECT_EQ(cwts::core::notional(s.price, s.qty).raw, std::numeric_limits<std::int64_t>::max());
}

// The largest quantity on the symbol's step, and a context where nothing bounds an order's size
// (no maxQty, no notional limit): only the position checks stand between it and the books.
constexpr std::int64_t kHugeQty = std::numeric_limits<std::int64_t>::max() / 1000 * 1000;
Ctx unbounded_size() {
  Ctx c;
  c.rules.max_qty = Qty{};
  c.rules.max_notional = Notional{};
  c.lim.max_order_notional = Notional{};
  return c;
}

// The largest quantity a signal can carry, against the position limit and reduce-only: refused,
// with no overflow on the way (UBSan stops on one).
TEST(Validate, TheLargestQuantityIsRefusedByThePositionLimitsWithoutOverflow) {
  const std::int64_t huge = kHugeQty;
  Ctx c = unbounded_size();
  c.ex.open_buy_qty = 1_qty;
  EXPECT_EQ(c.run(limit(Side::kBuy, kPx, huge)), RejectReason::kMaxPosition);
  c.ex.position = -1_qty;  // short: a buy reduces it, up to what it holds
  c.state = TradingState::kReduceOnly;
  EXPECT_EQ(c.run(limit(Side::kBuy, kPx, huge)), RejectReason::kReduceOnly);
  c.ex.position = 1_qty;
  c.ex.open_sell_qty = 1_qty;
  Signal sell = limit(Side::kSell, 50'100 * k1, huge);
  EXPECT_EQ(c.run(sell), RejectReason::kReduceOnly);
}

// With every limit off, what the engine's position book holds (64 bits of quantity per symbol
// and side) still bounds an order: its open quantity and the position it would reach must fit,
// or a wrapped sum would let a later reduce-only order through.
TEST(Validate, WithEveryLimitOffTheOpenQuantityAndPositionStillFitTheBook) {
  const std::int64_t huge = kHugeQty;
  Ctx c = unbounded_size();
  c.lim.max_position = Qty{};
  c.lim.sell_account_holdings = true;
  c.ex.open_buy_qty = Qty{huge};
  EXPECT_EQ(c.run(limit(Side::kBuy, kPx, kQty)), RejectReason::kMaxPosition) << "open buys wrap";
  c.ex.open_buy_qty = Qty{};
  c.ex.position = Qty{huge};
  EXPECT_EQ(c.run(limit(Side::kBuy, kPx, kQty)), RejectReason::kMaxPosition) << "position wraps";
  c.ex.position = Qty{-huge};  // short: the buys may cover it, the book holds their sum
  c.ex.open_buy_qty = Qty{huge};
  EXPECT_EQ(c.run(limit(Side::kBuy, kPx, kQty)), RejectReason::kMaxPosition) << "open buys wrap";
  c.ex = Exposure{};
  c.ex.open_sell_qty = Qty{huge};
  EXPECT_EQ(c.run(limit(Side::kSell, 50'100 * k1, kQty)), RejectReason::kMaxPosition);
  c.ex.open_sell_qty = Qty{};
  c.ex.position = Qty{-huge};
  EXPECT_EQ(c.run(limit(Side::kSell, 50'100 * k1, huge)), RejectReason::kMaxPosition);
  c.ex = Exposure{};  // within what the book holds: accepted
  EXPECT_EQ(c.run(limit(Side::kBuy, kPx, huge)), RejectReason::kNone);
  EXPECT_EQ(c.run(limit(Side::kSell, 50'100 * k1, huge)), RejectReason::kNone);
  // Without sell_account_holdings a sell is bounded by the inventory, its sum in 128 bits.
  c.lim.sell_account_holdings = false;
  c.ex.position = Qty{std::numeric_limits<std::int64_t>::min() + 1};
  c.ex.open_sell_qty = Qty{huge};
  EXPECT_EQ(c.run(limit(Side::kSell, 50'100 * k1, kQty)), RejectReason::kNoInventory);
}

TEST(Validate, EachReasonIndividually) {
  struct Case {
    const char* name;
    RejectReason want;
    std::function<void(Ctx&, Signal&)> setup;
  };
  const std::vector<Case> cases = {
      {"replay", RejectReason::kReplayedSequence, [](Ctx& c, Signal&) { c.last_seq = 10; }},
      {"slot", RejectReason::kSlotNotAuthorised, [](Ctx& c, Signal&) { c.slot.may_trade = false; }},
      {"symbol status", RejectReason::kTradingHalted,
       [](Ctx& c, Signal&) { c.rules.trading = false; }},
      {"side", RejectReason::kBadSide, [](Ctx&, Signal& s) { s.side = 0; }},
      {"type", RejectReason::kBadType, [](Ctx&, Signal& s) { s.type = 99; }},
      {"tif", RejectReason::kBadType, [](Ctx&, Signal& s) { s.tif = 0; }},
      {"type not allowed", RejectReason::kBadType,
       [](Ctx& c, Signal&) { c.rules.order_types = 1U << 2; }},
      {"qty", RejectReason::kBadValue, [](Ctx&, Signal& s) { s.qty.raw = -1; }},
      {"price", RejectReason::kBadValue, [](Ctx&, Signal& s) { s.price.raw = 0; }},
      {"stale", RejectReason::kStale,
       [](Ctx&, Signal& s) { s.created_ns = kNow - 6'000'000'000LL; }},
      {"own ttl", RejectReason::kStale,
       [](Ctx&, Signal& s) {
         s.ttl_ms = 1;
         s.created_ns = kNow - 2'000'000;
       }},
      {"future", RejectReason::kStale,
       [](Ctx&, Signal& s) { s.created_ns = kNow + 5'000'000'000LL; }},
      {"halted", RejectReason::kTradingHalted,
       [](Ctx& c, Signal&) { c.state = TradingState::kHalted; }},
      {"reduce-only state", RejectReason::kReduceOnly,
       [](Ctx& c, Signal&) { c.state = TradingState::kReduceOnly; }},
      {"reduce-only slot", RejectReason::kReduceOnly,
       [](Ctx& c, Signal&) { c.slot.reduce_only = true; }},
      {"reduce-only flag", RejectReason::kReduceOnly,
       [](Ctx&, Signal& s) { s.flags = cwts::layout::kSignalReduceOnly; }},
      {"book", RejectReason::kBookNotValid, [](Ctx& c, Signal&) { c.m.book_valid = false; }},
      {"stale book", RejectReason::kBookStale,
       [](Ctx& c, Signal&) { c.m.update_ns = kNow - 60'000'000'000LL; }},
      {"tick", RejectReason::kTickSize, [](Ctx&, Signal& s) { s.price.raw += 1; }},
      {"max price", RejectReason::kTickSize, [](Ctx& c, Signal&) { c.rules.max_price = 1_px; }},
      {"step", RejectReason::kStepSize, [](Ctx&, Signal& s) { s.qty.raw += 1; }},
      {"min qty", RejectReason::kMinQty, [](Ctx& c, Signal&) { c.rules.min_qty = Qty{2 * kQty}; }},
      {"max qty", RejectReason::kMaxQty, [](Ctx&, Signal& s) { s.qty.raw = 9001 * k1; }},
      {"min notional", RejectReason::kMinNotional, [](Ctx&, Signal& s) { s.qty.raw = 1000; }},
      {"venue max notional", RejectReason::kMaxNotional,
       [](Ctx& c, Signal&) {
         c.rules.max_notional = 10_quote;
         c.rules.min_notional = Notional{};
       }},
      {"engine max notional", RejectReason::kMaxNotional,
       [](Ctx& c, Signal&) { c.lim.max_order_notional = 40_quote; }},
      {"percent price", RejectReason::kPercentPrice,
       [](Ctx& c, Signal&) { c.rules.bid_down = k1; }},
      {"band", RejectReason::kPriceBand, [](Ctx& c, Signal&) { c.lim.price_band_bps = 10; }},
      {"position", RejectReason::kMaxPosition, [](Ctx& c, Signal&) { c.ex.position = 2_qty; }},
      {"position with open orders", RejectReason::kMaxPosition,
       [](Ctx& c, Signal&) { c.ex.open_buy_qty = 2_qty; }},
      {"no inventory", RejectReason::kNoInventory,
       [](Ctx&, Signal& s) {
         s.side = static_cast<std::uint8_t>(Side::kSell);
         s.price.raw = 50'100 * k1;
       }},
      {"open orders", RejectReason::kMaxOpenOrders, [](Ctx& c, Signal&) { c.ex.open_orders = 3; }},
      {"venue max orders", RejectReason::kMaxOpenOrders,
       [](Ctx& c, Signal&) {
         c.lim.max_open_orders = 0;
         c.ex.open_orders = 200;
       }},
  };
  for (const auto& k : cases) {
    Ctx c;
    Signal s = limit(Side::kBuy, kPx, kQty);
    k.setup(c, s);
    EXPECT_EQ(c.run(s), k.want) << k.name;
  }
  Ctx c;
  EXPECT_EQ(c.run(limit(Side::kBuy, kPx, kQty), false), RejectReason::kUnknownSymbol);
}

TEST(Validate, FirstFailureWinsInTheDocumentedOrder) {
  Ctx c;
  Signal s = limit(Side::kBuy, kPx + 1, kQty + 1);  // tick and step both wrong
  EXPECT_EQ(c.run(s), RejectReason::kTickSize);
  c.m.update_ns = 0;
  EXPECT_EQ(c.run(s), RejectReason::kBookStale);
  c.m.book_valid = false;
  EXPECT_EQ(c.run(s), RejectReason::kBookNotValid);
  c.state = TradingState::kHalted;
  EXPECT_EQ(c.run(s), RejectReason::kTradingHalted);
  s.created_ns = 0;
  EXPECT_EQ(c.run(s), RejectReason::kStale);
  c.last_seq = 100;
  EXPECT_EQ(c.run(s), RejectReason::kReplayedSequence);
}

TEST(Validate, ReduceOnlyAcceptsOrdersThatReduce) {
  Ctx c;
  c.state = TradingState::kReduceOnly;
  c.ex.position = Qty{2 * kQty};
  EXPECT_EQ(c.run(limit(Side::kSell, 50'100 * k1, kQty)), RejectReason::kNone);
  EXPECT_EQ(c.run(limit(Side::kSell, 50'100 * k1, 3 * kQty)), RejectReason::kReduceOnly)
      << "would flip";
  c.ex.open_sell_qty = Qty{2 * kQty};
  EXPECT_EQ(c.run(limit(Side::kSell, 50'100 * k1, kQty)), RejectReason::kReduceOnly)
      << "counting open sells";
  EXPECT_EQ(c.run(limit(Side::kBuy, kPx, kQty)), RejectReason::kReduceOnly);
}

TEST(Validate, MarketOrdersUseMarketLotSizeAndMinNotional) {
  Ctx c;
  Signal m = limit(Side::kBuy, 0, 101 * k1);
  m.type = static_cast<std::uint8_t>(OrderType::kMarket);
  m.tif = 0;
  c.lim.max_order_notional = Notional{};
  c.lim.max_position = Qty{};
  EXPECT_EQ(c.run(m), RejectReason::kMaxQty) << "MARKET_LOT_SIZE max";
  m.qty.raw = 1000;  // 0.00001 * 50000 = 0.5 USDT < 10
  EXPECT_EQ(c.run(m), RejectReason::kMinNotional);
  c.rules.min_notional_market = false;
  EXPECT_EQ(c.run(m), RejectReason::kNone) << "MIN_NOTIONAL without applyToMarket";
  Signal cancel{};
  cancel.seq = 11;
  cancel.type = static_cast<std::uint8_t>(OrderType::kCancel);
  EXPECT_EQ(c.run(cancel, false), RejectReason::kNone) << "cancels skip the order checks";
}

// ---- spot sells need the engine's inventory ----------------------------------------------------

Signal market(Side side, std::int64_t qty) {
  Signal m = limit(side, 0, qty);
  m.type = static_cast<std::uint8_t>(OrderType::kMarket);
  m.tif = 0;
  return m;
}

TEST(Validate, ASpotSellWithoutInventoryIsRefused) {
  Ctx c;  // flat: the engine holds nothing of the symbol
  EXPECT_EQ(c.run(limit(Side::kSell, 50'100 * k1, kQty)), RejectReason::kNoInventory);
  EXPECT_EQ(c.run(market(Side::kSell, kQty)), RejectReason::kNoInventory);
  c.ex.position = Qty{-kQty};  // already short (e.g. base-asset fees): no inventory either
  EXPECT_EQ(c.run(market(Side::kSell, kQty)), RejectReason::kNoInventory);
  c.lim.max_position = Qty{};  // with or without a position limit
  EXPECT_EQ(c.run(market(Side::kSell, kQty)), RejectReason::kNoInventory);
  EXPECT_EQ(c.run(limit(Side::kBuy, kPx, kQty)), RejectReason::kNone) << "buys are not affected";
}

TEST(Validate, ASellMayNotExceedThePositionLessTheSellsAlreadyOpen) {
  Ctx c;
  c.ex.position = Qty{2 * kQty};
  EXPECT_EQ(c.run(limit(Side::kSell, 50'100 * k1, 2 * kQty)), RejectReason::kNone);
  EXPECT_EQ(c.run(limit(Side::kSell, 50'100 * k1, 3 * kQty)), RejectReason::kNoInventory);
  c.ex.open_sell_qty = Qty{kQty};
  EXPECT_EQ(c.run(market(Side::kSell, kQty)), RejectReason::kNone);
  EXPECT_EQ(c.run(market(Side::kSell, 2 * kQty)), RejectReason::kNoInventory)
      << "one of the two is already being sold";
}

TEST(Validate, SellAccountHoldingsAllowsSellingWhatTheEngineDidNotBuy) {
  Ctx c;
  c.lim.sell_account_holdings = true;
  c.lim.max_order_notional = Notional{};
  EXPECT_EQ(c.run(limit(Side::kSell, 50'100 * k1, kQty)), RejectReason::kNone);
  EXPECT_EQ(c.run(market(Side::kSell, kQty)), RejectReason::kNone);
  EXPECT_EQ(c.run(market(Side::kSell, 3 * k1)), RejectReason::kMaxPosition)
      << "max_position still bounds it";
}

// ---- the book's age and market orders -----------------------------------------------------------

TEST(Validate, AStaleBookIsRefused) {
  Ctx c;
  c.ex.position = Qty{kQty};
  c.m.update_ns = kNow - 5'001'000'000LL;  // default max_book_age_ms 5000
  EXPECT_EQ(c.run(limit(Side::kBuy, kPx, kQty)), RejectReason::kBookStale);
  EXPECT_EQ(c.run(market(Side::kSell, kQty)), RejectReason::kBookStale);
  c.m.update_ns = kNow - 4'999'000'000LL;
  EXPECT_EQ(c.run(limit(Side::kBuy, kPx, kQty)), RejectReason::kNone);
  c.lim.max_book_age_ms = 1000;
  EXPECT_EQ(c.run(limit(Side::kBuy, kPx, kQty)), RejectReason::kBookStale);
  c.lim.max_book_age_ms = 0;  // off
  c.m.update_ns = 0;
  EXPECT_EQ(c.run(limit(Side::kBuy, kPx, kQty)), RejectReason::kNone);
  c.lim.max_book_age_ms = 1000;
  c.m.book_valid = false;
  EXPECT_EQ(c.run(limit(Side::kBuy, kPx, kQty)), RejectReason::kBookNotValid)
      << "an invalid book is reported as such first";
}

TEST(Validate, AMarketOrderNeedsTheSideItWouldTake) {
  Ctx c;
  c.ex.position = Qty{kQty};
  c.m.ask = cwts::core::Price{};  // no asks: a market buy has nothing to price it
  EXPECT_EQ(c.run(market(Side::kBuy, kQty)), RejectReason::kBookNotValid);
  EXPECT_EQ(c.run(market(Side::kSell, kQty)), RejectReason::kNone);
  c.m = MarketState{cwts::core::Price{}, 50000_px, true, kNow};
  EXPECT_EQ(c.run(market(Side::kSell, kQty)), RejectReason::kBookNotValid);
}

TEST(Validate, AMarketOrdersExecutionPriceMustLieWithinTheBand) {
  Ctx c;
  c.ex.position = Qty{kQty};
  c.m.bid = 50000_px;
  c.m.ask = 56000_px;  // mid 53000: the ask is 5.7 % above it, the bid 5.7 % below
  EXPECT_EQ(c.run(market(Side::kBuy, kQty)), RejectReason::kPriceBand);
  EXPECT_EQ(c.run(market(Side::kSell, kQty)), RejectReason::kPriceBand);
  c.lim.price_band_bps = 600;
  EXPECT_EQ(c.run(market(Side::kBuy, kQty)), RejectReason::kNone);
  EXPECT_EQ(c.run(market(Side::kSell, kQty)), RejectReason::kNone);
}

TEST(Validate, AMarketOrderIsValuedAtItsExecutionPrice) {
  Ctx c;
  c.m.bid = 50000_px;
  c.m.ask = 50010_px;                       // mid 50005
  c.lim.max_order_notional = 50.007_quote;  // 0.001 at the mid 50.005, at the ask 50.010
  EXPECT_EQ(c.run(market(Side::kBuy, kQty)), RejectReason::kMaxNotional);
}

// Binance values a MARKET order for NOTIONAL / MIN_NOTIONAL at the symbol's average price (the
// VWAP of its trades over avgPriceMins), not at the book's mid; the engine does the same once it
// knows that price, and until then at the price the order would take (the ask for a buy).
TEST(Validate, MarketOrderNotionalIsValuedAtTheAveragePrice) {
  Ctx c;
  c.lim.max_order_notional = Notional{};
  c.lim.max_position = Qty{};
  Signal m = limit(Side::kBuy, 0, k1 / 4000);  // 0.00025: 12.5 USDT at the 50000 mid
  m.type = static_cast<std::uint8_t>(OrderType::kMarket);
  m.tif = 0;
  EXPECT_EQ(c.run(m), RejectReason::kNone) << "no average yet: at the ask";
  c.m.avg = 30000_px;  // 7.5 USDT at the average: under NOTIONAL's 10
  EXPECT_EQ(c.run(m), RejectReason::kMinNotional);
  c.m.avg = 90000_px;  // 22.5 USDT
  c.rules.max_notional = 20_quote;
  c.rules.max_notional_market = true;
  EXPECT_EQ(c.run(m), RejectReason::kMaxNotional);
  c.rules.max_notional_market = false;
  EXPECT_EQ(c.run(m), RejectReason::kNone);
  // A limit order is valued at its own price whatever the average.
  c.rules.max_notional = Notional{};
  c.m.avg = 1_px;
  EXPECT_EQ(c.run(limit(Side::kBuy, kPx, kQty)), RejectReason::kNone);
}

TEST(Notional, ExactWithoutOverflow) {
  EXPECT_EQ(cwts::core::notional(50000_px, 0.001_qty), 50_quote);
  EXPECT_EQ(cwts::core::notional(1000000_px, 9000_qty), 9000000000_quote);
}

TEST(TokenBucket, RefillsContinuouslyAndExactly) {
  cwts::engine::TokenBucket b(10, 1'000'000'000);  // 10 per second
  const std::int64_t t0 = 1'000'000'000;
  EXPECT_EQ(b.available(t0), 10U);
  EXPECT_TRUE(b.try_acquire(10, t0));
  EXPECT_FALSE(b.try_acquire(1, t0));
  EXPECT_EQ(b.available(t0 + 99'999'999), 0U);
  EXPECT_EQ(b.available(t0 + 100'000'000), 1U);
  EXPECT_EQ(b.available(t0 + 5'000'000'000LL), 10U) << "never above capacity";
  // Many tiny steps add up exactly (no drift).
  cwts::engine::TokenBucket c(3, 1'000'000'000);
  EXPECT_TRUE(c.try_acquire(3, t0));
  std::int64_t t = t0;
  for (int i = 0; i < 1000; ++i) (void)c.available(t += 1'000'000);
  EXPECT_EQ(c.available(t), 3U);
  c.force_used(2, t);
  EXPECT_EQ(c.available(t), 1U);
  c.force_used(0, t);
  EXPECT_EQ(c.available(t), 1U) << "a lower venue count adds nothing";
  cwts::engine::TokenBucket unlimited;
  EXPECT_TRUE(unlimited.try_acquire(1'000'000, t));
}

// The venue counts in fixed windows aligned to its clock: once it has said how much of the current
// one is spent, the continuous refill must not hand out more before that window ends (a restart
// that learned the venue's count, or a bucket near the limit, would otherwise go over it).
TEST(TokenBucket, NoRefillBeyondTheVenuesCountUntilItsWindowEnds) {
  cwts::engine::TokenBucket b(10, 10'000'000'000LL);  // 10 per 10 s windows
  const std::int64_t t0 = 102'000'000'000LL;          // 2 s into the window [100 s, 110 s)
  b.force_used(8, t0);
  EXPECT_EQ(b.available(t0), 2U);
  EXPECT_TRUE(b.try_acquire(2, t0));
  EXPECT_EQ(b.available(t0 + 5'000'000'000LL), 0U) << "5 s of refill, but the venue counts 10";
  EXPECT_EQ(b.available(109'999'999'999LL), 0U);
  EXPECT_EQ(b.available(110'000'000'000LL), 8U) << "the next window: the refill since t0";
  b.force_used(3, 111'000'000'000LL);
  EXPECT_EQ(b.available(111'000'000'000LL), 7U);
  EXPECT_TRUE(b.try_acquire(4, 111'000'000'000LL));
  b.force_used(3, 111'500'000'000LL);  // the venue had not seen those 4 yet: they still count
  EXPECT_EQ(b.available(111'500'000'000LL), 3U);
}

std::vector<cwts::binance::RateLimit> binance_limits() {
  using cwts::binance::RateInterval;
  using cwts::binance::RateLimitType;
  return {{RateLimitType::kRequestWeight, RateInterval::kMinute, 1, 1200},
          {RateLimitType::kOrders, RateInterval::kSecond, 10, 50},
          {RateLimitType::kOrders, RateInterval::kDay, 1, 160000},
          {RateLimitType::kRawRequests, RateInterval::kMinute, 5, 6100}};
}

TEST(RateGovernor, SharesAndAllOrNothing) {
  using cwts::engine::RateDecision;
  cwts::engine::RateGovernor g(binance_limits(), 0.8, 0.5);
  EXPECT_EQ(g.engine_capacity(cwts::binance::RateLimitType::kOrders, 10'000), 40U);
  const std::int64_t t = 5'000'000'000LL;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(g.try_acquire_order(0, 1, t), RateDecision::kOk);
  EXPECT_EQ(g.try_acquire_order(0, 1, t), RateDecision::kSlotBudget);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(g.try_acquire_order(1, 1, t), RateDecision::kOk);
  EXPECT_EQ(g.try_acquire_order(2, 1, t), RateDecision::kEngineOrders);
  // Refused requests took nothing: after 250 ms exactly one order token is back per 10s/40.
  EXPECT_EQ(g.try_acquire_order(2, 1, t + 250'000'000), RateDecision::kOk);
  EXPECT_EQ(g.try_acquire_order(2, 1, t + 250'000'000), RateDecision::kEngineOrders);
}

TEST(RateGovernor, VenueCountersAndBackoff) {
  using cwts::engine::RateDecision;
  cwts::engine::RateGovernor g(binance_limits(), 0.8, 1.0);
  const std::int64_t t = 5'000'000'000LL;
  g.on_used_weight(955, t);  // the venue counted 955 of 1200: 960 - 955 = 5 left for us
  for (int i = 0; i < 5; ++i) EXPECT_EQ(g.try_acquire_request(1, t), RateDecision::kOk);
  EXPECT_EQ(g.try_acquire_request(1, t), RateDecision::kEngineWeight);
  g.on_order_count(40, 100, t);
  EXPECT_EQ(g.try_acquire_order(0, 0, t), RateDecision::kEngineOrders);
  g.on_retry_after(429, 2, t);
  EXPECT_EQ(g.try_acquire_request(1, t + 1'999'999'999), RateDecision::kBackoff);
  EXPECT_EQ(g.blocked_until_ns(), t + 2'000'000'000LL);
  g.on_retry_after(418, 0, t);
  EXPECT_EQ(g.blocked_until_ns(), t + 120'000'000'000LL) << "418 without Retry-After: 2 minutes";
}

// Binance's -1015 (too many new orders) is the account's order count: it holds new orders until
// Retry-After, not cancels or queries, and bans nobody. Holding every request kept a strategy's
// cancels and the engine's status queries back for nothing.
TEST(RateGovernor, AnOrderCount429HoldsNewOrdersOnly) {
  using cwts::engine::RateDecision;
  cwts::engine::RateGovernor g(binance_limits(), 0.8, 1.0);
  const std::int64_t t = 5'000'000'000LL;
  g.on_retry_after(429, 3, t, -1015);
  EXPECT_EQ(g.try_acquire_order(0, 1, t + 2'999'999'999), RateDecision::kBackoff);
  EXPECT_EQ(g.try_acquire_request(1, t + 1), RateDecision::kOk) << "a cancel or a query";
  EXPECT_EQ(g.try_acquire_background(1, t + 1), RateDecision::kOk);
  EXPECT_EQ(g.blocked_until_ns(), 0) << "no back-off of the IP's requests";
  EXPECT_EQ(g.try_acquire_order(0, 1, t + 3'000'000'000LL + 250'000'000), RateDecision::kOk);
  g.on_retry_after(429, 2, t, -1003);  // request weight: everything waits
  EXPECT_EQ(g.try_acquire_request(1, t + 1), RateDecision::kBackoff);
}

TEST(RateGovernor, BackgroundRequestsLeaveATenthForOrdersAndCancels) {
  using cwts::engine::RateDecision;
  cwts::engine::RateGovernor g(binance_limits(), 0.8, 1.0);  // 960 weight per minute for us
  const std::int64_t t = 5'000'000'000LL;
  g.on_used_weight(844, t);  // 960 - 844 = 116 left for us
  // A 20-weight account refresh needs 20 + 96 (a tenth of 960): it may not take the last 116...
  EXPECT_EQ(g.try_acquire_background(20, t), RateDecision::kOk) << "116 = 20 + 96: allowed";
  EXPECT_EQ(g.try_acquire_background(20, t), RateDecision::kEngineWeight) << "96 left: kept";
  // ...which orders and cancels still get.
  EXPECT_EQ(g.try_acquire_request(1, t), RateDecision::kOk);
  EXPECT_EQ(g.try_acquire_order(0, 1, t), RateDecision::kOk);
}

TEST(RateGovernor, LookupsOutsideTheExecThreadSpendOnlyTheBackgroundHeadroom) {
  using cwts::engine::RateDecision;
  cwts::engine::RateGovernor g(binance_limits(), 0.8, 1.0);  // 960 weight per minute for us
  const std::int64_t t = 5'000'000'000LL;
  EXPECT_EQ(g.background_headroom(t), 960U - 96U) << "all but a tenth";
  g.on_used_weight(844, t);  // 116 left for us
  EXPECT_EQ(g.background_headroom(t), 20U) << "what try_acquire_background would allow";
  g.charge_weight(15, t);  // a look-up the gateway sent
  EXPECT_EQ(g.background_headroom(t), 5U);
  EXPECT_EQ(g.try_acquire_background(20, t), RateDecision::kEngineWeight) << "charged: spent";
  g.charge_weight(500, t);  // more than is left (the venue's counter will say): empties, no wrap
  EXPECT_EQ(g.background_headroom(t), 0U);
  EXPECT_EQ(g.try_acquire_request(1, t), RateDecision::kEngineWeight);
  g.on_retry_after(429, 2, t + 60'000'000'000LL);
  EXPECT_EQ(g.background_headroom(t + 60'000'000'001LL), 0U) << "nothing during a back-off";
}

// An engine started again within the minute of an earlier run learns the venue's count from its
// first answer: what it (and its feed and gateway) may spend is what that minute has left, not a
// refilled budget, until the venue's minute ends.
TEST(RateGovernor, AStartLateInTheVenuesMinuteSpendsOnlyWhatTheMinuteLeft) {
  using cwts::engine::RateDecision;
  cwts::engine::RateGovernor g(binance_limits(), 0.8, 1.0);  // 960 weight per minute for us
  const std::int64_t minute = 60'000'000'000LL;
  const std::int64_t t = 100 * minute + 10'000'000'000LL;  // 10 s into a venue minute
  g.on_used_weight(900, t);                                // an earlier run spent 900
  EXPECT_EQ(g.background_headroom(t), 0U);
  EXPECT_EQ(g.background_headroom(t + 40'000'000'000LL), 0U) << "40 s of refill, same minute";
  for (int i = 0; i < 60; ++i) EXPECT_EQ(g.try_acquire_request(1, t), RateDecision::kOk);
  EXPECT_EQ(g.try_acquire_request(1, t + 40'000'000'000LL), RateDecision::kEngineWeight);
  EXPECT_GT(g.background_headroom(101 * minute), 0U) << "the venue's next minute";
}

// Started with no venue count yet: an earlier run may have spent its whole share (40 of the 50
// orders of these ten seconds); only the 10 beyond it, until the venue's own count replaces that.
TEST(RateGovernor, AtStartAnEarlierRunsShareIsAssumedSpentUntilTheVenueCounts) {
  using cwts::engine::RateDecision;
  cwts::engine::RateGovernor g(binance_limits(), 0.8, 1.0);
  const std::int64_t t = 100'000'000'000LL + 2'000'000'000LL;  // 2 s into a 10 s window
  g.assume_earlier_run_spent_its_share(t);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(g.try_acquire_order(0, 1, t), RateDecision::kOk);
  EXPECT_EQ(g.try_acquire_order(0, 1, t), RateDecision::kEngineOrders);
  EXPECT_EQ(g.background_headroom(t), 240U - 10U - 96U) << "weight: 1200 - 960, less the orders'";
  g.on_order_count(12, 12, t + 1);  // the venue's count: 12 of its 50 (40 for us) this window
  EXPECT_EQ(g.try_acquire_order(0, 1, t + 1), RateDecision::kOk) << "28 left now";
  g.on_used_weight(30, t + 1);
  EXPECT_EQ(g.background_headroom(t + 1), 960U - 30U - 96U);
  cwts::engine::RateGovernor half(binance_limits(), 0.5, 1.0);  // 600 / 1200: nothing held
  half.assume_earlier_run_spent_its_share(t);
  EXPECT_EQ(half.background_headroom(t), 600U - 60U);
}

TEST(ClientOrderId, RoundTripsAndRejectsOtherEpochs) {
  char buf[32];
  const std::uint64_t epoch = 1'795'493'154'629'204'860ULL;
  const std::size_t n = cwts::daemon::make_client_order_id(epoch, 15, 123456789012345ULL, buf);
  const std::string cid(buf, n);
  EXPECT_LE(cid.size(), 24U);
  EXPECT_EQ(cid.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz"), std::string::npos);
  std::uint32_t slot = 0;
  std::uint64_t seq = 0;
  ASSERT_TRUE(cwts::daemon::parse_client_order_id(cid, epoch, slot, seq));
  EXPECT_EQ(slot, 15U);
  EXPECT_EQ(seq, 123456789012345ULL);
  EXPECT_FALSE(cwts::daemon::parse_client_order_id(cid, epoch + 1'000'000, slot, seq));
  EXPECT_FALSE(cwts::daemon::parse_client_order_id("x_abc", epoch, slot, seq));
  const std::size_t m = cwts::daemon::make_client_order_id(epoch, 0, UINT64_MAX, buf);
  EXPECT_LE(m, 24U);
  ASSERT_TRUE(cwts::daemon::parse_client_order_id(std::string_view(buf, m), epoch, slot, seq));
  EXPECT_EQ(seq, UINT64_MAX);
}

}  // namespace
