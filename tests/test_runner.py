"""The runner's promises: deadlines always hold, a broken probe is one error, throughput
checks never overlap, derived checks see every other result."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, replace
from typing import Any

from readiness.checks import Check
from readiness.results import Citation, ProbeOutcome, Status, Text
from readiness.runner import MAX_LATE_GRANT_S, Runner, run_checks
from readiness.subject import Kind, Subject


@dataclass
class _Req:
    title: Text
    citation: Citation | None


class _Profile:
    """Just enough of a profile for the runner: titles and citations by id."""

    id = "test"

    def requirement(self, req_id: str) -> _Req:
        return _Req(Text(req_id, req_id), Citation("seed.txt", "第一条", "原文"))


def ok(message: str = "fine") -> ProbeOutcome:
    return ProbeOutcome(Status.PASS, Text(message, message), {"value": 1})


async def sleeper(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    await asyncio.sleep(params["sleep_s"])
    return ok()


async def stubborn(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    # a probe that swallows cancellation, as buggy library code sometimes does
    end = time.monotonic() + params["sleep_s"]
    while time.monotonic() < end:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            continue
    return ok()


async def broken(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    raise ConnectionResetError("peer reset the connection")


async def silent_peer(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    # reads from a server that accepted and never answers, with no timeout of its own
    reader, writer = await asyncio.open_connection("127.0.0.1", params["port"])
    writer.write(b"HELLO\r\n")
    data = await reader.read(1)
    return ok(f"got {data!r}")


def as_measured(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """The test checks' judge: the probe's outcome as it came (these tests are about
    running probes, not about rules)."""
    return outcome


JUDGES = {"test.as_measured": as_measured}


def check(name: str, probe: str, deadline_s: float = 1.0, exclusive: bool = False,
          **params: Any) -> Check:
    return Check(check_id=name, requirement="LAN-SUBNET",
                 subject=Subject(Kind.UNKNOWN, name), vantage="test",
                 probe=probe, params=params, deadline_s=deadline_s, exclusive=exclusive,
                 judge="test.as_measured")


def runner_of(probes: dict[str, Any], judges: dict[str, Any] = JUDGES, **kw: Any) -> Runner:
    return Runner(_Profile(), probes, outcome_judges_=judges, **kw)  # type: ignore[arg-type]


def run(checks: list[Check], probes: dict[str, Any]) -> list:
    return run_checks(runner_of(probes), checks)


async def busy_coordinator(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    # other work on the proctor PC, as the loop sees it: every turn of it comes late
    end = time.monotonic() + params["busy_s"]
    while time.monotonic() < end:
        time.sleep(params["turn_s"])
        await asyncio.sleep(0)
    return ok()


async def budgeted(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    # a probe that keeps 0.3 s of its deadline to say what it saw: nothing answered
    try:
        async with asyncio.timeout(deadline_s - 0.3):
            await asyncio.sleep(60)
    except TimeoutError:
        pass
    for _ in range(4):  # building the answer takes a few turns
        await asyncio.sleep(0)
    return ProbeOutcome(Status.FAIL, Text("no answer", "无应答"), {"value": 0})


PROBES = {"sleeper": sleeper, "stubborn": stubborn, "broken": broken,
          "silent_peer": silent_peer, "busy_coordinator": busy_coordinator,
          "budgeted": budgeted}


def test_overrunning_probe_becomes_error_at_its_deadline_and_others_still_report() -> None:
    t0 = time.monotonic()
    results = run([check("slow", "sleeper", deadline_s=0.5, sleep_s=30),
                   check("quick", "sleeper", sleep_s=0.01)], PROBES)
    elapsed = time.monotonic() - t0
    by = {r.check_id: r for r in results}
    assert by["slow"].status == Status.ERROR
    assert "deadline exceeded" in by["slow"].message.en
    assert by["quick"].status == Status.PASS
    assert elapsed < 1.5


def test_a_busy_coordinator_does_not_turn_a_probes_fail_into_a_deadline_error() -> None:
    # the probe's own timeout (0.7 s) and the runner's deadline (1 s) fall due in the same
    # late turns of a loop that runs 0.25 s behind: what the probe saw is still its verdict
    t0 = time.monotonic()
    results = run([check("busy", "busy_coordinator", deadline_s=10, busy_s=2.0, turn_s=0.25),
                   check("probe", "budgeted", deadline_s=1.0)], PROBES)
    by = {r.check_id: r for r in results}
    assert by["probe"].status == Status.FAIL, by["probe"].message.en
    assert by["probe"].duration_s < 1.0 + MAX_LATE_GRANT_S
    assert time.monotonic() - t0 < 4.0


def test_an_idle_coordinator_grants_nothing_past_the_deadline() -> None:
    results = run([check("slow", "sleeper", deadline_s=0.5, sleep_s=30)], PROBES)
    assert results[0].status == Status.ERROR
    assert results[0].duration_s < 0.5 + 0.3


def test_deadline_holds_even_when_the_probe_ignores_cancellation() -> None:
    t0 = time.monotonic()
    results = run([check("stubborn", "stubborn", deadline_s=0.4, sleep_s=3)], PROBES)
    assert time.monotonic() - t0 < 1.5
    assert results[0].status == Status.ERROR


def test_a_listener_that_accepts_and_never_answers_costs_only_the_deadline() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    try:
        port = server.getsockname()[1]
        t0 = time.monotonic()
        results = run([check("mute", "silent_peer", deadline_s=0.6, port=port),
                       check("other", "sleeper", sleep_s=0.01)], PROBES)
        assert time.monotonic() - t0 < 1.6
    finally:
        server.close()
    by = {r.check_id: r for r in results}
    assert by["mute"].status == Status.ERROR and "0.6 s" in by["mute"].message.en
    assert by["other"].status == Status.PASS


def test_exception_in_a_probe_is_one_error_naming_the_cause() -> None:
    results = run([check("bad", "broken"), check("good", "sleeper", sleep_s=0)], PROBES)
    by = {r.check_id: r for r in results}
    assert by["bad"].status == Status.ERROR
    assert "ConnectionResetError" in by["bad"].message.en
    assert "peer reset" in by["bad"].message.en
    assert by["good"].status == Status.PASS


def test_unknown_probe_is_an_error_not_a_crash() -> None:
    results = run([check("x", "no-such-probe")], PROBES)
    assert results[0].status == Status.ERROR


def test_a_probe_measures_and_only_the_judge_decides() -> None:
    def strict(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
        verdict = Status.PASS if outcome.measured["value"] >= params["at_least"] else Status.FAIL
        return ProbeOutcome(verdict, Text("judged", "已判定"), outcome.measured)

    judged = replace(check("judged", "sleeper", sleep_s=0), judge="test.strict",
                     judge_params={"at_least": 2})
    unjudged = replace(check("unjudged", "sleeper", sleep_s=0), judge=None)
    unknown = replace(check("unknown", "sleeper", sleep_s=0), judge="test.nobody")
    runner = runner_of(PROBES, {**JUDGES, "test.strict": strict})
    by = {r.check_id: r for r in run_checks(runner, [judged, unjudged, unknown])}
    # the probe passed with value 1; the judge's rule wants 2
    assert by["judged"].status == Status.FAIL and by["judged"].message.en == "judged"
    for name, said in (("unjudged", "None"), ("unknown", "'test.nobody'")):
        assert by[name].status == Status.ERROR
        assert f"names no judge {said}" in by[name].message.en
        assert by[name].measured == {"value": 1}  # what was measured is kept


def test_independent_checks_overlap_but_exclusive_ones_never_do() -> None:
    active = {"now": 0, "max": 0}

    async def tracked(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        active["now"] += 1
        active["max"] = max(active["max"], active["now"])
        await asyncio.sleep(0.1)
        active["now"] -= 1
        return ok()

    t0 = time.monotonic()
    run([check(f"bg{i}", "sleeper", sleep_s=0.3) for i in range(20)], PROBES)
    assert time.monotonic() - t0 < 1.5  # 20 × 0.3 s run side by side, not one after another

    results = run([check(f"tp{i}", "tracked", exclusive=True) for i in range(5)],
                  {"tracked": tracked})
    assert active["max"] == 1
    assert all(r.status == Status.PASS for r in results)


def test_derived_check_sees_every_probe_result() -> None:
    def count(results: list, params: dict[str, Any]) -> ProbeOutcome:
        passing = sum(r.status == Status.PASS for r in results)
        status = Status.PASS if passing >= params["minimum"] else Status.FAIL
        return ProbeOutcome(status, Text(f"{passing} pass", f"{passing} 通过"),
                            {"passing": passing})

    derived = Check(check_id="count", requirement="LAN-SEATS",
                    subject=Subject(Kind.ROOM, "r", "r"), vantage="test",
                    probe=None, judge="test.count", judge_params={"minimum": 2})
    runner = runner_of(PROBES, results_judges_={"test.count": count})
    results = run_checks(runner, [check("a", "sleeper", sleep_s=0), check("b", "broken"),
                                  derived])
    assert results[-1].subject == Subject(Kind.ROOM, "r", "r")
    assert results[-1].status == Status.FAIL and results[-1].measured == {"passing": 1}
    assert results[-1].citation is not None


def test_a_derived_check_naming_no_known_judge_is_one_error() -> None:
    derived = Check(check_id="count", requirement="LAN-SEATS",
                    subject=Subject(Kind.ROOM, "r", "r"), vantage="test",
                    probe=None, judge="test.nobody")
    runner = runner_of(PROBES, results_judges_={})
    [result] = run_checks(runner, [derived])
    assert result.status == Status.ERROR and "test.nobody" in result.message.en


# -- link-aware exclusivity ------------------------------------------------------------------


def _link_check(name: str, links: set[str]) -> Check:
    return Check(check_id=name, requirement="LAN-SPEED",
                 subject=Subject(Kind.UNKNOWN, name), vantage="test",
                 probe="on_links", params={"links": sorted(links)}, deadline_s=5.0,
                 exclusive=True, links=frozenset(links), judge="test.as_measured")


def _run_on_links(checks: list[Check], serial: bool = False
                  ) -> tuple[list[tuple[str, float, float]], float]:
    """Runs the checks; each records (name, start, end) and checks that no link it holds
    is held by another at the same time."""
    held: dict[str, str] = {}
    spans: list[tuple[str, float, float]] = []
    clashes: list[str] = []

    async def on_links(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        name = params["name"]
        for link in params["links"]:
            if link in held:
                clashes.append(f"{name} and {held[link]} on {link}")
            held[link] = name
        t0 = time.monotonic()
        await asyncio.sleep(0.2)
        for link in params["links"]:
            held.pop(link, None)
        spans.append((name, t0, time.monotonic()))
        return ok()

    for c in checks:
        c.params["name"] = c.check_id
    runner = runner_of({"on_links": on_links}, serial=serial)
    t0 = time.monotonic()
    results = run_checks(runner, checks)
    assert all(r.status == Status.PASS for r in results), [r.message.en for r in results]
    assert not clashes, clashes
    return spans, time.monotonic() - t0


def _overlap(spans: list[tuple[str, float, float]], a: str, b: str) -> bool:
    by = {name: (s, e) for name, s, e in spans}
    return by[a][0] < by[b][1] and by[b][0] < by[a][1]


def test_throughput_checks_on_different_links_run_at_once() -> None:
    # 20 seat pairs: each loads its two seats' cards, none shares one with another
    pairs = [_link_check(f"pair{i}", {f"nic:s{2 * i}", f"nic:s{2 * i + 1}"})
             for i in range(20)]
    spans, wall_s = _run_on_links(pairs)
    assert wall_s < 1.0  # 20 × 0.2 s side by side, not 4 s one after another
    assert _overlap(spans, "pair0", "pair19")


def test_checks_sharing_a_link_never_overlap_and_keep_the_plan_order() -> None:
    # seat checks against the exam server all load its card; the uplink test does not
    seats = [_link_check(f"seat{i}", {f"nic:s{i}", "nic:server"}) for i in range(3)]
    wan = _link_check("wan", {"uplink:lab"})
    load = _link_check("load", {"nic:server", *(f"nic:s{i}" for i in range(3))})
    late = _link_check("late", {"nic:server"})
    spans, _ = _run_on_links([*seats, load, wan, late])
    order = [name for name, _, _ in sorted(spans, key=lambda s: s[1])]
    # the wide room load is not overtaken by a later check on its links
    assert order.index("load") < order.index("late")
    assert order.index("seat2") < order.index("load")
    assert _overlap(spans, "wan", "seat0")
    assert not _overlap(spans, "seat0", "seat1")


def test_serial_and_undeclared_links_run_one_at_a_time() -> None:
    pairs = [_link_check(f"pair{i}", {f"nic:s{2 * i}", f"nic:s{2 * i + 1}"}) for i in range(4)]
    spans, wall_s = _run_on_links(pairs, serial=True)
    assert wall_s >= 0.8
    assert not any(_overlap(spans, a, b) for a, b in [("pair0", "pair1"), ("pair2", "pair3")])
    # a check that names no link may share none with anything (the old exclusive class)
    spans, _ = _run_on_links([_link_check("old", set()), *pairs[:2]])
    assert not _overlap(spans, "old", "pair0") and not _overlap(spans, "old", "pair1")


def _quiet_check(name: str, links: set[str]) -> Check:
    """A latency measurement (a host's pings) that needs its cable quiet."""
    check = _link_check(name, links)
    return replace(check, exclusive=False, links=frozenset(), quiet_links=frozenset(links))


def test_pings_wait_for_the_cable_they_cross_never_for_each_other_even_serial() -> None:
    for serial in (False, True):
        pings = [_quiet_check(f"ping{i}", {f"nic:s{i}"}) for i in range(4)]
        pair = _link_check("pair", {"nic:s0", "nic:s1"})
        other = _link_check("other", {"nic:s8", "nic:s9"})
        spans, wall_s = _run_on_links([*pings, pair, other], serial=serial)
        # a throughput test never fills a cable while a ping crosses it ...
        assert not _overlap(spans, "ping0", "pair") and not _overlap(spans, "ping1", "pair")
        # ... the pings of a room run side by side, serial or not
        assert _overlap(spans, "ping0", "ping3") and _overlap(spans, "ping1", "ping2")
        if not serial:
            assert _overlap(spans, "ping0", "other")


def test_video_decoders_take_turns_one_per_cpu_each_with_its_whole_deadline() -> None:
    """Six cameras on a proctor PC: more decoders than CPUs only make each slower; they
    take turns, and a camera that waited still gets its whole deadline."""
    import os

    from readiness.registry import decoding_probes

    running, most = 0, 0

    async def decode(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.3)
        running -= 1
        return ok(f"decoded within {deadline_s:g} s")

    checks = [check(f"cam-{n}", "decode", deadline_s=0.5) for n in range(6)]
    results = run_checks(runner_of({"decode": decode}, decoders=frozenset({"decode"})),
                         checks)
    cpus = max(1, os.cpu_count() or 1)
    assert most == min(cpus, 6)
    # each one 0.3 s of a 0.5-s deadline: all pass although the last ones started late
    assert [r.status for r in results] == [Status.PASS] * 6
    # the picture and the recorder's replay are the kinds that decode
    assert {"camera_picture", "camera_recording"} <= decoding_probes()
