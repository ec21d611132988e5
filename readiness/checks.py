"""A Check: one (requirement, target, vantage point) to prove, and how."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .results import CheckResult, ProbeOutcome


@dataclass
class Check:
    check_id: str
    requirement: str
    target: str
    vantage: str
    # name of a probe in probes.REGISTRY, e.g. "reachability"
    probe: str | None
    # everything the probe needs: addresses, ports, thresholds (JSON-able, so an agent
    # can receive the same params over HTTP)
    params: dict[str, Any] = field(default_factory=dict)
    threshold: dict[str, Any] = field(default_factory=dict)
    deadline_s: float = 10.0
    # throughput-class checks never overlap each other (perfSONAR's exclusive class)
    exclusive: bool = False
    # a probe bound to its credentials (SNMP keys, camera password, agent token): such
    # secrets never travel in params, which are logged and sent to agents
    fn: Callable[[dict[str, Any], float], Awaitable[ProbeOutcome]] | None = None
    # a derived check judges the other results (e.g. LAN-SEATS counts passing seats);
    # it runs after every probe check has finished
    derive: Callable[[list[CheckResult]], ProbeOutcome] | None = None
