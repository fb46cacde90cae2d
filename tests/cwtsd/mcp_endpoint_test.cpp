// The MCP endpoint's protocol handling (ctl/mcp_endpoint.hpp) in front of a scripted control
// plane handler: which JSON-RPC call each tool and resource makes, with which authorization, and
// the transport's HTTP answers. The real ControlApi behind it is tested end to end in
// tests/python/test_mcp.py.
#include "ctl/mcp_endpoint.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "ctl/control_api.hpp"

namespace {

using cwts::daemon::ControlApi;
using cwts::daemon::HttpResponse;
using cwts::daemon::McpEndpoint;
using cwts::daemon::McpHttpRequest;
using cwts::daemon::RpcClient;

struct Call {
  std::string request;
  bool authorized;
};

// Answers like the control plane: mutations need authorization; symbols lists two symbols.
struct Plane {
  std::vector<Call> calls;

  std::string operator()(std::string_view request, RpcClient& client) {
    calls.push_back({std::string(request), client.scopes.admin});
    const bool mutating = request.find("\"method\":\"halt\"") != std::string_view::npos ||
                          request.find("\"method\":\"risk.set\"") != std::string_view::npos;
    if (mutating && !client.scopes.admin) {
      return R"({"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"unauthorized: ws"}})";
    }
    if (request.find("\"method\":\"symbols\"") != std::string_view::npos) {
      return R"({"jsonrpc":"2.0","id":1,"result":[{"symbol":"BTCUSDT","bid":"1.00000000"},)"
             R"({"symbol":"ETHUSDT","bid":"2.00000000"}]})";
    }
    if (request.find("\"method\":\"risk.set\"") != std::string_view::npos) {
      return R"({"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"bad key"}})";
    }
    if (request.find("\"method\":\"positions\"") != std::string_view::npos) {
      return R"({"jsonrpc":"2.0","id":1,"result":[{"symbol":"BTCUSDT","qty":"0.00000000"}]})";
    }
    return R"({"jsonrpc":"2.0","id":1,"result":{"trading_state":"halted"}})";
  }
};

class Mcp : public ::testing::Test {
 protected:
  Plane plane;
  McpEndpoint mcp{[this](std::string_view r, RpcClient& c) { return plane(r, c); }, "9.9.9"};

  HttpResponse post(std::string body, bool authorized = true, std::string version = "2025-11-25") {
    McpHttpRequest r;
    r.method = "POST";
    r.body = std::move(body);
    if (authorized) r.scopes = cwts::daemon::ControlScopes{true, true, 0};
    r.content_type = "application/json";
    r.accept = "application/json, text/event-stream";
    r.protocol_version = std::move(version);
    return mcp.handle(r);
  }

  // The JSON-RPC reply of a request, parsed (the document lives in the fixture's parser).
  simdjson::dom::element reply(std::string body, bool authorized = true,
                               std::string version = "2025-11-25") {
    const HttpResponse r = post(std::move(body), authorized, std::move(version));
    EXPECT_EQ(r.content_type, "application/json");
    text_ = r.body;
    return parser_.parse(text_).value();
  }

 private:
  simdjson::dom::parser parser_;
  std::string text_;
};

std::string request(std::string_view method, std::string_view params = "{}") {
  return R"({"jsonrpc":"2.0","id":7,"method":")" + std::string(method) + R"(","params":)" +
         std::string(params) + "}";
}

TEST_F(Mcp, InitializeAnswersTheClientsVersionWhenServedElseTheNewest) {
  auto r = reply(request("initialize", R"({"protocolVersion":"2025-06-18","capabilities":{}})"));
  EXPECT_EQ(r["id"].get_int64().value(), 7);
  EXPECT_EQ(r["result"]["protocolVersion"].get_string().value(), "2025-06-18");
  EXPECT_EQ(r["result"]["serverInfo"]["name"].get_string().value(), "cwtsd");
  EXPECT_EQ(r["result"]["serverInfo"]["version"].get_string().value(), "9.9.9");
  EXPECT_TRUE(r["result"]["capabilities"]["tools"].is_object());
  EXPECT_TRUE(r["result"]["capabilities"]["resources"].is_object());
  r = reply(request("initialize", R"({"protocolVersion":"2030-01-01"})"));
  EXPECT_EQ(r["result"]["protocolVersion"].get_string().value(), "2025-11-25");
  EXPECT_TRUE(plane.calls.empty());
}

