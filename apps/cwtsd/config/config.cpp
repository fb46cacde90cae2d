#include "config/config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <utility>

#include <boost/asio/ip/address.hpp>
#include <simdjson.h>

#include "cwts/core/ascii.hpp"
#include "cwts/core/decimal.hpp"
#include "cwts/md/frame.hpp"
#include "cwts/shm_layout/capacities.hpp"
#include "cwts/ta/ta.hpp"

namespace cwts::daemon {

ConfigError::ConfigError(std::string key, std::string reason)
    : std::runtime_error(key.empty() ? reason : key + ": " + reason),
      key_(std::move(key)),
      reason_(std::move(reason)) {}

const char* to_string(IdleStrategy s) noexcept {
  switch (s) {
    case IdleStrategy::kBusySpin:
      return "busy-spin";
    case IdleStrategy::kSpinThenYield:
      return "spin-then-yield";
    case IdleStrategy::kBlock:
      return "block";
  }
  return "?";
}

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

const char* type_name(element_type t) {
  switch (t) {
    case element_type::ARRAY:
      return "an array";
    case element_type::OBJECT:
      return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "a number";
    case element_type::STRING:
      return "a string";
    case element_type::BOOL:
      return "a boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "?";
}

// Reads one JSON object: each get_* marks its key as known; finish() refuses any other key.
class Section {
 public:
  Section(element e, std::string path) : path_(std::move(path)) {
    if (e.type() != element_type::OBJECT) {
      throw ConfigError(path_.empty() ? "(root)" : path_,
                        std::string("must be an object, not ") + type_name(e.type()));
    }
    if (e.get_object().get(obj_) != simdjson::SUCCESS) obj_ = {};
  }

  [[nodiscard]] std::optional<element> get(std::string_view key) {
    known_.emplace_back(key);
    element e;
    if (obj_.at_key(key).get(e) != simdjson::SUCCESS) return std::nullopt;
    return e;
  }
  [[nodiscard]] std::string path(std::string_view key) const { return join(path_, key); }

  void str(std::string_view key, std::string& out, bool allow_empty = true) {
    if (auto e = get(key)) {
      if (e->type() != element_type::STRING) bad_type(key, *e, "a string");
      out = std::string(e->get_string().value_unsafe());
      if (!allow_empty && out.empty()) throw ConfigError(path(key), "must not be empty");
    }
  }
  void boolean(std::string_view key, bool& out) {
    if (auto e = get(key)) {
      if (e->type() != element_type::BOOL) bad_type(key, *e, "true or false");
      out = e->get_bool().value_unsafe();
    }
  }
  template <typename T>
  void integer(std::string_view key, T& out, std::int64_t lo, std::int64_t hi) {
    if (auto e = get(key)) out = static_cast<T>(int_value(key, *e, lo, hi));
  }
  std::int64_t int_value(std::string_view key, element e, std::int64_t lo, std::int64_t hi) {
    std::int64_t v = 0;
    if (e.type() == element_type::INT64) {
      v = e.get_int64().value_unsafe();
    } else if (e.type() == element_type::UINT64) {
      v = std::numeric_limits<std::int64_t>::max();
    } else {
      bad_type(key, e, "an integer");
    }
    if (v < lo || v > hi) {
      throw ConfigError(path(key), "must be between " + std::to_string(lo) + " and " +
                                       std::to_string(hi) + ", not " + std::to_string(v));
    }
    return v;
  }
  void ratio(std::string_view key, double& out) {
    if (get(key)) {
      number(key, out);
      if (!(out > 0.0 && out <= 1.0)) {
        throw ConfigError(path(key), "must be in (0, 1], not " + std::to_string(out));
      }
    }
  }
  // Any JSON number.
  void number(std::string_view key, double& out) {
    if (auto e = get(key)) {
      double v = 0;
      if (e->type() == element_type::DOUBLE) {
        v = e->get_double().value_unsafe();
      } else if (e->type() == element_type::INT64) {
        v = static_cast<double>(e->get_int64().value_unsafe());
      } else {
        bad_type(key, *e, "a number");
      }
      out = v;
    }
  }
  // A decimal amount written as a string ("0.5"), held at `decimals`. Non-negative.
  std::int64_t decimal_value(std::string_view key, element e, int decimals) {
    if (e.type() != element_type::STRING) {
      bad_type(key, e, "a decimal string such as \"0.5\" (numbers would lose exactness)");
    }
    const std::string_view s = e.get_string().value_unsafe();
    std::int64_t v = 0;
    const auto err = core::parse_fixed(s, decimals, v);
    if (err != core::DecimalErrc::kOk) {
      throw ConfigError(path(key), "\"" + std::string(s) + "\" is not a decimal with at most " +
                                       std::to_string(decimals) + " decimals (" +
                                       core::to_string(err) + ")");
    }
    if (v < 0) throw ConfigError(path(key), "must not be negative");
    return v;
  }
  void decimal(std::string_view key, std::int64_t& out, int decimals) {
    if (auto e = get(key)) out = decimal_value(key, *e, decimals);
  }
  template <typename E>
  void choice(std::string_view key, E& out, std::initializer_list<std::pair<const char*, E>> opts) {
    if (auto e = get(key)) {
      if (e->type() != element_type::STRING) bad_type(key, *e, "a string");
      const std::string_view s = e->get_string().value_unsafe();
      std::string names;
      for (const auto& [name, value] : opts) {
        if (s == name) {
          out = value;
          return;
        }
        names += names.empty() ? "" : ", ";
        names += std::string("\"") + name + "\"";
      }
      throw ConfigError(path(key), "\"" + std::string(s) + "\" is not one of " + names);
    }
  }
  std::optional<Section> section(std::string_view key) {
    if (auto e = get(key)) return Section(*e, path(key));
    return std::nullopt;
  }
  // Every key of the object (for maps keyed by name: symbols, slots).
  [[nodiscard]] object raw() const { return obj_; }
  void mark_all_known() { all_known_ = true; }

  void finish() const {
    if (all_known_) return;
    for (auto field : obj_) {
      const std::string_view k = field.key;
      if (std::find(known_.begin(), known_.end(), k) == known_.end()) {
        std::string names;
        for (const auto& n : known_) names += (names.empty() ? "" : ", ") + std::string(n);
        throw ConfigError(path(k), "unknown key (known here: " + names + ")");
      }
    }
  }

  [[noreturn]] void bad_type(std::string_view key, element e, const char* want) const {
    throw ConfigError(path(key), std::string("must be ") + want + ", not " + type_name(e.type()));
  }

 private:
  object obj_;
  std::string path_;
  std::vector<std::string_view> known_;
  bool all_known_ = false;
};

std::uint32_t parse_mode(const std::string& key, const std::string& s) {
  char* end = nullptr;
  const unsigned long v = std::strtoul(s.c_str(), &end, 8);
  if (s.empty() || *end != '\0' || v > 0777) {
    throw ConfigError(key, "\"" + s + "\" is not an octal file mode such as \"0660\"");
  }
  return static_cast<std::uint32_t>(v);
}

constexpr std::pair<const char*, std::uint32_t> kFrames[] = {
    {"1s", 1},     {"1m", 60},     {"3m", 180},   {"5m", 300},    {"15m", 900},
    {"30m", 1800}, {"1h", 3600},   {"2h", 7200},  {"4h", 14400},  {"6h", 21600},
    {"8h", 28800}, {"12h", 43200}, {"1d", 86400}, {"3d", 259200}, {"1w", 604800}};

}  // namespace

const char* interval_name(std::uint32_t seconds) noexcept {
  for (const auto& [name, s] : kFrames) {
    if (s == seconds) return name;
  }
  return "";
}

namespace {

std::uint32_t parse_timeframe(const std::string& key, std::string_view tf) {
  for (const auto& [name, s] : kFrames) {
    if (tf == name) return s;
  }
  throw ConfigError(key, "\"" + std::string(tf) +
                             "\" is not a Binance interval (1s, 1m, 3m, 5m, "
                             "15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d, 1w)");
}

bool valid_symbol(std::string_view s) {
  if (s.empty() || s.size() > 15) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); });
}

