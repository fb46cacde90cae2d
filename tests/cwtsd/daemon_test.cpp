// cwtsd as a process: a real cwts-sim on loopback, a real cwtsd, and this test as the strategy
// (shared memory, a claimed slot). Orders, every reject reason, torn signals, a flood, venue
// faults, restart, systemd notifications and secrets in logs.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "../support/child_process.hpp"
#include "../support/strategy_client.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/net/hmac.hpp"
#include "cwts/shm/region.hpp"
#include "cwts/shm_layout/types.hpp"

namespace {

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

std::string unique_instance() {
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
  std::vector<std::pair<std::string, std::string>> env;
  bool wait_ready = true;
};

// cwts-sim + cwtsd, torn down in reverse order; cwtsd's stderr (its JSON log) kept in a file.
class Harness {
 public:
  explicit Harness(EngineOptions o = {}, std::vector<std::string> sim_args = {})
      : opts_(std::move(o)), instance_(unique_instance()) {
    std::vector<std::string> args = {
        "--synthetic", "BTCUSDT,ETHUSDT", "--rate", "500",       "--api-key",
        kKey,          "--api-secret",    kSecret,  "--balance", "USDT=1000000,BTC=10,ETH=100"};
    args.insert(args.end(), sim_args.begin(), sim_args.end());
    sim_ = std::make_unique<SimProcess>(CWTS_SIM_BINARY, args, log_dir() + "/sim.log");
    config_path_ = log_dir() + "/cwtsd.json";
    write_config();
    start();
  }
  ~Harness() {
    if (engine_ && engine_->running()) engine_->terminate(15s);
  }

  void write_config() {
    std::ofstream out(config_path_);
    out << R"({"region":{"instance":")" << instance_ << R"(","lock_pages":false},)"
        << R"("venue":{"kind":")" << opts_.venue_kind << R"(","rest_url":")" << sim_->http_url()
        << R"(","ws_url":")" << sim_->ws_url()
        << R"(","recv_window_ms":1000,"request_timeout_ms":400,"order_poll_ms":100)"
        << opts_.extra_venue << R"(},"market":{"symbols":["BTCUSDT","ETHUSDT"]},)"
        << R"("risk":{)" << opts_.risk << R"(},"rate_limits":{)" << opts_.rate << R"(},)"
        << R"("slots":{)" << opts_.slots << R"(},"threads":{)" << opts_.threads << R"(},)"
        << R"("shutdown":{"on_stop":"cancel","timeout_ms":3000},"systemd":{"progress_timeout_ms":500}})";
  }

  void start() {
    std::vector<std::pair<std::string, std::string>> env = {{"CWTS_API_KEY", kKey},
                                                            {"CWTS_API_SECRET", kSecret},
                                                            {"NOTIFY_SOCKET", notify_.path()},
                                                            {"WATCHDOG_USEC", "200000"},
                                                            {"CWTSD_TEST_HOOKS", "1"}};
    env.insert(env.end(), opts_.env.begin(), opts_.env.end());
    ++starts_;
    engine_ = std::make_unique<ChildProcess>(
        CWTSD_BINARY, std::vector<std::string>{"--config", config_path_}, env,
        log_dir() + "/cwtsd-" + std::to_string(starts_) + ".log");
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

 private:
  EngineOptions opts_;
  std::string instance_;
  std::string config_path_;
  NotifySocket notify_;
  std::unique_ptr<SimProcess> sim_;
  std::unique_ptr<ChildProcess> engine_;
  int starts_ = 0;
};

}  // namespace

