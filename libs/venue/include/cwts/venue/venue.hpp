// The venue seen from the exec thread: place and cancel orders, learn what became of them.
// Implementations: BinanceRestVenue (Binance spot REST, or cwts-sim) and PaperVenue (fills against
// the engine's own published book). Single-threaded: every call and every listener callback runs
// on the exec thread (the REST client's I/O runs in the exec loop's io_context::poll()).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "cwts/core/money.hpp"
#include "cwts/shm_layout/types.hpp"

namespace cwts::venue {

struct OrderRequest {
  std::uint16_t symbol_id = 0;
  char symbol[16] = {};  // "BTCUSDT", NUL-terminated
  layout::Side side = layout::Side::kNone;
  layout::OrderType type = layout::OrderType::kLimit;
  layout::TimeInForce tif = layout::TimeInForce::kNone;
  core::Price price{};  // zero for market orders
  core::Qty qty{};
  char client_order_id[40] = {};  // NUL-terminated, <= 36 characters
  // The signal's deadline (its TTL): the order is not sent, nor resent, after it; 0 = none.
  std::int64_t deadline_ns = 0;
};

// Binance order status.
enum class OrderStatus : std::uint8_t {
  kNew,
  kPartiallyFilled,
  kFilled,
  kCanceled,
  kExpired,  // incl. EXPIRED_IN_MATCH (self-trade prevention)
  kRejected,
};
[[nodiscard]] bool is_final(OrderStatus s) noexcept;

enum class EventKind : std::uint8_t {
  kUpdate,          // the order's status and cumulative fills as the venue reports them
  kRejected,        // the venue refused the order (code, message); nothing is resting
  kCancelRejected,  // a cancel was refused (e.g. -2011: already filled); the order is re-queried
  kUnknown,  // not established after unknown_query_attempts queries (once): the order may exist;
             // queries go on and its updates follow when the venue answers
};

struct OrderEvent {
  EventKind kind = EventKind::kUpdate;
  std::string_view client_order_id;
  std::uint64_t order_id = 0;
  OrderStatus status = OrderStatus::kNew;
  core::Qty cum_qty{};         // executedQty
  core::Notional cum_quote{};  // cummulativeQuoteQty
  core::Notional fee_quote{};  // cumulative fee converted to the quote asset
  // The commission as the venue charged it: cumulative, in `fee_asset` ("" = none known yet, or
  // fills charged in more than one asset: then only fee_quote is meaningful).
  core::Amount fee_native{};
  std::string_view fee_asset;
  bool fee_known = true;  // false: fills seen whose commission is not known yet
  std::int32_t code = 0;  // Binance error code (kRejected, kCancelRejected, kUnknown)
  bool expired = false;   // kRejected: never sent (or resent) because its deadline passed
  int http_status = 0;
  std::string_view message;
};

struct BalanceUpdate {
  char asset[16] = {};
  core::Amount free{};
  core::Amount locked{};
};

class VenueListener {
 public:
  virtual ~VenueListener() = default;
  virtual void on_order_event(const OrderEvent& e) = 0;
  // Rate-limit headers of a response (0 = header absent).
  virtual void on_rate_headers(std::uint64_t /*used_weight_1m*/, std::uint64_t /*orders_10s*/,
                               std::uint64_t /*orders_1d*/) {}
  // 429 or 418: nothing may be sent before now + retry_after_s.
  virtual void on_retry_after(int /*http_status*/, std::int64_t /*retry_after_s*/,
                              std::int32_t /*code*/) {}
  virtual void on_balances(std::span<const BalanceUpdate> /*balances*/) {}
  // Before a poll or account request: may it spend `weight`? (The engine's rate governor.)
  virtual bool allow_request(std::uint32_t /*weight*/) { return true; }
  // An open order on the account that this engine did not send (nor recover from its journal):
  // placed by another client or by hand. Told once per order; the engine never absorbs it.
  virtual void on_foreign_order(std::string_view /*symbol*/, std::string_view /*client_order_id*/,
                                std::uint64_t /*order_id*/) {}
  // The engine's current price of `base` in `quote` (the mid of a symbol it trades), to value a
  // commission paid in a third asset (BNB); zero if it has none.
  virtual core::Price mark_price(std::string_view /*base*/, std::string_view /*quote*/) {
    return {};
  }
  // A transport or protocol problem worth an operator's attention (no secrets in it).
  virtual void on_venue_error(std::string_view /*what*/) {}
};

// What the venue connection looks like, for metrics (exec thread).
struct VenueHealth {
  bool stream_live = false;          // the user data stream is subscribed
  std::uint64_t stream_events = 0;   // its events so far
  std::uint64_t stream_gaps = 0;     // times it was lost after being live
  std::int64_t clock_offset_ns = 0;  // the venue's clock minus this host's
  std::uint64_t tracked_orders = 0;  // orders followed (not over, or their fees not known yet)
  std::uint64_t kept_requests = 0;   // order requests kept for a possible resend
  // Socket operations whose handler memory did not fit their connection's slots: each a heap
  // allocation on the exec thread (0 in the tests; cwts/net/handler_memory.hpp)
  std::uint64_t handler_spills = 0;
};

class VenueClient {
 public:
  virtual ~VenueClient() = default;
  virtual void set_listener(VenueListener* l) noexcept = 0;
  // Sends a new order. Its fate arrives as OrderEvents for its client order id.
  virtual void place(const OrderRequest& r) = 0;
  virtual void cancel(std::string_view client_order_id, std::string_view symbol) = 0;
  // An order of an earlier run of the engine (from its journal), sent at `sent_ns` under
  // `client_order_id`: tracked like a placed one (its status queried, its fills and end arrive as
  // OrderEvents), never resent; absent from the venue once its request can no longer execute, it
  // ends as kRejected (-2013). False: this venue cannot know it (paper orders end with the
  // process).
  virtual bool adopt(std::string_view /*client_order_id*/, std::string_view /*symbol*/,
                     std::int64_t /*sent_ns*/) {
    return false;
  }
  // Exec loop, after a pass that did work and else every few µs (ADR 0037): timers (order polls,
  // account refresh, request deadlines), queued events.
  virtual void tick(std::int64_t now_ns) = 0;
  // True once the venue answered (account fetched); READY=1 waits for it.
  [[nodiscard]] virtual bool ready() const noexcept = 0;
  // Orders not final plus order requests queued or in flight (shutdown waits for 0).
  [[nodiscard]] virtual std::size_t busy() const noexcept = 0;
  [[nodiscard]] virtual VenueHealth health() const noexcept { return {}; }
  // Exec loop, idle (threads.exec.warm_us): goes through what place() would for a new order up
  // to its write (the request built and signed, the look-ups), keeping that code and its data in
  // the CPU's caches for the next real one. Makes no order: nothing is tracked, queued or sent.
  virtual void warm() {}
  // Diagnostics (log.order_stages): while on, the client reads the clock (CLOCK_REALTIME) just
  // before it hands the order place() is placing to the socket's write; last_order_write_ns(),
  // read after place() returns, gives that time, or 0 when the order could not be written at once
  // (no free connection, a back-off, a frame still being written).
  virtual void stamp_order_writes(bool /*on*/) noexcept {}
  [[nodiscard]] virtual std::int64_t last_order_write_ns() const noexcept { return 0; }
};

// Binance's side/type/tif spellings.
[[nodiscard]] const char* side_name(layout::Side s) noexcept;
[[nodiscard]] const char* type_name(layout::OrderType t) noexcept;
[[nodiscard]] const char* tif_name(layout::TimeInForce t) noexcept;
[[nodiscard]] bool parse_status(std::string_view s, OrderStatus& out) noexcept;

}  // namespace cwts::venue
