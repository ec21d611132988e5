"""Every family's judges by name: what the runner looks a Check's `judge` up in."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from . import OutcomeJudge, ResultsJudge


def _families() -> list[Any]:
    # every module of this package that declares judges: a new family is found by being
    # here (imported when first asked, so importing one judge module, in a test or the
    # agent, does not pull in every family)
    package = importlib.import_module(__package__ or "readiness.judges")
    return [importlib.import_module(f"{package.__name__}.{m.name}")
            for m in pkgutil.iter_modules(package.__path__) if m.name != "registry"]


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
