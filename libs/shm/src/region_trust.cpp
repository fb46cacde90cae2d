// Which region files are trusted (docs/adr/0019-region-discovery.md), their headers' checks
// against this build, and clearing a region's name before a create.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "cwts/concurrent/word_copy.hpp"
#include "cwts/log/json_log.hpp"
#include "region_internal.hpp"

namespace cwts::shm::detail {

using layout::RegionHeader;
using layout::RegionKind;
using layout::RegionState;

namespace {

std::string user_name(uid_t uid) {
  struct passwd pw {};
  struct passwd* result = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &result) == 0 && result != nullptr) {
    return std::string(" (") + result->pw_name + ")";
  }
  return "";
}

bool trusted(uid_t uid, const std::vector<uid_t>& owners) {
  for (uid_t u : owners) {
    if (u == uid) return true;
  }
  return false;
}

std::string describe_type(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

}  // namespace

// The owners whose files in `dir` are believed to be the engine's: root, this process's effective
// user, the directory's owner (who can replace any file in it anyway) and the engine's service
// account. Never anything read from the file itself: a forger writes whatever header it likes.
std::vector<uid_t> trusted_owners(const std::string& dir, const RegionOptions& opts) {
  std::vector<uid_t> uids{0, ::geteuid()};
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) uids.push_back(st.st_uid);
  std::string user = opts.engine_user;
  if (user.empty()) {
    const char* env = std::getenv("CWTS_ENGINE_USER");
    user = env != nullptr && *env != '\0' ? env : "cwts";
  }
  struct passwd pw {};
  struct passwd* result = nullptr;
  char buf[4096];
  if (::getpwnam_r(user.c_str(), &pw, buf, sizeof buf, &result) == 0 && result != nullptr) {
    uids.push_back(result->pw_uid);
  }
  return uids;
}

// Opens `path` without following a symbolic link or blocking on a FIFO (O_NOFOLLOW|O_NONBLOCK)
// and checks, on the descriptor (fstat, never stat-then-open), that it is a regular file of a
// trusted owner. kOk: `fd` and `st` describe it and the caller owns `fd`. kUntrusted: `why` says
// what the name is instead. Other errors throw.
Probe open_checked(const std::string& path, int flags, const std::vector<uid_t>& owners, int& fd,
                   struct stat& st, std::string& why) {
  fd = ::open(path.c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return Probe::kAbsent;
    struct stat lst {};
    const bool have = ::lstat(path.c_str(), &lst) == 0;
    if (err == ELOOP || err == ENXIO || err == EISDIR || (have && !S_ISREG(lst.st_mode))) {
      why = path + " is " + (have ? describe_type(lst.st_mode) : "not a regular file");
      return Probe::kUntrusted;
    }
    if (err == EACCES && have && !trusted(lst.st_uid, owners)) {
      why = path + " is owned by uid " + std::to_string(lst.st_uid) + user_name(lst.st_uid) +
            ", not by the engine's user";
      return Probe::kUntrusted;
    }
    throw RegionError(err == EACCES ? RegionErrc::kPermission : RegionErrc::kSystem,
                      "shm: cannot open " + path + ": " + errno_text(err) +
                          (err == EACCES ? " (is this user in the engine's strategy group?)" : ""));
  }
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw RegionError(RegionErrc::kSystem, "shm: cannot stat " + path + ": " + errno_text(err));
  }
  if (!S_ISREG(st.st_mode)) {
    why = path + " is " + describe_type(st.st_mode);
  } else if (!trusted(st.st_uid, owners)) {
    why = path + " is owned by uid " + std::to_string(st.st_uid) + user_name(st.st_uid) +
          ", not by the engine's user (root, this user, the directory's owner or "
          "region engine_user / CWTS_ENGINE_USER)";
  } else {
    return Probe::kOk;
  }
  ::close(fd);
  fd = -1;
  return Probe::kUntrusted;
}

