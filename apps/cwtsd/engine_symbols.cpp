// Engine: symbols added and removed at run time (ADR 0025): their exchangeInfo entries from the
// venue, the md and exec threads taking them in, the file that keeps them across restarts.
#include <algorithm>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cwts/concurrent/word_copy.hpp"
#include "cwts/core/ascii.hpp"
#include "cwts/core/clock.hpp"
#include "cwts/log/json_log.hpp"
#include "cwts/net/http_get.hpp"
#include "engine_impl.hpp"
#include "kept_symbols.hpp"

namespace cwts::daemon {

namespace cc = cwts::concurrent;

namespace {

// The symbols' exchangeInfo entries from the venue, one request for them all
// (GET /api/v3/exchangeInfo?symbols=[...]); missing from the map when the venue does not list
// them. Binance refuses the whole request (-1121 "Invalid symbol.", HTTP 400) when one is unknown:
// then each is asked alone, so the error can name it.
struct FetchedSymbol {
  std::unique_ptr<binance::SymbolSpec> spec;
  std::string json;  // its object as the venue wrote it
};
std::vector<FetchedSymbol> fetch_symbol_specs(const Config& cfg,
                                              const std::vector<std::string>& names,
                                              Engine& engine) {
  net::HttpGetOptions o;
  o.tls_verify = cfg.venue.tls_verify;
  o.ca_file = cfg.venue.ca_file;
  o.timeout = std::chrono::milliseconds(cfg.venue.request_timeout_ms * 2);
  std::vector<FetchedSymbol> out(names.size());
  const auto ask = [&](std::size_t first, std::size_t last) {
    // exchangeInfo weighs 20: charged to the engine's budget like the gateway's look-ups.
    if (engine.venue_requests_held()) {
      throw SymbolError("the venue said back off (a 429/418): ask again after its Retry-After");
    }
    if (!engine.try_charge_venue_lookup(20)) {
      throw SymbolError(
          "the venue's request-weight budget is spent for now; ask again in a minute");
    }
    const std::string target = binance::exchange_info_target(names, first, last);
    std::string body;
    try {
      body = net::http_get(cfg.venue.rest_url, target, o);
    } catch (const std::exception& e) {
      // A 429/418: every venue request waits, and no other look-up follows this one.
      if (const std::int64_t s = net::rate_limit_wait_s(e); s > 0) {
        engine.hold_venue_requests(s);
        throw SymbolError("the venue said back off for " + std::to_string(s) +
                          " s; ask again after that (" + e.what() + ")");
      }
      throw;
    }
    const binance::ExchangeInfo info = binance::parse_exchange_info(body);
    const binance::ExchangeInfoJson objects = binance::split_exchange_info_json(body);
    for (std::size_t k = first; k < last; ++k) {
      if (const binance::SymbolSpec* spec = info.find(names[k])) {
        out[k].spec = std::make_unique<binance::SymbolSpec>(*spec);
      }
      for (const auto& [n, object] : objects.symbols) {
        if (n == names[k]) out[k].json = object;
      }
    }
  };
  const auto unknown = [](const std::string& what) {
    return what.find("-1121") != std::string::npos ||
           what.find("Invalid symbol") != std::string::npos;
  };
  try {
    ask(0, names.size());
  } catch (const SymbolError&) {
    throw;
  } catch (const std::exception& e) {
    if (!unknown(e.what())) {
      throw SymbolError("exchangeInfo could not be fetched: " + std::string(e.what()));
    }
    for (std::size_t k = 0; k < names.size(); ++k) {
      try {
        ask(k, k + 1);
      } catch (const SymbolError&) {
        throw;
      } catch (const std::exception& e1) {
        if (!unknown(e1.what())) {
          throw SymbolError("exchangeInfo for " + names[k] +
                            " could not be fetched: " + std::string(e1.what()));
        }
        break;  // this one is unknown: the caller names it
      }
    }
  }
  return out;
}

bool wait_until(const std::function<bool()>& done, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

}  // namespace

namespace {
std::string normalise_symbol(std::string_view requested) {
  const std::string name = core::ascii_upper(requested);
  if (name.empty() || name.size() > 16 || !std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      })) {
    throw SymbolError("bad symbol \"" + std::string(requested) +
                      "\": 1 to 16 letters and digits, e.g. SOLUSDT");
  }
  return name;
}
}  // namespace

