// SlotBroker: see slot_broker.hpp and docs/adr/0021-per-slot-signal-memory.md.
#include "exec/slot_broker.hpp"

#include <grp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "cwts/concurrent/word_copy.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/log/json_log.hpp"
#include "exec/exec_engine.hpp"

namespace cwts::daemon {

namespace cc = concurrent;
using shm::ClaimReply;
using shm::ClaimStatus;

struct SlotBroker::Held {
  SlotOffer offer;
  shm::UniqueFd memfd;
  shm::UniqueFd conn;  // invalid for an in-process claim
  shm::PeerCredentials who;
  std::string name;
  std::int64_t claimed_at_ns = 0;
  bool orphan = false;  // granted to nobody (the exec thread was too slow to take it up)
  ~Held() {
    if (offer.mem != nullptr) ::munmap(offer.mem, sizeof(layout::SignalSlot));
  }
};

namespace {

std::uint64_t start_ticks(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const std::size_t close = s.rfind(')');
  if (close == std::string::npos) return 0;
  std::size_t pos = close + 2;
  for (int field = 3; field < 22 && pos != std::string::npos; ++field) {
    pos = s.find(' ', pos);
    if (pos != std::string::npos) ++pos;
  }
  return pos == std::string::npos ? 0 : std::strtoull(s.c_str() + pos, nullptr, 10);
}

// The supplementary groups of a peer process (the primary one is in SO_PEERCRED).
std::vector<gid_t> groups_of(pid_t pid) {
  std::vector<gid_t> out;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("Groups:", 0) != 0) continue;
    const char* p = line.c_str() + 7;
    char* end = nullptr;
    for (unsigned long g = std::strtoul(p, &end, 10); end != p; g = std::strtoul(p, &end, 10)) {
      out.push_back(static_cast<gid_t>(g));
      p = end;
    }
  }
  return out;
}

ClaimReply reply(ClaimStatus s, std::uint32_t slot, const std::string& reason) {
  ClaimReply r{};
  r.magic = shm::kClaimReplyMagic;
  r.status = static_cast<std::uint8_t>(s);
  r.slot = slot;
  std::strncpy(r.reason, reason.c_str(), sizeof r.reason - 1);
  return r;
}

// Waits (the broker's thread only; the exec thread answers within its loop period, <= 1 ms)
// until `done` holds; false after `timeout`.
template <class Pred>
bool wait_for(Pred done, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

}  // namespace

SlotBroker::SlotBroker(const Config& cfg, ExecEngine& exec, const std::uint64_t& intake_state)
    : cfg_(cfg), exec_(exec), intake_state_(intake_state) {
  set_policies(cfg);
}

SlotBroker::~SlotBroker() { stop(); }

void SlotBroker::set_policies(const Config& cfg) {
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < layout::kMaxSlots; ++i) policy_[i] = cfg.slot(i);
}

void SlotBroker::start(const std::string& socket_path) {
  path_ = socket_path;
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path) {
    throw std::runtime_error("claim socket path too long: " + path_);
  }
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  // A socket left by a dead engine of this instance (the regions were already checked: no live
  // engine serves it) is ours to replace; anything else at the name is refused below by bind.
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == ::geteuid()) {
    ::unlink(path_.c_str());
  }
  listen_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_.valid() ||
      ::bind(listen_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    std::string whose;
    if (::lstat(path_.c_str(), &st) == 0)
      whose = " (a file of uid " + std::to_string(st.st_uid) + " is in the way)";
    throw std::runtime_error("cannot bind the claim socket " + path_ + ": " + std::strerror(err) +
                             whose);
  }
  gid_t gid = static_cast<gid_t>(-1);
  if (!cfg_.region.group.empty()) {
    if (const struct group* g = ::getgrnam(cfg_.region.group.c_str()); g != nullptr)
      gid = g->gr_gid;
  }
  if (::chmod(path_.c_str(), 0660) != 0 ||
      (gid != static_cast<gid_t>(-1) && ::chown(path_.c_str(), static_cast<uid_t>(-1), gid) != 0) ||
      ::listen(listen_.get(), 64) != 0) {
    const int err = errno;
    ::unlink(path_.c_str());
    throw std::runtime_error("cannot set up the claim socket " + path_ + ": " + std::strerror(err));
  }
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "cwtsd-claims");
    try {
      run();
    } catch (const std::exception& e) {
      log::log_event(spdlog::level::critical, "claims", "thread_failed",
                     log::LogFields().str("error", e.what()));
    }
  });
}

