// Replaying capture files through the live market-data pipeline.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "cwts/md/pipeline.hpp"

namespace cwts::md {

struct ReplayStats {
  std::uint64_t lines = 0;
  std::uint64_t frames = 0;     // lines that parsed
  std::uint64_t malformed = 0;  // bad framing or bad payload
};

// Called for each malformed line with its 1-based number and a reason.
using MalformedHandler = std::function<void(std::uint64_t line, std::string_view reason)>;

// Feeds every line of `path` (plain or gzip) through `pipeline`. A bare REST snapshot belongs to
// the symbol most recently seen in the same file (captures hold one symbol per file), or before
// any, to the symbol that names the file (`<SYMBOL>-…`, as CaptureWriter names them). Throws
// std::runtime_error if the file cannot be read.
ReplayStats replay_capture(const std::string& path, Pipeline& pipeline,
                           const MalformedHandler& on_malformed = {});

}  // namespace cwts::md
