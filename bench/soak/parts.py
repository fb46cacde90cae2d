"""The soak's processes (bench/soak/soak.py; docs/reliability.md): the venue (cwts-sim), the engine
(cwtsd, run as systemd runs it), and the plot of a run."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from checks import NotifyListener
from freqtrade_bot import GATEWAY_KEY, GATEWAY_SECRET, GATEWAY_SLOT

API_KEY = "soakKey0123456789abcdef"
API_SECRET = "soakSecret0123456789abcdefghij"

# ---- the venue ----------------------------------------------------------------------------------
class Venue:
    def __init__(self, binary: str, tmp: pathlib.Path, symbols: list[str], captures: list[pathlib.Path]):
        balances = ",".join(["USDT=10000000"] + [f"{s[:-4]}=100000" for s in symbols])
        replay = [a for c in captures for a in ("--capture", str(c))]
        replay += ["--loop", "--rebase-time"] if captures else []
        # Binance spot's request-weight limit today, 6,000 a minute (cwts-sim's exchangeInfo
        # still has the older 1,200: at that, eight symbols' book snapshots after each of the
        # soak's restarts would hold the engine's start for most of a minute).
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--api-key", API_KEY, "--api-secret", API_SECRET,
             "--synthetic", ",".join(symbols), "--rate", "300", "--balance", balances,
             "--weight-limit", "6000"] + replay,
            stdout=subprocess.PIPE, stderr=open(tmp / "cwts-sim.log", "w"), text=True)
        line = self.proc.stdout.readline()
        self.port = int(line.rsplit(":", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}"
        status = json.loads(urllib.request.urlopen(self.url + "/_sim/status", timeout=10).read())
        self.replayed = [m["symbol"] for m in status["markets"] if m["symbol"] not in symbols]

    def fault(self, obj: dict) -> None:
        req = urllib.request.Request(self.url + "/_sim/fault", data=json.dumps(obj).encode(), method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def signed(self, path: str, params: dict):
        """A signed GET; waits out a ban (418) or a 429 the engine's traffic left behind."""
        deadline = time.time() + 600
        while True:
            p = dict(params, timestamp=int(time.time() * 1000), recvWindow=10000)
            q = urllib.parse.urlencode(p)
            sig = hmac.new(API_SECRET.encode(), q.encode(), hashlib.sha256).hexdigest()
            req = urllib.request.Request(f"{self.url}{path}?{q}&signature={sig}", headers={"X-MBX-APIKEY": API_KEY})
            try:
                return json.loads(urllib.request.urlopen(req, timeout=10).read())
            except urllib.error.HTTPError as e:
                if e.code not in (418, 429) or time.time() > deadline:
                    raise
                time.sleep(min(float(e.headers.get("Retry-After") or 1), 60.0) + 0.5)

    def rate_limit_answers(self, log: pathlib.Path) -> dict:
        """The venue's own 429 / 418 answers (its rate limiter's, not the injected faults'), and
        how many refused a request that itself went over a limit ("over": the weight or the order
        count exceeded), rather than one already on its way inside a back-off."""
        out = {"429": 0, "418": 0, "over": 0}
        for line in log.read_text().splitlines():
            if '"event":"rate_limited"' in line:
                for code in ("429", "418"):
                    if f'"status":{code}' in line:
                        out[code] += 1
                out["over"] += '"reason":"over_' in line
        return out

    def all_orders(self, symbol: str) -> list[dict]:
        out, from_id = [], 0
        while True:
            page = self.signed("/api/v3/allOrders", {"symbol": symbol, "orderId": from_id, "limit": 1000})
            out += page
            if len(page) < 1000:
                return out
            from_id = page[-1]["orderId"] + 1

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


# ---- the engine ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


REMOTE_TOKEN = "soakRemoteToken0123456789"


