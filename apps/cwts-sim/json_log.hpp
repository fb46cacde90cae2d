// JSON-line logging for cwts-sim: the project's cwts::log (one object per line on stderr).
#pragma once

#include <spdlog/common.h>

#include "cwts/log/json_log.hpp"

namespace cwts::sim_server {

using log::log_event;
using log::LogFields;

// Installs the process-wide logger (stderr, synchronous: cwts-sim logs little). Call once.
inline void init_json_log(spdlog::level::level_enum level = spdlog::level::info) {
  log::LogOptions o;
  o.name = "cwts-sim";
  o.level = level;
  log::init_json_log(o);
}

}  // namespace cwts::sim_server
