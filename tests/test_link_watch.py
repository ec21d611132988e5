"""A seat's link that goes down and up is named from the PC's own NIC counters
(readiness/agent/link_watch.py), as its agent samples them while it runs: a loose plug
tonight warns, a cable moved before the agent's window does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from readiness.agent import link_watch
from readiness.agent import self_report as sr
from readiness.judges.seat import judge_self_report
from readiness.results import ProbeOutcome, Status, Text

ADDRESS = "198.18.10.109"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_counters_are_read_per_interface_and_an_os_without_them_gives_none(
        tmp_path: Path) -> None:
    for name, text in (("eth0", "7\n"), ("lo", "0\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "carrier_changes").write_text(text)
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "carrier_changes").write_text("not a number")
    assert link_watch.read_counters(tmp_path) == {"eth0": 7, "lo": 0}
    assert link_watch.read_counters(tmp_path / "missing") == {}


def test_only_the_changes_within_the_window_count() -> None:
    clock, counts = Clock(), {"eth0": 40}
    watch = link_watch.LinkWatch(lambda: dict(counts), clock)
    watch.sample()
    assert watch.recent() == {}  # one sample period not yet over: nothing to say
    clock.now += 30
    counts["eth0"] = 46  # three downs and ups in half a minute
    assert watch.recent() == {"eth0": (6, 30.0)}
    # long after, with the link steady: the old flapping has left the window
    for _ in range(130):
        clock.now += link_watch.SAMPLE_S
        watch.sample()
    changes, span = watch.recent()["eth0"]
    assert changes == 0 and span <= link_watch.WINDOW_S + link_watch.SAMPLE_S


def test_a_started_watch_says_nothing_until_the_link_has_settled() -> None:
    # a NIC renegotiating in the seconds after boot, when the agent has just started, is
    # not a flapping link
    counts = {"eth0": 3}
    watch = link_watch.LinkWatch(lambda: dict(counts))
    watch.start(settle_s=3600)
    counts["eth0"] = 9
    assert watch.recent() == {}


def _report(changes: tuple[int, float] | None) -> dict[str, Any]:
    raw = sr.RawFacts(
        hostname="seat-a09", os={"system": "Linux", "name": "Debian"}, cpu_model="x",
        logical_cores=2, physical_cores=2, ram_bytes=8 * 2**30,
        if_addrs={"eth0": [sr.IfAddr("inet", ADDRESS, "255.255.255.0")]},
        if_stats={"eth0": sr.IfStat(True, 2, 1000, 1500)},
        addressing={ADDRESS: sr.STATIC}, addressing_source="test",
        link_changes={"eth0": changes} if changes else {})
    return sr.build_report(raw, version="9.9")


def _judge(report: dict[str, Any]) -> ProbeOutcome:
    outcome = ProbeOutcome(Status.PASS, Text("self-report collected", "已收集本机信息"),
                           {**report, "agent": "A09"})
    return judge_self_report(outcome, {"address": ADDRESS, "label": "A09", "port": 8765,
                                       "fail_below_mbps": 100, "warn_half_duplex": True,
                                       "warn_link_changes": True})


def test_a_link_that_went_down_and_up_warns_naming_how_often_and_since_when() -> None:
    judged = _judge(_report((6, 180.0)))
    assert judged.status is Status.WARN
    assert [f.code for f in judged.findings] == ["seat.link_changes"]
    said = judged.findings[0].what
    assert "lost its link 3 time(s) in the last 3 min" in said.en
    assert "3 次" in said.zh and "3 分钟" in said.zh
    assert judged.measured["link_changes"] == 6


def test_a_steady_link_or_an_os_without_counters_says_nothing_of_it() -> None:
    for changes in ((0, 600.0), (1, 600.0), None):
        judged = _judge(_report(changes))
        assert judged.status is Status.PASS, judged.message.en
