// BinanceRestVenue's WebSocket API session against a peer that misbehaves in one exact way: it
// completes the WebSocket handshake and then never sends a frame. The session's silence is the
// venue's own check (ws_silence_ms): a ping at half of it, dead at it. A peer that answers the
// ping (Beast's server answers pings itself) keeps the session; a deaf one loses it.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>

#include "cwts/venue/binance_rest.hpp"
#include "error_listener.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// A loopback WebSocket peer on its own thread. kAnswersPings reads (so Beast pongs every ping)
// and counts the pings; kDeaf never reads after the handshake.
class SilentWsPeer {
 public:
  enum class Mode { kAnswersPings, kDeaf };
  explicit SilentWsPeer(Mode mode)
      : mode_(mode), acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~SilentWsPeer() {
    ioc_.stop();
    thread_.join();
  }
  SilentWsPeer(const SilentWsPeer&) = delete;
  SilentWsPeer& operator=(const SilentWsPeer&) = delete;

  [[nodiscard]] std::string url() const {
    return "ws://127.0.0.1:" + std::to_string(port_) + "/ws-api/v3";
  }
  [[nodiscard]] int sessions() const { return sessions_.load(); }
  [[nodiscard]] int pings() const { return pings_.load(); }

 private:
  struct Session {
    explicit Session(tcp::socket s) : ws(std::move(s)) {}
    websocket::stream<tcp::socket> ws;
    beast::flat_buffer buffer;
  };

  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec) return;
      auto session = std::make_shared<Session>(std::move(s));
      sessions_held_.push_back(session);
      session->ws.async_accept([this, session](beast::error_code ec2) {
        if (ec2) return;
        ++sessions_;
        if (mode_ == Mode::kAnswersPings) {
          session->ws.control_callback([this](websocket::frame_type kind, beast::string_view) {
            if (kind == websocket::frame_type::ping) ++pings_;
          });
          read(session);
        }
      });
      accept();
    });
  }
  void read(const std::shared_ptr<Session>& session) {
    session->ws.async_read(session->buffer, [this, session](beast::error_code ec, std::size_t n) {
      if (ec) return;
      session->buffer.consume(n);  // the subscription request: never answered
      read(session);
    });
  }

  Mode mode_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::vector<std::shared_ptr<Session>> sessions_held_;  // the peer's thread only
  std::atomic<int> sessions_{0};
  std::atomic<int> pings_{0};
  std::thread thread_;
};

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Outcome {
  std::uint64_t ws_connects = 0;
  std::vector<std::string> silence_errors;
  std::chrono::steady_clock::duration first_silence{};  // from the session's open
};

// A venue client with ws_silence_ms 1000 and a request timeout far longer (the unanswered
// subscription must not end the session first), its REST on a port nobody listens on.
Outcome run_against(const SilentWsPeer& peer, std::chrono::milliseconds how_long) {
  cwts::venue::BinanceRestOptions o;
  o.rest_url = "http://127.0.0.1:1";
  o.api_key = "k";
  o.api_secret = "s";
  o.timeout_ms = 30000;
  o.ws_api_url = peer.url();
  o.ws_silence_ms = 1000;
  boost::asio::io_context ioc;
  cwts::venue::BinanceRestVenue v(ioc, o);
  cwts::venue::test::ErrorListener l;
  v.set_listener(&l);
  Outcome r;
  std::chrono::steady_clock::time_point opened{};
  const auto end = std::chrono::steady_clock::now() + how_long;
  while (std::chrono::steady_clock::now() < end) {
    ioc.run_for(5ms);
    if (ioc.stopped()) ioc.restart();
    v.tick(wall_ns());
    if (opened == std::chrono::steady_clock::time_point{} && v.counters().ws_connects > 0) {
      opened = std::chrono::steady_clock::now();
    }
    for (const auto& e : l.errors) {
      if (e.find("nothing heard") == std::string::npos) continue;
      if (r.silence_errors.empty()) r.first_silence = std::chrono::steady_clock::now() - opened;
      r.silence_errors.push_back(e);
    }
    l.errors.clear();
  }
  r.ws_connects = v.counters().ws_connects;
  return r;
}

TEST(VenueWsApiSilence, APeerThatAnswersPingsKeepsTheSession) {
  SilentWsPeer peer(SilentWsPeer::Mode::kAnswersPings);
  const Outcome r = run_against(peer, 3500ms);
  EXPECT_TRUE(r.silence_errors.empty())
      << (r.silence_errors.empty() ? "" : r.silence_errors.front());
  EXPECT_EQ(r.ws_connects, 1U);
  EXPECT_EQ(peer.sessions(), 1);
  // A ping at every 500 ms of silence; each pong ends that silence.
  EXPECT_GE(peer.pings(), 3);
}

TEST(VenueWsApiSilence, ADeafPeerLosesTheSessionAfterTheSilenceLimit) {
  SilentWsPeer peer(SilentWsPeer::Mode::kDeaf);
  const Outcome r = run_against(peer, 4000ms);
  ASSERT_FALSE(r.silence_errors.empty()) << "the silent session was never given up";
  EXPECT_NE(r.silence_errors.front().find("nothing heard for 1000 ms"), std::string::npos)
      << r.silence_errors.front();
  EXPECT_GE(r.first_silence, 750ms);  // not at the 500 ms ping: at the limit (unanswered)
  EXPECT_GE(r.ws_connects, 2U);       // and a new session after the back-off
}

}  // namespace
