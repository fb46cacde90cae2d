// The market region: written by the engine only, mapped read-only (PROT_READ) by strategies.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cwts/concurrent/broadcast_ring.hpp"
#include "cwts/concurrent/record_ring.hpp"
#include "cwts/concurrent/seqlock.hpp"
#include "cwts/shm_layout/capacities.hpp"
#include "cwts/shm_layout/region_header.hpp"
#include "cwts/shm_layout/types.hpp"

namespace cwts::layout {

using concurrent::BroadcastCursor;
using concurrent::BroadcastHead;
using concurrent::BroadcastRing;
using concurrent::BroadcastSlot;
using concurrent::BroadcastSpan;
using concurrent::RecordRing;
using concurrent::RingCursor;
using concurrent::Seqlock;

// ---------------------------------------------------------------------------------------------
// Symbol table entry (written at start-up and when exchangeInfo changes). 168 bytes.
struct SymbolInfo {
  FixedString<16> name;         // "BTCUSDT"
  FixedString<8> base;          // "BTC"
  FixedString<8> quote;         // "USDT"
  std::uint16_t id;             // index in the symbol table
  std::uint8_t status;          // SymbolStatus
  std::uint8_t price_decimals;  // Price::raw = price * 10^price_decimals
  std::uint8_t qty_decimals;    // Qty::raw = qty * 10^qty_decimals
  std::uint8_t base_precision;  // exchangeInfo baseAssetPrecision
  std::uint8_t quote_precision;
  std::uint8_t order_types;  // bit (1 << OrderType) per allowed type
  // PRICE_FILTER
  Price tick_size;
  Price min_price;
  Price max_price;
  // LOT_SIZE
  Qty step_size;
  Qty min_qty;
  Qty max_qty;
  // MARKET_LOT_SIZE
  Qty market_min_qty;
  Qty market_max_qty;
  // NOTIONAL / MIN_NOTIONAL, in price units (quote asset with price_decimals)
  Notional min_notional;
  Notional max_notional;  // 0 = none
  // PERCENT_PRICE(_BY_SIDE); zero = filter absent
  Ratio bid_multiplier_up;
  Ratio bid_multiplier_down;
  Ratio ask_multiplier_up;
  Ratio ask_multiplier_down;
  std::uint32_t avg_price_mins;
  std::uint32_t max_num_orders;  // MAX_NUM_ORDERS, 0 = none
  std::uint32_t filter_flags;    // kApplyMinToMarket, kApplyMaxToMarket
  std::uint32_t reserved;
};
inline constexpr std::uint32_t kApplyMinNotionalToMarket = 1U << 0;
inline constexpr std::uint32_t kApplyMaxNotionalToMarket = 1U << 1;
static_assert(sizeof(SymbolInfo) == 168);
static_assert(offsetof(SymbolInfo, tick_size) == 40);
static_assert(offsetof(SymbolInfo, bid_multiplier_up) == 120);

// ---------------------------------------------------------------------------------------------
// Per-symbol market snapshots, each behind its own seqlock (md thread writes).

// Top of book and last trade. 112 bytes.
struct Quote {
  Price bid_px;
  Qty bid_qty;
  Price ask_px;
  Qty ask_qty;
  Price last_px;
  Qty last_qty;
  std::uint64_t last_trade_id;
  Qty volume_24h;
  std::uint64_t update_id;  // book update id the quote reflects
  std::int64_t exchange_ts_ns;
  std::int64_t receive_ts_ns;
  std::int64_t publish_ts_ns;
  std::uint8_t last_side;   // Side of the aggressor of the last trade
  std::uint8_t book_valid;  // 1 while the book is synced
  std::uint8_t reserved[14];
};
static_assert(sizeof(Quote) == 112);

// The head of a symbol's book snapshot. 48 bytes.
struct BookHead {
  std::uint64_t update_id;
  std::int64_t exchange_ts_ns;
  std::int64_t receive_ts_ns;
  std::int64_t publish_ts_ns;
  std::uint32_t bid_count;  // levels of each side in the snapshot (<= the region's book_depth)
  std::uint32_t ask_count;
  std::uint8_t book_valid;
  std::uint8_t reserved[7];
};
static_assert(sizeof(BookHead) == 48);

// A reader's copy of a symbol's book, best first (MarketRegion::book(i).try_load): its head, and
// levels 0 .. bid_count - 1 and 0 .. ask_count - 1 of each side, the counts being what was copied
// (at most what the reader asked for); entries past them are not written. Not itself in the
// region, whose book records are as deep as its header's book_depth (BookRecord).
struct BookTop : BookHead {
  Price bid_px[kMaxBookDepth];
  Qty bid_qty[kMaxBookDepth];
  Price ask_px[kMaxBookDepth];
  Qty ask_qty[kMaxBookDepth];
};

// One symbol's book in the region (the md thread writes it): a sequence word (the Seqlock
// protocol), the BookHead's six words, then `depth` levels a side, depth being the header's
// book_depth: bid_px[depth], bid_qty[depth], ask_px[depth], ask_qty[depth]; padded to a cache
// line. A level at or past its side's count is not part of the snapshot (it may be stale).
struct alignas(64) BookRecord {
  std::uint64_t seq;
  std::uint64_t head[6];  // BookHead; the levels follow

