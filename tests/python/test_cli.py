"""The binaries' command lines (issue 20 "Command lines", ADR 0028): one library (CLI11) for all, so
each has `--help` listing its flags, `--version` with the project's version, errors that name the
flag, and cwtsctl's commands their own help. The flags themselves are exercised by the tests that
run the binaries (test_control.py, the C++ cwts-sim and cwts-replay tests)."""
import os
import re
import subprocess

import pytest

from conftest import ROOT, sim_binary

# cwts-replay keeps 1 for a usage error: its 2 means "malformed lines" (docs/market_data.md).
USAGE_STATUS = {"cwts-replay": 1}

# Each binary with the flags its --help must list, one flag that takes a value (missing value test).
BINARIES = {
    "cwtsd": (["--config", "--check-config", "--version", "--help"], "--config"),
    "cwtsctl": (["--instance", "--url", "--shm-dir", "--token-file", "--cafile", "--json", "status",
                 "symbols", "slots", "top", "risk", "halt", "resume", "reduce-only", "cancel-all"],
                "--instance"),
    "cwts-sim": (["--listen", "--exchange-info", "--capture", "--synthetic", "--speed", "--loop",
                  "--rebase-time", "--rate", "--api-key", "--api-secret", "--balance", "--bnb-fees",
                  "--seed", "--ping-interval-ms", "--pong-timeout-ms", "--ws-msg-limit",
                  "--weight-limit", "--fault", "--log-level", "--drop-every-ms", "--stall-ms",
                  "--stall-every-ms", "--skip-update-ids", "--delay-ms", "--delay-count",
                  "--http-status", "--http-count", "--server-shutdown-after-ms",
                  "--max-connection-age-ms", "--clock-offset-ms"], "--rate"),
    "cwts-replay": (["--symbol", "--depth", "--json"], "--depth"),
    "cwts-shm-layout": (["--json", "--golden"], None),
    "cwts-shm-demo": (["--seconds", "--readers", "--rate", "--data"], "--seconds"),
}

CTL_COMMANDS = ["status", "symbols", "slots", "top", "risk", "halt", "resume", "reduce-only", "cancel-all"]


def project_version():
    m = re.search(r"project\(\s*cwts_ultra\s+VERSION\s+([0-9.]+)", (ROOT / "CMakeLists.txt").read_text())
    assert m, "the top CMakeLists.txt defines the project's version"
    return m.group(1)


def binary(name):
    sim = sim_binary()
    if sim is None:
        if os.environ.get("CWTS_REQUIRE_SIM"):
            pytest.fail("binaries not found (build them, or set CWTS_SIM_BIN)")
        pytest.skip("binaries not built")
    p = sim.parents[1] / name / name
    assert p.exists(), f"{p} not built"
    return p


