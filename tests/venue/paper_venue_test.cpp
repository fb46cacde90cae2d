// PaperVenue against a market region written by the test: liquidity is taken once, and a resting
// order fills only from the trades that reach it through its queue (issue 16 #12).
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cwts/core/money.hpp"
#include "cwts/venue/paper.hpp"

namespace {

using namespace cwts::core::money_literals;
using cwts::core::Price;
using cwts::core::Qty;
using cwts::layout::OrderType;
using cwts::layout::Side;
using cwts::layout::TimeInForce;
using cwts::venue::OrderStatus;

struct Seen {
  std::string cid;
  OrderStatus status;
  Qty cum_qty;
  std::int64_t cum_quote_raw;
};

struct Recorder final : cwts::venue::VenueListener {
  void on_order_event(const cwts::venue::OrderEvent& e) override {
    seen.push_back({std::string(e.client_order_id), e.status, e.cum_qty, e.cum_quote.raw});
  }
  // The last update of `cid` (a default one with zero fills if none).
  [[nodiscard]] Seen last(const std::string& cid) const {
    for (auto it = seen.rbegin(); it != seen.rend(); ++it)
      if (it->cid == cid) return *it;
    return {cid, OrderStatus::kNew, Qty{}, 0};
  }
  std::vector<Seen> seen;
};

// A market region's memory without a file (zeroed, as a new region file is): the fixed part and
// its arrays for the capacity `cap`, recorded in its header as the engine records it.
struct HeapMarket {
  explicit HeapMarket(cwts::layout::MarketCapacity cap)
      : bytes(cwts::layout::MarketRegion::bytes(cap)),
        mem(::operator new (bytes, std::align_val_t{64})) {
    std::memset(mem, 0, bytes);
    region = static_cast<cwts::layout::MarketRegion*>(mem);
    region->header.max_symbols = cap.symbols;
    region->header.max_slots = cap.slots;
    region->header.max_timeframes = cap.timeframes;
    region->header.candle_history = cap.candles;
    region->header.book_depth = cap.book_depth;
  }
  ~HeapMarket() { ::operator delete (mem, std::align_val_t{64}); }
  HeapMarket(const HeapMarket&) = delete;
  HeapMarket& operator=(const HeapMarket&) = delete;
  std::size_t bytes;
  void* mem;
  cwts::layout::MarketRegion* region;
};

class PaperVenueTest : public ::testing::Test {
 protected:
  PaperVenueTest() : market_(cwts::layout::MarketCapacity{4, 2, 1}), venue_(*market_.region, 0) {
    venue_.set_listener(&rec_);
  }

  // Publishes a book for symbol 0: {price, qty} per level, best first.
  void book(std::vector<std::pair<Price, Qty>> bids, std::vector<std::pair<Price, Qty>> asks) {
    cwts::layout::BookHead b{};
    b.update_id = ++update_id_;
    b.book_valid = 1;
    b.bid_count = static_cast<std::uint32_t>(bids.size());
    b.ask_count = static_cast<std::uint32_t>(asks.size());
    // The record's layout: bid_px, bid_qty, ask_px, ask_qty, each book_depth long.
    const std::size_t d = market_.region->book_depth();
    std::vector<std::uint64_t> levels(4 * d);
    for (std::size_t i = 0; i < bids.size(); ++i) {
      levels[i] = static_cast<std::uint64_t>(bids[i].first.raw);
      levels[d + i] = static_cast<std::uint64_t>(bids[i].second.raw);
    }
    for (std::size_t i = 0; i < asks.size(); ++i) {
      levels[2 * d + i] = static_cast<std::uint64_t>(asks[i].first.raw);
      levels[3 * d + i] = static_cast<std::uint64_t>(asks[i].second.raw);
    }
    market_.region->store_book(0, b, levels.data());
  }

  // Publishes a public trade of symbol 0; `aggressor` is the side that took liquidity.
  void trade(Price px, Qty qty, Side aggressor) {
    cwts::layout::Event e{};
    e.kind = static_cast<std::uint8_t>(cwts::layout::EventKind::kTrade);
    e.side = static_cast<std::uint8_t>(aggressor);
    e.symbol = 0;
    e.update_id = ++trade_id_;
    e.body.trade.px = px;
    e.body.trade.qty = qty;
    e.body.trade.trade_id = trade_id_;
    market_.region->events.publish(e);
  }

  void place(const std::string& cid, Side side, OrderType type, Price px, Qty qty,
             TimeInForce tif = TimeInForce::kGtc) {
    cwts::venue::OrderRequest r;
    r.symbol_id = 0;
    std::snprintf(r.symbol, sizeof r.symbol, "BTCUSDT");
    r.side = side;
    r.type = type;
    r.tif = type == OrderType::kMarket ? TimeInForce::kNone : tif;
    r.price = px;
    r.qty = qty;
    std::snprintf(r.client_order_id, sizeof r.client_order_id, "%s", cid.c_str());
    venue_.place(r);
  }

  void tick() { venue_.tick(0); }

