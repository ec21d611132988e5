"""Subnet arithmetic: is a host's configured address in the candidates' subnet?

No packet is sent; the rule (同一网段) is about addressing, and a proctor or exam
server configured outside the seats' subnet is a finding even if routing works.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from readiness.results import ProbeOutcome, Status, Text


async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    address = ipaddress.IPv4Address(params["address"])
    subnet = ipaddress.IPv4Network(params["subnet"])
    role_en = params.get("role_en", "host")
    role_zh = params.get("role_zh", "主机")
    inside = address in subnet
    measured = {"address": str(address), "subnet": str(subnet), "same_subnet": inside}
    if inside:
        return ProbeOutcome(
            Status.PASS,
            Text(f"{role_en} {address} is in the candidates' subnet {subnet}",
                 f"{role_zh} {address} 与考生机同在网段 {subnet}"),
            measured,
        )
    if not params.get("must_be_same", True):
        return ProbeOutcome(
            Status.PASS,
            Text(f"{role_en} {address} is outside {subnet}; this certificate allows it",
                 f"{role_zh} {address} 不在网段 {subnet} 内；本证书不要求同一网段"),
            measured,
        )
    return ProbeOutcome(
        Status.FAIL,
        Text(f"{role_en} {address} is outside the candidates' subnet {subnet}: "
             f"give it an address in {subnet}",
             f"{role_zh} {address} 不在考生机网段 {subnet} 内：请改为 {subnet} 内的地址"),
        measured,
    )
