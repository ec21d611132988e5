"""LAN-SPEED by measurement: each seat against the exam server in both directions (by
its agent, or from the coordinator against the seat's own throughput server), and the
room load test (every seat at once, one port each of the multi-port server).

The loopback tests run anywhere; the lab tests build a 3-seat room and run the real
`readiness check --only LAN-SPEED` from the proctor PC.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from probes.engines.iperf3_client import Iperf3Busy, run_test
from probes.engines.iperf3_server import Iperf3Server, parse_ports
from readiness.agent.allow import AllowList
from readiness.agent.room_load import load_deadline
from readiness.agent.server import default_registry
from readiness.agent.server import running as agent_running
from readiness.check_run import execute
from readiness.config.load import load_site
from readiness.config.profile import THRESHOLD_MODELS, load_profile
from readiness.lab import LabSpec, missing_prerequisites, running
from readiness.planning import PLANNERS, Plan, PlanContext, build_plan
from readiness.planning import throughput as plan_tp
from readiness.results import CheckResult, Status

REPO = Path(__file__).resolve().parent.parent
TOKEN = "e2AeG9PlyWFxubxy1_dLcafhnW_p_9lHZUowh1CcJq4"  # 256 bits: validate refuses less


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# -- the multi-port server -----------------------------------------------------------------


def test_port_lists() -> None:
    assert parse_ports("5201") == [5201]
    assert parse_ports("5301-5303") == [5301, 5302, 5303]
    assert parse_ports("5201, 5301-5302,5201") == [5201, 5301, 5302]
    for bad in ("x", "5302-5301", "0", "5201-", "1-65535"):
        with pytest.raises(ValueError):
            parse_ports(bad)


def _wait_listening(host: str, ports: list[int], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    for port in ports:
        while True:
            with socket.socket() as s:
                if s.connect_ex((host, port)) == 0:
                    break
            assert time.monotonic() < deadline, f"nothing listens on {host}:{port}"
            time.sleep(0.1)


def test_one_process_serves_a_test_on_each_port_at_once() -> None:
    base = _free_port()
    ports = [base, base + 1, base + 2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "readiness.commands.throughput_server", "--bind", "127.0.0.1",
         "--ports", f"{base}-{base + 2}"], cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        _wait_listening("127.0.0.1", ports)

        async def three() -> list[Any]:
            return await asyncio.gather(*(run_test("127.0.0.1", p, duration_s=1)
                                          for p in ports))

        results = asyncio.run(three())
        # stock iperf3 (one test at a time) would refuse two of these as busy
        assert all(r.throughput_mbps > 100 for r in results)
    finally:
        proc.terminate()
        proc.wait(10)


def test_two_tests_on_one_port_still_refuse_the_second() -> None:
    with Iperf3Server("127.0.0.1", 0) as server:

        async def two() -> list[Any]:
            return await asyncio.gather(
                run_test("127.0.0.1", server.port, duration_s=2),
                run_test("127.0.0.1", server.port, duration_s=1), return_exceptions=True)

        first, second = asyncio.run(two())
    assert isinstance(second, Iperf3Busy) or isinstance(first, Iperf3Busy)


def test_a_taken_port_is_named_and_nothing_serves(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "readiness.commands.throughput_server", "--bind", "127.0.0.1",
             "--ports", f"{port - 1}-{port}"], cwd=REPO, capture_output=True, text=True,
            timeout=20)
    assert proc.returncode == 2
    assert f"port {port}" in proc.stderr


def test_port_and_ports_do_not_mix() -> None:
    proc = subprocess.run([sys.executable, "-m", "readiness.commands.throughput_server",
                           "--port", "5201", "--ports", "5301-5302"], cwd=REPO,
                          capture_output=True, text=True,
                          timeout=20)
    assert proc.returncode == 2 and "not allowed with" in proc.stderr


# -- profile keys and the load rule ------------------------------------------------------------


def test_profiles_carry_the_test_lengths() -> None:
    for name in ("eda", "cbec"):
        th = load_profile(name).requirement("LAN-SPEED").thresholds  # type: ignore[union-attr]
        assert th["duration_s"] == 1 and th["omit_s"] == 0
        assert th["load_duration_s"] >= 1 and 0 < th["load_min_share_pct"] < 100
    model = THRESHOLD_MODELS["LAN-SPEED"]
    base = {"gigabit_class_min_mbps": 500, "fast_ethernet_class_min_mbps": 80,
            "required_class": "gigabit", "nic_speed_mbps": 1000}
    assert model.model_validate(base).model_dump()["duration_s"] == 1
    for bad in ({"duration_s": 0}, {"duration_s": 1.5}, {"omit_s": -1},
                {"load_min_share_pct": 150}):
        with pytest.raises(ValueError):
            model.model_validate({**base, **bad})


def test_a_quick_error_is_tried_once_more_a_slow_one_is_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A seat route with retry_quick_error: stock iperf3 refuses a test that follows
    another at once, which cannot be timed for real here; the agent is real, its probe
    is a stand-in that fails the first time (quickly or slowly), and the test says so."""
    from readiness.agent import remote as remote_mod
    from readiness.agent.remote import AgentRemote
    from readiness.checkkind import SEAT, CheckKind
    from readiness.checks import AgentRoute
    from readiness.redact import Secret
    from readiness.results import ProbeOutcome, Text

    monkeypatch.setattr(remote_mod, "RETRY_PAUSE_S", 0.01)
    monkeypatch.setattr(remote_mod, "QUICK_ERROR_S", 0.2)
    token = Secret(TOKEN, "secret:agent_token")
    calls: list[float] = []

    def flaky(first_takes_s: float) -> CheckKind:
        async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
            calls.append(deadline_s)
            if len(calls) == 1:
                await asyncio.sleep(first_takes_s)
                return ProbeOutcome(Status.ERROR, Text("busy", "忙"))
            return ProbeOutcome(Status.PASS, Text("957 Mbit/s", "957 Mbit/s"),
                                {"throughput_mbps": 957.0})
        return CheckKind("throughput", run, (), runs_on=frozenset({SEAT}))

    def attempts(first_takes_s: float, deadline_s: float, retry: bool = True
                 ) -> tuple[Status, int]:
        calls.clear()
        with agent_running("127.0.0.1", 0, token, AllowList.of(["127.0.0.0/8"]),
                           registry={"throughput": flaky(first_takes_s)}) as agent:
            route = AgentRoute("A01", "127.0.0.1", agent.port, retry_quick_error=retry)
            remote = AgentRemote(token, local=None,  # type: ignore[arg-type]
                                 own_addresses=lambda: set())
            outcome = asyncio.run(remote.run(route, "throughput", {}, deadline_s))
        return outcome.status, len(calls)

    # refused at once, fine a moment later: the second answer counts
    assert attempts(0.0, 5.0) == (Status.PASS, 2)
    # an error after a real attempt is the answer
    assert attempts(0.3, 5.0) == (Status.ERROR, 1)
    # a route without the retry keeps the first answer
    assert attempts(0.0, 5.0, retry=False) == (Status.ERROR, 1)


