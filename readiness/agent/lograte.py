"""Log lines with a ceiling: a flood of one kind of event writes a few lines and a count.

The agent writes one line per request. A few hundred idle connections a second (no
token needed) would otherwise fill a seat PC's disk with identical lines and bury the
ones that matter. Each cause (e.g. "408 timeout", "evicted", "200") may write `burst`
lines per `interval_s`; beyond that the lines are counted, and one summary line per
cause says how many were left out, when the interval ends (`flush`) or the next line of
that cause comes after it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class _Window:
    started: float
    written: int = 0
    suppressed: int = 0


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, *, burst: int = 20, interval_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.logger = logger
        self.burst = burst
        self.interval_s = interval_s
        self.clock = clock
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def log(self, cause: str, level: int, msg: str, *args: Any, exc_info: bool = False) -> None:
        now = self.clock()
        with self._lock:
            window = self._windows.get(cause)
            if window is None or now - window.started >= self.interval_s:
                if window is not None:
                    self._summary(cause, window, now)
                window = self._windows[cause] = _Window(now)
            if window.written >= self.burst:
                window.suppressed += 1
                return
            window.written += 1
        self.logger.log(level, msg, *args, exc_info=exc_info)

    def flush(self, force: bool = False) -> None:
        """Write the summary of every interval that has ended (all of them: `force`)."""
        now = self.clock()
        with self._lock:
            for cause, window in list(self._windows.items()):
                if force or now - window.started >= self.interval_s:
                    self._summary(cause, window, now)
                    del self._windows[cause]

    def _summary(self, cause: str, window: _Window, now: float) -> None:
        if window.suppressed:
            self.logger.warning("%d more line(s) of cause %r in the last %.0f s were not "
                                "logged (at most %d per %.0f s per cause)", window.suppressed,
                                cause, now - window.started, self.burst, self.interval_s)
