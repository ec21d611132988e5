"""LAN-SUBNET and LAN-SEATS: one subnet, every host answers, enough seats work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..checks import Check
from ..config.load import Site
from ..config.site import Room
from ..results import CheckResult, ProbeOutcome, Status, Text

if TYPE_CHECKING:
    from ..config.profile import Requirement
    from . import PlanContext

COORDINATOR = "coordinator"


def host_label(role_en: str, name: str, address: str) -> str:
    return f"{role_en} {name} ({address})" if name else f"{role_en} ({address})"


def _lan_hosts(room: Room, site: Site) -> list[tuple[str, str, str, list[int]]]:
    """(target label, role_en, address, tcp ports) for every host that must answer."""
    hosts = [
        (host_label("proctor", "", room.proctor.address), "proctor",
         room.proctor.address, room.proctor.ports),
        (host_label("exam server", "primary", room.exam_servers.primary.address),
         "exam server", room.exam_servers.primary.address, room.exam_servers.primary.ports),
    ]
    backup = room.exam_servers.backup
    if backup:
        hosts.append((host_label("exam server", "backup", backup.address), "exam server",
                      backup.address, backup.ports))
    for seat in site.seats[room.id]:
        hosts.append((host_label("seat", seat.label, seat.address), "seat", seat.address, []))
    return hosts


def _reach_deadline(count: int, interval_s: float, ports: list[int]) -> float:
    # pings run back to back, then each port gets its own connect timeout
    return count * interval_s + 2.0 + 2.0 * len(ports) + 1.0


def _lan_subnet_checks(room: Room, site: Site, th: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    room_tag = f"{room.id}/"
    for role_en, role_zh, host, must in (
        ("proctor", "监考机", room.proctor, th.get("proctor_same_subnet", True)),
        ("exam server", "考试服务器", room.exam_servers.primary,
         th.get("server_same_subnet", False)),
    ):
        checks.append(Check(
            check_id=f"LAN-SUBNET/{room_tag}{role_en}/subnet",
            requirement="LAN-SUBNET",
            target=f"{role_en} ({host.address}) in {room.subnet}",
            vantage="configuration",
            probe="subnet",
            params={"address": host.address, "subnet": room.subnet, "must_be_same": must,
                    "role_en": role_en, "role_zh": role_zh},
            threshold={"same_subnet": bool(must)},
            deadline_s=2.0,
        ))
    count = int(th.get("ping_count", 10))
    interval = float(th.get("ping_interval_s", 0.1))
    for label, _role, address, ports in _lan_hosts(room, site):
        threshold = {
            "warn_loss_pct": th.get("warn_loss_pct", 0),
            "fail_loss_pct": th.get("fail_loss_pct", 50),
            "warn_rtt_ms": th.get("warn_rtt_ms", 5),
        }
        checks.append(Check(
            check_id=f"LAN-SUBNET/{room_tag}{address}/reach",
            requirement="LAN-SUBNET",
            target=label,
            vantage=COORDINATOR,
            probe="reachability",
            params={"address": address, "count": count, "interval_s": interval,
                    "ports": list(ports), **threshold},
            threshold=threshold,
            deadline_s=_reach_deadline(count, interval, list(ports)),
        ))
    return checks


def _count_seats(room_id: str, seat_targets: set[str], minimum: int,
                 recommended: int) -> Any:
    def derive(results: list[CheckResult]) -> ProbeOutcome:
        answering = [r for r in results
                     if r.requirement == "LAN-SUBNET" and r.target in seat_targets
                     and r.status in (Status.PASS, Status.WARN)]
        unverified = [r for r in results
                      if r.requirement == "LAN-SUBNET" and r.target in seat_targets
                      and r.status == Status.ERROR]
        working = len(answering)
        measured = {"working_seats": working, "configured_seats": len(seat_targets)}
        if working >= recommended:
            return ProbeOutcome(Status.PASS, Text(
                f"{working} of {len(seat_targets)} seats answer (need {minimum})",
                f"{len(seat_targets)} 个考位中 {working} 个可达（要求 {minimum} 个）"), measured)
        if working >= minimum:
            return ProbeOutcome(Status.WARN, Text(
                f"{working} seats answer: meets the minimum {minimum}, "
                f"below the recommended {recommended}",
                f"{working} 个考位可达：达到最低 {minimum} 个，未达建议 {recommended} 个"),
                measured)
        if unverified and working + len(unverified) >= minimum:
            return ProbeOutcome(Status.ERROR, Text(
                f"only {working} seats proven working; {len(unverified)} could not be checked",
                f"仅 {working} 个考位确认可用；{len(unverified)} 个无法检查"), measured)
        return ProbeOutcome(Status.FAIL, Text(
            f"only {working} of {len(seat_targets)} seats answer; the rule needs {minimum}: "
            "fix or replace the seats marked fail under LAN-SUBNET",
            f"{len(seat_targets)} 个考位中仅 {working} 个可达，规定至少 {minimum} 个："
            "请修复 LAN-SUBNET 中失败的考位"), measured)

    return derive


def plan_lan_subnet(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    return _lan_subnet_checks(room, ctx.site, req.thresholds)


def plan_lan_seats(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    th = req.thresholds
    seat_targets = {host_label("seat", s.label, s.address) for s in ctx.site.seats[room.id]}
    minimum = int(th.get("min_seats", 40))
    recommended = int(th.get("recommended_seats", minimum))
    return [Check(
        check_id=f"LAN-SEATS/{room.id}",
        requirement="LAN-SEATS",
        target=f"room {room.id}",
        vantage=COORDINATOR,
        probe=None,
        threshold={"min_seats": minimum, "recommended_seats": recommended},
        deadline_s=1.0,
        derive=_count_seats(room.id, seat_targets, minimum, recommended),
    )]
