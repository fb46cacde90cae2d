// cwtsd: the CWTS Ultra engine daemon. The main thread is the ctl thread: signals, systemd
// notifications and the watchdog, status lines, config reload, and draining the hot threads' log.
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

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "cwts/daemon/config.hpp"
#include "cwts/daemon/control_api.hpp"
#include "cwts/daemon/control_server.hpp"
#include "cwts/daemon/engine.hpp"
#include "cwts/engine/validator.hpp"
#include "cwts/daemon/systemd.hpp"
#include "cwts/log/json_log.hpp"
#include "cwts/shm_layout/layout.hpp"

#ifndef CWTS_VERSION
#define CWTS_VERSION "0.1.0"
#endif

namespace {

namespace asio = boost::asio;
using cwts::daemon::Config;
using cwts::daemon::ConfigError;
using cwts::log::LogFields;
using cwts::log::log_event;

constexpr const char* kUsage =
    "usage: cwtsd --config FILE [--check-config]\n"
    "       cwtsd --version | --help\n"
    "\n"
    "  --config FILE    the engine configuration (JSON; see docs/configuration.md)\n"
    "  --check-config   parse and validate FILE (and the API credentials it names), then exit:\n"
    "                   status 0 if it is valid, 2 with the key and the reason if not\n"
    "  --version        print the version and the shared-memory layout version and hash\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop cleanly (exit 0); SIGHUP reloads risk limits, slot policies and\n"
    "the log level from FILE.\n";

std::int64_t realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

int config_error(const ConfigError& e) {
  std::fprintf(stderr, "cwtsd: config error: %s\n", e.what());
  return 2;
}

std::string status_line(const cwts::daemon::EngineSnapshot& s) {
  static constexpr const char* kStates[] = {"active", "halted", "reduce-only"};
  const auto st = static_cast<std::size_t>(s.trading_state);
  return "books " + std::to_string(s.books_valid) + "/" + std::to_string(s.symbols) +
         " valid, " + std::to_string(s.frames) + " frames, signals " +
         std::to_string(s.signals_accepted) + " accepted / " + std::to_string(s.signals_rejected) +
         " rejected, " + std::to_string(s.orders_sent) + " orders, " + std::to_string(s.fills) +
         " fills, " + (st < 3 ? kStates[st] : "?") + (s.venue_ready ? "" : ", venue not ready");
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--version") {
      std::printf("cwtsd %s (shared-memory layout version %u, hash %016llx)\n", CWTS_VERSION,
                  static_cast<unsigned>(cwts::layout::kLayoutVersion),
                  static_cast<unsigned long long>(cwts::layout::kLayoutHash));
      return 0;
    }
    if (a == "--check-config") {
      check_only = true;
    } else if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else {
      std::fprintf(stderr, "cwtsd: unknown or incomplete option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "cwtsd: --config FILE is required\n%s", kUsage);
    return 2;
  }

  Config cfg;
  std::optional<cwts::daemon::Credentials> creds;
  std::string control_token;
  try {
    cfg = cwts::daemon::load_config(config_path);
    if (cfg.venue.kind == cwts::daemon::VenueKind::kBinance) {
      creds = cwts::daemon::load_credentials(cfg.venue);
    }
    control_token = cwts::daemon::load_control_token(cfg.control);
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
    log_event(spdlog::level::info, "ctl", "starting",
              LogFields()
                  .str("version", CWTS_VERSION)
                  .str("config", config_path)
                  .str("instance", cfg.region.instance)
                  .str("venue", cfg.venue.kind == cwts::daemon::VenueKind::kBinance ? "binance" : "paper")
                  .str("rest_url", cfg.venue.rest_url)
                  .str("ws_url", cfg.venue.ws_url));
    cwts::daemon::Engine engine(cfg, std::move(creds));
    creds.reset();
    engine.start();
    cwts::daemon::pin_current_thread("cwtsd", cfg.ctl_thread);

    asio::io_context ioc;
    Config live_cfg = cfg;  // what risk.set / halt / resume change; a SIGHUP reload replaces it
    cwts::daemon::ControlApi api(engine, live_cfg, cfg.control.read_only_open);
    asio::signal_set stop_signals(ioc, SIGTERM, SIGINT);
    asio::signal_set hup(ioc, SIGHUP);
    const bool test_hooks = std::getenv("CWTSD_TEST_HOOKS") != nullptr;
    asio::signal_set usr1(ioc);
    if (test_hooks) usr1.add(SIGUSR1);

    bool ready = false;
    bool stopping = false;
    std::int64_t last_watchdog = 0;
    std::int64_t last_status = 0;
    std::int64_t last_stats = 0;
    std::vector<std::string> report_notes;
    auto last_state = cwts::layout::TradingState::kActive;
    std::string last_status_text;
    const std::int64_t progress_ns =
        static_cast<std::int64_t>(cfg.systemd.progress_timeout_ms) * 1'000'000;
    const std::int64_t watchdog_ns =
        notifier.watchdog_period().count() > 0 ? notifier.watchdog_period().count() * 1000 / 2 : 0;
    bool progress_reported = true;

    stop_signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      stopping = true;
      log_event(spdlog::level::info, "ctl", "stop_requested", LogFields().num("signal", sig));
      notifier.stopping("stopping");
      ioc.stop();
    });
    std::function<void()> arm_hup = [&] {
      hup.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        try {
          Config next = cwts::daemon::load_config(config_path);
          engine.reload(next);
          live_cfg.risk = next.risk;
          live_cfg.risk_overrides = next.risk_overrides;
          live_cfg.slots = next.slots;
          live_cfg.default_slot = next.default_slot;
          spdlog::set_level(cwts::log::parse_level(next.log.level));
          log_event(spdlog::level::info, "ctl", "config_reloaded",
                    LogFields().str("config", config_path).str("log_level", next.log.level));
        } catch (const std::exception& e) {
          log_event(spdlog::level::err, "ctl", "config_reload_failed",
                    LogFields().str("config", config_path).str("error", e.what()));
        }
        arm_hup();
      });
    };
    arm_hup();
    std::function<void()> arm_usr1 = [&] {
      usr1.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        log_event(spdlog::level::warn, "ctl", "test_hook_stall_md", LogFields().num("ms", 3000));
        engine.stall_md_for(3000);
        arm_usr1();
      });
    };
    if (test_hooks) arm_usr1();

    // The control plane: GET /metrics, /healthz, /readyz (docs/operations.md#control-plane).
    std::unique_ptr<cwts::daemon::ControlServer> control;
    std::string control_file;
    if (cfg.control.enabled) {
      control = std::make_unique<cwts::daemon::ControlServer>(
          ioc, cfg.control.address, cfg.control.port, [&](const std::string& target) {
            cwts::daemon::HttpResponse r;
            const std::string path = target.substr(0, target.find('?'));
            if (path == "/metrics") {
              r.content_type = "text/plain; version=0.0.4; charset=utf-8";
              r.body = engine.metrics_text(realtime_ns());
            } else if (path == "/healthz") {
              // Alive = both hot threads still loop (the watchdog's criterion).
              const bool alive = engine.progressing(realtime_ns(), progress_ns);
              r.status = alive ? 200 : 503;
              r.body = alive ? "ok\n" : "stalled: a hot thread stopped making progress\n";
            } else if (path == "/readyz") {
              const std::string why = engine.not_ready_reason();
              r.status = why.empty() ? 200 : 503;
              r.body = why.empty() ? "ready\n" : "not ready: " + why + "\n";
            } else {
              r.status = 404;
              r.body = "not found: GET /metrics, /healthz or /readyz\n";
            }
            return r;
          },
          [&](std::string_view message, cwts::daemon::RpcClient& client) { return api.handle(message, client); },
          control_token);
      const std::string where = cfg.control.address + ":" + std::to_string(control->port());
      control_file = cfg.region.shm_dir + "/cwts-" + cfg.region.instance + ".control";
      if (std::FILE* f = std::fopen(control_file.c_str(), "w")) {
        std::fprintf(f, "%s\n", where.c_str());
        std::fclose(f);
      } else {
        control_file.clear();
      }
      log_event(spdlog::level::info, "ctl", "control_listening",
                LogFields().str("address", cfg.control.address).num("port", control->port()).str("file", control_file));
    }

    asio::steady_timer tick(ioc);
    std::function<void()> arm_tick = [&] {
      tick.expires_after(std::chrono::milliseconds(50));
      tick.async_wait([&](const boost::system::error_code& ec) {
        if (ec) return;
        engine.hot_log().drain();
        const std::int64_t now = realtime_ns();
        const auto snap = engine.snapshot();
        auto alert = [&](std::string_view what, std::string_view detail) {
          if (control) control->broadcast("alerts", cwts::daemon::ControlApi::alert_notification(what, detail, now));
        };
        if (control) {
          report_notes.clear();
          api.poll_reports(report_notes);
          for (const auto& n : report_notes) control->broadcast("reports", n);
        }
        if (control && now - last_stats >= 1'000'000'000LL) {
          last_stats = now;
          if (control->rpc_clients() > 0) control->broadcast("stats", api.stats_notification(now));
        }
        if (snap.trading_state != last_state) {
          last_state = snap.trading_state;
          alert("trading_state", cwts::engine::to_string(snap.trading_state));
        }
        if (!ready && snap.books_valid == snap.symbols && snap.venue_ready) {
          alert("ready", "every book synced, venue connected");
          ready = true;
          notifier.ready(status_line(snap));
          log_event(spdlog::level::info, "ctl", "ready",
                    LogFields().unum("symbols", snap.symbols).str("market_region", engine.market_path()));
        }
        const bool progress = engine.progressing(now, progress_ns);
        if (progress != progress_reported) {
          progress_reported = progress;
          alert(progress ? "threads_progressing" : "threads_stalled", "");
          log_event(progress ? spdlog::level::info : spdlog::level::err, "ctl",
                    progress ? "threads_progressing" : "threads_stalled",
                    LogFields()
                        .num("md_age_ms", (now - snap.md_heartbeat_ns) / 1'000'000)
                        .num("exec_age_ms", (now - snap.exec_heartbeat_ns) / 1'000'000));
        }
        // WATCHDOG=1 only while both hot threads make progress: a stalled thread lets systemd's
        // watchdog fire and restart the service.
        if (ready && progress && watchdog_ns > 0 && now - last_watchdog >= watchdog_ns) {
          last_watchdog = now;
          notifier.watchdog();
        }
        if (now - last_status >= 1'000'000'000LL) {
          last_status = now;
          std::string text = status_line(snap);
          if (text != last_status_text) {
            notifier.status(text);
            last_status_text = std::move(text);
          }
        }
        arm_tick();
      });
    };
    arm_tick();
    ioc.run();
    (void)stopping;
    if (control) control->stop();
    if (!control_file.empty()) std::remove(control_file.c_str());
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
