#include "ctl/ctl_thread.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "address_file.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/log/json_log.hpp"

namespace cwts::daemon {

using core::realtime_ns;
using log::log_event;
using log::LogFields;

namespace {

std::int64_t watchdog_period_ns(const Notifier& n) {
  // Half of WatchdogSec, so one late tick never lets the watchdog fire.
  return n.watchdog_period().count() > 0 ? n.watchdog_period().count() * 1000 / 2 : 0;
}

}  // namespace

CtlThread::CtlThread(Engine& engine, const Config& cfg, std::string config_path,
                     std::string control_token, std::vector<ControlToken> tokens,
                     Notifier& notifier)
    : engine_(engine),
      cfg_(cfg),
      config_path_(std::move(config_path)),
      notifier_(notifier),
      live_cfg_(cfg),
      file_state_(cfg.risk.initial_state),
      stop_signals_(ioc_, SIGTERM, SIGINT),
      hup_(ioc_, SIGHUP),
      usr1_(ioc_),
      usr2_(ioc_),
      tick_(ioc_),
      remote_tick_(ioc_),
      api_(engine, live_cfg_, cfg.control.allow_unauthenticated_reads),
      mcp_([this](std::string_view request, RpcClient& client) {
        return api_.handle(request, client);
      }),
      supervisor_(watchdog_period_ns(notifier)),
      progress_ns_(static_cast<std::int64_t>(cfg.systemd.progress_timeout_ms) * 1'000'000) {
  arm_stop();
  arm_hup();
  if (std::getenv("CWTSD_TEST_HOOKS") != nullptr) {
    usr1_.add(SIGUSR1);
    arm_usr1();
    usr2_.add(SIGUSR2);
    arm_usr2();
  }
  if (cfg.control.enabled) open_control_plane(control_token, std::move(tokens));
  arm_tick();
}

CtlThread::~CtlThread() {
  if (stop_thread_.joinable()) stop_thread_.join();
  if (control_) control_->stop();
  if (!control_file_.empty()) std::remove(control_file_.c_str());
  if (!token_file_.empty()) std::remove(token_file_.c_str());
}

void CtlThread::run(std::function<void()> stop_trading) {
  stop_trading_ = std::move(stop_trading);
  ioc_.run();
}

void CtlThread::finish_stop() {
  // Everything the exec thread reported before it joined (the stop's cancels and refusals among
  // them) goes to the remote strategies and the report subscribers before the plane closes; the
  // last writes get a moment to leave.
  // Every report left in the slot rings goes, past the hold-back: one frame per session (what
  // a poll sends) lost the rest when more had gathered (20 signals without a report in a soak
  // with a remote strategy on a busy machine).
  if (control_) {
    report_notes_.clear();
    api_.poll_reports(report_notes_);
    for (const auto& n : report_notes_) control_->broadcast("reports", n);
    api_.final_flush_remote();
  }
  tick_.cancel();
  remote_tick_.cancel();
  linger(realtime_ns() + 1'000'000'000LL);
}

void CtlThread::linger(std::int64_t deadline_ns) {
  const bool unsent = control_ && api_.remote_unsent_bytes() > 0;
  const bool more = unsent && realtime_ns() < deadline_ns;
  auto t = std::make_shared<boost::asio::steady_timer>(
      ioc_, more ? std::chrono::milliseconds(5) : std::chrono::milliseconds(200));
  t->async_wait([this, t, more, deadline_ns](const boost::system::error_code&) {
    if (more) return linger(deadline_ns);
    ioc_.stop();
  });
}

void CtlThread::arm_stop() {
  stop_signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log_event(spdlog::level::info, "ctl", "stop_requested", LogFields().num("signal", sig));
    notifier_.stopping("stopping");
    if (!stop_trading_) return ioc_.stop();
    stopping_ = true;
    api_.remote_stopping();
    stop_thread_ = std::thread([this] {
      stop_trading_();
      boost::asio::post(ioc_, [this] { finish_stop(); });
    });
  });
}

void CtlThread::arm_hup() {
  hup_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    reload();
    arm_hup();
  });
}