// "indicators": [{"name", "function", "timeframe", "params", "symbols"}, ...] (docs/indicators.md).
void parse_indicators(element e, Config& c) {
  if (e.type() != element_type::ARRAY) {
    throw ConfigError("indicators",
                      std::string("must be an array of objects, not ") + type_name(e.type()));
  }
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) arr = {};
  std::vector<std::size_t> slots(c.market.symbols.size(), 0);
  std::vector<std::vector<std::string>> names(c.market.symbols.size());
  std::size_t idx = 0;
  for (auto item : arr) {
    const std::string path = "indicators[" + std::to_string(idx++) + "]";
    Section s(item, path);
    publish::IndicatorSpec spec;
    s.str("name", spec.name, false);
    if (spec.name.size() > 24 || !std::all_of(spec.name.begin(), spec.name.end(), [](char ch) {
          return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
        })) {
      throw ConfigError(s.path("name"),
                        "\"" + spec.name + "\" must be 1 to 24 letters, digits, '_' or '-'");
    }
    std::string function;
    s.str("function", function, false);
    const ta::KindSpec* ks = ta::find_spec(function);
    if (ks == nullptr) {
      std::string all;
      for (std::size_t k = 0; k < ta::kKindCount; ++k) {
        all += (k == 0 ? "" : ", ") + std::string(ta::spec(static_cast<ta::Kind>(k)).name);
      }
      throw ConfigError(s.path("function"),
                        "\"" + function + "\" is not an indicator (" + all + ")");
    }
    spec.kind = ks->kind;
    spec.params = ta::default_params(ks->kind);
    std::string tf = "1m";
    s.str("timeframe", tf, false);
    spec.timeframe_s = parse_timeframe(s.path("timeframe"), tf);
    if (std::find(c.market.timeframes_s.begin(), c.market.timeframes_s.end(), spec.timeframe_s) ==
        c.market.timeframes_s.end()) {
      throw ConfigError(s.path("timeframe"), "\"" + tf + "\" is not one of market.timeframes");
    }
    if (auto pe = s.get("params")) {
      Section ps(*pe, s.path("params"));
      std::string known;
      for (std::size_t k = 0; k < ks->n_params; ++k) {
        known += (k == 0 ? "" : ", ") + std::string(ks->params[k].name);
        ps.number(ks->params[k].name, spec.params.v[k]);
      }
      for (auto field : ps.raw()) {
        bool ok = false;
        for (std::size_t k = 0; k < ks->n_params; ++k) ok = ok || field.key == ks->params[k].name;
        if (!ok) {
          throw ConfigError(ps.path(field.key),
                            std::string("is not a parameter of ") + ks->name +
                                (known.empty() ? " (it takes none)" : " (" + known + ")"));
        }
      }
      ps.mark_all_known();
      try {
        ta::validate(ks->kind, spec.params);
      } catch (const std::invalid_argument& err) {
        throw ConfigError(s.path("params"), err.what());
      }
    }
    if (auto se = s.get("symbols")) {
      if (se->type() != element_type::ARRAY) s.bad_type("symbols", *se, "an array of symbols");
      simdjson::dom::array syms;
      if (se->get_array().get(syms) != simdjson::SUCCESS) syms = {};
      for (auto v : syms) {
        if (v.type() != element_type::STRING) s.bad_type("symbols", v, "an array of strings");
        const std::string sym = core::ascii_upper(v.get_string().value_unsafe());
        if (std::find(c.market.symbols.begin(), c.market.symbols.end(), sym) ==
            c.market.symbols.end()) {
          throw ConfigError(s.path("symbols"), "\"" + sym + "\" is not one of market.symbols");
        }
        spec.symbols.push_back(std::move(sym));
      }
    }
    s.finish();
    // Per symbol: at most kMaxIndicators values, names unique.
    for (std::size_t k = 0; k < c.market.symbols.size(); ++k) {
      if (!spec.symbols.empty() && std::find(spec.symbols.begin(), spec.symbols.end(),
                                             c.market.symbols[k]) == spec.symbols.end()) {
        continue;
      }
      for (std::size_t j = 0; j < ks->n_outputs; ++j) {
        const std::string value = ks->n_outputs == 1 ? spec.name : spec.name + "." + ks->outputs[j];
        if (value.size() > 24) {
          throw ConfigError(s.path("name"),
                            "\"" + value + "\" (name.output) is longer than 24 characters");
        }
        if (std::find(names[k].begin(), names[k].end(), value) != names[k].end()) {
          throw ConfigError(s.path("name"),
                            "\"" + value + "\" is used twice for " + c.market.symbols[k]);
        }
        names[k].push_back(value);
      }
      slots[k] += ks->n_outputs;
      if (slots[k] > layout::kMaxIndicators) {
        throw ConfigError(path, "more than " + std::to_string(layout::kMaxIndicators) +
                                    " indicator values for " + c.market.symbols[k]);
      }
    }
    c.indicators.push_back(std::move(spec));
  }
}

