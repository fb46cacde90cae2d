// MatchingEngine: filters, locks, taker walks, resting fills, cancels (ADR 0007-sim-matching).
#include "cwts/sim/matching.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

#include "cwts/shm_layout/types.hpp"

namespace cwts::sim {

namespace {

__extension__ using i128 = __int128;  // exact products of two 8-decimal values

// PERCENT_PRICE multipliers (layout::Ratio) share the 8-decimal scale of prices.
static_assert(layout::kRatioDecimals == kDecimals);

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

std::int64_t saturate(i128 v) noexcept {
  if (v > static_cast<i128>(kMax)) return kMax;
  if (v < 0) return 0;
  return static_cast<std::int64_t>(v);
}

// Quote amount of a fill, truncated to 8 decimals. Buyer and seller use the same number, so no
// value is created or lost by the rounding.
std::int64_t quote_of(std::int64_t px, std::int64_t qty) noexcept {
  return saturate(static_cast<i128>(px) * qty / kOne);
}

// What a LIMIT BUY locks: price * qty rounded up, so it always covers the truncated fills.
std::int64_t quote_ceil(std::int64_t px, std::int64_t qty) noexcept {
  return saturate((static_cast<i128>(px) * qty + kOne - 1) / kOne);
}

// Commission on `amount` at `rate` (fraction at 8 decimals), rounded half up to 8 decimals.
std::int64_t fee_of(std::int64_t amount, std::int64_t rate) noexcept {
  return saturate((static_cast<i128>(amount) * rate + kOne / 2) / kOne);
}

std::int64_t floor_to_step(std::int64_t qty, std::int64_t step) noexcept {
  if (step <= 1) return qty;
  return qty - qty % step;
}

// Best-first level `i` of the side an order of `taker` side takes from (asks for a BUY).
const md::Level& opposite(const md::OrderBook& book, Side taker, std::size_t i) noexcept {
  return taker == Side::kBuy ? book.ask(i) : book.bid(i);
}
std::size_t opposite_levels(const md::OrderBook& book, Side taker) noexcept {
  return taker == Side::kBuy ? book.ask_levels() : book.bid_levels();
}
// True if a level at `px` on the side `taker` takes from is within `limit` (at or better).
bool within(Side taker, std::int64_t px, std::int64_t limit) noexcept {
  return taker == Side::kBuy ? px <= limit : px >= limit;
}

// Displayed quantity at `px` on the side of the book that `book_side` names (kBuy = bids), 0 if
// no level. Binary search over the best-first index.
std::int64_t displayed_at(const md::OrderBook& book, Side book_side, std::int64_t px) noexcept {
  const bool bids = book_side == Side::kBuy;
  std::size_t lo = 0;
  std::size_t hi = bids ? book.bid_levels() : book.ask_levels();
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    const std::int64_t mpx = bids ? book.bid(mid).px : book.ask(mid).px;
    if (mpx == px) return bids ? book.bid(mid).qty : book.ask(mid).qty;
    // Best-first: bids descend, asks ascend with the index.
    if (bids ? mpx > px : mpx < px) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return 0;
}

std::string_view base_or_quote(const binance::SymbolSpec& spec, bool base) noexcept {
  return base ? std::string_view(spec.base) : std::string_view(spec.quote);
}

}  // namespace

// Liquidity the account took from one market level, remembered while the level's displayed
// quantity stays what it was when taken.
struct Taken {
  std::int64_t px;
  std::int64_t displayed;
  std::int64_t taken;
};

struct PlannedFill {
  std::int64_t px;  // execution price (the level's price for a taker)
  std::int64_t qty;
  std::int64_t level_px;   // the market level the quantity comes from
  std::int64_t displayed;  // that level's displayed quantity
};

struct MatchingEngine::SymbolState {
  const binance::SymbolSpec* spec = nullptr;
  std::vector<Order> orders;      // every order; index = orderId - first order id
  std::vector<std::size_t> open;  // indices of open orders, oldest first
  std::map<std::string, std::size_t, std::less<>> by_client_id;  // latest order per id
  std::vector<Taken> taken_bids;  // taken from the market's bids (by our SELLs)
  std::vector<Taken> taken_asks;  // taken from the market's asks (by our BUYs)
  std::int64_t first_order_id = 1;
  std::int64_t next_order_id = 1;
  std::int64_t next_trade_id = 1;
  std::int64_t reference_px = 0;

