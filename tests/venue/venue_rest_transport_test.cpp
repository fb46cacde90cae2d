// BinanceRestVenue's transport against a venue that misbehaves in one exact way: it takes the
// connection and then reads nothing, or reads the request and answers nothing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cwts/venue/binance_rest.hpp"
#include "error_listener.hpp"

namespace {

using namespace std::chrono_literals;

using Listener = cwts::venue::test::ErrorListener;

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A loopback listener the venue connects to. With `drain`, a thread accepts the connection and
// reads everything and answers nothing; without, the connection is never accepted nor read (and a
// receive buffer of 4 KiB, inherited by it, fills at once).
class SilentVenue {
 public:
  explicit SilentVenue(bool drain) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int small = 4096;
    if (!drain) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd_, 4) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "cannot listen on loopback";
    }
    port_ = ntohs(a.sin_port);
    if (drain) {
      reader_ = std::thread([this] {
        const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        char buf[65536];
        while (::recv(c, buf, sizeof buf, 0) > 0) bytes_ += 1;
        ::close(c);
      });
    }
  }
  ~SilentVenue() {
    ::shutdown(fd_, SHUT_RDWR);  // wakes a thread still in accept
    if (reader_.joinable()) reader_.join();
    ::close(fd_);
  }
  SilentVenue(const SilentVenue&) = delete;
  SilentVenue& operator=(const SilentVenue&) = delete;
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] bool read_something() const { return bytes_.load() > 0; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread reader_;
  std::atomic<int> bytes_{0};
};

struct Outcome {
  std::uint64_t transport_errors = 0;
  std::uint64_t responses = 0;
  std::chrono::steady_clock::duration took{};
  std::vector<std::string> errors;
};

// Runs a venue client with timeout_ms 300 against `url` until its first transport error (or 10 s).
Outcome first_failure(const std::string& url, std::string api_key) {
  cwts::venue::BinanceRestOptions o;
  o.rest_url = url;
  o.api_key = std::move(api_key);
  o.api_secret = "s";
  o.timeout_ms = 300;
  o.connections = 1;
  boost::asio::io_context ioc;
  cwts::venue::BinanceRestVenue v(ioc, o);
  Listener l;
  v.set_listener(&l);
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + 10s;
  while (v.counters().transport_errors == 0 && std::chrono::steady_clock::now() < deadline) {
    ioc.run_for(5ms);
    if (ioc.stopped()) ioc.restart();
    v.tick(wall_ns());
  }
  return {v.counters().transport_errors, v.counters().responses,
          std::chrono::steady_clock::now() - start, l.errors};
}

// A request has no stream timer (arming one costs a syscall, the write's before the order's
// bytes): the venue bounds it by timeout_ms from tick(). A request larger than the socket buffers
// (a 16 MiB API key in its header) to a venue that reads nothing cannot be written: the write
// gives up after the timeout, the connection is closed and the failure said.
TEST(VenueRestTransport, AWriteTheVenueDoesNotTakeGivesUpAfterTheRequestTimeout) {
  SilentVenue venue(false);
  const Outcome out = first_failure(venue.url(), std::string(16U << 20, 'k'));
  ASSERT_EQ(out.transport_errors, 1U) << "the write never gave up";
  EXPECT_EQ(out.responses, 0U);
  EXPECT_GE(out.took, 300ms);
  ASSERT_FALSE(out.errors.empty());
  EXPECT_NE(out.errors.front().find("REST write failed"), std::string::npos) << out.errors.front();
  EXPECT_NE(out.errors.front().find("due to a timeout"), std::string::npos) << out.errors.front();
}

// The same for an answer that does not come: the request was taken, nothing comes back.
TEST(VenueRestTransport, AnAnswerThatDoesNotComeGivesUpAfterTheRequestTimeout) {
  SilentVenue venue(true);
  const Outcome out = first_failure(venue.url(), "k");
  ASSERT_EQ(out.transport_errors, 1U) << "the wait for the answer never gave up";
  EXPECT_TRUE(venue.read_something());
  EXPECT_EQ(out.responses, 0U);
  EXPECT_GE(out.took, 300ms);
  ASSERT_FALSE(out.errors.empty());
  EXPECT_NE(out.errors.front().find("REST read failed"), std::string::npos) << out.errors.front();
  EXPECT_NE(out.errors.front().find("due to a timeout"), std::string::npos) << out.errors.front();
}

}  // namespace