void CtlThread::reload() {
  try {
    Config next = load_config(config_path_);
    auto tokens = load_control_tokens(next.control);  // before anything applies: all or nothing
    // risk.trading_state applies when the file changes it; otherwise the live state (an
    // operator's halt / resume / reduce_only) stays: a reload never undoes a halt by itself.
    const layout::TradingState in_file = next.risk.initial_state;
    if (in_file == file_state_) next.risk.initial_state = live_cfg_.risk.initial_state;
    file_state_ = in_file;
    engine_.reload(next);
    live_cfg_.risk = next.risk;
    live_cfg_.risk_overrides = next.risk_overrides;
    live_cfg_.slots = next.slots;
    live_cfg_.default_slot = next.default_slot;
    if (control_) {
      const auto clients = tokens.size();
      tokens.push_back(ControlToken{"control", control_token_, ControlScopes{true, true, 0}});
      control_->set_tokens(std::move(tokens));
      log_event(spdlog::level::info, "ctl", "control_tokens_loaded",
                LogFields().unum("tokens", clients).str("file", next.control.tokens_file));
    }
    spdlog::set_level(log::parse_level(next.log.level));
    log_event(spdlog::level::info, "ctl", "config_reloaded",
              LogFields().str("config", config_path_).str("log_level", next.log.level));
  } catch (const std::exception& e) {
    log_event(spdlog::level::err, "ctl", "config_reload_failed",
              LogFields().str("config", config_path_).str("error", e.what()));
  }
}

void CtlThread::arm_usr1() {
  usr1_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    log_event(spdlog::level::warn, "ctl", "test_hook_stall_md", LogFields().num("ms", 3000));
    engine_.stall_md_for(3000);
    arm_usr1();
  });
}

void CtlThread::arm_usr2() {
  usr2_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    remote_slow_ = !remote_slow_;
    api_.set_remote_clients_slow(remote_slow_);
    log_event(spdlog::level::warn, "ctl", "test_hook_slow_remote_clients",
              LogFields().boolean("slow", remote_slow_));
    arm_usr2();
  });
}

HttpResponse CtlThread::http_get(const std::string& target) {
  HttpResponse r;
  const std::string path = target.substr(0, target.find('?'));
  if (path == "/metrics") {
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = engine_.metrics_text(realtime_ns());
  } else if (path == "/healthz") {
    // Alive = both hot threads still loop (the watchdog's criterion).
    const bool alive = engine_.progressing(realtime_ns(), progress_ns_);
    r.status = alive ? 200 : 503;
    r.body = alive ? "ok\n" : "stalled: a hot thread stopped making progress\n";
  } else if (path == "/readyz") {
    const std::string why = engine_.not_ready_reason();
    r.status = why.empty() ? 200 : 503;
    r.body = why.empty() ? "ready\n" : "not ready: " + why + "\n";
  } else {
    r.status = 404;
    r.body = "not found: GET /metrics, /healthz or /readyz\n";
  }
  return r;
}

