// cwts-latency-order: signal pushed into a slot's ring → the order request's first bytes on the
// venue socket; with --gateway, the gateway's path instead: a signed POST /api/v3/order written to
// cwtsd's gateway (one kept-alive connection) → the order's first bytes on the venue socket. Runs a
// real cwts-sim and a real cwtsd; cwtsd's REST traffic and its WebSocket API session (ws_api_url
// "auto" = the relay's host:port) go through a loopback TCP relay in this process that timestamps
// every "POST /api/v3/order" and every WebSocket frame with "method":"order.place" it sees
// (CLOCK_REALTIME, the same clock as the signal's created_ns). The relay adds no latency to what is
// measured: the stamp is taken when the bytes arrive from cwtsd, before they are forwarded.
//
//   cwts-latency-order --sim PATH --cwtsd PATH [--samples N] [--idle
//   busy-spin|spin-then-yield|block] [--gateway [--gateway-idle MODE]] [--json] [--raw FILE]
//   [--journal DIR [--journal-fsync none|interval|always]]
//   [--order-transport rest|ws] [--user-stream on|off] [--order-poll-ms N] [--fill ioc|resting]
//   [--no-stages] [--warm-us N]
//
// --journal DIR turns cwtsd's order journal on in DIR (docs/journal.md; fsync policy `interval`
// unless --journal-fsync says otherwise); without it cwtsd runs with no journal, as before.
// --order-transport ws: venue.order_transport "ws" (orders over the WebSocket API).
// --user-stream off: venue.ws_api_url "" (no session: fills found by polling openOrders every
// venue.order_poll_ms, --order-poll-ms, default 500).
// --fill ioc: IOC orders through the other side (buys and sells alternately) that fill at once at
// the venue; also reports order bytes at the relay → the FILLED report (the report's ts_ns: when
// cwtsd published it into the slot's ring), i.e. venue processing + the answer path, which
// includes one more pass through the relay.
// --fill resting: GTC orders at the own side's best price that rest until the market comes to
// them; reports the venue's fill time (the order's updateTime, asked of cwts-sim directly: ms,
// truncated, so +0..1 ms) → the FILLED report, and with the user data stream on, the FILLED
// executionReport frame's arrival at the relay → the FILLED report.
//
// cwtsd runs with log.order_stages on (--no-stages: off) and logs, at its shutdown, where each
// order's time went on its exec thread (picked up, checks, recorded, the venue client's request up
// to its write, the write call); the figure minus "signal -> write began" is the kernel's send to
// the relay's stamp. The stamps are four clock reads per order (~0.1 us), inside the figure.
//
// Before the engine starts it measures the kernel's own share on this machine (the
// "loopback_send_floor": a clock read -> send() of 400 bytes on loopback TCP -> the receive stamp),
// what the figure cannot go below here.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../tests/support/child_process.hpp"
#include "../../tests/support/strategy_client.hpp"
#include "../unlimited_exchange_info.hpp"
#include "cwts/binance/exchange_info.hpp"
#include "cwts/cli/cli.hpp"
#include "cwts/net/hmac.hpp"
#include "exec/exec_engine.hpp"
#include "stats.hpp"