void SlotBroker::stop() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
    thread_.join();
  }
  if (listen_.valid()) {
    listen_.reset();
    ::unlink(path_.c_str());
  }
  std::lock_guard lock(mu_);
  waiting_.clear();
  for (auto& h : held_) h.reset();  // the exec thread has stopped: nobody reads the memory
  retiring_.clear();
}

bool SlotBroker::admits(std::uint32_t slot, const shm::PeerCredentials& who) const {
  const SlotConfig& p = policy_[slot];
  if (p.users.empty() && p.groups.empty()) return true;
  if (std::find(p.users.begin(), p.users.end(), who.uid) != p.users.end()) return true;
  if (p.groups.empty()) return false;
  if (std::find(p.groups.begin(), p.groups.end(), who.gid) != p.groups.end()) return true;
  for (const gid_t g : groups_of(who.pid)) {
    if (std::find(p.groups.begin(), p.groups.end(), g) != p.groups.end()) return true;
  }
  return false;
}

// Under mu_.
ClaimReply SlotBroker::grant(int slot, const shm::PeerCredentials& who, std::string_view name,
                             bool local, shm::UniqueFd& memfd) {
  if (cc::load_word(intake_state_, std::memory_order_acquire) !=
      static_cast<std::uint64_t>(layout::RegionState::kLive)) {
    return reply(ClaimStatus::kNotLive, 0, "the engine is not live (starting or stopping)");
  }
  const std::size_t slots = exec_.slot_capacity();
  if (slot < -1 || slot >= static_cast<int>(slots)) {
    return reply(ClaimStatus::kBadSlot, 0,
                 "slot must be -1 (any) or 0.." + std::to_string(slots - 1) +
                     " (the market region has " + std::to_string(slots) +
                     " signal slots: region.max_slots)");
  }
  std::uint32_t s = 0;
  if (slot >= 0) {
    s = static_cast<std::uint32_t>(slot);
    if (held_[s]) {
      ClaimReply r = reply(ClaimStatus::kTaken, s,
                           "signal slot " + std::to_string(s) + " is held by pid " +
                               std::to_string(held_[s]->who.pid));
      r.owner_pid = static_cast<std::uint32_t>(held_[s]->who.pid);
      return r;
    }
    if (!local && !admits(s, who)) {
      return reply(ClaimStatus::kNotAllowed, s,
                   "slot " + std::to_string(s) + " does not admit uid " + std::to_string(who.uid) +
                       " (slots." + std::to_string(s) + ".users / groups)");
    }
  } else {
    bool found = false;
    for (; s < slots; ++s) {
      if (!held_[s] && (local || admits(s, who))) {
        found = true;
        break;
      }
    }
    if (!found) {
      return reply(ClaimStatus::kNoFreeSlot, 0,
                   "every signal slot this uid may claim is held by a running process");
    }
  }
  // The previous holder's memory: the exec thread finishes its ring before it lets go.
  if (!wait_for([&] { return exec_.slot_adopted(s) == nullptr; }, std::chrono::seconds(2))) {
    return reply(ClaimStatus::kNotLive, s, "the exec thread did not release the slot's last claim");
  }
  auto h = std::make_unique<Held>();
  h->memfd =
      shm::create_sealed_memory("cwts-slot-" + std::to_string(s), sizeof(layout::SignalSlot));
  void* map = ::mmap(nullptr, sizeof(layout::SignalSlot), PROT_READ | PROT_WRITE, MAP_SHARED,
                     h->memfd.get(), 0);
  if (map == MAP_FAILED) {
    return reply(ClaimStatus::kNotLive, s,
                 std::string("mmap slot memory: ") + std::strerror(errno));
  }
  h->offer.mem = static_cast<layout::SignalSlot*>(map);
  h->offer.claim = layout::make_claim(static_cast<std::uint32_t>(who.pid), ++generation_[s]);
  h->who = who;
  h->name = std::string(name.substr(0, 31));
  h->claimed_at_ns = core::realtime_ns();
  layout::SignalSlot& m = *h->offer.mem;
  cc::store_word(m.claim, h->offer.claim, std::memory_order_relaxed);
  cc::store_word(m.owner_claim, h->offer.claim, std::memory_order_relaxed);
  cc::store_word(m.owner_start_ticks, start_ticks(who.pid), std::memory_order_relaxed);
  cc::store_word(m.claim_time_ns, static_cast<std::uint64_t>(h->claimed_at_ns),
                 std::memory_order_relaxed);
  m.owner_name.assign(h->name);
  // The exec thread starts reading it, and sets where the owner's reports start, before the
  // owner can write a word of it.
  exec_.offer_slot(s, &h->offer);
  if (!wait_for([&] { return exec_.slot_adopted(s) == &h->offer; }, std::chrono::seconds(2))) {
    // The exec thread is stalled. The offer is never withdrawn under it (it may have loaded the
    // pointer already): the claim stays without a holder and is given back, through the normal
    // release, once the exec thread has taken it up (run()).
    h->orphan = true;
    held_[s] = std::move(h);
    return reply(ClaimStatus::kNotLive, s, "the exec thread did not take the slot up in time");
  }
  ClaimReply r = reply(ClaimStatus::kOk, s, "");
  r.claim = h->offer.claim;
  memfd = std::move(h->memfd);
  // The engine's mapping stays; the descriptor goes to the owner (closed here once sent).
  held_[s] = std::move(h);
  log::log_event(spdlog::level::info, "claims", "slot_granted",
                 log::LogFields()
                     .unum("slot", s)
                     .unum("pid", static_cast<std::uint64_t>(who.pid))
                     .unum("uid", who.uid)
                     .str("name", held_[s]->name)
                     .unum("generation", layout::claim_generation(r.claim)));
  return r;
}

