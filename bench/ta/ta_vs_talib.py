#!/usr/bin/env python3
"""cwts_bridge.ta against TA-Lib (the `ta-lib` wheel) on the same arrays, in the same process.

Single series: every kernel at 1e3 .. 1e7 bars, default parameters, the median of several calls
of each (both allocate their outputs, as a strategy's call does), the calls going round several
different series of that length (--distinct): a CPU's branch predictor learns a series of 10,000
bars replayed hundreds of times, which a strategy computing one pair after another never sees
(docs/benchmarks.md). Batch: symbols x parameter sets
(the shape a hyperparameter search runs) through cta.batch on each ISA against a TA-Lib loop, and
the same parameter sets on one symbol (a sweep).
Prints a Markdown table (for docs/benchmarks.md) or, with --json, one JSON object.
"""
import argparse
import itertools
import json
import platform
import statistics
import time

import numpy as np
import talib

import cwts_bridge.ta as cta


def series(n, seed=1):
    rng = np.random.default_rng(seed)
    c = 100 + np.cumsum(rng.normal(0, 1, n))
    return {"real": c, "close": c, "high": c + rng.random(n), "low": c - rng.random(n),
            "volume": rng.random(n) * 1000}


def timed(fn, n):
    return timed_pair([fn], n)[0]


def timed_pair(fns, n):
    """The median time of each function, their calls alternated so that both see the same moments of
    a noisy machine (a VM's neighbours come and go within a second); at least 7 calls each."""
    reps = max(7, min(200, int(2e6 / n)))
    for fn in fns:
        fn()  # warm
    samples = [[] for _ in fns]
    for _ in range(reps):
        for fn, out in zip(fns, samples):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return [statistics.median(s) for s in samples]


# Issue 19's targets: every kernel at least level with TA-Lib on one series, twice as fast in batch.
SINGLE_TARGET, BATCH_TARGET = 1.0, 2.0


def summary(out, names, sizes, isas):
    """Each kernel against the targets: its single-series ratio at the largest size (where the call's
    fixed cost no longer counts) and its batch ratio on the best ISA; the kernels short of each."""
    rows, short_single, short_batch = {}, {}, {}
    for name in names:
        single = out["single"][name][max(sizes)]["ratio"]
        b = out["batch"][name]
        isa = max(isas, key=lambda i: b[i + "_ratio"])
        w = out["sweep"][name]
        wisa = max(isas, key=lambda i: w[i + "_ratio"])
        rows[name] = {"single_ratio": round(single, 3), "batch_ratio": round(b[isa + "_ratio"], 3),
                      "batch_isa": isa, "sweep_ratio": round(w[wisa + "_ratio"], 3), "sweep_isa": wisa}
        if single < SINGLE_TARGET:
            short_single[name] = rows[name]["single_ratio"]
        if b[isa + "_ratio"] < BATCH_TARGET:
            short_batch[name] = rows[name]["batch_ratio"]
    return {"targets": {"single": SINGLE_TARGET, "batch": BATCH_TARGET}, "single_size": max(sizes),
            "kernels": len(names), "single_met": len(names) - len(short_single),
            "batch_met": len(names) - len(short_batch), "short_single": short_single,
            "short_batch": short_batch, "by_kernel": rows}


def batch_rows(names, symbols, args, isas):
    """cta.batch on each ISA against a TA-Lib loop: `symbols` series x args.params parameter sets."""
    rows = {}
    sym = [series(args.bars, seed=s) for s in range(symbols)]
    for name in names:
        spec = cta._SPECS[name]
        mats = [np.vstack([s[i] for s in sym]) for i in spec["inputs"]]
        if spec["params"]:
            pname = spec["params"][0][0]
            values = [5 + 4 * k for k in range(args.params)] if spec["params"][0][4] else \
                [0.01 + 0.005 * k for k in range(args.params)]
            sweep = {pname: values}
        else:
            sweep = {}
        if name == "MACD":
            sweep = {"fastperiod": [5 + k for k in range(args.params)]}

        def talib_loop():
            for k in range(args.params if sweep else 1):
                kw = {p: v[k] for p, v in sweep.items()}
                for s in range(symbols):
                    getattr(talib, name)(*[m[s] for m in mats], **kw)

        row = {"talib_s": timed(talib_loop, args.bars * symbols * args.params)}
        for isa in isas:
            cta.set_isa(isa)
            row[isa + "_s"] = timed(lambda: cta.batch(name, *mats, **sweep), args.bars * symbols * args.params)
            row[isa + "_ratio"] = row["talib_s"] / row[isa + "_s"]
        rows[name] = row
    return rows


