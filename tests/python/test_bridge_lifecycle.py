"""cwts_bridge lifecycle defects (issue 17): close, reattach and a dead or stopped engine must never
crash or hang the Python process. Crash and hang cases run in a subprocess with a timeout."""
import mmap
import os
import pathlib
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

import cwts_bridge
from conftest import Engine, market_path, wait_until
from test_control import control_address, generated_token
from test_symbols import call

ROOT = pathlib.Path(__file__).resolve().parents[2]


def layout():
    """Offsets from the layout's golden field table (kept in step with the code by its test)."""
    table = {}
    for line in (ROOT / "tests" / "layout" / "layout_golden.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            table[parts[0]] = (int(parts[1]), int(parts[2]))
    return table


class MarketWriter:
    """The engine's market region mapped read-write by the test (the file belongs to this user): a
    way to put the region in states a live engine passes through, at a moment the test chooses."""

    def __init__(self, instance):
        self.t = layout()
        self.f = open(market_path(instance), "r+b")
        self.m = mmap.mmap(self.f.fileno(), 0)

    def u32(self, field):
        return struct.unpack_from("<I", self.m, self.t[field][0])[0]

    # The fixed part is followed by SymbolEntry[max_symbols], SlotEngineSide[max_slots] and
    # CandleSeries[max_symbols][max_timeframes], the counts in the header (ADR 0035), each series
    # followed by its candle_history slots of 64 bytes (ADR 0039).
    def symbols_offset(self):
        return self.t["MarketRegion"][1]

    def candles_offset(self):
        return (self.symbols_offset() + self.u32("RegionHeader.max_symbols") * self.t["SymbolEntry"][1]
                + self.u32("RegionHeader.max_slots") * self.t["SlotEngineSide"][1])

    def quote_seq_offset(self, sym_index):
        return (self.symbols_offset() + sym_index * self.t["SymbolEntry"][1]
                + self.t["SymbolEntry.quote"][0])

    def series_offset(self, sym_index, tf_index):
        n_tf = self.u32("RegionHeader.max_timeframes")
        series = self.t["CandleSeries"][1] + self.u32("RegionHeader.candle_history") * 64
        return self.candles_offset() + (sym_index * n_tf + tf_index) * series

    def put_closed_candle(self, base, s):
        """Writes closed candle s (5m, opening at s * 300 s) into its slot of the series at `base`,
        as the engine's ring writer would, without announcing it in the head."""
        off = base + self.t["CandleSeries"][1] + ((s - 1) % self.u32("RegionHeader.candle_history")) * 64
        struct.pack_into("<Qqqqqqq", self.m, off + 8, s * 300_000, 100, 110, 90, 105, 7, 0)
        struct.pack_into("<II", self.m, off + 56, 3, 1)
        struct.pack_into("<Q", self.m, off, 2 * s)

    def u64(self, off, value=None):
        if value is None:
            return struct.unpack_from("<Q", self.m, off)[0]
        struct.pack_into("<Q", self.m, off, value)

    def close(self):
        self.m.close()
        self.f.close()


def remove_regions(instance):
    for d in ("/dev/hugepages", "/dev/shm"):
        for kind in ("market", "signals"):
            p = pathlib.Path(d) / f"cwts-{instance}-{kind}"
            if p.exists():
                p.unlink()


def run_py(code, *args, timeout=20, **kw):
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout, **kw)


# ---- review 8 ---------------------------------------------------------------------------------
def test_epoch_after_close_raises_instead_of_crashing(engine):
    res = run_py("""
import sys, cwts_bridge
b = cwts_bridge.attach(sys.argv[1])
assert b.epoch > 0
b.close()
try:
    print("epoch", b.epoch)
except cwts_bridge.CwtsError as e:
    print("raised", type(e).__name__, e)
""", engine.instance)
    assert res.returncode == 0, (res.returncode, res.stdout, res.stderr)
    assert "raised CwtsError the bridge is closed" in res.stdout


