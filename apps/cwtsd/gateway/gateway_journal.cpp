// GatewayJournal (see gateway_journal.hpp and docs/journal.md).
#include "gateway/gateway_journal.hpp"

#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "cwts/journal/records.hpp"
#include "cwts/log/json_log.hpp"
#include "journal_files.hpp"

namespace cwts::daemon {

namespace {

// Record types of the gateway's journal (its own file; the order journal's are 1..7).
struct GwOrder {
  static constexpr std::uint16_t kType = 101;
  std::uint64_t seq;
  std::int64_t time_ms;
  journal::Name16 symbol;
  journal::Cid client_order_id;
  std::uint8_t side, type, tif, stp, resp, has_strategy_id, has_strategy_type, reserved;
  core::Price price;
  core::Qty qty;
  std::int64_t strategy_id;
  std::int64_t strategy_type;
};
struct GwCancel {
  static constexpr std::uint16_t kType = 102;
  std::uint64_t cancel_seq;
  std::uint64_t target_seq;
  journal::Cid client_order_id;
};
struct GwReport {
  static constexpr std::uint16_t kType = 103;
  layout::ExecReport report;
};
static_assert(std::is_trivially_copyable_v<GwOrder> && std::is_trivially_copyable_v<GwReport>);
static_assert(sizeof(GwOrder) == 112 && sizeof(GwCancel) == 56 && sizeof(GwReport) == 136);

using journal::payload_as;

}  // namespace

std::uint64_t GatewayJournal::open(const Config& cfg, GatewayOrders& orders,
                                   const SymbolLookup& symbol_id, const QuoteLookup& quote) {
  const std::string dir = journal_dir(cfg.journal);
  if (dir.empty()) return 0;  // the order journal logs journal_disabled
  const std::string path = dir + "/cwts-" + cfg.region.instance + ".gateway.journal";
  std::vector<std::pair<std::uint16_t, std::vector<std::byte>>> records;
  std::uint64_t max_seq = 0, skipped = 0;
  const journal::ReadResult rr = journal::read_journal(
      path, [&](std::uint16_t type, std::uint64_t, std::span<const std::byte> p) {
        records.emplace_back(type, std::vector<std::byte>(p.begin(), p.end()));
        switch (type) {
          case GwOrder::kType: {
            GwOrder g{};
            if (!payload_as(p, g)) return;
            max_seq = std::max(max_seq, g.seq);
            const int sym = symbol_id(g.symbol.view());
            if (sym < 0) {
              ++skipped;
              return;
            }
            binance::NewOrder o;
            o.symbol = std::string(g.symbol.view());
            o.side = static_cast<binance::Side>(g.side);
            o.type = static_cast<binance::OrderType>(g.type);
            o.tif = static_cast<binance::TimeInForce>(g.tif);
            o.stp_mode = static_cast<binance::StpMode>(g.stp);
            o.resp_type = static_cast<binance::RespType>(g.resp);
            o.price = g.price;
            o.quantity = g.qty;
            o.client_order_id = std::string(g.client_order_id.view());
            if (g.has_strategy_id != 0) o.strategy_id = g.strategy_id;
            if (g.has_strategy_type != 0) o.strategy_type = g.strategy_type;
            orders.add(g.seq, o, static_cast<std::uint16_t>(sym), quote(sym), g.time_ms);
            return;
          }
          case GwCancel::kType: {
            GwCancel c{};
            if (!payload_as(p, c)) return;
            max_seq = std::max(max_seq, c.cancel_seq);
            orders.add_cancel(c.cancel_seq, c.target_seq, std::string(c.client_order_id.view()));
            return;
          }
          case GwReport::kType: {
            GwReport r{};
            if (payload_as(p, r)) orders.apply(r.report, r.report.ts_ns / 1'000'000);
            return;
          }
          default:
            return;
        }
      });
  // The new file: the records of the orders the store still holds (it keeps the newest), so the
  // journal stays as small as the store.
  const std::string fresh = path + ".new";
  auto w =
      std::make_unique<journal::Writer>(fresh, static_cast<std::size_t>(cfg.journal.size_mb) << 20,
                                        journal_policy(cfg.journal), cfg.journal.interval_ms);
  std::uint64_t kept = 0;
  for (const auto& [type, bytes] : records) {
    bool keep = false;
    const std::span<const std::byte> p(bytes);
    if (GwOrder g{}; type == GwOrder::kType && payload_as(p, g)) {
      keep = orders.find_any(g.seq) != nullptr;
    } else if (GwCancel c{}; type == GwCancel::kType && payload_as(p, c)) {
      keep = orders.find_any(c.target_seq) != nullptr;
    } else if (GwReport r{}; type == GwReport::kType && payload_as(p, r)) {
      keep = orders.find_any(r.report.signal_seq) != nullptr ||
             orders.cancel(r.report.signal_seq) != nullptr;
    }
    if (!keep) continue;
    if (w->append(type, bytes.data(), static_cast<std::uint32_t>(bytes.size())) == 0) {
      throw journal::JournalError("journal.size_mb too small for the gateway's orders: " + path);
    }
    ++kept;
  }
  w->sync_all();
  replace_journal(fresh, path);
  writer_ = std::move(w);
  log::log_event(spdlog::level::info, "gateway", "journal_opened",
                 log::LogFields()
                     .str("path", path)
                     .unum("records_read", rr.records)
                     .unum("records_kept", kept)
                     .unum("torn_bytes", rr.torn_bytes)
                     .unum("orders_of_unconfigured_symbols", skipped));
  return max_seq;
}

template <class T>
void GatewayJournal::append(const T& rec) noexcept {
  if (!writer_) return;
  const std::uint64_t seq = writer_->append(rec);
  if (seq == 0) {
    if (failures_++ == 0) {
      log::log_event(spdlog::level::critical, "gateway", "journal_full",
                     log::LogFields().unum("capacity", writer_->capacity()));
    }
    return;
  }
  writer_->wait_durable(seq);
}

void GatewayJournal::order(std::uint64_t seq, const binance::NewOrder& o,
                           std::int64_t time_ms) noexcept {
  GwOrder g{};
  g.seq = seq;
  g.time_ms = time_ms;
  g.symbol.assign(o.symbol);
  g.client_order_id.assign(o.client_order_id);
  g.side = static_cast<std::uint8_t>(o.side);
  g.type = static_cast<std::uint8_t>(o.type);
  g.tif = static_cast<std::uint8_t>(o.tif);
  g.stp = static_cast<std::uint8_t>(o.stp_mode);
  g.resp = static_cast<std::uint8_t>(o.resp_type);
  g.has_strategy_id = o.strategy_id ? 1 : 0;
  g.has_strategy_type = o.strategy_type ? 1 : 0;
  g.strategy_id = o.strategy_id.value_or(0);
  g.strategy_type = o.strategy_type.value_or(0);
  g.price = o.price;
  g.qty = o.quantity;
  append(g);
}

void GatewayJournal::cancel(std::uint64_t cancel_seq, std::uint64_t target_seq,
                            std::string_view cid) noexcept {
  GwCancel c{};
  c.cancel_seq = cancel_seq;
  c.target_seq = target_seq;
  c.client_order_id.assign(cid);
  append(c);
}

void GatewayJournal::report(const layout::ExecReport& r) noexcept {
  if (!writer_) return;
  GwReport g{};
  g.report = r;
  append(g);
}

}  // namespace cwts::daemon
