"""The soak's continuous checks (bench/soak/soak.py; docs/reliability.md): the engine's systemd
watchdog, its books against the venue's at the same update id, torn reads, flat resources."""
from __future__ import annotations

import json
import math
import os
import pathlib
import socket
import threading
import time
import urllib.parse
import urllib.request

# The shipped unit's WatchdogSec (config/systemd/cwtsd.service): systemd kills and restarts an
# engine that lets this pass without a WATCHDOG=1.
WATCHDOG_USEC = 5_000_000


class NotifyListener:
    """A service manager's notify socket: cwtsd started with NOTIFY_SOCKET and WATCHDOG_USEC sends
    READY=1, STATUS=..., WATCHDOG=1 and STOPPING=1 here as it would to systemd. Every datagram is
    kept with the time it arrived."""

    def __init__(self, path: pathlib.Path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def env(self) -> dict:
        return {"NOTIFY_SOCKET": self.path, "WATCHDOG_USEC": str(WATCHDOG_USEC)}

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.messages.append((time.time(), data.decode(errors="replace")))

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()

    def watchdog_gaps(self, start: float, stop: float) -> tuple[int, float, bool]:
        """For one engine run (started at `start`, stopped by the harness at `stop`): how many
        times WATCHDOG=1 was late (a gap over WatchdogSec from READY=1 on, up to the stop), the
        longest gap in seconds, and whether READY=1 came at all."""
        msgs = [(t, m) for t, m in self.messages if start <= t <= stop]
        ready = next((t for t, m in msgs if "READY=1" in m.split("\n")), None)
        if ready is None:
            return 0, 0.0, False
        beats = [ready] + [t for t, m in msgs if t >= ready and "WATCHDOG=1" in m.split("\n")] + [stop]
        gaps = [b - a for a, b in zip(beats, beats[1:])]
        limit = WATCHDOG_USEC / 1e6
        return sum(1 for g in gaps if g > limit), max(gaps, default=0.0), True


def sim_depth(url: str, symbol: str, limit: int = 20) -> dict:
    """The venue's book (cwts-sim's GET /_sim/depth: never faulted, never rate limited)."""
    q = urllib.parse.urlencode({"symbol": symbol, "limit": limit})
    return json.loads(urllib.request.urlopen(f"{url}/_sim/depth?{q}", timeout=10).read())


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def compare_book(url: str, fault, instance: str, symbol: str, depth: int = 20,
                 wait_s: float = 2.0) -> tuple[str, str]:
    """The engine's published book against the venue's at the same update id: the venue's market
    is paused (its generator and replay stop; orders still match), its book read, and the engine's
    followed until it reaches that update id. ("equal" | "differ" | "skipped", detail). Skipped:
    the engine's book is invalid or did not reach the id in time (a stall, a gap being resynced,
    a restart), which its own checks cover."""
    import cwts_bridge
    fault({"pause": True})
    try:
        venue = sim_depth(url, symbol, depth)
        want = venue["lastUpdateId"]
        try:
            with cwts_bridge.attach(instance) as b:
                deadline = time.time() + wait_s
                while True:
                    bp, bq, ap, aq, uid, valid = b.book(symbol, depth)
                    if valid and uid >= want:
                        break
                    if time.time() > deadline:
                        return "skipped", f"engine at {uid} (valid {bool(valid)}), venue at {want}"
                    time.sleep(0.005)
        except cwts_bridge.CwtsError as e:  # the engine stopped or restarted meanwhile
            return "skipped", f"engine not readable: {e}"
        if uid != want:
            return "differ", f"engine's book at update id {uid}, ahead of the venue's {want}"
        for side, px, qty in (("bids", bp, bq), ("asks", ap, aq)):
            levels = [(float(p), float(q)) for p, q in venue[side]]
            if len(levels) != len(px):
                return "differ", f"{side}: {len(px)} levels, the venue {len(levels)} (update id {uid})"
            for k, (p, q) in enumerate(levels):
                if not (_same(px[k], p) and _same(qty[k], q)):
                    return "differ", (f"{side}[{k}]: engine {px[k]} x {qty[k]}, venue {p} x {q} "
                                      f"(update id {uid})")
        return "equal", str(uid)
    finally:
        fault({"pause": False})


def torn_quote(q) -> str | None:
    """What is wrong with a quote read from a valid book, if anything: one consistent copy of a
    real book has a positive bid below the ask and positive sizes."""
    if not q.book_valid:
        return None
    if not (0 < q.bid < q.ask) or q.bid_size <= 0 or q.ask_size <= 0:
        return f"quote {q.bid} x {q.bid_size} / {q.ask} x {q.ask_size} at {q.update_id}"
    return None


def torn_book(book) -> str | None:
    """The same for a book snapshot: bids strictly falling, asks strictly rising, quantities
    positive, the best bid below the best ask."""
    bp, bq, ap, aq, uid, valid = book
    if not valid:
        return None
    if len(bp) != len(bq) or len(ap) != len(aq):
        return f"book at {uid}: price and quantity columns differ in length"
    if any(bp[k] <= bp[k + 1] for k in range(len(bp) - 1)) or any(ap[k] >= ap[k + 1] for k in range(len(ap) - 1)):
        return f"book at {uid}: levels out of order"
    if any(x <= 0 for x in bq) or any(x <= 0 for x in aq):
        return f"book at {uid}: a level without quantity"
    if len(bp) and len(ap) and bp[0] >= ap[0]:
        return f"book at {uid}: bid {bp[0]} not below ask {ap[0]}"
    return None


def resource_growth(run: dict, warm_up_s: float = 60.0, min_span_s: float = 240.0) -> str | None:
    """An engine run long enough to judge (min_span_s after warm_up_s) whose file descriptors,
    threads or RSS kept growing after warm-up; None if flat (or too short to say)."""
    ts = run["t"]
    if not ts or ts[-1] - ts[0] < warm_up_s + min_span_s:
        return None
    k = next(i for i, t in enumerate(ts) if t - ts[0] >= warm_up_s)
    fds0, thr0, rss0 = run["fds"][k], run["threads"][k], run["rss_kb"][k]
    fds1, thr1, rss1 = max(run["fds"][k:]), max(run["threads"][k:]), run["rss_kb"][-1]
    if fds1 > fds0 + 32:
        return f"fds {fds0} -> {fds1}"
    if thr1 > thr0 + 2:
        return f"threads {thr0} -> {thr1}"
    if rss1 > rss0 * 1.25 + 64 * 1024:
        return f"RSS {rss0 // 1024} -> {rss1 // 1024} MB"
    return None


def read_rows(path: pathlib.Path) -> list[dict]:
    """A worker's JSON lines; a killed worker's last line may be cut off mid-write."""
    rows = []
    for line in path.read_text().splitlines() if os.path.exists(path) else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return rows


class RateSampler:
    """The venue's rate limits, from what the venue itself counted (cwts-sim's `GET /_sim/stats`),
    sampled every `every_s`. The venue counts in fixed windows aligned to the clock (a minute, ten
    seconds), as Binance does; what was spent between the first and the last sample inside one
    window was spent in that window, so a difference over the venue's limit is a certain breach
    (what falls between a window's edge and its first or last sample goes unseen: sampled, never a
    false alarm). Weight is the IP's (every key and none, as Binance counts it), orders the
    account's. The limits are the venue's exchangeInfo `rateLimits` (REQUEST_WEIGHT, ORDERS)."""

    ORDER_ENDPOINTS = ("POST /api/v3/order", "WS order.place")
    UNIT_S = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}

    def __init__(self, url: str, every_s: float = 1.0):
        self.url, self.every_s = url, every_s
        info = json.loads(urllib.request.urlopen(url + "/api/v3/exchangeInfo", timeout=10).read())
        # (what, window s, limit): "weight" or "orders"; windows of a day are beyond any soak's view.
        self.limits = [("weight" if l["rateLimitType"] == "REQUEST_WEIGHT" else "orders",
                        self.UNIT_S[l["interval"]] * l["intervalNum"], l["limit"])
                       for l in info["rateLimits"] if l["rateLimitType"] in ("REQUEST_WEIGHT", "ORDERS")
                       and self.UNIT_S[l["interval"]] * l["intervalNum"] <= 3600]
        self.samples: list[tuple[float, int, int]] = []  # (time, weight, orders) so far
        self.endpoints: dict = {}
        self.next_t = 0.0

    def sample(self) -> None:
        now = time.time()
        if now < self.next_t:
            return
        self.next_t = now + self.every_s
        try:
            stats = json.loads(urllib.request.urlopen(self.url + "/_sim/stats", timeout=5).read())
        except OSError:
            return
        # Binance counts weight per IP: every request from this host (the engine's unsigned
        # depth snapshots included), not only the key's.
        weight = sum(k.get("weight", 0) for k in stats.get("apiKeys", {}).values())
        orders = sum(stats.get("endpoints", {}).get(e, {}).get("requests", 0) for e in self.ORDER_ENDPOINTS)
        self.samples.append((now, weight, orders))
        self.endpoints = stats.get("endpoints", {})

    def by_endpoint(self, n: int = 12) -> dict:
        """Where the weight went (the venue's count since its start), the heaviest first."""
        top = sorted(self.endpoints.items(), key=lambda e: -e[1].get("weight", 0))[:n]
        return {name: e.get("weight", 0) for name, e in top}

    def peaks(self) -> list[dict]:
        """Per limit: the most seen spent within one of the venue's windows, and how many windows
        went over the limit."""
        out = []
        for what, window_s, limit in self.limits:
            k = 1 if what == "weight" else 2
            first: dict[int, int] = {}
            last: dict[int, int] = {}
            for s in self.samples:
                w = int(s[0] // window_s)
                first.setdefault(w, s[k])
                last[w] = s[k]
            spent = [last[w] - first[w] for w in first]
            out.append({"limit": what, "window_s": window_s, "venue_limit": limit,
                        "peak": max(spent, default=0), "windows_over": sum(1 for x in spent if x > limit)})
        return out


def compare_positions(instance: str, venue, symbols: list[str], initial: float = 100_000.0) -> list[str]:
    """At rest (no order open): the engine's position in each symbol against how far the venue's
    balance of its base asset moved from the start (`initial`; fees charged in the asset count on
    both sides). One line per difference; an engine that cannot be read is one too."""
    import cwts_bridge
    try:
        with cwts_bridge.attach(instance) as b:
            positions = {s: b.position(s).qty for s in symbols}
    except cwts_bridge.CwtsError as e:
        return [f"the engine's positions could not be read: {e}"]
    account = venue.signed("/api/v3/account", {})
    held = {a["asset"]: float(a["free"]) + float(a["locked"]) for a in account["balances"]}
    out = []
    for s in symbols:
        moved = held.get(s[:-4], 0.0) - initial
        if abs(moved - positions[s]) > 1e-8:
            out.append(f"{s}: the venue's balance moved {moved:+.8f}, the engine's position {positions[s]:+.8f}")
    return out
