"""WAN-FLOOR over the site's speed-test endpoints, in order: the next endpoint is tried
only when one errs (a broken endpoint, not a slow line), so one dead endpoint in the
site file does not leave the uplink unmeasured.

params: endpoints, a list of wan_bandwidth params (the first is tried first).
measured: what wan_bandwidth measured on the endpoint that answered, and
`endpoints_tried` when more than one was tried.
"""

from __future__ import annotations

import time
from typing import Any

from readiness.checkkind import CheckKind, knobs
from readiness.results import ProbeOutcome, Status, Text

from . import wan_bandwidth

# the time one endpoint may take when others are still waiting their turn
ONE_ENDPOINT_S = 60.0
# too little left for a measurement that means anything
MIN_LEFT_S = 5.0


def _name(params: dict[str, Any]) -> str:
    return str(params.get("url") or f"iperf3://{params.get('host')}:{params.get('port')}")


async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    endpoints = params.get("endpoints")
    if not isinstance(endpoints, list) or not endpoints:
        return ProbeOutcome(Status.ERROR, Text(
            "bad parameters: 'endpoints' must be a non-empty list (wan_endpoints in the "
            "site file)",
            "参数错误：'endpoints' 必须是非空列表（站点配置中的 wan_endpoints）"))
    end = time.monotonic() + deadline_s
    outcome = ProbeOutcome(Status.ERROR, Text(
        "no time left to try a speed-test endpoint", "没有剩余时间尝试测速端点"))
    tried: list[str] = []
    for i, endpoint in enumerate(endpoints):
        left = end - time.monotonic() - 0.5
        if left < MIN_LEFT_S:
            break
        budget = left if i == len(endpoints) - 1 else min(left, ONE_ENDPOINT_S)
        outcome = await wan_bandwidth.run(endpoint, budget)
        tried.append(_name(endpoint))
        if outcome.status != Status.ERROR:
            break
    if len(tried) > 1:
        outcome.measured["endpoints_tried"] = tried
    return outcome


KIND = CheckKind(probe="wan_floor", run=run, params=knobs("endpoints"),
                 judges=("filtering.wan_floor",))
