"""The engine as an MCP server (/mcp on the control port) driven by the official `mcp` SDK's own
client over Streamable HTTP, against a real cwtsd on a real cwts-sim: the handshake, every tool
(the mutating ones with and without the control token), the resources checked against the
control plane's JSON-RPC and the Python bridge, and the errors an MCP client sees."""
import asyncio
import json
import time
import urllib.error
import urllib.request

import httpx2
import pytest
import websockets
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

import cwts_bridge
from conftest import Engine, control_port, generated_token, wait_until

TOOLS = {"status", "positions", "open_orders", "risk_get", "risk_set", "halt", "resume",
         "reduce_only", "cancel_all", "symbols_add", "symbols_remove"}


class Mcp:
    """An initialized ClientSession on the engine's /mcp, with or without the bearer token."""

    def __init__(self, engine, token=None):
        self.url = f"http://127.0.0.1:{control_port(engine)}/mcp"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx2.AsyncClient(headers=headers, timeout=10)

    async def __aenter__(self):
        self._http = await self.http.__aenter__()
        self._transport = streamable_http_client(self.url, http_client=self.http)
        read, write = await self._transport.__aenter__()
        self._session = ClientSession(read, write)
        self.session = await self._session.__aenter__()
        self.init = await self.session.initialize()
        return self.session

    async def __aexit__(self, *exc):
        await self._session.__aexit__(*exc)
        await self._transport.__aexit__(*exc)
        await self.http.__aexit__(*exc)


async def call(session, tool, arguments=None):
    """A tool's JSON result (its text content), asserting it succeeded."""
    r = await session.call_tool(tool, arguments or {})
    assert not r.is_error, (tool, r.content)
    assert len(r.content) == 1 and r.content[0].type == "text"
    value = json.loads(r.content[0].text)
    # structuredContent carries the same value (a list under the tool's name).
    assert r.structured_content == (value if isinstance(value, dict) else {tool: value})
    return value


async def rpc(port, token, method, params=None):
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws",
                                  additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        msg = {"jsonrpc": "2.0", "id": 1, "method": method}
        if params is not None:
            msg["params"] = params
        await ws.send(json.dumps(msg))
        while True:
            reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if reply.get("id") == 1:
                return reply


@pytest.fixture
def engine_1s(synthetic_sim, tmp_path):
    # 1s candles (and no 1m): closed candles within the test, and the "first configured
    # timeframe" rule of the candles resource.
    e = Engine(synthetic_sim, tmp_path,
               overrides={"market": {"symbols": ["BTCUSDT", "ETHUSDT"], "timeframes": ["1s", "5m"]}})
    yield e
    if e.proc.poll() is None:
        assert e.stop() == 0


