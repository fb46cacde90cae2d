// Fixed-width value types and enumerations shared by every process that maps a CWTS region.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "cwts/core/money.hpp"

namespace cwts::layout {

// Prices and quantities are the engine's money types (core/money.hpp): an integer count of 10^-8
// units (the symbol table's price_decimals and qty_decimals are 8). A Price is in the quote asset
// per unit of base; a Qty in the base asset, signed so positions can be short. Never a double.
using Price = core::Price;
using Qty = core::Qty;
using Notional = core::Notional;  // quote asset
using Amount = core::Amount;      // of the asset named beside it

// A ratio with kRatioDecimals fixed decimals (PERCENT_PRICE multipliers and the like).
inline constexpr int kRatioDecimals = 8;
struct Ratio {
  std::int64_t raw;
  friend constexpr bool operator==(Ratio, Ratio) = default;
};

static_assert(sizeof(Price) == 8 && sizeof(Qty) == 8 && sizeof(Ratio) == 8);

// A NUL-padded fixed-size ASCII string (symbol names, assets, tags, client order ids).
template <std::size_t N>
struct FixedString {
  char data[N];

  constexpr void assign(std::string_view s) noexcept {
    const std::size_t n = s.size() < N ? s.size() : N;
    for (std::size_t i = 0; i < N; ++i) data[i] = i < n ? s[i] : '\0';
  }
  [[nodiscard]] constexpr std::string_view view() const noexcept {
    std::size_t n = 0;
    while (n < N && data[n] != '\0') ++n;
    return {data, n};
  }
};

enum class RegionKind : std::uint32_t { kMarket = 1, kSignals = 2 };

enum class RegionState : std::uint64_t {
  kInitializing = 0,  // the engine is filling the region; readers wait
  kLive = 1,          // the engine is running
  kClosed = 2,        // the engine shut down cleanly; readers detach and re-attach later
  // The engine is stopping: signals are no longer accepted (submit refuses); those already
  // pushed get a SHUTDOWN report. On the signals region kClosed then means the intake is shut
  // for good (the exec thread's last read of the rings follows it).
  kStopping = 3,
};

enum class Side : std::uint8_t { kNone = 0, kBuy = 1, kSell = 2 };

enum class OrderType : std::uint8_t {
  kLimit = 1,
  kMarket = 2,
  kLimitMaker = 3,
  kCancel = 4,  // cancels the order created by signal `target_seq` of the same slot
};

enum class TimeInForce : std::uint8_t { kNone = 0, kGtc = 1, kIoc = 2, kFok = 3 };

enum class SymbolStatus : std::uint8_t {
  kUnknown = 0,
  kTrading = 1,
  kHalt = 2,
  kBreak = 3,
  kEndOfDay = 4,
  kCancelOnly = 5,
};

enum class TradingState : std::uint64_t {
  kActive = 0,
  kHalted = 1,      // no new orders; open orders left as they are
  kReduceOnly = 2,  // only orders that reduce a position
};

enum class EventKind : std::uint8_t {
  kQuote = 1,        // best bid/ask changed
  kTrade = 2,        // a public trade
  kBook = 3,         // the top-N book changed (the snapshot is in the symbol's book slot)
  kCandleClose = 4,  // a candle closed (body: the closed candle)
  kStatus = 5,       // book validity, symbol status or trading state changed
};

enum class ReportKind : std::uint8_t {
  kAccepted = 1,  // passed validation and rate limits; on its way to the venue
  kRejected = 2,  // terminal: see RejectReason
  kNew = 3,       // acknowledged by the venue, resting
  kPartiallyFilled = 4,
  kFilled = 5,     // terminal
  kCancelled = 6,  // terminal
  kExpired = 7,    // terminal (IOC/FOK remainder, venue expiry)
  // Not terminal: the venue's answers have not established the order's state for a while (every
  // status query failed). The engine keeps asking; the order's reports, terminal one included,
  // follow once the venue answers. Sent once per order.
  kStatusUnknown = 8,
};

[[nodiscard]] constexpr bool is_terminal(ReportKind k) noexcept {
  return k == ReportKind::kRejected || k == ReportKind::kFilled || k == ReportKind::kCancelled ||
         k == ReportKind::kExpired;
}

// Why a signal was refused. Stable numeric values: strategies switch on them.
enum class RejectReason : std::uint16_t {
  kNone = 0,
  kUnknownSymbol = 1,
  kBadSide = 2,
  kBadType = 3,
  kBadValue = 4,  // non-finite or non-positive price or quantity
  kTickSize = 5,
  kStepSize = 6,
  kMinQty = 7,
  kMaxQty = 8,
  kMinNotional = 9,
  kMaxNotional = 10,
  kPriceBand = 11,
  kMaxPosition = 12,
  kMaxOpenOrders = 13,
  kStale = 14,
  kReplayedSequence = 15,
  kRateLimited = 16,
  kTradingHalted = 17,
  kBookNotValid = 18,
  kSlotNotAuthorised = 19,
  kPercentPrice = 20,
  kVenueRejected = 21,  // the venue refused the order; venue_code carries its error code
  kVenueUnavailable = 22,
  kReduceOnly = 23,
  kUnknownOrder = 24,        // a cancel for a signal that has no open order
  kShutdown = 25,            // the engine stopped before the signal could be executed
  kJournalUnavailable = 26,  // the order journal is full or failing: no order it cannot record
  // A sell of more than the engine holds (its position less the sells already open): on spot it
  // would sell the account's other holdings. risk.sell_account_holdings allows it.
  kNoInventory = 27,
  kBookStale = 28,  // the symbol's market data is older than risk.max_book_age_ms
};

}  // namespace cwts::layout
