"""cwtsd's gateway (docs/gateway.md): unmodified Binance clients (ccxt, python-binance) trading
through a real cwtsd on a real cwts-sim. Every order must reach the venue exactly once, through the
engine; every refusal must be the Binance error a client expects, with nothing executed."""
import hashlib
import hmac
import json
import pathlib
import signal
import time
import urllib.error
import urllib.parse
import urllib.request

import ccxt
import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from conftest import (API_KEY, API_SECRET, GATEWAY_KEY, GATEWAY_SECRET, Engine,
                      SpawnedEngine, assert_published_whole, wait_until)

GATEWAY = {"listen": "127.0.0.1:0", "slot": 15}


def gateway_url(engine):
    f = pathlib.Path("/dev/shm") / f"cwts-{engine.instance}.gateway"
    assert wait_until(lambda: f.exists() and f.read_text().endswith("\n"), timeout=10), \
        "the gateway writes its address"
    return "http://" + f.read_text().strip()


@pytest.fixture
def gw(synthetic_sim, tmp_path):
    e = Engine(synthetic_sim, tmp_path, overrides={"gateway": GATEWAY})
    e.url = gateway_url(e)
    yield e
    if e.proc.poll() is None:
        assert e.stop() == 0


def test_the_address_file_appears_whole(synthetic_sim, tmp_path):
    """Clients poll for cwts-<instance>.gateway and read it as soon as it exists: it must appear by
    one rename, never created empty and then written (a client once read it empty and asked
    http:///api/...)."""
    assert_published_whole(lambda: Engine(synthetic_sim, tmp_path, overrides={"gateway": GATEWAY}),
                           gateway_url, "gateway")


def ccxt_client(url, secret=GATEWAY_SECRET):
    e = ccxt.binance({
        "apiKey": GATEWAY_KEY, "secret": secret, "enableRateLimit": False,
        "options": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False,
                    "fetchCurrencies": False, "defaultType": "spot"},
    })
    for k, v in list(e.urls["api"].items()):
        e.urls["api"][k] = v.replace("https://api.binance.com", url)
    return e


def signed(url, method, path, params, key=GATEWAY_KEY, secret=GATEWAY_SECRET, body=None):
    """A raw signed request; returns (status, json)."""
    params = dict(params)
    params.setdefault("timestamp", int(time.time() * 1000))
    q = urllib.parse.urlencode(params)
    sig = hmac.new(secret.encode(), q.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(f"{url}{path}?{q}&signature={sig}", method=method,
                                 headers={"X-MBX-APIKEY": key}, data=body)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def venue_orders(sim, symbol="BTCUSDT"):
    """The venue's own record (cwts-sim, with the engine's venue keys)."""
    status, body = signed(sim.url, "GET", "/api/v3/allOrders", {"symbol": symbol}, API_KEY, API_SECRET)
    assert status == 200, body
    return body


def venue_trades(sim, symbol="BTCUSDT"):
    status, body = signed(sim.url, "GET", "/api/v3/myTrades", {"symbol": symbol}, API_KEY, API_SECRET)
    assert status == 200, body
    return body


def test_public_market_data_from_the_engine(gw):
    e = ccxt_client(gw.url)
    markets = e.load_markets()
    # The venue's markets (read-only, ADR 0026), the engine's symbols among them with their filters.
    assert {"BTC/USDT", "ETH/USDT"} <= set(markets) and len(markets) > 100
    assert markets["BTC/USDT"]["precision"]["price"] == pytest.approx(0.01)
    book = e.fetch_order_book("BTC/USDT", limit=20)
    assert book["bids"] and book["asks"] and book["bids"][0][0] < book["asks"][0][0]
    assert len(book["bids"]) <= 20
    t = e.fetch_ticker("BTC/USDT")  # ticker/24hr: looked up at the venue
    assert t["bid"] < t["ask"]
    bt = e.publicGetTickerBookTicker({"symbol": "BTCUSDT"})
    assert float(bt["bidPrice"]) < float(bt["askPrice"])
    # Older history than the engine holds comes from the venue; recent candles from the engine.
    rows = e.fetch_ohlcv("BTC/USDT", "1m", limit=5)
    assert 1 <= len(rows) <= 5 and all(r[2] >= r[3] for r in rows)
    since = rows[-1][0]
    recent = e.fetch_ohlcv("BTC/USDT", "1m", since=since, limit=3)
    assert recent and recent[0][0] == since
    assert abs(e.fetch_time() - time.time() * 1000) < 5000


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=15) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def venue_rest_requests(sim, path):
    return sim.get("/_sim/status")["restRequests"].get(path, 0)


