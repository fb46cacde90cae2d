// cwts-sim: command line of the Binance-compatible loopback venue (see docs/cwts_sim.md).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "cwts/cli/cli.hpp"
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

constexpr const char* kFooter =
    "Input: --capture FILE... or --synthetic SYM,SYM... The keys also come from CWTS_SIM_API_KEY "
    "/\n"
    "CWTS_SIM_API_SECRET. Prints one ready line on stdout (\"cwts-sim ready on HOST:PORT\"), JSON\n"
    "log lines on stderr; SIGTERM/SIGINT stop it with exit status 0. Exit status 2: a usage "
    "error,\n"
    "or the server could not start. docs/cwts_sim.md.\n";

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

// --listen HOST:PORT
std::string check_listen(const std::string& v) {
  const std::size_t colon = v.rfind(':');
  if (colon == std::string::npos) return "HOST:PORT, not '" + v + "'";
  std::uint16_t port = 0;
  if (!CLI::detail::lexical_cast(v.substr(colon + 1), port)) return "bad port in '" + v + "'";
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  using cwts::sim_server::SimServerConfig;
  SimServerConfig cfg;
  cfg.exchange_info_path = default_exchange_info();
  if (const char* k = std::getenv("CWTS_SIM_API_KEY")) cfg.api_key = k;
  if (const char* s = std::getenv("CWTS_SIM_API_SECRET")) cfg.api_secret = s;
  std::string log_level = "info";
  std::string listen;
  std::vector<std::string> synthetic;
  std::int64_t ping_ms = cfg.ping_interval.count(), pong_ms = cfg.pong_timeout.count();
  std::int64_t max_age_ms = -1, skip_update_ids = 0;
  std::int64_t delay_ms = 0, delay_count = 1, http_status = 0, http_count = 1;
  std::vector<std::string> one_shot;  // members of the start-up fault JSON

  CLI::App app("cwts-sim: a Binance-compatible venue on loopback (REST, streams, WebSocket API)",
               "cwts-sim");
  cwts::cli::setup(app);
  const auto& nn = cwts::cli::non_negative();
  app.add_option("--listen", listen, "Where to listen (port 0: any free port; default 127.0.0.1:0)")
      ->type_name("HOST:PORT")
      ->check(CLI::Validator(check_listen, ""));
  app.add_option("--exchange-info", cfg.exchange_info_path, "exchangeInfo body (plain or .gz)")
      ->type_name("FILE");
  app.add_option("--capture", cfg.captures, "Replay these captures")
      ->type_name("FILE")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--synthetic", synthetic, "Generate streams for these symbols")
      ->type_name("SYM,SYM")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--speed", cfg.speed, "Capture replay speed (0: as fast as possible; default 1)")
      ->type_name("X")
      ->check(nn);
  app.add_flag("--loop", cfg.loop, "Replay the captures forever");
  app.add_flag("--rebase-time", cfg.rebase_time, "Shift the captures' times to start now");
  app.add_option("--rate", cfg.rate, "Synthetic events per second, all symbols (default 1000)")
      ->type_name("N");
  app.add_option("--seed", cfg.seed, "Synthetic generator seed (default 1)")->type_name("N");
  app.add_option("--clock-offset-ms", cfg.clock_offset_ms, "The venue's clock = the host's + N")
      ->type_name("N");
  app.add_option("--api-key", cfg.api_key, "The account's API key")->type_name("K");
  app.add_option("--api-secret", cfg.api_secret, "The account's API secret")->type_name("S");
  app.add_option("--balance", cfg.balances, "Starting balances (default USDT=10000,BTC=1)")
      ->type_name("A=N,...");
  app.add_flag("--bnb-fees", cfg.bnb_fees,
               "Commissions in BNB at 25% off when free BNB covers them");
  app.add_option("--ping-interval-ms", ping_ms, "WebSocket ping interval (> 0; default 20000)")
      ->type_name("N");
  app.add_option("--pong-timeout-ms", pong_ms, "Close a WebSocket without pong (default 60000)")
      ->type_name("N");
  app.add_option("--ws-msg-limit", cfg.ws_incoming_limit,
                 "Incoming WebSocket messages per second (default 5)")
      ->type_name("N");
  app.add_option("--weight-limit", cfg.request_weight_limit,
                 "REQUEST_WEIGHT per minute (default: exchangeInfo's)")
      ->type_name("N");
  app.add_option("--fault", cfg.fault_json, "A fault at start, as POST /_sim/fault takes")
      ->type_name("JSON");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error (default info)")
      ->type_name("LEVEL");
  app.add_option("--drop-every-ms", cfg.drop_every_ms, "Drop every connection each N ms")
      ->type_name("N")
      ->check(nn);
  app.add_option("--stall-ms", cfg.stall_ms, "Streams stall N ms (with --stall-every-ms)")
      ->type_name("N")
      ->check(nn);
  app.add_option("--stall-every-ms", cfg.stall_every_ms, "... every N ms")
      ->type_name("N")
      ->check(nn);
  app.add_option("--skip-update-ids", skip_update_ids, "One gap of N depth update ids")
      ->type_name("N")
      ->check(nn);
  app.add_option("--delay-ms", delay_ms, "Delay the next REST responses N ms")
      ->type_name("N")
      ->check(nn);
  app.add_option("--delay-count", delay_count, "... that many of them (default 1)")
      ->type_name("N")
      ->check(nn);
  app.add_option("--http-status", http_status, "Answer the next REST requests with CODE")
      ->type_name("CODE")
      ->check(CLI::Range(400, 599).description(""));
  app.add_option("--http-count", http_count, "... that many of them (default 1)")
      ->type_name("N")
      ->check(nn);
  app.add_option("--server-shutdown-after-ms", cfg.server_shutdown_after_ms,
                 "Send serverShutdown on the streams once, after N ms")
      ->type_name("N")
      ->check(nn);
  app.add_option("--max-connection-age-ms", max_age_ms,
                 "Close connections at this age (default 24 h)")
      ->type_name("N")
      ->check(nn);
  app.footer(kFooter);
  if (const auto rc = cwts::cli::parse(app, argc, argv)) return *rc;

  try {
    if (!listen.empty()) {
      const std::size_t colon = listen.rfind(':');
      cfg.listen_host = listen.substr(0, colon);
      cfg.listen_port = static_cast<std::uint16_t>(std::stoul(listen.substr(colon + 1)));
    }
    for (const auto& s : synthetic) {
      for (auto& sym : split_commas(s)) cfg.synthetic.push_back(sym);
    }
    cfg.ping_interval = std::chrono::milliseconds(ping_ms);
    cfg.pong_timeout = std::chrono::milliseconds(pong_ms);
    if (max_age_ms >= 0) cfg.max_connection_age = std::chrono::milliseconds(max_age_ms);
    if (app.count("--skip-update-ids") > 0)
      one_shot.emplace_back("\"skip_update_ids\":" + std::to_string(skip_update_ids));
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
    std::fprintf(stderr, "cwts-sim: %s\n", e.what());
    return 2;
  }
  cwts::sim_server::log_event(spdlog::level::info, "server", "exit");
  return 0;
}
