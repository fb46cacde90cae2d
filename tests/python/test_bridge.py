"""cwts_bridge against a real cwtsd (on a real cwts-sim): every call and every error."""
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import cwts_bridge
from conftest import market_path, wait_until


def test_attach_errors_say_what_to_do(engine):
    with pytest.raises(cwts_bridge.EngineNotRunning, match="is cwtsd running"):
        cwts_bridge.attach("no-such-instance")
    assert issubclass(cwts_bridge.EngineNotRunning, cwts_bridge.CwtsError)
    with cwts_bridge.attach(engine.instance, slot=3):
        with pytest.raises(cwts_bridge.SlotTaken, match="slot 3 belongs to a running process"):
            cwts_bridge.attach(engine.instance, slot=3)
    with pytest.raises(ValueError, match="slot must be"):
        cwts_bridge.attach(engine.instance, slot=99)
    with cwts_bridge.attach(engine.instance) as b:
        with pytest.raises(cwts_bridge.CwtsError, match="no signal slot"):
            b.submit("BTCUSDT", "buy", 0.001, type="market")
    assert cwts_bridge.LAYOUT_VERSION >= 1


def test_market_reads(engine):
    with cwts_bridge.attach(engine.instance) as b:
        assert b.symbols() == ["BTCUSDT", "ETHUSDT"]
        assert b.timeframes() == ["1m", "5m"]
        q = b.quote("BTCUSDT")
        assert q.book_valid and 0 < q.bid < q.ask and q.bid_size > 0
        assert q.publish_ts_ns >= q.receive_ts_ns > 0
        bp, bq, ap, aq, update_id, valid = b.book("BTCUSDT", 10)
        assert valid and len(bp) == len(bq) == 10 and len(ap) == len(aq) == 10
        assert bp.dtype == np.float64
        assert np.all(np.diff(bp) < 0) and np.all(np.diff(ap) > 0) and bp[0] < ap[0]
        assert update_id > 0
        with pytest.raises(cwts_bridge.UnknownSymbol, match="BTCUSDT, ETHUSDT"):
            b.quote("DOGEUSDT")

        assert b.wait(5.0)
        evs = list(b.events())
        assert evs and {e.kind for e in evs} <= {"quote", "trade", "book", "candle", "status"}
        assert all(evs[i].seq + 1 == evs[i + 1].seq for i in range(len(evs) - 1)), "no event hidden"
        deadline = time.time() + 10
        while not any(e.kind in ("quote", "book") for e in evs) and time.time() < deadline:
            b.wait(1.0)
            evs += list(b.events())
        q_ev = next(e for e in evs if e.kind in ("quote", "book"))
        assert q_ev.symbol in ("BTCUSDT", "ETHUSDT") and 0 < q_ev.a < q_ev.c
        # Built natively (issue 19), still the documented NamedTuple in every respect.
        import pickle
        assert type(q_ev) is cwts_bridge.Event and q_ev._fields == cwts_bridge.Event._fields
        assert q_ev == tuple(q_ev) and hash(q_ev) == hash(tuple(q_ev))
        assert pickle.loads(pickle.dumps(q_ev)) == q_ev and q_ev._replace(seq=0).seq == 0
        assert q_ev._asdict()["symbol"] == q_ev.symbol and isinstance(q_ev.update_id, int)
        assert all(isinstance(getattr(q_ev, f), float) for f in "abcd")

        assert wait_until(lambda: len(b.candles("BTCUSDT", "1m", partial=True)) >= 1, timeout=10)
        df = b.candles("BTCUSDT", "1m", partial=True)
        assert list(df.columns) == ["date", "open", "high", "low", "close", "volume"]
        assert str(df["date"].dtype) == "datetime64[ns, UTC]"
        assert all(df[c].dtype == np.float64 for c in ["open", "high", "low", "close", "volume"])
        assert len(df) >= 1 and (df["low"] <= df["high"]).all()
        assert (df["date"].dt.second == 0).all()
        with pytest.raises(ValueError, match="not published"):
            b.candles("BTCUSDT", "1h")
        with pytest.raises(ValueError, match="unknown timeframe"):
            b.candles("BTCUSDT", "7m")
        assert isinstance(b.indicators("BTCUSDT"), dict)

        st = b.status()
        assert st["instance"] == engine.instance and st["symbols"] == 2
        assert wait_until(lambda: b.status()["frames"] > 0, timeout=5), "md counters move"
        assert wait_until(lambda: "USDT" in b.status()["balances"], timeout=10)


