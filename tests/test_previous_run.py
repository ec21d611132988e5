"""Checks that compare with the previous run: a host answering with another MAC than
last time warns (a swapped PC), and a device whose uptime went back was rebooted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from readiness.check_run import apply_previous
from readiness.checks import Check
from readiness.results import CheckResult, Status, Text
from readiness.subject import Kind, Subject

REPO = Path(__file__).resolve().parent.parent


def test_previous_uptime_reaches_the_device_check() -> None:
    before = CheckResult(
        requirement="FILTER-FEATURES", title=Text("t", "t"),
        subject=Subject(Kind.ROUTER, "router", "r1", "198.18.10.1"), vantage="c",
        status=Status.PASS, message=Text("m", "m"),
        measured={"uptime_s": 86400.0, "checked_at": "2026-12-04T12:00:00+00:00"},
        threshold={}, citation=None, started_at=datetime.now(UTC), duration_s=0.1,
        check_id="FILTER-FEATURES/r1/router-snmp")
    check = Check(check_id="FILTER-FEATURES/r1/router-snmp", requirement="FILTER-FEATURES",
                  subject=Subject(Kind.ROUTER, "router", "r1", "198.18.10.1"),
                  vantage="coordinator", probe="snmp_device",
                  params={"host": "198.18.10.1"})
    apply_previous([check], [before])
    assert check.params["previous_uptime_s"] == 86400.0
    assert check.params["previous_checked_at"] == "2026-12-04T12:00:00+00:00"


@pytest.mark.lab
def test_a_seat_with_another_mac_than_last_run_warns(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("builds network namespaces: run as root")
    from readiness.lab import LabSpec, missing_prerequisites, running

    if missing_prerequisites():
        pytest.skip("lab prerequisites missing")
    spec = LabSpec(seats=2, cameras=[], agents=False, faults=[])
    with running(spec, f"rdyt{os.getpid()}p") as lab:
        site = yaml.safe_load(lab.site_file.read_text())
        site["rooms"][0]["seats"] = {"A01-A02": "198.18.10.101-102"}
        path = tmp_path / "site.yaml"
        path.write_text(yaml.safe_dump(site, allow_unicode=True))

        def check() -> dict:
            out = tmp_path / "r.json"
            subprocess.run(
                lab.exec_argv("proctor", [
                    sys.executable, "-m", "readiness", "check", str(path), "--only",
                    "LAN-FIXED-IP", "--json", str(out), "--store", str(tmp_path / "s.sqlite"),
                    "--dir", str(tmp_path / "keys"), "--lang", "en"]),
                capture_output=True, text=True, timeout=120, cwd=REPO)
            return json.loads(out.read_text())

        def a01(doc: dict) -> dict:
            # the layer-2 result for A01: the one that records the MAC that answered
            return next(r for r in doc["results"] if r["requirement"] == "LAN-FIXED-IP"
                        and r["subject"]["name"] == "A01" and "mac" in r["measured"])

        first = a01(check())
        assert first["status"] == "pass", first
        # someone swapped A01's PC: same address, another network card
        subprocess.run(["ip", "-n", lab.ns("seat-A01"), "link", "set", "eth0", "address",
                        "02:52:44:59:09:01"], check=True, timeout=10)
        second = a01(check())
        assert second["status"] == "warn", second
        assert "02:52:44:59:09:01" in second["message"]
