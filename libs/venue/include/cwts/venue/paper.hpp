// PaperVenue: dry runs on live data. Orders fill against the engine's own published top of book
// (the market region's BookTop, kBookDepth levels a side): marketable quantity at once, level by
// level; resting limit orders when the book later trades through them. IOC/FOK/LIMIT_MAKER as
// Binance defines them; a configured fee on every fill, in the quote asset. Nothing leaves the
// machine. Events are delivered from tick(), never from inside place()/cancel().
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

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
    std::uint64_t book_update_seen = 0;  // liquidity is taken once per book update
  };
  // Fills `o` against the book as far as its price allows; returns the quantity filled.
  core::Qty match(Order& o, const layout::BookTop& book, core::Qty max_qty);
  void emit_update(const Order& o);
  void refuse(EventKind kind, std::string_view cid, std::int32_t code, std::string_view message);

  const layout::MarketRegion& market_;
  std::int64_t fee_bps_;
  std::vector<BalanceUpdate> balances_;
  std::vector<Order> live_;  // resting orders
  std::deque<Order> fresh_;  // placed since the last tick
  std::vector<std::string> cancels_;
  VenueListener* listener_ = nullptr;
  std::uint64_t next_order_id_ = 1;
  bool balances_sent_ = false;
};

}  // namespace cwts::venue
