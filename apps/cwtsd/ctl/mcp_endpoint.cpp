#include "ctl/mcp_endpoint.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "ctl/control_api.hpp"
#include "cwts/cli/version.hpp"
#include "cwts/core/json_writer.hpp"

namespace cwts::daemon {

namespace {

using core::JsonWriter;
using simdjson::dom::element;
using simdjson::dom::element_type;

using jsonrpc::kInvalidParams;
using jsonrpc::kInvalidRequest;
using jsonrpc::kMethodNotFound;
using jsonrpc::kParseError;
constexpr int kResourceNotFound = -32002;  // MCP's code for resources/read of an unknown URI

constexpr std::string_view kNoArguments =
    R"({"type":"object","properties":{},"additionalProperties":false})";

// A tool: the control plane method it calls, and whether it changes anything (needs the token).
struct Tool {
  std::string_view name;
  std::string_view method;
  bool mutating;
  std::string_view description;
  std::string_view input_schema;
};

constexpr Tool kTools[] = {
    {"status", "status", false,
     "Engine status: readiness (and why not), trading state, books synced, venue connection, "
     "market-data and order counters, hot-thread heartbeat ages.",
     kNoArguments},
    {"positions", "positions", false,
     "Per symbol: position quantity (signed, > 0 long), average price, realized PnL and fees "
     "(quote asset), open orders. Decimals are strings.",
     kNoArguments},
    {"open_orders", "open_orders", false,
     "Open order counts per symbol and in total (the engine publishes counts, not the orders).",
     kNoArguments},
    {"risk_get", "risk.get", false, "The risk limits in force and the trading state.",
     kNoArguments},
    {"risk_set", "risk.set", true,
     "Change global risk limits (any of the keys); applied by the exec thread before the answer. "
     "A config reload (SIGHUP) restores the file's values. Needs the control token.",
     R"({"type":"object","properties":{)"
     R"("max_order_notional":{"type":"string","description":"decimal string, e.g. \"1000\""},)"
     R"("max_position":{"type":"string","description":"decimal string, in the base asset"},)"
     R"("max_open_orders":{"type":"integer","minimum":0,"maximum":1000000},)"
     R"("price_band_bps":{"type":"integer","minimum":0,"maximum":100000},)"
     R"("default_ttl_ms":{"type":"integer","minimum":1,"maximum":3600000},)"
     R"("max_ttl_ms":{"type":"integer","minimum":1,"maximum":86400000},)"
     R"("max_book_age_ms":{"type":"integer","minimum":0,"maximum":3600000},)"
     R"("sell_account_holdings":{"type":"boolean"}},)"
     R"("additionalProperties":false,"minProperties":1})"},
    {"halt", "halt", true, "Halt trading: every new order is refused. Needs the control token.",
     kNoArguments},
    {"resume", "resume", true, "Resume trading (state active). Needs the control token.",
     kNoArguments},
    {"reduce_only", "reduce_only", true,
     "Reduce-only: only orders that shrink a position are accepted. Needs the control token.",
     kNoArguments},
    {"cancel_all", "cancel_all", true,
     "Cancel every open order of every strategy slot. Needs the control token.", kNoArguments},
    {"symbols_add", "symbols.add", true,
     "Start trading symbols of the venue (e.g. SOLUSDT): subscribe, sync the book, publish them "
     "to strategies. Idempotent. Needs the control token.",
     R"({"type":"object","properties":{"symbols":{"type":"array","items":{"type":"string"},)"
     R"("minItems":1}},"required":["symbols"],"additionalProperties":false})"},
    {"symbols_remove", "symbols.remove", true,
     "Stop trading symbols: new signals are refused, open orders run to their end, then the "
     "symbol is unsubscribed. Needs the control token.",
     R"({"type":"object","properties":{"symbols":{"type":"array","items":{"type":"string"},)"
     R"("minItems":1}},"required":["symbols"],"additionalProperties":false})"},
};

constexpr std::string_view kResourceKinds[] = {"quote", "book", "candles"};
constexpr std::string_view kUriPrefix = "cwts://symbols/";

std::string tool_names() {
  std::string out;
  for (const auto& t : kTools) out += (out.empty() ? "" : ", ") + std::string(t.name);
  return out;
}

std::string error_reply(std::string_view id_json, int code, std::string_view message) {
  JsonWriter j;
  j.begin_object().key("jsonrpc").string("2.0").key("id").raw(id_json).key("error");
  j.begin_object().key("code").integer(code).key("message").string(message).end_object();
  j.end_object();
  return std::move(j).str();
}

