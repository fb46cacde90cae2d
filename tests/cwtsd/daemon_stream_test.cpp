// The user data stream and the WebSocket API end to end (docs/engine.md "Venues"): a real cwtsd
// against a real cwts-sim, whose /_sim/stats tells what the engine cost the venue.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "daemon_fixture.hpp"

namespace {

using namespace cwts::daemon::test;
using namespace std::chrono_literals;
using boost::beast::http::verb;
using cwts::layout::OrderType;
using cwts::layout::ReportKind;
using cwts::layout::Side;
using cwts::test::StrategyClient;

void reset_stats(Harness& h) {
  ASSERT_EQ(cwts::test::http_request(h.sim().port(), verb::delete_, "/_sim/stats").status, 200U);
}
std::string stats(Harness& h) {
  return cwts::test::http_request(h.sim().port(), verb::get, "/_sim/stats").body;
}
// The request weight charged to the engine's API key since the last reset.
std::int64_t engine_weight(Harness& h) {
  const std::string body = stats(h);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(body).get(doc) != simdjson::SUCCESS) return -1;
  std::int64_t w = 0;
  if (doc["apiKeys"][kKey]["weight"].get(w) != simdjson::SUCCESS) return 0;
  return w;
}

// A limit buy `ticks` cents under the bid: it rests, and the synthetic market's random walk
// (about 50 one-tick moves a second) soon brings the ask down to it.
std::uint64_t rest_near_bid(StrategyClient& s, int sym, std::int64_t qty, int ticks) {
  const auto q = s.quote(sym);
  return s.submit(StrategyClient::make(sym, Side::kBuy, OrderType::kLimit, qty,
                                       tick_floor(q.bid_px.raw, fx(0.01)) - ticks * fx(0.01)));
}

// A limit buy 3% under the bid worth about 20 USDT: it rests for the whole test.
std::uint64_t rest_far_below(StrategyClient& s, int sym) {
  const auto q = s.quote(sym);
  const auto info = s.market().symbol(sym).info.load();
  const std::int64_t px = tick_floor(q.bid_px.raw * 97 / 100, info.tick_size.raw);
  const std::int64_t step = info.step_size.raw;
  const std::int64_t qty = (fx(20) * fx(1) / px / step + 1) * step;
  return s.submit(StrategyClient::make(sym, Side::kBuy, OrderType::kLimit, qty, px));
}

EngineOptions ws_orders() {
  EngineOptions o;
  o.extra_venue = R"(,"order_transport":"ws")";
  return o;
}

