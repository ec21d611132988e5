"""The fix list groups the findings the judges return, never their words: on results the
real judges made from recorded measurements, and, for any set of findings, as a partition
of the run's problems (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from readiness.agent.inventory import parse_windows_inventory
from readiness.agent.remote import absent_outcome
from readiness.config.profile import LanSubnetThresholds, SeatSpecThresholds, load_profile
from readiness.fixlist import (
    Fix,
    _is_problem,
    _key,
    _pure_cause,
    _subject,
    findings,
    fix_list,
    fix_words,
)
from readiness.judges import lan, layer2
from readiness.judges.seat import judge_seat_spec
from readiness.planning import thresholds_of
from readiness.results import (
    SEVERITY,
    CheckResult,
    Finding,
    ProbeOutcome,
    RunRecord,
    Status,
    Text,
    Verdict,
    worst,
)
from readiness.subject import Kind, Subject

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
ROOM = "r1"
SUBNET = "198.18.10.0/24"
OURS = "02:52:44:59:00:02"
TH = LanSubnetThresholds.model_validate({
    "ping_count": 10, "warn_loss_pct": 0, "fail_loss_pct": 50, "warn_rtt_ms": 5,
    "server_same_subnet": True, "proctor_same_subnet": True})


def _spec_thresholds() -> SeatSpecThresholds:
    req = next(r for r in load_profile("cbec").requirements if r.id == "SEAT-SPEC")
    return thresholds_of(req, SeatSpecThresholds)


def _seat(n: int) -> Subject:
    return Subject(Kind.SEAT, f"A{n:02d}", ROOM, f"198.18.10.{100 + n}")


def _mac(n: int) -> str:
    return f"02:52:44:59:01:{100 + n:02x}"


def _result(req: str, check_id: str, subject: Subject, outcome: ProbeOutcome,
            aspect: str | None = None) -> CheckResult:
    # what readiness/runner.py makes of a judged outcome
    return CheckResult(req, Text(req, req), subject, "coordinator", outcome.status,
                       outcome.message, outcome.measured, {}, None, NOW, 0.1, check_id,
                       aspect=aspect, findings=list(outcome.findings))


# a Windows 10 seat's software inventory that meets the certificate (tests/fixtures)
INVENTORY = parse_windows_inventory(
    (Path(__file__).parent / "fixtures" / "windows10_seat_inventory.json").read_text("utf-8"))


def _report(disk_gb: float, address: str) -> dict[str, Any]:
    """A seat agent's self-report (readiness/agent/self_report.py build_report's shape)."""
    return {"hostname": "seat", "os": {"name": "Windows 10 Education"}, "inventory": INVENTORY,
            "cpu": {"model": "Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz", "logical_cores": 6},
            "ram_gib": 15.6, "disk_total_gb": disk_gb,
            "nics": [{"name": "Ethernet", "mac": "00:1a:2b:3c:4d:5e", "speed_mbps": 1000,
                      "duplex": "full",
                      "ipv4": [{"address": address, "addressing": "static"}]}]}


def _reach(address: str, received: int, arp: list[str]) -> ProbeOutcome:
    """What probes/reachability.py measures."""
    return ProbeOutcome(Status.PASS, Text("measured", "已测量"), {
        "address": address, "count": 10, "received": received, "sent": 10,
        "loss_pct": 100.0 - 10 * received, "rtt_min_ms": 0.2 if received else None,
        "rtt_avg_ms": 0.3 if received else None, "rtt_max_ms": 0.4 if received else None,
        "ports": {}, "interval_s": 0.1, "icmp_socket": "raw", "no_route": False,
        "port_timeout_s": 2.0, "arp": {"asked": True, "macs": arp},
        "tcp": {"port": 8765, "sent": 3, "answered": 0, "rtt_avg_ms": None,
                "loss_pct": 100.0} if not received else None,
        "latency_from": "icmp" if received else None})


def _room_run() -> RunRecord:
    """Eight seats judged by the real judges: A08 is off (nothing answers, no agent), A05's
    address is taken by a second machine, A07 has the certificate's disk, the others a
    small one; a rogue DHCP server offers addresses."""
    seats = [_seat(n) for n in range(1, 9)]
    hosts = {s.address: [_mac(n)] for n, s in enumerate(seats, 1) if s.name != "A08"}
    hosts[_seat(5).address].append("02:52:44:59:02:ce")
    sweep_measured = {
        "layer2": True, "interface": "eth0", "local_address": "198.18.10.2", "local_mac": OURS,
        "subnet": SUBNET, "hosts": hosts, "foreign": {}, "dhcp_sent": True,
        "dhcp_window_s": 4.0, "dhcp_offers": [{
            "server_id": "198.18.10.250", "server_ip": "198.18.10.250",
            "server_mac": "02:52:44:59:03:fa", "offered": "198.18.10.175",
            "subnet_mask": "255.255.255.0", "router": ["198.18.10.250"]}]}
    room = Subject(Kind.ROOM, ROOM, ROOM)
    sweep = _result("LAN-SUBNET", f"LAN-SUBNET/{ROOM}/l2-sweep", room,
                    ProbeOutcome(Status.PASS, Text("swept", "已扫描"), sweep_measured),
                    "arp_sweep")
    results = [sweep]
    for n, s in enumerate(seats, 1):
        off = s.name == "A08"
        results.append(_result("LAN-SUBNET", f"LAN-SUBNET/{ROOM}/{s.address}/reach", s,
                               lan.judge_reachability(_reach(s.address, 0 if off else 10,
                                                             [] if off else [_mac(n)]),
                                                      {"thresholds": TH})))
    sweep_id = {"sweep_id": sweep.check_id, "room": ROOM}
    for s in seats:
        results.append(_result("LAN-FIXED-IP", f"LAN-FIXED-IP/{ROOM}/{s.address}/arp", s,
                               layer2.host(results, {
                                   **sweep_id, "address": s.address,
                                   "role_en": f"seat {s.name}", "role_zh": f"考位 {s.name}",
                                   "configured_mac": None, "strict": False,
                                   "previous_macs": {}})))
    results.append(_result("LAN-FIXED-IP", f"LAN-FIXED-IP/{ROOM}/l2-conflicts", room,
                           layer2.duplicates(results, {
                               **sweep_id, "names": {}, "mac_names": {}, "expected": {},
                               "subjects": {s.address: s for s in seats},
                               "previous_macs": {}}), "conflicts"))
    results.append(_result("LAN-FIXED-IP", f"LAN-FIXED-IP/{ROOM}/dhcp", room,
                           layer2.dhcp(results, {**sweep_id, "dhcp_server": None}), "dhcp"))
    for s in seats:
        if s.name == "A08":
            outcome = absent_outcome(f"{s.name} ({s.address}:8765)", Status.SKIP,
                                     {"agent": "absent", "reason": "no answer"})
        else:
            outcome = ProbeOutcome(Status.PASS, Text("self-report collected", "已收集本机信息"),
                                   _report(600 if s.name == "A07" else 274.9, s.address))
        results.append(_result("SEAT-SPEC", f"SEAT-SPEC/{s.name}/agent", s, judge_seat_spec(
            outcome, {"address": s.address, "label": s.name, "port": 8765,
                      "thresholds": _spec_thresholds()})))
    return RunRecord("Room", "R-1", "cbec", Text("c", "c"), NOW, NOW, Verdict.NOT_READY,
                     results, {"LAN-SUBNET", "LAN-FIXED-IP", "SEAT-SPEC"})


def _line(fixes: list[Fix], where_starts: str) -> Fix:
    """The line of a rule about a place: "SEAT-SPEC · 6 of 8 seats"."""
    req, where = where_starts.split(" · ", 1)
    found = [f for f in fixes if f.requirements[0] == req and f.where.en.startswith(where)]
    assert len(found) == 1, ([(f.requirements[0], f.where.en) for f in fixes], where_starts)
    return found[0]


def _said(fix: Fix, lang: str = "en") -> str:
    """The line's words after its place, as people read them: what to do, the figure."""
    words = fix_words(fix, lang)
    return f"{words.figure}; {words.do}" if words.do else words.figure


