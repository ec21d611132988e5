"""`readiness check` end to end on loopback: real pings to 127.0.0.x (the whole /8 is
this machine), the JSON schema, JUnit XML, exit codes, and no secret in any output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

REPO = Path(__file__).resolve().parent.parent
SECRET = "loopback-community-xyz"

SITE = textwrap.dedent("""\
    site: {{name: Loopback school, code: LO-1}}
    profile: {profile}
    secrets_file: secrets.yaml
    rooms:
      - id: lo
        subnet: 127.0.0.0/24
        router:
          address: 127.0.0.1
          snmp: {{version: "2c", community: "secret:community"}}
        exam_servers:
          primary: {{address: 127.0.0.10}}
        proctor: {{address: {proctor}}}
        seats:
          A01-A40: 127.0.0.101-140
    """)


def icmp_allowed() -> bool:
    from probes.engines.icmp import IcmpUnavailable, open_icmp_socket  # noqa: F401

    try:
        sock, _kind = open_icmp_socket()
        sock.close()
    except IcmpUnavailable:
        return False
    return True


def run_check(tmp_path: Path, *args: str, profile: str = "cbec",
              proctor: str = "127.0.0.2") -> tuple[subprocess.CompletedProcess, Path, Path]:
    site = tmp_path / "site.yaml"
    site.write_text(SITE.format(profile=profile, proctor=proctor))
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"community: {SECRET}\n")
    secrets.chmod(0o600)
    out_json, out_xml = tmp_path / "r.json", tmp_path / "r.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "readiness", "check", str(site), "--json", str(out_json),
         "--junit", str(out_xml), "--lang", "en", "--store", str(tmp_path / "runs.sqlite"),
         "--dir", str(tmp_path / "keys"), "--log", str(tmp_path / "evidence.jsonl"), *args],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**os.environ, "COLUMNS": "200"})
    return proc, out_json, out_xml


def needs_icmp(test):  # type: ignore[no-untyped-def]
    # a seat must answer pings for these verdicts; the others hold without ICMP too
    return pytest.mark.lab(pytest.mark.skipif(
        not icmp_allowed(), reason="needs ICMP rights (root or ping_group_range)")(test))


@needs_icmp
def test_ready_room_on_loopback(tmp_path: Path) -> None:
    proc, out_json, out_xml = run_check(tmp_path, "--only", "LAN-SUBNET,LAN-SEATS")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out_json.read_text())
    jsonschema.validate(doc, json.loads((REPO / "docs" / "result-schema.json").read_text()))
    assert doc["verdict"] == "ready"
    assert doc["profile"]["id"] == "cbec"
    reach = [r for r in doc["results"] if r["id"].endswith("/reach")]
    assert len(reach) == 42  # proctor, exam server, 40 seats
    seat = next(r for r in reach if r["subject"] == {"kind": "seat", "name": "A07",
                                                     "room": "lo", "address": "127.0.0.107"})
    assert seat["status"] == "pass"
    assert seat["measured"]["received"] == seat["measured"]["sent"] == 10
    assert seat["citation"]["article"]
    seats = next(r for r in doc["results"] if r["requirement"] == "LAN-SEATS")
    assert seats["status"] == "pass" and seats["measured"]["working_seats"] == 40
    assert "READY" in proc.stdout

    suites = ET.parse(out_xml).getroot()
    assert suites.get("failures") == "0" and int(suites.get("tests")) == len(doc["results"])
    for text in (proc.stdout, proc.stderr, out_json.read_text(), out_xml.read_text()):
        assert SECRET not in text


def test_proctor_outside_subnet_is_not_ready(tmp_path: Path) -> None:
    proc, out_json, _ = run_check(tmp_path, "--only", "LAN-SUBNET", proctor="127.0.1.2")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(out_json.read_text())
    assert doc["verdict"] == "not_ready"
    failed = [r for r in doc["results"] if r["status"] == "fail"]
    assert len(failed) == 1 and "127.0.1.2" in failed[0]["message"]
    assert "NOT READY" in proc.stdout


def test_full_profile_without_probes_is_unverified_not_ready(tmp_path: Path) -> None:
    # Rules this version cannot measure must keep a site from being called ready.
    proc, out_json, _ = run_check(tmp_path, profile="eda")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    doc = json.loads(out_json.read_text())
    assert doc["verdict"] == "unverified"
    cam = next(r for r in doc["results"] if r["requirement"] == "CAM-RES")
    assert cam["status"] == "skip" and "not configured" in cam["message"]
    ups = next(r for r in doc["results"] if r["requirement"] == "UPS-RUNTIME")
    assert ups["status"] == "skip"


@needs_icmp
def test_chinese_summary(tmp_path: Path) -> None:
    proc, out_json, _ = run_check(tmp_path, "--only", "LAN-SEATS", "--lang", "zh")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "就绪" in proc.stdout
    doc = json.loads(out_json.read_text())
    seats = next(r for r in doc["results"] if r["requirement"] == "LAN-SEATS")
    assert "考位" in seats["message"]


def test_unknown_room_and_requirement_are_usage_errors(tmp_path: Path) -> None:
    proc, _, _ = run_check(tmp_path, "--room", "nope")
    assert proc.returncode == 2 and "no room nope" in proc.stderr
    proc, _, _ = run_check(tmp_path, "--only", "LAN-SPEEED")
    assert proc.returncode == 2 and "unknown requirement LAN-SPEEED" in proc.stderr