# -- the planners, run on loopback ---------------------------------------------------------


def _site_file(tmp_path: Path, agent_port: int, profile: str = "cbec",
               with_token: bool = True, method: str = "server",
               seats: str = "A01-A02: 127.0.0.101-102") -> Path:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"agent_token: {TOKEN}\n")
    secrets.chmod(0o600)
    site = {
        "site": {"name": "LAN speed test", "code": "T-LS"}, "profile": profile,
        "secrets_file": str(secrets),
        "agent": {"port": agent_port, **({"token": "secret:agent_token"} if with_token
                                         else {})},
        "rooms": [{"id": "r1", "subnet": "127.0.0.0/24",
                   "router": {"address": "127.0.0.1"},
                   "exam_servers": {"primary": {"address": "127.0.0.10"}},
                   "proctor": {"address": "127.0.0.2"},
                   "lan_speed": {"method": method},
                   "seats": dict([seats.split(": ")])}]}
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    return path


def test_lan_speed_planners_are_registered() -> None:
    names = [p.__name__ for p in PLANNERS["LAN-SPEED"]]
    assert names[:1] == ["plan_nic_speed"]
    assert {"plan_seat_throughput", "plan_room_load"} <= set(names)
    assert default_registry()["throughput"].exclusive


def test_every_test_is_exclusive_short_and_carries_no_token(tmp_path: Path) -> None:
    site = load_site(_site_file(tmp_path, 8765))
    plan = build_plan(PlanContext(site, load_profile("cbec")), only={"LAN-SPEED"})
    tests = [c for c in plan.checks if c.probe in ("throughput", "room_load")]
    assert sorted(c.check_id for c in tests) == [
        "LAN-SPEED/r1/A01/download", "LAN-SPEED/r1/A01/upload",
        "LAN-SPEED/r1/A02/download", "LAN-SPEED/r1/A02/upload", "LAN-SPEED/r1/load"]
    for check in tests:
        assert check.exclusive and check.judge is not None
        assert TOKEN not in json.dumps(check.params)
        # declarative: what runs where is data an agent could be sent
        json.dumps(check.params)
    upload = next(c for c in tests if c.check_id.endswith("A01/upload"))
    assert upload.params["reverse"] is False and upload.params["duration_s"] == 1
    assert upload.vantage == "agent A01"
    assert upload.agent is not None and upload.agent.when_absent == "coordinator"
    # no agent: the seat's own server sends in the seat's upload (a reverse test from here)
    assert upload.agent.fallback_params is not None
    assert upload.agent.fallback_params["host"] == "127.0.0.101"
    assert upload.agent.fallback_params["reverse"] is True
    assert upload.deadline_s == plan_tp.seat_deadline(upload.params) < 15
    load = next(c for c in tests if c.check_id.endswith("/load"))
    assert load.secrets == {"token": "agent.token"}
    assert load.deadline_s == load_deadline(2, 2, plan_tp.LOAD_OMIT_S, plan_tp.CONNECT_TIMEOUT_S)