def test_the_real_judges_findings_fold_into_one_line_per_problem() -> None:
    run = _room_run()
    fixes = fix_list(run)
    assert [f.status for f in fixes] == sorted((f.status for f in fixes),
                                               key=lambda s: -SEVERITY[s])
    # the same finding on six of eight seats: one line, named by the seats left out
    spec = _line(fixes, "SEAT-SPEC · 6 of 8 seats (all but A07–A08)")
    assert _said(spec) == ("disk 274.9 GB, below the minimum 500 GB; fit at least 500 GB "
                           "of disk, or seat the candidate at another PC")
    assert "硬盘 274.9 GB，低于最低要求 500 GB" in _said(spec, "zh")
    # a seat that does not answer: one line, its cause first, naming what it explains
    off = _line(fixes, "LAN-SUBNET · seat A08 (198.18.10.108)")
    assert off.status is Status.FAIL and _said(off).startswith("nothing answers (10 pings")
    # (this run's rules are titled by their ids)
    assert off.rules.en == "LAN-SUBNET · LAN-FIXED-IP · SEAT-SPEC"
    assert off.requirements == ("LAN-SUBNET", "LAN-FIXED-IP", "SEAT-SPEC")
    assert set(off.check_ids) == {r.check_id for r in run.results if r.subject == _seat(8)
                                  and r.status is not Status.PASS}
    # the conflict at A05's address, found by its own check and by the room's: one line
    a05 = _line(fixes, "LAN-FIXED-IP · seat A05 (198.18.10.105)")
    assert set(a05.check_ids) == {f"LAN-FIXED-IP/{ROOM}/198.18.10.105/arp",
                                  f"LAN-FIXED-IP/{ROOM}/l2-conflicts"}
    assert _said(a05).startswith("2 machines answer at its address (02:52:44:59:01:69, "
                                 "02:52:44:59:02:ce)")
    # a room-wide finding is one line that says what to do
    dhcp = _line(fixes, "LAN-FIXED-IP · room r1 · DHCP servers")
    assert "unplug the rogue DHCP server at 198.18.10.250" in fix_words(dhcp, "en").do
    assert "198.18.10.250" in fix_words(dhcp, "zh").do and "DHCP" in _said(dhcp, "zh")
    assert len(fixes) == 4
    _assert_partition(run, fixes)


