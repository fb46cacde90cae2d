// MatchingEngine (ADR 0007-sim-matching): construction, look-ups, events, settling executions and
// filling resting orders the book crosses; new orders and cancels/queries in matching_*.cpp.
#include "cwts/sim/matching.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "matching_state.hpp"

namespace cwts::sim {

using detail::displayed_at;
using detail::execute;
using detail::release;

MatchingEngine::MatchingEngine(const binance::ExchangeInfo& info, Account account,
                               EngineConfig config)
    : info_(info),
      account_(std::move(account)),
      config_(config),
      rng_state_(config.client_id_seed) {
  account_.set_commission(config_.commission);
  for (const binance::SymbolSpec& spec : info_.symbols) {
    auto s = std::make_unique<SymbolState>();
    s->spec = &spec;
    s->first_order_id = config_.first_order_id;
    s->next_order_id = config_.first_order_id;
    s->next_trade_id = config_.first_trade_id;
    symbols_.emplace(spec.name, std::move(s));
  }
}

MatchingEngine::~MatchingEngine() = default;

MatchingEngine::SymbolState* MatchingEngine::state(std::string_view symbol) noexcept {
  const auto it = symbols_.find(symbol);
  return it == symbols_.end() ? nullptr : it->second.get();
}

const MatchingEngine::SymbolState* MatchingEngine::state(std::string_view symbol) const noexcept {
  const auto it = symbols_.find(symbol);
  return it == symbols_.end() ? nullptr : it->second.get();
}

void MatchingEngine::set_reference_price(std::string_view symbol, Price px) noexcept {
  if (SymbolState* s = state(symbol); s != nullptr) s->reference_px = std::max(Price{}, px);
}

Qty MatchingEngine::available_at(std::string_view symbol, Side book_side, Price px,
                                 const md::OrderBook& book) const {
  const SymbolState* s = state(symbol);
  if (s == nullptr) return Qty{};
  return s->available(book_side, px, displayed_at(book, book_side, px));
}

std::string MatchingEngine::generate_client_order_id() {
  // 22 characters of [0-9A-Za-z], like the ids Binance generates ("6gCrw2kRUAF9CvJDGP16IP").
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string id(22, '0');
  for (char& c : id) {
    // splitmix64: reproducible from the configured seed.
    std::uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    c = kAlphabet[z % 62];
  }
  return id;
}

void MatchingEngine::emit(const Order& order, ExecType type, const Fill* fill, bool is_maker,
                          std::int64_t time_ms, std::string_view cancel_id) {
  if (listener_ == nullptr) return;
  listener_->on_execution(ExecutionEvent{order, type, fill, is_maker, time_ms, cancel_id});
}

void MatchingEngine::emit_account(const SymbolState& s, std::int64_t time_ms) {
  account_.touch(time_ms);
  // A commission charged in BNB changed BNB's balance too (unless BNB is base or quote).
  const bool bnb = bnb_charged_ && s.spec->base != detail::kBnb && s.spec->quote != detail::kBnb;
  bnb_charged_ = false;
  if (listener_ != nullptr)
    listener_->on_account_update(s.spec->base, s.spec->quote,
                                 bnb ? detail::kBnb : std::string_view{}, time_ms);
}

Fill MatchingEngine::settle(SymbolState& s, Order& o, Price px, Qty qty, bool is_maker,
                            std::int64_t now_ms) {
  Price bnb_px{};
  if (config_.bnb_fees) {
    if (s.spec->quote == detail::kBnb) {
      bnb_px = Price{kOne};
    } else if (const auto it = bnb_mid_.find(s.spec->quote); it != bnb_mid_.end()) {
      bnb_px = it->second;
    }
  }
  Fill f = execute(account_, *s.spec, o, px, qty, is_maker, s.next_trade_id++, now_ms, bnb_px);
  if (f.commission_asset == detail::kBnb) bnb_charged_ = true;
  return f;
}

namespace detail {

// Settles one execution of `o` on the account and records the trade. Returns the fill.
Fill execute(Account& account, const binance::SymbolSpec& spec, Order& o, Price px, Qty qty,
             bool is_maker, std::int64_t trade_id, std::int64_t now_ms, Price bnb_px) {
  const Notional quote = quote_of(px, qty);
  const CommissionRates& rates = account.commission();
  const std::int64_t rate = is_maker ? rates.maker : rates.taker;
  Fill f;
  f.price = px;
  f.qty = qty;
  f.quote_qty = quote;
  f.trade_id = trade_id;
  // The BNB discount: the commission valued in the quote asset, 25% off, paid from free BNB.
  Amount in_bnb{};
  if (bnb_px > Price{}) {
    const Notional fee_quote = fee_of(quote, rate);
    if (fee_quote > Notional{}) {
      const Amount c = bnb_commission(fee_quote, bnb_px);
      if (c > Amount{} && account.balance(kBnb).free >= c) in_bnb = c;
    }
  }
  if (o.side == Side::kBuy) {
    // Pays quote from the order's lock, receives base; the commission is taken from the base.
    account.spend_locked(spec.quote, as_amount(quote));
    o.locked -= as_amount(quote);
    f.commission = as_amount(fee_of(qty, rate));
    f.commission_asset = spec.base;
  } else {
    account.spend_locked(spec.base, as_amount(qty));
    o.locked -= as_amount(qty);
    f.commission = as_amount(fee_of(quote, rate));
    f.commission_asset = spec.quote;
  }
  if (in_bnb > Amount{}) {
    // Debited before the proceeds are credited: checked against free BNB above.
    account.debit(kBnb, in_bnb);
    f.commission = in_bnb;
    f.commission_asset = std::string(kBnb);
  }
  const bool buy = o.side == Side::kBuy;
  const Amount proceeds = buy ? as_amount(qty) : as_amount(quote);
  account.credit(base_or_quote(spec, buy), in_bnb > Amount{} ? proceeds : proceeds - f.commission);
  o.executed_qty += qty;
  o.cumm_quote_qty += quote;
  o.status = o.executed_qty >= o.orig_qty ? OrderStatus::kFilled : OrderStatus::kPartiallyFilled;
  o.update_time_ms = now_ms;
  if (o.side == Side::kBuy && o.price > Price{}) {
    // A limit BUY keeps exactly price * remaining locked: what a fill below the limit saved goes
    // back to free at once. ceil(P*rem_before) - floor(p*q) >= ceil(P*rem_after), so never < 0.
    const Amount keep = as_amount(quote_ceil(o.price, o.remaining()));
    if (o.locked > keep) {
      account.unlock(spec.quote, o.locked - keep);
      o.locked = keep;
    }
  }

  Trade t;
  t.symbol = spec.name;
  t.id = trade_id;
  t.order_id = o.order_id;
  t.order_list_id = o.order_list_id;
  t.price = px;
  t.qty = qty;
  t.quote_qty = quote;
  t.commission = f.commission;
  t.commission_asset = f.commission_asset;
  t.time_ms = now_ms;
  t.is_buyer = o.side == Side::kBuy;
  t.is_maker = is_maker;
  account.add_trade(std::move(t));
  return f;
}

// Ends an order's claim on the account: whatever is still locked for it goes back to free.
void release(Account& account, const binance::SymbolSpec& spec, Order& o) {
  if (o.locked > Amount{}) account.unlock(base_or_quote(spec, o.side == Side::kSell), o.locked);
  o.locked = Amount{};
}

}  // namespace detail

void MatchingEngine::on_book(std::string_view symbol, const md::OrderBook& book,
                             std::int64_t now_ms) {
  SymbolState* s = state(symbol);
  if (s == nullptr) return;
  if (config_.bnb_fees && s->spec->base == detail::kBnb) {
    // The BNB price in this quote asset: the book's mid (truncated), known with both sides.
    if (book.bid_levels() > 0 && book.ask_levels() > 0) {
      const Price b = book.bid(0).px;
      bnb_mid_[s->spec->quote] = b + Price{(book.ask(0).px - b).raw / 2};
    } else {
      bnb_mid_.erase(s->spec->quote);
    }
  }
  s->refresh(book);
  if (s->open.empty()) return;

  // Resting orders in priority order: best price first, then oldest (lowest orderId).
  std::vector<std::size_t> buys;
  std::vector<std::size_t> sells;
  for (const std::size_t i : s->open) (s->orders[i].side == Side::kBuy ? buys : sells).push_back(i);
  auto by_priority = [&](bool buy) {
    return [&, buy](std::size_t a, std::size_t b) {
      const Order& x = s->orders[a];
      const Order& y = s->orders[b];
      if (x.price != y.price) return buy ? x.price > y.price : x.price < y.price;
      return x.order_id < y.order_id;
    };
  };
  std::sort(buys.begin(), buys.end(), by_priority(true));
  std::sort(sells.begin(), sells.end(), by_priority(false));

  bool changed = false;
  for (const auto* list : {&buys, &sells}) {
    for (const std::size_t idx : *list) {
      Order& o = s->orders[idx];
      // The market crossed (or touched) the order's price: the crossing levels' quantity
      // executes against it at the order's own price, as a maker.
      const std::vector<PlannedFill> fills =
          s->plan(book, o.side, o.price, o.remaining(), Notional{}, Qty::from_raw(1));
      if (fills.empty()) continue;
      const Side book_side = o.side == Side::kBuy ? Side::kSell : Side::kBuy;
      for (const PlannedFill& p : fills) {
        s->take(book_side, p.level_px, p.displayed, p.qty);
        const Fill f = settle(*s, o, o.price, p.qty, true, now_ms);
        emit(o, ExecType::kTrade, &f, true, now_ms);
      }
      if (o.status == OrderStatus::kFilled) {
        release(account_, *s->spec, o);
        s->close(idx);
      }
      changed = true;
    }
  }
  if (changed) emit_account(*s, now_ms);
}

}  // namespace cwts::sim