@pytest.fixture
def loopback_room(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                  ) -> Iterator[tuple[Path, list[Iperf3Server]]]:
    """An exam server on 127.0.0.10 (one per-seat port, one room-load port) and A01's
    agent on 127.0.0.101; A02 (127.0.0.102) has nothing."""
    seat_port, load_port, agent_port = _free_port(), _free_port(), _free_port()
    monkeypatch.setattr(plan_tp, "SEAT_PORT", seat_port)
    monkeypatch.setattr(plan_tp, "LOAD_BASE_PORT", load_port)
    path = _site_file(tmp_path, agent_port)
    site = load_site(path)
    token = site.secret("agent.token")
    assert token is not None
    servers = [Iperf3Server("127.0.0.10", seat_port).start(),
               Iperf3Server("127.0.0.10", load_port).start()]
    try:
        with agent_running("127.0.0.101", agent_port, token,
                           AllowList.from_site_model(site.model)):
            yield path, servers
    finally:
        for server in servers:
            server.shutdown()


def _run(path: Path, profile: str = "cbec") -> dict[str, CheckResult]:
    """The throughput checks of the plan, run as `readiness check` runs them."""
    site = load_site(path)
    plan = build_plan(PlanContext(site, load_profile(profile)), only={"LAN-SPEED"})
    tests = [c for c in plan.checks if c.probe in ("throughput", "room_load")]
    record = execute(site, load_profile(profile), Plan(tests, [], set()))
    return {r.check_id.split("/", 2)[2]: r for r in record.results}


