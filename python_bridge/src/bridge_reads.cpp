// cwts_bridge._native: the bridge's reads of the market region — symbols, quotes, books, events
// (and the wait for one), candles, indicators, positions, status — each one native call, its
// seqlock retries here.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include "bridge.hpp"
#include "cwts/concurrent/word_copy.hpp"
#include "cwts/shm/candle_history.hpp"
#include "cwts/shm_layout/layout.hpp"
#include "cwts/shm_layout/market_region.hpp"
#include "records.hpp"

namespace cwts_bridge {

namespace {

// A NumPy array of n values fill(0..n-1), owning its memory.
template <typename T, typename Fill>
nb::ndarray<nb::numpy, T, nb::ndim<1>> make_array(std::size_t n, Fill fill) {
  auto* data = new T[n == 0 ? 1 : n];
  for (std::size_t i = 0; i < n; ++i) data[i] = fill(i);
  nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<T*>(p); });
  return nb::ndarray<nb::numpy, T, nb::ndim<1>>(data, {n}, owner);
}

}  // namespace

std::vector<std::string> Bridge::symbols() {
  const auto a = check_epoch();
  std::vector<std::string> out;
  for (const auto& s : a->syms) out.push_back(s.name);
  return out;
}

nb::tuple Bridge::quote(const std::string& sym) {
  const auto [a, m, q] = read_symbol(sym, &layout::SymbolEntry::quote);
  return nb::make_tuple(to_f(q.bid_px.raw, m.px_dec), to_f(q.ask_px.raw, m.px_dec),
                        to_f(q.bid_qty.raw, m.qty_dec), to_f(q.ask_qty.raw, m.qty_dec),
                        to_f(q.last_px.raw, m.px_dec), to_f(q.last_qty.raw, m.qty_dec),
                        static_cast<int>(q.last_side), q.update_id, q.exchange_ts_ns,
                        q.receive_ts_ns, q.publish_ts_ns, q.book_valid != 0);
}

// (bid_px, bid_qty, ask_px, ask_qty, update_id, book_valid) from one consistent snapshot.
nb::tuple Bridge::book(const std::string& sym, std::size_t depth) {
  const auto a = check_epoch();
  const int id = symbol_id(sym);
  const SymbolMeta& m = a->syms[static_cast<std::size_t>(id)];
  // Only the levels asked for are copied (the region's books may be 1,000 deep).
  const layout::SharedBook shared = a->mr().book(static_cast<std::size_t>(id));
  // Per thread: the copy may be taken with the GIL released, while another thread reads a book.
  thread_local const std::unique_ptr<layout::BookTop> copy = std::make_unique<layout::BookTop>();
  layout::BookTop& b = *copy;
  snapshot_into(a, b, [&](layout::BookTop& o) { return shared.try_load(o, depth); });
  // Everything out of the copy before the first Python object is made: making one may run Python
  // code (a collection's finalizers) that reads a book on this thread, into the same copy.
  const std::size_t nb_ = b.bid_count;
  const std::size_t na = b.ask_count;
  const std::uint64_t update_id = b.update_id;
  const bool valid = b.book_valid != 0;
  std::array<std::unique_ptr<double[]>, 4> col;
  const std::array<std::size_t, 4> len = {nb_, nb_, na, na};
  for (std::size_t k = 0; k < 4; ++k) col[k] = std::make_unique<double[]>(len[k] == 0 ? 1 : len[k]);
  for (std::size_t i = 0; i < nb_; ++i) {
    col[0][i] = to_f(b.bid_px[i].raw, m.px_dec);
    col[1][i] = to_f(b.bid_qty[i].raw, m.qty_dec);
  }
  for (std::size_t i = 0; i < na; ++i) {
    col[2][i] = to_f(b.ask_px[i].raw, m.px_dec);
    col[3][i] = to_f(b.ask_qty[i].raw, m.qty_dec);
  }
  auto arr = [&](std::size_t k) {
    double* data = col[k].release();
    nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<double*>(p); });
    return nb::ndarray<nb::numpy, double, nb::ndim<1>>(data, {len[k]}, owner);
  };
  return nb::make_tuple(arr(0), arr(1), arr(2), arr(3), update_id, valid);
}

