// PaperVenue (see paper.hpp).
#include "cwts/venue/paper.hpp"

#include <algorithm>

#include "cwts/core/fixed_point.hpp"

namespace cwts::venue {

PaperVenue::PaperVenue(const layout::MarketRegion& market, std::int64_t fee_bps,
                       std::vector<BalanceUpdate> balances)
    : market_(market), fee_bps_(fee_bps), balances_(std::move(balances)) {}

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

core::Qty PaperVenue::match(Order& o, const layout::BookTop& book, core::Qty max_qty) {
  const bool buy = o.req.side == layout::Side::kBuy;
  const bool market = o.req.type == layout::OrderType::kMarket;
  const std::uint32_t n = buy ? book.ask_count : book.bid_count;
  core::Qty filled{};
  for (std::uint32_t i = 0; i < n && filled < max_qty; ++i) {
    const core::Price px = buy ? book.ask_px[i] : book.bid_px[i];
    const core::Qty avail = buy ? book.ask_qty[i] : book.bid_qty[i];
    if (!market && (buy ? px > o.req.price : px < o.req.price)) break;
    const core::Qty q = std::min(avail, max_qty - filled);
    filled += q;
    o.cum_qty += q;
    o.cum_quote += core::notional(px, q);
    o.fee += core::Notional{core::notional(px, q).raw * fee_bps_ / 10'000};
  }
  return filled;
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

void PaperVenue::emit_update(const Order& o) {
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
    if (!balances_.empty()) listener_->on_balances(balances_);
  }
  // New orders: match against the current book.
  while (!fresh_.empty()) {
    Order o = std::move(fresh_.front());
    fresh_.pop_front();
    const auto& book = market_.symbols[o.req.symbol_id].book.load();
    const bool buy = o.req.side == layout::Side::kBuy;
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
      Order probe = o;
      if (match(probe, book, o.req.qty) < o.req.qty) {
        o.status = OrderStatus::kExpired;
        emit_update(o);
        continue;
      }
    }
    match(o, book, o.req.qty);
    o.book_update_seen = book.update_id;
    if (o.cum_qty >= o.req.qty) {
      o.status = OrderStatus::kFilled;
    } else if (o.req.type == layout::OrderType::kMarket || o.req.tif == layout::TimeInForce::kIoc ||
               o.req.tif == layout::TimeInForce::kFok) {
      o.status = OrderStatus::kExpired;
    } else {
      o.status = o.cum_qty > core::Qty{} ? OrderStatus::kPartiallyFilled : OrderStatus::kNew;
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
  // Resting orders: fill when the book trades through them.
  for (auto it = live_.begin(); it != live_.end();) {
    const auto& book = market_.symbols[it->req.symbol_id].book.load();
    const core::Qty before = it->cum_qty;
    if (book.book_valid && book.update_id != it->book_update_seen) {
      it->book_update_seen = book.update_id;
      match(*it, book, it->req.qty - it->cum_qty);
    }
    if (it->cum_qty != before) {
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
