// Region create/attach: header validation, permissions, read-only enforcement, stale and
// restarted engines, and the real hugetlbfs path.
#include "cwts/shm/region.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace {

namespace layout = cwts::layout;
namespace fs = std::filesystem;
using cwts::shm::Access;
using cwts::shm::Backing;
using cwts::shm::Region;
using cwts::shm::RegionErrc;
using cwts::shm::RegionError;
using cwts::shm::RegionOptions;
using layout::RegionKind;
using layout::RegionState;

// A private directory standing in for /dev/shm, and options pointing at it.
class RegionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/cwts-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    opts_.instance = "t" + std::to_string(::getpid());
    opts_.shm_dir = dir_;
    opts_.hugepage_dir = "";
    opts_.lock_pages = false;
  }
  void TearDown() override { fs::remove_all(dir_); }

  RegionErrc attach_error(RegionKind kind, Access access, std::string* what = nullptr) {
    try {
      (void)Region::attach(kind, access, opts_);
    } catch (const RegionError& e) {
      if (what != nullptr) *what = e.what();
      return e.code();
    }
    ADD_FAILURE() << "attach succeeded";
    return RegionErrc::kSystem;
  }

  std::string dir_;
  RegionOptions opts_;
};

TEST_F(RegionTest, ReaderSeesTheHeaderTheEngineWrote) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  Region reader = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  const auto& h = reader.header();
  EXPECT_EQ(h.magic, layout::kMarketMagic);
  EXPECT_EQ(h.layout_version, layout::kLayoutVersion);
  EXPECT_EQ(h.layout_hash, layout::kLayoutHash);
  EXPECT_EQ(h.engine_pid, ::getpid());
  EXPECT_EQ(h.instance.view(), opts_.instance);
  EXPECT_EQ(h.max_symbols, layout::kMaxSymbols);
  EXPECT_GE(reader.size(), layout::kMarketRegionBytes);
  EXPECT_EQ(reader.backing(), Backing::kShm);
  EXPECT_EQ(reader.path(), dir_ + "/cwts-" + opts_.instance + "-market");
  // Data written through the engine's mapping is visible through the reader's.
  layout::Quote q{};
  q.bid_px.raw = 42;
  engine.as<layout::MarketRegion>().symbols[3].quote.store(q);
  EXPECT_EQ(reader.as<layout::MarketRegion>().symbols[3].quote.load().bid_px.raw, 42);
}

TEST_F(RegionTest, AttachWithoutEngineSaysWhereItLooked) {
  std::string what;
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what), RegionErrc::kNotFound);
  EXPECT_NE(what.find(dir_), std::string::npos) << what;
  EXPECT_NE(what.find("cwtsd"), std::string::npos) << what;
}

TEST_F(RegionTest, RegionStillStartingIsRetryable) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  try {
    (void)Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
    FAIL() << "attach to an initialising region succeeded";
  } catch (const RegionError& e) {
    EXPECT_EQ(e.code(), RegionErrc::kInitializing);
    EXPECT_TRUE(e.retryable());
  }
}

TEST_F(RegionTest, WrongVersionIsRefusedNamingBothVersionsAndHashes) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  engine.as<layout::RegionHeader>().layout_version = layout::kLayoutVersion + 41;
  engine.as<layout::RegionHeader>().layout_hash = 0x1234abcd5678ef00ULL;
  std::string what;
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what),
            RegionErrc::kVersionMismatch);
  EXPECT_NE(what.find("version " + std::to_string(layout::kLayoutVersion + 41)), std::string::npos)
      << what;
  EXPECT_NE(what.find("version " + std::to_string(layout::kLayoutVersion)), std::string::npos)
      << what;
  EXPECT_NE(what.find("0x1234abcd5678ef00"), std::string::npos) << what;
  char built[32];
  std::snprintf(built, sizeof built, "0x%016llx",
                static_cast<unsigned long long>(layout::kLayoutHash));
  EXPECT_NE(what.find(built), std::string::npos) << what;
}

TEST_F(RegionTest, SameVersionDifferentHashIsRefusedNamingBothHashes) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  engine.as<layout::RegionHeader>().layout_hash = 0xdeadbeef00000001ULL;
  std::string what;
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what), RegionErrc::kHashMismatch);
  EXPECT_NE(what.find("0xdeadbeef00000001"), std::string::npos) << what;
}

TEST_F(RegionTest, WrongMagicIsNotACwtsRegion) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  engine.as<layout::RegionHeader>().magic = 0x4141414141414141ULL;
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly), RegionErrc::kBadMagic);
}

