"""The soak's strategy processes in Python (bench/soak/soak.py runs them as `soak.py --worker N`;
docs/reliability.md): one on the shared-memory bridge, one over the control plane's WebSocket. Each
sends the same mix (resting orders, IOC orders at the touch, orders the engine must refuse, cancels)
and writes what it sent and every terminal report to its own file, with its latency histograms."""
from __future__ import annotations

import json
import math
import os
import random
import time

from checks import torn_book, torn_quote
from parts import REMOTE_TOKEN

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "ADAUSDT"]

# ---- a strategy process -------------------------------------------------------------------------
# Latency histograms: 8 buckets per octave of nanoseconds (about 9 % wide), mergeable across the
# worker processes; quantiles read at a bucket's upper edge.
def _bucket(ns: int) -> int:
    return max(0, int(math.log2(max(ns, 1)) * 8))


def quantiles(hist: dict, qs=(0.5, 0.99, 0.999)) -> dict:
    n = sum(hist.values())
    out = {"count": n}
    if n == 0:
        return out
    keys = sorted(int(k) for k in hist)
    for q in qs:
        target, seen = q * n, 0
        for k in keys:
            seen += hist[k] if k in hist else hist[str(k)]
            if seen >= target:
                out[f"p{q * 100:g}_us"] = round(2 ** ((k + 1) / 8) / 1000, 1)
                break
    return out


def _done(args) -> bool:
    """Whether the harness has stopped the engine for good (or waited too long for it)."""
    return os.path.exists(args.worker_out + ".done") or time.time() > args.until + args.drain_s


