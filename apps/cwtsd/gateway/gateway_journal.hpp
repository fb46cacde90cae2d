// GatewayJournal: the gateway's own records, so that a client's order ids survive a restart of
// cwtsd. The engine's order journal recovers the orders themselves (and adopts them on the
// venue); this one recovers what the gateway told its clients about them: the client's
// newClientOrderId, the gateway orderId, fills and fees as reported. Event-sourced: every order the
// gateway accepts, every cancel it sends and every execution report of its slot is appended; at
// start they are replayed into GatewayOrders, and the file is rewritten with the records of the
// orders it still holds. Gateway thread only (the appender); not on the exec thread's path.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "cwts/binance/order.hpp"
#include "cwts/journal/journal.hpp"
#include "cwts/shm_layout/market_region.hpp"
#include "gateway/gateway_orders.hpp"

namespace cwts::daemon {

class GatewayJournal {
 public:
  // Symbol name -> id in this run (-1: not configured), and its quote asset.
  using SymbolLookup = std::function<int(std::string_view name)>;
  using QuoteLookup = std::function<std::string(int id)>;

  // Opens `<dir>/cwts-<instance>.gateway.journal` (dir per journal_dir(); none: a no-op journal)
  // and replays it into `orders`. Returns the highest seq seen (0 if none). Throws JournalError.
  std::uint64_t open(const Config& cfg, GatewayOrders& orders, const SymbolLookup& symbol_id,
                     const QuoteLookup& quote);

  void order(std::uint64_t seq, const binance::NewOrder& o, std::int64_t time_ms) noexcept;
  void cancel(std::uint64_t cancel_seq, std::uint64_t target_seq, std::string_view cid) noexcept;
  void report(const layout::ExecReport& r) noexcept;

  [[nodiscard]] bool enabled() const noexcept { return writer_ != nullptr; }
  [[nodiscard]] std::uint64_t failures() const noexcept { return failures_; }

 private:
  template <class T>
  void append(const T& rec) noexcept;

  std::unique_ptr<journal::Writer> writer_;
  std::uint64_t failures_ = 0;
};

}  // namespace cwts::daemon
