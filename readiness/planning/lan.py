"""LAN-SUBNET and LAN-SEATS: one subnet, every host answers, enough seats work.

Declarative checks only: the probes (probes/subnet.py, probes/reachability.py) measure,
the judges in readiness/judges/lan.py give the verdicts against the profile's typed
thresholds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..checks import CONFIGURATION, COORDINATOR, Check, nic_link
from ..config.load import Site
from ..config.profile import LanSeatsThresholds, LanSubnetThresholds
from ..config.site import Room
from ..subject import Subject
from . import subjects
from .context import thresholds_of
from .knobs import knobs

if TYPE_CHECKING:
    from ..config.profile import Requirement
    from .context import PlanContext


def _lan_hosts(room: Room, site: Site) -> list[tuple[Subject, list[int]]]:
    """(subject, tcp ports) for every host that must answer."""
    hosts = [(subjects.proctor(room), room.proctor.ports),
             (subjects.exam_server(room), room.exam_servers.primary.ports)]
    backup = room.exam_servers.backup
    if backup:
        hosts.append((subjects.backup_server(room, backup.address), backup.ports))
    for seat in site.seats[room.id]:
        hosts.append((subjects.seat(room, seat.label, seat.address), []))
    return hosts


# When ping is silent the probe times up to 5 TCP connects of at most 1 s to the agent
# port (probes/reachability.py TCP_ATTEMPTS, TCP_CONNECT_TIMEOUT_S).
TCP_FALLBACK_S = 5.5


def _reach_deadline(count: int, interval_s: float, ports: list[int]) -> float:
    # pings spread over the sample window (at least interval_s apart), each port its
    # own connect timeout, then ARP and the TCP fallback if ping was silent
    window_s = max(count * interval_s, float(knobs("reachability")["sample_window_s"]))
    return window_s + 2.0 + 2.0 * len(ports) + 1.0 + TCP_FALLBACK_S


def _lan_subnet_checks(room: Room, site: Site, th: LanSubnetThresholds) -> list[Check]:
    checks: list[Check] = []
    room_tag = f"{room.id}/"
    for role_en, role_zh, host, must, subject in (
        ("proctor", "监考机", room.proctor, th.proctor_same_subnet, subjects.proctor(room)),
        ("exam server", "考试服务器", room.exam_servers.primary, th.server_same_subnet,
         subjects.exam_server(room)),
    ):
        checks.append(Check(
            check_id=f"LAN-SUBNET/{room_tag}{role_en}/subnet",
            requirement="LAN-SUBNET",
            subject=subject,
            aspect="same_subnet",
            vantage=CONFIGURATION,
            probe="subnet",
            params={"address": host.address, "subnet": room.subnet},
            threshold={"same_subnet": must},
            deadline_s=2.0,
            judge="lan.subnet",
            judge_params={"must_be_same": must, "role_en": role_en, "role_zh": role_zh},
        ))
    count, interval = th.ping_count, float(th.ping_interval_s)
    threshold = {"warn_loss_pct": th.warn_loss_pct, "fail_loss_pct": th.fail_loss_pct,
                 "warn_rtt_ms": th.warn_rtt_ms}
    for subject, ports in _lan_hosts(room, site):
        address = subject.address
        checks.append(Check(
            check_id=f"LAN-SUBNET/{room_tag}{address}/reach",
            requirement="LAN-SUBNET",
            subject=subject,
            vantage=COORDINATOR,
            probe="reachability",
            # subnet and fallback_port (the agent): ARP and TCP, when ping is silent
            params={"address": address, "count": count, "interval_s": interval,
                    "ports": list(ports), "subnet": room.subnet,
                    **knobs("reachability"),
                    "fallback_port": site.model.agent.port},
            threshold=dict(threshold),
            deadline_s=_reach_deadline(count, interval, list(ports)),
            # the echoes spread over seconds: not while a throughput test fills its cable
            quiet_links=frozenset({nic_link(address)}) if address else frozenset(),
            judge="lan.reachability",
            judge_params={"thresholds": th},
        ))
    return checks


def plan_lan_subnet(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    return _lan_subnet_checks(room, ctx.site, thresholds_of(req, LanSubnetThresholds))


def plan_lan_seats(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    th = thresholds_of(req, LanSeatsThresholds)
    seats = sorted(s.label for s in ctx.site.seats[room.id])
    return [Check(
        check_id=f"LAN-SEATS/{room.id}",
        requirement="LAN-SEATS",
        subject=subjects.room_subject(room),
        vantage=COORDINATOR,
        probe=None,
        threshold={"min_seats": th.min_seats, "recommended_seats": th.recommended_seats},
        deadline_s=1.0,
        judge="lan.count_seats",
        judge_params={"room": room.id, "seats": seats, "thresholds": th},
    )]


# the requirements this module plans checks for (readiness/planning/__init__.py finds it)
PLANS = {"LAN-SUBNET": [plan_lan_subnet], "LAN-SEATS": [plan_lan_seats]}
# the requirements whose checks these derive from
NEEDS = {"LAN-SEATS": {"LAN-SUBNET"}}
