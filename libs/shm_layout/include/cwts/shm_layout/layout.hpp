// The shared-memory wire format in one include: version, hash, and the field table both derive
// from.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cwts/shm_layout/capacities.hpp"
#include "cwts/shm_layout/market_region.hpp"
#include "cwts/shm_layout/region_header.hpp"
#include "cwts/shm_layout/signal_region.hpp"
#include "cwts/shm_layout/types.hpp"

namespace cwts::layout {

// Bump on any change to a field, a size, an offset or a capacity. tests/layout pins this value
// together with kLayoutHash, so a change that forgets the bump fails the build's tests.
inline constexpr std::uint32_t kLayoutVersion = 3;

// One entry per field of every structure in either region: its path, offset and size. The layout
// hash is computed from this table, so any field moving or resizing changes the hash.
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

    CWTS_SIZE(BookTop),
    CWTS_FIELD(BookTop, update_id),
    CWTS_FIELD(BookTop, exchange_ts_ns),
    CWTS_FIELD(BookTop, receive_ts_ns),
    CWTS_FIELD(BookTop, publish_ts_ns),
    CWTS_FIELD(BookTop, bid_count),
    CWTS_FIELD(BookTop, ask_count),
    CWTS_FIELD(BookTop, book_valid),
    CWTS_FIELD(BookTop, bid_px),
    CWTS_FIELD(BookTop, bid_qty),
    CWTS_FIELD(BookTop, ask_px),
    CWTS_FIELD(BookTop, ask_qty),

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
    CWTS_FIELD(SymbolEntry, book),
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
    CWTS_FIELD(MarketRegion, symbols),
    CWTS_FIELD(MarketRegion, balances),
    CWTS_FIELD(MarketRegion, slots),
    CWTS_FIELD(MarketRegion, events),
    CWTS_FIELD(MarketRegion, candles),

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
    CWTS_FIELD(SignalsRegion, slots),
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
constexpr std::uint64_t layout_hash() noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64 offset basis
  for (const auto& f : kFieldTable) {
    h = fnv1a(h, f.path);
    h = fnv1a_u64(h, f.offset);
    h = fnv1a_u64(h, f.size);
  }
  for (std::uint64_t cap :
       {kMaxSymbols, kBookDepth, kEventRingCapacity, kMaxTimeframes, kCandleHistory, kMaxIndicators,
        kMaxSlots, kSignalRingCapacity, kReportRingCapacity, kMaxAssets}) {
    h = fnv1a_u64(h, cap);
  }
  return h;
}
}  // namespace detail

// FNV-1a over every field's path, offset and size and every capacity.
inline constexpr std::uint64_t kLayoutHash = detail::layout_hash();

// Size of each region file before rounding up to the page size of its backing store.
inline constexpr std::size_t kMarketRegionBytes = sizeof(MarketRegion);
inline constexpr std::size_t kSignalsRegionBytes = sizeof(SignalsRegion);

// Cache-line grouping by writer, proved at compile time.
static_assert(offsetof(MarketRegion, config) == 256);
static_assert(offsetof(MarketRegion, status) % 64 == 0);
static_assert(offsetof(EngineStatus, exec) == 64, "md and exec counters on separate lines");
static_assert(offsetof(MarketRegion, symbols) % 64 == 0);
static_assert(offsetof(MarketRegion, events) % 64 == 0);
static_assert(offsetof(SymbolEntry, book_valid) % 64 == 0);
static_assert(offsetof(SlotEngineSide, claim_seen) == 64, "cursor alone on its line");
static_assert(offsetof(SlotEngineSide, reports) % 64 == 0);
static_assert(offsetof(SignalSlot, report_cursor) == 64, "claim line, then the owner's cursor");
static_assert(offsetof(SignalSlot, signals) == 128);
static_assert(sizeof(EventRing::Slot) == 128);
static_assert(sizeof(BroadcastRing<Candle, kCandleHistory>::Slot) == 64);
static_assert(sizeof(concurrent::RecordRing<Signal, kSignalRingCapacity>::Record) == 64);
static_assert(sizeof(concurrent::RecordRing<ExecReport, kReportRingCapacity>::Record) == 192);

}  // namespace cwts::layout
