"""cwts-sim's WebSocket API (/ws-api/v3) and user data stream, driven by independent clients: raw
JSON frames over `websockets`, and Binance's own `binance-sdk-spot` WebSocket API client."""
import asyncio
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal

import pytest
import websockets

from conftest import API_KEY, API_SECRET


def now_ms():
    return int(time.time() * 1000)


def signed_params(params, secret=API_SECRET):
    """web-socket-api.md: every param but `signature` (apiKey included), sorted by name, joined
    name=value with '&', HMAC-SHA256 hex."""
    params = dict(params, apiKey=API_KEY, timestamp=now_ms())
    payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
    params["signature"] = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return params


def rest(sim, method, path, params):
    """A signed REST request to the sim; returns (status, json)."""
    q = urllib.parse.urlencode(dict(params, timestamp=now_ms()))
    sig = hmac.new(API_SECRET.encode(), q.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(f"{sim.url}{path}?{q}&signature={sig}", method=method,
                                 headers={"X-MBX-APIKEY": API_KEY})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def post_balance(sim, obj):
    req = urllib.request.Request(sim.url + "/_sim/balance", data=json.dumps(obj).encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


class Api:
    """One WebSocket API connection speaking raw frames."""

    def __init__(self, ws):
        self.ws = ws
        self.n = 0

    async def send(self, method, params=None, id=None, sign=False):
        if id is None:
            self.n += 1
            id = f"r{self.n}"
        req = {"id": id, "method": method}
        if params is not None or sign:
            req["params"] = signed_params(params or {}) if sign else params
        await self.ws.send(json.dumps(req))
        return id

    async def recv(self, timeout=5):
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def call(self, method, params=None, sign=False):
        """Sends a request; returns (its response, the frames that came before it)."""
        id = await self.send(method, params, sign=sign)
        before = []
        while True:
            m = await self.recv()
            if m.get("id") == id and "status" in m:
                return m, before
            before.append(m)

    async def event(self, pred=lambda e: True, timeout=5):
        """The next user data event (the inner object) matching `pred`."""
        deadline = time.monotonic() + timeout
        while True:
            m = await self.recv(max(0.05, deadline - time.monotonic()))
            if "event" in m and "subscriptionId" in m and pred(m["event"]):
                return m["event"]


def connect(sim, query=""):
    return websockets.connect(f"{sim.ws}/ws-api/v3{query}", max_size=1 << 22)


async def subscribed(sim):
    ws = await websockets.connect(f"{sim.ws}/ws-api/v3", max_size=1 << 22)
    api = Api(ws)
    r, _ = await api.call("userDataStream.subscribe.signature", sign=True)
    assert r["status"] == 200, r
    assert r["result"] == {"subscriptionId": 0}
    return api


def test_requests_and_errors_have_binance_shapes(synthetic_sim):
    async def run():
        async with connect(synthetic_sim) as ws:
            api = Api(ws)
            r, _ = await api.call("ping")
            assert r["result"] == {} and r["status"] == 200
            assert [x["rateLimitType"] for x in r["rateLimits"]] == ["REQUEST_WEIGHT"]
            await ws.send(json.dumps({"id": 42, "method": "v3/time"}))
            r = await api.recv()
            assert r["id"] == 42 and r["result"]["serverTime"] > 0
            await ws.send("{not json")
            r = await api.recv()
            assert r == {"id": None, "status": 400, "error": {"code": -1135, "msg": "Invalid JSON Request"},
                         "rateLimits": r["rateLimits"]}
            r, _ = await api.call("order.amend")
            assert r["status"] == 400 and r["error"]["code"] == -1020
            r, _ = await api.call("order.place", {"symbol": "BTCUSDT", "returnRateLimits": False})
            assert r["status"] == 401 and r["error"]["code"] == -2014 and "rateLimits" not in r
            bad = signed_params({"symbol": "BTCUSDT"})
            bad["signature"] = "0" * 64
            r, _ = await api.call("openOrders.status", bad)
            assert r["error"] == {"code": -1022, "msg": "Signature for this request is not valid."}
            r, _ = await api.call("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                  "timeInForce": "GTC", "price": "40000", "quantity": 0.01},
                                  sign=True)
            assert r["status"] == 200 and r["result"]["status"] == "NEW", r
            kinds = [(x["rateLimitType"], x["interval"]) for x in r["rateLimits"]]
            assert kinds == [("ORDERS", "SECOND"), ("ORDERS", "DAY"), ("REQUEST_WEIGHT", "MINUTE")]
        async with connect(synthetic_sim, "?returnRateLimits=false") as ws:
            r, _ = await Api(ws).call("time")
            assert "rateLimits" not in r
        stats = synthetic_sim.get("/_sim/stats")
        assert stats["endpoints"]["WS order.place"] == {"requests": 2, "weight": 2}
        assert stats["endpoints"]["WS connect"]["weight"] == 4
        assert stats["apiKeys"][API_KEY]["requests"] >= 2
    asyncio.run(run())


def test_ws_order_sends_response_then_new_then_trade_with_commission(synthetic_sim):
    async def run():
        api = await subscribed(synthetic_sim)
        async with api.ws:
            r, before = await api.call("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                       "quantity": "0.01", "newClientOrderId": "wsMarket1"},
                                       sign=True)
            assert before == [], "the response comes before the events it caused"
            assert r["result"]["status"] == "FILLED", r
            new = await api.event(lambda e: e["e"] == "executionReport")
            assert (new["x"], new["X"], new["c"], new["i"]) == ("NEW", "NEW", "wsMarket1", r["result"]["orderId"])
            # One TRADE per fill of the answer (the market order may take more than one level), the
            # last one FILLED.
            fills = r["result"]["fills"]
            for i, fill in enumerate(fills):
                trade = await api.event(lambda e: e["e"] == "executionReport")
                assert (trade["x"], trade["X"]) == ("TRADE", "FILLED" if i == len(fills) - 1 else "PARTIALLY_FILLED")
                assert trade["L"] == fill["price"] and trade["l"] == fill["qty"] and trade["t"] == fill["tradeId"]
                assert trade["n"] == fill["commission"] and trade["N"] == "BTC" and Decimal(trade["n"]) > 0
            pos = await api.event(lambda e: e["e"] != "executionReport")
            assert pos["e"] == "outboundAccountPosition"
            assert {b["a"] for b in pos["B"]} == {"BTC", "USDT"}
    asyncio.run(run())


def test_rest_orders_reach_the_user_data_stream(synthetic_sim):
    async def run():
        api = await subscribed(synthetic_sim)
        async with api.ws:
            status, body = await asyncio.to_thread(
                rest, synthetic_sim, "POST", "/api/v3/order",
                {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
                 "price": "90000", "quantity": "0.01", "newClientOrderId": "restSell1"})
            assert status == 200, body
            new = await api.event(lambda e: e["e"] == "executionReport")
            assert (new["x"], new["c"], new["i"]) == ("NEW", "restSell1", body["orderId"])
            assert new["p"] == "90000.00000000"
            pos = await api.event()
            assert pos["e"] == "outboundAccountPosition"
            assert {b["a"]: b["l"] for b in pos["B"]}["BTC"] == "0.01000000"
            status, body = await asyncio.to_thread(
                rest, synthetic_sim, "DELETE", "/api/v3/order",
                {"symbol": "BTCUSDT", "origClientOrderId": "restSell1", "newClientOrderId": "restCancel1"})
            assert status == 200, body
            cancel = await api.event(lambda e: e["e"] == "executionReport")
            assert (cancel["x"], cancel["X"], cancel["c"], cancel["C"]) == ("CANCELED", "CANCELED", "restCancel1",
                                                                          "restSell1")
    asyncio.run(run())


def test_sim_balance_sends_balance_update_and_position(synthetic_sim):
    async def run():
        api = await subscribed(synthetic_sim)
        async with api.ws:
            status, body = await asyncio.to_thread(post_balance, synthetic_sim, {"asset": "BTC", "delta": "-0.5"})
            assert status == 200 and body == {"asset": "BTC", "free": "4.50000000", "locked": "0.00000000"}
            upd = await api.event()
            assert upd["e"] == "balanceUpdate" and upd["a"] == "BTC" and upd["d"] == "-0.50000000"
            pos = await api.event()
            assert pos["e"] == "outboundAccountPosition" and pos["B"] == [{"a": "BTC", "f": "4.50000000",
                                                                           "l": "0.00000000"}]
            status, body = await asyncio.to_thread(post_balance, synthetic_sim, {"asset": "BNB", "delta": "2"})
            assert status == 200 and body["free"] == "2.00000000"
            assert (await api.event())["d"] == "2.00000000"
            status, body = await asyncio.to_thread(post_balance, synthetic_sim, {"asset": "BTC", "delta": "-100"})
            assert status == 400 and "negative" in body["error"]
            status, body = await asyncio.to_thread(post_balance, synthetic_sim, {"asset": "BTC", "delta": 1})
            assert status == 400
    asyncio.run(run())
    status, acct = rest(synthetic_sim, "GET", "/api/v3/account", {"omitZeroBalances": "true"})
    assert {b["asset"]: b["free"] for b in acct["balances"]}["BNB"] == "2.00000000"


def test_unsubscribe_ends_the_stream_with_event_stream_terminated(synthetic_sim):
    async def run():
        api = await subscribed(synthetic_sim)
        async with api.ws:
            r, _ = await api.call("session.subscriptions")
            assert r["result"] == [{"subscriptionId": 0}]
            r, _ = await api.call("userDataStream.unsubscribe")
            assert r["status"] == 200 and r["result"] == {}
            end = await api.recv()
            assert end["subscriptionId"] == 0 and end["event"]["e"] == "eventStreamTerminated"
            r, _ = await api.call("session.subscriptions")
            assert r["result"] == []
            await asyncio.to_thread(post_balance, synthetic_sim, {"asset": "BTC", "delta": "1"})
            r, before = await api.call("ping")
            assert before == [], "no events after the stream ended"
            r, _ = await api.call("userDataStream.unsubscribe")
            assert r["error"]["code"] == -2036
    asyncio.run(run())


def test_drop_connections_cuts_the_user_data_stream(synthetic_sim):
    async def run():
        api = await subscribed(synthetic_sim)
        async with api.ws:
            synthetic_sim.fault({"drop_connections": True})
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await api.recv(timeout=5)
    asyncio.run(run())


def test_held_order_is_overtaken_by_its_status_query(synthetic_sim):
    """The hold fault on a WebSocket API method: the order reaches the engine 500 ms late, so a
    status query sent after it is answered first (-2013), then the order's own answer."""
    async def run():
        api = await subscribed(synthetic_sim)
        async with api.ws:
            synthetic_sim.fault({"hold_ms": 500, "count": 1, "method": "order.place"})
            placed = await api.send("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                    "timeInForce": "GTC", "price": "40000", "quantity": "0.01",
                                                    "newClientOrderId": "held1"}, sign=True)
            r, _ = await api.call("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "held1"}, sign=True)
            assert r["error"]["code"] == -2013
            r = await api.recv()
            assert r["id"] == placed and r["result"]["status"] == "NEW"
            assert (await api.event(lambda e: e["e"] == "executionReport"))["c"] == "held1"
    asyncio.run(run())


def test_lost_answer_fault_executes_the_order_and_reports_it_on_the_stream(synthetic_sim):
    """http_status with "path":"/ws-api/v3" and after_processing: the order is placed but its
    answer is -1007 (execution status unknown); the user data stream tells the truth."""
    async def run():
        api = await subscribed(synthetic_sim)
        async with api.ws:
            synthetic_sim.fault({"http_status": 503, "code": -1007, "after_processing": True,
                                 "path": "/ws-api/v3", "count": 1})
            r, _ = await api.call("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                  "timeInForce": "GTC", "price": "40000", "quantity": "0.01",
                                                  "newClientOrderId": "lost1"}, sign=True)
            assert r["status"] == 503 and r["error"]["code"] == -1007, r
            new = await api.event(lambda e: e["e"] == "executionReport")
            assert (new["x"], new["c"]) == ("NEW", "lost1")
            r, _ = await api.call("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "lost1"}, sign=True)
            assert r["result"]["status"] == "NEW"
    asyncio.run(run())


def test_server_shutdown_is_announced_on_ws_api_sessions(synthetic_sim):
    async def run():
        async with connect(synthetic_sim) as ws:
            api = Api(ws)
            await api.call("ping")
            synthetic_sim.fault({"server_shutdown": True})
            m = await api.recv()
            assert set(m) == {"event"} and m["event"]["e"] == "serverShutdown" and m["event"]["E"] > 0
            with pytest.raises(websockets.ConnectionClosed):
                await api.recv()
    asyncio.run(run())


def test_official_sdk_places_an_order_and_reads_the_user_data_stream(synthetic_sim):
    """binance-sdk-spot's WebSocket API client, pointed at the sim."""
    sdk = pytest.importorskip("binance_sdk_spot")
    from binance_common.configuration import ConfigurationWebSocketAPI
    from binance_sdk_spot.spot import Spot
    from binance_sdk_spot.websocket_api.models import (OrderPlaceSideEnum, OrderPlaceTimeInForceEnum,
                                                       OrderPlaceTypeEnum)
    assert sdk is not None

    async def run():
        cfg = ConfigurationWebSocketAPI(api_key=API_KEY, api_secret=API_SECRET,
                                        stream_url=f"{synthetic_sim.ws}/ws-api/v3")
        conn = await Spot(config_ws_api=cfg).websocket_api.create_connection()
        try:
            r = await conn.order_place(symbol="BTCUSDT", side=OrderPlaceSideEnum["BUY"],
                                       type=OrderPlaceTypeEnum["LIMIT"],
                                       time_in_force=OrderPlaceTimeInForceEnum["GTC"], price=40000.5,
                                       quantity=0.01, new_client_order_id="sdkLimit1")
            placed = r.data().result
            assert placed.client_order_id == "sdkLimit1" and placed.status == "NEW"
            assert [x.rateLimitType for x in r.rate_limits][-1] == "REQUEST_WEIGHT"

            events = []
            sub = await conn.user_data_stream_subscribe_signature()
            assert sub.response.data().result.subscription_id == 0
            sub.stream.on("message", lambda e: events.append(e.actual_instance))
            r = await conn.order_place(symbol="BTCUSDT", side=OrderPlaceSideEnum["BUY"],
                                       type=OrderPlaceTypeEnum["MARKET"], quantity=0.001,
                                       new_client_order_id="sdkMarket1")
            assert r.data().result.status == "FILLED"
            deadline = time.monotonic() + 5
            while len(events) < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            reports = [(e.x, e.c) for e in events if type(e).__name__ == "ExecutionReport"]
            assert reports[:2] == [("NEW", "sdkMarket1"), ("TRADE", "sdkMarket1")], events
            assert any(type(e).__name__ == "OutboundAccountPosition" for e in events), events
        finally:
            await conn.close_connection(close_session=True)
    asyncio.run(run())
