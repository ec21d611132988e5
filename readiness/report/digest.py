"""Short forms an inspector reads: the fix list's lines and a list of seats written as
ranges.

Page 1's fix list is readiness/fixlist.py's, the same list the console and the live
page show; this module only hands it to the template as `FixItem`s. A check's figure
is readiness/figures.py's, the same the console shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..figures import result_figure
from ..fixlist import FixWords, fix_list, fix_words, seat_ranges
from ..results import CheckResult, RunRecord, Status

__all__ = ["FixItem", "figure_or_message", "fix_items", "seat_ranges"]



@dataclass(frozen=True)
class FixItem:
    severity: Status
    words: FixWords   # where, what to do, the figure, the rules: in the report's language
    codes: tuple[str, ...]


def fix_items(run: RunRecord, lang: str) -> list[FixItem]:
    """The run's fix list (one line per problem, worst first), as page 1 shows it: whole,
    in the report's lead language."""
    return [FixItem(fix.status, fix_words(fix, lang), fix.requirements)
            for fix in fix_list(run)]


def figure_or_message(result: CheckResult, lang: str) -> str:
    """What a line of the appendix shows: the check's own figure when its rule measures
    one, else its message, whole (the cell wraps)."""
    figure = result_figure(result)
    return figure.get(lang) if figure is not None else result.message.get(lang)
