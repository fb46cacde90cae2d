// AveragePrice: Binance's "average price" of a symbol — the volume-weighted price of its trades
// over the last avgPriceMins minutes (GET /api/v3/avgPrice), by which the venue values MARKET
// orders for its NOTIONAL / MIN_NOTIONAL filters — kept from the public trade stream.
// AveragePriceBoard hands each symbol's value from the md thread to the exec thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "cwts/core/money.hpp"
#include "cwts/shm_layout/capacities.hpp"

namespace cwts::engine {

// One symbol's rolling VWAP in one-minute buckets (by trade time): the window is the current
// minute and the `minutes - 1` before it, so it is precise to the minute, not to the trade. With
// no trade in the window, the last trade's price (as with avgPriceMins 0); zero before any trade.
// Not thread-safe: the md thread owns it.
class AveragePrice {
 public:
  static constexpr std::uint32_t kMaxMinutes = 64;

  // `minutes`: the filter's avgPriceMins, capped at kMaxMinutes; 0 = the last trade's price.
  explicit AveragePrice(std::uint32_t minutes = 5) noexcept
      : minutes_(minutes < kMaxMinutes ? minutes : kMaxMinutes) {}

  void on_trade(std::int64_t time_ms, core::Price px, core::Qty qty) noexcept;
  // The average for the window that ends in the minute of `now_ms`.
  [[nodiscard]] core::Price value(std::int64_t now_ms) const noexcept;

 private:
  struct Bucket {
    std::int64_t minute = -1;  // time_ms / 60000 of the trades summed here; -1 = empty
    core::Notional quote{};
    core::Qty qty{};
  };
  std::uint32_t minutes_;
  core::Price last_{};
  std::array<Bucket, kMaxMinutes> buckets_{};
};

// The md thread's average prices for the exec thread, one word per symbol.
// Ordering: relaxed stores and loads. Each word is a self-contained value (a price at 8
// decimals) and nothing else is published through it; a reader that sees the previous value sees
// one a trade older, which is what a validation a moment earlier would have used.
class AveragePriceBoard {
 public:
  // md thread only (single writer).
  void store(std::uint16_t symbol, core::Price px) noexcept {
    if (symbol < px_.size()) px_[symbol].store(px.raw, std::memory_order_relaxed);
  }
  // Any thread. Zero = not known (yet).
  [[nodiscard]] core::Price load(std::uint16_t symbol) const noexcept {
    return core::Price{symbol < px_.size() ? px_[symbol].load(std::memory_order_relaxed) : 0};
  }

 private:
  std::array<std::atomic<std::int64_t>, layout::kMaxSymbols> px_{};
};

}  // namespace cwts::engine