def test_a_depth_within_the_regions_books_is_the_engines_own(synthetic_sim, tmp_path):
    """GET depth (docs/gateway.md): with region.book_depth 100 a limit of 100 (ccxt's and
    python-binance's default) is answered from the engine's book, 100 levels a side, nothing
    asked of the venue; a deeper one is the venue's."""
    e = Engine(synthetic_sim, tmp_path, overrides={"gateway": GATEWAY}, region={"book_depth": 100})
    try:
        url = gateway_url(e)
        before = venue_rest_requests(synthetic_sim, "/api/v3/depth")
        status, book = get_json(url + "/api/v3/depth?symbol=BTCUSDT&limit=100")
        assert status == 200 and len(book["bids"]) == len(book["asks"]) == 100, (status, book)
        assert float(book["bids"][0][0]) < float(book["asks"][0][0])
        assert venue_rest_requests(synthetic_sim, "/api/v3/depth") == before
        status, book = get_json(url + "/api/v3/depth?symbol=BTCUSDT&limit=200")
        assert status == 200 and len(book["bids"]) == 200, status
        assert venue_rest_requests(synthetic_sim, "/api/v3/depth") == before + 1
    finally:
        assert e.stop() == 0


def test_past_klines_are_fetched_from_the_venue_once(gw, synthetic_sim):
    """History older than the engine holds comes from the venue, through the engine's rate
    governor, once: closed candles never change, so the gateway keeps the answer."""
    time.sleep(3)  # a few 1s candles closed (the engine keeps 1m and 5m: 1s is the venue's)
    end = int(time.time() * 1000) // 1000 * 1000 - 2000
    q = f"/api/v3/klines?symbol=BTCUSDT&interval=1s&endTime={end}&limit=2"
    before = venue_rest_requests(synthetic_sim, "/api/v3/klines")
    status, first = get_json(gw.url + q)
    assert status == 200 and len(first) == 2 and first[-1][0] <= end, first
    assert venue_rest_requests(synthetic_sim, "/api/v3/klines") == before + 1
    for _ in range(3):
        assert get_json(gw.url + q) == (200, first), "the same answer, from the gateway's cache"
    assert venue_rest_requests(synthetic_sim, "/api/v3/klines") == before + 1, "asked once"
    assert get_json(synthetic_sim.url + q) == (200, first), "the venue's answer, unchanged"
    # Older than the engine holds but ending in the open candle: may still change, asked each time.
    since = (int(time.time() * 1000) // 60_000 - 10) * 60_000
    recent = f"/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime={since}"
    for _ in range(2):
        status, rows = get_json(gw.url + recent)
        assert status == 200 and rows[-1][6] >= time.time() * 1000 - 1000, rows[-1]
    assert venue_rest_requests(synthetic_sim, "/api/v3/klines") == before + 1 + 1 + 2  # + ours


def test_venue_lookups_spend_only_what_the_rate_governor_leaves(tmp_path):
    """With a small venue weight limit, the gateway's look-ups are refused with Binance's -1003
    before the venue would answer 429: the engine's orders keep their budget. (The limit leaves
    the look-ups room for a few after the engine's start, a book resync included: with 400 a
    loaded CI machine once left none, and every look-up was refused. 20 of them, 50 weight each,
    always reach the limit.)"""
    from conftest import Sim
    sim = Sim(["--synthetic", "BTCUSDT,ETHUSDT", "--rate", "50", "--weight-limit", "600",
               "--balance", "USDT=100000,BTC=5"], tmp_path)
    e = Engine(sim, tmp_path, overrides={"gateway": GATEWAY})
    try:
        url = gateway_url(e)
        before = venue_rest_requests(sim, "/api/v3/depth")  # the engine's own book snapshots
        answers = [get_json(url + "/api/v3/depth?symbol=BTCUSDT&limit=1000") for _ in range(20)]
        ok = [a for a in answers if a[0] == 200]
        refused = [a for a in answers if a[0] != 200]
        assert ok and refused, [a[0] for a in answers]
        assert all(a[0] == 429 and a[1]["code"] == -1003 for a in refused), refused
        assert venue_rest_requests(sim, "/api/v3/depth") == before + len(ok), "refused ones never sent"
        # Orders still have their budget (a tenth kept back from look-ups).
        x = ccxt_client(url)
        x.load_markets()
        order = x.create_order("BTC/USDT", "market", "buy", 0.001)
        assert order["status"] == "closed"
        assert "rate_limited" not in sim.log_path.read_text(), "the venue never said 429"
    finally:
        assert e.stop() == 0
        assert sim.stop() == 0


def test_a_venue_lookup_answered_429_holds_every_venue_request(gw, synthetic_sim):
    """A look-up the gateway forwards (trades, ticker/24hr, ...) answered 429 was passed on, and the
    next ones went out at once: inside Retry-After Binance bans the IP, the engine's orders with it
    (cwts-sim: after three, a 418). The 429 now holds every venue request of the engine until
    Retry-After; look-ups are refused meanwhile and work again after it."""
    def asked():
        return synthetic_sim.get("/_sim/status")["restRequests"].get("/api/v3/trades", 0)

    def trades():
        try:
            with urllib.request.urlopen(gw.url + "/api/v3/trades?symbol=BTCUSDT&limit=5", timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    before = asked()
    synthetic_sim.fault({"http_status": 429, "retry_after_s": 3, "count": 1, "path": "/api/v3/trades"})
    codes = [trades() for _ in range(6)]
    assert asked() - before == 1, codes
    assert 200 not in codes, codes
    assert '"status":418' not in synthetic_sim.log_path.read_text()
    time.sleep(3)
    assert wait_until(lambda: trades() == 200, timeout=10)


def test_market_order_goes_to_the_venue_exactly_once(gw, synthetic_sim):
    e = ccxt_client(gw.url)
    e.load_markets()
    before = venue_orders(synthetic_sim)
    o = e.create_order("BTC/USDT", "market", "buy", 0.01)
    assert o["status"] == "closed" and o["filled"] == pytest.approx(0.01)
    after = venue_orders(synthetic_sim)
    new = [v for v in after if v["orderId"] not in {b["orderId"] for b in before}]
    assert len(new) == 1, new
    v = new[0]
    assert v["status"] == "FILLED" and float(v["executedQty"]) == pytest.approx(0.01)
    # What the gateway reports is the venue's execution: quantity, quote amount, fee.
    assert o["cost"] == pytest.approx(float(v["cummulativeQuoteQty"]), rel=1e-9)
    fetched = e.fetch_order(o["id"], "BTC/USDT")
    assert fetched["status"] == "closed" and fetched["filled"] == pytest.approx(0.01)
    trades = e.fetch_my_trades("BTC/USDT")
    mine = [t for t in trades if t["order"] == o["id"]]
    assert mine and sum(t["amount"] for t in mine) == pytest.approx(0.01)
    vt = [t for t in venue_trades(synthetic_sim) if t["orderId"] == v["orderId"]]
    # The venue's commission, in the asset it charged (BTC: the bought asset).
    assert {t["commissionAsset"] for t in vt} == {"BTC"}
    assert {t["fee"]["currency"] for t in mine} == {"BTC"}
    assert sum(t["fee"]["cost"] for t in mine) == pytest.approx(sum(float(t["commission"]) for t in vt), rel=1e-9)


@pytest.mark.parametrize("idle", ["busy-spin", "spin-then-yield"])
def test_a_spinning_gateway_thread_trades_and_stops_the_same(synthetic_sim, tmp_path, idle):
    # threads.gateway.idle: the gateway's thread polls its sockets instead of sleeping in epoll
    # (docs/gateway.md "Latency"); orders, answers and a clean stop are unchanged.
    e = Engine(synthetic_sim, tmp_path, overrides={
        "gateway": GATEWAY, "threads": {"exec": {"idle": "block"}, "gateway": {"idle": idle}}})
    try:
        c = ccxt_client(gateway_url(e))
        c.load_markets()
        before = {v["orderId"] for v in venue_orders(synthetic_sim)}
        o = c.create_order("BTC/USDT", "market", "buy", 0.01)
        assert o["status"] == "closed" and o["filled"] == pytest.approx(0.01)
        new = [v for v in venue_orders(synthetic_sim) if v["orderId"] not in before]
        assert len(new) == 1 and new[0]["status"] == "FILLED", new
    finally:
        assert e.stop() == 0


def test_resting_limit_order_is_queried_and_cancelled(gw, synthetic_sim):
    c = Client(GATEWAY_KEY, GATEWAY_SECRET, ping=False)
    c.API_URL = gw.url + "/api"
    bid = float(c.get_orderbook_ticker(symbol="BTCUSDT")["bidPrice"])
    price = f"{bid * 0.97:.2f}"
    o = c.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                       quantity="0.001", price=price, newClientOrderId="gw-rest-1")
    assert o["status"] == "NEW" and o["clientOrderId"] == "gw-rest-1"
    assert [x["orderId"] for x in c.get_open_orders(symbol="BTCUSDT")] == [o["orderId"]]
    q = c.get_order(symbol="BTCUSDT", origClientOrderId="gw-rest-1")
    assert q["orderId"] == o["orderId"] and q["status"] == "NEW"
    # A second order with the same client id while it is known: refused, nothing sent.
    n_before = len(venue_orders(synthetic_sim))
    with pytest.raises(BinanceAPIException) as dup:
        c.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                       quantity="0.001", price=price, newClientOrderId="gw-rest-1")
    assert dup.value.code == -2010 and "Duplicate" in dup.value.message
    assert len(venue_orders(synthetic_sim)) == n_before
    x = c.cancel_order(symbol="BTCUSDT", orderId=o["orderId"])
    assert x["status"] == "CANCELED"
    assert c.get_order(symbol="BTCUSDT", orderId=o["orderId"])["status"] == "CANCELED"
    resting = [v for v in venue_orders(synthetic_sim) if v["price"].startswith(price)]
    assert len(resting) == 1 and resting[0]["status"] == "CANCELED"
    with pytest.raises(BinanceAPIException) as again:
        c.cancel_order(symbol="BTCUSDT", orderId=o["orderId"])
    assert again.value.code == -2011
    with pytest.raises(BinanceAPIException) as missing:
        c.get_order(symbol="BTCUSDT", orderId=12345)
    assert missing.value.code == -2013


