// CaptureWriter: records received frames and REST snapshot bodies as `<receive ns> <payload>`
// lines, one file per symbol (the framing of the shipped captures), rotated, optionally gzip.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace cwts::md {

struct CaptureOptions {
  std::string dir;                            // created if missing
  std::uint64_t rotate_bytes = 256ULL << 20;  // payload bytes per file before rotating
  std::int64_t rotate_seconds = 3600;         // file age (by receive time) before rotating
  bool gzip = false;                          // .capture.gz (zlib level 1)
  std::size_t buffer_bytes = 1 << 20;         // per-file write buffer: few syscalls per frame
};

// Files are named `<SYMBOL>-<UTC yyyymmddThhmmss>-<n>.capture[.gz]`; frames with no symbol
// (server notices, malformed frames) go to `_feed-…`. A bare REST snapshot body is written to
// its symbol's file, so each file replays on its own. md thread only; not thread-safe. I/O is
// buffered; errors are counted and reported by `failed()` rather than thrown on the data path.
class CaptureWriter {
 public:
  // Throws std::runtime_error if the directory cannot be created.
  explicit CaptureWriter(CaptureOptions opts);
  ~CaptureWriter();
  CaptureWriter(const CaptureWriter&) = delete;
  CaptureWriter& operator=(const CaptureWriter&) = delete;

  void write(std::string_view symbol, std::int64_t receive_ns, std::string_view payload) noexcept;
  void flush() noexcept;

  [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }
  [[nodiscard]] std::uint64_t files_opened() const noexcept { return files_opened_; }
  [[nodiscard]] std::uint64_t write_errors() const noexcept { return write_errors_; }

 private:
  struct File;
  File* file_for(std::string_view symbol, std::int64_t receive_ns) noexcept;
  bool open(File& f, std::int64_t receive_ns) noexcept;

  CaptureOptions opts_;
  std::unique_ptr<File[]> files_;
  std::size_t file_count_ = 0;
  std::uint64_t frames_ = 0;
  std::uint64_t files_opened_ = 0;
  std::uint64_t write_errors_ = 0;
};

}  // namespace cwts::md
