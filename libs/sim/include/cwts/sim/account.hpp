// Account: the simulated venue account — balances per asset, commission rates and trade history.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cwts/binance/json_responses.hpp"
#include "cwts/sim/wire.hpp"

namespace cwts::sim {

// Parses a balance list such as "USDT=10000,BTC=1" (the --balance option): comma-separated
// ASSET=AMOUNT, assets [A-Z0-9] 1..20 characters, amounts non-negative decimals exact at 8
// decimals, each asset once; spaces around items are allowed. On failure returns false and a
// message naming the offending item. Start-up code.
[[nodiscard]] bool parse_balance_spec(std::string_view spec, std::vector<AssetAmount>& out,
                                      std::string& error);

// Balances move only through the calls below, each of which keeps free and locked non-negative;
// the matching engine is the only writer during trading. Not thread-safe.
class Account {
 public:
  Account() = default;
  explicit Account(const std::vector<AssetAmount>& initial);

  // Zero for an asset the account never held.
  [[nodiscard]] Balance balance(std::string_view asset) const noexcept;
  // Every asset the account holds or has held, sorted by name.
  [[nodiscard]] const Balances& balances() const noexcept { return balances_; }

  // Adds to free (a deposit, or proceeds of a fill). amount >= 0.
  void credit(std::string_view asset, Amount amount);
  // Moves `amount` from free to locked; false (and no change) if free is short.
  [[nodiscard]] bool lock(std::string_view asset, Amount amount);
  // Moves `amount` from locked back to free (an order ends). amount <= locked.
  void unlock(std::string_view asset, Amount amount);
  // Removes `amount` from locked (paid away in a fill). amount <= locked.
  void spend_locked(std::string_view asset, Amount amount);
  // Removes `amount` from free (a commission charged on proceeds). amount <= free.
  void debit(std::string_view asset, Amount amount);

  [[nodiscard]] const CommissionRates& commission() const noexcept { return commission_; }
  // The account as GET /api/v3/account reports it (valid while this account is unchanged).
  [[nodiscard]] binance::AccountView view() const noexcept {
    return {balances_, commission_, update_time_ms_};
  }
  void set_commission(const CommissionRates& rates) noexcept { commission_ = rates; }

  void add_trade(Trade trade);
  // The symbol's trades in execution order (ids ascending); empty if none.
  [[nodiscard]] std::span<const Trade> trades(std::string_view symbol) const noexcept;

  // Last time a balance changed (the account endpoint's "updateTime"), ms.
  [[nodiscard]] std::int64_t update_time_ms() const noexcept { return update_time_ms_; }
  void touch(std::int64_t now_ms) noexcept { update_time_ms_ = now_ms; }

 private:
  Balance& at(std::string_view asset);

  Balances balances_;
  std::map<std::string, std::vector<Trade>, std::less<>> trades_;
  CommissionRates commission_;
  std::int64_t update_time_ms_ = 0;
};

}  // namespace cwts::sim
