"""The one way the coordinator runs a probe on a seat's agent.

Signing, the quick health look, caching what a run asks of an agent more than once,
decoding the outcome, and what to say (or do) when no agent answers: every planner
gets the same behaviour by putting an `AgentRoute` on its Check.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from probes import throughput
from probes.engines.own_addresses import own_addresses as this_computers_addresses

from ..checks import COORDINATOR, AgentRoute
from ..judges.throughput import mtu_black_hole
from ..redact import Secret
from ..results import AGENT_ABSENT, NO_ACTION, Finding, ProbeOutcome, Status, Text
from .auth import BAD_SIGNATURE, EXPIRED, FUTURE, REPLAYED
from .client import NO_REPLY, AgentReply, call_agent

HEALTH = "/v1/health"
RUN = "/v1/run"
HEALTH_TIMEOUT_S = 2.0
# an agent's reply travels back after its own deadline: this much on top
CALL_MARGIN_S = 1.0
QUICK_ERROR_S = 1.0
RETRY_PAUSE_S = 0.5
# asked once per agent per run with the same params, however many checks read it: the
# self-report (three rules), and a seat's filter audit (WAN-POLICY and FILTER-FEATURES
# audit the same way in exam-sites-only rooms: run twice, forty seats sent twice the
# requests at once and a seat's connections went unanswered)
CACHED_PROBES = frozenset({"self_report", "url_filter"})

LocalRun = Callable[[str, dict[str, Any], float], Awaitable[ProbeOutcome]]


def absent_outcome(where: str, status: Status, measured: dict[str, Any]) -> ProbeOutcome:
    """A check its agent should have made, with no agent answering on `where`."""
    return ProbeOutcome(status, Text(
        f"no agent answers on {where}: start `readiness agent` on that PC",
        f"{where} 上没有代理应答：请在该电脑上启动 `readiness agent`"), measured,
        findings=[AGENT_ABSENT])


def _refused(text: Text, measured: dict[str, Any], code: str, what: Text,
             action: Text) -> ProbeOutcome:
    """An agent's answer that is no outcome: `text` names the agent, the finding does not."""
    return ProbeOutcome(Status.ERROR, text, measured, findings=[Finding(code, what, action)])


def reply_problem(reply: AgentReply, where: str, when_absent: str = "skip",
                  ) -> ProbeOutcome | None:
    """The outcome for an agent that did not answer usefully, or None if it did."""
    measured: dict[str, Any] = {"agent": reply.status, "reason": reply.reason}
    if reply.status == "ok":
        return None
    if reply.status == "absent":
        return absent_outcome(where, Status.WARN if when_absent == "warn" else Status.SKIP,
                              measured)
    if reply.status == "refused" and reply.error_code == BAD_SIGNATURE:
        what = Text("refused our token: the site token differs",
                    "拒绝了我们的令牌：站点令牌不一致")
        action = Text("agent.token must name the same secret on this PC and on that one",
                      "本机与该电脑的 agent.token 必须是同一个密钥")
        return _refused(Text(f"the agent on {where} {what.en} ({action.en})",
                             f"{where} 上的代理{what.zh}（{action.zh}）"), measured,
                        "agent.token_refused", Text(f"its agent {what.en}", f"其代理{what.zh}"),
                        action)
    if reply.status == "refused" and reply.error_code in (EXPIRED, FUTURE):
        what = Text("refused the request time: the two clocks differ too much",
                    "拒绝了请求时间：两台电脑的时钟相差太大")
        action = Text("set the time on both PCs", "请校准时间")
        return _refused(Text(f"the agent on {where} {what.en} ({action.en})",
                             f"{where} 上的代理{what.zh}（{action.zh}）"), measured,
                        "agent.clock_refused", Text(f"its agent {what.en}", f"其代理{what.zh}"),
                        action)
    if reply.status == "refused" and reply.error_code == REPLAYED:
        return _refused(Text(
            f"the agent on {where} has seen this request before and refused it as a replay",
            f"{where} 上的代理认为该请求是重放请求并拒绝"), measured, "agent.replay_refused",
            Text("its agent refused a request as a replay", "其代理认为该请求是重放请求并拒绝"),
            Text("run the check again", "请重新检查"))
    if reply.error_code == "target_not_allowed":
        return _refused(Text(
            f"the agent on {where} refused: {reply.reason} (its site file differs from "
            "this one?)",
            f"{where} 上的代理拒绝执行：目标不在其站点配置中（其站点文件与本机不同？）"),
            measured, "agent.target_refused",
            Text(f"its agent refused: {reply.reason}", "其代理拒绝执行：目标不在其站点配置中"),
            Text("give that PC the same site file as this one",
                 "请让该电脑使用与本机相同的站点文件"))
    return _refused(Text(f"the agent on {where} could not answer: {reply.reason}",
                         f"{where} 上的代理无法应答：{reply.reason}"), measured,
                    "agent.no_answer", Text(f"its agent could not answer: {reply.reason}",
                                            f"其代理无法应答：{reply.reason}"), NO_ACTION)


