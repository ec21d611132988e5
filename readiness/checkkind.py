"""What a kind of check is, declared once beside its probe.

Each probe module declares its `KIND` (or `KINDS`): the probe's name, its function, its
parameters (and which of them name a target: the seat agent's allow-list reads those
marks, nothing else), the judges that may give its verdict, and where it may run. One
registry (readiness/registry.py) feeds the coordinator's runner, the seat agent, the
agent's allow-list, the planner check and tests/test_architecture.py.

A parameter has no default here or in its probe: the planner passes every knob, from
the profile's threshold model or its own named constant, so each knob has one default.
`optional` is for what a check may leave out (a camera without a username), never for a
number a probe would otherwise guess.

Ground floor: imports nothing of the project but the result model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .results import ProbeOutcome

# run(params, deadline_s) or run(params, deadline_s, secrets)
ProbeFn = Callable[..., Awaitable[ProbeOutcome]]

COORDINATOR = "coordinator"
SEAT = "seat"

# what a parameter names, for the agent's allow-list
TARGET = "target"        # one host, address or URL
TARGETS = "targets"      # a list of them
NAMES = "names"          # a mapping whose keys are host names (the control answers)
PATH = "path"            # a path fetched from the kind's `url` parameter


@dataclass(frozen=True)
class Param:
    name: str
    mark: str | None = None
    optional: bool = False


@dataclass(frozen=True)
class CheckKind:
    probe: str
    run: ProbeFn
    params: tuple[Param, ...]
    # the judges (readiness/judges) that may turn its outcome into a verdict; a kind
    # run only as one leg of another (a seat's side of the room load) has none and
    # names that other kind in `leg_of`
    judges: tuple[str, ...] = ()
    runs_on: frozenset[str] = frozenset({COORDINATOR})
    # on a seat's agent, one at a time (it loads the seat's link)
    exclusive: bool = False
    # decodes video on the machine that runs it: CPU-bound, so at most one per CPU at a
    # time (readiness/runner.py), its deadline counted from its turn
    decodes_video: bool = False
    # the secrets the probe takes as its third argument
    secrets: tuple[str, ...] = ()
    leg_of: str | None = None
    # the time the probe needs for these params (its own deadline keeps inside it); None:
    # the planner's deadline is the probe's whole budget
    budget: Callable[[dict[str, Any]], float] | None = None

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def missing(self, params: dict[str, Any]) -> list[str]:
        return [f"{self.probe}: parameter {p.name!r} is missing"
                for p in self.params if not p.optional and params.get(p.name) is None]

    def unknown(self, params: dict[str, Any]) -> list[str]:
        """Keys the kind does not have: a typo would otherwise go unnoticed, and on an
        agent such a key could carry a target no mark names."""
        known = {p.name for p in self.params}
        return [f"{self.probe}: unknown parameter {name!r}" for name in params
                if name not in known]

    def problems(self, params: dict[str, Any]) -> list[str]:
        return self.missing(params) + self.unknown(params)

    def targets_in(self, params: dict[str, Any]) -> list[str]:
        """Every value of `params` a mark says names a target (the allow-list's input).
        A marked value in an unexpected shape is returned as its repr, to be refused."""
        found: list[str] = []
        for p in self.params:
            value = params.get(p.name)
            if value is None or p.mark in (None, PATH):
                continue
            if p.mark == TARGET and isinstance(value, str):
                found.append(value)
            elif p.mark == TARGETS and isinstance(value, list | tuple):
                found += [str(v) for v in value]
            elif p.mark == NAMES and isinstance(value, dict):
                found += [str(k) for k in value]
            else:
                found.append(repr(value))
        return found

    def paths_in(self, params: dict[str, Any]) -> dict[str, Any]:
        return {p.name: params[p.name] for p in self.params
                if p.mark == PATH and params.get(p.name) is not None}


class BadParam(ValueError):
    """A parameter a probe was handed is missing or unusable; the message names it."""


def param(params: dict[str, Any], name: str, convert: Callable[[Any], Any] | None = None) -> Any:
    """`params[name]`, through `convert` when given. A probe reads every parameter it
    needs through this: a missing or unusable one is then a `BadParam` naming it, which
    the probe returns as its ERROR outcome, never a bare KeyError escaping the probe."""
    value = params.get(name)
    if value is None:
        raise BadParam(f"parameter {name!r} is missing: a check must give every parameter "
                       "its kind declares (knobs: readiness/planning/knobs.py)")
    if convert is None:
        return value
    try:
        return convert(value)
    except (TypeError, ValueError) as exc:
        raise BadParam(f"parameter {name!r} cannot be used ({exc})") from None


def knobs(*names: str) -> tuple[Param, ...]:
    """Parameters that name no target: numbers, switches, labels."""
    return tuple(Param(n) for n in names)


def optional(*names: str) -> tuple[Param, ...]:
    return tuple(Param(n, optional=True) for n in names)