def test_submit_fill_cancel_and_reports(engine):
    with cwts_bridge.attach(engine.instance, slot=-1) as b:
        seq = b.submit("BTCUSDT", "buy", 0.001, type="market", tag="t1")
        r = b.wait_report(seq, timeout=10)
        assert r is not None and r.kind == "FILLED" and r.terminal
        assert r.cum_qty == pytest.approx(0.001) and r.avg_px > 0 and r.fee > 0
        # The venue took the buy's commission in BTC: reported as charged, and valued in USDT.
        assert r.fee_asset == "BTC" and r.fee_native == pytest.approx(r.fee / r.avg_px, rel=1e-6), r
        assert r.client_order_id.startswith("cw") and r.side == "buy" and r.symbol == "BTCUSDT"
        assert r.epoch == b.epoch
        assert [x.kind for x in b.reports() if x.seq == seq] == ["ACCEPTED"]

        q = b.quote("BTCUSDT")
        rest = b.submit("BTCUSDT", "buy", 0.002, price=q.bid * 0.99, round="down")
        assert wait_until(lambda: any(x.kind == "NEW" for x in b.reports() if x.seq == rest), timeout=10)
        c = b.cancel(rest)
        assert b.wait_report(rest, 10).kind == "CANCELLED"
        assert b.wait_report(c, 10).kind == "CANCELLED"
        # The position is what the account holds: the fill less its commission taken in BTC.
        assert b.position("BTCUSDT").qty == pytest.approx(0.001 - r.fee_native, abs=1e-12)

        bad = b.submit("BTCUSDT", "buy", 0.001, price=q.bid * 0.5, round="down")  # outside the band
        rb = b.wait_report(bad, 10)
        assert rb.kind == "REJECTED" and rb.reason == "PRICE_BAND"
        assert b.wait_report(12345, 0.05) is None


def test_value_errors(engine):
    with cwts_bridge.attach(engine.instance, slot=-1) as b:
        for kwargs, msg in [
            (dict(qty=float("nan"), price=1.0), "finite"),
            (dict(qty=float("inf"), price=1.0), "finite"),
            (dict(qty=-1.0, price=1.0), "positive"),
            (dict(qty=0.0011111, price=50000.0), "multiple of the symbol's increment 0.00001"),
            (dict(qty=0.001, price=50000.001), "increment 0.01"),
            (dict(qty=0.001), "needs a price"),
        ]:
            with pytest.raises(ValueError, match=msg):
                b.submit("BTCUSDT", "buy", **kwargs)
        with pytest.raises(ValueError, match="side"):
            b.submit("BTCUSDT", "hold", 0.001, price=1.0)
        with pytest.raises(ValueError, match="no price"):
            b.submit("BTCUSDT", "buy", 0.001, price=1.0, type="market")
        with pytest.raises(TypeError):
            b.submit("BTCUSDT", "buy", "0.001", price=1.0)
        with pytest.raises(cwts_bridge.UnknownSymbol):
            b.submit("XRPUSDT", "buy", 1.0, price=1.0)
        assert b.submit("BTCUSDT", "buy", 0.0011111, price=50000.004, round="nearest") > 0


def test_ring_full_when_the_engine_does_not_consume(engine):
    with cwts_bridge.attach(engine.instance, slot=-1) as b:
        os.kill(engine.proc.pid, signal.SIGSTOP)
        try:
            with pytest.raises(cwts_bridge.RingFull, match="is full"):
                for _ in range(5000):
                    b.submit("BTCUSDT", "buy", 0.001, price=1.0, ttl_ms=1)
        finally:
            os.kill(engine.proc.pid, signal.SIGCONT)


def test_a_signal_sent_while_the_engine_stops_is_refused(engine, synthetic_sim):
    # Issue 17 #6: during SIGTERM's drain submit() returned a seq for a signal nobody would read or
    # report. Now it raises: nothing was sent. (cwtsd's test EverySignalSentUntilTheEngineExits...
    # covers the race with the engine's last read of the rings.)
    with cwts_bridge.attach(engine.instance, slot=-1, reattach=False) as b:
        far = round(b.quote("BTCUSDT").bid * 0.97, 2)
        resting = b.submit("BTCUSDT", "buy", 0.001, price=far)
        assert wait_until(lambda: any(x.kind == "NEW" for x in b.reports() if x.seq == resting),
                          timeout=10)
        # Its cancel at shutdown is held by the venue for a second: the engine takes that long.
        synthetic_sim.fault({"hold_ms": 1000, "count": 1, "path": "/api/v3/order", "method": "DELETE"})
        engine.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        assert engine.proc.poll() is None, "still stopping"
        with pytest.raises(cwts_bridge.EngineNotRunning, match="stopping"):
            b.submit("BTCUSDT", "buy", 0.001, price=far)
        assert engine.proc.wait(timeout=20) == 0