std::vector<Engine::SymbolAdded> Engine::add_symbols(std::span<const std::string> requested,
                                                     int timeout_ms) {
  Impl& i = *impl_;
  // Everything that can refuse the request is checked first (names, the venue, capacity):
  // an unknown symbol changes nothing, whatever its place in the list.
  std::vector<std::string> wanted;
  for (const std::string& r : requested) {
    std::string n = normalise_symbol(r);
    if (std::find(wanted.begin(), wanted.end(), n) == wanted.end()) wanted.push_back(std::move(n));
  }
  const auto names = i.names();
  std::vector<std::unique_ptr<binance::SymbolSpec>> specs(wanted.size());
  std::vector<std::string> jsons(wanted.size());
  std::vector<std::string> to_fetch;
  std::size_t fresh = 0;
  for (std::size_t k = 0; k < wanted.size(); ++k) {
    if (std::find(names.begin(), names.end(), wanted[k]) != names.end()) continue;
    ++fresh;
    // The start-up exchangeInfo has it when it came from a file (every symbol) or listed it.
    if (const binance::SymbolSpec* known = i.info.find(wanted[k])) {
      specs[k] = std::make_unique<binance::SymbolSpec>(*known);
      jsons[k] = i.json_object(wanted[k]);
    } else if (cfg_.venue.exchange_info_file.empty()) {
      to_fetch.push_back(wanted[k]);
    }
  }
  if (names.size() + fresh > i.symbol_limit()) {
    throw SymbolError(i.symbol_table_full() + " (" + std::to_string(names.size()) + " in use, " +
                      std::to_string(fresh) + " asked for; ids are not reused)");
  }
  if (!to_fetch.empty()) {
    auto fetched = fetch_symbol_specs(cfg_, to_fetch, *this);
    for (std::size_t f = 0, k = 0; k < wanted.size(); ++k) {
      if (f < to_fetch.size() && wanted[k] == to_fetch[f]) {
        specs[k] = std::move(fetched[f].spec);
        jsons[k] = std::move(fetched[f++].json);
      }
    }
  }
  for (std::size_t k = 0; k < wanted.size(); ++k) {
    if (std::find(names.begin(), names.end(), wanted[k]) != names.end()) continue;
    if (!specs[k]) {
      throw SymbolError(wanted[k] + " is not a symbol of the venue (not in its exchangeInfo)");
    }
  }
  std::vector<SymbolAdded> out;
  for (std::size_t k = 0; k < wanted.size(); ++k) {
    bool added = false;
    const std::uint16_t id =
        add_symbol(wanted[k], std::move(specs[k]), std::move(jsons[k]), timeout_ms, added);
    out.push_back({wanted[k], id, added});
    if (added) keep_symbols();
  }
  return out;
}

void Engine::keep_symbols() {
  Impl& i = *impl_;
  std::vector<std::string> added;
  const auto names = i.names();
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (!i.removed[k].load(std::memory_order_relaxed) && !listed(i.from_config, names[k]))
      added.emplace_back(names[k]);
  }
  (void)write_kept_symbols(cfg_, added);
}

