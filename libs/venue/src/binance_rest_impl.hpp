// BinanceRestVenue's private state, shared by its translation units: binance_rest_transport.cpp
// (the request queue, connections, unknown outcomes and retries), binance_rest_orders.cpp (the
// venue's answers, order tracking, fees, reports), binance_ws_api.cpp (the WebSocket API session:
// user data stream, orders over it) and binance_rest.cpp (the public class).
#pragma once

#include <cstdint>
#include <memory>
#include <memory_resource>
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
#include <boost/container/small_vector.hpp>
#include <simdjson.h>

#include "answer_parser.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/net/endpoint.hpp"
#include "cwts/net/handler_memory.hpp"
#include "cwts/net/hmac.hpp"
#include "cwts/net/ws_conn.hpp"
#include "cwts/venue/binance_rest.hpp"

namespace cwts::venue {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace detail {

// A price, quantity or amount as the venue wrote it; zero if it is not a decimal.
template <class T>
T parse8(std::string_view s) noexcept {
  T v{};
  return core::parse(s, v) == core::DecimalErrc::kOk ? v : T{};
}

enum class JobKind : std::uint8_t {
  kPlace,
  kQuery,
  kCancel,
  kOpenOrders,
  kMyTrades,
  kAccount,
  kTime,  // GET /api/v3/time: the venue clock (unsigned)
};

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
  std::int64_t sent_ns = 0;        // when the (first) order request was signed
  std::int64_t deadline_ns = 0;    // kPlace: not sent (or resent) after this; 0 = none
  std::int64_t ws_timeout_ns = 0;  // sent over the WebSocket API: no answer by then = unknown
};

// One fill of an order, from whichever source told it first (FULL order response, myTrades,
// executionReport): each trade id counts once, so sources that overlap never double a fee.
struct FillRec {
  std::int64_t trade_id = 0;
  core::Qty qty{};
  core::Notional fee_quote{};  // the commission valued in the quote asset
  core::Amount fee_native{};
  std::string asset;
};

struct Tracked {
  std::string symbol;
  // The fees below are their sums. An order's first few kept in place: a fill allocates nothing.
  boost::container::small_vector<FillRec, 4> fills;
  std::uint64_t order_id = 0;
  OrderStatus status = OrderStatus::kNew;
  core::Qty cum_qty{};
  core::Notional cum_quote{};
  core::Notional fee_quote{};
  core::Qty fee_qty_covered{};  // cum qty whose commission is known (the fills' quantity)
  core::Amount fee_native{};    // in fee_asset ("" = none yet, or more than one asset)
  std::string fee_asset;
  bool acknowledged = false;  // the venue confirmed the order exists
  // A cancel is owed: asked before the acknowledgement, or sent and not executed (lost with its
  // connection, a 5xx, refused): sent (again) once the venue says the order is still open.
  bool cancel_wanted = false;
  std::uint32_t cancels_again = 0;  // cancels sent again: each waits longer (to 10 s)
  bool unknown_told = false;        // kUnknown emitted (its queries keep failing)
  bool resent = false;
  // An earlier run's order taken over from the journal (adopt()): its request cannot still be on
  // its way, so a cancel goes out at once instead of waiting for the status query.
  bool adopted = false;
  bool final = false;
  // The order request's own answer came (or never will: unknown outcome). Until then a bare NEW
  // from the stream is not told: the answer follows within a round trip with the immediate
  // fills, and what the venue answered the order is what a client of the gateway is shown.
  bool answered = false;
  std::int64_t placed_ns = 0;
  std::int64_t sent_ns = 0;  // timestamp of the last order request sent
};

using OrderMap = std::pmr::unordered_map<std::string, Tracked>;  // by client order id

}  // namespace detail

struct BinanceRestVenue::Impl {
  using Job = detail::Job;
  using JobKind = detail::JobKind;
  using Tracked = detail::Tracked;
  using FillRec = detail::FillRec;
  using OrderMap = detail::OrderMap;

  struct Conn {
    // On the io_context's own executor (net::TcpStream): a completion allocates nothing.
    std::optional<net::TcpStream> plain;
    std::optional<beast::ssl_stream<net::TcpStream>> tls;
    bool connected = false;
    bool busy = false;
    bool await_resolve = false;  // its connect waits for the venue's name to be looked up
    // A request (its write, then its answer) has no stream timer: arming one is a syscall, and
    // the write's would come before the order's bytes. expire_requests() bounds it from tick().
    std::int64_t deadline_ns = 0;  // core::monotonic_ns(); 0 = no request on the wire
    bool timed_out = false;
    Job job;
    std::string out;  // the request's bytes (reused: keeps its capacity)
    beast::flat_buffer buf;
    std::optional<detail::AnswerParser> parser;
    detail::Answer answer;  // what parser reads into (reused: keeps its body's capacity)
    // The memory of its writes' and reads' operations (handler_memory.hpp): none allocated per
    // request.
    std::shared_ptr<net::HandlerSlots> slots = std::make_shared<net::HandlerSlots>();
  };