// Checks a header against this build. Throws RegionError naming both sides of any mismatch.
// `fd` is the reader's descriptor of the file: the engine's lock is asked about through it.
void validate_header(const RegionHeader& h, RegionKind kind, std::size_t file_size,
                     const std::string& path, int fd) {
  const KindTraits t = traits(kind);
  const std::uint64_t magic = concurrent::load_word(h.magic, std::memory_order_acquire);
  if (magic == 0) {
    throw RegionError(RegionErrc::kInitializing,
                      "shm: region " + path + " is still being initialised; retry shortly");
  }
  if (magic != t.magic) {
    throw RegionError(RegionErrc::kBadMagic, "shm: " + path + " is not a CWTS " + t.name +
                                                 " region (magic " + hex(magic) + ", expected " +
                                                 hex(t.magic) + ")");
  }
  if (h.layout_version != layout::kLayoutVersion) {
    throw RegionError(
        RegionErrc::kVersionMismatch,
        "shm: layout version mismatch on " + path + ": the region has version " +
            std::to_string(h.layout_version) + " (hash " + hex(h.layout_hash) +
            "), this program was built for version " + std::to_string(layout::kLayoutVersion) +
            " (hash " + hex(layout::kLayoutHash) +
            "); rebuild the reader (cwts_bridge, tools) from the same source as the engine");
  }
  if (h.layout_hash != layout::kLayoutHash) {
    throw RegionError(RegionErrc::kHashMismatch,
                      "shm: layout hash mismatch on " + path + ": the region has hash " +
                          hex(h.layout_hash) + ", this program was built with hash " +
                          hex(layout::kLayoutHash) + " (both claim version " +
                          std::to_string(layout::kLayoutVersion) +
                          "); rebuild the reader from the same source as the engine");
  }
  if (h.region_kind != static_cast<std::uint32_t>(kind)) {
    throw RegionError(RegionErrc::kWrongKind, "shm: " + path + " has region kind " +
                                                  std::to_string(h.region_kind) + ", expected " +
                                                  std::to_string(static_cast<unsigned>(kind)));
  }
  // A market region's arrays are sized by the capacities in its header: within the compiled
  // ceilings (the readers' own tables), and inside the file, or nothing past the header is read.
  const layout::MarketCapacity cap{h.max_symbols, h.max_slots, h.max_timeframes, h.candle_history,
                                   h.book_depth};
  if (kind == RegionKind::kMarket) {
    if (const std::string bad = capacity_error(cap); !bad.empty()) {
      throw RegionError(RegionErrc::kSizeMismatch, "shm: " + path + " declares " + bad);
    }
  }
  const std::size_t needs = region_bytes(kind, cap);
  if (h.region_size < needs || h.region_size > file_size) {
    throw RegionError(RegionErrc::kSizeMismatch,
                      "shm: " + path + " declares " + std::to_string(h.region_size) +
                          " bytes, file has " + std::to_string(file_size) + ", layout needs " +
                          std::to_string(needs));
  }
  const auto state =
      static_cast<RegionState>(concurrent::load_word(h.state, std::memory_order_acquire));
  if (state == RegionState::kClosed || state == RegionState::kStopping) {
    throw RegionError(
        RegionErrc::kClosed,
        "shm: the engine behind " + path + " (pid " + std::to_string(h.engine_pid) +
            (state == RegionState::kClosed ? ") has shut down" : ") is shutting down"));
  }
  if (!engine_live(fd, h)) {
    throw RegionError(RegionErrc::kStale, "shm: stale region " + path + ": its engine (pid " +
                                              std::to_string(h.engine_pid) +
                                              " in its own PID namespace) is gone" +
                                              ((h.flags & layout::kFlagEngineLock) != 0U
                                                   ? " (it no longer holds its lock on the file)"
                                                   : ""));
  }
  if (state == RegionState::kInitializing) {
    throw RegionError(RegionErrc::kInitializing,
                      "shm: the engine behind " + path + " is still starting; retry shortly");
  }
}

gid_t resolve_group(const std::string& group) {
  if (group.empty()) return static_cast<gid_t>(-1);
  struct group grp {};
  struct group* result = nullptr;
  char buf[4096];
  if (::getgrnam_r(group.c_str(), &grp, buf, sizeof buf, &result) != 0 || result == nullptr) {
    throw RegionError(RegionErrc::kPermission, "shm: group '" + group + "' does not exist");
  }
  return grp.gr_gid;
}

// Clears the region's name in `dir` before a create: a leftover of a dead engine (or of this
// process) is removed; a live engine's file makes the create fail (kAlreadyServed); anything else
// there (another user's file, a FIFO, a link) is removed if this process may, and otherwise
// reported in `blocked` (the name cannot be used in this directory). Never blocks: the name is
// opened O_NONBLOCK and judged by its descriptor.
void clear_existing(const std::string& dir, const std::string& name, RegionKind kind,
                    const RegionOptions& opts, std::string& blocked) {
  const std::string path = dir + "/" + name;
  int fd = -1;
  struct stat st {};
  std::string why;
  const Probe p = open_checked(path, O_RDONLY, trusted_owners(dir, opts), fd, st, why);
  if (p == Probe::kAbsent) return;
  if (p == Probe::kOk) {
    RegionHeader h{};
    const bool have = ::pread(fd, &h, sizeof h, 0) == static_cast<ssize_t>(sizeof h);
    // A region this process still holds is its own to replace; any other live engine's is not,
    // whatever its pid (in another PID namespace it may well equal ours).
    const bool live = have && h.magic == traits(kind).magic &&
                      h.state != static_cast<std::uint64_t>(RegionState::kClosed) &&
                      !held_here(st.st_dev, st.st_ino) && engine_live(fd, h);
    ::close(fd);
    if (live) {
      throw RegionError(RegionErrc::kAlreadyServed,
                        "shm: " + path + " is served by a running engine (pid " +
                            std::to_string(h.engine_pid) +
                            " in its PID namespace); stop it or use another instance name");
    }
    log::log_event(spdlog::level::warn, "shm", "stale_region_removed",
                   log::LogFields().str("path", path).num("engine_pid", h.engine_pid));
  } else {
    log::log_event(spdlog::level::warn, "shm", "foreign_file_removed",
                   log::LogFields().str("path", path).str("reason", why));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    const int err = errno;
    if (p == Probe::kOk) {
      throw RegionError(RegionErrc::kPermission,
                        "shm: cannot remove stale " + path + ": " + errno_text(err));
    }
    blocked = why + "; this process cannot remove it (" + errno_text(err) +
              "): remove it as root, or use another instance name";
  }
}

}  // namespace cwts::shm::detail

namespace cwts::shm {

std::vector<uid_t> trusted_file_owners(const std::string& dir, const RegionOptions& opts) {
  return detail::trusted_owners(dir, opts);
}

}  // namespace cwts::shm
