// The order journal's records (payloads of journal.hpp's records; docs/journal.md). Fixed-size,
// trivially copyable, little-endian as the host writes them. Symbols are stored by name, not by
// id, so a journal stays meaningful when the configured symbol list changes between runs.
// Changing a record's layout means a new record type or a new file version, never an edit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "cwts/core/money.hpp"

namespace cwts::journal {

enum class RecordType : std::uint16_t {
  kEpoch = 1,            // a run of the engine started
  kOrderAccepted = 2,    // a signal accepted: its order is about to be sent (written first)
  kCancelRequested = 3,  // a cancel signal for an order was accepted
  kOrderState = 4,       // what the engine knows and has reported of an order after a venue event
  kOrderFinal = 5,       // the order's terminal report was sent: nothing more to expect
  kPosition = 6,         // a symbol's position after a fill (the last one per symbol counts)
  kOrderLeftOpen = 7,    // reported to the strategy as ended by shutdown, but may rest on the venue
};

// A NUL-padded name of at most N characters (symbols, assets: 16; client order ids: 40).
template <std::size_t N>
struct FixedName {
  char s[N];
  [[nodiscard]] std::string_view view() const noexcept {
    std::size_t n = 0;
    while (n < N && s[n] != '\0') ++n;
    return {s, n};
  }
  void assign(std::string_view v) noexcept {
    for (std::size_t i = 0; i < N; ++i) s[i] = i < v.size() ? v[i] : '\0';
  }
};
using Name16 = FixedName<16>;
using Cid = FixedName<40>;

struct EpochRecord {
  static constexpr RecordType kType = RecordType::kEpoch;
  std::uint64_t epoch_ns;  // the client order id epoch of this run
  std::int64_t start_ns;
  std::uint32_t pid;
  std::uint32_t reserved;
  Name16 venue;  // "binance" or "paper"
};

struct OrderAccepted {
  static constexpr RecordType kType = RecordType::kOrderAccepted;
  Cid cid;
  Name16 symbol;
  std::uint32_t slot;
  std::uint8_t side;  // layout::Side
  std::uint8_t type;  // layout::OrderType
  std::uint8_t tif;   // layout::TimeInForce
  std::uint8_t reserved;
  std::uint64_t seq;  // the signal's sequence number in its slot
  core::Price price;
  core::Qty qty;
  std::int64_t accepted_ns;
  std::int64_t deadline_ns;
};

struct CancelRequested {
  static constexpr RecordType kType = RecordType::kCancelRequested;
  Cid cid;
  std::uint64_t cancel_seq;
  std::int64_t ts_ns;
};

struct OrderState {
  static constexpr RecordType kType = RecordType::kOrderState;
  Cid cid;
  std::uint64_t venue_order_id;
  std::uint8_t acked;  // NEW reported
  std::uint8_t reserved[7];
  core::Qty reported_qty;  // cumulative, as reported to the strategy
  core::Notional reported_quote;
  core::Notional fee;  // cumulative, quote asset
  core::Amount fee_native;
  Name16 fee_asset;
  std::int64_t ts_ns;
};

struct OrderFinal {
  static constexpr RecordType kType = RecordType::kOrderFinal;
  Cid cid;
  std::uint8_t kind;  // layout::ReportKind of the terminal report
  std::uint8_t reserved;
  std::uint16_t reason;  // layout::RejectReason
  std::int32_t venue_code;
  std::int64_t ts_ns;
};

struct OrderLeftOpen {
  static constexpr RecordType kType = RecordType::kOrderLeftOpen;
  Cid cid;
  std::int64_t ts_ns;
};

struct PositionRecord {
  static constexpr RecordType kType = RecordType::kPosition;
  Name16 symbol;
  core::Qty qty;  // signed
  core::Price avg_px;
  core::Notional realized;
  core::Notional fees;
  std::int64_t ts_ns;
};

static_assert(std::is_trivially_copyable_v<OrderAccepted> &&
              std::is_trivially_copyable_v<OrderState> &&
              std::is_trivially_copyable_v<PositionRecord>);
static_assert(sizeof(OrderAccepted) == 104 && sizeof(OrderState) == 112 &&
              sizeof(PositionRecord) == 56 && sizeof(OrderFinal) == 56 &&
              sizeof(EpochRecord) == 40 && sizeof(CancelRequested) == 56 &&
              sizeof(OrderLeftOpen) == 48);

}  // namespace cwts::journal
