// A venue's HTTP answer read without an allocation once its connection is warm. Beast's
// response_parser kept every header in a node of its own (about five allocations an answer) and
// the body in a new string; the venue client reads four headers and the body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/optional.hpp>
#include <simdjson.h>

#include "cwts/net/http_header.hpp"

namespace cwts::venue::detail {

// One answer: the status, Binance's counters (X-MBX-USED-WEIGHT-1M, X-MBX-ORDER-COUNT-10S and
// -1D, net::leading_u64 of the first of each, 0 when absent), Retry-After in seconds, and the
// body, whose string keeps its capacity (with simdjson's padding, so it is parsed in place).
struct Answer {
  int status = 0;
  std::uint64_t used_weight_1m = 0;
  std::uint64_t order_count_10s = 0;
  std::uint64_t order_count_1d = 0;
  std::int64_t retry_after_s = 0;
  std::string body;
  void clear() noexcept {
    status = 0;
    used_weight_1m = order_count_10s = order_count_1d = 0;
    retry_after_s = 0;
    body.clear();
  }
};

// simdjson grows a parser (its document, and its copy of an unpadded input) to exactly the length
// of each document longer than any before: a venue's messages growing a byte at a time (ids, sums)
// reallocated it four times each. Sized once here, by parsing that much blank as an unpadded
// input, it grows only for a longer document.
inline void presize(simdjson::dom::parser& p, std::size_t bytes) {
  std::string blank(bytes, ' ');
  blank.back() = '0';  // a document: blanks and one number
  (void)p.parse(blank.data(), blank.size(), true);
}

class AnswerParser final : public boost::beast::http::basic_parser<false> {
 public:
  explicit AnswerParser(Answer& into) : a_(into) { a_.clear(); }

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;
  using field = boost::beast::http::field;
  using verb = boost::beast::http::verb;

  static std::string_view sv(string_view s) noexcept { return {s.data(), s.size()}; }

  void on_request_impl(verb, string_view, string_view, int, error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code&) override { a_.status = code; }
  void on_field_impl(field name, string_view name_string, string_view value, error_code&) override {
    // The first of each, as fields::find() reads them.
    if (name == field::retry_after) {
      if ((seen_ & 1U) == 0) a_.retry_after_s = net::retry_after_value_s(sv(value));
      seen_ |= 1U;
    } else if (name == field::unknown) {
      std::uint64_t* to = nullptr;
      unsigned bit = 0;
      if (boost::beast::iequals(name_string, "X-MBX-USED-WEIGHT-1M")) {
        to = &a_.used_weight_1m;
        bit = 2;
      } else if (boost::beast::iequals(name_string, "X-MBX-ORDER-COUNT-10S")) {
        to = &a_.order_count_10s;
        bit = 4;
      } else if (boost::beast::iequals(name_string, "X-MBX-ORDER-COUNT-1D")) {
        to = &a_.order_count_1d;
        bit = 8;
      }
      if (to != nullptr && (seen_ & bit) == 0) *to = net::leading_u64(sv(value));
      seen_ |= bit;
    }
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
    if (length) a_.body.reserve(static_cast<std::size_t>(*length) + simdjson::SIMDJSON_PADDING);
  }
  std::size_t on_body_impl(string_view body, error_code&) override {
    a_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
    a_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  Answer& a_;
  unsigned seen_ = 0;
};

}  // namespace cwts::venue::detail
