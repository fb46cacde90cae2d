// The signals: each strategy writes its own slot's memory (a SignalSlot the engine hands over at
// its claim, ADR 0021); the signals region itself holds only the engine's header (intake state).
#pragma once

#include <cstddef>
#include <cstdint>

#include "cwts/concurrent/record_ring.hpp"
#include "cwts/shm_layout/capacities.hpp"
#include "cwts/shm_layout/region_header.hpp"
#include "cwts/shm_layout/types.hpp"

namespace cwts::layout {

// One trading signal. 56 bytes: one 64-byte ring record with its commit word.
struct Signal {
  std::uint64_t seq;     // strategy-assigned, strictly increasing within the slot
  std::uint16_t symbol;  // symbol id from the symbol table
  std::uint8_t side;     // Side
  std::uint8_t type;     // OrderType
  std::uint8_t tif;      // TimeInForce
  std::uint8_t flags;    // kSignalReduceOnly
  std::uint16_t reserved0;
  union {
    Price price;               // limit price (0 for market orders)
    std::uint64_t target_seq;  // OrderType::kCancel: the signal whose order to cancel
  };
  Qty qty;
  std::int64_t created_ns;  // CLOCK_REALTIME at submit; with ttl_ms gives the expiry
  std::uint32_t ttl_ms;     // 0 = the engine's default TTL
  std::uint32_t reserved1;
  FixedString<8> tag;  // free-form, echoed in logs
};
inline constexpr std::uint8_t kSignalReduceOnly = 1U << 0;
static_assert(sizeof(Signal) == 56);
static_assert(offsetof(Signal, price) == 16);
static_assert(offsetof(Signal, qty) == 24);

// Claim word: low 32 bits = owner pid (0 = free), high 32 bits = claim generation, bumped by the
// engine on every claim it grants (cwts/shm/slot_lease.hpp).
[[nodiscard]] constexpr std::uint32_t claim_pid(std::uint64_t claim) noexcept {
  return static_cast<std::uint32_t>(claim & 0xffffffffULL);
}
[[nodiscard]] constexpr std::uint32_t claim_generation(std::uint64_t claim) noexcept {
  return static_cast<std::uint32_t>(claim >> 32);
}
[[nodiscard]] constexpr std::uint64_t make_claim(std::uint32_t pid, std::uint32_t gen) noexcept {
  return (static_cast<std::uint64_t>(gen) << 32) | pid;
}

// One claim's memory: a sealed memfd the engine creates for each claim and hands to the claiming
// process only (cwts/shm/slot_lease.hpp). The engine fills the claim fields and the report cursor
// before the handover and never trusts them afterwards (it keeps its own copies); the strategy
// writes the rest.
struct SignalSlot {
  // --- the engine, before the handover: who holds this claim (informational) ---
  alignas(64) std::uint64_t claim;
  std::uint64_t owner_claim;        // == claim
  std::uint64_t owner_start_ticks;  // owner's process start time (/proc/PID/stat)
  std::uint64_t claim_time_ns;
  FixedString<32> owner_name;
  // --- owner strategy: its cursor into its execution-report ring (market region); the engine
  // sets it where the slot's unread reports start before the handover ---
  concurrent::RingCursor report_cursor;
  // --- owner strategy: the signal ring (engine consumes; its cursor is in the market region) ---
  concurrent::RecordRing<Signal, kSignalRingCapacity> signals;
  // --- owner strategy: events it lost because the event ring lapped it (monotonic). The engine
  // exports it (/metrics: lapped readers). ---
  alignas(64) std::uint64_t events_lapped;
  std::uint64_t reserved[7];
};

// The signals region: the engine's header only (its `state` is the intake state the strategies
// check around each push, cwts/shm/signal_submit.hpp). Mode 0640: strategies map it read-only.
struct SignalsRegion {
  RegionHeader header;
};

}  // namespace cwts::layout
