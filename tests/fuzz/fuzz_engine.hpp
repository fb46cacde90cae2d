// The engine behind the daemon's fuzz targets (control_rpc, gateway_request): a paper venue on the
// recorded exchangeInfo, no market data, no order journal, regions named cwts-<prefix><pid>-*.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include <spdlog/spdlog.h>

#include "config/config.hpp"
#include "engine.hpp"

namespace cwts::fuzz {

// A run that found something exits without the engine's clean-up: its regions (and claim socket)
// stay in /dev/shm as cwts-<prefix><pid>-*. Removes those of processes that are gone.
inline void remove_stale_regions(std::string_view prefix) {
  std::error_code ec;
  const std::string full = "cwts-" + std::string(prefix);
  for (const auto& f : std::filesystem::directory_iterator("/dev/shm", ec)) {
    const std::string name = f.path().filename().string();
    if (name.rfind(full, 0) != 0) continue;
    const auto dash = name.find('-', full.size());
    if (dash == std::string::npos) continue;
    const pid_t pid =
        static_cast<pid_t>(std::atol(name.substr(full.size(), dash - full.size()).c_str()));
    if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) std::filesystem::remove(f.path(), ec);
  }
}

// The configuration: instance `prefix` + this pid; `more` adds top-level sections
// (e.g. R"("gateway": {...},)").
inline daemon::Config engine_config(std::string_view prefix, std::string_view more = {}) {
  remove_stale_regions(prefix);
  spdlog::set_level(spdlog::level::warn);  // not the info line of every rejected signal
  ::unsetenv("STATE_DIRECTORY");           // no order journal
  return daemon::parse_config(
      R"({"region": {"instance": ")" + std::string(prefix) + std::to_string(::getpid()) +
      R"(", "lock_pages": false, "hugepages": "off"},
    "venue": {"kind": "paper", "rest_url": "http://127.0.0.1:9", "ws_url": "ws://127.0.0.1:9",
              "exchange_info_file": ")" CWTS_SOURCE_DIR
      R"(/tests/data/binance/binance_spot_exchangeInfo_full_cryptofeed_2021.json.gz"},
    "market": {"symbols": ["BTCUSDT", "ETHUSDT"], "timeframes": ["1m"]},
    "threads": {"md": {"idle": "block"}, "exec": {"idle": "block"}},)" +
      std::string(more) + R"("control": {"enabled": false}})");
}

}  // namespace cwts::fuzz
