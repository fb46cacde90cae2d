// Drives a venue client on the calling thread the way cwtsd's exec loop does: its io_context
// polled, then its tick(). For the venue client's tests and benchmarks against cwts-sim.
#pragma once

#include <chrono>

#include <boost/asio/io_context.hpp>

#include "cwts/core/clock.hpp"
#include "cwts/venue/venue.hpp"

namespace cwts::test {

class VenuePump {
 public:
  VenuePump(boost::asio::io_context& ioc, venue::VenueClient& v) : ioc_(ioc), v_(v) {}
  // One pass of the loop.
  void pass() {
    ioc_.poll();
    if (ioc_.stopped()) ioc_.restart();
    v_.tick(core::realtime_ns());
  }
  // Passes until done() (true) or `limit` has passed (false).
  template <class Done>
  bool until(Done done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) pass();
    return done();
  }

 private:
  boost::asio::io_context& ioc_;
  venue::VenueClient& v_;
};

}  // namespace cwts::test
