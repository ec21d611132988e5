"""`readiness schedule CONFIG`: check a site unattended as its exams come closer.

APScheduler 3 keeps one `date` job per countdown time in a SQLite job store, under a
stable id (`<site code>-<UTC time>`), so a restart finds the plan where it left it and
re-adding a job replaces it instead of doubling it. A small ledger in the same file
(see ledger.py) records each run as it is claimed, signed, stored and announced; that
is what keeps a run from happening twice after a `kill -9`, and lets a run that was
lost (killed before it was recorded, or due while the machine was down) happen once on
restart if it is still within the grace time.

Never two runs at once: one worker thread, `max_instances=1`, and a lock file held for
the life of the process, so a second `readiness schedule` on the same job store
refuses to start.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ..check_run import SelectionError, execute, load, plan_run, select
from ..config.errors import ConfigError
from ..config.load import Site
from ..evidence.errors import EvidenceError
from ..redact import scrub
from ..results import CheckResult, Citation, Finding, RunRecord, Status, Text, Verdict
from ..subject import Subject
from .countdown import PlannedRun, countdown_plan
from .ledger import Ledger

log = logging.getLogger(__name__)

TRIGGER = "schedule"
# a run someone asked for on the live page: the same job, recorded as theirs
RUN_NOW_TRIGGER = "run_now"

# `readiness serve` shows a run check by check on its live page: callbacks of this
# process only (never pickled into the job store), called as (event, payload) with
# "start" (job id), "check" (a CheckResult), "recorded" (the stored run id), "end" (job id)
WATCHERS: list[Any] = []


def _tell(event: str, payload: object) -> None:
    for watcher in list(WATCHERS):
        try:
            watcher(event, payload)
        except Exception:  # a broken page must not break the run
            log.exception("a watcher of the schedule failed on %s", event)


class ScheduleError(Exception):
    """The schedule cannot start; `text` says why, in both languages."""

    def __init__(self, text: Text):
        super().__init__(text.en)
        self.text = text


@dataclass(frozen=True)
class Settings:
    """Everything a scheduled run needs besides the site file. Pickled into the job
    store with every job: paths only, never a secret."""

    config_path: str
    store_path: str
    log_path: str
    key_dir: str
    jobs_path: str
    rooms: tuple[str, ...] = ()  # empty: the site file's schedule.rooms, else all
    only: tuple[str, ...] = ()  # empty: the site file's schedule.only, else all
    concurrency: int = 64
    evidence_dir: str | None = None

    @property
    def jobs_url(self) -> str:
        return f"sqlite:///{Path(self.jobs_path).resolve()}"


def _scope(settings: Settings, site: Site) -> tuple[list[str] | None, list[str] | None]:
    rooms = list(settings.rooms) or list(site.model.schedule.rooms) or None
    only = list(settings.only) or list(site.model.schedule.only) or None
    return rooms, only


# ---------------------------------------------------------------------------- one run


def run_job(settings: Settings, job_id: str, planned_at: datetime, site_code: str,
            trigger: str = TRIGGER) -> None:
    """The job APScheduler runs. Raises nothing: every outcome ends in the ledger and
    the log, and a run that could not be made or recorded is announced. `trigger`: what
    the store records as having started it (the schedule, or "run now")."""
    ledger = Ledger(Path(settings.jobs_path))
    if not ledger.claim(job_id, site_code, planned_at):
        log.info("run %s already happened; not running it again", job_id)
        return
    site: Site | None = None
    try:
        site, profile = load(settings.config_path)
        rooms, only = _scope(settings, site)
        selection = select(site, profile, rooms, only)
        log.info("run %s: checking %s", job_id, site.model.site.code)
        plan = plan_run(site, profile, selection,
                        Path(settings.evidence_dir) if settings.evidence_dir else None,
                        Path(settings.store_path))
        for warning in plan.warnings:
            log.warning("run %s: %s", job_id, warning.en)
        _tell("planned", len(plan.checks))  # the live page's "n of N"
        _tell("start", job_id)
        run = execute(site, profile, plan, concurrency=settings.concurrency,
                      on_done=lambda result: _tell("check", result))
    except ConfigError as err:
        # no site, so no alert channel: the log (journal) is the only place to say it
        detail = "; ".join(str(i) for i in err.issues)
        ledger.failed(job_id, f"configuration: {detail}")
        log.error("run %s: the site file has %d mistake(s): %s", job_id, len(err.issues),
                  detail)
        return
    except SelectionError as err:
        _fail(ledger, job_id, site, err.text)
        return
    except Exception as err:  # a bug in one run must not end the schedule
        log.exception("run %s: the check crashed", job_id)
        _fail(ledger, job_id, site, Text(f"the check crashed: {type(err).__name__}",
                                         f"检查程序出错：{type(err).__name__}"))
        return
    try:
        _record(settings, ledger, job_id, site, run, trigger)
    finally:
        _tell("end", job_id)


def _record(settings: Settings, ledger: Ledger, job_id: str, site: Site,
            run: RunRecord, trigger: str = TRIGGER) -> None:
    from ..evidence.record import run_key
    from ..evidence.recording import record_run

    ledger.recording(job_id, run.started_at, run_key(run))
    try:
        recorded = record_run(run, site.secrets.values(), trigger=trigger,
                              log_path=Path(settings.log_path), key_dir=Path(settings.key_dir),
                              store_path=Path(settings.store_path),
                              evidence_dir=Path(settings.evidence_dir) if settings.evidence_dir
                              else None)
    except EvidenceError as err:
        _fail(ledger, job_id, site, Text(
            f"the run could not be signed into the evidence log: {err.text.en}",
            f"检查结果无法签名写入证据日志：{err.text.zh}"))
        return
    except (OSError, sqlite3.Error) as err:
        _fail(ledger, job_id, site, Text(
            f"the run could not be saved: {type(err).__name__}: {err}",
            f"检查结果无法保存：{type(err).__name__}: {err}"))
        return
    ledger.recorded(job_id, recorded.run_id)
    _tell("recorded", recorded.run_id)
    log.info("run %s: %s, stored as run %s, evidence %s", job_id, run.verdict.value,
             recorded.run_id, recorded.evidence_ref)
    _announce(settings, ledger, job_id, site, recorded.run_id)


def _announce(settings: Settings, ledger: Ledger, job_id: str, site: Site,
              run_id: int | None) -> None:
    from ..alerts import believed_changes, build_alert, load_believed_runs, send
    from ..store import ResultsStore

    try:
        if run_id is not None:
            store = ResultsStore(Path(settings.store_path))
            runs = store.list_runs(site_code=site.model.site.code)
            ids = [r.run_id for r in runs]
            at = ids.index(run_id) if run_id in ids else -1
            believed = load_believed_runs(  # the store checked against the log
                store, run_id, ids[at - 1] if at > 0 else None, Path(settings.log_path),
                Path(settings.key_dir))
            current = believed.current
            if current is not None:
                changes = believed_changes(believed)
                for c in changes:
                    log.warning("run %s: %s %s -> %s (%s)", job_id, c.requirement,
                                c.old.value if c.old else "-", c.new.value,
                                ", ".join(c.targets("en")[:5]))
                alert = build_alert(site.name, site.model.site.code, changes,
                                    current.started_at, site.tz, list(site.secrets.values()),
                                    unsigned=believed.unsigned)
                if alert is not None and site.model.alerts is not None:
                    send(alert, site.model.alerts, site.secrets)
    except EvidenceError as err:  # the store disagrees with the signed log: say so
        _fail(ledger, job_id, site, err.text)
        return
    except Exception:  # the run is recorded; a failed alert must not undo that
        log.exception("run %s: could not send its alerts", job_id)
    ledger.done(job_id)


def _fail(ledger: Ledger, job_id: str, site: Site | None, reason: Text) -> None:
    from ..alerts import failure_alert, send

    secrets = list(site.secrets.values()) if site else []
    ledger.failed(job_id, scrub(reason.en, secrets))
    log.error("run %s failed: %s", job_id, scrub(reason.en, secrets))
    if site is not None and site.model.alerts is not None:
        try:
            send(failure_alert(site.name, site.model.site.code, reason, datetime.now(UTC),
                               site.tz, secrets), site.model.alerts, site.secrets)
        except Exception:
            log.exception("run %s: could not send the failure alert", job_id)


# ---------------------------------------------------------------------------- recovery


def _stored_run_id(store_path: Path, site_code: str, started_at: datetime) -> int | None:
    from ..store import ResultsStore

    if not store_path.exists():
        return None
    for summary in ResultsStore(store_path).list_runs(since=started_at, site_code=site_code):
        if summary.started_at == started_at:
            return summary.run_id
    return None


def _result_from_body(body: dict[str, Any]) -> CheckResult:
    citation = body.get("citation")
    return CheckResult(
        requirement=body["requirement"], title=Text(**body["title"]),
        subject=Subject.read(body.get("subject"), str(body.get("target", ""))),
        aspect=body.get("aspect"),
        vantage=body["vantage"], status=Status(body["status"]),
        message=Text(**body["message"]), findings=Finding.read_all(body.get("findings")),
        measured=body.get("measured") or {},
        threshold=body.get("threshold") or {},
        citation=Citation(**citation) if citation else None,
        started_at=datetime.fromisoformat(body["started_at"]),
        duration_s=float(body["duration_s"]), check_id=body.get("check_id", ""),
        evidence=[e["name"] for e in body.get("evidence", []) if isinstance(e, dict)])


def rebuild_from_evidence(log_path: Path, key: str,
                          started_at: datetime) -> tuple[RunRecord, str] | None:
    """The run `key` as signed into the evidence log, and its record's hash: a run
    that reached the log but not the store (killed in between) is stored from its proof.
    """
    from ..evidence.chain import record_hash

    try:
        lines = [line for line in Path(log_path).read_bytes().split(b"\n") if line]
    except FileNotFoundError:
        return None
    for index, line in enumerate(lines):
        try:
            record = json.loads(line)
            body = record["body"]
        except (ValueError, KeyError, TypeError):
            continue
        if record.get("type") != "run" or body.get("run") != key:
            continue
        if datetime.fromisoformat(body["started_at"]) != started_at:
            continue
        results = []
        for later in lines[index + 1:index + 1 + int(body["results"])]:
            item = json.loads(later)
            if item.get("type") == "result" and item["body"].get("run") == key:
                results.append(_result_from_body(item["body"]))
        run = RunRecord(
            site_name=body["site"]["name"], site_code=body["site"]["code"],
            profile_id=body["profile"]["id"], certificate=Text(**body["profile"]["certificate"]),
            started_at=started_at, finished_at=datetime.fromisoformat(body["finished_at"]),
            verdict=Verdict(body["verdict"]), results=results,
            required=set(body.get("required", [])),
            measured_from=str(body.get("measured_from") or ""))
        return run, record_hash(record)
    return None


def recover(settings: Settings, site: Site, ledger: Ledger) -> None:
    """Settle what a previous process left half-done, before anything is planned."""
    from ..store import ResultsStore

    code = site.model.site.code
    secrets = list(site.secrets.values())
    for row in ledger.unfinished(code):
        if row.state == "running" or row.run_started_at is None or row.run_key is None:
            # killed before the run was finished: nothing of it was kept, so it has not
            # happened yet; planning puts it back if it is still within the grace
            log.warning("run %s was interrupted before it was recorded; it will run again "
                        "if still within the grace time", row.job_id)
            ledger.forget(row.job_id)
            continue
        run_id = row.run_id
        if row.state == "recording":
            run_id = _stored_run_id(Path(settings.store_path), code, row.run_started_at)
            if run_id is None:
                found = rebuild_from_evidence(Path(settings.log_path), row.run_key,
                                              row.run_started_at)
                if found is None:
                    log.warning("run %s was interrupted before it was signed; it will run "
                                "again if still within the grace time", row.job_id)
                    ledger.forget(row.job_id)
                    continue
                run, ref = found
                run_id = ResultsStore(Path(settings.store_path)).save_run(
                    run, TRIGGER, secrets, evidence_ref=ref)
                log.warning("run %s was signed but not stored when the scheduler stopped; "
                            "stored it from the evidence log as run %s", row.job_id, run_id)
            ledger.recorded(row.job_id, run_id)
        log.info("run %s was recorded but not announced; announcing it now", row.job_id)
        _announce(settings, ledger, row.job_id, site, run_id)


# ---------------------------------------------------------------------------- the process


@contextmanager
def instance_lock(path: Path) -> Iterator[None]:
    """Held for the life of the scheduler; the kernel drops it if the process dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - held until the context ends
    try:
        try:
            _lock(handle)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise ScheduleError(Text(
                f"another `readiness schedule` (pid {holder}) is already running with the "
                f"job store {path.with_suffix('')}; stop it first, or give this one its own "
                "--jobs file",
                f"已有另一个 `readiness schedule`（进程 {holder}）在使用任务库 "
                f"{path.with_suffix('')}；请先停止它，或用 --jobs 指定另一个文件")) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


