// cwtsd as a process against cwts-sim: restart epochs, systemd notifications and the watchdog,
// secrets in logs, config errors, the paper venue, and the control plane.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/beast/websocket.hpp>
#include <simdjson.h>

#include "daemon_fixture.hpp"

namespace {

using namespace cwts::daemon::test;

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

// Issue 17 #6: on SIGTERM the exec thread read the rings once, then spent up to
// shutdown.timeout_ms settling orders while the regions still said live: every signal sent
// meanwhile sat in a ring nobody read again, with no report. Now each send either is refused
// (the engine is stopping: nothing pushed) or gets exactly one terminal report.
TEST(Cwtsd, EverySignalSentUntilTheEngineExitsIsRefusedOrReported) {
  Harness h;
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  const auto q = s.quote(btc);
  const auto info = s.market().symbol(btc).info.load();
  const std::int64_t far = tick_floor(q.bid_px.raw * 97 / 100, info.tick_size.raw);
  const auto resting =
      s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), far));
  bool is_new = false;
  for (int i = 0; i < 500 && !is_new; ++i) {
    s.drain();
    for (const auto& r : s.reports())
      is_new = is_new || (r.signal_seq == resting && kind_of(r) == ReportKind::kNew);
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(is_new) << h.log();
  // Its cancel at shutdown is held by the venue for a second: the engine takes that long to stop.
  ASSERT_EQ(
      h.fault(R"({"hold_ms":1000,"count":1,"path":"/api/v3/order","method":"DELETE"})").status,
      200U);
  h.engine().signal(SIGTERM);
  std::vector<std::uint64_t> sent;
  std::size_t refused = 0;
  while (h.engine().running()) {
    const std::uint64_t seq = s.next_seq();
    switch (s.send(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001), far))) {
      case cwts::shm::SubmitStatus::kOk:
        sent.push_back(seq);
        break;
      default:
        ++refused;
        break;
    }
    std::this_thread::sleep_for(1ms);
  }
  s.drain();
  std::size_t unreported = 0;
  for (const std::uint64_t seq : sent) {
    std::size_t n = 0;
    for (const auto& r : s.reports())
      if (r.signal_seq == seq && cwts::layout::is_terminal(kind_of(r))) ++n;
    EXPECT_LE(n, 1U) << "seq " << seq;
    if (n == 0) ++unreported;
  }
  EXPECT_EQ(unreported, 0U) << sent.size() << " sent, " << refused << " refused\n" << h.log();
  EXPECT_GT(refused, 0U) << "sends while the engine stops are refused";
}

