// cwts-latency-order: signal pushed into a slot's ring → the order request's first bytes on the
// REST socket; with --gateway, the gateway's path instead: a signed POST /api/v3/order written to
// cwtsd's gateway (one kept-alive connection) → the order's first bytes on the venue socket. Runs a
// real cwts-sim and a real cwtsd; cwtsd's REST traffic goes through a loopback TCP relay in this
// process that timestamps every "POST /api/v3/order" it sees (CLOCK_REALTIME, the same clock as the
// signal's created_ns). The relay adds no latency to what is measured: the stamp is taken when the
// bytes arrive from cwtsd, before they are forwarded.
//
//   cwts-latency-order --sim PATH --cwtsd PATH [--samples N] [--idle
//   busy-spin|spin-then-yield|block] [--gateway] [--json] [--raw FILE]
//   [--journal DIR [--journal-fsync none|interval|always]]
//
// --journal DIR turns cwtsd's order journal on in DIR (docs/journal.md; fsync policy `interval`
// unless --journal-fsync says otherwise); without it cwtsd runs with no journal, as before.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "../../tests/support/child_process.hpp"
#include "../../tests/support/strategy_client.hpp"
#include "cwts/binance/exchange_info.hpp"
#include "cwts/net/hmac.hpp"
#include "exec/exec_engine.hpp"
#include "stats.hpp"

