"""Every family's judges by name: what the runner looks a Check's `judge` up in."""

from __future__ import annotations

from typing import Any

from . import OutcomeJudge, ResultsJudge


def _families() -> list[Any]:
    # imported when first asked, so that importing one judge module (in a test, or
    # the agent) does not pull in every family
    from . import cameras, filtering, lan, layer2, seat, snmp, throughput

    return [lan, layer2, throughput, filtering, cameras, snmp, seat]


def outcome_judges() -> dict[str, OutcomeJudge]:
    out: dict[str, OutcomeJudge] = {}
    for module in _families():
        out.update(getattr(module, "OUTCOME_JUDGES", {}))
    return out


def results_judges() -> dict[str, ResultsJudge]:
    out: dict[str, ResultsJudge] = {}
    for module in _families():
        out.update(getattr(module, "RESULTS_JUDGES", {}))
    return out
