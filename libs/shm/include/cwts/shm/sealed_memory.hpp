// Building blocks of ADR 0021 (per-slot signal memory handed over by the engine): a sealed memfd
// whose size nobody can change, and passing it over a Unix socket with the peer's credentials.
//
// Why seals: a writable shared mapping needs a descriptor opened for writing, and such a
// descriptor can ftruncate the memory, after which every mapping of the truncated pages faults
// (SIGBUS) — the engine's included. F_SEAL_SHRINK | F_SEAL_GROW make the kernel refuse any size
// change on the memory itself (every descriptor, /proc/PID/fd reopens included); F_SEAL_SEAL
// makes the set final, so nobody can remove them or add F_SEAL_WRITE to stop the engine.
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <utility>

namespace cwts::shm {

// An owned file descriptor (closed on destruction). Move-only.
class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// The seals every slot memory carries.
inline constexpr int kSlotMemorySeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

// A zero-filled memfd of `size` bytes (memfd_create(MFD_ALLOW_SEALING | MFD_CLOEXEC)), sealed
// with kSlotMemorySeals. `name` shows in /proc/PID/maps ("memfd:<name>"). Throws
// std::system_error.
[[nodiscard]] UniqueFd create_sealed_memory(const std::string& name, std::size_t size);

// What the receiver of a memory checks before mapping it: exactly `size` bytes and at least
// kSlotMemorySeals (so the sender cannot shrink it under the receiver either).
[[nodiscard]] bool is_sealed_memory(int fd, std::size_t size) noexcept;

// The credentials of a connected Unix socket's peer (SO_PEERCRED: as of connect/socketpair).
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};
[[nodiscard]] std::optional<PeerCredentials> peer_credentials(int socket) noexcept;

// Sends `len` bytes (at least one) with `fd` attached (SCM_RIGHTS); fd < 0 sends the bytes only.
// False on error (errno set) or a short send. MSG_NOSIGNAL: a closed peer is an error, not
// SIGPIPE.
[[nodiscard]] bool send_with_fd(int socket, const void* data, std::size_t len, int fd) noexcept;

// Receives one message of up to `cap` bytes; a descriptor attached to it lands in `fd`
// (MSG_CMSG_CLOEXEC). Returns the byte count, 0 on orderly close, -1 on error (errno set).
// Extra descriptors, if a peer sent several, are closed.
[[nodiscard]] ssize_t receive_with_fd(int socket, void* data, std::size_t cap,
                                      UniqueFd& fd) noexcept;

}  // namespace cwts::shm