TEST_F(RegionTest, FilesGetTheConfiguredModes) {
  opts_.market_mode = 0640;
  opts_.signals_mode = 0660;
  ::umask(0077);  // must not matter
  Region market = Region::create(RegionKind::kMarket, opts_);
  Region signals = Region::create(RegionKind::kSignals, opts_);
  ::umask(0022);
  struct stat st {};
  ASSERT_EQ(::stat(market.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640U);
  ASSERT_EQ(::stat(signals.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660U);
}

TEST_F(RegionTest, FilesGetTheConfiguredGroup) {
  if (::geteuid() != 0) GTEST_SKIP() << "changing a file's group to another group needs root";
  const struct group* g = ::getgrnam("nogroup");
  if (g == nullptr) GTEST_SKIP() << "no 'nogroup' group on this machine";
  opts_.group = "nogroup";
  Region market = Region::create(RegionKind::kMarket, opts_);
  struct stat st {};
  ASSERT_EQ(::stat(market.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, g->gr_gid);
}

TEST_F(RegionTest, UnknownGroupIsAClearError) {
  opts_.group = "no-such-group-cwts";
  try {
    (void)Region::create(RegionKind::kMarket, opts_);
    FAIL() << "create with an unknown group succeeded";
  } catch (const RegionError& e) {
    EXPECT_EQ(e.code(), RegionErrc::kPermission);
    EXPECT_NE(std::string(e.what()).find("no-such-group-cwts"), std::string::npos);
  }
}

using RegionDeathTest = RegionTest;

TEST_F(RegionDeathTest, ReaderCannotWriteToTheMarketRegion) {
  // "fast" (fork, no re-exec): the child must not re-run SetUp and leave its own directory.
  GTEST_FLAG_SET(death_test_style, "fast");
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  Region reader = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  auto* header = const_cast<layout::RegionHeader*>(&reader.header());
  // The kernel enforces PROT_READ: the store faults.
  EXPECT_DEATH({ *reinterpret_cast<volatile std::uint64_t*>(&header->magic) = 1; }, "");
  EXPECT_EQ(reader.header().magic, layout::kMarketMagic);
}

TEST_F(RegionTest, RestartedEngineSupersedesOldMapping) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  Region reader = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  const auto epoch = reader.header().epoch_ns;
  EXPECT_FALSE(reader.superseded());
  engine.remove();
  EXPECT_TRUE(reader.superseded());
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly), RegionErrc::kNotFound);

  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  Region engine2 = Region::create(RegionKind::kMarket, opts_);
  engine2.set_state(RegionState::kLive);
  Region reader2 = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  EXPECT_GT(reader2.header().epoch_ns, epoch);
  EXPECT_TRUE(reader.superseded());
  EXPECT_FALSE(reader2.superseded());
}

TEST_F(RegionTest, ReaderRemoveNeverUnlinksTheEnginesRegion) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kLive);
  Region reader = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  reader.remove();
  Region again = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
  EXPECT_FALSE(again.superseded());
}

TEST_F(RegionTest, ClosedRegionIsRefusedAsClosed) {
  Region engine = Region::create(RegionKind::kMarket, opts_);
  engine.set_state(RegionState::kClosed);
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly), RegionErrc::kClosed);
}

// Runs `fn` in a child process and returns its exit status.
template <typename Fn>
int in_child(Fn fn) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 1;
    try {
      rc = fn();
    } catch (...) {
      rc = 3;
    }
    ::_exit(rc);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_F(RegionTest, RegionOfDeadEngineIsStaleAndReplacedOnCreate) {
  // An engine that dies without removing its region (SIGKILL, crash).
  ASSERT_EQ(in_child([&] {
              Region r = Region::create(RegionKind::kMarket, opts_);
              r.set_state(RegionState::kLive);
              return 0;  // exits without remove()
            }),
            0);
  std::string what;
  EXPECT_EQ(attach_error(RegionKind::kMarket, Access::kReadOnly, &what), RegionErrc::kStale);
  EXPECT_NE(what.find("is gone"), std::string::npos) << what;
  Region engine = Region::create(RegionKind::kMarket, opts_);
  EXPECT_EQ(engine.header().engine_pid, ::getpid());
}

TEST_F(RegionTest, SecondEngineIsRefusedWhileFirstRuns) {
  int to_child[2];
  int from_child[2];
  ASSERT_EQ(::pipe(to_child), 0);
  ASSERT_EQ(::pipe(from_child), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    Region r = Region::create(RegionKind::kMarket, opts_);
    r.set_state(RegionState::kLive);
    char c = 'r';
    (void)!::write(from_child[1], &c, 1);
    (void)!::read(to_child[0], &c, 1);  // wait until the parent is done
    r.remove();
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(from_child[0], &c, 1), 1);
  try {
    (void)Region::create(RegionKind::kMarket, opts_);
    ADD_FAILURE() << "second engine created the region";
  } catch (const RegionError& e) {
    EXPECT_EQ(e.code(), RegionErrc::kAlreadyServed);
    EXPECT_NE(std::string(e.what()).find(std::to_string(pid)), std::string::npos) << e.what();
  }
  (void)!::write(to_child[1], &c, 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) ::close(fd);
}

TEST_F(RegionTest, EngineMapsItsSignalsRegionReadOnlyAndStrategiesReadWrite) {
  Region created = Region::create(RegionKind::kSignals, opts_);
  created.set_state(RegionState::kLive);
  Region engine_view = Region::attach(RegionKind::kSignals, Access::kReadOnly, opts_);
  Region strategy = Region::attach(RegionKind::kSignals, Access::kReadWrite, opts_);
  strategy.as<layout::SignalsRegion>().slots[2].claim = layout::make_claim(123, 1);
  EXPECT_EQ(engine_view.as<layout::SignalsRegion>().slots[2].claim, layout::make_claim(123, 1));
  EXPECT_EQ(engine_view.access(), Access::kReadOnly);
}

