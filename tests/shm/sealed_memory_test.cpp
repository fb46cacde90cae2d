// ADR 0021's building blocks: sealed slot memory nobody can resize, handed over a Unix socket
// with the peer's credentials.
#include "cwts/shm/sealed_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace {

using cwts::shm::UniqueFd;

constexpr std::size_t kSize = 1 << 16;

struct Mapping {
  Mapping(int fd, std::size_t bytes, int prot) : size(bytes) {
    p = ::mmap(nullptr, bytes, prot, MAP_SHARED, fd, 0);
  }
  ~Mapping() {
    if (p != MAP_FAILED) ::munmap(p, size);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  [[nodiscard]] volatile std::uint64_t* words() const {
    return static_cast<volatile std::uint64_t*>(p);
  }
  void* p;
  std::size_t size;
};

TEST(SealedMemory, IsZeroFilledOfTheSizeAskedAndSealed) {
  const UniqueFd fd = cwts::shm::create_sealed_memory("cwts-test-slot", kSize);
  ASSERT_TRUE(fd.valid());
  EXPECT_TRUE(cwts::shm::is_sealed_memory(fd.get(), kSize));
  EXPECT_FALSE(cwts::shm::is_sealed_memory(fd.get(), kSize * 2));
  EXPECT_EQ(::fcntl(fd.get(), F_GET_SEALS), cwts::shm::kSlotMemorySeals);
  EXPECT_NE(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC, 0);
  Mapping m(fd.get(), kSize, PROT_READ);
  ASSERT_NE(m.p, MAP_FAILED);
  EXPECT_EQ(m.words()[kSize / 8 - 1], 0U);
}

// Issue 17 #2: the memory a strategy can write cannot be truncated under the engine's mapping, by
// any descriptor (a reopen through /proc included), and the seals cannot be removed or added to.
TEST(SealedMemory, NoDescriptorCanResizeItOrChangeItsSeals) {
  const UniqueFd fd = cwts::shm::create_sealed_memory("cwts-test-slot", kSize);
  Mapping engine(fd.get(), kSize, PROT_READ | PROT_WRITE);
  ASSERT_NE(engine.p, MAP_FAILED);
  EXPECT_NE(::ftruncate(fd.get(), 0), 0);
  EXPECT_EQ(errno, EPERM);
  EXPECT_NE(::ftruncate(fd.get(), kSize * 2), 0);
  EXPECT_EQ(errno, EPERM);
  EXPECT_NE(::fallocate(fd.get(), 0, 0, kSize * 2), 0);
  const std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
  const UniqueFd reopened(::open(proc.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(reopened.valid()) << std::strerror(errno);
  EXPECT_NE(::ftruncate(reopened.get(), 0), 0);
  EXPECT_EQ(errno, EPERM);
  EXPECT_NE(::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE), 0);  // F_SEAL_SEAL: the set is final
  engine.words()[kSize / 8 - 1] = 7;                           // still mapped and whole: no SIGBUS
  EXPECT_EQ(engine.words()[kSize / 8 - 1], 7U);
}

TEST(SealedMemory, AnUnsealedMemfdIsNotAcceptedAsSlotMemory) {
  const UniqueFd fd(::memfd_create("plain", MFD_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  ASSERT_EQ(::ftruncate(fd.get(), kSize), 0);
  EXPECT_FALSE(cwts::shm::is_sealed_memory(fd.get(), kSize));
}

// The handover: the memory travels with SCM_RIGHTS; both ends map the same pages; the receiver
// learns who the sender is (and the engine who the claimant is) from SO_PEERCRED.
TEST(SealedMemory, TravelsOverAUnixSocketWithThePeersCredentials) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  const UniqueFd a(sv[0]), b(sv[1]);
  const UniqueFd mem = cwts::shm::create_sealed_memory("cwts-test-slot", kSize);
  Mapping engine(mem.get(), kSize, PROT_READ | PROT_WRITE);
  ASSERT_NE(engine.p, MAP_FAILED);

  const pid_t child = ::fork();
  if (child == 0) {  // the strategy: receives, checks, maps, writes
    UniqueFd got;
    char msg[16] = {};
    const ssize_t n = cwts::shm::receive_with_fd(b.get(), msg, sizeof msg, got);
    if (n != 3 || std::string(msg, 3) != "ok3" || !got.valid()) ::_exit(10);
    if ((::fcntl(got.get(), F_GETFD) & FD_CLOEXEC) == 0) ::_exit(11);
    if (!cwts::shm::is_sealed_memory(got.get(), kSize)) ::_exit(12);
    const auto cred = cwts::shm::peer_credentials(b.get());
    if (!cred || cred->uid != ::getuid() || cred->gid != ::getgid()) ::_exit(13);
    Mapping m(got.get(), kSize, PROT_READ | PROT_WRITE);
    if (m.p == MAP_FAILED) ::_exit(14);
    m.words()[1] = 0x5107;
    if (::ftruncate(got.get(), 0) == 0) ::_exit(15);
    ::_exit(0);
  }
  ASSERT_GT(child, 0);
  ASSERT_TRUE(cwts::shm::send_with_fd(a.get(), "ok3", 3, mem.get())) << std::strerror(errno);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(engine.words()[1], 0x5107U);
  const auto cred = cwts::shm::peer_credentials(a.get());
  ASSERT_TRUE(cred.has_value());
  EXPECT_EQ(cred->pid, ::getpid());  // socketpair: the credentials of its creator
  EXPECT_EQ(cred->uid, ::getuid());
}

TEST(SealedMemory, AMessageWithoutADescriptorLeavesNone) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]);
  const UniqueFd b(sv[1]);
  ASSERT_TRUE(cwts::shm::send_with_fd(a.get(), "no", 2, -1));
  UniqueFd got(::dup(a.get()));  // a stale descriptor from a previous receive is dropped
  char msg[8] = {};
  EXPECT_EQ(cwts::shm::receive_with_fd(b.get(), msg, sizeof msg, got), 2);
  EXPECT_FALSE(got.valid());
  a.reset();  // orderly close: 0
  UniqueFd none;
  EXPECT_EQ(cwts::shm::receive_with_fd(b.get(), msg, sizeof msg, none), 0);
}

}  // namespace
