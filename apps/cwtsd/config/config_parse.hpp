// Private to config/: Section, the strict reader of one JSON object of the config file, and the
// parsers of values and sub-sections (config_values.cpp) that parse_config (config.cpp) uses.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "config/config.hpp"
#include "cwts/core/decimal.hpp"

namespace cwts::daemon::detail {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

inline std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

inline const char* type_name(element_type t) {
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

std::uint32_t parse_mode(const std::string& key, const std::string& s);
std::uint32_t parse_timeframe(const std::string& key, std::string_view tf);
bool valid_symbol(std::string_view s);
void parse_indicators(element e, Config& c);
// `warm`: the section takes warm_us (the exec thread's).
void thread_section(Section& parent, std::string_view key, ThreadConfig& t, bool warm = false);
void slot_section(Section& s, SlotConfig& slot);
void parse_listen(const std::string& key, const std::string& listen, std::string& address,
                  std::uint16_t& port);

}  // namespace cwts::daemon::detail
