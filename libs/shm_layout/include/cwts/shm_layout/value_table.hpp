// The named values of the wire format (every enumerator of every enumeration stored in a region,
// the flag bits, magics and encodings) as a table the layout hash covers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>

#include "cwts/shm_layout/market_region.hpp"
#include "cwts/shm_layout/region_header.hpp"
#include "cwts/shm_layout/signal_region.hpp"
#include "cwts/shm_layout/types.hpp"

namespace cwts::layout {
// One named value of the wire format: an enumerator, a flag bit, a magic, an encoding. The hash
// covers the table, so renumbering any of them changes it.
struct ValueDesc {
  std::string_view name;
  std::uint64_t value;
};

namespace detail {

// The name of every enumerator of every enumeration stored in a region. The switches have no
// default on purpose: an enumerator added without a name here is a -Wswitch error (-Wall -Werror),
// and one added with its name enters the value table and so the hash. Values must stay below
// kEnumLimit (the table is found by walking 0..kEnumLimit-1).
inline constexpr std::uint64_t kEnumLimit = 1024;

#define CWTS_ENUMERATOR(E, e) \
  case E::e:                  \
    return #E "::" #e

constexpr std::string_view enumerator_name(RegionKind v) noexcept {
  switch (v) {
    CWTS_ENUMERATOR(RegionKind, kMarket);
    CWTS_ENUMERATOR(RegionKind, kSignals);
  }
  return {};
}
constexpr std::string_view enumerator_name(RegionState v) noexcept {
  switch (v) {
    CWTS_ENUMERATOR(RegionState, kInitializing);
    CWTS_ENUMERATOR(RegionState, kLive);
    CWTS_ENUMERATOR(RegionState, kClosed);
    CWTS_ENUMERATOR(RegionState, kStopping);
  }
  return {};
}
constexpr std::string_view enumerator_name(Side v) noexcept {
  switch (v) {
    CWTS_ENUMERATOR(Side, kNone);
    CWTS_ENUMERATOR(Side, kBuy);
    CWTS_ENUMERATOR(Side, kSell);
  }
  return {};
}
constexpr std::string_view enumerator_name(OrderType v) noexcept {
  switch (v) {
    CWTS_ENUMERATOR(OrderType, kLimit);
    CWTS_ENUMERATOR(OrderType, kMarket);
    CWTS_ENUMERATOR(OrderType, kLimitMaker);
    CWTS_ENUMERATOR(OrderType, kCancel);
  }
  return {};
}
constexpr std::string_view enumerator_name(TimeInForce v) noexcept {
  switch (v) {
    CWTS_ENUMERATOR(TimeInForce, kNone);
    CWTS_ENUMERATOR(TimeInForce, kGtc);
    CWTS_ENUMERATOR(TimeInForce, kIoc);
    CWTS_ENUMERATOR(TimeInForce, kFok);
  }
  return {};
}
constexpr std::string_view enumerator_name(SymbolStatus v) noexcept {
  switch (v) {
    CWTS_ENUMERATOR(SymbolStatus, kUnknown);
    CWTS_ENUMERATOR(SymbolStatus, kTrading);
    CWTS_ENUMERATOR(SymbolStatus, kHalt);
    CWTS_ENUMERATOR(SymbolStatus, kBreak);
    CWTS_ENUMERATOR(SymbolStatus, kEndOfDay);
    CWTS_ENUMERATOR(SymbolStatus, kCancelOnly);
  }
  return {};
}
constexpr std::string_view enumerator_name(TradingState v) noexcept {
  switch (v) {
    CWTS_ENUMERATOR(TradingState, kActive);
    CWTS_ENUMERATOR(TradingState, kHalted);
    CWTS_ENUMERATOR(TradingState, kReduceOnly);
  }
  return {};
}
constexpr std::string_view enumerator_name(EventKind v) noexcept {
  switch (v) {
    CWTS_ENUMERATOR(EventKind, kQuote);
    CWTS_ENUMERATOR(EventKind, kTrade);
    CWTS_ENUMERATOR(EventKind, kBook);
    CWTS_ENUMERATOR(EventKind, kCandleClose);
    CWTS_ENUMERATOR(EventKind, kStatus);
  }
  return {};
}
constexpr std::string_view enumerator_name(ReportKind v) noexcept {
  switch (v) {
    CWTS_ENUMERATOR(ReportKind, kAccepted);
    CWTS_ENUMERATOR(ReportKind, kRejected);
    CWTS_ENUMERATOR(ReportKind, kNew);
    CWTS_ENUMERATOR(ReportKind, kPartiallyFilled);
    CWTS_ENUMERATOR(ReportKind, kFilled);
    CWTS_ENUMERATOR(ReportKind, kCancelled);
    CWTS_ENUMERATOR(ReportKind, kExpired);
    CWTS_ENUMERATOR(ReportKind, kStatusUnknown);
  }
  return {};
}
constexpr std::string_view enumerator_name(RejectReason v) noexcept {
  switch (v) {
    CWTS_ENUMERATOR(RejectReason, kNone);
    CWTS_ENUMERATOR(RejectReason, kUnknownSymbol);
    CWTS_ENUMERATOR(RejectReason, kBadSide);
    CWTS_ENUMERATOR(RejectReason, kBadType);
    CWTS_ENUMERATOR(RejectReason, kBadValue);
    CWTS_ENUMERATOR(RejectReason, kTickSize);
    CWTS_ENUMERATOR(RejectReason, kStepSize);
    CWTS_ENUMERATOR(RejectReason, kMinQty);
    CWTS_ENUMERATOR(RejectReason, kMaxQty);
    CWTS_ENUMERATOR(RejectReason, kMinNotional);
    CWTS_ENUMERATOR(RejectReason, kMaxNotional);
    CWTS_ENUMERATOR(RejectReason, kPriceBand);
    CWTS_ENUMERATOR(RejectReason, kMaxPosition);
    CWTS_ENUMERATOR(RejectReason, kMaxOpenOrders);
    CWTS_ENUMERATOR(RejectReason, kStale);
    CWTS_ENUMERATOR(RejectReason, kReplayedSequence);
    CWTS_ENUMERATOR(RejectReason, kRateLimited);
    CWTS_ENUMERATOR(RejectReason, kTradingHalted);
    CWTS_ENUMERATOR(RejectReason, kBookNotValid);
    CWTS_ENUMERATOR(RejectReason, kSlotNotAuthorised);
    CWTS_ENUMERATOR(RejectReason, kPercentPrice);
    CWTS_ENUMERATOR(RejectReason, kVenueRejected);
    CWTS_ENUMERATOR(RejectReason, kVenueUnavailable);
    CWTS_ENUMERATOR(RejectReason, kReduceOnly);
    CWTS_ENUMERATOR(RejectReason, kUnknownOrder);
    CWTS_ENUMERATOR(RejectReason, kShutdown);
    CWTS_ENUMERATOR(RejectReason, kJournalUnavailable);
    CWTS_ENUMERATOR(RejectReason, kNoInventory);
    CWTS_ENUMERATOR(RejectReason, kBookStale);
  }
  return {};
}

#undef CWTS_ENUMERATOR

// Values to walk for E: 0..kEnumLimit-1, but not past its underlying type (a static_cast would
// wrap 256 to 0 for a uint8_t enumeration and name kNone twice).
template <typename E>
constexpr std::uint64_t enum_walk_end() noexcept {
  constexpr auto max =
      static_cast<std::uint64_t>(std::numeric_limits<std::underlying_type_t<E>>::max());
  return max < kEnumLimit ? max + 1 : kEnumLimit;
}

template <typename E>
constexpr std::size_t count_enumerators() noexcept {
  std::size_t n = 0;
  for (std::uint64_t v = 0; v < enum_walk_end<E>(); ++v) {
    if (!enumerator_name(static_cast<E>(v)).empty()) ++n;
  }
  return n;
}

// Every named value of E, in value order.
template <typename E>
constexpr auto enumerators() noexcept {
  std::array<ValueDesc, count_enumerators<E>()> out{};
  std::size_t i = 0;
  for (std::uint64_t v = 0; v < enum_walk_end<E>(); ++v) {
    const std::string_view name = enumerator_name(static_cast<E>(v));
    if (!name.empty()) out[i++] = ValueDesc{name, v};
  }
  return out;
}

template <std::size_t A, std::size_t B>
constexpr std::array<ValueDesc, A + B> concat(const std::array<ValueDesc, A>& a,
                                              const std::array<ValueDesc, B>& b) noexcept {
  std::array<ValueDesc, A + B> out{};
  for (std::size_t i = 0; i < A; ++i) out[i] = a[i];
  for (std::size_t i = 0; i < B; ++i) out[A + i] = b[i];
  return out;
}
template <std::size_t A, typename... Rest>
constexpr auto concat(const std::array<ValueDesc, A>& a, const Rest&... rest) noexcept {
  return concat(a, concat(rest...));
}

// Flag bits, magics and encodings that are not enumerations.
inline constexpr auto kConstants = std::to_array<ValueDesc>({
    {"kMarketMagic", kMarketMagic},
    {"kSignalsMagic", kSignalsMagic},
    {"kFlagLocked", kFlagLocked},
    {"kFlagHugePages", kFlagHugePages},
    {"kFlagEngineLock", kFlagEngineLock},
    {"kApplyMinNotionalToMarket", kApplyMinNotionalToMarket},
    {"kApplyMaxNotionalToMarket", kApplyMaxNotionalToMarket},
    {"kSignalReduceOnly", kSignalReduceOnly},
    {"make_claim(pid 1, generation 2)", make_claim(1, 2)},  // pid low 32 bits, generation high
});

}  // namespace detail

// Every enumerator of every wire enumeration, then the flags, magics and encodings.
inline constexpr auto kValueTable = detail::concat(
    detail::enumerators<RegionKind>(), detail::enumerators<RegionState>(),
    detail::enumerators<Side>(), detail::enumerators<OrderType>(),
    detail::enumerators<TimeInForce>(), detail::enumerators<SymbolStatus>(),
    detail::enumerators<TradingState>(), detail::enumerators<EventKind>(),
    detail::enumerators<ReportKind>(), detail::enumerators<RejectReason>(), detail::kConstants);

}  // namespace cwts::layout
