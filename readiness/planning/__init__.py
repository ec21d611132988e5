"""Turn a site and a certificate profile into the checks of one run.

One Check per (requirement, target, vantage point). Each requirement family has a
planner module here; a planner is `plan(ctx, requirement, room) -> list[Check]`.
Requirements without a planner, or that the profile does not apply, still get one
result, so a report never silently omits a rule.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from ..checks import Check
from ..config.profile import Requirement
from ..config.site import Room
from ..results import NO_ACTION, Finding, Status, Text
from .context import PlanContext, thresholds_of

__all__ = ["Plan", "PlanContext", "build_plan", "planners_for", "thresholds_of"]


Planner = Callable[[PlanContext, Requirement, Room], list[Check]]

def _declared() -> tuple[dict[str, list[Planner]], dict[str, set[str]]]:
    """Every planner module's PLANS (and NEEDS): a new family is found by being here.
    Several families may prove one requirement (LAN-SPEED from NIC speeds the agents
    report, throughput tests and switch ports)."""
    plans: dict[str, list[Planner]] = {}
    needs: dict[str, set[str]] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for req_id, planners in getattr(module, "PLANS", {}).items():
            plans.setdefault(req_id, []).extend(planners)
        for req_id, wanted in getattr(module, "NEEDS", {}).items():
            needs.setdefault(req_id, set()).update(wanted)
    return plans, needs


# requirement id -> its planners; requirement id -> the requirements it derives from
# (LAN-FIXED-IP judges the ARP sweep that LAN-SUBNET plans)
PLANNERS, NEEDS = _declared()


def planners_for(req_id: str) -> list[Planner]:
    found = PLANNERS.get(req_id, [])
    return [found] if callable(found) else list(found)



class Placeholder(NamedTuple):
    """The one result a rule gets when nothing is planned for it, and why."""

    requirement: str
    status: Status
    message: Text
    finding: Finding


# what a rule without anything to check in the site file asks of the site file
_CONFIGURE = Text("add to the site file what this rule checks (see config/site.example.yaml)",
                  "请在站点文件中补充此项要检查的对象（见 config/site.example.yaml）")


@dataclass
class Plan:
    checks: list[Check]
    # a rule without a check: not applicable, not measured yet, nothing configured
    placeholders: list[Placeholder]
    required: set[str]
    # required rules some selected room plans nothing for: another room's pass does not
    # prove them for this one
    unproven: set[str] = field(default_factory=set)
    # what the run could not use but goes on without (a malformed previous run...)
    warnings: list[Text] = field(default_factory=list)


def build_plan(ctx: PlanContext, room_ids: list[str] | None = None,
               only: set[str] | None = None) -> Plan:
    site, profile = ctx.site, ctx.profile
    rooms = [r for r in site.model.rooms if not room_ids or r.id in room_ids]
    selected = set(only) if only else None
    if selected:
        for req_id in list(selected):
            selected |= NEEDS.get(req_id, set())
    checks: list[Check] = []
    placeholders: list[Placeholder] = []
    required: set[str] = set()
    unproven: set[str] = set()
    for req in profile.requirements:
        if selected and req.id not in selected:
            continue
        if not req.applies:
            placeholders.append(Placeholder(req.id, Status.SKIP, Text(
                "not a rule of this certificate", "本证书无此要求"), Finding(
                    "plan.not_applicable", Text("not a rule of this certificate",
                                                "本证书无此要求"), NO_ACTION)))
            continue
        if req.required:
            required.add(req.id)
        planners = planners_for(req.id)
        if not planners:
            by_hand = Text("check it by hand", "请人工检查")
            placeholders.append(Placeholder(req.id, Status.SKIP, Text(
                "not verified: this version of readiness has no probe for this rule yet; "
                f"{by_hand.en}", f"未验证：本版本尚无此项检测，{by_hand.zh}"), Finding(
                    "plan.no_probe", Text("not verified: this version of readiness has no "
                                          "probe for this rule yet",
                                          "未验证：本版本尚无此项检测"), by_hand)))
            continue
        planned = []
        for room in rooms:
            in_room = [c for planner in planners for c in planner(ctx, req, room)]
            if not in_room and len(rooms) > 1 and req.required:
                what = Text(f"not configured in room {room.id}: nothing in the site file to "
                            "check for this rule there",
                            f"考场 {room.id} 未配置：站点文件中没有此项的检查对象")
                placeholders.append(Placeholder(req.id, Status.SKIP, what, Finding(
                    "plan.not_configured", what, _CONFIGURE)))
                unproven.add(req.id)
            planned.extend(in_room)
        if not planned:
            what = Text("not configured: nothing in the site file to check for this rule",
                        "未配置：站点文件中没有此项的检查对象")
            placeholders.append(Placeholder(req.id, Status.SKIP, what, Finding(
                "plan.not_configured", what, _CONFIGURE)))
        checks.extend(planned)
    return Plan(checks, placeholders, required, unproven)
