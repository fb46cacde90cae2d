"""A plain WebSocket client (`websockets`) on cwts-sim's combined stream: frames parse, depth
update ids chain, and a book built from /depth plus the diffs (Binance's documented procedure)
equals /depth fetched later at the same update id."""
import asyncio
import json
from decimal import Decimal

import websockets

from conftest import wait_until


def apply(book, side_levels):
    for px, qty in side_levels:
        if Decimal(qty) == 0:
            book.pop(Decimal(px), None)
        else:
            book[Decimal(px)] = Decimal(qty)


def as_book(levels):
    return {Decimal(p): Decimal(q) for p, q in levels}


async def build_and_compare(sim, symbol, expect_trades=True):
    stream = symbol.lower()
    url = f"{sim.ws}/stream?streams={stream}@depth@100ms/{stream}@bookTicker/{stream}@trade"
    async with websockets.connect(url, max_size=1 << 22) as ws:
        buffered, kinds = [], set()
        # Binance: open the stream first, buffer, then fetch the snapshot.
        async def read_one():
            msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert set(msg) == {"stream", "data"}, msg
            kinds.add(msg["stream"].split("@", 1)[1])
            return msg
        while len([m for m in buffered if m["stream"].endswith("@depth@100ms")]) < 3:
            buffered.append(await read_one())
        snap = sim.get(f"/api/v3/depth?symbol={symbol}&limit=1000")
        last_id = snap["lastUpdateId"]
        bids, asks = as_book(snap["bids"]), as_book(snap["asks"])

        prev_u = None
        synced = False
        diffs_applied = 0

        def on_diff(d):
            nonlocal prev_u, synced, last_id, diffs_applied
            assert d["e"] == "depthUpdate" and d["s"] == symbol
            if prev_u is not None:
                assert d["U"] == prev_u + 1, f"ids chain: U={d['U']} after u={prev_u}"
            prev_u = d["u"]
            if d["u"] <= last_id:
                return  # older than the snapshot
            if not synced:
                assert d["U"] <= last_id + 1 <= d["u"], "the first diff straddles the snapshot"
                synced = True
            apply(bids, d["b"])
            apply(asks, d["a"])
            last_id = d["u"]
            diffs_applied += 1

        for m in buffered:
            if m["stream"].endswith("@depth@100ms"):
                on_diff(m["data"])
        while diffs_applied < 20:
            m = await read_one()
            if m["stream"].endswith("@depth@100ms"):
                on_diff(m["data"])
            elif m["stream"].endswith("@bookTicker"):
                t = m["data"]
                assert Decimal(t["b"]) < Decimal(t["a"])
            else:
                assert m["data"]["e"] == "trade" and Decimal(m["data"]["p"]) > 0

        # Freeze the venue, drain to its last update id, and compare with a fresh snapshot.
        sim.fault({"pause": True})
        try:
            status = sim.get("/_sim/status")
            target = next(x["lastUpdateId"] for x in status["markets"] if x["symbol"] == symbol)
            while last_id < target:
                m = await read_one()
                if m["stream"].endswith("@depth@100ms"):
                    on_diff(m["data"])
            later = sim.get(f"/api/v3/depth?symbol={symbol}&limit=1000")
        finally:
            sim.fault({"pause": False})
        assert later["lastUpdateId"] == last_id
        assert bids == as_book(later["bids"])
        assert asks == as_book(later["asks"])
        assert max(bids) < min(asks)
        assert {"depth@100ms", "bookTicker"} <= kinds
        if expect_trades:
            assert "trade" in kinds


def test_synthetic_book_from_snapshot_and_diffs_equals_later_snapshot(synthetic_sim):
    asyncio.run(build_and_compare(synthetic_sim, "BTCUSDT"))


def test_replayed_capture_book_from_snapshot_and_diffs_equals_later_snapshot(capture_sim):
    assert wait_until(lambda: capture_sim.get("/_sim/status")["markets"][0]["valid"])
    asyncio.run(build_and_compare(capture_sim, "NKNUSDT", expect_trades=False))


def test_subscribe_and_list_subscriptions(synthetic_sim):
    async def run():
        async with websockets.connect(f"{synthetic_sim.ws}/ws") as ws:
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@bookTicker"], "id": 7}))
            reply = None
            while reply is None:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if msg.get("id") == 7:
                    reply = msg
            assert reply == {"result": None, "id": 7}
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 8}))
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if msg.get("id") == 8:
                    assert msg["result"] == ["ethusdt@bookTicker"]
                    break
                assert msg["s"] == "ETHUSDT" and "b" in msg and "a" in msg  # raw stream payload
            # Binance's documented error replies: {"code": 2, "msg": "Invalid request: ...", "id": ...}
            await ws.send(json.dumps({"method": "FOO", "params": [], "id": 9}))
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if msg.get("id") == 9:
                    assert msg["code"] == 2 and "unknown variant `FOO`" in msg["msg"], msg
                    break
            await ws.send("{not json")
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if "code" in msg:
                    assert msg["code"] == 3 and msg["msg"].startswith("Invalid JSON"), msg
                    break
    asyncio.run(run())


def test_rebase_time_replays_the_capture_as_if_recorded_now(tmp_path):
    """--rebase-time: the 2021 capture's trades, depth events and klines carry today's times."""
    import time as _time
    from conftest import DATA, Sim

    async def first_events(sim):
        url = f"{sim.ws}/stream?streams=nknusdt@aggTrade/nknusdt@depth@100ms"
        got = {}
        async with websockets.connect(url) as ws:
            while len(got) < 2:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 20))
                got.setdefault(msg["stream"].split("@")[1], msg["data"])
        return got

    sim = Sim(["--capture", str(DATA / "spot_nknusdt_2021-10-12.capture"), "--speed", "5", "--rebase-time"],
              tmp_path)
    try:
        now_ms = _time.time() * 1000
        got = asyncio.run(first_events(sim))
        # The first events are replayed at start-up time (x5 speed moves them at most seconds ahead).
        assert abs(got["aggTrade"]["T"] - now_ms) < 120_000, got["aggTrade"]
        assert abs(got["depth"]["E"] - now_ms) < 120_000, got["depth"]
        klines = sim.get("/api/v3/klines?symbol=NKNUSDT&interval=1m&limit=5")
        assert klines and abs(klines[-1][0] - now_ms) < 180_000
    finally:
        assert sim.stop() == 0
