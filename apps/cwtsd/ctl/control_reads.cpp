// The control plane's market reads (positions, open_orders, book, candles): consistent copies of
// the market region's seqlocks and candle rings, as strategies read them; never exec state itself.
#include <algorithm>
#include <memory>
#include <vector>

#include "ctl/control_api.hpp"
#include "ctl/control_api_detail.hpp"
#include "cwts/core/json_writer.hpp"
#include "cwts/shm/candle_history.hpp"

namespace cwts::daemon {

namespace {

using core::JsonWriter;
using simdjson::dom::element;
using simdjson::dom::element_type;
using namespace control_detail;

void write_candle(JsonWriter& j, const layout::Candle& c) {
  j.begin_object().key("open_time_ms").integer(c.open_time_ms);
  j.key("open").decimal(c.open.raw).key("high").decimal(c.high.raw);
  j.key("low").decimal(c.low.raw).key("close").decimal(c.close.raw);
  j.key("volume").decimal(c.volume.raw).key("trades").uinteger(c.trades);
  j.end_object();
}

}  // namespace

bool ControlApi::read_market(std::string_view method, bool have_params, element params,
                             JsonWriter& result) const {
  if (method == "positions") {
    // The exec thread's per-symbol Position seqlocks in the market region (what strategies
    // read): a consistent copy each, never exec state itself.
    const auto& m = engine_.market_region();
    const auto& names = engine_.symbol_names();
    result.begin_array();
    for (std::size_t k = 0; k < names.size(); ++k) {
      const layout::Position p = m.symbol(k).position.load();
      result.begin_object().key("symbol").string(names[k]);
      result.key("qty").decimal(p.qty.raw).key("avg_px").decimal(p.avg_px.raw);
      result.key("realized_pnl").decimal(p.realized_pnl.raw).key("fees").decimal(p.fees.raw);
      result.key("open_orders").uinteger(p.open_orders);
      result.key("update_ts_ns").integer(p.update_ts_ns).end_object();
    }
    result.end_array();
  } else if (method == "open_orders") {
    // Counts only: the orders themselves are the exec thread's, and the ctl thread reads
    // nothing of it but what it publishes (the positions' open_orders).
    const auto& m = engine_.market_region();
    const auto& names = engine_.symbol_names();
    std::uint64_t total = 0;
    result.begin_object().key("symbols").begin_array();
    for (std::size_t k = 0; k < names.size(); ++k) {
      const layout::Position p = m.symbol(k).position.load();
      total += p.open_orders;
      result.begin_object().key("symbol").string(names[k]);
      result.key("open_orders").uinteger(p.open_orders).end_object();
    }
    result.end_array().key("total").uinteger(total).end_object();
  } else if (method == "book") {
    const auto& names = engine_.symbol_names();
    const std::size_t k = symbol_param(have_params, params, names);
    const std::size_t held = engine_.market_region().book_depth();
    const std::size_t depth = optional_int(have_params, params, "depth", 1, held, held);
    // One seqlock copy: bids, asks and update_id belong to the same book.
    const auto book = std::make_unique<layout::BookTop>();
    const layout::BookTop& b = *book;
    engine_.market_region().book(k).load(*book, depth);
    result.begin_object().key("symbol").string(names[k]);
    result.key("book_valid").boolean(b.book_valid != 0).key("update_id").uinteger(b.update_id);
    result.key("exchange_ts_ns").integer(b.exchange_ts_ns);
    auto side = [&](std::string_view name, const core::Price* px, const core::Qty* qty,
                    std::uint32_t count) {
      result.key(name).begin_array();
      for (std::size_t i = 0; i < count; ++i)
        result.begin_array().decimal(px[i].raw).decimal(qty[i].raw).end_array();
      result.end_array();
    };
    side("bids", b.bid_px, b.bid_qty, b.bid_count);
    side("asks", b.ask_px, b.ask_qty, b.ask_count);
    result.end_object();
  } else if (method == "candles") {
    const auto& names = engine_.symbol_names();
    const std::size_t k = symbol_param(have_params, params, names);
    const auto& m = engine_.market_region();
    const std::uint32_t n_tf = m.timeframe_count();
    if (n_tf == 0) throw RpcError{kFailed, "the engine publishes no candles"};
    // Default: 1m when published, else the first configured timeframe.
    std::uint32_t tf = 0;
    for (std::uint32_t i = 0; i < n_tf; ++i)
      if (m.config.timeframe_s[i] == 60) tf = i;
    if (element v; have_params && params.type() == element_type::OBJECT &&
                   params.at_key("timeframe_s").get(v) == simdjson::SUCCESS) {
      const auto want = int_param(v, "timeframe_s", 1, 7 * 86400);
      std::string known;
      bool found = false;
      for (std::uint32_t i = 0; i < n_tf; ++i) {
        known += (known.empty() ? "" : ", ") + std::to_string(m.config.timeframe_s[i]);
        if (m.config.timeframe_s[i] == want) {
          tf = i;
          found = true;
        }
      }
      if (!found) {
        throw RpcError{jsonrpc::kInvalidParams,
                       "invalid params: timeframe_s " + std::to_string(want) +
                           " is not published (market.timeframes: " + known + ")"};
      }
    }
    const std::size_t limit =
        optional_int(have_params, params, "limit", 1, m.candle_history(), 100);
    const auto& series = m.candles(k, tf);
    std::vector<layout::Candle> rows;
    shm::read_closed_candles(m, k, tf, limit, rows);
    result.begin_object().key("symbol").string(names[k]);
    result.key("timeframe_s").uinteger(m.config.timeframe_s[tf]);
    result.key("closed").begin_array();
    for (const auto& row : rows) write_candle(result, row);
    result.end_array();
    const layout::Candle live = series.live.load();
    result.key("live");
    if (live.open_time_ms != 0) {
      write_candle(result, live);
    } else {
      result.null();
    }
    result.end_object();
  } else {
    return false;
  }
  return true;
}

}  // namespace cwts::daemon
