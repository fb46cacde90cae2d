// FrameParser: Binance market-data frames (combined or raw) and REST depth bodies → ParsedFrame.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "cwts/md/frame.hpp"

namespace cwts::md {

// simdjson On-Demand with one reused parser. Input buffers must have kPadding readable bytes past
// the payload (simdjson reads ahead); `parse_padded` requires that, `parse` copies into an internal
// padded buffer first. Malformed input returns an error code; it never throws and never leaves a
// partially filled frame marked as valid (kind stays kUnknown on error). Not thread-safe: one
// parser per thread.
class FrameParser {
 public:
  static constexpr std::size_t kPadding = 64;

  explicit FrameParser(std::size_t max_frame_bytes = 1 << 22);
  ~FrameParser();
  FrameParser(const FrameParser&) = delete;
  FrameParser& operator=(const FrameParser&) = delete;

  // `data` points at `len` bytes followed by at least kPadding readable bytes.
  [[nodiscard]] ParseErrc parse_padded(const char* data, std::size_t len,
                                       ParsedFrame& out) noexcept;

  // Copies into the parser's padded scratch buffer, then parses.
  [[nodiscard]] ParseErrc parse(std::string_view payload, ParsedFrame& out) noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cwts::md
