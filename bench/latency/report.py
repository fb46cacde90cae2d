#!/usr/bin/env python3
"""The latency report: the engine -> strategy -> engine paths, measured in one run on one machine.

  shm_cpp     engine publish -> a C++ reader has the event (shared memory, one way;
              cwts-latency-pingpong, two pinned processes)
  shm_python  engine publish -> Python wait() -> submit() -> the engine's exec loop has the signal
              (a real cwtsd on a real cwts-sim; bench/latency/python_roundtrip.py)
  uds         the same round trip over a Unix domain socket: a 120-byte event out, a 56-byte
              signal back, Python on the strategy side (cwts-latency-transport + transport_client.py)
  websocket   the same over a loopback WebSocket
  ws_remote   engine publish -> a remote strategy (cwts_bridge.remote, asyncio, over the control
              plane's WebSocket on loopback) -> slot.submit -> the engine's exec loop has the signal
              (a real cwtsd on a real cwts-sim; python_roundtrip.py --remote)

Prints p50 / p99 / p99.9 and the ratios to shm_python, writes a PNG of the distributions, and with
--json prints one JSON object {"shm_cpp": {...}, "shm_python": ..., "uds": ..., "websocket": ...,
"ws_remote": ...},
each {"p50_ns", "p99_ns", "p999_ns", "samples"}, with "md_scale" (bench/md/scale.py) and "indicators"
(bench/ta/ta_vs_talib.py: every kernel against TA-Lib, and "summary" against the targets).
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def run_json(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"latency report: {' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def transport(binary, mode, samples, raw, tmp):
    args = [str(binary), "--samples", str(samples), "--warmup", str(max(100, samples // 10)), "--raw", str(raw)]
    args += ["--uds", str(tmp / "rtt.sock")] if mode == "uds" else ["--ws"]
    server = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = server.stdout.readline().split()
    if len(ready) != 2 or ready[0] != "READY":
        server.kill()
        sys.exit(f"latency report: {binary} did not start: {server.stderr.read()[-2000:]}")
    client = subprocess.Popen([sys.executable, str(HERE / "transport_client.py"),
                               "--uds" if mode == "uds" else "--ws", ready[1]])
    out, err = server.communicate(timeout=600)
    client.wait(timeout=30)
    if server.returncode != 0:
        sys.exit(f"latency report: {mode} run failed: {err[-2000:]}")
    return json.loads(out.strip().splitlines()[-1])[mode]


def plot(raws, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(9, 5))
    for name, samples in raws.items():
        v = np.sort(np.asarray(samples, dtype=float)) / 1e3
        if v.size == 0:
            continue
        q = np.arange(1, v.size + 1) / v.size
        ax.plot(v, q, label=f"{name} (p50 {np.percentile(v, 50):.1f} µs)")
    ax.set_xscale("log")
    ax.set_xlabel("latency (µs, log scale)")
    ax.set_ylabel("fraction of samples ≤ x")
    ax.set_title("CWTS Ultra: engine -> strategy (-> engine) by transport; signal or gateway order -> venue")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(ROOT / "build" / "release"))
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--png", default=None, help="where to write the plot (default <build>/latency_report.png)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--scale", default="10,100,1000",
                    help="symbol counts for bench/md/scale.py (the engine's md costs); '' skips it")
    ap.add_argument("--scale-seconds", type=float, default=10, help="scale.py's window per count")
    ap.add_argument("--ta-sizes", default="10000,1000000",
                    help="series lengths for bench/ta/ta_vs_talib.py (the indicators against TA-Lib); '' skips it")
    args = ap.parse_args()
    build = pathlib.Path(args.build)
    png = pathlib.Path(args.png) if args.png else build / "latency_report.png"
    res, raws = {}, {}
    with tempfile.TemporaryDirectory(prefix="cwts-latency-") as t:
        tmp = pathlib.Path(t)
        pp = run_json([str(build / "bench" / "cwts-latency-pingpong"), "--samples", str(args.samples), "--json",
                       "--raw", str(tmp / "shm_cpp")])
        res["shm_cpp"] = {k: pp["shm_oneway"][k] for k in ("p50_ns", "p99_ns", "p999_ns", "samples")}
        py = run_json([sys.executable, str(HERE / "python_roundtrip.py"), "--sim",
                       str(build / "apps" / "cwts-sim" / "cwts-sim"), "--cwtsd", str(build / "apps" / "cwtsd" / "cwtsd"),
                       "--samples", str(min(args.samples, 3000)), "--json", "--raw", str(tmp / "shm_python"),
                       "--layout", "split" if len(os.sched_getaffinity(0)) >= 2 else "default"])
        res["shm_python"] = py["shm_python"]
        steps = py["shm_python_steps"]  # where the round trip's time goes (not a path: no raw samples)
        rp = run_json([sys.executable, str(HERE / "python_roundtrip.py"), "--sim",
                       str(build / "apps" / "cwts-sim" / "cwts-sim"), "--cwtsd", str(build / "apps" / "cwtsd" / "cwtsd"),
                       "--samples", str(min(args.samples, 3000)), "--json", "--remote", "--raw", str(tmp / "ws_remote")])
        res["ws_remote"] = rp["ws_remote"]
        # The way back to the venue: a signal in a slot's ring, and a signed order written to the
        # gateway (FreqTrade's path), each to the order's bytes on the venue socket.
        for name, extra in (("order_shm", []), ("order_gateway", ["--gateway"])):
            o = run_json([str(build / "bench" / "cwts-latency-order"), "--sim", str(build / "apps" / "cwts-sim" / "cwts-sim"),
                          "--cwtsd", str(build / "apps" / "cwtsd" / "cwtsd"), "--idle", "busy-spin",
                          "--samples", str(min(args.samples, 2000)), "--json", "--raw", str(tmp / name)] + extra)
            res[name] = {k: next(iter(o.values()))[k] for k in ("p50_ns", "p99_ns", "p999_ns", "samples")}
            # The kernel's own share of it on this machine (send() on loopback TCP to the receive
            # stamp, no engine): what the path cannot go below here (not a path: no raw samples).
            if name == "order_shm":
                floor = next(iter(o.values()))["loopback_send_floor"]
                # Where its time goes on the exec thread (cwtsd's log.order_stages; not a path).
                order_stages = next(iter(o.values())).get("stages", {})
        # Heap allocations per order on the venue's thread (counted, not timed; not a path).
        allocs = run_json([str(build / "bench" / "cwts-bench-venue-allocs"), "--orders", "2000", "--json"])
        for mode in ("uds", "websocket"):
            res[mode] = transport(build / "bench" / "cwts-latency-transport", mode, args.samples, tmp / mode, tmp)
        for name in res:
            raws[name] = [int(x) for x in (tmp / name).read_text().split()]
        # How the engine's market-data costs grow with its symbols (not a path: no raw samples).
        scale = run_json([sys.executable, str(ROOT / "bench" / "md" / "scale.py"), "--symbols", args.scale,
                          "--seconds", str(args.scale_seconds), "--build", str(build), "--json"]) \
            if args.scale else None
        # The indicator kernels against TA-Lib on the same arrays, with the summary against the
        # targets (not a path: no raw samples).
        ta = run_json([sys.executable, str(ROOT / "bench" / "ta" / "ta_vs_talib.py"), "--sizes", args.ta_sizes,
                       "--json"]) if args.ta_sizes else None
    png.parent.mkdir(parents=True, exist_ok=True)
    plot(raws, png)
    if args.json:
        print(json.dumps(dict(res, shm_python_steps=steps, order_allocs=allocs, order_floor=floor, order_stages=order_stages, md_scale=scale,
                              indicators=ta)))
        return 0
    base = res["shm_python"]["p50_ns"]
    print(f"{'path':12s} {'p50':>10s} {'p99':>10s} {'p99.9':>10s} {'samples':>8s}  p50 vs shm_python")
    for name, r in res.items():
        print(f"{name:12s} {r['p50_ns'] / 1e3:8.1f}us {r['p99_ns'] / 1e3:8.1f}us {r['p999_ns'] / 1e3:8.1f}us "
              f"{r['samples']:8d}  x{r['p50_ns'] / base:.2f}")
    print("shm_python by step: " + ", ".join(f"{k} p50 {v['p50_ns'] / 1e3:.1f}us p99 {v['p99_ns'] / 1e3:.1f}us"
                                              for k, v in steps.items()))
    print(f"order path floor (send() of 400 bytes on loopback TCP -> receive stamp, no engine): "
          f"p50 {floor['p50_ns'] / 1e3:.1f}us p99 {floor['p99_ns'] / 1e3:.1f}us")
    print("order path by stage (exec thread): " + ", ".join(
        f"{k} p50 {v['p50_ns'] / 1e3:.2f}us p99 {v['p99_ns'] / 1e3:.2f}us" for k, v in order_stages.items()))
    print(f"heap allocations per order (venue thread): place() to the bytes {allocs['allocs_place_to_bytes']:.1f}, "
          f"the answer to the final update {allocs['allocs_answer_to_final']:.1f}")
    for r in (scale or {}).get("rows", []):
        p = r["publish_latency_us"]
        print(f"md at {r['symbols']} symbols: start-up {r['startup_s']:.1f}s, {r['frames_per_s']:.0f} frames/s, "
              f"md CPU {r['md_cpu_pct']:.1f}% ({r['md_cpu_us_per_frame']}us/frame), publish p50 {p['p50']:.1f}us "
              f"p99 {p['p99']:.1f}us, RSS {r['rss_mb']:.0f} MB, region {r['region_mb']:.1f} MB")
    if ta:
        sm = ta["summary"]
        print(f"indicators vs TA-Lib: one series >= {sm['targets']['single']}x at {sm['single_size']} bars for "
              f"{sm['single_met']} of {sm['kernels']} kernels, batch >= {sm['targets']['batch']}x for {sm['batch_met']}; "
              "short on one series: " + ", ".join(f"{k} {v:.2f}" for k, v in sm["short_single"].items()))
    print(f"plot: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