def test_seat_by_its_agent_then_a_seat_with_nothing(loopback_room: Any) -> None:
    path, _ = loopback_room
    by = _run(path)
    for direction in ("upload", "download"):
        r = by[f"A01/{direction}"]
        assert r.status == Status.PASS, r.message.en
        assert r.vantage == "agent A01" and r.measured["vantage"] == "agent"
        assert r.measured["throughput_mbps"] > 500
        assert "seat A01" in r.message.en and "this computer" not in r.message.en
        skipped = by[f"A02/{direction}"]
        assert skipped.status == Status.SKIP, skipped.message.en
        assert skipped.vantage == "coordinator"
        assert skipped.message.en == (
            "no agent and no throughput server on A02: start `readiness agent` or "
            "`readiness throughput-server` on that PC")
    assert by["A01/upload"].measured["path"] == "seat_to_server"
    assert by["A01/download"].measured["direction"] == "reverse"
    load = by["load"]
    assert load.status == Status.PASS, load.message.en
    assert load.measured["seats"] == 1 and load.measured["without_agent"] == ["A02"]
    assert load.measured["slowest"][0]["seat"] == "A01"


def test_a_seat_without_agent_is_measured_from_the_coordinator(loopback_room: Any) -> None:
    path, _ = loopback_room
    with Iperf3Server("127.0.0.102", plan_tp.SEAT_PORT):
        by = _run(path)
    for direction, reverse in (("upload", True), ("download", False)):
        r = by[f"A02/{direction}"]
        assert r.status == Status.PASS, r.message.en
        assert r.vantage == "coordinator" and r.measured["vantage"] == "coordinator"
        # the seat sends in its upload: from the coordinator that is a reverse test
        assert r.measured["direction"] == ("reverse" if reverse else "forward")
        assert "measured from the coordinator" in r.message.en


def test_room_load_without_load_ports_goes_one_seat_at_a_time(
        loopback_room: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = loopback_room
    monkeypatch.setattr(plan_tp, "LOAD_BASE_PORT", _free_port())
    by = _run(path)
    load = by["load"]
    # one seat with an agent: one wave on the per-seat port, still a full measurement
    assert load.status == Status.PASS and load.measured["concurrent"] == 1
    assert load.measured["aggregate_mbps"] > 500


def test_without_a_token_seats_are_tried_from_the_coordinator(tmp_path: Path) -> None:
    site = load_site(_site_file(tmp_path, _free_port(), with_token=False))
    plan = build_plan(PlanContext(site, load_profile("cbec")), only={"LAN-SPEED"})
    tests = [c for c in plan.checks if c.probe in ("throughput", "room_load")]
    assert all(c.vantage == "coordinator" for c in tests)
    load = next(c for c in tests if c.check_id.endswith("/load"))
    assert load.secrets == {}
    record = execute(site, load_profile("cbec"), Plan([load], [], set()))
    (result,) = record.results
    assert result.status == Status.SKIP and "agent.token" in result.message.en


# -- in the lab room -------------------------------------------------------------------------

PREFIX = f"rdyt{os.getpid()}s"


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path, str]]:
    if os.geteuid() != 0:
        pytest.skip("builds network namespaces: run as root")
    if missing_prerequisites():
        pytest.skip("lab prerequisites missing: " + "; ".join(w for w, _ in
                                                               missing_prerequisites()))
    spec = LabSpec(seats=3, cameras=[], faults=[
        {"kind": "seat_link_rate", "seat": "A02", "rate_mbit": 100},
        {"kind": "no_agent", "seat": "A03"}])
    with running(spec, PREFIX) as lab:
        site = yaml.safe_load(lab.site_file.read_text())
        site["rooms"][0]["seats"] = {"A01-A03": "198.18.10.101-103"}
        # these tests are of the per-seat test against the exam server (not seat pairs)
        site["rooms"][0]["lan_speed"] = {"method": "server"}
        folder = tmp_path_factory.mktemp("lan_speed")
        path = folder / "site.yaml"
        path.write_text(yaml.safe_dump(site, allow_unicode=True))
        token = yaml.safe_load(lab.secrets_file.read_text())["agent_token"]
        yield lab, path, token