// ADR 0034: a start that is still syncing books at the supervisor's first tick (the venue holds
// the books' snapshots here) asks systemd for more start time, EXTEND_TIMEOUT_USEC, before READY=1.
// Issue 19's scale: more symbols than the stream target the feed connects with can carry (about
// 65 of three streams in its 4 KB); the feed subscribes the rest on the open connection, and
// their snapshots wait for the answers. READY=1 comes once every book is synced, and a strategy
// trades the last symbol.
// Issue 19's scale: 1,000 symbols, past one WebSocket connection's 1,024 streams (341 symbols of
// three): the feed opens three connections, subscribes what their stream targets cannot carry on
// the open connections, and every book syncs; an order on the last symbol (the third
// connection's) fills.
TEST(Cwtsd, AThousandSymbolsSyncEveryBookOverThreeConnections) {
  EngineOptions o;
  o.extra_market = R"(,"snapshot_limit":100)";  // 5 weight a snapshot
  for (int i = 0; i < 998; ++i) o.symbols.push_back("S" + std::to_string(1000 + i) + "USDT");
  o.wait_ready = false;  // the snapshots are paced by the rate governor
  // Room in the venue's request weight for every snapshot within the minute.
  Harness h(o, {"--weight-limit", "20000"});
  ASSERT_TRUE(h.notify().wait_for("READY=1", 120s)) << h.log();
  EXPECT_NE(h.log().find("\"event\":\"subscribing_after_connect\""), std::string::npos) << h.log();
  EXPECT_NE(h.log().find("\"event\":\"connected\",\"url\""), std::string::npos);
  EXPECT_NE(h.log().find("\"connection\":2,\"symbols\":318,"), std::string::npos)
      << "the third connection carries the last 318 symbols";
  StrategyClient s(h.instance(), 0);
  const auto& m = s.market();
  ASSERT_EQ(cwts::concurrent::load_word(m.symbol_count, std::memory_order_acquire), 1000U);
  for (std::size_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(cwts::concurrent::load_word(m.symbol(i).book_valid, std::memory_order_acquire), 1U)
        << i;
  }
  const int last = s.symbol_id("S1997USDT");
  ASSERT_EQ(last, 999);
  const auto seq = s.submit(StrategyClient::make(last, Side::kBuy, OrderType::kMarket, fx(1)));
  const auto rs = s.wait_terminal(seq);
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled) << h.log();
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(Cwtsd, ASlowStartExtendsSystemdsStartTimeoutBeforeReady) {
  EngineOptions o;
  o.wait_ready = false;
  Harness h(o, {}, [](std::uint16_t port) {
    const auto r = cwts::test::http_request(port, boost::beast::http::verb::post, "/_sim/fault",
                                            R"({"hold_ms":1500,"count":4,"path":"/api/v3/depth"})");
    ASSERT_EQ(r.status, 200U) << r.body;
  });
  std::vector<std::string> got;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string d = h.notify().next(100ms);
    if (!d.empty()) got.push_back(d);
    if (d.find("READY=1") != std::string::npos) break;
  }
  std::string all;
  for (const auto& d : got) all += d + "\n";
  ASSERT_FALSE(got.empty() || got.back().find("READY=1") == std::string::npos) << all << h.log();
  bool extended = false;
  for (const auto& d : got) {
    extended = extended || d.find("EXTEND_TIMEOUT_USEC=60000000") != std::string::npos;
  }
  EXPECT_TRUE(extended) << "no EXTEND_TIMEOUT_USEC before READY=1:\n" << all;
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

// One JSON-RPC WebSocket session on the control port, with the bearer token if one is given.
class RpcSession {
 public:
  explicit RpcSession(std::uint16_t port, const std::string& token = {}) : ws_(ioc_) {
    namespace websocket = boost::beast::websocket;
    ws_.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), port});
    if (!token.empty()) {
      ws_.set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
        req.set(boost::beast::http::field::authorization, "Bearer " + token);
      }));
    }
    ws_.handshake("127.0.0.1", "/ws");
  }
  ~RpcSession() {
    boost::system::error_code ec;
    ws_.close(boost::beast::websocket::close_code::normal, ec);
  }
  RpcSession(const RpcSession&) = delete;
  RpcSession& operator=(const RpcSession&) = delete;
  std::string call(const std::string& request) {
    ws_.write(boost::asio::buffer(request));
    boost::beast::flat_buffer buf;
    ws_.read(buf);
    return boost::beast::buffers_to_string(buf.data());
  }

 private:
  boost::asio::io_context ioc_;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
};

std::string token_path(const std::string& instance) {
  return "/dev/shm/cwts-" + instance + ".token";
}

// The first line of the token file cwtsd writes beside its control file.
std::string read_token(const std::string& instance) {
  std::string t = cwts::test::read_file(token_path(instance));
  if (const auto nl = t.find('\n'); nl != std::string::npos) t.resize(nl);
  return t;
}

std::uint16_t control_port(const std::string& instance) {
  const std::string where = cwts::test::read_file("/dev/shm/cwts-" + instance + ".control");
  return where.rfind("127.0.0.1:", 0) == 0 ? static_cast<std::uint16_t>(std::stoi(where.substr(10)))
                                           : std::uint16_t{0};
}

