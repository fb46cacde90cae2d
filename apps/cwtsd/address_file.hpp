// The small files beside the region that tell clients where cwtsd listens (cwts-<instance>.control,
// cwts-<instance>.gateway). docs/operations.md.
#pragma once

#include <string>
#include <string_view>

namespace cwts::daemon {

// Writes `text` to `path` whole or not at all: into a temporary file beside it, then renamed over
// it, so a client that polls for `path` never reads it empty or half written. "" on success, else
// why not (the caller logs it; `path` is then left as it was).
[[nodiscard]] std::string publish_file(const std::string& path, std::string_view text);

}  // namespace cwts::daemon
