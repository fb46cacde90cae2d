"""Remote strategies (cwts_bridge.remote) on a real cwtsd fed by a real cwts-sim, over the control
plane's WebSocket: reads equal the shared-memory bridge's, signals get exactly one terminal report,
tokens and scopes are enforced, bad input is refused with nothing executed, a slow client is
conflated without holding the engine back, and a dropped connection releases its slot."""
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import websockets

import cwts_bridge
import cwts_bridge.remote as remote
from conftest import Engine, Sim, control_port, wait_until
from test_control import control_address

ALICE = "aliceToken0123456789abcdef"   # read, trade on slots 3 and 5
BOB = "bobToken0123456789abcdefgh"     # read only


@pytest.fixture
def tokens_file(tmp_path):
    p = tmp_path / "tokens"
    p.write_text(f"# name scopes token\nalice read,trade:3,trade:5 {ALICE}\nbob read {BOB}\n")
    os.chmod(p, 0o600)
    return p


@pytest.fixture
def rengine(synthetic_sim, tmp_path, tokens_file):
    # Slot 3 cancels what its holder left open when it goes; slot 5 keeps it working.
    e = Engine(synthetic_sim, tmp_path, overrides={"control": {"tokens_file": str(tokens_file)},
                                                   "slots": {"3": {"on_release": "cancel"}}})
    yield e
    if e.proc.poll() is None:
        assert e.stop() == 0


def control(engine):
    where = control_address(engine)
    token = open(where["file"].replace(".control", ".token")).read().strip()
    return f"ws://127.0.0.1:{where['port']}/ws", token


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def rpc(ws, method, params=None, rid=1):
    req = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        req["params"] = params
    await ws.send(json.dumps(req))
    while True:
        msg = json.loads(await ws.recv())
        if msg.get("id") == rid:
            return msg


def test_a_book_from_a_region_five_levels_deep(synthetic_sim, tmp_path, tokens_file):
    """region.book_depth 5 (ADR 0042): book() with its default depth of 20, remote or shared
    memory, gives the 5 levels the region holds rather than an error."""
    e = Engine(synthetic_sim, tmp_path, overrides={"control": {"tokens_file": str(tokens_file)}},
               region={"book_depth": 5})
    try:
        url, _ = control(e)

        async def main():
            with cwts_bridge.attach(e.instance) as b:
                assert [len(x) for x in b.book("BTCUSDT")[:4]] == [5, 5, 5, 5]
                async with await remote.connect(url, token=BOB) as r:
                    got = await r.book("BTCUSDT")
                    assert [len(x) for x in got[:4]] == [5, 5, 5, 5]
                    assert [len(x) for x in (await r.book("BTCUSDT", 3))[:4]] == [3, 3, 3, 3]
        run(main())
    finally:
        if e.proc.poll() is None:
            assert e.stop() == 0


def test_reads_equal_the_shared_memory_reads_at_the_same_sequence(rengine):
    url, _ = control(rengine)

    async def main():
        with cwts_bridge.attach(rengine.instance) as b:
            async with await remote.connect(url, token=BOB) as r:
                assert r.symbols() == b.symbols()
                assert r.timeframes() == b.timeframes()
                assert r.scopes == {"read": True, "admin": False, "trade": []}
                for sym in b.symbols():
                    # The feed moves (a trade changes the quote without a new update id): read
                    # both until they read the same publication.
                    for _ in range(500):
                        q_shm = b.quote(sym)
                        q_rem = await r.quote(sym)
                        if q_rem == q_shm:
                            break
                    assert q_rem == q_shm
                    for _ in range(200):
                        bk_shm = b.book(sym, 10)
                        bk_rem = await r.book(sym, 10)
                        if bk_rem[4] == bk_shm[4] == b.book(sym, 10)[4]:
                            break
                    assert bk_rem[4:] == bk_shm[4:] and bk_rem[5] is True
                    for a, c in zip(bk_rem[:4], bk_shm[:4]):
                        assert a.tolist() == c.tolist() and len(a) == 10
                    for _ in range(100):  # the first trade opens the live candle
                        c_shm = b.candles(sym, "1m", partial=True)
                        c_rem = await r.candles(sym, "1m", partial=True)
                        if len(c_rem) >= 1 and c_rem.equals(c_shm):
                            break
                        await asyncio.sleep(0.05)
                    assert c_rem.equals(c_shm) and len(c_rem) >= 1
                    assert list(c_rem.columns) == ["date", "open", "high", "low", "close", "volume"]
                    assert await r.position(sym) == b.position(sym)
                    assert (await r.indicators(sym)).keys() == b.indicators(sym).keys()
                with pytest.raises(cwts_bridge.UnknownSymbol):
                    await r.quote("NOPEUSDT")
                with pytest.raises(ValueError):
                    await r.candles("BTCUSDT", "1h")  # not a timeframe the engine publishes
                # Events as the shared-memory reader sees them, same sequence numbers.
                await r.subscribe(["BTCUSDT"], ["trade", "candle"])
                got = []
                while len(got) < 5:
                    assert await r.wait(5.0)
                    got += [e for e in r.pending_events() if e.kind != "lapped"]
                assert {e.kind for e in got} <= {"trade", "candle"}
                assert all(e.symbol == "BTCUSDT" for e in got)
                seqs = [e.seq for e in got]
                assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
                assert all(e.a > 0 and e.b > 0 for e in got)

    run(main())