  [[nodiscard]] std::vector<Taken>& taken(Side book_side) {
    return book_side == Side::kBuy ? taken_bids : taken_asks;
  }
  [[nodiscard]] const std::vector<Taken>& taken(Side book_side) const {
    return book_side == Side::kBuy ? taken_bids : taken_asks;
  }

  // Quantity still available to the account at a market level.
  [[nodiscard]] std::int64_t available(Side book_side, std::int64_t px,
                                       std::int64_t displayed) const {
    for (const Taken& t : taken(book_side)) {
      if (t.px == px)
        return t.displayed == displayed ? std::max<std::int64_t>(0, displayed - t.taken)
                                        : displayed;
    }
    return displayed;
  }

  void take(Side book_side, std::int64_t px, std::int64_t displayed, std::int64_t qty) {
    for (Taken& t : taken(book_side)) {
      if (t.px == px) {
        if (t.displayed != displayed) {
          t.displayed = displayed;
          t.taken = 0;
        }
        t.taken += qty;
        return;
      }
    }
    taken(book_side).push_back({px, displayed, qty});
  }

  // Forgets what was taken at levels whose displayed quantity has changed since.
  void refresh(const md::OrderBook& book) {
    for (const Side side : {Side::kBuy, Side::kSell}) {
      auto& v = taken(side);
      v.erase(std::remove_if(
                  v.begin(), v.end(),
                  [&](const Taken& t) { return displayed_at(book, side, t.px) != t.displayed; }),
              v.end());
    }
  }

  // The venue's "average price" stand-in (see the class comment).
  [[nodiscard]] std::int64_t reference_price(const md::OrderBook& book) const {
    if (reference_px > 0) return reference_px;
    const bool bid = book.bid_levels() > 0;
    const bool ask = book.ask_levels() > 0;
    if (bid && ask) return book.bid(0).px + (book.ask(0).px - book.bid(0).px) / 2;
    if (bid) return book.bid(0).px;
    if (ask) return book.ask(0).px;
    return 0;
  }

  [[nodiscard]] Order* find(std::int64_t order_id) {
    if (order_id < first_order_id || order_id >= next_order_id) return nullptr;
    return &orders[static_cast<std::size_t>(order_id - first_order_id)];
  }
  [[nodiscard]] const Order* find(std::int64_t order_id) const {
    return const_cast<SymbolState*>(this)->find(order_id);
  }
  [[nodiscard]] const Order* find(const OrderRef& ref) const {
    const Order* by_id = ref.order_id ? find(*ref.order_id) : nullptr;
    if (ref.order_id && by_id == nullptr) return nullptr;
    if (ref.orig_client_order_id.empty()) return by_id;
    if (by_id != nullptr) {
      // Both sent: the orderId is looked up, and the clientOrderId must match it.
      return by_id->client_order_id == ref.orig_client_order_id ? by_id : nullptr;
    }
    const auto it = by_client_id.find(ref.orig_client_order_id);
    return it == by_client_id.end() ? nullptr : &orders[it->second];
  }

  [[nodiscard]] bool open_client_id(std::string_view id) const {
    const auto it = by_client_id.find(id);
    return it != by_client_id.end() && orders[it->second].is_open();
  }

  void close(std::size_t index) {
    open.erase(std::remove(open.begin(), open.end(), index), open.end());
  }

