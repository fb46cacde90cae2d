// Account data as Binance's account and myTrades endpoints report it: balances, commission rates,
// trades. Plain values; whoever keeps an account (cwts-sim, the engine's gateway) owns the state.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "cwts/core/money.hpp"

namespace cwts::binance {

// Free and locked amount of one asset.
struct Balance {
  core::Amount free{};
  core::Amount locked{};
  friend constexpr bool operator==(const Balance&, const Balance&) = default;
};

struct AssetAmount {
  std::string asset;
  core::Amount amount{};
};

// Commission rates as fractions at 8 decimals (0.001 = 100'000). Binance's account endpoint
// also reports them in basis points ("makerCommission":10 for 0.001), derived from these.
struct CommissionRates {
  std::int64_t maker = 100'000;
  std::int64_t taker = 100'000;
  std::int64_t buyer = 0;
  std::int64_t seller = 0;
};

// One execution as GET /api/v3/myTrades reports it.
struct Trade {
  std::string symbol;
  std::int64_t id = 0;  // tradeId, per symbol
  std::int64_t order_id = 0;
  std::int64_t order_list_id = -1;
  core::Price price{};
  core::Qty qty{};
  core::Notional quote_qty{};
  core::Amount commission{};  // of commission_asset
  std::string commission_asset;
  std::int64_t time_ms = 0;
  bool is_buyer = false;
  bool is_maker = false;
  bool is_best_match = true;
};

// Balances by asset, sorted by name (the order GET /api/v3/account lists them in).
using Balances = std::map<std::string, Balance, std::less<>>;

}  // namespace cwts::binance
