// The daemon suite's fixture: cwts-sim and cwtsd as processes (Harness), a stand-in for systemd's
// notify socket, and helpers reading the venue's answers and the engine's reports.
#pragma once

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "../support/child_process.hpp"
#include "../support/strategy_client.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/net/hmac.hpp"
#include "cwts/shm_layout/types.hpp"

namespace cwts::daemon::test {

using namespace std::chrono_literals;
using cwts::layout::OrderType;
using cwts::layout::RejectReason;
using cwts::layout::ReportKind;
using cwts::layout::Side;
using cwts::layout::TimeInForce;
using cwts::test::ChildProcess;
using cwts::test::fx;
using cwts::test::SimProcess;
using cwts::test::StrategyClient;

constexpr const char* kKey = "daemonTestKey0001";
constexpr const char* kSecret = "daemonTestSecretXyZ987";

// A datagram socket standing in for systemd's NOTIFY_SOCKET.
class NotifySocket {
 public:
  NotifySocket() {
    path_ = ::testing::TempDir() + "/cwtsd-notify-" + std::to_string(::getpid()) + "-" +
            std::to_string(counter_++);
    ::unlink(path_.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("bind");
  }
  ~NotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  [[nodiscard]] const std::string& path() const { return path_; }
  // Next datagram, or "" on timeout.
  std::string next(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
  // Waits for a datagram containing `what`; returns false on timeout.
  bool wait_for(const std::string& what, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string m = next(100ms);
      if (m.find(what) != std::string::npos) return true;
    }
    return false;
  }

 private:
  static inline int counter_ = 0;
  std::string path_;
  int fd_ = -1;
};

inline std::string unique_instance() {
  static int n = 0;
  return "t" + std::to_string(::getpid()) + "x" + std::to_string(n++);
}

struct EngineOptions {
  std::string venue_kind = "binance";
  std::string risk = R"("max_order_notional":"100000","max_open_orders":5,"price_band_bps":500)";
  std::string slots = R"("default":{"trade":true},"3":{"trade":false},"4":{"reduce_only":true})";
  std::string extra_venue;  // appended inside "venue"
  std::string rate = R"("engine_share":0.8,"slot_share":1.0)";
  std::string threads = R"("exec":{"idle":"block"})";
  std::string on_stop = "cancel";  // shutdown.on_stop
  std::string extra;               // more top-level sections, e.g. R"("journal":{...},)"
  std::string extra_region;        // appended inside "region", e.g. R"(,"group":"g")"
  std::string extra_market;        // appended inside "market", e.g. R"(,"snapshot_limit":100)"
  std::vector<std::pair<std::string, std::string>> env;
  std::string rest_host;              // venue.rest_url's host ("" = 127.0.0.1)
  std::vector<std::string> launcher;  // runs cwtsd: launcher... cwtsd --config FILE
  bool wait_ready = true;
  std::vector<std::string> symbols = {"BTCUSDT", "ETHUSDT"};  // synthesized and traded
};

// Without the WebSocket API the engine learns fills by polling (status queries, myTrades): the
// tests of those paths run without it, or the user data stream would answer first.
inline EngineOptions polling_only() {
  EngineOptions o;
  o.extra_venue = R"(,"ws_api_url":"")";
  return o;
}

// cwts-sim + cwtsd, torn down in reverse order; cwtsd's stderr (its JSON log) kept in a file.
class Harness {
 public:
  // `before_engine` runs once cwts-sim listens (with its port), before cwtsd starts.
  explicit Harness(EngineOptions o = {}, std::vector<std::string> sim_args = {},
                   const std::function<void(std::uint16_t)>& before_engine = {})
      : opts_(std::move(o)), instance_(unique_instance()) {
    std::string syms, balance = "USDT=1000000";
    for (const auto& sym : opts_.symbols) {
      syms += (syms.empty() ? "" : ",") + sym;
      const std::string base = sym.substr(0, sym.size() - 4);
      balance += "," + base + (base == "BTC" ? "=10" : "=100");
    }
    std::vector<std::string> args = {"--synthetic", syms,   "--rate",       "500",
                                     "--api-key",   kKey,   "--api-secret", kSecret,
                                     "--balance",   balance};
    args.insert(args.end(), sim_args.begin(), sim_args.end());
    sim_ = std::make_unique<SimProcess>(CWTS_SIM_BINARY, args, log_dir() + "/sim.log");
    if (before_engine) before_engine(sim_->port());
    config_path_ = log_dir() + "/cwtsd.json";
    write_config();
    start();
  }
  ~Harness() {
    if (engine_ && engine_->running()) engine_->terminate(15s);
  }