  static constexpr std::size_t kHeadWords = 6;
  static constexpr std::size_t kLevelsOffset = 8 * (1 + kHeadWords);
  [[nodiscard]] static constexpr std::size_t bytes(std::size_t depth) noexcept {
    return (kLevelsOffset + 32 * depth + 63) / 64 * 64;
  }
  // The level words: side k (0 bid_px, 1 bid_qty, 2 ask_px, 3 ask_qty) starts at
  // levels() + k * depth.
  [[nodiscard]] std::uint64_t* levels() noexcept {
    return reinterpret_cast<std::uint64_t*>(reinterpret_cast<unsigned char*>(this) + kLevelsOffset);
  }
  [[nodiscard]] const std::uint64_t* levels() const noexcept {
    return reinterpret_cast<const std::uint64_t*>(reinterpret_cast<const unsigned char*>(this) +
                                                  kLevelsOffset);
  }
};
static_assert(sizeof(BookRecord) == 64 && sizeof(BookHead) == 8 * BookRecord::kHeadWords);

// A reader's handle on one symbol's book record and its region's depth.
class SharedBook {
 public:
  SharedBook(const BookRecord& r, std::size_t depth) noexcept : r_(&r), depth_(depth) {}

  // Levels a side the record holds (the region's book_depth).
  [[nodiscard]] std::size_t depth() const noexcept { return depth_; }

  // One attempt at a consistent copy of the head and at most `levels` levels a side (fewer copy
  // fewer words); false if a write was in progress or completed during the copy. out.bid_count
  // and out.ask_count are the levels copied.
  [[nodiscard]] bool try_load(BookTop& out, std::size_t levels = kMaxBookDepth) const noexcept {
    std::uint64_t s1 = 0;
    if (!concurrent::seqlock_read_begin(r_->seq, s1)) return false;
    BookHead head;
    concurrent::load_words(r_->head, head);
    // A torn head may hold any counts: bounded before they index anything.
    const std::size_t cap = levels < depth_ ? levels : depth_;
    const std::size_t nb = head.bid_count < cap ? head.bid_count : cap;
    const std::size_t na = head.ask_count < cap ? head.ask_count : cap;
    const std::uint64_t* w = r_->levels();
    copy(w, out.bid_px, nb);
    copy(w + depth_, out.bid_qty, nb);
    copy(w + 2 * depth_, out.ask_px, na);
    copy(w + 3 * depth_, out.ask_qty, na);
    if (!concurrent::seqlock_read_valid(r_->seq, s1)) return false;
    static_cast<BookHead&>(out) = head;
    out.bid_count = static_cast<std::uint32_t>(nb);
    out.ask_count = static_cast<std::uint32_t>(na);
    return true;
  }
  // Spins until a consistent copy is taken (the writer holds the lock for a few stores only): for
  // readers in the writer's own process. A reader in another process, which must not hang on a
  // writer killed mid-write, retries try_load() within a bound (the bridge's snapshot_into).
  void load(BookTop& out, std::size_t levels = kMaxBookDepth) const noexcept {
    while (!try_load(out, levels)) concurrent::cpu_relax();
  }

