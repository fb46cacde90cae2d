// Creating, attaching and removing CWTS shared-memory regions: mapping, the engine's lock, the
// header. Liveness: region_liveness.cpp. Which files are trusted, and their checks:
// region_trust.cpp.
#include "cwts/shm/region.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "cwts/concurrent/word_copy.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/log/json_log.hpp"
#include "region_internal.hpp"

namespace cwts::shm {
using layout::RegionHeader;
using layout::RegionKind;
using layout::RegionState;

namespace detail {

constexpr long kHugetlbfsMagic = 0x958458f6;

KindTraits traits(RegionKind kind) {
  if (kind == RegionKind::kMarket) {
    return {layout::kMarketMagic, layout::kMarketRegionBytes, "market", "market"};
  }
  return {layout::kSignalsMagic, layout::kSignalsRegionBytes, "signals", "signals"};
}

std::size_t region_bytes(RegionKind kind, const layout::MarketCapacity& cap) {
  return kind == RegionKind::kMarket ? layout::MarketRegion::bytes(cap) : traits(kind).bytes;
}

std::string capacity_error(const layout::MarketCapacity& cap) {
  const auto out_of = [](std::uint32_t v, std::size_t most) { return v == 0 || v > most; };
  if (out_of(cap.symbols, layout::kMaxSymbols)) {
    return "max_symbols " + std::to_string(cap.symbols) + " is not within 1.." +
           std::to_string(layout::kMaxSymbols);
  }
  if (out_of(cap.slots, layout::kMaxSlots)) {
    return "max_slots " + std::to_string(cap.slots) + " is not within 1.." +
           std::to_string(layout::kMaxSlots);
  }
  if (out_of(cap.timeframes, layout::kMaxTimeframes)) {
    return "max_timeframes " + std::to_string(cap.timeframes) + " is not within 1.." +
           std::to_string(layout::kMaxTimeframes);
  }
  // A power of two: a reader masks a candle's sequence with it to find its slot.
  if (out_of(cap.candles, layout::kMaxCandleHistory) || (cap.candles & (cap.candles - 1)) != 0) {
    return "candle_history " + std::to_string(cap.candles) + " is not a power of two within 1.." +
           std::to_string(layout::kMaxCandleHistory);
  }
  if (out_of(cap.book_depth, layout::kMaxBookDepth)) {
    return "book_depth " + std::to_string(cap.book_depth) + " is not within 1.." +
           std::to_string(layout::kMaxBookDepth);
  }
  return {};
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

struct Mapping;

struct Mapped {
  std::shared_ptr<void> owner;
  void* base;
  std::size_t size;
  Mapping* mapping;  // what `owner` keeps alive
};

// One mmap of a file, and optionally the descriptor it came from: both released with the last
// handle (and with the descriptor, the engine's lock on the file when it holds one).
struct Mapping {
  void* base = nullptr;
  std::size_t size = 0;
  int fd = -1;
  bool held = false;  // `fd` holds the engine's lock, noted by note_held
  dev_t dev = 0;
  ino_t ino = 0;
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (base != nullptr) ::munmap(base, size);
    if (held) forget_held(dev, ino);
    if (fd >= 0) ::close(fd);
  }
};

// Maps the open file `fd` (never a path: the descriptor is the file that was checked). `keep_fd`
// hands the descriptor to the mapping, which closes it; otherwise the caller keeps it. MAP_POPULATE
// pre-faults every page when asked. Returns false with errno set when mmap fails.
bool map_fd(int fd, Access access, std::size_t size, bool prefault, bool keep_fd, Mapped& out) {
  const int prot = access == Access::kReadWrite ? PROT_READ | PROT_WRITE : PROT_READ;
  void* base = ::mmap(nullptr, size, prot, MAP_SHARED | (prefault ? MAP_POPULATE : 0), fd, 0);
  if (base == MAP_FAILED) return false;
  auto m = std::make_shared<Mapping>();
  m->base = base;
  m->size = size;
  m->fd = keep_fd ? fd : -1;
  out = {std::shared_ptr<void>(m, base), base, size, m.get()};
  return true;
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
  h.max_symbols = kind == RegionKind::kMarket ? opts.market_capacity.symbols : 0;
  h.book_depth = kind == RegionKind::kMarket ? opts.market_capacity.book_depth : 0;
  h.event_ring_capacity = layout::kEventRingCapacity;
  h.max_timeframes = kind == RegionKind::kMarket ? opts.market_capacity.timeframes : 0;
  h.candle_history = kind == RegionKind::kMarket ? opts.market_capacity.candles : 0;
  h.max_indicators = layout::kMaxIndicators;
  h.max_slots = kind == RegionKind::kMarket ? opts.market_capacity.slots : 0;
  h.signal_ring_capacity = layout::kSignalRingCapacity;
  h.report_ring_capacity = layout::kReportRingCapacity;
  h.max_assets = layout::kMaxAssets;
  h.heartbeat_ns = h.epoch_ns;
  h.state = static_cast<std::uint64_t>(RegionState::kInitializing);
}

struct Target {
  std::string dir;
  std::size_t page;
  bool huge;
};

// Creates, sizes and maps a temporary file in `t.dir` under a fresh random name (mkostemp:
// O_CREAT|O_EXCL, so nobody can have planted it, and nobody can guess it in advance to squat it).
// The mapping keeps the descriptor. Returns false (after cleaning up) when the hugetlbfs pool is
// too small, so the caller can fall back.
bool create_in(const Target& t, RegionKind kind, const RegionOptions& opts, mode_t mode, gid_t gid,
               Mapped& out_map, int& out_fd, std::string& tmp_path, std::size_t& size) {
  const std::string name = region_file_name(opts.instance, kind);
  std::string tmpl = t.dir + "/." + name + ".tmp.XXXXXX";
  size = round_up(region_bytes(kind, opts.market_capacity), t.page);
  const int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  tmp_path = tmpl;
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
  // tmpfs: reserve every page now. A file sized only by ftruncate maps fine in a tmpfs too small
  // for it, and the first write past the room is a SIGBUS in the engine; here it is an error
  // that says what to change. (hugetlbfs reserves its pages at mmap; see map_fd.) Only "no room"
  // refuses the region: a file system or sandbox that cannot reserve (EOPNOTSUPP, ENOSYS, ...)
  // keeps the sparse file, as before, with a warning.
  int reserve_err = 0;
  if (!t.huge) {
    while (::fallocate(fd, 0, 0, static_cast<off_t>(size)) != 0) {
      if (errno == EINTR) continue;
      reserve_err = errno;
      break;
    }
  }
  if (reserve_err != 0 && reserve_err != ENOSPC && reserve_err != EDQUOT && reserve_err != EFBIG) {
    log::log_event(spdlog::level::warn, "shm", "region_not_reserved",
                   log::LogFields()
                       .str("path", tmp_path)
                       .num("bytes", static_cast<std::int64_t>(size))
                       .str("error", errno_text(reserve_err))
                       .str("hint", "its pages are taken as they are first written"));
  } else if (reserve_err != 0) {
    const int err = reserve_err;
    ::close(fd);
    ::unlink(tmp_path.c_str());
    throw RegionError(RegionErrc::kSystem,
                      "shm: cannot reserve " + std::to_string(size) + " bytes for " + tmp_path +
                          ": " + errno_text(err) + " (free room in " + t.dir +
                          ", or make the region smaller: region.max_symbols, region.max_slots, "
                          "region.candle_history, region.book_depth, market.timeframes)");
  }
  if (!map_fd(fd, Access::kReadWrite, size, opts.prefault || t.huge, /*keep_fd=*/true, out_map)) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp_path.c_str());
    if (t.huge) {
      log::log_event(spdlog::level::warn, "shm", "hugepage_mapping_failed",
                     log::LogFields()
                         .str("dir", t.dir)
                         .str("error", errno_text(err))
                         .str("hint", "not enough huge pages reserved?"));
      return false;
    }
    throw RegionError(RegionErrc::kSystem, "shm: cannot map " + tmp_path + ": " + errno_text(err));
  }
  out_fd = fd;
  return true;
}

}  // namespace detail

