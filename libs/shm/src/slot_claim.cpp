// Signal-slot claiming by compare-exchange on the claim word, with dead-owner takeover.
#include "cwts/shm/slot_claim.hpp"

#include <unistd.h>

#include <atomic>
#include <cstring>

#include "cwts/core/clock.hpp"
#include "cwts/shm/region.hpp"

namespace cwts::shm {
namespace {

using layout::claim_generation;
using layout::claim_pid;
using layout::make_claim;

bool owner_alive(const layout::SignalSlot& s, std::uint64_t claim) noexcept {
  const std::uint32_t pid = claim_pid(claim);
  if (pid == 0) return false;
  const std::uint64_t described = concurrent::load_word(s.owner_claim, std::memory_order_acquire);
  // Start ticks describe this claim only once owner_claim says so (see the protocol).
  const std::uint64_t ticks = described == claim ? s.owner_start_ticks : 0;
  return process_alive(static_cast<pid_t>(pid), ticks);
}

// One attempt on one slot.
ClaimResult try_slot(layout::SignalsRegion& region, std::uint32_t index,
                     std::string_view owner_name) noexcept {
  auto& s = region.slots[index];
  std::atomic_ref<std::uint64_t> word(s.claim);
  // acquire: pairs with the release of a previous owner's release_slot/claim.
  std::uint64_t cur = word.load(std::memory_order_acquire);
  for (;;) {
    const bool was_owned = claim_pid(cur) != 0;
    if (was_owned && owner_alive(s, cur)) return {ClaimStatus::kTaken, index, cur, false};
    const std::uint64_t mine =
        make_claim(static_cast<std::uint32_t>(::getpid()), claim_generation(cur) + 1);
    // acq_rel: acquire the previous owner's writes to the slot, release ours to later claimants.
    if (word.compare_exchange_weak(cur, mine, std::memory_order_acq_rel,
                                   std::memory_order_acquire)) {
      concurrent::store_word(s.owner_start_ticks, process_start_ticks(::getpid()),
                             std::memory_order_relaxed);
      concurrent::store_word(s.claim_time_ns, static_cast<std::uint64_t>(core::realtime_ns()),
                             std::memory_order_relaxed);
      concurrent::store_word(s.events_lapped, 0, std::memory_order_relaxed);  // a new owner's count
      layout::FixedString<32> name{};
      name.assign(owner_name);
      std::uint64_t words[4];
      std::memcpy(words, name.data, sizeof words);
      for (int i = 0; i < 4; ++i) {
        concurrent::store_word(reinterpret_cast<std::uint64_t*>(s.owner_name.data)[i], words[i],
                               std::memory_order_relaxed);
      }
      // release: the fields above are complete before owner_claim vouches for them.
      concurrent::store_word(s.owner_claim, mine, std::memory_order_release);
      return {ClaimStatus::kOk, index, mine, was_owned};
    }
    // cur now holds the competing value; re-judge it.
  }
}

}  // namespace

ClaimResult claim_slot(layout::SignalsRegion& region, int slot,
                       std::string_view owner_name) noexcept {
  if (slot >= static_cast<int>(layout::kMaxSlots)) {
    return {ClaimStatus::kBadSlot, static_cast<std::uint32_t>(slot), 0, false};
  }
  if (slot >= 0) return try_slot(region, static_cast<std::uint32_t>(slot), owner_name);
  for (std::uint32_t i = 0; i < layout::kMaxSlots; ++i) {
    const ClaimResult r = try_slot(region, i, owner_name);
    if (r.status == ClaimStatus::kOk) return r;
  }
  return {ClaimStatus::kNoFreeSlot, 0, 0, false};
}

bool release_slot(layout::SignalsRegion& region, std::uint32_t slot, std::uint64_t claim) noexcept {
  if (slot >= layout::kMaxSlots) return false;
  std::atomic_ref<std::uint64_t> word(region.slots[slot].claim);
  std::uint64_t expected = claim;
  // release: our last signal records happen-before the next owner's claim.
  return word.compare_exchange_strong(expected, make_claim(0, claim_generation(claim)),
                                      std::memory_order_release, std::memory_order_relaxed);
}

bool slot_owner_alive(const layout::SignalSlot& slot) noexcept {
  return owner_alive(slot, concurrent::load_word(slot.claim, std::memory_order_acquire));
}

}  // namespace cwts::shm
