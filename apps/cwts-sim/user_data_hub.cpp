// UserDataHub: engine events to user data stream events (see user_data_hub.hpp).
#include "user_data_hub.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "cwts/binance/json_responses.hpp"
#include "cwts/core/json_writer.hpp"
#include "venue.hpp"

namespace cwts::sim_server {

UserDataHub::UserDataHub(sim::MatchingEngine& engine) : engine_(engine) {
  engine_.set_listener(this);
}

UserDataHub::~UserDataHub() { engine_.set_listener(nullptr); }

void UserDataHub::attach(const std::weak_ptr<UserStreamSink>& sink) {
  const auto* p = sink.lock().get();
  if (p == nullptr) return;
  for (const auto& w : sinks_)
    if (w.lock().get() == p) return;
  sinks_.push_back(sink);
}

void UserDataHub::detach(const UserStreamSink* sink) noexcept {
  // A sink detaching from its destructor can no longer be locked: drop expired entries too.
  std::erase_if(sinks_, [sink](const std::weak_ptr<UserStreamSink>& w) {
    const auto s = w.lock();
    return s == nullptr || s.get() == sink;
  });
}

void UserDataHub::release() {
  if (holds_ > 0) --holds_;
  if (holds_ != 0 || held_.empty()) return;
  std::vector<std::string> events;
  events.swap(held_);
  for (auto& e : events) publish(std::move(e));
}

void UserDataHub::publish(std::string event_json) {
  if (holds_ > 0) {
    held_.push_back(std::move(event_json));
    return;
  }
  // Lock every sink first: a delivery may make a session detach.
  std::vector<std::shared_ptr<UserStreamSink>> live;
  live.reserve(sinks_.size());
  for (const auto& w : sinks_)
    if (auto s = w.lock()) live.push_back(std::move(s));
  if (live.size() != sinks_.size())
    std::erase_if(sinks_, [](const std::weak_ptr<UserStreamSink>& w) { return w.expired(); });
  for (const auto& s : live) s->on_user_event(event_json);
}

void UserDataHub::on_execution(const sim::ExecutionEvent& event) {
  const std::int64_t id = next_execution_id_++;
  if (sinks_.empty()) return;
  core::JsonWriter w(640);
  binance::write_execution_report(w, event, wall_ms(), id);
  publish(std::move(w).str());
}

void UserDataHub::account_position(std::string_view a, std::string_view b, std::string_view c,
                                   std::int64_t time_ms) {
  const sim::Account& acc = engine_.account();
  std::array<binance::AssetBalance, 3> assets{};
  std::size_t n = 0;
  for (const std::string_view asset : {a, b, c}) {
    bool seen = asset.empty();
    for (std::size_t i = 0; i < n && !seen; ++i) seen = assets[i].asset == asset;
    if (!seen) assets[n++] = binance::AssetBalance{asset, acc.balance(asset)};
  }
  core::JsonWriter w(256);
  binance::write_account_position(w, std::span<const binance::AssetBalance>(assets.data(), n),
                                  wall_ms(), time_ms);
  publish(std::move(w).str());
}

void UserDataHub::on_account_update(std::string_view base, std::string_view quote,
                                    std::string_view fee_asset, std::int64_t time_ms) {
  if (sinks_.empty()) return;
  account_position(base, quote, fee_asset, time_ms);
}

bool UserDataHub::apply_balance_delta(std::string_view asset, std::int64_t delta_raw,
                                      std::int64_t now_ms, std::string& error) {
  const bool name_ok =
      !asset.empty() && asset.size() <= 20 && std::all_of(asset.begin(), asset.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      });
  if (!name_ok) {
    error = "asset must be 1 to 20 of [A-Z0-9]";
    return false;
  }
  if (delta_raw == 0) {
    error = "delta must not be 0";
    return false;
  }
  sim::Account& acc = engine_.account();
  const sim::Amount amount{delta_raw < 0 ? -delta_raw : delta_raw};
  if (delta_raw < 0) {
    if (acc.balance(asset).free < amount) {
      error = "insufficient free balance: " + std::string(asset) + " would go negative";
      return false;
    }
    acc.debit(asset, amount);
  } else {
    acc.credit(asset, amount);
  }
  acc.touch(now_ms);
  if (sinks_.empty()) return true;
  core::JsonWriter w(128);
  binance::write_balance_update(w, asset, delta_raw, now_ms, now_ms);
  publish(std::move(w).str());
  account_position(asset, {}, {}, now_ms);
  return true;
}

}  // namespace cwts::sim_server