def print_rows(rows, names, isas, title):
    print(title)
    print("| kernel | TA-Lib ms | " + " | ".join(f"{i} ms | {i} ratio" for i in isas) + " |")
    print("|---|---|" + "---|---|" * len(isas))
    for name in names:
        r = rows[name]
        print(f"| {name} | {r['talib_s'] * 1e3:.1f} | " +
              " | ".join(f"{r[i + '_s'] * 1e3:.1f} | {r[i + '_ratio']:.2f}" for i in isas) + " |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--sizes", default="1000,10000,100000,1000000,10000000")
    ap.add_argument("--symbols", type=int, default=16)
    ap.add_argument("--params", type=int, default=8)
    ap.add_argument("--bars", type=int, default=10000)
    ap.add_argument("--distinct", type=int, default=8,
                    help="single series: the calls go round this many different series, fewer where "
                         "they would pass 1e6 bars in all (one from 1e6 bars on; 1: the same series "
                         "every call)")
    ap.add_argument("--names", default="", help="comma-separated kernels (default: every one TA-Lib has)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    names = [f for f in cta.get_functions() if f != "VWAP"]
    if args.names:
        wanted = [n.strip().upper() for n in args.names.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in names]
        if unknown:
            ap.error(f"--names: no such kernel: {', '.join(unknown)} (kernels: {', '.join(names)})")
        names = wanted
    isas = [i for i in ("scalar", "avx2", "avx512") if cta.isa_supported(i)]
    out = {"machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
                       "talib": talib.__version__, "isas": isas},
           "single": {}, "batch": {}, "distinct": {}}

    data = {}
    for n in sizes:
        count = max(1, min(args.distinct, 10**6 // n))
        data[n] = [series(n, seed=1 + k) for k in range(count)]
        out["distinct"][n] = count
    for name in names:
        spec = cta._SPECS[name]
        out["single"][name] = {}
        for n in sizes:
            # Each library goes round the same series in the same order, cwts half a round behind:
            # the calls alternate, so in step cwts would always read what TA-Lib had just brought
            # into the cache; so each reads a series the other touched half a round before.
            arrays = [[d[i] for i in spec["inputs"]] for d in data[n]]
            half = len(arrays) // 2
            talib_in = itertools.cycle(arrays)
            cwts_in = itertools.cycle(arrays[half:] + arrays[:half])
            t_talib, t_cwts = timed_pair([lambda: getattr(talib, name)(*next(talib_in)),
                                          lambda: getattr(cta, name)(*next(cwts_in))], n)
            out["single"][name][n] = {"talib_s": t_talib, "cwts_s": t_cwts, "ratio": t_talib / t_cwts}

    del data
    # Batch: symbols x parameter sets. The first parameter (a period) sweeps 5..5+4*(P-1). Then
    # the same sets on one symbol: a parameter sweep (kernels with a sweep form run it in lanes).
    out["batch"] = batch_rows(names, args.symbols, args, isas)
    out["sweep"] = batch_rows(names, 1, args, isas)

    out["summary"] = summary(out, names, sizes, isas)
    if args.json:
        print(json.dumps(out))  # one line: the latency report reads the last line
        return
    print(f"Single series: TA-Lib time / cwts time (higher = cwts faster); TA-Lib {talib.__version__}; "
          "different series per call: " + ", ".join(f"{c} at {n:.0e}" for n, c in out["distinct"].items()))
    print("| kernel | " + " | ".join(f"{n:.0e}" for n in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for name in names:
        print(f"| {name} | " + " | ".join(f"{out['single'][name][n]['ratio']:.2f}" for n in sizes) + " |")
    print()
    print_rows(out["batch"], names, isas, f"Batch: {args.symbols} symbols x {args.params} parameter sets x "
               f"{args.bars} bars; TA-Lib loop time / cta.batch time")
    print()
    print_rows(out["sweep"], names, isas, f"Sweep: 1 symbol x {args.params} parameter sets x {args.bars} bars; "
               "TA-Lib loop time / cta.batch time")
    sm = out["summary"]
    print()
    print(f"Targets: single >= {SINGLE_TARGET}x at {max(sizes):.0e} bars: {sm['single_met']} of {sm['kernels']} kernels; "
          f"batch >= {BATCH_TARGET}x on the best ISA: {sm['batch_met']} of {sm['kernels']}")


if __name__ == "__main__":
    main()