def test_submit_gets_exactly_one_terminal_report(rengine):
    url, _ = control(rengine)

    async def main():
        async with await remote.connect(url, token=ALICE, slot=-1, name="t1") as r:
            assert r.slot == 3
            q = await r.quote("BTCUSDT")
            seqs = []
            # Filled at once (IOC at the ask), rejected by the engine (price band), and a resting
            # order cancelled: three terminal reports, one each.
            seqs.append(await r.submit("BTCUSDT", "buy", 0.001, price=q.ask, tif="IOC", round="nearest"))
            seqs.append(await r.submit("BTCUSDT", "buy", 0.001, price=q.bid * 0.5, round="down"))
            rest = await r.submit("BTCUSDT", "buy", 0.001, price=q.bid * 0.98, round="down")
            seqs.append(rest)
            assert seqs == list(range(seqs[0], seqs[0] + 3))
            t0 = await r.wait_report(seqs[0], 5)
            assert t0 is not None and t0.kind in ("FILLED", "EXPIRED") and t0.symbol == "BTCUSDT"
            t1 = await r.wait_report(seqs[1], 5)
            assert t1 is not None and (t1.kind, t1.reason) == ("REJECTED", "PRICE_BAND")
            cancel = await r.cancel(rest)
            assert cancel == rest + 1
            t2 = await r.wait_report(rest, 5)
            assert t2 is not None and t2.kind == "CANCELLED"
            await asyncio.sleep(0.5)
            terminal = [x for x in r.pending_reports() if x.terminal]
            for s in seqs:
                assert [x.seq for x in terminal].count(s) == 1, f"seq {s}: {terminal}"
            # Checked by the client before anything is sent.
            with pytest.raises(ValueError):
                await r.submit("BTCUSDT", "buy", 0.0000001, price=q.bid)  # off the step grid
            assert r.next_seq == rest + 2

    run(main())
    with cwts_bridge.attach(rengine.instance) as b:
        assert b.status()["signals_seen"] == 4


def test_tokens_and_scopes_are_enforced(rengine):
    url, admin = control(rengine)

    async def main():
        with pytest.raises(remote.Unauthorized):
            await remote.connect(url)  # no token: not even hello
        with pytest.raises(remote.Unauthorized):
            await remote.connect(url, token="wrongToken0123456789abcd")
        async with await remote.connect(url, token=BOB) as r:
            await r.quote("BTCUSDT")  # read scope
            with pytest.raises(remote.Unauthorized, match="trade"):
                await r.claim(3)
            with pytest.raises(remote.Unauthorized, match="admin"):
                await r._call("halt")
        with pytest.raises(remote.Unauthorized, match="may not trade on slot 4"):
            await remote.connect(url, token=ALICE, slot=4)
        async with await remote.connect(url, token=ALICE, slot=3) as a:
            with pytest.raises(cwts_bridge.SlotTaken):
                await remote.connect(url, token=ALICE, slot=3)  # held by `a`
            async with await remote.connect(url, token=ALICE, slot=-1) as a2:
                assert (a.slot, a2.slot) == (3, 5)
            async with await remote.connect(url, token=admin, slot=7) as adm:  # the control token
                assert adm.slot == 7 and adm.scopes["admin"]
                async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {admin}"}) as ws:
                    slots = (await rpc(ws, "slots"))["result"]
                    held = {s["slot"]: s["name"] for s in slots}
                    assert held[3] == "remote:alice:remote" and held[7] == "remote:control:remote"

    run(main())


