"""Link-aware exclusivity: throughput-class checks that load no link in common run at
once; those that share one run in the order the plan gives them.

A check waits until none of its links is in use by a running check and none is wanted
by a check queued before it (so a wide test, such as the room load, is never starved by
narrow ones that keep overtaking it). A check that declares no links conflicts with
every other exclusive check: the single exclusive class of before, and what `serial`
makes of every check.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

EVERY_LINK = "*"


def _conflict(a: frozenset[str], b: frozenset[str]) -> bool:
    return EVERY_LINK in a or EVERY_LINK in b or not a.isdisjoint(b)


class _Claim:
    """One check's wish for its links (an object of its own: two checks may want the
    same links, and each must be told apart in the queue). A quiet claim (a latency
    measurement) conflicts only with loading claims, never with another quiet one."""

    def __init__(self, links: frozenset[str], quiet: bool = False) -> None:
        self.links = links
        self.quiet = quiet


def _clash(a: _Claim, b: _Claim) -> bool:
    return not (a.quiet and b.quiet) and _conflict(a.links, b.links)


class LinkBoard:
    def __init__(self, serial: bool = False) -> None:
        self.serial = serial
        self._busy: list[_Claim] = []
        self._queue: list[_Claim] = []
        self._changed = asyncio.Condition()

    def links_of(self, links: frozenset[str]) -> frozenset[str]:
        return frozenset({EVERY_LINK}) if self.serial or not links else links

    def _may_start(self, claim: _Claim) -> bool:
        if any(_clash(claim, busy) for busy in self._busy):
            return False
        for queued in self._queue:
            if queued is claim:
                return True
            if _clash(claim, queued):
                return False
        return True

    @asynccontextmanager
    async def hold(self, links: frozenset[str], quiet: bool = False) -> AsyncIterator[None]:
        claim = _Claim(links if quiet else self.links_of(links), quiet)
        async with self._changed:
            self._queue.append(claim)
            try:
                await self._changed.wait_for(lambda: self._may_start(claim))
            finally:
                self._queue.remove(claim)
                # a cancelled waiter may have been what held a later one back
                self._changed.notify_all()
            self._busy.append(claim)
        try:
            yield
        finally:
            async with self._changed:
                self._busy.remove(claim)
                self._changed.notify_all()
