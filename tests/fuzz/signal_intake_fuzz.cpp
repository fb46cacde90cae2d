// libFuzzer target: arbitrary bytes in a signal slot, through the engine's intake checks
// (engine::validate). A signal the checks accept must be an order the venue would take: a known,
// trading symbol, a real side and type, a positive quantity on the step grid within the lot
// limits, a positive limit price on the tick grid, and a fresh signal. Nothing else may pass.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cwts/engine/validator.hpp"

namespace {

namespace layout = cwts::layout;
namespace engine = cwts::engine;

engine::SymbolRules rules() {
  engine::SymbolRules r;
  r.trading = true;
  r.order_types = (1U << static_cast<unsigned>(layout::OrderType::kLimit)) |
                  (1U << static_cast<unsigned>(layout::OrderType::kMarket)) |
                  (1U << static_cast<unsigned>(layout::OrderType::kLimitMaker));
  r.tick.raw = 1'000'000;  // 0.01 at 8 decimals
  r.min_price.raw = 1'000'000;
  r.max_price.raw = 100'000'000'000'000;
  r.step.raw = 1'000;  // 0.00001
  r.min_qty.raw = 1'000;
  r.max_qty.raw = 900'000'000'000;
  r.min_notional.raw = 500'000'000;  // 5 USDT
  return r;
}

constexpr std::int64_t kNow = 1'700'000'000'000'000'000;

// A signal the checks accept: the input's bytes are XORed onto it, so the fuzzer explores both
// sides of every check (raw bytes alone almost never get past the first ones).
layout::Signal valid_signal() {
  layout::Signal s{};
  s.seq = 1;
  s.symbol = 0;
  s.side = static_cast<std::uint8_t>(layout::Side::kBuy);
  s.type = static_cast<std::uint8_t>(layout::OrderType::kLimit);
  s.tif = static_cast<std::uint8_t>(layout::TimeInForce::kGtc);
  s.qty.raw = 100'000;              // 0.001
  s.price.raw = 4'999'000'000'000;  // 49,990.00
  s.created_ns = kNow - 1'000'000;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  layout::Signal s = valid_signal();
  auto* bytes = reinterpret_cast<unsigned char*>(&s);
  for (std::size_t i = 0; i < size && i < sizeof s; ++i) bytes[i] ^= data[i];
  static const engine::SymbolRules r = rules();
  engine::RiskLimits risk;
  risk.max_open_orders = 10;
  risk.price_band_bps = 500;
  engine::MarketState m;
  m.bid.raw = 5'000'000'000'000;  // 50,000.00
  m.ask.raw = 5'000'100'000'000;
  m.book_valid = true;
  m.update_ns = kNow;
  const engine::Exposure exposure{};
  const engine::SlotPolicy slot{};
  // Symbol 0 has rules; any other id has none (an unknown symbol).
  const auto reason = engine::validate(s, s.symbol == 0 ? &r : nullptr, risk, m, exposure,
                                       layout::TradingState::kActive, slot, /*last_seq=*/0, kNow);
  if (size == 0 && reason != layout::RejectReason::kNone) __builtin_trap();  // the template passes
  if (reason != layout::RejectReason::kNone) return 0;
  if (s.type == static_cast<std::uint8_t>(layout::OrderType::kCancel))
    return 0;  // target checked later
  const bool side_ok = s.side == static_cast<std::uint8_t>(layout::Side::kBuy) ||
                       s.side == static_cast<std::uint8_t>(layout::Side::kSell);
  const bool market = s.type == static_cast<std::uint8_t>(layout::OrderType::kMarket);
  const bool type_ok = market || s.type == static_cast<std::uint8_t>(layout::OrderType::kLimit) ||
                       s.type == static_cast<std::uint8_t>(layout::OrderType::kLimitMaker);
  if (s.symbol != 0 || !side_ok || !type_ok || s.seq == 0) __builtin_trap();
  if (s.qty.raw <= 0 || s.qty.raw % r.step.raw != 0 || s.qty < r.min_qty || s.qty > r.max_qty)
    __builtin_trap();
  if (!market && (s.price.raw <= 0 || s.price.raw % r.tick.raw != 0)) __builtin_trap();
  // Created at most 1 s in the future (the tolerance for clocks read on two cores), not expired.
  if (s.created_ns > kNow + 1'000'000'000 || engine::signal_deadline_ns(s, risk) < kNow)
    __builtin_trap();
  return 0;
}
