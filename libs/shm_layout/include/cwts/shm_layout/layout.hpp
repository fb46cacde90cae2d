// The shared-memory wire format in one include: version, hash, and the field table both derive
// from.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>

#include "cwts/shm_layout/capacities.hpp"
#include "cwts/shm_layout/market_region.hpp"
#include "cwts/shm_layout/region_header.hpp"
#include "cwts/shm_layout/signal_region.hpp"
#include "cwts/shm_layout/types.hpp"
#include "cwts/shm_layout/value_table.hpp"

namespace cwts::layout {

// Bump on any change to a field, a size, an offset, a capacity, an enumerator, a flag bit or a
// primitive's internal words. tests/layout pins this value
// together with kLayoutHash, so a change that forgets the bump fails the build's tests.
inline constexpr std::uint32_t kLayoutVersion = 9;

// Names for each instantiation of a lock-free primitive in the regions, so the field table can
// list the words they synchronise on.
using SignalRing = concurrent::RecordRing<Signal, kSignalRingCapacity>;
using ReportRing = concurrent::RecordRing<ExecReport, kReportRingCapacity>;
using CandleSlot =
    BroadcastSlot<Candle>;  // a series' slots follow it (RegionHeader::candle_history)

// One entry per field of every structure in either region, the primitives' own words included
// (sequence, commit, head and tail words, and their padding): its path, offset and size. The
// layout hash is computed from this table, so any field moving or resizing changes the hash.
struct FieldDesc {
  std::string_view path;
  std::size_t offset;
  std::size_t size;
};

#define CWTS_FIELD(T, f) \
  FieldDesc { #T "." #f, offsetof(T, f), sizeof(T::f) }
#define CWTS_SIZE(T) \
  FieldDesc { #T, 0, sizeof(T) }

inline constexpr auto kFieldTable = std::to_array<FieldDesc>({
    CWTS_SIZE(RegionHeader),
    CWTS_FIELD(RegionHeader, magic),
    CWTS_FIELD(RegionHeader, layout_version),
    CWTS_FIELD(RegionHeader, header_size),
    CWTS_FIELD(RegionHeader, layout_hash),
    CWTS_FIELD(RegionHeader, region_size),
    CWTS_FIELD(RegionHeader, region_kind),
    CWTS_FIELD(RegionHeader, page_size_kib),
    CWTS_FIELD(RegionHeader, engine_pid),
    CWTS_FIELD(RegionHeader, flags),
    CWTS_FIELD(RegionHeader, epoch_ns),
    CWTS_FIELD(RegionHeader, instance),
    CWTS_FIELD(RegionHeader, max_symbols),
    CWTS_FIELD(RegionHeader, book_depth),
    CWTS_FIELD(RegionHeader, event_ring_capacity),
    CWTS_FIELD(RegionHeader, max_timeframes),
    CWTS_FIELD(RegionHeader, candle_history),
    CWTS_FIELD(RegionHeader, max_indicators),
    CWTS_FIELD(RegionHeader, max_slots),
    CWTS_FIELD(RegionHeader, signal_ring_capacity),
    CWTS_FIELD(RegionHeader, report_ring_capacity),
    CWTS_FIELD(RegionHeader, max_assets),
    CWTS_FIELD(RegionHeader, engine_start_ticks),
    CWTS_FIELD(RegionHeader, heartbeat_ns),
    CWTS_FIELD(RegionHeader, state),

    CWTS_SIZE(SymbolInfo),
    CWTS_FIELD(SymbolInfo, name),
    CWTS_FIELD(SymbolInfo, base),
    CWTS_FIELD(SymbolInfo, quote),
    CWTS_FIELD(SymbolInfo, id),
    CWTS_FIELD(SymbolInfo, status),
    CWTS_FIELD(SymbolInfo, price_decimals),
    CWTS_FIELD(SymbolInfo, qty_decimals),
    CWTS_FIELD(SymbolInfo, base_precision),
    CWTS_FIELD(SymbolInfo, quote_precision),
    CWTS_FIELD(SymbolInfo, order_types),
    CWTS_FIELD(SymbolInfo, tick_size),
    CWTS_FIELD(SymbolInfo, min_price),
    CWTS_FIELD(SymbolInfo, max_price),
    CWTS_FIELD(SymbolInfo, step_size),
    CWTS_FIELD(SymbolInfo, min_qty),
    CWTS_FIELD(SymbolInfo, max_qty),
    CWTS_FIELD(SymbolInfo, market_min_qty),
    CWTS_FIELD(SymbolInfo, market_max_qty),
    CWTS_FIELD(SymbolInfo, min_notional),
    CWTS_FIELD(SymbolInfo, max_notional),
    CWTS_FIELD(SymbolInfo, bid_multiplier_up),
    CWTS_FIELD(SymbolInfo, bid_multiplier_down),
    CWTS_FIELD(SymbolInfo, ask_multiplier_up),
    CWTS_FIELD(SymbolInfo, ask_multiplier_down),
    CWTS_FIELD(SymbolInfo, avg_price_mins),
    CWTS_FIELD(SymbolInfo, max_num_orders),
    CWTS_FIELD(SymbolInfo, filter_flags),

    CWTS_SIZE(Quote),
    CWTS_FIELD(Quote, bid_px),
    CWTS_FIELD(Quote, bid_qty),
    CWTS_FIELD(Quote, ask_px),
    CWTS_FIELD(Quote, ask_qty),
    CWTS_FIELD(Quote, last_px),
    CWTS_FIELD(Quote, last_qty),
    CWTS_FIELD(Quote, last_trade_id),
    CWTS_FIELD(Quote, volume_24h),
    CWTS_FIELD(Quote, update_id),
    CWTS_FIELD(Quote, exchange_ts_ns),
    CWTS_FIELD(Quote, receive_ts_ns),
    CWTS_FIELD(Quote, publish_ts_ns),
    CWTS_FIELD(Quote, last_side),
    CWTS_FIELD(Quote, book_valid),

    CWTS_SIZE(BookHead),
    CWTS_FIELD(BookHead, update_id),
    CWTS_FIELD(BookHead, exchange_ts_ns),
    CWTS_FIELD(BookHead, receive_ts_ns),
    CWTS_FIELD(BookHead, publish_ts_ns),
    CWTS_FIELD(BookHead, bid_count),
    CWTS_FIELD(BookHead, ask_count),
    CWTS_FIELD(BookHead, book_valid),
    CWTS_SIZE(BookRecord),  // its book_depth levels a side follow (RegionHeader::book_depth)
    CWTS_FIELD(BookRecord, seq),
    CWTS_FIELD(BookRecord, head),
    FieldDesc{"BookRecord.levels", BookRecord::kLevelsOffset, 0},

    CWTS_SIZE(IndicatorValues),
    CWTS_FIELD(IndicatorValues, candle_open_ms),
    CWTS_FIELD(IndicatorValues, publish_ts_ns),
    CWTS_FIELD(IndicatorValues, count),
    CWTS_FIELD(IndicatorValues, value),
    CWTS_SIZE(IndicatorDesc),
    CWTS_FIELD(IndicatorDesc, name),
    CWTS_FIELD(IndicatorDesc, timeframe),
    CWTS_FIELD(IndicatorDesc, kind),
    CWTS_FIELD(IndicatorDesc, period),
    CWTS_FIELD(IndicatorDesc, output),
    CWTS_SIZE(IndicatorTable),
    CWTS_FIELD(IndicatorTable, count),
    CWTS_FIELD(IndicatorTable, desc),

    CWTS_SIZE(Position),
    CWTS_FIELD(Position, qty),
    CWTS_FIELD(Position, avg_px),
    CWTS_FIELD(Position, realized_pnl),
    CWTS_FIELD(Position, fees),
    CWTS_FIELD(Position, open_orders),
    CWTS_FIELD(Position, update_ts_ns),

    CWTS_SIZE(Candle),
    CWTS_FIELD(Candle, open_time_ms),
    CWTS_FIELD(Candle, open),
    CWTS_FIELD(Candle, high),
    CWTS_FIELD(Candle, low),
    CWTS_FIELD(Candle, close),
    CWTS_FIELD(Candle, volume),
    CWTS_FIELD(Candle, trades),
    CWTS_FIELD(Candle, closed),
    CWTS_SIZE(CandleSeries),
    CWTS_FIELD(CandleSeries, closed),
    CWTS_FIELD(CandleSeries, live),

    CWTS_SIZE(SymbolEntry),
    CWTS_FIELD(SymbolEntry, info),
    CWTS_FIELD(SymbolEntry, quote),
    CWTS_FIELD(SymbolEntry, indicators),
    CWTS_FIELD(SymbolEntry, indicator_table),
    CWTS_FIELD(SymbolEntry, position),
    CWTS_FIELD(SymbolEntry, book_valid),

    CWTS_SIZE(Event),
    CWTS_FIELD(Event, kind),
    CWTS_FIELD(Event, side),
    CWTS_FIELD(Event, symbol),
    CWTS_FIELD(Event, timeframe),
    CWTS_FIELD(Event, update_id),
    CWTS_FIELD(Event, exchange_ts_ns),
    CWTS_FIELD(Event, receive_ts_ns),
    CWTS_FIELD(Event, publish_ts_ns),
    CWTS_FIELD(Event, body),
    CWTS_SIZE(QuoteBody),
    CWTS_SIZE(TradeBody),
    CWTS_SIZE(BookBody),
    CWTS_SIZE(StatusBody),

    CWTS_SIZE(ExecReport),
    CWTS_FIELD(ExecReport, signal_seq),
    CWTS_FIELD(ExecReport, kind),
    CWTS_FIELD(ExecReport, side),
    CWTS_FIELD(ExecReport, reason),
    CWTS_FIELD(ExecReport, symbol),
    CWTS_FIELD(ExecReport, venue_code),
    CWTS_FIELD(ExecReport, client_order_id),
    CWTS_FIELD(ExecReport, venue_order_id),
    CWTS_FIELD(ExecReport, last_qty),
    CWTS_FIELD(ExecReport, last_px),
    CWTS_FIELD(ExecReport, cum_qty),
    CWTS_FIELD(ExecReport, avg_px),
    CWTS_FIELD(ExecReport, fee),
    CWTS_FIELD(ExecReport, ts_ns),
    CWTS_FIELD(ExecReport, fee_native),
    CWTS_FIELD(ExecReport, fee_asset),

    CWTS_SIZE(EngineStatus),
    CWTS_SIZE(MdCounters),
    CWTS_FIELD(MdCounters, heartbeat_ns),
    CWTS_FIELD(MdCounters, frames),
    CWTS_FIELD(MdCounters, parse_errors),
    CWTS_FIELD(MdCounters, gaps),
    CWTS_FIELD(MdCounters, resyncs),
    CWTS_FIELD(MdCounters, events_published),
    CWTS_SIZE(ExecCounters),
    CWTS_FIELD(ExecCounters, heartbeat_ns),
    CWTS_FIELD(ExecCounters, trading_state),
    CWTS_FIELD(ExecCounters, signals_seen),
    CWTS_FIELD(ExecCounters, signals_accepted),
    CWTS_FIELD(ExecCounters, signals_rejected),
    CWTS_FIELD(ExecCounters, orders_sent),
    CWTS_FIELD(ExecCounters, fills),

    CWTS_SIZE(Balance),
    CWTS_FIELD(Balance, asset),
    CWTS_FIELD(Balance, free),
    CWTS_FIELD(Balance, locked),
    CWTS_FIELD(Balance, update_ts_ns),
    CWTS_SIZE(MarketConfig),
    CWTS_FIELD(MarketConfig, timeframe_count),
    CWTS_FIELD(MarketConfig, timeframe_s),

    CWTS_SIZE(SlotEngineSide),
    CWTS_FIELD(SlotEngineSide, signal_cursor),
    CWTS_FIELD(SlotEngineSide, claim_seen),
    CWTS_FIELD(SlotEngineSide, last_signal_seq),
    CWTS_FIELD(SlotEngineSide, accepted),
    CWTS_FIELD(SlotEngineSide, rejected),
    CWTS_FIELD(SlotEngineSide, reports_dropped),
    CWTS_FIELD(SlotEngineSide, reports),

    CWTS_SIZE(MarketRegion),
    CWTS_FIELD(MarketRegion, header),
    CWTS_FIELD(MarketRegion, config),
    CWTS_FIELD(MarketRegion, status),
    CWTS_FIELD(MarketRegion, symbol_count),
    CWTS_FIELD(MarketRegion, asset_count),
    CWTS_FIELD(MarketRegion, balances),
    CWTS_FIELD(MarketRegion, events),

    CWTS_SIZE(Signal),
    CWTS_FIELD(Signal, seq),
    CWTS_FIELD(Signal, symbol),
    CWTS_FIELD(Signal, side),
    CWTS_FIELD(Signal, type),
    CWTS_FIELD(Signal, tif),
    CWTS_FIELD(Signal, flags),
    CWTS_FIELD(Signal, price),
    CWTS_FIELD(Signal, qty),
    CWTS_FIELD(Signal, created_ns),
    CWTS_FIELD(Signal, ttl_ms),
    CWTS_FIELD(Signal, tag),
    CWTS_SIZE(SignalSlot),
    CWTS_FIELD(SignalSlot, claim),
    CWTS_FIELD(SignalSlot, owner_claim),
    CWTS_FIELD(SignalSlot, owner_start_ticks),
    CWTS_FIELD(SignalSlot, claim_time_ns),
    CWTS_FIELD(SignalSlot, owner_name),
    CWTS_FIELD(SignalSlot, report_cursor),
    CWTS_FIELD(SignalSlot, signals),
    CWTS_FIELD(SignalSlot, events_lapped),
    CWTS_SIZE(SignalsRegion),
    CWTS_FIELD(SignalsRegion, header),

    CWTS_FIELD(QuoteBody, bid_px),
    CWTS_FIELD(QuoteBody, bid_qty),
    CWTS_FIELD(QuoteBody, ask_px),
    CWTS_FIELD(QuoteBody, ask_qty),
    CWTS_FIELD(TradeBody, px),
    CWTS_FIELD(TradeBody, qty),
    CWTS_FIELD(TradeBody, trade_id),
    CWTS_FIELD(BookBody, bid_px),
    CWTS_FIELD(BookBody, bid_qty),
    CWTS_FIELD(BookBody, ask_px),
    CWTS_FIELD(BookBody, ask_qty),
    CWTS_FIELD(BookBody, levels_changed),
    CWTS_SIZE(CandleBody),
    CWTS_FIELD(CandleBody, candle),
    CWTS_FIELD(StatusBody, book_valid),
    CWTS_FIELD(StatusBody, symbol_status),
    CWTS_FIELD(StatusBody, trading_state),

    // --- the primitives' internals: every instantiation mapped in a region ---
    CWTS_SIZE(RingCursor),
    CWTS_FIELD(RingCursor, head),
    CWTS_FIELD(RingCursor, reserved_),

    CWTS_SIZE(SignalRing),
    CWTS_FIELD(SignalRing, tail),
    CWTS_FIELD(SignalRing, reserved_),
    CWTS_FIELD(SignalRing, records),
    CWTS_SIZE(SignalRing::Record),
    CWTS_FIELD(SignalRing::Record, commit),
    CWTS_FIELD(SignalRing::Record, words),
    CWTS_SIZE(ReportRing),
    CWTS_FIELD(ReportRing, tail),
    CWTS_FIELD(ReportRing, reserved_),
    CWTS_FIELD(ReportRing, records),
    CWTS_SIZE(ReportRing::Record),
    CWTS_FIELD(ReportRing::Record, commit),
    CWTS_FIELD(ReportRing::Record, words),

    CWTS_SIZE(EventRing),
    CWTS_FIELD(EventRing, head),
    CWTS_FIELD(EventRing, reserved_),
    CWTS_FIELD(EventRing, slots),
    CWTS_SIZE(EventRing::Slot),
    CWTS_FIELD(EventRing::Slot, seq),
    CWTS_FIELD(EventRing::Slot, words),
    CWTS_SIZE(BroadcastHead),
    CWTS_FIELD(BroadcastHead, head),
    CWTS_FIELD(BroadcastHead, reserved_),
    CWTS_SIZE(CandleSlot),
    CWTS_FIELD(CandleSlot, seq),
    CWTS_FIELD(CandleSlot, words),

    CWTS_SIZE(Seqlock<SymbolInfo>),
    CWTS_FIELD(Seqlock<SymbolInfo>, seq),
    CWTS_FIELD(Seqlock<SymbolInfo>, words),
    CWTS_SIZE(Seqlock<Quote>),
    CWTS_FIELD(Seqlock<Quote>, seq),
    CWTS_FIELD(Seqlock<Quote>, words),
    CWTS_SIZE(Seqlock<IndicatorValues>),
    CWTS_FIELD(Seqlock<IndicatorValues>, seq),
    CWTS_FIELD(Seqlock<IndicatorValues>, words),
    CWTS_SIZE(Seqlock<IndicatorTable>),
    CWTS_FIELD(Seqlock<IndicatorTable>, seq),
    CWTS_FIELD(Seqlock<IndicatorTable>, words),
    CWTS_SIZE(Seqlock<Position>),
    CWTS_FIELD(Seqlock<Position>, seq),
    CWTS_FIELD(Seqlock<Position>, words),
    CWTS_SIZE(Seqlock<Candle>),
    CWTS_FIELD(Seqlock<Candle>, seq),
    CWTS_FIELD(Seqlock<Candle>, words),
    CWTS_SIZE(Seqlock<Balance>),
    CWTS_FIELD(Seqlock<Balance>, seq),
    CWTS_FIELD(Seqlock<Balance>, words),
});

#undef CWTS_FIELD
#undef CWTS_SIZE

namespace detail {
constexpr std::uint64_t fnv1a(std::uint64_t h, std::uint64_t byte) noexcept {
  return (h ^ byte) * 0x100000001b3ULL;
}
constexpr std::uint64_t fnv1a(std::uint64_t h, std::string_view s) noexcept {
  for (char c : s) h = fnv1a(h, static_cast<std::uint8_t>(c));
  return fnv1a(h, 0);
}
constexpr std::uint64_t fnv1a_u64(std::uint64_t h, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) h = fnv1a(h, (v >> (8 * i)) & 0xff);
  return h;
}
template <std::size_t NF, std::size_t NV>
constexpr std::uint64_t layout_hash_of(const std::array<FieldDesc, NF>& fields,
                                       const std::array<ValueDesc, NV>& values) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64 offset basis
  for (const auto& f : fields) {
    h = fnv1a(h, f.path);
    h = fnv1a_u64(h, f.offset);
    h = fnv1a_u64(h, f.size);
  }
  for (const auto& v : values) {
    h = fnv1a(h, v.name);
    h = fnv1a_u64(h, v.value);
  }
  for (std::uint64_t cap :
       {kMaxSymbols, kMaxBookDepth, kEventRingCapacity, kMaxTimeframes, kMaxCandleHistory,
        kMaxIndicators, kMaxSlots, kSignalRingCapacity, kReportRingCapacity, kMaxAssets}) {
    h = fnv1a_u64(h, cap);
  }
  return h;
}
}  // namespace detail

// FNV-1a over every field's path, offset and size (the primitives' words included), every
// enumerator, flag and magic, and every capacity.
inline constexpr std::uint64_t kLayoutHash = detail::layout_hash_of(kFieldTable, kValueTable);

// Size of each region file before rounding up to the page size of its backing store (a market
// region's: MarketRegion::bytes(its capacity); this is its fixed part, the least it can be).
inline constexpr std::size_t kMarketRegionBytes = sizeof(MarketRegion);
inline constexpr std::size_t kSignalsRegionBytes = sizeof(SignalsRegion);

// Cache-line grouping by writer, proved at compile time.
static_assert(offsetof(MarketRegion, config) == 256);
static_assert(offsetof(MarketRegion, status) % 64 == 0);
static_assert(offsetof(EngineStatus, exec) == 64, "md and exec counters on separate lines");
static_assert(offsetof(MarketRegion, events) % 64 == 0);
static_assert(offsetof(SymbolEntry, book_valid) % 64 == 0);
static_assert(offsetof(SlotEngineSide, claim_seen) == 64, "cursor alone on its line");
static_assert(offsetof(SlotEngineSide, reports) % 64 == 0);
static_assert(offsetof(SignalSlot, report_cursor) == 64, "claim line, then the owner's cursor");
static_assert(offsetof(SignalSlot, signals) == 128);
static_assert(sizeof(EventRing::Slot) == 128);
static_assert(sizeof(CandleSlot) == 64);
static_assert(sizeof(concurrent::RecordRing<Signal, kSignalRingCapacity>::Record) == 64);
static_assert(sizeof(concurrent::RecordRing<ExecReport, kReportRingCapacity>::Record) == 192);

// What every protocol relies on and the layout cannot express: 8-byte words accessed through
// std::atomic_ref are lock-free (an address-based lock would not be shared between processes),
// need no more than their natural alignment, and are little-endian like the documented magics.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint64_t>::required_alignment == alignof(std::uint64_t));
static_assert(alignof(std::uint64_t) == 8);
static_assert(std::endian::native == std::endian::little, "the wire format is little-endian");

// Every structure placed in a region: standard layout (offsetof is meaningful and the layout is
// the same in C and Python views), trivially copyable (copied word by word), and the alignment
// its cache-line grouping assumes.
template <typename T, std::size_t Align>
inline constexpr bool kWireStruct =
    std::is_standard_layout_v<T>&& std::is_trivially_copyable_v<T> && alignof(T) == Align;
static_assert(kWireStruct<RegionHeader, 64>);
static_assert(kWireStruct<SymbolInfo, 8>);
static_assert(kWireStruct<Quote, 8>);
static_assert(kWireStruct<BookHead, 8>);
static_assert(kWireStruct<BookRecord, 64>);
static_assert(kWireStruct<IndicatorValues, 8>);
static_assert(kWireStruct<IndicatorDesc, 4>);
static_assert(kWireStruct<IndicatorTable, 4>);
static_assert(kWireStruct<Position, 8>);
static_assert(kWireStruct<Candle, 8>);
static_assert(kWireStruct<CandleSeries, 64>);
static_assert(kWireStruct<SymbolEntry, 64>);
static_assert(kWireStruct<QuoteBody, 8>);
static_assert(kWireStruct<TradeBody, 8>);
static_assert(kWireStruct<BookBody, 8>);
static_assert(kWireStruct<CandleBody, 8>);
static_assert(kWireStruct<StatusBody, 8>);
static_assert(kWireStruct<Event, 8>);
static_assert(kWireStruct<ExecReport, 8>);
static_assert(kWireStruct<MdCounters, 64>);
static_assert(kWireStruct<ExecCounters, 64>);
static_assert(kWireStruct<EngineStatus, 64>);
static_assert(kWireStruct<Balance, 8>);
static_assert(kWireStruct<MarketConfig, 64>);
static_assert(kWireStruct<SlotEngineSide, 64>);
static_assert(kWireStruct<MarketRegion, 64>);
static_assert(kWireStruct<Signal, 8>);
static_assert(kWireStruct<SignalSlot, 64>);
static_assert(kWireStruct<SignalsRegion, 64>);
static_assert(kWireStruct<RingCursor, 64>);
static_assert(kWireStruct<SignalRing, 64>);
static_assert(kWireStruct<SignalRing::Record, 64>);
static_assert(kWireStruct<ReportRing, 64>);
static_assert(kWireStruct<ReportRing::Record, 64>);
static_assert(kWireStruct<EventRing, 64>);
static_assert(kWireStruct<EventRing::Slot, 64>);
static_assert(kWireStruct<BroadcastHead, 64>);
static_assert(kWireStruct<CandleSlot, 64>);
static_assert(kWireStruct<Seqlock<SymbolInfo>, 64>);
static_assert(kWireStruct<Seqlock<Quote>, 64>);
static_assert(kWireStruct<Seqlock<IndicatorValues>, 64>);
static_assert(kWireStruct<Seqlock<IndicatorTable>, 64>);
static_assert(kWireStruct<Seqlock<Position>, 64>);
static_assert(kWireStruct<Seqlock<Candle>, 64>);
static_assert(kWireStruct<Seqlock<Balance>, 64>);

}  // namespace cwts::layout
