"""The shipped systemd unit (config/systemd/cwtsd.service, docs/operations.md): systemd's own
checker accepts it, and its hardening stays where it is (issue 17 "Deployment")."""
import configparser
import pathlib
import shutil
import subprocess

import pytest

from conftest import ROOT, cwtsd_binary

UNIT = ROOT / "config" / "systemd" / "cwtsd.service"

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze not installed (scripts/lib.sh installs it)")


def installed_copy(tmp_path):
    """The unit as installed, with cwtsd at the path of this build."""
    binary = cwtsd_binary()
    if binary is None:
        pytest.fail("cwtsd binary not found (build it, or set CWTSD_BIN)")
    unit = tmp_path / "cwtsd.service"
    unit.write_text(UNIT.read_text().replace("/usr/bin/cwtsd", str(binary)))
    return unit


def service_section():
    p = configparser.ConfigParser(strict=False, interpolation=None)
    p.optionxform = str
    p.read_string(UNIT.read_text())
    return p["Service"]


def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    r = subprocess.run(["systemd-analyze", "verify", str(installed_copy(tmp_path))],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cwtsd.service" not in r.stderr, r.stderr  # no warning about the unit itself


def test_exposure_stays_low(tmp_path):
    # systemd's exposure score (0 = locked down, 10 = none): 2.2 with this unit, 4.3 before
    # SystemCallFilter and the other protections were added. --threshold is in tenths.
    unit = installed_copy(tmp_path)
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--threshold=25", str(unit)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr


def test_the_engine_runs_as_its_own_user_with_only_the_capabilities_it_needs():
    s = service_section()
    assert s["User"] not in ("", "root") and s["Group"] not in ("", "root")
    assert s["NoNewPrivileges"] == "yes"
    assert s["ProtectSystem"] == "strict" and s["PrivateTmp"] == "yes"
    # Memory locking and core pinning / niceness: nothing else.
    assert set(s["CapabilityBoundingSet"].split()) == {"CAP_IPC_LOCK", "CAP_SYS_NICE"}
    assert s["LimitMEMLOCK"] and s["CPUAffinity"]
    assert s["SystemCallFilter"] == "@system-service"
    # The engine reads strategy processes' /proc/PID/stat (slot owners): hiding them would make
    # every live owner look dead.
    assert "ProtectProc" not in s