// Up to `max` events, a list of cwts_bridge.Event (kind, symbol, seq, update_id, exchange_ns,
// receive_ns, publish_ns, a, b, c, d). A lap is reported as ("lapped", "", skipped, ...) —
// never hidden.
nb::list Bridge::events(std::size_t max) {
  const auto a = check_epoch();
  if (names_epoch_ != a->epoch) {  // the symbols' names as Python strings, made once
    names_.clear();
    names_epoch_ = a->epoch;
  }
  if (names_.empty()) names_.push_back(nb::str(""));  // [0]: an id the table does not have
  while (names_.size() < a->syms.size() + 1)
    names_.push_back(nb::str(a->syms[names_.size() - 1].name.c_str()));
  nb::list out;
  layout::Event ev{};
  std::uint64_t seq = 0;
  std::size_t n = 0;
  while (n++ < max) {
    const auto st = a->events->try_read(ev, &seq);
    if (st == cc::ReadStatus::kEmpty) break;
    if (st == cc::ReadStatus::kLapped) {
      const std::uint64_t skipped = a->events->resync();
      if (a->claimed()) {  // the slot owner tells the engine (/metrics: lapped readers)
        auto& w = a->lease.memory().events_lapped;
        cc::store_word(w, cc::load_word(w, std::memory_order_relaxed) + skipped,
                       std::memory_order_relaxed);
      }
      out.append(nb::steal(event_object(nullptr, skipped, names_[0].ptr(), 8, 8)));
      continue;
    }
    const bool known = ev.symbol < a->syms.size();
    const auto& m = known ? a->syms[ev.symbol] : cwts_bridge::SymbolMeta{};
    out.append(nb::steal(
        event_object(&ev, seq, names_[known ? ev.symbol + 1U : 0U].ptr(), m.px_dec, m.qty_dec)));
  }
  return out;
}

// Blocks (GIL released) until an event is published or the timeout; True if one is waiting.
// close() from another thread makes it raise CwtsError; a reattach (by any thread) makes it
// carry on waiting on the new engine's ring.
bool Bridge::wait(double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (true) {
    const auto a = check_epoch();
    const std::uint64_t gen = generation_.load(std::memory_order_acquire);
    const std::uint64_t next = a->events->next_sequence();
    const auto& ring = a->mr().events;
    enum { kEvent, kTimeout, kChanged, kGone } outcome = kEvent;
    {
      nb::gil_scoped_release release;
      // Spin, then yield the core, then sleep: a sleep costs the timer slack (~50 us) on
      // wake-up, so it is only for waits that are already long (> 2 ms).
      const auto start = std::chrono::steady_clock::now();
      auto next_liveness = start + kCheckEvery;
      std::uint32_t spins = 0;
      // The next record's own slot, not the writer's head: the head line changes with every
      // record the engine publishes, the slot only when this record is complete (and its
      // words come with the same lines). A slot already past it means a lap: events() says so.
      const std::uint64_t& slot_seq = ring.slots[(next - 1) & (layout::kEventRingCapacity - 1)].seq;
      while (cc::load_word(slot_seq, std::memory_order_acquire) < 2 * next) {
        if (generation_.load(std::memory_order_acquire) != gen) {
          outcome = kChanged;
          break;
        }
        if (++spins < 2000) continue;
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
          outcome = kTimeout;
          break;
        }
        if (now - start < std::chrono::milliseconds(2)) {
          std::this_thread::yield();
        } else {
          if (now >= next_liveness) {  // a long wait notices an engine that went away
            next_liveness = now + kCheckEvery;
            if (a->market.superseded()) {
              outcome = kGone;
              break;
            }
          }
          std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
      }
    }
    if (closed_) raise(g_error, "the bridge is closed");
    if (outcome == kEvent) return true;
    if (outcome == kTimeout) return false;
    if (outcome == kGone) force_check_ = true;  // check_epoch() reattaches or raises
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
}

// Candles of one timeframe: (open_time_ms, open, high, low, close, volume, trades, closed) as
// NumPy arrays, oldest first; the live candle last when `partial`.
nb::tuple Bridge::candles(const std::string& sym, std::uint32_t timeframe_s, bool partial) {
  const auto a = check_epoch();
  const int id = symbol_id(sym);
  const auto& m = a->syms[static_cast<std::size_t>(id)];
  const auto& mr = a->mr();
  int tf = -1;
  std::string known;
  for (std::uint32_t i = 0; i < mr.timeframe_count(); ++i) {
    if (mr.config.timeframe_s[i] == timeframe_s) tf = static_cast<int>(i);
    known += (known.empty() ? "" : ", ") + std::to_string(mr.config.timeframe_s[i]) + "s";
  }
  if (tf < 0) {
    raise(PyExc_ValueError, "timeframe " + std::to_string(timeframe_s) +
                                "s is not published by the engine (it publishes " + known +
                                "; see market.timeframes in its config)");
  }
  const auto& series = mr.candles(id, tf);
  std::vector<layout::Candle> rows;
  cwts::shm::read_closed_candles(mr, id, tf, mr.candle_history(), rows);
  if (partial) {
    const layout::Candle live = snapshot(a, series.live);
    if (live.open_time_ms != 0 && (rows.empty() || live.open_time_ms > rows.back().open_time_ms))
      rows.push_back(live);
  }
  const std::size_t n = rows.size();
  auto col = [&](auto get) {
    return make_array<double>(n, [&](std::size_t i) { return get(rows[i]); });
  };
  return nb::make_tuple(
      make_array<std::int64_t>(n, [&](std::size_t i) { return rows[i].open_time_ms; }),
      col([&](const layout::Candle& x) { return to_f(x.open.raw, m.px_dec); }),
      col([&](const layout::Candle& x) { return to_f(x.high.raw, m.px_dec); }),
      col([&](const layout::Candle& x) { return to_f(x.low.raw, m.px_dec); }),
      col([&](const layout::Candle& x) { return to_f(x.close.raw, m.px_dec); }),
      col([&](const layout::Candle& x) { return to_f(x.volume.raw, m.qty_dec); }),
      col([&](const layout::Candle& x) { return static_cast<double>(x.trades); }),
      col([&](const layout::Candle& x) { return static_cast<double>(x.closed); }));
}

std::vector<std::uint32_t> Bridge::timeframes() {
  const auto a = check_epoch();
  const auto& mr = a->mr();
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < mr.timeframe_count(); ++i) {
    out.push_back(mr.config.timeframe_s[i]);
  }
  return out;
}

