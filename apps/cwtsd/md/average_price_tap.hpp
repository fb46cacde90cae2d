// AveragePriceTap: the md thread's sink in front of the publisher that also keeps each symbol's
// average price (engine::AveragePrice, the venue's avgPriceMins VWAP) from the trades it forwards,
// and hands it to the exec thread through an engine::AveragePriceBoard (market orders are valued
// at it: docs/engine.md, check 10). md thread only; not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "cwts/engine/average_price.hpp"
#include "cwts/md/pipeline.hpp"

namespace cwts::daemon {

class AveragePriceTap final : public md::MarketSink {
 public:
  // `minutes[id]`: symbol id's avgPriceMins. `downstream` and `board` must outlive the tap.
  AveragePriceTap(md::MarketSink& downstream, engine::AveragePriceBoard& board,
                  const std::vector<std::uint32_t>& minutes);

  // md thread: a symbol added at run time (id = the next one) with its avgPriceMins. The storage
  // is reserved for layout::kMaxSymbols at construction, so this never reallocates.
  void add(std::uint32_t minutes);

  // The window slides without trades: recomputes every symbol's value (the md tick).
  void refresh(std::int64_t now_ms) noexcept;

  void on_trade(const md::SymbolState& s, const md::TradeMsg& t, bool aggregate,
                const md::FrameMeta& m) override;
  void on_book(const md::SymbolState& s, const md::FrameMeta& m, std::int64_t ms) override {
    down_.on_book(s, m, ms);
  }
  void on_book_validity(const md::SymbolState& s, bool valid, const md::FrameMeta& m) override {
    down_.on_book_validity(s, valid, m);
  }
  void on_book_ticker(const md::SymbolState& s, const md::BookTickerMsg& b,
                      const md::FrameMeta& m) override {
    down_.on_book_ticker(s, b, m);
  }
  void on_kline(const md::SymbolState& s, const md::KlineMsg& k, const md::FrameMeta& m) override {
    down_.on_kline(s, k, m);
  }
  void on_partial_depth(const md::SymbolState& s, const md::ParsedFrame& f,
                        const md::FrameMeta& m) override {
    down_.on_partial_depth(s, f, m);
  }
  void on_server_shutdown(const md::FrameMeta& m) override { down_.on_server_shutdown(m); }
  void on_snapshot_needed(const md::SymbolState& s) override { down_.on_snapshot_needed(s); }

 private:
  md::MarketSink& down_;
  engine::AveragePriceBoard& board_;
  std::vector<engine::AveragePrice> avg_;
  // Which trade stream feeds a symbol's average: the first seen (0 none, 1 trade, 2 aggTrade), as
  // the publisher chooses, so a symbol subscribed to both does not count each trade twice.
  std::vector<std::uint8_t> kind_;
};

}  // namespace cwts::daemon