def test_a_seat_without_its_agent_is_one_line_of_the_checks_that_needed_it() -> None:
    seat = _seat(9)
    absent = [_result(req, f"{req}/{seat.name}/agent", seat, absent_outcome(
        f"{seat.name} ({seat.address}:8765)", status, {"agent": "absent", "reason": "x"}))
        for req, status in (("LAN-SPEED", Status.SKIP), ("WAN-POLICY", Status.WARN),
                            ("SEAT-SPEC", Status.SKIP))]
    # measured from here, it stands on its own: a missing agent does not explain it
    slow = _result("LAN-SUBNET", "LAN-SUBNET/r1/198.18.10.109/reach", seat,
                   lan.judge_reachability(_reach(seat.address, 4, ["02:52:44:59:01:6d"]),
                                          {"thresholds": TH}))
    run = RunRecord("Room", "R-1", "cbec", Text("c", "c"), NOW, NOW, Verdict.NOT_READY,
                    [slow, *absent], set())
    fixes = fix_list(run)
    assert [(f.status, f.requirements[0], f.where.en) for f in fixes] == [
        (Status.FAIL, "LAN-SUBNET", "seat A09 (198.18.10.109)"),
        (Status.WARN, "WAN-POLICY", "seat A09 (198.18.10.109)")]
    assert _said(fixes[0]).startswith("lost 6 of 10 pings (60 %); check the cable")
    assert _said(fixes[1]) == "no agent answers; start `readiness agent` on that PC"
    assert fixes[1].requirements == ("WAN-POLICY", "LAN-SPEED", "SEAT-SPEC")
    _assert_partition(run, fixes)


