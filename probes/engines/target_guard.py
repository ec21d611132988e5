"""What a probe may contact when it runs for a remote caller (the seat agent).

The agent checks every target named in a request's params before the probe starts
(readiness/agent/allow.py). Some targets only appear while the probe runs: an HTTP
redirect, a speed-test endpoint's next hop. For those the agent installs its allow-list
here, and the probe asks `allows(url_or_host)` before it sends a packet there.

Run from the coordinator (no agent), nothing is installed and everything is allowed:
the coordinator's operator chose the targets in the site file.

Addresses a probe learns by resolving an allowed name through an allowed resolver
(the seat's own, a configured bypass resolver, a DoH endpoint) are that name's
addresses and need no check: the caller cannot choose them. Addresses the caller hands
in (e.g. `control_answers`) are checked by the agent before the probe runs.

A context variable rather than a parameter: the guard follows the probe into every
task it spawns, and a probe's params cannot switch it off. Threads do not inherit it:
a probe that works in threads reads `current()` first and hands the check over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Check = Callable[[str], bool]

_CHECK: ContextVar[Check | None] = ContextVar("readiness_target_check", default=None)


class TargetNotAllowed(Exception):
    """A probe was about to contact something outside the agent's site file."""

    def __init__(self, target: str, why: str = ""):
        self.target = target
        self.message = (f"{why + ' ' if why else ''}{target} is not in the site configuration "
                        "of this agent: it was not contacted")
        super().__init__(self.message)


def current() -> Check | None:
    return _CHECK.get()


def allows(target: str, check: Check | None = None) -> bool:
    """True when `target` (a URL, host name or address) may be contacted."""
    check = check if check is not None else _CHECK.get()
    return True if check is None else check(target)


def require(target: str, why: str = "", check: Check | None = None) -> None:
    if not allows(target, check):
        raise TargetNotAllowed(target, why)


@contextmanager
def enforced(check: Check) -> Iterator[None]:
    """Probes run inside this block (and the tasks they start) ask `check`."""
    token = _CHECK.set(check)
    try:
        yield
    finally:
        _CHECK.reset(token)
