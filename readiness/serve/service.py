"""`readiness serve`: the countdown schedule (the same plan, ledger and recording as
`readiness schedule`) plus the HTTP service, in one process."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..check_run import load
from ..results import Text
from ..schedule import runner as schedule
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
        return self.http.server_address[:2]  # type: ignore[return-value]


def _next_run(service: schedule.Service) -> datetime | None:
    if service.scheduler is None:
        return None
    times = [j.next_run_time for j in service.scheduler.get_jobs() if j.next_run_time]
    return min(times).astimezone(UTC) if times else None


def _run_now(service: schedule.Service) -> Text:
    """Put one run on the schedule's single worker: never two runs at once."""
    now = datetime.now(UTC)
    job_id = f"{service.code}-now-{now.strftime('%Y%m%dT%H%M%S%f')}"
    service.scheduler.add_job(
        schedule.run_job, "date", run_date=now, id=job_id, name=f"{service.code} run now",
        kwargs={"settings": service.settings, "job_id": job_id, "planned_at": now,
                "site_code": service.code},
        misfire_grace_time=3600, max_instances=1)
    return Text("run started: the page follows it check by check",
                "检查已开始：页面会逐项显示结果")


def start(settings: schedule.Settings, listen: tuple[str, int]) -> Serving:
    """Recover, plan, start the schedule and the HTTP service. Raises ConfigError or
    ScheduleError (each saying what to fix) before anything runs."""
    site = schedule.prepare(settings)
    _site, profile = load(settings.config_path)
    service = schedule.Service(settings, site)
    state = LiveState(site, profile, Paths(Path(settings.store_path), Path(settings.log_path),
                                           Path(settings.key_dir)),
                      next_run=lambda: _next_run(service))
    schedule.WATCHERS.append(state.watch)
    token = site.secret("agent.token")
    try:
        http = ServeHTTP(listen, state, token.reveal() if token else None,
                         lambda: _run_now(service))
    except OSError as err:
        schedule.WATCHERS.remove(state.watch)
        raise schedule.ScheduleError(Text(
            f"cannot listen on {listen[0]}:{listen[1]}: {err.strerror}; pick another "
            "--listen address or stop what uses it",
            f"无法监听 {listen[0]}:{listen[1]}：{err.strerror}；请换一个 --listen 地址，"
            "或停止占用它的程序")) from None
    state.refresh()
    service.start()
    threading.Thread(target=http.serve_forever, name="readiness-serve-http",
                     daemon=True).start()
    log.info("serving %s on http://%s:%d/ (metrics at /metrics)", service.code, *listen)
    return Serving(http, state, service)


def stop(serving: Serving) -> None:
    serving.http.closing.set()
    serving.http.shutdown()
    serving.http.server_close()
    serving.service.stop()
    if serving.state.watch in schedule.WATCHERS:
        schedule.WATCHERS.remove(serving.state.watch)


def run(settings: schedule.Settings, listen: tuple[str, int], stop_event: threading.Event,
        *, poll_s: float = 1.0) -> None:
    """Serve until `stop_event` is set; one process per job store (the schedule's lock)."""
    with schedule.instance_lock(Path(settings.jobs_path + ".lock")):
        serving = start(settings, listen)
        serving.service.poll_s = poll_s
        try:
            serving.service.wait(stop_event)
        finally:
            stop(serving)
