// Test support: real child processes (cwts-sim, cwtsd) with their stdout read line by line and
// their stderr kept in a file, plus a one-shot HTTP client for loopback servers.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace cwts::test {

using namespace std::chrono_literals;

class ChildProcess {
 public:
  // Starts `binary args...` with `env` added to the environment. stdout is a pipe read by
  // read_line(); stderr goes to `stderr_path` ("" = inherited).
  ChildProcess(const std::string& binary, std::vector<std::string> args,
               std::vector<std::pair<std::string, std::string>> env = {},
               const std::string& stderr_path = {}) {
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      if (!stderr_path.empty()) {
        const int fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) ::dup2(fd, STDERR_FILENO);
      }
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      std::vector<char*> argv;
      std::string bin = binary;
      argv.push_back(bin.data());
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    fd_ = out[0];
  }
  ~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  // Next stdout line (without '\n'), or "" at EOF / timeout.
  std::string read_line(std::chrono::milliseconds timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buf_.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char b[4096];
      const ssize_t n = ::read(fd_, b, sizeof b);
      if (n <= 0) break;
      buf_.append(b, static_cast<std::size_t>(n));
    }
    const auto nl = buf_.find('\n');
    if (nl == std::string::npos) return {};
    std::string line = buf_.substr(0, nl);
    buf_.erase(0, nl + 1);
    return line;
  }

  void signal(int sig) const { ::kill(pid_, sig); }

  // Waits for the exit; returns the exit status, 128 + signal if killed, -1 on timeout.
  int wait(std::chrono::milliseconds timeout = 10s) {
    if (reaped_) return status_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int st = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        reaped_ = true;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return status_;
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
  int terminate(std::chrono::milliseconds timeout = 10s) {
    signal(SIGTERM);
    return wait(timeout);
  }
  [[nodiscard]] bool running() {
    if (reaped_) return false;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      reaped_ = true;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return false;
    }
    return true;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
  int status_ = -1;
  std::string buf_;
};

// cwts-sim on an ephemeral port: waits for its ready line.
class SimProcess : public ChildProcess {
 public:
  SimProcess(const std::string& binary, std::vector<std::string> args,
             const std::string& stderr_path = {})
      : ChildProcess(binary, with_listen(std::move(args)), {}, stderr_path) {
    ready_line_ = read_line();
    const std::string prefix = "cwts-sim ready on 127.0.0.1:";
    if (ready_line_.rfind(prefix, 0) != 0) {
      throw std::runtime_error("cwts-sim did not start: '" + ready_line_ + "'");
    }
    port_ = static_cast<std::uint16_t>(std::stoi(ready_line_.substr(prefix.size())));
  }
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] const std::string& ready_line() const noexcept { return ready_line_; }
  [[nodiscard]] std::string http_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::string ws_url() const { return "ws://127.0.0.1:" + std::to_string(port_); }

 private:
  static std::vector<std::string> with_listen(std::vector<std::string> args) {
    if (std::find(args.begin(), args.end(), "--listen") == args.end()) {
      args.insert(args.begin(), {"--listen", "127.0.0.1:0"});
    }
    return args;
  }
  std::uint16_t port_ = 0;
  std::string ready_line_;
};

struct HttpReply {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};

// One request on a fresh loopback connection.
inline HttpReply http_request(std::uint16_t port, boost::beast::http::verb verb,
                              const std::string& target, const std::string& body = {},
                              const std::string& api_key = {}) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  using tcp = boost::asio::ip::tcp;
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(10s);
  stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!api_key.empty()) req.set("X-MBX-APIKEY", api_key);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/x-www-form-urlencoded");
    req.body() = body;
  }
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res);
  HttpReply r{res.result_int(), res.body(), {}};
  for (const auto& f : res) r.headers[std::string(f.name_string())] = std::string(f.value());
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return r;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace cwts::test
