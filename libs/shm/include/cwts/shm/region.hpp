// Region: one mapped CWTS shared-memory file (market or signals), created by the engine or
// attached by a reader, on hugetlbfs when usable and /dev/shm otherwise.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cwts/shm_layout/layout.hpp"

namespace cwts::shm {

enum class Access : std::uint8_t { kReadOnly, kReadWrite };

enum class Backing : std::uint8_t { kHugePages, kShm };

// Why an attach or create failed. kInitializing and kNotFound are retryable: the engine may be
// starting. The others need a person: a different build, a dead engine, permissions.
enum class RegionErrc : std::uint8_t {
  kNotFound,
  kInitializing,
  kBadMagic,
  kVersionMismatch,
  kHashMismatch,
  kWrongKind,
  kSizeMismatch,
  kClosed,         // the engine shut down cleanly
  kStale,          // the engine that wrote the region is gone
  kAlreadyServed,  // create: a live engine already serves this instance
  kPermission,
  kSystem,
  kUntrusted,  // the file at the region's name is not a regular file of a trusted owner
};

[[nodiscard]] const char* to_string(RegionErrc e) noexcept;

class RegionError : public std::runtime_error {
 public:
  RegionError(RegionErrc code, const std::string& what) : std::runtime_error(what), code_(code) {}
  [[nodiscard]] RegionErrc code() const noexcept { return code_; }
  [[nodiscard]] bool retryable() const noexcept {
    return code_ == RegionErrc::kNotFound || code_ == RegionErrc::kInitializing;
  }

 private:
  RegionErrc code_;
};

// Where regions live and how they are mapped. The defaults suit production; tests point both
// directories at temporary ones.
struct RegionOptions {
  std::string instance = "default";
  std::string hugepage_dir =
      "/dev/hugepages";              // tried first when it is a hugetlbfs mount; "" = never
  std::string shm_dir = "/dev/shm";  // fallback, with a logged warning
  bool prefault = true;    // touch every page at create/attach so the hot path never faults
  bool lock_pages = true;  // mlock where permitted (RLIMIT_MEMLOCK, CAP_IPC_LOCK)
  std::string group;       // create: owning group of the files ("" = the process's group)
  // The engine's service account. A region file is trusted only if it is a regular file owned by
  // root, by the calling process's effective user, by the owner of its directory, or by this user
  // (see docs/adr/0019-region-discovery.md). "" = the environment variable CWTS_ENGINE_USER, else
  // "cwts" (the account docs/operations.md creates) when it exists.
  std::string engine_user;
  mode_t market_mode = 0640;
  mode_t signals_mode = 0640;  // strategies only read it (their slots are handed over: ADR 0021)
  // create, market region: how many symbols, slots and timeframes it holds, how many closed
  // candles each series keeps and how many levels a side each book holds (recorded in its header;
  // each at least 1 and at most layout::kMaxSymbols, kMaxSlots, kMaxTimeframes, kMaxCandleHistory,
  // kMaxBookDepth; the candles a power of 2).
  layout::MarketCapacity market_capacity;
};

// File name of a region inside its directory: "cwts-<instance>-market" / "...-signals".
[[nodiscard]] std::string region_file_name(const std::string& instance, layout::RegionKind kind);

// A mapping of one region file. Move-only; unmaps on destruction (never removes the file: that is
// the engine's explicit remove() at clean shutdown). Not thread-safe; the mapped memory is shared
// under the protocols of the layout.
class Region {
 public:
  // Engine: creates the region (removing a stale one left by a dead engine, refusing if a live
  // engine serves the instance; the engine holds an OFD write lock on the file for as long as any
  // of its handles lives, which is how readers tell it is running; a file of an untrusted owner or
  // type at the name is replaced, or if it cannot be removed, kUntrusted says whose it is),
  // zero-fills, writes the header with magic last, and makes it visible under its final name
  // atomically (rename). The state is kInitializing until set_state(kLive). Throws RegionError.
  static Region create(layout::RegionKind kind, const RegionOptions& opts);