nb::dict Bridge::indicators(const std::string& sym) {
  const auto a = check_epoch();
  const int id = symbol_id(sym);
  const layout::IndicatorTable table = snapshot(a, a->mr().symbol(id).indicator_table);
  const layout::IndicatorValues vals = snapshot(a, a->mr().symbol(id).indicators);
  nb::dict d;
  for (std::uint32_t i = 0; i < table.count && i < layout::kMaxIndicators; ++i) {
    d[nb::str(std::string(table.desc[i].name.view()).c_str())] = vals.value[i];
  }
  return d;
}

nb::tuple Bridge::position(const std::string& sym) {
  const auto [a, m, p] = read_symbol(sym, &layout::SymbolEntry::position);
  return nb::make_tuple(to_f(p.qty.raw, m.qty_dec), to_f(p.avg_px.raw, m.px_dec),
                        to_f(p.realized_pnl.raw, m.px_dec), to_f(p.fees.raw, m.px_dec),
                        p.open_orders);
}

nb::dict Bridge::status() {
  const auto a = check_epoch();
  const auto& st = a->mr().status;
  auto rd = [](const std::uint64_t& w) { return cc::load_word(w, std::memory_order_relaxed); };
  nb::dict d;
  d["instance"] = instance_;
  d["epoch_ns"] = a->epoch;
  d["layout_version"] = static_cast<std::uint32_t>(layout::kLayoutVersion);
  d["symbols"] = a->syms.size();
  d["frames"] = rd(st.md.frames);
  d["parse_errors"] = rd(st.md.parse_errors);
  d["gaps"] = rd(st.md.gaps);
  d["resyncs"] = rd(st.md.resyncs);
  d["signals_seen"] = rd(st.exec.signals_seen);
  d["signals_accepted"] = rd(st.exec.signals_accepted);
  d["signals_rejected"] = rd(st.exec.signals_rejected);
  d["orders_sent"] = rd(st.exec.orders_sent);
  d["fills"] = rd(st.exec.fills);
  d["trading_state"] = rd(st.exec.trading_state);
  d["md_heartbeat_ns"] = rd(st.md.heartbeat_ns);
  d["exec_heartbeat_ns"] = rd(st.exec.heartbeat_ns);
  d["slot"] = a->claimed() ? nb::cast(a->slot()) : nb::none();
  nb::dict bal;
  const auto n = cc::load_word(a->mr().asset_count, std::memory_order_acquire);
  for (std::uint64_t i = 0; i < n && i < layout::kMaxAssets; ++i) {
    const layout::Balance b = snapshot(a, a->mr().balances[i]);
    bal[nb::str(std::string(b.asset.view()).c_str())] =
        nb::make_tuple(to_f(b.free.raw, 8), to_f(b.locked.raw, 8));
  }
  d["balances"] = bal;
  return d;
}

nb::tuple Bridge::symbol_meta(const std::string& sym) {
  const auto a = check_epoch();
  const int id = symbol_id(sym);
  const auto& m = a->syms[static_cast<std::size_t>(id)];
  return nb::make_tuple(m.px_dec, m.qty_dec, m.tick, m.step);
}

// In the current attachment (the one check_epoch() just returned).
int Bridge::symbol_id(const std::string& sym) const {
  const auto& syms = att_->syms;
  for (std::size_t i = 0; i < syms.size(); ++i) {
    if (syms[i].name == sym) return static_cast<int>(i);
  }
  std::string names;
  for (const auto& s : syms) names += (names.empty() ? "" : ", ") + s.name;
  raise(g_unknown_symbol, "unknown symbol '" + sym + "': the engine publishes " + names);
}

}  // namespace cwts_bridge