def test_refusals_are_binance_errors_and_nothing_executes(gw, synthetic_sim):
    n_before = len(venue_orders(synthetic_sim))
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
             "quantity": "0.001", "price": "1000.00"}
    status, body = signed(gw.url, "POST", "/api/v3/order", order, secret="wrong-secret-0123456789")
    assert (status, body["code"]) == (400, -1022)
    status, body = signed(gw.url, "POST", "/api/v3/order", order, key="unknownKey123")
    assert (status, body["code"]) == (401, -2015)
    status, body = signed(gw.url, "POST", "/api/v3/order", dict(order, timestamp=int(time.time() * 1000) - 120_000))
    assert (status, body["code"]) == (400, -1021)
    status, body = signed(gw.url, "POST", "/api/v3/order", dict(order, symbol="XRPUSDT"))
    assert (status, body["code"]) == (400, -1121)
    status, body = signed(gw.url, "POST", "/api/v3/order", dict(order, price="1000.005"))
    assert status == 400 and body["code"] in (-1013, -1111), body
    status, body = signed(gw.url, "POST", "/api/v3/order", dict(order, quantity="0.0000001"))
    assert status == 400 and body["code"] in (-1013, -1111), body
    # A venue filter the engine checks before sending (min notional 1000 * 0.001 < 5 USDT).
    status, body = signed(gw.url, "POST", "/api/v3/order", order)
    assert (status, body) == (400, {"code": -1013, "msg": "Filter failure: NOTIONAL"})
    # The engine's own risk limits (price band around the mid): -2010 with the reason.
    with urllib.request.urlopen(gw.url + "/api/v3/ticker/bookTicker?symbol=BTCUSDT", timeout=10) as r:
        bid = float(json.loads(r.read())["bidPrice"])
    status, body = signed(gw.url, "POST", "/api/v3/order", dict(order, price=f"{bid * 0.9:.2f}"))
    assert status == 400 and body["code"] == -2010 and "PRICE_BAND" in body["msg"], body
    status, body = signed(gw.url, "POST", "/api/v3/order", {}, body=b"x=" + b"1" * 70000)
    assert status == 413
    assert len(venue_orders(synthetic_sim)) == n_before, "nothing reached the venue"


