#!/usr/bin/env python3
"""Soak: the whole system under load and faults for as long as asked, invariants checked.

A real cwts-sim (synthetic feed on several symbols, and a replay of the shipped real captures) and a
real cwtsd (order journal on, orders cancelled at a stop, run as systemd would: NOTIFY_SOCKET and
WATCHDOG_USEC); several strategy processes on the shared-memory bridge submitting valid resting
orders, IOC orders at the touch, orders the engine must refuse, and cancels; faults from a schedule
drawn from the seed: the venue drops connections, stalls its streams, skips update ids, answers
5xx/429, delays and holds orders, sends serverShutdown, cuts connections as at 24 h; the engine is
SIGTERMed, SIGKILLed and SIGHUPed and started again; a strategy is SIGKILLed and another attaches.
A real FreqTrade trades through the engine's gateway all the while (bench/soak/freqtrade_bot.py).
Every --book-every-s the venue's market is paused and one of the engine's books compared with the
venue's at the same update id.

    scripts/soak [--minutes N] [--seed S] [--json]       (docs/reliability.md)

Invariants, each a named counter in the summary (any non-zero `violations` fails the run):
  duplicate_client_order_ids   the venue holds two orders with one client order id (sent twice)
  venue_orders_left_open       orders open at the venue after the engine's final stop (forgotten)
  signals_without_report       signals sent to an engine that ended gracefully (or still runs at
                               the end) without a terminal report
  signals_with_two_reports     signals with more than one terminal report in the engine run they
                               were sent to
  orders_with_two_terminal_reports  an order (client order id and its signal's seq) with more than
                               one terminal report over all runs and workers: an earlier run's
                               order, recovered from the journal, reported again
  engine_unclean_exits         a SIGTERMed engine that did not exit 0
  venue_bans                   418 answers of the venue's rate limiter: the engine went on after a
                               429 (Binance bans the IP for that)
  foreign_orders               the engine found an order at the venue it did not send or forgot
                               (its `foreign_order` event): sent and forgotten across a restart
  position_mismatches          the engine's positions differed from the venue's balances (its
                               `position_mismatch` event)
  journal_orders_not_tracked   an order of the journal the restarted engine could not track again
  engine_start_failures        a restart of the engine that exited instead of becoming ready (its
                               log's end is printed; the harness tries once more)
  torn_reads                   a quote or book a strategy read that is not one consistent state
                               (levels out of order, bid not below ask, a level without quantity)
  books_differing              a book the engine published that differs from the venue's at the
                               same update id (top 20 levels, prices and quantities)
  watchdog_missed              a gap over WatchdogSec (5 s) between WATCHDOG=1 notifications, from
                               READY=1 to the harness's stop, or a run ready without READY=1:
                               systemd would have killed the engine
  resource_growth              an engine run (over 5 min) whose fds, threads or RSS grew after a
                               minute's warm-up (few runs last that long: see engine_runs_judged_
                               for_growth)
  strategy_failures            a strategy process the harness did not kill that exited non-zero,
                               or a kind of strategy that sent no signal, or FreqTrade failing or
                               closing no trade
  venue_rate_limits_exceeded   requests the venue refused for going over a rate limit (REQUEST_
                               WEIGHT per minute, ORDERS per 10 s), and windows of the venue over
                               which the engine spent by the venue's own count (/_sim/stats,
                               sampled every second; weight per IP, as Binance counts it)
  positions_differing_at_end   at the end, nothing open: a base asset whose balance at the venue
                               moved differently from the engine's position (every fill and fee
                               of every engine run, SIGKILLed ones included, must be in it)
  freqtrade_orders_not_at_venue  an order FreqTrade holds as filled that the venue never had
  freqtrade_fills_differing    a finished FreqTrade order whose fill differs from the venue's
  freqtrade_orders_sent_twice  two venue orders for one of FreqTrade's (gateway) orders
Reported, not violations: a remote strategy's signal whose reply was lost when the engine stopped
(`remote_signals_status_unknown_after_restart`: the bridge reports STATUS_UNKNOWN, docs/remote.md);
signals in flight when the engine was SIGKILLed (`signals_in_doubt_
after_kill`: the engine's journal and reconciliation own their orders, checked by venue_orders_
left_open), signals of SIGKILLed strategies (their reports died with them), books compared /
skipped (the engine's book invalid or behind: a stall, a resync), RSS / fds / threads of each
engine run, faults by kind.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import tempfile
import time

from checks import NotifyListener, RateSampler, compare_book, compare_positions, read_rows, resource_growth
from freqtrade_bot import FreqTradeBot, check as check_freqtrade
from parts import EngineRun, Venue, plot
from strategies import SYMBOLS, quantiles, remote_worker, worker

ROOT = pathlib.Path(__file__).resolve().parents[2]
CAPTURES = sorted((ROOT / "tests/data/binance").glob("spot_*.capture"))
SIM_FAULTS = [
    ("drop_connections", {"drop_connections": True}),
    ("stall", {"stall_ms": 1500}),
    ("skip_update_ids", {"skip_update_ids": 2}),
    ("http_5xx", {"http_status": 503, "count": 2}),
    ("http_429", {"http_status": 429, "count": 1}),
    ("delay", {"delay_ms": 300, "count": 3}),
    ("hold_order", {"hold_ms": 400, "count": 1, "path": "/api/v3/order", "method": "POST"}),
    ("server_shutdown", {"server_shutdown": True}),
    ("expire_connections", {"expire_connections": True}),
]
ENGINE_FAULTS = ["sigterm_restart", "sigkill_restart", "sighup"]
STRATEGY_FAULTS = ["strategy_sigkill"]  # a shared-memory strategy killed mid-run, another started


# ---- the harness --------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    ap.add_argument("--sim", required=False)
    ap.add_argument("--cwtsd", required=False)
    ap.add_argument("--strategies", type=int, default=3)
    ap.add_argument("--remote-strategies", type=int, default=0,
                    help="strategies over the control plane's WebSocket (cwts_bridge.remote)")
    ap.add_argument("--symbols", type=int, default=4)
    ap.add_argument("--fault-every-s", type=float, default=6.0, help="mean time between faults")
    ap.add_argument("--keep", action="store_true", help="keep the working directory (logs, journals)")
    ap.add_argument("--plot", metavar="PNG", help="write latency and engine RSS over time to this PNG")
    ap.add_argument("--cpp-strategy", metavar="BIN", help="the C++ strategy (cwts-soak-strategy)")
    ap.add_argument("--cpp-strategies", type=int, default=1, help="C++ strategy processes (with --cpp-strategy)")
    ap.add_argument("--freqtrade", type=int, default=1, choices=(0, 1),
                    help="a FreqTrade bot trading through the engine's gateway (default 1)")
    ap.add_argument("--no-replay", action="store_true",
                    help="no replay of the shipped captures beside the synthetic feed")
    ap.add_argument("--book-every-s", type=float, default=10.0,
                    help="how often a book of the engine is compared to the venue's")
    # worker mode (internal)
    ap.add_argument("--worker", type=int, default=-1, help=argparse.SUPPRESS)
    ap.add_argument("--instance", help=argparse.SUPPRESS)
    ap.add_argument("--until", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--drain-s", type=float, default=180.0, help=argparse.SUPPRESS)
    ap.add_argument("--worker-out", help=argparse.SUPPRESS)
    ap.add_argument("--remote", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker >= 0:
        return remote_worker(args) if args.remote else worker(args)
    if not args.sim or not args.cwtsd:
        ap.error("--sim and --cwtsd are required")

    rng = random.Random(args.seed)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="cwts-soak-"))
    symbols = SYMBOLS[:args.symbols]
    instance = f"soak{os.getpid()}"
    venue = Venue(args.sim, tmp, symbols, [] if args.no_replay else CAPTURES)
    notify = NotifyListener(tmp / "notify")
    rates = RateSampler(venue.url)
    engine = EngineRun(args.cwtsd, tmp, venue, instance, symbols + venue.replayed, notify)
    faults: dict[str, int] = {}
    violations: dict[str, int] = {"duplicate_client_order_ids": 0, "venue_orders_left_open": 0,
                                  "signals_without_report": 0, "signals_with_two_reports": 0,
                                  "orders_with_two_terminal_reports": 0,
                                  "engine_unclean_exits": 0, "venue_bans": 0,
                                  "foreign_orders": 0, "position_mismatches": 0,
                                  "journal_orders_not_tracked": 0, "engine_start_failures": 0,
                                  "torn_reads": 0, "books_differing": 0, "watchdog_missed": 0,
                                  "resource_growth": 0, "strategy_failures": 0,
                                  "freqtrade_orders_not_at_venue": 0, "freqtrade_fills_differing": 0,
                                  "freqtrade_orders_sent_twice": 0, "venue_rate_limits_exceeded": 0,
                                  "positions_differing_at_end": 0}
    start = time.time()
    workers = []
    killed: set[int] = set()  # workers the harness SIGKILLed
    books = {"equal": 0, "differ": 0, "skipped": 0, "details": []}

    kinds: list[str] = []  # per worker: "python", "remote" or "cpp"

    def spawn(kind: str) -> None:
        i = len(workers)
        out = str(tmp / f"worker{i}.jsonl")
        if kind == "cpp":
            cmd = [args.cpp_strategy, "--instance", instance, "--until", str(until), "--seed",
                   str(args.seed * 1000 + i), "--symbols", ",".join(symbols), "--out", out]
        else:
            cmd = [sys.executable, __file__, "--worker", str(i), "--instance", instance, "--until", str(until),
                   "--seed", str(args.seed * 1000 + i), "--symbols", str(args.symbols), "--worker-out", out]
            if kind == "remote":
                cmd += ["--remote", f"ws://127.0.0.1:{engine.control_port}/ws"]
        kinds.append(kind)
        workers.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                        stderr=open(tmp / f"worker{i}.log", "w")))

    bot = None
    try:
        engine.start()
        until = start + args.minutes * 60
        if args.freqtrade:
            bot = FreqTradeBot(tmp, engine.gateway_port, symbols)
        cpp = args.cpp_strategies if args.cpp_strategy else 0
        for kind in ["python"] * args.strategies + ["remote"] * args.remote_strategies + ["cpp"] * cpp:
            spawn(kind)
        local = [i for i, k in enumerate(kinds) if k != "remote"]  # shared-memory workers running
        next_fault = time.time() + rng.expovariate(1 / args.fault_every_s)
        next_book = time.time() + args.book_every_s
        book_symbols = symbols + venue.replayed
        book_rng = random.Random(args.seed + 1)
        while time.time() < until:
            engine.sample()
            rates.sample()
            if bot:
                bot.supervise()
            if time.time() >= next_book and args.book_every_s > 0:
                sym = book_rng.choice(book_symbols)
                outcome, detail = compare_book(venue.url, venue.fault, instance, sym)
                books[outcome] += 1
                if outcome == "differ" and len(books["details"]) < 20:
                    books["details"].append(f"{sym}: {detail}")
                next_book = time.time() + args.book_every_s
            if time.time() >= next_fault:
                kind, obj = rng.choice(SIM_FAULTS + [(k, None) for k in ENGINE_FAULTS + STRATEGY_FAULTS])
                if kind != "strategy_sigkill" or local:
                    faults[kind] = faults.get(kind, 0) + 1
                if obj is not None:
                    venue.fault(obj)
                elif kind == "strategy_sigkill":  # mid-run, wherever it is; a new one attaches
                    if local:
                        victim = local.pop(rng.randrange(len(local)))
                        workers[victim].kill()
                        workers[victim].wait(timeout=30)
                        killed.add(victim)
                        local.append(len(workers))
                        spawn(kinds[victim])
                elif kind == "sighup":
                    engine.proc.send_signal(signal.SIGHUP)
                else:
                    code = engine.stop("kill" if kind == "sigkill_restart" else "term")
                    if kind == "sigterm_restart" and code != 0:
                        violations["engine_unclean_exits"] += 1
                    time.sleep(rng.uniform(0.1, 1.0))
                    try:
                        engine.start()
                    except RuntimeError as e:  # counted, shown, and tried once more
                        violations["engine_start_failures"] += 1
                        if engine.proc.poll() is None:
                            engine.proc.kill()
                            engine.proc.wait(timeout=30)
                        tail = engine.log.read_text().splitlines()[-25:]
                        print(f"soak: {e}; the log's end:\n" + "\n".join(tail), file=sys.stderr)
                        time.sleep(2.0)
                        engine.start()
                next_fault = time.time() + rng.expovariate(1 / args.fault_every_s)
            time.sleep(0.5)
        # The workers stop submitting; what is open is cancelled, the engine stops, and the
        # workers, reading all the while, end once told (every report of the stop read).
        from cwts_bridge.freqtrade import engine_control
        freqtrade_exit = bot.stop() if bot else 0
        time.sleep(1.0)
        engine_control("cancel_all", {}, instance=instance)
        deadline = time.time() + 30
        while engine_control("open_orders", instance=instance)["total"] and time.time() < deadline:
            time.sleep(0.2)
        positions_differing = compare_positions(instance, venue, symbols)
        if engine.stop("term") != 0:
            violations["engine_unclean_exits"] += 1
        rates.next_t = 0.0
        rates.sample()  # the last of the engine's requests (the harness's own follow)
        rate_peaks = rates.peaks()
        # Over a limit: by the venue's own answers (a request refused for going over), and by its
        # counts sampled within its windows.
        violations["venue_rate_limits_exceeded"] = sum(p["windows_over"] for p in rate_peaks)
        for i, w in enumerate(workers):
            (tmp / f"worker{i}.jsonl.done").touch()
        # A strategy process that failed (not one the harness killed) or a kind that sent nothing
        # would hide whatever it should have found.
        for i, w in enumerate(workers):
            if w.wait(timeout=120) != 0 and i not in killed:
                violations["strategy_failures"] += 1
                print(f"soak: strategy {i} ({kinds[i]}) exited {w.returncode}; see worker{i}.log",
                      file=sys.stderr)
        # What the venue holds.
        cids: dict[str, int] = {}
        open_left = 0
        every_order = []
        for s in symbols:
            orders = venue.all_orders(s)
            every_order += orders
            for o in orders:
                cids[o["clientOrderId"]] = cids.get(o["clientOrderId"], 0) + 1
                open_left += o["status"] in ("NEW", "PARTIALLY_FILLED")
            if args.keep:  # the venue's own record, for whoever reads a failure
                trades = venue.signed("/api/v3/myTrades", {"symbol": s, "limit": 1000})
                (tmp / f"venue-{s}.json").write_text(json.dumps({"orders": orders, "trades": trades}))
        violations["duplicate_client_order_ids"] = sum(1 for n in cids.values() if n > 1)
        # FreqTrade's orders against the venue's; a bot that failed or never traded hides them.
        freqtrade = check_freqtrade(bot, every_order) if bot else None
        if freqtrade:
            violations.update(freqtrade["violations"])
            freqtrade["exit"] = freqtrade_exit  # 0 or 130 (its SIGINT) when it stopped cleanly
            if freqtrade["trades_closed"] == 0:
                violations["strategy_failures"] += 1
                print(f"soak: FreqTrade closed no trade (exit {freqtrade_exit}); see freqtrade/freqtrade.log",
                      file=sys.stderr)
        violations["venue_orders_left_open"] = open_left
        limited = venue.rate_limit_answers(tmp / "cwts-sim.log")
        violations["positions_differing_at_end"] = len(positions_differing)
        violations["venue_bans"] = limited["418"]  # going on after a 429: an IP ban at Binance
        violations["venue_rate_limits_exceeded"] += limited["over"]
        # What the engine itself found wrong (its log): an order at the venue it did not know (sent
        # and forgotten across a restart), its positions against the venue's balances, an order of
        # its journal it could not track again.
        engine_log = engine.log.read_text()
        for name, event in (("foreign_orders", "foreign_order"), ("position_mismatches", "position_mismatch"),
                            ("journal_orders_not_tracked", "journal_order_not_tracked")):
            violations[name] = engine_log.count(f'"event":"{event}"')
        # Every signal's terminal reports.
        run_end = {r["epoch"]: r["end"] for r in engine.runs}
        sent = in_doubt = status_unknown = of_killed = 0
        sent_by_kind: dict[str, int] = {}
        order_reports: dict[tuple[str, int], int] = {}
        torn_details: list[str] = []
        for i in range(len(workers)):
            rows = read_rows(tmp / f"worker{i}.jsonl")
            torn = [r["what"] for r in rows if r["t"] == "torn"]
            violations["torn_reads"] += len(torn)
            torn_details += torn[:5]
            # A report names its seq; seqs never repeat within a worker (the bridge numbers across
            # epochs), so (worker, seq, epoch it was sent in) is the signal. A report of another
            # epoch is an earlier run's order recovered from the journal, reported to whoever holds
            # its slot now (maybe another worker): counted by client order id below.
            sent_epoch = {r["seq"]: r["epoch"] for r in rows if r["t"] == "sent"}
            reports: dict[int, int] = {}
            unknown: set[int] = set()
            for r in rows:
                if r["t"] != "report":
                    continue
                if r["kind"] == "STATUS_UNKNOWN":  # a remote strategy's signal across a restart
                    unknown.add(r["seq"])
                    continue
                if r["epoch"] == sent_epoch.get(r["seq"]):
                    reports[r["seq"]] = reports.get(r["seq"], 0) + 1
                if r["cid"]:  # an order's terminal reports, wherever and whenever they came
                    key = (r["cid"], r["seq"])
                    order_reports[key] = order_reports.get(key, 0) + 1
            for r in rows:
                if r["t"] != "sent":
                    continue
                sent += 1
                sent_by_kind[kinds[i]] = sent_by_kind.get(kinds[i], 0) + 1
                n = reports.get(r["seq"], 0)
                if n > 1:
                    violations["signals_with_two_reports"] += 1
                elif n == 0:
                    if i in killed:  # its reports died with it
                        of_killed += 1
                    elif r["seq"] in unknown:
                        status_unknown += 1
                    elif run_end.get(r["epoch"]) == "killed":
                        in_doubt += 1
                    else:
                        violations["signals_without_report"] += 1
        violations["orders_with_two_terminal_reports"] = sum(1 for n in order_reports.values() if n > 1)
        violations["strategy_failures"] += sum(1 for k in set(kinds) if not sent_by_kind.get(k))
        violations["books_differing"] = books["differ"]
        # The watchdog, as systemd would have judged it, in every run up to the harness's stop.
        max_gap = 0.0
        end_t = time.time()
        for r in engine.runs:
            late, gap, ready = notify.watchdog_gaps(r["started"], r["stopped"] or end_t)
            violations["watchdog_missed"] += late if ready else 1  # ready for us, never for systemd
            max_gap = max(max_gap, gap)
        growth = [g for g in (resource_growth(r) for r in engine.runs) if g]
        judged = sum(1 for r in engine.runs if r["t"] and r["t"][-1] - r["t"][0] >= 300)
        violations["resource_growth"] = len(growth)
        runs = [{"end": r["end"], "samples": len(r["rss_kb"]),
                 "rss_kb_first": r["rss_kb"][min(2, len(r["rss_kb"]) - 1)] if r["rss_kb"] else 0,
                 "rss_kb_last": r["rss_kb"][-1] if r["rss_kb"] else 0,
                 "fds_first": r["fds"][min(2, len(r["fds"]) - 1)] if r["fds"] else 0,
                 "fds_last": r["fds"][-1] if r["fds"] else 0,
                 "threads_max": max(r["threads"], default=0)} for r in engine.runs]
        # Latency under load (whole run, all workers) and over time; the engine's RSS over time.
        merged = {"accept": {}, "ioc": {}, "accept_cpp": {}}
        windows = []
        for i in range(len(workers)):
            last = None  # each worker's histograms are cumulative: its last line counts
            for row in read_rows(tmp / f"worker{i}.jsonl"):
                if row["t"] == "latency":
                    last = row
                elif row["t"] == "window":
                    windows.append(row)
            for path, h in (last or {"hist": {}})["hist"].items():
                for k, n in h.items():
                    merged[path][int(k)] = merged[path].get(int(k), 0) + n
        latency = {"signal_to_engine_report": quantiles(merged["accept"]),
                   "ioc_signal_to_terminal_report": quantiles(merged["ioc"]),
                   "cpp_signal_to_engine_report": quantiles(merged["accept_cpp"])}
        rss_series = [(t - start, kb / 1024) for r in engine.runs for t, kb in zip(r["t"], r["rss_kb"])]
        step = max(1, len(rss_series) // 240)
        if args.plot:
            plot(args.plot, start, windows, engine.runs, f"seed {args.seed}, {args.minutes:g} min")
        summary = {"seed": args.seed, "minutes": args.minutes, "duration_s": round(time.time() - start, 1),
                   "symbols": len(symbols), "strategies": args.strategies,
                   "strategy_kinds": {k: kinds.count(k) for k in ("python", "remote", "cpp")}, "signals": sent,
                   "signals_by_strategy_kind": sent_by_kind,
                   "venue_orders": sum(cids.values()), "faults": faults,
                   "engine_runs": len(engine.runs), "signals_in_doubt_after_kill": in_doubt,
                   "remote_signals_status_unknown_after_restart": status_unknown,
                   "replayed_symbols": venue.replayed, "strategies_killed": len(killed),
                   "signals_of_killed_strategies": of_killed,
                   "books_compared": {k: books[k] for k in ("equal", "differ", "skipped")},
                   "books_differing_details": books["details"], "torn_read_details": torn_details[:10],
                   "watchdog_max_gap_s": round(max_gap, 2), "resource_growth_details": growth,
                   "engine_runs_judged_for_growth": judged,
                   "longest_engine_run_s": round(max((r["t"][-1] - r["t"][0] for r in engine.runs if r["t"]),
                                                     default=0), 1),
                   "venue_429_answers": limited["429"], "venue_rate_peaks": rate_peaks,
                   "positions_differing_details": positions_differing,
                   "venue_weight_by_endpoint": rates.by_endpoint(),
                   "freqtrade": freqtrade,
                   "latency_under_load": latency,
                   "rss_mb_over_time": [[round(t, 1), round(mb, 1)] for t, mb in rss_series[::step]],
                   "invariants": violations, "violations": sum(violations.values()), "runs": runs,
                   "workdir": str(tmp) if args.keep else None}
        if args.json:
            print(json.dumps(summary))
        else:
            print(json.dumps(summary, indent=2))
        return 1 if summary["violations"] else 0
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
        if bot is not None and bot.proc.poll() is None:
            bot.proc.kill()
        if engine.proc is not None and engine.proc.poll() is None:
            engine.proc.kill()
        venue.stop()
        notify.close()
        if not args.keep:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