 private:
  template <typename V>
  static void copy(const std::uint64_t* src, V* dst, std::size_t n) noexcept {
    static_assert(sizeof(V) == 8 && std::is_trivially_copyable_v<V>);
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t v = concurrent::load_word(src[i], std::memory_order_relaxed);
      std::memcpy(&dst[i], &v, sizeof v);
    }
  }

  const BookRecord* r_;
  std::size_t depth_;
};

// Latest indicator values (order as in the symbol's IndicatorTable). 152 bytes.
struct IndicatorValues {
  std::int64_t candle_open_ms;  // the candle the values were computed on
  std::int64_t publish_ts_ns;
  std::uint32_t count;
  std::uint32_t reserved;
  double value[kMaxIndicators];  // NaN while warming up
};
static_assert(sizeof(IndicatorValues) == 24 + std::size_t{8} * kMaxIndicators);

// What each indicator slot holds (written at start-up). 32 bytes each.
struct IndicatorDesc {
  FixedString<24> name;    // e.g. "ema_20", "macd_signal"
  std::uint8_t timeframe;  // index into MarketConfig::timeframe_s
  std::uint8_t kind;       // engine-defined kernel id
  std::uint16_t period;
  std::uint32_t output;  // output index for multi-output kernels
};
static_assert(sizeof(IndicatorDesc) == 32);
struct IndicatorTable {
  std::uint32_t count;
  std::uint32_t reserved;
  IndicatorDesc desc[kMaxIndicators];
};

// Position and order state per symbol (exec thread writes). 64 bytes.
struct Position {
  Qty qty;  // signed: > 0 long
  Price avg_px;
  Notional realized_pnl;  // quote asset
  Notional fees;          // quote asset
  std::uint32_t open_orders;
  std::uint32_t reserved0;
  std::int64_t update_ts_ns;
  std::uint64_t reserved1[2];
};
static_assert(sizeof(Position) == 64);

// One OHLCV candle. 56 bytes: exactly one 64-byte ring record with its sequence word.
struct Candle {
  std::int64_t open_time_ms;  // UTC, aligned to the timeframe
  Price open;
  Price high;
  Price low;
  Price close;
  Qty volume;
  std::uint32_t trades;
  std::uint32_t closed;  // 1 once the candle closed
};
static_assert(sizeof(Candle) == 56);

// The closed candles of one symbol on one timeframe (a broadcast ring: readers copy the last K and
// detect overwrite) and the live partial candle. The ring's head line is here; its slots, as many
// as the header's candle_history (a power of two chosen at creation), follow the series in the
// region: MarketRegion::closed_candles() / candle_cursor() put the two together.
struct CandleSeries {
  using Slot = BroadcastSlot<Candle>;

  BroadcastHead closed;
  Seqlock<Candle> live;

  // Bytes of one series with its `history` slots.
  [[nodiscard]] static constexpr std::size_t bytes(std::size_t history) noexcept {
    return sizeof(CandleSeries) + sizeof(Slot) * history;
  }
  [[nodiscard]] Slot* closed_slots() noexcept { return reinterpret_cast<Slot*>(this + 1); }
  [[nodiscard]] const Slot* closed_slots() const noexcept {
    return reinterpret_cast<const Slot*>(this + 1);
  }
};

struct SymbolEntry {
  Seqlock<SymbolInfo> info;
  Seqlock<Quote> quote;
  Seqlock<IndicatorValues> indicators;
  Seqlock<IndicatorTable> indicator_table;
  Seqlock<Position> position;
  // md thread: 1 while the book is synced. Also mirrored in quote/book snapshots.
  alignas(64) std::uint64_t book_valid;
  std::uint64_t reserved[7];
};

// ---------------------------------------------------------------------------------------------
// Event ring record: 120 bytes, 128 with its sequence word.
struct QuoteBody {
  Price bid_px;
  Qty bid_qty;
  Price ask_px;
  Qty ask_qty;
};
struct TradeBody {
  Price px;
  Qty qty;
  std::uint64_t trade_id;
};
struct BookBody {
  Price bid_px;  // best levels after the change
  Qty bid_qty;
  Price ask_px;
  Qty ask_qty;
  std::uint32_t levels_changed;
  std::uint32_t reserved;
};
struct CandleBody {
  Candle candle;
};
struct StatusBody {
  std::uint64_t book_valid;
  std::uint64_t symbol_status;
  std::uint64_t trading_state;
};

