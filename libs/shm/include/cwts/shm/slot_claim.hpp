// Claiming a signal slot: one strategy process per slot, reclaimable once its owner is dead.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>

#include "cwts/shm_layout/signal_region.hpp"

namespace cwts::shm {

// Protocol. The claim word is the only word in either region with several writers (any strategy
// process may CAS it), so every change to it is a compare-exchange:
//
//   free slot     claim = (gen, pid 0)       -> CAS to (gen + 1, my pid)
//   dead owner    claim = (gen, dead pid)    -> CAS to (gen + 1, my pid)
//   release       claim = (gen, my pid)      -> CAS to (gen, 0)
//
// After winning, the owner writes owner_start_ticks, claim_time_ns and owner_name, then stores
// owner_claim = its claim with release. A claimant judges the current owner's liveness by pid and
// start time only when owner_claim == claim (acquire); otherwise the owner is still filling them
// in and is judged by pid alone (alive if the pid exists). The generation makes each claim
// distinct, so the engine can tell a new owner from the old one (SlotEngineSide::claim_seen) and a
// release by a stale handle cannot free someone else's claim.
enum class ClaimStatus : std::uint8_t {
  kOk,
  kTaken,       // the requested slot belongs to a live process
  kNoFreeSlot,  // every slot belongs to a live process
  kBadSlot,     // slot index out of range
};

struct ClaimResult {
  ClaimStatus status;
  std::uint32_t slot;   // the slot claimed (kOk) or asked for (kTaken)
  std::uint64_t claim;  // the claim word now held (kOk) or the one in the way (kTaken)
  bool reclaimed;       // kOk: the slot was taken over from a dead owner
};

// Any strategy process. `slot` < 0 takes the first free (or dead-owned) slot.
[[nodiscard]] ClaimResult claim_slot(layout::SignalsRegion& region, int slot,
                                     std::string_view owner_name) noexcept;

// The owner. Frees the slot if `claim` still holds it; false if someone else owns it now.
bool release_slot(layout::SignalsRegion& region, std::uint32_t slot, std::uint64_t claim) noexcept;

// Any process: true if the slot's claim belongs to a running process.
[[nodiscard]] bool slot_owner_alive(const layout::SignalSlot& slot) noexcept;

}  // namespace cwts::shm