def test_halted_engine_refuses_with_the_reason(synthetic_sim, tmp_path):
    risk = {"max_order_notional": "100000", "max_open_orders": 20, "price_band_bps": 500,
            "trading_state": "halted"}
    e = Engine(synthetic_sim, tmp_path, overrides={"gateway": GATEWAY, "risk": risk})
    try:
        url = gateway_url(e)
        n_before = len(venue_orders(synthetic_sim))
        x = ccxt_client(url)
        x.load_markets()
        with pytest.raises(ccxt.InvalidOrder) as err:
            x.create_order("BTC/USDT", "market", "buy", 0.001)
        assert "halted" in str(err.value)
        assert len(venue_orders(synthetic_sim)) == n_before
    finally:
        assert e.stop() == 0


def test_partial_fill_then_cancel_reports_the_venues_fills(gw, synthetic_sim):
    c = Client(GATEWAY_KEY, GATEWAY_SECRET, ping=False)
    c.API_URL = gw.url + "/api"
    book = c.get_order_book(symbol="BTCUSDT", limit=20)
    price = float(book["asks"][0][0]) + 0.02
    visible = sum(float(q) for p, q in book["asks"] if float(p) <= price)
    qty = f"{visible + 0.5:.5f}"  # more than the book offers up to the price: the rest rests
    o = c.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                       quantity=qty, price=f"{price:.2f}", newClientOrderId="gw-partial")
    assert o["status"] == "PARTIALLY_FILLED", o
    assert 0 < float(o["executedQty"]) < float(qty)
    assert o["fills"] and sum(float(f["qty"]) for f in o["fills"]) == pytest.approx(float(o["executedQty"]))
    # The synthetic market moves ~50 ticks a second: the resting part (at the ask + 2 ticks) may fill
    # before the cancel arrives, which the gateway answers as Binance does (-2011).
    try:
        x = c.cancel_order(symbol="BTCUSDT", origClientOrderId="gw-partial")
        assert x["status"] == "CANCELED"
        final = "CANCELED"
    except BinanceAPIException as e:
        assert e.code == -2011, e
        final = "FILLED"
    # The venue's final state reaches the gateway with the engine's report (at once, or just after
    # a -2011 once the engine has the order's fills).
    wait_until(lambda: c.get_order(symbol="BTCUSDT", orderId=o["orderId"])["status"] == final, timeout=10)
    done = c.get_order(symbol="BTCUSDT", orderId=o["orderId"])
    assert done["status"] == final, done
    venue = [v for v in venue_orders(synthetic_sim) if v["origQty"].startswith(qty)]
    assert len(venue) == 1, venue
    assert venue[0]["status"] == final
    assert float(venue[0]["executedQty"]) == pytest.approx(float(done["executedQty"]), rel=1e-12)
    assert float(venue[0]["cummulativeQuoteQty"]) == pytest.approx(float(done["cummulativeQuoteQty"]), rel=1e-9)
    mine = c.get_my_trades(symbol="BTCUSDT", orderId=o["orderId"])
    assert sum(float(t["qty"]) for t in mine) == pytest.approx(float(done["executedQty"]), rel=1e-12)


