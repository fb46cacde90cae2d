// Creating, attaching, validating and removing CWTS shared-memory regions.
#include "cwts/shm/region.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <spdlog/spdlog.h>

#include "cwts/concurrent/word_copy.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/log/json_log.hpp"

namespace cwts::shm {
namespace bip = boost::interprocess;
using layout::RegionHeader;
using layout::RegionKind;
using layout::RegionState;

namespace {

constexpr long kHugetlbfsMagic = 0x958458f6;

struct KindTraits {
  std::uint64_t magic;
  std::size_t bytes;
  const char* suffix;
  const char* name;
};

KindTraits traits(RegionKind kind) {
  if (kind == RegionKind::kMarket) {
    return {layout::kMarketMagic, layout::kMarketRegionBytes, "market", "market"};
  }
  return {layout::kSignalsMagic, layout::kSignalsRegionBytes, "signals", "signals"};
}

std::string errno_text(int err) { return std::strerror(err); }

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%016" PRIx64, v);
  return buf;
}

// Page size of a hugetlbfs mount at `dir`, or 0 if `dir` is not one.
std::size_t hugetlbfs_page_size(const std::string& dir) {
  if (dir.empty()) return 0;
  struct statfs sfs {};
  if (::statfs(dir.c_str(), &sfs) != 0) return 0;
  if (static_cast<long>(sfs.f_type) != kHugetlbfsMagic) return 0;
  return static_cast<std::size_t>(sfs.f_bsize);
}

std::size_t round_up(std::size_t n, std::size_t page) { return (n + page - 1) / page * page; }

struct Mapped {
  std::shared_ptr<void> owner;
  void* base;
  std::size_t size;
};

// Maps `path` with Boost.Interprocess; MAP_POPULATE pre-faults every page when asked.
Mapped map_file(const std::string& path, Access access, std::size_t size, bool prefault) {
  const bip::mode_t mode = access == Access::kReadWrite ? bip::read_write : bip::read_only;
  bip::file_mapping file(path.c_str(), mode);
  const bip::map_options_t opts = prefault ? MAP_POPULATE : bip::default_map_options;
  auto region = std::make_shared<bip::mapped_region>(file, mode, 0, size, nullptr, opts);
  void* base = region->get_address();
  return {std::shared_ptr<void>(region, base), base, region->get_size()};
}

bool lock_region_pages(void* base, std::size_t size, const std::string& path) {
  if (::mlock(base, size) == 0) return true;
  const int err = errno;
  log::log_event(spdlog::level::warn, "shm", "mlock_failed",
                 log::LogFields()
                     .str("path", path)
                     .unum("bytes", size)
                     .str("error", errno_text(err))
                     .str("hint",
                          "pages may be swapped out under memory pressure: raise LimitMEMLOCK / "
                          "RLIMIT_MEMLOCK or grant CAP_IPC_LOCK"));
  return false;
}

void fill_header(RegionHeader& h, RegionKind kind, std::size_t size, std::size_t page, bool huge,
                 const RegionOptions& opts) {
  h.layout_version = layout::kLayoutVersion;
  h.header_size = sizeof(RegionHeader);
  h.layout_hash = layout::kLayoutHash;
  h.region_size = size;
  h.region_kind = static_cast<std::uint32_t>(kind);
  h.page_size_kib = static_cast<std::uint32_t>(page / 1024);
  h.engine_pid = static_cast<std::int32_t>(::getpid());
  h.flags = huge ? layout::kFlagHugePages : 0;
  h.epoch_ns = static_cast<std::uint64_t>(core::realtime_ns());
  h.engine_start_ticks = process_start_ticks(::getpid());
  h.instance.assign(opts.instance);
  h.max_symbols = layout::kMaxSymbols;
  h.book_depth = layout::kBookDepth;
  h.event_ring_capacity = layout::kEventRingCapacity;
  h.max_timeframes = layout::kMaxTimeframes;
  h.candle_history = layout::kCandleHistory;
  h.max_indicators = layout::kMaxIndicators;
  h.max_slots = layout::kMaxSlots;
  h.signal_ring_capacity = layout::kSignalRingCapacity;
  h.report_ring_capacity = layout::kReportRingCapacity;
  h.max_assets = layout::kMaxAssets;
  h.heartbeat_ns = h.epoch_ns;
  h.state = static_cast<std::uint64_t>(RegionState::kInitializing);
}

// Reads a header copy from a file without mapping it (used to judge an existing file).
bool read_header(const std::string& path, RegionHeader& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t n = ::pread(fd, &out, sizeof out, 0);
  ::close(fd);
  return n == static_cast<ssize_t>(sizeof out);
}

// Checks a header against this build. Throws RegionError naming both sides of any mismatch.
void validate_header(const RegionHeader& h, RegionKind kind, std::size_t file_size,
                     const std::string& path) {
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
  if (h.region_size < t.bytes || h.region_size > file_size) {
    throw RegionError(RegionErrc::kSizeMismatch,
                      "shm: " + path + " declares " + std::to_string(h.region_size) +
                          " bytes, file has " + std::to_string(file_size) + ", layout needs " +
                          std::to_string(t.bytes));
  }
  const auto state =
      static_cast<RegionState>(concurrent::load_word(h.state, std::memory_order_acquire));
  if (state == RegionState::kClosed || state == RegionState::kStopping) {
    throw RegionError(
        RegionErrc::kClosed,
        "shm: the engine behind " + path + " (pid " + std::to_string(h.engine_pid) +
            (state == RegionState::kClosed ? ") has shut down" : ") is shutting down"));
  }
  if (!process_alive(h.engine_pid, h.engine_start_ticks)) {
    throw RegionError(RegionErrc::kStale, "shm: stale region " + path + ": engine pid " +
                                              std::to_string(h.engine_pid) + " is gone");
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

// Removes a leftover file of a dead engine; refuses if a live engine owns it.
void clear_existing(const std::string& path, RegionKind kind) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  RegionHeader h{};
  if (read_header(path, h) && h.magic == traits(kind).magic &&
      h.state != static_cast<std::uint64_t>(RegionState::kClosed) &&
      process_alive(h.engine_pid, h.engine_start_ticks) && h.engine_pid != ::getpid()) {
    throw RegionError(RegionErrc::kAlreadyServed,
                      "shm: " + path + " is served by a running engine (pid " +
                          std::to_string(h.engine_pid) + "); stop it or use another instance name");
  }
  log::log_event(spdlog::level::warn, "shm", "stale_region_removed",
                 log::LogFields().str("path", path).num("engine_pid", h.engine_pid));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw RegionError(RegionErrc::kPermission,
                      "shm: cannot remove stale " + path + ": " + errno_text(errno));
  }
}

struct Target {
  std::string dir;
  std::size_t page;
  bool huge;
};

// Creates, sizes and maps a temporary file in `t.dir`. Returns false (after cleaning up) when the
// hugetlbfs pool is too small, so the caller can fall back.
bool create_in(const Target& t, RegionKind kind, const RegionOptions& opts, mode_t mode, gid_t gid,
               Mapped& out_map, std::string& tmp_path, std::size_t& size) {
  const std::string name = region_file_name(opts.instance, kind);
  tmp_path = t.dir + "/." + name + ".tmp." + std::to_string(::getpid());
  size = round_up(traits(kind).bytes, t.page);
  ::unlink(tmp_path.c_str());
  const int fd = ::open(tmp_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    const int err = errno;
    throw RegionError(err == EACCES ? RegionErrc::kPermission : RegionErrc::kSystem,
                      "shm: cannot create " + tmp_path + ": " + errno_text(err));
  }
  // fchmod: the mode must not depend on the umask of whoever starts the engine.
  bool ok = ::fchmod(fd, mode) == 0 &&
            (gid == static_cast<gid_t>(-1) || ::fchown(fd, static_cast<uid_t>(-1), gid) == 0);
  if (!ok) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp_path.c_str());
    throw RegionError(RegionErrc::kPermission,
                      "shm: cannot set mode/group of " + tmp_path + ": " + errno_text(err));
  }
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp_path.c_str());
    if (t.huge) return false;
    throw RegionError(RegionErrc::kSystem, "shm: cannot size " + tmp_path + ": " + errno_text(err));
  }
  ::close(fd);
  try {
    out_map = map_file(tmp_path, Access::kReadWrite, size, opts.prefault || t.huge);
  } catch (const bip::interprocess_exception& e) {
    ::unlink(tmp_path.c_str());
    if (t.huge) {
      log::log_event(spdlog::level::warn, "shm", "hugepage_mapping_failed",
                     log::LogFields()
                         .str("dir", t.dir)
                         .str("error", e.what())
                         .str("hint", "not enough huge pages reserved?"));
      return false;
    }
    throw RegionError(RegionErrc::kSystem, "shm: cannot map " + tmp_path + ": " + e.what());
  }
  return true;
}

}  // namespace

