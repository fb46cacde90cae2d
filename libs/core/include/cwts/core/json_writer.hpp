// JsonWriter: a small append-only JSON text builder with correct string escaping.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cwts/core/json_string.hpp"

namespace cwts::core {

// Writes compact JSON (no spaces, members in call order, as Binance sends it). Commas are
// inserted automatically; the caller balances begin/end. Strings are escaped per RFC 8259:
// '"', '\\' and control characters; invalid UTF-8 bytes become U+FFFD so the output is always
// valid JSON. Not thread-safe.
class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  // A member name inside an object; the next call writes its value.
  JsonWriter& key(std::string_view name);

  JsonWriter& string(std::string_view s);
  JsonWriter& integer(std::int64_t v);
  JsonWriter& uinteger(std::uint64_t v);
  // A double with 9 significant digits; NaN and infinities are written as null.
  JsonWriter& real(double v);
  JsonWriter& boolean(bool v);
  JsonWriter& null();
  // A fixed-point value as a JSON string with exactly `decimals` decimals ("0.10000000").
  JsonWriter& decimal(std::int64_t v, int decimals = 8);
  // Already-serialised JSON, inserted as one value.
  JsonWriter& raw(std::string_view json);

  [[nodiscard]] const std::string& str() const& noexcept { return out_; }
  [[nodiscard]] std::string str() && noexcept { return std::move(out_); }

 private:
  void before_value();

  std::string out_;
  // One entry per open container: true once it holds a value (the next needs a comma).
  std::vector<bool> has_value_;
  bool after_key_ = false;
};

}  // namespace cwts::core
