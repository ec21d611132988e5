"""Play a recorded run (a drill's `--json` result) through the schedule's watchers, as a
real scheduled run reaches them: "start", one "check" per result as it finishes, the run
signed and stored, "recorded", "end". The live page, its events and /metrics cannot tell
the difference: the browser test and bench/serve.py use it where no lab is up."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime

from ..results import RunRecord
from ..schedule import runner as schedule
from .importing import store_run


def replay(run: RunRecord, *, store: str, log: str, key_dir: str, job_id: str,
           pace_s: float = 0.0) -> int | None:
    """Tell the watchers about `run` check by check (`pace_s` apart), then record it as
    run_job does. The run is moved to now: the store keeps one run per start time."""
    now = datetime.now(UTC)
    took = run.finished_at - run.started_at
    run = dataclasses.replace(run, started_at=now - took, finished_at=now)
    schedule._tell("planned", len(run.results))
    schedule._tell("start", job_id)
    try:
        for result in run.results:
            schedule._tell("check", result)
            if pace_s:
                time.sleep(pace_s)
        run_id = store_run(run, store=store, log=log, key_dir=key_dir,
                           trigger=schedule.TRIGGER)
        schedule._tell("recorded", run_id)
        return run_id
    finally:
        schedule._tell("end", job_id)