void thread_section(Section& parent, std::string_view key, ThreadConfig& t) {
  if (auto s = parent.section(key)) {
    s->integer("core", t.core, -1, 1023);
    s->choice("idle", t.idle,
              {{"busy-spin", IdleStrategy::kBusySpin},
               {"spin-then-yield", IdleStrategy::kSpinThenYield},
               {"block", IdleStrategy::kBlock}});
    s->finish();
  }
}

void slot_section(Section& s, SlotConfig& slot) {
  s.boolean("trade", slot.trade);
  s.boolean("reduce_only", slot.reduce_only);
  s.finish();
}

// "IP:PORT" (port 0 = ephemeral) into address and port, or ConfigError on `key`.
void parse_listen(const std::string& key, const std::string& listen, std::string& address,
                  std::uint16_t& port) {
  const std::size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? "" : listen.substr(0, colon);
  const std::string p = colon == std::string::npos ? "" : listen.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // "[::1]:8090"
  }
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(host, ec);
  char* end = nullptr;
  const long n = p.empty() ? -1 : std::strtol(p.c_str(), &end, 10);
  if (ec || n < 0 || n > 65535 || *end != '\0') {
    throw ConfigError(
        key, "\"" + listen + "\" is not IP:PORT (e.g. \"127.0.0.1:9464\"; port 0 = ephemeral)");
  }
  address = host;
  port = static_cast<std::uint16_t>(n);
}

}  // namespace