def test_a_revoked_token_loses_its_open_connections_at_the_reload(rengine, tokens_file):
    """SIGHUP re-reads control.tokens_file: a connection whose token is gone, or whose scopes
    changed, is closed (its slot released as on any drop); the others stay."""
    url, _ = control(rengine)

    async def main():
        alice = await remote.connect(url, token=ALICE, slot=3, reconnect=False)
        bob = await remote.connect(url, token=BOB, reconnect=False)
        carol_token = "carolToken0123456789abcdef"
        tokens_file.write_text(f"bob read {BOB}\ncarol read,trade:5 {carol_token}\n")
        rengine.proc.send_signal(signal.SIGHUP)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        with pytest.raises(cwts_bridge.EngineNotRunning):
            while loop.time() < deadline:
                await alice.status()
                await asyncio.sleep(0.05)
        await alice.close()
        assert (await bob.status())["ready"], "an unchanged token keeps its connection"
        with pytest.raises(remote.Unauthorized):
            await remote.connect(url, token=ALICE)
        # The slot alice held is free again: a token allowed on it could take it (carol may not).
        async with await remote.connect(url, token=carol_token, slot=5) as carol:
            assert carol.slot == 5
            with pytest.raises(remote.Unauthorized):
                await carol.claim(3)
        # Scopes changed (bob gains trade:3): bob's connection is closed too, and he comes back
        # with the new ones.
        tokens_file.write_text(f"bob read,trade:3 {BOB}\n")
        rengine.proc.send_signal(signal.SIGHUP)
        deadline = loop.time() + 10
        with pytest.raises(cwts_bridge.EngineNotRunning):
            while loop.time() < deadline:
                await bob.status()
                await asyncio.sleep(0.05)
        await bob.close()
        async with await remote.connect(url, token=BOB, slot=3) as b2:
            assert b2.scopes["trade"] == [3]

    run(main())


def test_bad_input_gets_clear_errors_and_executes_nothing(rengine):
    url, _ = control(rengine)
    with cwts_bridge.attach(rengine.instance) as b:
        seen = b.status()["signals_seen"]

    async def main():
        hdr = {"Authorization": f"Bearer {ALICE}"}
        async with websockets.connect(url, additional_headers=hdr) as ws:
            await ws.send("this is not json")
            assert json.loads(await ws.recv())["error"]["code"] == -32700
            assert (await rpc(ws, "slot.submit", {"symbol": "BTCUSDT"}))["error"]["message"].startswith(
                "slot.submit: this connection holds no signal slot")
            assert "result" in await rpc(ws, "slot.claim", {"slot": 3})
            bad = [
                {"symbol": "BTCUSDT", "side": "buy", "qty": -5, "price": 100},
                {"symbol": "BTCUSDT", "side": "buy", "qty": "1", "price": 100},
                {"symbol": "BTCUSDT", "side": "up", "qty": 1, "price": 100},
                {"symbol": "BTCUSDT", "side": "buy", "qty": 1},  # a limit order without a price
                {"symbol": "BTCUSDT", "side": "buy", "qty": 1, "price": 100, "type": "stop"},
                {"symbol": "BTCUSDT", "side": "buy", "qty": 1, "price": 100, "tif": "DAY"},
                {"symbol": "BTCUSDT", "side": "buy", "qty": 1, "type": "market", "price": 5},
                {"symbol": "BTCUSDT", "side": "buy", "qty": 1, "price": 100, "tag": "muchtoolongtag"},
                {"symbol": "NOPEUSDT", "side": "buy", "qty": 1, "price": 100},
                {"side": "buy", "qty": 1, "price": 100},
                {"symbol": "BTCUSDT", "side": "buy", "qty": 1, "price": 18446744073709551615},
            ]
            for i, p in enumerate(bad):
                err = (await rpc(ws, "slot.submit", p, rid=100 + i))["error"]
                assert err["code"] == -32602, (p, err)
                assert err["data"]["exception"] in ("ValueError", "UnknownSymbol"), (p, err)
            err = (await rpc(ws, "slot.cancel", {"seq": "x"}))["error"]
            assert err["code"] == -32602
            # A frame over control.max_message_bytes closes the connection.
            await ws.send("[" + " " * (70 * 1024) + "]")
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                await ws.recv()
        async with websockets.connect(url, additional_headers=hdr) as ws:
            assert "result" in await rpc(ws, "hello")  # the engine carries on

    run(main())
    time.sleep(0.3)
    with cwts_bridge.attach(rengine.instance) as b:
        assert b.status()["signals_seen"] == seen, "no malformed signal reached the engine"


@pytest.fixture
def busy_engine(tmp_path, tokens_file):
    """A feed fast enough (5000 messages/s) to fill a stalled reader's socket buffers."""
    sim = Sim(["--synthetic", "BTCUSDT,ETHUSDT", "--rate", "5000", "--balance", "USDT=100000,BTC=5"],
              tmp_path)
    e = Engine(sim, tmp_path, overrides={"control": {"tokens_file": str(tokens_file)}})
    yield e
    if e.proc.poll() is None:
        assert e.stop() == 0
    assert sim.stop() == 0