  Impl(asio::io_context& io, BinanceRestOptions o);
  ~Impl() {
    if (ws) ws->close_socket();
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // ---- queueing (binance_rest_transport.cpp) ----------------------------------------------
  void enqueue(Job j);
  void enqueue_account(std::int64_t not_before);
  // GET openOrders for `symbol` (weight 6), unless one is queued already.
  void enqueue_open_orders(const std::string& symbol, std::int64_t now_ns);
  void enqueue_query(const std::string& cid, const std::string& symbol, std::uint32_t attempt,
                     std::int64_t not_before);
  void dispatch();
  void connect(Conn& c);

  // ---- one request (binance_rest_transport.cpp) -------------------------------------------
  void start(Conn& c, Job j);
  void send(Conn& c);
  void write_request(std::string& out, const Job& j, std::int64_t now);
  // The moment a request is signed: an order's sent_ns (its recvWindow starts), a query's.
  void stamp(Job& j, std::int64_t now);
  void close(Conn& c);
  // A request still writing or awaiting its answer past timeout_ms: its connection is closed (the
  // pending write or read then fails, said as a timeout).
  void expire_requests();
  void fail(Conn& c, beast::error_code ec, const char* stage);

  // ---- unknown outcomes and retries (binance_rest_transport.cpp) --------------------------
  void unknown_outcome(Job& j, int http_status);
  void trades_again(const Job& j);
  // After sent + recvWindow + the clock's uncertainty + this margin (local time), an order request
  // can no longer be executed: its timestamp was the venue's clock at `sent`, and the venue
  // refuses it once its own clock passes timestamp + recvWindow.
  static constexpr std::int64_t kExpiryMarginNs = 50'000'000;
  [[nodiscard]] std::int64_t expiry_ns(std::int64_t sent_ns) const noexcept;
  [[nodiscard]] std::int64_t recv_window_ns() const noexcept;

  // ---- the venue's clock (binance_rest_transport.cpp) -------------------------------------
  // Every request's timestamp is the venue's time: local time + the offset measured with
  // GET /api/v3/time (at start, every kTimeSyncNs, and after a -1021).
  static constexpr std::int64_t kTimeSyncNs = 60'000'000'000LL;
  void enqueue_time(std::int64_t not_before);
  void on_time(const Job& j, simdjson::dom::element doc);
  [[nodiscard]] std::int64_t venue_ms(std::int64_t local_ns) const noexcept {
    return (local_ns + clock_offset_ns) / 1'000'000;
  }
  static std::int64_t backoff_ns(std::uint32_t attempt);
  void query_failed(const Job& j, int http_status, std::string_view why);

  // ---- cancels, acknowledgements, events (binance_rest_orders.cpp) ------------------------
  // `attempt` > 0: a cancel sent again (dropped unsent if its order ends meanwhile).
  void request_cancel(const std::string& cid, const std::string& symbol,
                      std::int64_t not_before_ns = 0, std::uint32_t attempt = 0);
  // A cancel that may not have been executed: owed until the order's status, asked now, says.
  void cancel_owed(const std::string& cid, const std::string& symbol);
  void acknowledged(const std::string& cid, Tracked& t);
  void end_unsent_cancelled(OrderMap::iterator it);
  void emit(const OrderEvent& e);
  // Balances moved (a fill): read /account again within kAccountAfterFillNs rather than at the
  // next periodic poll, so what the engine publishes (and the gateway reports) follows the fills.
  // Fills in a burst share one refresh.
  static constexpr std::int64_t kAccountAfterFillNs = 500'000'000;
  void refresh_account_soon();

  // ---- responses (binance_rest_orders.cpp) ------------------------------------------------
  void on_response(Job& j, const detail::Answer& res);
  void reject_expired(const std::string& cid, std::string_view msg);
  void reject(const std::string& cid, std::int32_t code, int http_status, std::string_view msg,
              bool expired = false);
  void on_error(Job& j, int status, std::int32_t code, std::string_view msg);
  void on_order(Job& j, simdjson::dom::element doc);
  void on_open_orders(Job& j, simdjson::dom::element doc);
  void on_my_trades(Job& j, simdjson::dom::element doc);
  void on_account(simdjson::dom::element doc);

  // ---- helpers (binance_rest_orders.cpp) --------------------------------------------------
  // The fills of a FULL order response or of myTrades (`id_key` "tradeId" or "id"): each new
  // trade id is added to the order. True if any was new.
  bool add_fills(Tracked& t, simdjson::dom::array fills, std::string_view id_key) const;
  static bool add_fill(Tracked& t, FillRec&& f);
  // Untracked, or every fill's commission known.
  [[nodiscard]] bool fees_known(const std::string& cid) const;
  core::Notional fee_in_quote(const std::string& symbol, core::Price px, core::Amount commission,
                              std::string_view asset) const;
  void publish(const std::string& cid, const Tracked& t);
  void request_trades(const std::string& cid, const Tracked& t);
  void finish_if_final(OrderMap::iterator it);
  // POST /api/v3/order for the request; the same bytes every time (its resend is the same order).
  // Its query is written into a string an earlier order's job gave back (spare_params).
  Job place_job(const OrderRequest& r);
  // A finished job's query string kept, with its capacity, for the next order's (a few at most).
  void give_back(Job& j);
  // An order's status as a source reports it; never back from a final status, nor from
  // PARTIALLY_FILLED to NEW (a stale answer overtaken by the stream).
  static void advance(Tracked& t, OrderStatus st) noexcept;

  // ---- answers from either transport (binance_rest_orders.cpp) ----------------------------
  // `doc` is the JSON body (REST) or the response's result / error object (WebSocket API);
  // `parsed` false if there was none. retry_after_s from Retry-After or the error's data.
  void on_answer(Job& j, int status, simdjson::dom::element doc, bool parsed,
                 std::int64_t retry_after_s, std::string_view raw);

  // ---- the WebSocket API session (binance_ws_api.cpp) -------------------------------------
  enum class WsState : std::uint8_t { kOff, kDown, kConnecting, kSubscribing, kLive };
  void ws_tick(std::int64_t now_ns);
  void ws_connect();
  template <class Ws>
  void ws_handshake(const std::shared_ptr<net::WsConn>& c, Ws& s);
  void ws_read(const std::shared_ptr<net::WsConn>& c);
  void ws_heard() noexcept;
  void ws_ping();
  void ws_frame(std::string_view text);
  void ws_send(std::string&& frame);
  void ws_write_next();
  void ws_down(const std::string& why);
  void ws_subscribe();
  [[nodiscard]] bool ws_orders() const noexcept;  // order requests go over the session now
  void ws_start(Job j);
  // A request frame, written into `out` (its room reused): `params` (k=v&k=v, Binance's REST
  // form) plus apiKey, recvWindow and timestamp, signed over the names sorted (the WebSocket API's
  // signature rule).
  void ws_signed_request(std::string& out, std::string_view method, std::string_view params,
                         std::uint64_t id, std::int64_t now_ns);
  // A string for a frame with the room of an earlier one, and one given back once written.
  std::string take_frame();
  void give_back_frame(std::string&& frame);
  void ws_drop_outbox();              // a session's end: its unsent frames' room kept
  void end_session_slots() noexcept;  // a session's end: its spills added to ws_spills_before
  void on_ws_response(std::uint64_t id, simdjson::dom::element frame);
  void on_stream_event(simdjson::dom::element ev);
  void on_execution_report(simdjson::dom::element ev);
  void on_account_position(simdjson::dom::element ev);
  // The stream became live after a gap (or at start): what happened meanwhile is read over REST.
  void reconcile_gap(std::int64_t now_ns);
  void remember_finished(const std::string& cid);
  // An order that is over: remembered as finished, its tracking and request copy dropped.
  void forget(OrderMap::iterator it);
  void merge_balance(const BalanceUpdate& u);
  static constexpr std::int64_t kStreamFillGraceNs = 1'000'000'000;

  asio::io_context& ioc;
  BinanceRestOptions opt;
  net::HmacSha256 signer;  // opt.api_secret's key schedule
  net::Endpoint ep;
  std::string request_headers;  // Host, User-Agent, X-MBX-APIKEY and the blank line
  std::optional<ssl::context> tls_ctx;
  tcp::resolver resolver{ioc};
  tcp::resolver::results_type endpoints;
  bool resolve_next = false;  // a connection failed: look the name up before the next connect
  bool resolving = false;
  std::vector<std::unique_ptr<Conn>> conns;
  // Requests waiting for a connection (reserved: no allocation while it stays short).
  std::vector<Job> queue;
  // The nodes of the order maps come from this pool, freed nodes go back to it: tracking an
  // order allocates nothing once the pool has grown to the number of orders in flight.
  std::pmr::unsynchronized_pool_resource order_nodes;
  OrderMap orders{&order_nodes};
  // Query strings of finished jobs (give_back()), reused by place_job(): no allocation per order.
  std::vector<std::string> spare_params;
  // The order request as the engine gave it, for the single resend (rebuilt by place_job()).
  std::pmr::unordered_map<std::string, OrderRequest> placed{&order_nodes};
  std::unordered_map<std::string, std::pair<std::string, std::string>>
      assets;                                          // symbol -> base, quote
  std::unordered_set<std::string> open_orders_queued;  // symbols with an openOrders poll queued
  std::unordered_set<std::string> trades_queued;       // orders with a myTrades query queued
  std::vector<BalanceUpdate> balances;
  // Balances the stream told since the pending /account request was sent: newer than its answer.
  std::vector<BalanceUpdate> account_overlay;
  std::shared_ptr<int> life = std::make_shared<int>(0);  // async handlers hold a weak_ptr
  simdjson::dom::parser json;
  VenueListener* listener = nullptr;
  bool ready = false;
  bool account_queued = false;
  bool time_queued = false;
  // The first clock measurement answered (or failed): signed requests wait for it, or their
  // timestamps would be on this host's clock.
  bool clock_tried = false;
  std::int64_t next_time_ns = 0;
  std::int64_t clock_offset_ns = 0;  // venue clock - local clock
  // Half the round trip of the measurement plus the venue's 1 ms resolution; before the first
  // measurement a second (Binance refuses timestamps more than 1 s ahead of its clock).
  std::int64_t clock_uncertainty_ns = 1'000'000'000;
  std::int64_t next_poll_ns = 0;
  std::int64_t next_account_ns = 0;
  bool account_after_fill = false;
  bool startup_scan_done = false;  // every symbol's openOrders read once after ready
  std::unordered_set<std::uint64_t> foreign_seen;               // foreign orders already told
  mutable std::unordered_set<std::string> unvalued_fee_assets;  // told once each
  Counters counters;
  std::string warm_out;                  // warm()'s request bytes (never sent)
  std::uint64_t warm_tracked = 0;        // warm()'s look-ups that found the order (never: kept so
                                         // the compiler keeps the look-up)
  bool stamp_writes = false;             // log.order_stages (stamp_order_writes)
  std::int64_t last_order_write_ns = 0;  // just before the placed order's request went to its write
  std::string_view placing_cid;          // the order place() is placing (stamp_writes only)
  detail::Answer answer_in_hand;         // the REST answer on_response() is reading (see send())

  // The WebSocket API session.
  net::Endpoint ws_ep;
  std::string ws_target;
  std::optional<ssl::context> ws_tls;
  WsState ws_state = WsState::kOff;
  std::shared_ptr<net::WsConn> ws;
  // Frames waiting for the session's one write at a time (a vector: moving strings within it
  // allocates nothing, where a deque allocates a block every few), the frame being written
  // (shared with its write's handler: an aborted write may still read it), spare frames and the
  // signing payload's room. The session's writes and reads take their memory from its WsConn's
  // slots (net::slots_of); the spills of the sessions before it are summed here.
  std::vector<std::string> ws_outbox;
  std::shared_ptr<std::string> ws_wire;
  std::vector<std::string> ws_spare_frames;
  std::string ws_payload;
  std::size_t ws_spills_before = 0;
  bool ws_writing = false;
  std::uint64_t ws_next_id = 1;
  std::uint64_t ws_subscribe_id = 0;  // the request id of the pending subscription
  std::int64_t ws_next_connect_ns = 0;
  std::int64_t ws_connected_ns = 0;  // the session's last connect or (re)subscribe
  // Silence (monotonic clock): the last frame, ping or pong heard on the open session, and our
  // one ping since, if any. Our own check: Beast's idle timer re-armed a timer per frame.
  std::int64_t ws_heard_ns = 0;
  bool ws_ping_sent = false;     // since ws_heard_ns
  bool ws_ping_pending = false;  // its write has not completed
  std::uint32_t ws_failures = 0;
  // Order requests sent over the session, by request id.
  std::pmr::unordered_map<std::uint64_t, Job> ws_inflight{&order_nodes};
  simdjson::dom::parser ws_json;
  // Orders finished and forgotten lately: their late stream events are neither foreign nor news.
  // The last kFinishedKept in a ring, oldest at finished_next once it is full: its strings keep
  // their room (a deque allocated a block every 16 orders).
  static constexpr std::size_t kFinishedKept = 4096;
  std::vector<std::string> finished_ring;
  std::size_t finished_next = 0;
  std::pmr::unordered_set<std::string> finished{&order_nodes};
};

}  // namespace cwts::venue