def _lock(handle: IO[str]) -> None:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


@dataclass
class Service:
    """The running schedule of one site: plan, job store, ledger, main loop."""

    settings: Settings
    site: Site
    poll_s: float = 1.0
    ledger: Ledger = field(init=False)
    scheduler: Any = field(init=False, default=None)
    _active: int = field(init=False, default=0)
    _guard: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.ledger = Ledger(Path(self.settings.jobs_path))

    @property
    def code(self) -> str:
        return self.site.model.site.code

    def _ours(self) -> list[Any]:
        return [j for j in self.scheduler.get_jobs()
                if j.kwargs.get("site_code") == self.code]

    def plan(self, now: datetime | None = None) -> list[PlannedRun]:
        """Runs still to make: from `grace` ago on, minus those the ledger knows."""
        now = now or datetime.now(UTC)
        rules = self.site.model.schedule
        known = self.ledger.known_ids(self.code)
        return [run for run in countdown_plan(self.site.session_windows(), self.site.tz,
                                              now - rules.misfire_grace, rules)
                if run.job_id(self.code) not in known]

    def reconcile(self, now: datetime | None = None) -> list[PlannedRun]:
        """Make the job store hold exactly the plan: add or replace every planned job,
        remove the ones the plan no longer has (a session moved, a rule changed)."""
        now = now or datetime.now(UTC)
        plan = self.plan(now)
        wanted = {run.job_id(self.code): run for run in plan}
        grace = self.site.model.schedule.misfire_grace
        known = self.ledger.known_ids(self.code)
        for job in self._ours():
            if job.id in wanted:
                continue
            planned = job.kwargs.get("planned_at")
            if isinstance(planned, datetime) and planned < now - grace and job.id not in known:
                log.warning("run %s was due at %s while the scheduler was not running; "
                            "too late now (grace %s)", job.id, planned.isoformat(), grace)
                self.ledger.missed(job.id, self.code, planned)
            job.remove()
        for job_id, run in wanted.items():
            self.scheduler.add_job(
                run_job, "date", run_date=run.at, id=job_id,
                name=f"{self.code} {run.phase} T-{run.before}",
                kwargs={"settings": self.settings, "job_id": job_id, "planned_at": run.at,
                        "site_code": self.code},
                replace_existing=True, coalesce=True, max_instances=1,
                misfire_grace_time=max(1, int(grace.total_seconds())))
        return plan

    def _on_event(self, event: Any) -> None:
        from apscheduler.events import EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED

        if getattr(event, "job_id", None) is None:
            return
        with self._guard:
            if event.code == EVENT_JOB_SUBMITTED:
                self._active += 1
            elif event.code == EVENT_JOB_MISSED:
                log.warning("run %s came due %s late, past the grace time: skipped",
                            event.job_id,
                            datetime.now(UTC) - event.scheduled_run_time)
                planned = event.scheduled_run_time
                self.ledger.missed(event.job_id, self.code, planned)
            else:
                self._active = max(0, self._active - 1)

    def running(self) -> bool:
        """A run has been handed to the worker and has not ended yet."""
        with self._guard:
            return self._active > 0

    def idle(self) -> bool:
        with self._guard:
            return self._active == 0 and not self._ours()

    def start(self) -> list[PlannedRun]:
        from apscheduler.events import (
            EVENT_JOB_ERROR,
            EVENT_JOB_EXECUTED,
            EVENT_JOB_MISSED,
            EVENT_JOB_SUBMITTED,
        )
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        recover(self.settings, self.site, self.ledger)
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=self.settings.jobs_url)},
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            timezone=self.site.tz)
        self.scheduler.add_listener(self._on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED
                                    | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        # paused: the store's old jobs must be reconciled before any of them fires
        self.scheduler.start(paused=True)
        plan = self.reconcile()
        self.scheduler.resume()
        return plan

    def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            # wait: a run in progress finishes and is recorded rather than cut off
            self.scheduler.shutdown(wait=True)

    def reload(self) -> None:
        """The site file changed: plan again from its new sessions and rules."""
        try:
            site, profile = load(self.settings.config_path)
            select(site, profile, *_scope(self.settings, site))
        except ConfigError as err:
            log.error("%s changed but has %d mistake(s); keeping the old plan: %s",
                      self.settings.config_path, len(err.issues),
                      "; ".join(str(i) for i in err.issues))
            return
        except SelectionError as err:
            log.error("%s changed: %s; keeping the old plan", self.settings.config_path,
                      err.text.en)
            return
        if site.model.site.code != self.code:
            log.error("%s changed its site code; restart the schedule to follow it",
                      self.settings.config_path)
            return
        self.site = site
        plan = self.reconcile()
        log.info("%s changed: %d run(s) planned", self.settings.config_path, len(plan))

    def wait(self, stop: threading.Event, exit_when_done: bool = False) -> None:
        config = Path(self.settings.config_path)
        seen = _mtime(config)
        while not stop.wait(self.poll_s):
            now_seen = _mtime(config)
            if now_seen != seen:
                seen = now_seen
                self.reload()
            if exit_when_done and self.idle():
                log.info("every planned run of %s is done", self.code)
                return


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def prepare(settings: Settings) -> Site:
    """Everything that must hold before the schedule starts, each with a clear message:
    a valid site file, known rooms and requirements, the site key, a usable store."""
    from ..evidence.keys import load_private
    from ..store import ResultsStore

    site, profile = load(settings.config_path)
    try:
        select(site, profile, *_scope(settings, site))
    except SelectionError as err:
        raise ScheduleError(err.text) from None
    try:
        load_private(Path(settings.key_dir))
    except EvidenceError as err:
        raise ScheduleError(Text(
            f"scheduled runs are signed into the evidence log, and {err.text.en}",
            f"定时检查的结果要签名写入证据日志，但{err.text.zh}")) from None
    try:
        ResultsStore(Path(settings.store_path))
    except (OSError, sqlite3.Error, RuntimeError) as err:
        raise ScheduleError(Text(f"cannot use the results store {settings.store_path}: {err}",
                                 f"无法使用结果库 {settings.store_path}：{err}")) from None
    return site


def serve(settings: Settings, stop: threading.Event, *, exit_when_done: bool = False,
          poll_s: float = 1.0) -> Service:
    """Run the schedule until `stop` is set (or, with `exit_when_done`, until every
    planned run has happened). Raises ConfigError or ScheduleError before starting."""
    site = prepare(settings)
    with instance_lock(Path(settings.jobs_path + ".lock")):
        service = Service(settings, site, poll_s=poll_s)
        plan = service.start()
        try:
            if plan:
                first = plan[0].at.astimezone(site.tz)
                log.info("%s: %d run(s) planned, the next at %s", service.code, len(plan),
                         first.isoformat(timespec="seconds"))
            else:
                log.info("%s: no run planned (no exam session ahead); watching %s for new "
                         "sessions", service.code, settings.config_path)
            service.wait(stop, exit_when_done)
        finally:
            service.stop()
    return service


def settings_from(config: str | Path, *, store: str | Path, log_path: str | Path,
                  key_dir: str | Path, jobs: str | Path, rooms: list[str] | None = None,
                  only: list[str] | None = None, concurrency: int = 64,
                  evidence_dir: str | Path | None = None) -> Settings:
    """Settings with absolute paths: the jobs carry them, and a service manager may
    start the next process in another working directory."""
    return Settings(
        config_path=str(Path(config).resolve()), store_path=str(Path(store).resolve()),
        log_path=str(Path(log_path).resolve()), key_dir=str(Path(key_dir).resolve()),
        jobs_path=str(Path(jobs).resolve()), rooms=tuple(rooms or ()),
        only=tuple(r.upper() for r in only or ()), concurrency=concurrency,
        evidence_dir=str(Path(evidence_dir).resolve()) if evidence_dir else None)


__all__ = ["ScheduleError", "Service", "Settings", "instance_lock", "prepare",
           "rebuild_from_evidence", "recover", "run_job", "serve", "settings_from"]
