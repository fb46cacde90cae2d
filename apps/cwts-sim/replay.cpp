// Venue: capture replay — recorded Binance frames loaded, replayed at speed, looped with ids and
// times shifted so clients stay in sync.
#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include "cwts/binance/market_json.hpp"
#include "cwts/md/capture_reader.hpp"
#include "cwts/md/frame_parser.hpp"
#include "json_log.hpp"
#include "venue.hpp"

namespace cwts::sim_server {

namespace {

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

std::vector<md::Level> copy_side(const md::OrderBook& b, bool bids) {
  std::vector<md::Level> out;
  const std::size_t n = bids ? b.bid_levels() : b.ask_levels();
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(bids ? b.bid(i) : b.ask(i));
  return out;
}

// Levels that turn side `from` into side `to` (0 for removed levels).
std::vector<md::Level> side_diff(const std::vector<md::Level>& from,
                                 const std::vector<md::Level>& to) {
  std::map<md::Price, md::Qty> want;
  for (const auto& l : to) want[l.px] = l.qty;
  std::vector<md::Level> out;
  for (const auto& l : from) {
    const auto it = want.find(l.px);
    if (it == want.end()) out.push_back({l.px, md::Qty{}});
  }
  std::map<md::Price, md::Qty> have;
  for (const auto& l : from) have[l.px] = l.qty;
  for (const auto& l : to) {
    const auto it = have.find(l.px);
    if (it == have.end() || it->second != l.qty) out.push_back(l);
  }
  return out;
}

}  // namespace

// Adds `delta` to every integer member `"key":<digits>` of a captured payload. Keeps the bytes
// otherwise identical (the frames are forwarded as recorded).
std::string shift_field(std::string s, std::string_view key, std::int64_t delta) {
  if (delta == 0) return s;
  std::string pat = "\"";
  pat += key;
  pat += "\":";
  std::size_t pos = 0;
  while ((pos = s.find(pat, pos)) != std::string::npos) {
    const std::size_t start = pos + pat.size();
    std::size_t end = start;
    while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
    if (end == start) {
      pos = start;
      continue;
    }
    std::int64_t v = 0;
    std::from_chars(s.data() + start, s.data() + end, v);
    std::string repl;
    append_int(repl, v + delta);
    s.replace(start, end - start, repl);
    pos = start + repl.size();
  }
  return s;
}

void Venue::load_captures(const std::vector<std::string>& paths) {
  md::FrameParser parser;
  md::ParsedFrame f;
  std::int64_t first_ns = INT64_MAX, last_ns = 0;
  for (const auto& path : paths) {
    md::CaptureReader reader(path);
    Market* m = nullptr;
    std::size_t mi = 0;
    bool synced = false;
    CaptureInit init;
    std::int64_t ns = 0;
    std::string_view payload;
    for (;;) {
      const auto st = reader.next(ns, payload);
      if (st == md::CaptureReader::Status::kEnd) break;
      if (st == md::CaptureReader::Status::kError) throw std::runtime_error("read error: " + path);
      if (st != md::CaptureReader::Status::kLine) continue;
      if (parser.parse(payload, f) != md::ParseErrc::kOk) continue;
      if (f.symbol_len != 0 && m == nullptr) {
        const std::string sym(f.symbol_view());
        if (find(sym) != nullptr) throw std::runtime_error("two captures of " + sym);
        markets_.push_back(std::make_unique<Market>());
        m = markets_.back().get();
        m->name = sym;
        mi = markets_.size() - 1;
      }
      if (m == nullptr) continue;
      if (f.symbol_len != 0 && f.symbol_view() != m->name) continue;  // one symbol per file
      if (!synced) {
        if (f.kind == md::FrameKind::kDepthUpdate) {
          (void)m->sync.on_diff(f.depth, f.bids, f.asks);
        } else if (f.kind == md::FrameKind::kDepthSnapshot) {
          if (m->sync.on_snapshot(f.depth.last_id, f.bids, f.asks) ==
              md::SnapshotOutcome::kSynced) {
            synced = true;
            init.market = mi;
            init.id = m->sync.update_id();
            init.bids = copy_side(m->book(), true);
            init.asks = copy_side(m->book(), false);
          }
        }
        continue;
      }
      CaptureEvent e;
      e.ns = ns;
      e.market = mi;
      const std::size_t dpos = payload.find("\"data\":");
      e.data = dpos == std::string_view::npos
                   ? std::string(payload)
                   : std::string(payload.substr(dpos + 7, payload.size() - dpos - 8));
      switch (f.kind) {
        case md::FrameKind::kDepthUpdate:
          e.kind = CaptureEvent::Kind::kDiff;
          e.depth = f.depth;
          e.bids = f.bids;
          e.asks = f.asks;
          break;
        case md::FrameKind::kBookTicker:
          e.kind = CaptureEvent::Kind::kBookTicker;
          break;
        case md::FrameKind::kAggTrade:
        case md::FrameKind::kTrade:
          e.kind = f.kind == md::FrameKind::kAggTrade ? CaptureEvent::Kind::kAggTrade
                                                      : CaptureEvent::Kind::kTrade;
          e.trade = f.trade;
          if (init.first_agg < 0) {
            init.first_agg = static_cast<std::int64_t>(f.trade.id);
            init.first_trade = static_cast<std::int64_t>(
                f.kind == md::FrameKind::kAggTrade ? f.trade.first_id : f.trade.id);
          }
          break;
        default:
          continue;  // klines are rebuilt from trades; later snapshots are not market events
      }
      if (m->clock_ms == 0) m->clock_ms = f.depth.event_time_ms;
      first_ns = std::min(first_ns, ns);
      last_ns = std::max(last_ns, ns);
      events_.push_back(std::move(e));
    }
    if (m == nullptr || !synced)
      throw std::runtime_error(path + ": no depth snapshot that syncs the book");
    log_event(spdlog::level::info, "market", "capture_loaded",
              LogFields()
                  .str("file", path)
                  .str("symbol", m->name)
                  .num("update_id", static_cast<std::int64_t>(init.id)));
    inits_.push_back(std::move(init));
  }
  std::stable_sort(events_.begin(), events_.end(),
                   [](const CaptureEvent& a, const CaptureEvent& b) { return a.ns < b.ns; });
  if (!events_.empty()) {
    replay_base_capture_ns_ = first_ns;
    loop_span_ms_ = (last_ns - first_ns) / 1'000'000 + 1000;
    // The replay's times (E, T, klines) then read as if the capture were being recorded now, so
    // a client's wall-clock candle closes and the captured trades agree.
    if (rebase_time_) time_shift_ms_ = wall_ms() - first_ns / 1'000'000;
  }
}

std::int64_t Venue::advance(std::int64_t now_ns) {
  if (faults_.paused) {
    if (paused_at_ns_ < 0) paused_at_ns_ = now_ns;
    return now_ns + 20'000'000;
  }
  if (paused_at_ns_ >= 0) {  // resume where the market stopped
    const std::int64_t paused = now_ns - paused_at_ns_;
    if (replay_base_steady_ns_ >= 0) replay_base_steady_ns_ += paused;
    if (synth_base_ns_ >= 0) synth_base_ns_ += paused;
    paused_at_ns_ = -1;
  }
  std::int64_t next = now_ns + 1'000'000'000;
  if (!events_.empty()) {
    if (replay_base_steady_ns_ < 0) replay_base_steady_ns_ = now_ns;
    std::size_t batch = 0;
    for (;;) {
      if (next_event_ == events_.size()) {
        if (!loop_) break;
        restart_loop();
        replay_base_steady_ns_ = now_ns;
        next_event_ = 0;
        if (speed_ == 0) {
          next = now_ns;
          break;
        }
      }
      const CaptureEvent& e = events_[next_event_];
      if (speed_ > 0) {
        const auto due =
            replay_base_steady_ns_ +
            static_cast<std::int64_t>(static_cast<double>(e.ns - replay_base_capture_ns_) / speed_);
        if (due > now_ns) {
          next = std::min(next, due);
          break;
        }
      } else if (++batch > 2000) {  // as fast as possible, but let sessions run in between
        next = now_ns;
        break;
      }
      replay_event(e);
      ++next_event_;
    }
  }
  if (!synth_markets_.empty()) {
    if (synth_base_ns_ < 0) synth_base_ns_ = now_ns;
    const auto target =
        static_cast<std::uint64_t>(static_cast<double>(now_ns - synth_base_ns_) * rate_ / 1e9);
    std::uint64_t todo = target > synth_done_ ? target - synth_done_ : 0;
    const auto burst = static_cast<std::uint64_t>(rate_ / 100.0) + 1;  // at most 10 ms worth
    if (todo > burst) {
      synth_done_ += todo - burst;  // fell behind: drop the backlog instead of bursting
      todo = burst;
    }
    const std::int64_t now_ms = wall_ms();
    std::uniform_int_distribution<std::size_t> pick(0, synth_markets_.size() - 1);
    for (std::uint64_t i = 0; i < todo; ++i)
      synthetic_step(*markets_[synth_markets_[pick(rng_)]], now_ms);
    synth_done_ += todo;
    if (todo != 0)
      for (std::size_t i : synth_markets_)
        engine_->on_book(markets_[i]->name, markets_[i]->book(), now_ms);
    next = std::min(next, now_ns + 1'000'000);
  }
  return next;
}

// A captured trade payload's event and trade times, moved by the replay's time shift (loops,
// --rebase-time).
std::string Venue::shift_times(std::string data) const {
  return shift_field(shift_field(std::move(data), "E", time_shift_ms_), "T", time_shift_ms_);
}

void Venue::replay_event(const CaptureEvent& e) {
  Market& m = *markets_[e.market];
  const CaptureInit* init = nullptr;
  for (const auto& i : inits_)
    if (i.market == e.market) init = &i;
  switch (e.kind) {
    case CaptureEvent::Kind::kDiff: {
      apply_and_publish_diff(m, e.depth, e.bids, e.asks, &e.data,
                             e.depth.event_time_ms + time_shift_ms_);
      engine_->on_book(m.name, m.book(), wall_ms());
      break;
    }
    case CaptureEvent::Kind::kBookTicker:
      if (!m.subs_book_ticker.empty())
        publish(m.subs_book_ticker, m.lower + "@bookTicker", shift_field(e.data, "u", m.id_offset));
      break;
    case CaptureEvent::Kind::kAggTrade:
    case CaptureEvent::Kind::kTrade: {
      const bool agg = e.kind == CaptureEvent::Kind::kAggTrade;
      const std::int64_t toff = init != nullptr ? init->trade_off : 0;
      const std::int64_t aoff = init != nullptr ? init->agg_off : 0;
      const auto last = static_cast<std::int64_t>(agg ? e.trade.last_id : e.trade.id) + toff;
      const auto first = static_cast<std::int64_t>(agg ? e.trade.first_id : e.trade.id) + toff;
      const std::int64_t t_ms = e.trade.trade_time_ms + time_shift_ms_;
      m.clock_ms = std::max(m.clock_ms, t_ms);
      record_trade(m, last, e.trade.px, e.trade.qty, t_ms, e.trade.buyer_is_maker);
      m.next_trade_id = last + 1;
      if (agg) {
        m.next_agg_id = static_cast<std::int64_t>(e.trade.id) + aoff + 1;
        if (!m.subs_agg.empty())
          publish(m.subs_agg, m.lower + "@aggTrade",
                  shift_times(shift_field(shift_field(shift_field(e.data, "a", aoff), "f", toff),
                                          "l", toff)));
        // The capture has no trade stream: each aggregate is published as one trade.
        if (!m.subs_trade.empty()) {
          PublicTrade t = m.trades.back();
          t.time_ms = e.trade.trade_time_ms + time_shift_ms_;
          const std::int64_t keep_agg = m.next_agg_id;
          publish_trade(m, t, e.trade.event_time_ms + time_shift_ms_, -1, first, last);
          m.next_agg_id = keep_agg;
        }
      } else if (!m.subs_trade.empty()) {
        publish(m.subs_trade, m.lower + "@trade", shift_times(shift_field(e.data, "t", toff)));
      }
      break;
    }
  }
}

void Venue::restart_loop() {
  time_shift_ms_ += loop_span_ms_;
  for (auto& init : inits_) {
    Market& m = *markets_[init.market];
    const std::uint64_t x = m.public_id();
    const auto old_bids = copy_side(m.book(), true);
    const auto old_asks = copy_side(m.book(), false);
    m.sync = md::BookSync(md::SyncVenue::kSpot, 64, 1U << 14, 8192);
    (void)m.sync.on_snapshot(init.id, init.bids, init.asks);
    m.id_offset = static_cast<std::int64_t>(x + 1) - static_cast<std::int64_t>(init.id);
    // One diff turns the old book into the capture's first book, so clients stay in sync
    // across the loop: U = u = previous id + 1.
    const auto db = side_diff(old_bids, init.bids);
    const auto da = side_diff(old_asks, init.asks);
    std::string data = binance::depth_update_event(m.name, m.clock_ms, x + 1, x + 1, db, da);
    if (!m.subs_depth1000.empty()) {
      if (m.acc_first == 0) m.acc_first = x + 1;
      m.acc_last = x + 1;
      for (const auto& l : db) m.acc_bids[l.px] = l.qty;
      for (const auto& l : da) m.acc_asks[l.px] = l.qty;
    }
    publish(m.subs_depth100, m.lower + "@depth@100ms", std::move(data));
    if (init.first_trade >= 0) init.trade_off = m.next_trade_id - init.first_trade;
    if (init.first_agg >= 0) init.agg_off = m.next_agg_id - init.first_agg;
    engine_->on_book(m.name, m.book(), wall_ms());
    log_event(spdlog::level::debug, "market", "capture_loop",
              LogFields().str("symbol", m.name).num("update_id", static_cast<std::int64_t>(x + 1)));
  }
}

}  // namespace cwts::sim_server
