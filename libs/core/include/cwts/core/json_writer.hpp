// JsonWriter: a small append-only JSON text builder with correct string escaping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "cwts/core/json_string.hpp"
#include "cwts/core/money.hpp"

namespace cwts::core {

// Writes compact JSON (no spaces, members in call order, as Binance sends it). Commas are
// inserted automatically; the caller balances begin/end. Strings are escaped per RFC 8259:
// '"', '\\' and control characters; invalid UTF-8 bytes become U+FFFD so the output is always
// valid JSON. Not thread-safe.
class JsonWriter {
 public:
  // Nesting deeper than kMaxDepth containers throws std::length_error (no writer here nests more
  // than a handful; the fixed bound keeps every payload to one allocation, reserved up front).
  static constexpr int kMaxDepth = 64;

  explicit JsonWriter(std::size_t reserve = 256) { out_.reserve(reserve); }
  // Writes into `buffer`'s room (cleared; str() && gives it back): a caller that keeps its
  // buffer from one payload to the next allocates none once it is large enough.
  JsonWriter(std::string&& buffer, std::size_t reserve) : out_(std::move(buffer)) {
    out_.clear();
    out_.reserve(reserve);
  }

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
  // A price, quantity, notional or amount, as Binance writes it ("0.35270000").
  template <class Tag>
  JsonWriter& decimal(Fixed8<Tag> v) {
    return decimal(v.raw, kWireDecimals);
  }
  // Already-serialised JSON, inserted as one value.
  JsonWriter& raw(std::string_view json);

  [[nodiscard]] const std::string& str() const& noexcept { return out_; }
  [[nodiscard]] std::string str() && noexcept { return std::move(out_); }

 private:
  void before_value();
  void open(char c);
  void close(char c);

  std::string out_;
  // Bit d (d < depth_) is set once the open container at depth d holds a value (the next one
  // needs a comma).
  std::uint64_t has_value_ = 0;
  int depth_ = 0;
  bool after_key_ = false;
};

}  // namespace cwts::core
