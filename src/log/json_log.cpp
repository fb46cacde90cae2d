// JSON-line logging (see json_log.hpp).
#include "cwts/log/json_log.hpp"

#include <cmath>
#include <memory>
#include <stdexcept>

#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "cwts/core/decimal.hpp"
#include "cwts/core/json_string.hpp"

namespace cwts::log {

void init_json_log(const LogOptions& o) {
  spdlog::drop(o.name);
  std::shared_ptr<spdlog::logger> logger;
  if (o.async) {
    spdlog::init_thread_pool(o.queue_size, 1);
    logger = o.file.empty()
                 ? spdlog::stderr_logger_mt<spdlog::async_factory>(o.name)
                 : spdlog::basic_logger_mt<spdlog::async_factory>(o.name, o.file);
  } else {
    logger = o.file.empty() ? spdlog::stderr_logger_mt(o.name) : spdlog::basic_logger_mt(o.name, o.file);
  }
  // The pattern writes the fixed members; the message (%v) carries the rest of the object, so a
  // line is valid JSON whatever the fields are (they are escaped by append_json_string).
  logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      R"({"ts":"%Y-%m-%dT%H:%M:%S.%FZ","level":"%l",%v})", spdlog::pattern_time_type::utc));
  logger->set_level(o.level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

void shutdown_log() { spdlog::shutdown(); }

spdlog::level::level_enum parse_level(std::string_view name) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},   {"critical", spdlog::level::critical},
      {"off", spdlog::level::off}};
  for (const auto& [n, l] : kLevels) {
    if (n == name) return l;
  }
  throw std::invalid_argument("unknown log level \"" + std::string(name) +
                              "\" (trace, debug, info, warn, error, critical, off)");
}

void LogFields::key(std::string_view k) {
  out_ += ',';
  core::append_json_string(out_, k);
  out_ += ':';
}

LogFields& LogFields::str(std::string_view k, std::string_view v) {
  key(k);
  core::append_json_string(out_, v);
  return *this;
}

LogFields& LogFields::num(std::string_view k, std::int64_t v) {
  key(k);
  out_ += std::to_string(v);
  return *this;
}

LogFields& LogFields::unum(std::string_view k, std::uint64_t v) {
  key(k);
  out_ += std::to_string(v);
  return *this;
}

LogFields& LogFields::real(std::string_view k, double v) {
  key(k);
  if (std::isfinite(v)) {
    char buf[32];
    const int n = std::snprintf(buf, sizeof buf, "%.17g", v);
    out_.append(buf, static_cast<std::size_t>(n));
  } else {
    out_ += "null";
  }
  return *this;
}

LogFields& LogFields::boolean(std::string_view k, bool v) {
  key(k);
  out_ += v ? "true" : "false";
  return *this;
}

LogFields& LogFields::fixed(std::string_view k, std::int64_t v, int decimals) {
  key(k);
  char buf[48];
  const std::size_t n = core::format_fixed(v, decimals, buf);
  out_ += '"';
  out_.append(buf, n);
  out_ += '"';
  return *this;
}

void log_event(spdlog::level::level_enum level, std::string_view component, std::string_view event,
               const LogFields& fields) {
  std::string line = "\"component\":";
  core::append_json_string(line, component);
  line += ",\"event\":";
  core::append_json_string(line, event);
  line += fields.text();
  spdlog::log(level, "{}", line);
}

}  // namespace cwts::log
