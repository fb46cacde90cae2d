// The venue client's HTTP answer reader (libs/venue/src/answer_parser.hpp) against the bytes a
// venue sends: the status, Binance's counters and Retry-After read as fields::find() read them
// (case-insensitive, the first of each, leading digits, saturating), a body by length or in
// chunks, and the body's string kept from one answer to the next.
#include "answer_parser.hpp"

#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <gtest/gtest.h>

namespace {

using cwts::venue::detail::Answer;
using cwts::venue::detail::AnswerParser;

// Parses one whole answer; false (with the error in *why) if the bytes are not one.
bool parse(std::string_view bytes, Answer& a, std::string* why = nullptr) {
  AnswerParser p(a);
  p.eager(true);
  boost::beast::error_code ec;
  const std::size_t used = p.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (!ec && !p.is_done()) p.put_eof(ec);
  if (why != nullptr) *why = ec ? ec.message() : std::to_string(used);
  return !ec && p.is_done();
}

TEST(AnswerParser, ReadsTheStatusTheCountersRetryAfterAndTheBody) {
  Answer a;
  ASSERT_TRUE(
      parse("HTTP/1.1 429 Too Many Requests\r\n"
            "Content-Type: application/json;charset=UTF-8\r\n"
            "x-mbx-used-weight-1m: 1201\r\n"
            "X-MBX-USED-WEIGHT-1M: 7\r\n"  // a second one: the first counts
            "X-MBX-ORDER-COUNT-10S: 12abc\r\n"
            "X-Mbx-Order-Count-1d: 99999999999999999999999\r\n"
            "retry-after: 999999999\r\n"
            "Content-Length: 47\r\n\r\n"
            R"({"code":-1003,"msg":"Too many requests; wait."})",
            a));
  EXPECT_EQ(a.status, 429);
  EXPECT_EQ(a.used_weight_1m, 1201U);
  EXPECT_EQ(a.order_count_10s, 12U);
  EXPECT_EQ(a.order_count_1d, UINT64_MAX);
  EXPECT_EQ(a.retry_after_s, cwts::net::kMaxRetryAfterS);
  EXPECT_EQ(a.body, R"({"code":-1003,"msg":"Too many requests; wait."})");
  // simdjson's padding is reserved, so the body is parsed in place.
  EXPECT_GE(a.body.capacity(), a.body.size() + simdjson::SIMDJSON_PADDING);
}

TEST(AnswerParser, AbsentHeadersAreZeroAndAChunkedBodyIsJoined) {
  Answer a;
  a.used_weight_1m = 5;  // from an earlier answer: cleared
  ASSERT_TRUE(
      parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\n{\"a\":\r\n3\r\n12}\r\n0\r\n\r\n",
            a));
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.used_weight_1m, 0U);
  EXPECT_EQ(a.retry_after_s, 0);
  EXPECT_EQ(a.body, R"({"a":12})");
}

TEST(AnswerParser, TheBodysStringIsKeptFromOneAnswerToTheNext) {
  Answer a;
  const std::string body(3000, 'x');
  const std::string bytes = "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n" + body;
  ASSERT_TRUE(parse(bytes, a));
  const char* data = a.body.data();
  const std::size_t capacity = a.body.capacity();
  ASSERT_TRUE(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", a));
  EXPECT_EQ(a.body, "{}");
  EXPECT_EQ(a.body.data(), data);  // no new allocation
  EXPECT_EQ(a.body.capacity(), capacity);
}

TEST(AnswerParser, ABrokenAnswerIsAnError) {
  Answer a;
  std::string why;
  EXPECT_FALSE(parse("HTTP/1.1 2x0 OK\r\n\r\n", a, &why));
  EXPECT_FALSE(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", a, &why)) << why;
}

}  // namespace
