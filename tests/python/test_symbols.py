"""Issue 18: symbols added and removed at run time through the control plane (ADR 0025).

cwts-sim serves a third synthetic symbol the engine's configuration does not list; the engine
subscribes it on its live feed connection, and a strategy attached before sees it appear."""

import asyncio
import json
import pathlib

import pytest

import cwts_bridge
from conftest import Engine, Sim, wait_until
from test_control import Rpc, connect, control_address, generated_token


@pytest.fixture
def three_symbol_sim(tmp_path):
    sim = Sim(["--synthetic", "BTCUSDT,ETHUSDT,SOLUSDT", "--rate", "400", "--balance",
               "USDT=100000,BTC=5,ETH=50,SOL=500"], tmp_path)
    yield sim
    assert sim.stop() == 0


def call(port, token, method, params=None):
    async def run():
        async with await connect(port, token) as ws:
            return await Rpc(ws).call(method, params)
    return asyncio.run(run())


@pytest.fixture
def engine3(three_symbol_sim, tmp_path):
    eng = Engine(three_symbol_sim, tmp_path)
    yield eng
    if eng.proc.poll() is None:
        assert eng.stop() == 0


def test_add_trade_and_remove_a_symbol_at_run_time(engine3):
    eng = engine3
    port = control_address(eng)["port"]
    token = generated_token(eng)
    with cwts_bridge.attach(eng.instance, slot=-1, name="symbols-test") as b:
        assert b.symbols() == ["BTCUSDT", "ETHUSDT"]
        with pytest.raises(cwts_bridge.UnknownSymbol):
            b.quote("SOLUSDT")

        # Not on the venue: a clear error, and nothing changed (even listed after a good one).
        r = call(port, token, "symbols.add", {"symbols": ["SOLUSDT", "NOPEUSDT"]})
        assert "NOPEUSDT is not a symbol of the venue" in r["error"]["message"], r
        assert [s["symbol"] for s in call(port, token, "symbols")["result"]] == ["BTCUSDT", "ETHUSDT"]
        # The read scope is not enough: it changes what the engine trades.
        assert call(port, None, "symbols.add", {"symbols": ["SOLUSDT"]})["error"]["code"] == -32001

        r = call(port, token, "symbols.add", {"symbols": ["SOLUSDT", "btcusdt"]})["result"]
        assert r["symbols"] == [{"symbol": "SOLUSDT", "id": 2, "added": True},
                                {"symbol": "BTCUSDT", "id": 0, "added": False}]
        # Idempotent.
        again = call(port, token, "symbols.add", {"symbols": ["SOLUSDT"]})["result"]
        assert again["symbols"] == [{"symbol": "SOLUSDT", "id": 2, "added": False}]

        # The bridge attached before sees it without reattaching (announced by a status event),
        # and its book syncs in seconds.
        assert "SOLUSDT" in b.symbols()
        assert wait_until(lambda: any(e.kind == "status" and e.symbol == "SOLUSDT" for e in b.events()),
                          timeout=5), "a kStatus event names the new symbol"
        assert wait_until(lambda: b.quote("SOLUSDT").book_valid, timeout=10), "SOLUSDT's book"
        q = b.quote("SOLUSDT")
        assert 0 < q.bid < q.ask
        bids, asks = b.book("SOLUSDT")[:2]
        assert len(bids) > 0 and len(asks) > 0
        syms = call(port, token, "symbols")["result"]
        assert syms[2]["symbol"] == "SOLUSDT" and syms[2]["id"] == 2 and syms[2]["trading"]
        assert wait_until(lambda: call(port, token, "status")["result"]["books_valid"] == 3, timeout=10)

        # It trades: a market buy gets its terminal report.
        seq = b.submit("SOLUSDT", "buy", 1, type="market")
        rep = b.wait_report(seq, timeout=10)
        assert rep is not None and rep.kind == "FILLED", rep
        # A resting order stays through the removal; new signals are refused.
        far = b.quote("SOLUSDT").bid * 0.97
        resting = b.submit("SOLUSDT", "buy", 1, price=far, round="down")
        assert wait_until(lambda: any(x.kind == "NEW" for x in b.reports() if x.seq == resting), timeout=10)

        r = call(port, token, "symbols.remove", {"symbols": ["SOLUSDT"]})["result"]
        assert r["symbols"] == [{"symbol": "SOLUSDT", "id": 2, "trading": False}]
        refused = b.submit("SOLUSDT", "buy", 1, type="market")
        rep = b.wait_report(refused, timeout=10)
        assert rep.kind == "REJECTED" and rep.reason == "UNKNOWN_SYMBOL", rep
        # The open order is still there and can be cancelled; the table keeps the entry (id 2).
        assert b.symbols() == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
        syms = call(port, token, "symbols")["result"]
        assert syms[2]["symbol"] == "SOLUSDT" and not syms[2]["trading"]
        open_orders = call(port, token, "open_orders")["result"]
        assert [s["open_orders"] for s in open_orders["symbols"] if s["symbol"] == "SOLUSDT"] == [1]
        c = b.cancel(resting)
        assert b.wait_report(resting, 10).kind == "CANCELLED"
        assert b.wait_report(c, 10).kind == "CANCELLED"

        # Once its last order is over the engine unsubscribes it: its book goes invalid, and
        # readiness counts only the symbols that trade.
        assert wait_until(lambda: not b.quote("SOLUSDT").book_valid, timeout=10)
        logged = lambda: '"symbol_unsubscribed"' in eng.log_path.read_text()
        assert wait_until(logged, timeout=10)
        st = call(port, token, "status")["result"]
        assert st["symbols"] == 2 and st["books_valid"] == 2 and st["ready"], st
        # The other symbols are unaffected.
        seq = b.submit("BTCUSDT", "buy", 0.001, type="market")
        assert b.wait_report(seq, timeout=10).kind == "FILLED"

        # Added again: the same id, streamed and trading again.
        r = call(port, token, "symbols.add", {"symbols": ["SOLUSDT"]})["result"]
        assert r["symbols"] == [{"symbol": "SOLUSDT", "id": 2, "added": True}]
        assert wait_until(lambda: b.quote("SOLUSDT").book_valid, timeout=10)


