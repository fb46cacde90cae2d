#!/usr/bin/env python3
"""Python round trip: an event published by the engine -> Python wait() wakes and reads it ->
submit() -> the engine's exec loop takes the signal. Runs a real cwts-sim and cwtsd.

    python bench/latency/python_roundtrip.py --sim build/release/apps/cwts-sim/cwts-sim \
        --cwtsd build/release/apps/cwtsd/cwtsd [--samples 5000] [--json] [--remote]

--remote: the same round trip through cwts_bridge.remote (the control plane's WebSocket on
loopback, asyncio) instead of shared memory; reported as "ws_remote".

The signal is a limit buy far below the market: the engine refuses it (PRICE_BAND) before the
venue, so nothing is rate limited and the report's ts_ns is the exec loop iteration that took it.
Both clocks are CLOCK_REALTIME on the same machine."""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(q * len(v) + 0.5)) - 1))] if v else 0


# The shared-memory round trip in four steps (CLOCK_REALTIME on both sides, so they add up to it):
# publish -> wait() returns; -> events() has read it (Event objects); -> submit() returned (Python
# checks, units, the ring); -> the exec loop took the signal (the report's ts_ns).
STEPS = ("wake", "read", "submit", "intake")


class Samples:
    """What both round trips share: the event a sample starts from, the signal's price (half the
    bid: refused by the price band), and what is recorded."""

    def __init__(self, n):
        self.n, self.price, self.one_way, self.round_trip = n, None, [], []
        self.steps = {k: [] for k in STEPS}  # the shared-memory round trip, step by step

    def more(self):
        return len(self.round_trip) < self.n

    def start(self, events):
        """The newest quote or book among `events` (None: nothing to start from) and when it was seen."""
        evs = [e for e in events if e.kind in ("quote", "book")]
        seen = time.time_ns()
        if not evs:
            return None, seen
        if self.price is None:
            self.price = evs[-1].a * 0.5
        return evs[-1], seen

    def record(self, ev, seen, report, woke=None, sent=None):
        if report is not None and report.reason == "PRICE_BAND":
            self.one_way.append(seen - ev.publish_ts_ns)
            self.round_trip.append(report.ts_ns - ev.publish_ts_ns)
            if woke is not None:
                for k, v in zip(STEPS, (woke - ev.publish_ts_ns, seen - woke, sent - seen,
                                        report.ts_ns - sent)):
                    self.steps[k].append(v)


def shm_samples(b, s):
    list(b.events())
    while s.more():
        if not b.wait(1.0):
            continue
        woke = time.time_ns()
        ev, seen = s.start(b.events())
        if ev is not None:
            seq = b.submit("BTCUSDT", "buy", 0.001, price=s.price, round="down")
            sent = time.time_ns()
            s.record(ev, seen, b.wait_report(seq, 5.0), woke, sent)
            list(b.events())  # drop what queued meanwhile: the next sample starts from a fresh event


