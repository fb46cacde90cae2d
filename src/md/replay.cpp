// Capture replay: the same parse → book → sink path as a live feed, driven from a file.
#include "cwts/md/replay.hpp"

#include <cstring>
#include <stdexcept>

#include "cwts/md/capture_reader.hpp"

namespace cwts::md {

ReplayStats replay_capture(const std::string& path, Pipeline& pipeline,
                           const MalformedHandler& on_malformed) {
  CaptureReader reader(path);
  ReplayStats st;
  char context[16] = {};
  std::size_t context_len = 0;
  std::int64_t ts = 0;
  std::string_view payload;
  for (;;) {
    const auto status = reader.next(ts, payload);
    if (status == CaptureReader::Status::kEnd) break;
    if (status == CaptureReader::Status::kError) {
      throw std::runtime_error("capture " + path + ": read error at line " +
                               std::to_string(reader.line_number() + 1));
    }
    ++st.lines;
    if (status == CaptureReader::Status::kMalformed) {
      ++st.malformed;
      if (on_malformed) on_malformed(reader.line_number(), "no '<receive ns> <payload>' framing");
      continue;
    }
    const ParseErrc rc = pipeline.on_frame(ts, payload, std::string_view(context, context_len));
    if (rc != ParseErrc::kOk) {
      ++st.malformed;
      if (on_malformed) on_malformed(reader.line_number(), to_string(rc));
      continue;
    }
    ++st.frames;
    const auto sym = pipeline.last_frame().symbol_view();
    if (!sym.empty()) {
      context_len = sym.size();
      std::memcpy(context, sym.data(), context_len);
    }
  }
  return st;
}

}  // namespace cwts::md