  HeapMarket market_;
  cwts::venue::PaperVenue venue_;
  Recorder rec_;
  std::uint64_t update_id_ = 0;
  std::uint64_t trade_id_ = 0;
};

TEST_F(PaperVenueTest, TwoOrdersDoNotTakeTheSameLiquidity) {
  book({{99_px, 5_qty}}, {{100_px, 1_qty}, {101_px, 10_qty}});
  place("a", Side::kBuy, OrderType::kMarket, Price{}, 1_qty);
  place("b", Side::kBuy, OrderType::kMarket, Price{}, 1_qty);
  tick();
  const Seen a = rec_.last("a"), b = rec_.last("b");
  EXPECT_EQ(a.status, OrderStatus::kFilled);
  EXPECT_EQ(a.cum_quote_raw, (100_px).raw);  // 1 at 100
  EXPECT_EQ(b.status, OrderStatus::kFilled);
  EXPECT_EQ(b.cum_quote_raw, (101_px).raw) << "b was given the 1 at 100 that a had taken";
}

TEST_F(PaperVenueTest, ABookUpdateDoesNotReofferTakenLiquidity) {
  book({{99_px, 5_qty}}, {{100_px, 1_qty}, {101_px, 10_qty}});
  place("a", Side::kBuy, OrderType::kLimit, 100_px, 3_qty);  // takes the 1 at 100, rests 2
  tick();
  EXPECT_EQ(rec_.last("a").cum_qty, 1_qty);
  EXPECT_EQ(rec_.last("a").status, OrderStatus::kPartiallyFilled);
  // The feed does not know about paper fills: it shows the same 1 at 100 on each update.
  for (int i = 0; i < 3; ++i) {
    book({{99_px, 5_qty}}, {{100_px, 1_qty}, {101_px, 10_qty}});
    tick();
  }
  EXPECT_EQ(rec_.last("a").cum_qty, 1_qty) << "the same resting 1 at 100 was sold again";
  // A seller who joins the level is new liquidity against the resting bid.
  book({{99_px, 5_qty}}, {{100_px, 1.5_qty}, {101_px, 10_qty}});
  tick();
  EXPECT_EQ(rec_.last("a").cum_qty, 1.5_qty);
}

TEST_F(PaperVenueTest, ARestingBidWaitsForTheQueueAheadOfIt) {
  book({{99_px, 5_qty}, {98_px, 5_qty}}, {{100_px, 1_qty}});
  place("a", Side::kBuy, OrderType::kLimit, 99_px, 1_qty);  // behind the 5 already at 99
  tick();
  EXPECT_EQ(rec_.last("a").status, OrderStatus::kNew);
  trade(99_px, 3_qty, Side::kSell);
  tick();
  EXPECT_EQ(rec_.last("a").cum_qty, Qty{}) << "filled while 2 were still ahead";
  trade(99_px, 2.5_qty, Side::kSell);  // the queue ahead is gone, 0.5 reaches the order
  tick();
  EXPECT_EQ(rec_.last("a").status, OrderStatus::kPartiallyFilled);
  EXPECT_EQ(rec_.last("a").cum_qty, 0.5_qty);
  EXPECT_EQ(rec_.last("a").cum_quote_raw, cwts::core::notional(99_px, 0.5_qty).raw);
  trade(98.5_px, 0.01_qty, Side::kSell);  // traded through 99: the whole level went
  tick();
  EXPECT_EQ(rec_.last("a").status, OrderStatus::kFilled);
  EXPECT_EQ(rec_.last("a").cum_quote_raw, (99_px).raw);  // at its own price
}

TEST_F(PaperVenueTest, ARestingAskFillsOnlyFromBuyersReachingIt) {
  book({{99_px, 5_qty}}, {{100_px, 2_qty}});
  place("s", Side::kSell, OrderType::kLimit, 100_px, 1_qty);  // behind the 2 at 100
  tick();
  trade(99_px, 4_qty, Side::kSell);    // the other side of the book: not this order's
  trade(100_px, 1.5_qty, Side::kBuy);  // 0.5 still ahead
  tick();
  EXPECT_EQ(rec_.last("s").cum_qty, Qty{});
  book({{99_px, 5_qty}}, {{100_px, 0.5_qty}});  // updates alone fill nothing
  tick();
  EXPECT_EQ(rec_.last("s").cum_qty, Qty{});
  trade(100_px, 2_qty, Side::kBuy);
  tick();
  EXPECT_EQ(rec_.last("s").status, OrderStatus::kFilled);
}

TEST_F(PaperVenueTest, AnOrderBetterThanTheBookHasNoQueueAhead) {
  book({{99_px, 5_qty}}, {{100_px, 1_qty}});
  place("a", Side::kBuy, OrderType::kLimit, 99.5_px, 1_qty);  // a new best bid
  tick();
  trade(99.5_px, 0.25_qty, Side::kSell);
  tick();
  EXPECT_EQ(rec_.last("a").cum_qty, 0.25_qty);
}

}  // namespace