struct Event {
  std::uint8_t kind;       // EventKind
  std::uint8_t side;       // trade aggressor for kTrade
  std::uint16_t symbol;    // symbol id
  std::uint8_t timeframe;  // for kCandleClose
  std::uint8_t reserved0[3];
  std::uint64_t update_id;  // book update id, trade id or candle open time
  std::int64_t exchange_ts_ns;
  std::int64_t receive_ts_ns;
  std::int64_t publish_ts_ns;
  union {
    QuoteBody quote;
    TradeBody trade;
    BookBody book;
    CandleBody candle;
    StatusBody status;
    std::uint64_t raw[10];
  } body;
};
static_assert(sizeof(Event) == 120);
static_assert(offsetof(Event, body) == 40);

// ---------------------------------------------------------------------------------------------
// Execution report: what happened to a signal. 136 bytes.
struct ExecReport {
  std::uint64_t signal_seq;
  std::uint8_t kind;     // ReportKind
  std::uint8_t side;     // Side
  std::uint16_t reason;  // RejectReason (kRejected, kExpired, kCancelled)
  std::uint16_t symbol;
  std::uint16_t reserved0;
  std::int32_t venue_code;  // venue error code (e.g. Binance -2010), 0 if none
  std::uint32_t reserved1;
  FixedString<32> client_order_id;
  std::uint64_t venue_order_id;
  Qty last_qty;  // this fill
  Price last_px;
  Qty cum_qty;  // filled so far
  Price avg_px;
  Notional fee;  // cumulative, quote asset
  std::int64_t ts_ns;
  // The commission as the venue charged it: cumulative, in fee_asset, 8 decimals. fee_asset ""
  // = the quote asset (fee_native == fee), e.g. paper trading, or fills charged in more than one
  // asset (then fee, in quote, is the whole of it and fee_native is 0).
  Amount fee_native;
  FixedString<16> fee_asset;
};
static_assert(sizeof(ExecReport) == 136);

// ---------------------------------------------------------------------------------------------
// Engine status: each line has one writer thread; counters are monotonic, relaxed atomics.
struct alignas(64) MdCounters {  // md thread
  std::uint64_t heartbeat_ns;
  std::uint64_t frames;
  std::uint64_t parse_errors;
  std::uint64_t gaps;
  std::uint64_t resyncs;
  std::uint64_t events_published;
  std::uint64_t reserved[2];
};
struct alignas(64) ExecCounters {  // exec thread
  std::uint64_t heartbeat_ns;
  std::uint64_t trading_state;  // TradingState
  std::uint64_t signals_seen;
  std::uint64_t signals_accepted;
  std::uint64_t signals_rejected;
  std::uint64_t orders_sent;
  std::uint64_t fills;
  std::uint64_t reserved;
};
struct EngineStatus {
  MdCounters md;
  ExecCounters exec;
};
static_assert(sizeof(EngineStatus) == 128);

// Balances per asset (exec thread). 32 bytes.
struct Balance {
  FixedString<8> asset;
  Amount free;  // of `asset`
  Amount locked;
  std::int64_t update_ts_ns;
};
static_assert(sizeof(Balance) == 32);

// Written once at start-up, before the header's magic.
struct alignas(64) MarketConfig {
  std::uint32_t timeframe_count;
  std::uint32_t timeframe_s[kMaxTimeframes];  // seconds per timeframe index (60 = 1m)
  std::uint32_t reserved[7];
};
static_assert(sizeof(MarketConfig) == 64);

// Per signal slot, the engine's side: its cursor into the slot's signal ring, its counters, and
// the execution-report ring the strategy consumes (the strategy's cursor is in the signals region).
struct SlotEngineSide {
  RingCursor signal_cursor;              // exec thread
  alignas(64) std::uint64_t claim_seen;  // claim word the engine last saw (pid | generation << 32)
  std::uint64_t last_signal_seq;         // highest signal seq accepted or rejected
  std::uint64_t accepted;
  std::uint64_t rejected;
  std::uint64_t reports_dropped;  // never expected to move: report ring back-pressure
  std::uint64_t reserved[3];
  RecordRing<ExecReport, kReportRingCapacity> reports;
};