std::string result_reply(std::string_view id_json, std::string_view result_json) {
  JsonWriter j;
  j.begin_object().key("jsonrpc").string("2.0").key("id").raw(id_json);
  j.key("result").raw(result_json).end_object();
  return std::move(j).str();
}

HttpResponse json_answer(unsigned status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

HttpResponse text_answer(unsigned status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

bool supported(std::string_view version) {
  return std::find(McpEndpoint::kProtocolVersions.begin(), McpEndpoint::kProtocolVersions.end(),
                   version) != McpEndpoint::kProtocolVersions.end();
}

// A failed call to the MCP method: its JSON-RPC error.
struct McpError {
  int code;
  std::string message;
};

// What the control plane answered: the result's JSON, or its error.
struct RpcOutcome {
  std::string result;  // minified JSON; "" when it failed
  int code = 0;
  std::string message;
  [[nodiscard]] bool ok() const { return code == 0; }
};

}  // namespace

McpEndpoint::McpEndpoint(Rpc rpc, std::string server_version)
    : rpc_(std::move(rpc)),
      server_version_(server_version.empty() ? std::string(cwts::cli::kVersion)
                                             : std::move(server_version)) {}

HttpResponse McpEndpoint::handle(const McpHttpRequest& req) const {
  if (req.method != "POST") {
    // No server-sent-event stream (GET) and no session to end (DELETE): the transport lets a
    // server answer both with 405.
    HttpResponse r = text_answer(405,
                                 "only POST: this MCP endpoint answers each request with JSON "
                                 "and keeps no session\n");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  if (!req.content_type.starts_with("application/json")) {
    return text_answer(415,
                       "the body must be one JSON-RPC message (Content-Type: "
                       "application/json)\n");
  }
  if (!req.accept.empty() && req.accept.find("application/json") == std::string::npos &&
      req.accept.find("*/*") == std::string::npos) {
    return text_answer(406, "the answer is application/json: the Accept header must allow it\n");
  }
  // Every request after initialize names the negotiated revision; without the header the
  // transport says to assume 2025-03-26.
  const std::string_view version =
      req.protocol_version.empty() ? std::string_view("2025-03-26") : req.protocol_version;
  if (!supported(version)) {
    std::string known;
    for (const auto v : kProtocolVersions) known += (known.empty() ? "" : ", ") + std::string(v);
    return json_answer(400, error_reply("null", kInvalidRequest,
                                        "unsupported MCP-Protocol-Version " + std::string(version) +
                                            " (served: " + known + ")"));
  }
  // structuredContent came with 2025-06-18.
  const bool structured = version >= std::string_view("2025-06-18");

  simdjson::dom::parser parser;
  element doc;
  if (parser.parse(req.body.data(), req.body.size()).get(doc) != simdjson::SUCCESS) {
    return json_answer(400, error_reply("null", kParseError, "parse error: the body is not JSON"));
  }
  if (doc.type() == element_type::ARRAY) {
    return json_answer(400, error_reply("null", kInvalidRequest,
                                        "invalid request: one JSON-RPC message per POST (no "
                                        "batches; MCP 2025-06-18 removed them)"));
  }
  simdjson::dom::object msg;
  if (doc.get_object().get(msg) != simdjson::SUCCESS) {
    return json_answer(
        400, error_reply("null", kInvalidRequest, "invalid request: expected a JSON-RPC object"));
  }
  std::string_view method;
  element id;
  const bool has_method = msg.at_key("method").get_string().get(method) == simdjson::SUCCESS;
  const bool has_id = msg.at_key("id").get(id) == simdjson::SUCCESS;
  // A notification (notifications/initialized, .../cancelled) or a response to a server request
  // (this server sends none): accepted, nothing to answer.
  if (!has_method || !has_id) {
    HttpResponse r;
    r.status = 202;
    return r;
  }
  if (id.type() != element_type::STRING && id.type() != element_type::INT64 &&
      id.type() != element_type::UINT64) {
    return json_answer(400, error_reply("null", kInvalidRequest,
                                        "invalid request: id must be a string or number"));
  }
  const std::string id_json = simdjson::minify(id);
  std::string_view jsonrpc;
  if (msg.at_key("jsonrpc").get_string().get(jsonrpc) != simdjson::SUCCESS || jsonrpc != "2.0") {
    return json_answer(
        400, error_reply(id_json, kInvalidRequest, "invalid request: needs \"jsonrpc\":\"2.0\""));
  }
  element params;
  const bool have_params = msg.at_key("params").get(params) == simdjson::SUCCESS &&
                           params.type() == element_type::OBJECT;

  // One control plane call, with this request's authorization.
  auto call = [&](std::string_view rpc_method, std::string_view params_json) {
    JsonWriter j;
    j.begin_object().key("jsonrpc").string("2.0").key("id").integer(1);
    j.key("method").string(rpc_method);
    if (!params_json.empty()) j.key("params").raw(params_json);
    j.end_object();
    RpcClient client;
    client.scopes = req.scopes;
    client.who = req.who;
    const std::string reply = rpc_(std::move(j).str(), client);
    RpcOutcome out;
    simdjson::dom::parser p;
    element r;
    element v;
    if (p.parse(reply).get(r) != simdjson::SUCCESS) {
      out.code = -32603;
      out.message = "internal error: the control plane's answer is not JSON";
    } else if (r.at_key("result").get(v) == simdjson::SUCCESS) {
      out.result = simdjson::minify(v);
    } else {
      std::int64_t code = -32603;
      std::string_view message = "internal error";
      if (r.at_pointer("/error/code").get_int64().get(code) != simdjson::SUCCESS) code = -32603;
      if (r.at_pointer("/error/message").get_string().get(message) != simdjson::SUCCESS)
        message = "internal error";
      out.code = static_cast<int>(code);
      out.message = std::string(message);
      if (out.code == ControlApi::kUnauthorized) {
        // The control plane's message names the WebSocket handshake; here the token goes on
        // each HTTP request.
        out.message = "unauthorized: " + std::string(rpc_method) +
                      " needs the control plane's bearer token (control.token_file, or the one "
                      "cwtsd generated in <shm_dir>/cwts-<instance>.token) as Authorization: "
                      "Bearer ... on the HTTP requests to /mcp; nothing was changed";
      }
    }
    return out;
  };
  // The resources read what the control plane's read methods answer; without the token (and
  // with reads closed) they fail like those methods do.
  auto must = [](RpcOutcome o) {
    if (!o.ok()) throw McpError{o.code, o.message};
    return o;
  };
  auto symbols = [&]() {
    const RpcOutcome o = must(call("symbols", {}));
    simdjson::dom::parser p;
    std::vector<std::pair<std::string, std::string>> out;  // name, its entry's JSON
    simdjson::dom::array arr;
    if (p.parse(o.result).get_array().get(arr) != simdjson::SUCCESS) return out;
    for (element e : arr) {
      std::string_view name;
      if (e.at_key("symbol").get_string().get(name) == simdjson::SUCCESS)
        out.emplace_back(std::string(name), simdjson::minify(e));
    }
    return out;
  };

  JsonWriter result;
  try {
    if (method == "initialize") {
      std::string_view asked;
      if (have_params &&
          params.at_key("protocolVersion").get_string().get(asked) != simdjson::SUCCESS) {
        asked = {};
      }
      const std::string_view answer = supported(asked) ? asked : kProtocolVersions.back();
      result.begin_object().key("protocolVersion").string(answer);
      result.key("capabilities").begin_object();
      result.key("tools").begin_object().key("listChanged").boolean(false).end_object();
      result.key("resources")
          .begin_object()
          .key("subscribe")
          .boolean(false)
          .key("listChanged")
          .boolean(false)
          .end_object();
      result.end_object();
      result.key("serverInfo").begin_object().key("name").string("cwtsd");
      result.key("version").string(server_version_).end_object();
      result.key("instructions")
          .string(
              "cwtsd, a crypto trading engine. Read tools: status, positions, open_orders, "
              "risk_get. Tools that change trading (risk_set, halt, resume, reduce_only, "
              "cancel_all) need the control token. Resources: "
              "cwts://symbols/<SYMBOL>/quote, /book and /candles for each traded symbol.");
      result.end_object();
    } else if (method == "ping") {
      result.begin_object().end_object();
    } else if (method == "tools/list") {
      result.begin_object().key("tools").begin_array();
      for (const auto& t : kTools) {
        result.begin_object().key("name").string(t.name);
        result.key("description").string(t.description);
        result.key("inputSchema").raw(t.input_schema);
        result.key("annotations").begin_object();
        result.key("readOnlyHint").boolean(!t.mutating);
        if (t.mutating) result.key("destructiveHint").boolean(t.name == "cancel_all");
        result.key("idempotentHint").boolean(true).key("openWorldHint").boolean(false);
        result.end_object().end_object();
      }
      result.end_array().end_object();
    } else if (method == "tools/call") {
      std::string_view name;
      if (!have_params || params.at_key("name").get_string().get(name) != simdjson::SUCCESS) {
        throw McpError{kInvalidParams, "invalid params: {\"name\": <tool>, \"arguments\": {...}}"};
      }
      const auto* tool = std::find_if(std::begin(kTools), std::end(kTools),
                                      [&](const Tool& t) { return t.name == name; });
      if (tool == std::end(kTools)) {
        throw McpError{kInvalidParams,
                       "unknown tool: " + std::string(name) + " (tools: " + tool_names() + ")"};
      }
      std::string args;
      element a;
      if (params.at_key("arguments").get(a) == simdjson::SUCCESS &&
          a.type() != element_type::NULL_VALUE) {
        if (a.type() != element_type::OBJECT) {
          throw McpError{kInvalidParams, "invalid params: arguments must be an object"};
        }
        args = simdjson::minify(a);
      }
      // Tools without arguments ignore any given, as their control plane methods do.
      const RpcOutcome o =
          call(tool->method, tool->input_schema != kNoArguments ? args : std::string());
      result.begin_object().key("content").begin_array().begin_object();
      result.key("type").string("text");
      if (o.ok()) {
        result.key("text").string(o.result).end_object().end_array();
        if (structured) {
          // structuredContent is an object: a list goes under the tool's name.
          result.key("structuredContent");
          if (o.result.starts_with('{')) {
            result.raw(o.result);
          } else {
            result.begin_object().key(tool->name).raw(o.result).end_object();
          }
        }
        result.key("isError").boolean(false);
      } else {
        // A refusal or a failure of the tool is its result (the model reads it), not a
        // protocol error.
        result.key("text")
            .string("error " + std::to_string(o.code) + ": " + o.message)
            .end_object()
            .end_array();
        result.key("isError").boolean(true);
      }
      result.end_object();
    } else if (method == "resources/list") {
      result.begin_object().key("resources").begin_array();
      for (const auto& [sym, entry] : symbols()) {
        for (const auto kind : kResourceKinds) {
          result.begin_object();
          result.key("uri").string(std::string(kUriPrefix) + sym + "/" + std::string(kind));
          result.key("name").string(sym + " " + std::string(kind));
          result.key("description")
              .string(kind == "quote" ? "best bid/ask, last trade and book state of " + sym
                      : kind == "book"
                          ? "the levels of " + sym +
                                "'s order book the region holds (region.book_depth), one "
                                "consistent snapshot"
                          : "the last closed candles of " + sym +
                                " (1m, or the first configured timeframe) and the live one");
          result.key("mimeType").string("application/json").end_object();
        }
      }
      result.end_array().end_object();
    } else if (method == "resources/templates/list") {
      result.begin_object().key("resourceTemplates").begin_array();
      for (const auto kind : kResourceKinds) {
        result.begin_object();
        result.key("uriTemplate").string(std::string(kUriPrefix) + "{symbol}/" + std::string(kind));
        result.key("name").string("symbol " + std::string(kind));
        result.key("mimeType").string("application/json").end_object();
      }
      result.end_array().end_object();
    } else if (method == "resources/read") {
      std::string_view uri;
      if (!have_params || params.at_key("uri").get_string().get(uri) != simdjson::SUCCESS) {
        throw McpError{kInvalidParams, "invalid params: {\"uri\": \"cwts://symbols/...\"}"};
      }
      const McpError not_found{kResourceNotFound,
                               "resource not found: " + std::string(uri) +
                                   " (resources/list names them: cwts://symbols/<SYMBOL>/quote, "
                                   "/book or /candles)"};
      if (!uri.starts_with(kUriPrefix)) throw not_found;
      const std::string_view rest = uri.substr(kUriPrefix.size());
      const auto slash = rest.find('/');
      if (slash == std::string_view::npos) throw not_found;
      const std::string sym(rest.substr(0, slash));
      const std::string_view kind = rest.substr(slash + 1);
      if (std::find(std::begin(kResourceKinds), std::end(kResourceKinds), kind) ==
          std::end(kResourceKinds)) {
        throw not_found;
      }
      // The symbol must be one of the engine's (the control plane's list; also the token check).
      std::string text;
      for (const auto& [name, entry] : symbols())
        if (name == sym) text = entry;
      if (text.empty()) throw not_found;
      if (kind != "quote") {
        JsonWriter p;
        // A book resource is the whole book the region holds (region.book_depth).
        p.begin_object().key("symbol").string(sym).end_object();
        text = must(call(kind, p.str())).result;
      }
      result.begin_object().key("contents").begin_array().begin_object();
      result.key("uri").string(uri).key("mimeType").string("application/json");
      result.key("text").string(text).end_object().end_array().end_object();
    } else {
      throw McpError{kMethodNotFound,
                     "method not found: " + std::string(method) +
                         " (initialize, ping, tools/list, tools/call, resources/list, "
                         "resources/templates/list, resources/read)"};
    }
  } catch (const McpError& e) {
    return json_answer(200, error_reply(id_json, e.code, e.message));
  }
  return json_answer(200, result_reply(id_json, std::move(result).str()));
}

}  // namespace cwts::daemon
