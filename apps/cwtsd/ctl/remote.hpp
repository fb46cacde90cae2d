// Remote strategies (ADR 0024): control plane WebSocket clients that read the market region and
// send signals without mapping shared memory (another host, a container without the region
// volume). `cwts_bridge.remote` is their Python client; docs/remote.md the protocol.
//
// Thread: the ctl thread only. The hub is a reader of the market region like any strategy: one
// event reader for all sessions, fanned out per subscription; quotes and books conflate to the
// latest value per symbol while a client is slow, trades, candle closes and status events queue
// in order (bounded; what a client loses is reported as a "lapped" event with the count). A
// session that claims a slot does so in process (SlotBroker::claim_local, as the gateway does):
// its signals go through the same intake, validation, rate limits and reports as a shared-memory
// strategy's, and the slot is released when the connection ends. May touch: the market region
// (read), the sessions' own slot memory, the SlotBroker's local claims; never exec state.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "config/config.hpp"
#include "ctl/control_server.hpp"
#include "cwts/concurrent/broadcast_ring.hpp"
#include "cwts/concurrent/record_ring.hpp"
#include "cwts/core/json_writer.hpp"
#include "cwts/shm_layout/layout.hpp"
#include "engine.hpp"

namespace cwts::daemon {

// A failed remote call: the JSON-RPC error code and message, and the cwts_bridge exception the
// Python client raises for it ("" = CwtsError; ValueError for a malformed argument).
struct RemoteError : std::runtime_error {
  RemoteError(int c, const std::string& message, std::string exc = {})
      : std::runtime_error(message), code(c), exception(std::move(exc)) {}
  int code;
  std::string exception;
};

class RemoteHub;

// One client's remote-strategy state; owned by its RpcClient, so it ends with the connection.
class RemoteSession {
 public:
  RemoteSession(RemoteHub& hub, RpcClient& client);
  ~RemoteSession();  // releases the slot, if it holds one
  RemoteSession(const RemoteSession&) = delete;
  RemoteSession& operator=(const RemoteSession&) = delete;

 private:
  friend class RemoteHub;
  struct Pending {
    layout::Event event;
    std::uint64_t seq;
  };
  void offer(const layout::Event& e, std::uint64_t seq);
  void flush();
  // One frame of the slot's reports (at most kMaxFrameEvents); whether the ring had any.
  bool send_reports();
  void release_slot();

  RemoteHub& hub_;
  RpcClient& client_;
  // Subscriptions: bit (1 << EventKind) per symbol id.
  std::vector<std::uint8_t> kinds_;
  bool subscribed_ = false;
  // Quotes and books: the latest of each per symbol, until it can be sent (conflation).
  std::vector<std::optional<Pending>> latest_quote_, latest_book_;
  std::vector<std::uint16_t> dirty_;  // symbol ids with a latest quote or book waiting
  std::deque<Pending> ordered_;       // trades, candle closes, status: every one, in order
  std::uint64_t dropped_ = 0;         // events lost since the last frame: sent as "lapped"
  // The claimed slot.
  std::optional<std::uint32_t> slot_;
  std::uint64_t claim_ = 0;
  std::uint64_t next_seq_ = 1;
  std::optional<concurrent::RecordProducer<layout::Signal, layout::kSignalRingCapacity>> producer_;
  std::optional<concurrent::RecordConsumer<layout::ExecReport, layout::kReportRingCapacity>>
      consumer_;
};

class RemoteHub {
 public:
  RemoteHub(Engine& engine, const Config& cfg);
  RemoteHub(const RemoteHub&) = delete;
  RemoteHub& operator=(const RemoteHub&) = delete;

  // Whether `method` is a remote-strategy method (hello, market.quote, market.book,
  // market.candles, market.indicators, market.position, market.subscribe, market.unsubscribe,
  // slot.claim, slot.release, slot.submit, slot.cancel).
  [[nodiscard]] static bool owns(std::string_view method) noexcept;
  // Whether the method needs a trade scope (the slot.* methods) rather than read.
  [[nodiscard]] static bool trades(std::string_view method) noexcept;
  // The JSON result of one of the hub's methods for `client`. Throws RemoteError.
  [[nodiscard]] std::string call(std::string_view method, simdjson::dom::element params,
                                 RpcClient& client);
  // The ctl thread's poll: new events to subscribers, new reports to slot holders, as far as each
  // client's unsent bytes allow.
  void poll();
  // Whether any session needs polling (the ctl thread polls fast only then).
  [[nodiscard]] bool active() const noexcept { return !sessions_.empty(); }
  // The stop's last relay, once the exec thread has written its last reports: everything left in
  // the slot rings goes to its session now, past the hold-back (a ring holds at most
  // kReportRingCapacity), and no more market data.
  void final_flush();
  // From the stop's start: every poll sends all of a session's reports, past the hold-back (the
  // exec thread moves what did not fit in a ring into it only while it stops, for at most 1 s).
  void stopping() noexcept { stopping_ = true; }
  // Test hook (CWTSD_TEST_HOOKS, SIGUSR2): every client is taken as slow (over the hold-back).
  void set_clients_slow(bool slow) noexcept { clients_slow_ = slow; }
  // Bytes the sessions' connections have not written yet.
  [[nodiscard]] std::size_t unsent_bytes() const noexcept;

  // Unsent bytes past which a client's market data is held back (conflated) and its reports wait.
  [[nodiscard]] std::size_t hold_back_bytes() const noexcept { return hold_back_bytes_; }
  static constexpr std::size_t kMaxOrdered = 16384;  // queued trades/candles/status per client
  static constexpr std::size_t kMaxFrameEvents = 256;

 private:
  friend class RemoteSession;
  [[nodiscard]] int symbol_id(std::string_view name) const;
  [[nodiscard]] int symbol_id(simdjson::dom::element params) const;  // its "symbol"
  [[nodiscard]] std::string hello(const RpcClient& client) const;
  // The symbol table's entries from id `from` on, as hello lists them.
  void symbols_json(std::size_t from, core::JsonWriter& j) const;
  // A "market.symbols" notification to every session for symbols added since the last one.
  void announce_symbols();
  [[nodiscard]] std::string claim(simdjson::dom::element params, RpcClient& client);
  [[nodiscard]] std::string submit(simdjson::dom::element params, RemoteSession& s);
  [[nodiscard]] std::string push(simdjson::dom::element params, RemoteSession& s,
                                 layout::Signal sig);
  [[nodiscard]] std::string event_json_row(const layout::Event& e, std::uint64_t seq) const;
  [[nodiscard]] std::string report_json_row(const layout::ExecReport& r) const;

  Engine& engine_;
  const Config& cfg_;
  const layout::MarketRegion& market_;
  std::size_t hold_back_bytes_;
  bool stopping_ = false;
  bool clients_slow_ = false;
  std::size_t announced_;  // symbols every session has been told of
  std::vector<RemoteSession*> sessions_;
  std::optional<concurrent::BroadcastReader<layout::Event, layout::kEventRingCapacity>> reader_;
};

}  // namespace cwts::daemon
