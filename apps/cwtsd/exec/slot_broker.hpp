// SlotBroker: grants signal slots (ADR 0021). Each claim gets fresh slot memory (a sealed memfd of
// one layout::SignalSlot) that only the claiming process receives, over the claim socket beside
// the signals region (cwts/shm/slot_lease.hpp for the protocol); the claim lasts as long as the
// connection. The exec thread reads only the memory the broker has handed it (ExecEngine::
// offer_slot), so a slot nobody holds is not read, and a strategy can write no slot but its own.
//
// Thread: its own ("cwtsd-claims"), blocking in poll() on the listening socket and the holders'
// connections; claims are rare, nothing here is on the hot path. The gateway claims in process
// (claim_local), without the socket. Owns: the socket, every slot memory (mapped until the exec
// thread has let go of it), the per-slot claim generations, the slot admission policies.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "cwts/shm/sealed_memory.hpp"
#include "cwts/shm/slot_lease.hpp"
#include "cwts/shm_layout/layout.hpp"

namespace cwts::daemon {

class ExecEngine;

class SlotBroker {
 public:
  // `intake_state`: the signals header's state word (claims only while kLive).
  SlotBroker(const Config& cfg, ExecEngine& exec, const std::uint64_t& intake_state);
  ~SlotBroker();
  SlotBroker(const SlotBroker&) = delete;
  SlotBroker& operator=(const SlotBroker&) = delete;

  // Binds `socket_path` (mode 0660, group region.group; a stale socket of this user is
  // replaced) and starts the thread. Throws std::runtime_error naming the path.
  void start(const std::string& socket_path);
  // After the exec thread has stopped: closes every connection and the socket, frees the memory.
  void stop();

  // SIGHUP: new admission policies (slots.N.users / groups) for claims from now on.
  void set_policies(const Config& cfg);

  // In process (the gateway): the same claim without the socket or a policy check.
  shm::ClaimResult claim_local(int slot, std::string_view name, layout::SignalSlot*& memory);
  void release_local(std::uint32_t slot);

  // Any thread: who holds each slot (the ctl thread's `slots` and metrics).
  struct Holder {
    bool held = false;
    std::uint32_t pid = 0;
    std::uint32_t uid = 0;
    std::uint64_t claim = 0;
    std::int64_t claimed_at_ns = 0;
    std::string name;
    std::uint64_t events_lapped = 0;      // as the holder last wrote it
    std::uint64_t signals_published = 0;  // the holder's signal ring tail
    std::uint64_t reports_consumed = 0;   // the holder's report cursor
  };
  [[nodiscard]] std::array<Holder, layout::kMaxSlots> holders() const;
  [[nodiscard]] const std::string& socket_path() const noexcept { return path_; }

 private:
  struct Held;
  void run();
  void on_connection_readable(std::size_t index);
  shm::ClaimReply grant(int slot, const shm::PeerCredentials& who, std::string_view name,
                        bool local, shm::UniqueFd& memfd);
  [[nodiscard]] bool admits(std::uint32_t slot, const shm::PeerCredentials& who) const;
  void release(std::uint32_t slot);
  void reap();

  const Config& cfg_;
  ExecEngine& exec_;
  const std::uint64_t& intake_state_;
  std::string path_;
  shm::UniqueFd listen_;
  shm::UniqueFd wake_;  // eventfd: stop
  std::thread thread_;
  mutable std::mutex mu_;
  std::array<std::unique_ptr<Held>, layout::kMaxSlots> held_;
  std::vector<std::unique_ptr<Held>> retiring_;  // released; freed once the exec thread let go
  std::array<std::uint32_t, layout::kMaxSlots> generation_{};
  std::array<SlotConfig, layout::kMaxSlots> policy_;
  struct Waiting {
    shm::UniqueFd fd;
    std::chrono::steady_clock::time_point since;
  };
  std::vector<Waiting> waiting_;  // connected, request not read yet (the broker's thread only)
};

}  // namespace cwts::daemon
