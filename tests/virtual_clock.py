"""Run a module under a virtual wall clock: a scheduler test that does not sleep.

    python tests/virtual_clock.py START MODULE [ARGS...]

Inside, the wall clock (`datetime.now()` in readiness, probes and APScheduler) starts
at START (ISO 8601 with its offset) and runs at the real rate, with one exception:
when APScheduler's loop would sleep until its next job and no job is running, the
clock jumps to that job's time instead of waiting for it. A countdown planned minutes
apart then runs in the seconds its checks really take, each run at its planned
(virtual) time and in order. While a run is in progress time passes for real, so a
job that comes due meanwhile waits for it as it would on a real machine, and the
scheduler's own misfire arithmetic sees the same clock. Monotonic time (probe
deadlines, timeouts) is never touched.

Only the tests use this: the product has no clock switch. The process is otherwise
the real one (`python -m MODULE`), so it can be killed with SIGKILL and restarted.
"""

from __future__ import annotations

import importlib
import pkgutil
import runpy
import sys
import threading
from datetime import UTC, timedelta
from datetime import datetime as real_datetime
from typing import Any

# The programs whose clock is replaced; everything else (the standard library,
# SQLAlchemy, cryptography) keeps the real one and never decides when a run happens.
PATCHED = ("readiness", "probes", "apscheduler")


class VirtualClock:
    def __init__(self, start: real_datetime) -> None:
        self._lock = threading.Lock()
        self._offset = start - real_datetime.now(UTC)
        self._running = 0  # jobs handed to the executor and not finished

    def now(self, tz: Any = None) -> real_datetime:
        with self._lock:
            offset = self._offset
        return real_datetime.now(tz) + offset

    def jump_to(self, moment: real_datetime) -> None:
        with self._lock:  # forward only: a clock that runs back would replay runs
            self._offset = max(self._offset, moment - real_datetime.now(UTC))

    def job_event(self, event: Any) -> None:
        from apscheduler.events import EVENT_JOB_SUBMITTED

        with self._lock:
            # a worker may report the end before the loop reports the submission:
            # the sum is right either way
            self._running += 1 if event.code == EVENT_JOB_SUBMITTED else -1

    def idle(self) -> bool:
        with self._lock:
            return self._running <= 0


class _RealInstances(type):
    # `isinstance(x, datetime)` in a patched module still means "is a datetime"
    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, real_datetime)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, real_datetime)


def datetime_class(clock: VirtualClock) -> type:
    class VirtualDatetime(real_datetime, metaclass=_RealInstances):
        # every datetime made through this class is a plain one, so pickles (the job
        # store) and SQLite adapters see nothing unusual
        def __new__(cls, *args: Any, **kwargs: Any) -> real_datetime:  # type: ignore[misc]
            return real_datetime(*args, **kwargs)

        @classmethod
        def now(cls, tz: Any = None) -> real_datetime:  # type: ignore[override]
            return clock.now(tz)

        @classmethod
        def utcnow(cls) -> real_datetime:  # type: ignore[override]
            return clock.now(UTC).replace(tzinfo=None)

        @classmethod
        def today(cls) -> real_datetime:  # type: ignore[override]
            return clock.now()

    return VirtualDatetime


def skipping_event(clock: VirtualClock) -> type:
    step_s = 0.02

    class SkippingEvent(threading.Event):
        """APScheduler's wake-up event. `wait(timeout)` is how its loop sleeps until
        the next job: jump there when nothing runs, else let real time pass."""

        def wait(self, timeout: float | None = None) -> bool:
            if timeout is None or timeout >= threading.TIMEOUT_MAX:
                return super().wait(timeout)  # nothing planned, or paused
            if timeout <= 0:
                return super().wait(0)
            due = clock.now(UTC) + timedelta(seconds=timeout)
            while True:
                if super().wait(step_s):  # woken: a job added, the scheduler stopped
                    return True
                if clock.now(UTC) >= due:
                    return False
                if clock.idle():
                    clock.jump_to(due)
                    return False

    return SkippingEvent


def install(clock: VirtualClock) -> None:
    import apscheduler.executors.pool  # noqa: F401 - imported so its clock is replaced
    import apscheduler.jobstores.sqlalchemy  # noqa: F401
    import apscheduler.schedulers.background as background
    import apscheduler.triggers.date  # noqa: F401
    from apscheduler.events import (
        EVENT_JOB_ERROR,
        EVENT_JOB_EXECUTED,
        EVENT_JOB_MISSED,
        EVENT_JOB_SUBMITTED,
    )

    import probes
    import readiness

    # import every module now (they import `datetime` by name), so each one is patched;
    # not the lab (it builds rooms, the scheduler never uses it) nor entry points
    for package in (readiness, probes):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if module.name.endswith("__main__") or module.name.startswith("readiness.lab"):
                continue
            importlib.import_module(module.name)
    virtual = datetime_class(clock)
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in PATCHED and getattr(module, "datetime", None) is real_datetime:
            module.datetime = virtual  # type: ignore[attr-defined]

    background.Event = skipping_event(clock)  # type: ignore[attr-defined]
    start = background.BackgroundScheduler.start

    def start_counting_jobs(self: Any, *args: Any, **kwargs: Any) -> None:
        self.add_listener(clock.job_event, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED
                          | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        start(self, *args, **kwargs)

    background.BackgroundScheduler.start = start_counting_jobs  # type: ignore[method-assign]


def main() -> None:
    start = real_datetime.fromisoformat(sys.argv[1])
    if start.tzinfo is None:
        raise SystemExit("virtual_clock.py: START needs its UTC offset")
    module = sys.argv[2]
    install(VirtualClock(start))
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
