// ExecEngine: the exec thread. Polls every signal slot, validates each signal, takes rate-limit
// tokens, sends orders to the venue, turns the venue's answers into execution reports (exactly one
// terminal report per signal), and publishes positions and balances. See docs/engine.md.
//
// Owns: order state (the only writer: the venue's I/O runs inside this thread's loop), the venue
// client and its connections, the rate governor. Writes: every slot's report ring (producer),
// positions and balances, the exec status words of the market region. Reads: every slot's signal
// ring (consumer), the market region's books and symbol table (validation). Never touches: the
// feed or the books' contents. The ctl thread reaches it only through reload()/cancel_all() (a
// versioned hand-off the loop applies) and the atomics marked "any thread".
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "config/config.hpp"
#include "cwts/binance/exchange_info.hpp"
#include "cwts/concurrent/record_ring.hpp"
#include "cwts/concurrent/seqlock.hpp"
#include "cwts/core/rest_backoff.hpp"
#include "cwts/engine/average_price.hpp"
#include "cwts/engine/rate_governor.hpp"
#include "cwts/engine/validator.hpp"
#include "cwts/journal/journal.hpp"
#include "cwts/shm_layout/market_region.hpp"
#include "cwts/shm_layout/signal_region.hpp"
#include "cwts/venue/binance_rest.hpp"
#include "cwts/venue/venue.hpp"
#include "exec/client_order_id.hpp"
#include "exec/order_index.hpp"
#include "hot_log.hpp"

namespace cwts::daemon {

struct ExecCounters {
  std::uint64_t reports_overflowed = 0;   // reports held back because a slot's ring was full
  std::uint64_t duplicate_terminals = 0;  // never expected to move
  std::uint64_t orphan_events = 0;        // venue events for an order this engine does not track
  std::uint64_t journal_failures = 0;     // records that did not fit (the journal is full)
  std::uint64_t reports_lost = 0;  // held for a slot nobody holds, past kMaxHeldReports: dropped
};

// A claim's memory as the slot broker hands it to the exec thread (ADR 0021).
struct SlotOffer {
  layout::SignalSlot* mem = nullptr;
  std::uint64_t claim = 0;
};

class ExecEngine final : private venue::VenueListener {
 public:
  // `rest_backoff`: the venue's 429/418 back-off, shared with the md thread's feed (one IP).
  ExecEngine(const Config& cfg, const binance::ExchangeInfo& info, layout::MarketRegion& market,
             HotLog& log, std::optional<Credentials> credentials,
             std::shared_ptr<core::RestBackoff> rest_backoff);
  ~ExecEngine() override;

  // Before run(): the md thread's average prices (market orders are valued at them); without
  // them, at the mid.
  void set_average_prices(const engine::AveragePriceBoard* board) noexcept { avg_prices_ = board; }
  // Before run(): the engine epoch; the slots are read once offered (offer_slot).
  void bind_signals(std::uint64_t epoch_ns);
  // The slot broker (any thread): the memory to read for `slot` from the next loop on (nullptr:
  // the slot was released; the exec thread reads what its holder committed to the end first).
  void offer_slot(std::uint32_t slot, const SlotOffer* offer) noexcept {
    offered_[slot].store(offer, std::memory_order_release);
  }
  // Any thread: the memory the exec thread reads for `slot` now (nullptr: none).
  [[nodiscard]] const SlotOffer* slot_adopted(std::uint32_t slot) const noexcept {
    return slot_adopted_[slot].load(std::memory_order_acquire);
  }
  // Publishes the signals region's state at shutdown (kStopping, then kClosed once the intake
  // is shut for good): the engine's writable mapping of the header, which the exec thread's
  // read-only view of the rings does not give.
  void set_intake_publisher(std::function<void(layout::RegionState)> publish) {
    publish_intake_ = std::move(publish);
  }
  // Before run(), after bind_signals(): opens the order journal (config `journal`), recovers the
  // positions and the orders earlier runs left open, and starts a new journal with that state
  // (docs/journal.md). Throws journal::JournalError (a clear start-up error) if it cannot.
  void open_journal();
  // The exec thread: until `stop` becomes true, then the shutdown sequence (see Engine::stop).
  void run(std::atomic<bool>& stop);
  // Any thread: new risk limits and slot policies, applied at the next loop, for `symbols` (the
  // engine's symbols in id order, those added at run time included; a symbol's risk.symbols
  // override is found by its name). Returns the limits version to wait for (applied_version()).
  std::uint64_t reload(const Config& cfg, std::span<const std::string_view> symbols);
  // The ctl thread (ADR 0025): symbol `id` (the next one: ids are consecutive) with its rules is
  // offered to the exec thread, which adopts it at its next loop (symbols_adopted()). Call
  // reload() with the new list first, so its limits are there when it is adopted.
  void add_symbol(std::uint16_t id, const binance::SymbolSpec& spec);
  [[nodiscard]] std::size_t symbols_adopted() const noexcept {
    return symbols_adopted_.load(std::memory_order_acquire);
  }
  // The ctl thread: new signals for `id` are refused (UNKNOWN_SYMBOL) while `closed`, from the
  // returned limits version on; cancels and the open orders' reports go on.
  std::uint64_t set_symbol_closed(std::uint16_t id, bool closed);
  // The ctl thread (the same thread as reload): cancel every open order at the next loop; each
  // gets its CANCELLED (or final) report as usual. Returns the limits version, as reload.
  std::uint64_t request_cancel_all();
  // The limits version the exec thread has applied (any thread).
  [[nodiscard]] std::uint64_t applied_version() const noexcept {
    return applied_version_.load(std::memory_order_acquire);
  }