TEST_F(Mcp, NotificationsAndResponsesGet202AndOnlyPostIsServed) {
  const HttpResponse n = post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_EQ(n.status, 202U);
  EXPECT_TRUE(n.body.empty());
  EXPECT_EQ(post(R"({"jsonrpc":"2.0","id":3,"result":{}})").status, 202U);
  for (const char* method : {"GET", "DELETE", "PUT"}) {
    McpHttpRequest r;
    r.method = method;
    const HttpResponse a = mcp.handle(r);
    EXPECT_EQ(a.status, 405U) << method;
    ASSERT_EQ(a.headers.size(), 1U);
    EXPECT_EQ(a.headers[0].first, "Allow");
    EXPECT_EQ(a.headers[0].second, "POST");
  }
  McpHttpRequest wrong_type;
  wrong_type.method = "POST";
  wrong_type.content_type = "text/plain";
  wrong_type.body = request("ping");
  EXPECT_EQ(mcp.handle(wrong_type).status, 415U);
  EXPECT_EQ(post(request("ping"), true, "2024-01-01").status, 400U);
  EXPECT_EQ(post("{nope").status, 400U);
  EXPECT_EQ(post("[" + request("ping") + "]").status, 400U);
  EXPECT_EQ(reply(request("prompts/list"))["error"]["code"].get_int64().value(), -32601);
}

TEST_F(Mcp, ToolsCallTheControlPlaneWithTheRequestsAuthorization) {
  auto r = reply(request("tools/list"));
  std::vector<std::string> names;
  for (auto t : r["result"]["tools"].get_array()) {
    names.emplace_back(t["name"].get_string().value());
    EXPECT_EQ(t["inputSchema"]["type"].get_string().value(), "object");
  }
  EXPECT_EQ(names, (std::vector<std::string>{"status", "positions", "open_orders", "risk_get",
                                             "risk_set", "halt", "resume", "reduce_only",
                                             "cancel_all", "symbols_add", "symbols_remove"}));

  r = reply(request("tools/call", R"({"name":"halt","arguments":{}})"));
  ASSERT_EQ(plane.calls.size(), 1U);
  EXPECT_EQ(plane.calls[0].request, R"({"jsonrpc":"2.0","id":1,"method":"halt"})");
  EXPECT_TRUE(plane.calls[0].authorized);
  EXPECT_FALSE(r["result"]["isError"].get_bool().value());
  EXPECT_EQ(r["result"]["content"].at(0)["text"].get_string().value(),
            R"({"trading_state":"halted"})");
  EXPECT_EQ(r["result"]["structuredContent"]["trading_state"].get_string().value(), "halted");

  // Without the token: the control plane refuses, the tool says which token it needs.
  r = reply(request("tools/call", R"({"name":"halt"})"), false);
  EXPECT_FALSE(plane.calls.back().authorized);
  EXPECT_TRUE(r["result"]["isError"].get_bool().value());
  const std::string_view text = r["result"]["content"].at(0)["text"].get_string().value();
  EXPECT_NE(text.find("-32001"), std::string_view::npos) << text;
  EXPECT_NE(text.find("Authorization: Bearer"), std::string_view::npos) << text;
  EXPECT_NE(text.find("/mcp"), std::string_view::npos) << text;

  // Only the tools with arguments (risk_set, symbols_*) pass them on; the control plane's
  // refusal is the tool's result.
  (void)reply(
      request("tools/call", R"({"name":"symbols_add","arguments":{"symbols":["SOLUSDT"]}})"));
  EXPECT_EQ(plane.calls.back().request,
            R"({"jsonrpc":"2.0","id":1,"method":"symbols.add","params":{"symbols":["SOLUSDT"]}})");
  (void)reply(request("tools/call", R"({"name":"cancel_all","arguments":{"x":1}})"));
  EXPECT_EQ(plane.calls.back().request, R"({"jsonrpc":"2.0","id":1,"method":"cancel_all"})");
  r = reply(request("tools/call", R"({"name":"risk_set","arguments":{"max_open_orders":5}})"));
  EXPECT_EQ(plane.calls.back().request,
            R"({"jsonrpc":"2.0","id":1,"method":"risk.set","params":{"max_open_orders":5}})");
  EXPECT_TRUE(r["result"]["isError"].get_bool().value());
  EXPECT_EQ(r["result"]["content"].at(0)["text"].get_string().value(), "error -32602: bad key");
  (void)reply(request("tools/call", R"({"name":"risk_get","arguments":{"x":1}})"));
  EXPECT_EQ(plane.calls.back().request, R"({"jsonrpc":"2.0","id":1,"method":"risk.get"})");

  // A list result: structuredContent (an object) holds it under the tool's name, and only
  // from 2025-06-18 on.
  r = reply(request("tools/call", R"({"name":"positions"})"));
  EXPECT_EQ(r["result"]["structuredContent"]["positions"].at(0)["symbol"].get_string().value(),
            "BTCUSDT");
  r = reply(request("tools/call", R"({"name":"positions"})"), true, "2025-03-26");
  EXPECT_TRUE(r["result"]["structuredContent"].error() == simdjson::NO_SUCH_FIELD);

  const std::size_t before = plane.calls.size();
  r = reply(request("tools/call", R"({"name":"self_destruct"})"));
  EXPECT_EQ(r["error"]["code"].get_int64().value(), -32602);
  EXPECT_NE(std::string_view(r["error"]["message"].get_string().value()).find("unknown tool"),
            std::string_view::npos);
  EXPECT_EQ(plane.calls.size(), before);
}