TEST(CwtsdUserStream, ARestingOrdersFillReachesTheStrategyFromTheStreamWithoutAnyPolling) {
  Harness h;
  ASSERT_TRUE(h.wait_metric("cwts_venue_user_stream_live 1")) << h.log();
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  reset_stats(h);
  const auto seq = rest_near_bid(s, btc, fx(0.001), 5);
  ASSERT_TRUE(wait_kind(s, seq, ReportKind::kNew)) << h.log();
  const auto rs = s.wait_terminal(seq, 60s);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled);
  EXPECT_EQ(terminals(rs), 1U);
  EXPECT_EQ(rs.back().cum_qty.raw, fx(0.001));
  EXPECT_GT(rs.back().fee.raw, 0) << "the commission came with the executionReport";
  // The engine learned it from the stream: no poll of open orders, no order query, no trades.
  const std::string used = stats(h);
  EXPECT_EQ(used.find("/api/v3/openOrders"), std::string::npos) << used;
  EXPECT_EQ(used.find("/api/v3/myTrades"), std::string::npos) << used;
  EXPECT_EQ(used.find("GET /api/v3/order\""), std::string::npos) << used;
  const std::int64_t held = balance_change(h, "BTC", fx(10));
  EXPECT_EQ(position_when(s, btc, held), held) << "positions follow outboundAccountPosition";
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(CwtsdUserStream, IdleWithRestingOrdersOnTenSymbolsTheEngineCostsTheVenueAlmostNothing) {
  EngineOptions o;
  o.symbols = {"BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT",
               "ADAUSDT", "LTCUSDT", "DOTUSDT", "TRXUSDT", "XLMUSDT"};
  o.risk = R"("max_order_notional":"100000","max_open_orders":20,"price_band_bps":500)";
  Harness h(o);
  ASSERT_TRUE(h.wait_metric("cwts_venue_user_stream_live 1")) << h.log();
  StrategyClient s(h.instance(), 0);
  std::vector<std::uint64_t> seqs;
  for (const auto& sym : o.symbols) {
    ASSERT_GE(s.symbol_id(sym), 0) << sym;
    seqs.push_back(rest_far_below(s, s.symbol_id(sym)));
  }
  for (const auto seq : seqs) ASSERT_TRUE(wait_kind(s, seq, ReportKind::kNew)) << h.log();
  reset_stats(h);
  std::this_thread::sleep_for(12s);
  const std::int64_t weight = engine_weight(h);
  // At most the clock's GET /api/v3/time (weight 1 a minute); polling 10 symbols every 100 ms
  // (this harness's order_poll_ms) would cost 6 x 10 x 10 = 600 weight a second.
  EXPECT_LE(weight, 1) << stats(h);
  ::testing::Test::RecordProperty("idle_weight_12s", static_cast<int>(weight));
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(CwtsdUserStream, AStreamLostMidFillIsReconciledNothingLostOrDoubled) {
  Harness h;
  ASSERT_TRUE(h.wait_metric("cwts_venue_user_stream_live 1")) << h.log();
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  const auto seq = rest_near_bid(s, btc, fx(0.002), 3);
  ASSERT_TRUE(wait_kind(s, seq, ReportKind::kNew)) << h.log();
  // The venue cuts every connection, the user data stream included, again and again while the
  // order fills: its events are lost with the sessions.
  std::vector<cwts::layout::ExecReport> rs;
  for (int i = 0; i < 100 && rs.empty(); ++i) {
    ASSERT_EQ(h.fault(R"({"drop_connections":true})").status, 200U);
    rs = s.wait_terminal(seq, 150ms);
  }
  if (rs.empty()) rs = s.wait_terminal(seq, 30s);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled);
  EXPECT_EQ(terminals(rs), 1U);
  EXPECT_EQ(rs.back().cum_qty.raw, fx(0.002));
  EXPECT_GT(rs.back().fee.raw, 0);
  const std::string m = h.metrics();
  EXPECT_EQ(m.find("cwts_venue_user_stream_gaps_total 0\n"), std::string::npos) << m;
  const std::int64_t held = balance_change(h, "BTC", fx(10));
  EXPECT_EQ(position_when(s, btc, held), held) << h.log();
  const auto all = h.signed_get("/api/v3/allOrders", "symbol=BTCUSDT");
  EXPECT_EQ(array_size(all.body), 1U) << all.body;
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(CwtsdUserStream, OrdersAndCancelsGoOverTheWebSocketApiWithOrderTransportWs) {
  Harness h(ws_orders());
  ASSERT_TRUE(h.wait_metric("cwts_venue_user_stream_live 1")) << h.log();
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  reset_stats(h);
  const auto m = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  auto rs = s.wait_terminal(m);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled);
  EXPECT_EQ(terminals(rs), 1U);
  EXPECT_GT(rs.back().fee.raw, 0);
  const auto q = s.quote(btc);
  const auto r = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                                               tick_floor(q.bid_px.raw * 97 / 100, fx(0.01))));
  ASSERT_TRUE(wait_kind(s, r, ReportKind::kNew)) << h.log();
  (void)s.cancel(r);
  rs = s.wait_terminal(r);
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kCancelled);
  const std::string used = stats(h);
  EXPECT_EQ(used.find("POST /api/v3/order"), std::string::npos) << used;
  EXPECT_EQ(used.find("DELETE /api/v3/order"), std::string::npos) << used;
  EXPECT_NE(used.find("order.place"), std::string::npos) << used;
  EXPECT_NE(used.find("order.cancel"), std::string::npos) << used;
  const std::int64_t held = balance_change(h, "BTC", fx(10));
  EXPECT_EQ(position_when(s, btc, held), held);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(CwtsdUserStream, AnOrderPlaceHeldPastTheTimeoutIsQueriedAndNeverDoubled) {
  Harness h(ws_orders());
  ASSERT_TRUE(h.wait_metric("cwts_venue_user_stream_live 1")) << h.log();
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  // The order.place reaches the matching engine 700 ms late, after the engine's 400 ms request
  // timeout: the outcome is unknown, the session is dropped, and the order is queried once its
  // request can no longer execute (recvWindow 1 s): found filled, reported once, never resent.
  ASSERT_EQ(h.fault(R"({"hold_ms":700,"count":1,"method":"order.place"})").status, 200U);
  const auto seq = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
  const auto rs = s.wait_terminal(seq, 30s);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled) << h.log();
  EXPECT_EQ(terminals(rs), 1U);
  std::this_thread::sleep_for(500ms);
  const auto all = h.signed_get("/api/v3/allOrders", "symbol=BTCUSDT");
  EXPECT_EQ(array_size(all.body), 1U) << all.body;
  const std::int64_t held = balance_change(h, "BTC", fx(10));
  EXPECT_EQ(position_when(s, btc, held), held);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

}  // namespace

