// WsApi: one WebSocket API connection (/ws-api/v3) without its transport — request frames in,
// exactly one response frame per request out, then the user data events that request caused.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rest_api.hpp"
#include "user_data_hub.hpp"

namespace cwts::sim_server {

// Methods (each the REST endpoint's handler, weight and rate limiter, via RestApi::execute):
// ping, time, exchangeInfo, depth, klines, ticker.24hr, ticker.price, ticker.book,
// trades.recent, trades.aggregate, order.place, order.test, order.cancel, order.status,
// openOrders.status, openOrders.cancelAll, allOrders, account.status, myTrades,
// userDataStream.subscribe.signature, userDataStream.unsubscribe, session.subscriptions.
// A "v3/" prefix is accepted. Unknown methods: status 400, -1020 "This operation is not
// supported." (Binance documents no code for it; see docs/cwts_sim.md).
//
// The user data stream: one subscription per connection (the simulator has one account; a second
// userDataStream.subscribe.signature is -2035), ids counting from 0 per connection; events go out
// as {"subscriptionId":N,"event":{..}}; userDataStream.unsubscribe answers {} and then sends
// eventStreamTerminated for each subscription it stopped (none active: -2036).
//
// Venue thread only (Not thread-safe). Owned by a std::shared_ptr (the hub holds it weakly).
class WsApi final : public UserStreamSink, public std::enable_shared_from_this<WsApi> {
 public:
  using Send = std::function<void(std::string frame)>;

  // `return_rate_limits`: the connection's default (false with ?returnRateLimits=false).
  WsApi(RestApi& rest, UserDataHub& hub, bool return_rate_limits, Send send);
  ~WsApi() override;
  WsApi(const WsApi&) = delete;
  WsApi& operator=(const WsApi&) = delete;

  // The method a frame names, without "v3/" ("" if the frame does not parse): what the hold
  // fault's "method" filter is matched against before the request is handled.
  [[nodiscard]] static std::string method_of(std::string_view text);

  // Handles one request frame: sends its response, then the events it caused (in the engine's
  // order). Never throws on a request.
  void handle(std::string_view text);

  // The connection is going away: no more events, subscriptions end silently.
  void close() noexcept;

  void on_user_event(const std::string& event_json) override;

  [[nodiscard]] const std::vector<std::int64_t>& subscriptions() const noexcept {
    return subscriptions_;
  }

 private:
  [[nodiscard]] std::string respond(std::string_view text, std::vector<std::string>& after);

  RestApi& rest_;
  UserDataHub& hub_;
  bool return_rate_limits_ = true;
  Send send_;
  std::vector<std::int64_t> subscriptions_;  // active, in subscription order
  std::int64_t next_subscription_id_ = 0;
  bool closed_ = false;
};

}  // namespace cwts::sim_server