using EventRing = BroadcastRing<Event, kEventRingCapacity>;

// How many symbols, slots and timeframes a market region holds, how many closed candles each
// series keeps and how many levels a side each book holds: chosen when the engine creates it and
// recorded in its header (max_symbols, max_slots, max_timeframes, candle_history, book_depth).
struct MarketCapacity {
  std::uint32_t symbols = kDefaultSymbols;
  std::uint32_t slots = kDefaultSlots;
  std::uint32_t timeframes = kMaxTimeframes;
  std::uint32_t candles = kDefaultCandleHistory;  // a power of two
  std::uint32_t book_depth = kDefaultBookDepth;
};

// The whole market region. One writer process (the engine); see docs/shm_layout.md. The fixed part
// below is followed, each array 64-byte aligned, by
//   SymbolEntry    symbols[max_symbols]
//   SlotEngineSide slots[max_slots]
//   CandleSeries   candles[max_symbols][max_timeframes], each followed by its candle_history slots
//   BookRecord     books[max_symbols], each BookRecord::bytes(book_depth)
// with the counts from the header, which a reader validates against the compiled ceilings and
// the file's size before it maps the region (cwts/shm/region.hpp).
struct MarketRegion {
  RegionHeader header;
  MarketConfig config;
  EngineStatus status;
  alignas(64) std::uint64_t symbol_count;  // md thread: entries in use
  std::uint64_t asset_count;               // exec thread
  std::uint64_t reserved[6];
  Seqlock<Balance> balances[kMaxAssets];
  EventRing events;

  // Byte offsets of the arrays that follow the fixed part, and the region's size, for `cap`.
  [[nodiscard]] static constexpr std::size_t symbols_offset() noexcept {
    return sizeof(MarketRegion);
  }
  [[nodiscard]] static constexpr std::size_t slots_offset(const MarketCapacity& cap) noexcept {
    return symbols_offset() + sizeof(SymbolEntry) * cap.symbols;
  }
  [[nodiscard]] static constexpr std::size_t candles_offset(const MarketCapacity& cap) noexcept {
    return slots_offset(cap) + sizeof(SlotEngineSide) * cap.slots;
  }
  [[nodiscard]] static constexpr std::size_t books_offset(const MarketCapacity& cap) noexcept {
    return candles_offset(cap) + CandleSeries::bytes(cap.candles) * cap.symbols * cap.timeframes;
  }
  [[nodiscard]] static constexpr std::size_t bytes(const MarketCapacity& cap) noexcept {
    return books_offset(cap) + BookRecord::bytes(cap.book_depth) * cap.symbols;
  }

  // This region's capacities, as its header records them.
  [[nodiscard]] MarketCapacity capacity() const noexcept {
    return {header.max_symbols, header.max_slots, header.max_timeframes, header.candle_history,
            header.book_depth};
  }
  [[nodiscard]] std::size_t symbol_capacity() const noexcept { return header.max_symbols; }
  [[nodiscard]] std::size_t slot_capacity() const noexcept { return header.max_slots; }
  // Timeframes in use (MarketConfig), never more than the candle arrays hold.
  [[nodiscard]] std::uint32_t timeframe_count() const noexcept {
    return config.timeframe_count < header.max_timeframes ? config.timeframe_count
                                                          : header.max_timeframes;
  }

