// cwts-bench-venue-allocs: heap allocations the Binance venue client makes per order on the exec
// thread, counted (not timed): place() up to the order's bytes on the socket, then the answer and
// the user data stream's events up to the order's final update. A real cwts-sim runs in-process on
// its own thread (its allocations are not counted); the venue client runs on this thread's
// io_context as it does in cwtsd's exec loop. Market orders, buys and sells alternately.
//
//   cwts-bench-venue-allocs [--orders N] [--user-stream on|off] [--json]
//
// The project's rule is that the hot path does not allocate (STYLE.md); this measures how far the
// venue's side of the order path is from it (docs/benchmarks.md).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "../../tests/support/alloc_count.hpp"
#include "../../tests/support/sim_in_process.hpp"
#include "../../tests/support/venue_pump.hpp"
#include "../unlimited_exchange_info.hpp"
#include "cwts/cli/cli.hpp"
#include "cwts/venue/binance_rest.hpp"

namespace {

using namespace std::chrono_literals;
namespace venue = cwts::venue;

using Listener = cwts::test::OrderEnds;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Heap allocations of the Binance venue client per order (exec thread)"};
  std::uint64_t orders = 2000;
  std::string user_stream = "on";
  bool json = false;
  app.add_option("--orders", orders, "Orders counted (after 200 not counted)");
  app.add_option("--user-stream", user_stream, "The WebSocket API session: on or off")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_flag("--json", json, "One JSON line");
  CLI11_PARSE(app, argc, argv);

  char dir[] = "/tmp/cwts-bench-venue-allocs-XXXXXX";
  if (::mkdtemp(dir) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  int rc = 0;
  {
    cwts::test::SimInProcess sim(
        cwts::bench::unlimited_exchange_info(CWTS_DEFAULT_EXCHANGE_INFO, dir));
    boost::asio::io_context ioc;
    venue::BinanceRestOptions o;
    o.rest_url = sim.http_url();
    o.api_key = "k";
    o.api_secret = "s";
    o.recv_window_ms = 5000;
    if (user_stream == "on") o.ws_api_url = sim.ws_url();
    venue::BinanceRestVenue v(ioc, o);
    Listener l;
    v.set_listener(&l);
    v.set_symbol_assets("BTCUSDT", "BTC", "USDT");
    cwts::test::VenuePump pump(ioc, v);
    const auto until = [&](auto done, std::chrono::seconds limit) {
      return pump.until(done, limit);
    };
    if (!until([&] { return v.ready() && (user_stream == "off" || v.stream_live()); }, 30s)) {
      std::fprintf(stderr, "the venue did not become ready\n");
      rc = 1;
    }
    std::uint64_t place_allocs = 0, answer_allocs = 0, counted = 0;
    for (std::uint64_t i = 0; rc == 0 && i < orders + 200; ++i) {
      char cid[32];
      std::snprintf(cid, sizeof cid, "cwalloc%llu", static_cast<unsigned long long>(i));
      const venue::OrderRequest r = cwts::test::market_order(i, cid);
      const std::uint64_t finals = l.finals;
      const bool count = i >= 200;
      cwts::test::count_allocations(count);
      v.place(r);
      const std::uint64_t placing = cwts::test::take_allocations();
      cwts::test::count_allocations(count);
      const bool ended = until([&] { return l.finals > finals; }, 10s);
      const std::uint64_t answering = cwts::test::take_allocations();
      if (!ended) {
        std::fprintf(stderr, "order %llu did not end\n", static_cast<unsigned long long>(i));
        rc = 1;
        break;
      }
      if (count) {
        place_allocs += placing;
        answer_allocs += answering;
        ++counted;
      }
    }
    if (l.refused != 0) {
      std::fprintf(stderr, "%llu orders refused by the venue\n",
                   static_cast<unsigned long long>(l.refused));
      rc = 1;
    }
    if (rc == 0 && counted > 0) {
      const double per_place = static_cast<double>(place_allocs) / static_cast<double>(counted);
      const double per_answer = static_cast<double>(answer_allocs) / static_cast<double>(counted);
      if (json) {
        std::printf(
            "{\"orders\": %llu, \"user_stream\": %s, \"allocs_place_to_bytes\": %.2f, "
            "\"allocs_answer_to_final\": %.2f}\n",
            static_cast<unsigned long long>(counted), user_stream == "on" ? "true" : "false",
            per_place, per_answer);
      } else {
        std::printf(
            "heap allocations per order on the venue's thread (%llu market orders, user "
            "data stream %s):\n",
            static_cast<unsigned long long>(counted), user_stream.c_str());
        std::printf("  place() to the order's bytes on the socket: %.2f\n", per_place);
        std::printf("  the answer and the stream's events to the final update: %.2f\n", per_answer);
      }
    }
  }
  std::filesystem::remove_all(dir);
  return rc;
}
