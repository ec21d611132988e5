"""SNMP through `readiness check` against net-snmp in the simulated room: the router's
snmpd over v2c and v3 authPriv, the UPS card's UPS-MIB against UPS-RUNTIME, and wrong
credentials as a clear error within the deadline, never printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from readiness.lab import LabSpec, missing_prerequisites, running

REPO = Path(__file__).resolve().parent.parent
PREFIX = f"rdyt{os.getpid()}s"

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab():  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("builds network namespaces: run as root")
    if missing_prerequisites():
        pytest.skip("lab prerequisites missing")
    # 60 minutes of battery: below both rules (eda 2 h for the server, cbec 3 h)
    spec = LabSpec(seats=1, cameras=[], agents=False, faults=[],
                   ups={"minutes_remaining": 60})
    with running(spec, PREFIX) as built:
        yield built


def site_file(lab, tmp_path: Path, router_snmp: dict, secrets: dict | None = None) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(lab.site_file.read_text())
    data["rooms"][0]["seats"] = {"A01": "198.18.10.101"}
    data["rooms"][0]["router"]["snmp"] = router_snmp
    if secrets is not None:
        path = tmp_path / "secrets.yaml"
        path.write_text(yaml.safe_dump(secrets))
        path.chmod(0o600)
        data["secrets_file"] = str(path)
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump(data, allow_unicode=True))
    return site


def run_check(lab, site: Path, tmp_path: Path, only: str) -> tuple[dict, str]:  # type: ignore[no-untyped-def]
    out = tmp_path / "r.json"
    proc = subprocess.run(
        lab.exec_argv("proctor", [sys.executable, "-m", "readiness", "check", str(site),
                                  "--only", only, "--json", str(out), "--no-store",
                                  "--lang", "en"]),
        capture_output=True, text=True, timeout=120, cwd=REPO)
    return json.loads(out.read_text()), proc.stdout + proc.stderr


def result(doc: dict, check_id_end: str) -> dict:
    return next(r for r in doc["results"] if r["id"].endswith(check_id_end))


def test_ups_runtime_below_the_rule_fails(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = site_file(lab, tmp_path, {"version": "2c", "community": "secret:snmp_community"})
    doc, _ = run_check(lab, site, tmp_path, "UPS-RUNTIME")
    ups = result(doc, "/ups")
    assert ups["status"] == "fail", ups
    assert ups["measured"]["minutes_remaining"] == 60
    assert ups["threshold"]["min_minutes"] == 180


def test_router_snmp_v2c_and_v3_authpriv(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = site_file(lab, tmp_path, {"version": "2c", "community": "secret:snmp_community"})
    doc, _ = run_check(lab, site, tmp_path, "FILTER-FEATURES")
    assert result(doc, "/router-snmp")["status"] == "pass"
    site = site_file(lab, tmp_path, {"version": "3", "user": "readiness",
                                     "auth_key": "secret:snmp_v3_auth_key",
                                     "priv_key": "secret:snmp_v3_priv_key"})
    doc, _ = run_check(lab, site, tmp_path, "FILTER-FEATURES")
    router = result(doc, "/router-snmp")
    assert router["status"] == "pass", router
    assert router["measured"]["uptime_s"] > 0


def test_wrong_credentials_are_an_error_within_the_deadline(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    real = yaml.safe_load(lab.secrets_file.read_text())
    wrong = {**real, "snmp_community": "wrong-community-4711",
             "snmp_v3_priv_key": "wrong-priv-key-4711"}
    for snmp in ({"version": "2c", "community": "secret:snmp_community"},
                 {"version": "3", "user": "readiness", "auth_key": "secret:snmp_v3_auth_key",
                  "priv_key": "secret:snmp_v3_priv_key"}):
        site = site_file(lab, tmp_path, snmp, wrong)
        started = time.monotonic()
        doc, output = run_check(lab, site, tmp_path, "FILTER-FEATURES")
        router = result(doc, "/router-snmp")
        assert router["status"] == "error", router
        assert router["duration_s"] <= 8.5
        assert time.monotonic() - started < 60
        text = json.dumps(doc) + output
        for value in ("wrong-community-4711", "wrong-priv-key-4711",
                      real["snmp_v3_auth_key"]):
            assert value not in text
