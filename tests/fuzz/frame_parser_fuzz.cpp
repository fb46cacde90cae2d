// libFuzzer target: arbitrary bytes through the frame parser and, when they parse, the book sync.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cwts/md/pipeline.hpp"

namespace {
cwts::md::Pipeline& pipeline() {
  static cwts::md::Pipeline p;
  return p;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  auto& p = pipeline();
  const auto rc = p.on_frame(0, payload, "FUZZUSDT");
  const auto& f = p.last_frame();
  // Invariants: an error leaves no frame kind; a parsed depth frame has ordered ids.
  if (rc != cwts::md::ParseErrc::kOk && f.kind != cwts::md::FrameKind::kUnknown) __builtin_trap();
  if (rc == cwts::md::ParseErrc::kOk && f.kind == cwts::md::FrameKind::kDepthUpdate &&
      f.depth.first_id > f.depth.last_id) {
    __builtin_trap();
  }
  for (std::size_t i = 0; i < p.symbol_count(); ++i) {
    const auto& s = p.symbol(i);
    // A valid book is never crossed.
    if (s.sync.valid() && s.sync.book().crossed()) __builtin_trap();
  }
  return 0;
}
