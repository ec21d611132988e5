"""SNMP views of the room's devices: the UPS (UPS-RUNTIME), the router (FILTER-FEATURES:
SNMP reachable, reboots) and the switch (LAN-SPEED: per-port speed and errors, and each
seat's port through the bridge forwarding table).

Credentials are bound into the probe (Check.fn); params, which end up in results and
reports, carry only addresses and thresholds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from probes.snmp_client import SnmpCredentials
from probes.snmp_device import (
    make_device_probe,
    make_interfaces_probe,
    make_port_speed_probe,
    make_ups_probe,
)

from ..checks import Check
from ..config.site import Room, SnmpV2c

if TYPE_CHECKING:
    from ..config.profile import Requirement
    from . import PlanContext

SNMP_DEADLINE_S = 8.0


def _credentials(ctx: PlanContext, room_index: int, part: str) -> SnmpCredentials | None:
    room = ctx.site.model.rooms[room_index]
    device = getattr(room, part)
    snmp = getattr(device, "snmp", None) if device else None
    if snmp is None:
        return None
    base = f"rooms[{room_index}].{part}.snmp"
    if isinstance(snmp, SnmpV2c):
        community = ctx.site.secret(f"{base}.community")
        return SnmpCredentials.v2c(community) if community else None
    auth, priv = ctx.site.secret(f"{base}.auth_key"), ctx.site.secret(f"{base}.priv_key")
    return SnmpCredentials.v3(snmp.user, auth, priv, auth_protocol=snmp.auth_protocol,
                              priv_protocol=snmp.priv_protocol)


def _index(ctx: PlanContext, room: Room) -> int:
    return next(i for i, r in enumerate(ctx.site.model.rooms) if r.id == room.id)


def plan_ups(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    creds = _credentials(ctx, _index(ctx, room), "ups")
    if room.ups is None or creds is None:
        return []
    th = req.thresholds
    params: dict[str, Any] = {
        "host": room.ups.address, "port": room.ups.snmp.port if room.ups.snmp else 161,
        "name": room.ups.name, "min_minutes": th.get("min_minutes", 120),
        # both profiles' fail rule names a UPS running on battery
        "on_battery": "fail",
    }
    return [Check(
        check_id=f"UPS-RUNTIME/{room.id}/ups", requirement="UPS-RUNTIME",
        target=f"UPS {room.ups.name} ({room.ups.address})", vantage="coordinator",
        probe="snmp_ups", params=params,
        threshold={"min_minutes": params["min_minutes"], "covers": th.get("covers")},
        deadline_s=SNMP_DEADLINE_S, fn=make_ups_probe(creds))]


def plan_router_snmp(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    creds = _credentials(ctx, _index(ctx, room), "router")
    if creds is None or room.router.snmp is None:
        return []
    return [Check(
        check_id=f"FILTER-FEATURES/{room.id}/router-snmp", requirement="FILTER-FEATURES",
        target=f"router SNMP ({room.router.address})", vantage="coordinator",
        probe="snmp_device",
        params={"host": room.router.address, "port": room.router.snmp.port,
                "name": "router"},
        threshold={}, deadline_s=SNMP_DEADLINE_S, fn=make_device_probe(creds))]


def plan_switch(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    creds = _credentials(ctx, _index(ctx, room), "switch")
    if room.switch is None or creds is None or room.switch.snmp is None:
        return []
    th = req.thresholds
    common = {"host": room.switch.address, "port": room.switch.snmp.port, "name": "switch",
              "required_class": th.get("required_class"),
              "gigabit_mbps": th.get("nic_speed_mbps", 1000), "fast_mbps": 100}
    checks = [Check(
        check_id=f"LAN-SPEED/{room.id}/switch-ports", requirement="LAN-SPEED",
        target=f"switch ports ({room.switch.address})", vantage="coordinator",
        probe="snmp_interfaces", params={**common, "interval_s": 2.0},
        threshold={"required_class": th.get("required_class")},
        deadline_s=SNMP_DEADLINE_S + 4.0, fn=make_interfaces_probe(creds))]
    seats = {s.label: s.mac for s in ctx.site.seats[room.id] if s.mac}
    if seats:
        checks.append(Check(
            check_id=f"LAN-SPEED/{room.id}/seat-ports", requirement="LAN-SPEED",
            target=f"seats' switch ports ({room.switch.address})", vantage="coordinator",
            probe="snmp_port_speed", params={**common, "switch": room.switch.address,
                                             "seats": seats},
            threshold={"required_class": th.get("required_class")},
            deadline_s=SNMP_DEADLINE_S + 4.0, fn=make_port_speed_probe(creds)))
    return checks