// Under mu_.
void SlotBroker::release(std::uint32_t slot) {
  if (!held_[slot]) return;
  exec_.offer_slot(slot, nullptr);
  log::log_event(spdlog::level::info, "claims", "slot_released",
                 log::LogFields()
                     .unum("slot", slot)
                     .unum("pid", static_cast<std::uint64_t>(held_[slot]->who.pid))
                     .str("name", held_[slot]->name));
  retiring_.push_back(std::move(held_[slot]));
}

// Under mu_: memory the exec thread no longer reads is unmapped.
void SlotBroker::reap() {
  std::erase_if(retiring_, [this](const std::unique_ptr<Held>& h) {
    for (std::uint32_t s = 0; s < layout::kMaxSlots; ++s) {
      if (exec_.slot_adopted(s) == &h->offer) return false;
    }
    return true;
  });
}

shm::ClaimResult SlotBroker::claim_local(int slot, std::string_view name,
                                         layout::SignalSlot*& memory) {
  std::lock_guard lock(mu_);
  shm::UniqueFd fd;
  const shm::PeerCredentials self{::getpid(), ::geteuid(), ::getegid()};
  const ClaimReply r = grant(slot, self, name, true, fd);
  shm::ClaimResult out;
  out.status = static_cast<ClaimStatus>(r.status);
  out.slot = r.slot;
  out.owner_pid = r.owner_pid;
  out.claim = r.claim;
  out.reason = r.reason;
  memory = out.status == ClaimStatus::kOk ? held_[r.slot]->offer.mem : nullptr;
  return out;
}

void SlotBroker::release_local(std::uint32_t slot) {
  std::lock_guard lock(mu_);
  if (slot < layout::kMaxSlots && held_[slot] && !held_[slot]->conn.valid()) release(slot);
}

std::array<SlotBroker::Holder, layout::kMaxSlots> SlotBroker::holders() const {
  std::lock_guard lock(mu_);
  std::array<Holder, layout::kMaxSlots> out{};
  for (std::size_t s = 0; s < layout::kMaxSlots; ++s) {
    const Held* h = held_[s].get();
    if (h == nullptr) continue;
    Holder& o = out[s];
    o.held = true;
    o.pid = static_cast<std::uint32_t>(h->who.pid);
    o.uid = h->who.uid;
    o.claim = h->offer.claim;
    o.claimed_at_ns = h->claimed_at_ns;
    o.name = h->name;
    o.events_lapped = cc::load_word(h->offer.mem->events_lapped, std::memory_order_relaxed);
    o.signals_published = h->offer.mem->signals.published();
    o.reports_consumed = h->offer.mem->report_cursor.consumed();
  }
  return out;
}