  void write_config() {
    std::ofstream out(config_path_);
    out << R"({"region":{"instance":")" << instance_ << R"(","lock_pages":false)"
        << opts_.extra_region << R"(},)"
        << R"("venue":{"kind":")" << opts_.venue_kind << R"(","rest_url":")" << rest_url()
        << R"(","ws_url":")" << sim_->ws_url()
        << R"(","recv_window_ms":1000,"request_timeout_ms":400,"order_poll_ms":100)"
        << opts_.extra_venue << R"(},"market":{"symbols":[)" << symbol_list() << "]"
        << opts_.extra_market << "},"
        << R"("risk":{)" << opts_.risk << R"(},"rate_limits":{)" << opts_.rate << R"(},)"
        << R"("slots":{)" << opts_.slots << R"(},"threads":{)" << opts_.threads << R"(},)"
        << opts_.extra << R"("shutdown":{"on_stop":")" << opts_.on_stop
        << R"(","timeout_ms":3000},"systemd":{"progress_timeout_ms":500}})";
  }

  [[nodiscard]] std::string rest_url() const {
    if (opts_.rest_host.empty()) return sim_->http_url();
    return "http://" + opts_.rest_host + ":" + std::to_string(sim_->port());
  }

  [[nodiscard]] std::string symbol_list() const {
    std::string out;
    for (const auto& sym : opts_.symbols) out += (out.empty() ? "\"" : ",\"") + sym + "\"";
    return out;
  }

  void start() {
    std::vector<std::pair<std::string, std::string>> env = {{"CWTS_API_KEY", kKey},
                                                            {"CWTS_API_SECRET", kSecret},
                                                            {"NOTIFY_SOCKET", notify_.path()},
                                                            {"WATCHDOG_USEC", "200000"},
                                                            {"CWTSD_TEST_HOOKS", "1"}};
    env.insert(env.end(), opts_.env.begin(), opts_.env.end());
    ++starts_;
    std::vector<std::string> args = opts_.launcher;
    args.insert(args.end(), {CWTSD_BINARY, "--config", config_path_});
    const std::string binary = args.front();
    args.erase(args.begin());
    engine_ = std::make_unique<ChildProcess>(
        binary, args, env, log_dir() + "/cwtsd-" + std::to_string(starts_) + ".log");
    if (opts_.wait_ready && !notify_.wait_for("READY=1", 30s)) {
      throw std::runtime_error("cwtsd never sent READY=1; log:\n" + log());
    }
  }

  [[nodiscard]] std::string log_dir() const {
    const std::string d = ::testing::TempDir() + "/cwtsd-test-" + instance_;
    ::mkdir(d.c_str(), 0700);
    return d;
  }
  [[nodiscard]] std::string log() const {
    std::string all;
    for (int i = 1; i <= starts_; ++i)
      all += cwts::test::read_file(log_dir() + "/cwtsd-" + std::to_string(i) + ".log");
    return all;
  }
  [[nodiscard]] const std::string& instance() const { return instance_; }
  SimProcess& sim() { return *sim_; }
  ChildProcess& engine() { return *engine_; }
  NotifySocket& notify() { return notify_; }
  [[nodiscard]] const std::string& config_path() const { return config_path_; }
  EngineOptions& options() { return opts_; }

  cwts::test::HttpReply fault(const std::string& json) {
    return cwts::test::http_request(sim_->port(), boost::beast::http::verb::post, "/_sim/fault",
                                    json);
  }
  // Orders the venue holds for a symbol (open and done), from its signed allOrders-like view: the
  // account's trades and open orders.
  cwts::test::HttpReply signed_get(const std::string& path, const std::string& params) {
    std::string q = params + (params.empty() ? "" : "&") +
                    "timestamp=" + std::to_string(cwts::core::realtime_ns() / 1'000'000);
    q += "&signature=" + hmac(q);
    return cwts::test::http_request(sim_->port(), boost::beast::http::verb::get, path + "?" + q, {},
                                    kKey);
  }
  static std::string hmac(const std::string& payload);

  // GET /metrics on the engine's control port (from its control file); "" if unreachable.
  std::string metrics() {
    const auto r = control_get("/metrics");
    return r.status == 200 ? r.body : std::string();
  }
  // GET on the control plane's HTTP port (/metrics, /healthz, /readyz).
  cwts::test::HttpReply control_get(const std::string& target) {
    const std::string where = cwts::test::read_file("/dev/shm/cwts-" + instance_ + ".control");
    if (where.rfind("127.0.0.1:", 0) != 0) return {};
    const auto port = static_cast<std::uint16_t>(std::stoi(where.substr(10)));
    return cwts::test::http_request(port, boost::beast::http::verb::get, target);
  }
  // True once /metrics shows the sample line `line` (e.g. "cwts_venue_user_stream_live 1").
  bool wait_metric(const std::string& line, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (metrics().find("\n" + line + "\n") != std::string::npos) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

 private:
  EngineOptions opts_;
  std::string instance_;
  std::string config_path_;
  NotifySocket notify_;
  std::unique_ptr<SimProcess> sim_;
  std::unique_ptr<ChildProcess> engine_;
  int starts_ = 0;
};

