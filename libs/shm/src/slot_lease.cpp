// The strategy's side of the slot claim handshake (ADR 0021).
#include "cwts/shm/slot_lease.hpp"

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "cwts/shm/region.hpp"
#include "cwts/shm_layout/layout.hpp"

namespace cwts::shm {

const char* to_string(ClaimStatus s) noexcept {
  switch (s) {
    case ClaimStatus::kOk:
      return "ok";
    case ClaimStatus::kTaken:
      return "taken";
    case ClaimStatus::kNoFreeSlot:
      return "no free slot";
    case ClaimStatus::kBadSlot:
      return "bad slot";
    case ClaimStatus::kNotAllowed:
      return "not allowed";
    case ClaimStatus::kNotLive:
      return "engine not live";
    case ClaimStatus::kUnavailable:
      return "unavailable";
    case ClaimStatus::kProtocol:
      return "protocol error";
  }
  return "?";
}

std::string claim_socket_path(const std::string& signals_region_path) {
  std::string p = signals_region_path;
  constexpr std::string_view kSuffix = "-signals";
  if (p.size() >= kSuffix.size() &&
      p.compare(p.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
    p.resize(p.size() - kSuffix.size());
  }
  return p + "-claims";
}

SlotLease::SlotLease(SlotLease&& o) noexcept
    : sock_(std::move(o.sock_)),
      mem_(std::exchange(o.mem_, nullptr)),
      slot_(o.slot_),
      claim_(std::exchange(o.claim_, 0)) {}

SlotLease& SlotLease::operator=(SlotLease&& o) noexcept {
  if (this != &o) {
    release();
    sock_ = std::move(o.sock_);
    mem_ = std::exchange(o.mem_, nullptr);
    slot_ = o.slot_;
    claim_ = std::exchange(o.claim_, 0);
  }
  return *this;
}

void SlotLease::release() noexcept {
  if (sock_.valid()) ::shutdown(sock_.get(), SHUT_RDWR);
  abandon();
}

void SlotLease::abandon() noexcept {
  if (mem_ != nullptr) ::munmap(mem_, sizeof(layout::SignalSlot));
  mem_ = nullptr;
  sock_.reset();
  claim_ = 0;
}

bool SlotLease::engine_gone() const noexcept {
  if (!sock_.valid()) return true;
  struct pollfd p {};
  p.fd = sock_.get();
  p.events = POLLIN;
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLHUP | POLLERR | POLLIN)) != 0;  // the engine never sends after the reply
}

ClaimResult SlotLease::claim(const Region& signals, int slot, std::string_view owner_name,
                             SlotLease& out) {
  struct stat st {};
  if (::stat(signals.path().c_str(), &st) != 0) {
    ClaimResult r;
    r.reason = "cannot stat the signals region " + signals.path() + ": " + std::strerror(errno);
    return r;
  }
  return claim(claim_socket_path(signals.path()), st.st_uid, slot, owner_name, out);
}

ClaimResult SlotLease::claim(const std::string& socket_path, uid_t engine_uid, int slot,
                             std::string_view owner_name, SlotLease& out) {
  out.release();
  ClaimResult r;
  auto fail = [&r](ClaimStatus s, std::string why) {
    r.status = s;
    r.reason = std::move(why);
    return r;
  };
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    return fail(ClaimStatus::kUnavailable, "socket path too long: " + socket_path);
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  UniqueFd sock(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!sock.valid())
    return fail(ClaimStatus::kUnavailable, std::string("socket: ") + std::strerror(errno));
  int rc;
  do {
    rc = ::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    return fail(ClaimStatus::kUnavailable,
                "no engine answers on " + socket_path + ": " + std::strerror(errno));
  }
  const auto peer = peer_credentials(sock.get());
  if (!peer || (peer->uid != engine_uid && peer->uid != 0)) {
    return fail(ClaimStatus::kUnavailable,
                socket_path + " is served by uid " + (peer ? std::to_string(peer->uid) : "?") +
                    ", not by the engine's uid " + std::to_string(engine_uid) +
                    " (the owner of the signals region): refused");
  }
  ClaimRequest req{};
  req.magic = kClaimRequestMagic;
  req.layout_version = layout::kLayoutVersion;
  req.slot = slot;
  const std::size_t n = std::min(owner_name.size(), sizeof req.name - 1);
  std::memcpy(req.name, owner_name.data(), n);
  if (!send_with_fd(sock.get(), &req, sizeof req, -1)) {
    return fail(ClaimStatus::kUnavailable,
                std::string("send to the engine: ") + std::strerror(errno));
  }
  ClaimReply rep{};
  UniqueFd mem_fd;
  // The engine answers within its exec loop's period; a bounded wait so a wedged engine cannot
  // hang the strategy.
  struct pollfd p {};
  p.fd = sock.get();
  p.events = POLLIN;
  do {
    rc = ::poll(&p, 1, 10'000);
  } while (rc < 0 && errno == EINTR);
  if (rc <= 0)
    return fail(ClaimStatus::kUnavailable, "the engine did not answer the claim within 10 s");
  const ssize_t got = receive_with_fd(sock.get(), &rep, sizeof rep, mem_fd);
  if (got == 0) return fail(ClaimStatus::kUnavailable, "the engine closed the connection");
  if (got != static_cast<ssize_t>(sizeof rep) || rep.magic != kClaimReplyMagic ||
      rep.status > static_cast<std::uint8_t>(ClaimStatus::kProtocol)) {
    return fail(ClaimStatus::kProtocol, "malformed claim reply from " + socket_path);
  }
  rep.reason[sizeof rep.reason - 1] = '\0';
  r.status = static_cast<ClaimStatus>(rep.status);
  r.slot = rep.slot;
  r.owner_pid = rep.owner_pid;
  r.claim = rep.claim;
  if (r.status != ClaimStatus::kOk) {
    r.reason = rep.reason[0] != '\0' ? rep.reason : to_string(r.status);
    return r;
  }
  if (!mem_fd.valid() || !is_sealed_memory(mem_fd.get(), sizeof(layout::SignalSlot)) ||
      rep.slot >= layout::kMaxSlots) {
    return fail(ClaimStatus::kProtocol,
                "the engine's slot memory is not a sealed memfd of one signal slot");
  }
  void* map = ::mmap(nullptr, sizeof(layout::SignalSlot), PROT_READ | PROT_WRITE, MAP_SHARED,
                     mem_fd.get(), 0);
  if (map == MAP_FAILED)
    return fail(ClaimStatus::kUnavailable, std::string("mmap: ") + std::strerror(errno));
  out.sock_ = std::move(sock);
  out.mem_ = static_cast<layout::SignalSlot*>(map);
  out.slot_ = rep.slot;
  out.claim_ = rep.claim;
  return r;
}

}  // namespace cwts::shm
