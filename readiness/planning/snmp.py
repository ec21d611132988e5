"""SNMP views of the room's devices: the UPS (UPS-RUNTIME), the router (FILTER-FEATURES:
SNMP reachable, reboots) and the switch (LAN-SPEED: per-port speed and errors, and each
seat's port through the bridge forwarding table).

Declarative: each Check names its probe (probes/snmp_device.py) and, in `secrets`, the
site paths of the community or v3 keys, which the runner resolves at call time; params,
which end up in results and reports, carry only addresses, the SNMP version and user.
Verdicts are readiness/judges/snmp.py's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..checks import COORDINATOR, Check
from ..config.profile import LanSpeedThresholds, UpsRuntimeThresholds
from ..config.site import Room, SnmpV2c
from ..subject import Kind, Subject
from . import subjects
from .context import thresholds_of
from .knobs import knobs

if TYPE_CHECKING:
    from ..config.profile import Requirement
    from .context import PlanContext

SNMP_DEADLINE_S = 8.0
# the 100 Mbit/s class: the floor where fast_ethernet is the minimum
FAST_ETHERNET_MBPS = 100


def _snmp(ctx: PlanContext, room: Room, part: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    """(params, secrets) naming the device's SNMP credentials; None when the site gives
    the device no SNMP, or a credential it names is missing."""
    room_index = next(i for i, r in enumerate(ctx.site.model.rooms) if r.id == room.id)
    device = getattr(room, part)
    snmp = getattr(device, "snmp", None) if device else None
    if snmp is None:
        return None
    base = f"rooms[{room_index}].{part}.snmp"
    if isinstance(snmp, SnmpV2c):
        params: dict[str, Any] = {"snmp_version": "2c"}
        secrets = {"community": f"{base}.community"}
    else:
        params = {"snmp_version": "3", "snmp_user": snmp.user,
                  "auth_protocol": snmp.auth_protocol, "priv_protocol": snmp.priv_protocol}
        secrets = {"auth_key": f"{base}.auth_key", "priv_key": f"{base}.priv_key"}
    secrets = {arg: path for arg, path in secrets.items() if ctx.site.secret(path) is not None}
    if params["snmp_version"] == "2c" and not secrets:
        return None
    return {**params, "port": snmp.port}, secrets


def plan_ups(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    snmp = _snmp(ctx, room, "ups")
    if room.ups is None or snmp is None:
        return []
    th = thresholds_of(req, UpsRuntimeThresholds)
    params, secrets = snmp
    return [Check(
        check_id=f"UPS-RUNTIME/{room.id}/ups", requirement="UPS-RUNTIME",
        subject=Subject(Kind.UPS, room.ups.name, room.id, room.ups.address),
        vantage=COORDINATOR,
        probe="snmp_ups", params={**params, **knobs("snmp_ups"), "host": room.ups.address,
                                  "name": room.ups.name},
        threshold={"min_minutes": th.min_minutes, "covers": th.covers},
        deadline_s=SNMP_DEADLINE_S, secrets=secrets, judge="snmp.ups",
        # both profiles' fail rule names a UPS running on battery
        judge_params={"name": room.ups.name, "thresholds": th, "on_battery": "fail"})]


def plan_router_snmp(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    snmp = _snmp(ctx, room, "router")
    if snmp is None:
        return []
    params, secrets = snmp
    return [Check(
        check_id=f"FILTER-FEATURES/{room.id}/router-snmp", requirement="FILTER-FEATURES",
        subject=subjects.router(room), aspect="snmp", vantage=COORDINATOR,
        probe="snmp_device", params={**params, **knobs("snmp_device"),
                                     "host": room.router.address, "name": "router"},
        threshold={}, deadline_s=SNMP_DEADLINE_S, secrets=secrets, judge="snmp.device",
        judge_params={"name": "router"})]


def plan_switch(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    snmp = _snmp(ctx, room, "switch")
    if room.switch is None or snmp is None:
        return []
    th = thresholds_of(req, LanSpeedThresholds)
    params, secrets = snmp
    address = room.switch.address
    judged = {"name": "switch", "required_class": th.required_class,
              "gigabit_mbps": th.nic_speed_mbps, "fast_mbps": FAST_ETHERNET_MBPS}
    checks = [Check(
        check_id=f"LAN-SPEED/{room.id}/switch-ports", requirement="LAN-SPEED",
        subject=Subject(Kind.SWITCH, "switch", room.id, address), aspect="ports",
        vantage=COORDINATOR,
        probe="snmp_interfaces",
        params={**params, **knobs("snmp_interfaces"), "host": address, "name": "switch"},
        threshold={"required_class": th.required_class},
        deadline_s=SNMP_DEADLINE_S + 4.0, secrets=secrets, judge="snmp.interfaces",
        judge_params=judged)]
    seats = {s.label: s.mac for s in ctx.site.seats[room.id] if s.mac}
    if seats:
        checks.append(Check(
            check_id=f"LAN-SPEED/{room.id}/seat-ports", requirement="LAN-SPEED",
            subject=Subject(Kind.SWITCH, "switch", room.id, address), aspect="seat_ports",
            vantage=COORDINATOR,
            probe="snmp_port_speed",
            params={**params, **knobs("snmp_port_speed"), "host": address, "switch": address,
                    "name": "switch", "seats": seats},
            threshold={"required_class": th.required_class},
            deadline_s=SNMP_DEADLINE_S + 4.0, secrets=secrets, judge="snmp.port_speed",
            judge_params={**judged, "macs": seats,
                          "subjects": {s.label: subjects.seat(room, s.label, s.address)
                                       for s in ctx.site.seats[room.id] if s.mac}}))
    return checks


# the requirements this module plans checks for (readiness/planning/__init__.py finds it)
PLANS = {"LAN-SPEED": [plan_switch], "FILTER-FEATURES": [plan_router_snmp],
         "UPS-RUNTIME": [plan_ups]}