namespace {

using namespace std::chrono_literals;

std::mutex g_mu;
struct Seen {
  std::int64_t t = 0;    // kernel receive time stamp at the relay
  std::int64_t fwd = 0;  // the relay's own delay: bytes forwarded (send returned) - t
  bool ws = false;       // came as a WebSocket API frame (order.place), not as REST
};
std::map<std::string, Seen> g_order_seen;  // client order id -> when its order request arrived
// client order id -> when the user data stream's executionReport with "X":"FILLED" for it reached
// the relay from the venue, and that event's transaction time "T" (venue clock, ms).
std::map<std::string, std::pair<std::int64_t, std::int64_t>> g_fill_frame;

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

// The value of "key":"…" (a JSON string) in `v`, or "".
std::string_view json_string(std::string_view v, std::string_view key) {
  const auto k = v.find(key);
  if (k == std::string_view::npos) return {};
  const auto e = v.find('"', k + key.size());
  return e == std::string_view::npos ? std::string_view{}
                                     : v.substr(k + key.size(), e - k - key.size());
}

// WebSocket frames (RFC 6455) out of one direction of a connection that began with an HTTP
// Upgrade: the HTTP head is skipped, each complete frame's payload is unmasked (client -> server
// frames are masked) and handed over with the receive time stamp of the read that brought the
// frame's first byte.
class WsFrames {
 public:
  template <class F>
  void feed(std::string_view data, std::int64_t t, F&& on_frame) {
    buf_.append(data);
    chunks_.emplace_back(base_ + buf_.size(), t);
    if (in_head_) {
      const auto h = buf_.find("\r\n\r\n");
      if (h == std::string::npos) return;
      consume(h + 4);
      in_head_ = false;
    }
    while (buf_.size() >= 2) {
      const auto* b = reinterpret_cast<const unsigned char*>(buf_.data());
      const unsigned opcode = b[0] & 0x0FU;
      const bool masked = (b[1] & 0x80U) != 0;
      std::uint64_t len = b[1] & 0x7FU;
      std::size_t at = 2;
      if (len == 126) {
        if (buf_.size() < 4) return;
        len = (std::uint64_t{b[2]} << 8) | b[3];
        at = 4;
      } else if (len == 127) {
        if (buf_.size() < 10) return;
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | b[2 + i];
        at = 10;
      }
      const std::size_t key_at = at;
      if (masked) at += 4;
      if (buf_.size() < at + len) return;
      std::string payload = buf_.substr(at, len);
      if (masked) {
        for (std::size_t i = 0; i < payload.size(); ++i)
          payload[i] = static_cast<char>(payload[i] ^ buf_[key_at + (i & 3U)]);
      }
      while (!chunks_.empty() && chunks_.front().first <= base_) chunks_.pop_front();
      const std::int64_t start = chunks_.empty() ? t : chunks_.front().second;
      if (opcode == 1) on_frame(std::string_view(payload), start);  // text frames only
      consume(at + len);
    }
  }

 private:
  void consume(std::size_t n) {
    buf_.erase(0, n);
    base_ += n;
  }
  std::string buf_;
  std::deque<std::pair<std::uint64_t, std::int64_t>> chunks_;  // (end offset, receive stamp)
  std::uint64_t base_ = 0;                                     // stream offset of buf_[0]
  bool in_head_ = true;
};

// One read from `fd` (SO_TIMESTAMPNS on) into buf, and in `t` the kernel's receive time stamp
// of its bytes (CLOCK_REALTIME; the time of the read if the kernel gave none).
ssize_t recv_stamped(int fd, char* buf, std::size_t size, std::int64_t& t) {
  iovec iov{buf, size};
  alignas(cmsghdr) char control[256];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t n = ::recvmsg(fd, &msg, 0);
  t = cwts::core::realtime_ns();
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); n > 0 && c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec ts{};
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      t = ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
    }
  }
  return n;
}