async def stalled_reader(url):
    """A raw client that reads only when told to: a tiny receive buffer, one queued message."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(url.split(":")[2].split("/")[0])))
    return await websockets.connect(url, sock=sock, max_queue=1,
                                    additional_headers={"Authorization": f"Bearer {BOB}"})


def test_a_slow_client_is_conflated_and_does_not_hold_the_engine(busy_engine):
    url, _ = control(busy_engine)
    rengine = busy_engine

    async def main():
        slow = await stalled_reader(url)  # no recv() for a few seconds
        assert "result" in await rpc(slow, "market.subscribe", {})
        with cwts_bridge.attach(rengine.instance) as b:
            u0 = b.quote("BTCUSDT").update_id
            async with await remote.connect(url, token=BOB) as fast:
                await fast.subscribe(["BTCUSDT"], ["quote"])
                t_end = time.monotonic() + 6
                fast_quotes = 0
                while time.monotonic() < t_end:
                    await fast.wait(0.5)
                    fast_quotes += sum(1 for e in fast.pending_events() if e.kind == "quote")
                    t = time.monotonic()
                    await fast.status()  # the control plane answers throughout
                    assert time.monotonic() - t < 0.5
                u1 = b.quote("BTCUSDT").update_id
            assert u1 > u0 and fast_quotes > 100  # the engine published all along
            # The slow reader now drains: it was held back (conflated), not disconnected, and
            # receives far fewer quotes than were published meanwhile, the last one the latest.
            quotes = 0
            while True:
                msg = json.loads(await asyncio.wait_for(slow.recv(), 5.0))
                rows = [r for r in msg["params"]["events"] if r[0] == "quote" and r[1] == 0]
                quotes += len(rows)
                if any(r[3] >= u1 for r in rows):
                    break
            assert quotes < fast_quotes / 2, (quotes, fast_quotes)
        await slow.close()

    run(main())


def test_a_stalled_client_loses_trades_past_its_queue_and_is_told_how_many(busy_engine):
    """Trades and candle closes are kept in order for a stalled client up to 16,384 (RemoteHub::
    kMaxOrdered); past that they are dropped and counted, and the client is told the count in a
    "lapped" row before what follows: nothing is lost silently."""
    url, _ = control(busy_engine)

    async def main():
        slow = await stalled_reader(url)
        assert "result" in await rpc(slow, "market.subscribe", {"kinds": ["trade"]})
        published = 0
        async with await remote.connect(url, token=BOB) as fast:  # counts what was published
            await fast.subscribe(["BTCUSDT", "ETHUSDT"], ["trade"])
            t_end = time.monotonic() + 60
            while published < 16384 + 6000 and time.monotonic() < t_end:
                await fast.wait(0.5)
                evs = fast.pending_events()
                assert not [e for e in evs if e.kind == "lapped"], "a reading client loses nothing"
                published += sum(1 for e in evs if e.kind == "trade")
        assert published >= 16384 + 6000
        trades, lapped, last_seq = 0, 0, 0
        while True:
            try:
                msg = json.loads(await asyncio.wait_for(slow.recv(), 2.0))
            except asyncio.TimeoutError:
                break
            for r in msg["params"]["events"]:
                if r[0] == "lapped":
                    lapped += r[2]
                    continue
                assert r[0] == "trade" and r[2] > last_seq, "in order, never twice"
                last_seq, trades = r[2], trades + 1
            if trades + lapped >= published:
                break
        await slow.close()
        assert lapped > 0, (trades, published)
        assert trades + lapped >= published, "each trade delivered or counted"
        assert trades < published

    run(main())


def test_a_dropped_connection_releases_its_slot_and_its_orders_follow_the_slot_policy(rengine):
    url, _ = control(rengine)

    async def drop_with_an_open_order(slot):
        r = await remote.connect(url, token=ALICE, slot=slot, reconnect=False)
        q = await r.quote("BTCUSDT")
        seq = await r.submit("BTCUSDT", "buy", 0.001, price=q.bid * 0.98, round="down")
        while not any(x.kind == "NEW" and x.seq == seq for x in r.pending_reports()):
            await asyncio.sleep(0.02)
        r._ws.transport.abort()  # the network goes: no close handshake
        with pytest.raises(cwts_bridge.CwtsError):
            await r.wait_report(seq, 5)
        await r.close()
        # The slot is free again: its next holder receives what the order did.
        for _ in range(50):
            try:
                return seq, await remote.connect(url, token=ALICE, slot=slot)
            except cwts_bridge.SlotTaken:
                await asyncio.sleep(0.1)
        pytest.fail(f"slot {slot} was not released")

    async def main():
        # on_release = cancel: the engine cancelled it when the connection went.
        seq, nxt = await drop_with_an_open_order(3)
        assert nxt.next_seq > seq
        t = await nxt.wait_report(seq, 5)
        assert t is not None and t.kind == "CANCELLED"
        await nxt.close()
        # keep (the default): still working; the next holder sees it and may cancel it.
        seq, nxt = await drop_with_an_open_order(5)
        assert await nxt.wait_report(seq, 1.0) is None
        assert (await nxt.position("BTCUSDT")).open_orders == 1
        await nxt.cancel(seq)
        t = await nxt.wait_report(seq, 5)
        assert t is not None and t.kind == "CANCELLED"
        await nxt.close()

    run(main())


class CuttingProxy:
    """A TCP relay between a remote bridge and the engine that cuts the connection at one exact
    point of the next call: after the request reached the engine and before its reply came back
    ("reply"), or before the request reached the engine ("request"); or it lets requests through
    and holds back everything the engine says until the connection ends ("hold"). It speaks no
    protocol of its own: the bytes are the real ones."""

    def __init__(self, port):
        self.port, self.cut, self.cuts = port, None, 0
        self.refuse = False  # True: every new connection is closed at once (the engine unreachable)

    async def start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, creader, cwriter):
        if self.refuse:
            cwriter.transport.abort()
            return
        ureader, uwriter = await asyncio.open_connection("127.0.0.1", self.port)

        def close():
            for w in (cwriter, uwriter):
                w.transport.abort()

        async def pump(reader, writer, upstream):
            while data := await reader.read(65536):
                if self.cut == "request" and upstream:
                    self.cut, self.cuts = None, self.cuts + 1
                    return close()
                if self.cut == "reply" and not upstream:
                    self.cut, self.cuts = None, self.cuts + 1
                    return close()
                if self.cut == "hold" and not upstream:
                    continue
                writer.write(data)
            if self.cut == "hold":
                self.cut, self.cuts = None, self.cuts + 1
            close()

        await asyncio.gather(pump(creader, uwriter, True), pump(ureader, cwriter, False),
                             return_exceptions=True)


def test_a_signal_whose_reply_is_lost_keeps_its_number_and_gets_one_terminal_report(rengine):
    """The connection drops while slot.submit is in flight: the bridge cannot know whether the
    engine took the signal. It raises EngineNotRunning carrying the signal's number, never reuses
    it, and after reconnecting delivers that signal's one terminal report: the engine's, when the
    engine took it; CONNECTION_LOST from the bridge, when the signal never reached the engine."""
    url, token = control(rengine)
    port = int(url.rsplit(":", 1)[1].split("/")[0])

    async def main():
        proxy = CuttingProxy(port)
        via = f"ws://127.0.0.1:{await proxy.start()}/ws"

        async def seen():  # the highest signal number the engine took on slot 5
            async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
                held = (await rpc(ws, "slots"))["result"]
            return [x for x in held if x["slot"] == 5][0]["last_signal_seq"]

        async with await remote.connect(via, token=ALICE, slot=5, name="cut") as r:
            q = await r.quote("BTCUSDT")
            low = q.bid * 0.98  # an IOC buy below the bid: expires, a terminal report
            for cut in ("reply", "request"):
                seq = r.next_seq
                proxy.cut = cut
                with pytest.raises(cwts_bridge.EngineNotRunning) as lost:
                    await r.submit("BTCUSDT", "buy", 0.001, price=low, tif="IOC", round="down")
                assert proxy.cuts == (1 if cut == "reply" else 2)
                assert lost.value.seq == seq, "the error names the signal in doubt"
                assert r.next_seq == seq + 1, "its number is never used again"
                t = await r.wait_report(seq, 10)  # after the reconnect
                assert t is not None and t.seq == seq
                if cut == "reply":  # the engine had it: the engine's report
                    assert t.kind == "EXPIRED", t
                    assert await seen() >= seq
                else:  # it never got there: the bridge says so, once
                    assert (t.kind, t.reason) == ("REJECTED", "CONNECTION_LOST"), t
                    assert await seen() < seq
                await asyncio.sleep(0.5)
                assert [x for x in r.pending_reports() if x.seq == seq and x.terminal] in ([], [t])
                assert await r.wait_report(seq, 0.2) is None, "exactly one terminal report"
                nxt = await r.submit("BTCUSDT", "buy", 0.001, price=low, tif="IOC", round="down")
                assert nxt == seq + 1
                assert (await r.wait_report(nxt, 10)).kind == "EXPIRED"
        proxy.server.close()

    run(main())


def test_a_used_signal_number_is_refused_and_nothing_is_sent(rengine):
    """A client that resends a signal under a number the slot already used (a retry after a lost
    reply) is refused: the engine never executes one signal twice."""
    url, _ = control(rengine)
    with cwts_bridge.attach(rengine.instance) as b:
        seen0 = b.status()["signals_seen"]

    async def main():
        hdr = {"Authorization": f"Bearer {ALICE}"}
        async with websockets.connect(url, additional_headers=hdr) as ws:
            nxt = (await rpc(ws, "slot.claim", {"slot": 3}))["result"]["next_seq"]
            order = {"symbol": "BTCUSDT", "side": "buy", "qty": 1, "price": 1, "signal_seq": nxt}
            assert (await rpc(ws, "slot.submit", order, rid=2))["result"]["seq"] == nxt
            err = (await rpc(ws, "slot.submit", order, rid=3))["error"]
            assert "already used" in err["message"], err
            err = (await rpc(ws, "slot.cancel", {"seq": nxt, "signal_seq": nxt}, rid=4))["error"]
            assert "already used" in err["message"], err
            # A number above the next one is fine (the client's own numbering after a lost reply).
            r = await rpc(ws, "slot.cancel", {"seq": nxt, "signal_seq": nxt + 5}, rid=5)
            assert r["result"]["seq"] == nxt + 5
            assert (await rpc(ws, "slot.submit", dict(order, signal_seq=0), rid=6))["error"]["code"] == -32602

    run(main())
    time.sleep(0.3)
    with cwts_bridge.attach(rengine.instance) as b:
        assert b.status()["signals_seen"] == seen0 + 2


def test_the_remote_bridge_follows_an_engine_restart(synthetic_sim, tmp_path, tokens_file):
    with socket.socket() as s:  # a fixed control port, so that the restarted engine is found again
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    eng = Engine(synthetic_sim, tmp_path, overrides={"control": {
        "listen": f"127.0.0.1:{port}", "tokens_file": str(tokens_file)}})

    def control_listening():  # Engine() waits for the books, not for the control plane's listener
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    assert wait_until(control_listening, timeout=10)

    async def main():
        # The IOCs cross the ask with room: the synthetic market moves between quote and order.
        proxy = CuttingProxy(port)
        url = f"ws://127.0.0.1:{await proxy.start()}/ws"
        async with await remote.connect(url, token=ALICE, slot=3) as b:
            await b.subscribe(["BTCUSDT"], ["quote"])
            epoch = b.epoch
            q = await b.quote("BTCUSDT")
            first = await b.submit("BTCUSDT", "buy", 0.001, price=q.ask * 1.002, tif="IOC", round="nearest")
            assert (await b.wait_report(first, 5)).kind == "FILLED"
            # A signal in flight when the engine stops: its reply never comes back.
            proxy.cut = "hold"
            doubt = asyncio.ensure_future(b.submit("BTCUSDT", "buy", 0.001, price=q.bid * 0.98,
                                                   tif="IOC", round="down"))
            await asyncio.sleep(0.3)
            assert eng.stop() == 0
            with pytest.raises(cwts_bridge.EngineNotRunning) as lost:
                await doubt
            assert lost.value.seq == first + 1
            with pytest.raises(cwts_bridge.EngineNotRunning):
                for _ in range(100):
                    await b.status()
                    await asyncio.sleep(0.05)
            eng.start()
            for _ in range(200):  # reconnected in the background
                try:
                    await b.status()
                    if b.slot == 3:
                        break
                except cwts_bridge.EngineNotRunning:
                    pass
                await asyncio.sleep(0.05)
            assert b.epoch != epoch and b.slot == 3
            # The old engine's journal knows what became of it, not this bridge: said so, once.
            t = [r for r in b.pending_reports() if r.seq == first + 1]
            assert [(r.kind, r.reason) for r in t] == [("STATUS_UNKNOWN", "ENGINE_RESTARTED")]
            b.pending_events()
            assert await b.wait(5.0)  # the subscription was restored
            assert {e.kind for e in b.pending_events()} <= {"quote", "lapped"}
            q = await b.quote("BTCUSDT")
            seq = await b.submit("BTCUSDT", "buy", 0.001, price=q.ask * 1.002, tif="IOC", round="nearest")
            assert seq > first + 1  # never a number this client already used
            assert (await b.wait_report(seq, 5)).kind == "FILLED"
        proxy.server.close()

    try:
        run(main())
    finally:
        if eng.proc.poll() is None:
            assert eng.stop() == 0


NETNS_CLIENT = r'''
import asyncio, json, ssl, sys
import cwts_bridge, cwts_bridge.remote as remote
url, cafile, token, instance = sys.argv[1:5]

async def main():
    out = {}
    try:  # nothing of the engine's shared memory is visible here
        cwts_bridge.attach(instance)
        out["shm"] = "visible"
    except cwts_bridge.EngineNotRunning:
        out["shm"] = "absent"
    try:
        await remote.connect(url.replace("wss://", "ws://"), token=token, open_timeout=3)
        out["plain"] = "accepted"
    except cwts_bridge.CwtsError:
        out["plain"] = "refused"
    ctx = ssl.create_default_context(cafile=cafile)
    async with await remote.connect(url, token=token, slot=3, ssl=ctx, name="netns") as b:
        q = await b.quote("BTCUSDT")
        out["quote_valid"] = q.book_valid and q.bid > 0
        # Across the ask with room: the synthetic market may move between the quote and the order.
        seq = await b.submit("BTCUSDT", "buy", 0.001, price=q.ask * 1.002, tif="IOC", round="nearest")
        r = await b.wait_report(seq, 10)
        out["report"] = r.kind if r else None
        await b.subscribe(["ETHUSDT"], ["quote"])
        ev = None
        async for ev in b.events():
            break
        out["event"] = [ev.kind, ev.symbol]
    print(json.dumps(out))

asyncio.run(main())
'''


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("openssl") is None,
                    reason="needs root, iproute2 and openssl for a network namespace")
def test_a_remote_strategy_in_another_network_namespace_over_tls(synthetic_sim, tmp_path, tokens_file):
    """The strategy runs in its own network namespace (reaching the engine's host through a veth
    pair only) with its own /dev/shm: it trades over wss:// to the engine's name with the token and
    the engine's certificate, and a plain ws:// connection is refused."""
    n = os.getpid() % 200 + 20
    ns, host_if, ns_if = f"cwtsrt{os.getpid()}", f"cwth{os.getpid() % 100000}", f"cwtn{os.getpid() % 100000}"
    host_ip, ns_ip = f"10.213.{n}.1", f"10.213.{n}.2"

    def ip(*a, netns=None):
        cmd = (["ip", "netns", "exec", netns, "ip"] if netns else ["ip"]) + list(a)
        subprocess.run(cmd, check=True, capture_output=True)

    created = []
    try:
        ip("netns", "add", ns)
        created.append("ns")
        ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        created.append("link")
        ip("link", "set", ns_if, "netns", ns)
        ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("addr", "add", f"{ns_ip}/30", "dev", ns_if, netns=ns)
        ip("link", "set", ns_if, "up", netns=ns)
        ip("link", "set", "lo", "up", netns=ns)
        # The strategy knows the engine by name (ip netns exec puts /etc/netns/NS/hosts in place).
        os.makedirs(f"/etc/netns/{ns}", exist_ok=True)
        created.append("hosts")
        with open(f"/etc/netns/{ns}/hosts", "w") as f:
            f.write(f"127.0.0.1 localhost\n{host_ip} cwts-engine.test\n")
        cert, key = tmp_path / "c.crt", tmp_path / "c.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", "1", "-subj", "/CN=cwtsd", "-addext",
                        f"subjectAltName=IP:{host_ip},DNS:cwts-engine.test",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        os.chmod(key, 0o600)
        eng = Engine(synthetic_sim, tmp_path, overrides={"control": {
            "listen": f"{host_ip}:0", "tokens_file": str(tokens_file),
            "tls_cert_file": str(cert), "tls_key_file": str(key)}})
        try:
            port = control_address(eng)["port"]
            client = tmp_path / "client.py"
            client.write_text(NETNS_CLIENT)
            r = subprocess.run(
                ["ip", "netns", "exec", ns, "unshare", "--mount", "sh", "-c",
                 'mount -t tmpfs none /dev/shm && exec "$0" "$@"', sys.executable, str(client),
                 f"wss://cwts-engine.test:{port}/ws", str(cert), ALICE, eng.instance],
                capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
            assert r.returncode == 0, r.stderr[-3000:]
            out = json.loads(r.stdout.strip().splitlines()[-1])
            assert out == {"shm": "absent", "plain": "refused", "quote_valid": True,
                           "report": "FILLED", "event": ["quote", "ETHUSDT"]}, out
            def held():
                return [json.loads(l) for l in eng.log_path.read_text().splitlines()
                        if '"remote_slot_claimed"' in l]
            assert wait_until(held, timeout=5)  # the log is written asynchronously
            assert held()[-1]["who"] == "alice" and held()[-1]["slot"] == 3
        finally:
            if eng.proc.poll() is None:
                assert eng.stop() == 0
    finally:
        if "hosts" in created:
            shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)
        if "link" in created:
            subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        if "ns" in created:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_an_earlier_runs_order_with_one_of_our_numbers_is_never_taken_for_our_signal():
    """After a restart the engine reports the orders an earlier run left open, with their original
    seq, to the slot's holder: a report of another run than the one our signal `seq` was sent to is
    not about that signal (reports() has it, wait_report() never returns it). A report for a number
    this client never used (an earlier holder's order in the same run) is still followed."""
    from collections import deque
    from cwts_bridge import Report

    b = object.__new__(remote.RemoteBridge)
    b._reports, b._terminal, b._report_ready = deque(), {}, asyncio.Event()
    b._sent_epoch = {7: 100}

    def report(seq, kind, epoch):
        return Report(seq, kind, "NONE", "BTCUSDT", "buy", "cwx", 1, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0,
                      0.0, "", epoch)

    b._deliver(report(7, "CANCELLED", 200))  # an earlier run's order that had number 7
    assert 7 not in b._terminal and [r.epoch for r in b._reports] == [200]
    b._deliver(report(7, "FILLED", 100))  # our signal 7's own report
    assert b._terminal[7].kind == "FILLED"
    b._deliver(report(9, "CANCELLED", 200))  # an earlier holder's order, this run
    assert b._terminal[9].kind == "CANCELLED"