const char* to_string(RegionErrc e) noexcept {
  switch (e) {
    case RegionErrc::kNotFound:
      return "not_found";
    case RegionErrc::kInitializing:
      return "initializing";
    case RegionErrc::kBadMagic:
      return "bad_magic";
    case RegionErrc::kVersionMismatch:
      return "version_mismatch";
    case RegionErrc::kHashMismatch:
      return "hash_mismatch";
    case RegionErrc::kWrongKind:
      return "wrong_kind";
    case RegionErrc::kSizeMismatch:
      return "size_mismatch";
    case RegionErrc::kClosed:
      return "closed";
    case RegionErrc::kStale:
      return "stale";
    case RegionErrc::kAlreadyServed:
      return "already_served";
    case RegionErrc::kPermission:
      return "permission";
    case RegionErrc::kSystem:
      return "system";
  }
  return "unknown";
}

std::string region_file_name(const std::string& instance, RegionKind kind) {
  return "cwts-" + instance + "-" + traits(kind).suffix;
}

Region& Region::operator=(Region&& other) noexcept {
  if (this != &other) {
    mapping_ = std::move(other.mapping_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
    path_ = std::move(other.path_);
    backing_ = other.backing_;
    access_ = other.access_;
    locked_ = std::exchange(other.locked_, false);
    dev_ = other.dev_;
    inode_ = other.inode_;
  }
  return *this;
}

Region Region::create(RegionKind kind, const RegionOptions& opts) {
  if (opts.instance.empty() || opts.instance.find('/') != std::string::npos ||
      opts.instance.size() > 31) {
    throw RegionError(RegionErrc::kSystem, "shm: instance name '" + opts.instance +
                                               "' must be 1-31 characters without '/'");
  }
  const mode_t mode = kind == RegionKind::kMarket ? opts.market_mode : opts.signals_mode;
  const gid_t gid = resolve_group(opts.group);
  const std::string name = region_file_name(opts.instance, kind);

  // A live engine anywhere we look owns the instance; a dead one's files are removed.
  for (const auto* dir : {&opts.hugepage_dir, &opts.shm_dir}) {
    if (!dir->empty()) clear_existing(*dir + "/" + name, kind);
  }

  std::vector<Target> targets;
  if (const std::size_t hp = hugetlbfs_page_size(opts.hugepage_dir); hp != 0) {
    targets.push_back({opts.hugepage_dir, hp, true});
  }
  targets.push_back({opts.shm_dir, static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)), false});

  Region r;
  Mapped m{};
  std::string tmp;
  std::size_t size = 0;
  const Target* used = nullptr;
  for (const auto& t : targets) {
    if (create_in(t, kind, opts, mode, gid, m, tmp, size)) {
      used = &t;
      break;
    }
  }
  if (!used->huge) {
    log::log_event(spdlog::level::warn, "shm", "normal_pages",
                   log::LogFields()
                       .str("region", traits(kind).name)
                       .str("instance", opts.instance)
                       .str("dir", opts.shm_dir)
                       .str("reason", "no usable hugetlbfs mount at '" + opts.hugepage_dir + "'"));
  }

  auto& h = *static_cast<RegionHeader*>(m.base);
  fill_header(h, kind, size, used->page, used->huge, opts);
  r.mapping_ = m.owner;
  r.base_ = m.base;
  r.size_ = m.size;
  r.backing_ = used->huge ? Backing::kHugePages : Backing::kShm;
  r.access_ = Access::kReadWrite;
  r.locked_ = opts.lock_pages && lock_region_pages(m.base, m.size, tmp);
  if (r.locked_) h.flags |= layout::kFlagLocked;
  // Magic last, with release: a reader that sees it sees the whole header.
  concurrent::store_word(h.magic, traits(kind).magic, std::memory_order_release);

  r.path_ = used->dir + "/" + name;
  if (::rename(tmp.c_str(), r.path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw RegionError(RegionErrc::kSystem,
                      "shm: cannot publish " + r.path_ + ": " + errno_text(err));
  }
  struct stat st {};
  if (::stat(r.path_.c_str(), &st) == 0) {
    r.dev_ = st.st_dev;
    r.inode_ = st.st_ino;
  }
  log::log_event(spdlog::level::info, "shm", "region_created",
                 log::LogFields()
                     .str("region", traits(kind).name)
                     .str("path", r.path_)
                     .unum("bytes", size)
                     .str("pages", used->huge ? "huge" : "normal")
                     .boolean("locked", r.locked_));
  return r;
}

