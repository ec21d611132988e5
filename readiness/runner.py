"""Run a plan: every check under a deadline that always holds.

Independent checks run concurrently; exclusive (throughput-class) checks take a
lock so two never overlap on the network. A probe that raises, or overruns its
deadline, becomes one `error` result and the run goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from probes import ProbeFn

from .checks import Check
from .results import CheckResult, Citation, ProbeOutcome, Status, Text

log = logging.getLogger(__name__)

class _Requirement(Protocol):
    title: Text
    citation: Citation | None


class Rules(Protocol):
    """What the runner needs of a certificate profile: each requirement's title and
    citation, to put on every result."""

    def requirement(self, req_id: str) -> _Requirement | None: ...


OnStart = Callable[[Check], None]
OnDone = Callable[[CheckResult], None]


def _nothing(*_: Any) -> None:
    return None


class Runner:
    def __init__(self, profile: Rules, probes: dict[str, ProbeFn], concurrency: int = 64,
                 on_start: OnStart = _nothing, on_done: OnDone = _nothing):
        self.profile = profile
        self.probes = probes
        self.concurrency = concurrency
        self.on_start = on_start
        self.on_done = on_done

    def _result(self, check: Check, outcome: ProbeOutcome, started: datetime,
                duration_s: float) -> CheckResult:
        req = self.profile.requirement(check.requirement)
        return CheckResult(
            requirement=check.requirement,
            title=req.title if req else Text(check.requirement, check.requirement),
            target=check.target,
            vantage=check.vantage,
            status=outcome.status,
            message=outcome.message,
            measured=outcome.measured,
            threshold=check.threshold,
            citation=req.citation if req else None,
            started_at=started,
            duration_s=duration_s,
            check_id=check.check_id,
            evidence=outcome.evidence,
        )

    async def _probe(self, check: Check) -> ProbeOutcome:
        fn = check.fn or self.probes.get(check.probe or "")
        if fn is None:
            return ProbeOutcome(Status.ERROR, Text(
                f"internal: no probe named {check.probe!r}",
                f"内部错误：没有名为 {check.probe!r} 的检测"))
        task = asyncio.ensure_future(fn(check.params, check.deadline_s))
        # asyncio.wait, not wait_for: wait_for waits for a cancelled probe to finish,
        # and a probe stuck in a non-cancellable call would then hold the run hostage.
        done, _ = await asyncio.wait({task}, timeout=check.deadline_s)
        if not done:
            task.cancel()
            task.add_done_callback(_swallow)
            return ProbeOutcome(Status.ERROR, Text(
                f"deadline exceeded: no answer within {check.deadline_s:g} s",
                f"超时：{check.deadline_s:g} 秒内无结果"))
        exc = task.exception()
        if exc is not None:
            log.warning("probe %s for %s raised %s", check.probe, check.target,
                        type(exc).__name__)
            return ProbeOutcome(Status.ERROR, Text(
                f"the probe failed: {type(exc).__name__}: {exc}",
                f"检测程序出错：{type(exc).__name__}: {exc}"))
        outcome = task.result()
        if not isinstance(outcome, ProbeOutcome):
            return ProbeOutcome(Status.ERROR, Text(
                f"internal: probe {check.probe} returned {type(outcome).__name__}",
                f"内部错误：检测 {check.probe} 返回了 {type(outcome).__name__}"))
        return outcome

    async def _run_one(self, check: Check, gate: asyncio.Semaphore,
                       exclusive: asyncio.Lock) -> CheckResult:
        # the exclusive lock first: throughput checks queueing for their turn must not
        # hold concurrency slots that pings and cameras could use meanwhile
        if check.exclusive:
            await exclusive.acquire()
        try:
            async with gate:
                self.on_start(check)
                started = datetime.now(UTC)
                t0 = time.monotonic()
                outcome = await self._probe(check)
                result = self._result(check, outcome, started, time.monotonic() - t0)
        finally:
            if check.exclusive:
                exclusive.release()
        self.on_done(result)
        return result

    def _derive(self, check: Check, results: list[CheckResult]) -> CheckResult:
        self.on_start(check)
        started = datetime.now(UTC)
        t0 = time.monotonic()
        try:
            assert check.derive is not None
            outcome = check.derive(results)
        except Exception as exc:  # a bug in one rule must not lose the run
            outcome = ProbeOutcome(Status.ERROR, Text(
                f"could not judge: {type(exc).__name__}: {exc}",
                f"无法判定：{type(exc).__name__}: {exc}"))
        result = self._result(check, outcome, started, time.monotonic() - t0)
        self.on_done(result)
        return result

    async def run(self, checks: list[Check]) -> list[CheckResult]:
        gate = asyncio.Semaphore(self.concurrency)
        exclusive = asyncio.Lock()
        probe_checks = [c for c in checks if c.derive is None]
        derived = [c for c in checks if c.derive is not None]
        results = list(await asyncio.gather(
            *(self._run_one(c, gate, exclusive) for c in probe_checks)))
        for check in derived:
            results.append(self._derive(check, results))
        return results


def _swallow(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def run_checks(runner: Runner, checks: list[Check]) -> list[CheckResult]:
    """Run to completion, then leave behind any probe that refused to stop.

    asyncio.run() would wait for every cancelled task to finish, so one probe that
    swallows its cancellation would hold the whole run past its deadline.
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(runner.run(checks))
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0))  # let cooperative probes clean up
        loop.close()
