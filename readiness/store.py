"""The results store: every finished run in one SQLite file, for history and trends.

The store answers "how did this room do over the last weeks"; the evidence log, not
the store, is the proof (a database file can be edited without trace).

Each call opens its own connection: the scheduler and a manual run may use the store
from different threads or processes, and SQLite serialises the writers.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import store_checks
from .evidence.canonical import to_plain
from .redact import Secret, scrub
from .results import CheckResult, Citation, Finding, RunRecord, Status, Text, Verdict
from .rules import Trend, trends
from .subject import Subject

SCHEMA_VERSION = 4
# columns a newer schema added to a table an older store already has: (table, column, type)
ADDED_COLUMNS = (("results", "subject", "TEXT"), ("results", "aspect", "TEXT"),
                 ("results", "findings", "TEXT"), ("runs", "measured_from", "TEXT"))

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    site TEXT NOT NULL,
    site_code TEXT NOT NULL,
    profile TEXT NOT NULL,
    certificate_en TEXT NOT NULL,
    certificate_zh TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    verdict TEXT NOT NULL,
    trigger TEXT NOT NULL,
    required TEXT NOT NULL,
    evidence_ref TEXT,
    measured_from TEXT
);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    check_id TEXT NOT NULL,
    requirement TEXT NOT NULL,
    title_en TEXT NOT NULL,
    title_zh TEXT NOT NULL,
    target TEXT NOT NULL,
    subject TEXT,
    aspect TEXT,
    vantage TEXT NOT NULL,
    status TEXT NOT NULL,
    measured TEXT NOT NULL,
    threshold TEXT NOT NULL,
    citation TEXT,
    message_en TEXT NOT NULL,
    message_zh TEXT NOT NULL,
    findings TEXT,
    evidence TEXT NOT NULL,
    started_at TEXT NOT NULL,
    duration_s REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS results_run ON results (run_id, requirement);
"""


@dataclass
class StoredRun(RunRecord):
    """A RunRecord read back from the store: every writer (console, JSON, report) takes
    it as it is; `run_id` and `trigger` say which stored run it was and what started it."""

    run_id: int = 0
    trigger: str = ""
    evidence_ref: str | None = None


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    site_name: str
    site_code: str
    profile_id: str
    started_at: datetime
    finished_at: datetime
    verdict: Verdict
    trigger: str
    counts: dict[Status, int]
    evidence_ref: str | None = None


# the series over stored runs, as the rules declare them (readiness/rules), in the order
# people read them
TrendSpec = Trend
TRENDS: dict[str, TrendSpec] = trends()


@dataclass(frozen=True)
class TrendPoint:
    run_id: int
    started_at: datetime
    value: float | None  # None: the run measured nothing for this series
    # per subject, its address left out: a re-addressed seat is the same part
    parts: dict[Subject, float] = field(default_factory=dict)


