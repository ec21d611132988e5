"""Subnet arithmetic: is a host's configured address in the candidates' subnet?

No packet is sent; the rule (同一网段) is about addressing, and a proctor or exam
server configured outside the seats' subnet is a finding even if routing works.
The probe measures (`same_subnet`); whether the certificate requires it is the
judge's (readiness/judges/lan.py, `lan.subnet`).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from readiness.checkkind import CheckKind, knobs
from readiness.results import ProbeOutcome, Status, Text


async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    try:
        address = ipaddress.IPv4Address(params["address"])
        subnet = ipaddress.IPv4Network(params["subnet"])
    except (KeyError, ValueError) as exc:
        return ProbeOutcome(Status.ERROR, Text(f"bad subnet parameters: {exc}",
                                               f"网段检查参数错误：{exc}"))
    inside = address in subnet
    where_en, where_zh = ("inside", "在") if inside else ("outside", "不在")
    return ProbeOutcome(
        Status.PASS,
        Text(f"measured: {address} is {where_en} {subnet}",
             f"已测量：{address} {where_zh}网段 {subnet} 内"),
        {"address": str(address), "subnet": str(subnet), "same_subnet": inside},
    )


KIND = CheckKind(probe="subnet", run=run, params=knobs("address", "subnet"),
                 judges=("lan.subnet",))
