// Claiming a signal slot from the engine (ADR 0021): the memory a strategy writes its signals to
// is handed over by the engine, bound to the strategy's credentials, and only its holder can
// write it.
//
// Protocol. The engine listens on a Unix socket (SOCK_SEQPACKET) beside its signals region,
// "<dir>/cwts-<instance>-claims", mode 0660 with the region's group. A strategy connects and sends
// one ClaimRequest (the slot it wants, or -1 for any free one, and a name for the logs). The
// engine reads the peer's credentials (SO_PEERCRED: pid, uid, gid), checks the slot's policy
// (`slots.N.users` / `slots.N.groups`) and that nobody holds the slot, creates a fresh memfd
// of one layout::SignalSlot sealed against any size change (F_SEAL_SHRINK | F_SEAL_GROW |
// F_SEAL_SEAL, see sealed_memory.hpp), starts reading it, and answers with a ClaimReply carrying
// the memfd (SCM_RIGHTS). The claim lasts as long as the connection: the strategy releases the
// slot by shutting the connection down, and the kernel does it for a process that dies. Every
// claim gets new memory, so a previous owner that kept its mapping writes into memory nobody
// reads, and nobody else can reach the memory at all: it has no name.
//
// The strategy checks that the engine's end of the socket belongs to the uid that owns the
// signals region (a socket planted by someone else is refused) and that the memory is sealed
// and of the right size before it maps it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "cwts/shm/sealed_memory.hpp"
#include "cwts/shm_layout/signal_region.hpp"

namespace cwts::shm {

class Region;

enum class ClaimStatus : std::uint8_t {
  kOk = 0,
  kTaken = 1,        // the requested slot is held by another process (owner_pid says which)
  kNoFreeSlot = 2,   // every slot is held
  kBadSlot = 3,      // slot index out of range
  kNotAllowed = 4,   // the slot's policy does not admit this uid/gid
  kNotLive = 5,      // the engine is starting or stopping
  kUnavailable = 6,  // no engine answers on the socket (or it is not the engine's)
  kProtocol = 7,     // a malformed request or reply
};
[[nodiscard]] const char* to_string(ClaimStatus s) noexcept;

// Wire format (host byte order: both ends are on this machine).
inline constexpr std::uint32_t kClaimRequestMagic = 0x52435743U;  // "CWCR"
inline constexpr std::uint32_t kClaimReplyMagic = 0x41435743U;    // "CWCA"
struct ClaimRequest {
  std::uint32_t magic;
  std::uint32_t layout_version;  // layout::kLayoutVersion of the strategy's build
  std::int32_t slot;             // -1 = any free slot
  std::uint32_t reserved;
  char name[32];  // the owner's name for logs and `cwtsctl slots` (NUL-padded)
};
static_assert(sizeof(ClaimRequest) == 48);
struct ClaimReply {
  std::uint32_t magic;
  std::uint8_t status;  // ClaimStatus
  std::uint8_t reserved[3];
  std::uint32_t slot;       // kOk: the slot; kTaken: the one asked for
  std::uint32_t owner_pid;  // kTaken: the holder
  std::uint64_t claim;      // kOk: layout::make_claim(pid, generation)
  char reason[104];         // a sentence for the error (NUL-terminated)
};
static_assert(sizeof(ClaimReply) == 128);

struct ClaimResult {
  ClaimStatus status = ClaimStatus::kUnavailable;
  std::uint32_t slot = 0;
  std::uint32_t owner_pid = 0;
  std::uint64_t claim = 0;
  std::string reason;  // non-empty unless kOk
};

// The socket's path for the signals region `signals` (attached, or created by the engine).
[[nodiscard]] std::string claim_socket_path(const std::string& signals_region_path);

// A held slot: its memory mapped read-write and the connection that keeps the claim.
// Move-only; destruction releases.
class SlotLease {
 public:
  SlotLease() noexcept = default;
  ~SlotLease() { release(); }
  SlotLease(SlotLease&& o) noexcept;
  SlotLease& operator=(SlotLease&& o) noexcept;
  SlotLease(const SlotLease&) = delete;
  SlotLease& operator=(const SlotLease&) = delete;

  // Asks the engine that serves `signals` (attached read-only) for `slot` (< 0: any free one).
  // On kOk `out` holds the slot. Never throws; errors are in the result.
  static ClaimResult claim(const Region& signals, int slot, std::string_view owner_name,
                           SlotLease& out);
  // The same, for an explicit socket path and the uid the engine must run as.
  static ClaimResult claim(const std::string& socket_path, uid_t engine_uid, int slot,
                           std::string_view owner_name, SlotLease& out);

  [[nodiscard]] bool valid() const noexcept { return mem_ != nullptr; }
  [[nodiscard]] std::uint32_t slot() const noexcept { return slot_; }
  [[nodiscard]] std::uint64_t claim_word() const noexcept { return claim_; }
  [[nodiscard]] layout::SignalSlot& memory() const noexcept { return *mem_; }

  // Gives the slot back: shuts the connection down (the engine sees it at once, even if a forked
  // child still holds a copy of the descriptor) and unmaps the memory. Idempotent.
  void release() noexcept;
  // In a forked child: unmaps and closes this process's copies without shutting the parent's
  // connection down, so the parent keeps its claim.
  void abandon() noexcept;
  // True once the engine closed its end (it stopped or exited); the slot is then not read.
  [[nodiscard]] bool engine_gone() const noexcept;

 private:
  UniqueFd sock_;
  layout::SignalSlot* mem_ = nullptr;
  std::uint32_t slot_ = 0;
  std::uint64_t claim_ = 0;
};

}  // namespace cwts::shm
