"""What the seat agents see: NIC speed (LAN-SPEED), static addressing (LAN-FIXED-IP)
and the candidate PC's own inventory (SEAT-SPEC).

Every check asks the host's agent for the same `self_report` probe (agent/remote.py
asks each agent once per run, however many checks read it; a host that is this
machine, the proctor PC as coordinator, describes itself) and differs only in its
judge (readiness/judges/seat.py). A host without an agent is named in a `skip` (or
`warn`) result and is still checked from outside by the other families.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..checks import COORDINATOR, AgentRoute, Check, WhenAbsent
from ..config.profile import LanFixedIpThresholds, LanSpeedThresholds, SeatSpecThresholds
from ..config.site import Room
from ..subject import Subject
from . import subjects
from .context import thresholds_of

if TYPE_CHECKING:
    from ..config.profile import Requirement
    from .context import PlanContext

# the seat's inventory (a PowerShell run on Windows) is read as the agent starts and
# kept (readiness/agent/inventory.py), so a self-report answers within this
SELF_REPORT_TIMEOUT_S = 4.0
SELF_REPORT = "self_report"


def _self_report_check(ctx: PlanContext, req_id: str, label: str, role: str,
                       subject: Subject, threshold: dict[str, Any], judge: str,
                       judge_params: dict[str, Any], when_absent: WhenAbsent = "skip") -> Check:
    port = ctx.site.model.agent.port
    address = subject.address or ""
    route = AgentRoute(label, address, port, when_absent=when_absent)
    return Check(
        check_id=f"{req_id}/{label}/agent",
        requirement=req_id,
        subject=subject,
        # the proctor PC is usually the coordinator itself
        vantage=COORDINATOR if role == "proctor" else route.vantage(),
        probe=SELF_REPORT,
        # the same (empty) params for every check of a host: one request per agent
        params={},
        threshold=threshold,
        deadline_s=SELF_REPORT_TIMEOUT_S + 3.0,
        agent=route,
        judge=judge,
        judge_params={"address": address, "label": label, "port": port, **judge_params},
    )


def plan_nic_speed(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    """LAN-SPEED as the seat's own NIC negotiated it (1000 full duplex = gigabit)."""
    th = thresholds_of(req, LanSpeedThresholds)
    gigabit = th.nic_speed_mbps
    rule: dict[str, Any] = {"warn_half_duplex": True, "warn_link_changes": True}
    if th.required_class == "gigabit":
        rule["fail_below_mbps"] = gigabit
    else:
        rule["fail_below_mbps"] = 100
        rule["warn_below_mbps"] = gigabit
    threshold = {k: v for k, v in rule.items() if k.endswith("_mbps")}
    checks = [_self_report_check(ctx, "LAN-SPEED", s.label, "seat",
                                 subjects.seat(room, s.label, s.address), threshold,
                                 "seat.self_report", rule)
              for s in ctx.site.seats[room.id]]
    # eda names the exam server's NIC too (千兆网卡)
    if th.required_class == "gigabit":
        checks.append(_self_report_check(ctx, "LAN-SPEED", "exam server", "server",
                                         subjects.exam_server(room), threshold,
                                         "seat.self_report", rule, when_absent="warn"))
    return checks


def plan_fixed_ip_agents(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    """LAN-FIXED-IP as the host's OS tells it: a fixed address, not a DHCP lease."""
    roles = thresholds_of(req, LanFixedIpThresholds).roles
    checks = []
    rule = {"require_static": True}
    if "exam_server" in roles:
        checks.append(_self_report_check(ctx, "LAN-FIXED-IP", "exam server", "server",
                                         subjects.exam_server(room), {"addressing": "static"},
                                         "seat.self_report", rule, when_absent="warn"))
    if "proctor" in roles:
        checks.append(_self_report_check(ctx, "LAN-FIXED-IP", "proctor", "proctor",
                                         subjects.proctor(room), {"addressing": "static"},
                                         "seat.self_report", rule, when_absent="warn"))
    if room.dhcp_server is None:
        # the site plans fixed addresses (it names no DHCP server of its own): a seat
        # holding its planned address as a lease works today, but the address can change
        # at the next boot and break the seat plan (a warn under both profiles)
        checks.extend(_self_report_check(
            ctx, "LAN-FIXED-IP", s.label, "seat", subjects.seat(room, s.label, s.address),
            {"addressing": "static"}, "seat.self_report", {"warn_dhcp_lease": True})
            for s in ctx.site.seats[room.id])
    return checks


def plan_seat_spec(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    th = thresholds_of(req, SeatSpecThresholds)
    threshold = {"min_cpu": th.min_cpu, "min_ram_gb": th.min_ram_gb,
                 "min_disk_gb": th.min_disk_gb}
    seed = req.citation.seed if req.citation else None
    checks = [_self_report_check(ctx, "SEAT-SPEC", s.label, "seat",
                                 subjects.seat(room, s.label, s.address), threshold,
                                 "seat.spec", {"thresholds": th, "role": "seat", "seed": seed})
              for s in ctx.site.seats[room.id]]
    if th.classroom_software:
        # the proctor PC's own items (the electronic classroom): its agent, or this
        # machine's own inventory when the proctor PC is the coordinator
        checks.append(_self_report_check(
            ctx, "SEAT-SPEC", "proctor", "proctor", subjects.proctor(room),
            {"classroom_software": [c.name for c in th.classroom_software]}, "seat.spec",
            {"thresholds": th, "role": "proctor", "seed": seed}, when_absent="warn"))
    return checks


# the requirements this module plans checks for (readiness/planning/__init__.py finds it)
PLANS = {"LAN-SPEED": [plan_nic_speed], "LAN-FIXED-IP": [plan_fixed_ip_agents],
         "SEAT-SPEC": [plan_seat_spec]}
