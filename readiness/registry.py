"""Every kind of check, from the one declaration each makes beside its probe: what the
runner dispatches by name, what planners' checks are held against, and (through
agent/server.py's own view) what a seat's agent runs."""

from __future__ import annotations

from functools import cache
from typing import Any

from .checkkind import COORDINATOR, CheckKind, ProbeFn


@cache
def all_kinds() -> dict[str, CheckKind]:
    # the declarations do not change while the program runs: found once
    from probes import kinds as probe_kinds

    from .agent.kinds import kinds as agent_kinds

    return {k.probe: k for k in [*probe_kinds(), *agent_kinds()]}


def deadline(probe: str, params: dict[str, Any], *, via_agent: bool = False,
             retry_quick_error: bool = False) -> float:
    """The deadline a check of this kind needs for these params: its kind's budget, and
    on a seat's agent the health call, the call's margin and, when the route retries an
    error that comes back at once (stock iperf3 right after another test), that retry."""
    from .agent.remote import CALL_MARGIN_S, HEALTH_TIMEOUT_S, QUICK_ERROR_S, RETRY_PAUSE_S

    kind = all_kinds()[probe]
    if kind.budget is None:
        raise ValueError(f"{probe} declares no budget: give the check its deadline")
    need = kind.budget(params)
    if not via_agent:
        return need
    retry = QUICK_ERROR_S + RETRY_PAUSE_S if retry_quick_error else 0.0
    return HEALTH_TIMEOUT_S + retry + need + CALL_MARGIN_S + 0.5


def decoding_probes() -> frozenset[str]:
    """The kinds that decode video where they run (CheckKind.decodes_video)."""
    return frozenset(name for name, k in all_kinds().items() if k.decodes_video)


def coordinator_probes() -> dict[str, ProbeFn]:
    """The probes this machine (the coordinator) runs, by name."""
    return {name: k.run for name, k in all_kinds().items() if COORDINATOR in k.runs_on}
