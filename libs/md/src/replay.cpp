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
  // Files written by CaptureWriter are named <SYMBOL>-...: a snapshot that opens a rotated file
  // belongs to that symbol even before any symbol-bearing frame.
  {
    const auto slash = path.find_last_of('/');
    const std::string_view name =
        std::string_view(path).substr(slash == std::string::npos ? 0 : slash + 1);
    const auto dash = name.find('-');
    const std::string_view prefix = name.substr(0, dash);
    bool ok = dash != std::string_view::npos && !prefix.empty() && prefix.size() < sizeof context;
    for (char c : prefix) ok = ok && ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
    if (ok) {
      std::memcpy(context, prefix.data(), prefix.size());
      context_len = prefix.size();
    }
  }
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