def test_the_stops_final_reports_reach_a_remote_strategy_before_the_plane_closes(rengine):
    """At SIGTERM the engine cancels its open orders (shutdown.on_stop = cancel) and reports each
    one; the control plane closed before the exec thread wrote them, so a remote strategy never
    heard of its order's end (found by the soak). The plane now relays them first."""
    url, _ = control(rengine)

    async def main():
        r = await remote.connect(url, token=ALICE, slot=5, reconnect=False)
        q = await r.quote("BTCUSDT")
        seq = await r.submit("BTCUSDT", "buy", 0.001, price=q.bid * 0.98, round="down")
        while not any(x.kind == "NEW" and x.seq == seq for x in r.pending_reports()):
            await asyncio.sleep(0.02)
        assert await asyncio.get_running_loop().run_in_executor(None, rengine.stop) == 0
        t = await r.wait_report(seq, 5)
        assert t is not None and t.kind == "CANCELLED", t
        await r.close()

    run(main())


def test_every_report_gathered_at_the_stop_reaches_a_remote_strategy(synthetic_sim, tmp_path, tokens_file,
                                                                      monkeypatch):
    """The plane relayed one frame (256 reports) per remote session at the stop, and none to a
    client over its hold-back, then closed: a remote strategy never heard of the rest (the soak
    found 20 such signals). Reports past a full ring, which the exec thread holds and moves into
    it only while it stops, were lost too. Now, from the stop's start, every report goes past the
    hold-back, and the plane closes once they are written. CWTSD_TEST_HOOKS's SIGUSR2 makes every
    client count as slow (its reports wait), as one whose unsent bytes pass the hold-back."""
    monkeypatch.setenv("CWTSD_TEST_HOOKS", "1")
    e = Engine(synthetic_sim, tmp_path, overrides={"control": {"tokens_file": str(tokens_file)}})
    url, _ = control(e)

    async def main():
        r = await remote.connect(url, token=ALICE, slot=5, reconnect=False)
        q = await r.quote("BTCUSDT")
        e.proc.send_signal(signal.SIGUSR2)
        assert wait_until(lambda: "test_hook_slow_remote_clients" in e.log_path.read_text(), timeout=10)
        # Far outside the price band: each is refused, and its report waits, more than the slot's
        # ring holds (1024): the rest in the engine.
        seqs = []
        for _ in range(1500):
            try:
                seqs.append(await r.submit("BTCUSDT", "buy", 0.001, price=q.bid * 0.5, round="down"))
            except cwts_bridge.RingFull:
                await asyncio.sleep(0.01)
        assert len(seqs) > 1100
        assert not r.pending_reports()
        assert await asyncio.get_running_loop().run_in_executor(None, e.stop) == 0
        async def kind(seq):  # the plane has closed: what was relayed before is all there is
            try:
                return getattr(await r.wait_report(seq, 0.01), "kind", None)
            except cwts_bridge.EngineNotRunning:
                return None

        kinds = [await kind(s) for s in seqs]
        assert kinds.count(None) == 0, f"{kinds.count(None)} of {len(seqs)} signals without a report"
        assert set(kinds) == {"REJECTED"}
        await r.close()

    run(main())


