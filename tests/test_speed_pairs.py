"""LAN-SPEED in seat pairs, on loopback: seats' agents test each other, both directions
at once; a seat left over is tried against a seat known to be fast; a seat without an
agent is named; the room load is served by the exam server's own agent, no manual step.

Every host is a real agent or server on its own 127.0.0.x address. A slow link cannot
be made on loopback: the lab test (tests/test_lan_speed.py, the 100 Mbit/s seat) covers
naming the slow seat of a pair.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_lan_speed import _site_file

from probes import throughput_serve
from readiness.agent.allow import AllowList
from readiness.agent.server import running as agent_running
from readiness.check_run import execute
from readiness.config.load import load_site
from readiness.config.profile import load_profile
from readiness.planning import Plan, PlanContext, build_plan
from readiness.planning import throughput as plan_tp
from readiness.results import Status

SEATS = "A01-A04: 127.0.0.101-104"  # A01-A03 have agents, A04 has nothing
SERVER = "127.0.0.10"


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@pytest.fixture
def room(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    agent_port = _free_port()
    # the pair ports (port, port + 1) and the load ports must be free on every address
    monkeypatch.setattr(plan_tp, "SEAT_PORT", _free_port())
    monkeypatch.setattr(plan_tp, "LOAD_BASE_PORT", _free_port())
    path = _site_file(tmp_path, agent_port, method="pairs", seats=SEATS)
    site = load_site(path)
    token = site.secret("agent.token")
    assert token is not None
    allow = AllowList.from_site_model(site.model)
    with contextlib.ExitStack() as stack:
        for address in ("127.0.0.101", "127.0.0.102", "127.0.0.103", SERVER):
            stack.enter_context(agent_running(address, agent_port, token, allow))
        yield path


def _run(path: Path) -> dict[str, Any]:
    site = load_site(path)
    plan = build_plan(PlanContext(site, load_profile("cbec")), only={"LAN-SPEED"})
    checks = [c for c in plan.checks if c.probe in ("seat_pairs", "room_load")
              or c.judge == "throughput.pair_seat"]
    record = execute(site, load_profile("cbec"), Plan(checks, [], set()))
    return {r.check_id.split("/", 2)[2]: r for r in record.results}


def test_pairs_plan_one_test_and_a_verdict_per_seat_and_direction(tmp_path: Path) -> None:
    site = load_site(_site_file(tmp_path, 8765, method="pairs", seats=SEATS))
    plan = build_plan(PlanContext(site, load_profile("cbec")), only={"LAN-SPEED"})
    by = {c.check_id: c for c in plan.checks}
    pairs = by["LAN-SPEED/r1/pairs"]
    assert pairs.exclusive and pairs.secrets == {"token": "agent.token"}
    assert "nic:127.0.0.104" in pairs.links and "nic:127.0.0.10" not in pairs.links
    assert by["LAN-SPEED/r1/load"].links >= {"nic:127.0.0.10", "nic:127.0.0.101"}
    assert by["LAN-SPEED/r1/A03/download"].derived
    assert not any(c.probe == "throughput" for c in plan.checks)
    # server: the per-seat test against the exam server, for rooms whose seats are apart
    site = load_site(_site_file(tmp_path, 8765, method="server", seats=SEATS))
    plan = build_plan(PlanContext(site, load_profile("cbec")), only={"LAN-SPEED"})
    assert sum(c.probe == "throughput" for c in plan.checks) == 8


def test_seats_prove_their_links_against_each_other(room: Path) -> None:
    by = _run(room)
    pairs = by["pairs"]
    assert pairs.status == Status.PASS, pairs.message.en
    per_seat = pairs.measured["per_seat"]
    assert per_seat["A01"]["partner"] == "A02" and per_seat["A02"]["partner"] == "A01"
    # A03 is left over: tried against a seat whose pair was fast
    assert per_seat["A03"]["retested"] and per_seat["A03"]["partner"] in ("A01", "A02")
    for seat in ("A01", "A02", "A03"):
        for path in ("upload", "download"):
            r = by[f"{seat}/{path}"]
            assert r.status == Status.PASS, r.message.en
            assert r.measured["throughput_mbps"] > 500
            assert r.vantage == f"agent {seat}"
    assert "from seat A01 to seat A02" in by["A01/upload"].message.en
    assert "from seat A02 to seat A01" in by["A01/download"].message.en
    for path in ("upload", "download"):
        assert by[f"A04/{path}"].status == Status.SKIP
        assert "no agent and no throughput server on A04" in by[f"A04/{path}"].message.en


def test_the_exam_servers_agent_serves_the_room_load(room: Path) -> None:
    # nothing listens on the load ports: the exam server's agent opens them for the test
    by = _run(room)
    load = by["load"]
    assert load.status == Status.PASS, load.message.en
    assert load.measured["concurrent"] == 3 and load.measured["waves"] == 1
    assert load.measured["served_by_agent"] is True
    assert "at once" in load.message.en
    # ...and closes them after
    with socket.socket() as s, pytest.raises(OSError):
        s.settimeout(0.5)
        s.connect((SERVER, plan_tp.LOAD_BASE_PORT))


def test_the_serve_probe_refuses_a_system_port() -> None:
    outcome = asyncio.run(throughput_serve.run({"bind": "127.0.0.1", "ports": [80]}, 2.0))
    assert outcome.status == Status.ERROR and "1024" in outcome.message.en


# -- in a lab room: the two schedules agree -----------------------------------------------


@pytest.mark.lab
def test_pairs_and_the_serial_schedule_give_the_same_verdicts(tmp_path: Path) -> None:
    """A 6-seat room, A03's cable at 100 Mbit/s, no agent on A05: `readiness check` and
    `readiness check --serial` give the same verdict per check, figures of one class, and
    the pairs name A03 (not its partner) as the slow seat."""
    import json
    import statistics
    import subprocess
    import sys

    import yaml

    from readiness.lab import LabSpec, missing_prerequisites, running

    if missing := missing_prerequisites():
        pytest.skip("lab prerequisites missing: " + "; ".join(w for w, _ in missing))
    spec = LabSpec(seats=6, cameras=[], faults=[
        {"kind": "seat_link_rate", "seat": "A03", "rate_mbit": 100},
        {"kind": "no_agent", "seat": "A05"}])
    with running(spec, "rdytp") as lab:
        # the lab's site file lists the drill room's 40 seats: keep the 6 that exist
        site = yaml.safe_load(lab.site_file.read_text())
        site["rooms"][0]["seats"] = {"A01-A06": "198.18.10.101-106"}
        site_file = tmp_path / "site.yaml"
        site_file.write_text(yaml.safe_dump(site, allow_unicode=True))
        docs = {}
        for name, extra in (("new", []), ("serial", ["--serial"])):
            out = tmp_path / f"{name}.json"
            proc = subprocess.run(lab.exec_argv("proctor", [
                sys.executable, "-m", "readiness", "check", str(site_file), "--only",
                "LAN-SPEED", "--json", str(out), "--no-store", "--lang", "en", *extra]),
                capture_output=True, text=True, timeout=300, check=False)
            assert out.exists(), proc.stderr[-2000:]
            docs[name] = {r["id"]: r for r in json.loads(out.read_text())["results"]}
    new, old = docs["new"], docs["serial"]
    seat_ids = [k for k in old if k.endswith(("/upload", "/download"))]
    assert len(seat_ids) == 12
    for k in seat_ids:
        assert new[k]["status"] == old[k]["status"], (k, new[k]["message"], old[k]["message"])
    assert new["LAN-SPEED/lab/A03/upload"]["status"] == "warn"
    assert new["LAN-SPEED/lab/A04/upload"]["status"] == "pass"
    figures = {name: statistics.median(
        d[k]["measured"]["throughput_mbps"] for k in seat_ids
        if "throughput_mbps" in d[k]["measured"] and "/A03/" not in k)
        for name, d in docs.items()}
    # The same class (gigabit, >= 500 Mbit/s) as the verdicts say. Alone on the machine the
    # medians agree within 5 %; in the full suite, three pairs at once on a shared 2-CPU
    # host got less CPU than one pair alone (630 against 953 Mbit/s in a CI run; the
    # lab's seat agents run at nice 5): on a site each pair has its own PCs.
    assert min(figures.values()) >= 500, figures
    for name in ("new", "serial"):
        slow = docs[name]["LAN-SPEED/lab/A03/download"]["measured"]["throughput_mbps"]
        assert 80 <= slow <= 105


# -- WAN-FLOOR shares no link with the room load --------------------------------------------


def test_wan_floor_loads_the_uplink_and_runs_beside_the_room_load(tmp_path: Path) -> None:
    import yaml

    from readiness.links import LinkBoard

    path = _site_file(tmp_path, 8765, method="pairs", seats=SEATS)
    data = yaml.safe_load(path.read_text())
    data["rooms"][0]["wan_endpoints"] = [
        {"name": "speed test", "kind": "librespeed", "url": "http://198.51.100.30/"}]
    data["rooms"][0]["blocked_samples"] = ["http://203.0.113.9/"]
    path.write_text(yaml.safe_dump(data))
    plan = build_plan(PlanContext(load_site(path), load_profile("cbec")),
                      only={"LAN-SPEED", "WAN-FLOOR", "WAN-POLICY"})
    by = {c.check_id: c for c in plan.checks}
    wan, load = by["WAN-FLOOR/r1"], by["LAN-SPEED/r1/load"]
    assert wan.exclusive and "uplink:r1" in wan.links
    assert wan.links.isdisjoint(load.links), (wan.links, load.links)
    # the pairs may test a seat without an agent from here (a stand-in): that loads the
    # coordinator's card, which WAN-FLOOR measured from the room also loads
    assert wan.links & by["LAN-SPEED/r1/pairs"].links == {"nic:coordinator"}
    # the filter audit sends a few requests per seat: it loads nothing, but a full uplink
    # would make a blocked site's unanswered connection look like the router's drop, so
    # the audits keep out of the bandwidth test's way (quiet: beside each other)
    audits = [c for c in plan.checks if c.requirement == "WAN-POLICY"
              and c.probe == "url_filter"]
    assert audits and not any(c.exclusive for c in audits)
    assert all(c.quiet_links == {"uplink:r1"} for c in audits), [c.quiet_links
                                                                 for c in audits]

    async def audits_beside_the_wan_test() -> list[str]:
        board, events = LinkBoard(), []

        async def hold(name: str, links: frozenset[str], quiet: bool) -> None:
            async with board.hold(links, quiet=quiet):
                events.append(f"+{name}")
                await asyncio.sleep(0.05)
                events.append(f"-{name}")

        await asyncio.gather(hold("wan", wan.links, False),
                             *(hold(c.check_id, c.quiet_links, True) for c in audits[:2]))
        return events

    events = asyncio.run(audits_beside_the_wan_test())
    assert events[:2] == ["+wan", "-wan"], events  # the audits wait for the WAN test
    assert events[2].startswith("+") and events[3].startswith("+"), events  # together

    async def overlap(serial: bool) -> bool:
        board, inside = LinkBoard(serial=serial), []

        async def hold(links: frozenset[str]) -> None:
            async with board.hold(links):
                inside.append(len(inside))
                await asyncio.sleep(0.05)
                inside.append(-1)

        await asyncio.gather(hold(wan.links), hold(load.links))
        return inside[:2] == [0, 1]  # the second entered before the first left

    assert asyncio.run(overlap(serial=False))
    assert not asyncio.run(overlap(serial=True))


# -- a bottleneck the pairs share -----------------------------------------------------------


def test_pairs_slowed_by_a_shared_bottleneck_run_again_in_narrower_waves() -> None:
    """A stand-in for the agents (the only stub here, and why: a limit shared by all
    pairs, such as a switch's backplane, cannot be made on loopback; the drill room
    meets it for real on a machine of few CPUs): 3000 Mbit/s shared by the pairs
    running at once, and one pair (A07, A08) slow by itself."""
    import time

    from readiness.agent.seat_pairs import SeatFigures, _pair_waves
    from readiness.checks import AgentRoute

    running: list[int] = []

    class SharedLimit:
        wait_s, good_mbps = 1.0, 500.0

        def fast(self, up: float | None, down: float | None) -> bool:
            return up is not None and down is not None and min(up, down) >= self.good_mbps

        async def pair(self, a: AgentRoute, b: AgentRoute) -> tuple[float, float, str]:
            running.append(1)
            await asyncio.sleep(0.01)
            each = min(940.0, 3000.0 / (2 * len(running)))
            await asyncio.sleep(0.01)
            running.pop()
            return (90.0, 90.0, "") if a.label == "A07" else (each, each, "")

    seats = [AgentRoute(f"A{n:02d}", f"198.18.10.{100 + n}", 8765) for n in range(1, 21)]
    couples = list(zip(seats[::2], seats[1::2], strict=True))
    figures: dict[str, SeatFigures] = {}
    waves, width = asyncio.run(_pair_waves(SharedLimit(), couples, figures,  # type: ignore[arg-type]
                                           time.monotonic() + 60))
    assert waves > 1 and width <= 3, (waves, width)
    fast = [k for k, f in figures.items() if (f.upload_mbps or 0) >= 500]
    assert sorted(set(figures) - set(fast)) == ["A07", "A08"], figures


def test_a_seat_just_under_the_class_beside_other_pairs_is_tried_once_more_alone() -> None:
    """The same stand-in for the agents (a shared limit cannot be made on loopback): A03's
    link carries 450 Mbit/s while any other pair runs and 900 alone (its figure is the
    shared load's); A07's carries 90 whatever runs (a 100M link: never tried alone), A05's
    75 beside others and 94 alone (a 100M link just under that class's floor)."""
    import time

    from readiness.agent.seat_pairs import SeatFigures, _Pairs, _retests
    from readiness.checks import AgentRoute

    running: list[str] = []
    alone_tests: list[str] = []

    class SharedLink(_Pairs):
        def __init__(self) -> None:
            self.wait_s, self.good_mbps, self.floors = 1.0, 500.0, [500.0, 80.0]

        async def pair(self, a: AgentRoute, b: AgentRoute) -> tuple[float, float, str]:
            running.append(a.label)
            await asyncio.sleep(0)  # every pair of the wave has started
            crowded = len(running) > 1
            await asyncio.sleep(0.02)
            running.remove(a.label)
            if not crowded:
                alone_tests.append(a.label)
            if a.label == "A07":
                return 90.0, 90.0, ""
            if a.label == "A03":
                return (450.0, 450.0, "") if crowded else (900.0, 900.0, "")
            if a.label == "A05":
                return (75.0, 75.0, "") if crowded else (94.0, 94.0, "")
            return 940.0, 940.0, ""

    seats = [AgentRoute(f"A{n:02d}", f"198.18.10.{100 + n}", 8765) for n in range(1, 9)]
    figures = {s.label: SeatFigures(940.0, 940.0, "A01") for s in seats}
    # the waves left A03 and A07 slow (and their partners A04 and A08)
    for slow in ("A03", "A04"):
        figures[slow] = SeatFigures(450.0, 450.0, "A04" if slow == "A03" else "A03")
    for slow in ("A07", "A08"):
        figures[slow] = SeatFigures(90.0, 90.0, "A08" if slow == "A07" else "A07")
    figures["A05"] = SeatFigures(75.0, 75.0, "A06")
    rounds = asyncio.run(_retests(SharedLink(), seats, figures, 4, time.monotonic() + 60))
    assert figures["A03"].upload_mbps == 900.0 and figures["A03"].retested, figures["A03"]
    assert figures["A07"].upload_mbps == 90.0
    assert figures["A05"].upload_mbps == 94.0
    # (A08, the fifth suspect, had a wave of its own by the count)
    assert {"A03", "A05"} <= set(alone_tests) and "A07" not in alone_tests, alone_tests
    assert rounds == 4, rounds  # the five suspects four at a time, then A03, A05 alone
