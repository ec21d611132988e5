"""LAN-SUBNET and LAN-SEATS verdicts (readiness/judges/lan.py) on recorded measurements,
with the thresholds of the shipped profiles, and the planner wiring that feeds them."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from readiness.config.profile import (
    LanSeatsThresholds,
    LanSubnetThresholds,
    load_profile,
)
from readiness.judges import lan
from readiness.judges.registry import outcome_judges, results_judges
from readiness.planning import thresholds_of
from readiness.results import CheckResult, ProbeOutcome, Status, Text
from readiness.subject import Kind, Subject


def _profile_thresholds(model: Any, req_id: str, profile: str = "eda") -> Any:
    req = load_profile(profile).requirement(req_id)
    assert req is not None
    return thresholds_of(req, model)


EDA_SUBNET: LanSubnetThresholds = _profile_thresholds(LanSubnetThresholds, "LAN-SUBNET")
EDA_SEATS: LanSeatsThresholds = _profile_thresholds(LanSeatsThresholds, "LAN-SEATS")


def test_every_lan_judge_is_registered_by_its_name() -> None:
    assert {"lan.subnet", "lan.reachability"} <= set(outcome_judges())
    assert "lan.count_seats" in results_judges()


# ---------------------------------------------------------------- subnet arithmetic


def _subnet(inside: bool) -> ProbeOutcome:
    address = "198.18.10.2" if inside else "198.18.20.10"
    return ProbeOutcome(Status.PASS, Text("measured", "已测量"),
                        {"address": address, "subnet": "198.18.10.0/24", "same_subnet": inside})


PROCTOR = {"role_en": "proctor", "role_zh": "监考机"}


def test_a_host_in_the_subnet_passes() -> None:
    out = lan.judge_subnet(_subnet(True), {"must_be_same": True, **PROCTOR})
    assert out.status == Status.PASS
    assert out.message.en == "proctor 198.18.10.2 is in the candidates' subnet 198.18.10.0/24"


def test_outside_the_subnet_fails_only_where_the_certificate_requires_it() -> None:
    out = lan.judge_subnet(_subnet(False), {"must_be_same": True, **PROCTOR})
    assert out.status == Status.FAIL
    assert "give it an address in 198.18.10.0/24" in out.message.en
    assert "不在考生机网段" in out.message.zh
    allowed = lan.judge_subnet(_subnet(False), {"must_be_same": False, **PROCTOR})
    assert allowed.status == Status.PASS and "allows it" in allowed.message.en


def test_a_probe_that_could_not_measure_is_passed_on_unjudged() -> None:
    bad = ProbeOutcome(Status.ERROR, Text("bad subnet parameters", "参数错误"))
    assert lan.judge_subnet(bad, {"must_be_same": True, **PROCTOR}) is bad
    assert lan.judge_reachability(bad, {"thresholds": EDA_SUBNET}) is bad


# ---------------------------------------------------------------- reachability


def _pings(received: int, rtt_ms: float = 0.31, ports: dict[str, str] | None = None,
           count: int = 10, no_route: bool = False,
           status: Status = Status.PASS) -> ProbeOutcome:
    """A measurement as probes/reachability.py records it."""
    return ProbeOutcome(status, Text("measured", "已测量"), {
        "sent": count, "received": received, "loss_pct": 100.0 * (count - received) / count,
        "rtt_min_ms": rtt_ms if received else None, "rtt_avg_ms": rtt_ms if received else None,
        "rtt_max_ms": rtt_ms if received else None, "ports": ports or {}, "interval_s": 0.1,
        "icmp_socket": "raw", "address": "198.18.10.113", "count": count,
        "no_route": no_route, "port_timeout_s": 2.0})


def _judge(outcome: ProbeOutcome, th: LanSubnetThresholds = EDA_SUBNET) -> ProbeOutcome:
    return lan.judge_reachability(outcome, {"thresholds": th})


def test_a_host_answering_every_ping_passes_and_shows_its_figures_only() -> None:
    out = _judge(_pings(10, ports={"80": "open"}))
    assert out.status == Status.PASS
    assert out.message.en == ("198.18.10.113 answers 10/10 pings, 0.31 ms on average; "
                              "port 80 open")
    # the judge's working figures stay out of the record, the measurements stay in
    assert not {"count", "no_route", "port_timeout_s"} & set(out.measured)
    assert out.measured["received"] == 10 and out.measured["ports"] == {"80": "open"}


@pytest.mark.parametrize(("received", "expected"), [
    (9, Status.WARN),   # 10 % lost: above the profile's warn 0, not above its fail 20
    (8, Status.WARN),   # 20 % is not above 20
    (7, Status.FAIL),   # 30 %
])
def test_loss_against_the_profiles_thresholds(received: int, expected: Status) -> None:
    # the profiles say 20 %: the old in-code default of 50 % no longer decides anything
    assert EDA_SUBNET.fail_loss_pct == 20
    out = _judge(_pings(received))
    assert out.status == expected
    assert f"lost {10 - received} of 10 pings" in out.message.en


def test_a_slow_host_warns_with_the_limit() -> None:
    out = _judge(_pings(10, rtt_ms=6.0))
    assert out.status == Status.WARN
    assert "6.0 ms on average, limit 5 ms" in out.message.en and "响应慢" in out.message.zh


def test_no_answer_and_no_route_are_told_apart() -> None:
    silent = _judge(_pings(0))
    assert silent.status == Status.FAIL and "switched on" in silent.message.en
    no_route = _judge(_pings(0, no_route=True))
    assert no_route.status == Status.FAIL and "no route" in no_route.message.en
    assert "网关" in no_route.message.zh


def test_ping_blocked_warns_when_a_port_answers_and_a_refused_port_fails() -> None:
    out = _judge(_pings(0, ports={"80": "refused"}))
    # the refusal proves the host is there (warn on ICMP), and the port itself fails
    assert out.status == Status.FAIL
    assert out.message.en.startswith("port 80 refused on 198.18.10.113")
    assert "drops ping" in out.message.en
    assert _judge(_pings(0, ports={"80": "open"})).status == Status.WARN


def test_without_icmp_rights_the_ports_are_still_judged() -> None:
    no_icmp = Text("cannot ping from this computer: needs CAP_NET_RAW", "本机无法发送 ping")
    measured = {**_pings(0).measured, "sent": 0, "loss_pct": None}
    open_port = ProbeOutcome(Status.ERROR, no_icmp, {**measured, "ports": {"80": "open"}})
    out = _judge(open_port)
    assert out.status == Status.ERROR and out.message.en == no_icmp.en
    closed = ProbeOutcome(Status.ERROR, no_icmp, {**measured, "ports": {"80": "timeout"}})
    out = _judge(closed)
    assert out.status == Status.FAIL
    assert "did not answer within 2.0 s" in out.message.en and no_icmp.en in out.message.en


# ---------------------------------------------------------------- LAN-SEATS


def _reach(label: str, status: Status, room: str = "r1") -> CheckResult:
    return CheckResult("LAN-SUBNET", Text("t", "t"), Subject(Kind.SEAT, label, room),
                       "coordinator", status, Text("r", "r"), {}, {}, None,
                       datetime.now(UTC), 0.1, f"LAN-SUBNET/{room}/{label}/reach")


def _room(working: int, errors: int = 0, failing: int = 0) -> tuple[list[CheckResult],
                                                                   dict[str, Any]]:
    statuses = [Status.PASS] * working + [Status.ERROR] * errors + [Status.FAIL] * failing
    labels = [f"A{i:02d}" for i in range(1, len(statuses) + 1)]
    results = [_reach(label, s) for label, s in zip(labels, statuses, strict=True)]
    return results, {"room": "r1", "seats": labels, "thresholds": EDA_SEATS}


@pytest.mark.parametrize(("working", "errors", "failing", "expected"), [
    (45, 0, 0, Status.PASS),
    (42, 0, 3, Status.WARN),    # the minimum 40, not the recommended 45
    (38, 4, 3, Status.ERROR),   # could reach 40 if the unchecked seats work
    (38, 0, 7, Status.FAIL),
])
def test_seats_are_counted_against_the_profile(working: int, errors: int, failing: int,
                                               expected: Status) -> None:
    assert (EDA_SEATS.min_seats, EDA_SEATS.recommended_seats) == (40, 45)
    results, params = _room(working, errors, failing)
    out = lan.count_seats(results, params)
    assert out.status == expected
    assert out.measured == {"working_seats": working,
                            "configured_seats": working + errors + failing}


def test_only_this_rooms_seats_and_lan_subnet_results_count() -> None:
    results, params = _room(40)
    stranger = _reach("Z01", Status.PASS)
    other_room = _reach("A01", Status.PASS, room="r2")
    other_rule = CheckResult("LAN-SPEED", Text("t", "t"), Subject(Kind.SEAT, "A01", "r1"),
                             "coordinator", Status.PASS, Text("r", "r"), {}, {}, None,
                             datetime.now(UTC), 0.1, "LAN-SPEED/x")
    out = lan.count_seats(results[1:] + [stranger, other_room, other_rule], params)
    assert out.status == Status.FAIL and out.measured["working_seats"] == 39
    assert "only 39 of 40 seats answer; the rule needs 40" in out.message.en


# ---------------------------------------------------------------- planning


SITE = textwrap.dedent("""\
    site: {name: LAN judge test room, code: LJ-1}
    profile: eda
    rooms:
      - id: r1
        subnet: 198.18.10.0/24
        router: {address: 198.18.10.1}
        exam_servers:
          primary: {address: 198.18.10.10, ports: [80]}
        proctor: {address: 198.18.10.2}
        seats:
          A01-A03: 198.18.10.101-103
    """)


def _plan(tmp_path: Path, profile_path: Path | str = "eda") -> Any:
    from readiness.config.load import load_site
    from readiness.config.profile import available_profiles
    from readiness.planning import PlanContext, build_plan

    path = tmp_path / "site.yaml"
    path.write_text(SITE)
    site = load_site(path, set(available_profiles()))
    return build_plan(PlanContext(site, load_profile(profile_path)), None,
                      {"LAN-SUBNET", "LAN-SEATS"})


def test_planned_checks_name_probes_and_judges_and_carry_no_code(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    reach = {c.check_id: c for c in plan.checks if c.probe == "reachability"}
    server = reach["LAN-SUBNET/r1/198.18.10.10/reach"]
    assert server.params == {"address": "198.18.10.10", "count": 10, "interval_s": 0.1,
                             "ports": [80], "subnet": "198.18.10.0/24", "fallback_port": 8765,
                             "reply_timeout_s": 1.0, "port_timeout_s": 2.0,
                             "sample_window_s": 4.0}
    assert server.judge == "lan.reachability"
    assert server.judge_params["thresholds"].fail_loss_pct == 20
    assert server.threshold == {"warn_loss_pct": 0, "fail_loss_pct": 20, "warn_rtt_ms": 5}
    [seats] = [c for c in plan.checks if c.requirement == "LAN-SEATS"]
    assert seats.derived and seats.judge == "lan.count_seats"
    assert seats.judge_params["seats"] == ["A01", "A02", "A03"]
    assert all(not hasattr(c, "fn") and not hasattr(c, "derive") for c in plan.checks)
    judges = {**outcome_judges(), **results_judges()}
    assert all(c.judge in judges for c in plan.checks if c.judge)


def test_a_profile_can_set_the_ping_and_sweep_knobs(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parent.parent / "config/profiles/eda.yaml").read_text()
    anchor = "      proctor_same_subnet: true\n"
    assert text.count(anchor) == 1
    knobs = ("      ping_interval_s: 0.25\n      arp_window_s: 2\n      arp_retries: 3\n"
             "      dhcp_window_s: 6\n")
    (tmp_path / "profiles").mkdir()
    profile = tmp_path / "profiles" / "eda.yaml"
    profile.write_text(text.replace(anchor, anchor + knobs))
    plan = _plan(tmp_path, profile)
    [reach] = [c for c in plan.checks if c.check_id == "LAN-SUBNET/r1/198.18.10.101/reach"]
    assert reach.params["interval_s"] == 0.25
    [sweep] = [c for c in plan.checks if c.probe == "l2_sweep"]
    assert (sweep.params["arp_window_s"], sweep.params["arp_retries"],
            sweep.params["dhcp_window_s"]) == (2.0, 3, 6.0)
    assert sweep.deadline_s == 9.0
