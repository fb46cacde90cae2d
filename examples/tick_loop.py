#!/usr/bin/env python3
"""The lowest-latency way to use the engine from Python: wait on the bridge, react to every tick.

    python examples/tick_loop.py --instance demo --symbol NKNUSDT --seconds 10

Waits for events (the GIL is released while waiting), tracks the mid of one symbol, and every
`--every` quotes sends a small IOC buy 1% below the bid (it will expire: a safe demo order), then
prints the engine's reports and latency figures (event publish -> seen by Python)."""
import argparse
import statistics
import time

import cwts_bridge


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instance", default="default")
    ap.add_argument("--symbol", required=True)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--every", type=int, default=200, help="send a signal every N quote events (0 = never)")
    ap.add_argument("--slot", type=int, default=-1)
    args = ap.parse_args()

    lat_us, quotes, sent, reports = [], 0, [], {}
    with cwts_bridge.attach(args.instance, slot=args.slot, name="tick_loop") as b:
        px_dec, qty_dec, tick, step = b._n.symbol_meta(args.symbol)
        end = time.time() + args.seconds
        while time.time() < end:
            if not b.wait(0.5):
                continue
            for ev in b.events():
                if ev.kind == "lapped":
                    print(f"lapped: {ev.seq} events skipped")
                    continue
                if ev.symbol != args.symbol or ev.kind not in ("quote", "book"):
                    continue
                quotes += 1
                lat_us.append((time.time_ns() - ev.publish_ts_ns) / 1000)
                if args.every and quotes % args.every == 0:
                    q = b.quote(args.symbol)
                    min_qty = max(step, 1) / 10 ** qty_dec
                    qty = max(min_qty, 12.0 / max(q.bid, 1e-12))  # ~12 quote units: above min notional
                    try:
                        sent.append(b.submit(args.symbol, "buy", qty, price=q.bid * 0.99, tif="IOC", round="down"))
                    except (ValueError, cwts_bridge.CwtsError) as e:
                        print("not sent:", e)
            for r in b.reports():
                if r.terminal:
                    reports[r.kind + "/" + r.reason] = reports.get(r.kind + "/" + r.reason, 0) + 1
        for s in sent:
            r = b.wait_report(s, 2.0)
            if r is not None:
                reports[r.kind + "/" + r.reason] = reports.get(r.kind + "/" + r.reason, 0) + 1
    lat_us.sort()
    p = lambda q: lat_us[min(len(lat_us) - 1, int(q * len(lat_us)))] if lat_us else float("nan")
    print(f"tick_loop: {quotes} quote events for {args.symbol}, publish->python p50 {p(0.5):.1f} us "
          f"p99 {p(0.99):.1f} us; signals sent {len(sent)}; terminal reports {reports}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
