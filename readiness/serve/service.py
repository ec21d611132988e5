"""`readiness serve`: the countdown schedule (the same plan, ledger and recording as
`readiness schedule`) plus the HTTP service, in one process."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..check_run import load
from ..results import Text
from ..schedule import runner as schedule
from .http11 import Limits
from .run_now import RunNowGate
from .server import ServeHTTP
from .state import LiveState, Paths

log = logging.getLogger(__name__)


@dataclass
class Serving:
    """A running service: its address, its state, and how to stop it."""

    http: ServeHTTP
    state: LiveState
    service: schedule.Service

    @property
    def address(self) -> tuple[str, int]:
        return self.http.server_address


def _next_run(service: schedule.Service) -> datetime | None:
    if service.scheduler is None:
        return None
    times = [j.next_run_time for j in service.scheduler.get_jobs() if j.next_run_time]
    return min(times).astimezone(UTC) if times else None


RUN_NOW_ID = "{code}-now-"


def _run_now(service: schedule.Service, lock: threading.Lock) -> tuple[bool, Text]:
    """Put one run on the schedule's single worker, unless one is already queued or
    running: repeated presses (or a flood of them) make one run, never a queue of runs
    pushing the countdown's own checks back. Returns (merged, what to tell the user)."""
    prefix = RUN_NOW_ID.format(code=service.code)
    with lock:
        queued = any(j.id.startswith(prefix) for j in service.scheduler.get_jobs())
        if queued or service.running():
            return True, Text(
                "a run is already queued or running: this request joins it (the page "
                "follows it check by check); press again once it has ended for another",
                "已有检查在排队或进行中：本次请求并入该检查（页面会逐项显示结果）；"
                "如需再检查，请在其结束后再按")
        now = datetime.now(UTC)
        job_id = f"{prefix}{now.strftime('%Y%m%dT%H%M%S%f')}"
        service.scheduler.add_job(
            schedule.run_job, "date", run_date=now, id=job_id, name=f"{service.code} run now",
            kwargs={"settings": service.settings, "job_id": job_id, "planned_at": now,
                    "site_code": service.code, "trigger": schedule.RUN_NOW_TRIGGER},
            misfire_grace_time=3600, max_instances=1)
    return False, Text("run started: the page follows it check by check",
                       "检查已开始：页面会逐项显示结果")


def start(settings: schedule.Settings, listen: tuple[str, int], *,
          host_names: tuple[str, ...] = (), limits: Limits | None = None) -> Serving:
    """Recover, plan, start the schedule and the HTTP service. Raises ConfigError or
    ScheduleError (each saying what to fix) before anything runs."""
    site = schedule.prepare(settings)
    _site, profile = load(settings.config_path)
    service = schedule.Service(settings, site)
    gate = RunNowGate(site.secret("serve.run_now_token"), service.code)
    state = LiveState(site, profile, Paths(Path(settings.store_path), Path(settings.log_path),
                                           Path(settings.key_dir)),
                      next_run=lambda: _next_run(service), run_now=gate.page_info(),
                      current_site=lambda: service.site)
    schedule.WATCHERS.append(state.watch)
    lock = threading.Lock()
    http = ServeHTTP(listen, state, gate, lambda: _run_now(service, lock),
                     host_names=host_names, limits=limits)
    try:
        http.start()
    except OSError as err:
        schedule.WATCHERS.remove(state.watch)
        why = os.strerror(err.errno) if err.errno else str(err)
        raise schedule.ScheduleError(Text(
            f"cannot listen on {listen[0]}:{listen[1]}: {why}; pick another "
            "--listen address or stop what uses it",
            f"无法监听 {listen[0]}:{listen[1]}：{why}；请换一个 --listen 地址，"
            "或停止占用它的程序")) from None
    try:
        state.refresh()
        service.start()
        http.serve()
    except BaseException:
        http.stop()
        service.stop()
        schedule.WATCHERS.remove(state.watch)
        raise
    if not gate.enabled:
        log.info("run now is off: the site file has no serve.run_now_token")
    log.info("serving %s on http://%s:%d/ (metrics at /metrics)", service.code, *listen)
    return Serving(http, state, service)


def stop(serving: Serving) -> None:
    serving.http.stop()
    serving.service.stop()
    if serving.state.watch in schedule.WATCHERS:
        schedule.WATCHERS.remove(serving.state.watch)


def run(settings: schedule.Settings, listen: tuple[str, int], stop_event: threading.Event,
        *, poll_s: float = 1.0, host_names: tuple[str, ...] = ()) -> None:
    """Serve until `stop_event` is set; one process per job store (the schedule's lock)."""
    with schedule.instance_lock(Path(settings.jobs_path + ".lock")):
        serving = start(settings, listen, host_names=host_names)
        serving.service.poll_s = poll_s
        try:
            serving.service.wait(stop_event)
        finally:
            stop(serving)
