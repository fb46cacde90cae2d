// Whether the engine that created a region still runs: its lock on the file, or its pid and start
// time (docs/adr/0027-liveness-without-a-shared-pid-namespace.md).
#include <fcntl.h>
#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "region_internal.hpp"

namespace cwts::shm::detail {

// --- liveness (docs/adr/0027-liveness-without-a-shared-pid-namespace.md) ---
//
// The engine holds an open-file-description (OFD) write lock on the whole of each region file it
// creates, from before the file is published until its last handle is gone; the kernel drops it
// when the engine exits, however it exits. A reader asks with F_OFD_GETLK on its own descriptor
// (a read-only one will do: GETLK needs no access mode) whether a read lock would conflict: only
// a write lock does, and only a descriptor open for writing can take one. Locks live on the inode:
// every PID and mount namespace that sees the file sees them.

// The files this process created and still holds the lock of (device, inode): the lock does not
// tell its holder's process, and a process that creates a region again (a restart in-process)
// replaces its own, never another namespace's engine that happens to have the same pid.
namespace {
std::mutex g_held_mu;
std::vector<std::pair<dev_t, ino_t>> g_held;

enum class LockProbe : std::uint8_t { kHeld, kFree, kUnknown };
}  // namespace

void note_held(dev_t dev, ino_t ino) {
  std::lock_guard lock(g_held_mu);
  g_held.emplace_back(dev, ino);
}

void forget_held(dev_t dev, ino_t ino) {
  std::lock_guard lock(g_held_mu);
  std::erase(g_held, std::pair{dev, ino});
}

bool held_here(dev_t dev, ino_t ino) {
  std::lock_guard lock(g_held_mu);
  for (const auto& [d, i] : g_held) {
    if (d == dev && i == ino) return true;
  }
  return false;
}

bool take_engine_lock(int fd) {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;  // l_start 0, l_len 0: the whole file, however long
  return ::fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

LockProbe probe_engine_lock(int fd) {
  if (fd < 0) return LockProbe::kUnknown;
  struct flock fl {};
  fl.l_type = F_RDLCK;  // conflicts with a write lock only
  fl.l_whence = SEEK_SET;
  if (::fcntl(fd, F_OFD_GETLK, &fl) != 0) return LockProbe::kUnknown;
  return fl.l_type == F_UNLCK ? LockProbe::kFree : LockProbe::kHeld;
}

// Whether the engine that wrote header `h` of the file open at `fd` still runs. A region whose
// engine announces the lock (kFlagEngineLock) is judged by the lock alone; without the flag, or
// where the lock cannot be asked about, by the header's pid and start time in this process's
// /proc (which sees the engine only in a shared PID namespace).
bool engine_live(int fd, const layout::RegionHeader& h) {
  if ((h.flags & layout::kFlagEngineLock) != 0U) {
    switch (probe_engine_lock(fd)) {
      case LockProbe::kHeld:
        return true;
      case LockProbe::kFree:
        return false;
      case LockProbe::kUnknown:
        break;
    }
  }
  return process_alive(h.engine_pid, h.engine_start_ticks);
}

}  // namespace cwts::shm::detail
