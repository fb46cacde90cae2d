// Signal-slot claims across real processes: exclusivity, dead-owner takeover, release.
#include "cwts/shm/slot_claim.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cwts/shm/region.hpp"

namespace {

namespace layout = cwts::layout;
using cwts::shm::Access;
using cwts::shm::ClaimStatus;
using cwts::shm::Region;
using cwts::shm::RegionOptions;

class SlotClaimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/cwts-claim-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    opts_.instance = "c" + std::to_string(::getpid());
    opts_.shm_dir = dir_;
    opts_.hugepage_dir = "";
    opts_.lock_pages = false;
    engine_ = Region::create(layout::RegionKind::kSignals, opts_);
    engine_.set_state(layout::RegionState::kLive);
    strategy_ = Region::attach(layout::RegionKind::kSignals, Access::kReadWrite, opts_);
  }
  void TearDown() override {
    engine_.remove();
    std::filesystem::remove_all(dir_);
  }
  layout::SignalsRegion& region() { return strategy_.as<layout::SignalsRegion>(); }

  // Forks a process that claims `slot`, reports the result code, then exits.
  int claim_in_child(int slot) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      const auto r = cwts::shm::claim_slot(region(), slot, "child");
      ::_exit(static_cast<int>(r.status));
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string dir_;
  RegionOptions opts_;
  Region engine_;
  Region strategy_;
};

TEST_F(SlotClaimTest, ClaimRecordsOwnerPidGenerationAndName) {
  const auto r = cwts::shm::claim_slot(region(), 2, "ema-cross");
  ASSERT_EQ(r.status, ClaimStatus::kOk);
  EXPECT_EQ(r.slot, 2U);
  EXPECT_FALSE(r.reclaimed);
  EXPECT_EQ(layout::claim_pid(r.claim), static_cast<std::uint32_t>(::getpid()));
  EXPECT_EQ(layout::claim_generation(r.claim), 1U);
  const auto& s = engine_.as<layout::SignalsRegion>().slots[2];  // the engine's view
  EXPECT_EQ(s.claim, r.claim);
  EXPECT_EQ(s.owner_claim, r.claim);
  EXPECT_EQ(s.owner_name.view(), "ema-cross");
  EXPECT_EQ(s.owner_start_ticks, cwts::shm::process_start_ticks(::getpid()));
  EXPECT_TRUE(cwts::shm::slot_owner_alive(s));
}

TEST_F(SlotClaimTest, LiveOwnersSlotIsTakenForAnotherProcess) {
  ASSERT_EQ(cwts::shm::claim_slot(region(), 0, "first").status, ClaimStatus::kOk);
  EXPECT_EQ(claim_in_child(0), static_cast<int>(ClaimStatus::kTaken));
}

TEST_F(SlotClaimTest, DeadOwnersSlotIsReclaimedWithNextGeneration) {
  ASSERT_EQ(claim_in_child(5), static_cast<int>(ClaimStatus::kOk));  // the child is gone now
  EXPECT_FALSE(cwts::shm::slot_owner_alive(region().slots[5]));
  const auto r = cwts::shm::claim_slot(region(), 5, "successor");
  ASSERT_EQ(r.status, ClaimStatus::kOk);
  EXPECT_TRUE(r.reclaimed);
  EXPECT_EQ(layout::claim_generation(r.claim), 2U);
}

TEST_F(SlotClaimTest, OwnerStillFillingInIsJudgedByPidAloneAndNotStolen) {
  // A live owner (this process) that won the CAS but has not yet vouched for its start ticks;
  // the stale ticks of a previous owner must not make it look dead.
  auto& s = region().slots[1];
  s.claim = layout::make_claim(static_cast<std::uint32_t>(::getpid()), 7);
  s.owner_claim = layout::make_claim(999999, 6);
  s.owner_start_ticks = 1;
  EXPECT_EQ(claim_in_child(1), static_cast<int>(ClaimStatus::kTaken));
}

TEST_F(SlotClaimTest, ReleaseFreesTheSlotAndAStaleHandleCannotReleaseIt) {
  const auto r = cwts::shm::claim_slot(region(), 3, "a");
  ASSERT_EQ(r.status, ClaimStatus::kOk);
  EXPECT_TRUE(cwts::shm::release_slot(region(), 3, r.claim));
  EXPECT_EQ(layout::claim_pid(region().slots[3].claim), 0U);
  const auto again = cwts::shm::claim_slot(region(), 3, "b");
  ASSERT_EQ(again.status, ClaimStatus::kOk);
  EXPECT_EQ(layout::claim_generation(again.claim), 2U);
  EXPECT_FALSE(cwts::shm::release_slot(region(), 3, r.claim));  // the old claim
  EXPECT_EQ(region().slots[3].claim, again.claim);
}

TEST_F(SlotClaimTest, AnySlotRequestSkipsLiveOwnersAndReportsWhenFull) {
  for (std::size_t i = 0; i < layout::kMaxSlots; ++i) {
    const auto r = cwts::shm::claim_slot(region(), -1, "s");
    ASSERT_EQ(r.status, ClaimStatus::kOk);
    EXPECT_EQ(r.slot, i);
  }
  EXPECT_EQ(cwts::shm::claim_slot(region(), -1, "s").status, ClaimStatus::kNoFreeSlot);
  EXPECT_EQ(cwts::shm::claim_slot(region(), static_cast<int>(layout::kMaxSlots), "s").status,
            ClaimStatus::kBadSlot);
}

TEST_F(SlotClaimTest, RacingProcessesNeverShareASlot) {
  constexpr int kProcs = 12;
  int pipe_fd[2];
  int go_fd[2];    // start together
  int done_fd[2];  // stay alive until every racer has claimed
  ASSERT_EQ(::pipe(pipe_fd), 0);
  ASSERT_EQ(::pipe(go_fd), 0);
  ASSERT_EQ(::pipe(done_fd), 0);
  std::vector<pid_t> kids;
  for (int i = 0; i < kProcs; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      char c;
      (void)!::read(go_fd[0], &c, 1);
      const auto r = cwts::shm::claim_slot(region(), -1, "racer");
      const int slot = r.status == ClaimStatus::kOk ? static_cast<int>(r.slot) : -1;
      (void)!::write(pipe_fd[1], &slot, sizeof slot);
      (void)!::read(done_fd[0], &c, 1);
      ::_exit(0);
    }
    kids.push_back(pid);
  }
  const std::string go(2 * kProcs, 'g');
  ASSERT_EQ(::write(go_fd[1], go.data(), kProcs), kProcs);
  std::set<int> slots;
  for (int i = 0; i < kProcs; ++i) {
    int slot = -2;
    ASSERT_EQ(::read(pipe_fd[0], &slot, sizeof slot), static_cast<ssize_t>(sizeof slot));
    ASSERT_GE(slot, 0);
    EXPECT_TRUE(slots.insert(slot).second) << "slot " << slot << " claimed twice";
  }
  ASSERT_EQ(::write(done_fd[1], go.data(), kProcs), kProcs);
  for (pid_t pid : kids) ::waitpid(pid, nullptr, 0);
  for (int fd : {pipe_fd[0], pipe_fd[1], go_fd[0], go_fd[1], done_fd[0], done_fd[1]}) ::close(fd);
}

}  // namespace
