// UserDataHub: the matching engine's one ExecutionListener, turning its events (and the
// operator's deposits and withdrawals) into user data stream events for every subscriber.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cwts/sim/matching.hpp"

namespace cwts::sim_server {

// A WebSocket API session with a user data stream subscription (ws_api.hpp).
class UserStreamSink {
 public:
  virtual ~UserStreamSink() = default;
  // One event object ({"e":"executionReport",...}), unwrapped; the sink wraps it per
  // subscription. Called in the order the engine emitted the events.
  virtual void on_user_event(const std::string& event_json) = 0;
};

// Events, in the engine's order: executionReport for every ExecutionEvent (NEW, TRADE per fill
// with its commission, CANCELED, EXPIRED), outboundAccountPosition after each balance change
// (the assets it touched), and for apply_balance_delta() balanceUpdate then
// outboundAccountPosition. Sinks are held weakly: a session that goes away without detach() is
// skipped and forgotten. Venue thread only (Not thread-safe).
class UserDataHub final : public sim::ExecutionListener {
 public:
  // Becomes `engine`'s listener until destroyed. `engine` must outlive the hub.
  explicit UserDataHub(sim::MatchingEngine& engine);
  ~UserDataHub() override;
  UserDataHub(const UserDataHub&) = delete;
  UserDataHub& operator=(const UserDataHub&) = delete;

  void attach(const std::weak_ptr<UserStreamSink>& sink);
  void detach(const UserStreamSink* sink) noexcept;
  [[nodiscard]] std::size_t sinks() const noexcept { return sinks_.size(); }

  // Events emitted between hold() and the matching release() are delivered at release(), so a
  // WebSocket API session can send the response to a request before the events it caused.
  // Holds nest.
  void hold() noexcept { ++holds_; }
  void release();

  // A deposit (delta > 0) or withdrawal (delta < 0) of `asset`'s free balance, at 8 decimals
  // (POST /_sim/balance). False and `error` if the asset name is malformed, delta is 0, or the
  // free balance would go negative; nothing changes then.
  [[nodiscard]] bool apply_balance_delta(std::string_view asset, std::int64_t delta_raw,
                                         std::int64_t now_ms, std::string& error);

  void on_execution(const sim::ExecutionEvent& event) override;
  void on_account_update(std::string_view base, std::string_view quote, std::string_view fee_asset,
                         std::int64_t time_ms) override;

 private:
  void publish(std::string event_json);
  // outboundAccountPosition of the named assets (empty or repeated names skipped).
  void account_position(std::string_view a, std::string_view b, std::string_view c,
                        std::int64_t time_ms);

  sim::MatchingEngine& engine_;
  std::vector<std::weak_ptr<UserStreamSink>> sinks_;
  std::vector<std::string> held_;
  int holds_ = 0;
  std::int64_t next_execution_id_ = 1;  // executionReport "I"
};

}  // namespace cwts::sim_server
