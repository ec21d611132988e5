"""Probes: each module measures one thing and returns a ProbeOutcome.

A probe is `async def run(params: dict, deadline_s: float) -> ProbeOutcome`; one that
needs credentials takes a third argument, `secrets: dict[str, Secret]`, which the
runner fills from the names the Check declares (so secrets never sit in params). It
is handed its target and a deadline; it knows nothing about YAML, profiles, reports
or exit codes, never prints and never writes files outside the evidence folder it
may be given in `params`. The verdict words belong to the judges (readiness/judges).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from readiness.results import ProbeOutcome

# run(params, deadline_s) or run(params, deadline_s, secrets)
ProbeFn = Callable[..., Awaitable[ProbeOutcome]]


def registry() -> dict[str, ProbeFn]:
    # Imported lazily so a broken optional dependency of one probe (e.g. OpenCV)
    # cannot stop the others from loading.
    from . import (
        camera_stream,
        l2_sweep,
        onvif_discovery,
        reachability,
        router_web,
        snmp_device,
        subnet,
        throughput,
        url_filter,
        wan_bandwidth,
        wan_floor,
    )

    return {
        "reachability": reachability.run,
        "subnet": subnet.run,
        "l2_sweep": l2_sweep.run,
        "wan_bandwidth": wan_bandwidth.run,
        "wan_floor": wan_floor.run,
        "url_filter_control": url_filter.learn_for,
        "url_filter": url_filter.run,
        "internet_reach": url_filter.run_reach,
        "router_web": router_web.run,
        "throughput": throughput.run,
        "camera_picture": camera_stream.run_picture,
        "camera_audio": camera_stream.run_audio,
        "onvif_discovery": onvif_discovery.run,
        "snmp_device": snmp_device.run_device,
        "snmp_interfaces": snmp_device.run_interfaces,
        "snmp_port_speed": snmp_device.run_port_speed,
        "snmp_ups": snmp_device.run_ups,
    }