def _profile_copy(site: Path, profile: str) -> Path:
    data = yaml.safe_load(site.read_text())
    data["profile"] = profile
    path = site.with_name(f"site-{profile}.yaml")
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def _check(lab: Any, site: Path, out: Path, token: str) -> dict[str, dict[str, Any]]:
    proc = subprocess.run(
        lab.exec_argv("proctor", [sys.executable, "-m", "readiness", "check", str(site),
                                  "--only", "LAN-SPEED", "--json", str(out), "--no-store",
                                  "--lang", "en", "-v"]),
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.exists(), proc.stderr
    for text in (proc.stdout, proc.stderr, out.read_text()):
        assert token not in text
    doc = json.loads(out.read_text())
    return {r["id"].split("/", 2)[2]: r for r in doc["results"]
            if r["id"].startswith("LAN-SPEED/lab/")}


@pytest.mark.lab
def test_cbec_gigabit_seats_pass_and_the_100m_seat_warns(room: Any, tmp_path: Path) -> None:
    lab, site, token = room
    by = _check(lab, site, tmp_path / "r.json", token)
    for direction in ("upload", "download"):
        healthy = by[f"A01/{direction}"]
        assert healthy["status"] == "pass" and healthy["vantage"] == "agent A01"
        assert 850 < healthy["measured"]["throughput_mbps"] < 1000
        slow = by[f"A02/{direction}"]
        assert slow["status"] == "warn" and slow["vantage"] == "agent A02"
        assert 80 < slow["measured"]["throughput_mbps"] < 105
        assert "100M class" in slow["message"]
        absent = by[f"A03/{direction}"]
        assert absent["status"] == "skip" and "no agent and no throughput server on A03" \
            in absent["message"]
    load = by["load"]
    m = load["measured"]
    assert m["seats"] == 2 and m["concurrent"] == 2 and m["without_agent"] == ["A03"]
    assert 850 < m["aggregate_mbps"] < 1050
    assert m["slowest"][0]["seat"] == "A02" and "slowest: A02" in load["message"]
    assert load["status"] == "pass"


@pytest.mark.lab
def test_eda_fails_the_100m_seat(room: Any, tmp_path: Path) -> None:
    lab, site, token = room
    by = _check(lab, _profile_copy(site, "eda"), tmp_path / "r.json", token)
    for direction in ("upload", "download"):
        assert by[f"A01/{direction}"]["status"] == "pass"
        slow = by[f"A02/{direction}"]
        assert slow["status"] == "fail" and "needs a gigabit LAN" in slow["message"]
    assert by["load"]["status"] == "pass"


@pytest.mark.lab
def test_a_seat_without_agent_but_with_a_throughput_server(room: Any, tmp_path: Path) -> None:
    lab, site, token = room
    server = subprocess.Popen(
        lab.exec_argv("seat-A03", [sys.executable, "-m", "readiness.commands.throughput_server",
                                   "--bind", "198.18.10.103"]),
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while subprocess.run(lab.exec_argv("seat-A03", ["ss", "-Htln", "sport", "= :5201"]),
                             capture_output=True, text=True).stdout.strip() == "":
            assert time.monotonic() < deadline and server.poll() is None
            time.sleep(0.1)
        by = _check(lab, site, tmp_path / "r.json", token)
    finally:
        server.terminate()
        server.wait(10)
    for direction in ("upload", "download"):
        r = by[f"A03/{direction}"]
        assert r["status"] == "pass" and r["vantage"] == "coordinator"
        assert 850 < r["measured"]["throughput_mbps"] < 1000
        assert "measured from the coordinator" in r["message"]
