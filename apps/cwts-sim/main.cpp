// cwts-sim: command line of the Binance-compatible loopback venue (see docs/cwts_sim.md).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "json_log.hpp"
#include "sim_server.hpp"

#ifndef CWTS_SIM_DEFAULT_EXCHANGE_INFO
#define CWTS_SIM_DEFAULT_EXCHANGE_INFO ""
#endif

namespace {

// The exchange info loaded without --exchange-info: the source tree's copy in a build tree; an
// installed cwts-sim (cmake --install, the Debian package) reads the one installed beside it in
// PREFIX/share/cwts/sim/.
std::string default_exchange_info() {
  namespace fs = std::filesystem;
  const fs::path built = CWTS_SIM_DEFAULT_EXCHANGE_INFO;
  std::error_code ec;
  if (built.empty() || fs::exists(built, ec)) return built.string();
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return built.string();
  const fs::path installed =
      exe.parent_path().parent_path() / "share" / "cwts" / "sim" / built.filename();
  return fs::exists(installed, ec) ? installed.string() : built.string();
}

constexpr const char* kUsage =
    "usage: cwts-sim [--listen 127.0.0.1:PORT] [--exchange-info FILE]\n"
    "                (--capture FILE... | --synthetic SYM,SYM...) [--speed X] [--loop] "
    "[--rebase-time]\n"
    "                [--rate N]\n"
    "                [--api-key K --api-secret S] [--balance A=N,...] [--bnb-fees] [--seed N]\n"
    "                [--ping-interval-ms N] [--pong-timeout-ms N] [--ws-msg-limit N]\n"
    "                [--weight-limit N] [--fault JSON] [--log-level LEVEL]\n"
    "                [--drop-every-ms N] [--stall-ms N --stall-every-ms N] [--skip-update-ids N]\n"
    "                [--delay-ms N --delay-count N | --http-status CODE --http-count N]\n"
    "                [--server-shutdown-after-ms N] [--max-connection-age-ms N]\n"
    "                [--clock-offset-ms N]  (the venue's clock = the host's + N)\n"
    "Keys also from CWTS_SIM_API_KEY / CWTS_SIM_API_SECRET. Prints one ready line on stdout,\n"
    "JSON log lines on stderr; SIGTERM/SIGINT stop it with exit status 0.\n";

std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const std::size_t c = s.find(',');
    if (c != 0) out.emplace_back(s.substr(0, c));
    if (c == std::string_view::npos) break;
    s.remove_prefix(c + 1);
  }
  return out;
}