async def remote_samples(instance, s):
    import cwts_bridge.remote as remote
    shm = pathlib.Path("/dev/shm")
    where = (shm / f"cwts-{instance}.control").read_text().splitlines()[0]  # "tls" may follow
    token = (shm / f"cwts-{instance}.token").read_text().strip()
    async with await remote.connect(f"ws://{where}/ws", token=token, slot=-1, name="pyrt") as b:
        await b.subscribe(["BTCUSDT"], ["quote", "book"])
        b.pending_events()
        while s.more():
            if not await b.wait(1.0):
                continue
            ev, seen = s.start(b.pending_events())
            if ev is not None:
                seq = await b.submit("BTCUSDT", "buy", 0.001, price=s.price, round="down")
                s.record(ev, seen, await b.wait_report(seq, 5.0))
                b.pending_events()  # the next sample starts from a fresh event


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--cwtsd", required=True)
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--exec-idle", default="busy-spin")
    ap.add_argument("--layout", choices=("default", "split"), default="default",
                    help="split: the engine's threads and cwts-sim on the last core, spin-then-yield, "
                         "this Python process alone on core 0 (docs/python_bridge.md, 'Latency')")
    ap.add_argument("--threads", default="", help='the engine\'s "threads" section as JSON (overrides --exec-idle)')
    ap.add_argument("--python-core", type=int, default=-1, help="pin this Python process to one core")
    ap.add_argument("--gc-freeze", action="store_true",
                    help="gc.freeze() after start-up, as docs/python_bridge.md recommends to strategies")
    ap.add_argument("--sim-core", type=int, default=-1,
                    help="pin cwts-sim (it stands in for a venue on another machine) to one core")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--raw", help="write the round-trip samples (ns), one per line")
    ap.add_argument("--remote", action="store_true", help="through cwts_bridge.remote")
    ap.add_argument("--raw-steps", help="write each sample's steps (ns), one line per sample: " + " ".join(STEPS))
    args = ap.parse_args()
    if args.layout == "split":
        last = max(os.sched_getaffinity(0))
        engine_core = {"core": last, "idle": "spin-then-yield"}
        args.threads = args.threads or json.dumps({"md": engine_core, "exec": engine_core, "ctl": {"core": last}})
        args.python_core = 0 if args.python_core < 0 else args.python_core
        args.sim_core = last if args.sim_core < 0 else args.sim_core
    import cwts_bridge

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="cwts-pyrt-"))
    pin_sim = (lambda: os.sched_setaffinity(0, {args.sim_core})) if args.sim_core >= 0 else None
    sim = subprocess.Popen([args.sim, "--listen", "127.0.0.1:0", "--synthetic", "BTCUSDT", "--rate", "2000",
                            "--api-key", "k", "--api-secret", "s"], stdout=subprocess.PIPE, stderr=open(tmp / "sim.log", "w"), text=True,
                           preexec_fn=pin_sim)
    port = int(sim.stdout.readline().rsplit(":", 1)[1])
    instance = f"pyrt{os.getpid()}"
    cfg = tmp / "cwtsd.json"
    cfg.write_text(json.dumps({
        "region": {"instance": instance, "lock_pages": False},
        "venue": {"kind": "binance", "rest_url": f"http://127.0.0.1:{port}", "ws_url": f"ws://127.0.0.1:{port}"},
        "market": {"symbols": ["BTCUSDT"]},
        "risk": {"price_band_bps": 100, "max_open_orders": 1000},
        "threads": json.loads(args.threads) if args.threads else {"exec": {"idle": args.exec_idle}, "md": {"idle": "block"}},
    }))
    eng = subprocess.Popen([args.cwtsd, "--config", str(cfg)], env=dict(os.environ, CWTS_API_KEY="k", CWTS_API_SECRET="s"),
                           stdout=subprocess.DEVNULL, stderr=open(tmp / "cwtsd.log", "w"))
    if args.python_core >= 0:
        os.sched_setaffinity(0, {args.python_core})
    try:
        b = None
        for _ in range(300):
            try:
                b = cwts_bridge.attach(instance, slot=-1, name="pyrt")
                if b.quote("BTCUSDT").book_valid:
                    break
                b.close()
                b = None
            except cwts_bridge.EngineNotRunning:
                pass
            time.sleep(0.05)
        if b is None:
            print("cwtsd did not come up; see", tmp / "cwtsd.log", file=sys.stderr)
            return 1
        if args.gc_freeze:
            import gc
            gc.collect()
            gc.freeze()  # the start-up heap is never scanned again: young collections stay short
        warm = args.samples // 10
        s = Samples(args.samples + warm)
        if args.remote:
            import asyncio
            b.close()
            asyncio.run(remote_samples(instance, s))
        else:
            shm_samples(b, s)
        one_way, round_trip = s.one_way[warm:], s.round_trip[warm:]
        if args.raw:
            pathlib.Path(args.raw).write_text("".join(f"{v}\n" for v in round_trip))
        if args.raw_steps:
            rows = zip(*(s.steps[k][warm:] for k in STEPS))
            pathlib.Path(args.raw_steps).write_text("".join(" ".join(map(str, r)) + "\n" for r in rows))
        res = {"ws_remote" if args.remote else "shm_python": {"p50_ns": pct(round_trip, 0.5), "p99_ns": pct(round_trip, 0.99),
                              "p999_ns": pct(round_trip, 0.999), "samples": len(round_trip)},
               "publish_to_python" + ("_remote" if args.remote else ""): {"p50_ns": pct(one_way, 0.5), "p99_ns": pct(one_way, 0.99),
                                     "p999_ns": pct(one_way, 0.999), "samples": len(one_way)}}
        if not args.remote:  # where the time goes: p50 of each step (they need not add up to the p50)
            res["shm_python_steps"] = {k: {"p50_ns": pct(v[warm:], 0.5), "p99_ns": pct(v[warm:], 0.99)}
                                       for k, v in s.steps.items()}
        if args.json:
            print(json.dumps(res))
        else:
            for k, v in res.pop("shm_python_steps", {}).items():
                print(f"  step {k:8s} p50 {v['p50_ns'] / 1e3:8.1f} us  p99 {v['p99_ns'] / 1e3:8.1f} us")
            for k, v in res.items():
                print(f"{k:18s} p50 {v['p50_ns'] / 1e3:8.1f} us  p99 {v['p99_ns'] / 1e3:8.1f} us  "
                      f"p99.9 {v['p999_ns'] / 1e3:8.1f} us  ({v['samples']} samples)")
        if not args.remote:
            b.close()
        return 0
    finally:
        eng.terminate()
        eng.wait(timeout=20)
        sim.terminate()
        sim.wait(timeout=20)


if __name__ == "__main__":
    raise SystemExit(main())