namespace {

// The value of an unlabelled sample in /metrics text; NaN if absent.
double metric_value(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return std::nan("");
  return std::stod(text.substr(at + name.size() + 2));
}

}  // namespace

// Binance refuses a request whose timestamp is more than recvWindow behind its clock or 1 s ahead
// of it (-1021). A venue whose clock is 3 s away from this host's: the engine measures the
// offset (GET /api/v3/time) and every timestamp is on the venue's clock.
// Issue 16 #11: the venue client kept a copy of every order request for its whole run (for the
// single resend a lost request may need): memory grew with every order ever sent. And none of
// it allocated on a hot thread's socket operations (below).
TEST(CwtsdVenueBookkeeping, TheVenueClientForgetsEachOrderOnceItIsOver) {
  Harness h;
  ASSERT_TRUE(h.wait_metric("cwts_venue_user_stream_live 1")) << h.log();
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  for (int i = 0; i < 20; ++i) {
    const auto seq =
        s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001), 0));
    const auto rs = s.wait_terminal(seq, 10s);
    ASSERT_FALSE(rs.empty()) << h.log();
    EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled);
  }
  // Over and their fees known: nothing of them is left in the venue client.
  EXPECT_TRUE(h.wait_metric("cwts_venue_tracked_orders 0", 15s)) << h.metrics();
  EXPECT_TRUE(h.wait_metric("cwts_venue_kept_requests 0", 15s)) << h.metrics();
  // The hot threads' socket operations take their memory from their connections' fixed slots
  // (cwts/net/handler_memory.hpp); one that does not fit is a heap allocation on that thread,
  // counted in cwts_handler_spills_total. The md thread's frame reads, and the exec thread's
  // orders and their answers and stream events (REST and the user data stream): none.
  const std::string m = h.metrics();
  EXPECT_NE(m.find("\ncwts_handler_spills_total{thread=\"md\"} 0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\ncwts_handler_spills_total{thread=\"exec\"} 0\n"), std::string::npos) << m;
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// Issue 16 #10: order traffic shared one FIFO with the engine's polls: a new order waited behind
// every openOrders poll queued before it for the kept-alive connection.
TEST(CwtsdVenueScheduling, AnOrderOvertakesThePollsQueuedForTheConnection) {
  EngineOptions o = polling_only();
  o.extra_venue += R"(,"connections":1)";
  o.symbols = {"BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT",
               "XRPUSDT", "ADAUSDT", "LTCUSDT", "DOTUSDT"};
  o.risk = R"("max_order_notional":"100000","max_open_orders":20,"price_band_bps":500)";
  Harness h(o);
  StrategyClient s(h.instance(), 0);
  // A buy resting 3% under the bid on each symbol: every poll round asks openOrders for each.
  for (const auto& sym : o.symbols) {
    ASSERT_GE(s.symbol_id(sym), 0) << sym;
    ASSERT_TRUE(wait_kind(s, rest_far_below(s, s.symbol_id(sym)), ReportKind::kNew)) << h.log();
  }
  // Each openOrders answer now takes 500 ms: a poll for every symbol waits for the connection.
  ASSERT_EQ(h.fault(R"({"delay_ms":500,"count":100000,"path":"/api/v3/openOrders"})").status, 200U);
  std::this_thread::sleep_for(2s);
  const int btc = s.symbol_id("BTCUSDT");
  const auto t0 = std::chrono::steady_clock::now();
  const auto seq =
      s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001), 0));
  const auto rs = s.wait_terminal(seq, 15s);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled);
  // Next on the connection: at most the poll in flight (500 ms) before it; behind the polls
  // queued for the other symbols it took seconds.
  ::testing::Test::RecordProperty(
      "order_ms",
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  EXPECT_LT(took, 1200ms) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                          << " ms";
  ASSERT_EQ(h.fault(R"({"delay_ms":0})").status, 200U);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// A TCP forwarder from 127.0.0.2:port to 127.0.0.1:port (the venue at a second address), until
// stop() closes it and every connection through it.
class Forwarder {
 public:
  explicit Forwarder(std::uint16_t port) : port_(port) {
    lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = addr("127.0.0.2");
    if (::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(lfd_, 16) != 0) {
      throw std::runtime_error("forwarder: cannot listen on 127.0.0.2");
    }
    accepter_ = std::thread([this] {
      while (true) {
        const int c = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        const int u = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in b = addr("127.0.0.1");
        if (::connect(u, reinterpret_cast<sockaddr*>(&b), sizeof b) != 0) {
          ::close(c);
          ::close(u);
          continue;
        }
        std::lock_guard lock(mu_);
        fds_.insert(fds_.end(), {c, u});
        pumps_.emplace_back([c, u] { pump(c, u); });
        pumps_.emplace_back([c, u] { pump(u, c); });
      }
    });
  }
  ~Forwarder() { stop(); }
  void stop() {
    if (lfd_ < 0) return;
    ::shutdown(lfd_, SHUT_RDWR);
    accepter_.join();
    ::close(lfd_);
    lfd_ = -1;
    std::lock_guard lock(mu_);
    for (const int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    for (auto& t : pumps_) t.join();
    for (const int fd : fds_) ::close(fd);
  }

 private:
  sockaddr_in addr(const char* ip) const {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    ::inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
  }
  static void pump(int from, int to) {
    char buf[16384];
    while (true) {
      const ssize_t n = ::recv(from, buf, sizeof buf, 0);
      if (n <= 0 || ::send(to, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
    }
    ::shutdown(to, SHUT_WR);
  }
  std::uint16_t port_;
  int lfd_ = -1;
  std::thread accepter_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> pumps_;
};

// Runs cwtsd in its own mount namespace where each of `files` (path, replaced system file) is
// bind-mounted over the system file: a private /etc/hosts or /etc/resolv.conf the test rewrites.
std::vector<std::string> with_private_files(
    const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<std::string> launcher = {"/usr/bin/unshare", "--mount", "--propagation",
                                       "private",          "/bin/sh", "-c"};
  std::string script;
  for (std::size_t i = 0; i < files.size(); ++i) {
    script += "mount --bind \"$" + std::to_string(i) + "\" " + files[i].second + " && ";
  }
  script += "shift " + std::to_string(files.size() - 1) + " && exec \"$@\"";
  launcher.push_back(script);
  for (const auto& f : files) launcher.push_back(f.first);
  return launcher;
}

// Issue 16 #10: the venue's name was resolved once, at start: a venue whose address changed was
// never reached again. cwtsd runs here with a private /etc/hosts (a bind mount in its own mount
// namespace) that the test rewrites; the venue is first reached at 127.0.0.2 (a forwarder), which
// then goes away while the name moves to 127.0.0.1.
TEST(CwtsdVenueScheduling, TheVenuesNameIsLookedUpAgainAfterAConnectionFails) {
  if (::geteuid() != 0 || ::access("/usr/bin/unshare", X_OK) != 0) {
    GTEST_SKIP() << "needs root and unshare (a private /etc/hosts for cwtsd)";
  }
  const std::string hosts =
      ::testing::TempDir() + "/cwts-hosts-" + std::to_string(::getpid()) + ".txt";
  // Rewritten in place: the bind mount shows the same file.
  const auto point_at = [&](const char* address) {
    std::ofstream(hosts, std::ios::trunc) << address << " localhost\n";
  };
  point_at("127.0.0.2");
  EngineOptions o = polling_only();
  o.rest_host = "localhost";  // loopback: plain http is allowed
  o.launcher = with_private_files({{hosts, "/etc/hosts"}});
  o.wait_ready = false;
  std::unique_ptr<Forwarder> fwd;
  Harness h(o, {}, [&](std::uint16_t port) { fwd = std::make_unique<Forwarder>(port); });
  ASSERT_TRUE(h.notify().wait_for("READY=1", 30s)) << h.log();
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  const auto buy = [&] {
    return s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001), 0));
  };
  auto rs = s.wait_terminal(buy(), 10s);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled);
  // The venue moves: its old address stops answering, its name points at the new one.
  point_at("127.0.0.1");
  fwd->stop();
  // The first order after the move may meet the dead connection (its outcome is then queried);
  // within seconds orders fill again at the new address.
  bool filled = false;
  for (int i = 0; i < 10 && !filled; ++i) {
    rs = s.wait_terminal(buy(), 5s);
    filled = !rs.empty() && kind_of(rs.back()) == ReportKind::kFilled;
  }
  EXPECT_TRUE(filled) << h.log();
  EXPECT_EQ(h.engine().terminate(15s), 0);
  ::unlink(hosts.c_str());
}

