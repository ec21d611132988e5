"""Under eda, candidate PCs must have no internet at all while the exam server gets out:
a seat that reaches any external address fails WAN-POLICY, seen from its own agent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.lab


def test_a_seat_reaching_the_internet_fails_eda(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("builds network namespaces: run as root")
    from readiness.lab import LabSpec, missing_prerequisites, running

    if missing_prerequisites():
        pytest.skip("lab prerequisites missing")
    # the lab router lets seats reach the exam website (a cbec room): under eda that is
    # already a leak, since eda seats may reach nothing outside the exam LAN
    spec = LabSpec(seats=1, cameras=[], faults=[])
    with running(spec, f"rdyt{os.getpid()}e") as lab:
        site = yaml.safe_load(lab.site_file.read_text())
        site["profile"] = "eda"
        site["rooms"][0]["seats"] = {"A01": "198.18.10.101"}
        path = tmp_path / "site.yaml"
        path.write_text(yaml.safe_dump(site, allow_unicode=True))
        out = tmp_path / "r.json"
        subprocess.run(
            lab.exec_argv("proctor", [sys.executable, "-m", "readiness", "check", str(path),
                                      "--only", "WAN-POLICY", "--json", str(out),
                                      "--no-store", "--lang", "en"]),
            capture_output=True, text=True, timeout=180, cwd=REPO)
        doc = json.loads(out.read_text())
    seat = next(r for r in doc["results"] if r["vantage"] == "agent A01")
    assert seat["status"] == "fail", seat
    assert "exam.example" in seat["message"] or "198.51.100.10" in seat["message"]
    server = [r for r in doc["results"] if r["subject"]["kind"] == "exam_server"]
    assert server and all(r["status"] == "pass" for r in server), server
