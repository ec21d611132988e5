"""One edited cell in the results store must not stop every later check.

A check compares with the site's previous stored run (a seat's MAC, a device's uptime).
The store is a plain SQLite file: a previous run whose measurements have a shape
readiness never writes is skipped with a warning naming it and what was wrong, and the
check goes on. Before, `readiness check` ended in "internal error: AttributeError" with
exit 2 ("bad configuration") for as long as that run was the latest, and every
scheduled run crashed the same way.

The check runs for real, in a network namespace of its own that has only loopback: its
pings and ARP sweep find nothing (a not-ready room), and nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from readiness.check_run import load, plan_run, select
from readiness.checks import Check
from readiness.results import CheckResult, Status, Text
from readiness.store import ResultsStore
from readiness.subject import Kind, Subject

REPO = Path(__file__).resolve().parent.parent
SITE = textwrap.dedent("""\
    site: {name: Guard school, code: G-6}
    profile: cbec
    secrets_file: secrets.yaml
    rooms:
      - id: r1
        subnet: 198.51.100.0/24
        router:
          address: 198.51.100.1
          snmp: {version: "2c", community: "secret:community"}
        exam_servers: {primary: {address: 198.51.100.10}}
        proctor: {address: 198.51.100.2}
        seats: {A01: 198.51.100.101}
    """)


def _site(tmp_path: Path) -> Path:
    (tmp_path / "site.yaml").write_text(SITE)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("community: gu4rd-community\n")
    secrets.chmod(0o600)
    return tmp_path / "site.yaml"


@pytest.fixture
def netns() -> str:  # type: ignore[misc]
    if os.geteuid() != 0:
        pytest.skip("creates a network namespace: run as root")
    name = f"rdyt{os.getpid()}g6"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, timeout=10)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=10)


def _check(netns: str, site: Path, store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-m", "readiness", "check", str(site),
         "--only", "LAN-FIXED-IP", "--store", str(store), "--dir", str(store.parent / "keys"),
         "--lang", "en"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"})


def test_a_check_after_an_edited_sweep_cell_warns_and_goes_on(tmp_path: Path,
                                                               netns: str) -> None:
    site, store = _site(tmp_path), tmp_path / "runs" / "readiness.sqlite"
    first = _check(netns, site, store)
    assert first.returncode == 1, first.stdout + first.stderr  # a room with nobody in it
    assert "Run 1 saved" in first.stdout
    # one cell edited by hand: the sweep's hosts as a list instead of address -> MACs
    with sqlite3.connect(store) as db:
        edited = db.execute(
            "UPDATE results SET measured = ? WHERE run_id = 1 AND check_id = ?",
            (json.dumps({"layer2": True, "hosts": ["198.51.100.101"]}),
             "LAN-SUBNET/r1/l2-sweep")).rowcount
    assert edited == 1

    second = _check(netns, site, store)
    out = second.stdout + second.stderr
    assert "internal error" not in out and second.returncode == 1, out
    assert "previous run 1" in out and "measured.hosts is a list" in out, out
    assert "LAN-SUBNET/r1/l2-sweep" in out and "is skipped" in out
    assert "Run 2 saved" in second.stdout
    # the run after that compares with run 2, which is whole again: no warning
    third = _check(netns, site, store)
    assert third.returncode == 1 and "skipped" not in third.stdout + third.stderr


def _stored_run_with(store: Path, measured: object) -> None:
    """A run as `check` stores it, whose router SNMP result has `measured` edited in."""
    from datetime import UTC, datetime

    from readiness.results import RunRecord, Verdict

    now = datetime.now(UTC)
    result = CheckResult(
        requirement="FILTER-FEATURES", title=Text("router", "路由器"),
        subject=Subject(Kind.ROUTER, "router", "r1", "198.18.10.1"), aspect="snmp",
        vantage="coordinator", status=Status.PASS, message=Text("up", "运行"),
        measured={"uptime_s": 86400.0, "checked_at": now.isoformat()}, threshold={},
        citation=None, started_at=now, duration_s=0.2,
        check_id="FILTER-FEATURES/r1/router-snmp")
    run = RunRecord(site_name="Guard school", site_code="G-6", profile_id="cbec",
                    certificate=Text("c", "c"), started_at=now, finished_at=now,
                    verdict=Verdict.NOT_READY, results=[result], required=set())
    run_id = ResultsStore(store).save_run(run)
    with sqlite3.connect(store) as db:
        db.execute("UPDATE results SET measured = ? WHERE run_id = ?",
                   (json.dumps(measured), run_id))


@pytest.mark.parametrize("measured, what", [
    ([86400], "measured is a list, not a mapping"),
    ({"uptime_s": {"days": 1}}, "measured.uptime_s is a mapping, not a number of seconds"),
    ({"uptime_s": 86400, "checked_at": 5}, "measured.checked_at is a number, not a time"),
])
def test_the_scheduled_runs_plan_skips_a_malformed_previous_run(
        tmp_path: Path, measured: object, what: str) -> None:
    """plan_run is what every scheduled run (and `check`) calls before it measures."""
    site_path, store = _site(tmp_path), tmp_path / "readiness.sqlite"
    _stored_run_with(store, measured)
    site, profile = load(site_path)
    plan = plan_run(site, profile, select(site, profile, None, ["FILTER-FEATURES"]),
                    store_path=store)
    [warning] = plan.warnings
    assert f"previous run 1 in {store} is skipped" in warning.en and what in warning.en
    assert "第 1 次检查" in warning.zh
    router = next(c for c in plan.checks if c.check_id == "FILTER-FEATURES/r1/router-snmp")
    assert "previous_uptime_s" not in router.params


def test_a_whole_previous_run_is_still_used(tmp_path: Path) -> None:
    site_path, store = _site(tmp_path), tmp_path / "readiness.sqlite"
    _stored_run_with(store, {"uptime_s": 86400, "checked_at": "2026-12-04T12:00:00+00:00"})
    site, profile = load(site_path)
    plan = plan_run(site, profile, select(site, profile, None, ["FILTER-FEATURES"]),
                    store_path=store)
    assert plan.warnings == []
    router = next(c for c in plan.checks if c.check_id == "FILTER-FEATURES/r1/router-snmp")
    assert router.params["previous_uptime_s"] == 86400
    assert router.params["previous_checked_at"] == "2026-12-04T12:00:00+00:00"


def test_a_sweep_with_a_non_mac_is_refused_before_any_check_changes() -> None:
    from datetime import UTC, datetime

    from readiness.previous_run import MalformedRun, previous_facts

    sweep = CheckResult(
        requirement="LAN-SUBNET", title=Text("t", "t"),
        subject=Subject(Kind.ROOM, "r1", "r1"), aspect="arp_sweep", vantage="c",
        status=Status.PASS, message=Text("m", "m"),
        measured={"layer2": True, "hosts": {"198.51.100.101": ["<script>"]}},
        threshold={}, citation=None, started_at=datetime.now(UTC), duration_s=0.1,
        check_id="LAN-SUBNET/r1/l2-sweep")
    with pytest.raises(MalformedRun, match="not a list of MAC addresses"):
        previous_facts([sweep])
    check = Check(check_id="x", requirement="LAN-FIXED-IP",
                  subject=Subject(Kind.ROOM, "r1", "r1"), vantage="c",
                  probe=None, judge_params={"previous_macs": {}})
    from readiness.check_run import apply_previous

    with pytest.raises(MalformedRun):
        apply_previous([check], [sweep])
    assert check.judge_params["previous_macs"] == {}