def _utc(moment: datetime) -> str:
    # stored as UTC ISO text so that string order is time order; a naive time is
    # taken as UTC rather than the machine's zone, which may differ from the site's
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class ResultsStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        # StoreError (file, why, what to do) for a folder, a foreign or newer file, a
        # read-only disk; the schema is written only when needed, so readers can read a
        # store they cannot write
        with store_checks.translated(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._db() as db:
                if store_checks.needs_schema(db, self.path, SCHEMA_VERSION, SCHEMA):
                    store_checks.add_columns(db, ADDED_COLUMNS)
                    db.executescript(SCHEMA)
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def check_writable(self) -> None:
        """Raise StoreError unless a run can be saved now (before a run is signed)."""
        store_checks.check_writable(self.path)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys = ON")
            with db:  # one transaction: commit on success, roll back on error
                yield db

    def save_run(self, run: RunRecord, trigger: str = "manual",
                 secrets: Iterable[Secret] = (), evidence_ref: str | None = None) -> int:
        """Store a finished run; returns its id. `evidence_ref`: the hash of the run's
        record in the evidence log, so a stored run points at its proof."""
        secrets = list(secrets)

        def text(value: str) -> str:
            return scrub(value, secrets)

        def as_json(value: Any) -> str:
            return json.dumps(to_plain(value, secrets), ensure_ascii=False, sort_keys=True)

        with self._db() as db:
            cur = db.execute(
                "INSERT INTO runs (site, site_code, profile, certificate_en, certificate_zh,"
                " started_at, finished_at, verdict, trigger, required, evidence_ref,"
                " measured_from) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (text(run.site_name), text(run.site_code), run.profile_id,
                 text(run.certificate.en), text(run.certificate.zh), _utc(run.started_at),
                 _utc(run.finished_at), run.verdict.value, trigger,
                 as_json(sorted(run.required)), evidence_ref, text(run.measured_from)))
            run_id = int(cur.lastrowid or 0)
            db.executemany(
                "INSERT INTO results (run_id, position, check_id, requirement, title_en,"
                " title_zh, target, subject, aspect, vantage, status, measured, threshold,"
                " citation, message_en, message_zh, findings, evidence, started_at,"
                " duration_s)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(run_id, i, text(r.check_id), r.requirement, text(r.title.en),
                  text(r.title.zh), text(r.target), as_json(r.subject.to_dict()), r.aspect,
                  text(r.vantage), r.status.value,
                  as_json(r.measured), as_json(r.threshold),
                  as_json(r.citation.to_dict()) if r.citation else None,
                  text(r.message.en), text(r.message.zh),
                  as_json([f.to_dict() for f in r.findings]), as_json(r.evidence),
                  _utc(r.started_at), float(r.duration_s))
                 for i, r in enumerate(run.results)])
        return run_id

    def list_runs(self, since: datetime | None = None,
                  site_code: str | None = None) -> list[RunSummary]:
        """Runs oldest first (the order a history or a trend reads in)."""
        where, params = self._filter(since, site_code)
        with self._db() as db:
            rows = db.execute(f"SELECT * FROM runs {where} ORDER BY started_at, id",
                              params).fetchall()
            counts: dict[int, dict[Status, int]] = {}
            for c in db.execute(
                    f"SELECT run_id, status, COUNT(*) AS n FROM results WHERE run_id IN "
                    f"(SELECT id FROM runs {where}) GROUP BY run_id, status", params):
                counts.setdefault(c["run_id"], {})[Status(c["status"])] = c["n"]
        return [RunSummary(
            run_id=row["id"], site_name=row["site"], site_code=row["site_code"],
            profile_id=row["profile"], started_at=_time(row["started_at"]),
            finished_at=_time(row["finished_at"]), verdict=Verdict(row["verdict"]),
            trigger=row["trigger"], counts=counts.get(row["id"], {}),
            evidence_ref=row["evidence_ref"]) for row in rows]

    @staticmethod
    def _filter(since: datetime | None, site_code: str | None) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if since is not None:
            clauses.append("started_at >= ?")
            params.append(_utc(since))
        if site_code is not None:
            clauses.append("site_code = ?")
            params.append(site_code)
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

    def load_run(self, run_id: int) -> StoredRun | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                return None
            results = db.execute("SELECT * FROM results WHERE run_id = ? ORDER BY position",
                                 (run_id,)).fetchall()
        return StoredRun(
            site_name=row["site"], site_code=row["site_code"], profile_id=row["profile"],
            certificate=Text(row["certificate_en"], row["certificate_zh"]),
            started_at=_time(row["started_at"]), finished_at=_time(row["finished_at"]),
            verdict=Verdict(row["verdict"]), results=[_result(r) for r in results],
            required=set(json.loads(row["required"])), run_id=row["id"],
            trigger=row["trigger"], evidence_ref=row["evidence_ref"],
            measured_from=row["measured_from"] or "")

    def latest_run_id(self, site_code: str | None = None) -> int | None:
        where, params = self._filter(None, site_code)
        with self._db() as db:
            row = db.execute(f"SELECT id FROM runs {where} ORDER BY started_at DESC, id DESC"
                             " LIMIT 1", params).fetchone()
        return int(row["id"]) if row else None

    def latest_run(self, site_code: str | None = None) -> StoredRun | None:
        run_id = self.latest_run_id(site_code)
        return self.load_run(run_id) if run_id is not None else None

    def trend(self, key: str, since: datetime | None = None,
              site_code: str | None = None) -> list[TrendPoint]:
        """One point per run (oldest first) for a series of TRENDS."""
        spec = TRENDS.get(key)
        if spec is None:
            raise KeyError(f"unknown trend {key!r}; known: {', '.join(TRENDS)}")
        where, params = self._filter(since, site_code)
        with self._db() as db:
            runs = db.execute(f"SELECT id, started_at FROM runs {where} "
                              "ORDER BY started_at, id", params).fetchall()
            rows = db.execute(
                "SELECT run_id, target, subject, status, measured FROM results"
                " WHERE requirement = ?"
                f" AND run_id IN (SELECT id FROM runs {where}) ORDER BY run_id, position",
                [spec.requirement, *params]).fetchall()
        by_run: dict[int, list[sqlite3.Row]] = {}
        for r in rows:
            by_run.setdefault(r["run_id"], []).append(r)
        return [_point(spec, run["id"], _time(run["started_at"]), by_run.get(run["id"], []))
                for run in runs]


def _point(spec: TrendSpec, run_id: int, started: datetime,
           rows: list[sqlite3.Row]) -> TrendPoint:
    if not rows:
        return TrendPoint(run_id, started, None)
    if spec.aggregate == "count_pass":
        parts = {_part(r): float(r["status"] == Status.PASS.value) for r in rows}
        return TrendPoint(run_id, started, sum(parts.values()), parts)
    parts = {}
    for r in rows:
        value = _number(json.loads(r["measured"]).get(spec.measure))
        if value is not None:
            # several results for one subject (download, upload): keep its worst
            part = _part(r)
            parts[part] = min(value, parts.get(part, value))
    if not parts:
        return TrendPoint(run_id, started, None)
    value = min(parts.values()) if spec.aggregate == "min" else sum(parts.values())
    return TrendPoint(run_id, started, value, parts)


def _subject(row: sqlite3.Row) -> Subject:
    """Whom a stored result is about; a row stored before results had subjects keeps its
    old label as its name."""
    return Subject.read(json.loads(row["subject"]) if row["subject"] else None, row["target"])


def _part(row: sqlite3.Row) -> Subject:
    return replace(_subject(row), address=None)


def _result(row: sqlite3.Row) -> CheckResult:
    citation = json.loads(row["citation"]) if row["citation"] else None
    return CheckResult(
        requirement=row["requirement"], title=Text(row["title_en"], row["title_zh"]),
        subject=_subject(row),
        aspect=row["aspect"], vantage=row["vantage"], status=Status(row["status"]),
        message=Text(row["message_en"], row["message_zh"]),
        findings=Finding.read_all(json.loads(row["findings"]) if row["findings"] else None),
        measured=json.loads(row["measured"]), threshold=json.loads(row["threshold"]),
        citation=Citation(**citation) if citation else None,
        started_at=_time(row["started_at"]), duration_s=row["duration_s"],
        check_id=row["check_id"], evidence=json.loads(row["evidence"]))
