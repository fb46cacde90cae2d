// CtlThread: cwtsd's ctl thread (the main thread once the engine has started).
//
// Owns: its io_context; SIGTERM/SIGINT (stop), SIGHUP (reload), SIGUSR1 (test hook); the
// control plane (ControlServer + ControlApi: /metrics, /healthz, /readyz, JSON-RPC, MCP), the
// control file that names its address and the generated token file (without control.token_file);
// systemd notifications (READY, WATCHDOG, STATUS, STOPPING); the 50 ms tick that drains the hot
// threads' log records and runs the Supervisor. May touch: the Engine only through its ctl-side
// calls (snapshot, metrics_text, progressing, not_ready_reason, reload, hot_log().drain,
// stall_md_for); never md or exec state directly.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/config.hpp"
#include "ctl/control_api.hpp"
#include "ctl/control_server.hpp"
#include "ctl/mcp_endpoint.hpp"
#include "ctl/supervisor.hpp"
#include "ctl/systemd.hpp"
#include "engine.hpp"

namespace cwts::daemon {

class CtlThread {
 public:
  // `cfg` is the configuration the engine started with; `config_path` is re-read on SIGHUP.
  // Starts listening (control plane) at once; throws if the control address cannot be bound.
  // `tokens`: control.tokens_file's clients (the control token is added with every scope).
  CtlThread(Engine& engine, const Config& cfg, std::string config_path, std::string control_token,
            std::vector<ControlToken> tokens, Notifier& notifier);
  ~CtlThread();
  CtlThread(const CtlThread&) = delete;
  CtlThread& operator=(const CtlThread&) = delete;

  // Runs until SIGTERM or SIGINT. At the signal, `stop_trading` (the gateway's and the engine's
  // first half of their stop) runs on a thread of its own while this one goes on relaying reports
  // to remote strategies; then the last reports are relayed and sent, and run() returns.
  // Destruction closes the control plane and removes the control file.
  void run(std::function<void()> stop_trading = {});

  // GET /metrics, /healthz, /readyz (docs/operations.md, control plane).
  [[nodiscard]] HttpResponse http_get(const std::string& target);

 private:
  void arm_stop();
  void arm_hup();
  void arm_usr1();
  void arm_usr2();
  void arm_tick();
  void on_tick();
  void reload();
  void open_control_plane(std::string token, std::vector<ControlToken> tokens);
  void arm_remote();
  void finish_stop();  // the last reports relayed, then run() returns (ctl thread)
  // run() returns once the remote sessions' queues are written (or at `deadline_ns`), a moment
  // after: the peers read the last frames before the plane closes.
  void linger(std::int64_t deadline_ns);

  Engine& engine_;
  const Config& cfg_;
  std::string config_path_;
  Notifier& notifier_;
  Config live_cfg_;  // what risk.set / halt / resume change; a SIGHUP reload replaces parts of it
  // risk.trading_state as the file said at the last load: a reload applies it only if the file
  // changed it, so an operator's halt / resume survives reloads of an unchanged state.
  layout::TradingState file_state_;
  boost::asio::io_context ioc_;
  boost::asio::signal_set stop_signals_;
  boost::asio::signal_set hup_;
  boost::asio::signal_set usr1_;
  boost::asio::signal_set usr2_;  // test hook: every remote client taken as slow (its reports wait)
  bool remote_slow_ = false;
  boost::asio::steady_timer tick_;
  boost::asio::steady_timer remote_tick_;  // remote strategies' poll, while any is connected
  bool remote_armed_ = false;
  std::string control_token_;  // kept for a SIGHUP reload of control.tokens_file
  ControlApi api_;
  McpEndpoint mcp_;  // /mcp: MCP tools and resources, each a call to api_
  std::unique_ptr<ControlServer> control_;
  std::string control_file_;
  std::string token_file_;  // the generated token's file (removed at exit); "" = none generated
  Supervisor supervisor_;
  std::function<void()> stop_trading_;
  std::thread stop_thread_;  // runs stop_trading_ at SIGTERM
  bool stopping_ = false;
  std::int64_t progress_ns_;
  std::int64_t last_stats_ns_ = 0;
  std::vector<std::string> report_notes_;
};

}  // namespace cwts::daemon
