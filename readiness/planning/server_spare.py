"""SERVER-SPARE: the backup exam server named in the site file answers.

A configured backup is reached the way LAN-SUBNET reaches a host (probes/reachability.py:
ping, its configured ports, ARP, its agent's port when ping is silent) and judged by
`lan.spare`; a room without one gets a derived check judged by `lan.spare_missing`
(warn where the certificate recommends one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..checks import COORDINATOR, Check
from ..config.profile import ServerSpareThresholds
from ..config.site import Room
from . import subjects
from .context import thresholds_of
from .knobs import knobs
from .lan import TCP_FALLBACK_S

if TYPE_CHECKING:
    from ..config.profile import Requirement
    from .context import PlanContext

# a backup server answers or not: ten pings are as telling as in LAN-SUBNET
PING_COUNT = 10
PING_INTERVAL_S = 0.1


def plan_server_spare(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    th = thresholds_of(req, ServerSpareThresholds)
    backup = room.exam_servers.backup
    if backup is None:
        return [Check(
            check_id=f"SERVER-SPARE/{room.id}", requirement="SERVER-SPARE",
            subject=subjects.room_subject(room), aspect="spare", vantage=COORDINATOR,
            probe=None,
            threshold={"backup_recommended": th.backup_recommended}, deadline_s=1.0,
            judge="lan.spare_missing", judge_params={"thresholds": th})]
    ports = list(backup.ports)
    return [Check(
        check_id=f"SERVER-SPARE/{room.id}/{backup.address}",
        requirement="SERVER-SPARE",
        subject=subjects.backup_server(room, backup.address),
        vantage=COORDINATOR,
        probe="reachability",
        params={"address": backup.address, "count": PING_COUNT,
                "interval_s": PING_INTERVAL_S, "ports": ports, "subnet": room.subnet,
                **knobs("reachability"),
                "fallback_port": ctx.site.model.agent.port},
        threshold={"answers": True, "ports": ports},
        deadline_s=max(PING_COUNT * PING_INTERVAL_S,
                       float(knobs("reachability")["sample_window_s"]))
        + 3.0 + 2.0 * len(ports) + TCP_FALLBACK_S,
        judge="lan.spare",
        judge_params={},
    )]


# the requirements this module plans checks for (readiness/planning/__init__.py finds it)
PLANS = {"SERVER-SPARE": [plan_server_spare]}
