// The durable order journal (see journal.hpp and docs/journal.md).
#include "cwts/journal/journal.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "cwts/core/clock.hpp"

namespace cwts::journal {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path, int err) {
  throw JournalError(what + " " + path + ": " + std::strerror(err));
}

std::uint32_t record_crc(std::uint64_t seq, std::uint16_t type, const void* payload,
                         std::size_t size) noexcept {
  std::uint32_t c = crc32c(0, &seq, sizeof seq);
  c = crc32c(c, &type, sizeof type);
  return crc32c(c, payload, size);
}

std::size_t page_size() noexcept { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

}  // namespace

ReadResult read_journal(const std::string& path, const RecordFn& on_record) {
  ReadResult r;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return r;
    fail("cannot open journal", path, errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    fail("cannot stat journal", path, e);
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  std::vector<std::byte> data(size);
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::pread(fd, data.data() + got, size - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = n < 0 ? errno : EIO;
      ::close(fd);
      fail("cannot read journal", path, e);
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (size == 0) return r;  // created but never written: empty
  FileHeader h{};
  if (size < sizeof h) throw JournalError("not a journal (too short): " + path);
  std::memcpy(&h, data.data(), sizeof h);
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) {
    throw JournalError("not a journal (bad magic): " + path);
  }
  if (h.version != kVersion || h.header_bytes != kFileHeaderBytes) {
    throw JournalError("journal version " + std::to_string(h.version) + " not supported: " + path);
  }
  std::size_t off = kFileHeaderBytes;
  std::vector<std::byte> payload;
  while (off + kRecordHeaderBytes <= size) {
    RecordHeader rh{};
    std::memcpy(&rh, data.data() + off, sizeof rh);
    if (rh.size == 0 && rh.seq == 0) break;  // the zeroed rest of the file
    const std::size_t rb = record_bytes(rh.size);
    if (rh.size > kMaxPayload || off + rb > size || rh.seq != r.last_seq + 1 ||
        record_crc(rh.seq, rh.type, data.data() + off + kRecordHeaderBytes, rh.size) != rh.crc) {
      break;  // torn
    }
    on_record(rh.type, rh.seq,
              std::span<const std::byte>(data.data() + off + kRecordHeaderBytes, rh.size));
    ++r.records;
    r.last_seq = rh.seq;
    off += rb;
  }
  r.end_offset = off;
  for (std::size_t i = off; i < size; ++i) {
    if (data[i] != std::byte{0}) r.torn_bytes = i + 1 - off;
  }
  return r;
}

Writer::Writer(std::string path, std::size_t capacity, FsyncPolicy policy,
               std::uint32_t interval_ms)
    : path_(std::move(path)),
      capacity_(capacity),
      policy_(policy),
      interval_ms_(interval_ms == 0 ? 1 : interval_ms) {
  if (capacity_ < kFileHeaderBytes + record_bytes(kMaxPayload)) {
    throw JournalError("journal capacity too small: " + std::to_string(capacity_));
  }
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd_ < 0) fail("cannot create journal", path_, errno);
  if (const int e = ::posix_fallocate(fd_, 0, static_cast<off_t>(capacity_)); e != 0) {
    ::close(fd_);
    ::unlink(path_.c_str());
    fail("cannot allocate journal (" + std::to_string(capacity_) + " bytes)", path_, e);
  }
  void* p = ::mmap(nullptr, capacity_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    ::close(fd_);
    fail("cannot map journal", path_, e);
  }
  base_ = static_cast<std::byte*>(p);
  // Write-fault every page now, not on the exec thread's first append to it (MAP_POPULATE maps
  // shared file pages read-only until their first write).
  std::memset(base_, 0, capacity_);
  FileHeader h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.header_bytes = kFileHeaderBytes;
  h.created_ns = core::realtime_ns();
  h.capacity = capacity_;
  std::memcpy(base_, &h, sizeof h);
  if (policy_ != FsyncPolicy::kNone) thread_ = std::thread([this] { sync_thread(); });
}

Writer::~Writer() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
  try {
    sync_all();
  } catch (...) {  // NOLINT(bugprone-empty-catch): nothing more to do at destruction
  }
  if (base_ != nullptr) ::munmap(base_, capacity_);
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t Writer::append(std::uint16_t type, const void* payload, std::uint32_t size) noexcept {
  if (size > kMaxPayload) return 0;
  const std::size_t rb = record_bytes(size);
  if (offset_ + rb > capacity_) return 0;
  const std::uint64_t seq = seq_ + 1;
  std::byte* at = base_ + offset_;
  std::memcpy(at + kRecordHeaderBytes, payload, size);
  RecordHeader h{};
  h.size = size;
  h.seq = seq;
  h.type = type;
  h.crc = record_crc(seq, type, payload, size);
  std::memcpy(at, &h, sizeof h);
  seq_ = seq;
  offset_ += rb;
  end_.store(offset_, std::memory_order_release);
  appended_.store(seq, std::memory_order_release);
  return seq;
}

void Writer::wait_durable(std::uint64_t seq) const noexcept {
  if (policy_ != FsyncPolicy::kAlways) return;
  while (durable_.load(std::memory_order_acquire) < seq && !stop_.load(std::memory_order_relaxed)) {
    std::this_thread::yield();
  }
}

void Writer::sync_range(std::size_t from, std::size_t to) {
  const std::size_t ps = page_size();
  const std::size_t start = from / ps * ps;
  if (to <= start) return;
  if (::msync(base_ + start, to - start, MS_SYNC) != 0) fail("cannot sync journal", path_, errno);
}

void Writer::sync_all() {
  const std::uint64_t seq = appended_.load(std::memory_order_acquire);
  const std::size_t end = end_.load(std::memory_order_acquire);
  sync_range(0, end);
  durable_.store(seq, std::memory_order_release);
}

void Writer::sync_thread() {
  std::size_t synced = 0;
  while (!stop_.load(std::memory_order_acquire)) {
    const std::uint64_t seq = appended_.load(std::memory_order_acquire);
    const std::size_t end = end_.load(std::memory_order_acquire);
    if (seq != durable_.load(std::memory_order_relaxed)) {
      try {
        sync_range(synced, end);
      } catch (const JournalError&) {
        // Not made durable: durable_ does not move (kAlways appenders keep waiting: the engine's
        // watchdog sees the exec thread stall). Retried at the next round.
        std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms_));
        continue;
      }
      synced = end;
      durable_.store(seq, std::memory_order_release);
      continue;
    }
    if (policy_ == FsyncPolicy::kAlways) {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms_));
    }
  }
}

}  // namespace cwts::journal
