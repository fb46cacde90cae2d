// The durable order journal: an append-only file of checksummed records (docs/journal.md).
//
// Writer: the exec thread appends with a memcpy into a shared file mapping (no syscall, no lock,
// no allocation): a record is in the kernel's page cache, and so survives the process being
// killed, as soon as append() returns. The journal thread makes it durable on disk per policy
// (msync): never (kNone: the kernel's own writeback, ~30 s), every interval_ms (kInterval), or at
// once with the appender waiting for it (kAlways: wait_durable()). The file is allocated in full
// when created, so an append never grows it; a full journal refuses appends (0) and the engine
// refuses new orders rather than send one it could not record.
//
// Record (8-byte aligned):   u32 size | u32 crc32c | u64 seq | u16 type | u16 0 | u32 0 | payload
// The CRC covers seq, type and the payload. seq is 1, 2, 3, ... without a gap. A reader stops at
// the first record that is zero, runs past the end, fails its CRC or breaks the sequence: that is
// the torn tail of a crash, reported and ignored.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>

namespace cwts::journal {

enum class FsyncPolicy : std::uint8_t { kNone, kInterval, kAlways };

class JournalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr char kMagic[8] = {'C', 'W', 'T', 'S', 'J', 'N', 'L', '1'};
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::size_t kFileHeaderBytes = 64;
inline constexpr std::size_t kRecordHeaderBytes = 24;
inline constexpr std::uint32_t kMaxPayload = 4096;

struct FileHeader {
  char magic[8];
  std::uint32_t version;
  std::uint32_t header_bytes;
  std::int64_t created_ns;
  std::uint64_t capacity;  // file size in bytes
  std::uint8_t reserved[32];
};
static_assert(sizeof(FileHeader) == kFileHeaderBytes);

struct RecordHeader {
  std::uint32_t size;  // payload bytes
  std::uint32_t crc;
  std::uint64_t seq;
  std::uint16_t type;
  std::uint16_t reserved0;
  std::uint32_t reserved1;
};
static_assert(sizeof(RecordHeader) == kRecordHeaderBytes);

[[nodiscard]] std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t n) noexcept;

// Bytes one record of `payload` bytes takes in the file.
[[nodiscard]] constexpr std::size_t record_bytes(std::size_t payload) noexcept {
  return kRecordHeaderBytes + ((payload + 7) & ~std::size_t{7});
}

struct ReadResult {
  std::uint64_t records = 0;
  std::uint64_t last_seq = 0;
  std::size_t end_offset = 0;  // where the valid records end
  std::size_t torn_bytes = 0;  // non-zero bytes after them (a torn tail), ignored
};

// Reads a journal file, calling `on_record(type, seq, payload)` for each valid record in order.
// A missing file is an empty journal. Throws JournalError for a file that is not a journal (bad
// magic or version) or cannot be read.
using RecordFn =
    std::function<void(std::uint16_t type, std::uint64_t seq, std::span<const std::byte> payload)>;
ReadResult read_journal(const std::string& path, const RecordFn& on_record);

// A record's payload as the fixed-size struct T; false (out untouched) if the size differs.
template <class T>
[[nodiscard]] bool payload_as(std::span<const std::byte> p, T& out) noexcept {
  if (p.size() != sizeof(T)) return false;
  std::memcpy(&out, p.data(), sizeof(T));
  return true;
}

class Writer {
 public:
  // Creates (replacing) `path`, allocated to `capacity` bytes. Throws JournalError (with errno's
  // text) when it cannot: no space, no permission.
  Writer(std::string path, std::size_t capacity, FsyncPolicy policy, std::uint32_t interval_ms);
  ~Writer();  // a last sync, then unmaps
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Appender thread only. The record's seq, or 0 when the journal is full (nothing written).
  std::uint64_t append(std::uint16_t type, const void* payload, std::uint32_t size) noexcept;
  template <class T>
  std::uint64_t append(const T& rec) noexcept {
    return append(static_cast<std::uint16_t>(T::kType), &rec, sizeof(T));
  }
  // Appender thread: whether `n` more records of up to `payload` bytes each still fit.
  [[nodiscard]] bool has_room(std::size_t n, std::size_t payload) const noexcept {
    return offset_ + n * record_bytes(payload) <= capacity_;
  }
  // kAlways: returns once record `seq` is on disk. Other policies: returns at once.
  void wait_durable(std::uint64_t seq) const noexcept;
  // Any thread: the whole file synced now (start-up snapshot, shutdown).
  void sync_all();

  [[nodiscard]] std::uint64_t last_seq() const noexcept {
    return appended_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t durable_seq() const noexcept {
    return durable_.load(std::memory_order_acquire);
  }
  [[nodiscard]] std::size_t used_bytes() const noexcept { return offset_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] FsyncPolicy policy() const noexcept { return policy_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  void sync_thread();
  void sync_range(std::size_t from, std::size_t to);

  std::string path_;
  std::size_t capacity_;
  FsyncPolicy policy_;
  std::uint32_t interval_ms_;
  int fd_ = -1;
  std::byte* base_ = nullptr;
  std::size_t offset_ = kFileHeaderBytes;  // appender thread
  std::uint64_t seq_ = 0;                  // appender thread
  // appended_: seq of the last complete record; end_: its end offset (release after the copy).
  std::atomic<std::uint64_t> appended_{0};
  std::atomic<std::size_t> end_{kFileHeaderBytes};
  std::atomic<std::uint64_t> durable_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace cwts::journal