// Without control.token_file, every JSON-RPC method, reads and the reports stream included, needs
// a token: cwtsd generates one at start into an owner-only file beside its control file (where
// cwtsctl finds it) and removes it at exit. A client without it reads nothing.
TEST(Cwtsd, ControlReadsNeedTheTokenTheEngineGenerated) {
  Harness h;
  const std::uint16_t port = control_port(h.instance());
  ASSERT_NE(port, 0);
  struct stat st {};
  ASSERT_EQ(::lstat(token_path(h.instance()).c_str(), &st), 0) << "no token file; log:\n"
                                                               << h.log();
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  EXPECT_EQ(st.st_uid, ::getuid());
  const std::string token = read_token(h.instance());
  EXPECT_GE(token.size(), 32U);
  EXPECT_EQ(h.log().find(token), std::string::npos) << "the token was logged";
  {
    RpcSession anonymous(port);
    for (const char* method : {"status", "symbols", "risk.get", "slots"}) {
      const std::string reply =
          anonymous.call(std::string(R"({"jsonrpc":"2.0","id":1,"method":")") + method + R"("})");
      EXPECT_NE(reply.find("-32001"), std::string::npos) << method << ": " << reply;
    }
    const std::string sub = anonymous.call(
        R"({"jsonrpc":"2.0","id":2,"method":"subscribe","params":{"topics":["reports"]}})");
    EXPECT_NE(sub.find("-32001"), std::string::npos) << sub;
    RpcSession wrong(port, std::string(token.size(), 'x'));
    EXPECT_NE(wrong.call(R"({"jsonrpc":"2.0","id":3,"method":"status"})").find("-32001"),
              std::string::npos);
    RpcSession owner(port, token);
    const std::string ok = owner.call(R"({"jsonrpc":"2.0","id":4,"method":"status"})");
    EXPECT_NE(ok.find(R"("id":4,"result":{"instance":")"), std::string::npos) << ok;
  }
  EXPECT_EQ(h.engine().terminate(15s), 0);
  EXPECT_NE(::access(token_path(h.instance()).c_str(), F_OK), 0) << "token file left behind";
}

// The operator's explicit opt-out opens reads (loopback only), never mutations.
TEST(Cwtsd, ControlReadsOpenOnlyWhenTheOperatorSaysSo) {
  EngineOptions o;
  o.extra = R"("control":{"allow_unauthenticated_reads":true},)";
  Harness h(o);
  RpcSession anonymous(control_port(h.instance()));
  const std::string ok = anonymous.call(R"({"jsonrpc":"2.0","id":1,"method":"risk.get"})");
  EXPECT_NE(ok.find(R"("id":1,"result":)"), std::string::npos) << ok;
  EXPECT_NE(anonymous.call(R"({"jsonrpc":"2.0","id":2,"method":"halt"})").find("-32001"),
            std::string::npos);
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
  // What the dashboard and the alert rules (config/grafana, config/prometheus) divide by and
  // compare with: the venue's limits (cwts-sim's exchangeInfo rateLimits), readiness, the progress
  // timeout.
  EXPECT_NE(metrics.body.find("cwts_venue_limit{limit=\"request_weight_1m\"} 1200\n"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("cwts_venue_limit{limit=\"orders_10s\"} "), std::string::npos);
  EXPECT_NE(metrics.body.find("# TYPE cwts_ready gauge\ncwts_ready "), std::string::npos);
  EXPECT_NE(metrics.body.find("cwts_progress_timeout_seconds 0.5\n"), std::string::npos)
      << metrics.body;
  EXPECT_EQ(cwts::test::http_request(port, verb::get, "/healthz").status, 200U);
  EXPECT_EQ(cwts::test::http_request(port, verb::get, "/nothing").status, 404U);
  EXPECT_EQ(cwts::test::http_request(port, verb::post, "/metrics", "x").status, 405U);
  {
    RpcSession rpc(port, read_token(h.instance()));
    const std::string reply = rpc.call(R"({"jsonrpc":"2.0","id":"a","method":"risk.get"})");
    EXPECT_NE(reply.find(R"("id":"a","result":{"max_order_notional":"100000.00000000")"),
              std::string::npos)
        << reply;
    RpcSession anonymous(port);
    EXPECT_NE(anonymous.call(R"({"jsonrpc":"2.0","id":2,"method":"halt"})").find("-32001"),
              std::string::npos);
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
