// AveragePriceTap (see average_price_tap.hpp).
#include "md/average_price_tap.hpp"

namespace cwts::daemon {

AveragePriceTap::AveragePriceTap(md::MarketSink& downstream, engine::AveragePriceBoard& board,
                                 const std::vector<std::uint32_t>& minutes)
    : down_(downstream), board_(board) {
  avg_.reserve(layout::kMaxSymbols);
  kind_.reserve(layout::kMaxSymbols);
  for (const std::uint32_t m : minutes) add(m);
}

void AveragePriceTap::add(std::uint32_t minutes) {
  avg_.emplace_back(minutes);
  kind_.push_back(0);
}

void AveragePriceTap::on_trade(const md::SymbolState& s, const md::TradeMsg& t, bool aggregate,
                               const md::FrameMeta& m) {
  down_.on_trade(s, t, aggregate, m);
  if (s.id >= avg_.size()) return;
  const std::uint8_t kind = aggregate ? 2 : 1;
  if (kind_[s.id] == 0) kind_[s.id] = kind;
  if (kind_[s.id] != kind) return;
  const std::int64_t ms = t.trade_time_ms != 0 ? t.trade_time_ms : t.event_time_ms;
  avg_[s.id].on_trade(ms, t.px, t.qty);
  board_.store(s.id, avg_[s.id].value(ms));
}

void AveragePriceTap::refresh(std::int64_t now_ms) noexcept {
  for (std::size_t i = 0; i < avg_.size(); ++i) {
    if (kind_[i] != 0) board_.store(static_cast<std::uint16_t>(i), avg_[i].value(now_ms));
  }
}

}  // namespace cwts::daemon
