"""What the seat agents see: NIC speed (LAN-SPEED), static addressing (LAN-FIXED-IP)
and the candidate PC's own inventory (SEAT-SPEC).

Each agent is asked for its self-report once per run, however many checks read it;
the runner's concurrency bounds the fan-out. A seat without an agent is named in a
`skip` (or `warn`) result and is still checked from outside by the other families.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

import psutil

from probes.seat_agent import judge_self_report, reply_problem
from readiness.agent.client import AgentReply, call_agent
from readiness.agent.self_report import collect
from readiness.agent.server import SELF_REPORT

from ..checks import Check
from ..config.secrets import Secret
from ..config.site import Room
from ..results import ProbeOutcome, Status, Text, worst

if TYPE_CHECKING:
    from ..config.profile import Requirement
    from . import PlanContext

SELF_REPORT_TIMEOUT_S = 4.0


class SelfReports:
    """One signed self-report request per agent per run, shared by every check."""

    def __init__(self, token: Secret | None, port: int):
        self.token = token
        self.port = port
        self._pending: dict[str, asyncio.Task[AgentReply]] = {}

    async def get(self, address: str) -> AgentReply:
        if self.token is None:
            return AgentReply(status="error", reason="the site file has no agent.token")
        task = self._pending.get(address)
        if task is None:
            task = asyncio.ensure_future(call_agent(
                address, self.port, SELF_REPORT, {}, self.token,
                timeout_s=SELF_REPORT_TIMEOUT_S))
            self._pending[address] = task
        return await asyncio.shield(task)


def _local_report(address: str) -> dict[str, Any] | None:
    """This machine's own report, when the check runs on the host in question (the
    proctor PC is usually the coordinator: it needs no agent to describe itself)."""
    for addrs in psutil.net_if_addrs().values():
        if any(a.address == address for a in addrs):
            return collect()
    return None


def _reports(ctx: PlanContext) -> SelfReports:
    if "self_reports" not in ctx.agents:
        ctx.agents["self_reports"] = SelfReports(ctx.site.secret("agent.token"),
                                                 ctx.site.model.agent.port)
    return ctx.agents["self_reports"]


def _agent_check(ctx: PlanContext, req_id: str, label: str, role: str, address: str,
                 params: dict[str, Any], threshold: dict[str, Any],
                 judge: Any = None) -> Check:
    reports = _reports(ctx)
    port = ctx.site.model.agent.port
    where = f"{label} ({address}:{port})"

    async def from_report(p: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        report = await asyncio.to_thread(_local_report, address) if role == "proctor" else None
        if report is None:
            reply = await reports.get(address)
            problem = reply_problem(reply, where, str(p.get("when_absent", "skip")))
            if problem:
                return problem
            report = (reply.body or {}).get("report")
            if not isinstance(report, dict):
                return ProbeOutcome(Status.ERROR, Text(
                    f"the agent on {where} sent no self-report",
                    f"{where} 上的代理未返回本机信息"))
        outcome = judge_self_report(report, address, label, p)
        return judge(outcome, report) if judge else outcome

    return Check(
        check_id=f"{req_id}/{label}/agent",
        requirement=req_id,
        target=f"{role} {label} ({address})" if role == "seat" else f"{label} ({address})",
        vantage=f"agent {label}" if role != "proctor" else "coordinator",
        probe="agent_self_report",
        params=params,
        threshold=threshold,
        deadline_s=SELF_REPORT_TIMEOUT_S + 3.0,
        fn=from_report,
    )


def plan_nic_speed(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    """LAN-SPEED as the seat's own NIC negotiated it (1000 full duplex = gigabit)."""
    th = req.thresholds
    gigabit = int(th.get("nic_speed_mbps", 1000))
    params: dict[str, Any] = {"warn_half_duplex": True}
    if th.get("required_class") == "gigabit":
        params["fail_below_mbps"] = gigabit
    else:
        params["fail_below_mbps"] = 100
        params["warn_below_mbps"] = gigabit
    threshold = {k: v for k, v in params.items() if k.endswith("_mbps")}
    checks = [_agent_check(ctx, "LAN-SPEED", s.label, "seat", s.address, params, threshold)
              for s in ctx.site.seats[room.id]]
    # eda names the exam server's NIC too (千兆网卡)
    if th.get("required_class") == "gigabit":
        server = room.exam_servers.primary
        checks.append(_agent_check(ctx, "LAN-SPEED", "exam server", "server", server.address,
                                   {**params, "when_absent": "warn"}, threshold))
    return checks