  // Reader: finds the region in the hugepage directory, then the shm directory, validates the
  // header, maps it. A name that is not a regular file of a trusted owner (a FIFO, a link, another
  // user's file) is skipped with a warning, never opened blocking nor mapped; if nothing else is
  // found the error is kUntrusted. The file is mapped through the descriptor that was validated.
  // Throws RegionError naming the expected and found values on any mismatch.
  static Region attach(layout::RegionKind kind, Access access, const RegionOptions& opts);

  // Engine: another mapping of the file this handle created (e.g. read-only for the exec thread),
  // made from the descriptor create() kept, never by searching for the name again.
  [[nodiscard]] Region view(Access access) const;

  // An empty handle (maps nothing) to be assigned a created or attached region later.
  Region() = default;
  [[nodiscard]] bool valid() const noexcept { return base_ != nullptr; }

  Region(Region&& other) noexcept { *this = std::move(other); }
  Region& operator=(Region&& other) noexcept;
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
  ~Region() = default;

  [[nodiscard]] void* data() const noexcept { return base_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] Backing backing() const noexcept { return backing_; }
  [[nodiscard]] bool locked() const noexcept { return locked_; }
  [[nodiscard]] Access access() const noexcept { return access_; }
  [[nodiscard]] const layout::RegionHeader& header() const noexcept {
    return *static_cast<const layout::RegionHeader*>(base_);
  }

  template <typename T>
  [[nodiscard]] T& as() noexcept {
    return *static_cast<T*>(base_);
  }
  template <typename T>
  [[nodiscard]] const T& as() const noexcept {
    return *static_cast<const T*>(base_);
  }

  // Engine: publishes a new state (release) and refreshes the heartbeat.
  void set_state(layout::RegionState state) noexcept;
  // Engine: heartbeat, CLOCK_REALTIME ns. Relaxed: readers use it as a liveness hint only.
  void heartbeat(std::uint64_t now_ns) noexcept;

  // Reader: true once this mapping no longer belongs to a running engine (clean shutdown, engine
  // died, or a new engine replaced the file). The caller re-attaches. The engine is judged by the
  // lock it holds on the file (docs/adr/0027-liveness-without-a-shared-pid-namespace.md), never by
  // its pid, so this works from another PID namespace. Makes an fcntl() and a stat() call: poll
  // it at a human rate, not per event.
  [[nodiscard]] bool superseded() const noexcept;

  // Engine, clean shutdown: marks the region closed and removes its file.
  void remove() noexcept;

 private:
  std::shared_ptr<void> mapping_;  // owns the boost::interprocess::mapped_region
  void* base_ = nullptr;
  std::size_t size_ = 0;
  std::string path_;
  Backing backing_ = Backing::kShm;
  Access access_ = Access::kReadOnly;
  bool locked_ = false;
  int fd_ = -1;       // create(): the descriptor of the created file, owned by mapping_
  int live_fd_ = -1;  // attach(): the descriptor mapped, owned by mapping_: asks for the lock
  bool holds_lock_ = false;  // create() and its views: this handle's file holds the engine's lock
  dev_t dev_ = 0;
  ino_t inode_ = 0;
};

// The owners whose files in `dir` are believed to be the engine's: root, this process's effective
// user, the directory's owner and the engine's service account (`opts.engine_user`, else
// CWTS_ENGINE_USER, else "cwts"; ADR 0019). For the files cwtsd writes beside its regions too
// (cwtsctl trusts an instance's control file only from one of them).
[[nodiscard]] std::vector<uid_t> trusted_file_owners(const std::string& dir,
                                                     const RegionOptions& opts = {});

// Start time of a process in clock ticks since boot (/proc/PID/stat field 22), or 0 if there is no
// such process. Together with the pid it names a process uniquely across pid reuse.
[[nodiscard]] std::uint64_t process_start_ticks(pid_t pid) noexcept;

// True if `pid` runs and (when start_ticks != 0) is the same process that had that start time.
[[nodiscard]] bool process_alive(pid_t pid, std::uint64_t start_ticks) noexcept;

}  // namespace cwts::shm
