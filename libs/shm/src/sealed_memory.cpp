// Sealed memfds and descriptor passing (ADR 0021).
#include "cwts/shm/sealed_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace cwts::shm {

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

UniqueFd create_sealed_memory(const std::string& name, std::size_t size) {
  UniqueFd fd(::memfd_create(name.c_str(), MFD_ALLOW_SEALING | MFD_CLOEXEC));
  if (!fd.valid()) throw std::system_error(errno, std::generic_category(), "memfd_create " + name);
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    throw std::system_error(errno, std::generic_category(), "ftruncate memfd " + name);
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, kSlotMemorySeals) != 0) {
    throw std::system_error(errno, std::generic_category(), "F_ADD_SEALS memfd " + name);
  }
  return fd;
}

bool is_sealed_memory(int fd, std::size_t size) noexcept {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (static_cast<std::size_t>(st.st_size) != size) return false;
  const int seals = ::fcntl(fd, F_GET_SEALS);
  return seals >= 0 && (seals & kSlotMemorySeals) == kSlotMemorySeals;
}

std::optional<PeerCredentials> peer_credentials(int socket) noexcept {
  struct ucred c {};
  socklen_t len = sizeof c;
  if (::getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0 || len != sizeof c) {
    return std::nullopt;
  }
  return PeerCredentials{c.pid, c.uid, c.gid};
}

bool send_with_fd(int socket, const void* data, std::size_t len, int fd) noexcept {
  if (len == 0) {
    errno = EINVAL;
    return false;
  }
  struct iovec iov {};
  iov.iov_base = const_cast<void*>(data);
  iov.iov_len = len;
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  ssize_t n;
  do {
    n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(len);
}

ssize_t receive_with_fd(int socket, void* data, std::size_t cap, UniqueFd& fd) noexcept {
  fd.reset();
  struct iovec iov {};
  iov.iov_base = data;
  iov.iov_len = cap;
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  constexpr std::size_t kMaxFds = 8;  // more than one is a confused peer: all but one are closed
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return n;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int got = -1;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      if (!fd.valid()) {
        fd.reset(got);
      } else {
        ::close(got);
      }
    }
  }
  return n;
}

}  // namespace cwts::shm
