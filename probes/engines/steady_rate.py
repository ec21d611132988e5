"""When has a throughput test measured enough? The convergence rule for WAN-FLOOR.

A test samples its byte counters every `interval_s` and hands the rate of each interval
(Mbit/s) to `Settling.add`. The first `ramp_s` are never counted (TCP slow start, socket
buffers filling). The test stops as soon as the last `window` intervals agree: each
lies within `tolerance_pct` of their median. The figure is that median, so one stray
interval (a burst, a stall) moves it less than it would move a whole run's average.

A series that never settles (a busy or erratic line) stops at `max_s` and says so:
its figure is then the median of the later half of the counted intervals (a line still
ramping up is better described by its later intervals, a noisy one by many).

Pure and clock-free: unit-tested on recorded series (tests/test_wan_floor.py).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SettleRule:
    interval_s: float = 0.5
    window: int = 4
    tolerance_pct: float = 2.5
    ramp_s: float = 0.5
    max_s: float = 5.0

    def __post_init__(self) -> None:
        if self.interval_s <= 0 or self.window < 2 or not 0 < self.tolerance_pct <= 50:
            raise ValueError("interval_s > 0, window >= 2, tolerance_pct in (0, 50]")
        if self.ramp_s < 0 or self.max_s < self.ramp_s + self.window * self.interval_s:
            raise ValueError(f"max_s must leave room for the ramp ({self.ramp_s:g} s) and "
                             f"{self.window} intervals of {self.interval_s:g} s")


@dataclass(frozen=True)
class SettledRate:
    """What a direction measured: the figure and how it was reached."""
    mbps: float | None
    settled: bool  # False: stopped at max_s before the last intervals agreed
    intervals_mbps: tuple[float, ...]  # every interval, the ramp included
    used: int  # how many intervals the median is taken over
    spread_pct: float | None  # of the used intervals: (max - min) / median
    seconds: float

    def to_json(self) -> dict[str, object]:
        return {"mbps": self.mbps, "settled": self.settled, "used_intervals": self.used,
                "spread_pct": self.spread_pct, "seconds": round(self.seconds, 2),
                "intervals_mbps": [round(r, 2) for r in self.intervals_mbps]}


def _spread_pct(values: Sequence[float]) -> float | None:
    mid = statistics.median(values)
    return round(100 * (max(values) - min(values)) / mid, 2) if mid > 0 else None


@dataclass
class Settling:
    """The rule applied as intervals arrive. `add` returns True once the test may stop."""
    rule: SettleRule
    rates: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def _skipped(self) -> int:
        # intervals that end inside the ramp
        return int(self.rule.ramp_s / self.rule.interval_s + 1e-9)

    def add(self, mbps: float, seconds: float | None = None) -> bool:
        self.rates.append(max(0.0, mbps))
        self.seconds += self.rule.interval_s if seconds is None else seconds
        return self.converged() or self.seconds >= self.rule.max_s - 1e-9

    def converged(self) -> bool:
        counted = self.rates[self._skipped:]
        if len(counted) < self.rule.window:
            return False
        last = counted[-self.rule.window:]
        mid = statistics.median(last)
        return mid > 0 and all(abs(r - mid) <= mid * self.rule.tolerance_pct / 100
                               for r in last)

    def result(self) -> SettledRate:
        counted = self.rates[self._skipped:] or self.rates
        if not counted:
            return SettledRate(None, False, (), 0, None, self.seconds)
        if self.converged():
            used = counted[-self.rule.window:]
        else:
            used = counted[len(counted) // 2:]
        return SettledRate(round(statistics.median(used), 2), self.converged(),
                           tuple(self.rates), len(used), _spread_pct(used), self.seconds)


def settle(rates: Sequence[float], rule: SettleRule) -> SettledRate:
    """The rule over a recorded series, as a live test would have stopped on it."""
    settling = Settling(rule)
    for rate in rates:
        if settling.add(rate):
            break
    return settling.result()