// Issue 16 #5: an order waiting for its connection while the venue's name was looked up again
// (after a connection failed) was sent when the look-up ended, however late: past its signal's
// TTL. cwtsd runs with a private /etc/hosts and /etc/resolv.conf; once started, its venue's name
// is only in DNS, at a name server that never answers (each look-up stalls 4 s). The first order's
// answer is delayed past the request timeout, which fails its connection; the second order (TTL
// 800 ms) is the next request, and must end rejected as stale without reaching the venue.
TEST(CwtsdVenueScheduling, AnOrderWaitingForTheVenuesNameIsNotSentPastItsDeadline) {
  if (::geteuid() != 0 || ::access("/usr/bin/unshare", X_OK) != 0) {
    GTEST_SKIP() << "needs root and unshare (a private /etc/hosts and /etc/resolv.conf for cwtsd)";
  }
  const std::string dir = ::testing::TempDir() + "/cwts-dns-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  const std::string hosts = dir + "/hosts";
  const std::string resolv = dir + "/resolv.conf";
  std::ofstream(hosts) << "127.0.0.1 localhost\n";
  // The silent name server: a bound UDP socket nobody reads (no ICMP "port unreachable").
  const int dns = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(dns, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(53);
  ::inet_pton(AF_INET, "127.0.0.77", &a.sin_addr);
  if (::bind(dns, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    const int err = errno;
    ::close(dns);
    ::unlink(hosts.c_str());
    ::rmdir(dir.c_str());
    GTEST_SKIP() << "cannot bind 127.0.0.77:53 for the silent name server: " << std::strerror(err);
  }
  std::ofstream(resolv) << "nameserver 127.0.0.77\noptions timeout:4 attempts:1\n";
  EngineOptions o = polling_only();
  o.extra_venue += R"(,"connections":1,"request_timeout_ms":300)";
  o.rest_host = "localhost";
  o.launcher = with_private_files({{hosts, "/etc/hosts"}, {resolv, "/etc/resolv.conf"}});
  {
    Harness h(o);
    StrategyClient s(h.instance(), 0);
    const int btc = s.symbol_id("BTCUSDT");
    // From now on the name is only in DNS.
    std::ofstream(hosts, std::ios::trunc) << "127.0.0.1 not-the-venue\n";
    ASSERT_EQ(h.fault(R"({"delay_ms":1500,"count":1,"path":"/api/v3/order"})").status, 200U);
    const auto first =
        s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001), 0));
    auto late = StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.002), 0);
    late.ttl_ms = 800;
    const auto second = s.submit(late);
    const auto rs = s.wait_terminal(second, 30s);
    ASSERT_FALSE(rs.empty()) << h.log();
    EXPECT_EQ(terminals(rs), 1U);
    EXPECT_EQ(kind_of(rs.back()), ReportKind::kRejected)
        << "filled past its deadline; reason " << rs.back().reason << "\n"
        << h.log();
    EXPECT_EQ(static_cast<RejectReason>(rs.back().reason), RejectReason::kStale);
    // Told at its deadline, not when the look-up gave up (which the log then says).
    EXPECT_EQ(h.log().find("REST resolve of localhost failed"), std::string::npos) << h.log();
    // The first order's outcome is established once the venue is reachable again.
    std::ofstream(hosts, std::ios::trunc) << "127.0.0.1 localhost\n";
    EXPECT_FALSE(s.wait_terminal(first, 60s).empty()) << h.log();
    // The venue never saw the second order: only the first one's 0.001 BTC traded.
    EXPECT_EQ(traded_qty(h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT").body), fx(0.001));
    EXPECT_EQ(h.engine().terminate(15s), 0);
  }
  ::close(dns);
  ::unlink(hosts.c_str());
  ::unlink(resolv.c_str());
  ::rmdir(dir.c_str());
}