def test_market_streams_with_ccxt_pro_and_a_raw_client(gw):
    """enable_ws-style streams: ccxt.pro (what FreqTrade's watch_ohlcv uses) and Binance's combined
    stream, served from the engine's data."""
    import asyncio
    import ccxt.pro
    import websockets

    ws_base = gw.url.replace("http://", "ws://")

    async def main():
        e = ccxt.pro.binance({"apiKey": GATEWAY_KEY, "secret": GATEWAY_SECRET, "enableRateLimit": False,
                              "options": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False,
                                          "fetchCurrencies": False, "defaultType": "spot"}})
        for k, v in list(e.urls["api"].items()):
            if isinstance(v, str):
                e.urls["api"][k] = v.replace("https://api.binance.com", gw.url)
        e.urls["api"]["ws"]["spot"] = ws_base + "/ws"
        try:
            await e.load_markets()
            candles = await asyncio.wait_for(e.watch_ohlcv("BTC/USDT", "1m"), 10)
            assert candles and candles[-1][4] > 0
            trades = await asyncio.wait_for(e.watch_trades("BTC/USDT"), 10)
            assert trades and trades[0]["price"] > 0
        finally:
            await e.close()

        async with websockets.connect(ws_base + "/stream?streams=btcusdt@bookTicker/ethusdt@depth5@100ms") as ws:
            seen = set()
            while seen != {"btcusdt@bookTicker", "ethusdt@depth5@100ms"}:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                seen.add(msg["stream"])
                if msg["stream"] == "btcusdt@bookTicker":
                    assert float(msg["data"]["b"]) < float(msg["data"]["a"])
                else:
                    assert len(msg["data"]["bids"]) == 5
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["xrpusdt@trade"], "id": 7}))
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 8}))
            replies = {}
            while len(replies) < 2:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if "id" in msg:
                    replies[msg["id"]] = msg
            assert replies[7]["code"] == 2 and "Invalid" in replies[7]["msg"], replies[7]
            assert sorted(replies[8]["result"]) == ["btcusdt@bookTicker", "ethusdt@depth5@100ms"]

    asyncio.run(main())


