// MatchingEngine: the simulated venue's exchange core, matching the account against the market.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cwts/binance/api_error.hpp"
#include "cwts/binance/exchange_info.hpp"
#include "cwts/binance/order.hpp"
#include "cwts/md/order_book.hpp"
#include "cwts/sim/account.hpp"
#include "cwts/sim/wire.hpp"

namespace cwts::sim {

struct EngineConfig {
  CommissionRates commission;                // replaces the account's rates at construction
  std::uint64_t client_id_seed = 0x5eedULL;  // generated clientOrderIds are reproducible
  std::int64_t first_order_id = 1;           // per symbol
  std::int64_t first_trade_id = 1;           // per symbol
  // Commissions in BNB at 25% off (Binance's "BNB burn"), when the account's free BNB covers them;
  // see the class comment.
  bool bnb_fees = false;
};

// Receives order and balance events (called synchronously from the engine's calls, in order).
class ExecutionListener {
 public:
  virtual ~ExecutionListener() = default;
  virtual void on_execution(const ExecutionEvent& event) = 0;
  // Balances of `base` and/or `quote` changed (outboundAccountPosition); `fee_asset` too if it is
  // not empty (a commission charged in a third asset, BNB).
  virtual void on_account_update(std::string_view base, std::string_view quote,
                                 std::string_view fee_asset, std::int64_t time_ms) = 0;
};

// Matching model (docs/adr/0007-sim-matching.md):
//  * The market book is the replayed/synthetic venue book, passed in by the caller. The account's
//    orders never change it: the public book (depth, streams) stays the recorded market.
//  * Immediate fills take the opposite side best-first at the book's prices (taker fee). Quantity
//    the account took at a price stays taken until the market's displayed quantity at that price
//    changes (so one displayed level cannot be consumed twice).
//  * A resting LIMIT/LIMIT_MAKER order fills later, at its own price (maker fee), when a new book
//    shows the opposite side at or through its price, against those crossing levels' quantities.
//    No fills from queue progress at an unchanged price: pessimistic, needs no trade feed.
//  * Commissions: the rate (maker/taker) of what the account receives, in that asset. With
//    EngineConfig::bnb_fees, a fill's commission is instead charged in BNB when the account's
//    free BNB covers it: (rate of the fill's quote notional, as above rounded half up) x 0.75 /
//    (the BNB price in the quote asset), rounded up to 8 decimals. The BNB price is the latest
//    mid of the BNB<quote> book seen by on_book() (1 if the quote is BNB); without one, or with
//    too little BNB, the commission is charged as without the flag.
//  * PERCENT_PRICE(_BY_SIDE) and the MARKET notional use a reference price: the one set with
//    set_reference_price(), else the book's mid (else the best of the side present).
// Prices, quantities, notionals and amounts are the money types (core/money.hpp); times in ms,
// injected. Not thread-safe: one thread drives it.
class MatchingEngine {
 public:
  // `info` must outlive the engine. The account's commission rates are set from `config`.
  MatchingEngine(const binance::ExchangeInfo& info, Account account, EngineConfig config = {});
  ~MatchingEngine();
  MatchingEngine(const MatchingEngine&) = delete;
  MatchingEngine& operator=(const MatchingEngine&) = delete;

  void set_listener(ExecutionListener* listener) noexcept { listener_ = listener; }

  [[nodiscard]] const binance::ExchangeInfo& exchange_info() const noexcept { return info_; }
  [[nodiscard]] const Account& account() const noexcept { return account_; }
  // Deposits and rate changes by the operator; never while a call below is running.
  [[nodiscard]] Account& account() noexcept { return account_; }

  // Overrides the reference ("average") price of a symbol, e.g. the server's VWAP of replayed
  // trades over avgPriceMins; 0 returns to the book mid. Unknown symbols are ignored.
  void set_reference_price(std::string_view symbol, Price px) noexcept;

  // The market book of `symbol` changed: forgets taken quantity at levels whose displayed
  // quantity changed, then fills resting orders the book now crosses (best price, then oldest
  // first). Call after every book change the venue publishes.
  void on_book(std::string_view symbol, const md::OrderBook& book, std::int64_t now_ms);