def restart(eng, kill=False):
    """Stops (SIGTERM, or SIGKILL) and starts `eng`; its new control port and token."""
    def listening():
        return [l for l in eng.log_path.read_text().splitlines() if '"control_listening"' in l]
    before = len(listening())
    if kill:
        eng.proc.kill()
        eng.proc.wait(timeout=10)
        eng._log.close()
    else:
        assert eng.stop() == 0
    eng.start()
    assert wait_until(lambda: len(listening()) > before, timeout=10)
    token = pathlib.Path(f"/dev/shm/cwts-{eng.instance}.token")
    assert wait_until(token.exists, timeout=10)
    return json.loads(listening()[-1])["port"], token.read_text().strip()


def test_symbols_add_answered_429_holds_the_venue_and_says_so(engine3, three_symbol_sim):
    """symbols.add's exchangeInfo answered 429 tried again symbol by symbol, inside Retry-After
    (Binance bans an IP for that), and said only that exchangeInfo could not be fetched. Now the
    429 holds every venue request of the engine, the error says how long, and a symbols.add inside
    the wait is refused without reaching the venue."""
    eng = engine3
    port = control_address(eng)["port"]
    token = generated_token(eng)
    asked = lambda: three_symbol_sim.get("/_sim/status")["restRequests"].get("/api/v3/exchangeInfo", 0)
    before = asked()
    three_symbol_sim.fault({"http_status": 429, "retry_after_s": 3, "count": 1, "path": "/api/v3/exchangeInfo"})
    r = call(port, token, "symbols.add", {"symbols": ["SOLUSDT", "XRPUSDT"]})
    assert "the venue said back off for 3 s" in r["error"]["message"], r
    r = call(port, token, "symbols.add", {"symbols": ["SOLUSDT"]})
    assert "error" in r, r
    assert asked() - before == 1
    assert '"status":418' not in three_symbol_sim.log_path.read_text()
    assert wait_until(lambda: "result" in call(port, token, "symbols.add", {"symbols": ["SOLUSDT"]}),
                      timeout=15)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_an_added_symbol_and_its_open_order_survive_a_restart(three_symbol_sim, tmp_path, how):
    """Orders on a symbol added at run time are known to the engine after a restart: the symbol
    is traded again (kept in the journal directory), its open order tracked, not forgotten."""
    journal = {"dir": str(tmp_path / "state"), "fsync": "interval", "interval_ms": 5}
    eng = Engine(three_symbol_sim, tmp_path, overrides={
        "journal": journal, "shutdown": {"on_stop": "leave", "timeout_ms": 2000}})
    try:
        port, token = control_address(eng)["port"], generated_token(eng)
        assert "result" in call(port, token, "symbols.add", {"symbols": ["SOLUSDT"]})
        with cwts_bridge.attach(eng.instance, slot=-1, name="restart") as b:
            assert wait_until(lambda: b.quote("SOLUSDT").book_valid, timeout=10)
            far = b.quote("SOLUSDT").bid * 0.97
            resting = b.submit("SOLUSDT", "buy", 1, price=far, round="down")
            assert wait_until(lambda: any(x.kind == "NEW" for x in b.reports() if x.seq == resting),
                              timeout=10)
        port, token = restart(eng, kill=how == "SIGKILL")
        syms = call(port, token, "symbols")["result"]
        assert [s["symbol"] for s in syms] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"], syms
        assert syms[2]["trading"]
        opened = [json.loads(l) for l in eng.log_path.read_text().splitlines() if '"journal_opened"' in l]
        assert opened[-1]["open_orders_recovered"] == 1 and opened[-1]["orders_not_tracked"] == 0, opened[-1]
        open_orders = call(port, token, "open_orders")["result"]
        assert [s["open_orders"] for s in open_orders["symbols"] if s["symbol"] == "SOLUSDT"] == [1]
        # Removed at run time: not traded after the next restart (once its orders are over).
        assert "result" in call(port, token, "cancel_all", {})
        assert wait_until(lambda: call(port, token, "open_orders")["result"]["total"] == 0, timeout=10)
        assert "result" in call(port, token, "symbols.remove", {"symbols": ["SOLUSDT"]})
        port, token = restart(eng)
        assert [s["symbol"] for s in call(port, token, "symbols")["result"]] == ["BTCUSDT", "ETHUSDT"]
    finally:
        if eng.proc.poll() is None:
            assert eng.stop() == 0


