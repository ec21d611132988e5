"""One check run of a site, without printing: load, plan, run, judge.

`readiness check` and the scheduler both call this, so a scheduled run is exactly the
run a technician would get by hand. Everything that prints or writes files (console
progress, JSON, JUnit, the evidence log) stays with the caller.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .checks import Check
from .config.load import Site
from .config.profile import Profile
from .planning import Plan
from .previous_run import PreviousFacts
from .results import CheckResult, RunRecord, Text
from .subject import Kind, Subject

log = logging.getLogger(__name__)

OnStart = Callable[[Check], None]
OnDone = Callable[[CheckResult], None]


class SelectionError(ValueError):
    """A room or requirement named on the command line (or in the schedule section) that
    the site or its profile does not have. `text` is what staff read, in both languages."""

    def __init__(self, text: Text):
        super().__init__(text.en)
        self.text = text


@dataclass(frozen=True)
class Selection:
    room_ids: list[str] | None
    only: set[str] | None


def load(config_path: str | Path) -> tuple[Site, Profile]:
    """The validated site and its certificate profile; raises ConfigError."""
    from .config.load import load_site
    from .config.profile import available_profiles, load_profile

    site = load_site(config_path, set(available_profiles()))
    return site, load_profile(site.profile)


def select(site: Site, profile: Profile, room_ids: Iterable[str] | None = None,
           only: Iterable[str] | None = None) -> Selection:
    """Check the names of rooms and requirements; raises SelectionError."""
    rooms = [r.strip() for r in room_ids if r.strip()] if room_ids else None
    known_rooms = [r.id for r in site.model.rooms]
    if rooms and (bad := [r for r in rooms if r not in known_rooms]):
        raise SelectionError(Text(
            f"--room: no room {', '.join(bad)} in {site.path}; "
            f"rooms are {', '.join(known_rooms)}",
            f"--room：{site.path} 中没有考场 {', '.join(bad)}；现有考场：{', '.join(known_rooms)}"))
    if only is not None:
        only = list(only)
        if not any(r.strip() for r in only):
            # `--only ""` (an unset variable in a script) must not quietly mean "every rule"
            raise SelectionError(Text(
                "--only names no requirement; give e.g. --only LAN-SUBNET,LAN-SEATS, or "
                "leave --only out to check every rule",
                "--only 未指定任何要求；例如 --only LAN-SUBNET,LAN-SEATS，"
                "或去掉 --only 以检查全部规则"))
    wanted = {r.strip().upper() for r in only if r.strip()} if only else None
    known_reqs = [r.id for r in profile.requirements]
    if wanted and (bad := sorted(r for r in wanted if r not in known_reqs)):
        raise SelectionError(Text(
            f"--only: unknown requirement {', '.join(bad)}; known: {', '.join(known_reqs)}",
            f"--only：未知要求 {', '.join(bad)}；可选：{', '.join(known_reqs)}"))
    return Selection(rooms or None, wanted or None)


def _nothing(*_: object) -> None:
    return None


def plan_run(site: Site, profile: Profile, selection: Selection,
             evidence_dir: Path | None = None, store_path: Path | None = None,
             serial: bool = False) -> Plan:
    """The checks of one run; `len(plan.checks)` sizes a progress display.

    With a results store, the checks that compare with the previous run (a host's MAC,
    a device's uptime: a reboot in between) are given what that run measured. `serial`
    plans the old way for comparison: each seat against the exam server, no seat pairs."""
    from .config.site import LanSpeed
    from .planning import PlanContext, build_plan

    if serial:
        for room in site.model.rooms:
            room.lan_speed = LanSpeed(method="server")

    plan = build_plan(PlanContext(site, profile, evidence_dir=evidence_dir),
                      selection.room_ids, selection.only)
    if store_path is not None and Path(store_path).exists():
        from .previous_run import load_previous

        facts, warning = load_previous(Path(store_path), site.model.site.code)
        if facts is not None:
            _apply_facts(plan.checks, facts)
        if warning is not None:
            plan.warnings.append(warning)  # the caller says it: console or journal
    return plan


def apply_previous(checks: list[Check], previous: list[CheckResult]) -> None:
    """Give the plan's comparing checks what `previous` measured; raises MalformedRun
    (before changing any check) when those results do not have readiness's shape."""
    from .previous_run import previous_facts

    _apply_facts(checks, previous_facts(previous))


def _apply_facts(checks: list[Check], facts: PreviousFacts) -> None:
    from .planning.layer2 import with_previous_macs

    with_previous_macs(checks, facts.macs)
    for check in checks:
        before = facts.uptimes.get(check.check_id)
        if check.probe == "snmp_device" and before is not None:
            check.params["previous_uptime_s"], check.params["previous_checked_at"] = before


def _prewarm_snmp(checks: list[Check]) -> None:
    """The SNMP engines this run's own SNMP checks will open, built before the load."""
    from probes.engines.snmp_client import prewarm
    from probes.snmp_device import ENGINE_PROBES

    prewarm(sum(1 for c in checks if c.agent is None and c.probe in ENGINE_PROBES))


def execute(site: Site, profile: Profile, plan: Plan, *, concurrency: int = 64,
            on_start: OnStart = _nothing, on_done: OnDone = _nothing,
            serial: bool = False) -> RunRecord:
    """Run a plan: every check, a result for each rule without one, the verdict.
    `serial`: one throughput test at a time (the old schedule), not one per link."""
    from .registry import coordinator_probes, decoding_probes
    from .results import overall_verdict
    from .runner import Runner, run_checks

    _prewarm_snmp(plan.checks)
    started = datetime.now(UTC)
    runner = Runner(profile, coordinator_probes(), concurrency=concurrency,
                    on_start=on_start, on_done=on_done, secret=site.secret,
                    agent_token=site.secret("agent.token"), serial=serial,
                    decoders=decoding_probes())
    results = run_checks(runner, plan.checks)
    finished = datetime.now(UTC)
    for req_id, status, message, finding in plan.placeholders:
        # a rule without a check still gets a line, so a report never silently omits it
        req = profile.requirement(req_id)
        results.append(CheckResult(
            requirement=req_id, title=req.title if req else Text(req_id, req_id),
            subject=Subject(Kind.SITE, site.model.site.code), vantage="-", status=status,
            message=message, measured={}, findings=[finding],
            threshold=dict(req.thresholds) if req else {},
            citation=req.citation if req else None, started_at=finished, duration_s=0.0,
            check_id=f"{req_id}/site"))
    order = {r.id: i for i, r in enumerate(profile.requirements)}
    results.sort(key=lambda r: (order.get(r.requirement, 99), r.check_id))
    return RunRecord(
        site_name=site.name, site_code=site.model.site.code, profile_id=profile.id,
        certificate=profile.certificate, started_at=started, finished_at=finished,
        verdict=overall_verdict(results, plan.required, plan.unproven), results=results,
        required=plan.required, measured_from=socket.gethostname())


__all__ = ["Selection", "SelectionError", "execute", "load", "plan_run", "select"]
