// ExecEngine and its order journal (see exec_engine.hpp, docs/journal.md): opening and recovering
// it at start, the records the exec thread writes, and settling the recovered orders with the
// venue. The appends are memcpys into the journal's mapping (no syscall on the exec thread); the
// journal thread makes them durable per `journal.fsync`.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "cwts/core/clock.hpp"
#include "cwts/journal/recovery.hpp"
#include "cwts/log/json_log.hpp"
#include "exec/exec_engine.hpp"
#include "exec/exec_state.hpp"
#include "journal_files.hpp"

namespace cwts::daemon {
namespace cc = cwts::concurrent;

namespace {

using core::realtime_ns;

// Room an accepted order needs: its own record and the records of its life (states, final),
// beyond which new orders are refused (JOURNAL_UNAVAILABLE) so that orders already sent can still
// be recorded to their end.
constexpr std::size_t kReserveBytes = 256 * 1024;

journal::FsyncPolicy policy_of(JournalFsync f) {
  switch (f) {
    case JournalFsync::kNone:
      return journal::FsyncPolicy::kNone;
    case JournalFsync::kAlways:
      return journal::FsyncPolicy::kAlways;
    case JournalFsync::kInterval:
      break;
  }
  return journal::FsyncPolicy::kInterval;
}

void sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string journal_dir(const JournalConfig& c) {
  std::string dir = c.dir;
  if (dir.empty()) {
    if (const char* sd = std::getenv("STATE_DIRECTORY"); sd != nullptr && *sd != '\0') {
      dir = sd;
      if (const auto colon = dir.find(':'); colon != std::string::npos) dir.resize(colon);
    }
  }
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
  }
  return dir;
}

journal::FsyncPolicy journal_policy(const JournalConfig& c) { return policy_of(c.fsync); }

void replace_journal(const std::string& fresh, const std::string& path) {
  const std::string prev = path + ".prev";
  ::unlink(prev.c_str());
  (void)::link(path.c_str(), prev.c_str());  // the earlier file, kept for inspection
  if (::rename(fresh.c_str(), path.c_str()) != 0) {
    throw journal::JournalError("cannot rename " + fresh + ": " + std::strerror(errno));
  }
  sync_dir(std::filesystem::path(path).parent_path().string());
}

void ExecEngine::open_journal() {
  const std::string dir = journal_dir(cfg_.journal);
  if (dir.empty()) {
    log::log_event(spdlog::level::warn, "exec", "journal_disabled",
                   log::LogFields().str("why",
                                        "no journal.dir and no STATE_DIRECTORY: orders are not "
                                        "journaled and a restart forgets them"));
    return;
  }
  const std::string path = dir + "/cwts-" + cfg_.region.instance + ".journal";
  const journal::Recovered rec = journal::recover(path);
  // An earlier run sent orders within the last minute (a restart): the venue still counts them
  // in its current windows. Until its counts say otherwise (the start-up exchangeInfo's
  // X-MBX-USED-WEIGHT-1M, the first order's X-MBX-ORDER-COUNT-10S), spend only what its limits
  // leave beyond that run's share.
  if (const std::int64_t now = realtime_ns();
      rec.last_order_ns != 0 && now - rec.last_order_ns < 60'000'000'000LL) {
    governor_.assume_earlier_run_spent_its_share(now);
  }

  // The new journal: this run's epoch, then the recovered state, durable before it replaces the
  // old file (one rename: a crash at any point leaves one complete journal).
  const std::string fresh = path + ".new";
  auto w =
      std::make_unique<journal::Writer>(fresh, static_cast<std::size_t>(cfg_.journal.size_mb) << 20,
                                        policy_of(cfg_.journal.fsync), cfg_.journal.interval_ms);
  journal::EpochRecord e{};
  e.epoch_ns = epoch_ns_;
  e.start_ns = realtime_ns();
  e.pid = static_cast<std::uint32_t>(::getpid());
  e.venue.assign(cfg_.venue.kind == VenueKind::kBinance ? "binance" : "paper");
  w->append(e);
  if (!journal::write_snapshot(*w, rec)) {
    throw journal::JournalError("journal.size_mb too small for the recovered state of " + path);
  }
  w->sync_all();
  replace_journal(fresh, path);
  journal_ = std::move(w);
  journal_used_.store(journal_->used_bytes(), std::memory_order_relaxed);
  journal_capacity_.store(journal_->capacity(), std::memory_order_relaxed);

  // Positions, by symbol name.
  std::uint64_t restored = 0;
  for (const auto& [sym, p] : rec.positions) {
    const auto it = std::find(symbol_names_.begin(), symbol_names_.end(), sym);
    if (it == symbol_names_.end()) continue;  // kept in the journal, not traded now
    PositionBook& b = positions_[static_cast<std::size_t>(it - symbol_names_.begin())];
    b.qty = p.qty;
    b.avg_px = p.avg_px;
    b.realized = p.realized;
    b.fees = p.fees;
    ++restored;
  }
  // Orders earlier runs left open: tracked again (outside the (slot, seq) index: a new strategy
  // process may reuse the sequence numbers).
  std::uint64_t orders = 0, unknown_symbol = 0;
  for (const auto& r : rec.open) {
    const auto it = std::find(symbol_names_.begin(), symbol_names_.end(), r.accepted.symbol.view());
    if (it == symbol_names_.end() || free_orders_.empty()) {
      ++unknown_symbol;
      log::log_event(spdlog::level::err, "exec", "journal_order_not_tracked",
                     log::LogFields()
                         .str("client_order_id", r.accepted.cid.view())
                         .str("symbol", r.accepted.symbol.view())
                         .str("why", it == symbol_names_.end() ? "symbol not configured"
                                                               : "order table full"));
      continue;
    }
    if (r.accepted.slot >= market_.slot_capacity()) {
      // Its reports have no slot to go to, and an order is never forgotten: no start.
      throw journal::JournalError(
          "the journal holds open order " + std::string(r.accepted.cid.view()) + " of slot " +
          std::to_string(r.accepted.slot) + ", and the market region has " +
          std::to_string(market_.slot_capacity()) + " slots: set region.max_slots to at least " +
          std::to_string(r.accepted.slot + 1));
    }
    Order& o = *allocate();
    o.adopted = true;
    o.slot = r.accepted.slot;
    o.seq = r.accepted.seq;
    o.symbol = static_cast<std::uint16_t>(it - symbol_names_.begin());
    o.side = static_cast<layout::Side>(r.accepted.side);
    o.qty = r.accepted.qty;
    const std::string_view cid = r.accepted.cid.view();
    std::memcpy(o.cid, cid.data(), cid.size());
    o.cid[cid.size()] = '\0';
    o.cid_len = static_cast<std::uint8_t>(cid.size());
    // The latest its request can have been signed: the venue client never sends (nor resends) an
    // order after its deadline. Absence from the venue proves nothing before that + recvWindow.
    o.sent_ns = std::max(r.accepted.accepted_ns, r.accepted.deadline_ns);
    o.venue_order_id = r.state.venue_order_id;
    o.acked = r.state.acked != 0;
    o.reported_qty = r.state.reported_qty;
    o.reported_quote = r.state.reported_quote;
    o.fee = r.state.fee;
    o.fee_native = r.state.fee_native;
    o.fee_asset.assign(r.state.fee_asset.view());
    // Left open by a shutdown: its signal (and its cancel's) had their terminal reports then.
    o.terminal_sent = r.left_open;
    o.cancel_seq = r.left_open ? 0 : r.cancel_seq;
    o.cancel_at_start = r.cancel_seq != 0;
    adopted_.push_back(static_cast<std::uint32_t>(&o - orders_.data()));
    // Its reports name its signal's seq: the slot's next holder numbers its own signals above
    // it (and above its cancel's), or one of them could share the number.
    {
      auto& last = market_.slot(o.slot).last_signal_seq;
      const std::uint64_t top = std::max(o.seq, r.cancel_seq);
      if (top > cc::load_word(last, std::memory_order_relaxed))
        cc::store_word(last, top, std::memory_order_release);
    }
    PositionBook& p = positions_[o.symbol];
    (o.side == layout::Side::kBuy ? p.open_buy : p.open_sell) += o.qty - o.reported_qty;
    ++p.open_orders;
    ++orders;
  }
  for (std::uint16_t s = 0; s < symbol_names_.size(); ++s) publish_position(s, realtime_ns());
  log::log_event(spdlog::level::info, "exec", "journal_opened",
                 log::LogFields()
                     .str("path", path)
                     .unum("records_read", rec.read.records)
                     .unum("torn_bytes", rec.read.torn_bytes)
                     .unum("earlier_runs", rec.epochs)
                     .unum("positions_restored", restored)
                     .unum("open_orders_recovered", orders)
                     .unum("orders_not_tracked", unknown_symbol));
}

void ExecEngine::settle_recovered(std::int64_t now) {
  const std::vector<std::uint32_t> ids = adopted_;
  for (const std::uint32_t i : ids) {
    Order& o = orders_[i];
    if (!o.in_use) continue;
    const std::string& sym = symbol_names_[o.symbol];
    if (!venue_->adopt(o.cid_view(), sym, o.sent_ns)) {
      // Paper: the order ended with the process that held it.
      log_.push(HotRecord{now, spdlog::level::warn, "exec", "recovered_order_gone"}.s(
          "client_order_id", o.cid, o.cid_len));
      terminal(o, layout::ReportKind::kExpired, layout::RejectReason::kShutdown, 0, now);
      continue;
    }
    const bool cancel = cfg_.venue.on_start == StartAction::kCancel;
    log_.push(HotRecord{now, spdlog::level::warn, "exec",
                        cancel ? "recovered_order_cancelled" : "recovered_order_adopted"}
                  .s("client_order_id", o.cid, o.cid_len)
                  .u("slot", o.slot)
                  .u("seq", o.seq));
    // A cancel a strategy asked for before the restart may never have reached the venue: sent
    // again (a cancel is idempotent: an order already ended answers -2011 and is re-queried).
    if (cancel || o.cancel_at_start) venue_->cancel(o.cid_view(), sym);
  }
}

template <class T>
void ExecEngine::journal_append(const T& rec) noexcept {
  if (!journal_) return;
  const std::uint64_t seq = journal_->append(rec);
  journal_used_.store(journal_->used_bytes(), std::memory_order_relaxed);
  if (seq == 0) {
    journal_failures_.fetch_add(1, std::memory_order_relaxed);
    if (counters_.journal_failures++ == 0) {
      log_.push(HotRecord{now_ns_, spdlog::level::critical, "exec", "journal_full"}.u(
          "capacity", journal_->capacity()));
    }
    return;
  }
  journal_->wait_durable(seq);
}

ExecEngine::Order* ExecEngine::find_adopted(std::uint32_t slot, std::uint64_t seq) noexcept {
  for (const std::uint32_t i : adopted_) {
    if (orders_[i].in_use && orders_[i].slot == slot && orders_[i].seq == seq) return &orders_[i];
  }
  return nullptr;
}

void ExecEngine::journal_accepted(const Order& o, const layout::Signal& s, std::int64_t deadline,
                                  std::int64_t now) noexcept {
  if (!journal_) return;
  journal::OrderAccepted a{};
  a.cid.assign(o.cid_view());
  a.symbol.assign(symbol_names_[s.symbol]);
  a.slot = o.slot;
  a.side = s.side;
  a.type = s.type;
  a.tif = s.tif;
  a.seq = s.seq;
  a.price = s.price;
  a.qty = s.qty;
  a.accepted_ns = now;
  a.deadline_ns = deadline;
  journal_append(a);
}

void ExecEngine::journal_cancel(const Order& o, std::uint64_t cancel_seq,
                                std::int64_t now) noexcept {
  if (!journal_) return;
  journal::CancelRequested c{};
  c.cid.assign(o.cid_view());
  c.cancel_seq = cancel_seq;
  c.ts_ns = now;
  journal_append(c);
}

void ExecEngine::journal_state(const Order& o, std::int64_t now) noexcept {
  if (!journal_) return;
  journal::OrderState s{};
  s.cid.assign(o.cid_view());
  s.venue_order_id = o.venue_order_id;
  s.acked = o.acked ? 1 : 0;
  s.reported_qty = o.reported_qty;
  s.reported_quote = o.reported_quote;
  s.fee = o.fee;
  s.fee_native = o.fee_native;
  s.fee_asset.assign(o.fee_asset.view());
  s.ts_ns = now;
  journal_append(s);
}

void ExecEngine::journal_final(const Order& o, layout::ReportKind kind, layout::RejectReason reason,
                               std::int32_t venue_code, std::int64_t now) noexcept {
  if (!journal_) return;
  if (o.left_open) {
    journal::OrderLeftOpen l{};
    l.cid.assign(o.cid_view());
    l.ts_ns = now;
    return journal_append(l);
  }
  journal::OrderFinal f{};
  f.cid.assign(o.cid_view());
  f.kind = static_cast<std::uint8_t>(kind);
  f.reason = static_cast<std::uint16_t>(reason);
  f.venue_code = venue_code;
  f.ts_ns = now;
  journal_append(f);
}

void ExecEngine::journal_position(std::uint16_t symbol, std::int64_t now) noexcept {
  if (!journal_) return;
  const PositionBook& b = positions_[symbol];
  journal::PositionRecord p{};
  p.symbol.assign(symbol_names_[symbol]);
  p.qty = b.qty;
  p.avg_px = b.avg_px;
  p.realized = b.realized;
  p.fees = b.fees;
  p.ts_ns = now;
  journal_append(p);
}

bool ExecEngine::journal_has_room() const noexcept {
  return !journal_ || journal_->has_room(1, kReserveBytes);
}

}  // namespace cwts::daemon
