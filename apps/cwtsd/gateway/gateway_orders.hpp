// GatewayOrders: the gateway's view of the orders its clients placed, built only from the engine's
// execution reports (so what a client queries is what the venue did: status, fills, fees). Plain
// logic, no I/O; the gateway thread owns it. Not thread-safe.
//
// Identity: a gateway order's orderId is the seq of the signal that carries it (unique within the
// gateway's slot and increasing across restarts, see Gateway). Its clientOrderId is the client's
// newClientOrderId; the venue's order has the engine's own client order id (venue_client_order_id).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cwts/binance/account.hpp"
#include "cwts/binance/order.hpp"
#include "cwts/shm_layout/market_region.hpp"
#include "cwts/shm_layout/types.hpp"

namespace cwts::daemon {

struct GatewayOrder {
  binance::Order order;  // what GET /api/v3/order reports; order.order_id == seq
  std::vector<binance::Fill> fills;
  std::uint64_t seq = 0;
  std::uint16_t symbol_id = 0;
  std::string quote_asset;  // the symbol's quote asset (fees until the venue's are known)
  std::string fee_asset;    // the asset its fills' commissions are stated in
  std::string venue_client_order_id;
  std::uint64_t venue_order_id = 0;
  bool venue_answered = false;  // a report past kAccepted arrived (kNew, a fill or a terminal)
  bool rested = false;          // acknowledged as NEW (resting) before any fill
  bool final = false;           // its terminal report arrived
  bool rejected = false;        // final without reaching the venue's book (not queryable)
  layout::RejectReason reject_reason = layout::RejectReason::kNone;
  std::int32_t venue_code = 0;
  core::Amount fee_applied{};    // cumulative fee (in fee_asset) already attributed to fills
  std::uint64_t cancel_seq = 0;  // a cancel signal in flight for it (0 = none)
};

// A cancel the gateway sent (DELETE /api/v3/order): its signal's outcome.
struct GatewayCancel {
  std::uint64_t target_seq = 0;
  std::string cancel_client_order_id;
  bool final = false;
  layout::ReportKind kind = layout::ReportKind::kAccepted;  // kCancelled or kRejected when final
  layout::RejectReason reason = layout::RejectReason::kNone;
  std::int32_t venue_code = 0;
};

class GatewayOrders {
 public:
  // Keeps at most `max_orders` orders (the oldest closed ones go first) and `max_trades` trades;
  // trade ids start at `first_trade_id` (the gateway makes them increase across restarts).
  explicit GatewayOrders(std::int64_t first_trade_id = 1, std::size_t max_orders = 100'000,
                         std::size_t max_trades = 200'000);

  // A new order accepted for sending as signal `seq`.
  GatewayOrder& add(std::uint64_t seq, const binance::NewOrder& req, std::uint16_t symbol_id,
                    std::string_view quote_asset, std::int64_t now_ms);
  // A cancel signal `cancel_seq` for the order of signal `target_seq`.
  void add_cancel(std::uint64_t cancel_seq, std::uint64_t target_seq, std::string cancel_cid);

  // Applies one execution report of the gateway's slot.
  void apply(const layout::ExecReport& r, std::int64_t now_ms);

  // Orders clients may see (not the rejected ones). nullptr if unknown.
  [[nodiscard]] GatewayOrder* find(std::uint64_t seq) noexcept;
  [[nodiscard]] GatewayOrder* find_client(std::string_view symbol, std::string_view cid) noexcept;
  // Including rejected ones (the waiting POST needs the reason).
  [[nodiscard]] GatewayOrder* find_any(std::uint64_t seq) noexcept;
  [[nodiscard]] const GatewayCancel* cancel(std::uint64_t cancel_seq) const noexcept;
  void forget_cancel(std::uint64_t cancel_seq) { cancels_.erase(cancel_seq); }
  // True if a live (not rejected) order of `symbol` has client order id `cid`.
  [[nodiscard]] bool client_id_in_use(std::string_view symbol, std::string_view cid) const;

  // GET /api/v3/openOrders (symbol "" = every symbol), in orderId order.
  [[nodiscard]] std::vector<binance::Order> open_orders(std::string_view symbol) const;
  // GET /api/v3/allOrders: orders of `symbol` with orderId >= from_id, within [start, end] of
  // their time (0 = no bound), at most `limit`, ascending.
  [[nodiscard]] std::vector<binance::Order> all_orders(std::string_view symbol,
                                                       std::optional<std::int64_t> from_id,
                                                       std::optional<std::int64_t> start_ms,
                                                       std::optional<std::int64_t> end_ms,
                                                       std::uint32_t limit) const;
  // GET /api/v3/myTrades.
  [[nodiscard]] std::vector<binance::Trade> trades(const binance::MyTradesQuery& q) const;

  [[nodiscard]] std::size_t size() const noexcept { return orders_.size(); }

 private:
  void on_fill(GatewayOrder& g, const layout::ExecReport& r, std::int64_t now_ms);
  void set_fee_asset(GatewayOrder& g, std::string_view asset);
  void evict();
  static std::string cid_key(std::string_view symbol, std::string_view cid);

  std::size_t max_orders_;
  std::size_t max_trades_;
  std::map<std::uint64_t, GatewayOrder> orders_;  // by seq (= orderId), ascending
  std::unordered_map<std::string, std::uint64_t> by_cid_;
  std::map<std::uint64_t, GatewayCancel> cancels_;
  std::deque<binance::Trade> trades_;
  std::int64_t next_trade_id_;
};

}  // namespace cwts::daemon