namespace {

std::string Harness::hmac(const std::string& payload) {
  return cwts::net::hmac_sha256_hex(kSecret, payload);
}

// Number of JSON array elements in a body (orders, trades).
std::size_t array_size(const std::string& body) {
  simdjson::dom::parser p;
  simdjson::dom::array a;
  if (p.parse(body).get(a) != simdjson::SUCCESS) return SIZE_MAX;
  return a.size();
}

// Sum of `qty` over a myTrades answer (8 decimals); -1 if it does not parse.
std::int64_t traded_qty(const std::string& body) {
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

std::int64_t tick_floor(std::int64_t px, std::int64_t tick) { return px / tick * tick; }

ReportKind kind_of(const cwts::layout::ExecReport& r) { return static_cast<ReportKind>(r.kind); }

std::size_t terminals(const std::vector<cwts::layout::ExecReport>& rs) {
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

// The engine's position of `symbol` once it reaches `qty` (or what it is after 5 s).
std::int64_t position_when(StrategyClient& s, int symbol, std::int64_t qty) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (s.position(symbol).qty.raw != qty && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return s.position(symbol).qty.raw;
}

// ---------------------------------------------------------------------------------------------

TEST(Cwtsd, LimitAndMarketOrdersAreFilledAndReported) {
  Harness h;
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  ASSERT_GE(btc, 0);
  const auto q = s.quote(btc);
  ASSERT_GT(q.ask_px.raw, q.bid_px.raw);

  // Market buy 0.001 BTC.
  const auto m = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  auto rs = s.wait_terminal(m);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(kind_of(rs.front()), ReportKind::kAccepted);
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled) << "reason " << rs.back().reason;
  EXPECT_EQ(terminals(rs), 1U);
  EXPECT_EQ(rs.back().cum_qty.raw, fx(0.001));
  EXPECT_GT(rs.back().avg_px.raw, 0);
  EXPECT_GT(rs.back().fee.raw, 0) << "a fill pays a commission";
  EXPECT_NE(rs.back().venue_order_id, 0U);
  const std::string cid(rs.back().client_order_id.view());
  EXPECT_EQ(cid.substr(0, 2), "cw");

  // A marketable limit buy (at the ask + 1%) fills too.
  const auto q2 = s.quote(btc);
  const auto l =
      s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.002),
                                    tick_floor(q2.ask_px.raw + q2.ask_px.raw / 100, fx(0.01))));
  rs = s.wait_terminal(l);
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled);
  EXPECT_EQ(rs.back().cum_qty.raw, fx(0.002));

  // A resting limit buy 2% below the bid: NEW, then cancelled by a cancel signal.
  const auto q3 = s.quote(btc);
  const auto r =
      s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                                    tick_floor(q3.bid_px.raw - q3.bid_px.raw / 50, fx(0.01))));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  bool rested = false;
  while (!rested && std::chrono::steady_clock::now() < deadline) {
    s.drain();
    for (const auto& x : s.reports())
      rested = rested || (x.signal_seq == r && kind_of(x) == ReportKind::kNew);
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(rested) << h.log();
  const auto c = s.cancel(r);
  rs = s.wait_terminal(r);
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kCancelled);
  auto cr = s.wait_terminal(c);
  ASSERT_FALSE(cr.empty());
  EXPECT_EQ(kind_of(cr.back()), ReportKind::kCancelled);

  // The venue agrees: two filled orders' trades, nothing open; the engine's position is 0.003.
  const auto trades = h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT");
  ASSERT_EQ(trades.status, 200U) << trades.body;
  EXPECT_GE(array_size(trades.body), 2U);
  const auto open = h.signed_get("/api/v3/openOrders", "symbol=BTCUSDT");
  EXPECT_EQ(array_size(open.body), 0U) << open.body;
  EXPECT_EQ(position_when(s, btc, fx(0.003)), fx(0.003));
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(Cwtsd, EveryRejectReasonIsReportedAndNothingReachesTheVenue) {
  Harness h;
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  const auto q = s.quote(btc);
  const std::int64_t mid = tick_floor((q.bid_px.raw + q.ask_px.raw) / 2, fx(0.01));
  const std::int64_t below = tick_floor(q.bid_px.raw - q.bid_px.raw / 100, fx(0.01));  // rests
  using S = StrategyClient;
  struct Case {
    const char* name;
    cwts::layout::Signal sig;
    RejectReason want;
  };
  auto with = [](cwts::layout::Signal x, auto f) {
    f(x);
    return x;
  };
  std::vector<Case> cases = {
      {"unknown symbol", S::make(7, Side::kBuy, OrderType::kLimit, fx(0.001), below),
       RejectReason::kUnknownSymbol},
      {"bad side",
       with(S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below),
            [](auto& x) { x.side = 9; }),
       RejectReason::kBadSide},
      {"bad type",
       with(S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below),
            [](auto& x) { x.type = 42; }),
       RejectReason::kBadType},
      {"market with tif",
       with(S::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)), [](auto& x) { x.tif = 1; }),
       RejectReason::kBadType},
      {"zero qty", S::make(btc, Side::kBuy, OrderType::kLimit, 0, below), RejectReason::kBadValue},
      {"negative price", S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), -5),
       RejectReason::kBadValue},
      {"stale",
       with(S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below),
            [](auto& x) { x.created_ns = cwts::core::realtime_ns() - 60'000'000'000LL; }),
       RejectReason::kStale},
      {"tick size", S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below + 1),
       RejectReason::kTickSize},
      {"step size", S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001) + 1, below),
       RejectReason::kStepSize},
      {"max qty", S::make(btc, Side::kBuy, OrderType::kLimit, fx(9001), below),
       RejectReason::kMaxQty},
      {"min notional", S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.0001), below),
       RejectReason::kMinNotional},
      {"max notional", S::make(btc, Side::kBuy, OrderType::kLimit, fx(3), below),
       RejectReason::kMaxNotional},
      {"percent price", S::make(btc, Side::kSell, OrderType::kLimit, fx(0.001), mid * 6),
       RejectReason::kPercentPrice},
      {"price band",
       S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), tick_floor(mid - mid / 10, fx(0.01))),
       RejectReason::kPriceBand},
  };
  std::map<std::uint64_t, Case> by_seq;
  for (auto& c : cases) by_seq[s.submit(c.sig)] = c;
  ASSERT_EQ(by_seq.begin()->first, 1U);
  // Replayed sequence: the first signal's seq again.
  auto replay = S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below);
  replay.seq = 1;
  s.submit(replay, true);
  const auto last_seq = s.submit(S::make(9, Side::kBuy, OrderType::kLimit, fx(0.001), below));
  ASSERT_FALSE(s.wait_terminal(last_seq).empty());
  s.drain();
  for (auto& [seq, c] : by_seq) {
    std::vector<cwts::layout::ExecReport> rs;
    for (const auto& r : s.reports()) {
      if (r.signal_seq == seq) rs.push_back(r);
    }
    // seq 1 also carries the replay's rejection, after its own.
    ASSERT_EQ(rs.size(), seq == 1 ? 2U : 1U)
        << c.name << ": a rejected signal gets exactly one report";
    EXPECT_EQ(kind_of(rs.front()), ReportKind::kRejected) << c.name;
    EXPECT_EQ(static_cast<RejectReason>(rs.front().reason), c.want) << c.name;
    if (seq == 1) {
      EXPECT_EQ(static_cast<RejectReason>(rs.back().reason), RejectReason::kReplayedSequence);
    }
  }

  // Slot policies: slot 3 may not trade, slot 4 only reduces (the position is flat).
  StrategyClient s3(h.instance(), 3);
  const auto a = s3.submit(S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below));
  auto ra = s3.wait_terminal(a);
  ASSERT_FALSE(ra.empty());
  EXPECT_EQ(static_cast<RejectReason>(ra.back().reason), RejectReason::kSlotNotAuthorised);
  StrategyClient s4(h.instance(), 4);
  const auto b =
      s4.submit(S::make(btc, Side::kSell, OrderType::kLimit, fx(0.001), mid + mid / 100));
  auto rb = s4.wait_terminal(b);
  ASSERT_FALSE(rb.empty());
  EXPECT_EQ(static_cast<RejectReason>(rb.back().reason), RejectReason::kReduceOnly);
  // Reduce-only by the signal's own flag.
  auto ro = S::make(btc, Side::kSell, OrderType::kLimit, fx(0.001), mid + mid / 100);
  ro.flags = cwts::layout::kSignalReduceOnly;
  const auto rf = s.submit(ro);
  auto rr = s.wait_terminal(rf);
  ASSERT_FALSE(rr.empty());
  EXPECT_EQ(static_cast<RejectReason>(rr.back().reason), RejectReason::kReduceOnly);

  // Nothing above reached the venue.
  EXPECT_EQ(array_size(h.signed_get("/api/v3/openOrders", "symbol=BTCUSDT").body), 0U);
  EXPECT_EQ(array_size(h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT").body), 0U);

  // MAX_OPEN_ORDERS (5 per symbol here): five resting orders, the sixth refused; and
  // MAX_POSITION after tightening the limit with SIGHUP.
  std::vector<std::uint64_t> resting;
  for (int i = 0; i < 5; ++i) {
    resting.push_back(
        s.submit(S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below - fx(0.01) * i)));
  }
  const auto sixth = s.submit(S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below));
  auto r6 = s.wait_terminal(sixth);
  ASSERT_FALSE(r6.empty());
  EXPECT_EQ(static_cast<RejectReason>(r6.back().reason), RejectReason::kMaxOpenOrders);
  for (auto seq : resting) s.cancel(seq);
  for (auto seq : resting) {
    auto rc = s.wait_terminal(seq);
    ASSERT_FALSE(rc.empty());
    EXPECT_EQ(kind_of(rc.back()), ReportKind::kCancelled);
  }
  // Cancel of an unknown order.
  const auto cu = s.cancel(999999);
  auto rcu = s.wait_terminal(cu);
  ASSERT_FALSE(rcu.empty());
  EXPECT_EQ(static_cast<RejectReason>(rcu.back().reason), RejectReason::kUnknownOrder);

  // SIGHUP: max_position 0.0005 and trading halted take effect at once.
  {
    std::string cfg = cwts::test::read_file(h.config_path());
    const std::string from = R"("max_open_orders":5)";
    cfg.replace(cfg.find(from), from.size(), R"("max_open_orders":5,"max_position":"0.0005")");
    std::ofstream(h.config_path()) << cfg;
  }
  h.engine().signal(SIGHUP);
  std::this_thread::sleep_for(500ms);
  const auto mp = s.submit(S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below));
  auto rmp = s.wait_terminal(mp);
  ASSERT_FALSE(rmp.empty());
  EXPECT_EQ(static_cast<RejectReason>(rmp.back().reason), RejectReason::kMaxPosition) << h.log();
  {
    std::string cfg = cwts::test::read_file(h.config_path());
    const std::string from = R"("max_open_orders":5)";
    cfg.replace(cfg.find(from), from.size(), R"("trading_state":"halted","max_open_orders":5)");
    std::ofstream(h.config_path()) << cfg;
  }
  h.engine().signal(SIGHUP);
  std::this_thread::sleep_for(500ms);
  const auto ht = s.submit(S::make(btc, Side::kBuy, OrderType::kLimit, fx(0.0001), below));
  auto rht = s.wait_terminal(ht);
  ASSERT_FALSE(rht.empty());
  EXPECT_EQ(static_cast<RejectReason>(rht.back().reason), RejectReason::kTradingHalted);
  EXPECT_NE(h.log().find("config_reloaded"), std::string::npos);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(Cwtsd, RateLimitedSignalsAreRejectedNotQueued) {
  // The venue's order budget: 50 per 10 s; the engine allows itself 80 % of it, a slot half.
  EngineOptions o;
  o.rate = R"("engine_share":0.8,"slot_share":0.5)";
  o.risk = R"("max_order_notional":"100000","max_open_orders":1000,"price_band_bps":500)";
  Harness h(o);
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  const auto q = s.quote(btc);
  const std::int64_t below = tick_floor(q.bid_px.raw - q.bid_px.raw / 100, fx(0.01));
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < 30; ++i) {
    seqs.push_back(s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                                                 below, TimeInForce::kIoc)));
  }
  std::size_t limited = 0, accepted = 0;
  for (auto seq : seqs) {
    const auto rs = s.wait_terminal(seq);
    ASSERT_FALSE(rs.empty());
    EXPECT_EQ(terminals(rs), 1U);
    if (static_cast<RejectReason>(rs.back().reason) == RejectReason::kRateLimited) ++limited;
    if (kind_of(rs.front()) == ReportKind::kAccepted) ++accepted;
  }
  EXPECT_EQ(accepted, 20U) << "slot budget = 50 * 0.8 * 0.5";
  EXPECT_EQ(limited, 10U);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(Cwtsd, TornSignalFromAKilledStrategyNeverBecomesAnOrder) {
  Harness h;
  const int slot = 2;
  std::uint64_t torn_seq = 0;
  {
    StrategyClient probe(h.instance(), slot);
    torn_seq = probe.next_seq();
  }
  // A strategy process writes a signal's words but is killed before the commit store.
  const pid_t child = ::fork();
  if (child == 0) {
    StrategyClient s(h.instance(), slot, "doomed");
    auto sig =
        StrategyClient::make(s.symbol_id("BTCUSDT"), Side::kBuy, OrderType::kMarket, fx(0.5));
    sig.seq = torn_seq;
    sig.created_ns = cwts::core::realtime_ns();
    cwts::shm::RegionOptions ro;
    ro.instance = h.instance();
    ro.lock_pages = false;
    auto signals = cwts::shm::Region::attach(cwts::layout::RegionKind::kSignals,
                                             cwts::shm::Access::kReadWrite, ro);
    auto& ring = signals.as<cwts::layout::SignalsRegion>().slots[slot].signals;
    const std::uint64_t tail = cwts::concurrent::load_word(ring.tail, std::memory_order_acquire);
    auto& rec = ring.records[tail % cwts::layout::kSignalRingCapacity];
    std::memcpy(static_cast<void*>(rec.words), &sig, sizeof sig);  // words, never the commit
    ::kill(::getpid(), SIGKILL);
  }
  int st = 0;
  ::waitpid(child, &st, 0);
  ASSERT_TRUE(WIFSIGNALED(st));
  std::this_thread::sleep_for(300ms);
  // A new strategy takes the slot over and sends a real (small) order.
  StrategyClient s(h.instance(), slot, "successor");
  const int btc = s.symbol_id("BTCUSDT");
  const auto seq = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  const auto rs = s.wait_terminal(seq);
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled);
  std::this_thread::sleep_for(300ms);
  s.drain();
  for (const auto& r : s.reports()) {
    EXPECT_NE(r.cum_qty.raw, fx(0.5)) << "the torn record was executed";
  }
  const auto trades = h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT");
  const std::int64_t total = traded_qty(trades.body);
  EXPECT_EQ(total, fx(0.001)) << "only the committed signal traded";
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(Cwtsd, FloodOfSignalsEachGetsOneTerminalReportWithinVenueLimits) {
  EngineOptions o;
  o.risk = R"("max_order_notional":"100000","max_open_orders":1000,"price_band_bps":500)";
  Harness h(o);
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  const auto q = s.quote(btc);
  const std::int64_t below = tick_floor(q.bid_px.raw - q.bid_px.raw / 100, fx(0.01));
  constexpr std::uint64_t kSignals = 100'000;
  const std::uint64_t first = s.next_seq();
  for (std::uint64_t i = 0; i < kSignals; ++i) {
    // IOC far from the touch: each accepted one expires at the venue, nothing rests.
    s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), below,
                                  TimeInForce::kIoc));
  }
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  std::map<std::uint64_t, int> terminal_count;
  std::size_t seen = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    s.drain();
    for (; seen < s.reports().size(); ++seen) {
      const auto& r = s.reports()[seen];
      if (cwts::layout::is_terminal(kind_of(r))) ++terminal_count[r.signal_seq];
    }
    if (terminal_count.size() == kSignals) break;
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(terminal_count.size(), kSignals) << "every signal gets a terminal report";
  std::size_t accepted = 0;
  for (const auto& [seq, n] : terminal_count) {
    EXPECT_EQ(n, 1) << "seq " << seq;
    EXPECT_GE(seq, first);
  }
  std::set<std::string> cids;
  for (const auto& r : s.reports()) {
    if (kind_of(r) == ReportKind::kAccepted) {
      ++accepted;
      EXPECT_TRUE(cids.insert(std::string(r.client_order_id.view())).second)
          << "duplicated order id";
    }
  }
  EXPECT_GT(accepted, 0U);
  EXPECT_LE(accepted, 40U + 40U) << "at most the engine's share of 50 orders / 10 s (two windows)";
  // The venue never had to refuse the engine.
  const std::string log = h.log();
  EXPECT_EQ(log.find("\"backoff\""), std::string::npos);
  EXPECT_EQ(cwts::test::read_file(h.log_dir() + "/sim.log").find("\"429\""), std::string::npos);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(Cwtsd, VenueFaultsMidOrderNeverDoubleAnOrder) {
  Harness h;
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  FaultedBuys market_buy{h, s, btc};
  // Faults on the order endpoint only: the engine's account refresh after each fill runs
  // meanwhile and must not take the fault meant for the order.
  market_buy(R"({"http_status":503,"count":1,"path":"/api/v3/order"})",
             ReportKind::kFilled);  // refused: resent once
  market_buy(R"({"delay_ms":700,"count":1,"path":"/api/v3/order"})",
             ReportKind::kFilled);  // timed out: adopted
  market_buy(R"({"http_status":429,"count":1,"path":"/api/v3/order"})",
             ReportKind::kRejected);    // rate limited: final
  std::this_thread::sleep_for(1200ms);  // Retry-After: 1
  // Dropped connections: the feed reconnects and resyncs; a signal meanwhile is BOOK_NOT_VALID.
  ASSERT_EQ(h.fault(R"({"drop_connections":true})").status, 200U);
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(h.sim().running()) << "cwts-sim died: status " << h.sim().wait(0ms);
  const auto during =
      s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  const auto rd = s.wait_terminal(during);
  ASSERT_FALSE(rd.empty());
  if (kind_of(rd.back()) == ReportKind::kFilled) {
    market_buy.filled += fx(0.001);  // the resync was faster than the signal
  } else {
    // Refused while the book resynced, or not sent before its deadline (the REST connections
    // were dropped too): either way nothing reached the venue, which the total below checks.
    const auto why = static_cast<RejectReason>(rd.back().reason);
    EXPECT_TRUE(why == RejectReason::kBookNotValid || why == RejectReason::kStale)
        << "reason " << rd.back().reason;
  }
  const auto valid_by = std::chrono::steady_clock::now() + 10s;
  while (s.quote(btc).book_valid == 0 && std::chrono::steady_clock::now() < valid_by) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_NE(s.quote(btc).book_valid, 0) << "the book resynced";
  market_buy("", ReportKind::kFilled);
  // The venue holds exactly the fills the engine reported.
  const auto trades = h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT");
  const std::int64_t total = traded_qty(trades.body);
  EXPECT_EQ(total, market_buy.filled);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// Binance's "execution status unknown" codes (-1006, -1007) may come with any HTTP status; the
// order may have been executed. The engine must find out (a query after recvWindow), never assume
// a rejection: an order the venue filled and the strategy was told was rejected is an order the
// engine forgot. An order found absent is resent only before its signal's deadline (TTL). And a
// venue rate limit is reported with the venue's own code.
TEST(Cwtsd, UnknownOutcomesAreQueriedNeverAssumedAndNeverResentPastTheirDeadline) {
  Harness h;
  StrategyClient s(h.instance(), 0);
  FaultedBuys market_buy{h, s, s.symbol_id("BTCUSDT")};
  market_buy(R"({"http_status":400,"code":-1007,"after_processing":true,"path":"/api/v3/order"})",
             ReportKind::kFilled);
  market_buy(R"({"http_status":400,"code":-1006,"after_processing":true,"path":"/api/v3/order"})",
             ReportKind::kFilled);
  // Refused before processing (503), so the order is queried after recvWindow (1 s), found absent,
  // and would be resent: not after its signal's TTL (300 ms) has passed.
  const auto late = market_buy(R"({"http_status":503,"count":1,"path":"/api/v3/order"})",
                               ReportKind::kRejected, 300);
  ASSERT_FALSE(late.empty());
  EXPECT_EQ(static_cast<RejectReason>(late.back().reason), RejectReason::kStale);
  const auto limited = market_buy(R"({"http_status":429,"code":-1015,"path":"/api/v3/order"})",
                                  ReportKind::kRejected);
  ASSERT_FALSE(limited.empty());
  EXPECT_EQ(limited.back().venue_code, -1015);
  EXPECT_EQ(static_cast<RejectReason>(limited.back().reason), RejectReason::kRateLimited);
  EXPECT_EQ(traded_qty(h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT").body), market_buy.filled)
      << "the venue holds exactly the fills the engine reported";
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// A cancel for an order the venue has not acknowledged yet may overtake it (another connection):
// the venue answers "unknown order", and a query then finds nothing either. Neither proves the
// order will not arrive: the cancel waits for the acknowledgement, and nothing is resent.
TEST(Cwtsd, ACancelOvertakingItsOrderNeitherResendsNorOrphansIt) {
  Harness h;
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  const auto q = s.quote(btc);
  ASSERT_EQ(h.fault(R"({"hold_ms":300,"count":1,"path":"/api/v3/order","method":"POST"})").status,
            200U);
  const auto r =
      s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                                    tick_floor(q.bid_px.raw - q.bid_px.raw / 50, fx(0.01))));
  std::this_thread::sleep_for(20ms);  // the order is on its way (held at the venue's door)
  const auto c = s.cancel(r);
  const auto rs = s.wait_terminal(r, 30s);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(terminals(rs), 1U);
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kCancelled)
      << "reason " << rs.back().reason << " code " << rs.back().venue_code;
  const auto cr = s.wait_terminal(c, 30s);
  ASSERT_FALSE(cr.empty());
  EXPECT_EQ(kind_of(cr.back()), ReportKind::kCancelled);
  // The venue: one order with this client order id, cancelled; nothing left open.
  const std::string cid(rs.back().client_order_id.view());
  const auto all = h.signed_get("/api/v3/allOrders", "symbol=BTCUSDT").body;
  std::size_t n = 0;
  for (std::size_t at = all.find(cid); at != std::string::npos; at = all.find(cid, at + 1)) ++n;
  EXPECT_EQ(n, 1U) << all;
  EXPECT_NE(all.find("CANCELED"), std::string::npos) << all;
  EXPECT_EQ(array_size(h.signed_get("/api/v3/openOrders", "symbol=BTCUSDT").body), 0U);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// Status queries that keep failing must not end an order: it may be live (here: filled) on the
// venue. The strategy is told the state is unknown (not terminal); the engine keeps asking, and the
// order's one terminal report is what the venue finally says.
TEST(Cwtsd, AnOrderWhoseStatusQueriesKeepFailingStaysTrackedUntilTheVenueAnswers) {
  Harness h;
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  FaultedBuys market_buy{h, s, btc};
  // The order is executed but its answer lost, then its first 7 status queries fail too.
  const auto rs =
      market_buy(R"({"http_status":503,"count":8,"after_processing":true,"path":"/api/v3/order"})",
                 ReportKind::kFilled);
  std::size_t unknown = 0;
  for (const auto& r : rs) unknown += kind_of(r) == ReportKind::kStatusUnknown ? 1 : 0;
  EXPECT_EQ(unknown, 1U) << "told once that the state is not known";
  EXPECT_EQ(traded_qty(h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT").body), fx(0.001));
  EXPECT_EQ(position_when(s, btc, fx(0.001)), fx(0.001));
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// A fill found by a status query (no fills in the answer) needs the order's trades for its
// commissions; the terminal report waits for them. A failing myTrades must be asked again until it
// answers, not dropped, or the report and the position update wait forever.
TEST(Cwtsd, AFillWhoseTradesLookupKeepsFailingIsReportedOnceTheVenueAnswers) {
  Harness h;
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  // The order executes but its answer is lost: found FILLED by the query after recvWindow (1 s).
  ASSERT_EQ(
      h.fault(R"({"http_status":503,"count":1,"after_processing":true,"path":"/api/v3/order"})")
          .status,
      200U);
  const auto seq = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  std::this_thread::sleep_for(300ms);
  // Meanwhile its trades look-up is made to fail 7 times.
  ASSERT_EQ(h.fault(R"({"http_status":500,"count":7,"path":"/api/v3/myTrades"})").status, 200U);
  const auto rs = s.wait_terminal(seq, 60s);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(terminals(rs), 1U);
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled) << "reason " << rs.back().reason;
  EXPECT_GT(rs.back().fee.raw, 0) << "with the venue's commission";
  EXPECT_EQ(position_when(s, btc, fx(0.001)), fx(0.001));
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(Cwtsd, RestartGivesANewEpochThatAttachedStrategiesNotice) {
  Harness h;
  std::uint64_t epoch1 = 0;
  {
    StrategyClient s(h.instance(), 0);
    epoch1 = s.market_region().header().epoch_ns;
    EXPECT_FALSE(s.market_region().superseded());
    EXPECT_EQ(h.engine().terminate(15s), 0);
    EXPECT_TRUE(s.market_region().superseded()) << "a strategy sees its engine went away";
    h.start();
    EXPECT_TRUE(s.market_region().superseded());
  }
  StrategyClient s2(h.instance(), 0);
  EXPECT_NE(s2.market_region().header().epoch_ns, epoch1);
  const int btc = s2.symbol_id("BTCUSDT");
  const auto seq = s2.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  const auto rs = s2.wait_terminal(seq);
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(Cwtsd, SystemdReadyWatchdogAndAStalledMdThread) {
  Harness h;  // waited for READY=1 already
  EXPECT_TRUE(h.notify().wait_for("WATCHDOG=1", 3s));
  // Stall the md thread for 3 s (test hook): the watchdog pings stop while it is stalled.
  h.engine().signal(SIGUSR1);
  std::this_thread::sleep_for(1000ms);  // > progress_timeout_ms (500) after the stall began
  while (!h.notify().next(10ms).empty()) {
  }
  const auto t0 = std::chrono::steady_clock::now();
  bool pinged = false;
  while (std::chrono::steady_clock::now() - t0 < 1200ms) {
    if (h.notify().next(50ms).find("WATCHDOG=1") != std::string::npos) pinged = true;
  }
  EXPECT_FALSE(pinged) << "WATCHDOG=1 while the md thread was stalled";
  EXPECT_TRUE(h.notify().wait_for("WATCHDOG=1", 5s)) << "pings resume once it progresses";
  h.engine().signal(SIGTERM);
  EXPECT_TRUE(h.notify().wait_for("STOPPING=1", 5s));
  EXPECT_EQ(h.engine().wait(15s), 0);
  EXPECT_NE(h.log().find("threads_stalled"), std::string::npos);
}

TEST(Cwtsd, SecretsNeverAppearInTheLogs) {
  Harness h;
  {
    StrategyClient s(h.instance(), 0);
    const int btc = s.symbol_id("BTCUSDT");
    const auto seq = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
    ASSERT_FALSE(s.wait_terminal(seq).empty());
  }
  h.fault(R"({"http_status":503,"count":1})");
  EXPECT_EQ(h.engine().terminate(15s), 0);
  const std::string log = h.log();
  ASSERT_NE(log.find("order_final"), std::string::npos) << "the run logged its orders";
  EXPECT_EQ(log.find(kSecret), std::string::npos);
  EXPECT_EQ(log.find(kKey), std::string::npos);
  // Every line is one JSON object with the documented members.
  simdjson::dom::parser p;
  std::size_t lines = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    ++lines;
    simdjson::dom::element e;
    ASSERT_EQ(p.parse(line).get(e), simdjson::SUCCESS) << line;
    for (const char* k : {"ts", "level", "component", "event"}) {
      EXPECT_EQ(e[k].error(), simdjson::SUCCESS) << k << " missing: " << line;
    }
  }
  EXPECT_GT(lines, 5U);
}

TEST(Cwtsd, ConfigErrorsExitTwoNamingTheKey) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/cwtsd-bad-" + std::to_string(::getpid()) + ".json";
  std::ofstream(path) << R"({"market":{"symbols":["BTCUSDT"]},"risk":{"max_open_order":3}})";
  ChildProcess p(CWTSD_BINARY, {"--config", path, "--check-config"}, {}, path + ".err");
  EXPECT_EQ(p.wait(10s), 2);
  EXPECT_NE(cwts::test::read_file(path + ".err").find("risk.max_open_order: unknown key"),
            std::string::npos);
  std::ofstream(path)
      << R"({"market":{"symbols":["BTCUSDT"]},"venue":{"kind":"binance","api_key_env":"CWTS_NO_SUCH_VAR"}})";
  ChildProcess p2(CWTSD_BINARY, {"--config", path}, {}, path + ".err2");
  EXPECT_EQ(p2.wait(10s), 2);
  EXPECT_NE(cwts::test::read_file(path + ".err2").find("CWTS_NO_SUCH_VAR"), std::string::npos);
  ChildProcess ok(
      CWTSD_BINARY,
      {"--config", std::string(CWTS_SOURCE_DIR) + "/config/demo.json", "--check-config"},
      {{"CWTS_API_KEY", "k"}, {"CWTS_API_SECRET", "s"}});
  EXPECT_EQ(ok.wait(10s), 0);
  ChildProcess v(CWTSD_BINARY, {"--version"});
  EXPECT_NE(v.read_line().find("layout version"), std::string::npos);
  EXPECT_EQ(v.wait(10s), 0);
}

TEST(Cwtsd, PaperVenueFillsAgainstThePublishedBook) {
  EngineOptions o;
  o.venue_kind = "paper";
  o.threads =
      R"("md":{"idle":"spin-then-yield"},"exec":{"idle":"spin-then-yield"},"ctl":{"core":0})";
  Harness h(o);
  StrategyClient s(h.instance(), 0);
  const int eth = s.symbol_id("ETHUSDT");
  const auto seq = s.submit(StrategyClient::make(eth, Side::kBuy, OrderType::kMarket, fx(0.01)));
  const auto rs = s.wait_terminal(seq);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled);
  EXPECT_EQ(rs.back().cum_qty.raw, fx(0.01));
  EXPECT_GT(rs.back().fee.raw, 0);
  // Nothing went to the venue.
  EXPECT_EQ(array_size(h.signed_get("/api/v3/myTrades", "symbol=ETHUSDT").body), 0U);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// The control plane in the C++ suites too (so the ASan stage runs the server): GET endpoints on
// the port from the control file, a WebSocket JSON-RPC call, and the file removed at exit.
TEST(Cwtsd, ControlEndpointsAnswerAndTheControlFileIsRemovedAtExit) {
  Harness h;
  const std::string file = "/dev/shm/cwts-" + h.instance() + ".control";
  const std::string where = cwts::test::read_file(file);
  ASSERT_EQ(where.rfind("127.0.0.1:", 0), 0U) << where;
  const auto port = static_cast<std::uint16_t>(std::stoi(where.substr(10)));
  using boost::beast::http::verb;
  auto metrics = cwts::test::http_request(port, verb::get, "/metrics");
  EXPECT_EQ(metrics.status, 200U);
  EXPECT_NE(metrics.body.find("# TYPE cwts_md_publish_latency_seconds histogram"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("cwts_book_valid{symbol=\"BTCUSDT\"} 1"), std::string::npos)
      << metrics.body;
  EXPECT_EQ(cwts::test::http_request(port, verb::get, "/healthz").status, 200U);
  EXPECT_EQ(cwts::test::http_request(port, verb::get, "/nothing").status, 404U);
  EXPECT_EQ(cwts::test::http_request(port, verb::post, "/metrics", "x").status, 405U);
  {
    namespace websocket = boost::beast::websocket;
    boost::asio::io_context ioc;
    websocket::stream<boost::asio::ip::tcp::socket> ws(ioc);
    ws.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), port});
    ws.handshake("127.0.0.1", "/ws");
    ws.write(boost::asio::buffer(std::string(R"({"jsonrpc":"2.0","id":"a","method":"risk.get"})")));
    boost::beast::flat_buffer buf;
    ws.read(buf);
    const std::string reply = boost::beast::buffers_to_string(buf.data());
    EXPECT_NE(reply.find(R"("id":"a","result":{"max_order_notional":"100000.00000000")"),
              std::string::npos)
        << reply;
    ws.write(boost::asio::buffer(std::string(R"({"jsonrpc":"2.0","id":2,"method":"halt"})")));
    buf.clear();
    ws.read(buf);
    EXPECT_NE(boost::beast::buffers_to_string(buf.data()).find("-32001"), std::string::npos);
    ws.close(websocket::close_code::normal);
  }
  // A stalled hot thread (test hook: md stops for 3 s) turns /healthz to 503, and back.
  h.engine().signal(SIGUSR1);
  bool stalled = false;
  for (int i = 0; i < 40 && !stalled; ++i) {
    std::this_thread::sleep_for(50ms);
    stalled = cwts::test::http_request(port, verb::get, "/healthz").status == 503U;
  }
  EXPECT_TRUE(stalled) << "/healthz never reported the stalled md thread";
  bool recovered = false;
  for (int i = 0; i < 100 && !recovered; ++i) {
    std::this_thread::sleep_for(50ms);
    recovered = cwts::test::http_request(port, verb::get, "/healthz").status == 200U;
  }
  EXPECT_TRUE(recovered);
  EXPECT_EQ(h.engine().terminate(15s), 0);
  EXPECT_NE(::access(file.c_str(), F_OK), 0) << "control file left behind";
}

}  // namespace
