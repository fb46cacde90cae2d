"""Fixtures: a real cwts-sim process on an ephemeral loopback port.

The binary comes from $CWTS_SIM_BIN or the first of build/{dev,release,asan}. Without one the
tests are skipped, unless $CWTS_REQUIRE_SIM is set (scripts/test sets it): then they fail.
"""
import ctypes
import json
import os
import pathlib
import select
import signal
import struct
import subprocess
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "binance"
API_KEY = "pyTestKey0123456789"
API_SECRET = "pyTestSecretAbcdef987654321"
# The gateway's own key pair (what FreqTrade signs with), never the venue's.
GATEWAY_KEY = "gwTestKey0123456789"
GATEWAY_SECRET = "gwTestSecretQwerty123456789"


def sim_binary():
    env = os.environ.get("CWTS_SIM_BIN")
    if env:
        return pathlib.Path(env)
    for preset in ("dev", "release", "asan"):
        p = ROOT / "build" / preset / "apps" / "cwts-sim" / "cwts-sim"
        if p.exists():
            return p
    return None


class Sim:
    """A running cwts-sim; `url` is its http base, `ws` its WebSocket base."""

    def __init__(self, args, tmp_path):
        binary = sim_binary()
        if binary is None:
            if os.environ.get("CWTS_REQUIRE_SIM"):
                pytest.fail("cwts-sim binary not found (build it, or set CWTS_SIM_BIN)")
            pytest.skip("cwts-sim not built")
        self.log_path = tmp_path / "cwts-sim.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(binary), "--listen", "127.0.0.1:0", "--api-key", API_KEY, "--api-secret", API_SECRET] + args,
            stdout=subprocess.PIPE, stderr=self._log, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline() if ready else ""
        prefix = "cwts-sim ready on 127.0.0.1:"
        if not line.startswith(prefix):
            self.proc.kill()
            raise RuntimeError(f"cwts-sim did not start: {line!r}; log: {self.log_path.read_text()[-2000:]}")
        self.port = int(line[len(prefix):].strip())
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return json.loads(r.read())

    def fault(self, obj):
        req = urllib.request.Request(self.url + "/_sim/fault", data=json.dumps(obj).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=15)
        self._log.close()
        return code


@pytest.fixture
def synthetic_sim(tmp_path):
    sim = Sim(["--synthetic", "BTCUSDT,ETHUSDT", "--rate", "400", "--balance", "USDT=100000,BTC=5,ETH=50"], tmp_path)
    yield sim
    assert sim.stop() == 0, "cwts-sim exits 0 on SIGTERM"


@pytest.fixture
def capture_sim(tmp_path):
    sim = Sim(["--capture", str(DATA / "spot_nknusdt_2021-10-12.capture"), "--speed", "5", "--loop",
               "--balance", "USDT=100000,NKN=10000"], tmp_path)
    yield sim
    assert sim.stop() == 0


def market_path(instance):
    """The engine's market region file (huge pages first, as the engine places it)."""
    for d in ("/dev/hugepages", "/dev/shm"):
        p = pathlib.Path(d) / f"cwts-{instance}-market"
        if p.exists():
            return p
    raise AssertionError("market region file not found")


