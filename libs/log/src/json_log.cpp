// JSON-line logging (see json_log.hpp).
#include "cwts/log/json_log.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
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

namespace {

// One JSON object per line. Lines from log_event() carry `"component":...,"event":...` already;
// anything else logged through spdlog (library code that logs plain text) is wrapped as
// {"component":"<logger>","event":"message","msg":"<text>"} so every line stays valid JSON.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(msg.time.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char ts[48];
    const int n = std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ",
                                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                                tm.tm_sec, static_cast<long long>(ns % 1'000'000'000));
    std::string line = "{\"ts\":\"";
    line.append(ts, static_cast<std::size_t>(n));
    line += "\",\"level\":\"";
    const auto lv = spdlog::level::to_string_view(msg.level);
    line.append(lv.data(), lv.size());
    line += "\",";
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (payload.rfind("\"component\":", 0) == 0) {
      line += payload;
    } else {
      line += "\"component\":";
      core::append_json_string(line,
                               std::string_view(msg.logger_name.data(), msg.logger_name.size()));
      line += ",\"event\":\"message\",\"msg\":";
      core::append_json_string(line, payload);
    }
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

void init_json_log(const LogOptions& o) {
  spdlog::drop(o.name);
  std::shared_ptr<spdlog::logger> logger;
  if (o.async) {
    spdlog::init_thread_pool(o.queue_size, 1);
    logger = o.file.empty() ? spdlog::stderr_logger_mt<spdlog::async_factory>(o.name)
                            : spdlog::basic_logger_mt<spdlog::async_factory>(o.name, o.file);
  } else {
    logger =
        o.file.empty() ? spdlog::stderr_logger_mt(o.name) : spdlog::basic_logger_mt(o.name, o.file);
  }
  logger->set_formatter(std::make_unique<JsonFormatter>());
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
