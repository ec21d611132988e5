"""Probes: each module measures one thing and declares what kind of check it is.

A probe is `async def run(params: dict, deadline_s: float) -> ProbeOutcome`; one that
needs credentials takes a third argument, `secrets: dict[str, Secret]`, which the
runner fills from the names the Check declares (so secrets never sit in params). It
is handed its target and a deadline; it knows nothing about YAML, profiles, reports
or exit codes, never prints and never writes files outside the evidence folder it
may be given in `params`. It measures: the verdict is a judge's (readiness/judges).

Each module declares its `KIND` or `KINDS` (readiness/checkkind.py): the one place
that says its parameters, which of them are targets, its judges and where it runs.
"""

from __future__ import annotations

import importlib
import pkgutil

from readiness.checkkind import CheckKind, ProbeFn

__all__ = ["ProbeFn", "kinds", "registry"]


def kinds() -> list[CheckKind]:
    """Every kind a module of this package declares: a new probe is found by being here.
    Imported when asked, so that a broken optional dependency of one probe (e.g. OpenCV)
    cannot stop the others from loading."""
    out: list[CheckKind] = []
    for info in pkgutil.iter_modules(__path__):
        if info.ispkg:
            continue  # engines/: protocol code, not probes
        module = importlib.import_module(f"{__name__}.{info.name}")
        out += list(getattr(module, "KINDS", ())) or (
            [module.KIND] if hasattr(module, "KIND") else [])
    return out


def registry() -> dict[str, ProbeFn]:
    """The probes this machine runs, by name."""
    return {k.probe: k.run for k in kinds()}