TEST_F(Mcp, ResourcesAreTheSymbolsQuoteBookAndCandles) {
  auto r = reply(request("resources/list"));
  std::vector<std::string> uris;
  for (auto x : r["result"]["resources"].get_array())
    uris.emplace_back(x["uri"].get_string().value());
  EXPECT_EQ(uris, (std::vector<std::string>{
                      "cwts://symbols/BTCUSDT/quote", "cwts://symbols/BTCUSDT/book",
                      "cwts://symbols/BTCUSDT/candles", "cwts://symbols/ETHUSDT/quote",
                      "cwts://symbols/ETHUSDT/book", "cwts://symbols/ETHUSDT/candles"}));

  r = reply(request("resources/read", R"({"uri":"cwts://symbols/ETHUSDT/quote"})"));
  auto c = r["result"]["contents"].at(0);
  EXPECT_EQ(c["uri"].get_string().value(), "cwts://symbols/ETHUSDT/quote");
  EXPECT_EQ(c["mimeType"].get_string().value(), "application/json");
  EXPECT_EQ(c["text"].get_string().value(), R"({"symbol":"ETHUSDT","bid":"2.00000000"})");

  (void)reply(request("resources/read", R"({"uri":"cwts://symbols/BTCUSDT/book"})"));
  EXPECT_EQ(plane.calls.back().request,
            R"({"jsonrpc":"2.0","id":1,"method":"book","params":{"symbol":"BTCUSDT"}})");
  (void)reply(request("resources/read", R"({"uri":"cwts://symbols/BTCUSDT/candles"})"));
  EXPECT_EQ(plane.calls.back().request,
            R"({"jsonrpc":"2.0","id":1,"method":"candles","params":{"symbol":"BTCUSDT"}})");

  for (const char* uri : {"cwts://symbols/DOGEUSDT/quote", "cwts://symbols/BTCUSDT/trades",
                          "cwts://symbols/BTCUSDT", "file:///etc/passwd"}) {
    r = reply(request("resources/read", std::string(R"({"uri":")") + uri + "\"}"));
    EXPECT_EQ(r["error"]["code"].get_int64().value(), -32002) << uri;
  }
  static_assert(ControlApi::kUnauthorized == -32001);
}

}  // namespace