def run(name, *args):
    return subprocess.run([str(binary(name)), *args], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("name", sorted(BINARIES))
def test_help_lists_every_flag(name):
    flags, _ = BINARIES[name]
    for h in ("--help", "-h"):
        r = run(name, h)
        assert r.returncode == 0, r.stderr
        missing = [f for f in flags + ["--version"] if f not in r.stdout]
        assert not missing, f"{name} {h} does not list {missing}:\n{r.stdout}"


@pytest.mark.parametrize("name", sorted(BINARIES))
def test_version_prints_the_project_version(name):
    r = run(name, "--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{name} {project_version()}"), r.stdout


def test_cwtsd_version_also_names_the_layout():
    r = run("cwtsd", "--version")
    assert re.search(r"shared-memory layout version \d+, hash [0-9a-f]{16}", r.stdout), r.stdout


@pytest.mark.parametrize("name", sorted(BINARIES))
def test_an_unknown_flag_is_named(name):
    r = run(name, "--no-such-flag")
    assert r.returncode == USAGE_STATUS.get(name, 2), (r.returncode, r.stderr)
    assert "--no-such-flag" in r.stderr and "--help" in r.stderr, r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("name", sorted(n for n in BINARIES if BINARIES[n][1]))
def test_a_missing_value_is_named(name):
    flag = BINARIES[name][1]
    r = run(name, flag)
    assert r.returncode == USAGE_STATUS.get(name, 2), (r.returncode, r.stderr)
    assert flag in r.stderr, r.stderr


@pytest.mark.parametrize("name,args,flag", [
    ("cwts-sim", ["--synthetic", "BTCUSDT", "--rate", "fast"], "--rate"),
    ("cwts-sim", ["--synthetic", "BTCUSDT", "--listen", "127.0.0.1"], "--listen"),
    ("cwts-sim", ["--synthetic", "BTCUSDT", "--http-status", "200"], "--http-status"),
    ("cwts-replay", ["x.capture", "--depth", "-1"], "--depth"),
    ("cwts-shm-demo", ["--readers", "9"], "--readers"),
    ("cwts-shm-demo", ["--seconds", "ten"], "--seconds"),
    ("cwtsctl", ["top", "--seconds", "soon"], "--seconds"),
])
def test_a_bad_value_is_named(name, args, flag):
    r = run(name, *args)
    assert r.returncode == USAGE_STATUS.get(name, 2), (r.returncode, r.stderr)
    assert flag in r.stderr, r.stderr


def test_cwtsd_needs_a_config():
    r = run("cwtsd")
    assert r.returncode == 2 and "--config" in r.stderr, r.stderr
    r = run("cwtsd", "--check-config")
    assert r.returncode == 2 and "--config" in r.stderr, r.stderr


def test_cwtsd_check_config_keeps_its_statuses(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text('{"market": {"symbols": ["BTCUSDT"]}, "venue": {"kind": "paper"}}')
    for args in (["--config", str(cfg), "--check-config"], [f"--config={cfg}", "--check-config"],
                 ["--check-config", "--config", str(cfg)]):
        r = run("cwtsd", *args)
        assert r.returncode == 0 and "is valid" in r.stdout, r.stderr
    cfg.write_text('{"market": {"symbols": []}}')
    r = run("cwtsd", "--config", str(cfg), "--check-config")
    assert r.returncode == 2 and "config error" in r.stderr, r.stderr


def test_cwts_shm_layout_outputs_are_unchanged():
    golden = (ROOT / "tests" / "layout" / "layout_golden.txt").read_text()
    assert run("cwts-shm-layout", "--golden").stdout == golden
    assert run("cwts-shm-layout", "--json").stdout.startswith('{"version":')
    assert run("cwts-shm-layout").stdout.startswith("CWTS shared-memory layout version")
    assert run("cwts-shm-layout", "--json", "--golden").returncode == 2


@pytest.mark.parametrize("command", CTL_COMMANDS + ["symbols add", "symbols remove", "risk get", "risk set"])
def test_cwtsctl_commands_have_their_own_help(command):
    r = run("cwtsctl", *command.split(), "--help")
    assert r.returncode == 0, r.stderr
    assert f"cwtsctl {command}" in r.stdout, r.stdout
    if command == "top":
        assert "--seconds" in r.stdout
    if command == "risk set":
        assert "KEY=VALUE" in r.stdout
    if command in ("symbols add", "symbols remove"):
        assert "SYMBOL" in r.stdout


def test_cwtsctl_usage_errors():
    r = run("cwtsctl")
    assert r.returncode == 2 and "--help" in r.stderr, r.stderr
    r = run("cwtsctl", "frobnicate")
    assert r.returncode == 2 and "frobnicate" in r.stderr, r.stderr
    r = run("cwtsctl", "risk")
    assert r.returncode == 2 and "get" in r.stderr and "set" in r.stderr, r.stderr
    r = run("cwtsctl", "risk", "set")
    assert r.returncode == 2 and "KEY=VALUE" in r.stderr, r.stderr
    r = run("cwtsctl", "risk", "set", "max_open_orders")
    assert r.returncode == 2 and "KEY=VALUE" in r.stderr, r.stderr
    r = run("cwtsctl", "symbols", "add")
    assert r.returncode == 2 and "SYMBOL" in r.stderr, r.stderr


BENCH = {
    "cwts-bench-replay": ["--passes", "--data", "--json"],
    "cwts-latency-pingpong": ["--samples", "--warmup", "--cpus", "--hugepages", "--json", "--raw"],
    "cwts-latency-transport": ["--uds", "--ws", "--samples", "--warmup", "--raw"],
    "cwts-latency-order": ["--sim", "--cwtsd", "--samples", "--idle", "--gateway", "--gateway-idle",
                           "--json", "--raw", "--journal", "--journal-fsync", "--order-transport",
                           "--user-stream", "--order-poll-ms", "--fill"],
}


@pytest.mark.parametrize("name", sorted(BENCH))
def test_bench_tools_share_the_command_line(name):
    p = binary("cwts-sim").parents[2] / "bench" / name
    if not p.exists():
        pytest.skip(f"{name} not built (CWTS_BUILD_BENCH=OFF)")
    r = subprocess.run([str(p), "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and all(f in r.stdout for f in BENCH[name]), r.stdout
    r = subprocess.run([str(p), "--version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith(f"{name} {project_version()}"), r.stdout
    r = subprocess.run([str(p), "--no-such-flag"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--no-such-flag" in r.stderr, r.stderr


def test_cwtsctl_options_go_before_or_after_the_command(tmp_path):
    """As before: the connection options and --json anywhere on the line; nothing listens here, so
    each run fails (1) naming the instance, after the command line was accepted."""
    for args in (["--shm-dir", str(tmp_path), "--instance", "nowhere", "--json", "status"],
                 ["status", "--shm-dir", str(tmp_path), "--instance", "nowhere", "--json"],
                 ["--shm-dir", str(tmp_path), "--instance", "nowhere", "top", "--seconds", "1"],
                 ["--shm-dir", str(tmp_path), "--instance", "nowhere", "risk", "set", "max_open_orders=3",
                  "--json"]):
        r = run("cwtsctl", *args)
        assert r.returncode == 1 and "nowhere" in r.stderr, (args, r.stderr)
