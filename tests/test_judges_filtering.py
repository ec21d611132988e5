"""The WAN-FLOOR / WAN-POLICY / FILTER-FEATURES judges on recorded measurements, and the
planner's checks as plain data (no traffic: nothing here opens a socket)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from readiness.checks import COORDINATOR
from readiness.config.load import load_site
from readiness.config.profile import WanFloorThresholds, load_profile
from readiness.judges import filtering as judges
from readiness.judges.registry import outcome_judges, results_judges
from readiness.planning import PlanContext, build_plan
from readiness.results import NOT_PROOF, CheckResult, ProbeOutcome, Status, Text
from readiness.subject import Kind, Subject

REPO = Path(__file__).resolve().parents[1]
REACH = "FILTER-FEATURES/lab/per_address/coordinator"
LEAK = "GET http://198.51.100.20/ Host: games.example -> 200 (163 bytes)"

# what wan_bandwidth measured on the lab's 60 Mbit/s uplink (two runs)
WAN_MEASURED = {"endpoint": "http://speed.example/", "kind": "librespeed", "streams": 4,
                "runs": [{"download_mbps": 57.1, "upload_mbps": 56.0},
                         {"download_mbps": 57.4, "upload_mbps": 56.3}],
                "download_mbps": 57.25, "upload_mbps": 56.15, "throughput_mbps": 57.25,
                "latency_ms": 0.4}


def _audit_result(check_id: str, features: dict[str, str], leaks: list[str],
                  seat: bool = True, in_window: bool = False, room: str = "lab") -> CheckResult:
    attempts = [{"technique": "direct_ip", "request": line.split(" -> ")[0],
                 "result": line.split(" -> ")[1], "leak": True} for line in leaks]
    return CheckResult(
        requirement=check_id.split("/")[0], title=Text("t", "t"),
        subject=Subject(Kind.SEAT, "A01", room, "198.18.10.101"),
        vantage="agent A01", status=Status.FAIL if leaks else Status.PASS,
        message=Text("m", "m"),
        measured={"audit": "url_filter", "features": features, "leaks": leaks,
                  "feature_attempts": {"ip": leaks},
                  "attempts": attempts, "vantage_is_seat": seat, "in_exam_window": in_window,
                  "blocked": [{"url": "http://speed.example/"}]},
        threshold={}, citation=None, started_at=datetime.now(UTC), duration_s=1.0,
        check_id=check_id)


def _feature(results: list[CheckResult], feature: str) -> ProbeOutcome:
    return judges.feature(results, {"room_id": "lab", "feature": feature, "reach_id": REACH})


def test_feature_verdicts_come_from_the_audits() -> None:
    results = [_audit_result("WAN-POLICY/lab/A01", {"ip": "fail", "dns": "pass"}, [LEAK]),
               _audit_result("WAN-POLICY/lab/A02", {"ip": "pass", "dns": "pass"}, [])]
    ip = _feature(results, "ip")
    assert ip.status == Status.FAIL and LEAK.split(" (")[0] in ip.message.en
    assert "agent A01: GET http://198.51.100.20/" in ip.message.en  # who saw the leak
    assert _feature(results, "dns").status == Status.PASS
    clean = [results[1]]
    assert _feature(clean, "per_time").status == Status.WARN
    inside = [_audit_result("WAN-POLICY/lab/A02", {}, [], in_window=True)]
    assert _feature(inside, "per_time").status == Status.PASS
    coordinator = CheckResult(
        requirement="FILTER-FEATURES", title=Text("t", "t"),
        subject=Subject(Kind.COORDINATOR, "coordinator", "lab"), aspect="own_access",
        vantage="coordinator",
        status=Status.PASS, message=Text("m", "m"),
        measured={"reached": ["http://speed.example/"]}, threshold={}, citation=None,
        started_at=datetime.now(UTC), duration_s=1.0, check_id=REACH)
    per_address = _feature(clean + [coordinator], "per_address")
    assert per_address.status == Status.PASS and "speed.example" in per_address.message.en
    # from the coordinator only, nothing is proven either way
    outside = [_audit_result("WAN-POLICY/lab/coordinator", {"ip": "fail"}, [LEAK], seat=False)]
    ip_outside = _feature(outside, "ip")
    assert ip_outside.status == Status.WARN and "coordinator only" in ip_outside.message.en
    # another room's audits are not this room's evidence
    other = _feature([_audit_result("WAN-POLICY/r2/A01", {"ip": "fail"}, [LEAK], room="r2")],
                     "ip")
    assert other.status == Status.WARN and "not verified" in other.message.en
    assert other.measured[NOT_PROOF] is True


def _th(floor: float, allowance: float = 10) -> WanFloorThresholds:
    return WanFloorThresholds(floor_mbps=floor, overhead_allowance_pct=allowance,
                              vantage="room")


def _measured(status: Status = Status.PASS, **extra: object) -> ProbeOutcome:
    return ProbeOutcome(status, Text("measured", "实测"), {**WAN_MEASURED, **extra})


def test_wan_floor_is_judged_against_the_typed_floor() -> None:
    slow = judges.wan_floor(_measured(), {"thresholds": _th(100)})
    assert slow.status == Status.FAIL
    assert "below the floor of 100 Mbit/s" in slow.message.en
    assert "median of 2 run(s) of 4 streams, latency 0.4 ms" in slow.message.en
    assert slow.measured["floor_mbps"] == 100 and slow.message.zh
    assert judges.wan_floor(_measured(), {"thresholds": _th(50)}).status == Status.PASS
    # 57.25 is within a 10 % allowance below 60, and upload below: warn either way
    assert judges.wan_floor(_measured(), {"thresholds": _th(60)}).status == Status.WARN
    assert judges.wan_floor(_measured(), {"thresholds": _th(60, 0)}).status == Status.FAIL


def test_wan_floor_keeps_what_the_probe_could_not_measure() -> None:
    down = ProbeOutcome(Status.FAIL, Text("cannot reach the speed-test endpoint", "无法访问"),
                        {"endpoint": "http://speed.example/", "runs": []})
    assert judges.wan_floor(down, {"thresholds": _th(10)}) is down
    wrong = ProbeOutcome(Status.ERROR, Text("not a librespeed endpoint", "不是测速端点"))
    assert judges.wan_floor(wrong, {"thresholds": _th(10)}).status == Status.ERROR


def test_wan_floor_from_a_stand_in_cannot_pass() -> None:
    stand_in = _measured(agent="absent", agent_reason="connection refused", stand_in=True)
    out = judges.wan_floor(stand_in, {"thresholds": _th(50), "where": "exam server"})
    assert out.status == Status.WARN and out.measured[NOT_PROOF] is True
    assert out.message.en.startswith(
        "no agent answers on exam server (connection refused); measured from the "
        "coordinator instead")
    assert "both meet the floor of 50" in out.message.en
    # a slow uplink is slow from here too: the fail stands
    assert judges.wan_floor(stand_in, {"thresholds": _th(100)}).status == Status.FAIL


def test_a_seat_without_agent_is_not_judged_from_another_address() -> None:
    # what remote.py returns for a seat whose agent does not answer (when_absent "warn")
    absent = ProbeOutcome(Status.WARN, Text("no agent answers on seat A07", "无代理"),
                          {"agent": "absent", "reason": "timed out"})
    out = judges.seat_audit(absent, {"label": "A07"})
    assert out.status == Status.WARN and out.measured[NOT_PROOF] is True
    assert out.message.en.startswith("seat A07: not verified from this seat: no agent answers")
    assert "start `readiness agent`" in out.message.en
    assert out.message.zh.startswith("考位 A07：未从该考位验证")
    assert "attempts" not in out.measured and "leaks" not in out.measured


def test_server_reach_and_the_coordinators_evidence() -> None:
    reached = ProbeOutcome(Status.PASS, Text("reaches the internet", "可以访问外网"),
                           {"reached": ["http://exam.example/"], "stand_in": True})
    capped = judges.server_reach(reached, {"where": "exam server"})
    assert capped.status == Status.WARN and "tried from the coordinator" in capped.message.en
    own = ProbeOutcome(Status.PASS, Text("reaches", "可以"), {"reached": ["u"]})
    assert judges.server_reach(own, {}).status == Status.PASS
    nothing = ProbeOutcome(Status.FAIL, Text("cannot reach", "无法访问"), {"reached": []})
    assert judges.evidence_only(nothing, {}).status == Status.SKIP
    assert judges.evidence_only(own, {}).status == Status.PASS


def test_a_constant_is_the_outcome_the_plan_knew() -> None:
    out = judges.constant([], {"status": "warn", "en": "not checked", "zh": "未检查",
                               "measured": {NOT_PROOF: True}})
    assert out.status == Status.WARN and out.message.zh == "未检查"
    assert out.measured == {NOT_PROOF: True}


# -- the planner: checks as data ---------------------------------------------------------------


def _lab_site(tmp_path: Path, profile: str = "cbec", token: bool = True):  # type: ignore[no-untyped-def]
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(("agent_token: rz2k2Bsy8bQShPnWPs2rLaXEEqVXKcpmzJcX8QbIh3A\n" if token
                        else "")
                       + "snmp_community: c0mmunity\ncamera_password: c4mera-pass\n"
                       "recorder_password: rec0rder-pass\n")
    os.chmod(secrets, 0o600)
    text = (REPO / "config" / "lab" / "site.yaml").read_text()
    text = text.replace("/run/readiness-lab/rdy/secrets.yaml", str(secrets))
    text = text.replace("A01-A40: 198.18.10.101-140", "A01-A03: 198.18.10.101-103")
    if not token:
        text = text.replace("token: secret:agent_token", "token: null")
    text = text.replace("profile: cbec", f"profile: {profile}")
    path = tmp_path / "site.yaml"
    path.write_text(text)
    return load_site(path)


def _plan(tmp_path: Path, profile: str = "cbec", token: bool = True) -> dict[str, object]:
    site = _lab_site(tmp_path, profile, token)
    plan = build_plan(PlanContext(site, load_profile(profile)),
                      only={"WAN-FLOOR", "WAN-POLICY", "FILTER-FEATURES"})
    return {c.check_id: c for c in plan.checks}


def test_the_plan_is_data_with_known_probes_and_judges(tmp_path: Path) -> None:
    from probes import registry

    checks = _plan(tmp_path)
    probes, outcome, results = registry(), outcome_judges(), results_judges()
    for check in checks.values():
        assert not hasattr(check, "fn") and not hasattr(check, "derive")
        json.dumps(check.params)  # travels to an agent as it is
        if check.probe is None:
            assert check.judge in results, check.check_id
        else:
            assert check.probe in probes, check.check_id
            assert check.judge is None or check.judge in outcome, check.check_id
        if check.agent is not None and check.agent.prepare:
            assert check.agent.prepare in probes


def test_seats_are_audited_by_their_own_agents_only(tmp_path: Path) -> None:
    checks = _plan(tmp_path)
    seats = [checks[f"WAN-POLICY/lab/A0{i}"] for i in (1, 2, 3)]
    for seat in seats:
        assert seat.agent is not None and seat.agent.address == seat.subject.address
        # no stand-in: the proctor's address is not the seat's
        assert seat.agent.when_absent == "warn" and seat.agent.fallback_params is None
        assert seat.params["vantage_is_seat"] is True
        # the seat never asks the control resolvers itself: the coordinator does, first
        assert "control_resolver_addresses" not in seat.params
        assert seat.agent.prepare == "url_filter_control"
        assert seat.agent.prepare_params["control_resolver_addresses"] == ["198.51.100.53"]
    server = checks["WAN-POLICY/lab/exam-server"] if "WAN-POLICY/lab/exam-server" in checks \
        else None
    assert server is None  # cbec: the exam server's reach is not a rule
    floor = checks["WAN-FLOOR/lab"]
    assert floor.agent is None and floor.vantage == COORDINATOR and floor.probe == "wan_floor"
    assert [e.get("kind") for e in floor.params["endpoints"]] == ["librespeed", "iperf3"]
    assert floor.judge_params["thresholds"].floor_mbps == 100
    assert checks["FILTER-FEATURES/lab/ip"].judge == "filtering.feature"


def test_eda_measures_from_the_exam_servers_agent(tmp_path: Path) -> None:
    checks = _plan(tmp_path, "eda")
    floor = checks["WAN-FLOOR/lab"]
    assert floor.probe == "wan_bandwidth" and floor.agent is not None
    assert floor.agent.label == "exam server" and floor.agent.when_absent == "coordinator"
    assert floor.agent.fallback_params == floor.params
    assert floor.params["url"] == "http://speed.example/"
    reach = checks["WAN-POLICY/lab/exam-server"]
    assert reach.probe == "internet_reach" and reach.judge == "filtering.server_reach"
    assert checks["WAN-POLICY/lab/A01"].params["mode"] == "none"


def test_without_an_agent_token_the_room_is_audited_once_from_here(tmp_path: Path) -> None:
    checks = _plan(tmp_path, token=False)
    (audit,) = [c for c in checks.values() if c.requirement == "WAN-POLICY"]
    assert audit.check_id == "WAN-POLICY/lab/coordinator" and audit.agent is None
    assert audit.params["vantage_is_seat"] is False
    assert audit.params["control_resolver_addresses"] == ["198.51.100.53"]


@pytest.mark.parametrize("profile", ["cbec", "eda"])
def test_every_check_id_is_unique(tmp_path: Path, profile: str) -> None:
    site = _lab_site(tmp_path, profile)
    plan = build_plan(PlanContext(site, load_profile(profile)),
                      only={"WAN-FLOOR", "WAN-POLICY", "FILTER-FEATURES"})
    ids = [c.check_id for c in plan.checks]
    assert len(ids) == len(set(ids))


def test_a_feature_proven_from_some_seats_names_the_seats_that_could_not_show_it() -> None:
    from dataclasses import replace

    shown = "GET http://exam.example/games -> 403 [control GET http://exam.example/ -> 200]"
    lost = ("GET http://exam.example/games -> http_timeout (inconclusive) "
            "[control GET http://exam.example/ -> http_timeout; again -> http_timeout]")
    a01 = _audit_result("WAN-POLICY/lab/A01", {"keyword": "pass"}, [])
    a01.measured["feature_attempts"] = {"keyword": [shown]}
    a02 = replace(_audit_result("WAN-POLICY/lab/A02", {"keyword": "not_verified"}, []),
                  vantage="agent A02")
    a02.measured["feature_attempts"] = {"keyword": [lost]}
    out = _feature([a01, a02], "keyword")
    assert out.status == Status.WARN and out.measured[NOT_PROOF] is True
    assert "shown from 1 of 2 seats" in out.message.en
    assert "agent A02: GET http://exam.example/games" in out.message.en
    # the advice for a filter nobody tried does not apply here
    assert "filter_audit.keywords" not in out.message.en
    assert _feature([a01], "keyword").status == Status.PASS


def test_a_seat_where_a_feature_is_not_shown_is_not_called_unverified() -> None:
    from dataclasses import replace

    a01 = _audit_result("WAN-POLICY/lab/A01", {"dns": "pass"}, [])
    a02 = replace(_audit_result("WAN-POLICY/lab/A02", {"dns": "not_shown"}, []),
                  vantage="agent A02")
    out = _feature([a01, a02], "dns")
    # names resolve normally at A02: DNS filtering is not in use there, not unproven
    assert out.status == Status.WARN and "shown from" not in out.message.en


def test_a_leak_seen_from_a_seat_is_the_routers_finding() -> None:
    """The seat saw the leak; the router lets it through: the fix list and the seat plan
    put it on the router, while the seat's own result keeps its fail."""
    router = Subject(Kind.ROUTER, "router", "lab", "198.18.10.1")
    leak = {"technique": "direct_ip", "request": "GET http://198.51.100.20/ Host: games.example",
            "result": "HTTP 200, 163 bytes", "leak": True}
    seen = ProbeOutcome(Status.PASS, Text("m", "m"), {
        "audit": "url_filter", "attempts": [leak], "exam": [], "vantage_is_seat": True,
        "blocked": [{"url": "http://games.example/"}]})
    judged = judges.seat_audit(seen, {"label": "A01", "router": router})
    assert judged.status == Status.FAIL
    leaks = [f for f in judged.findings if f.code == "filter.leaks"]
    assert leaks and all(f.subject == router for f in leaks)
    # an exam site that does not load is still the seat's own finding
    down = ProbeOutcome(Status.PASS, Text("m", "m"), {
        "audit": "url_filter", "attempts": [], "vantage_is_seat": True, "blocked": [],
        "exam": [{"url": "http://exam.example/", "ok": False, "detail": "timeout"}]})
    judged = judges.seat_audit(down, {"label": "A01", "router": router})
    assert [f.subject for f in judged.findings] == [None]