void SlotBroker::run() {
  constexpr int kPollMs = 50;
  std::vector<struct pollfd> fds;
  while (true) {
    fds.clear();
    fds.push_back({wake_.get(), POLLIN, 0});
    fds.push_back({listen_.get(), POLLIN, 0});
    std::array<int, layout::kMaxSlots> slot_of_fd_index{};
    {
      std::lock_guard lock(mu_);
      reap();
      for (std::uint32_t s = 0; s < layout::kMaxSlots; ++s) {
        if (held_[s] && held_[s]->orphan && exec_.slot_adopted(s) == &held_[s]->offer) release(s);
        if (held_[s] && held_[s]->conn.valid()) {
          slot_of_fd_index[fds.size() - 2] = static_cast<int>(s);
          fds.push_back({held_[s]->conn.get(), POLLIN, 0});
        }
      }
    }
    const std::size_t held_count = fds.size() - 2;
    // A client that connected and says nothing is dropped after a while: it cannot hold a place.
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(waiting_,
                  [&](const Waiting& w) { return now - w.since > std::chrono::seconds(5); });
    for (const auto& w : waiting_) fds.push_back({w.fd.get(), POLLIN, 0});
    int n = ::poll(fds.data(), fds.size(), kPollMs);
    if (n < 0 && errno != EINTR)
      throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    if (n <= 0) continue;
    if (fds[0].revents != 0) return;
    // A holder's connection: any readable state is its end (EOF, an error, or data it must not
    // send): the slot is released.
    for (std::size_t k = 0; k < held_count; ++k) {
      if (fds[2 + k].revents == 0) continue;
      std::lock_guard lock(mu_);
      release(static_cast<std::uint32_t>(slot_of_fd_index[k]));
    }
    // Requests of connected clients, in arrival order.
    std::vector<Waiting> still_waiting;
    for (std::size_t k = 0; k < waiting_.size(); ++k) {
      const short ev = fds[2 + held_count + k].revents;
      if (ev == 0) {
        still_waiting.push_back(std::move(waiting_[k]));
        continue;
      }
      shm::UniqueFd conn = std::move(waiting_[k].fd);
      shm::ClaimRequest req{};
      shm::UniqueFd ignored;
      const ssize_t got = shm::receive_with_fd(conn.get(), &req, sizeof req, ignored);
      if (got <= 0) continue;  // gone before asking
      const auto who = shm::peer_credentials(conn.get());
      ClaimReply r{};
      shm::UniqueFd memfd;
      std::lock_guard lock(mu_);
      if (got != static_cast<ssize_t>(sizeof req) || req.magic != shm::kClaimRequestMagic || !who) {
        r = reply(ClaimStatus::kProtocol, 0, "malformed claim request");
      } else if (req.layout_version != layout::kLayoutVersion) {
        r = reply(ClaimStatus::kProtocol, 0,
                  "layout version " + std::to_string(req.layout_version) + ", the engine has " +
                      std::to_string(layout::kLayoutVersion) + ": rebuild the client");
      } else {
        req.name[sizeof req.name - 1] = '\0';
        r = grant(req.slot, *who, std::string_view(req.name, ::strnlen(req.name, sizeof req.name)),
                  false, memfd);
      }
      if (r.status != static_cast<std::uint8_t>(ClaimStatus::kOk)) {
        log::log_event(spdlog::level::warn, "claims", "claim_refused",
                       log::LogFields()
                           .num("slot", req.slot)
                           .unum("pid", who ? static_cast<std::uint64_t>(who->pid) : 0)
                           .unum("uid", who ? who->uid : 0)
                           .str("reason", r.reason));
        (void)shm::send_with_fd(conn.get(), &r, sizeof r, -1);
        continue;
      }
      if (!shm::send_with_fd(conn.get(), &r, sizeof r, memfd.get())) {
        release(r.slot);  // the claimant left before it got its memory
        continue;
      }
      held_[r.slot]->conn = std::move(conn);
    }
    waiting_ = std::move(still_waiting);
    if (fds[1].revents != 0) {
      while (waiting_.size() < 256) {
        const int c = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) break;
        waiting_.push_back(Waiting{shm::UniqueFd(c), now});
      }
    }
  }
}

}  // namespace cwts::daemon
