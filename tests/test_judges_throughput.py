"""The LAN-SPEED throughput judges on recorded measurements: one path's link class,
where it was measured from, and the whole room at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from readiness.config.profile import LanSpeedThresholds, load_profile
from readiness.judges.registry import outcome_judges
from readiness.judges.throughput import (
    LoadFigures,
    judge_load,
    judge_pair_seat,
    judge_room_load,
    judge_seat,
    path_verdict,
)
from readiness.planning import thresholds_of
from readiness.results import CheckResult, ProbeOutcome, Status, Text
from readiness.subject import Kind, Subject

CBEC = LanSpeedThresholds(gigabit_class_min_mbps=500, fast_ethernet_class_min_mbps=80,
                          required_class="fast_ethernet", nic_speed_mbps=1000)
EDA = CBEC.model_copy(update={"required_class": "gigabit"})


def test_the_judges_are_registered() -> None:
    judges = outcome_judges()
    assert judges["throughput.seat"] is judge_seat
    assert judges["throughput.room_load"] is judge_room_load


def test_profiles_give_the_thresholds_the_judges_read() -> None:
    for name, required in (("eda", "gigabit"), ("cbec", "fast_ethernet")):
        req = load_profile(name).requirement("LAN-SPEED")
        assert req is not None
        th = thresholds_of(req, LanSpeedThresholds)
        assert th.required_class == required and th.load_min_share_pct > 0


# -- one path ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("mbps", "required", "status"), [
    (940, "gigabit", Status.PASS), (940, "fast_ethernet", Status.PASS),
    (94, "gigabit", Status.FAIL), (94, "fast_ethernet", Status.WARN),
    (50, "fast_ethernet", Status.FAIL), (50, "gigabit", Status.FAIL),
    (500, "gigabit", Status.PASS), (80, "fast_ethernet", Status.WARN),
    (79.9, "fast_ethernet", Status.FAIL),
])
def test_verdict_by_link_class(mbps: float, required: str, status: Status) -> None:
    th = CBEC.model_copy(update={"required_class": required})
    _, got, text, findings = path_verdict(mbps, th, "from a to b", "a→b")
    assert got == status
    assert text.en and text.zh
    # a finding says the class, not the path or the figure: seats a few Mbit/s apart fold
    assert bool(findings) == (status is not Status.PASS)
    assert all("a to b" not in f.what.en and f.action.en and f.action.zh for f in findings)
    assert path_verdict(mbps + 0.05, th, "from c to d", "c→d")[3] == findings


def _measured(mbps: float, reverse: bool = False, **extra: Any) -> dict[str, Any]:
    # as probes/throughput.measurement records it
    return {"throughput_mbps": mbps, "sender_mbps": mbps + 1, "direction":
            "reverse" if reverse else "forward", "retransmits": 0, "bytes": 1, "seconds": 1.0,
            "duration_s": 1, "omit_s": 0, "parallel": 1, "server": "198.18.10.10:5201",
            **extra}


def _seat(outcome: ProbeOutcome, th: LanSpeedThresholds = CBEC, path: str = "seat_to_server"
          ) -> ProbeOutcome:
    return judge_seat(outcome, {"thresholds": th, "seat": "A07", "path": path})


def test_a_seat_measured_by_its_agent_is_named() -> None:
    measured = ProbeOutcome(Status.PASS, Text("957 Mbit/s from this computer to 198.18.10.10",
                                              "本机→198.18.10.10 实测 957 Mbit/s"),
                            _measured(957.0, agent="A07"))
    judged = _seat(measured)
    assert judged.status == Status.PASS
    assert judged.message.en == ("957 Mbit/s from seat A07 to 198.18.10.10: gigabit class "
                                 "(>= 500 Mbit/s)")
    assert "考位 A07→198.18.10.10" in judged.message.zh
    m = judged.measured
    assert (m["seat"], m["path"], m["vantage"], m["link_class"]) == (
        "A07", "seat_to_server", "agent", "gigabit")


def test_a_100m_seat_warns_cbec_and_fails_eda() -> None:
    outcome = ProbeOutcome(Status.PASS, Text("94", "94"), _measured(94.2, reverse=True))
    cbec = _seat(outcome, CBEC, "server_to_seat")
    assert cbec.status == Status.WARN and "100M class" in cbec.message.en
    assert cbec.message.en.startswith("94 Mbit/s from 198.18.10.10 to seat A07")
    eda = _seat(outcome, EDA, "server_to_seat")
    assert eda.status == Status.FAIL and "needs a gigabit LAN" in eda.message.en


def test_a_figure_judged_by_an_older_agent_is_judged_again() -> None:
    # an agent of an older readiness judged with its own defaults: the figure counts
    old = ProbeOutcome(Status.FAIL, Text("94 Mbit/s ...", "94 Mbit/s ..."), _measured(94.0))
    assert _seat(old, CBEC).status == Status.WARN


def test_stand_in_from_the_coordinator_says_so() -> None:
    outcome = ProbeOutcome(Status.PASS, Text("x", "x"), _measured(
        940.0, reverse=True, server="198.18.10.107:5201", agent="absent",
        agent_reason="nothing listens", stand_in=True), ran_from="coordinator")
    judged = _seat(outcome)
    assert judged.status == Status.PASS
    assert judged.message.en.startswith(
        "A07 has no agent; measured from the coordinator against its throughput server: "
        "940 Mbit/s from 198.18.10.107 to the coordinator")
    assert judged.message.zh.startswith("A07 无代理；改由协调机")
    assert judged.measured["vantage"] == "coordinator"


def test_a_stand_in_that_found_an_mtu_black_hole_names_it_in_both_directions() -> None:
    """The seat pairs check measured an agent-less seat from the coordinator: its first
    test stalled and the DF echoes found the size (readiness/agent/seat_pairs.py runs no
    second test then), so neither direction has a figure; both name the size."""
    size = {"largest_ok": 1200, "smallest_lost": 1208, "by": "DF echoes"}
    figures = {"A15": {"upload_mbps": 0.0, "download_mbps": None, "partner": "coordinator",
                       "vantage": "coordinator", "retested": False,
                       "problem": "0 Mbit/s from 198.18.10.115 to this computer",
                       "path_mtu": size}}
    now = datetime(2026, 12, 7, tzinfo=UTC)
    source = CheckResult("LAN-SPEED", Text("t", "t"), Subject(Kind.ROOM, "lab", "lab"),
                         "coordinator", Status.PASS, Text("pairs", "pairs"),
                         {"per_seat": figures}, {}, None, now, 1.0, "LAN-SPEED/lab/pairs")
    for path in ("upload", "download"):
        judged = judge_pair_seat([source], {
            "source": "LAN-SPEED/lab/pairs", "seat": "A15", "path": path, "thresholds": CBEC,
            "address": "198.18.10.115", "port": 5201})
        assert judged.status == Status.FAIL, (path, judged.message.en)
        assert "MTU black hole" in judged.message.en and "1200 bytes" in judged.message.en
        assert "duplex" not in judged.message.en
        assert [f.code for f in judged.findings] == ["throughput.mtu_black_hole"]


def test_no_agent_and_no_server_is_a_skip_naming_both() -> None:
    refused = ProbeOutcome(Status.ERROR, Text(
        "cannot reach the iperf3 server at 198.18.10.107:5201 (connection refused): start "
        "`readiness throughput-server` ...", "无法连接 ..."),
        {"server": "198.18.10.107:5201", "direction": "reverse", "no_server": True,
         "agent": "absent", "agent_reason": "nothing listens", "stand_in": True})
    judged = _seat(refused)
    assert judged.status == Status.SKIP
    assert judged.message.en == (
        "no agent and no throughput server on A07: start `readiness agent` or "
        "`readiness throughput-server` on that PC")
    assert "readiness throughput-server" in judged.message.zh


def test_other_errors_are_passed_on_with_the_seat_named() -> None:
    busy = ProbeOutcome(Status.ERROR, Text("the iperf3 server at 198.18.10.10:5201 is busy",
                                           "忙"), {"server": "198.18.10.10:5201"})
    judged = _seat(busy)
    assert judged.status == Status.ERROR and "busy" in judged.message.en
    assert judged.measured["seat"] == "A07"
    # an error of the stand-in that is not "no server there" stays an error
    other = ProbeOutcome(Status.ERROR, Text("deadline too short", "时限不足"),
                         {"stand_in": True})
    assert _seat(other).status == Status.ERROR


# -- the whole room at once --------------------------------------------------------------------


def _load(per_seat: dict[str, float], missing: dict[str, str] | None = None,
          concurrent: int | None = None, waves: int = 1) -> LoadFigures:
    return LoadFigures(per_seat, missing or {}, sum(per_seat.values()),
                       concurrent or len(per_seat), waves)


def test_room_load_judges_the_aggregate_and_names_the_slowest() -> None:
    figures = _load({"A01": 500.0, "A02": 95.0, "A03": 350.0})
    outcome = judge_load(figures, CBEC, "198.18.10.10", 5301)
    assert outcome.status == Status.PASS
    m = outcome.measured
    assert m["aggregate_mbps"] == 945 and m["seats"] == 3 and m["fair_share_mbps"] == 315
    assert m["slowest"][0] == {"seat": "A02", "mbps": 95.0}
    assert "slowest: A02 95" in outcome.message.en and "最慢：A02 95" in outcome.message.zh


def test_room_load_below_gigabit_fails_eda_and_warns_cbec() -> None:
    figures = _load({"A01": 47.0, "A02": 47.0})
    assert judge_load(figures, CBEC, "s", 5301).status == Status.WARN
    assert judge_load(figures, EDA, "s", 5301).status == Status.FAIL
    assert judge_load(_load({"A01": 30.0}), CBEC, "s", 5301).status == Status.FAIL


def test_room_load_warns_for_a_starved_seat_waves_and_missing_seats() -> None:
    starved = judge_load(_load({"A01": 900.0, "A02": 1.0}), CBEC, "s", 5301)
    assert starved.status == Status.WARN and starved.measured["below_share"] == ["A02"]
    assert "starved under load" in starved.message.en
    waves = judge_load(_load({"A01": 900.0, "A02": 900.0}, concurrent=1, waves=2),
                       CBEC, "s", 5301)
    assert waves.status == Status.WARN and "--ports 5301-5302" in waves.message.en
    missing = judge_load(_load({"A01": 900.0}, {"A02": "busy"}), CBEC, "s", 5301)
    assert missing.status == Status.WARN and "not measured: A02" in missing.message.en
    none = judge_load(_load({}, {"A01": "refused"}), CBEC, "s", 5301)
    assert none.status == Status.ERROR


def test_the_room_load_probe_figures_are_judged_and_a_skip_passes_through() -> None:
    params = {"thresholds": CBEC, "load_base_port": 5301}
    figures = ProbeOutcome(Status.PASS, Text("2 seats measured", "2"), {
        "per_seat": {"A01": 470.0, "A02": 468.3}, "not_measured": {}, "aggregate_mbps": 938.3,
        "concurrent": 2, "waves": 1, "server": "198.18.10.10", "without_agent": ["A03"]})
    judged = judge_room_load(figures, params)
    assert judged.status == Status.PASS
    assert judged.measured["without_agent"] == ["A03"]
    assert judged.measured["slowest"][0] == {"seat": "A02", "mbps": 468.3}
    assert "2 seats sent to the exam server 198.18.10.10 at once" in judged.message.en
    skipped = ProbeOutcome(Status.SKIP, Text("no seat agent answers", "无"), {"seats": 0})
    assert judge_room_load(skipped, params) is skipped
