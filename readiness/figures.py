"""The figures people read, in a few words: each rule declares its own
(readiness/rules/<family>.py); this is where the console, the report and the live page
ask for them.

`result_figure(r)`: what one check measured ("858 Mbit/s", "disk 275 GB · RAM 23.5 GiB ·
2 cores", "1920×1080 · 15 fps"): the report's appendix, its camera tiles and the live
page show it. `deciding_figure(req, results)`: the figure that decides a requirement's
verdict ("slowest seat A07 86 Mbit/s"): the console's requirement lines.

Each rule reads only the measurements its own checks make: a LAN-SPEED line shows a
throughput or a NIC speed, never the disk size its agent also reported. Nothing here
reads a label, a check id or a message; whom a figure is about is `r.subject`.
"""

from __future__ import annotations

from .results import CheckResult, Status, Text
from .rules import rules
from .words import STATUS_WORDS


def result_figure(result: CheckResult) -> Text | None:
    """What this check measured, by its own rule's declaration; None: it measured no
    figure (a skip, an absent agent, a rule without numbers): its message says why."""
    rule = rules().get(result.requirement)
    figure = rule.result_figure if rule else None
    return figure(result) if figure else None


def _tally(results: list[CheckResult], lang: str) -> str:
    words = STATUS_WORDS[lang]
    parts = [f"{sum(r.status is s for r in results)} {words[s].lower()}"
             for s in (Status.FAIL, Status.ERROR, Status.WARN, Status.PASS, Status.SKIP)
             if any(r.status is s for r in results)]
    return " · ".join(parts)


def deciding_figure(requirement: str, results: list[CheckResult]) -> Text:
    """The requirement's figure, or a tally of its checks when it has no single figure
    (a lone check says its own figure, or what its judge found, or its message)."""
    rule = rules().get(requirement)
    figure = rule.deciding_figure if rule else None
    found = figure(results) if figure else None
    if found is not None:
        return found
    if len(results) == 1:
        only = results[0]
        own = result_figure(only)
        if own is not None:
            return own
        if only.status is Status.SKIP:
            return only.findings[0].what if only.findings else only.message
    return Text(_tally(results, "en"), _tally(results, "zh"))
