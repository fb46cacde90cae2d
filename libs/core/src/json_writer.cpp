// JsonWriter: compact JSON with RFC 8259 string escaping and UTF-8 validation.
#include "cwts/core/json_writer.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "cwts/core/decimal.hpp"

namespace cwts::core {

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (depth_ > 0) {
    const std::uint64_t bit = std::uint64_t{1} << (depth_ - 1);
    if ((has_value_ & bit) != 0) out_.push_back(',');
    has_value_ |= bit;
  }
}

void JsonWriter::open(char c) {
  before_value();
  if (depth_ == kMaxDepth) throw std::length_error("JsonWriter: nesting deeper than 64");
  out_.push_back(c);
  has_value_ &= ~(std::uint64_t{1} << depth_);
  ++depth_;
}

void JsonWriter::close(char c) {
  out_.push_back(c);
  if (depth_ > 0) --depth_;
}

JsonWriter& JsonWriter::begin_object() {
  open('{');
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  close('}');
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  open('[');
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  close(']');
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  before_value();
  append_json_string(out_, name);
  out_.push_back(':');
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view s) {
  before_value();
  append_json_string(out_, s);
  return *this;
}

JsonWriter& JsonWriter::integer(std::int64_t v) {
  before_value();
  out_ += std::to_string(v);
  return *this;
}

JsonWriter& JsonWriter::uinteger(std::uint64_t v) {
  before_value();
  out_ += std::to_string(v);
  return *this;
}

JsonWriter& JsonWriter::real(double v) {
  before_value();
  if (!std::isfinite(v)) {
    out_ += "null";
    return *this;
  }
  char buf[40];
  const int n = std::snprintf(buf, sizeof buf, "%.9g", v);
  out_.append(buf, static_cast<std::size_t>(n));
  return *this;
}

JsonWriter& JsonWriter::boolean(bool v) {
  before_value();
  out_ += v ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::decimal(std::int64_t v, int decimals) {
  before_value();
  char buf[48];
  const std::size_t n = format_fixed(v, decimals, buf);
  out_.push_back('"');
  out_.append(buf, n);
  out_.push_back('"');
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
  before_value();
  out_.append(json);
  return *this;
}

}  // namespace cwts::core