  [[nodiscard]] std::int64_t heartbeat_ns() const noexcept {
    return heartbeat_.load(std::memory_order_relaxed);
  }
  // Reports sent to strategies, by ReportKind (1..7) and RejectReason (0..31); exec thread
  // writes, any thread reads (the ctl thread's /metrics).
  [[nodiscard]] std::uint64_t reports_sent(std::uint8_t kind, std::uint16_t reason) const noexcept {
    return report_counts_[kind & 15U][reason & 31U].load(std::memory_order_relaxed);
  }
  // The venue's own count of what this account used, from its last response headers
  // (X-MBX-USED-WEIGHT-1M, X-MBX-ORDER-COUNT-10S / -1D); 0 until the first. Any thread.
  [[nodiscard]] std::uint64_t venue_used_weight_1m() const noexcept {
    return used_weight_1m_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t venue_orders_10s() const noexcept {
    return orders_10s_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t venue_orders_1d() const noexcept {
    return orders_1d_.load(std::memory_order_relaxed);
  }
  // Any thread (the gateway's venue look-ups): true and the weight is charged to the engine's
  // budget (at the exec thread's next loop) if the budget left for background traffic, as the
  // exec thread last published it (every millisecond), covers `weight`; false: do not send.
  // The published headroom is taken down by each charge, so look-ups between two publications
  // never spend more than it. The feed's depth snapshots spend from the same headroom
  // (core::RestBackoff).
  [[nodiscard]] bool try_charge_lookup(std::uint32_t weight) noexcept {
    return rest_backoff_->try_spend(weight);
  }
  // Open orders on the account this engine did not send (any thread).
  [[nodiscard]] std::uint64_t foreign_orders() const noexcept {
    return foreign_orders_.load(std::memory_order_relaxed);
  }
  // Base assets whose balance moved differently from the engine's positions (any thread).
  [[nodiscard]] std::uint64_t position_mismatches() const noexcept {
    return position_mismatches_.load(std::memory_order_relaxed);
  }
  // Journal records that could not be written (full); 0 when healthy or without a journal.
  [[nodiscard]] std::uint64_t journal_failures() const noexcept {
    return journal_failures_.load(std::memory_order_relaxed);
  }
  // The journal's fill level in bytes, and its size (0, 0 without a journal). Any thread.
  [[nodiscard]] std::uint64_t journal_used_bytes() const noexcept {
    return journal_used_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t journal_capacity_bytes() const noexcept {
    return journal_capacity_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] bool venue_ready() const noexcept {
    return venue_ready_.load(std::memory_order_relaxed);
  }
  // Whether the venue's account has been read since start (the market region's balances hold
  // it): before that, no balance is known, not zero. Any thread.
  [[nodiscard]] bool balances_read() const noexcept {
    return balances_read_.load(std::memory_order_acquire);
  }
  // The user data stream and the venue clock (binance venue; any thread).
  [[nodiscard]] bool stream_live() const noexcept {
    return stream_live_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t stream_events() const noexcept {
    return stream_events_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t stream_gaps() const noexcept {
    return stream_gaps_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::int64_t clock_offset_ns() const noexcept {
    return clock_offset_ns_.load(std::memory_order_relaxed);
  }
  // Until when the venue banned this IP (HTTP 418 + Retry-After; realtime ns, 0 = never).
  [[nodiscard]] std::int64_t venue_ban_until_ns() const noexcept {
    return venue_ban_until_ns_.load(std::memory_order_relaxed);
  }
  // Times the venue told this engine to back off (Retry-After with HTTP 429, or 418: a ban);
  // `http_status` 429 or 418, anything else 0. Any thread.
  [[nodiscard]] std::uint64_t venue_backoffs(int http_status) const noexcept {
    return http_status == 429   ? backoffs_429_.load(std::memory_order_relaxed)
           : http_status == 418 ? backoffs_418_.load(std::memory_order_relaxed)
                                : 0;
  }
  // The venue client's own bookkeeping (bounded: entries leave when their orders are over).
  // Signal slots the market region holds (its header's max_slots: fixed for the region's life).
  [[nodiscard]] std::size_t slot_capacity() const noexcept { return market_.slot_capacity(); }
  [[nodiscard]] std::uint64_t venue_tracked_orders() const noexcept {
    return venue_tracked_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t venue_kept_requests() const noexcept {
    return venue_kept_.load(std::memory_order_relaxed);
  }
  // The venue client's socket operations that allocated their handler memory (VenueHealth).
  [[nodiscard]] std::uint64_t venue_handler_spills() const noexcept {
    return venue_spills_.load(std::memory_order_relaxed);
  }

 private:
  struct Limits {  // what reload() hands to the exec thread (a seqlock payload)
    engine::RiskLimits risk[layout::kMaxSymbols];
    engine::SlotPolicy slots[layout::kMaxSlots];
    std::uint64_t trading_state;
    std::uint64_t version;
    std::uint64_t cancel_all_seq;              // moved by request_cancel_all()
    std::uint8_t closed[layout::kMaxSymbols];  // 1: symbols.remove; no new orders
  };
  // A symbol added at run time, as the ctl thread hands it over (written before
  // symbols_offered_ is released, never written again).
  struct OfferedSymbol {
    engine::SymbolRules rules;
    layout::FixedString<16> name;
    layout::FixedString<8> base;
    layout::FixedString<8> quote;
  };
  // Exec thread: takes the symbols offered since the last loop (no allocation for names that fit
  // std::string's small buffer; the vectors are reserved for kMaxSymbols).
  void adopt_symbols();
  struct Order;
  // The order's fees as a venue event states them: in quote, and as charged.
  static void take_fees(Order& o, const venue::OrderEvent& e) noexcept;
  // The commission this event adds in the symbol's base asset (before take_fees()).
  [[nodiscard]] core::Qty base_fee_delta(const Order& o, const venue::OrderEvent& e) const noexcept;
  struct SlotState;

  // exec thread
  void loop_once(std::int64_t now_ns, bool& did_work);
  void poll_slot(std::uint32_t slot, std::int64_t now_ns, bool& did_work);
  void take_signals(std::uint32_t slot, std::uint32_t max, bool& did_work);
  void change_holder(std::uint32_t slot, const SlotOffer* next, std::int64_t now_ns);
  void on_signal(std::uint32_t slot, const layout::Signal& s, std::int64_t now_ns);
  void on_cancel_signal(std::uint32_t slot, const layout::Signal& s, std::int64_t now_ns);
  void reject(std::uint32_t slot, const layout::Signal& s, layout::RejectReason r,
              std::int32_t venue_code, std::int64_t now_ns);
  void report(std::uint32_t slot, const layout::ExecReport& r);
  void flush_overflow(std::uint32_t slot);
  // A report of the order's own signal: not sent once that signal has had its terminal report
  // (an order a shutdown left on the venue, adopted again: its fills still move the position).
  void report_own(const Order& o, const layout::ExecReport& r);
  void terminal(Order& o, layout::ReportKind kind, layout::RejectReason reason,
                std::int32_t venue_code, std::int64_t now_ns);
  void publish_position(std::uint16_t symbol, std::int64_t now_ns);
  // The order journal (no-ops without one). Each is written before what it records is acted on
  // or reported.
  void journal_state(const Order& o, std::int64_t now) noexcept;
  void journal_final(const Order& o, layout::ReportKind kind, layout::RejectReason reason,
                     std::int32_t venue_code, std::int64_t now) noexcept;
  void journal_position(std::uint16_t symbol, std::int64_t now) noexcept;
  template <class T>
  void journal_append(const T& rec) noexcept;
  void journal_accepted(const Order& o, const layout::Signal& s, std::int64_t deadline,
                        std::int64_t now) noexcept;
  void journal_cancel(const Order& o, std::uint64_t cancel_seq, std::int64_t now) noexcept;
  // An earlier run's order by its (slot, seq) (they are not in the index).
  [[nodiscard]] Order* find_adopted(std::uint32_t slot, std::uint64_t seq) noexcept;
  [[nodiscard]] bool journal_has_room() const noexcept;
  // Start of run(): the recovered orders are adopted (or cancelled) on the venue.
  void settle_recovered(std::int64_t now);
  void shutdown(std::int64_t now_ns);
  void refuse_all_signals(std::int64_t now_ns);
  [[nodiscard]] Order* find(std::uint32_t slot, std::uint64_t seq) noexcept;
  [[nodiscard]] Order* find(std::string_view cid) noexcept;
  [[nodiscard]] Order* allocate() noexcept;
  void release(Order& o) noexcept;
  void index_insert(const Order& o) noexcept;
  [[nodiscard]] layout::ExecReport base_report(const Order& o, layout::ReportKind kind,
                                               std::int64_t now_ns) const noexcept;

  // VenueListener
  void on_order_event(const venue::OrderEvent& e) override;
  void on_rate_headers(std::uint64_t used_weight_1m, std::uint64_t orders_10s,
                       std::uint64_t orders_1d) override;
  void on_retry_after(int http_status, std::int64_t retry_after_s, std::int32_t code) override;
  void on_balances(std::span<const venue::BalanceUpdate> balances) override;
  // Each base asset's balance must move as the engine's positions in it do; a difference that
  // lasts kMismatchNs is an alert (activity on the account the engine did not cause).
  void check_positions(std::span<const venue::BalanceUpdate> balances, std::int64_t now);
  static constexpr std::int64_t kMismatchNs = 3'000'000'000;
  bool allow_request(std::uint32_t weight) override;
  void on_venue_error(std::string_view what) override;
  void on_foreign_order(std::string_view symbol, std::string_view client_order_id,
                        std::uint64_t order_id) override;
  core::Price mark_price(std::string_view base, std::string_view quote) override;

  // The venue's 429/418 back-off, shared with the feed and the venue client (one IP).
  std::shared_ptr<core::RestBackoff> rest_backoff_;
  Config cfg_;
  layout::MarketRegion& market_;
  bool signals_bound_ = false;
  std::array<std::atomic<const SlotOffer*>, layout::kMaxSlots> offered_{};
  std::array<std::atomic<const SlotOffer*>, layout::kMaxSlots> slot_adopted_{};
  std::function<void(layout::RegionState)> publish_intake_;
  HotLog& log_;
  std::uint64_t epoch_ns_ = 0;
  // Per symbol, by id: reserved for kMaxSymbols at construction, grown only by the exec thread
  // (adopt_symbols), read only by it.
  std::vector<engine::SymbolRules> rules_;
  std::array<OfferedSymbol, layout::kMaxSymbols> offered_symbols_{};
  std::atomic<std::size_t> symbols_offered_{0};  // ctl thread: release after the entry
  std::atomic<std::size_t> symbols_adopted_{0};  // exec thread: release after adopting
  const engine::AveragePriceBoard* avg_prices_ = nullptr;
  std::vector<std::string> symbol_names_;
  std::vector<std::string> base_assets_;
  std::vector<std::string> quote_assets_;
  engine::RateGovernor governor_;
  concurrent::Seqlock<Limits> pending_limits_{};  // zeroed: seq starts even (heap, not shm)
  Limits limits_{};
  std::uint64_t limits_seen_ = 0;  // pending_limits_ version last looked at
  boost::asio::io_context ioc_;
  std::unique_ptr<venue::VenueClient> venue_;
  venue::BinanceRestVenue* rest_venue_ = nullptr;  // venue_ when it is Binance's (symbol assets)
  std::vector<std::unique_ptr<SlotState>> slots_;
  std::vector<Order> orders_;  // fixed capacity, allocated once
  std::vector<std::uint32_t> free_orders_;
  OrderIndex index_;                    // (slot, seq) -> position in orders_, of the live orders
  std::vector<std::uint32_t> adopted_;  // orders of earlier runs (not in index_), by position
  std::array<std::uint64_t, layout::kMaxSlots> slot_first_seq_{};  // first seq this run, per slot
  std::unique_ptr<journal::Writer> journal_;
  struct PositionBook;
  std::vector<PositionBook> positions_;
  std::atomic<std::int64_t> heartbeat_{0};
  std::atomic<std::uint64_t> applied_version_{0};
  std::atomic<std::uint64_t> used_weight_1m_{0}, orders_10s_{0}, orders_1d_{0};
  std::array<std::array<std::atomic<std::uint64_t>, 32>, 16> report_counts_{};
  std::atomic<bool> venue_ready_{false};
  std::atomic<bool> balances_read_{false};
  std::atomic<bool> stream_live_{false};
  std::atomic<std::uint64_t> stream_events_{0};
  std::atomic<std::uint64_t> stream_gaps_{0};
  std::atomic<std::uint64_t> venue_tracked_{0};
  std::atomic<std::int64_t> venue_ban_until_ns_{0};
  std::atomic<std::uint64_t> backoffs_429_{0};
  std::atomic<std::uint64_t> backoffs_418_{0};
  std::atomic<std::uint64_t> venue_kept_{0};
  std::atomic<std::uint64_t> venue_spills_{0};
  std::atomic<std::int64_t> clock_offset_ns_{0};
  std::atomic<std::uint64_t> foreign_orders_{0}, journal_failures_{0}, position_mismatches_{0};
  // Positions against balances, per base asset (exec thread; see check_positions()).
  struct AssetCheck {
    std::string asset;
    core::Amount balance_at_start{};
    core::Qty position_at_start{};
    std::int64_t mismatch_since_ns = 0;
    bool told = false;
  };
  std::vector<AssetCheck> asset_checks_;
  bool balances_seen_ = false;
  bool mismatch_pending_ = false;  // a difference not yet lasting kMismatchNs
  std::int64_t last_mismatch_check_ns_ = 0;
  std::vector<venue::BalanceUpdate> last_balances_;
  std::atomic<std::uint64_t> journal_used_{0}, journal_capacity_{0};
  // The gateway's look-ups: weight spent (any thread adds, exec thread takes) and the headroom
  // the exec thread publishes for them.
  std::int64_t headroom_published_ns_ = 0;
  ExecCounters counters_;
  // log.order_stages: each order's stamps through the exec thread, the last kStampedOrders kept
  // (a ring sized at construction: nothing allocated per order), logged per stage at shutdown.
  struct OrderStamps {
    std::int64_t created = 0;   // the signal's created_ns (the strategy's clock read)
    std::int64_t picked = 0;    // taken from the slot's ring
    std::int64_t checked = 0;   // validation, risk and rate limits passed
    std::int64_t handed = 0;    // recorded (id, journal, ACCEPTED report) and handed to the venue
    std::int64_t written = 0;   // the venue client's write began (0: the request waited)
    std::int64_t returned = 0;  // place() returned (after the write call)
  };
  static constexpr std::size_t kStampedOrders = 65536;  // power of two
  std::vector<OrderStamps> order_stamps_;
  std::uint64_t orders_stamped_ = 0;
  void log_order_stages(std::int64_t now);
  std::int64_t now_ns_ = 0;  // time of the current loop iteration
  // threads.exec.warm_us (warm_if_due): 0 = never.
  std::int64_t warm_every_ns_ = 0;
  std::int64_t warmed_ns_ = 0;
  void warm_if_due(std::int64_t now);
  // The venue's sockets and timers are polled on a pass after one that did work, else at most
  // every kIoPollEveryNs (ADR 0037): a poll is an epoll_wait and the scheduler's mutex, most of an
  // idle pass, and a signal that lands during it waits for it.
  static constexpr std::int64_t kIoPollEveryNs = 5'000;
  std::int64_t io_polled_ns_ = 0;
  bool io_due_ = true;
  bool stopping_ = false;
};

}  // namespace cwts::daemon