def worker(args) -> int:
    import cwts_bridge
    rng = random.Random(args.seed)
    out = open(args.worker_out, "w")
    b = None
    while b is None:  # a worker started while the engine restarts waits for it
        try:
            b = cwts_bridge.attach(args.instance, slot=-1, name=f"soak{args.worker}", reattach=True)
        except cwts_bridge.CwtsError:
            if time.time() > args.until:
                return 1
            time.sleep(0.1)
    resting: list[tuple[int, int]] = []  # (epoch, seq) of resting orders this worker may cancel
    sent = 0
    # Latency under load, from this process's submit() (time.time_ns() just before it) to the
    # engine's report (its ts_ns, the same host clock): "accept" = the signal read, validated and
    # rate-checked (ACCEPTED or REJECTED); "ioc" = an IOC order's terminal report (the venue's
    # round trip). Whole-run histograms, and one line per 10 s window for the plot.
    submitted: dict[int, tuple[int, str]] = {}  # seq -> (submit ns, what)
    hist = {"accept": {}, "ioc": {}}
    window: dict[str, list] = {"accept": [], "ioc": []}
    window_end = time.time() + 10

    def latency(path: str, ns: int) -> None:
        k = _bucket(ns)
        hist[path][k] = hist[path].get(k, 0) + 1
        window[path].append(ns)

    def flush_window() -> None:
        row = {"t": "window", "time": time.time()}
        for path, xs in window.items():
            xs.sort()
            if xs:
                row[path] = [len(xs), xs[len(xs) // 2] / 1000, xs[min(len(xs) - 1, int(len(xs) * 0.99))] / 1000]
            xs.clear()
        out.write(json.dumps(row) + "\n")
        # The whole run's histograms so far: a worker the harness kills keeps what it measured.
        out.write(json.dumps({"t": "latency", "hist": hist}) + "\n")
        out.flush()

    def drain():
        try:
            for r in b.reports():
                first = submitted.get(r.seq)
                if first is not None and r.epoch == b.epoch:
                    if r.kind in ("ACCEPTED", "REJECTED") and first[1] != "accepted":
                        latency("accept", r.ts_ns - first[0])
                        submitted[r.seq] = (first[0], "accepted")
                    if r.terminal:
                        if r.seq in ioc_seqs and r.kind != "REJECTED":  # it reached the venue
                            latency("ioc", r.ts_ns - first[0])
                        submitted.pop(r.seq, None)
                        ioc_seqs.discard(r.seq)
                if r.terminal:
                    out.write(json.dumps({"t": "report", "seq": r.seq, "kind": r.kind, "reason": r.reason,
                                          "cid": r.client_order_id, "epoch": r.epoch}) + "\n")
        except cwts_bridge.CwtsError:
            pass

    ioc_seqs: set[int] = set()
    reads = 0
    while time.time() < args.until:
        drain()
        if time.time() >= window_end:
            flush_window()
            window_end += 10
        try:
            epoch = b.epoch
            sym = rng.choice(SYMBOLS[:args.symbols])
            q = b.quote(sym)
            # Torn reads: every copy the bridge hands out must be one consistent state.
            reads += 1
            torn = torn_quote(q) or (torn_book(b.book(sym, 20)) if reads % 16 == 0 else None)
            if torn:
                out.write(json.dumps({"t": "torn", "symbol": sym, "what": torn}) + "\n")
            if not q.book_valid or q.bid <= 0:
                time.sleep(0.01)
                continue
            notional = 20.0 / q.bid
            roll = rng.random()
            t0 = time.time_ns()
            if roll < 0.35:
                side = rng.choice(["buy", "sell"])
                px = q.bid * (1 - rng.uniform(0.005, 0.03)) if side == "buy" else q.ask * (1 + rng.uniform(0.005, 0.03))
                seq = b.submit(sym, side, notional, price=px, round="nearest", tag="rest")
                resting.append((epoch, seq))
                what = "resting"
            elif roll < 0.55:
                side = rng.choice(["buy", "sell"])
                seq = b.submit(sym, side, notional, price=q.ask if side == "buy" else q.bid, tif="IOC",
                               round="nearest", tag="ioc")
                what = "ioc"
            elif roll < 0.70:
                seq = b.submit(sym, "buy", notional, price=q.bid * 0.5, round="nearest", tag="bad")
                what = "refused"
            elif resting:
                ep, target = resting.pop(rng.randrange(len(resting)))
                if ep != epoch:
                    continue  # an order of an earlier engine: the engine's to settle, not ours
                seq = b.cancel(target)
                what = "cancel"
            else:
                continue
            sent += 1
            if len(submitted) < 100_000:  # bounded: reports lost to a killed engine never come
                submitted[seq] = (t0, "sent")
                if what == "ioc":
                    ioc_seqs.add(seq)
            out.write(json.dumps({"t": "sent", "epoch": epoch, "seq": seq, "what": what}) + "\n")
        except (cwts_bridge.EngineNotRunning, cwts_bridge.EngineRestarted, cwts_bridge.RingFull):
            time.sleep(0.05)  # not sent
        except cwts_bridge.CwtsError as e:
            out.write(json.dumps({"t": "error", "error": str(e)}) + "\n")
            time.sleep(0.05)
        time.sleep(rng.uniform(0.002, 0.02))
    # The harness cancels what is open, stops the engine, then says done (a file): every report
    # of the final stop is read before this worker ends.
    while not _done(args):
        drain()
        time.sleep(0.05)
    drain()
    flush_window()
    out.write(json.dumps({"t": "latency", "hist": hist}) + "\n")
    out.close()
    b.close()
    return 0


def remote_worker(args) -> int:
    """A strategy over the control plane's WebSocket (cwts_bridge.remote), the same mix of signals.
    A signal whose reply is lost raises EngineNotRunning with its number: it is logged "sent"
    (doubt) and its one terminal report follows the reconnect (REJECTED/CONNECTION_LOST when it
    never arrived); across an engine restart the bridge reports STATUS_UNKNOWN (not terminal)."""
    import asyncio
    import cwts_bridge
    from cwts_bridge import remote

    async def main() -> None:
        rng = random.Random(args.seed)
        out = open(args.worker_out, "w")
        b = await remote.connect(args.remote, token=REMOTE_TOKEN, slot=-1, name=f"remote{args.worker}")
        resting: list[tuple[int, int]] = []

        def drain() -> None:
            for r in b.pending_reports():
                if r.terminal or r.kind == "STATUS_UNKNOWN":
                    out.write(json.dumps({"t": "report", "seq": r.seq, "kind": r.kind, "reason": r.reason,
                                          "cid": r.client_order_id, "epoch": r.epoch}) + "\n")

        while time.time() < args.until:
            drain()
            epoch, what = b.epoch, ""
            try:
                sym = rng.choice(SYMBOLS[:args.symbols])
                q = await b.quote(sym)
                if not q.book_valid or q.bid <= 0:
                    await asyncio.sleep(0.01)
                    continue
                notional, roll = 20.0 / q.bid, rng.random()
                if roll < 0.35:
                    side = rng.choice(["buy", "sell"])
                    px = q.bid * (1 - rng.uniform(0.005, 0.03)) if side == "buy" else q.ask * (1 + rng.uniform(0.005, 0.03))
                    what = "resting"
                    seq = await b.submit(sym, side, notional, price=px, round="nearest", tag="rest")
                    resting.append((epoch, seq))
                elif roll < 0.55:
                    side = rng.choice(["buy", "sell"])
                    what = "ioc"
                    seq = await b.submit(sym, side, notional, price=q.ask if side == "buy" else q.bid,
                                         tif="IOC", round="nearest", tag="ioc")
                elif roll < 0.70:
                    what = "refused"
                    seq = await b.submit(sym, "buy", notional, price=q.bid * 0.5, round="nearest", tag="bad")
                elif resting:
                    ep, target = resting.pop(rng.randrange(len(resting)))
                    if ep != epoch:
                        continue
                    what = "cancel"
                    seq = await b.cancel(target)
                else:
                    continue
                out.write(json.dumps({"t": "sent", "epoch": epoch, "seq": seq, "what": what}) + "\n")
            except cwts_bridge.EngineNotRunning as e:
                seq = getattr(e, "seq", None)
                if seq is not None and what:  # sent, reply lost: its report follows the reconnect
                    out.write(json.dumps({"t": "sent", "epoch": epoch, "seq": seq, "what": what,
                                          "doubt": True}) + "\n")
                await asyncio.sleep(0.05)
            except cwts_bridge.CwtsError as e:
                out.write(json.dumps({"t": "error", "error": str(e)}) + "\n")
                await asyncio.sleep(0.05)
            await asyncio.sleep(rng.uniform(0.002, 0.02))
        while not _done(args):
            drain()
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # frames still in the socket reach the client first
        drain()
        out.write(json.dumps({"t": "latency", "hist": {}}) + "\n")
        out.close()
        await b.close()

    asyncio.run(main())
    return 0
