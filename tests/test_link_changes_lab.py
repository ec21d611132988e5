"""A seat whose switch port goes down and up, seen by the seat's own agent: the NIC's
carrier changes (readiness/agent/link_watch.py) make its LAN-SPEED a warn naming the
unstable link, in a real room of namespaces where the switch really drops the port."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from readiness.agent import link_watch
from readiness.lab import LabSpec, missing_prerequisites, running

REPO = Path(__file__).resolve().parent.parent
PREFIX = f"rdyt{os.getpid()}c"

pytestmark = pytest.mark.lab


def test_a_flapping_seat_link_is_named_by_the_seats_own_agent(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("builds network namespaces: run as root")
    if missing_prerequisites():
        pytest.skip("lab prerequisites missing")
    spec = LabSpec(seats=2, cameras=[], faults=[
        {"kind": "flapping_link", "seat": "A02", "down_s": 1.0, "up_s": 2.0}])
    with running(spec, PREFIX) as lab:
        site = yaml.safe_load(lab.site_file.read_text())
        site["rooms"][0]["seats"] = {"A01-A02": "198.18.10.101-102"}
        path = tmp_path / "site.yaml"
        path.write_text(yaml.safe_dump(site, allow_unicode=True))
        # the agents count once the links have settled after their start: let a few flaps
        # happen after that
        time.sleep(link_watch.SETTLE_S + 10)
        out = tmp_path / "r.json"
        proc = subprocess.run(
            lab.exec_argv("proctor", [sys.executable, "-m", "readiness", "check", str(path),
                                      "--only", "LAN-SPEED", "--json", str(out),
                                      "--lang", "en"]),
            capture_output=True, text=True, timeout=120, cwd=REPO)
        assert out.exists(), proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    nic = {r["subject"]["name"]: r for r in doc["results"]
           if r["requirement"] == "LAN-SPEED" and r["aspect"] is None}
    assert nic["A01"]["status"] == "pass", nic["A01"]["message"]
    assert "link_changes" not in nic["A01"]["measured"] or \
        nic["A01"]["measured"]["link_changes"] < 2
    flapping = nic["A02"]
    assert flapping["status"] == "warn", flapping["message"]
    assert [f["code"] for f in flapping["findings"]] == ["seat.link_changes"]
    assert flapping["measured"]["link_changes"] >= 2
    assert "unstable link" in flapping["message"]
