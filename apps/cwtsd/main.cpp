// cwtsd: the CWTS Ultra engine daemon. main() parses the command line and the configuration,
// starts the engine (md and exec threads) and then becomes the ctl thread (ctl/ctl_thread.hpp).
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "config/config.hpp"
#include "ctl/ctl_thread.hpp"
#include "ctl/systemd.hpp"
#include "cwts/cli/cli.hpp"
#include "cwts/log/json_log.hpp"
#include "cwts/shm_layout/layout.hpp"
#include "engine.hpp"
#include "gateway/gateway.hpp"

namespace {

using cwts::daemon::Config;
using cwts::daemon::ConfigError;
using cwts::log::log_event;
using cwts::log::LogFields;

constexpr const char* kFooter =
    "Exit status: 0 (--check-config: FILE is valid), 2 on a usage or configuration error (the key\n"
    "and the reason), 1 if the engine fails at run time.\n"
    "Signals: SIGTERM/SIGINT stop cleanly (exit 0); SIGHUP reloads risk limits, slot policies and\n"
    "the log level from FILE.\n";

int config_error(const ConfigError& e) {
  std::fprintf(stderr, "cwtsd: config error: %s\n", e.what());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  CLI::App app("cwtsd: the CWTS Ultra engine daemon", "cwtsd");
  char layout[96];
  std::snprintf(layout, sizeof layout, "(shared-memory layout version %u, hash %016llx)",
                static_cast<unsigned>(cwts::layout::kLayoutVersion),
                static_cast<unsigned long long>(cwts::layout::kLayoutHash));
  cwts::cli::setup(app, layout);
  app.add_option("--config", config_path,
                 "The engine configuration (JSON; see docs/configuration.md)")
      ->type_name("FILE");
  app.add_flag("--check-config", check_only,
               "Validate FILE (and the credentials it names), then exit: 0 if it is\n"
               "valid, 2 with the key and the reason if not");
  app.footer(kFooter);
  if (const auto rc = cwts::cli::parse(app, argc, argv)) return *rc;
  // Checked here, not by CLI11 (->required()): its requirement check comes before the unknown
  // flags, which would then go unnamed.
  if (config_path.empty()) return cwts::cli::usage_error(app, "--config FILE is required");

  Config cfg;
  std::optional<cwts::daemon::Credentials> creds;
  std::string control_token;
  std::vector<cwts::daemon::ControlToken> control_tokens;
  std::optional<cwts::daemon::Credentials> gateway_creds;
  try {
    cfg = cwts::daemon::load_config(config_path);
    if (cfg.venue.kind == cwts::daemon::VenueKind::kBinance) {
      creds = cwts::daemon::load_credentials(cfg.venue);
    }
    control_token = cwts::daemon::load_control_token(cfg.control);
    control_tokens = cwts::daemon::load_control_tokens(cfg.control);
    if (cfg.control.enabled) cwts::daemon::check_control_tls(cfg.control);
    if (cfg.gateway.enabled) gateway_creds = cwts::daemon::load_gateway_credentials(cfg.gateway);
  } catch (const ConfigError& e) {
    return config_error(e);
  }
  if (check_only) {
    std::printf("cwtsd: %s is valid (%zu symbols, venue %s)\n", config_path.c_str(),
                cfg.market.symbols.size(),
                cfg.venue.kind == cwts::daemon::VenueKind::kBinance ? "binance" : "paper");
    return 0;
  }

  cwts::log::LogOptions lo;
  lo.name = "cwtsd";
  lo.level = cwts::log::parse_level(cfg.log.level);
  lo.file = cfg.log.file;
  lo.async = true;
  lo.queue_size = cfg.log.queue_size;
  cwts::log::init_json_log(lo);

  cwts::daemon::Notifier notifier;
  int exit_code = 0;
  try {
    log_event(
        spdlog::level::info, "ctl", "starting",
        LogFields()
            .str("version", cwts::cli::kVersion)
            .str("config", config_path)
            .str("instance", cfg.region.instance)
            .str("venue", cfg.venue.kind == cwts::daemon::VenueKind::kBinance ? "binance" : "paper")
            .str("rest_url", cfg.venue.rest_url)
            .str("ws_url", cfg.venue.ws_url));
    cwts::daemon::Engine engine(cfg, std::move(creds));
    creds.reset();
    std::optional<cwts::daemon::Gateway> gateway;
    if (gateway_creds) gateway.emplace(cfg, engine, std::move(*gateway_creds));
    gateway_creds.reset();
    engine.start();
    if (gateway) gateway->start();
    cwts::daemon::pin_current_thread("cwtsd", cfg.ctl_thread);

    {
      cwts::daemon::CtlThread ctl(engine, cfg, config_path, control_token,
                                  std::move(control_tokens), notifier);
      // At SIGTERM the gateway stops first (no new order enters while the exec thread settles the
      // open ones), then the engine's trading, while the control plane still relays the final
      // reports to remote strategies.
      ctl.run([&] {
        if (gateway) gateway->stop();
        engine.stop_trading();
      });
    }
    if (gateway) gateway->stop();
    engine.stop();
    log_event(spdlog::level::info, "ctl", "exit", LogFields().num("status", 0));
  } catch (const ConfigError& e) {
    log_event(spdlog::level::critical, "ctl", "config_error",
              LogFields().str("key", e.key()).str("reason", e.reason()));
    exit_code = config_error(e);
  } catch (const std::exception& e) {
    log_event(spdlog::level::critical, "ctl", "startup_failed", LogFields().str("error", e.what()));
    std::fprintf(stderr, "cwtsd: %s\n", e.what());
    exit_code = 1;
  }
  cwts::log::shutdown_log();
  return exit_code;
}