class EngineRun:
    def __init__(self, binary: str, tmp: pathlib.Path, venue: Venue, instance: str, symbols: list[str],
                 notify: NotifyListener):
        self.binary, self.tmp, self.instance, self.notify = binary, tmp, instance, notify
        self.config = tmp / "cwtsd.json"
        # Fixed control and gateway ports (remote strategies and FreqTrade find the restarted
        # engine again) and the remote strategies' token.
        self.control_port, self.gateway_port = free_port(), free_port()
        tokens = tmp / "tokens"
        tokens.write_text(f"soak-remote read,trade:* {REMOTE_TOKEN}\n")
        tokens.chmod(0o600)
        self.config.write_text(json.dumps({
            "control": {"listen": f"127.0.0.1:{self.control_port}", "tokens_file": str(tokens)},
            "gateway": {"listen": f"127.0.0.1:{self.gateway_port}", "slot": GATEWAY_SLOT},
            "region": {"instance": instance, "lock_pages": False},
            "venue": {"kind": "binance", "rest_url": venue.url, "ws_url": f"ws://127.0.0.1:{venue.port}",
                      "recv_window_ms": 5000, "request_timeout_ms": 1000, "order_poll_ms": 200},
            "market": {"symbols": symbols, "timeframes": ["1m"]},
            "risk": {"max_order_notional": "100000", "max_open_orders": 30, "price_band_bps": 500,
                     "sell_account_holdings": True},
            "journal": {"dir": str(tmp / "state"), "fsync": "interval", "interval_ms": 10},
            "threads": {"exec": {"idle": "block"}, "md": {"idle": "block"}},
            "shutdown": {"on_stop": "cancel", "timeout_ms": 5000},
        }))
        self.log = tmp / "cwtsd.log"
        self.proc = None
        self.runs = []  # per run: {"epoch", "end", "rss_kb": [...], "fds": [...], "threads": [...]}

    def start(self) -> None:
        # As systemd runs it (Type=notify, WatchdogSec): READY=1 and WATCHDOG=1 to the harness.
        env = dict(os.environ, CWTS_API_KEY=API_KEY, CWTS_API_SECRET=API_SECRET,
                   CWTS_GATEWAY_API_KEY=GATEWAY_KEY, CWTS_GATEWAY_API_SECRET=GATEWAY_SECRET, **self.notify.env())
        env.pop("WATCHDOG_PID", None)  # the harness's own, if a service manager runs it
        started = time.time()
        self.proc = subprocess.Popen([self.binary, "--config", str(self.config)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "a"))
        import cwts_bridge
        # Up to a first ban's length and more: an engine started inside the venue's back-off
        # waits it out before it is ready (docs/engine.md); venue_bans counts the ban itself.
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                with cwts_bridge.attach(self.instance) as b:
                    if all(b.quote(s).book_valid for s in b.symbols()):
                        self.runs.append({"epoch": b.epoch, "end": None, "started": started, "stopped": None,
                                          "t": [], "rss_kb": [], "fds": [], "threads": []})
                        return
            except cwts_bridge.CwtsError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"cwtsd exited with {self.proc.returncode}; see {self.log}")
            time.sleep(0.1)
        raise RuntimeError(f"cwtsd did not become ready; see {self.log}")

    def sample(self) -> None:
        if self.proc is None or self.proc.poll() is not None or not self.runs:
            return
        try:
            status = pathlib.Path(f"/proc/{self.proc.pid}/status").read_text()
            rss = int(next(l for l in status.splitlines() if l.startswith("VmRSS:")).split()[1])
            threads = int(next(l for l in status.splitlines() if l.startswith("Threads:")).split()[1])
            fds = len(os.listdir(f"/proc/{self.proc.pid}/fd"))
        except (OSError, StopIteration):
            return
        r = self.runs[-1]
        r["t"].append(time.time())
        r["rss_kb"].append(rss)
        r["fds"].append(fds)
        r["threads"].append(threads)

    def stop(self, how: str) -> int:
        self.runs[-1]["stopped"] = time.time()
        if how == "kill":
            self.proc.kill()
        else:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self.runs[-1]["end"] = "killed" if how == "kill" else "stopped"
        return code


def plot(png: str, start: float, windows: list, runs: list, title: str) -> None:
    """Latency per 10 s window (p50 and p99 of each path, every worker) and the engine's RSS."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    for kind, label, colour in (("accept", "signal -> engine report", "tab:blue"),
                                ("ioc", "IOC signal -> terminal report", "tab:orange")):
        pts = sorted((w["time"] - start, w[kind][1], w[kind][2]) for w in windows if kind in w)
        if pts:
            xs = [p[0] / 60 for p in pts]
            ax1.plot(xs, [p[1] for p in pts], ".", ms=3, color=colour, label=f"{label} p50")
            ax1.plot(xs, [p[2] for p in pts], "x", ms=3, color=colour, alpha=0.5, label=f"{label} p99")
    ax1.set_yscale("log")
    ax1.set_ylabel("µs (per 10 s window)")
    ax1.legend(fontsize=7, loc="upper right")
    ax1.set_title(f"cwts soak: {title}")
    few = len(runs) <= 8  # a legend entry per run; beyond that one colour, one entry
    for k, r in enumerate(runs):
        label = f"engine run {k + 1} ({r['end']})" if few else (
            f"cwtsd, {len(runs)} runs (each stopped or killed by the harness)" if k == 0 else None)
        ax2.plot([(t - start) / 60 for t in r["t"]], [kb / 1024 for kb in r["rss_kb"]], "-",
                 color=None if few else "tab:green", label=label)
    ax2.set_ylabel("cwtsd RSS (MB)")
    ax2.set_xlabel("minutes")
    ax2.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)