  // The entry of symbol id `i` (< symbol_capacity()), slot `i` (< slot_capacity()), and the
  // candles of symbol `sym` on timeframe index `tf` (< header.max_timeframes).
  [[nodiscard]] SymbolEntry& symbol(std::size_t i) noexcept {
    return at<SymbolEntry>(symbols_offset(), i);
  }
  [[nodiscard]] const SymbolEntry& symbol(std::size_t i) const noexcept {
    return at<const SymbolEntry>(symbols_offset(), i);
  }
  [[nodiscard]] SlotEngineSide& slot(std::size_t i) noexcept {
    return at<SlotEngineSide>(slots_offset(capacity()), i);
  }
  [[nodiscard]] const SlotEngineSide& slot(std::size_t i) const noexcept {
    return at<const SlotEngineSide>(slots_offset(capacity()), i);
  }
  [[nodiscard]] CandleSeries& candles(std::size_t sym, std::size_t tf) noexcept {
    return *series_at(sym, tf);
  }
  [[nodiscard]] const CandleSeries& candles(std::size_t sym, std::size_t tf) const noexcept {
    return *series_at(sym, tf);
  }
  // Levels a side each symbol's book holds.
  [[nodiscard]] std::size_t book_depth() const noexcept { return header.book_depth; }
  // A reader's handle on symbol `sym`'s book (< symbol_capacity()).
  [[nodiscard]] SharedBook book(std::size_t sym) const noexcept {
    return {*book_at(sym), header.book_depth};
  }
  // The writer's store of symbol `sym`'s book: the head and its counts' levels of each side, from
  // `levels` laid out as the record's (four arrays of book_depth(); entries past a side's count
  // are not read). md thread only.
  void store_book(std::size_t sym, const BookHead& head, const std::uint64_t* levels) noexcept {
    BookRecord* r = book_at(sym);
    const std::size_t d = header.book_depth;
    const std::size_t nb = head.bid_count < d ? head.bid_count : d;
    const std::size_t na = head.ask_count < d ? head.ask_count : d;
    const std::uint64_t begun = concurrent::seqlock_write_begin(r->seq);
    concurrent::store_words(r->head, head);
    std::uint64_t* w = r->levels();
    for (std::size_t k = 0; k < 4; ++k) {
      const std::size_t n = k < 2 ? nb : na;
      for (std::size_t i = 0; i < n; ++i) {
        concurrent::store_word(w[k * d + i], levels[k * d + i], std::memory_order_relaxed);
      }
    }
    concurrent::seqlock_write_end(r->seq, begun);
  }
  // Closed candles each series keeps (a power of two).
  [[nodiscard]] std::size_t candle_history() const noexcept { return header.candle_history; }
  // The writer's view of a series' closed-candle ring, and a reader's cursor over it starting at
  // sequence `next` (1 = the first candle ever closed).
  [[nodiscard]] BroadcastSpan<Candle> closed_candles(std::size_t sym, std::size_t tf) noexcept {
    CandleSeries* s = series_at(sym, tf);
    return {&s->closed, s->closed_slots(), header.candle_history};
  }
  [[nodiscard]] BroadcastCursor<Candle> candle_cursor(std::size_t sym, std::size_t tf,
                                                      std::uint64_t next) const noexcept {
    const CandleSeries* s = series_at(sym, tf);
    return {s->closed.head, s->closed_slots(), header.candle_history, next};
  }

 private:
  [[nodiscard]] BookRecord* book_at(std::size_t sym) const noexcept {
    auto* base = reinterpret_cast<unsigned char*>(const_cast<MarketRegion*>(this));
    return reinterpret_cast<BookRecord*>(base + books_offset(capacity()) +
                                         sym * BookRecord::bytes(header.book_depth));
  }
  [[nodiscard]] CandleSeries* series_at(std::size_t sym, std::size_t tf) const noexcept {
    auto* base = reinterpret_cast<unsigned char*>(const_cast<MarketRegion*>(this));
    return reinterpret_cast<CandleSeries*>(base + candles_offset(capacity()) +
                                           (sym * header.max_timeframes + tf) *
                                               CandleSeries::bytes(header.candle_history));
  }
  template <typename T>
  [[nodiscard]] T& at(std::size_t offset, std::size_t i) const noexcept {
    // The region is one mapping; the arrays live past the fixed part (see above).
    auto* base = reinterpret_cast<unsigned char*>(const_cast<MarketRegion*>(this));
    return reinterpret_cast<T*>(base + offset)[i];
  }
};
static_assert(sizeof(MarketRegion) % 64 == 0);
static_assert(sizeof(SymbolEntry) % 64 == 0 && sizeof(SlotEngineSide) % 64 == 0 &&
              sizeof(CandleSeries) % 64 == 0);

}  // namespace cwts::layout