# ---------------------------------------------------------------- any findings at all


def _assert_partition(run: RunRecord, fixes: list[Fix]) -> None:
    """Every problem is on exactly one line; a line folds only results with the same
    things to do (findings' codes and actions, whatever the rule or the figure) and the
    causes of the machines it explains, or the several problems of one device (the
    cameras of one room), each said on it."""
    by_id = {r.check_id: r for r in run.results}
    listed = [c for f in fixes for c in f.check_ids]
    problems = {r.check_id for r in run.results if _is_problem(r, run.required)}
    assert len(listed) == len(set(listed)) and set(listed) == problems
    assert [SEVERITY[f.status] for f in fixes] == sorted((SEVERITY[f.status] for f in fixes),
                                                         reverse=True)
    for fix in fixes:
        results = [by_id[c] for c in fix.check_ids]
        assert fix.status is worst([r.status for r in results])
        assert results[0].requirement == fix.requirements[0]
        assert {r.requirement for r in results} == set(fix.requirements)
        subjects = {_subject(r) for r in results}
        device = (all(s.is_machine and s.kind is not Kind.SEAT for s in subjects)
                  and (len(subjects) == 1 or {(s.kind, s.room) for s in subjects}
                       == {(Kind.CAMERA, next(iter(subjects)).room)}))
        keys = {tuple(dict.fromkeys((f.code, f.action) for f in findings(r)))
                for r in results if not _pure_cause(r)}
        causes = [r for r in results if _pure_cause(r)]
        # each thing to do on the line is said on it
        for r in results:
            if r in causes and r is not results[0]:
                continue  # a machine's cause: said by the line's lead, or explained by it
            for f in findings(r):
                assert any(p.do == f.action for p in fix.points), (fix.where.en, f.code)
        if device:
            continue
        # lines of root causes: their machines' causes only; other lines: one set of
        # things to do
        assert len(keys) <= 1 and not (keys and causes), fix.where.en
        # each machine on a cause's line is led there by its worst cause, of the line's rule
        leads = {(r.requirement, tuple(_key(f) for f in r.findings)) for r in causes
                 if SEVERITY[r.status] == max(SEVERITY[c.status] for c in causes
                                              if _subject(c) == _subject(r))}
        assert not causes or (fix.requirements[0], tuple(
            _key(f) for f in results[0].findings)) in leads
    # one line per (machine, root cause): a machine's causes are never split
    for r in run.results:
        if r.check_id in problems and _pure_cause(r) and _subject(r).is_machine:
            home = next(f for f in fixes if r.check_id in f.check_ids)
            for other in run.results:
                if (other.check_id in problems and _pure_cause(other)
                        and _subject(other) == _subject(r)):
                    assert other.check_id in home.check_ids


SUBJECTS = [_seat(n) for n in range(1, 6)] + [
    Subject(Kind.ROUTER, "router", ROOM, "198.18.10.1"), Subject(Kind.ROOM, ROOM, ROOM),
    Subject(Kind.CAMERA, "cam-1", ROOM, "198.18.10.201")]
WORDS = [Text("disk small", "硬盘小"), Text("no answer", "无应答"), Text("slow", "慢")]


@st.composite
def _finding(draw: st.DrawFn) -> Finding:
    return Finding(draw(st.sampled_from(["a.one", "a.two", "b.one"])),
                   draw(st.sampled_from(WORDS)), draw(st.sampled_from(WORDS)),
                   draw(st.sampled_from([None, None, *SUBJECTS])), draw(st.booleans()))