  // POST /api/v3/order. `book` is the symbol's current market book (on_book is applied to it
  // first). Checks in order: symbol tradable and type allowed (-2010/-1014), filters (-1013 in
  // the symbol's filter order: PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE, PERCENT_PRICE(_BY_SIDE),
  // NOTIONAL/MIN_NOTIONAL, MAX_NUM_ORDERS), duplicate open clientOrderId, LIMIT_MAKER crossing,
  // balance (-2010). Returns the order after immediate matching.
  [[nodiscard]] Result<OrderResult> place_order(const NewOrder& order, const md::OrderBook& book,
                                                std::int64_t now_ms);

  // POST /api/v3/order/test: the same symbol and filter checks, without balance checks or state
  // changes.
  [[nodiscard]] ApiError test_order(const NewOrder& order, const md::OrderBook& book) const;

  // DELETE /api/v3/order. Unknown or no longer open -> -2011 "Unknown order sent."; both ids given
  // but naming different orders -> -2011 too; restriction not met -> -2011 "Order was not
  // canceled due to cancel restrictions.". Releases the order's locked balance exactly.
  [[nodiscard]] Result<CancelResult> cancel_order(const CancelRequest& request,
                                                  std::int64_t now_ms);

  // DELETE /api/v3/openOrders: every open order of the symbol, oldest first; none open ->
  // -2011 "Unknown order sent.".
  [[nodiscard]] Result<std::vector<CancelResult>> cancel_open_orders(std::string_view symbol,
                                                                     std::int64_t now_ms);

  // GET /api/v3/order: open or closed; unknown -> -2013 "Order does not exist.".
  [[nodiscard]] Result<Order> query_order(const OrderRef& ref) const;

  // GET /api/v3/openOrders: the symbol's open orders (all symbols if empty), oldest first.
  [[nodiscard]] std::vector<Order> open_orders(std::string_view symbol) const;

  // GET /api/v3/allOrders: the symbol's orders, open and closed, ascending by orderId, with
  // orderId >= from_id if given, else the most recent `limit`.
  [[nodiscard]] std::vector<Order> all_orders(std::string_view symbol,
                                              std::optional<std::int64_t> from_id,
                                              std::uint32_t limit) const;

  // GET /api/v3/myTrades, ids ascending: fromId -> first `limit` with id >= fromId; startTime
  // (and endTime, default startTime + 24 h) -> first `limit` in the window; endTime only -> last
  // `limit` in [endTime - 24 h, endTime]; otherwise the most recent `limit`. orderId narrows to
  // that order. The query must have passed parse_my_trades.
  [[nodiscard]] std::vector<Trade> my_trades(const MyTradesQuery& query) const;

  // Quantity at `px` on `side` of the market (kBuy = bids) that the account could still take.
  [[nodiscard]] Qty available_at(std::string_view symbol, Side book_side, Price px,
                                 const md::OrderBook& book) const;

 private:
  struct SymbolState;

  [[nodiscard]] SymbolState* state(std::string_view symbol) noexcept;
  [[nodiscard]] const SymbolState* state(std::string_view symbol) const noexcept;
  [[nodiscard]] ApiError check_filters(const SymbolState& s, const NewOrder& o,
                                       const md::OrderBook& book) const;
  std::string generate_client_order_id();
  void emit(const Order& order, ExecType type, const Fill* fill, bool is_maker,
            std::int64_t time_ms, std::string_view cancel_id = {});
  void emit_account(const SymbolState& s, std::int64_t time_ms);
  // detail::execute with the BNB price of the symbol's quote asset when bnb_fees is set.
  Fill settle(SymbolState& s, Order& o, Price px, Qty qty, bool is_maker, std::int64_t now_ms);

  const binance::ExchangeInfo& info_;
  Account account_;
  EngineConfig config_;
  std::map<std::string, std::unique_ptr<SymbolState>, std::less<>> symbols_;
  ExecutionListener* listener_ = nullptr;
  std::map<std::string, Price, std::less<>> bnb_mid_;  // quote asset -> mid of BNB<quote>
  bool bnb_charged_ = false;  // a commission in BNB since the last emit_account
  std::uint64_t rng_state_;
};

}  // namespace cwts::sim
