// PaperVenue (see paper.hpp for the fill model).
#include "cwts/venue/paper.hpp"

#include <algorithm>
#include <limits>

#include "cwts/core/fixed_point.hpp"

namespace cwts::venue {

namespace {

constexpr core::Qty kUnknownQueue{std::numeric_limits<std::int64_t>::max()};

bool is_buy(const OrderRequest& r) noexcept { return r.side == layout::Side::kBuy; }

}  // namespace

PaperVenue::PaperVenue(const layout::MarketRegion& market, std::int64_t fee_bps,
                       std::vector<BalanceUpdate> balances)
    : market_(market), fee_bps_(fee_bps), balances_(std::move(balances)), trades_(market.events) {
  taken_.reserve(64);
}

void PaperVenue::place(const OrderRequest& r) {
  Order o;
  o.cid = r.client_order_id;
  o.req = r;
  o.order_id = next_order_id_++;
  fresh_.push_back(std::move(o));
}

void PaperVenue::cancel(std::string_view cid, std::string_view /*symbol*/) {
  cancels_.emplace_back(cid);
}

std::size_t PaperVenue::busy() const noexcept {
  return live_.size() + fresh_.size() + cancels_.size();
}

core::Qty PaperVenue::available(std::uint16_t symbol, bool bid, core::Price px,
                                core::Qty shown) const {
  for (const Taken& t : taken_) {
    if (t.symbol == symbol && t.bid == bid && t.px == px) {
      return shown > t.qty ? shown - t.qty : core::Qty{};
    }
  }
  return shown;
}

void PaperVenue::take(std::uint16_t symbol, bool bid, core::Price px, core::Qty q) {
  for (Taken& t : taken_) {
    if (t.symbol == symbol && t.bid == bid && t.px == px) {
      t.qty += q;
      return;
    }
  }
  taken_.push_back({symbol, bid, px, q});
}

void PaperVenue::forget_gone_levels(std::uint16_t symbol, const layout::BookTop& book) {
  std::erase_if(taken_, [&](const Taken& t) {
    if (t.symbol != symbol) return false;
    const core::Price* px = t.bid ? book.bid_px : book.ask_px;
    const std::uint32_t n = t.bid ? book.bid_count : book.ask_count;
    return std::find(px, px + n, t.px) == px + n;
  });
}

core::Qty PaperVenue::match(Order& o, const layout::BookTop& book, core::Qty max_qty, bool maker,
                            bool record) {
  const bool buy = is_buy(o.req);
  const bool market = o.req.type == layout::OrderType::kMarket;
  const std::uint32_t n = buy ? book.ask_count : book.bid_count;
  if (record) forget_gone_levels(o.req.symbol_id, book);
  core::Qty filled{};
  for (std::uint32_t i = 0; i < n && filled < max_qty; ++i) {
    const core::Price px = buy ? book.ask_px[i] : book.bid_px[i];
    if (!market && (buy ? px > o.req.price : px < o.req.price)) break;
    const core::Qty avail =
        available(o.req.symbol_id, !buy, px, buy ? book.ask_qty[i] : book.bid_qty[i]);
    const core::Qty q = std::min(avail, max_qty - filled);
    if (q <= core::Qty{}) continue;
    filled += q;
    if (!record) continue;
    take(o.req.symbol_id, !buy, px, q);
    fill(o, maker ? o.req.price : px, q);
  }
  return filled;
}

void PaperVenue::fill(Order& o, core::Price px, core::Qty q) {
  const core::Notional value = core::notional(px, q);
  o.cum_qty += q;
  o.cum_quote += value;
  o.fee += core::Notional{value.raw * fee_bps_ / 10'000};
}

core::Qty PaperVenue::queue_at(const Order& o, const layout::BookTop& book,
                               core::Qty current) const {
  const bool buy = is_buy(o.req);
  const std::uint32_t n = buy ? book.bid_count : book.ask_count;
  const core::Price* px = buy ? book.bid_px : book.ask_px;
  const core::Qty* qty = buy ? book.bid_qty : book.ask_qty;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (px[i] == o.req.price) return std::min(current, qty[i]);
    // Past its price without meeting the level: nobody rests there (any more).
    if (buy ? px[i] < o.req.price : px[i] > o.req.price) return core::Qty{};
  }
  // Beyond the published depth (or an empty side): what is ahead is unknown; unchanged.
  return n < market_.book_depth() ? core::Qty{} : current;
}

void PaperVenue::apply_trade(const layout::Event& t) {
  const core::Price px = t.body.trade.px;
  const auto aggressor = static_cast<layout::Side>(t.side);
  core::Qty given{};  // of this trade's quantity beyond the queue, what paper orders got
  for (Order& o : live_) {
    if (o.req.symbol_id != t.symbol || is_final(o.status)) continue;
    const bool buy = is_buy(o.req);
    const core::Qty left = o.req.qty - o.cum_qty;
    if (buy ? px < o.req.price : px > o.req.price) {  // through its price: the level is gone
      fill(o, o.req.price, left);
      continue;
    }
    // At its price, by the other side (a seller hitting bids reaches a resting bid).
    if (px != o.req.price || aggressor == (buy ? layout::Side::kBuy : layout::Side::kSell)) {
      continue;
    }
    const core::Qty traded = t.body.trade.qty;
    const core::Qty beyond = traded > o.queue_ahead ? traded - o.queue_ahead : core::Qty{};
    o.queue_ahead = o.queue_ahead > traded ? o.queue_ahead - traded : core::Qty{};
    const core::Qty q = std::min(left, beyond > given ? beyond - given : core::Qty{});
    if (q <= core::Qty{}) continue;
    given += q;
    fill(o, o.req.price, q);
  }
}

void PaperVenue::apply_trades() {
  layout::Event e;
  for (;;) {
    const concurrent::ReadStatus st = trades_.try_read(e);
    if (st == concurrent::ReadStatus::kEmpty) break;
    if (st == concurrent::ReadStatus::kLapped) {  // those trades are lost: fewer fills, not more
      (void)trades_.resync();
      continue;
    }
    if (e.kind == static_cast<std::uint8_t>(layout::EventKind::kTrade) && !live_.empty()) {
      apply_trade(e);
    }
  }
}

void PaperVenue::refuse(EventKind kind, std::string_view cid, std::int32_t code,
                        std::string_view message) {
  OrderEvent e;
  e.kind = kind;
  e.client_order_id = cid;
  e.code = code;
  e.message = message;
  listener_->on_order_event(e);
}

void PaperVenue::emit_update(Order& o) {
  o.reported_qty = o.cum_qty;
  if (listener_ == nullptr) return;
  OrderEvent e;
  e.kind = EventKind::kUpdate;
  e.client_order_id = o.cid;
  e.order_id = o.order_id;
  e.status = o.status;
  e.cum_qty = o.cum_qty;
  e.cum_quote = o.cum_quote;
  e.fee_quote = o.fee;
  listener_->on_order_event(e);
}

void PaperVenue::tick(std::int64_t /*now_ns*/) {
  if (listener_ == nullptr) return;
  if (!balances_sent_) {
    balances_sent_ = true;
    listener_->on_balances(balances_);  // none configured: the account is read, and empty
  }
  // Trades published since the last tick reach the orders that were resting then.
  apply_trades();
  // New orders: match against the current book.
  while (!fresh_.empty()) {
    Order o = std::move(fresh_.front());
    fresh_.pop_front();
    const layout::BookTop& book = *book_;
    market_.book(o.req.symbol_id).load(*book_);
    const bool buy = is_buy(o.req);
    const core::Price none{};
    const core::Price best = buy ? (book.ask_count > 0 ? book.ask_px[0] : none)
                                 : (book.bid_count > 0 ? book.bid_px[0] : none);
    const bool crosses = best > none && (o.req.type == layout::OrderType::kMarket ||
                                         (buy ? best <= o.req.price : best >= o.req.price));
    if (!book.book_valid || best == none) {
      refuse(EventKind::kRejected, o.cid, -1013, "paper venue: no valid book");
      continue;
    }
    if (o.req.type == layout::OrderType::kLimitMaker && crosses) {
      refuse(EventKind::kRejected, o.cid, -2010, "Order would immediately match and take.");
      continue;
    }
    if (o.req.tif == layout::TimeInForce::kFok && o.req.type == layout::OrderType::kLimit) {
      if (match(o, book, o.req.qty, false, false) < o.req.qty) {
        o.status = OrderStatus::kExpired;
        emit_update(o);
        continue;
      }
    }
    match(o, book, o.req.qty, false);
    o.book_update_seen = book.update_id;
    if (o.cum_qty >= o.req.qty) {
      o.status = OrderStatus::kFilled;
    } else if (o.req.type == layout::OrderType::kMarket || o.req.tif == layout::TimeInForce::kIoc ||
               o.req.tif == layout::TimeInForce::kFok) {
      o.status = OrderStatus::kExpired;
    } else {
      o.status = o.cum_qty > core::Qty{} ? OrderStatus::kPartiallyFilled : OrderStatus::kNew;
      o.queue_ahead = queue_at(o, book, kUnknownQueue);
    }
    emit_update(o);
    if (!is_final(o.status)) live_.push_back(std::move(o));
  }
  // Cancels.
  for (const auto& cid : cancels_) {
    auto it =
        std::find_if(live_.begin(), live_.end(), [&](const Order& o) { return o.cid == cid; });
    if (it == live_.end()) {
      refuse(EventKind::kCancelRejected, cid, -2011, "Unknown order sent.");
      continue;
    }
    it->status = OrderStatus::kCanceled;
    emit_update(*it);
    live_.erase(it);
  }
  cancels_.clear();
  // Resting orders: the queue ahead shrinks with the book; a book whose other side now crosses
  // the order's price fills it from the crossing quantity nobody took yet.
  for (auto it = live_.begin(); it != live_.end();) {
    const layout::BookTop& book = *book_;
    market_.book(it->req.symbol_id).load(*book_);
    if (book.book_valid && book.update_id != it->book_update_seen && it->cum_qty < it->req.qty) {
      it->book_update_seen = book.update_id;
      it->queue_ahead = queue_at(*it, book, it->queue_ahead);
      match(*it, book, it->req.qty - it->cum_qty, true);
    }
    if (it->cum_qty != it->reported_qty) {
      it->status =
          it->cum_qty >= it->req.qty ? OrderStatus::kFilled : OrderStatus::kPartiallyFilled;
      emit_update(*it);
    }
    if (is_final(it->status)) {
      it = live_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace cwts::venue