TEST(ProcessIdentityTest, LiveProcessMatchesItsStartTimeAndDeadOneDoesNot) {
  const auto me = cwts::shm::process_start_ticks(::getpid());
  EXPECT_GT(me, 0U);
  EXPECT_TRUE(cwts::shm::process_alive(::getpid(), me));
  EXPECT_FALSE(cwts::shm::process_alive(::getpid(), me + 1));  // a reused pid
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  // Unreaped: a zombie counts as dead.
  for (int i = 0; i < 200 && cwts::shm::process_alive(child, 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(cwts::shm::process_alive(child, 0));
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(cwts::shm::process_alive(child, 0));
}

// --- the real huge-page path: reserve pages, mount hugetlbfs, use it, undo both ---

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}
bool write_file(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

class HugePageRegionTest : public RegionTest {
 protected:
  void SetUp() override {
    RegionTest::SetUp();
    if (::geteuid() != 0) GTEST_SKIP() << "reserving huge pages and mounting hugetlbfs need root";
    // The pool is machine-wide: serialise with other test processes (parallel ctest, other
    // build directories) so each one restores what it found.
    lock_fd_ = ::open("/tmp/cwts-hugepage-test.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX) != 0) GTEST_SKIP() << "cannot take the lock";
    saved_ = read_file(kNrHugepages);
    if (saved_.empty()) GTEST_SKIP() << "no " << kNrHugepages;
    mount_dir_ = dir_ + "/huge";
    fs::create_directory(mount_dir_);
    if (::mount("none", mount_dir_.c_str(), "hugetlbfs", 0, "pagesize=2M") != 0) {
      GTEST_SKIP() << "cannot mount hugetlbfs: " << std::strerror(errno);
    }
    mounted_ = true;
    opts_.hugepage_dir = mount_dir_;
  }
  void TearDown() override {
    if (mounted_) ::umount(mount_dir_.c_str());
    if (!saved_.empty()) write_file(kNrHugepages, saved_);
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
    RegionTest::TearDown();
  }
  static long free_huge_pages() {
    return std::stol(read_file("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"));
  }
  // Reserves `extra` pages on top of what is there; false if the kernel gave fewer.
  bool reserve(long extra) {
    const long want = std::stol(saved_) + extra;
    write_file(kNrHugepages, std::to_string(want));
    return std::stol(read_file(kNrHugepages)) >= want;
  }

  static constexpr const char* kNrHugepages = "/proc/sys/vm/nr_hugepages";
  std::string saved_;
  std::string mount_dir_;
  bool mounted_ = false;
  int lock_fd_ = -1;
};

TEST_F(HugePageRegionTest, RegionsLiveOnHugetlbfsWhenPagesAreReserved) {
  const long pages =
      static_cast<long>((layout::kMarketRegionBytes + layout::kSignalsRegionBytes) / (2 << 20)) + 3;
  if (!reserve(pages)) GTEST_SKIP() << "the kernel could not reserve " << pages << " huge pages";
  const long free_before = free_huge_pages();
  {
    Region market = Region::create(RegionKind::kMarket, opts_);
    Region signals = Region::create(RegionKind::kSignals, opts_);
    market.set_state(RegionState::kLive);
    signals.set_state(RegionState::kLive);
    EXPECT_EQ(market.backing(), Backing::kHugePages);
    EXPECT_EQ(market.header().page_size_kib, 2048U);
    EXPECT_NE(market.header().flags & layout::kFlagHugePages, 0U);
    EXPECT_EQ(market.size() % (2 << 20), 0U);
    EXPECT_EQ(market.path(), mount_dir_ + "/cwts-" + opts_.instance + "-market");

    Region reader = Region::attach(RegionKind::kMarket, Access::kReadOnly, opts_);
    EXPECT_EQ(reader.backing(), Backing::kHugePages);
    market.as<layout::MarketRegion>().events.publish(layout::Event{});
    EXPECT_EQ(reader.as<layout::MarketRegion>().events.last_sequence(), 1U);
    const long used = free_before - free_huge_pages();
    EXPECT_EQ(used, static_cast<long>((market.size() + signals.size()) / (2 << 20)))
        << "the regions did not consume huge pages";
    market.remove();
    signals.remove();
  }
}

TEST_F(HugePageRegionTest, FallsBackToShmWhenNoHugePagesAreFree) {
  // Mounted, but the pool is empty: creation must fall back to the shm directory.
  if (free_huge_pages() > 0) {
    GTEST_SKIP() << "huge pages are free on this machine; cannot provoke the fallback";
  }
  Region market = Region::create(RegionKind::kMarket, opts_);
  EXPECT_EQ(market.backing(), Backing::kShm);
  EXPECT_EQ(market.path(), dir_ + "/cwts-" + opts_.instance + "-market");
  EXPECT_EQ(market.header().flags & layout::kFlagHugePages, 0U);
}

}  // namespace
