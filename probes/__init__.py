"""Probes: each module measures one thing and returns a ProbeOutcome.

A probe is `async def run(params: dict, deadline_s: float) -> ProbeOutcome`. It is
handed its target, thresholds and a deadline; it knows nothing about YAML,
profiles, reports or exit codes, never prints and never writes files outside the
evidence folder it may be given in `params`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from readiness.results import ProbeOutcome

ProbeFn = Callable[[dict[str, Any], float], Awaitable[ProbeOutcome]]


def registry() -> dict[str, ProbeFn]:
    # Imported lazily so a broken optional dependency of one probe (e.g. OpenCV)
    # cannot stop the others from loading.
    from . import reachability, router_web, subnet, url_filter, wan_bandwidth

    return {
        "reachability": reachability.run,
        "subnet": subnet.run,
        "wan_bandwidth": wan_bandwidth.run,
        "url_filter": url_filter.run,
        "internet_reach": url_filter.run_reach,
        "router_web": router_web.run,
    }