def listening(health: AgentReply) -> bool:
    """The agent is there: it answered the quick look, or it accepted the connection and
    only its reply was late (a busy seat PC, or this PC too busy to read it in time).
    Its probe then gets the check's own time; only a PC that is off, firewalled or without
    an agent is given up on after the quick look."""
    return health.status == "ok" or health.error_code == NO_REPLY


class AgentRemote:
    """Per run: one health look and one answer per cacheable probe per agent."""

    def __init__(self, token: Secret | None, local: LocalRun,
                 own_addresses: Callable[[], set[str]] = this_computers_addresses):
        self.token = token
        self.local = local
        self._own = own_addresses
        self._health: dict[tuple[str, int], asyncio.Future[AgentReply]] = {}
        self._cached: dict[str, asyncio.Future[ProbeOutcome]] = {}
        self._paths: dict[str, asyncio.Future[dict[str, Any] | None]] = {}

    def _once(self, key: str, make: Callable[[], Awaitable[ProbeOutcome]]
              ) -> Awaitable[ProbeOutcome]:
        task = self._cached.get(key)
        if task is None:
            task = self._cached[key] = asyncio.ensure_future(make())
        return asyncio.shield(task)

    async def health(self, route: AgentRoute, timeout_s: float) -> AgentReply:
        if self.token is None:
            return AgentReply("absent", "the site file has no agent.token")
        key = (route.address, route.port)
        task = self._health.get(key)
        if task is None:
            task = self._health[key] = asyncio.ensure_future(call_agent(
                route.address, route.port, HEALTH, None, self.token, timeout_s=timeout_s,
                method="GET"))
        return await asyncio.shield(task)

    async def run(self, route: AgentRoute, probe: str, params: dict[str, Any],
                  deadline_s: float) -> ProbeOutcome:
        """`probe` as the agent of `route` runs it, said from where it really ran."""
        if route.address in self._own():
            # the host in question is this machine (the proctor PC as coordinator): it
            # needs no agent to measure itself
            params = await self._prepared(route, params, deadline_s)
            outcome = await self.local(probe, params, deadline_s)
            outcome.ran_from = COORDINATOR
            return outcome
        end = time.monotonic() + deadline_s
        where = f"{route.label} ({route.address}:{route.port})"
        # a quick look first: a PC that is off or firewalled would otherwise hold the
        # whole deadline in connect, leaving no time for a stand-in from here
        health = await self.health(route, min(HEALTH_TIMEOUT_S, deadline_s / 4))
        if health.error_code == NO_REPLY:
            hole = await self._black_hole(route, where, health)
            if hole is not None:
                return hole
        if listening(health):
            params = await self._prepared(route, params, end - time.monotonic())
            key = f"{route.address}:{route.port}:{probe}:{json.dumps(params, sort_keys=True)}"
            if probe in CACHED_PROBES:
                # each check judges its own copy
                outcome = copy.deepcopy(await self._once(key, lambda: self._call(
                    route, where, probe, params, end)))
            else:
                outcome = await self._call(route, where, probe, params, end)
            if outcome.measured.get("agent") not in ("no_probe", "absent"):
                outcome.ran_from = outcome.ran_from or route.vantage()
                outcome.measured.setdefault("agent", route.label)
                return outcome
            reason = str(outcome.measured.get("reason") or outcome.message.en)
        else:
            reason = health.reason
            if health.status != "absent":
                problem = reply_problem(health, where, route.when_absent)
                if problem is not None:
                    return problem
        return await self._absent(route, where, probe, reason, end)

    async def _black_hole(self, route: AgentRoute, where: str, health: AgentReply,
                          ) -> ProbeOutcome | None:
        """An agent that accepted the connection and whose (padded) health reply never
        came: when small DF echoes to it pass and large ones vanish, the path is an MTU
        black hole, and every reply of that agent is lost the same way. Tested once per
        address per run; None when the path is whole (a busy PC, answering late)."""
        task = self._paths.get(route.address)
        if task is None:
            task = self._paths[route.address] = asyncio.ensure_future(
                throughput.path_size(route.address))
        size = await asyncio.shield(task)
        if size is None:
            return None
        measured = {"agent": "no_reply", "reason": health.reason, "path_mtu": size}
        words = mtu_black_hole(measured, f"between this computer and {route.label}",
                               f"本机与 {route.label} 之间")
        assert words is not None
        text, finding = words
        return ProbeOutcome(Status.ERROR, Text(
            f"the agent on {where} accepted the connection, but its reply never arrived: "
            f"{text.en}",
            f"{where} 上的代理接受了连接，但其回复始终未到：{text.zh}"), measured,
            findings=[finding])

    async def _prepared(self, route: AgentRoute, params: dict[str, Any], left_s: float,
                        ) -> dict[str, Any]:
        if route.prepare is None:
            return params
        # at most an eighth of the time: the probe on the agent is what the check is for;
        # once per run for the same params (forty seats' audits ask the same)
        asked = {**(route.prepare_params or {}), "params": params}
        key = f"prepare:{route.prepare}:{json.dumps(asked, sort_keys=True)}"
        prepare = route.prepare
        ready = await self._once(key, lambda: self.local(prepare, asked, max(0.5, left_s / 8)))
        return {**params, **(ready.measured.get("params") or {})}

    async def _call(self, route: AgentRoute, where: str, probe: str,
                    params: dict[str, Any], end: float) -> ProbeOutcome:
        async def once() -> ProbeOutcome:
            left = end - time.monotonic()
            body = {"probe": probe, "params": params,
                    "deadline_s": max(0.5, left - CALL_MARGIN_S)}
            assert self.token is not None
            reply = await call_agent(route.address, route.port, RUN, body, self.token,
                                     timeout_s=max(0.5, left - 0.2))
            if reply.error_code == "unknown_probe":
                update = Text("update readiness on that PC", "请更新该电脑上的 readiness")
                return ProbeOutcome(Status.SKIP, Text(
                    f"the agent on {where} has no {probe} probe ({update.en})",
                    f"{where} 上的代理没有 {probe} 检测（{update.zh}）"),
                    {"agent": "no_probe", "reason": reply.reason}, findings=[Finding(
                        "agent.no_probe", Text(f"its agent has no {probe} probe",
                                               f"其代理没有 {probe} 检测"), update)])
            problem = reply_problem(reply, where, "skip")
            if problem is not None:
                return problem
            try:
                outcome = ProbeOutcome.from_dict((reply.body or {})["outcome"])
            except (KeyError, TypeError, ValueError):
                return ProbeOutcome(Status.ERROR, Text(
                    f"the agent on {where} sent a reply without an outcome",
                    f"{where} 上的代理返回的结果不完整"), findings=[Finding(
                        "agent.bad_reply", Text("its agent sent a reply without an outcome",
                                                "其代理返回的结果不完整"),
                        Text("update readiness on that PC to this version",
                             "请把该电脑上的 readiness 更新到本版本"))])
            if reply.clock_skew_s is not None:
                outcome.measured["clock_skew_s"] = reply.clock_skew_s
            return outcome

        started = time.monotonic()
        outcome = await once()
        if (route.retry_quick_error and outcome.status == Status.ERROR
                and time.monotonic() - started < QUICK_ERROR_S
                and end - time.monotonic() > 2 * RETRY_PAUSE_S + CALL_MARGIN_S):
            await asyncio.sleep(RETRY_PAUSE_S)
            outcome = await once()
        return outcome

    async def _absent(self, route: AgentRoute, where: str, probe: str, reason: str,
                      end: float) -> ProbeOutcome:
        measured: dict[str, Any] = {"agent": "absent", "reason": reason}
        if route.when_absent == "coordinator" and route.fallback_params is not None:
            params = route.fallback_params
            key = f"coordinator:{probe}:{json.dumps(params, sort_keys=True)}"
            # several agent-less seats may stand in for the same measurement from here
            outcome = await self._once(key, lambda: self.local(
                probe, params, max(0.5, end - time.monotonic())))
            copy = ProbeOutcome(outcome.status, outcome.message,
                                {**outcome.measured, "agent": "absent", "agent_reason": reason,
                                 "stand_in": True},
                                list(outcome.evidence), ran_from=COORDINATOR)
            return copy
        return absent_outcome(where, Status.WARN if route.when_absent == "warn"
                              else Status.SKIP, measured)