def plan_fixed_ip_agents(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    """LAN-FIXED-IP as the host's OS tells it: a fixed address, not a DHCP lease."""
    roles = req.thresholds.get("roles", [])
    checks = []
    params = {"require_static": True, "when_absent": "warn"}
    if "exam_server" in roles:
        server = room.exam_servers.primary
        checks.append(_agent_check(ctx, "LAN-FIXED-IP", "exam server", "server",
                                   server.address, params, {"addressing": "static"}))
    if "proctor" in roles:
        checks.append(_agent_check(ctx, "LAN-FIXED-IP", "proctor", "proctor",
                                   room.proctor.address, params, {"addressing": "static"}))
    return checks


CPU_TIER = re.compile(r"\b(?:core(?:\(tm\))?\s*)?i([3579])[- ]", re.IGNORECASE)


def _cpu_tier(model: str | None) -> int | None:
    """3, 5, 7 or 9 for Intel Core i3/i5/i7/i9; None when the model says no tier."""
    match = CPU_TIER.search(f"{model or ''} ")
    return int(match.group(1)) if match else None


def judge_seat_spec(outcome: ProbeOutcome, th: dict[str, Any], label: str) -> ProbeOutcome:
    """The seat's inventory against the certificate's minimum and recommended PC."""
    m = outcome.measured
    if outcome.status in (Status.ERROR, Status.SKIP) or "ram_gib" not in m:
        return outcome
    rec = th.get("recommended", {}) or {}
    statuses, notes_en, notes_zh = [Status.PASS], [], []

    def compare(value: float | None, minimum: Any, recommended: Any, what_en: str,
                what_zh: str, unit: str) -> None:
        if value is None or minimum is None:
            return
        if value < float(minimum):
            statuses.append(Status.FAIL)
            notes_en.append(f"{what_en} {value:g} {unit} is below the minimum {minimum} {unit}")
            notes_zh.append(f"{what_zh} {value:g} {unit}，低于最低要求 {minimum} {unit}")
        elif recommended is not None and value < float(recommended):
            statuses.append(Status.WARN)
            notes_en.append(f"{what_en} {value:g} {unit} is below the recommended "
                            f"{recommended} {unit}")
            notes_zh.append(f"{what_zh} {value:g} {unit}，低于推荐的 {recommended} {unit}")

    compare(m.get("ram_gib"), th.get("min_ram_gb"), rec.get("min_ram_gb"), "RAM", "内存", "GB")
    compare(m.get("disk_gb"), th.get("min_disk_gb"), rec.get("min_disk_gb"), "disk", "硬盘",
            "GB")
    need = str(th.get("min_cpu", "")).lower().lstrip("i")
    tier = _cpu_tier(m.get("cpu"))
    if need.isdigit():
        if tier is None:
            statuses.append(Status.WARN)
            notes_en.append(f"CPU {m.get('cpu')!s} cannot be compared with i{need}: check it by "
                            "hand")
            notes_zh.append(f"CPU {m.get('cpu')!s} 无法与 i{need} 比较：请人工确认")
        elif tier < int(need):
            statuses.append(Status.FAIL)
            notes_en.append(f"CPU {m.get('cpu')} is below i{need}")
            notes_zh.append(f"CPU {m.get('cpu')} 低于 i{need}")
    notes_en.append("browser and Office versions are not read by this version: check by hand")
    notes_zh.append("本版本不读取浏览器和 Office 版本：请人工确认")
    status = worst(statuses)
    return ProbeOutcome(status, Text(f"{label}: " + "; ".join(notes_en),
                                     f"{label}：" + "；".join(notes_zh)), m, outcome.evidence)


def plan_seat_spec(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    th = req.thresholds
    threshold = {k: th[k] for k in ("min_cpu", "min_ram_gb", "min_disk_gb") if k in th}
    return [
        _agent_check(ctx, "SEAT-SPEC", s.label, "seat", s.address, {}, threshold,
                     judge=lambda outcome, _report, label=s.label:
                     judge_seat_spec(outcome, th, label))
        for s in ctx.site.seats[room.id]
    ]
