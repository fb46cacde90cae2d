// CaptureReader: reads `<receive time ns> <payload>` capture lines from plain or gzip files.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace cwts::md {

// One line at a time; the view returned stays valid until the next call. Gzip is detected by
// content, not by name. Not thread-safe.
class CaptureReader {
 public:
  enum class Status : std::uint8_t { kLine, kMalformed, kEnd, kError };

  // Throws std::runtime_error if the file cannot be opened.
  explicit CaptureReader(const std::string& path);
  ~CaptureReader();
  CaptureReader(const CaptureReader&) = delete;
  CaptureReader& operator=(const CaptureReader&) = delete;

  // kLine: `receive_ns` and `payload` are set. kMalformed: the line has no valid
  // "<digits> <payload>" framing (the line is skipped; `payload` holds the raw line).
  Status next(std::int64_t& receive_ns, std::string_view& payload);

  [[nodiscard]] std::uint64_t line_number() const noexcept { return line_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint64_t line_ = 0;
};

}  // namespace cwts::md
