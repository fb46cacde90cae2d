// GET /api/v3/exchangeInfo: every market the venue lists (read-only), with the engine's symbols as
// the engine has them (docs/gateway.md, ADR 0026). The venue's list is fetched through the
// gateway's VenueFetcher at most once a minute and shared by every request waiting for it; if the
// venue cannot be reached, the answer is the engine's symbols (as before), never an error.
#include <map>
#include <set>
#include <stdexcept>

#include "cwts/binance/market_json.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/log/json_log.hpp"
#include "engine.hpp"
#include "gateway/gateway_impl.hpp"

namespace cwts::daemon {

namespace {

std::int64_t wall_ms() { return core::realtime_ns() / 1'000'000; }

}  // namespace

void Gateway::Impl::exchange_info(const binance::Request& r, Reply reply) {
  // The symbols asked for: `symbol`, `symbols` (a JSON array), or none (every market).
  std::vector<std::string> only;
  if (r.has("symbol") && r.has("symbols")) {
    return reply_error(reply, binance::make_error(binance::ErrorCode::kOptionalParamsBadCombo,
                                                  "Combination of optional parameters invalid."));
  }
  if (const std::string* s = r.find("symbol")) only.push_back(*s);
  if (const std::string* v = r.find("symbols");
      v != nullptr && !binance::parse_symbols_param(*v, only)) {
    return reply_error(reply, binance::errors::illegal_chars(
                                  "symbols",
                                  "^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}"
                                  "){0,1}\\]$"));
  }
  bool engine_only = !only.empty();
  for (const std::string& name : only) engine_only = engine_only && symbol_id(name) >= 0;

  auto answer = [this, only = std::move(only), reply = std::move(reply)]() mutable {
    std::map<std::string_view, std::string_view> engine_objects;
    for (const auto& [name, object] : json.symbols) engine_objects.emplace(name, object);
    std::map<std::string_view, std::string_view> venue_objects;
    std::vector<std::string_view> objects;
    if (only.empty()) {
      // The venue's order; the engine's object for each symbol it trades; then any engine symbol
      // the venue's list lacks (the list is older than the symbol, or could not be fetched).
      std::set<std::string_view> listed;
      objects.reserve(venue_markets.size() + json.symbols.size());
      for (const auto& [name, object] : venue_markets) {
        const auto e = engine_objects.find(name);
        objects.push_back(e != engine_objects.end() ? e->second : std::string_view(object));
        listed.insert(name);
      }
      for (const auto& [name, object] : json.symbols)
        if (!listed.contains(name)) objects.push_back(object);
    } else {
      for (const auto& [name, object] : venue_markets) venue_objects.emplace(name, object);
      for (const std::string& name : only) {
        if (const auto e = engine_objects.find(name); e != engine_objects.end()) {
          objects.push_back(e->second);
        } else if (const auto v = venue_objects.find(name); v != venue_objects.end()) {
          objects.push_back(v->second);
        } else {
          return reply_error(reply, binance::errors::bad_symbol());
        }
      }
    }
    reply_json(reply, binance::exchange_info_json(wall_ms(), info.rate_limits,
                                                  json.exchange_filters, objects));
  };
  if (engine_only) return answer();  // no venue look-up for the engine's own symbols
  with_venue_markets(std::move(answer));
}

void Gateway::Impl::with_venue_markets(std::function<void()> then) {
  const std::int64_t now = wall_ms();
  const bool fresh = venue_markets_ms != 0 && now - venue_markets_ms < kVenueMarketsTtlMs;
  const bool resting =
      venue_markets_failed_ms != 0 && now - venue_markets_failed_ms < kVenueMarketsRetryMs;
  if (fresh || (resting && !venue_markets_pending)) return then();
  venue_markets_waiters.push_back(std::move(then));
  if (venue_markets_pending) return;

  auto settle = [this](std::string_view failure) {
    if (!failure.empty()) {
      venue_markets_failed_ms = wall_ms();
      log::log_event(spdlog::level::warn, "gateway", "venue_markets_unavailable",
                     log::LogFields()
                         .str("error", failure)
                         .unum("markets_kept", venue_markets.size())
                         .unum("engine_symbols", json.symbols.size()));
    }
    venue_markets_pending = false;
    auto queued = std::move(venue_markets_waiters);
    venue_markets_waiters.clear();
    for (auto& w : queued) w();
  };
  // The engine's rate governor decides, as for every look-up; refused: the last list (or none).
  if (!engine.try_charge_venue_lookup(kExchangeInfoWeight)) {
    return settle("the engine's request-weight budget for venue look-ups is used up");
  }
  venue_markets_pending = true;
  fetcher->get("/api/v3/exchangeInfo", [this, settle](bool ok, std::string body) {
    if (!ok) return settle(body);
    try {
      binance::ExchangeInfoJson parsed = binance::split_exchange_info_json(body);
      venue_markets = std::move(parsed.symbols);
      venue_markets_ms = wall_ms();
      venue_markets_failed_ms = 0;
      log::log_event(spdlog::level::info, "gateway", "venue_markets",
                     log::LogFields().unum("markets", venue_markets.size()));
      settle({});
    } catch (const std::exception& e) {
      settle(std::string("the venue's exchangeInfo could not be read: ") + e.what());
    }
  });
}

binance::ApiError Gateway::Impl::not_traded(std::string_view symbol) const {
  std::string s(symbol);
  bool listed = false;
  for (const auto& [name, object] : venue_markets) listed = listed || name == symbol;
  return binance::make_error(
      binance::ErrorCode::kBadSymbol,
      "Invalid symbol. The engine does not trade " + s +
          (listed ? " (the venue lists it: its market data is read-only here)" : "") +
          "; add it to the engine first: the control plane's symbols.add (cwtsctl symbols add " +
          s + "), or CwtsStrategy's add_pairs for FreqTrade.");
}

}  // namespace cwts::daemon