Region Region::attach(RegionKind kind, Access access, const RegionOptions& opts) {
  const std::string name = region_file_name(opts.instance, kind);
  std::string searched;
  for (const auto* dir : {&opts.hugepage_dir, &opts.shm_dir}) {
    if (dir->empty()) continue;
    const std::string path = *dir + "/" + name;
    searched += (searched.empty() ? "" : ", ") + path;
    const int fd =
        ::open(path.c_str(), (access == Access::kReadWrite ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == ENOENT) continue;
      throw RegionError(
          err == EACCES ? RegionErrc::kPermission : RegionErrc::kSystem,
          "shm: cannot open " + path + ": " + errno_text(err) +
              (err == EACCES ? " (is this user in the engine's strategy group?)" : ""));
    }
    struct stat st {};
    RegionHeader h{};
    const bool have =
        ::fstat(fd, &st) == 0 && ::pread(fd, &h, sizeof h, 0) == static_cast<ssize_t>(sizeof h);
    ::close(fd);
    if (!have) {
      throw RegionError(RegionErrc::kInitializing,
                        "shm: " + path + " is shorter than a region header; retry shortly");
    }
    validate_header(h, kind, static_cast<std::size_t>(st.st_size), path);

    Region r;
    Mapped m{};
    try {
      m = map_file(path, access, static_cast<std::size_t>(h.region_size), opts.prefault);
    } catch (const bip::interprocess_exception& e) {
      throw RegionError(RegionErrc::kSystem, "shm: cannot map " + path + ": " + e.what());
    }
    r.mapping_ = m.owner;
    r.base_ = m.base;
    r.size_ = m.size;
    r.path_ = path;
    r.access_ = access;
    r.backing_ = (h.flags & layout::kFlagHugePages) != 0U ? Backing::kHugePages : Backing::kShm;
    r.dev_ = st.st_dev;
    r.inode_ = st.st_ino;
    // Re-validate through the mapping: the file may have been replaced between pread and mmap.
    validate_header(r.header(), kind, static_cast<std::size_t>(st.st_size), path);
    r.locked_ = opts.lock_pages && lock_region_pages(m.base, m.size, path);
    return r;
  }
  throw RegionError(RegionErrc::kNotFound,
                    "shm: no " + std::string(traits(kind).name) + " region for instance '" +
                        opts.instance + "' (looked for " + searched + "); is cwtsd running?");
}

