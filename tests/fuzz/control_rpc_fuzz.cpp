// libFuzzer target: arbitrary text as a JSON-RPC message on the control plane (ControlApi::handle,
// what the ctl thread runs on each WebSocket text message and the MCP endpoint's tools call), from
// a client with the read scope. Behind it a real Engine, started as cwtsd starts it before the
// ctl thread exists (paper venue, exchangeInfo from the recorded file, a feed pointed at a port
// nothing listens on, idle threads that block): the request parsing, batches, ids,
// authorization, parameter checks and the read methods' answers run for real; the mutating and
// trading methods stop at authorization (so the engine's state stays that of start-up).
// Every message must be answered with valid JSON-RPC 2.0 (one response object, or for a batch an
// array of them), or with nothing for a notification; never a crash.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "config/config.hpp"
#include "ctl/control_api.hpp"
#include "engine.hpp"
#include "fuzz_engine.hpp"

namespace {

namespace daemon = cwts::daemon;
using simdjson::dom::element;
using simdjson::dom::element_type;

daemon::Config fuzz_config() { return cwts::fuzz::engine_config("fuzzrpc"); }

daemon::Engine& started(daemon::Engine& e) {
  e.start();
  return e;
}

struct Plane {
  daemon::Engine engine{fuzz_config(), std::nullopt};
  daemon::Config live = engine.config();
  daemon::ControlApi api{started(engine), live, /*allow_unauthenticated_reads=*/false};
};

// One JSON-RPC 2.0 response: "jsonrpc":"2.0", an id (string, integer or null), and exactly one of
// "result" and "error" ({"code": integer, "message": string}).
bool valid_response(element r) {
  simdjson::dom::object o;
  std::string_view version;
  element id, result, error;
  if (r.get_object().get(o) != simdjson::SUCCESS) return false;
  if (o["jsonrpc"].get_string().get(version) != simdjson::SUCCESS || version != "2.0") return false;
  if (o["id"].get(id) != simdjson::SUCCESS) return false;
  if (id.type() != element_type::STRING && id.type() != element_type::INT64 &&
      id.type() != element_type::UINT64 && id.type() != element_type::NULL_VALUE) {
    return false;
  }
  const bool has_result = o["result"].get(result) == simdjson::SUCCESS;
  const bool has_error = o["error"].get(error) == simdjson::SUCCESS;
  if (has_result == has_error) return false;
  if (has_error) {
    std::int64_t code = 0;
    std::string_view message;
    if (error["code"].get_int64().get(code) != simdjson::SUCCESS ||
        error["message"].get_string().get(message) != simdjson::SUCCESS || message.empty()) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Plane plane;
  const std::string_view message(reinterpret_cast<const char*>(data), size);
  daemon::RpcClient client;
  client.scopes.read = true;
  client.who = "fuzz";
  const std::string reply = plane.api.handle(message, client);

  simdjson::dom::parser parser;
  if (reply.empty()) {
    // Nothing only for notifications: a message that is not JSON is always answered.
    element doc;
    if (parser.parse(message.data(), message.size()).get(doc) != simdjson::SUCCESS)
      __builtin_trap();
    return 0;
  }
  element doc;
  if (parser.parse(reply).get(doc) != simdjson::SUCCESS) __builtin_trap();
  if (doc.type() == element_type::ARRAY) {
    std::size_t n = 0;
    const simdjson::dom::array batch = doc.get_array().value_unsafe();
    for (element member : batch) {
      if (!valid_response(member)) __builtin_trap();
      ++n;
    }
    if (n == 0) __builtin_trap();  // an all-notification batch is answered with nothing
    return 0;
  }
  if (!valid_response(doc)) __builtin_trap();
  return 0;
}