inline std::string Harness::hmac(const std::string& payload) {
  return cwts::net::hmac_sha256_hex(kSecret, payload);
}

// Number of JSON array elements in a body (orders, trades).
inline std::size_t array_size(const std::string& body) {
  simdjson::dom::parser p;
  simdjson::dom::array a;
  if (p.parse(body).get(a) != simdjson::SUCCESS) return SIZE_MAX;
  return a.size();
}

// The venue's change in `asset` (free + locked, 8 decimals) since the harness funded the account
// with `initial`: what the engine's position must equal when commissions are taken in that asset.
inline std::int64_t balance_change(Harness& h, const std::string& asset, std::int64_t initial) {
  const auto r = h.signed_get("/api/v3/account", "");
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (r.status != 200 || p.parse(r.body).get(doc) != simdjson::SUCCESS) return INT64_MIN;
  simdjson::dom::array balances;
  if (doc["balances"].get(balances) != simdjson::SUCCESS) return INT64_MIN;
  for (auto b : balances) {
    std::string_view a, f, l;
    if (b["asset"].get(a) != simdjson::SUCCESS || a != asset) continue;
    std::int64_t fv = 0, lv = 0;
    if (b["free"].get(f) != simdjson::SUCCESS || b["locked"].get(l) != simdjson::SUCCESS ||
        cwts::core::parse_fixed(f, 8, fv) != cwts::core::DecimalErrc::kOk ||
        cwts::core::parse_fixed(l, 8, lv) != cwts::core::DecimalErrc::kOk)
      return INT64_MIN;
    return fv + lv - initial;
  }
  return INT64_MIN;
}

// Sum of `qty` over a myTrades answer (8 decimals); -1 if it does not parse.
inline std::int64_t traded_qty(const std::string& body) {
  simdjson::dom::parser p;
  simdjson::dom::array arr;
  if (p.parse(body).get(arr) != simdjson::SUCCESS) return -1;
  std::int64_t total = 0;
  for (auto t : arr) {
    std::string_view qs;
    std::int64_t v = 0;
    if (t["qty"].get(qs) != simdjson::SUCCESS ||
        cwts::core::parse_fixed(qs, 8, v) != cwts::core::DecimalErrc::kOk)
      return -1;
    total += v;
  }
  return total;
}

inline std::int64_t tick_floor(std::int64_t px, std::int64_t tick) { return px / tick * tick; }

inline ReportKind kind_of(const cwts::layout::ExecReport& r) {
  return static_cast<ReportKind>(r.kind);
}

inline std::size_t terminals(const std::vector<cwts::layout::ExecReport>& rs) {
  std::size_t n = 0;
  for (const auto& r : rs) n += cwts::layout::is_terminal(kind_of(r)) ? 1 : 0;
  return n;
}

// Market buys of 0.001 BTC, each after a venue fault ("" = none): exactly one terminal report,
// of the kind expected; `filled` tallies what the engine reported filled.
struct FaultedBuys {
  Harness& h;
  StrategyClient& s;
  int symbol;
  std::int64_t filled = 0;

  std::vector<cwts::layout::ExecReport> operator()(const std::string& fault, ReportKind want,
                                                   std::uint32_t ttl_ms = 0) {
    if (!fault.empty()) {
      EXPECT_EQ(h.fault(fault).status, 200U) << fault;
    }
    auto sig = StrategyClient::make(symbol, Side::kBuy, OrderType::kMarket, fx(0.001));
    sig.ttl_ms = ttl_ms;
    const auto seq = s.submit(sig);
    const auto rs = s.wait_terminal(seq, std::chrono::seconds(60));
    EXPECT_FALSE(rs.empty()) << fault << "\n" << h.log();
    if (rs.empty()) return rs;
    EXPECT_EQ(terminals(rs), 1U) << fault;
    EXPECT_EQ(kind_of(rs.back()), want)
        << fault << " reason " << rs.back().reason << " code " << rs.back().venue_code;
    if (kind_of(rs.back()) == ReportKind::kFilled) filled += fx(0.001);
    return rs;
  }
};

// Whether a report of kind `kind` for signal `seq` arrives within `timeout`.
inline bool wait_kind(StrategyClient& s, std::uint64_t seq, ReportKind kind,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    s.drain();
    for (const auto& r : s.reports())
      if (r.signal_seq == seq && kind_of(r) == kind) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

// The engine's position of `symbol` once it reaches `qty` (or what it is after 5 s).
inline std::int64_t position_when(StrategyClient& s, int symbol, std::int64_t qty) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (s.position(symbol).qty.raw != qty && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return s.position(symbol).qty.raw;
}

}  // namespace cwts::daemon::test
