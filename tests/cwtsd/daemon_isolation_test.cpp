// Strategies are isolated from each other (issue 17 #1, #2): hostile strategies run as a
// throwaway unprivileged user in the strategy group, in a child process, against a real cwtsd.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "cwts/shm/slot_lease.hpp"
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
    if (std::system(("useradd --no-create-home --gid " + group_ + " --shell /usr/sbin/nologin " +
                     name_ + " >/dev/null 2>&1")
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

cwts::shm::RegionOptions reader_options(const std::string& instance) {
  cwts::shm::RegionOptions ro;
  ro.instance = instance;
  ro.lock_pages = false;
  return ro;
}

// Hostile strategies run as a throwaway user in the regions' group (needs root).
class CwtsdIsolation : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (a throwaway strategy user)";
    ASSERT_TRUE(user.ok()) << "groupadd/useradd failed";
  }
  [[nodiscard]] EngineOptions options() const {
    EngineOptions o;
    o.extra_region = R"(,"group":")" + user.group() + R"(")";
    return o;
  }
  StrategyUser user;
};

// A market buy of `qty` through `s` is executed: the engine is alive and the slot works.
void expect_trades(Harness& h, StrategyClient& s, std::int64_t qty, std::int64_t traded_before) {
  const auto seq = s.submit(
      StrategyClient::make(s.symbol_id("BTCUSDT"), Side::kBuy, OrderType::kMarket, qty, 0));
  EXPECT_FALSE(s.wait_terminal(seq, 10s).empty()) << h.log();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(traded_qty(h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT").body),
            traded_before + qty)
      << h.log();
}

// What a strategy learns about the claim socket: its own raw handshake, so the test can do with
// the memory what a hostile strategy would (cwts::shm::SlotLease closes the descriptor).
struct RawClaim {
  cwts::shm::ClaimReply reply{};
  cwts::shm::UniqueFd sock;
  cwts::shm::UniqueFd memfd;
};
RawClaim raw_claim(const std::string& socket_path, int slot) {
  RawClaim c;
  c.sock.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  if (::connect(c.sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return c;
  }
  cwts::shm::ClaimRequest req{};
  req.magic = cwts::shm::kClaimRequestMagic;
  req.layout_version = cwts::layout::kLayoutVersion;
  req.slot = slot;
  std::snprintf(req.name, sizeof req.name, "hostile");
  if (!cwts::shm::send_with_fd(c.sock.get(), &req, sizeof req, -1)) return c;
  (void)cwts::shm::receive_with_fd(c.sock.get(), &c.reply, sizeof c.reply, c.memfd);
  return c;
}

// Issue 17 #1: every strategy mapped the whole signals region read-write and the engine consumed
// every slot's ring, claimed or not, under that ring's slot policy. A strategy confined to slot 3
// (trade: false) tries every way into slot 0, which another strategy holds: the signals region
// read-write, the file, a claim of slot 0. Nothing may trade but slot 0's owner.
TEST_F(CwtsdIsolation, AStrategyCannotTradeThroughASlotItDidNotClaim) {
  EngineOptions o = options();
  Harness h(o);
  const std::string instance = h.instance();
  StrategyClient owner(h.instance(), 0, "owner");
  const int btc = owner.symbol_id("BTCUSDT");
  const int rc = user.run([&] {
    const cwts::shm::RegionOptions ro = reader_options(instance);
    auto signals = cwts::shm::Region::attach(cwts::layout::RegionKind::kSignals,
                                             cwts::shm::Access::kReadOnly, ro);
    try {
      (void)cwts::shm::Region::attach(cwts::layout::RegionKind::kSignals,
                                      cwts::shm::Access::kReadWrite, ro);
      return 10;  // the signals region is writable by a strategy
    } catch (const cwts::shm::RegionError&) {
    }
    if (::open(signals.path().c_str(), O_RDWR | O_CLOEXEC) >= 0) return 11;
    cwts::shm::SlotLease other;
    const auto taken = cwts::shm::SlotLease::claim(signals, 0, "hostile", other);
    if (taken.status != cwts::shm::ClaimStatus::kTaken || other.valid()) return 12;
    // Its own slot, where the policy refuses trading: a buy there is rejected, not executed.
    cwts::shm::SlotLease mine;
    if (cwts::shm::SlotLease::claim(signals, 3, "confined", mine).status !=
        cwts::shm::ClaimStatus::kOk) {
      return 13;
    }
    auto market = cwts::shm::Region::attach(cwts::layout::RegionKind::kMarket,
                                            cwts::shm::Access::kReadOnly, ro);
    const auto& m = market.as<cwts::layout::MarketRegion>();
    cwts::concurrent::RecordProducer<cwts::layout::Signal, cwts::layout::kSignalRingCapacity> p(
        mine.memory().signals, m.slot(3).signal_cursor);
    cwts::layout::Signal s =
        StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.001), 0);
    s.seq = cwts::concurrent::load_word(m.slot(3).last_signal_seq, std::memory_order_acquire) + 1;
    s.created_ns = cwts::core::realtime_ns();
    if (p.try_push(s) != cwts::concurrent::PushStatus::kOk) return 14;
    std::this_thread::sleep_for(300ms);  // the engine reads it while the claim is held
    return 0;
  });
  EXPECT_EQ(rc, 0) << "child exit " << rc << "\n" << h.log();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(traded_qty(h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT").body), 0)
      << "a strategy traded through a slot it may not trade in\n"
      << h.log();
  expect_trades(h, owner, fx(0.002), 0);  // the owner's slot is untouched and works
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// Issue 17 #2: the signals file was writable by the strategy group; truncating it faulted every
// mapping of it, the engine's included (SIGBUS). Now the file is read-only to strategies and the
// slot memory a strategy holds is sealed: it tries both, and its own memory's seals.
TEST_F(CwtsdIsolation, AStrategyTruncatingTheSignalsMemoryCannotKillTheEngine) {
  EngineOptions o = options();
  Harness h(o);
  const std::string path = "/dev/shm/cwts-" + h.instance() + "-signals";
  const std::string sock = cwts::shm::claim_socket_path(path);
  const int rc = user.run([&] {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd >= 0 && ::ftruncate(fd, 0) == 0) return 20;
    RawClaim c = raw_claim(sock, 2);
    if (c.reply.status != static_cast<std::uint8_t>(cwts::shm::ClaimStatus::kOk) ||
        !c.memfd.valid()) {
      return 21;
    }
    if (::ftruncate(c.memfd.get(), 0) == 0) return 22;        // shrinking: refused by the seal
    if (::ftruncate(c.memfd.get(), 1 << 24) == 0) return 23;  // growing: refused too
    if (::fcntl(c.memfd.get(), F_ADD_SEALS, F_SEAL_WRITE) == 0) return 24;  // freeze the engine
    // Through /proc, a new descriptor of the same memory: the seals are the memory's.
    const std::string again = "/proc/self/fd/" + std::to_string(c.memfd.get());
    const int fd2 = ::open(again.c_str(), O_RDWR | O_CLOEXEC);
    if (fd2 >= 0 && ::ftruncate(fd2, 0) == 0) return 25;
    return 0;
  });
  EXPECT_EQ(rc, 0) << "child exit " << rc;
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(h.engine().running()) << "the engine died\n" << h.log();
  StrategyClient s(h.instance(), 0);
  expect_trades(h, s, fx(0.001), 0);
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// Slot policies name who may claim a slot (slots.N.users / groups): a strategy user outside
// slot 5's list is refused with the reason, and may still claim a slot open to it.
TEST_F(CwtsdIsolation, ASlotAdmitsOnlyTheUsersAndGroupsItsPolicyNames) {
  EngineOptions o = options();
  o.slots = R"("default":{"trade":true},"5":{"users":["root"]},"6":{"groups":[")" + user.group() +
            R"("]})";
  Harness h(o);
  const std::string instance = h.instance();
  const int rc = user.run([&] {
    const cwts::shm::RegionOptions ro = reader_options(instance);
    auto signals = cwts::shm::Region::attach(cwts::layout::RegionKind::kSignals,
                                             cwts::shm::Access::kReadOnly, ro);
    cwts::shm::SlotLease l;
    const auto r = cwts::shm::SlotLease::claim(signals, 5, "outsider", l);
    if (r.status != cwts::shm::ClaimStatus::kNotAllowed) return 30;
    if (r.reason.find("slots.5.users") == std::string::npos) return 31;
    if (cwts::shm::SlotLease::claim(signals, 6, "member", l).status !=
        cwts::shm::ClaimStatus::kOk) {
      return 32;
    }
    return 0;
  });
  EXPECT_EQ(rc, 0) << "child exit " << rc << "\n" << h.log();
  StrategyClient root(h.instance(), 5, "root");  // root is on slot 5's list
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