  // Walks the market side an order of `taker` side takes from, best first, within `limit`
  // (nullopt: any price), up to `max_qty` and, if max_quote > 0, up to that quote amount in
  // quantities that are multiples of `step`. Takes nothing; see take().
  [[nodiscard]] std::vector<PlannedFill> plan(const md::OrderBook& book, Side taker,
                                              std::optional<std::int64_t> limit,
                                              std::int64_t max_qty, std::int64_t max_quote,
                                              std::int64_t step) const {
    std::vector<PlannedFill> out;
    const Side book_side = taker == Side::kBuy ? Side::kSell : Side::kBuy;
    std::int64_t qty_left = max_qty;
    std::int64_t quote_left = max_quote;
    const std::size_t n = opposite_levels(book, taker);
    for (std::size_t i = 0; i < n && qty_left > 0; ++i) {
      const md::Level& l = opposite(book, taker, i);
      if (limit && !within(taker, l.px, *limit)) break;
      const std::int64_t avail = available(book_side, l.px, l.qty);
      std::int64_t q = std::min(avail, qty_left);
      if (max_quote > 0) {
        const std::int64_t affordable = saturate(static_cast<i128>(quote_left) * kOne / l.px);
        q = floor_to_step(std::min(q, affordable), step);
        if (q <= 0) {
          if (affordable < avail) break;  // cannot afford a step here or at any worse price
          continue;
        }
        quote_left -= quote_of(l.px, q);
      }
      if (q <= 0) continue;
      out.push_back({l.px, q, l.px, l.qty});
      qty_left -= q;
    }
    return out;
  }
};

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

void MatchingEngine::set_reference_price(std::string_view symbol, std::int64_t px) noexcept {
  if (SymbolState* s = state(symbol); s != nullptr) s->reference_px = std::max<std::int64_t>(0, px);
}

std::int64_t MatchingEngine::available_at(std::string_view symbol, Side book_side, std::int64_t px,
                                          const md::OrderBook& book) const {
  const SymbolState* s = state(symbol);
  if (s == nullptr) return 0;
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
  if (listener_ != nullptr) listener_->on_account_update(s.spec->base, s.spec->quote, time_ms);
}

namespace {

// Settles one execution of `o` on the account and records the trade. Returns the fill.
Fill execute(Account& account, const binance::SymbolSpec& spec, Order& o, std::int64_t px,
             std::int64_t qty, bool is_maker, std::int64_t trade_id, std::int64_t now_ms) {
  const std::int64_t quote = quote_of(px, qty);
  const CommissionRates& rates = account.commission();
  const std::int64_t rate = is_maker ? rates.maker : rates.taker;
  Fill f;
  f.price = px;
  f.qty = qty;
  f.quote_qty = quote;
  f.trade_id = trade_id;
  if (o.side == Side::kBuy) {
    // Pays quote from the order's lock, receives base; the commission is taken from the base.
    account.spend_locked(spec.quote, quote);
    o.locked -= quote;
    f.commission = fee_of(qty, rate);
    f.commission_asset = spec.base;
    account.credit(spec.base, qty - f.commission);
  } else {
    account.spend_locked(spec.base, qty);
    o.locked -= qty;
    f.commission = fee_of(quote, rate);
    f.commission_asset = spec.quote;
    account.credit(spec.quote, quote - f.commission);
  }
  o.executed_qty += qty;
  o.cumm_quote_qty += quote;
  o.status = o.executed_qty >= o.orig_qty ? OrderStatus::kFilled : OrderStatus::kPartiallyFilled;
  o.update_time_ms = now_ms;
  if (o.side == Side::kBuy && o.price > 0) {
    // A limit BUY keeps exactly price * remaining locked: what a fill below the limit saved goes
    // back to free at once. ceil(P*rem_before) - floor(p*q) >= ceil(P*rem_after), so never < 0.
    const std::int64_t keep = quote_ceil(o.price, o.remaining());
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
  if (o.locked > 0) account.unlock(base_or_quote(spec, o.side == Side::kSell), o.locked);
  o.locked = 0;
}

}  // namespace

void MatchingEngine::on_book(std::string_view symbol, const md::OrderBook& book,
                             std::int64_t now_ms) {
  SymbolState* s = state(symbol);
  if (s == nullptr) return;
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
      const std::vector<PlannedFill> fills = s->plan(book, o.side, o.price, o.remaining(), 0, 1);
      if (fills.empty()) continue;
      const Side book_side = o.side == Side::kBuy ? Side::kSell : Side::kBuy;
      for (const PlannedFill& p : fills) {
        s->take(book_side, p.level_px, p.displayed, p.qty);
        const Fill f =
            execute(account_, *s->spec, o, o.price, p.qty, true, s->next_trade_id++, now_ms);
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

ApiError MatchingEngine::check_filters(const SymbolState& s, const NewOrder& o,
                                       const md::OrderBook& book) const {
  const binance::SymbolSpec& spec = *s.spec;
  const bool limit_like = o.type != OrderType::kMarket;
  const bool has_qty = o.quantity > 0 || limit_like;

  if (limit_like && (spec.filters & binance::kFilterPrice) != 0) {
    if ((spec.min_price.raw > 0 && o.price < spec.min_price.raw) ||
        (spec.max_price.raw > 0 && o.price > spec.max_price.raw) ||
        (spec.tick_size.raw > 0 && o.price % spec.tick_size.raw != 0)) {
      return errors::filter_failure("PRICE_FILTER");
    }
  }
  if (has_qty && (spec.filters & binance::kFilterLotSize) != 0) {
    if ((spec.min_qty.raw > 0 && o.quantity < spec.min_qty.raw) ||
        (spec.max_qty.raw > 0 && o.quantity > spec.max_qty.raw) ||
        (spec.step_size.raw > 0 && o.quantity % spec.step_size.raw != 0)) {
      return errors::filter_failure("LOT_SIZE");
    }
  }
  if (!limit_like && o.quantity > 0 && (spec.filters & binance::kFilterMarketLotSize) != 0) {
    if ((spec.market_min_qty.raw > 0 && o.quantity < spec.market_min_qty.raw) ||
        (spec.market_max_qty.raw > 0 && o.quantity > spec.market_max_qty.raw) ||
        (spec.market_step_size.raw > 0 && o.quantity % spec.market_step_size.raw != 0)) {
      return errors::filter_failure("MARKET_LOT_SIZE");
    }
  }
  const std::int64_t ref = s.reference_price(book);
  const std::uint32_t pct = binance::kFilterPercentPrice | binance::kFilterPercentPriceBySide;
  if (limit_like && (spec.filters & pct) != 0 && ref > 0) {
    const bool buy = o.side == Side::kBuy;
    const std::int64_t up = buy ? spec.bid_multiplier_up.raw : spec.ask_multiplier_up.raw;
    const std::int64_t down = buy ? spec.bid_multiplier_down.raw : spec.ask_multiplier_down.raw;
    // avg * multiplierDown <= price <= avg * multiplierUp, exactly (multipliers at 8 decimals).
    const i128 p = static_cast<i128>(o.price) * kOne;
    const bool too_high = up > 0 && p > static_cast<i128>(ref) * up;
    const bool too_low = p < static_cast<i128>(ref) * down;
    if (too_high || too_low) {
      return errors::filter_failure((spec.filters & binance::kFilterPercentPriceBySide) != 0
                                        ? "PERCENT_PRICE_BY_SIDE"
                                        : "PERCENT_PRICE");
    }
  }
  const std::uint32_t notional_bits = binance::kFilterNotional | binance::kFilterMinNotional;
  if ((spec.filters & notional_bits) != 0) {
    const bool apply_min = limit_like || spec.apply_min_to_market;
    const bool apply_max = spec.max_notional.raw > 0 && (limit_like || spec.apply_max_to_market);
    if (apply_min || apply_max) {
      // Notional at 16 decimals (price * qty) or at 8 (quoteOrderQty), compared exactly.
      i128 notional = 0;
      bool known = true;
      if (limit_like) {
        notional = static_cast<i128>(o.price) * o.quantity;
      } else if (o.quote_order_qty > 0) {
        notional = static_cast<i128>(o.quote_order_qty) * kOne;
      } else if (ref > 0) {
        notional = static_cast<i128>(ref) * o.quantity;
      } else {
        // No reference price: what the walk would pay on average.
        const auto fills = s.plan(book, o.side, std::nullopt, o.quantity, 0, 1);
        i128 paid = 0;
        std::int64_t got = 0;
        for (const auto& f : fills) {
          paid += static_cast<i128>(f.px) * f.qty;
          got += f.qty;
        }
        known = got > 0;
        if (known) notional = paid / got * o.quantity;
      }
      const i128 min = static_cast<i128>(spec.min_notional.raw) * kOne;
      const i128 max = static_cast<i128>(spec.max_notional.raw) * kOne;
      if (known && ((apply_min && notional < min) || (apply_max && notional > max))) {
        return errors::filter_failure(
            (spec.filters & binance::kFilterNotional) != 0 ? "NOTIONAL" : "MIN_NOTIONAL");
      }
    }
  }
  if ((spec.filters & binance::kFilterMaxNumOrders) != 0 && spec.max_num_orders > 0 &&
      s.open.size() >= spec.max_num_orders) {
    return errors::filter_failure("MAX_NUM_ORDERS");
  }
  return {};
}

namespace {

// Symbol status and order-type checks shared by place_order and test_order.
ApiError check_symbol(const binance::SymbolSpec& spec, const NewOrder& o) {
  if (spec.status != layout::SymbolStatus::kTrading) {
    return errors::new_order_rejected(msg::kMarketClosed);
  }
  const binance::VenueOrderType vt = o.type == OrderType::kLimit ? binance::VenueOrderType::kLimit
                                     : o.type == OrderType::kMarket
                                         ? binance::VenueOrderType::kMarket
                                         : binance::VenueOrderType::kLimitMaker;
  if ((spec.venue_order_types & (1U << static_cast<unsigned>(vt))) == 0) {
    if (o.type == OrderType::kMarket) return errors::new_order_rejected(msg::kMarketNotSupported);
    return make_error(ErrorCode::kUnsupportedOrderComposition, "Unsupported order combination");
  }
  if (o.type != OrderType::kMarket && quote_of(o.price, o.quantity) <= 0) {
    return errors::new_order_rejected(msg::kPriceQtyZero);
  }
  return {};
}

}  // namespace

ApiError MatchingEngine::test_order(const NewOrder& o, const md::OrderBook& book) const {
  const SymbolState* s = state(o.symbol);
  if (s == nullptr) return errors::bad_symbol();
  if (ApiError e = check_symbol(*s->spec, o); !e.ok()) return e;
  return check_filters(*s, o, book);
}

Result<OrderResult> MatchingEngine::place_order(const NewOrder& o, const md::OrderBook& book,
                                                std::int64_t now_ms) {
  SymbolState* s = state(o.symbol);
  if (s == nullptr) return errors::bad_symbol();
  on_book(o.symbol, book, now_ms);
  const binance::SymbolSpec& spec = *s->spec;
  if (ApiError e = check_symbol(spec, o); !e.ok()) return e;
  if (ApiError e = check_filters(*s, o, book); !e.ok()) return e;
  if (!o.client_order_id.empty() && s->open_client_id(o.client_order_id)) {
    return errors::new_order_rejected(msg::kDuplicateOrder);
  }

  // What would execute immediately.
  const bool limit_like = o.type != OrderType::kMarket;
  std::vector<PlannedFill> plan;
  std::int64_t orig_qty = o.quantity;
  if (limit_like) {
    plan = s->plan(book, o.side, o.price, o.quantity, 0, 1);
    if (o.type == OrderType::kLimitMaker && !plan.empty()) {
      return errors::new_order_rejected(msg::kWouldMatch);
    }
  } else if (o.quantity > 0) {
    plan = s->plan(book, o.side, std::nullopt, o.quantity, 0, 1);
  } else {
    // quoteOrderQty: the quantity is what the quote buys (or must sell to receive it) in steps.
    std::int64_t step =
        spec.market_step_size.raw > 0 ? spec.market_step_size.raw : spec.step_size.raw;
    plan = s->plan(book, o.side, std::nullopt, kMax, o.quote_order_qty,
                   std::max<std::int64_t>(step, 1));
    orig_qty = 0;
    for (const auto& p : plan) orig_qty += p.qty;
    if (opposite_levels(book, o.side) == 0) return errors::new_order_rejected(msg::kNoLiquidity);
    if ((spec.filters & binance::kFilterLotSize) != 0 &&
        ((spec.min_qty.raw > 0 && orig_qty < spec.min_qty.raw) ||
         (spec.max_qty.raw > 0 && orig_qty > spec.max_qty.raw))) {
      return orig_qty == 0 ? errors::new_order_rejected(msg::kLiquidityBelowLotSize)
                           : errors::filter_failure("LOT_SIZE");
    }
    if ((spec.filters & binance::kFilterMarketLotSize) != 0 &&
        ((spec.market_min_qty.raw > 0 && orig_qty < spec.market_min_qty.raw) ||
         (spec.market_max_qty.raw > 0 && orig_qty > spec.market_max_qty.raw))) {
      return errors::filter_failure("MARKET_LOT_SIZE");
    }
    if (orig_qty == 0) return errors::new_order_rejected(msg::kNoLiquidity);
  }
  std::int64_t planned_qty = 0;
  std::int64_t planned_quote = 0;
  for (const auto& p : plan) {
    planned_qty += p.qty;
    planned_quote += quote_of(p.px, p.qty);
  }

  // Balance: a BUY locks quote (LIMIT: price * qty rounded up; MARKET by quantity: what the walk
  // costs; MARKET by quoteOrderQty: all of it), a SELL locks the base it may sell. What is not
  // spent goes back to free when the order ends.
  const bool buy = o.side == Side::kBuy;
  std::int64_t lock = 0;
  if (buy) {
    lock = limit_like              ? quote_ceil(o.price, o.quantity)
           : o.quote_order_qty > 0 ? o.quote_order_qty
                                   : planned_quote;
  } else {
    lock = orig_qty;
  }
  const std::string_view lock_asset = base_or_quote(spec, !buy);
  if (account_.balance(lock_asset).free < lock || lock == kMax) {
    return errors::new_order_rejected(msg::kInsufficientBalance);
  }
  const bool fok_fails = limit_like && o.tif == TimeInForce::kFok && planned_qty < o.quantity;

  // Accepted.
  Order order;
  order.symbol = spec.name;
  order.order_id = s->next_order_id++;
  order.client_order_id = o.client_order_id;
  if (order.client_order_id.empty()) {
    do {
      order.client_order_id = generate_client_order_id();
    } while (s->open_client_id(order.client_order_id));
  }
  order.side = o.side;
  order.type = o.type;
  order.tif = limit_like && o.type == OrderType::kLimit ? o.tif : TimeInForce::kGtc;
  order.price = limit_like ? o.price : 0;
  order.orig_qty = orig_qty;
  order.orig_quote_order_qty = o.quote_order_qty;
  order.status = OrderStatus::kNew;
  order.time_ms = order.update_time_ms = order.working_time_ms = now_ms;
  order.stp_mode = o.stp_mode;
  order.strategy_id = o.strategy_id;
  order.strategy_type = o.strategy_type;
  const std::size_t idx = s->orders.size();
  s->orders.push_back(std::move(order));
  s->by_client_id[s->orders[idx].client_order_id] = idx;
  Order& placed = s->orders[idx];

  OrderResult result;
  result.resp_type = o.resp_type;
  result.transact_time_ms = now_ms;

  if (!fok_fails) {
    const bool locked = account_.lock(lock_asset, lock);
    assert(locked);
    (void)locked;
    placed.locked = lock;
  }
  s->open.push_back(idx);
  emit(placed, ExecType::kNew, nullptr, false, now_ms);

  if (!fok_fails) {
    const Side book_side = buy ? Side::kSell : Side::kBuy;
    for (const PlannedFill& p : plan) {
      s->take(book_side, p.level_px, p.displayed, p.qty);
      result.fills.push_back(
          execute(account_, spec, placed, p.px, p.qty, false, s->next_trade_id++, now_ms));
      emit(placed, ExecType::kTrade, &result.fills.back(), false, now_ms);
    }
  }

  const bool rests = o.type == OrderType::kLimitMaker ||
                     (o.type == OrderType::kLimit && o.tif == TimeInForce::kGtc);
  if (placed.status == OrderStatus::kFilled) {
    release(account_, spec, placed);
    s->close(idx);
  } else if (!rests) {
    // IOC and MARKET remainders and unfillable FOKs expire.
    placed.status = OrderStatus::kExpired;
    placed.update_time_ms = now_ms;
    release(account_, spec, placed);
    s->close(idx);
    emit(placed, ExecType::kExpired, nullptr, false, now_ms);
  }
  emit_account(*s, now_ms);
  result.order = placed;
  return result;
}

Result<CancelResult> MatchingEngine::cancel_order(const CancelRequest& request,
                                                  std::int64_t now_ms) {
  SymbolState* s = state(request.ref.symbol);
  if (s == nullptr) return errors::bad_symbol();
  const Order* found = s->find(request.ref);
  if (found == nullptr || !found->is_open()) return errors::cancel_rejected(msg::kUnknownOrder);
  if ((request.restrictions == CancelRestrictions::kOnlyNew &&
       found->status != OrderStatus::kNew) ||
      (request.restrictions == CancelRestrictions::kOnlyPartiallyFilled &&
       found->status != OrderStatus::kPartiallyFilled)) {
    return errors::cancel_rejected(msg::kCancelRestrictions);
  }
  const auto idx = static_cast<std::size_t>(found - s->orders.data());
  Order& o = s->orders[idx];
  o.status = OrderStatus::kCanceled;
  o.update_time_ms = now_ms;
  release(account_, *s->spec, o);
  s->close(idx);

  CancelResult c;
  c.cancel_client_order_id = request.new_client_order_id.empty() ? generate_client_order_id()
                                                                 : request.new_client_order_id;
  c.transact_time_ms = now_ms;
  c.order = o;
  emit(o, ExecType::kCanceled, nullptr, false, now_ms, c.cancel_client_order_id);
  emit_account(*s, now_ms);
  return c;
}

Result<std::vector<CancelResult>> MatchingEngine::cancel_open_orders(std::string_view symbol,
                                                                     std::int64_t now_ms) {
  SymbolState* s = state(symbol);
  if (s == nullptr) return errors::bad_symbol();
  if (s->open.empty()) return errors::cancel_rejected(msg::kUnknownOrder);
  std::vector<CancelResult> out;
  const std::vector<std::size_t> open = s->open;
  for (const std::size_t idx : open) {
    CancelRequest r;
    r.ref.symbol = s->spec->name;
    r.ref.order_id = s->orders[idx].order_id;
    Result<CancelResult> c = cancel_order(r, now_ms);
    if (c.ok()) out.push_back(std::move(c).value());
  }
  return out;
}

Result<Order> MatchingEngine::query_order(const OrderRef& ref) const {
  const SymbolState* s = state(ref.symbol);
  if (s == nullptr) return errors::bad_symbol();
  const Order* o = s->find(ref);
  if (o == nullptr) return errors::no_such_order();
  return *o;
}

std::vector<Order> MatchingEngine::open_orders(std::string_view symbol) const {
  std::vector<Order> out;
  for (const auto& [name, s] : symbols_) {
    if (!symbol.empty() && name != symbol) continue;
    for (const std::size_t idx : s->open) out.push_back(s->orders[idx]);
  }
  return out;
}

std::vector<Order> MatchingEngine::all_orders(std::string_view symbol,
                                              std::optional<std::int64_t> from_id,
                                              std::uint32_t limit) const {
  std::vector<Order> out;
  const SymbolState* s = state(symbol);
  if (s == nullptr) return out;
  for (const Order& o : s->orders)
    if (!from_id || o.order_id >= *from_id) out.push_back(o);
  binance::keep_list_window(out, from_id.has_value(), limit);
  return out;
}

std::vector<Trade> MatchingEngine::my_trades(const MyTradesQuery& q) const {
  constexpr std::int64_t kDayMs = 86'400'000;
  std::vector<Trade> selected;
  for (const Trade& t : account_.trades(q.symbol)) {
    if (q.order_id && t.order_id != *q.order_id) continue;
    if (q.from_id && t.id < *q.from_id) continue;
    if (q.start_time_ms) {
      const std::int64_t end = q.end_time_ms ? *q.end_time_ms : *q.start_time_ms + kDayMs;
      if (t.time_ms < *q.start_time_ms || t.time_ms > end) continue;
    } else if (q.end_time_ms) {
      if (t.time_ms > *q.end_time_ms || t.time_ms < *q.end_time_ms - kDayMs) continue;
    }
    selected.push_back(t);
  }
  const std::size_t limit = q.limit;
  if (selected.size() > limit) {
    // fromId and startTime walk forward from their start; otherwise the most recent trades.
    if (q.from_id || q.start_time_ms) {
      selected.resize(limit);
    } else {
      selected.erase(selected.begin(),
                     selected.begin() + static_cast<std::ptrdiff_t>(selected.size() - limit));
    }
  }
  return selected;
}

}  // namespace cwts::sim
