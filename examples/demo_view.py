#!/usr/bin/env python3
"""The demo's strategy and live view: attaches to the engine, follows every event, sends a small
IOC order on one symbol every few seconds (1% under the bid: it expires, or is refused), prints
one line per second and a summary. Used by ./scripts/demo."""
import argparse
import time

import cwts_bridge


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instance", default="demo")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--symbol", default="NKNUSDT")
    ap.add_argument("--signal-every", type=float, default=2.0)
    args = ap.parse_args()

    with cwts_bridge.attach(args.instance, slot=-1, name="demo") as b:
        syms = b.symbols()
        print(f"attached to engine '{args.instance}' (epoch {b.epoch}), slot {b.slot}, symbols {', '.join(syms)}")
        print(f"{'t(s)':>4} {'frames':>8} {'events/s':>9} {'books':>6} {'lag p50':>9} {'lag p99':>9} "
              f"{'signals':>8} {'accepted':>8} {'rejected':>8} {'fills':>6}  {args.symbol} bid/ask, indicators")
        start = time.time()
        next_line, next_signal = start + 1, start + 1
        events_total, events_window, lags, all_lags = 0, 0, [], []
        sent, kinds = [], {}
        while time.time() - start < args.seconds:
            if b.wait(0.2):
                now_ns = time.time_ns()
                for ev in b.events():
                    if ev.kind == "lapped":
                        continue
                    events_total += 1
                    events_window += 1
                    lags.append((now_ns - ev.publish_ts_ns) / 1e3)
            for r in b.reports():
                if r.terminal:
                    key = r.kind if r.reason == "NONE" else f"{r.kind}/{r.reason}"
                    kinds[key] = kinds.get(key, 0) + 1
            now = time.time()
            if now >= next_signal:
                next_signal = now + args.signal_every
                q = b.quote(args.symbol)
                if q.book_valid and q.bid > 0:
                    try:
                        sent.append(b.submit(args.symbol, "buy", 12.0 / q.bid, price=q.bid * 0.99, tif="IOC", round="down"))
                    except (ValueError, cwts_bridge.CwtsError) as e:
                        print("signal not sent:", e)
            if now >= next_line:
                next_line += 1
                st = b.status()
                q = b.quote(args.symbol)
                valid = sum(1 for s in syms if b.quote(s).book_valid)
                print(f"{now - start:4.0f} {st['frames']:8d} {events_window:9d} {valid:>3d}/{len(syms):<2d} "
                      f"{pct(lags, .5):7.1f}us {pct(lags, .99):7.1f}us {len(sent):8d} {st['signals_accepted']:8d} "
                      f"{st['signals_rejected']:8d} {st['fills']:6d}  {q.bid:.8g}/{q.ask:.8g} "
                      f"{' '.join(f'{k}={v:.6g}' for k, v in b.indicators(args.symbol).items())}", flush=True)
                all_lags.extend(lags)
                lags, events_window = [], 0
        for s in sent:
            r = b.wait_report(s, 3.0)
            if r is not None:
                key = r.kind if r.reason == "NONE" else f"{r.kind}/{r.reason}"
                kinds[key] = kinds.get(key, 0) + 1
        st = b.status()
        print(f"summary: {st['frames']} frames, {events_total} events read, books valid "
              f"{sum(1 for s in syms if b.quote(s).book_valid)}/{len(syms)}, publish->python p50 {pct(all_lags, .5):.1f} us "
              f"p99 {pct(all_lags, .99):.1f} us; signals sent {len(sent)}, accepted {st['signals_accepted']}, "
              f"orders {st['orders_sent']}, fills {st['fills']}; terminal reports {kinds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
