// libFuzzer target: an HTTP request to the gateway (Gateway::Impl::handle, what its HTTP server
// calls for each request), behind it a started Engine (paper venue, recorded exchangeInfo, no
// market data) and the gateway's slot claimed, as cwtsd runs them; the gateway's own thread does
// not run: this thread handles each request and then runs what is due on the gateway's
// io_context (report polls, answers of waiting orders, venue look-ups that failed).
//
// Input: "METHOD TARGET\nBODY". The request carries the gateway's API key. A METHOD written with
// a leading '+' ("+POST /api/v3/order\nsymbol=...") is signed by the harness: a fresh timestamp
// and the HMAC signature of the payload are appended to the query, so the fuzzer reaches the
// signed endpoints (orders, cancels, queries, account) past the signature check. Every request
// the gateway answers at once must get a status and, for JSON, a body that parses; an error (4xx
// or 5xx) must be Binance's {"code": negative integer, "msg": string}. Never a crash.
// CWTS_FUZZ_VERBOSE=1 prints each answer (reproducing a finding: the binary and the input file).
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "config/config.hpp"
#include "engine.hpp"
#include "fuzz_engine.hpp"
#include "gateway/gateway_impl.hpp"

namespace {

namespace daemon = cwts::daemon;
using simdjson::dom::element;

constexpr std::string_view kKey = "fuzzkey";
constexpr std::string_view kSecret = "fuzzsecret";

daemon::Config fuzz_config() {
  return cwts::fuzz::engine_config(
      "fuzzgw", R"("gateway": {"listen": "127.0.0.1:0", "answer_timeout_ms": 200},)");
}

daemon::Engine& started(daemon::Engine& e) {
  e.start();
  return e;
}

struct Plane {
  daemon::Config cfg = fuzz_config();
  daemon::Engine engine{cfg, std::nullopt};
  daemon::Gateway::Impl gw{cfg, started(engine),
                           daemon::Credentials{std::string(kKey), std::string(kSecret)}};
  Plane() { gw.claim_slot(); }
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void check(const cwts::net::HttpServerResponse& r) {
  static const bool verbose = std::getenv("CWTS_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "answer %u %s\n", r.status, r.body.c_str());
  if (r.status < 100 || r.status > 599) __builtin_trap();
  if (r.content_type.rfind("application/json", 0) != 0) return;
  simdjson::dom::parser parser;
  element doc;
  if (parser.parse(r.body).get(doc) != simdjson::SUCCESS) __builtin_trap();
  if (r.status >= 400) {
    std::int64_t code = 0;
    std::string_view msg;
    if (doc["code"].get_int64().get(code) != simdjson::SUCCESS || code >= 0 ||
        doc["msg"].get_string().get(msg) != simdjson::SUCCESS) {
      __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Plane plane;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto nl = in.find('\n');
  const std::string_view line = in.substr(0, nl);
  const std::string_view body =
      nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  const auto sp = line.find(' ');
  if (sp == std::string_view::npos) return 0;
  std::string_view method = line.substr(0, sp);
  const std::string_view target = line.substr(sp + 1);
  const bool sign = !method.empty() && method.front() == '+';
  if (sign) method.remove_prefix(1);

  cwts::net::HttpServerRequest req;
  req.method = std::string(method);
  req.target = std::string(target);
  req.body = std::string(body);
  req.headers.emplace_back("x-mbx-apikey", std::string(kKey));
  if (sign) {
    const std::string_view path = req.path();
    std::string query(req.query());
    query += (query.empty() ? "" : "&") + std::string("timestamp=") + std::to_string(now_ms());
    auto parsed = cwts::binance::Request::parse(query, req.body);
    if (parsed.ok()) query += "&signature=" + plane.gw.secret.hex(parsed.value().signed_payload());
    req.target = std::string(path) + "?" + query;
  }

  plane.gw.handle(std::move(req), [](cwts::net::HttpServerResponse r) { check(r); });
  plane.gw.ioc.poll();
  plane.gw.ioc.restart();
  return 0;
}