namespace {

using namespace std::chrono_literals;

std::mutex g_mu;
std::map<std::string, std::int64_t> g_order_seen;  // client order id -> when its POST arrived

int listen_loopback(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0)
    return -1;
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Copies from -> to; on the request direction, stamps order requests with the kernel's receive
// time stamp (SO_TIMESTAMPNS: when the bytes reached the relay's socket), so the relay thread's
// own wake-up delay is not counted.
void pump(int from, int to, bool requests) {
  char buf[65536];
  if (requests) {
    int one = 1;
    ::setsockopt(from, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  }
  while (true) {
    iovec iov{buf, sizeof buf};
    alignas(cmsghdr) char control[256];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(from, &msg, 0);
    if (n <= 0) break;
    std::int64_t t = cwts::core::realtime_ns();
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts{};
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        t = ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
      }
    }
    if (requests) {
      const std::string_view v(buf, static_cast<std::size_t>(n));
      if (v.rfind("POST /api/v3/order?", 0) == 0) {
        const auto k = v.find("newClientOrderId=");
        if (k != std::string_view::npos) {
          const auto e = v.find_first_of("& ", k + 17);
          std::lock_guard lock(g_mu);
          g_order_seen.emplace(std::string(v.substr(k + 17, e - k - 17)), t);
        }
      }
    }
    if (::send(to, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
  }
  ::shutdown(to, SHUT_WR);
}

void relay(int listen_fd, std::uint16_t upstream) {
  while (true) {
    const int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return;
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const int u = connect_loopback(upstream);
    if (u < 0) {
      ::close(c);
      continue;
    }
    std::thread([c, u] { pump(c, u, true); }).detach();
    std::thread([c, u] { pump(u, c, false); }).detach();
  }
}

// The shipped exchangeInfo with every rate limit raised, so the harness measures latency and not
// the venue's 50 orders / 10 s.
std::string unlimited_exchange_info(const std::string& dir) {
  std::string json = cwts::binance::read_file_maybe_gz(CWTS_DEFAULT_EXCHANGE_INFO);
  const auto a = json.find("\"rateLimits\"");
  const auto b = json.find(']', a);
  const std::string limits = std::regex_replace(
      json.substr(a, b - a), std::regex(R"("limit"\s*:\s*\d+)"), "\"limit\":100000000");
  json = json.substr(0, a) + limits + json.substr(b);
  const std::string path = dir + "/exchangeInfo-unlimited.json";
  std::ofstream(path) << json;
  return path;
}

// One kept-alive HTTP/1.1 connection to the gateway, as FreqTrade's ccxt keeps one.
class GatewayClient {
 public:
  explicit GatewayClient(std::uint16_t port) : fd_(connect_loopback(port)) {}
  ~GatewayClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Sends a signed order and returns the response body ("" on failure). `t0` is stamped just
  // before the request's bytes are written.
  std::string order(const std::string& query, std::int64_t& t0) {
    const std::string sig = cwts::net::hmac_sha256_hex("gwLatSecret0123456789", query);
    const std::string req = "POST /api/v3/order?" + query + "&signature=" + sig +
                            " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-MBX-APIKEY: gwLatKey\r\n"
                            "Content-Length: 0\r\n\r\n";
    t0 = cwts::core::realtime_ns();
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      return {};
    std::string in;
    char buf[8192];
    while (true) {
      const auto h = in.find("\r\n\r\n");
      if (h != std::string::npos) {
        const auto cl = in.find("Content-Length: ");
        const std::size_t len = cl == std::string::npos ? 0 : std::stoul(in.substr(cl + 16));
        if (in.size() >= h + 4 + len) return in.substr(h + 4, len);
      }
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return {};
      in.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
};

// "orderId":N from a response body, or 0.
std::uint64_t order_id_of(const std::string& body) {
  const auto k = body.find("\"orderId\":");
  return k == std::string::npos ? 0 : std::stoull(body.substr(k + 10));
}

}  // namespace

int main(int argc, char** argv) {
  std::string sim_bin, cwtsd_bin, idle = "spin-then-yield";
  std::size_t samples = 2000;
  bool json = false;
  bool gateway = false;
  std::string raw_path;
  std::string journal_dir, journal_fsync = "interval";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--sim")
      sim_bin = next();
    else if (a == "--cwtsd")
      cwtsd_bin = next();
    else if (a == "--samples")
      samples = std::stoul(next());
    else if (a == "--idle")
      idle = next();
    else if (a == "--json")
      json = true;
    else if (a == "--gateway")
      gateway = true;
    else if (a == "--raw")
      raw_path = next();
    else if (a == "--journal")
      journal_dir = next();
    else if (a == "--journal-fsync")
      journal_fsync = next();
    else {
      std::fprintf(stderr,
                   "usage: cwts-latency-order --sim PATH --cwtsd PATH [--samples N] [--idle MODE] "
                   "[--gateway] [--json] [--raw FILE] [--journal DIR [--journal-fsync "
                   "none|interval|always]]\n");
      return 2;
    }
  }
  if (journal_fsync != "none" && journal_fsync != "interval" && journal_fsync != "always") {
    std::fprintf(stderr, "--journal-fsync: none, interval or always\n");
    return 2;
  }
  const std::string dir = "/tmp/cwts-latency-order-" + std::to_string(::getpid());
  ::mkdir(dir.c_str(), 0700);
  const std::string info = unlimited_exchange_info(dir);
  cwts::test::SimProcess sim(
      sim_bin,
      {"--synthetic", "BTCUSDT", "--rate", "200", "--exchange-info", info, "--api-key", "latKey",
       "--api-secret", "latSecret", "--balance", "USDT=100000000,BTC=1000"},
      dir + "/sim.log");
  std::uint16_t relay_port = 0;
  const int lfd = listen_loopback(relay_port);
  std::thread(relay, lfd, sim.port()).detach();
  const std::string instance = "lat" + std::to_string(::getpid());
  const std::string cfg = dir + "/cwtsd.json";
  std::ofstream(cfg)
      << R"({"region":{"instance":")" << instance << R"(","lock_pages":false},)"
      << R"("venue":{"kind":"binance","rest_url":"http://127.0.0.1:)" << relay_port
      << R"(","ws_url":")" << sim.ws_url() << R"(","exchange_info_file":")" << info << R"("},)"
      << R"("market":{"symbols":["BTCUSDT"]},"risk":{"max_open_orders":1000,"price_band_bps":0},)"
      << R"("rate_limits":{"engine_share":1.0,"slot_share":1.0},)"
      << (gateway ? R"("gateway":{"listen":"127.0.0.1:0","slot":15},)" : "")
      << (journal_dir.empty()
              ? std::string()
              : R"("journal":{"dir":")" + journal_dir + R"(","fsync":")" + journal_fsync + "\"},")
      << R"("threads":{"exec":{"idle":")" << idle << R"("}}})";
  cwts::test::ChildProcess engine(cwtsd_bin, {"--config", cfg},
                                  {{"CWTS_API_KEY", "latKey"},
                                   {"CWTS_API_SECRET", "latSecret"},
                                   {"CWTS_GATEWAY_API_KEY", "gwLatKey"},
                                   {"CWTS_GATEWAY_API_SECRET", "gwLatSecret0123456789"}},
                                  dir + "/cwtsd.log");
  std::unique_ptr<cwts::test::StrategyClient> s;
  for (int i = 0; i < 300 && !s; ++i) {
    try {
      s = std::make_unique<cwts::test::StrategyClient>(instance, 0, "latency");
      if (s->quote(0).book_valid == 0) {
        s.reset();
        std::this_thread::sleep_for(50ms);
      }
    } catch (const std::exception&) {
      std::this_thread::sleep_for(50ms);
    }
  }
  if (!s) {
    std::fprintf(stderr, "cwtsd did not come up; see %s/cwtsd.log\n", dir.c_str());
    return 1;
  }
  const std::uint64_t epoch = s->market_region().header().epoch_ns;
  std::vector<std::int64_t> lat;
  std::vector<std::int64_t> intake;  // signal pushed -> the exec loop iteration that took it
  const std::size_t warmup = samples / 10 + 10;
  std::unique_ptr<GatewayClient> gw;
  if (gateway) {
    std::string where;
    for (int i = 0; i < 100 && where.empty(); ++i) {
      std::ifstream(std::string("/dev/shm/cwts-") + instance + ".gateway") >> where;
      if (where.empty()) std::this_thread::sleep_for(50ms);
    }
    if (where.empty()) {
      std::fprintf(stderr, "the gateway did not come up; see %s/cwtsd.log\n", dir.c_str());
      return 1;
    }
    gw = std::make_unique<GatewayClient>(
        static_cast<std::uint16_t>(std::stoul(where.substr(where.rfind(':') + 1))));
  }
  for (std::size_t i = 0; i < samples + warmup; ++i) {
    const auto q = s->quote(0);
    // IOC 1% under the bid: sent, expires at once, nothing rests or fills.
    const std::int64_t px = (q.bid_px.raw - q.bid_px.raw / 100) / 1'000'000 * 1'000'000;
    char cid[32];
    std::int64_t t0 = 0;
    std::size_t n = 0;
    if (gateway) {
      char price[32];
      std::snprintf(price, sizeof price, "%lld.%02lld", static_cast<long long>(px / 100'000'000),
                    static_cast<long long>(px % 100'000'000 / 1'000'000));
      const std::string query =
          std::string("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.001&price=") +
          price + "&newOrderRespType=ACK&timestamp=" +
          std::to_string(cwts::core::realtime_ns() / 1'000'000);
      const std::string body = gw->order(query, t0);
      const std::uint64_t seq = order_id_of(body);
      if (seq == 0) {
        std::fprintf(stderr, "gateway refused the order: %s\n", body.c_str());
        continue;
      }
      n = cwts::daemon::make_client_order_id(epoch, 15, seq, cid);
    } else {
      auto sig = cwts::test::StrategyClient::make(0, cwts::layout::Side::kBuy,
                                                  cwts::layout::OrderType::kLimit, 100'000, px,
                                                  cwts::layout::TimeInForce::kIoc);
      t0 = cwts::core::realtime_ns();
      sig.created_ns = t0;
      const auto seq = s->submit(sig);
      const auto rs = s->wait_terminal(seq, 10s);
      if (rs.empty() ||
          rs.front().kind != static_cast<std::uint8_t>(cwts::layout::ReportKind::kAccepted)) {
        std::fprintf(stderr, "signal %llu was not accepted (reason %u)\n",
                     static_cast<unsigned long long>(seq), rs.empty() ? 0U : rs.back().reason);
        continue;
      }
      n = cwts::daemon::make_client_order_id(epoch, s->slot(), seq, cid);
      if (i >= warmup) intake.push_back(rs.front().ts_ns - t0);
    }
    std::lock_guard lock(g_mu);
    const auto it = g_order_seen.find(std::string(cid, n));
    if (it != g_order_seen.end() && i >= warmup) lat.push_back(it->second - t0);
  }
  engine.terminate(15s);
  sim.terminate();
  if (!journal_dir.empty()) ::unlink((journal_dir + "/cwts-" + instance + ".journal").c_str());
  if (!raw_path.empty()) {  // every sample in ns, one per line (the latency report's plot)
    std::ofstream raw(raw_path);
    for (const auto v : lat) raw << v << '\n';
  }
  const auto st = cwts::bench::stats(lat);
  const auto in = cwts::bench::stats(intake);
  if (json) {
    std::printf(
        "{\"%s\":{\"p50_ns\":%llu,\"p99_ns\":%llu,\"p999_ns\":%llu,\"max_ns\":%"
        "llu,\"samples\":%zu,\"idle\":\"%s\"%s}}\n",
        gateway ? "gateway_request_to_order_wire" : "signal_to_order_wire",
        static_cast<unsigned long long>(st.p50), static_cast<unsigned long long>(st.p99),
        static_cast<unsigned long long>(st.p999), static_cast<unsigned long long>(st.max), st.n,
        idle.c_str(),
        journal_dir.empty() ? "" : (",\"journal\":\"" + journal_fsync + "\"").c_str());
  } else {
    std::printf("%s -> order bytes on the REST socket (exec idle: %s%s%s), %zu samples\n",
                gateway ? "gateway request bytes written" : "signal in ring", idle.c_str(),
                journal_dir.empty() ? "" : ", journal: ",
                journal_dir.empty() ? "" : journal_fsync.c_str(), st.n);
    std::printf("  p50 %8.1f us   p90 %8.1f us   p99 %8.1f us   p99.9 %8.1f us   max %8.1f us\n",
                static_cast<double>(st.p50) / 1e3, static_cast<double>(st.p90) / 1e3,
                static_cast<double>(st.p99) / 1e3, static_cast<double>(st.p999) / 1e3,
                static_cast<double>(st.max) / 1e3);
    if (!gateway) {
      std::printf(
          "  of which signal pushed -> picked up by the exec loop: p50 %.1f us, p99 %.1f us\n",
          static_cast<double>(in.p50) / 1e3, static_cast<double>(in.p99) / 1e3);
    }
  }
  return st.n > 0 ? 0 : 1;
}
