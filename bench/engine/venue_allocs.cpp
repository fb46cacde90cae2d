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
#include "../../tests/support/venue_pump.hpp"
#include "../unlimited_exchange_info.hpp"
#include "cwts/cli/cli.hpp"
#include "cwts/venue/binance_rest.hpp"
#include "json_log.hpp"
#include "sim_server.hpp"

namespace {

using namespace std::chrono_literals;
namespace venue = cwts::venue;

struct Listener : venue::VenueListener {
  void on_order_event(const venue::OrderEvent& e) override {
    if (e.kind != venue::EventKind::kUpdate || venue::is_final(e.status)) ++finals;
    if (e.kind != venue::EventKind::kUpdate && refused++ == 0) {
      std::fprintf(stderr, "refused: %d %.*s\n", e.code, static_cast<int>(e.message.size()),
                   e.message.data());
    }
  }
  void on_venue_error(std::string_view what) override {
    std::fprintf(stderr, "venue: %.*s\n", static_cast<int>(what.size()), what.data());
  }
  std::uint64_t finals = 0;
  std::uint64_t refused = 0;
};

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

  cwts::sim_server::init_json_log(spdlog::level::warn);  // the in-process sim's log: stderr
  cwts::sim_server::SimServerConfig sc;
  char dir[] = "/tmp/cwts-bench-venue-allocs-XXXXXX";
  if (::mkdtemp(dir) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  sc.exchange_info_path = cwts::bench::unlimited_exchange_info(CWTS_DEFAULT_EXCHANGE_INFO, dir);
  sc.synthetic = {"BTCUSDT"};
  sc.api_key = "k";
  sc.api_secret = "s";
  sc.balances = "USDT=100000000,BTC=1000";
  sc.handle_signals = false;
  cwts::sim_server::SimServer sim(sc);
  std::thread sim_thread([&] { sim.run(); });

  int rc = 0;
  {
    boost::asio::io_context ioc;
    venue::BinanceRestOptions o;
    o.rest_url = "http://127.0.0.1:" + std::to_string(sim.port());
    o.api_key = "k";
    o.api_secret = "s";
    o.recv_window_ms = 5000;
    if (user_stream == "on") o.ws_api_url = "ws://127.0.0.1:" + std::to_string(sim.port());
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
      venue::OrderRequest r;
      std::snprintf(r.symbol, sizeof r.symbol, "BTCUSDT");
      r.side = i % 2 == 0 ? cwts::layout::Side::kBuy : cwts::layout::Side::kSell;
      r.type = cwts::layout::OrderType::kMarket;
      r.qty = cwts::core::Qty{100'000};  // 0.001
      std::snprintf(r.client_order_id, sizeof r.client_order_id, "cwalloc%llu",
                    static_cast<unsigned long long>(i));
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
  sim.stop();
  sim_thread.join();
  std::filesystem::remove_all(dir);
  return rc;
}