@pytest.fixture
def gw_selling_holdings(synthetic_sim, tmp_path):
    """The gateway on an engine that may sell the account's ETH it never bought."""
    risk = {"max_order_notional": "100000", "max_open_orders": 20, "price_band_bps": 500,
            "symbols": {"ETHUSDT": {"sell_account_holdings": True}}}
    e = Engine(synthetic_sim, tmp_path, overrides={"gateway": GATEWAY, "risk": risk})
    e.url = gateway_url(e)
    yield e
    if e.proc.poll() is None:
        assert e.stop() == 0


def test_binance_official_sdk_trades_through_the_gateway(gw_selling_holdings, synthetic_sim):
    """binance-sdk-spot (Binance's own client, unmodified) against the gateway. Its market sell
    sells the account's ETH (the engine holds none): allowed by the engine's configuration."""
    gw = gw_selling_holdings
    from binance_common.configuration import ConfigurationRestAPI
    from binance_sdk_spot.spot import Spot
    from binance_sdk_spot.rest_api.models import (NewOrderSideEnum, NewOrderTimeInForceEnum,
                                                  NewOrderTypeEnum)
    client = Spot(config_rest_api=ConfigurationRestAPI(api_key=GATEWAY_KEY, api_secret=GATEWAY_SECRET,
                                                       base_path=gw.url, retries=0))
    api = client.rest_api
    # The venue's markets too (read-only): the SDK reads every object the gateway lists.
    assert {"BTCUSDT", "ETHUSDT"} < {s.symbol for s in api.exchange_info().data().symbols}
    bid = float(api.ticker_book_ticker(symbol="ETHUSDT").data().actual_instance.bid_price)
    price = round(bid * 0.98, 2)
    o = api.new_order(symbol="ETHUSDT", side=NewOrderSideEnum.BUY, type=NewOrderTypeEnum.LIMIT,
                      time_in_force=NewOrderTimeInForceEnum.GTC, quantity=0.01, price=price,
                      new_client_order_id="sdk-1").data()
    assert o.status == "NEW" and o.client_order_id == "sdk-1"
    q = api.get_order(symbol="ETHUSDT", order_id=o.order_id).data()
    assert q.status == "NEW" and float(q.price) == pytest.approx(price)
    c = api.delete_order(symbol="ETHUSDT", orig_client_order_id="sdk-1").data()
    assert c.status == "CANCELED"
    m = api.new_order(symbol="ETHUSDT", side=NewOrderSideEnum.SELL, type=NewOrderTypeEnum.MARKET,
                      quantity=0.01).data()
    assert m.status == "FILLED" and float(m.executed_qty) == pytest.approx(0.01)
    # The account is the venue's: the engine reads it again soon after a fill.
    def balances():
        return {b.asset: float(b.free) for b in api.get_account().data().balances}
    assert wait_until(lambda: balances()["ETH"] == pytest.approx(49.99), timeout=5), balances()
    assert balances()["USDT"] > 100000