# ---- review 9 ---------------------------------------------------------------------------------
def test_a_seqlock_left_odd_by_the_engine_neither_hangs_nor_holds_the_gil(engine):
    """The engine stopped (SIGSTOP) mid-store of a quote: quote() waits with the GIL released (other
    threads run); once the engine is dead (SIGKILL) it raises EngineNotRunning."""
    code = """
import sys, threading, time, cwts_bridge
b = cwts_bridge.attach(sys.argv[1])
b.quote("BTCUSDT")
print("attached", flush=True)
sys.stdin.readline()              # the engine is stopped with the quote's seqlock odd
ticks = []
def ticker():
    while True:
        ticks.append(time.monotonic())
        time.sleep(0.05)
threading.Thread(target=ticker, daemon=True).start()
try:
    b.quote("BTCUSDT")
    print("returned")
except cwts_bridge.EngineNotRunning as e:
    print("not-running", len(ticks), e)
"""
    p = subprocess.Popen([sys.executable, "-c", code, engine.instance], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    w = None
    try:
        assert p.stdout.readline().strip() == "attached"
        os.kill(engine.proc.pid, signal.SIGSTOP)
        w = MarketWriter(engine.instance)
        off = w.quote_seq_offset(0)
        seq = w.u64(off)
        w.u64(off, seq | 1)  # a store in progress
        p.stdin.write("go\n")
        p.stdin.flush()
        time.sleep(1.0)  # the reader waits on a live (stopped) engine
        os.kill(engine.proc.pid, signal.SIGKILL)
        engine.proc.wait(timeout=10)
        out, err = p.communicate(timeout=5)
    finally:
        if p.poll() is None:
            p.kill()
        if w is not None:
            w.close()
        if engine.proc.poll() is None:
            os.kill(engine.proc.pid, signal.SIGKILL)
            engine.proc.wait(timeout=10)
        remove_regions(engine.instance)
    assert p.returncode == 0, (p.returncode, out, err)
    words = out.split()
    assert words[0] == "not-running", out
    assert int(words[1]) >= 10, "other Python threads ran while quote() waited (GIL released)"


# ---- review 7 ---------------------------------------------------------------------------------
def test_close_from_another_thread_during_wait_and_wait_report(engine):
    code = """
import sys, threading, time, cwts_bridge
b = cwts_bridge.attach(sys.argv[1], slot=-1)
print("attached", flush=True)
sys.stdin.readline()  # the venue's feed is stopped now
time.sleep(0.2)
b.events(1 << 20)     # what the engine published before: from now on wait() blocks
out = {}
def waiter(name, fn):
    try:
        out[name] = repr(fn())
    except Exception as e:
        out[name] = type(e).__name__ + ": " + str(e)
def wait_loop():  # an event the engine still publishes (a timer's) is read, and it waits again
    while b.wait(5):
        b.events(1 << 20)
    return False
ts = [threading.Thread(target=waiter, args=("wait", wait_loop)),
      threading.Thread(target=waiter, args=("wait_report", lambda: b.wait_report(10**9, 5)))]
for t in ts:
    t.start()
time.sleep(0.5)
b.close()
for t in ts:
    t.join()
print(out["wait"])
print(out["wait_report"])
"""
    # The slot is claimed from a running engine (ADR 0021); then the venue (cwts-sim) is
    # stopped: no market data, no events, wait() blocks.
    p = subprocess.Popen([sys.executable, "-c", code, engine.instance], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stopped = False
    try:
        assert p.stdout.readline().strip() == "attached", p.stderr.read()
        os.kill(engine.sim.proc.pid, signal.SIGSTOP)
        stopped = True
        p.stdin.write("go\n")
        p.stdin.flush()
        out, err = p.communicate(timeout=30)
    finally:
        if stopped:
            os.kill(engine.sim.proc.pid, signal.SIGCONT)
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, (p.returncode, out, err)
    assert out.splitlines() == ["CwtsError: the bridge is closed"] * 2, out


def test_reattach_from_another_thread_during_wait(engine):
    """A thread waits on the old engine's ring while the main thread's call reattaches to the new
    engine: the waiter carries on waiting on the new ring."""
    code = """
import sys, threading, time, cwts_bridge
b = cwts_bridge.attach(sys.argv[1])
out = {}
def waiter():
    # While no engine serves the instance a wait that noticed its engine died says so
    # (EngineNotRunning); once the main thread has reattached it waits on the new ring.
    deadline = time.time() + 30
    while True:
        try:
            out["wait"] = repr(b.wait(30))
            return
        except cwts_bridge.EngineNotRunning as e:
            if time.time() > deadline:
                out["wait"] = "EngineNotRunning: " + str(e)
                return
            time.sleep(0.05)
        except Exception as e:
            out["wait"] = type(e).__name__ + ": " + str(e)
            return
t = threading.Thread(target=waiter)
t.start()
time.sleep(0.5)
print("waiting", flush=True)
sys.stdin.readline()               # a new engine serves the instance
deadline = time.time() + 20
while time.time() < deadline:
    try:
        b.symbols()
        if b.status()["epoch_ns"] != 0 and b.quote("BTCUSDT").bid > 0:
            break
    except cwts_bridge.EngineNotRunning:
        time.sleep(0.05)
t.join()
print(out["wait"])
"""
    os.kill(engine.proc.pid, signal.SIGSTOP)  # no events: wait() blocks on the old ring
    p = subprocess.Popen([sys.executable, "-c", code, engine.instance], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "waiting"
        os.kill(engine.proc.pid, signal.SIGKILL)
        engine.proc.wait(timeout=10)
        engine._log.close()
        engine.start()
        p.stdin.write("go\n")
        p.stdin.flush()
        out, err = p.communicate(timeout=40)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, (p.returncode, out, err)
    assert out.splitlines()[-1] == "True", out


# ---- review 10 --------------------------------------------------------------------------------
def test_reattach_survives_a_slow_restart_and_keeps_numbering(engine):
    """While no engine serves the instance every call raises EngineNotRunning (never "closed for
    good"); the bridge reattaches once one does, claims its slot again as soon as it is free, and
    numbers its signals on from where it was (a new engine's last_signal_seq starts at 0)."""
    def works(call):
        try:
            return call() or True
        except cwts_bridge.EngineNotRunning:
            return False

    follow = cwts_bridge.attach(engine.instance, slot=5)
    other = None
    try:
        seq1 = follow.submit("BTCUSDT", "buy", 0.001, type="market")
        assert follow.wait_report(seq1, 10).kind == "FILLED"
        seq2 = follow.submit("BTCUSDT", "buy", 0.001, price=1.0)  # outside the band: rejected
        epoch = follow.epoch
        assert engine.stop() == 0
        time.sleep(0.25)
        for _ in range(3):
            with pytest.raises(cwts_bridge.EngineNotRunning):
                follow.symbols()
            time.sleep(0.05)
        assert follow.epoch == epoch, "the last epoch while it waits to reattach"
        assert follow.slot is None
        engine.start()
        other = cwts_bridge.attach(engine.instance, slot=5, name="other")  # took the slot meanwhile
        assert wait_until(lambda: works(follow.symbols), timeout=10)
        assert follow.epoch != epoch and follow.quote("BTCUSDT").bid > 0
        assert follow.slot is None
        with pytest.raises(cwts_bridge.SlotTaken, match="slot 5 belongs to a running process"):
            follow.submit("BTCUSDT", "buy", 0.001, type="market")
        other.close()
        seq3 = follow.submit("BTCUSDT", "buy", 0.001, type="market")
        assert follow.slot == 5
        assert seq3 > seq2 > seq1, "numbering never restarts"
        r = follow.wait_report(seq3, 10)
        assert r is not None and r.seq == seq3 and r.kind == "FILLED", r
    finally:
        follow.close()
        if other is not None:
            other.close()


# ---- review 11 --------------------------------------------------------------------------------
def test_new_owner_numbers_above_the_dead_owners_unconsumed_signals(engine):
    """An owner dies holding its slot with 5 signals the engine has not read (it is stopped): the
    engine reads them to the end before it grants the slot again (ADR 0021), so the next owner
    numbers above them and receives their reports."""
    p = subprocess.Popen([sys.executable, "-c", """
import os, sys, cwts_bridge
b = cwts_bridge.attach(sys.argv[1], slot=7, name="old")
print("attached", flush=True)
sys.stdin.readline()                             # the engine is stopped now
for _ in range(5):
    b.submit("BTCUSDT", "buy", 0.001, price=1.0)   # outside the band: rejected
print(b.next_seq, flush=True)
os._exit(0)                                      # dies holding the slot, 5 signals unconsumed
""", engine.instance], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    stopped = False
    try:
        assert p.stdout.readline().strip() == "attached", p.stderr.read()
        os.kill(engine.proc.pid, signal.SIGSTOP)  # the engine consumes nothing meanwhile
        stopped = True
        p.stdin.write("go\n")
        p.stdin.flush()
        out, err = p.communicate(timeout=20)
    finally:
        if stopped:
            os.kill(engine.proc.pid, signal.SIGCONT)
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0 and out.split() == ["6"], (out, err)

    def claim():
        try:
            return cwts_bridge.attach(engine.instance, slot=7, name="new")
        except cwts_bridge.SlotTaken:  # the engine has not seen the old owner's end yet
            return None
    b = wait_until(claim, timeout=10)
    assert b is not None
    try:
        assert b.next_seq == 6
        seq = b.submit("BTCUSDT", "buy", 0.001, type="market")
        assert seq == 6
        r = b.wait_report(seq, 10)
        assert r is not None and r.kind == "FILLED" and r.seq == seq, r
        # The old owner's signals were executed (rejected) and reported to the slot.
        olds = [x for x in b.reports() if x.seq < seq]
        assert sorted({x.seq for x in olds}) == [1, 2, 3, 4, 5], olds
        assert all(x.kind == "REJECTED" for x in olds), olds
    finally:
        b.close()


# ---- review 14 --------------------------------------------------------------------------------
def read_written_candles(engine, last, unannounced=None):
    """Stops the engine, writes the closed 5m candles of ETHUSDT up to `last` that its ring keeps
    as the engine would (the head at `last`), and candle `unannounced` into its slot without
    announcing it; reads them with the bridge's candles(), then lets the engine go on. Returns the
    DataFrame and the region's candle_history."""
    os.kill(engine.proc.pid, signal.SIGSTOP)
    w = MarketWriter(engine.instance)
    try:
        base = w.series_offset(1, 1)  # ETHUSDT, 5m
        n = w.u32("RegionHeader.candle_history")
        for s in range(max(1, last - n + 1), last + 1):
            w.put_closed_candle(base, s)
        w.u64(base, last)
        if unannounced is not None:
            w.put_closed_candle(base, unannounced)
        with cwts_bridge.attach(engine.instance) as b:
            return b.candles("ETHUSDT", "5m"), n
    finally:
        w.close()
        os.kill(engine.proc.pid, signal.SIGCONT)


def test_candles_survive_a_candle_closing_during_the_read(engine):
    """The ring holds 600 closed 5m candles of ETHUSDT and candle 601 is written into the slot of
    candle 89 (the oldest the reader asks for) but not yet announced in the head: the state of the
    ring when a candle closes between the reader's look at the head and its first read."""
    df, n = read_written_candles(engine, 600, unannounced=601)
    assert n == 512, n
    assert len(df) == 511, len(df)
    assert df["date"].is_monotonic_increasing
    assert int(df["date"].iloc[-1].timestamp()) == 600 * 300


def test_a_region_made_for_2000_candles_gives_the_strategy_every_one(synthetic_sim, tmp_path):
    """region.candle_history (ADR 0039): 2,000 asked, 2,048 kept (a power of two); the strategy's
    candles() and the control plane's `candles` read all 1,500 the series holds, not 512."""
    eng = Engine(synthetic_sim, tmp_path, region={"candle_history": 2000})
    try:
        df, n = read_written_candles(eng, 1500)
        assert n == 2048, n
        assert len(df) == 1500, len(df)
        assert int(df["date"].iloc[0].timestamp()) == 300
        assert int(df["date"].iloc[-1].timestamp()) == 1500 * 300
        assert df["date"].is_monotonic_increasing
        got = call(control_address(eng)["port"], generated_token(eng), "candles",
                   {"symbol": "ETHUSDT", "timeframe_s": 300, "limit": 2048})
        assert len(got["result"]["closed"]) == 1500, got.get("error")
    finally:
        if eng.proc.poll() is None:
            assert eng.stop() == 0


def test_a_region_made_for_100_levels_gives_the_strategy_each_of_them(synthetic_sim, tmp_path):
    """region.book_depth (ADR 0042): from a region made for 100 levels a side (cwts-sim's book
    holds 300), the strategy's book() and the control plane's `book` give 100, not 20; fewer when
    fewer are asked for; the control plane refuses a depth past the region's."""
    eng = Engine(synthetic_sim, tmp_path, region={"book_depth": 100})
    try:
        with cwts_bridge.attach(eng.instance) as b:
            bp, bq, ap, aq, update_id, valid = b.book("BTCUSDT", 1000)
            assert valid and update_id > 0
            assert len(bp) == len(bq) == len(ap) == len(aq) == 100
            assert np.all(np.diff(bp) < 0) and np.all(np.diff(ap) > 0) and bp[0] < ap[0]
            assert np.all(bq > 0) and np.all(aq > 0)
            assert [len(x) for x in b.book("BTCUSDT", 7)[:4]] == [7, 7, 7, 7]
        port, token = control_address(eng)["port"], generated_token(eng)
        got = call(port, token, "book", {"symbol": "BTCUSDT"})["result"]
        assert len(got["bids"]) == len(got["asks"]) == 100
        assert call(port, token, "book", {"symbol": "BTCUSDT", "depth": 101})["error"]["code"] == -32602
    finally:
        if eng.proc.poll() is None:
            assert eng.stop() == 0


# ---- review 5 ---------------------------------------------------------------------------------
def test_forked_child_cannot_submit_or_release(engine):
    """A fork()ed child (multiprocessing's default start method up to Python 3.13) holds a copy of
    the parent's bridge: it must not push into the parent's ring nor free the parent's slot."""
    res = run_py("""
import os, sys, cwts_bridge
b = cwts_bridge.attach(sys.argv[1], slot=3)
pid = os.fork()
if pid == 0:
    code = 0
    try:
        b.submit("BTCUSDT", "buy", 0.001, price=1.0)
        code = 1
    except cwts_bridge.CwtsError as e:
        code = 0 if "attach again" in str(e) else 2
    except BaseException:
        code = 3
    try:
        b.close()
    except BaseException:
        code = 4
    os._exit(code)
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status))
try:
    cwts_bridge.attach(sys.argv[1], slot=3).close()
    print("slot freed by the child")
except cwts_bridge.SlotTaken:
    print("slot still ours")
print("next_seq", b.next_seq)
b.close()
""", engine.instance)
    assert res.returncode == 0, (res.returncode, res.stdout, res.stderr)
    assert res.stdout.splitlines() == ["child 0", "slot still ours", "next_seq 1"], res.stdout


def test_ctrl_c_interrupts_a_read_of_a_stopped_engine(engine):
    code = """
import signal, sys, cwts_bridge
# Ctrl-C as in a terminal, even if this test runs as a background job (which ignores SIGINT).
signal.signal(signal.SIGINT, signal.default_int_handler)
b = cwts_bridge.attach(sys.argv[1])
b.quote("BTCUSDT")
print("attached", flush=True)
sys.stdin.readline()              # the engine is stopped with the quote's seqlock odd
try:
    b.quote("BTCUSDT")
    print("returned")
except KeyboardInterrupt:
    print("interrupted")
"""
    p = subprocess.Popen([sys.executable, "-c", code, engine.instance], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    w, off, seq = None, 0, None
    try:
        assert p.stdout.readline().strip() == "attached"
        os.kill(engine.proc.pid, signal.SIGSTOP)
        w = MarketWriter(engine.instance)
        off = w.quote_seq_offset(0)
        seq = w.u64(off)
        w.u64(off, seq | 1)
        p.stdin.write("go\n")
        p.stdin.flush()
        time.sleep(0.5)
        # Ctrl-C until it ends (a loaded machine may still be starting the read at the first).
        out = err = None
        for _ in range(10):
            p.send_signal(signal.SIGINT)
            try:
                out, err = p.communicate(timeout=1)
                break
            except subprocess.TimeoutExpired:
                pass
        else:
            out, err = p.communicate(timeout=5)
    finally:
        if p.poll() is None:
            p.kill()
        if w is not None:
            if seq is not None:
                w.u64(off, seq)
            w.close()
        os.kill(engine.proc.pid, signal.SIGCONT)
    assert p.returncode == 0, (p.returncode, out, err)
    assert out.split()[-1] == "interrupted", out


def test_a_reattach_that_finds_no_signals_region_leaves_no_half_attached_bridge(engine):
    """A new engine's market region is live but its signals region cannot be attached (the new
    engine is stopping, which closes signals first; here the file is moved out of sight): the
    reattach fails whole, calls raise EngineNotRunning, and a later call attaches with the slot."""
    code = """
import sys, time, cwts_bridge
b = cwts_bridge.attach(sys.argv[1], slot=5)
print("attached", flush=True)
sys.stdin.readline()      # a new engine serves the instance; its signals region is out of sight
time.sleep(0.25)          # past the 200 ms between two looks at the engine
for call in (b.symbols, lambda: list(b.events()), lambda: b.wait(0.1)):
    try:
        call()
        print("worked")
    except cwts_bridge.EngineNotRunning:
        print("not-running")
print("ready", flush=True)
sys.stdin.readline()      # the signals region is back
deadline = time.time() + 10
while True:
    try:
        b.symbols()
        break
    except cwts_bridge.EngineNotRunning:
        if time.time() > deadline:
            raise
        time.sleep(0.05)
print("slot", b.slot)
seq = b.submit("BTCUSDT", "buy", 0.001, type="market")
r = b.wait_report(seq, 10)
print("report", r.kind if r else None)
"""
    p = subprocess.Popen([sys.executable, "-c", code, engine.instance], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    signals = hidden = None
    try:
        assert p.stdout.readline().strip() == "attached"
        assert engine.stop() == 0
        engine.start()
        signals = market_path(engine.instance).with_name(f"cwts-{engine.instance}-signals")
        hidden = signals.with_name(signals.name + ".hidden")
        signals.rename(hidden)
        p.stdin.write("go\n")
        p.stdin.flush()
        lines = []
        while not lines or lines[-1] != "ready":
            line = p.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
        hidden.rename(signals)
        hidden = None
        try:
            p.stdin.write("go\n")
            p.stdin.flush()
        except BrokenPipeError:
            pass  # it died: the assertions below show how
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
        if hidden is not None:
            hidden.rename(signals)
    assert p.returncode == 0, (p.returncode, lines, out, err)
    assert lines == ["not-running"] * 3 + ["ready"], (lines, err)
    assert out.splitlines() == ["slot 5", "report FILLED"], out


def test_the_stopped_engines_last_reports_survive_the_reattach(engine):
    """The engine cancels open orders when it stops (shutdown.on_stop = cancel) and reports it; the
    bridge keeps those reports across the reattach, tagged with the old epoch."""
    b = cwts_bridge.attach(engine.instance, slot=4)
    try:
        q = b.quote("BTCUSDT")
        rest = b.submit("BTCUSDT", "buy", 0.001, price=q.bid * 0.99, round="down")
        assert wait_until(lambda: any(x.kind == "NEW" for x in b.reports() if x.seq == rest), timeout=10)
        assert engine.stop() == 0
        engine.start()
        time.sleep(0.25)
        assert wait_until(lambda: _works(b.symbols), timeout=10)
        r = b.wait_report(rest, 2)
        assert r is not None and r.seq == rest and r.kind == "CANCELLED", r
        seq = b.submit("BTCUSDT", "buy", 0.001, type="market")
        assert seq > rest
        assert b.wait_report(seq, 10).kind == "FILLED"
    finally:
        b.close()


def test_an_earlier_runs_order_is_reported_with_the_new_epoch_and_never_matches_a_new_signal(
        synthetic_sim, tmp_path):
    """A recovered order (journal) is reported to whoever holds its slot after the restart, with
    its original seq. The new holder's signals are numbered above it, its report carries the new
    epoch (Report.epoch), and wait_report() never takes it for a signal of the new holder."""
    venue = {"kind": "binance", "rest_url": synthetic_sim.url, "ws_url": synthetic_sim.ws,
             "recv_window_ms": 1000, "request_timeout_ms": 500, "order_poll_ms": 100,
             "on_start": "cancel"}
    e = Engine(synthetic_sim, tmp_path, overrides={"journal": {"dir": str(tmp_path)}, "venue": venue})
    try:
        with cwts_bridge.attach(e.instance, slot=5) as a:
            q = a.quote("BTCUSDT")
            for _ in range(4):  # refused (outside the price band): they take numbers
                a.wait_report(a.submit("BTCUSDT", "buy", 0.001, price=q.bid * 0.5, round="down"), 5)
            rest = a.submit("BTCUSDT", "buy", 0.001, price=q.bid * 0.98, round="down")
            assert wait_until(lambda: any(x.kind == "NEW" for x in a.reports() if x.seq == rest), timeout=10)
            old_epoch = a.epoch
            os.kill(e.proc.pid, signal.SIGKILL)
            e.proc.wait(timeout=10)
            e._log.close()
        e.start()
        with cwts_bridge.attach(e.instance, slot=5) as b:
            assert b.epoch != old_epoch
            assert b.next_seq > rest, "the slot's numbers start above its recovered order's"
            got = []
            assert wait_until(lambda: got.extend(b.reports()) or any(x.seq == rest for x in got), timeout=10)
            r = next(x for x in got if x.seq == rest)
            assert r.kind == "CANCELLED" and r.epoch == b.epoch, r
            assert b.wait_report(rest, 0.2) is None, "an earlier run's order is not a signal of b's"
            mine = b.submit("BTCUSDT", "buy", 0.001, type="market")
            r = b.wait_report(mine, 10)
            assert r is not None and r.kind == "FILLED" and r.epoch == b.epoch
    finally:
        if e.proc.poll() is None:
            assert e.stop() == 0


def _works(call):
    try:
        return call() or True
    except cwts_bridge.EngineNotRunning:
        return False


# ---- issue 17 #6: the SIGKILL window -----------------------------------------------------------
def test_signals_a_killed_engine_never_read_get_their_report_after_the_reattach(engine):
    """submit() returns a sequence number once the signal is in the ring; if the engine is then
    killed before it reads it, the signal was never executed, and nobody else will ever report it.
    The bridge knows which of its signals the dead engine consumed (its cursor is in the market
    region it still maps): each one it never read gets a REJECTED/SHUTDOWN report, of the old
    epoch, when the bridge moves to the new engine."""
    b = cwts_bridge.attach(engine.instance, slot=6)
    try:
        os.kill(engine.proc.pid, signal.SIGSTOP)  # alive but reading nothing
        sent = [b.submit("BTCUSDT", "buy", 0.001, type="market") for _ in range(3)]
        os.kill(engine.proc.pid, signal.SIGKILL)
        engine.proc.wait(timeout=10)
        engine._log.close()
        engine.start()
        assert wait_until(lambda: _works(b.symbols), timeout=10)
        for seq in sent:
            r = b.wait_report(seq, 2)
            assert r is not None and r.kind == "REJECTED" and r.reason == "SHUTDOWN", (seq, r)
        later = b.submit("BTCUSDT", "buy", 0.001, type="market")
        assert later > max(sent)
        assert b.wait_report(later, 10).kind == "FILLED"
    finally:
        b.close()