// Orders open at the venue on BTCUSDT (the test's own look-up: only outside a 429's Retry-After,
// or cwts-sim bans this IP as Binance would).
std::size_t venue_open_orders(Harness& h) {
  const auto reply = h.signed_get("/api/v3/openOrders", "symbol=BTCUSDT");
  EXPECT_EQ(reply.status, 200U) << reply.body;  // 418: the venue banned this IP
  if (reply.status != 200U) return SIZE_MAX;
  const std::string& body = reply.body;
  std::size_t n = 0;
  for (auto at = body.find("\"orderId\""); at != std::string::npos;
       at = body.find("\"orderId\"", at + 1))
    ++n;
  return n;
}

// A 429 binds every request until its Retry-After, cancels included. The engine's bulk cancels
// (slots.N.on_release = cancel, shutdown.on_stop = cancel, cancel_all) went straight to the venue
// while it said back off, and Binance bans an IP for that (418, 2 minutes to 3 days: nothing can
// be cancelled meanwhile). cwts-sim bans a request that arrives inside a 429's Retry-After. Here a
// strategy's cancel takes the 429; its bulk cancels follow while the venue still says back off
// (more than the three cwts-sim forgives as already on their way).
TEST(CwtsdVenueScheduling, BulkCancelsWaitOutA429sRetryAfterAndTheVenueNeverBans) {
  for (const bool ws : {false, true}) {
    SCOPED_TRACE(ws ? "orders over the WebSocket API" : "orders over REST");
    EngineOptions o = ws ? ws_orders() : EngineOptions{};
    o.risk = R"("max_order_notional":"100000","max_open_orders":10,"price_band_bps":500)";
    o.slots = R"("default":{"trade":true,"on_release":"cancel"})";
    Harness h(o);
    ASSERT_TRUE(h.wait_metric("cwts_venue_user_stream_live 1")) << h.log();
    const std::string fault =
        std::string(R"({"http_status":429,"retry_after_s":2,"count":1,"path":")") +
        (ws ? "/ws-api/v3" : "/api/v3/order") + "\"}";
    // Places `n` resting buys, then cancels the first one into an injected 429 and waits until the
    // engine has its answer: the venue says back off for 2 s from then (the stop waits up to 3 s
    // for its cancels: shutdown.timeout_ms).
    const auto rest_and_get_a_429 = [&](StrategyClient& s, int n, int backoffs) {
      const int btc = s.symbol_id("BTCUSDT");
      const auto q = s.quote(btc);
      std::vector<std::uint64_t> seqs;
      for (int k = 0; k < n; ++k) {
        seqs.push_back(s.submit(
            StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                                 tick_floor(q.bid_px.raw * (985 - 4 * k) / 1000, fx(0.01)))));
        ASSERT_TRUE(wait_kind(s, seqs.back(), ReportKind::kNew)) << h.log();
      }
      ASSERT_EQ(venue_open_orders(h), static_cast<std::size_t>(n));
      ASSERT_EQ(h.fault(fault).status, 200U);
      (void)s.cancel(seqs.front());
      ASSERT_TRUE(h.wait_metric("cwts_venue_backoffs_total{http_status=\"429\"} " +
                                std::to_string(backoffs)))
          << h.log();
    };
    {
      StrategyClient s(h.instance(), 0);
      rest_and_get_a_429(s, 6, 1);
    }  // released: its five other orders are cancelled, after the Retry-After
    std::this_thread::sleep_for(2500ms);
    bool cancelled = false;
    for (int i = 0; i < 100 && !cancelled; ++i) {
      const std::size_t open = venue_open_orders(h);
      if (open == SIZE_MAX) break;  // banned: nothing more to learn
      cancelled = open == 0;
      if (!cancelled) std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(cancelled) << "orders left open at the venue\n" << h.log();
    // The stop's cancels (shutdown.on_stop = cancel) likewise.
    {
      StrategyClient s(h.instance(), 1);
      rest_and_get_a_429(s, 5, 2);
      EXPECT_EQ(h.engine().terminate(15s), 0);
    }
    EXPECT_EQ(venue_open_orders(h), 0U) << h.log();
    EXPECT_EQ(h.log().find("\"http_status\":418"), std::string::npos) << h.log();
    EXPECT_EQ(h.log().find("\"alert\":\"venue_ban\""), std::string::npos) << h.log();
  }
}

