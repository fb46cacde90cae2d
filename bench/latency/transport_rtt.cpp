// cwts-latency-transport: the engine side of the transport comparison in the latency report. It
// plays the engine over a Unix domain socket or a loopback WebSocket: sends a 120-byte event (the
// size of layout::Event), waits for the strategy's 56-byte signal (layout::Signal) and records the
// round trip. The strategy side is bench/latency/transport_client.py (Python, as a FreqTrade
// strategy would be); bench/latency/report.py runs both. Prints "READY <address>" once listening,
// then, after the samples, one JSON object {"<name>": {p50_ns, p99_ns, p999_ns, samples}}.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "cwts/cli/cli.hpp"
#include "stats.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

constexpr std::size_t kEventBytes = 120;
constexpr std::size_t kSignalBytes = 56;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void die(const std::string& m) {
  std::fprintf(stderr, "cwts-latency-transport: %s\n", m.c_str());
  std::exit(1);
}

bool read_exact(int fd, char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::write(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

std::vector<std::int64_t> run_uds(const std::string& path, std::size_t total) {
  const int ls = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) die("socket path too long");
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());
  if (ls < 0 || ::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(ls, 1) != 0) {
    die("cannot listen on " + path);
  }
  std::printf("READY %s\n", path.c_str());
  std::fflush(stdout);
  const int fd = ::accept(ls, nullptr, nullptr);
  if (fd < 0) die("accept failed");
  std::vector<std::int64_t> rtt;
  std::array<char, kEventBytes> ev{};
  std::array<char, kSignalBytes> sig{};
  for (std::size_t i = 0; i < total; ++i) {
    std::memcpy(ev.data(), &i, sizeof i);
    const std::int64_t t0 = now_ns();
    if (!write_all(fd, ev.data(), ev.size()) || !read_exact(fd, sig.data(), sig.size()))
      die("the client went away");
    rtt.push_back(now_ns() - t0);
  }
  ::close(fd);
  ::close(ls);
  ::unlink(path.c_str());
  return rtt;
}

std::vector<std::int64_t> run_ws(std::size_t total) {
  asio::io_context ioc;
  asio::ip::tcp::acceptor acc(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  std::printf("READY ws://127.0.0.1:%u/\n", acc.local_endpoint().port());
  std::fflush(stdout);
  websocket::stream<asio::ip::tcp::socket> ws(ioc);
  acc.accept(ws.next_layer());
  ws.next_layer().set_option(asio::ip::tcp::no_delay(true));
  ws.accept();
  ws.binary(true);
  std::vector<std::int64_t> rtt;
  std::array<char, kEventBytes> ev{};
  beast::flat_buffer buf;
  for (std::size_t i = 0; i < total; ++i) {
    std::memcpy(ev.data(), &i, sizeof i);
    const std::int64_t t0 = now_ns();
    ws.write(asio::buffer(ev));
    buf.clear();
    ws.read(buf);
    rtt.push_back(now_ns() - t0);
    if (buf.size() != kSignalBytes)
      die("the client sent " + std::to_string(buf.size()) + " bytes, not a signal");
  }
  beast::error_code ec;
  ws.close(websocket::close_code::normal, ec);
  return rtt;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode, uds_path, raw;
  std::size_t samples = 5000, warmup = 500;
  bool ws = false;
  CLI::App app("cwts-latency-transport: a signal's round trip over a Unix socket or a WebSocket",
               "cwts-latency-transport");
  cwts::cli::setup(app);
  CLI::Option* uds = app.add_option("--uds", uds_path, "Over this Unix socket")->type_name("PATH");
  app.add_flag("--ws", ws, "Over a loopback WebSocket")->excludes(uds);
  app.add_option("--samples", samples, "Round trips measured")
      ->type_name("N")
      ->capture_default_str();
  app.add_option("--warmup", warmup, "Round trips first, not measured")
      ->type_name("N")
      ->capture_default_str();
  app.add_option("--raw", raw, "Every sample (ns), one a line")->type_name("FILE");
  if (const auto rc = cwts::cli::parse(app, argc, argv)) return *rc;
  if (uds->count() > 0) mode = "uds";
  if (ws) mode = "websocket";
  if (mode.empty()) return cwts::cli::usage_error(app, "--uds PATH or --ws");
  std::vector<std::int64_t> rtt =
      mode == "uds" ? run_uds(uds_path, samples + warmup) : run_ws(samples + warmup);
  rtt.erase(rtt.begin(), rtt.begin() + static_cast<std::ptrdiff_t>(std::min(warmup, rtt.size())));
  if (!raw.empty()) {
    std::ofstream out(raw);
    for (auto v : rtt) out << v << '\n';
  }
  const auto s = cwts::bench::stats(rtt);
  std::printf("{\"%s\":{\"p50_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64 ",\"p999_ns\":%" PRIu64
              ",\"samples\":%zu}}\n",
              mode.c_str(), s.p50, s.p99, s.p999, s.n);
  return 0;
}
