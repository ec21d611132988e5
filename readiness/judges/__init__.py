"""Judges: pure functions that turn measurements into verdicts.

Two shapes, one registry per shape:

    OutcomeJudge(outcome, params) -> ProbeOutcome   a probe's measurement -> verdict
    ResultsJudge(results, params) -> ProbeOutcome   a derived check: other checks' results
                                                   -> verdict (LAN-SEATS counts seats)

`params` is the Check's `judge_params`: typed thresholds (the profile's validated
models) and the names the message needs. One module per requirement family, each
exporting OUTCOME_JUDGES and RESULTS_JUDGES; judges never do I/O, so each is
unit-tested on recorded measurements.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..results import CheckResult, ProbeOutcome

OutcomeJudge = Callable[[ProbeOutcome, dict[str, Any]], ProbeOutcome]
ResultsJudge = Callable[[list[CheckResult], dict[str, Any]], ProbeOutcome]
