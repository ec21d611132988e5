"""Run a plan: every check under a deadline that always holds.

Independent checks run concurrently; exclusive (throughput-class) checks hold the
links they load (readiness/links.py): two that share a link never overlap, two that
share none run at once. `serial` gives back the one-at-a-time schedule of before.
A probe that raises, or overruns its deadline, becomes one `error` result and the
run goes on.

Dispatch is by vantage: a check with an `agent` route runs through
`agent.remote` (the one way to a seat), any other runs its probe here. The runner
resolves the secrets a check names, so they never sit in params, and turns each
outcome into a verdict with the check's judge.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from .agent.remote import AgentRemote
from .checkkind import ProbeFn
from .checks import Check
from .judges import OutcomeJudge, ResultsJudge
from .judges.registry import outcome_judges, results_judges
from .links import LinkBoard
from .redact import Secret
from .results import NO_ACTION, CheckResult, Citation, Finding, ProbeOutcome, Status, Text

log = logging.getLogger(__name__)

# A busy coordinator (other work on the proctor PC) runs its event loop late: the runner's
# deadline then fires in the same late turn as the probe's own, shorter timeout, and the
# probe's answer (a fail or warn it already has) would lose the race. When the deadline
# fires late, the probe gets a few more turns of the loop at the pace it showed (ten
# times the lateness), up to this; a probe that really hangs is still cut off, this much
# later at most.
MAX_LATE_GRANT_S = 3.0
LATE_TURNS = 10
# below this the loop woke on time: nothing is granted
LATE_S = 0.05

class _Requirement(Protocol):
    title: Text
    citation: Citation | None


class Rules(Protocol):
    """What the runner needs of a certificate profile: each requirement's title and
    citation, to put on every result."""

    def requirement(self, req_id: str) -> _Requirement | None: ...


OnStart = Callable[[Check], None]
OnDone = Callable[[CheckResult], None]
SecretLookup = Callable[[str], Secret | None]


# threads for the probes' blocking calls (name lookups, SNMP engines, discovery windows)
BLOCKING_THREADS = 32

def _nothing(*_: Any) -> None:
    return None


class Runner:
    def __init__(self, profile: Rules, probes: dict[str, ProbeFn], concurrency: int = 64,
                 on_start: OnStart = _nothing, on_done: OnDone = _nothing,
                 secret: SecretLookup = lambda _path: None, agent_token: Secret | None = None,
                 outcome_judges_: dict[str, OutcomeJudge] | None = None,
                 results_judges_: dict[str, ResultsJudge] | None = None,
                 serial: bool = False, decoders: frozenset[str] = frozenset()):
        self.profile = profile
        # probes that decode video here: more of them at once than CPUs only makes each
        # slower, until every camera misses its deadline on a busy proctor PC
        self.decoders = decoders
        self.decode_gate = asyncio.Semaphore(max(1, os.cpu_count() or 1))
        self.serial = serial
        self.probes = probes
        self.concurrency = concurrency
        self.on_start = on_start
        self.on_done = on_done
        self.secret = secret
        self.remote = AgentRemote(agent_token, self._run_here)
        self.outcome_judges = (outcome_judges() if outcome_judges_ is None
                               else outcome_judges_)
        self.results_judges = (results_judges() if results_judges_ is None
                               else results_judges_)

    def _result(self, check: Check, outcome: ProbeOutcome, started: datetime,
                duration_s: float) -> CheckResult:
        req = self.profile.requirement(check.requirement)
        return CheckResult(
            requirement=check.requirement,
            title=req.title if req else Text(check.requirement, check.requirement),
            subject=check.subject,
            aspect=check.aspect,
            vantage=outcome.ran_from or check.vantage,
            status=outcome.status,
            message=outcome.message,
            measured=outcome.measured,
            threshold=check.threshold,
            citation=req.citation if req else None,
            started_at=started,
            duration_s=duration_s,
            check_id=check.check_id,
            evidence=outcome.evidence,
            findings=list(_said(check, outcome).findings),
        )

    async def _run_here(self, name: str, params: dict[str, Any], deadline_s: float,
                        secrets: dict[str, Secret] | None = None) -> ProbeOutcome:
        fn = self.probes.get(name)
        if fn is None:
            return ProbeOutcome(Status.ERROR, Text(
                f"internal: no probe named {name!r}", f"内部错误：没有名为 {name!r} 的检测"))
        if secrets:
            return await fn(params, deadline_s, secrets)
        return await fn(params, deadline_s)

    def _secrets(self, check: Check) -> dict[str, Secret] | ProbeOutcome:
        resolved: dict[str, Secret] = {}
        for arg, path in check.secrets.items():
            value = self.secret(path)
            if value is None:
                what = Text(f"the site file gives no {path}", f"站点文件未提供 {path}")
                action = Text("add it (as ${ENV} or secret:NAME)",
                              "请添加（写作 ${ENV} 或 secret:NAME）")
                return ProbeOutcome(Status.ERROR, Text(f"{what.en}: {action.en}",
                                                       f"{what.zh}：{action.zh}"),
                                    findings=[Finding("run.secret_missing", what, action)])
            resolved[arg] = value
        return resolved

    def _dispatch(self, check: Check) -> Any:
        assert check.probe is not None
        if check.agent is not None:
            return self.remote.run(check.agent, check.probe, check.params, check.deadline_s)
        secrets = self._secrets(check)
        if isinstance(secrets, ProbeOutcome):
            return _ready(secrets)
        return self._run_here(check.probe, check.params, check.deadline_s, secrets)

    async def _probe(self, check: Check) -> ProbeOutcome:
        if check.probe not in self.probes and check.agent is None:
            return ProbeOutcome(Status.ERROR, Text(
                f"internal: no probe named {check.probe!r}",
                f"内部错误：没有名为 {check.probe!r} 的检测"))
        task = asyncio.ensure_future(self._dispatch(check))
        # asyncio.wait, not wait_for: wait_for waits for a cancelled probe to finish,
        # and a probe stuck in a non-cancellable call would then hold the run hostage.
        due = time.monotonic() + check.deadline_s
        done, _ = await asyncio.wait({task}, timeout=check.deadline_s)
        late = time.monotonic() - due
        if not done and late > LATE_S:
            # the deadline counts the time this PC gave the probe, not the time it was busy
            done, _ = await asyncio.wait({task}, timeout=min(LATE_TURNS * late,
                                                                 MAX_LATE_GRANT_S))
        if not done:
            task.cancel()
            task.add_done_callback(_swallow)
            text = Text(f"deadline exceeded: no answer within {check.deadline_s:g} s",
                        f"超时：{check.deadline_s:g} 秒内无结果")
            return ProbeOutcome(Status.ERROR, text, findings=[Finding(
                "run.deadline", text,
                Text("run the check again; if it stays, look at why the target answers so "
                     "slowly", "请重新检查；如仍如此，请查明目标响应缓慢的原因"))])
        exc = task.exception()
        if exc is not None:
            log.warning("probe %s for %s raised %s", check.probe, check.target,
                        type(exc).__name__)
            text = Text(f"the probe failed: {type(exc).__name__}: {exc}",
                        f"检测程序出错：{type(exc).__name__}: {exc}")
            return ProbeOutcome(Status.ERROR, text,
                                findings=[Finding("run.probe_failed", text, _REPORT_BUG)])
        outcome = task.result()
        if not isinstance(outcome, ProbeOutcome):
            return ProbeOutcome(Status.ERROR, Text(
                f"internal: probe {check.probe} returned {type(outcome).__name__}",
                f"内部错误：检测 {check.probe} 返回了 {type(outcome).__name__}"))
        return self._judged(check, outcome)

    def _judged(self, check: Check, outcome: ProbeOutcome) -> ProbeOutcome:
        # a probe measures; only a judge gives a verdict
        judge = self.outcome_judges.get(check.judge or "")
        if judge is None:
            return ProbeOutcome(Status.ERROR, Text(
                f"internal: the check names no judge {check.judge!r}",
                f"内部错误：没有名为 {check.judge!r} 的判定"), outcome.measured)
        try:
            judged = judge(outcome, check.judge_params)
        except Exception as exc:  # a bug in one rule must not lose the run
            log.exception("judge %s failed on %s", check.judge, check.target)
            text = Text(f"could not judge: {type(exc).__name__}: {exc}",
                        f"无法判定：{type(exc).__name__}: {exc}")
            return ProbeOutcome(Status.ERROR, text, outcome.measured,
                                findings=[Finding("run.judge_failed", text, _REPORT_BUG)])
        judged.ran_from = judged.ran_from or outcome.ran_from
        return judged

    async def _run_one(self, check: Check, gate: asyncio.Semaphore,
                       board: LinkBoard) -> CheckResult:
        # the links first: throughput checks queueing for their turn must not hold
        # concurrency slots that pings and cameras could use meanwhile
        if check.exclusive:
            async with board.hold(check.links):
                result = await self._measure(check, gate)
        elif check.quiet_links:
            async with board.hold(check.quiet_links, quiet=True):
                result = await self._measure(check, gate)
        elif check.agent is None and check.probe in self.decoders:
            async with self.decode_gate:
                result = await self._measure(check, gate)
        else:
            result = await self._measure(check, gate)
        self.on_done(result)
        return result

    async def _measure(self, check: Check, gate: asyncio.Semaphore) -> CheckResult:
        async with gate:
            self.on_start(check)
            started = datetime.now(UTC)
            t0 = time.monotonic()
            outcome = await self._probe(check)
            return self._result(check, outcome, started, time.monotonic() - t0)

    def _derive(self, check: Check, results: list[CheckResult]) -> CheckResult:
        self.on_start(check)
        started = datetime.now(UTC)
        t0 = time.monotonic()
        try:
            judge = self.results_judges.get(check.judge or "")
            if judge is None:
                raise LookupError(f"internal: no judge named {check.judge!r}")
            outcome = judge(results, check.judge_params)
        except Exception as exc:  # a bug in one rule must not lose the run
            text = Text(f"could not judge: {type(exc).__name__}: {exc}",
                        f"无法判定：{type(exc).__name__}: {exc}")
            outcome = ProbeOutcome(Status.ERROR, text,
                                   findings=[Finding("run.judge_failed", text, _REPORT_BUG)])
        result = self._result(check, outcome, started, time.monotonic() - t0)
        self.on_done(result)
        return result

    async def run(self, checks: list[Check]) -> list[CheckResult]:
        gate = asyncio.Semaphore(self.concurrency)
        board = LinkBoard(serial=self.serial)
        probe_checks = [c for c in checks if not c.derived]
        derived = [c for c in checks if c.derived]
        results = list(await asyncio.gather(
            *(self._run_one(c, gate, board) for c in probe_checks)))
        for check in derived:
            results.append(self._derive(check, results))
        return results


_REPORT_BUG = Text("run the check again; if it stays, report it as a bug",
                   "请重新检查；如仍如此，请作为缺陷报告")


def _said(check: Check, outcome: ProbeOutcome) -> ProbeOutcome:
    """An outcome other than pass that no judge put findings on (a probe's own error or
    skip, passed on unchanged) has one: what the probe said, under the probe's name."""
    if outcome.status is Status.PASS or outcome.findings:
        return outcome
    name = check.probe or check.judge or "check"
    return replace(outcome, findings=[Finding(f"{name}.{outcome.status.value}",
                                              outcome.message, NO_ACTION)])


async def _ready(outcome: ProbeOutcome) -> ProbeOutcome:
    return outcome


def _swallow(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def run_checks(runner: Runner, checks: list[Check]) -> list[CheckResult]:
    """Run to completion, then leave behind any probe that refused to stop.

    asyncio.run() would wait for every cancelled task to finish, so one probe that
    swallows its cancellation would hold the whole run past its deadline.
    """
    loop = asyncio.new_event_loop()
    # The default pool (CPUs + 4: six threads on a 2-CPU proctor PC) queued a UPS's SNMP
    # engine and the name lookups behind camera discovery's listening window and the
    # recorder's reads, until their checks ran out of time. These threads mostly wait.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=BLOCKING_THREADS,
                                                 thread_name_prefix="probe-blocking"))
    try:
        return loop.run_until_complete(runner.run(checks))
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0))  # let cooperative probes clean up
        loop.close()