// An order still in the venue client's queue when the venue says back off waits for Retry-After;
// a cancel meanwhile (cancel_all, a release, the stop) only marked it, and the order went out once
// the back-off ended: the operator's kill switch during a 429 let queued orders reach the venue
// seconds later (found in review). It is taken out of the queue and ends CANCELLED, never sent.
TEST(CwtsdVenueScheduling, AnOrderHeldByABackOffAndCancelledMeanwhileIsNeverSent) {
  // Cancelled by the slot's release (slots.N.on_release = cancel), then by the strategy's own
  // cancel signals: those were refused RATE_LIMITED during the back-off, and the order went out.
  for (const bool by_signal : {false, true}) {
    SCOPED_TRACE(by_signal ? "cancel signals" : "release");
    EngineOptions o;  // one REST connection: while the first order's answer is held, others queue
    o.extra_venue = R"(,"connections":1)";
    o.slots = R"("default":{"trade":true,"on_release":"cancel"})";
    Harness h(o);
    ASSERT_TRUE(h.wait_metric("cwts_venue_user_stream_live 1")) << h.log();
    std::vector<std::uint64_t> seqs;
    std::optional<StrategyClient> s(std::in_place, h.instance(), 0);
    const int btc = s->symbol_id("BTCUSDT");
    const auto q = s->quote(btc);
    reset_stats(h);
    ASSERT_EQ(h.fault(R"({"delay_ms":300,"http_status":429,"retry_after_s":3,"count":1,)"
                      R"("path":"/api/v3/order"})")
                  .status,
              200U);
    for (int k = 0; k < 3; ++k) {
      seqs.push_back(s->submit(
          StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                               tick_floor(q.bid_px.raw * (985 - 4 * k) / 1000, fx(0.01)))));
    }
    for (const auto seq : seqs) ASSERT_TRUE(wait_kind(*s, seq, ReportKind::kAccepted)) << h.log();
    const auto first = s->wait_terminal(seqs[0]);
    ASSERT_FALSE(first.empty()) << h.log();
    EXPECT_EQ(kind_of(first.back()), ReportKind::kRejected);  // the 429: the back-off is on
    if (by_signal) {
      for (std::size_t k = 1; k < seqs.size(); ++k) {
        const auto c = s->cancel(seqs[k]);
        const auto rc = s->wait_terminal(c);
        ASSERT_FALSE(rc.empty()) << h.log();
        EXPECT_NE(static_cast<RejectReason>(rc.back().reason), RejectReason::kRateLimited);
      }
    } else {
      s.reset();                   // released inside the 3 s back-off: the queued two are cancelled
      s.emplace(h.instance(), 0);  // the slot's reports wait for its next holder
    }
    for (std::size_t k = 1; k < seqs.size(); ++k) {
      EXPECT_TRUE(wait_kind(*s, seqs[k], ReportKind::kCancelled)) << "seq " << seqs[k] << h.log();
    }
    std::this_thread::sleep_for(3500ms);  // past Retry-After: nothing more goes out
    const std::string used = stats(h);
    EXPECT_EQ(used.find("POST /api/v3/order"), std::string::npos) << used;
    EXPECT_EQ(used.find("DELETE /api/v3/order"), std::string::npos) << used;
    EXPECT_EQ(h.engine().terminate(15s), 0);
  }
}

