// JSON-line logging for cwts-sim (see json_log.hpp).
#include "json_log.hpp"

#include <memory>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace cwts::sim_server {

void init_json_log(spdlog::level::level_enum level) {
  auto logger = spdlog::stderr_logger_mt("cwts-sim");
  // The pattern writes the fixed members; the message (%v) carries the rest of the object, so a
  // line is valid JSON whatever the fields are (they are escaped by JsonWriter rules).
  logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})", spdlog::pattern_time_type::utc));
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

LogFields& LogFields::str(std::string_view k, std::string_view v) {
  out_ += ',';
  sim::append_json_string(out_, k);
  out_ += ':';
  sim::append_json_string(out_, v);
  return *this;
}

LogFields& LogFields::num(std::string_view k, std::int64_t v) {
  out_ += ',';
  sim::append_json_string(out_, k);
  out_ += ':';
  out_ += std::to_string(v);
  return *this;
}

void log_event(spdlog::level::level_enum level, std::string_view component, std::string_view event,
               const LogFields& fields) {
  std::string line = "\"component\":";
  sim::append_json_string(line, component);
  line += ",\"event\":";
  sim::append_json_string(line, event);
  line += fields.text();
  spdlog::log(level, "{}", line);
}

}  // namespace cwts::sim_server