// A flag's integer value, >= 0; the error names the flag.
std::int64_t non_negative(std::string_view flag, const std::string& v) {
  std::size_t used = 0;
  long long n = -1;
  try {
    n = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || n < 0) {
    throw std::invalid_argument(std::string(flag) + ": '" + v + "' is not a non-negative integer");
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  using cwts::sim_server::SimServerConfig;
  SimServerConfig cfg;
  cfg.exchange_info_path = default_exchange_info();
  if (const char* k = std::getenv("CWTS_SIM_API_KEY")) cfg.api_key = k;
  if (const char* s = std::getenv("CWTS_SIM_API_SECRET")) cfg.api_secret = s;
  std::string log_level = "info";
  std::vector<std::string> one_shot;  // members of the start-up fault JSON
  std::int64_t delay_ms = 0, delay_count = 1, http_status = 0, http_count = 1;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string_view a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(std::string(a) + " needs a value");
        return argv[++i];
      };
      if (a == "--help" || a == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (a == "--listen") {
        const std::string v = value();
        const std::size_t colon = v.rfind(':');
        if (colon == std::string::npos) throw std::invalid_argument("--listen HOST:PORT");
        cfg.listen_host = v.substr(0, colon);
        const unsigned long port = std::stoul(v.substr(colon + 1));
        if (port > 65535) throw std::invalid_argument("--listen: bad port");
        cfg.listen_port = static_cast<std::uint16_t>(port);
      } else if (a == "--exchange-info") {
        cfg.exchange_info_path = value();
      } else if (a == "--capture") {
        cfg.captures.push_back(value());
        while (i + 1 < argc && std::string_view(argv[i + 1]).substr(0, 2) != "--")
          cfg.captures.emplace_back(argv[++i]);
      } else if (a == "--synthetic") {
        for (auto& s : split_commas(value())) cfg.synthetic.push_back(s);
      } else if (a == "--clock-offset-ms") {
        cfg.clock_offset_ms = std::stoll(value());
      } else if (a == "--speed") {
        cfg.speed = std::stod(value());
      } else if (a == "--loop") {
        cfg.loop = true;
      } else if (a == "--rebase-time") {
        cfg.rebase_time = true;
      } else if (a == "--rate") {
        cfg.rate = std::stod(value());
      } else if (a == "--seed") {
        cfg.seed = std::stoull(value());
      } else if (a == "--api-key") {
        cfg.api_key = value();
      } else if (a == "--api-secret") {
        cfg.api_secret = value();
      } else if (a == "--balance") {
        cfg.balances = value();
      } else if (a == "--bnb-fees") {
        cfg.bnb_fees = true;
      } else if (a == "--ping-interval-ms") {
        cfg.ping_interval = std::chrono::milliseconds(std::stoll(value()));
      } else if (a == "--pong-timeout-ms") {
        cfg.pong_timeout = std::chrono::milliseconds(std::stoll(value()));
      } else if (a == "--ws-msg-limit") {
        cfg.ws_incoming_limit = static_cast<std::uint32_t>(std::stoul(value()));
      } else if (a == "--weight-limit") {
        cfg.request_weight_limit = std::stoull(value());
      } else if (a == "--fault") {
        cfg.fault_json = value();
      } else if (a == "--drop-every-ms") {
        cfg.drop_every_ms = non_negative(a, value());
      } else if (a == "--stall-ms") {
        cfg.stall_ms = non_negative(a, value());
      } else if (a == "--stall-every-ms") {
        cfg.stall_every_ms = non_negative(a, value());
      } else if (a == "--server-shutdown-after-ms") {
        cfg.server_shutdown_after_ms = non_negative(a, value());
      } else if (a == "--max-connection-age-ms") {
        cfg.max_connection_age = std::chrono::milliseconds(non_negative(a, value()));
      } else if (a == "--skip-update-ids") {
        one_shot.emplace_back("\"skip_update_ids\":" + std::to_string(non_negative(a, value())));
      } else if (a == "--delay-ms") {
        delay_ms = non_negative(a, value());
      } else if (a == "--delay-count") {
        delay_count = non_negative(a, value());
      } else if (a == "--http-status") {
        http_status = non_negative(a, value());
        if (http_status < 400 || http_status > 599)
          throw std::invalid_argument("--http-status must be 400..599");
      } else if (a == "--http-count") {
        http_count = non_negative(a, value());
      } else if (a == "--log-level") {
        log_level = value();
      } else {
        throw std::invalid_argument("unknown option " + std::string(a));
      }
    }
    if (cfg.ping_interval.count() <= 0)
      throw std::invalid_argument("--ping-interval-ms must be > 0");
    if ((cfg.stall_ms > 0) != (cfg.stall_every_ms > 0)) {
      throw std::invalid_argument("--stall-ms and --stall-every-ms go together");
    }
    // One-shot fault flags are the same faults as --fault JSON, applied at start.
    if (delay_ms > 0)
      one_shot.emplace_back("\"delay_ms\":" + std::to_string(delay_ms) +
                            ",\"count\":" + std::to_string(delay_count));
    if (http_status > 0)
      one_shot.emplace_back("\"http_status\":" + std::to_string(http_status) +
                            ",\"count\":" + std::to_string(http_count));
    if (!one_shot.empty()) {
      if (!cfg.fault_json.empty())
        throw std::invalid_argument("--fault and the one-shot fault flags are exclusive");
      if (delay_ms > 0 && http_status > 0)
        throw std::invalid_argument(
            "--delay-ms and --http-status each take their own count: use POST /_sim/fault for "
            "both");
      std::string j = "{";
      for (std::size_t k = 0; k < one_shot.size(); ++k) j += (k ? "," : "") + one_shot[k];
      cfg.fault_json = j + "}";
    }
    cwts::sim_server::init_json_log(spdlog::level::from_str(log_level));
    cwts::sim_server::SimServer server(cfg);
    server.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cwts-sim: %s\n%s", e.what(), kUsage);
    return 2;
  }
  cwts::sim_server::log_event(spdlog::level::info, "server", "exit");
  return 0;
}