// The engine reads only a held slot's memory, and every claim's memory is new: a strategy that
// released its slot (or died) cannot write into the next holder's ring through the mapping it
// kept, and signals it left are answered before the slot is granted again.
TEST(CwtsdSlotMemory, AFormerHolderCannotWriteIntoTheNextHoldersSlot) {
  Harness h;
  const std::string sock =
      cwts::shm::claim_socket_path("/dev/shm/cwts-" + h.instance() + "-signals");
  RawClaim first = raw_claim(sock, 4 + 5);  // slot 9: no policy
  ASSERT_EQ(first.reply.status, static_cast<std::uint8_t>(cwts::shm::ClaimStatus::kOk));
  void* kept = ::mmap(nullptr, sizeof(cwts::layout::SignalSlot), PROT_READ | PROT_WRITE, MAP_SHARED,
                      first.memfd.get(), 0);
  ASSERT_NE(kept, MAP_FAILED);
  ::shutdown(first.sock.get(), SHUT_RDWR);  // released, mapping kept
  StrategyClient next(h.instance(), 9, "next");
  const int btc = next.symbol_id("BTCUSDT");
  auto* old = static_cast<cwts::layout::SignalSlot*>(kept);
  const auto& m = next.market();
  cwts::concurrent::RecordProducer<cwts::layout::Signal, cwts::layout::kSignalRingCapacity> p(
      old->signals, m.slot(9).signal_cursor);
  cwts::layout::Signal s = StrategyClient::make(btc, Side::kBuy, OrderType::kMarket, fx(0.003), 0);
  s.seq = cwts::concurrent::load_word(m.slot(9).last_signal_seq, std::memory_order_acquire) + 1;
  s.created_ns = cwts::core::realtime_ns();
  (void)p.try_push(s);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(traded_qty(h.signed_get("/api/v3/myTrades", "symbol=BTCUSDT").body), 0)
      << "a signal written into released memory was executed\n"
      << h.log();
  ::munmap(kept, sizeof(cwts::layout::SignalSlot));
  EXPECT_EQ(h.engine().terminate(15s), 0);
}

}  // namespace