void Region::set_state(RegionState state) noexcept {
  auto& h = *static_cast<RegionHeader*>(base_);
  concurrent::store_word(h.heartbeat_ns, static_cast<std::uint64_t>(core::realtime_ns()),
                         std::memory_order_relaxed);
  concurrent::store_word(h.state, static_cast<std::uint64_t>(state), std::memory_order_release);
}

void Region::heartbeat(std::uint64_t now_ns) noexcept {
  concurrent::store_word(static_cast<RegionHeader*>(base_)->heartbeat_ns, now_ns,
                         std::memory_order_relaxed);
}

bool Region::superseded() const noexcept {
  if (base_ == nullptr) return true;
  const auto& h = header();
  if (concurrent::load_word(h.state, std::memory_order_acquire) ==
      static_cast<std::uint64_t>(RegionState::kClosed)) {
    return true;
  }
  if (!process_alive(h.engine_pid, h.engine_start_ticks)) return true;
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return true;
  return st.st_dev != dev_ || st.st_ino != inode_;
}

void Region::remove() noexcept {
  // Only the engine (the creator, read-write) removes a region; a reader's remove() is a no-op so
  // it can never unlink a live engine's file.
  if (base_ == nullptr || access_ != Access::kReadWrite) return;
  set_state(RegionState::kClosed);
  struct stat st {};
  // Only unlink the file if it is still ours (a successor may have replaced it).
  if (::stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == inode_) {
    ::unlink(path_.c_str());
  }
}

namespace {
// Reads /proc/PID/stat: process state letter and start time. False if there is no such process.
bool read_proc_stat(pid_t pid, char& state, std::uint64_t& start_ticks) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return false;
  // Field 2 (comm) may contain spaces and parentheses: fields resume after the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  rest >> field;  // field 3: state
  state = field.empty() ? '?' : field[0];
  // starttime is field 22.
  for (int i = 4; i <= 22; ++i) {
    if (!(rest >> field)) return false;
  }
  start_ticks = std::strtoull(field.c_str(), nullptr, 10);
  return true;
}
}  // namespace

std::uint64_t process_start_ticks(pid_t pid) noexcept {
  char state = '?';
  std::uint64_t ticks = 0;
  return read_proc_stat(pid, state, ticks) ? ticks : 0;
}

bool process_alive(pid_t pid, std::uint64_t start_ticks) noexcept {
  if (pid <= 0) return false;
  char state = '?';
  std::uint64_t ticks = 0;
  if (!read_proc_stat(pid, state, ticks)) return false;
  // A zombie has exited; only its parent has not reaped it yet.
  if (state == 'Z' || state == 'X') return false;
  return start_ticks == 0 || ticks == start_ticks;
}

}  // namespace cwts::shm