def test_a_bridge_that_asked_for_any_slot_takes_another_when_a_restart_gave_its_own_away(
        synthetic_sim, tmp_path, tokens_file):
    """A remote strategy that asked for any slot (-1) reconnects to a restarted engine and finds
    its old slot index taken by a strategy that attached first (the soak's shared-memory ones
    do): it claims another and trades on. It kept asking for the old index, gave up after 30 s,
    and every signal after that was refused "holds no signal slot" (found by the soak)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    eng = Engine(synthetic_sim, tmp_path, overrides={"control": {
        "listen": f"127.0.0.1:{port}", "tokens_file": str(tokens_file)},
        "slots": {"default": {"trade": True}}})
    assert control_port(eng) == port  # Engine() waits for the books, not for the control plane

    async def main():
        proxy = CuttingProxy(port)
        url = f"ws://127.0.0.1:{await proxy.start()}/ws"
        async with await remote.connect(url, token=ALICE, slot=-1, name="any") as b:
            old = b.slot
            assert old == 3
            proxy.refuse = True  # the bridge cannot reach the restarted engine yet
            assert eng.stop() == 0
            eng.start()
            with cwts_bridge.attach(eng.instance, slot=old, name="first") as first:
                assert first.slot == old
                proxy.refuse = False
                for _ in range(200):  # 10 s: well inside the 30 s the old bridge kept trying
                    try:
                        await b.status()
                        if b.slot is not None:
                            break
                    except cwts_bridge.EngineNotRunning:
                        pass
                    await asyncio.sleep(0.05)
                assert b.slot == 5, "the other slot its token may trade on"
                q = await b.quote("BTCUSDT")
                seq = await b.submit("BTCUSDT", "buy", 0.001, price=q.ask * 1.002, tif="IOC", round="nearest")
                assert (await b.wait_report(seq, 5)).kind == "FILLED"
        proxy.server.close()
    try:
        asyncio.run(main())
    finally:
        assert eng.stop() == 0
