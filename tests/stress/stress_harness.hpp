// Driving cwts-shm-stress processes from the multi-process tests: spawn, line I/O, kill, reports.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cwts/shm/region.hpp"

extern char** environ;

namespace cwts::stress {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Sanitizer builds run the throughput tests with fewer iterations: the instrumented tool is 5-20x
// slower and the asan/tsan presets run on the same small machines. (The kill tests are small and
// keep their counts: the event ring one needs more than a lap.)
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr std::uint64_t kScaleDown = 10;
#else
inline constexpr std::uint64_t kScaleDown = 1;
#endif

// One cwts-shm-stress process with its stdin and stdout on pipes (stderr is inherited, so its
// diagnostics land in the test log). SIGKILLed and reaped on destruction if still running.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    // A child that died must not take the test process down when we write to its stdin.
    static const bool ignore_sigpipe = [] { return ::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
    (void)ignore_sigpipe;

    int in[2];
    int out[2];
    // O_CLOEXEC: the pipe ends must not leak into other children, or EOF never arrives.
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
      throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t dflt;
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);

    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    in_ = in[1];
    out_ = out[0];
    if (rc != 0) {
      pid_ = -1;
      throw std::runtime_error(std::string("posix_spawn ") + args[0] + ": " + std::strerror(rc));
    }
    for (const auto& a : args) cmdline_ += a + " ";
  }

  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  ~Child() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
    if (in_ >= 0) ::close(in_);
    if (out_ >= 0) ::close(out_);
  }

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] const std::string& cmdline() const noexcept { return cmdline_; }

  // Next stdout line without its newline; nullopt at EOF or when `timeout` passes.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (const auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      const int pr = ::poll(&p, 1, static_cast<int>(left.count()));
      if (pr < 0 && errno == EINTR) continue;
      if (pr <= 0) return std::nullopt;
      char chunk[4096];
      const ssize_t n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // Reads lines until one starts with `prefix` and returns it; nullopt at EOF or timeout.
  std::optional<std::string> expect_line(std::string_view prefix,
                                         std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      auto line = read_line(std::max(left, 0ms));
      if (!line) return std::nullopt;
      if (line->rfind(prefix, 0) == 0) return line;
    }
  }

  // The number after "<word> " in the line expect_line(word) returns.
  std::optional<std::uint64_t> expect_number(std::string_view word,
                                             std::chrono::milliseconds timeout) {
    const auto line = expect_line(std::string(word) + " ", timeout);
    if (!line) return std::nullopt;
    return std::stoull(line->substr(word.size() + 1));
  }

  bool send_line(std::string_view line) {
    std::string s(line);
    s += '\n';
    return ::write(in_, s.data(), s.size()) == static_cast<ssize_t>(s.size());
  }

  void close_stdin() {
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }

  void kill9() {
    if (pid_ > 0 && !status_) ::kill(pid_, SIGKILL);
  }

  // Exit status (as from waitpid), or nullopt if the child is still running after `timeout`
  // (it is then SIGKILLed, so a hung child never outlives the test).
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    if (status_) return status_;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      int st = 0;
      const pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        status_ = st;
        return status_;
      }
      if (Clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &st, 0);
        status_ = st;
        return std::nullopt;
      }
      std::this_thread::sleep_for(1ms);
    }
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  std::string buf_;
  std::string cmdline_;
  std::optional<int> status_;
};

// A reader's JSON line, parsed, with its exit code.
struct Report {
  std::string raw;
  std::map<std::string, std::uint64_t> n;
  std::vector<std::uint64_t> per_gen;
  int exit_code = -1;  // -1: no normal exit (killed, or hung and then killed)

  // The value of `key`; a missing key fails the test (and reads as a sentinel).
  [[nodiscard]] std::uint64_t operator[](const std::string& key) const {
    const auto it = n.find(key);
    if (it == n.end()) {
      ADD_FAILURE() << "report has no \"" << key << "\": " << raw;
      return ~std::uint64_t{0};
    }
    return it->second;
  }
  [[nodiscard]] std::uint64_t gen(std::size_t g) const {
    return g < per_gen.size() ? per_gen[g] : 0;
  }
};

// Parses the flat {"key":number, ..., "per_gen":[n,...]} line the tool prints.
inline Report parse_report(const std::string& line) {
  Report r;
  r.raw = line;
  std::size_t pos = 0;
  while ((pos = line.find('"', pos)) != std::string::npos) {
    const std::size_t end = line.find('"', pos + 1);
    if (end == std::string::npos) break;
    const std::string key = line.substr(pos + 1, end - pos - 1);
    std::size_t v = line.find(':', end) + 1;
    if (line[v] == '[') {
      ++v;
      while (v < line.size() && line[v] != ']') {
        std::size_t used = 0;
        r.per_gen.push_back(std::stoull(line.substr(v), &used));
        v += used;
        if (line[v] == ',') ++v;
      }
    } else {
      std::size_t used = 0;
      r.n[key] = std::stoull(line.substr(v), &used);
      v += used;
    }
    pos = v;
  }
  return r;
}

// Waits for a reader's JSON line and its exit.
inline Report finish(Child& c, std::chrono::milliseconds timeout) {
  Report r;
  const auto line = c.expect_line("{", timeout);
  if (!line) {
    ADD_FAILURE() << "no report from: " << c.cmdline();
  } else {
    r = parse_report(*line);
    std::printf("[report] %s\n", line->c_str());
  }
  const auto st = c.wait(timeout);
  if (!st) {
    ADD_FAILURE() << "did not exit: " << c.cmdline();
  } else if (WIFEXITED(*st)) {
    r.exit_code = WEXITSTATUS(*st);
  }
  return r;
}

// Per-test scratch directory in /dev/shm (used as shm_dir, with hugepage_dir empty) and a unique
// instance name, so tests never touch real instances or each other.
class StressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/cwts-stress-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    instance_ =
        "s" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + info->name();
    instance_.resize(std::min<std::size_t>(instance_.size(), 31));
  }

  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  [[nodiscard]] shm::RegionOptions options() const {
    shm::RegionOptions o;
    o.instance = instance_;
    o.hugepage_dir = "";
    o.shm_dir = dir_;
    o.lock_pages = false;
    return o;
  }

  [[nodiscard]] std::vector<std::string> tool(const std::string& role, const std::string& kind,
                                              std::vector<std::string> extra = {}) const {
    std::vector<std::string> a{CWTS_STRESS_TOOL, role, "--instance", instance_,
                               "--shm-dir",      dir_, "--kind",     kind};
    for (auto& e : extra) a.push_back(std::move(e));
    return a;
  }

  std::string dir_;
  std::string instance_;
};

}  // namespace cwts::stress
