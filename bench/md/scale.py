"""How the engine's market-data costs grow with its symbols (issue 19; docs/benchmarks.md).

For each symbol count: cwts-sim's synthetic feed of that many symbols at a fixed rate per symbol,
and a release cwtsd trading them (region.max_symbols sized for them, snapshots of 100 levels).
Measured: the start-up (spawn to the engine's "ready": every book synced, snapshots paced by the
rate governor), the md thread's CPU per market-data frame (/proc, the thread named cwtsd-md, over
the frames the engine counted), the publish latency of every event a reader saw (publish_ts -
receive_ts: frame read to event in shared memory), the engine's RSS and the market region's size.

    .venv/bin/python bench/md/scale.py [--symbols 10,100,1000] [--seconds 20] [--rate 20] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
KEY = "scaleKey0123456789abcdef"
SECRET = "scaleSecret0123456789abcdefghij"


def percentile(values: list[int], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return float(s[min(len(s) - 1, int(q * len(s)))])


def thread_cpu_s(pid: int, name: str) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        if (task / "comm").read_text().strip() == name:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    raise RuntimeError(f"no thread {name} in {pid}")


def rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_one(build: pathlib.Path, n: int, rate: int, seconds: float, tmp: pathlib.Path) -> dict:
    import cwts_bridge

    names = [f"S{1000 + i}USDT" for i in range(n)]
    balances = ",".join(["USDT=10000000"] + [f"{s[:-4]}=1000" for s in names])
    sim = subprocess.Popen(
        [str(build / "apps/cwts-sim/cwts-sim"), "--listen", "127.0.0.1:0", "--api-key", KEY,
         "--api-secret", SECRET, "--synthetic", ",".join(names), "--rate", str(rate * n),
         "--balance", balances, "--weight-limit", "6000"],
        stdout=subprocess.PIPE, stderr=open(tmp / f"sim-{n}.log", "w"), text=True)
    port = int(sim.stdout.readline().rsplit(":", 1)[1])
    instance = f"scale{os.getpid()}n{n}"
    shm = tmp / "shm"
    shm.mkdir(exist_ok=True)
    config = tmp / f"cwtsd-{n}.json"
    config.write_text(json.dumps({
        "region": {"instance": instance, "lock_pages": False, "hugepages": "off",
                   "shm_dir": str(shm), "max_symbols": max(n, 1)},
        "venue": {"kind": "binance", "rest_url": f"http://127.0.0.1:{port}",
                  "ws_url": f"ws://127.0.0.1:{port}", "ws_api_url": ""},
        "market": {"symbols": names, "timeframes": ["1m"], "snapshot_limit": 100},
        "threads": {"exec": {"idle": "block"}},
        "shutdown": {"on_stop": "leave", "timeout_ms": 2000},
    }))
    log = tmp / f"cwtsd-{n}.log"
    env = dict(os.environ, CWTS_API_KEY=KEY, CWTS_API_SECRET=SECRET)
    t0 = time.monotonic()
    eng = subprocess.Popen([str(build / "apps/cwtsd/cwtsd"), "--config", str(config)],
                           env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    try:
        while '"component":"ctl","event":"ready"' not in log.read_text():
            if eng.poll() is not None or time.monotonic() - t0 > 600:
                raise RuntimeError(f"cwtsd did not become ready with {n} symbols; see {log}")
            time.sleep(0.05)
        startup_s = time.monotonic() - t0
        region_bytes = (shm / f"cwts-{instance}-market").stat().st_size
        with cwts_bridge.attach(instance, shm_dir=str(shm)) as b:
            for _ in b.events():  # from now on
                pass
            time.sleep(2)  # settle: the sync's snapshots are over
            for _ in b.events():
                pass
            frames0, cpu0, w0 = b.status()["frames"], thread_cpu_s(eng.pid, "cwtsd-md"), time.monotonic()
            latencies: list[int] = []
            lapped = 0
            while time.monotonic() - w0 < seconds:
                for ev in b.events():
                    if ev.kind == "lapped":
                        lapped += ev.seq
                    elif ev.kind in ("quote", "trade", "book"):
                        latencies.append(ev.publish_ts_ns - ev.receive_ts_ns)
                time.sleep(0.001)
            frames1, cpu1, w1 = b.status()["frames"], thread_cpu_s(eng.pid, "cwtsd-md"), time.monotonic()
        frames = frames1 - frames0
        return {
            "symbols": n,
            "startup_s": round(startup_s, 2),
            "frames_per_s": round(frames / (w1 - w0), 1),
            "md_cpu_pct": round(100 * (cpu1 - cpu0) / (w1 - w0), 1),
            "md_cpu_us_per_frame": round(1e6 * (cpu1 - cpu0) / frames, 2) if frames else None,
            "publish_latency_us": {
                "events": len(latencies), "lapped": lapped,
                "p50": percentile(latencies, 0.50) / 1e3, "p99": percentile(latencies, 0.99) / 1e3,
                "p999": percentile(latencies, 0.999) / 1e3},
            "rss_mb": round(rss_mb(eng.pid), 1),
            "region_mb": round(region_bytes / 1e6, 2),
        }
    finally:
        eng.terminate()
        eng.wait(30)
        sim.terminate()
        sim.wait(30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--symbols", default="10,100,1000", help="symbol counts, comma-separated")
    ap.add_argument("--seconds", type=float, default=20, help="measured window per count")
    ap.add_argument("--rate", type=int, default=20, help="synthetic events a second per symbol")
    ap.add_argument("--build", default=str(ROOT / "build/release"), help="the build to run")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="cwts-scale-") as d:
        for n in [int(x) for x in a.symbols.split(",")]:
            rows.append(run_one(pathlib.Path(a.build), n, a.rate, a.seconds, pathlib.Path(d)))
    machine = {"cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                            if l.startswith("model name")), platform.processor()),
               "cores": os.cpu_count(), "rate_per_symbol": a.rate, "seconds": a.seconds}
    if a.json:
        print(json.dumps({"machine": machine, "rows": rows}))  # one line: report.py reads the last
        return 0
    print(f"# {machine['cpu']}, {machine['cores']} cores; {a.rate} synthetic events/s per symbol, "
          f"{a.seconds:g} s per count")
    print("symbols  start-up s  frames/s  md CPU %  md CPU µs/frame  publish µs p50/p99/p99.9  "
          "RSS MB  region MB")
    for r in rows:
        p = r["publish_latency_us"]
        print(f"{r['symbols']:7d}  {r['startup_s']:10.1f}  {r['frames_per_s']:8.0f}  "
              f"{r['md_cpu_pct']:8.1f}  {r['md_cpu_us_per_frame'] or 0:15.2f}  "
              f"{p['p50']:7.1f}/{p['p99']:.1f}/{p['p999']:.1f}  {r['rss_mb']:6.1f}  "
              f"{r['region_mb']:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