def wait_until(pred, timeout=10.0, step=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return pred()


class DirectoryWatch:
    """What happens to the names in a directory (inotify): shows that a file cwtsd publishes for
    clients appears whole, by one rename, and is never created or written in place."""

    CREATE, MODIFY, MOVED_TO = 0x100, 0x2, 0x80

    def __init__(self, path="/dev/shm"):
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0, os.strerror(ctypes.get_errno())
        mask = self.CREATE | self.MODIFY | self.MOVED_TO
        assert libc.inotify_add_watch(self.fd, str(path).encode(), mask) >= 0
        self.seen = []  # (mask, name)

    def events(self, name):
        """The events so far on `name`, as "create", "modify" or "moved_to"."""
        while True:
            try:
                buf = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            at = 0
            while at < len(buf):
                _wd, mask, _cookie, size = struct.unpack_from("iIII", buf, at)
                raw = buf[at + 16:at + 16 + size].rstrip(b"\0").decode(errors="replace")
                self.seen.append((mask, raw))
                at += 16 + size
        kinds = {self.CREATE: "create", self.MODIFY: "modify", self.MOVED_TO: "moved_to"}
        return [k for m, n in self.seen if n == name for bit, k in kinds.items() if m & bit]

    def close(self):
        os.close(self.fd)


def assert_published_whole(start, wait, suffix):
    """Starts an engine with start(), waits with wait(engine) for the file it publishes, and checks
    that /dev/shm/cwts-<instance>.<suffix> appeared by one rename, with no temporary file left."""
    watch = DirectoryWatch()
    e = None
    try:
        e = start()
        wait(e)
        name = f"cwts-{e.instance}.{suffix}"
        assert watch.events(name) == ["moved_to"]
        assert not list(pathlib.Path("/dev/shm").glob(name + ".tmp*"))
    finally:
        watch.close()
        if e is not None and e.proc.poll() is None:
            assert e.stop() == 0


def cwtsd_binary():
    env = os.environ.get("CWTSD_BIN")
    if env:
        return pathlib.Path(env)
    sim = sim_binary()
    if sim is not None:
        p = sim.parents[1] / "cwtsd" / "cwtsd"
        if p.exists():
            return p
    return None


def control_port(engine):
    """The engine's control-plane port. The ctl thread opens the control plane just after the
    books Engine.start() waited for, so this waits for the control file."""
    path = pathlib.Path(f"/dev/shm/cwts-{engine.instance}.control")
    assert wait_until(lambda: path.exists() and path.read_text().endswith("\n"), timeout=10)
    return int(path.read_text().strip().rsplit(":", 1)[1])


def generated_token(engine):
    """The control token cwtsd generated for this run (no control.token_file configured)."""
    control_port(engine)  # the token file is written before the control file
    return pathlib.Path(f"/dev/shm/cwts-{engine.instance}.token").read_text().strip()


class Engine:
    """cwtsd on a cwts-sim, with its own region instance; `instance` is what attach() takes."""

    _count = 0

    def __init__(self, sim, tmp_path, venue="binance", extra="", overrides=None, shm_dir="",
                 region=None):
        binary = cwtsd_binary()
        if binary is None:
            pytest.fail("cwtsd binary not found (build it, or set CWTSD_BIN)")
        Engine._count += 1
        self.sim = sim
        self.binary = binary
        self.instance = f"py{os.getpid()}e{Engine._count}"
        self.shm_dir = str(shm_dir)  # "" = the engine's defaults (huge pages, else /dev/shm)
        self.config = tmp_path / f"{self.instance}.json"
        config = {
            "region": {"instance": self.instance, "lock_pages": False},
            "venue": {"kind": venue, "rest_url": sim.url, "ws_url": sim.ws, "recv_window_ms": 1000,
                      "request_timeout_ms": 500, "order_poll_ms": 100},
            "market": {"symbols": ["BTCUSDT", "ETHUSDT"], "timeframes": ["1m", "5m"]},
            "risk": {"max_order_notional": "100000", "max_open_orders": 20, "price_band_bps": 500},
            "rate_limits": {"engine_share": 0.8, "slot_share": 1.0},
            "threads": {"exec": {"idle": "block"}},
            "shutdown": {"on_stop": "cancel", "timeout_ms": 2000},
        }
        if self.shm_dir:
            config["region"].update(shm_dir=self.shm_dir, hugepages="off")
        config["region"].update(region or {})  # e.g. max_symbols, max_slots
        config.update(overrides or {})  # top-level sections replaced whole
        self.config.write_text(json.dumps(config))
        self.log_path = tmp_path / f"{self.instance}.log"
        self.start()

    def spawn(self):
        """Starts cwtsd without waiting for it (start() waits, through this process's bridge)."""
        env = dict(os.environ, CWTS_API_KEY=API_KEY, CWTS_API_SECRET=API_SECRET,
                   CWTS_GATEWAY_API_KEY=GATEWAY_KEY, CWTS_GATEWAY_API_SECRET=GATEWAY_SECRET)
        self._log = open(self.log_path, "a")
        self.proc = subprocess.Popen([str(self.binary), "--config", str(self.config)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=self._log)

    def start(self):
        self.spawn()
        import cwts_bridge
        def ready():
            try:
                with cwts_bridge.attach(self.instance, shm_dir=self.shm_dir) as b:
                    return all(b.quote(s).book_valid for s in b.symbols())
            except cwts_bridge.EngineNotRunning:
                return False
        if not wait_until(ready, timeout=30):
            self.proc.kill()  # the fixture never yields it: nobody else would stop it
            self.proc.wait(timeout=10)
            self._log.close()
            raise RuntimeError("cwtsd did not become ready: " + self.log_path.read_text()[-3000:])

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        self._log.close()
        return code


class SpawnedEngine(Engine):
    """cwtsd started without waiting for it to be ready."""

    def start(self):
        self.spawn()


@pytest.fixture
def engine(synthetic_sim, tmp_path):
    e = Engine(synthetic_sim, tmp_path)
    yield e
    if e.proc.poll() is None:
        assert e.stop() == 0
