"""The cwts_bridge wheels (scripts/wheels, ADR 0030), each installed into a throwaway venv of its
own Python, which attaches to a running cwtsd on cwts-sim and trades one order.

Opt-in (building and installing the wheels takes minutes): `scripts/wheels --test`, or
`scripts/test --wheels`, which sets CWTS_TEST_WHEELS=1. The wheels come from $CWTS_WHEELS_DIR
(default dist/wheels); the interpreters from $CWTS_WHEELS_PYTHONS (':'-separated paths, as
scripts/wheels passes them), default pyenv's 3.11, 3.12 and 3.13 (a missing one is skipped).
"""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, Engine

VERSIONS = ("3.11", "3.12", "3.13")

pytestmark = pytest.mark.skipif(
    os.environ.get("CWTS_TEST_WHEELS") != "1",
    reason="opt-in: scripts/wheels --test or scripts/test --wheels (CWTS_TEST_WHEELS=1)")

# Runs in the wheel's venv (-I: no PYTHONPATH, no cwd, no user site): the bridge must come from
# the wheel. Waits for the engine (attach + every book valid), then one market order to its end.
CHECK = r"""
import json, sys, time
import cwts_bridge
assert cwts_bridge.__file__.startswith(sys.prefix), cwts_bridge.__file__
instance = sys.argv[1]
deadline = time.monotonic() + 30
while True:
    try:
        with cwts_bridge.attach(instance) as b:
            if all(b.quote(s).book_valid for s in b.symbols()):
                break
    except cwts_bridge.EngineNotRunning:
        pass
    if time.monotonic() > deadline:
        sys.exit("cwtsd did not become ready in 30 s")
    time.sleep(0.05)
with cwts_bridge.attach(instance, slot=-1, name="wheel-test") as b:
    q = b.quote("BTCUSDT")
    assert q.book_valid and 0 < q.bid < q.ask, q
    seq = b.submit("BTCUSDT", "buy", 0.001, type="market", tag="wheel")
    r = b.wait_report(seq, timeout=10)
    assert r is not None and r.terminal, r
    print(json.dumps({"python": sys.version.split()[0], "bridge": cwts_bridge.__file__,
                      "bid": q.bid, "ask": q.ask, "report": r.kind, "cum_qty": r.cum_qty}))
"""


def pyenv_python(version):
    """The newest pyenv install of `version` (e.g. 3.12 -> ~/.pyenv/versions/3.12.1/bin/python)."""
    root = pathlib.Path(os.environ.get("PYENV_ROOT", pathlib.Path.home() / ".pyenv")) / "versions"
    found = [p for p in root.glob(f"{version}.*")
             if re.fullmatch(re.escape(version) + r"\.\d+", p.name) and (p / "bin" / "python").exists()]
    if not found:
        return None
    return max(found, key=lambda p: int(p.name.rsplit(".", 1)[1])) / "bin" / "python"


def interpreters():
    listed = os.environ.get("CWTS_WHEELS_PYTHONS")
    if listed:
        paths = [pathlib.Path(p) for p in listed.split(":") if p]
        return [pytest.param(p, id=p.parents[1].name if p.parents[2].name == "versions" else str(p))
                for p in paths]
    params = []
    for v in VERSIONS:
        p = pyenv_python(v)
        marks = () if p else pytest.mark.skip(reason=f"no pyenv Python {v} (pyenv install {v})")
        params.append(pytest.param(p, id=v, marks=marks))
    return params


class WheelEngine(Engine):
    """cwtsd, started without the readiness wait (that needs the bridge in this process): the
    check in the wheel's venv waits for it."""

    def start(self):
        self.spawn()


@pytest.mark.parametrize("python", interpreters())
def test_wheel_attaches_and_trades(python, synthetic_sim, tmp_path):
    tag = subprocess.run([str(python), "-c", "import sys; print('cp%d%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    wheels = pathlib.Path(os.environ.get("CWTS_WHEELS_DIR", ROOT / "dist" / "wheels"))
    found = sorted(wheels.glob(f"cwts_bridge-*-{tag}-{tag}-*.whl"))
    assert found, f"no {tag} wheel in {wheels}: run scripts/wheels first"
    wheel = found[-1]

    venv = tmp_path / f"venv-{tag}"
    engine = None
    try:
        subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
        # --no-deps: numpy and pandas are imported only by the DataFrame helpers, not by attach,
        # quotes or orders (FreqTrade's environment has them anyway); --no-index: offline.
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
                        "--no-index", "--disable-pip-version-check", str(wheel)], check=True)
        engine = WheelEngine(synthetic_sim, tmp_path)
        out = subprocess.run([str(venv / "bin" / "python"), "-I", "-c", CHECK, engine.instance],
                             capture_output=True, text=True, timeout=90, cwd=tmp_path)
        assert out.returncode == 0, (
            f"check failed in the {tag} venv:\n{out.stdout}{out.stderr}\ncwtsd log:\n"
            + engine.log_path.read_text()[-3000:])
        print(out.stdout.strip())
        assert '"report": "FILLED"' in out.stdout, out.stdout
    finally:
        if engine is not None and engine.proc.poll() is None:
            try:
                assert engine.stop() == 0, "cwtsd exits 0 on SIGTERM"
            except subprocess.TimeoutExpired:
                engine.proc.kill()
                engine.proc.wait()
                raise
        shutil.rmtree(venv, ignore_errors=True)

