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

from readiness.checkkind import CheckKind, ProbeFn

__all__ = ["ProbeFn", "kinds", "registry"]


def kinds() -> list[CheckKind]:
    # Imported when asked, so that a broken optional dependency of one probe (e.g.
    # OpenCV) cannot stop the others from loading.
    from . import (
        camera_stream,
        l2_sweep,
        onvif_discovery,
        reachability,
        router_web,
        snmp_device,
        subnet,
        throughput,
        throughput_serve,
        url_filter,
        wan_bandwidth,
        wan_floor,
    )

    out: list[CheckKind] = []
    for module in (reachability, subnet, l2_sweep, wan_bandwidth, wan_floor, url_filter,
                   router_web, throughput, throughput_serve, camera_stream,
                   onvif_discovery, snmp_device):
        out += list(getattr(module, "KINDS", ())) or [module.KIND]
    return out


def registry() -> dict[str, ProbeFn]:
    """The probes this machine runs, by name."""
    return {k.probe: k.run for k in kinds()}