def test_a_removed_symbol_with_an_open_order_is_tracked_after_a_restart(three_symbol_sim, tmp_path):
    """Removed at run time while an order is still open, then the engine is killed: the restarted
    engine knows the symbol from its journal's open order, tracks (and can cancel) the order, and
    trades nothing new on it."""
    journal = {"dir": str(tmp_path / "state"), "fsync": "interval", "interval_ms": 5}
    eng = Engine(three_symbol_sim, tmp_path, overrides={
        "journal": journal, "shutdown": {"on_stop": "leave", "timeout_ms": 2000}})
    try:
        port, token = control_address(eng)["port"], generated_token(eng)
        assert "result" in call(port, token, "symbols.add", {"symbols": ["SOLUSDT"]})
        with cwts_bridge.attach(eng.instance, slot=-1, name="restart") as b:
            assert wait_until(lambda: b.quote("SOLUSDT").book_valid, timeout=10)
            resting = b.submit("SOLUSDT", "buy", 1, price=b.quote("SOLUSDT").bid * 0.97, round="down")
            assert wait_until(lambda: any(x.kind == "NEW" for x in b.reports() if x.seq == resting),
                              timeout=10)
        assert "result" in call(port, token, "symbols.remove", {"symbols": ["SOLUSDT"]})
        port, token = restart(eng, kill=True)
        syms = call(port, token, "symbols")["result"]
        assert [(s["symbol"], s["trading"]) for s in syms] == [
            ("BTCUSDT", True), ("ETHUSDT", True), ("SOLUSDT", False)], syms
        opened = [json.loads(l) for l in eng.log_path.read_text().splitlines() if '"journal_opened"' in l]
        assert opened[-1]["open_orders_recovered"] == 1 and opened[-1]["orders_not_tracked"] == 0, opened[-1]
        with cwts_bridge.attach(eng.instance, slot=-1, name="after") as b:
            seq = b.submit("SOLUSDT", "buy", 1, type="market")
            assert b.wait_report(seq, 10).reason == "UNKNOWN_SYMBOL"
        assert "result" in call(port, token, "cancel_all", {})
        assert wait_until(lambda: call(port, token, "open_orders")["result"]["total"] == 0, timeout=10)
    finally:
        if eng.proc.poll() is None:
            assert eng.stop() == 0


