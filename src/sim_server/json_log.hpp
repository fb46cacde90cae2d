// JSON-line logging for cwts-sim: one object per line on stderr (ts, level, component, event, fields).
#pragma once

#include <string>
#include <string_view>

#include <spdlog/common.h>

#include "cwts/sim/json_writer.hpp"

namespace cwts::sim_server {

// Installs the process-wide logger (stderr, UTC timestamps). Start-up code; call once.
void init_json_log(spdlog::level::level_enum level = spdlog::level::info);

// Builds the optional fields of one log line. Not thread-safe (one per log call).
class LogFields {
 public:
  LogFields& str(std::string_view k, std::string_view v);
  LogFields& num(std::string_view k, std::int64_t v);
  [[nodiscard]] const std::string& text() const noexcept { return out_; }

 private:
  std::string out_;  // ,"k":v pairs
};

// Any thread (spdlog's _mt sink). Not for hot paths: it formats and locks.
void log_event(spdlog::level::level_enum level, std::string_view component, std::string_view event,
               const LogFields& fields = {});

}  // namespace cwts::sim_server
