// Strategies are isolated from each other (issue 17 #1, #2): hostile strategies run as a
// throwaway unprivileged user in the strategy group, in a child process, against a real cwtsd.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "daemon_fixture.hpp"

namespace {

using namespace cwts::daemon::test;
using namespace std::chrono_literals;
using cwts::layout::OrderType;
using cwts::layout::Side;
using cwts::test::StrategyClient;

// A group (the strategies' group of the regions) and a user in it, created for one test and
// removed after it. Needs root.
class StrategyUser {
 public:
  StrategyUser() {
    const std::string tag = std::to_string(::getpid() % 1000000);
    group_ = "cwtsg" + tag;
    name_ = "cwtsu" + tag;
    cleanup();
    if (std::system(("groupadd " + group_ + " >/dev/null 2>&1").c_str()) != 0) return;
    if (std::system(("useradd --no-create-home --gid " + group_ +
                     " --shell /usr/sbin/nologin " + name_ + " >/dev/null 2>&1")
                        .c_str()) != 0)
      return;
    const struct passwd* pw = ::getpwnam(name_.c_str());
    if (pw == nullptr) return;
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
    ok_ = true;
  }
  ~StrategyUser() { cleanup(); }
  StrategyUser(const StrategyUser&) = delete;
  StrategyUser& operator=(const StrategyUser&) = delete;

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::string& group() const { return group_; }

  // `fn` in a child process that runs as this user (only its group); returns the exit status.
  int run(const std::function<int()>& fn) const {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::alarm(20);
      if (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0) ::_exit(90);
      int rc = 1;
      try {
        rc = fn();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "strategy child: %s\n", e.what());
        rc = 3;
      }
      ::_exit(rc);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  void cleanup() const {
    (void)!std::system(("userdel " + name_ + " >/dev/null 2>&1").c_str());
    (void)!std::system(("groupdel " + group_ + " >/dev/null 2>&1").c_str());
  }
  std::string group_, name_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  bool ok_ = false;
};

// Issue 17 #1: every strategy maps the whole signals region read-write and the engine consumes
// every slot's ring, claimed or not, under that ring's slot policy. A strategy confined to slot 3
// (trade: false) pushes a market buy into slot 0's ring, which nobody claimed: it must not trade.
TEST(CwtsdIsolation, AStrategyCannotTradeThroughASlotItDidNotClaim) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (a throwaway strategy user)";
  StrategyUser u;
  ASSERT_TRUE(u.ok()) << "groupadd/useradd failed";
  EngineOptions o;
  o.extra_region = R"(,"group":")" + u.group() + R"(")";
  Harness h(o);
  const std::string instance = h.instance();
  int btc = -1;
  {
    StrategyClient probe(h.instance(), 7);
    btc = probe.symbol_id("BTCUSDT");
  }
  const int rc = u.run([&] {
    cwts::shm::RegionOptions ro;
    ro.instance = instance;
    ro.lock_pages = false;
    auto market = cwts::shm::Region::attach(cwts::layout::RegionKind::kMarket,
                                            cwts::shm::Access::kReadOnly, ro);
    auto signals = cwts::shm::Region::attach(cwts::layout::RegionKind::kSignals,
                                             cwts::shm::Access::kReadWrite, ro);
    auto& sr = signals.as<cwts::layout::SignalsRegion>();
    const auto& m = market.as<cwts::layout::MarketRegion>();
    // Its own slot: 3, where the policy refuses trading.
    const auto claim = cwts::shm::claim_slot(sr, 3, "confined");
    if (claim.status != cwts::shm::ClaimStatus::kOk) return 10;
    // Another slot's ring, written directly.
    cwts::concurrent::RecordProducer<cwts::layout::Signal, cwts::layout::kSignalRingCapacity> p(
        sr.slots[0].signals, m.slots[0].signal_cursor);
    cwts::layout::Signal s =
        StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001), 0);
    s.seq = cwts::concurrent::load_word(m.slots[0].last_signal_seq, std::memory_order_acquire) + 1;
    s.created_ns = cwts::core::realtime_ns();
    // Refused by the memory itself, or ignored by the engine: either way nothing may trade.
    (void)p.try_push(s);
    return 0;
  });
  EXPECT_TRUE(rc == 0 || rc == 128 + SIGSEGV || rc == 128 + SIGBUS) << "child exit " << rc;
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(traded_qty(h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT").body), 0)
      << "a strategy traded through a slot it never claimed\n"
      << h.log();
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// Issue 17 #2: the signals file is writable by the strategy group (it maps its slot read-write);
// truncating it faults every mapping of it, the engine's included (SIGBUS).
TEST(CwtsdIsolation, AStrategyTruncatingTheSignalsMemoryCannotKillTheEngine) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (a throwaway strategy user)";
  StrategyUser u;
  ASSERT_TRUE(u.ok()) << "groupadd/useradd failed";
  EngineOptions o;
  o.extra_region = R"(,"group":")" + u.group() + R"(")";
  Harness h(o);
  const std::string path = "/dev/shm/cwts-" + h.instance() + "-signals";
  const int rc = u.run([&] {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return 0;  // not writable by a strategy at all: nothing to truncate
    const int r = ::ftruncate(fd, 0);
    ::close(fd);
    return r == 0 ? 0 : 0;
  });
  EXPECT_EQ(rc, 0);
  std::this_thread::sleep_for(1000ms);
  EXPECT_TRUE(h.engine().running()) << "the engine died\n" << h.log();
  StrategyClient s(h.instance(), 0);
  const auto seq = s.submit(
      StrategyClient::make(s.symbol_id("BTCUSDT"), Side::kBuy, OrderType::kMarket, fx(0.001), 0));
  EXPECT_FALSE(s.wait_terminal(seq, 10s).empty()) << h.log();
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

}  // namespace