@st.composite
def _run(draw: st.DrawFn) -> RunRecord:
    results = []
    for i in range(draw(st.integers(0, 25))):
        status = draw(st.sampled_from(list(Status)))
        found = draw(st.lists(_finding(), min_size=0 if status is Status.PASS else 1,
                              max_size=3)) if status is not Status.PASS else []
        results.append(CheckResult(
            draw(st.sampled_from(["LAN-SUBNET", "LAN-SPEED", "SEAT-SPEC"])), Text("t", "t"),
            draw(st.sampled_from(SUBJECTS)), "coordinator", status, Text(f"m{i}", f"m{i}"),
            {}, {}, None, NOW, 0.0, f"check/{i}", aspect=draw(st.sampled_from([None, "x"])),
            findings=found))
    required = draw(st.sets(st.sampled_from(["LAN-SUBNET", "LAN-SPEED", "SEAT-SPEC"])))
    return RunRecord("s", "S", "cbec", Text("c", "c"), NOW, NOW, Verdict.NOT_READY, results,
                     required)


@settings(max_examples=300, deadline=None)
@given(_run())
def test_any_findings_are_partitioned_and_merged_only_by_what_to_do(
        run: RunRecord) -> None:
    fixes = fix_list(run)
    _assert_partition(run, fixes)
    for fix in fixes:
        assert fix.where.en and fix.where.zh and fix.what.en and fix.what.zh
        for lang in ("en", "zh"):
            assert fix_words(fix, lang).figure


def test_a_result_stored_before_findings_is_its_own_line_in_its_own_words() -> None:
    seats = [_seat(1), _seat(2)]
    old = [CheckResult("LAN-SUBNET", Text("t", "t"), s, "coordinator", Status.FAIL,
                       Text(f"seat {s.name} is off", f"考位 {s.name} 未开机"), {}, {}, None,
                       NOW, 0.0, f"old/{s.name}") for s in seats]
    run = RunRecord("s", "S", "cbec", Text("c", "c"), NOW, NOW, Verdict.NOT_READY, old, set())
    assert [fix_words(f, "en").figure for f in fix_list(run)] == ["seat A01 is off",
                                                                    "seat A02 is off"]


def test_a_rooms_cameras_line_counts_cameras_and_keeps_each_cameras_fixes_together() -> None:
    """Two cameras, one of them with two problems (no audio, not recorded): "2 cameras",
    and that camera's two things to do side by side, not split by the other camera's."""
    cams = [Subject(Kind.CAMERA, f"cam-{n}", ROOM, f"198.18.10.20{n}") for n in (1, 2)]

    def fail(req: str, cam: Subject, code: str, do: str) -> CheckResult:
        what = Text(f"{cam.name}: {code}", f"{cam.name}：{code}")
        outcome = ProbeOutcome(Status.FAIL, what, {}, findings=[
            Finding(code, what, Text(do, do))])
        return _result(req, f"{req}/{ROOM}/{cam.name}", cam, outcome)

    results = [fail("CAM-AUDIO", cams[0], "camera.no_audio", "turn on audio"),
               fail("CAM-RES", cams[1], "camera.frozen", "restart the camera"),
               fail("CAM-STORE", cams[0], "recording.missing", "record it")]
    run = RunRecord("s", "S", "cbec", Text("c", "c"), NOW, NOW, Verdict.NOT_READY, results,
                    {"CAM-AUDIO", "CAM-RES", "CAM-STORE"})
    [line] = fix_list(run)
    assert line.where.en == f"room {ROOM}: 2 cameras", line.where.en
    do = fix_words(line, "en").do
    assert do.index("turn on audio") < do.index("record it") < do.index("restart"), do
    # each camera named once, before its own things to do
    assert do == ("cam-1 (198.18.10.201): turn on audio; record it; "
                  "cam-2 (198.18.10.202): restart the camera"), do
