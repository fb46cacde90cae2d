// The remote-strategy protocol's signal calls (slot.claim, slot.submit, slot.cancel): a signal
// slot bound to the connection, written like a shared-memory strategy's (ADR 0024).
#include <algorithm>
#include <limits>

#include "ctl/jsonrpc_codes.hpp"
#include "ctl/remote.hpp"
#include "ctl/remote_params.hpp"
#include "cwts/concurrent/word_copy.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/core/json_writer.hpp"
#include "cwts/log/json_log.hpp"
#include "cwts/shm/signal_submit.hpp"
#include "exec/slot_broker.hpp"

namespace cwts::daemon {

namespace {

namespace cc = cwts::concurrent;
using core::JsonWriter;
using jsonrpc::kFailed;
using jsonrpc::kInvalidParams;
using remote_params::bool_field;
using remote_params::int_field;
using remote_params::string_field;
using simdjson::dom::element;
constexpr int kForbidden = jsonrpc::kUnauthorized;

}  // namespace

std::string RemoteHub::claim(element params, RpcClient& client) {
  RemoteSession& s = *client.remote;
  const auto want = int_field(params, "slot", -1, layout::kMaxSlots - 1, -1);
  const std::string name(string_field(params, "name", "remote"));
  const auto min_seq = static_cast<std::uint64_t>(
      int_field(params, "next_seq", 1, std::numeric_limits<std::int64_t>::max(), 1));
  if (name.size() > 64) {
    throw RemoteError(kInvalidParams, "invalid params: name has at most 64 characters",
                      "ValueError");
  }
  if (s.slot_) {
    if (want == -1 || static_cast<std::uint32_t>(want) == *s.slot_) {
      throw RemoteError(kFailed, "this connection already holds slot " + std::to_string(*s.slot_),
                        "SlotTaken");
    }
    s.release_slot();
  }
  std::vector<int> candidates;
  if (want >= 0) {
    if (!client.scopes.can_trade(static_cast<std::uint32_t>(want))) {
      throw RemoteError(kForbidden,
                        "forbidden: the token " +
                            (client.who.empty() ? std::string("(none)") : client.who) +
                            " may not trade on slot " + std::to_string(want) +
                            " (scopes trade:N in control.tokens_file)",
                        "SlotTaken");
    }
    candidates.push_back(static_cast<int>(want));
  } else {
    for (std::uint32_t i = 0; i < market_.slot_capacity(); ++i)
      if (client.scopes.can_trade(i)) candidates.push_back(static_cast<int>(i));
    if (candidates.empty()) {
      throw RemoteError(kForbidden,
                        "forbidden: the token " +
                            (client.who.empty() ? std::string("(none)") : client.who) +
                            " may trade on no slot (scopes trade:N in control.tokens_file)",
                        "SlotTaken");
    }
  }
  shm::ClaimResult r;
  layout::SignalSlot* mem = nullptr;
  const std::string holder = "remote:" + client.who + ":" + name;
  for (const int slot : candidates) {
    r = engine_.slot_broker().claim_local(slot, holder.substr(0, 64), mem);
    if (r.status == shm::ClaimStatus::kOk) break;
  }
  if (r.status != shm::ClaimStatus::kOk) {
    const bool not_live = r.status == shm::ClaimStatus::kNotLive;
    throw RemoteError(kFailed,
                      (want >= 0 ? "slot " + std::to_string(want) : std::string("no slot")) +
                          " could be claimed: " + r.reason,
                      not_live ? "EngineNotRunning" : "SlotTaken");
  }
  s.slot_ = r.slot;
  s.claim_ = r.claim;
  s.producer_.emplace(mem->signals, market_.slot(r.slot).signal_cursor);
  s.consumer_.emplace(market_.slot(r.slot).reports, mem->report_cursor);
  // Numbers continue above everything the slot has seen (a fresh ring per claim, ADR 0021), and
  // above the client's own ("next_seq": a client that reconnects after an engine restart never
  // reuses a number it already waits on).
  // "last_seq": the highest number the engine took on the slot, so that a client whose reply was
  // lost with its previous connection knows whether that signal arrived.
  const std::uint64_t last =
      cc::load_word(market_.slot(r.slot).last_signal_seq, std::memory_order_acquire);
  s.next_seq_ = std::max<std::uint64_t>({s.next_seq_, last + 1, min_seq});
  log::log_event(spdlog::level::info, "ctl", "remote_slot_claimed",
                 log::LogFields().unum("slot", r.slot).str("who", client.who).str("name", name));
  JsonWriter j;
  j.begin_object().key("slot").uinteger(r.slot).key("next_seq").uinteger(s.next_seq_);
  j.key("last_seq").uinteger(last);
  j.key("epoch_ns").uinteger(cc::load_word(market_.header.epoch_ns, std::memory_order_acquire));
  j.end_object();
  return std::move(j).str();
}

std::string RemoteHub::submit(element params, RemoteSession& s) {
  layout::Signal sig{};
  sig.symbol = static_cast<std::uint16_t>(symbol_id(params));
  const std::string_view side = string_field(params, "side");
  if (side == "buy") {
    sig.side = static_cast<std::uint8_t>(layout::Side::kBuy);
  } else if (side == "sell") {
    sig.side = static_cast<std::uint8_t>(layout::Side::kSell);
  } else {
    throw RemoteError(kInvalidParams, "invalid params: side must be \"buy\" or \"sell\"",
                      "ValueError");
  }
  const std::string_view type = string_field(params, "type", "limit");
  const std::string_view tif = string_field(params, "tif", "GTC");
  if (type == "limit") {
    sig.type = static_cast<std::uint8_t>(layout::OrderType::kLimit);
  } else if (type == "market") {
    sig.type = static_cast<std::uint8_t>(layout::OrderType::kMarket);
  } else if (type == "limit_maker") {
    sig.type = static_cast<std::uint8_t>(layout::OrderType::kLimitMaker);
  } else {
    throw RemoteError(kInvalidParams, "invalid params: type must be limit, market or limit_maker",
                      "ValueError");
  }
  if (sig.type == static_cast<std::uint8_t>(layout::OrderType::kLimit)) {
    if (tif == "GTC") {
      sig.tif = static_cast<std::uint8_t>(layout::TimeInForce::kGtc);
    } else if (tif == "IOC") {
      sig.tif = static_cast<std::uint8_t>(layout::TimeInForce::kIoc);
    } else if (tif == "FOK") {
      sig.tif = static_cast<std::uint8_t>(layout::TimeInForce::kFok);
    } else {
      throw RemoteError(kInvalidParams, "invalid params: tif must be GTC, IOC or FOK",
                        "ValueError");
    }
  }
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  // Prices and quantities are the symbol's integers (price * 10^price_decimals): the client
  // converts and checks the grid, as the shared-memory bridge does; the engine validates again.
  sig.qty.raw = int_field(params, "qty", 1, kMax);
  const bool market = sig.type == static_cast<std::uint8_t>(layout::OrderType::kMarket);
  sig.price.raw =
      market ? int_field(params, "price", 0, 0, 0) : int_field(params, "price", 1, kMax);
  sig.ttl_ms = static_cast<std::uint32_t>(int_field(params, "ttl_ms", 0, 86'400'000, 0));
  const std::string_view tag = string_field(params, "tag", "");
  if (tag.size() > 8) {
    throw RemoteError(kInvalidParams, "invalid params: tag has at most 8 characters", "ValueError");
  }
  sig.tag.assign(tag);
  if (bool_field(params, "reduce_only", false)) sig.flags |= layout::kSignalReduceOnly;
  return push(params, s, sig);
}

std::string RemoteHub::push(element params, RemoteSession& s, layout::Signal sig) {
  // "signal_seq": the number the client gave this signal, so that it knows it even when the reply
  // is lost with the connection (ADR 0024). A number the slot already used is a resend: refused.
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  const auto wanted = static_cast<std::uint64_t>(int_field(params, "signal_seq", 1, kMax, 0));
  if (wanted != 0 && wanted < s.next_seq_) {
    throw RemoteError(kFailed,
                      "signal_seq " + std::to_string(wanted) + " is already used on slot " +
                          std::to_string(*s.slot_) + " (the next is " +
                          std::to_string(s.next_seq_) + "): the signal was not sent",
                      "CwtsError");
  }
  sig.seq = wanted != 0 ? wanted : s.next_seq_;
  sig.created_ns = core::realtime_ns();
  // Through the signals region's state, as the bridges submit: while the engine stops (its intake
  // closing) the signal is refused, never left in a ring nobody reads any more.
  const shm::SubmitStatus st = shm::submit_signal(engine_.signals_region(), *s.producer_, sig);
  if (st == shm::SubmitStatus::kRingFull) {
    throw RemoteError(kFailed,
                      "the signal ring of slot " + std::to_string(*s.slot_) + " is full (" +
                          std::to_string(layout::kSignalRingCapacity) +
                          " signals): the engine is not consuming; the signal was not sent",
                      "RingFull");
  }
  if (st == shm::SubmitStatus::kNotLive) {
    throw RemoteError(kFailed, "the engine is stopping: the signal was not sent", "CwtsError");
  }
  s.next_seq_ = sig.seq + 1;  // taken: an unread signal's number is not used again
  if (st == shm::SubmitStatus::kNotExecuted) {
    throw RemoteError(kFailed, "the engine stopped: the signal was not executed", "CwtsError");
  }
  JsonWriter j;
  j.begin_object().key("seq").uinteger(sig.seq).end_object();
  return std::move(j).str();
}

}  // namespace cwts::daemon
