"""A Check: one (requirement, target, vantage point) to prove, declared as data.

A planner says what to run and where; it never carries code. The runner looks the
probe up by name (on this machine, or on a seat's agent when `agent` is set), hands it
the secrets it names (resolved by the runner, so they never sit in `params`), then
turns the outcome into a verdict with the named judge (readiness/judges).

A check without a probe is derived: its judge reads the results of the probe checks
(LAN-SEATS counts the seats that answered under LAN-SUBNET).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .subject import Subject, label

COORDINATOR = "coordinator"
CONFIGURATION = "configuration"

WhenAbsent = Literal["skip", "warn", "coordinator"]


def nic_link(address: str) -> str:
    """The link of one host's network card (a seat, the exam server, the coordinator)."""
    return f"nic:{address}"


def uplink_link(room_id: str) -> str:
    """The room's way out to the internet (the router's WAN side)."""
    return f"uplink:{room_id}"


@dataclass(frozen=True)
class AgentRoute:
    """Run the check's probe on the agent of this host."""

    label: str
    address: str
    port: int
    # no agent answers: "skip" or "warn" says so; "coordinator" runs the probe here
    # instead with `fallback_params`, and the result says it was measured from here
    when_absent: WhenAbsent = "skip"
    fallback_params: dict[str, Any] | None = None
    # stock iperf3 refuses a test that follows another at once: one retry for an error
    # that came back within a second
    retry_quick_error: bool = False
    # a probe run here first, given {"params": params, **prepare_params}; what it measures
    # under "params" is added to what the agent gets (the coordinator may learn what the
    # seat cannot: a blocked name's real address from a control resolver)
    prepare: str | None = None
    prepare_params: dict[str, Any] | None = None

    def vantage(self) -> str:
        return f"agent {self.label}"


@dataclass
class Check:
    check_id: str
    requirement: str
    subject: Subject
    vantage: str
    # a probe in probes.registry() (or in the agent's registry when `agent` is set);
    # None for a derived check
    probe: str | None = None
    # everything the probe needs, JSON-able: an agent receives the same params
    params: dict[str, Any] = field(default_factory=dict)
    # what the result shows as the rule's numbers
    threshold: dict[str, Any] = field(default_factory=dict)
    deadline_s: float = 10.0
    # throughput-class: never overlaps another exclusive check that loads one of the
    # same links (perfSONAR's exclusive class, narrowed to the links a test uses)
    exclusive: bool = False
    # the links an exclusive check loads (nic_link(address), uplink_link(room)); none
    # declared: it may share no link with anything (the old single exclusive class)
    links: frozenset[str] = frozenset()
    # links a latency measurement needs quiet: it waits while an exclusive check loads
    # one of them (a ping across a saturated link measures the queue) and they wait for
    # it; two such checks never wait for each other, and `serial` does not widen them
    quiet_links: frozenset[str] = frozenset()
    # probe argument name -> the site's secret path (e.g. "password" ->
    # "rooms[0].cameras[1].password"); resolved by the runner at call time
    secrets: dict[str, str] = field(default_factory=dict)
    agent: AgentRoute | None = None
    # a judge in readiness.judges: outcome -> verdict, or results -> verdict when the
    # check has no probe; `judge_params` may hold typed thresholds (never sent anywhere)
    judge: str | None = None
    judge_params: dict[str, Any] = field(default_factory=dict)
    # the side of the subject this check looks at (readiness.subject.ASPECTS)
    aspect: str | None = None

    @property
    def target(self) -> str:
        """The English label, for logs."""
        return label(self.subject, self.aspect, "en")

    @property
    def derived(self) -> bool:
        return self.probe is None
