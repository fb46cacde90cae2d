// AveragePrice (see average_price.hpp).
#include "cwts/engine/average_price.hpp"

namespace cwts::engine {

namespace {
constexpr std::int64_t kMinuteMs = 60'000;
}

void AveragePrice::on_trade(std::int64_t time_ms, core::Price px, core::Qty qty) noexcept {
  if (px <= core::Price{} || qty <= core::Qty{}) return;
  last_ = px;
  const std::int64_t minute = time_ms / kMinuteMs;
  Bucket& b = buckets_[static_cast<std::size_t>(minute) % kMaxMinutes];
  if (b.minute != minute) {
    if (b.minute > minute) return;  // older than the ring remembers: outside any window
    b = Bucket{minute, {}, {}};
  }
  b.quote += core::notional(px, qty);
  b.qty += qty;
}

core::Price AveragePrice::value(std::int64_t now_ms) const noexcept {
  if (minutes_ == 0) return last_;
  const std::int64_t now_minute = now_ms / kMinuteMs;
  core::Notional quote{};
  core::Qty qty{};
  for (const Bucket& b : buckets_) {
    if (b.minute > now_minute - static_cast<std::int64_t>(minutes_) && b.minute <= now_minute) {
      quote += b.quote;
      qty += b.qty;
    }
  }
  return qty > core::Qty{} ? core::average_price(quote, qty) : last_;
}

}  // namespace cwts::engine
