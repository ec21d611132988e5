"""UPS-RUNTIME: the battery behind the candidate PCs."""

from __future__ import annotations

from ..results import CheckResult, Text
from . import Metric, Rule
from ._words import first, fmt, num


def _ups(r: CheckResult) -> Text | None:
    minutes = num(r.measured.get("minutes_remaining"))
    if minutes is None:
        return None
    return Text(f"{fmt(minutes)} min on battery", f"电池可供电 {fmt(minutes)} 分钟")


def _ups_runtime(results: list[CheckResult]) -> Text | None:
    r = first(results, "minutes_remaining")
    if r is None:
        return None
    need = r.threshold.get("min_minutes")
    got = r.measured["minutes_remaining"]
    return Text(f"{got} min on battery (needs {need})", f"电池可供电 {got} 分钟（要求 {need}）")


RULES = (
    Rule("UPS-RUNTIME", _ups, _ups_runtime, metrics=(
        Metric("readiness_ups_runtime_remaining_seconds", "battery runtime the UPS reports",
               "UPS-RUNTIME", None, "minutes_remaining", 60.0),)),
)