def test_gateway_orders_survive_a_sigkill_of_the_engine(synthetic_sim, tmp_path):
    """FreqTrade keeps its order ids across a crash of cwtsd: after SIGKILL and a restart, the
    gateway still answers for its clients' orders (the engine's order journal adopts them on the
    venue; the gateway's journal keeps their client ids), and nothing is sent twice."""
    journal = {"dir": str(tmp_path / "state"), "fsync": "interval", "interval_ms": 5}
    e = Engine(synthetic_sim, tmp_path, overrides={"gateway": GATEWAY, "journal": journal})
    try:
        c = Client(GATEWAY_KEY, GATEWAY_SECRET, ping=False)
        c.API_URL = gateway_url(e) + "/api"
        bid = float(c.get_orderbook_ticker(symbol="BTCUSDT")["bidPrice"])
        price = f"{bid * 0.97:.2f}"
        rest = c.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                              quantity="0.001", price=price, newClientOrderId="ft-rest-1")
        assert rest["status"] == "NEW"
        filled = c.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001",
                                newClientOrderId="ft-mkt-1")
        assert filled["status"] == "FILLED"
        e.proc.kill()
        e.proc.wait(timeout=10)
        e._log.close()
        (pathlib.Path("/dev/shm") / f"cwts-{e.instance}.gateway").unlink(missing_ok=True)

        e.start()
        c.API_URL = gateway_url(e) + "/api"
        q = c.get_order(symbol="BTCUSDT", origClientOrderId="ft-rest-1")
        assert q["orderId"] == rest["orderId"] and q["status"] == "NEW", q
        m = c.get_order(symbol="BTCUSDT", origClientOrderId="ft-mkt-1")
        assert m["status"] == "FILLED" and float(m["executedQty"]) == pytest.approx(0.001), m
        assert [o["orderId"] for o in c.get_open_orders(symbol="BTCUSDT")] == [rest["orderId"]]
        # The earlier run's order is cancelled through the gateway, on the venue.
        x = c.cancel_order(symbol="BTCUSDT", origClientOrderId="ft-rest-1")
        assert x["status"] == "CANCELED", x
        resting = [v for v in venue_orders(synthetic_sim) if v["price"].startswith(price)]
        assert len(resting) == 1 and resting[0]["status"] == "CANCELED", resting
        assert len(venue_orders(synthetic_sim)) == 2, "nothing was sent twice"
        # Its new orders get new ids.
        again = c.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001",
                               newClientOrderId="ft-mkt-2")
        assert again["orderId"] > filled["orderId"] and again["status"] == "FILLED"
    finally:
        if e.proc.poll() is None:
            assert e.stop() == 0



def test_account_before_the_engine_has_read_the_venues_is_an_error_not_an_empty_account(synthetic_sim, tmp_path):
    """A client that asks for its balances while the engine starts (FreqTrade's wallet refresh
    meeting a restart) must not be told it holds nothing: FreqTrade keeps such an answer for an
    hour and trades nothing ("Available balance (0.0 USDT)"). Until the engine has read the venue's
    account, the gateway answers Binance's retryable -1001 (HTTP 503)."""
    synthetic_sim.fault({"hold_ms": 4000, "count": 1, "path": "/api/v3/account", "method": "GET"})
    e = SpawnedEngine(synthetic_sim, tmp_path, overrides={"gateway": GATEWAY})
    try:
        url = gateway_url(e)
        answers = []
        deadline = time.time() + 20
        while time.time() < deadline:
            status, body = signed(url, "GET", "/api/v3/account", {})
            answers.append((status, body.get("code")))
            if status == 200:
                break
            assert (status, body.get("code")) == (503, -1001), body
            time.sleep(0.1)
        assert status == 200, answers[-3:]
        usdt = [b for b in body["balances"] if b["asset"] == "USDT"]
        assert usdt and float(usdt[0]["free"]) > 0, body
        assert (503, -1001) in answers, "the account was asked for before the engine had read it"
    finally:
        e.proc.send_signal(signal.SIGTERM)
        assert e.proc.wait(timeout=20) == 0
        e._log.close()