void CtlThread::open_control_plane(std::string token, std::vector<ControlToken> tokens) {
  // No control.token_file: a token of this run, owner-only, beside the control file (written
  // first, so a tool that finds the control file finds the token too). ADR 0018.
  if (token.empty()) {
    const std::string path = cfg_.region.shm_dir + "/cwts-" + cfg_.region.instance + ".token";
    token = write_generated_control_token(path);
    token_file_ = path;
    log_event(spdlog::level::info, "ctl", "control_token_generated",
              LogFields().str("file", token_file_));
  }
  control_token_ = token;
  tokens.push_back(ControlToken{"control", std::move(token), ControlScopes{true, true, 0}});
  ControlTls tls;
  tls.cert_file = cfg_.control.tls_cert_file;
  tls.key_file = cfg_.control.tls_key_file;
  tls.on_error = [](const std::string& peer, const std::string& reason) {
    log_event(spdlog::level::info, "ctl", "control_tls_handshake_failed",
              LogFields().str("peer", peer).str("reason", reason));
  };
  try {
    control_ = std::make_unique<ControlServer>(
        ioc_, cfg_.control, [this](const std::string& target) { return http_get(target); },
        [this](std::string_view message, RpcClient& client) {
          std::string reply = api_.handle(message, client);
          if (!remote_armed_ && api_.remote_active()) arm_remote();
          return reply;
        },
        std::move(tokens), std::move(tls));
  } catch (...) {  // the destructor will not run: the token file goes now
    if (!token_file_.empty()) std::remove(token_file_.c_str());
    throw;
  }
  control_->set_mcp_handler([this](const McpHttpRequest& r) { return mcp_.handle(r); });
  const std::string where = cfg_.control.address + ":" + std::to_string(control_->port());
  control_file_ = cfg_.region.shm_dir + "/cwts-" + cfg_.region.instance + ".control";
  // "ADDRESS:PORT\n", and a second line "tls" when the port speaks only TLS (https, wss): readers
  // of the first line (cut -d: -f2, cwtsctl) keep working. docs/operations.md.
  if (const std::string why =
          publish_file(control_file_, where + '\n' + (cfg_.control.tls() ? "tls\n" : ""));
      !why.empty()) {
    log_event(spdlog::level::err, "ctl", "control_file_failed",
              LogFields().str("file", control_file_).str("error", why));
    control_file_.clear();
  }
  log_event(spdlog::level::info, "ctl", "control_listening",
            LogFields()
                .str("address", cfg_.control.address)
                .num("port", control_->port())
                .boolean("tls", cfg_.control.tls())
                .str("file", control_file_));
}

void CtlThread::arm_remote() {
  remote_armed_ = true;
  remote_tick_.expires_after(std::chrono::microseconds(cfg_.control.remote_poll_us));
  remote_tick_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    api_.poll_remote();
    if (api_.remote_active()) {
      arm_remote();
    } else {
      remote_armed_ = false;
    }
  });
}

void CtlThread::arm_tick() {
  tick_.expires_after(std::chrono::milliseconds(50));
  tick_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    on_tick();
    arm_tick();
  });
}

void CtlThread::on_tick() {
  engine_.hot_log().drain();
  // Removed symbols whose last order is over are unsubscribed (not while the engine stops).
  if (!stopping_) engine_.poll_symbols();
  const std::int64_t now = realtime_ns();
  const EngineSnapshot snap = engine_.snapshot();
  if (control_) {
    report_notes_.clear();
    api_.poll_reports(report_notes_);
    for (const auto& n : report_notes_) control_->broadcast("reports", n);
    if (now - last_stats_ns_ >= 1'000'000'000LL) {
      last_stats_ns_ = now;
      if (control_->rpc_clients() > 0) control_->broadcast("stats", api_.stats_notification(now));
    }
  }
  const TickActions a = supervisor_.on_tick(now, snap, engine_.progressing(now, progress_ns_));
  for (const Alert& al : a.alerts) {
    // Every alert also in the log, for operators who tail it rather than subscribe.
    log_event(spdlog::level::warn, "ctl", "alert",
              LogFields().str("alert", al.what).str("detail", al.detail));
    if (control_) {
      control_->broadcast("alerts", ControlApi::alert_notification(al.what, al.detail, now));
    }
  }
  if (a.became_ready) {
    notifier_.ready(status_line(snap));
    log_event(
        spdlog::level::info, "ctl", "ready",
        LogFields().unum("symbols", snap.symbols).str("market_region", engine_.market_path()));
  }
  if (a.progress_change) {
    const bool progress = *a.progress_change;
    log_event(progress ? spdlog::level::info : spdlog::level::err, "ctl",
              progress ? "threads_progressing" : "threads_stalled",
              LogFields()
                  .num("md_age_ms", (now - snap.md_heartbeat_ns) / 1'000'000)
                  .num("exec_age_ms", (now - snap.exec_heartbeat_ns) / 1'000'000));
  }
  // WATCHDOG=1 only while both hot threads make progress: a stalled thread lets systemd's
  // watchdog fire and restart the service.
  if (a.watchdog) notifier_.watchdog();
  if (a.status) notifier_.status(*a.status);
  if (a.extend_start_us) notifier_.extend_start(std::chrono::microseconds(*a.extend_start_us));
}

}  // namespace cwts::daemon
