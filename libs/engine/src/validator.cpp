#include "cwts/engine/validator.hpp"

#include <cstdlib>
#include <limits>

#include "cwts/core/fixed_point.hpp"

namespace cwts::engine {

namespace {
using layout::RejectReason;
__extension__ typedef __int128 Wide;
constexpr std::int64_t kScale = core::kWireScale;

constexpr std::uint8_t bit(layout::OrderType t) {
  return static_cast<std::uint8_t>(1U << static_cast<unsigned>(t));
}

// a price × a ratio (8 decimals), truncated
core::Price times_ratio(core::Price a, std::int64_t ratio) noexcept {
  return core::Price{static_cast<std::int64_t>(static_cast<Wide>(a.raw) * ratio / kScale)};
}
}  // namespace

SymbolRules SymbolRules::from(const binance::SymbolSpec& s) noexcept {
  SymbolRules r;
  r.trading = s.status == layout::SymbolStatus::kTrading;
  r.order_types = s.order_types;
  r.tick = s.tick_size;
  r.min_price = s.min_price;
  r.max_price = s.max_price;
  r.step = s.step_size;
  r.min_qty = s.min_qty;
  r.max_qty = s.max_qty;
  r.market_min_qty = s.market_min_qty;
  r.market_max_qty = s.market_max_qty;
  r.min_notional = s.min_notional;
  r.max_notional = s.max_notional;
  r.min_notional_market = s.apply_min_to_market;
  r.max_notional_market = s.apply_max_to_market;
  r.bid_up = s.bid_multiplier_up.raw;
  r.bid_down = s.bid_multiplier_down.raw;
  r.ask_up = s.ask_multiplier_up.raw;
  r.ask_down = s.ask_multiplier_down.raw;
  r.max_num_orders = s.max_num_orders;
  return r;
}

RejectReason validate(const layout::Signal& s, const SymbolRules* rules, const RiskLimits& risk,
                      const MarketState& market, const Exposure& ex, layout::TradingState state,
                      const SlotPolicy& slot, std::uint64_t last_seq,
                      std::int64_t now_ns) noexcept {
  if (s.seq <= last_seq) return RejectReason::kReplayedSequence;
  if (!slot.may_trade) return RejectReason::kSlotNotAuthorised;
  const auto type = static_cast<layout::OrderType>(s.type);
  if (type == layout::OrderType::kCancel) return RejectReason::kNone;
  if (rules == nullptr) return RejectReason::kUnknownSymbol;
  if (!rules->trading) return RejectReason::kTradingHalted;

  const auto side = static_cast<layout::Side>(s.side);
  if (side != layout::Side::kBuy && side != layout::Side::kSell) return RejectReason::kBadSide;
  const auto tif = static_cast<layout::TimeInForce>(s.tif);
  switch (type) {
    case layout::OrderType::kLimit:
      if (tif != layout::TimeInForce::kGtc && tif != layout::TimeInForce::kIoc &&
          tif != layout::TimeInForce::kFok) {
        return RejectReason::kBadType;
      }
      break;
    case layout::OrderType::kMarket:
    case layout::OrderType::kLimitMaker:
      if (tif != layout::TimeInForce::kNone) return RejectReason::kBadType;
      break;
    default:
      return RejectReason::kBadType;
  }
  if (rules->order_types != 0 && (rules->order_types & bit(type)) == 0)
    return RejectReason::kBadType;
  const bool market_order = type == layout::OrderType::kMarket;
  const core::Qty qty = s.qty;
  const core::Price price = s.price;
  if (qty <= core::Qty{} || (!market_order && price <= core::Price{}))
    return RejectReason::kBadValue;

  if (s.created_ns > now_ns + 1'000'000'000LL || signal_deadline_ns(s, risk) < now_ns) {
    return RejectReason::kStale;
  }

  if (state == layout::TradingState::kHalted) return RejectReason::kTradingHalted;
  const bool buy = side == layout::Side::kBuy;
  if (state == layout::TradingState::kReduceOnly || slot.reduce_only ||
      (s.flags & layout::kSignalReduceOnly) != 0) {
    // Reduces only if it moves the position towards zero without crossing it, counting the
    // orders already working in the same direction.
    // In 128 bits: a strategy's quantity may be as large as 64 bits hold.
    const Wide q = qty.raw;
    const Wide pos = ex.position.raw;
    const bool reduces = buy ? pos < 0 && q + ex.open_buy_qty.raw <= -pos
                             : pos > 0 && q + ex.open_sell_qty.raw <= pos;
    if (!reduces) return RejectReason::kReduceOnly;
  }
  if (!market.book_valid) return RejectReason::kBookNotValid;
  // book_valid stays set through a stalled stream or md thread until the silence timeout; the
  // data's age catches it. (A clock stepped back makes the age negative: taken as fresh.)
  if (risk.max_book_age_ms > 0 &&
      now_ns - market.update_ns > static_cast<std::int64_t>(risk.max_book_age_ms) * 1'000'000) {
    return RejectReason::kBookStale;
  }
  // A market order is priced by the side it takes: its estimated execution price.
  const core::Price take_px = buy ? market.ask : market.bid;
  if (market_order && take_px <= core::Price{}) return RejectReason::kBookNotValid;

  if (!market_order) {
    const core::Price zero{};
    if (rules->tick > zero && price.raw % rules->tick.raw != 0) return RejectReason::kTickSize;
    if ((rules->min_price > zero && price < rules->min_price) ||
        (rules->max_price > zero && price > rules->max_price)) {
      return RejectReason::kTickSize;
    }
  }
  const core::Qty no_qty{};
  if (rules->step > no_qty && qty.raw % rules->step.raw != 0) return RejectReason::kStepSize;
  const core::Qty min_q =
      market_order && rules->market_min_qty > no_qty ? rules->market_min_qty : rules->min_qty;
  const core::Qty max_q =
      market_order && rules->market_max_qty > no_qty ? rules->market_max_qty : rules->max_qty;
  if (qty < min_q) return RejectReason::kMinQty;
  if (max_q > no_qty && qty > max_q) return RejectReason::kMaxQty;

  const core::Price mid = market.mid();
  // What the order is worth: at its price, or for a MARKET order at the price it would take.
  const core::Notional value = core::notional(market_order ? take_px : price, qty);
  // The venue's NOTIONAL filter values a MARKET order at its average price (avgPriceMins) once
  // known: the filters below predict the venue's answer with it.
  const core::Notional venue_value =
      market_order && market.avg > core::Price{} ? core::notional(market.avg, qty) : value;
  const core::Notional no_value{};
  if (rules->min_notional > no_value && (!market_order || rules->min_notional_market) &&
      venue_value < rules->min_notional) {
    return RejectReason::kMinNotional;
  }
  if (rules->max_notional > no_value && (!market_order || rules->max_notional_market) &&
      venue_value > rules->max_notional) {
    return RejectReason::kMaxNotional;
  }
  if (risk.max_order_notional > no_value && value > risk.max_order_notional)
    return RejectReason::kMaxNotional;

  if (mid > core::Price{}) {
    const std::int64_t up = buy ? rules->bid_up : rules->ask_up;
    const std::int64_t down = buy ? rules->bid_down : rules->ask_down;
    if (!market_order && ((up > 0 && price > times_ratio(mid, up)) ||
                          (down > 0 && price < times_ratio(mid, down)))) {
      return RejectReason::kPercentPrice;
    }
    // A market order has no price of its own: the band guards the one it would take.
    const core::Price banded = market_order ? take_px : price;
    if (risk.price_band_bps > 0 && static_cast<Wide>((banded - mid).abs().raw) * 10'000 >
                                       static_cast<Wide>(mid.raw) * risk.price_band_bps) {
      return RejectReason::kPriceBand;
    }
  }

  // Spot: a sell takes the account's base asset whoever bought it. Without the explicit setting
  // only what the engine itself holds may go: its position less the sells already working.
  // In 128 bits: an order's quantity, the position and the open orders may each be as large as 64
  // bits hold.
  const Wide pos = ex.position.raw;
  const Wide open =
      buy ? Wide{ex.open_buy_qty.raw} + qty.raw : Wide{ex.open_sell_qty.raw} + qty.raw;
  if (!buy && !risk.sell_account_holdings && qty.raw > pos - ex.open_sell_qty.raw)
    return RejectReason::kNoInventory;
  const Wide after = buy ? pos + open : pos - open;  // if every open order on this side fills
  // The position limit; with none, what the engine's position book holds (64 bits per symbol
  // and side): a wrapped open quantity or position would mislead every later check.
  constexpr Wide kHeld = std::numeric_limits<std::int64_t>::max();
  const Wide bound = risk.max_position > no_qty ? Wide{risk.max_position.raw} : kHeld;
  if (open > kHeld || (after < 0 ? -after : after) > bound) return RejectReason::kMaxPosition;
  if (risk.max_open_orders > 0 && ex.open_orders >= risk.max_open_orders)
    return RejectReason::kMaxOpenOrders;
  if (rules->max_num_orders > 0 && ex.open_orders >= rules->max_num_orders)
    return RejectReason::kMaxOpenOrders;
  return RejectReason::kNone;
}

std::int64_t signal_deadline_ns(const layout::Signal& s, const RiskLimits& risk) noexcept {
  const std::uint32_t ttl_ms = s.ttl_ms == 0
                                   ? risk.default_ttl_ms
                                   : (s.ttl_ms < risk.max_ttl_ms ? s.ttl_ms : risk.max_ttl_ms);
  const auto ttl_ns = static_cast<std::int64_t>(ttl_ms) * 1'000'000;
  // created_ns is the strategy's: one past the end of time minus the TTL has no deadline before it.
  return s.created_ns > std::numeric_limits<std::int64_t>::max() - ttl_ns
             ? std::numeric_limits<std::int64_t>::max()
             : s.created_ns + ttl_ns;
}

const char* to_string(layout::ReportKind k) noexcept {
  switch (k) {
    case layout::ReportKind::kAccepted:
      return "ACCEPTED";
    case layout::ReportKind::kRejected:
      return "REJECTED";
    case layout::ReportKind::kNew:
      return "NEW";
    case layout::ReportKind::kPartiallyFilled:
      return "PARTIALLY_FILLED";
    case layout::ReportKind::kFilled:
      return "FILLED";
    case layout::ReportKind::kCancelled:
      return "CANCELLED";
    case layout::ReportKind::kExpired:
      return "EXPIRED";
    case layout::ReportKind::kStatusUnknown:
      return "STATUS_UNKNOWN";
  }
  return "?";
}

const char* to_string(layout::TradingState s) noexcept {
  switch (s) {
    case layout::TradingState::kActive:
      return "active";
    case layout::TradingState::kHalted:
      return "halted";
    case layout::TradingState::kReduceOnly:
      return "reduce_only";
  }
  return "?";
}

const char* to_string(layout::RejectReason r) noexcept {
  switch (r) {
    case RejectReason::kNone:
      return "NONE";
    case RejectReason::kUnknownSymbol:
      return "UNKNOWN_SYMBOL";
    case RejectReason::kBadSide:
      return "BAD_SIDE";
    case RejectReason::kBadType:
      return "BAD_TYPE";
    case RejectReason::kBadValue:
      return "BAD_VALUE";
    case RejectReason::kTickSize:
      return "TICK_SIZE";
    case RejectReason::kStepSize:
      return "STEP_SIZE";
    case RejectReason::kMinQty:
      return "MIN_QTY";
    case RejectReason::kMaxQty:
      return "MAX_QTY";
    case RejectReason::kMinNotional:
      return "MIN_NOTIONAL";
    case RejectReason::kMaxNotional:
      return "MAX_NOTIONAL";
    case RejectReason::kPriceBand:
      return "PRICE_BAND";
    case RejectReason::kMaxPosition:
      return "MAX_POSITION";
    case RejectReason::kMaxOpenOrders:
      return "MAX_OPEN_ORDERS";
    case RejectReason::kStale:
      return "STALE";
    case RejectReason::kReplayedSequence:
      return "REPLAYED_SEQUENCE";
    case RejectReason::kRateLimited:
      return "RATE_LIMITED";
    case RejectReason::kTradingHalted:
      return "TRADING_HALTED";
    case RejectReason::kBookNotValid:
      return "BOOK_NOT_VALID";
    case RejectReason::kSlotNotAuthorised:
      return "SLOT_NOT_AUTHORISED";
    case RejectReason::kPercentPrice:
      return "PERCENT_PRICE";
    case RejectReason::kVenueRejected:
      return "VENUE_REJECTED";
    case RejectReason::kVenueUnavailable:
      return "VENUE_UNAVAILABLE";
    case RejectReason::kReduceOnly:
      return "REDUCE_ONLY";
    case RejectReason::kUnknownOrder:
      return "UNKNOWN_ORDER";
    case RejectReason::kShutdown:
      return "SHUTDOWN";
    case RejectReason::kJournalUnavailable:
      return "JOURNAL_UNAVAILABLE";
    case RejectReason::kNoInventory:
      return "NO_INVENTORY";
    case RejectReason::kBookStale:
      return "BOOK_STALE";
  }
  return "?";
}

}  // namespace cwts::engine
