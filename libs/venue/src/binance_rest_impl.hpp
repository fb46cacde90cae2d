// BinanceRestVenue's private state, shared by its translation units: binance_rest_transport.cpp
// (the request queue, connections, unknown outcomes and retries), binance_rest_orders.cpp (the
// venue's answers, order tracking, fees, reports) and binance_rest.cpp (the public class).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <simdjson.h>

#include "cwts/net/endpoint.hpp"
#include "cwts/venue/binance_rest.hpp"

namespace cwts::venue {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace detail {

enum class JobKind : std::uint8_t { kPlace, kQuery, kCancel, kOpenOrders, kMyTrades, kAccount };

struct Job {
  JobKind kind = JobKind::kAccount;
  http::verb verb = http::verb::get;
  std::string path;
  std::string params;  // without timestamp / recvWindow / signature
  std::string cid;
  std::string symbol;
  std::uint64_t order_id = 0;
  std::uint32_t attempt = 0;
  std::uint32_t weight = 1;
  std::int64_t not_before_ns = 0;
  std::int64_t sent_ns = 0;      // when the (first) order request was signed
  std::int64_t deadline_ns = 0;  // kPlace: not sent (or resent) after this; 0 = none
};

struct Tracked {
  std::string symbol;
  std::uint64_t order_id = 0;
  OrderStatus status = OrderStatus::kNew;
  core::Qty cum_qty{};
  core::Notional cum_quote{};
  core::Notional fee_quote{};
  core::Qty fee_qty_covered{};  // cum qty whose commission is known
  core::Amount fee_native{};    // in fee_asset ("" = none yet, or more than one asset)
  std::string fee_asset;
  bool acknowledged = false;   // the venue confirmed the order exists
  bool cancel_wanted = false;  // cancel asked before that: sent once it is acknowledged
  bool unknown_told = false;   // kUnknown emitted (its queries keep failing)
  bool resent = false;
  bool final = false;
  std::int64_t placed_ns = 0;
  std::int64_t sent_ns = 0;  // timestamp of the last order request sent
};

}  // namespace detail

struct BinanceRestVenue::Impl {
  using Job = detail::Job;
  using JobKind = detail::JobKind;
  using Tracked = detail::Tracked;

  struct Conn {
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
    bool connected = false;
    bool busy = false;
    Job job;
    http::request<http::empty_body> req;
    beast::flat_buffer buf;
    std::optional<http::response_parser<http::string_body>> parser;
  };

  Impl(asio::io_context& io, BinanceRestOptions o);

  // ---- queueing (binance_rest_transport.cpp) ----------------------------------------------
  void enqueue(Job j);
  void enqueue_account(std::int64_t not_before);
  // GET openOrders for `symbol` (weight 6), unless one is queued already.
  void enqueue_open_orders(const std::string& symbol, std::int64_t now_ns);
  void enqueue_query(const std::string& cid, const std::string& symbol, std::uint32_t attempt,
                     std::int64_t not_before);
  void dispatch();

  // ---- one request (binance_rest_transport.cpp) -------------------------------------------
  void start(Conn& c, Job j);
  void send(Conn& c);
  void close(Conn& c);
  void fail(Conn& c, beast::error_code ec, const char* stage);

  // ---- unknown outcomes and retries (binance_rest_transport.cpp) --------------------------
  void unknown_outcome(Job& j, int http_status);
  void trades_again(const Job& j);
  // After sent + recvWindow + this margin, an order request can no longer be executed.
  static constexpr std::int64_t kExpiryMarginNs = 50'000'000;
  [[nodiscard]] std::int64_t recv_window_ns() const noexcept;
  static std::int64_t backoff_ns(std::uint32_t attempt);
  void query_failed(const Job& j, int http_status, std::string_view why);

  // ---- cancels, acknowledgements, events (binance_rest_orders.cpp) ------------------------
  void request_cancel(const std::string& cid, const std::string& symbol);
  void acknowledged(const std::string& cid, Tracked& t);
  void emit(const OrderEvent& e);
  // Balances moved (a fill): read /account again within kAccountAfterFillNs rather than at the
  // next periodic poll, so what the engine publishes (and the gateway reports) follows the fills.
  // Fills in a burst share one refresh.
  static constexpr std::int64_t kAccountAfterFillNs = 500'000'000;
  void refresh_account_soon();

  // ---- responses (binance_rest_orders.cpp) ------------------------------------------------
  void on_response(Job& j, http::response<http::string_body>& res);
  void reject_expired(const std::string& cid, std::string_view msg);
  void reject(const std::string& cid, std::int32_t code, int http_status, std::string_view msg,
              bool expired = false);
  void on_error(Job& j, int status, std::int32_t code, std::string_view msg);
  void on_order(Job& j, simdjson::dom::element doc);
  void on_open_orders(Job& j, simdjson::dom::element doc);
  void on_my_trades(Job& j, simdjson::dom::element doc);
  void on_account(simdjson::dom::element doc);

  // ---- helpers (binance_rest_orders.cpp) --------------------------------------------------
  // The commissions of fills as Binance lists them (the FULL order response's `fills` and
  // `myTrades` use the same member names): valued in the quote asset, and as charged.
  struct FillsSum {
    core::Notional fee_quote{};
    core::Qty covered{};  // quantity of the fills summed
    core::Amount fee_native{};
    std::string fee_asset;  // "" if none, or more than one asset
  };
  FillsSum sum_fills(const std::string& symbol, simdjson::dom::array fills) const;
  static void take_fees(Tracked& t, FillsSum&& sum);
  core::Notional fee_in_quote(const std::string& symbol, core::Price px, core::Amount commission,
                              std::string_view asset) const;
  void publish(const std::string& cid, const Tracked& t);
  void request_trades(const std::string& cid, const Tracked& t);
  void finish_if_final(std::unordered_map<std::string, Tracked>::iterator it);
  Job place_job(const std::string& cid);

  asio::io_context& ioc;
  BinanceRestOptions opt;
  net::Endpoint ep;
  std::optional<ssl::context> tls_ctx;
  tcp::resolver::results_type endpoints;
  std::vector<std::unique_ptr<Conn>> conns;
  std::deque<Job> queue;
  std::unordered_map<std::string, Tracked> orders;
  std::unordered_map<std::string, Job> placed;  // the order request, for the single resend
  std::unordered_map<std::string, std::pair<std::string, std::string>>
      assets;                                          // symbol -> base, quote
  std::unordered_set<std::string> open_orders_queued;  // symbols with an openOrders poll queued
  std::unordered_set<std::string> trades_queued;       // orders with a myTrades query queued
  std::vector<BalanceUpdate> balances;
  simdjson::dom::parser json;
  VenueListener* listener = nullptr;
  bool ready = false;
  bool account_queued = false;
  std::int64_t next_poll_ns = 0;
  std::int64_t next_account_ns = 0;
  bool account_after_fill = false;
  bool startup_scan_done = false;  // every symbol's openOrders read once after ready
  std::unordered_set<std::uint64_t> foreign_seen;  // foreign orders already told
  Counters counters;
};

}  // namespace cwts::venue