// Binance counts weight per IP: a 429 to the feed's depth snapshot binds the order client too.
TEST(CwtsdVenueScheduling, AFeedSnapshotsA429HoldsTheOrderClientsCancelsToo) {
  EngineOptions o;
  o.risk = R"("max_order_notional":"100000","max_open_orders":10,"price_band_bps":500)";
  o.slots = R"("default":{"trade":true,"on_release":"cancel"})";
  Harness h(o);
  {
    StrategyClient s(h.instance(), 0);
    const int btc = s.symbol_id("BTCUSDT");
    const auto q = s.quote(btc);
    for (int k = 0; k < 5; ++k) {
      const auto seq =
          s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kLimit, fx(0.001),
                                        tick_floor(q.bid_px.raw * (985 - 4 * k) / 1000, fx(0.01))));
      ASSERT_TRUE(wait_kind(s, seq, ReportKind::kNew)) << h.log();
    }
    ASSERT_EQ(venue_open_orders(h), 5U);
    // A gap: the feed resyncs, and its snapshot gets the 429.
    ASSERT_EQ(
        h.fault(R"({"http_status":429,"retry_after_s":3,"count":1,"path":"/api/v3/depth"})").status,
        200U);
    ASSERT_EQ(h.fault(R"({"skip_update_ids":1})").status, 200U);
    bool held = false;
    for (int i = 0; i < 250 && !held; ++i) {
      const std::string m = h.metrics();
      const auto at = m.find("\ncwts_venue_backoff_seconds ");
      held = at != std::string::npos && std::stod(m.substr(at + 28)) > 0.0;
      if (!held) std::this_thread::sleep_for(20ms);
    }
    ASSERT_TRUE(held) << h.log();
  }  // released: its orders are cancelled, once the snapshot's Retry-After has passed
  std::this_thread::sleep_for(3500ms);
  bool cancelled = false;
  for (int i = 0; i < 100 && !cancelled; ++i) {
    const std::size_t open = venue_open_orders(h);
    if (open == SIZE_MAX) break;
    cancelled = open == 0;
    if (!cancelled) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(cancelled) << h.log();
  EXPECT_NE(h.metrics().find("\ncwts_venue_backoffs_total{http_status=\"418\"} 0\n"),
            std::string::npos);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// An engine (re)started inside the venue's back-off: its first request, exchangeInfo, gets a 429.
// It exited with status 1 (found by a one-hour soak); and a client that simply went on would be
// banned. It waits out Retry-After, asks again and starts.
TEST(CwtsdVenueScheduling, AStartInsideA429sRetryAfterWaitsItOutAndStarts) {
  const auto started = std::chrono::steady_clock::now();
  Harness h({}, {}, [](std::uint16_t port) {
    ASSERT_EQ(
        cwts::test::http_request(
            port, verb::post, "/_sim/fault",
            R"({"http_status":429,"retry_after_s":2,"count":1,"path":"/api/v3/exchangeInfo"})")
            .status,
        200U);
  });
  EXPECT_GE(std::chrono::steady_clock::now() - started, 2s) << "Retry-After waited out";
  EXPECT_NE(h.log().find("\"event\":\"venue_backoff_at_start\""), std::string::npos) << h.log();
  EXPECT_NE(h.metrics().find("\ncwts_venue_backoffs_total{http_status=\"418\"} 0\n"),
            std::string::npos);
  StrategyClient s(h.instance(), 0);
  const auto seq = s.submit(
      StrategyClient::make(s.symbol_id("BTCUSDT"), Side::kBuy, OrderType::kMarket, fx(0.001)));
  const auto rs = s.wait_terminal(seq);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// Issue 16 #10: a 418 (the venue banned this IP) stopped every request until Retry-After without
// telling anyone: /readyz said ready, no metric, no alert.
TEST(CwtsdVenueScheduling, AVenueBanShowsInReadyzAMetricAndAnAlert) {
  Harness h;
  ASSERT_EQ(h.control_get("/readyz").status, 200U);
  StrategyClient s(h.instance(), 0);
  const int btc = s.symbol_id("BTCUSDT");
  // The order's answer is a 418 with Retry-After: 120.
  ASSERT_EQ(h.fault(R"({"http_status":418,"path":"/api/v3/order"})").status, 200U);
  const auto seq =
      s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001), 0));
  const auto rs = s.wait_terminal(seq, 10s);
  ASSERT_FALSE(rs.empty()) << h.log();
  EXPECT_EQ(terminals(rs), 1U);
  cwts::test::HttpReply ready;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  do {
    ready = h.control_get("/readyz");
    if (ready.status == 503U) break;
    std::this_thread::sleep_for(20ms);
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(ready.status, 503U) << ready.body;
  EXPECT_NE(ready.body.find("venue ban"), std::string::npos) << ready.body;
  const std::string m = h.metrics();
  const auto k = m.find("\ncwts_venue_ban_seconds ");
  ASSERT_NE(k, std::string::npos) << m;
  const double left = std::stod(m.substr(k + 24));
  EXPECT_GT(left, 100.0) << m;
  EXPECT_LE(left, 120.0) << m;
  // Counted too (the backoff alert's series): one 418, no 429.
  EXPECT_NE(m.find("\ncwts_venue_backoffs_total{http_status=\"418\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\ncwts_venue_backoffs_total{http_status=\"429\"} 0\n"), std::string::npos) << m;
  // The ban takes readiness: cwts_ready follows /readyz.
  EXPECT_NE(m.find("\ncwts_ready 0\n"), std::string::npos) << m;
  // The alert goes to subscribers and the log (written asynchronously).
  bool alerted = false;
  for (int i = 0; i < 250 && !alerted; ++i) {
    alerted = h.log().find(R"("alert":"venue_ban")") != std::string::npos;
    if (!alerted) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(alerted) << h.log();
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

TEST(CwtsdVenueClock, AVenueClockSecondsAwayIsMeasuredAndEveryRequestIsOnItsTime) {
  for (const int offset_ms : {3000, -3000}) {
    SCOPED_TRACE("venue clock offset " + std::to_string(offset_ms) + " ms");
    Harness h(EngineOptions{}, {"--clock-offset-ms", std::to_string(offset_ms)});
    ASSERT_TRUE(h.wait_metric("cwts_venue_user_stream_live 1")) << h.log();
    EXPECT_NEAR(metric_value(h.metrics(), "cwts_venue_clock_offset_seconds"), offset_ms / 1000.0,
                0.05);
    StrategyClient s(h.instance(), 0);
    const int btc = s.symbol_id("BTCUSDT");
    const auto m = s.submit(StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001)));
    const auto rs = s.wait_terminal(m);
    ASSERT_FALSE(rs.empty()) << h.log();
    EXPECT_EQ(kind_of(rs.back()), ReportKind::kFilled) << "code " << rs.back().venue_code;
    EXPECT_EQ(h.log().find("-1021"), std::string::npos) << h.log();
    EXPECT_EQ(h.engine().terminate(15s), 0);
  }
}