def test_tools_with_the_token(engine_1s):
    eng = engine_1s
    token = generated_token(eng)

    async def run(b):
        async with Mcp(eng, token) as s:
            init = s.initialize_result
            assert init.protocol_version == "2025-11-25"
            assert init.server_info.name == "cwtsd" and init.server_info.version
            assert init.capabilities.tools is not None and init.capabilities.resources is not None
            await s.send_ping()

            tools = (await s.list_tools()).tools
            assert {t.name for t in tools} == TOOLS
            for t in tools:
                assert t.input_schema["type"] == "object" and t.description
            schema = next(t for t in tools if t.name == "risk_set").input_schema
            assert schema["properties"]["max_open_orders"]["type"] == "integer"

            st = await call(s, "status")
            assert st["instance"] == eng.instance and st["trading_state"] == "active"
            assert st["symbols"] == 2

            pos = (await call(s, "positions"))
            assert [p["symbol"] for p in pos] == ["BTCUSDT", "ETHUSDT"]
            assert all(p["qty"] == "0.00000000" and p["open_orders"] == 0 for p in pos)
            oo = await call(s, "open_orders")
            assert oo == {"symbols": [{"symbol": "BTCUSDT", "open_orders": 0},
                                      {"symbol": "ETHUSDT", "open_orders": 0}], "total": 0}

            risk = await call(s, "risk_get")
            assert risk["max_open_orders"] == 20 and risk["price_band_bps"] == 500
            r = await call(s, "risk_set", {"max_open_orders": 7, "max_order_notional": "5000"})
            assert r["max_open_orders"] == 7 and r["max_order_notional"] == "5000.00000000"
            risk = await call(s, "risk_get")
            assert risk["max_open_orders"] == 7 and risk["max_order_notional"] == "5000.00000000"
            # A bad value: the control plane's refusal, as the tool's error result.
            bad = await s.call_tool("risk_set", {"price_band_bps": -1})
            assert bad.is_error and "price_band_bps must be an integer" in bad.content[0].text
            assert (await call(s, "risk_get"))["price_band_bps"] == 500

            for tool, state in (("halt", "halted"), ("reduce_only", "reduce_only"), ("resume", "active")):
                assert (await call(s, tool))["trading_state"] == state
                assert (await call(s, "status"))["trading_state"] == state
                assert (await call(s, "risk_get"))["trading_state"] == state

            # A resting order shows in open_orders and positions; cancel_all cancels it.
            q = b.quote("BTCUSDT")
            seq = b.submit("BTCUSDT", "buy", 0.001, price=round(q.bid * 0.98, 2))
            assert wait_until(lambda: any(x.seq == seq and x.kind == "NEW" for x in b.reports()), timeout=5)
            for _ in range(50):
                oo = await call(s, "open_orders")
                if oo["total"] == 1:
                    break
                await asyncio.sleep(0.05)
            assert oo["symbols"][0] == {"symbol": "BTCUSDT", "open_orders": 1} and oo["total"] == 1
            assert (await call(s, "positions"))[0]["open_orders"] == 1
            assert (await call(s, "cancel_all"))["requested"] is True
            final = b.wait_report(seq, 5)
            assert final is not None and final.kind == "CANCELLED"
            for _ in range(50):
                if (await call(s, "open_orders"))["total"] == 0:
                    break
                await asyncio.sleep(0.05)
            assert (await call(s, "open_orders"))["total"] == 0

    with cwts_bridge.attach(eng.instance, slot=-1, name="mcp-test") as b:
        asyncio.run(run(b))
    # Logged as for JSON-RPC (the log is written asynchronously: wait for the last line).
    events = ('"trading_state_set"', '"cancel_all_requested"', '"risk_set"', '"via":"control"')
    assert wait_until(lambda: all(e in eng.log_path.read_text() for e in events), timeout=5)
    assert token not in eng.log_path.read_text()


