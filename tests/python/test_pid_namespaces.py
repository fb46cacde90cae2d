"""The bridge across PID namespaces (issue 20, docs/adr/0027-liveness-without-a-shared-pid-namespace.md).

A strategy runs as FreqTrade would in its own container: `unshare --pid --fork --mount-proc --mount`
gives it its own PID namespace and /proc (the engine's process is not in it) and its own mount
namespace, in which it sees the engine's region directory, bind-mounted at /dev/shm, and nothing
else of the engine (its configuration, logs and directories are covered by an empty tmpfs). It
attaches, reads, trades, and follows the engine through a clean restart and a SIGKILL; it judges a
SIGSTOPped engine alive, as a strategy in the engine's namespace does."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import Engine

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare(1) for PID and mount namespaces")

# Runs inside the new namespaces, before the strategy: the engine's region directory becomes this
# namespace's /dev/shm, and the test's directory (the engine's configuration, logs and the region
# directory's own path) disappears under an empty tmpfs.
SETUP = """
set -e
mount --make-rprivate /
mount --bind "$1" /dev/shm
if mountpoint -q /dev/hugepages; then mount -t tmpfs none /dev/hugepages; fi
mount -t tmpfs none "$2"
shift 2
exec "$@"
"""

STRATEGY = """
import os, sys, time, cwts_bridge
instance, engine_pid = sys.argv[1], int(sys.argv[2])

def say(*words):
    print(*words, flush=True)

def step():
    line = sys.stdin.readline().strip()
    assert line, "the test went away"
    return line

# The namespace: this process is (nearly) pid 1 and the engine's process is nowhere in /proc.
say("namespace", os.getpid() <= 2, os.path.exists(f"/proc/{engine_pid}"), sorted(os.listdir("/dev/shm")) != [])

def until(fn, timeout=20):
    deadline = time.time() + timeout
    why = None
    while True:
        try:
            value = fn()
            if value:
                return value
        except cwts_bridge.EngineNotRunning as e:
            why = e
        if time.time() > deadline:
            raise TimeoutError(f"{fn}: {why}")
        time.sleep(0.05)

def valid_quote():
    q = b.quote("BTCUSDT")
    return q.book_valid and 0 < q.bid < q.ask and q

def trade(tag):
    q = until(valid_quote)
    seq = b.submit("BTCUSDT", "buy", 0.001, type="market")
    r = b.wait_report(seq, 10)
    say(tag, q.bid > 0, r.kind if r is not None else None, b.slot)

try:
    b = cwts_bridge.attach(instance, slot=3, name="namespaced")
except cwts_bridge.CwtsError as e:
    say("attach-failed", type(e).__name__, str(e).replace(chr(10), " "))
    sys.exit(0)
trade("trade1")
epoch = b.epoch
say("ready")

assert step() == "stopped"           # the engine is SIGSTOPped: alive, not restarted
time.sleep(0.3)                      # past the 200 ms between two looks at the engine
try:
    b.symbols()
    say("stopped-engine", "alive", b.epoch == epoch)
except cwts_bridge.CwtsError as e:
    say("stopped-engine", type(e).__name__, str(e).replace(chr(10), " "))
say("ready")

for restart in ("restarted", "killed"):
    assert step() == restart         # a new engine serves the instance
    until(lambda: b.symbols() and b.epoch != epoch)  # a call looks at the engine, epoch does not
    epoch = b.epoch
    trade("trade-after-" + restart)
    say("ready")
b.close()
say("done")
"""


def test_a_strategy_in_its_own_pid_namespace_trades_and_follows_restarts(synthetic_sim, tmp_path):
    regions = tmp_path / "regions"
    regions.mkdir()
    engine = Engine(synthetic_sim, tmp_path, shm_dir=regions)
    cmd = ["unshare", "--pid", "--fork", "--mount-proc", "--mount", "--kill-child", "--",
           "sh", "-c", SETUP, "setup", str(regions), str(tmp_path),
           sys.executable, "-c", STRATEGY, engine.instance, str(engine.proc.pid)]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    lines = []

    def read_until_ready():
        """What the strategy said up to its next "ready" (or its failure to attach)."""
        said = []
        while True:
            line = p.stdout.readline()
            if not line:
                raise AssertionError(f"the strategy ended: {lines} {p.stderr.read()}")
            lines.append(line.split())
            if lines[-1] == ["ready"]:
                return said
            said.append(lines[-1])
            if lines[-1][0] == "attach-failed":
                return said

    def send(word):
        p.stdin.write(word + "\n")
        p.stdin.flush()

    try:
        said = read_until_ready()
        assert said[0] == ["namespace", "True", "False", "True"], lines
        assert said[1][0] != "attach-failed", f"a live engine must be seen from another PID namespace: {lines}"
        assert said[1:] == [["trade1", "True", "FILLED", "3"]], lines

        os.kill(engine.proc.pid, signal.SIGSTOP)
        try:
            send("stopped")
            said = read_until_ready()
        finally:
            os.kill(engine.proc.pid, signal.SIGCONT)
        assert said == [["stopped-engine", "alive", "True"]], lines

        assert engine.stop() == 0  # clean: the region is closed and removed
        engine.start()
        send("restarted")
        assert read_until_ready() == [["trade-after-restarted", "True", "FILLED", "3"]], lines

        os.kill(engine.proc.pid, signal.SIGKILL)  # its regions stay, marked live, until replaced
        engine.proc.wait(timeout=10)
        engine._log.close()
        engine.start()
        send("killed")
        assert read_until_ready() == [["trade-after-killed", "True", "FILLED", "3"]], lines
        p.stdin.close()
        out = p.stdout.read()  # through the same buffer as readline(), never around it
        err = p.stderr.read()
        assert p.wait(timeout=20) == 0 and out.split() == ["done"], (p.returncode, out, err)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
        if engine.proc.poll() is None:
            assert engine.stop() == 0
