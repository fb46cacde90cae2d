// The configuration's values and sub-sections: file modes, Binance intervals, symbols, the
// indicators list, threads, slots and listen addresses (parse_config in config.cpp reads the rest).
#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <simdjson.h>

#include "config/config_parse.hpp"
#include "cwts/core/ascii.hpp"
#include "cwts/shm_layout/capacities.hpp"
#include "cwts/ta/ta.hpp"

namespace cwts::daemon {

namespace {

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

namespace detail {

std::uint32_t parse_mode(const std::string& key, const std::string& s) {
  char* end = nullptr;
  const unsigned long v = std::strtoul(s.c_str(), &end, 8);
  if (s.empty() || *end != '\0' || v > 0777) {
    throw ConfigError(key, "\"" + s + "\" is not an octal file mode such as \"0660\"");
  }
  return static_cast<std::uint32_t>(v);
}

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

void thread_section(Section& parent, std::string_view key, ThreadConfig& t, bool warm) {
  if (auto s = parent.section(key)) {
    s->integer("core", t.core, -1, 1023);
    s->choice("idle", t.idle,
              {{"busy-spin", IdleStrategy::kBusySpin},
               {"spin-then-yield", IdleStrategy::kSpinThenYield},
               {"block", IdleStrategy::kBlock}});
    if (warm) s->integer("warm_us", t.warm_us, 0, 1'000'000);
    s->finish();
  }
}

namespace {

// A user or group name, or a number, to its id; ConfigError naming `key` if there is none.
std::uint32_t principal_id(const std::string& key, const std::string& name, bool group) {
  if (!name.empty() &&
      std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return static_cast<std::uint32_t>(std::strtoul(name.c_str(), nullptr, 10));
  }
  char buf[4096];
  if (group) {
    struct group g {};
    struct group* found = nullptr;
    if (::getgrnam_r(name.c_str(), &g, buf, sizeof buf, &found) == 0 && found != nullptr) {
      return found->gr_gid;
    }
  } else {
    struct passwd p {};
    struct passwd* found = nullptr;
    if (::getpwnam_r(name.c_str(), &p, buf, sizeof buf, &found) == 0 && found != nullptr) {
      return found->pw_uid;
    }
  }
  throw ConfigError(key,
                    "\"" + name + "\" is not a " + (group ? "group" : "user") + " on this machine");
}

void principals(Section& s, std::string_view key, std::vector<std::uint32_t>& out, bool group) {
  auto e = s.get(key);
  if (!e) return;
  if (e->type() != simdjson::dom::element_type::ARRAY) {
    s.bad_type(key, *e, group ? "an array of group names or ids" : "an array of user names or ids");
  }
  out.clear();
  for (auto v : e->get_array()) {
    if (v.type() == simdjson::dom::element_type::STRING) {
      out.push_back(principal_id(s.path(key), std::string(v.get_string().value()), group));
    } else if (v.type() == simdjson::dom::element_type::INT64 && v.get_int64().value() >= 0 &&
               v.get_int64().value() <= 0xFFFFFFFFLL) {
      out.push_back(static_cast<std::uint32_t>(v.get_int64().value()));
    } else {
      s.bad_type(key, v,
                 group ? "an array of group names or ids" : "an array of user names or ids");
    }
  }
}

}  // namespace

void slot_section(Section& s, SlotConfig& slot) {
  s.boolean("trade", slot.trade);
  s.boolean("reduce_only", slot.reduce_only);
  s.choice("on_release", slot.cancel_on_release, {{"keep", false}, {"cancel", true}});
  principals(s, "users", slot.users, false);
  principals(s, "groups", slot.groups, true);
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

}  // namespace detail

}  // namespace cwts::daemon