std::uint16_t Engine::add_symbol(const std::string& name, std::unique_ptr<binance::SymbolSpec> spec,
                                 std::string json, int timeout_ms, bool& added) {
  Impl& i = *impl_;
  added = false;
  const auto names = i.names();
  for (std::size_t id = 0; id < names.size(); ++id) {
    if (names[id] != name) continue;
    const auto sid = static_cast<std::uint16_t>(id);
    if (!i.removed[id].load(std::memory_order_relaxed)) return sid;  // idempotent
    // Removed earlier: it trades again under its id (re-subscribed if it was unsubscribed).
    const binance::SymbolSpec* known =
        i.added_specs[id] ? i.added_specs[id].get() : i.info.find(name);
    auto done = std::make_shared<std::atomic<int>>(0);
    i.md->add_symbol(*known, done);
    if (!wait_until([&] { return done->load(std::memory_order_acquire) != 0; }, timeout_ms) ||
        done->load() < 0) {
      throw SymbolError("the md thread did not take " + name + " back within " +
                        std::to_string(timeout_ms) + " ms");
    }
    if (!wait_version(*i.exec, i.exec->set_symbol_closed(sid, false), timeout_ms)) {
      throw SymbolError("the exec thread did not reopen " + name + " within " +
                        std::to_string(timeout_ms) + " ms");
    }
    std::erase(i.draining, sid);
    i.removed[id].store(false, std::memory_order_relaxed);
    added = true;
    log::log_event(spdlog::level::warn, "engine", "symbol_readded",
                   log::LogFields().str("symbol", name).unum("id", sid));
    return sid;
  }
  if (!i.symbols_broken.empty()) throw SymbolError(i.symbols_broken);
  const std::size_t id = names.size();
  if (id >= i.symbol_limit()) throw SymbolError(i.symbol_table_full() + " (ids are not reused)");
  if (!spec) throw SymbolError(name + " is not a symbol of the venue (not in its exchangeInfo)");
  const auto sid = static_cast<std::uint16_t>(id);
  // Every thread's state for the id is written before anything is handed over: the exec thread
  // first (limits for the new list, then the rules), then the md thread (table, streams).
  i.added_specs[id] = std::move(spec);
  const binance::SymbolSpec& s = *i.added_specs[id];
  i.specs[id] = &s;
  i.json_objects[id] = std::move(json);
  i.set_name(id, name);
  std::vector<std::string_view> next(names.begin(), names.end());
  next.push_back(i.name_views[id]);
  (void)i.exec->reload(cfg_, next);
  i.exec->add_symbol(sid, s);
  auto done = std::make_shared<std::atomic<int>>(0);
  i.md->add_symbol(s, done);
  const bool md_ok =
      wait_until([&] { return done->load(std::memory_order_acquire) != 0; }, timeout_ms) &&
      done->load(std::memory_order_acquire) > 0;
  const bool exec_ok = wait_until([&] { return i.exec->symbols_adopted() > id; }, timeout_ms);
  // Published either way: the exec thread may have it, and ids must stay in step.
  i.name_count.store(id + 1, std::memory_order_release);
  if (!md_ok || !exec_ok) {
    // The threads' ids could diverge from here: no more additions until a restart.
    i.symbols_broken = "adding symbols is disabled: " + name + " was not taken by the " +
                       (md_ok ? "exec" : "md") + " thread within " + std::to_string(timeout_ms) +
                       " ms (restart the engine)";
    i.removed[id].store(true, std::memory_order_relaxed);
    (void)i.exec->set_symbol_closed(sid, true);
    throw SymbolError(i.symbols_broken);
  }
  added = true;
  log::log_event(spdlog::level::warn, "engine", "symbol_added",
                 log::LogFields().str("symbol", name).unum("id", sid).str("status", s.status_text));
  return sid;
}

std::uint16_t Engine::remove_symbol(std::string_view requested, int timeout_ms) {
  Impl& i = *impl_;
  const std::string name = core::ascii_upper(requested);
  const auto names = i.names();
  std::size_t id = names.size();
  std::size_t trading = 0;
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (names[k] == name) id = k;
    if (!i.removed[k].load(std::memory_order_relaxed)) ++trading;
  }
  if (id == names.size()) throw SymbolError(name + " is not a symbol of this engine");
  const auto sid = static_cast<std::uint16_t>(id);
  if (i.removed[id].load(std::memory_order_relaxed)) return sid;  // idempotent
  if (trading <= 1) throw SymbolError(name + " is the last symbol trading: it stays");
  // Refused from this limits version on; the positions' open_orders the exec thread publishes
  // after it are final but for the orders that end.
  if (!wait_version(*i.exec, i.exec->set_symbol_closed(sid, true), timeout_ms)) {
    throw SymbolError("the exec thread did not close " + name + " within " +
                      std::to_string(timeout_ms) + " ms");
  }
  i.removed[id].store(true, std::memory_order_relaxed);
  i.md->retire_symbol(sid);
  i.draining.push_back(sid);
  keep_symbols();
  log::log_event(spdlog::level::warn, "engine", "symbol_removed",
                 log::LogFields().str("symbol", name).unum("id", sid));
  poll_symbols();
  return sid;
}

void Engine::poll_symbols() {
  Impl& i = *impl_;
  if (i.draining.empty()) return;
  const auto& m = i.market.as<layout::MarketRegion>();
  std::erase_if(i.draining, [&](std::uint16_t id) {
    if (m.symbol(id).position.load().open_orders != 0) return false;
    i.md->unsubscribe_symbol(std::string(i.name_views[id]));
    log::log_event(spdlog::level::info, "engine", "symbol_unsubscribed",
                   log::LogFields().str("symbol", i.name_views[id]).unum("id", id));
    return true;
  });
}
}  // namespace cwts::daemon