def test_engine_restart_is_followed_or_reported(engine):
    follow = cwts_bridge.attach(engine.instance)
    strict = cwts_bridge.attach(engine.instance, reattach=False)
    epoch = follow.epoch
    assert engine.stop() == 0
    engine.start()
    time.sleep(0.3)
    assert wait_until(lambda: follow.symbols() and follow.epoch != epoch, timeout=10)
    assert follow.quote("BTCUSDT").bid > 0
    with pytest.raises(cwts_bridge.EngineRestarted, match="attach again"):
        for _ in range(50):
            strict.symbols()
            time.sleep(0.05)
    follow.close()
    strict.close()


def test_two_strategy_processes_on_two_slots(engine):
    code = """
import sys, cwts_bridge
with cwts_bridge.attach(sys.argv[1], slot=int(sys.argv[2]), name="p" + sys.argv[2]) as b:
    seq = b.submit("ETHUSDT", "buy", 0.01, type="market")
    r = b.wait_report(seq, 15)
    print(b.slot, r.kind if r else None, r.client_order_id if r else "")
"""
    procs = [subprocess.Popen([sys.executable, "-c", code, engine.instance, str(s)], stdout=subprocess.PIPE, text=True)
             for s in (5, 6)]
    outs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert [o[:2] for o in outs] == [["5", "FILLED"], ["6", "FILLED"]]
    assert outs[0][2] != outs[1][2], "distinct client order ids"


def test_version_mismatch_names_both_versions(engine, tmp_path):
    import shutil
    import struct
    src = market_path(engine.instance)
    dst = tmp_path / src.name
    shutil.copyfile(src, dst)
    with open(dst, "r+b") as f:  # RegionHeader.layout_version is the u32 at offset 8
        f.seek(8)
        (version,) = struct.unpack("<I", f.read(4))
        f.seek(8)
        f.write(struct.pack("<I", version + 1))
    with pytest.raises(cwts_bridge.VersionMismatch, match="rebuild cwts_bridge"):
        cwts_bridge.attach(engine.instance, shm_dir=str(tmp_path), hugepage_dir="")


def test_tick_loop_example_runs(engine):
    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, str(root / "examples" / "tick_loop.py"), "--instance", engine.instance,
                          "--symbol", "BTCUSDT", "--seconds", "3", "--every", "50"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "tick_loop:" in res.stdout
    import re
    m = re.search(r"tick_loop: (\d+) quote events .* signals sent (\d+); terminal reports (.*)", res.stdout)
    assert m and int(m.group(1)) > 0 and int(m.group(2)) > 0, res.stdout
    assert "EXPIRED" in m.group(3) or "REJECTED" in m.group(3) or "FILLED" in m.group(3), res.stdout


def test_a_lapped_reader_is_told_how_many_events_it_missed(tmp_path):
    from conftest import Engine, Sim
    sim = Sim(["--synthetic", "BTCUSDT,ETHUSDT", "--rate", "40000"], tmp_path)
    engine = Engine(sim, tmp_path)
    try:
        with cwts_bridge.attach(engine.instance, slot=-1) as b:
            list(b.events())
            # The event ring holds 16384 events; at tens of thousands per second, 3 s laps it.
            deadline = time.time() + 20
            lapped = []
            while not lapped and time.time() < deadline:
                time.sleep(3)
                evs = list(b.events(max_events=100000))
                lapped = [e for e in evs if e.kind == "lapped"]
            assert lapped, "the reader fell behind by more than the ring and was told"
            assert lapped[0].seq > 0
            # After the lap it follows again: the next events are consecutive.
            assert b.wait(5.0)
            after = [e for e in b.events() if e.kind != "lapped"]
            assert all(after[i].seq + 1 == after[i + 1].seq for i in range(len(after) - 1))
            # The slot owner told the engine: /metrics counts lapped readers and their lost events.
            from test_control import control_address, scrape
            _, samples = scrape(control_address(engine)["port"])
            lost = samples[("cwts_reader_events_lapped_total", (("slot", str(b.slot)),))]
            assert lost >= lapped[0].seq
            assert samples[("cwts_lapped_readers", ())] == 1
    finally:
        assert engine.stop() == 0
        assert sim.stop() == 0