Config parse_config(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  element root;
  if (auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
    throw ConfigError("", std::string("not valid JSON: ") + simdjson::error_message(err));
  }
  Config c;
  Section top(root, "");

  if (auto s = top.section("region")) {
    s->str("instance", c.region.instance, false);
    if (c.region.instance.size() > 31 ||
        c.region.instance.find_first_of("/ \t") != std::string::npos) {
      throw ConfigError("region.instance", "must be at most 31 characters without '/' or spaces");
    }
    s->choice("hugepages", c.region.hugepages,
              {{"auto", HugepageMode::kAuto},
               {"require", HugepageMode::kRequire},
               {"off", HugepageMode::kOff}});
    s->str("hugepage_dir", c.region.hugepage_dir);
    s->str("shm_dir", c.region.shm_dir, false);
    s->str("group", c.region.group);
    std::string mode;
    s->str("market_mode", mode);
    if (!mode.empty()) c.region.market_mode = parse_mode("region.market_mode", mode);
    mode.clear();
    s->str("signals_mode", mode);
    if (!mode.empty()) c.region.signals_mode = parse_mode("region.signals_mode", mode);
    s->boolean("lock_pages", c.region.lock_pages);
    s->finish();
  }

  if (auto s = top.section("venue")) {
    s->choice("kind", c.venue.kind,
              {{"binance", VenueKind::kBinance}, {"paper", VenueKind::kPaper}});
    s->str("rest_url", c.venue.rest_url, false);
    s->str("ws_url", c.venue.ws_url, false);
    s->str("exchange_info_file", c.venue.exchange_info_file);
    s->str("api_key_env", c.venue.api_key_env);
    s->str("api_secret_env", c.venue.api_secret_env);
    s->str("api_key_file", c.venue.api_key_file);
    s->boolean("tls_verify", c.venue.tls_verify);
    s->str("ca_file", c.venue.ca_file);
    s->integer("recv_window_ms", c.venue.recv_window_ms, 1, 60000);
    s->integer("request_timeout_ms", c.venue.request_timeout_ms, 100, 120000);
    s->integer("order_poll_ms", c.venue.order_poll_ms, 10, 60000);
    s->integer("connections", c.venue.connections, 1, 16);
    s->integer("paper_fee_bps", c.venue.paper_fee_bps, 0, 1000);
    s->finish();
  }

  if (auto s = top.section("market")) {
    if (auto e = s->get("symbols")) {
      if (e->type() != element_type::ARRAY) s->bad_type("symbols", *e, "an array of symbols");
      simdjson::dom::array arr;
      if (e->get_array().get(arr) != simdjson::SUCCESS) arr = {};
      for (auto v : arr) {
        if (v.type() != element_type::STRING) s->bad_type("symbols", v, "an array of strings");
        const std::string sym = core::ascii_upper(v.get_string().value_unsafe());
        if (!valid_symbol(sym)) {
          throw ConfigError("market.symbols", "\"" + sym + "\" is not a Binance symbol");
        }
        if (std::find(c.market.symbols.begin(), c.market.symbols.end(), sym) !=
            c.market.symbols.end()) {
          throw ConfigError("market.symbols", "\"" + sym + "\" is listed twice");
        }
        c.market.symbols.push_back(std::move(sym));
      }
    }
    if (auto e = s->get("streams")) {
      if (e->type() != element_type::ARRAY) s->bad_type("streams", *e, "an array of strings");
      c.market.streams.clear();
      simdjson::dom::array arr;
      if (e->get_array().get(arr) != simdjson::SUCCESS) arr = {};
      for (auto v : arr) {
        if (v.type() != element_type::STRING) s->bad_type("streams", v, "an array of strings");
        c.market.streams.emplace_back(v.get_string().value_unsafe());
      }
      if (c.market.streams.empty()) throw ConfigError("market.streams", "must not be empty");
    }
    if (auto e = s->get("timeframes")) {
      if (e->type() != element_type::ARRAY)
        s->bad_type("timeframes", *e, "an array such as [\"1m\"]");
      c.market.timeframes_s.clear();
      simdjson::dom::array arr;
      if (e->get_array().get(arr) != simdjson::SUCCESS) arr = {};
      for (auto v : arr) {
        if (v.type() != element_type::STRING) s->bad_type("timeframes", v, "an array of strings");
        c.market.timeframes_s.push_back(
            parse_timeframe("market.timeframes", v.get_string().value_unsafe()));
      }
      if (c.market.timeframes_s.size() > layout::kMaxTimeframes) {
        throw ConfigError("market.timeframes",
                          "at most " + std::to_string(layout::kMaxTimeframes) + " timeframes");
      }
    }
    s->integer("snapshot_limit", c.market.snapshot_limit, 5, 5000);
    s->boolean("indicator_history", c.market.indicator_history);
    s->finish();
  }
  if (auto e = top.get("indicators")) parse_indicators(*e, c);

  if (c.market.symbols.empty())
    throw ConfigError("market.symbols", "at least one symbol is required");
  if (c.market.symbols.size() > layout::kMaxSymbols) {
    throw ConfigError("market.symbols",
                      "at most " + std::to_string(layout::kMaxSymbols) + " symbols");
  }

  if (auto s = top.section("risk")) {
    s->decimal("max_order_notional", c.risk.max_order_notional, md::kWireDecimals);
    s->decimal("max_position", c.risk.max_position, md::kWireDecimals);
    s->integer("max_open_orders", c.risk.max_open_orders, 0, 1000000);
    s->integer("price_band_bps", c.risk.price_band_bps, 0, 100000);
    s->integer("default_ttl_ms", c.risk.default_ttl_ms, 1, 3600000);
    s->integer("max_ttl_ms", c.risk.max_ttl_ms, 1, 86400000);
    s->choice("trading_state", c.risk.initial_state,
              {{"active", layout::TradingState::kActive},
               {"halted", layout::TradingState::kHalted},
               {"reduce_only", layout::TradingState::kReduceOnly}});
    if (auto per = s->section("symbols")) {
      for (auto field : per->raw()) {
        const std::string sym(field.key);
        if (std::find(c.market.symbols.begin(), c.market.symbols.end(), sym) ==
            c.market.symbols.end()) {
          throw ConfigError(per->path(sym), "not one of market.symbols");
        }
        Section o(field.value, per->path(sym));
        SymbolRiskOverride ov;
        ov.symbol = sym;
        if (auto e = o.get("max_order_notional")) {
          ov.max_order_notional = o.decimal_value("max_order_notional", *e, md::kWireDecimals);
        }
        if (auto e = o.get("max_position")) {
          ov.max_position = o.decimal_value("max_position", *e, md::kWireDecimals);
        }
        if (auto e = o.get("max_open_orders")) {
          ov.max_open_orders =
              static_cast<std::uint32_t>(o.int_value("max_open_orders", *e, 0, 1000000));
        }
        o.finish();
        c.risk_overrides.push_back(std::move(ov));
      }
      per->mark_all_known();
    }
    s->finish();
    if (c.risk.default_ttl_ms > c.risk.max_ttl_ms) {
      throw ConfigError("risk.default_ttl_ms", "must not exceed risk.max_ttl_ms");
    }
  }

  if (auto s = top.section("rate_limits")) {
    s->ratio("engine_share", c.rate.engine_share);
    s->ratio("slot_share", c.rate.slot_share);
    s->finish();
  }

  if (auto s = top.section("slots")) {
    // "default" first, so a numbered slot starts from it wherever it appears in the file.
    element def;
    if (s->raw().at_key("default").get(def) == simdjson::SUCCESS) {
      Section d(def, s->path("default"));
      slot_section(d, c.default_slot);
    }
    for (auto field : s->raw()) {
      const std::string_view k = field.key;
      if (k == "default") continue;
      char* end = nullptr;
      const std::string ks(k);
      const long idx = std::strtol(ks.c_str(), &end, 10);
      if (ks.empty() || *end != '\0' || idx < 0 || idx >= static_cast<long>(layout::kMaxSlots)) {
        throw ConfigError(s->path(k), "slot keys are \"default\" or an index 0.." +
                                          std::to_string(layout::kMaxSlots - 1));
      }
      const auto i = static_cast<std::size_t>(idx);
      if (c.slots.size() <= i) c.slots.resize(i + 1, c.default_slot);
      Section slot(field.value, s->path(k));
      slot_section(slot, c.slots[i]);
    }
    s->mark_all_known();
  }

  if (auto s = top.section("threads")) {
    thread_section(*s, "md", c.md_thread);
    thread_section(*s, "exec", c.exec_thread);
    thread_section(*s, "ctl", c.ctl_thread);
    s->finish();
  }

  if (auto s = top.section("shutdown")) {
    s->choice("on_stop", c.shutdown.on_stop,
              {{"cancel", StopAction::kCancel}, {"leave", StopAction::kLeave}});
    s->integer("timeout_ms", c.shutdown.timeout_ms, 0, 600000);
    s->finish();
  }

  if (auto s = top.section("control")) {
    s->boolean("enabled", c.control.enabled);
    std::string listen;
    s->str("listen", listen);
    if (!listen.empty()) parse_listen(s->path("listen"), listen, c.control.address, c.control.port);
    s->str("token_file", c.control.token_file);
    s->boolean("read_only_open", c.control.read_only_open);
    s->finish();
  }

  if (auto s = top.section("gateway")) {
    GatewayConfig& g = c.gateway;
    g.enabled = true;
    s->boolean("enabled", g.enabled);
    std::string listen;
    s->str("listen", listen);
    if (!listen.empty()) parse_listen(s->path("listen"), listen, g.address, g.port);
    s->boolean("allow_remote", g.allow_remote);
    s->integer("slot", g.slot, 0, static_cast<std::uint32_t>(layout::kMaxSlots - 1));
    s->str("api_key_env", g.api_key_env);
    s->str("api_secret_env", g.api_secret_env);
    s->str("api_key_file", g.api_key_file);
    s->integer("answer_timeout_ms", g.answer_timeout_ms, 100, 600000);
    s->integer("max_body_bytes", g.max_body_bytes, 1024, 1U << 20);
    boost::system::error_code ec;
    const auto addr = boost::asio::ip::make_address(g.address, ec);
    if (g.enabled && !g.allow_remote && !addr.is_loopback()) {
      throw ConfigError(s->path("listen"), g.address +
                                               " is not a loopback address: the gateway trades "
                                               "with the engine's keys; set allow_remote to "
                                               "listen there");
    }
    if (g.enabled && g.api_key_file.empty() &&
        (g.api_key_env.empty() || g.api_secret_env.empty())) {
      throw ConfigError(s->path("api_key_env"), "needs api_key_env/api_secret_env or api_key_file");
    }
    s->finish();
  }

  if (auto s = top.section("log")) {
    s->choice("level", c.log.level,
              {{"trace", std::string("trace")},
               {"debug", std::string("debug")},
               {"info", std::string("info")},
               {"warn", std::string("warn")},
               {"error", std::string("error")},
               {"off", std::string("off")}});
    s->str("file", c.log.file);
    s->integer("queue_size", c.log.queue_size, 64, 1 << 20);
    s->finish();
  }

  if (auto s = top.section("systemd")) {
    s->integer("progress_timeout_ms", c.systemd.progress_timeout_ms, 100, 600000);
    s->finish();
  }

  top.finish();

  if (c.venue.kind == VenueKind::kBinance && c.venue.api_key_file.empty() &&
      (c.venue.api_key_env.empty() || c.venue.api_secret_env.empty())) {
    throw ConfigError("venue.api_key_env",
                      "binance needs api_key_env/api_secret_env or api_key_file");
  }
  return c;
}

Config load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("", "cannot read config file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str());
}

}  // namespace cwts::daemon
