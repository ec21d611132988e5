"""Judges: pure functions that turn measurements into verdicts.

Two shapes, one registry per shape:

    OutcomeJudge(outcome, params) -> ProbeOutcome   a probe's measurement -> verdict
    ResultsJudge(results, params) -> ProbeOutcome   a derived check: other checks' results
                                                   -> verdict (LAN-SEATS counts seats)

`params` is the Check's `judge_params`: typed thresholds (the profile's validated
models) and the names the message needs. One module per requirement family, each
exporting OUTCOME_JUDGES and RESULTS_JUDGES; judges never do I/O, so each is
unit-tested on recorded measurements.

Every verdict other than pass a judge makes carries `findings` (readiness/results.py
Finding): what is wrong without naming the subject, what to do, in both languages. The
message stays the sentence people read; the fix list groups the findings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ..results import SEVERITY, CheckResult, Finding, ProbeOutcome, Status, Text

OutcomeJudge = Callable[[ProbeOutcome, dict[str, Any]], ProbeOutcome]
ResultsJudge = Callable[[list[CheckResult], dict[str, Any]], ProbeOutcome]


class Issue(NamedTuple):
    """One thing a judge found wrong: its verdict, the words its message says it in, and
    the findings the fix list reads (made from the same pieces as the words)."""

    status: Status
    text: Text
    findings: tuple[Finding, ...]


def worst_first(issues: list[Issue]) -> list[Issue]:
    return sorted(issues, key=lambda issue: -SEVERITY[issue.status])


def findings_of(issues: list[Issue]) -> list[Finding]:
    return [f for issue in worst_first(issues) for f in issue.findings]


def said(what: Text, action: Text) -> Text:
    """A finding as the message says it: what is wrong; what to do."""
    return Text(f"{what.en}; {action.en}", f"{what.zh}；{action.zh}")


def found(status: Status, code: str, what: Text, action: Text,
          measured: dict[str, Any]) -> ProbeOutcome:
    """A verdict of one finding: its message and its finding made from the same words."""
    return ProbeOutcome(status, said(what, action), measured,
                        findings=[Finding(code, what, action)])