def test_resources_match_the_control_plane_and_the_bridge(engine_1s, synthetic_sim):
    eng = engine_1s
    token = generated_token(eng)
    port = control_port(eng)
    with cwts_bridge.attach(eng.instance) as b:
        # Some closed 1s candles, then a frozen market so that every reader sees the same values.
        assert wait_until(lambda: len(b.candles("BTCUSDT", "1s")) >= 3, timeout=15)
        synthetic_sim.fault({"pause": True})
        try:
            def settled():  # the paused feed's last frames are in
                before = b.quote("BTCUSDT").update_id
                time.sleep(0.3)
                return b.quote("BTCUSDT").update_id == before
            assert wait_until(settled, timeout=10)

            async def run():
                async with Mcp(eng, token) as s:
                    res = (await s.list_resources()).resources
                    uris = [str(r.uri) for r in res]
                    assert uris == [f"cwts://symbols/{sym}/{k}" for sym in ("BTCUSDT", "ETHUSDT")
                                    for k in ("quote", "book", "candles")]
                    assert all(r.mime_type == "application/json" for r in res)
                    templates = (await s.list_resource_templates()).resource_templates
                    assert {t.uri_template for t in templates} == {
                        "cwts://symbols/{symbol}/quote", "cwts://symbols/{symbol}/book",
                        "cwts://symbols/{symbol}/candles"}

                    async def read(uri):
                        r = await s.read_resource(uri)
                        assert len(r.contents) == 1 and str(r.contents[0].uri) == uri
                        assert r.contents[0].mime_type == "application/json"
                        return json.loads(r.contents[0].text)

                    quote = await read("cwts://symbols/BTCUSDT/quote")
                    book = await read("cwts://symbols/BTCUSDT/book")
                    candles = await read("cwts://symbols/BTCUSDT/candles")
                    eth = await read("cwts://symbols/ETHUSDT/quote")
                    return quote, book, candles, eth

            quote, book, candles, eth = asyncio.run(run())
            syms = asyncio.run(rpc(port, token, "symbols"))["result"]
            assert quote == syms[0] and eth == syms[1]
            rpc_book = asyncio.run(rpc(port, token, "book", {"symbol": "BTCUSDT"}))["result"]
            assert book == rpc_book
            rpc_candles = asyncio.run(rpc(port, token, "candles", {"symbol": "BTCUSDT"}))["result"]
            short = asyncio.run(rpc(port, token, "book", {"symbol": "BTCUSDT", "depth": 3}))["result"]
            assert short["bids"] == book["bids"][:3] and short["asks"] == book["asks"][:3]
            # The new read methods' errors name what is valid.
            err = asyncio.run(rpc(port, token, "book", {"symbol": "DOGEUSDT"}))["error"]
            assert err["code"] == -32602 and "BTCUSDT, ETHUSDT" in err["message"]
            err = asyncio.run(rpc(port, token, "candles", {"symbol": "BTCUSDT", "timeframe_s": 60}))["error"]
            assert err["code"] == -32602 and "not published" in err["message"]
            assert asyncio.run(rpc(port, token, "book", {"symbol": "BTCUSDT", "depth": 21}))["error"]["code"] == -32602
            five = asyncio.run(rpc(port, token, "candles", {"symbol": "BTCUSDT", "timeframe_s": 300, "limit": 2}))
            assert five["result"]["timeframe_s"] == 300 and len(five["result"]["closed"]) <= 2

            bq = b.quote("BTCUSDT")
            assert float(quote["bid"]) == bq.bid and float(quote["ask"]) == bq.ask
            assert quote["update_id"] == bq.update_id and quote["book_valid"]
            bid_px, bid_qty, ask_px, ask_qty, update_id, valid = b.book("BTCUSDT", 20)
            assert book["symbol"] == "BTCUSDT" and book["update_id"] == update_id and book["book_valid"] == valid
            assert [float(p) for p, _ in book["bids"]] == list(bid_px)
            assert [float(x) for _, x in book["bids"]] == list(bid_qty)
            assert [float(p) for p, _ in book["asks"]] == list(ask_px)
            assert [float(x) for _, x in book["asks"]] == list(ask_qty)
            assert 0 < len(book["bids"]) <= 20 and 0 < len(book["asks"]) <= 20

            # Candles still close on the clock while the feed is paused (flat ones): each reader
            # is compared on the periods both have.
            assert candles["symbol"] == "BTCUSDT" and candles["timeframe_s"] == 1
            closed = candles["closed"]
            times = [c["open_time_ms"] for c in closed]
            assert len(closed) >= 3 and all(t % 1000 == 0 for t in times)
            assert all(b_ - a_ == 1000 for a_, b_ in zip(times, times[1:])), "oldest first, no gap"
            df = b.candles("BTCUSDT", "1s")  # read after: it has every candle the resource had
            bridge = {int(t.timestamp() * 1000): (c, v) for t, c, v in zip(df["date"], df["close"], df["volume"])}
            assert all(bridge[c["open_time_ms"]] == (float(c["close"]), float(c["volume"])) for c in closed)
            assert len(closed) == 100 or times[0] == min(bridge), "the resource starts at the oldest kept"
            by_time = {c["open_time_ms"]: c for c in rpc_candles["closed"]}
            assert all(by_time.get(c["open_time_ms"], c) == c for c in closed)
            assert rpc_candles["timeframe_s"] == 1 and times[-1] in by_time
        finally:
            synthetic_sim.fault({"pause": False})


def test_without_the_token_nothing_changes_and_errors_are_clear(engine_1s):
    eng = engine_1s
    token = generated_token(eng)

    async def run():
        async with Mcp(eng) as s:  # no token
            assert s.initialize_result.server_info.name == "cwtsd"
            assert {t.name for t in (await s.list_tools()).tools} == TOOLS
            for tool, args in (("halt", {}), ("risk_set", {"max_open_orders": 1}), ("cancel_all", {}),
                               ("reduce_only", {}), ("resume", {})):
                r = await s.call_tool(tool, args)
                assert r.is_error, tool
                text = r.content[0].text
                assert "unauthorized" in text and "bearer token" in text and "Authorization: Bearer" in text
                assert "cwts-<instance>.token" in text and "nothing was changed" in text
            # Reads are closed too (control.allow_unauthenticated_reads is false by default).
            r = await s.call_tool("status", {})
            assert r.is_error and "unauthorized" in r.content[0].text
            with pytest.raises(MCPError, match="unauthorized"):
                await s.list_resources()
        async with Mcp(eng, "wrong-token-0123456789") as s:
            assert (await s.call_tool("halt", {})).is_error
        async with Mcp(eng, token) as s:
            # Nothing changed.
            st = await call(s, "status")
            assert st["trading_state"] == "active"
            assert (await call(s, "risk_get"))["max_open_orders"] == 20
            # An unknown tool and an unknown resource: JSON-RPC errors naming what exists.
            with pytest.raises(MCPError) as e:
                await s.call_tool("launch_rockets", {})
            assert e.value.code == -32602 and "unknown tool: launch_rockets" in e.value.message
            assert "risk_set" in e.value.message
            for uri in ("cwts://symbols/DOGEUSDT/quote", "cwts://symbols/BTCUSDT/trades", "https://example.org/x"):
                with pytest.raises(MCPError) as e:
                    await s.read_resource(uri)
                assert e.value.code == -32002 and "resource not found" in e.value.message, uri

    asyncio.run(run())
    assert eng.stop() == 0


