// Account balances, commission rates, trade history, and the --balance list parser.
#include "cwts/sim/account.hpp"

#include <cassert>

#include "cwts/core/decimal.hpp"
#include "cwts/core/money.hpp"

namespace cwts::sim {

namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool valid_asset(std::string_view a) noexcept {
  if (a.empty() || a.size() > 20) return false;
  for (const char c : a) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

}  // namespace

bool parse_balance_spec(std::string_view spec, std::vector<AssetAmount>& out, std::string& error) {
  out.clear();
  if (trim(spec).empty()) return true;
  while (true) {
    const std::size_t comma = spec.find(',');
    const std::string_view item = trim(spec.substr(0, comma));
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      error = "balance '" + std::string(item) + "': expected ASSET=AMOUNT";
      return false;
    }
    const std::string_view asset = trim(item.substr(0, eq));
    const std::string_view amount = trim(item.substr(eq + 1));
    if (!valid_asset(asset)) {
      error = "balance '" + std::string(item) + "': asset must be 1-20 of A-Z, 0-9";
      return false;
    }
    Amount v{};
    const core::DecimalErrc rc = core::parse(amount, v);
    if (rc != core::DecimalErrc::kOk || v < Amount{}) {
      error = "balance '" + std::string(item) + "': amount '" + std::string(amount) +
              "': " + (rc != core::DecimalErrc::kOk ? core::to_string(rc) : "negative");
      return false;
    }
    for (const auto& a : out) {
      if (a.asset == asset) {
        error = "balance '" + std::string(item) + "': asset " + std::string(asset) + " repeated";
        return false;
      }
    }
    out.push_back({std::string(asset), v});
    if (comma == std::string_view::npos) break;
    spec.remove_prefix(comma + 1);
  }
  return true;
}

Account::Account(const std::vector<AssetAmount>& initial) {
  for (const auto& a : initial) credit(a.asset, a.amount);
}

Balance Account::balance(std::string_view asset) const noexcept {
  const auto it = balances_.find(asset);
  return it == balances_.end() ? Balance{} : it->second;
}

Balance& Account::at(std::string_view asset) {
  auto it = balances_.find(asset);
  if (it == balances_.end()) it = balances_.emplace(std::string(asset), Balance{}).first;
  return it->second;
}

void Account::credit(std::string_view asset, Amount amount) {
  assert(amount >= Amount{});
  at(asset).free += amount;
}

bool Account::lock(std::string_view asset, Amount amount) {
  assert(amount >= Amount{});
  Balance& b = at(asset);
  if (b.free < amount) return false;
  b.free -= amount;
  b.locked += amount;
  return true;
}

void Account::unlock(std::string_view asset, Amount amount) {
  Balance& b = at(asset);
  assert(amount >= Amount{} && amount <= b.locked);
  b.locked -= amount;
  b.free += amount;
}

void Account::spend_locked(std::string_view asset, Amount amount) {
  Balance& b = at(asset);
  assert(amount >= Amount{} && amount <= b.locked);
  b.locked -= amount;
}

void Account::debit(std::string_view asset, Amount amount) {
  Balance& b = at(asset);
  assert(amount >= Amount{} && amount <= b.free);
  b.free -= amount;
}

void Account::add_trade(Trade trade) {
  auto it = trades_.find(trade.symbol);
  if (it == trades_.end()) it = trades_.emplace(trade.symbol, std::vector<Trade>{}).first;
  it->second.push_back(std::move(trade));
}

std::span<const Trade> Account::trades(std::string_view symbol) const noexcept {
  const auto it = trades_.find(symbol);
  if (it == trades_.end()) return {};
  return it->second;
}

}  // namespace cwts::sim
