"""The README's main job: `readiness drill` builds the simulated room, finds its
faults with real measurements, and leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict]:
    if os.geteuid() != 0:
        pytest.skip("the drill builds network namespaces: run as root")
    from readiness import lab

    missing = lab.missing_prerequisites()
    if missing:
        pytest.skip("missing: " + "; ".join(what for what, _ in missing))
    out = tmp_path_factory.mktemp("drill")
    proc = subprocess.run(
        [sys.executable, "-m", "readiness", "drill", "--out", str(out), "--lang", "en"],
        capture_output=True, text=True, timeout=900, cwd=REPO,
        env={**os.environ, "COLUMNS": "200"})
    found = sorted(out.glob("drill-*/result.json"))
    assert found, proc.stdout + proc.stderr
    return proc, json.loads(found[-1].read_text())


def seat_result(doc: dict, label: str) -> dict:
    return next(r for r in doc["results"] if r["requirement"] == "LAN-SUBNET"
                and r["vantage"] == "coordinator" and f"seat {label} " in r["target"])


def test_drill_reports_not_ready_with_exit_1(drill: tuple) -> None:
    proc, doc = drill
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert doc["verdict"] == "not_ready"
    assert "NOT READY" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_each_injected_reachability_fault_fails_naming_the_host(drill: tuple) -> None:
    _, doc = drill
    # config/lab/room.yaml: A13 absent, A21 moved to another subnet, A32 took A31's address
    for label, address in (("A13", "198.18.10.113"), ("A21", "198.18.10.121"),
                           ("A32", "198.18.10.132")):
        result = seat_result(doc, label)
        assert result["status"] == "fail", result
        assert address in result["message"]
        assert result["measured"]["received"] == 0
    seats = next(r for r in doc["results"] if r["requirement"] == "LAN-SEATS")
    assert seats["status"] == "fail"
    assert seats["measured"]["working_seats"] == 37


def test_healthy_hosts_pass_with_real_measurements(drill: tuple) -> None:
    _, doc = drill
    for label in ("A01", "A07", "A31", "A40"):
        result = seat_result(doc, label)
        assert result["status"] == "pass", result
        assert result["measured"]["received"] == 10
        assert 0 < result["measured"]["rtt_avg_ms"] < 5
    server = next(r for r in doc["results"] if r["requirement"] == "LAN-SUBNET"
                  and "exam server" in r["target"] and r["vantage"] == "coordinator")
    assert server["status"] == "pass" and server["measured"]["ports"] == {"80": "open"}


def test_drill_leaves_nothing_behind(drill: tuple) -> None:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                         timeout=10).stdout
    assert not [n for n in out.split() if n.startswith("rdy-")]
    assert not Path("/run/readiness-lab/rdy").exists()
    assert not list(Path("/etc/netns").glob("rdy-*"))
    procs = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True,
                           timeout=10).stdout
    assert "/run/readiness-lab/rdy/" not in procs
