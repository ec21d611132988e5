"""Seat agents in the simulated room: `readiness check` collects every seat's
self-report through its agent, names the seats without one, and never shows the token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from readiness.lab import LabSpec, missing_prerequisites, running

REPO = Path(__file__).resolve().parent.parent
WRONG_TOKEN = "lujsc32B0nU6LlQABZJzLCIxoHDsdJanvWDzMKSV-8o"  # 256 bits, not the lab's
PREFIX = f"rdyt{os.getpid()}g"

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("builds network namespaces: run as root")
    if missing_prerequisites():
        pytest.skip("lab prerequisites missing: " + "; ".join(w for w, _ in
                                                               missing_prerequisites()))
    spec = LabSpec(seats=4, cameras=[], faults=[{"kind": "no_agent", "seat": "A03"},
                                                {"kind": "absent_seat", "seat": "A04"}])
    with running(spec, PREFIX) as lab:
        site = yaml.safe_load(lab.site_file.read_text())
        site["rooms"][0]["seats"] = {"A01-A04": "198.18.10.101-104"}
        path = tmp_path_factory.mktemp("agents") / "site.yaml"
        path.write_text(yaml.safe_dump(site, allow_unicode=True))
        token = yaml.safe_load(lab.secrets_file.read_text())["agent_token"]
        yield lab, path, token


def check(lab, site: Path, out: Path, *only: str) -> tuple[subprocess.CompletedProcess, dict]:  # type: ignore[no-untyped-def]
    proc = subprocess.run(
        lab.exec_argv("proctor", [sys.executable, "-m", "readiness", "check", str(site),
                                  "--only", ",".join(only), "--json", str(out),
                                  "--lang", "en", "-v"]),
        capture_output=True, text=True, timeout=120, cwd=REPO)
    return proc, json.loads(out.read_text())


def test_check_collects_self_reports_and_names_seats_without_agent(room, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lab, site, token = room
    proc, doc = check(lab, site, tmp_path / "r.json", "SEAT-SPEC", "LAN-SPEED", "LAN-FIXED-IP")
    # each host's own self-report (a seat's throughput paths have an aspect)
    by = {(r["requirement"], r["subject"]["name"]): r for r in doc["results"]
          if r["aspect"] is None}
    for label in ("A01", "A02"):
        spec = by[("SEAT-SPEC", label)]
        assert spec["vantage"] == f"agent {label}"
        assert spec["measured"]["mac"] == f"02:52:44:59:01:{100 + int(label[1:]):02x}"
        assert spec["measured"]["addressing"] == "static"
        nic = by[("LAN-SPEED", label)]
        # a veth reports 10000 Mb/s full duplex: a gigabit-class NIC to the rule
        assert nic["status"] == "pass" and nic["measured"]["nic_speed_mbps"] == 10000
    for label in ("A03", "A04"):
        result = by[("SEAT-SPEC", label)]
        assert result["status"] == "skip"
        assert f"no agent answers on {label}" in result["message"]
    proctor = by[("LAN-FIXED-IP", "proctor")]
    assert proctor["status"] == "pass" and proctor["measured"]["addressing"] == "static"
    for text in (proc.stdout, proc.stderr, json.dumps(doc)):
        assert token not in text


def test_wrong_token_is_an_error_naming_the_cause(room, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lab, site, token = room
    wrong = tmp_path / "secrets.yaml"
    secrets = yaml.safe_load(lab.secrets_file.read_text())
    secrets["agent_token"] = WRONG_TOKEN  # a good token, just not the site's
    wrong.write_text(yaml.safe_dump(secrets))
    wrong.chmod(0o600)
    data = yaml.safe_load(site.read_text())
    data["secrets_file"] = str(wrong)
    other = tmp_path / "site.yaml"
    other.write_text(yaml.safe_dump(data, allow_unicode=True))
    proc, doc = check(lab, other, tmp_path / "r.json", "SEAT-SPEC")
    a01 = next(r for r in doc["results"] if r["subject"]["name"] == "A01")
    assert a01["status"] == "error" and "refused our token" in a01["message"]
    # every seat is an error or has no agent; only the proctor PC, which the coordinator
    # is and describes itself without a token, is judged (cbec's electronic classroom)
    judged = [r for r in doc["results"] if r["status"] not in ("error", "skip")]
    assert [r["subject"]["kind"] for r in judged] == ["proctor"], judged
    assert doc["verdict"] == ("not_ready" if judged[0]["status"] == "fail" else "unverified")
    assert proc.returncode == (1 if doc["verdict"] == "not_ready" else 3)
    assert WRONG_TOKEN not in proc.stdout + proc.stderr + json.dumps(doc)
    assert token not in proc.stdout + proc.stderr + json.dumps(doc)