def test_open_reads_and_the_http_edges(synthetic_sim, tmp_path):
    """control.allow_unauthenticated_reads opens the read tools and resources, never the
    mutating tools; the transport's HTTP rules; web pages refused as on the rest of the port."""
    eng = Engine(synthetic_sim, tmp_path, overrides={"control": {"allow_unauthenticated_reads": True}})
    port = control_port(eng)
    url = f"http://127.0.0.1:{port}/mcp"

    async def run():
        async with Mcp(eng) as s:
            assert (await call(s, "status"))["instance"] == eng.instance
            assert len((await s.list_resources()).resources) == 6
            quote = json.loads((await s.read_resource("cwts://symbols/ETHUSDT/quote")).contents[0].text)
            assert quote["symbol"] == "ETHUSDT"
            assert (await s.call_tool("halt", {})).is_error
            assert (await call(s, "status"))["trading_state"] == "active"
        # The SDK's high-level Client first probes the 2026 era (server/discover), which this
        # server does not speak, and falls back to the initialize handshake.
        async with Client(url) as c:
            assert c.protocol_version == "2025-11-25"
            assert (await c.call_tool("risk_get", {})).structured_content["max_open_orders"] == 20

    asyncio.run(run())

    def post(body, headers=None, method="POST", target=url):
        h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        h.update(headers or {})
        req = urllib.request.Request(target, data=None if body is None else body.encode(), headers=h,
                                     method=method)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    init = json.dumps({"jsonrpc": "2.0", "id": "a", "method": "initialize",
                       "params": {"protocolVersion": "2025-03-26", "capabilities": {},
                                  "clientInfo": {"name": "t", "version": "1"}}})
    status, headers, body = post(init)
    assert status == 200 and headers["Content-Type"] == "application/json"
    reply = json.loads(body)
    assert reply["id"] == "a" and reply["result"]["protocolVersion"] == "2025-03-26"
    assert "Mcp-Session-Id" not in headers  # stateless
    # A version this server does not know: it answers with its newest.
    status, _, body = post(init.replace("2025-03-26", "2099-01-01"))
    assert json.loads(body)["result"]["protocolVersion"] == "2025-11-25"
    # Notifications: 202, no body.
    status, _, body = post(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    assert status == 202 and body == ""
    # No SSE stream, no session to delete.
    for method in ("GET", "DELETE"):
        status, headers, _ = post(None, method=method)
        assert status == 405 and headers["Allow"] == "POST", method
    # structuredContent only from 2025-06-18 on (the MCP-Protocol-Version header).
    list_call = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "risk_get"}})
    old = json.loads(post(list_call, {"MCP-Protocol-Version": "2025-03-26"})[2])["result"]
    new = json.loads(post(list_call, {"MCP-Protocol-Version": "2025-06-18"})[2])["result"]
    assert "structuredContent" not in old and new["structuredContent"]["price_band_bps"] == 500
    status, _, body = post(list_call, {"MCP-Protocol-Version": "1999-01-01"})
    assert status == 400 and "unsupported MCP-Protocol-Version" in json.loads(body)["error"]["message"]
    # Malformed: parse errors, batches, wrong content type, unknown method.
    status, _, body = post("{nope")
    assert status == 400 and json.loads(body)["error"]["code"] == -32700
    status, _, body = post("[" + list_call + "]")
    assert status == 400 and json.loads(body)["error"]["code"] == -32600
    assert post(list_call, {"Content-Type": "text/plain"})[0] == 415
    assert json.loads(post(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "prompts/list"}))[2])["error"]["code"] == -32601
    # A web page (Origin header, or a DNS-rebound host name) is refused before anything runs.
    assert post(list_call, {"Origin": "http://evil.example"})[0] == 403
    assert post(list_call, {"Host": "evil.example"})[0] == 403
    # Other paths still take no POST.
    assert post(list_call, target=f"http://127.0.0.1:{port}/metrics")[0] == 405
    assert eng.stop() == 0
