// The exec thread's per-signal work: validation, rate-limit tokens, the client order id, and the
// HMAC signature of an order request.
#include <string>

#include <benchmark/benchmark.h>

#include "cwts/engine/rate_governor.hpp"
#include "cwts/engine/validator.hpp"
#include "cwts/net/hmac.hpp"
#include "cwts/venue/binance_rest.hpp"
#include "exec/exec_engine.hpp"

namespace {

using namespace cwts::core::money_literals;
constexpr std::int64_t k1 = 100'000'000;

void BM_Validate_Signal(benchmark::State& state) {
  cwts::engine::SymbolRules r;
  r.trading = true;
  r.order_types = 0b1110;
  r.tick = 0.01_px;
  r.min_price = 0.01_px;
  r.max_price = 1000000_px;
  r.step = 0.00001_qty;
  r.min_qty = 0.00001_qty;
  r.max_qty = 9000_qty;
  r.min_notional = 10_quote;
  r.bid_up = r.ask_up = 5 * k1;
  r.bid_down = r.ask_down = k1 / 5;
  cwts::engine::RiskLimits lim;
  lim.max_order_notional = 100000_quote;
  lim.max_position = 2_qty;
  lim.max_open_orders = 10;
  lim.price_band_bps = 500;
  const std::int64_t now = 1'700'000'000'000'000'000LL;
  const cwts::engine::MarketState m{50000_px, 50000.01_px, true, now};
  const cwts::engine::Exposure ex{};
  cwts::layout::Signal s{};
  s.side = 1;
  s.type = 1;
  s.tif = 1;
  s.price.raw = 49'900 * k1;
  s.qty.raw = k1 / 1000;
  s.created_ns = now;
  std::uint64_t seq = 0;
  for (auto _ : state) {
    s.seq = ++seq;
    auto reason = cwts::engine::validate(s, &r, lim, m, ex, cwts::layout::TradingState::kActive, {},
                                         seq - 1, now);
    benchmark::DoNotOptimize(reason);
  }
}
BENCHMARK(BM_Validate_Signal);

void BM_RateLimiter_Acquire(benchmark::State& state) {
  using cwts::binance::RateInterval;
  using cwts::binance::RateLimitType;
  // Limits high enough that every acquire succeeds: the cost of the checks and the takes.
  cwts::engine::RateGovernor g(
      {{RateLimitType::kRequestWeight, RateInterval::kMinute, 1, 1'000'000'000},
       {RateLimitType::kOrders, RateInterval::kSecond, 10, 1'000'000'000},
       {RateLimitType::kOrders, RateInterval::kDay, 1, 1'000'000'000},
       {RateLimitType::kRawRequests, RateInterval::kMinute, 5, 1'000'000'000}},
      0.8, 0.5);
  std::int64_t now = 1'000'000'000;
  for (auto _ : state) {
    now += 1000;
    benchmark::DoNotOptimize(g.try_acquire_order(3, 1, now));
  }
}
BENCHMARK(BM_RateLimiter_Acquire);

void BM_Hmac_Sign(benchmark::State& state) {
  const std::string secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
  const std::string query =
      "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=49900"
      "&newClientOrderId=cwwu6kllj0012345&newOrderRespType=FULL&recvWindow=5000&timestamp="
      "1700000000000";
  for (auto _ : state) benchmark::DoNotOptimize(cwts::net::hmac_sha256_hex(secret, query));
}
BENCHMARK(BM_Hmac_Sign);

void BM_ClientOrderId(benchmark::State& state) {
  char buf[32];
  std::uint64_t seq = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        cwts::daemon::make_client_order_id(1'795'493'154'629'204'860ULL, 3, ++seq, buf));
  }
}
BENCHMARK(BM_ClientOrderId);

}  // namespace
