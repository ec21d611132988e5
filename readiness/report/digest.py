"""Short forms an inspector reads: the fix list's lines, a check's deciding figure, a
list of seats written as ranges.

Page 1's fix list is readiness/fixlist.py's, the same list the console and the live
page show; this module only hands it to the template as `FixItem`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..fixlist import fix_list, seat_ranges
from ..results import CheckResult, RunRecord, Status, Text
from .model import SEAT_RE

__all__ = ["FixItem", "figure", "fix_items", "seat_of", "seat_ranges"]

# Measured keys that are "the figure" of a check, in order of preference, with units.
FIGURE_KEYS = (
    ("throughput_mbps", "Mbit/s"), ("download_mbps", "Mbit/s"), ("aggregate_mbps", "Mbit/s"),
    ("loss_pct", "% loss"), ("rtt_avg_ms", "ms"), ("minutes_remaining", "min"),
    ("disk_gb", "GB disk"), ("working_seats", "seats"), ("working_cameras", "cameras"),
    ("hosts_answering", "hosts"),
)
FIGURE_MAX = 90


@dataclass(frozen=True)
class FixItem:
    severity: Status
    where: Text
    what: Text


def seat_of(result: CheckResult) -> str | None:
    match = SEAT_RE.search(result.target)
    return match.group("label") if match else None


def fix_items(run: RunRecord) -> list[FixItem]:
    """The run's fix list (one line per problem, worst first), as page 1 shows it."""
    return [FixItem(fix.status, fix.where, fix.what) for fix in fix_list(run)]


def _fmt_number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def figure(result: CheckResult, lang: str) -> str:
    """The one figure a line of the appendix shows: a measured number when the check
    has one, else its message cut short (the full JSON holds the rest)."""
    measured: dict[str, Any] = result.measured
    if isinstance(measured.get("width"), int) and isinstance(measured.get("height"), int):
        fps = measured.get("fps")
        rate = f" · {fps:.3g} fps" if isinstance(fps, int | float) else ""
        return f"{measured['width']}×{measured['height']}{rate}"
    for key, unit in FIGURE_KEYS:
        value = measured.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f"{_fmt_number(float(value))} {unit}"
    text = result.message.get(lang)
    return text if len(text) <= FIGURE_MAX else text[:FIGURE_MAX - 1].rstrip() + "…"