// The kernel's own share of the figure, without an engine: a clock read, then send() of an
// order-sized request (`bytes`) on a loopback TCP connection with TCP_NODELAY, as cwtsd's, to
// the receiving socket's kernel stamp, taken as the relay takes cwtsd's. One request in flight
// at a time; `warmup` more first, not kept. What signal -> order bytes cannot go below here.
std::vector<std::int64_t> loopback_send_floor(std::size_t samples, std::size_t warmup,
                                              std::size_t bytes) {
  std::vector<std::int64_t> out;
  std::uint16_t port = 0;
  const int lfd = listen_loopback(port);
  const int tx = lfd < 0 ? -1 : connect_loopback(port);
  const int rx = tx < 0 ? -1 : ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  if (rx >= 0) {
    int one = 1;
    ::setsockopt(rx, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    std::vector<std::int64_t> sent(samples + warmup), got(samples + warmup);
    std::atomic<std::size_t> received{0};
    std::atomic<bool> reader_gone{false};
    std::thread reader([&] {
      std::vector<char> buf(bytes);
      for (std::size_t i = 0; i < got.size(); ++i) {
        std::size_t have = 0;
        while (have < bytes) {
          std::int64_t t = 0;
          const ssize_t n = recv_stamped(rx, buf.data(), bytes - have, t);
          if (n <= 0) {
            reader_gone.store(true, std::memory_order_release);
            return;
          }
          if (have == 0) got[i] = t;  // the request's first bytes, as the relay stamps
          have += static_cast<std::size_t>(n);
        }
        received.store(i + 1, std::memory_order_release);
      }
    });
    const std::string request(bytes, 'x');
    for (std::size_t i = 0; i < sent.size(); ++i) {
      while (received.load(std::memory_order_acquire) < i &&
             !reader_gone.load(std::memory_order_acquire))
        std::this_thread::yield();
      if (received.load(std::memory_order_acquire) < i) break;  // the reader stopped early
      sent[i] = cwts::core::realtime_ns();
      if (::send(tx, request.data(), bytes, MSG_NOSIGNAL) != static_cast<ssize_t>(bytes)) break;
    }
    ::shutdown(tx, SHUT_WR);
    reader.join();
    for (std::size_t i = warmup; i < sent.size() && i < received.load(); ++i)
      out.push_back(got[i] - sent[i]);
    ::close(rx);
  }
  if (tx >= 0) ::close(tx);
  if (lfd >= 0) ::close(lfd);
  return out;
}

// Copies from -> to, stamping every read with the kernel's receive time stamp (SO_TIMESTAMPNS:
// when the bytes reached the relay's socket), so the relay thread's own wake-up delay is not
// counted. Requests (cwtsd -> venue): a REST "POST /api/v3/order" or, on a WebSocket API
// connection, an "order.place" frame is recorded under its client order id. Answers (venue ->
// cwtsd) on a WebSocket API connection: executionReport frames with "X":"FILLED".
void pump(int from, int to, bool requests) {
  char buf[65536];
  int one = 1;
  ::setsockopt(from, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  bool first = true, ws = false;
  WsFrames frames;
  while (true) {
    std::int64_t t = 0;
    const ssize_t n = recv_stamped(from, buf, sizeof buf, t);
    if (n <= 0) break;
    const std::string_view v(buf, static_cast<std::size_t>(n));
    if (first) {
      ws = requests ? v.starts_with("GET /ws-api/v3") : v.starts_with("HTTP/1.1 101");
      first = false;
    }
    std::string order_cid;  // an order in this read: its forwarding delay is recorded too
    if (requests && !ws && v.starts_with("POST /api/v3/order?")) {
      const auto k = v.find("newClientOrderId=");
      if (k != std::string_view::npos) {
        const auto e = v.find_first_of("& ", k + 17);
        order_cid = std::string(v.substr(k + 17, e - k - 17));
        std::lock_guard lock(g_mu);
        g_order_seen.emplace(order_cid, Seen{t, 0, false});
      }
    } else if (ws) {
      frames.feed(v, t, [&](std::string_view p, std::int64_t start) {
        if (requests) {
          if (p.find("\"method\":\"order.place\"") == std::string_view::npos) return;
          const auto cid = json_string(p, "\"newClientOrderId\":\"");
          if (cid.empty()) return;
          order_cid = std::string(cid);
          std::lock_guard lock(g_mu);
          g_order_seen.emplace(order_cid, Seen{start, 0, true});
        } else if (p.find("\"executionReport\"") != std::string_view::npos &&
                   p.find("\"X\":\"FILLED\"") != std::string_view::npos) {
          const auto cid = json_string(p, "\"c\":\"");
          const auto k = p.find("\"T\":");
          const std::int64_t venue_ms = k == std::string_view::npos
                                            ? 0
                                            : std::atoll(std::string(p.substr(k + 4, 20)).c_str());
          std::lock_guard lock(g_mu);
          g_fill_frame.emplace(std::string(cid), std::make_pair(start, venue_ms));
        }
      });
    }
    if (::send(to, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
    if (!order_cid.empty()) {
      const std::int64_t done = cwts::core::realtime_ns();
      std::lock_guard lock(g_mu);
      auto& s = g_order_seen[order_cid];
      s.fwd = done - s.t;
    }
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

// One kept-alive HTTP/1.1 connection: to the gateway, as FreqTrade's ccxt keeps one, or to the
// venue (the harness's own order queries, not through the relay).
class HttpClient {
 public:
  HttpClient(std::uint16_t port, std::string key, std::string secret)
      : fd_(connect_loopback(port)), key_(std::move(key)), secret_(std::move(secret)) {}
  ~HttpClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  // Sends a signed request and returns the response body ("" on failure). `t0` is stamped just
  // before the request's bytes are written.
  std::string signed_request(const char* method, const char* path, const std::string& query,
                             std::int64_t& t0) {
    const std::string sig = cwts::net::hmac_sha256_hex(secret_, query);
    const std::string req = std::string(method) + " " + path + "?" + query + "&signature=" + sig +
                            " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-MBX-APIKEY: " + key_ +
                            "\r\nContent-Length: 0\r\n\r\n";
    t0 = cwts::core::realtime_ns();
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      return {};
    std::string in;
    char buf[8192];
    while (true) {
      const auto h = in.find("\r\n\r\n");
      if (h != std::string::npos) {
        auto cl = in.find("Content-Length: ");
        if (cl == std::string::npos) cl = in.find("content-length: ");
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
  std::string key_, secret_;
};

// "key":N (an integer) from a response body, or 0.
std::int64_t json_integer(const std::string& body, const std::string& key) {
  const auto k = body.find("\"" + key + "\":");
  return k == std::string::npos ? 0 : std::stoll(body.substr(k + key.size() + 3));
}

// cwtsd's "order_stage" log lines (log.order_stages), in the order it wrote them.
struct Stage {
  std::string name;
  std::int64_t orders = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};
std::vector<Stage> read_order_stages(const std::string& log_path) {
  std::vector<Stage> out;
  std::ifstream in(log_path);
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"order_stage\"") == std::string::npos) continue;
    Stage st;
    st.name = std::string(json_string(line, "\"stage\":\""));
    st.orders = json_integer(line, "orders");
    st.p50 = json_integer(line, "p50_ns");
    st.p90 = json_integer(line, "p90_ns");
    st.p99 = json_integer(line, "p99_ns");
    st.max = json_integer(line, "max_ns");
    if (!st.name.empty()) out.push_back(std::move(st));
  }
  return out;
}

// ,"stages":{"<name>":{"p50_ns":…,"p90_ns":…,"p99_ns":…,"max_ns":…,"orders":…},…} or "".
std::string stages_json(const std::vector<Stage>& stages) {
  if (stages.empty()) return {};
  std::string j = ",\"stages\":{";
  for (const Stage& st : stages) {
    if (j.back() != '{') j += ',';
    j += '"' + st.name + "\":{\"p50_ns\":" + std::to_string(st.p50) +
         ",\"p90_ns\":" + std::to_string(st.p90) + ",\"p99_ns\":" + std::to_string(st.p99) +
         ",\"max_ns\":" + std::to_string(st.max) + ",\"orders\":" + std::to_string(st.orders) + '}';
  }
  return j + '}';
}

// p50/p90/p99/p99.9/max of `v` (ns) in µs on one line.
void print_stats(const char* what, std::vector<std::int64_t> v) {
  const auto st = cwts::bench::stats(v);
  std::printf(*what != 0 ? "%s, %zu samples\n" : "%s  %zu samples\n", what, st.n);
  std::printf("  p50 %8.1f us   p90 %8.1f us   p99 %8.1f us   p99.9 %8.1f us   max %8.1f us\n",
              static_cast<double>(st.p50) / 1e3, static_cast<double>(st.p90) / 1e3,
              static_cast<double>(st.p99) / 1e3, static_cast<double>(st.p999) / 1e3,
              static_cast<double>(st.max) / 1e3);
}

void print_json_stats(const char* key, std::vector<std::int64_t> v, bool last) {
  const auto st = cwts::bench::stats(v);
  std::printf(
      "\"%s\":{\"p50_ns\":%llu,\"p90_ns\":%llu,\"p99_ns\":%llu,\"p999_ns\":%llu,\"max_ns\":%llu,"
      "\"samples\":%zu}%s",
      key, static_cast<unsigned long long>(st.p50), static_cast<unsigned long long>(st.p90),
      static_cast<unsigned long long>(st.p99), static_cast<unsigned long long>(st.p999),
      static_cast<unsigned long long>(st.max), st.n, last ? "" : ",");
}

}  // namespace

int main(int argc, char** argv) {
  std::string sim_bin, cwtsd_bin, idle = "spin-then-yield", gateway_idle = "block";
  std::size_t samples = 2000;
  bool json = false;
  bool gateway = false, no_stages = false;
  std::string raw_path;
  std::string journal_dir, journal_fsync = "interval";
  std::string transport = "rest", user_stream = "on", fill;
  long order_poll_ms = -1;
  long warm_us = -1;  // threads.exec.warm_us; -1 = cwtsd's default
  CLI::App app(
      "cwts-latency-order: a signal's way to the venue and back, through cwtsd on cwts-sim",
      "cwts-latency-order");
  cwts::cli::setup(app);
  app.add_option("--sim", sim_bin, "The cwts-sim binary")->type_name("PATH");
  app.add_option("--cwtsd", cwtsd_bin, "The cwtsd binary")->type_name("PATH");
  app.add_option("--samples", samples, "Orders measured")->type_name("N")->capture_default_str();
  app.add_option("--idle", idle, "The exec thread's idle mode")
      ->type_name("MODE")
      ->capture_default_str();
  app.add_flag("--gateway", gateway, "Orders through the gateway (REST) instead of a slot");
  app.add_option("--gateway-idle", gateway_idle, "The gateway's idle mode")
      ->type_name("MODE")
      ->capture_default_str();
  app.add_flag("--json", json, "One JSON object");
  app.add_option("--raw", raw_path, "Every sample (ns)")->type_name("FILE");
  app.add_option("--journal", journal_dir, "The order journal in DIR")->type_name("DIR");
  app.add_option("--journal-fsync", journal_fsync, "The journal's fsync policy")
      ->check(CLI::IsMember({"none", "interval", "always"}))
      ->capture_default_str();
  app.add_option("--order-transport", transport, "Orders over REST or the WebSocket API")
      ->check(CLI::IsMember({"rest", "ws"}))
      ->capture_default_str();
  app.add_option("--user-stream", user_stream, "The WebSocket API session (ws needs it on)")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_option("--order-poll-ms", order_poll_ms, "The engine's order poll interval")
      ->type_name("N");
  app.add_option("--fill", fill, "Orders that fill at once or rest (not with --gateway)")
      ->check(CLI::IsMember({"ioc", "resting"}));
  app.add_option("--warm-us", warm_us, "threads.exec.warm_us (0 = no warming)")->type_name("N");
  app.add_flag("--no-stages", no_stages, "cwtsd without log.order_stages (no per-stage breakdown)");
  if (const auto rc = cwts::cli::parse(app, argc, argv)) return *rc;
  if (transport == "ws" && user_stream == "off")
    return cwts::cli::usage_error(app, "--order-transport ws needs --user-stream on");
  if (gateway && !fill.empty()) return cwts::cli::usage_error(app, "--fill is not for --gateway");
  const bool ws = transport == "ws";
  const bool resting = fill == "resting";
  // The kernel's share first, on a machine not yet running the engine: an order is ~400 bytes.
  const auto floor = cwts::bench::stats(loopback_send_floor(2000, 200, 400));
  const std::string dir = "/tmp/cwts-latency-order-" + std::to_string(::getpid());
  ::mkdir(dir.c_str(), 0700);
  const std::string info = cwts::bench::unlimited_exchange_info(CWTS_DEFAULT_EXCHANGE_INFO, dir);
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
  // rest_url is the relay; ws_api_url "auto" derives the same host:port, so cwtsd's WebSocket API
  // session (user data stream, and orders with order_transport ws) goes through the relay too.
  std::ofstream(cfg)
      << R"({"region":{"instance":")" << instance << R"(","lock_pages":false},)"
      << R"("venue":{"kind":"binance","rest_url":"http://127.0.0.1:)" << relay_port
      << R"(","ws_url":")" << sim.ws_url() << R"(","exchange_info_file":")" << info << '"'
      << (user_stream == "off" ? R"(,"ws_api_url":"")" : "")
      << (ws ? R"(,"order_transport":"ws")" : "")
      << (order_poll_ms >= 0 ? ",\"order_poll_ms\":" + std::to_string(order_poll_ms) : "")
      << R"(},"market":{"symbols":["BTCUSDT"]},"risk":{"max_open_orders":1000,"price_band_bps":0,)"
      // --fill alternates buys and sells: a latency run, so sells may use the account's holdings
      << R"("sell_account_holdings":true},)"
      << R"("rate_limits":{"engine_share":1.0,"slot_share":1.0},)"
      << (gateway ? R"("gateway":{"listen":"127.0.0.1:0","slot":15},)" : "")
      << (journal_dir.empty()
              ? std::string()
              : R"("journal":{"dir":")" + journal_dir + R"(","fsync":")" + journal_fsync + "\"},")
      << (no_stages ? "" : R"("log":{"order_stages":true},)") << R"("threads":{"exec":{"idle":")"
      << idle << '"' << (warm_us >= 0 ? ",\"warm_us\":" + std::to_string(warm_us) : "")
      << R"(},"gateway":{"idle":")" << gateway_idle << R"("}}})";
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
  if (user_stream == "on") std::this_thread::sleep_for(1s);  // the session subscribes
  const std::uint64_t epoch = s->market_region().header().epoch_ns;
  std::vector<std::int64_t> lat;
  std::vector<std::int64_t> intake;     // signal pushed -> the exec loop iteration that took it
  std::vector<std::int64_t> fill_lat;   // IOC: order bytes -> FILLED; resting: venue fill -> FILLED
  std::vector<std::int64_t> frame_lat;  // resting, stream: FILLED event at the relay -> FILLED
  std::vector<std::int64_t> venue_push;  // resting, stream: FILLED event at the relay - T (ms)
  std::vector<std::int64_t> relay_fwd;   // the relay's forwarding delay of each order
  std::vector<std::int64_t> rest_wait;   // resting: order bytes -> venue fill
  std::size_t wrong_transport = 0, not_filled = 0, taker = 0;
  const std::size_t warmup = resting ? 3 : samples / 10 + 10;
  std::unique_ptr<HttpClient> gw;
  HttpClient venue(sim.port(), "latKey", "latSecret");
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
    gw = std::make_unique<HttpClient>(
        static_cast<std::uint16_t>(std::stoul(where.substr(where.rfind(':') + 1))), "gwLatKey",
        "gwLatSecret0123456789");
  }
  std::mt19937_64 rng(static_cast<std::uint64_t>(::getpid()));
  for (std::size_t i = 0; i < samples + warmup; ++i) {
    if (resting) {
      // Each order starts at a random phase of the openOrders poll: placed right after the poll
      // that found the previous fill, every fill would wait for nearly a whole period.
      std::this_thread::sleep_for(std::chrono::microseconds(
          rng() %
          (static_cast<std::uint64_t>(order_poll_ms >= 0 ? order_poll_ms : 500) * 1000 + 1)));
    }
    const auto q = s->quote(0);
    // Default: IOC 1% under the bid: sent, expires at once, nothing rests or fills. --fill ioc:
    // 1% through the other side, buys and sells alternately: fills at once at the venue.
    // --fill resting: GTC at the own side's best price, buys and sells alternately: rests until
    // the market comes to it.
    const bool buy = fill.empty() || i % 2 == 0;
    std::int64_t px = 0;
    if (fill.empty()) {
      px = (q.bid_px.raw - q.bid_px.raw / 100) / 1'000'000 * 1'000'000;
    } else if (fill == "ioc") {
      px = buy ? (q.ask_px.raw + q.ask_px.raw / 100) / 1'000'000 * 1'000'000
               : (q.bid_px.raw - q.bid_px.raw / 100) / 1'000'000 * 1'000'000;
    } else {
      px = buy ? q.bid_px.raw : q.ask_px.raw;
    }
    char cid[32];
    std::int64_t t0 = 0;
    std::size_t n = 0;
    std::vector<cwts::layout::ExecReport> rs;
    if (gateway) {
      char price[32];
      std::snprintf(price, sizeof price, "%lld.%02lld", static_cast<long long>(px / 100'000'000),
                    static_cast<long long>(px % 100'000'000 / 1'000'000));
      const std::string query =
          std::string("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.001&price=") +
          price + "&newOrderRespType=ACK&timestamp=" +
          std::to_string(cwts::core::realtime_ns() / 1'000'000);
      const std::string body = gw->signed_request("POST", "/api/v3/order", query, t0);
      const auto seq = static_cast<std::uint64_t>(json_integer(body, "orderId"));
      if (seq == 0) {
        std::fprintf(stderr, "gateway refused the order: %s\n", body.c_str());
        continue;
      }
      n = cwts::daemon::make_client_order_id(epoch, 15, seq, cid);
    } else {
      auto sig = cwts::test::StrategyClient::make(
          0, buy ? cwts::layout::Side::kBuy : cwts::layout::Side::kSell,
          cwts::layout::OrderType::kLimit, 100'000, px,
          resting ? cwts::layout::TimeInForce::kGtc : cwts::layout::TimeInForce::kIoc);
      t0 = cwts::core::realtime_ns();
      sig.created_ns = t0;
      const auto seq = s->submit(sig);
      rs = s->wait_terminal(seq, 10s);
      if (rs.empty() && resting) {  // the market did not come to it: cancel, next
        s->cancel(seq);
        s->wait_terminal(seq, 10s);
        ++not_filled;
        continue;
      }
      if (rs.empty() ||
          rs.front().kind != static_cast<std::uint8_t>(cwts::layout::ReportKind::kAccepted)) {
        std::fprintf(stderr, "signal %llu was not accepted (reason %u)\n",
                     static_cast<unsigned long long>(seq), rs.empty() ? 0U : rs.back().reason);
        continue;
      }
      n = cwts::daemon::make_client_order_id(epoch, s->slot(), seq, cid);
      if (i >= warmup) intake.push_back(rs.front().ts_ns - t0);
    }
    const std::string id(cid, n);
    Seen seen;
    std::pair<std::int64_t, std::int64_t> frame{0, 0};
    {
      std::lock_guard lock(g_mu);
      const auto it = g_order_seen.find(id);
      if (it == g_order_seen.end()) continue;
      seen = it->second;
      if (const auto f = g_fill_frame.find(id); f != g_fill_frame.end()) frame = f->second;
    }
    if (i < warmup) continue;
    if (seen.ws != ws) ++wrong_transport;
    if (!fill.empty() &&
        rs.back().kind != static_cast<std::uint8_t>(cwts::layout::ReportKind::kFilled)) {
      ++not_filled;
      continue;
    }
    lat.push_back(seen.t - t0);
    relay_fwd.push_back(seen.fwd);
    if (fill == "ioc") fill_lat.push_back(rs.back().ts_ns - seen.t);
    if (resting) {
      // The venue's fill time: the order's updateTime (its last change: the fill; venue clock =
      // this machine's CLOCK_REALTIME, ms, truncated), asked of the venue directly.
      std::int64_t unused = 0;
      const std::string body = venue.signed_request(
          "GET", "/api/v3/order",
          "symbol=BTCUSDT&origClientOrderId=" + id +
              "&timestamp=" + std::to_string(cwts::core::realtime_ns() / 1'000'000),
          unused);
      const std::int64_t fill_ms = json_integer(body, "updateTime");
      if (fill_ms == 0) {
        std::fprintf(stderr, "order query failed: %s\n", body.c_str());
        continue;
      }
      // A fill in the millisecond the order arrived or the next one is its own crossing (the
      // market moved onto its price while it travelled), not a resting fill.
      if (fill_ms * 1'000'000 < seen.t + 1'000'000) {
        ++taker;
        continue;
      }
      rest_wait.push_back(fill_ms * 1'000'000 - seen.t);
      fill_lat.push_back(rs.back().ts_ns - fill_ms * 1'000'000);
      if (frame.first != 0) {
        frame_lat.push_back(rs.back().ts_ns - frame.first);
        venue_push.push_back(frame.first - frame.second * 1'000'000);
      }
    }
  }
  engine.terminate(15s);
  sim.terminate();
  const std::vector<Stage> stages = read_order_stages(dir + "/cwtsd.log");
  if (!journal_dir.empty()) ::unlink((journal_dir + "/cwts-" + instance + ".journal").c_str());
  if (!raw_path.empty()) {  // every sample in ns, one per line (the latency report's plot)
    std::ofstream raw(raw_path);
    for (const auto v : fill.empty() ? lat : fill_lat) raw << v << '\n';
  }
  const auto st = cwts::bench::stats(lat);
  const auto in = cwts::bench::stats(intake);
  const std::string setup =
      "order transport " + transport + ", user data stream " + user_stream +
      (user_stream == "off" || order_poll_ms >= 0
           ? ", order_poll_ms " +
                 (order_poll_ms >= 0 ? std::to_string(order_poll_ms) : std::string("500 (default)"))
           : std::string());
  if (json && fill.empty()) {
    std::printf(
        "{\"%s\":{\"p50_ns\":%llu,\"p99_ns\":%llu,\"p999_ns\":%llu,\"max_ns\":%"
        "llu,\"samples\":%zu,\"loopback_send_floor\":{\"p50_ns\":%llu,\"p99_ns\":%llu,"
        "\"samples\":%zu},\"idle\":\"%s\"%s%s%s%s}}\n",
        gateway ? "gateway_request_to_order_wire" : "signal_to_order_wire",
        static_cast<unsigned long long>(st.p50), static_cast<unsigned long long>(st.p99),
        static_cast<unsigned long long>(st.p999), static_cast<unsigned long long>(st.max), st.n,
        static_cast<unsigned long long>(floor.p50), static_cast<unsigned long long>(floor.p99),
        floor.n, idle.c_str(),
        journal_dir.empty() ? "" : (",\"journal\":\"" + journal_fsync + "\"").c_str(),
        ws ? ",\"order_transport\":\"ws\"" : "",
        gateway ? (",\"gateway_idle\":\"" + gateway_idle + "\"").c_str() : "",
        stages_json(stages).c_str());
  } else if (json) {
    std::printf("{\"%s\":{\"idle\":\"%s\",\"order_transport\":\"%s\",\"user_stream\":\"%s\",",
                resting ? "resting_fill_report" : "ioc_fill_report", idle.c_str(),
                transport.c_str(), user_stream.c_str());
    print_json_stats("signal_to_order_wire", lat, false);
    if (resting) {
      print_json_stats("order_wire_to_venue_fill", rest_wait, false);
      print_json_stats("frame_to_filled_report", frame_lat, false);
    }
    print_json_stats(resting ? "venue_fill_to_filled_report" : "order_wire_to_filled_report",
                     fill_lat, true);
    std::printf(",\"taker\":%zu,\"not_filled\":%zu}}\n", taker, not_filled);
  } else {
    std::printf("%s -> order bytes on the %s (exec idle: %s%s%s%s; %s)\n",
                gateway ? "gateway request bytes written" : "signal in ring",
                ws ? "WebSocket API socket (the order.place frame)" : "REST socket", idle.c_str(),
                gateway ? (", gateway idle: " + gateway_idle).c_str() : "",
                journal_dir.empty() ? "" : ", journal: ",
                journal_dir.empty() ? "" : journal_fsync.c_str(), setup.c_str());
    print_stats("", lat);
    if (!gateway) {
      std::printf(
          "  of which signal pushed -> picked up by the exec loop: p50 %.1f us, p99 %.1f us\n",
          static_cast<double>(in.p50) / 1e3, static_cast<double>(in.p99) / 1e3);
    }
    if (!stages.empty()) {
      std::printf("  inside cwtsd (its own stamps, log.order_stages, every order of the run):\n");
      for (const Stage& stage : stages) {
        std::printf("    %-16s p50 %6.2f us   p90 %6.2f us   p99 %6.2f us   (%lld orders)\n",
                    stage.name.c_str(), static_cast<double>(stage.p50) / 1e3,
                    static_cast<double>(stage.p90) / 1e3, static_cast<double>(stage.p99) / 1e3,
                    static_cast<long long>(stage.orders));
      }
    }
    std::printf(
        "  the kernel's floor here (clock read -> send() of 400 bytes on loopback TCP -> the "
        "receive stamp, no engine): p50 %.1f us, p99 %.1f us\n",
        static_cast<double>(floor.p50) / 1e3, static_cast<double>(floor.p99) / 1e3);
    if (fill == "ioc")
      print_stats("order bytes at the relay -> FILLED report (IOC, fills at once)", fill_lat);
    if (resting) {
      print_stats("order bytes at the relay -> venue fill (the wait for the market, T ms)",
                  rest_wait);
      print_stats("venue fill (order updateTime, ms, truncated) -> FILLED report", fill_lat);
      if (!frame_lat.empty()) {
        print_stats("user data stream FILLED event at the relay -> FILLED report", frame_lat);
        print_stats("venue fill (T, ms, truncated) -> FILLED event at the relay", venue_push);
      }
      std::printf("  left out: %zu filled on arrival, %zu not filled in 10 s (cancelled)\n", taker,
                  not_filled);
    }
    const auto fw = cwts::bench::stats(relay_fwd);
    std::printf(
        "  the relay's forwarding of an order (stamp -> send returned): p50 %.1f us, p99 "
        "%.1f us\n",
        static_cast<double>(fw.p50) / 1e3, static_cast<double>(fw.p99) / 1e3);
    if (wrong_transport != 0)
      std::printf("  WARNING: %zu orders did not go over the %s\n", wrong_transport,
                  transport.c_str());
  }
  return st.n > 0 ? 0 : 1;
}
