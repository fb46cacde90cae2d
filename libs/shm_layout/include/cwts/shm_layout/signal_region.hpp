// The signals region: strategies write their own slot; the engine maps the region read-only.
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

// Claim word: low 32 bits = owner pid (0 = free), high 32 bits = claim generation, bumped on
// every claim so the engine can tell a new owner from the old one. Strategies CAS it; it is the
// one multi-writer word in either region.
[[nodiscard]] constexpr std::uint32_t claim_pid(std::uint64_t claim) noexcept {
  return static_cast<std::uint32_t>(claim & 0xffffffffULL);
}
[[nodiscard]] constexpr std::uint32_t claim_generation(std::uint64_t claim) noexcept {
  return static_cast<std::uint32_t>(claim >> 32);
}
[[nodiscard]] constexpr std::uint64_t make_claim(std::uint32_t pid, std::uint32_t gen) noexcept {
  return (static_cast<std::uint64_t>(gen) << 32) | pid;
}

struct SignalSlot {
  // --- claim: any strategy process (CAS); see cwts/shm/slot_claim.hpp ---
  alignas(64) std::uint64_t claim;
  // The claim value the three fields below describe. The owner writes them after winning the CAS
  // and then stores owner_claim = claim with release; until then they may describe the previous
  // owner, and a claimant that sees owner_claim != claim must not trust them.
  std::uint64_t owner_claim;
  std::uint64_t
      owner_start_ticks;  // owner's process start time (/proc/PID/stat), defeats pid reuse
  std::uint64_t claim_time_ns;
  FixedString<32> owner_name;
  // --- owner strategy: its cursor into its execution-report ring (market region) ---
  concurrent::RingCursor report_cursor;
  // --- owner strategy: the signal ring (engine consumes; its cursor is in the market region) ---
  concurrent::RecordRing<Signal, kSignalRingCapacity> signals;
  // --- owner strategy: events it lost because the event ring lapped it (monotonic; reset by a
  // new claim). The engine exports it (/metrics: lapped readers). ---
  alignas(64) std::uint64_t events_lapped;
  std::uint64_t reserved[7];
};

struct SignalsRegion {
  RegionHeader header;
  SignalSlot slots[kMaxSlots];
};

}  // namespace cwts::layout
