"""What a rule's results show people, declared once per rule beside its family.

A rule (a requirement of the profiles: LAN-SPEED, CAM-RES...) says here how its results
read: the figure of one result (the report's appendix, camera tiles, live page), the
figure that decides its verdict (the console's requirement line), the numbers `/metrics`
exports (labelled by the result's subject) and the trends `history` and the report draw.
It is keyed by rule, not by probe: one kind of check serves several rules (the seat's
self-report proves LAN-SPEED, LAN-FIXED-IP and SEAT-SPEC), and a derived check (LAN-SEATS
counts the seats that answered) has no probe at all.

Each module of this package declares `RULES`; a new rule is found by being here. Ground
floor plus: imports only the result model and the subject.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Literal

from ..results import CheckResult, Text

MBPS_TO_BYTES_PER_S = 1_000_000 / 8


@dataclass(frozen=True)
class Metric:
    """One number a rule's result carries, exported as a gauge: the result's requirement
    and aspect pick it, `key` names it in `measured` (or, for a limit, in `threshold`)."""

    metric: str
    help: str
    requirement: str
    aspect: str | None
    key: str
    scale: float = 1.0  # to the metric's base unit
    labels: tuple[tuple[str, str], ...] = ()  # fixed labels this figure adds
    from_threshold: bool = False


@dataclass(frozen=True)
class Trend:
    """A series over the stored runs: `history`'s columns and the report's charts."""

    key: str
    requirement: str
    measure: str | None  # key of `measured`; None: count passing results
    aggregate: Literal["min", "sum", "count_pass"]
    label: Text
    unit: str
    order: int  # where it stands among the trends people read


@dataclass(frozen=True)
class Rule:
    requirement: str
    result_figure: Callable[[CheckResult], Text | None] | None = None
    deciding_figure: Callable[[list[CheckResult]], Text | None] | None = None
    metrics: tuple[Metric, ...] = ()
    trends: tuple[Trend, ...] = ()


@cache
def rules() -> dict[str, Rule]:
    """Every rule a module of this package declares, by requirement id."""
    out: dict[str, Rule] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for rule in getattr(module, "RULES", ()):
            out[rule.requirement] = rule
    return out


def metrics() -> tuple[Metric, ...]:
    return tuple(m for rule in rules().values() for m in rule.metrics)


def trends() -> dict[str, Trend]:
    found = sorted((t for rule in rules().values() for t in rule.trends), key=lambda t: t.order)
    return {t.key: t for t in found}