def test_a_full_symbol_table_is_a_clear_error(tmp_path):
    # A region made for 32 symbols (region.max_symbols), two configured: 30 fit, the 33rd does not.
    names = ["BTCUSDT", "ETHUSDT"] + [f"S{i:02d}USDT" for i in range(31)]
    sim = Sim(["--synthetic", ",".join(names), "--rate", "50", "--balance", "USDT=100000"], tmp_path)
    eng = None
    try:
        eng = Engine(sim, tmp_path, region={"max_symbols": 32})
        port = control_address(eng)["port"]
        token = generated_token(eng)
        too_many = call(port, token, "symbols.add", {"symbols": names[2:]})
        msg = too_many["error"]["message"]
        assert "symbol table is full" in msg and "holds 32 symbols (region.max_symbols" in msg, msg
        assert len(call(port, token, "symbols")["result"]) == 2, "nothing changed"
        ok = call(port, token, "symbols.add", {"symbols": names[2:32]})
        assert "result" in ok, ok
        ok = ok["result"]
        assert [s["id"] for s in ok["symbols"]] == list(range(2, 32))
        full = call(port, token, "symbols.add", {"symbols": [names[32]]})
        assert "symbol table is full" in full["error"]["message"]
        with cwts_bridge.attach(eng.instance) as b:
            assert len(b.symbols()) == 32
    finally:
        if eng is not None and eng.proc.poll() is None:
            assert eng.stop() == 0
        assert sim.stop() == 0


def test_a_remote_strategy_sees_a_symbol_added_after_it_connected(engine3):
    import cwts_bridge.remote as remote
    eng = engine3
    port = control_address(eng)["port"]
    token = generated_token(eng)

    async def main():
        async with await remote.connect(f"ws://127.0.0.1:{port}/ws", token=token, slot=-1) as r:
            await r.subscribe(kinds=["quote"])  # every symbol, those added later too
            assert r.symbols() == ["BTCUSDT", "ETHUSDT"]
            async with await connect(port, token) as ws:
                assert (await Rpc(ws).call("symbols.add", {"symbols": ["SOLUSDT"]}))["result"]
            sol = []
            for _ in range(100):
                await r.wait(0.1)
                sol += [e for e in r.pending_events() if e.symbol == "SOLUSDT"]
                if sol:
                    break
            assert r.symbols() == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
            assert sol and sol[0].kind == "quote" and sol[0].a > 0  # scaled with SOLUSDT's decimals
            with cwts_bridge.attach(eng.instance) as b:
                assert wait_until(lambda: b.quote("SOLUSDT").book_valid, timeout=10)
            q = await r.quote("SOLUSDT")
            assert q.book_valid and 0 < q.bid < q.ask
            seq = await r.submit("SOLUSDT", "buy", 1, type="market")
            assert (await r.wait_report(seq, 5)).kind == "FILLED"

    asyncio.run(asyncio.wait_for(main(), 60))


def test_symbols_from_cwtsctl_and_mcp(engine3):
    """The same methods from the operator's command line and from an MCP client (official SDK)."""
    from test_control import ctl
    from test_mcp import Mcp
    eng = engine3
    port = control_address(eng)["port"]
    token = generated_token(eng)

    async def refused():
        async with Mcp(eng) as s:  # no token: refused, nothing added
            r = await s.call_tool("symbols_add", {"symbols": ["SOLUSDT"]})
            assert r.is_error and "unauthorized" in r.content[0].text

    asyncio.run(refused())
    assert [x["symbol"] for x in call(port, token, "symbols")["result"]] == ["BTCUSDT", "ETHUSDT"]

    async def mcp():
        async with Mcp(eng, token) as s:
            r = await s.call_tool("symbols_add", {"symbols": ["SOLUSDT"]})
            assert not r.is_error, r.content
            assert json.loads(r.content[0].text)["symbols"] == [{"symbol": "SOLUSDT", "id": 2, "added": True}]

    asyncio.run(mcp())
    with cwts_bridge.attach(eng.instance) as b:
        assert wait_until(lambda: "SOLUSDT" in b.symbols() and b.quote("SOLUSDT").book_valid, timeout=10)
    r = ctl(eng.instance, "symbols", "remove", "SOLUSDT")
    assert r.returncode == 0, r.stderr
    sol = [x for x in call(port, token, "symbols")["result"] if x["symbol"] == "SOLUSDT"]
    assert sol and sol[0]["trading"] is False
    r = ctl(eng.instance, "symbols", "add", "SOLUSDT", "ethusdt")
    assert r.returncode == 0, r.stderr
    assert "SOLUSDT" in r.stdout
