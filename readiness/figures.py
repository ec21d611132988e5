"""The figure that decides a requirement's verdict, in a few words: what the console's
requirement lines and the report's table show ("slowest seat A07 97 Mbit/s (needs 500)")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .results import CheckResult, Status, Text, worst
from .subject import Kind
from .words import STATUS_WORDS


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 100 or value == int(value) else f"{value:.1f}"


def _first(results: list[CheckResult], *keys: str) -> CheckResult | None:
    return next((r for r in results if all(_num(r.measured.get(k)) is not None
                                            for k in keys)), None)


def _lan_speed(results: list[CheckResult]) -> Text | None:
    paths = [r for r in results if _num(r.measured.get("throughput_mbps")) is not None
             and r.subject.kind is Kind.SEAT]
    if not paths:
        return None
    slow = min(paths, key=lambda r: r.measured["throughput_mbps"])
    seat, mbps = slow.subject.name, _fmt(slow.measured["throughput_mbps"])
    need = slow.threshold.get("gigabit_class_min_mbps")
    needs = (f" (gigabit needs {need})", f"（千兆需 {need}）") if need else ("", "")
    return Text(f"slowest seat {seat} {mbps} Mbit/s{needs[0]}",
                f"最慢考位 {seat} {mbps} Mbit/s{needs[1]}")


def _count(key: str, total: str, need: str, en: str, zh: str) -> Callable[
        [list[CheckResult]], Text | None]:
    def figure(results: list[CheckResult]) -> Text | None:
        r = _first(results, key, total)
        if r is None:
            return None
        got, of, min_ = r.measured[key], r.measured[total], r.threshold.get(need)
        return Text(f"{got} of {of} {en} (needs {min_})", f"{got}/{of} 个{zh}（要求 {min_}）")
    return figure


def _wan(results: list[CheckResult]) -> Text | None:
    r = _first(results, "download_mbps", "upload_mbps")
    if r is None:
        return None
    down, up = _fmt(r.measured["download_mbps"]), _fmt(r.measured["upload_mbps"])
    floor = _fmt(_num(r.threshold.get("floor_mbps")) or 0)
    return Text(f"down {down} / up {up} Mbit/s (needs {floor})",
                f"下行 {down} / 上行 {up} Mbit/s（要求 {floor}）")


def _ups(results: list[CheckResult]) -> Text | None:
    r = _first(results, "minutes_remaining")
    if r is None:
        return None
    need = r.threshold.get("min_minutes")
    got = r.measured["minutes_remaining"]
    return Text(f"{got} min on battery (needs {need})", f"电池可供电 {got} 分钟（要求 {need}）")


FIGURES: dict[str, Callable[[list[CheckResult]], Text | None]] = {
    "LAN-SPEED": _lan_speed,
    "LAN-SEATS": _count("working_seats", "configured_seats", "min_seats", "seats answer",
                        "考位可达"),
    "CAM-COUNT": _count("working_cameras", "configured_cameras", "min_cameras",
                        "cameras live", "摄像头画面正常"),
    "WAN-FLOOR": _wan,
    "UPS-RUNTIME": _ups,
}


def _tally(results: list[CheckResult], lang: str) -> str:
    words = STATUS_WORDS[lang]
    parts = [f"{sum(r.status is s for r in results)} {words[s].lower()}"
             for s in (Status.FAIL, Status.ERROR, Status.WARN, Status.PASS, Status.SKIP)
             if any(r.status is s for r in results)]
    return " · ".join(parts)


def deciding_figure(requirement: str, results: list[CheckResult]) -> Text:
    """The requirement's figure, or a tally of its checks when it has no single figure
    (a lone check that was not measured says why, in a few words)."""
    figure = FIGURES.get(requirement)
    found = figure(results) if figure else None
    if found is not None:
        return found
    if len(results) == 1 and worst([r.status for r in results]) is Status.SKIP:
        msg = results[0].message
        return Text(msg.en.split(":")[0], msg.zh.split("：")[0])
    return Text(_tally(results, "en"), _tally(results, "zh"))
