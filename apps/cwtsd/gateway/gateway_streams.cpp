// The gateway's market streams (/ws, /ws/<names>, /stream?streams=...): Binance's stream payloads
// from the market region, so a client (FreqTrade with enable_ws, ccxt.pro) watches the engine's
// data. Served: bookTicker, depth<5|10|20>[@100ms] (partial book), trade, aggTrade (each public
// trade its own aggregate), kline_<interval> for the engine's timeframes. Not served: the
// diff-depth stream (the region holds the top of the book, not the whole book to diff). See
// docs/gateway.md.
#include <algorithm>
#include <memory>

#include "cwts/binance/market_json.hpp"
#include "cwts/core/ascii.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/shm/candle_history.hpp"
#include "gateway/gateway_impl.hpp"

namespace cwts::daemon {

namespace cc = concurrent;
using binance::StreamKind;

namespace {

md::Level level(layout::Price px, layout::Qty qty) { return md::Level{{px.raw}, {qty.raw}}; }

// "a/b/c" -> names.
std::vector<std::string> split_names(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const std::size_t slash = list.find('/');
    const std::string_view one = list.substr(0, slash);
    if (!one.empty()) out.emplace_back(one);
    if (slash == std::string_view::npos) break;
    list.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace

std::optional<StreamSub> Gateway::Impl::resolve_stream(std::string_view text) const {
  const auto name = binance::parse_stream_name(text);
  if (!name || name->kind == StreamKind::kDiffDepth) return std::nullopt;
  StreamSub s;
  s.text = std::string(text);
  s.name = *name;
  const std::string upper = core::ascii_upper(name->symbol);
  const int id = symbol_id(upper);
  if (id < 0) return std::nullopt;
  s.symbol = static_cast<std::size_t>(id);
  // A top-N deeper than the region's books (region.book_depth): not served.
  if (name->kind == StreamKind::kPartialDepth &&
      static_cast<std::size_t>(name->levels) > market.book_depth())
    return std::nullopt;
  if (name->kind == StreamKind::kKline) {
    const std::string_view interval = text.substr(text.find("@kline_") + 7);
    const auto n = market.timeframe_count();
    for (std::uint32_t k = 0; k < n; ++k)
      if (interval == interval_name(market.config.timeframe_s[k]))
        s.timeframe = static_cast<int>(k);
    if (s.timeframe < 0) return std::nullopt;  // a timeframe the engine does not build
    s.closed_seq =
        market.candles(s.symbol, static_cast<std::size_t>(s.timeframe)).closed.last_sequence();
  }
  return s;
}

net::WsHandlers Gateway::Impl::open_stream(const net::HttpServerRequest& req,
                                           std::shared_ptr<net::WsConnection> conn) {
  follow_symbols();
  auto client = std::make_shared<StreamClient>();
  client->conn = std::move(conn);
  const std::string_view path = req.path();
  std::vector<std::string> initial;
  if (path.starts_with("/stream")) {
    client->combined = true;
    const std::string_view q = req.query();
    if (q.starts_with("streams=")) initial = split_names(q.substr(8));
  } else if (path.starts_with("/ws/")) {
    initial = split_names(path.substr(4));
  } else if (path != "/ws") {
    client->conn->close();
    return {};
  }
  // Names in the URL that are not streams (ccxt.pro connects to /ws/<n> and then subscribes)
  // are ignored.
  for (const std::string& n : initial)
    if (auto s = resolve_stream(n)) client->subs.push_back(std::move(*s));
  stream_clients.push_back(client);
  StreamClient* raw = client.get();
  return net::WsHandlers{[this, raw](std::string_view text) { on_stream_message(*raw, text); },
                         [this, raw] {
                           std::erase_if(stream_clients,
                                         [raw](const auto& c) { return c.get() == raw; });
                         }};
}

void Gateway::Impl::on_stream_message(StreamClient& c, std::string_view text) {
  auto parsed = binance::parse_stream_control(text);
  if (auto* err = std::get_if<binance::StreamControlError>(&parsed)) {
    return c.conn->send(binance::stream_error_json(*err));
  }
  const auto& ctl = std::get<binance::StreamControl>(parsed);
  switch (ctl.method) {
    case binance::StreamMethod::kSubscribe: {
      follow_symbols();
      std::vector<StreamSub> add;
      for (const std::string& n : ctl.streams) {
        auto s = resolve_stream(n);
        if (!s)
          return c.conn->send(
              binance::stream_error_json(binance::invalid_stream_name(ctl.id_json)));
        add.push_back(std::move(*s));
      }
      for (auto& s : add) {
        const bool have = std::any_of(c.subs.begin(), c.subs.end(),
                                      [&](const StreamSub& x) { return x.text == s.text; });
        if (!have) c.subs.push_back(std::move(s));
      }
      return c.conn->send(binance::stream_result_json(ctl.id_json, "null"));
    }
    case binance::StreamMethod::kUnsubscribe:
      for (const std::string& n : ctl.streams)
        std::erase_if(c.subs, [&](const StreamSub& x) { return x.text == n; });
      return c.conn->send(binance::stream_result_json(ctl.id_json, "null"));
    case binance::StreamMethod::kListSubscriptions: {
      core::JsonWriter w;
      w.begin_array();
      for (const StreamSub& s : c.subs) w.string(s.text);
      w.end_array();
      return c.conn->send(binance::stream_result_json(ctl.id_json, w.str()));
    }
    case binance::StreamMethod::kSetProperty:
      c.combined = ctl.combined;
      return c.conn->send(binance::stream_result_json(ctl.id_json, "null"));
    case binance::StreamMethod::kGetProperty:
      return c.conn->send(binance::stream_result_json(ctl.id_json, c.combined ? "true" : "false"));
  }
}

void Gateway::Impl::send_stream(StreamClient& c, const StreamSub& s, std::string_view payload) {
  c.conn->send(c.combined ? binance::combined_stream_frame(s.text, payload) : std::string(payload));
}

void Gateway::Impl::pump_streams() {
  if (!events) return;
  const std::int64_t now = core::realtime_ns() / 1'000'000;
  // Public trades from the event ring, in order (each is its own aggregate trade).
  layout::Event ev{};
  std::vector<layout::Candle> closed;  // a kline stream's newly closed candles
  for (int budget = 4096; budget > 0; --budget) {
    const auto st = events->try_read(ev);
    if (st == cc::ReadStatus::kLapped) {
      events->resync();
      continue;
    }
    if (st != cc::ReadStatus::kOk) break;
    if (ev.kind != static_cast<std::uint8_t>(layout::EventKind::kTrade) || stream_clients.empty())
      continue;
    binance::PublicTrade t;
    t.id = static_cast<std::int64_t>(ev.body.trade.trade_id);
    t.px = ev.body.trade.px;
    t.qty = ev.body.trade.qty;
    t.quote = core::notional(t.px, t.qty);
    t.time_ms = ev.exchange_ts_ns / 1'000'000;
    t.buyer_maker = ev.side == static_cast<std::uint8_t>(layout::Side::kSell);
    for (const auto& c : stream_clients) {
      for (const StreamSub& s : c->subs) {
        if (s.symbol != ev.symbol) continue;
        if (s.name.kind == StreamKind::kTrade) {
          send_stream(*c, s, binance::trade_event(names[s.symbol], now, t));
        } else if (s.name.kind == StreamKind::kAggTrade) {
          send_stream(*c, s, binance::agg_trade_event(names[s.symbol], now, t.id, t.id, t.id, t));
        }
      }
    }
  }
  for (const auto& c : stream_clients) {
    for (StreamSub& s : c->subs) {
      const layout::SymbolEntry& e = market.symbol(s.symbol);
      switch (s.name.kind) {
        case StreamKind::kBookTicker: {
          const layout::Quote q = e.quote.load();
          if (q.book_valid == 0 || q.update_id == s.last_id) break;
          s.last_id = q.update_id;
          send_stream(
              *c, s,
              binance::book_ticker_event(q.update_id, names[s.symbol], level(q.bid_px, q.bid_qty),
                                         level(q.ask_px, q.ask_qty)));
          break;
        }
        case StreamKind::kPartialDepth: {
          if (now - s.last_sent_ms < s.name.speed_ms) break;
          layout::BookTop& b = book_scratch();
          market.book(s.symbol).load(b, static_cast<std::size_t>(s.name.levels));
          if (b.book_valid == 0 || b.update_id == s.last_id) break;
          s.last_id = b.update_id;
          s.last_sent_ms = now;
          std::vector<md::Level> bids, asks;
          for (std::uint32_t k = 0; k < b.bid_count; ++k)
            bids.push_back(level(b.bid_px[k], b.bid_qty[k]));
          for (std::uint32_t k = 0; k < b.ask_count; ++k)
            asks.push_back(level(b.ask_px[k], b.ask_qty[k]));
          core::JsonWriter w(1024);
          w.begin_object().key("lastUpdateId").uinteger(b.update_id).key("bids");
          binance::write_levels(w, bids);
          w.key("asks");
          binance::write_levels(w, asks);
          w.end_object();
          send_stream(*c, s, w.str());
          break;
        }
        case StreamKind::kKline: {
          const auto tf = static_cast<std::size_t>(s.timeframe);
          const layout::CandleSeries& series = market.candles(s.symbol, tf);
          const std::uint32_t tf_s = market.config.timeframe_s[tf];
          const std::string_view interval =
              std::string_view(s.text).substr(s.text.find("@kline_") + 7);
          // Candles closed since the last look, each once with "x":true: the last 8 at most
          // (never more than the ring keeps).
          if (series.closed.last_sequence() > s.closed_seq) {
            s.closed_seq = shm::read_closed_candles(market, s.symbol, tf, 8, closed, s.closed_seq);
            for (const layout::Candle& k : closed) {
              send_stream(
                  *c, s,
                  binance::kline_event(names[s.symbol], now, interval, kline_of(k, tf_s), true));
            }
          }
          // The live candle when it changed, at most once a second (Binance: every 1-2 s).
          const layout::Candle live = series.live.load();
          const bool changed = live.open_time_ms != s.last_live.open_time_ms ||
                               live.close.raw != s.last_live.close.raw ||
                               live.volume.raw != s.last_live.volume.raw;
          if (live.open_time_ms != 0 && changed && now - s.last_sent_ms >= 1000) {
            s.last_live = live;
            s.last_sent_ms = now;
            send_stream(
                *c, s,
                binance::kline_event(names[s.symbol], now, interval, kline_of(live, tf_s), false));
          }
          break;
        }
        case StreamKind::kDiffDepth:
        case StreamKind::kTrade:
        case StreamKind::kAggTrade:
          break;
      }
    }
  }
}

}  // namespace cwts::daemon