using namespace detail;  // NOLINT(google-build-using-namespace): this file's helpers and
                         // region_trust.cpp's

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
    case RegionErrc::kUntrusted:
      return "untrusted";
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
    fd_ = std::exchange(other.fd_, -1);
    live_fd_ = std::exchange(other.live_fd_, -1);
    holds_lock_ = std::exchange(other.holds_lock_, false);
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
  if (kind == RegionKind::kMarket) {
    if (const std::string bad = capacity_error(opts.market_capacity); !bad.empty()) {
      throw RegionError(RegionErrc::kSizeMismatch, "shm: cannot create the market region: " + bad);
    }
  }
  const mode_t mode = kind == RegionKind::kMarket ? opts.market_mode : opts.signals_mode;
  const gid_t gid = resolve_group(opts.group);
  const std::string name = region_file_name(opts.instance, kind);

  // A live engine anywhere we look owns the instance; a dead one's files are removed, and so is
  // whatever else sits at the name, when this process may. `blocked` names what it may not remove.
  std::string blocked_huge;
  std::string blocked_shm;
  if (!opts.hugepage_dir.empty()) clear_existing(opts.hugepage_dir, name, kind, opts, blocked_huge);
  if (!opts.shm_dir.empty()) clear_existing(opts.shm_dir, name, kind, opts, blocked_shm);

  std::vector<Target> targets;
  if (const std::size_t hp = hugetlbfs_page_size(opts.hugepage_dir); hp != 0) {
    if (blocked_huge.empty()) {
      targets.push_back({opts.hugepage_dir, hp, true});
    } else {
      log::log_event(spdlog::level::warn, "shm", "hugepage_name_blocked",
                     log::LogFields().str("reason", blocked_huge));
    }
  }
  // An unusable name in the shm directory only matters if we end up there.
  if (!opts.shm_dir.empty()) {
    targets.push_back({opts.shm_dir, static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)), false});
  }

  Region r;
  Mapped m{};
  int fd = -1;
  std::string tmp;
  std::size_t size = 0;
  const Target* used = nullptr;
  for (const auto& t : targets) {
    if (!t.huge && !blocked_shm.empty()) {
      throw RegionError(
          RegionErrc::kUntrusted,
          "shm: cannot create the " + std::string(traits(kind).name) + " region: " + blocked_shm);
    }
    if (create_in(t, kind, opts, mode, gid, m, fd, tmp, size)) {
      used = &t;
      break;
    }
  }
  if (used == nullptr) {
    throw RegionError(RegionErrc::kSystem,
                      "shm: no usable directory for the " + std::string(traits(kind).name) +
                          " region (hugepage_dir '" + opts.hugepage_dir +
                          "' unusable or full, shm_dir '" + opts.shm_dir + "')" +
                          (blocked_huge.empty() ? "" : ": " + blocked_huge));
  }
  if (!used->huge) {
    log::log_event(spdlog::level::warn, "shm", "normal_pages",
                   log::LogFields()
                       .str("region", traits(kind).name)
                       .str("instance", opts.instance)
                       .str("dir", opts.shm_dir)
                       .str("reason", "no usable hugetlbfs mount at '" + opts.hugepage_dir + "'"));
  }

  // The engine's lock, before the file has its name: no reader ever sees this engine's region
  // without it. Released by the kernel with the last descriptor, on any exit (SIGKILL included).
  if (!take_engine_lock(fd)) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw RegionError(RegionErrc::kSystem,
                      "shm: cannot lock " + tmp + " (F_OFD_SETLK): " + errno_text(err) +
                          "; the region directory's filesystem must support file locks");
  }
  {
    struct stat lst {};
    if (::fstat(fd, &lst) == 0) {
      m.mapping->dev = lst.st_dev;
      m.mapping->ino = lst.st_ino;
    }
    note_held(m.mapping->dev, m.mapping->ino);
    m.mapping->held = true;
  }

  auto& h = *static_cast<RegionHeader*>(m.base);
  fill_header(h, kind, size, used->page, used->huge, opts);
  h.flags |= layout::kFlagEngineLock;
  r.mapping_ = m.owner;
  r.base_ = m.base;
  r.size_ = m.size;
  r.fd_ = fd;
  r.holds_lock_ = true;
  r.backing_ = used->huge ? Backing::kHugePages : Backing::kShm;
  r.access_ = Access::kReadWrite;
  r.locked_ = opts.lock_pages && lock_region_pages(m.base, m.size, tmp);
  if (r.locked_) h.flags |= layout::kFlagLocked;
  // Magic last, with release: a reader that sees it sees the whole header.
  concurrent::store_word(h.magic, traits(kind).magic, std::memory_order_release);

  r.path_ = used->dir + "/" + name;
  // rename replaces whatever was planted at the name since clear_existing, if we may remove it.
  if (::rename(tmp.c_str(), r.path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw RegionError(err == EPERM || err == EACCES ? RegionErrc::kUntrusted : RegionErrc::kSystem,
                      "shm: cannot publish " + r.path_ + ": " + errno_text(err) +
                          (err == EPERM || err == EACCES
                               ? " (another user's file took the name: remove it as root, or use "
                                 "another instance name)"
                               : ""));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
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
  std::string untrusted;
  for (const auto* dir : {&opts.hugepage_dir, &opts.shm_dir}) {
    if (dir->empty()) continue;
    const std::string path = *dir + "/" + name;
    searched += (searched.empty() ? "" : ", ") + path;
    int fd = -1;
    struct stat st {};
    std::string why;
    const Probe p = open_checked(path, access == Access::kReadWrite ? O_RDWR : O_RDONLY,
                                 trusted_owners(*dir, opts), fd, st, why);
    if (p == Probe::kAbsent) continue;
    if (p == Probe::kUntrusted) {
      // Not the engine's: skip it (a planted file must neither be mapped nor stop the search).
      log::log_event(spdlog::level::warn, "shm", "untrusted_region_file_ignored",
                     log::LogFields().str("path", path).str("reason", why));
      untrusted += (untrusted.empty() ? "" : "; ") + why;
      continue;
    }
    RegionHeader h{};
    if (::pread(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) {
      ::close(fd);
      throw RegionError(RegionErrc::kInitializing,
                        "shm: " + path + " is shorter than a region header; retry shortly");
    }
    try {
      validate_header(h, kind, static_cast<std::size_t>(st.st_size), path, fd);
    } catch (...) {
      ::close(fd);
      throw;
    }

    Region r;
    Mapped m{};
    // The descriptor that was checked is the one mapped; the mapping keeps it, to ask about the
    // engine's lock (superseded()).
    if (!map_fd(fd, access, static_cast<std::size_t>(h.region_size), opts.prefault,
                /*keep_fd=*/true, m)) {
      const int err = errno;
      ::close(fd);
      throw RegionError(RegionErrc::kSystem, "shm: cannot map " + path + ": " + errno_text(err));
    }
    r.mapping_ = m.owner;
    r.live_fd_ = fd;
    r.base_ = m.base;
    r.size_ = m.size;
    r.path_ = path;
    r.access_ = access;
    r.backing_ = (h.flags & layout::kFlagHugePages) != 0U ? Backing::kHugePages : Backing::kShm;
    r.dev_ = st.st_dev;
    r.inode_ = st.st_ino;
    // Re-validate through the mapping: the engine may have closed the region since the pread.
    validate_header(r.header(), kind, static_cast<std::size_t>(st.st_size), path, fd);
    r.locked_ = opts.lock_pages && lock_region_pages(m.base, m.size, path);
    return r;
  }
  if (!untrusted.empty()) {
    throw RegionError(RegionErrc::kUntrusted,
                      "shm: no trusted " + std::string(traits(kind).name) +
                          " region for instance '" + opts.instance + "': " + untrusted +
                          "; remove it, or set CWTS_ENGINE_USER to the engine's user");
  }
  throw RegionError(RegionErrc::kNotFound,
                    "shm: no " + std::string(traits(kind).name) + " region for instance '" +
                        opts.instance + "' (looked for " + searched + "); is cwtsd running?");
}

Region Region::view(Access access) const {
  if (fd_ < 0) {
    throw RegionError(RegionErrc::kSystem,
                      "shm: view() needs a region made by create() (it maps the created file)");
  }
  Mapped m{};
  if (!map_fd(fd_, access, size_, /*prefault=*/true, /*keep_fd=*/false, m)) {
    const int err = errno;
    throw RegionError(RegionErrc::kSystem, "shm: cannot map " + path_ + ": " + errno_text(err));
  }
  Region r;
  // The view keeps the created mapping, and with it the descriptor holding the engine's lock:
  // the engine is live as long as any of its handles is.
  auto both =
      std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<void>>>(m.owner, mapping_);
  r.mapping_ = std::shared_ptr<void>(both, m.base);
  r.holds_lock_ = holds_lock_;
  r.base_ = m.base;
  r.size_ = m.size;
  r.path_ = path_;
  r.backing_ = backing_;
  r.access_ = access;
  r.dev_ = dev_;
  r.inode_ = inode_;
  r.locked_ = locked_ && lock_region_pages(m.base, m.size, path_);
  return r;
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
  // The engine's own handles hold the lock (a descriptor never conflicts with its own lock).
  if (!holds_lock_ && !engine_live(live_fd_, h)) return true;
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
