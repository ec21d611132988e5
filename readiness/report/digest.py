"""Short forms an inspector reads: the fix list's lines and a list of seats written as
ranges.

Page 1's fix list is readiness/fixlist.py's, the same list the console and the live
page show; this module only hands it to the template as `FixItem`s. A check's figure
is readiness/figures.py's, the same the console shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..figures import result_figure
from ..fixlist import fix_list, seat_ranges
from ..results import CheckResult, RunRecord, Status, Text

__all__ = ["FixItem", "figure_or_message", "fix_items", "seat_ranges"]

FIGURE_MAX = 90


@dataclass(frozen=True)
class FixItem:
    severity: Status
    where: Text
    what: Text


def fix_items(run: RunRecord) -> list[FixItem]:
    """The run's fix list (one line per problem, worst first), as page 1 shows it."""
    return [FixItem(fix.status, fix.where, fix.what) for fix in fix_list(run)]


def figure_or_message(result: CheckResult, lang: str) -> str:
    """What a line of the appendix shows: the check's own figure when its rule measures
    one, else its message cut short (the attached JSON holds the rest)."""
    figure = result_figure(result)
    text = figure.get(lang) if figure is not None else result.message.get(lang)
    return text if len(text) <= FIGURE_MAX else text[:FIGURE_MAX - 1].rstrip() + "…"
