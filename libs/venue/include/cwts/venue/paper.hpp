// PaperVenue: dry runs on live data. Orders fill against the engine's own published top of book
// (the market region's book, its book_depth levels a side) and its public trades (the event ring),
// conservatively, so that a dry run does not look better than the market would have been:
//  * Liquidity is taken once. What one paper order takes at a price level is gone for every other
//    paper order and for every later book update while that level stays in the book (the feed
//    never shows paper fills, so the same quantity is published again on each update); only
//    quantity added to the level beyond what was taken is new.
//  * A resting limit order has a queue ahead of it: the quantity the book showed at its price on
//    its side when it was placed (none if its price was better than the book's; all of it, i.e.
//    only a trade-through fills it, if the price was beyond the published depth). Public trades at
//    its price by the other side use up that queue first; what they trade beyond it fills the
//    order. A trade through its price fills it completely. A book update whose other side crosses
//    its price (a seller now offers at or below a resting bid) fills it from the crossing quantity
//    not taken already. Resting orders fill at their own price (they are the maker).
//  * Marketable quantity at placement fills at once, level by level at the book's prices.
// IOC/FOK/LIMIT_MAKER as Binance defines them; a configured fee on every fill, in the quote asset.
// Trades the ring lapped are lost (fewer fills, never more). Nothing leaves the machine. Events are
// delivered from tick(), never from inside place()/cancel(). Exec thread only; not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "cwts/concurrent/broadcast_ring.hpp"
#include "cwts/shm_layout/market_region.hpp"
#include "cwts/venue/venue.hpp"

namespace cwts::venue {

class PaperVenue final : public VenueClient {
 public:
  // `fee_bps`: fee per fill in basis points of its notional. Balances start from `balances`.
  PaperVenue(const layout::MarketRegion& market, std::int64_t fee_bps,
             std::vector<BalanceUpdate> balances = {});

  void set_listener(VenueListener* l) noexcept override { listener_ = l; }
  void place(const OrderRequest& r) override;
  void cancel(std::string_view client_order_id, std::string_view symbol) override;
  void tick(std::int64_t now_ns) override;
  [[nodiscard]] bool ready() const noexcept override { return true; }
  [[nodiscard]] std::size_t busy() const noexcept override;

 private:
  struct Order {
    std::string cid;
    OrderRequest req;
    std::uint64_t order_id = 0;
    OrderStatus status = OrderStatus::kNew;
    core::Qty cum_qty{};
    core::Notional cum_quote{};
    core::Notional fee{};
    core::Qty reported_qty{};            // cum_qty of the last update sent
    std::uint64_t book_update_seen = 0;  // the book update last looked at
    core::Qty queue_ahead{};             // resting: displayed quantity still ahead of it
  };
  // Quantity at a price level that paper orders have taken and the feed still shows.
  struct Taken {
    std::uint16_t symbol;
    bool bid;  // the level is on the bid side
    core::Price px;
    core::Qty qty;
  };
  // Takes liquidity for `o` from the other side of `book` as far as its price allows, at most
  // `max_qty`: at the levels' prices (`maker` = false: a new order) or at the order's own price
  // (`maker` = true: a resting order crossed by the book). Returns the quantity; `record` = false
  // only probes (FOK), taking nothing.
  core::Qty match(Order& o, const layout::BookTop& book, core::Qty max_qty, bool maker,
                  bool record = true);
  // A level's displayed quantity less what paper orders took from it.
  [[nodiscard]] core::Qty available(std::uint16_t symbol, bool bid, core::Price px,
                                    core::Qty shown) const;
  void take(std::uint16_t symbol, bool bid, core::Price px, core::Qty q);
  // Drops what was taken at levels `book` no longer shows (that quantity left the book).
  void forget_gone_levels(std::uint16_t symbol, const layout::BookTop& book);
  // Public trades since the last tick, against the resting orders.
  void apply_trades();
  void apply_trade(const layout::Event& t);
  // The queue ahead of a resting order, bounded by what the book shows at its price.
  [[nodiscard]] core::Qty queue_at(const Order& o, const layout::BookTop& book,
                                   core::Qty current) const;
  void fill(Order& o, core::Price px, core::Qty q);
  void emit_update(Order& o);
  void refuse(EventKind kind, std::string_view cid, std::int32_t code, std::string_view message);

  const layout::MarketRegion& market_;
  // The book being matched against, copied out of the region (as deep as its book_depth).
  std::unique_ptr<layout::BookTop> book_ = std::make_unique<layout::BookTop>();
  std::int64_t fee_bps_;
  std::vector<BalanceUpdate> balances_;
  std::vector<Order> live_;  // resting orders, in the order they were placed
  std::vector<Taken> taken_;
  concurrent::BroadcastReader<layout::Event, layout::kEventRingCapacity> trades_;
  std::deque<Order> fresh_;  // placed since the last tick
  std::vector<std::string> cancels_;
  VenueListener* listener_ = nullptr;
  std::uint64_t next_order_id_ = 1;
  bool balances_sent_ = false;
};

}  // namespace cwts::venue
