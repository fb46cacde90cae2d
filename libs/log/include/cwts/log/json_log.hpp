// JSON-line logging shared by cwtsd and cwts-sim: one object per line with `ts` (RFC 3339 UTC,
// nanoseconds), `level`, `component`, `event` and the event's fields. See docs/logging.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <spdlog/common.h>

namespace cwts::log {

struct LogOptions {
  std::string name = "cwts";
  spdlog::level::level_enum level = spdlog::level::info;
  std::string file;               // "" = stderr
  bool async = false;             // spdlog's async logger: formatting and writing on its own thread
  std::size_t queue_size = 8192;  // async: records queued before the caller blocks
};

// Installs the process-wide default logger. Start-up code; call once (again after shutdown()).
void init_json_log(const LogOptions& options);
// Flushes and drops every logger (the async worker stops). Call before exit.
void shutdown_log();
// Parses "trace".."off"; throws std::invalid_argument on anything else.
[[nodiscard]] spdlog::level::level_enum parse_level(std::string_view name);

// Builds the optional fields of one log line. Not thread-safe (one per log call).
class LogFields {
 public:
  LogFields& str(std::string_view k, std::string_view v);
  LogFields& num(std::string_view k, std::int64_t v);
  LogFields& unum(std::string_view k, std::uint64_t v);
  LogFields& real(std::string_view k, double v);
  LogFields& boolean(std::string_view k, bool v);
  // A fixed-point value (price/qty at `decimals`) written as a JSON string, exactly.
  LogFields& fixed(std::string_view k, std::int64_t v, int decimals);
  [[nodiscard]] const std::string& text() const noexcept { return out_; }

 private:
  void key(std::string_view k);
  std::string out_;  // ,"k":v pairs
};

// Any thread. Not for hot paths: it formats (and, unless async, writes).
void log_event(spdlog::level::level_enum level, std::string_view component, std::string_view event,
               const LogFields& fields = {});

}  // namespace cwts::log
