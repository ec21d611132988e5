"""Which scheduled runs have happened: the scheduler's memory across crashes.

APScheduler forgets a `date` job the moment it hands it to a worker, so after a
`kill -9` mid-run the job store alone cannot say whether that run still has to
happen. The ledger can: a row is claimed before a run starts and moves on as the run
is signed, stored and announced. It lives in the scheduler's own SQLite file, next to
APScheduler's table.

    running    claimed; nothing persisted yet          -> after a crash: run it again
    recording  finished; being signed and stored       -> after a crash: look it up
    recorded   in the log and the store; alerts not yet sent
    done       recorded and announced                  (final)
    failed     could not run or be recorded            (final; logged and alerted)
    missed     later than the grace when it came due   (final)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

FINAL = ("done", "failed", "missed")
SCHEMA = """
CREATE TABLE IF NOT EXISTS readiness_schedule_runs (
    job_id TEXT PRIMARY KEY,
    site_code TEXT NOT NULL,
    planned_at TEXT NOT NULL,
    state TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    run_started_at TEXT,
    run_key TEXT,
    run_id INTEGER,
    detail TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS readiness_schedule_runs_site
    ON readiness_schedule_runs (site_code, planned_at);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class LedgerRow:
    job_id: str
    site_code: str
    planned_at: datetime
    state: str
    run_started_at: datetime | None
    run_key: str | None
    run_id: int | None
    detail: str | None


class Ledger:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        # one connection per call: jobs run in a worker thread, the main loop reads
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            db.row_factory = sqlite3.Row
            with db:
                yield db

    def claim(self, job_id: str, site_code: str, planned_at: datetime) -> bool:
        """True if this call may run the job: nobody has claimed it before."""
        with self._db() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO readiness_schedule_runs (job_id, site_code, planned_at,"
                " state, claimed_at, updated_at) VALUES (?,?,?,?,?,?)",
                (job_id, site_code, planned_at.astimezone(UTC).isoformat(), "running",
                 _now(), _now()))
            return cur.rowcount == 1

    def _set(self, job_id: str, **values: object) -> None:
        names = ", ".join(f"{k} = ?" for k in values)
        with self._db() as db:
            db.execute(f"UPDATE readiness_schedule_runs SET {names}, updated_at = ? "
                       "WHERE job_id = ?", (*values.values(), _now(), job_id))

    def recording(self, job_id: str, run_started_at: datetime, run_key: str) -> None:
        self._set(job_id, state="recording",
                  run_started_at=run_started_at.astimezone(UTC).isoformat(), run_key=run_key)

    def recorded(self, job_id: str, run_id: int | None) -> None:
        self._set(job_id, state="recorded", run_id=run_id)

    def done(self, job_id: str) -> None:
        self._set(job_id, state="done")

    def failed(self, job_id: str, detail: str) -> None:
        self._set(job_id, state="failed", detail=detail)

    def missed(self, job_id: str, site_code: str, planned_at: datetime) -> None:
        with self._db() as db:
            db.execute(
                "INSERT OR IGNORE INTO readiness_schedule_runs (job_id, site_code, planned_at,"
                " state, claimed_at, updated_at) VALUES (?,?,?,?,?,?)",
                (job_id, site_code, planned_at.astimezone(UTC).isoformat(), "missed",
                 _now(), _now()))

    def forget(self, job_id: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM readiness_schedule_runs WHERE job_id = ?", (job_id,))

    def rows(self, site_code: str | None = None) -> list[LedgerRow]:
        where, params = ("WHERE site_code = ?", [site_code]) if site_code else ("", [])
        with self._db() as db:
            found = db.execute(f"SELECT * FROM readiness_schedule_runs {where} "
                               "ORDER BY planned_at", params).fetchall()
        return [LedgerRow(
            job_id=r["job_id"], site_code=r["site_code"],
            planned_at=datetime.fromisoformat(r["planned_at"]), state=r["state"],
            run_started_at=(datetime.fromisoformat(r["run_started_at"])
                            if r["run_started_at"] else None),
            run_key=r["run_key"], run_id=r["run_id"], detail=r["detail"]) for r in found]

    def unfinished(self, site_code: str) -> list[LedgerRow]:
        return [r for r in self.rows(site_code) if r.state not in FINAL]

    def known_ids(self, site_code: str) -> set[str]:
        """Jobs that must not be scheduled again: running, ran, or given up. (A row
        left `running` by a dead process is removed by recovery before planning.)"""
        return {r.job_id for r in self.rows(site_code)}


__all__ = ["FINAL", "Ledger", "LedgerRow"]
