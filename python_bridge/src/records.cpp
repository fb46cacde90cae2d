// cwts_bridge._native: shared-memory records (events, execution reports) as the tuples Python
// receives, prices and quantities scaled to floats at the symbol's decimals.
#include "records.hpp"

#include <cmath>
#include <string>
#include <vector>

namespace layout = cwts::layout;

namespace cwts_bridge {

double to_f(std::int64_t raw, int decimals) {
  return static_cast<double>(raw) / std::pow(10.0, decimals);
}

nb::tuple report_tuple(const layout::ExecReport& r, const std::vector<SymbolMeta>& syms) {
  const SymbolMeta* m = r.symbol < syms.size() ? &syms[r.symbol] : nullptr;
  const int pd = m ? m->px_dec : 8, qd = m ? m->qty_dec : 8;
  return nb::make_tuple(r.signal_seq, static_cast<int>(r.kind), static_cast<int>(r.reason),
                        m ? m->name : std::string(), static_cast<int>(r.side),
                        std::string(r.client_order_id.view()), r.venue_order_id,
                        to_f(r.last_qty.raw, qd), to_f(r.last_px.raw, pd), to_f(r.cum_qty.raw, qd),
                        to_f(r.avg_px.raw, pd), to_f(r.fee.raw, pd), r.venue_code, r.ts_ns,
                        to_f(r.fee_native.raw, 8), std::string(r.fee_asset.view()));
}

nb::tuple event_tuple(const layout::Event& e, std::uint64_t seq,
                      const std::vector<SymbolMeta>& syms) {
  static constexpr const char* kKinds[] = {"?", "quote", "trade", "book", "candle", "status"};
  const SymbolMeta* m = e.symbol < syms.size() ? &syms[e.symbol] : nullptr;
  const int pd = m ? m->px_dec : 8, qd = m ? m->qty_dec : 8;
  const char* kind = e.kind <= 5 ? kKinds[e.kind] : "?";
  double a = 0, b = 0, c = 0, d = 0;
  switch (static_cast<layout::EventKind>(e.kind)) {
    case layout::EventKind::kQuote:
      a = to_f(e.body.quote.bid_px.raw, pd);
      b = to_f(e.body.quote.bid_qty.raw, qd);
      c = to_f(e.body.quote.ask_px.raw, pd);
      d = to_f(e.body.quote.ask_qty.raw, qd);
      break;
    case layout::EventKind::kBook:
      a = to_f(e.body.book.bid_px.raw, pd);
      b = to_f(e.body.book.bid_qty.raw, qd);
      c = to_f(e.body.book.ask_px.raw, pd);
      d = to_f(e.body.book.ask_qty.raw, qd);
      break;
    case layout::EventKind::kTrade:
      a = to_f(e.body.trade.px.raw, pd);
      b = to_f(e.body.trade.qty.raw, qd);
      c = static_cast<double>(e.side);
      break;
    case layout::EventKind::kCandleClose:
      a = to_f(e.body.candle.candle.close.raw, pd);
      b = to_f(e.body.candle.candle.volume.raw, qd);
      c = static_cast<double>(e.timeframe);
      break;
    case layout::EventKind::kStatus:
      a = static_cast<double>(e.body.status.book_valid);
      b = static_cast<double>(e.body.status.symbol_status);
      c = static_cast<double>(e.body.status.trading_state);
      break;
  }
  return nb::make_tuple(kind, m ? m->name : std::string(), seq, e.update_id, e.exchange_ts_ns,
                        e.receive_ts_ns, e.publish_ts_ns, a, b, c, d);
}

}  // namespace cwts_bridge
