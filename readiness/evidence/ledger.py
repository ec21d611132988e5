"""What the results store remembers about the evidence log, so that the store and the
log can check each other.

Per log (by its absolute path): the key that signs it, the head written at the last
signed run (a log cut short no longer reaches it), and the last position a report
verified (the next report checks only what came after). Per run: where its signed
records start, so the report reads them without scanning the log.

The tables live in the results store's SQLite file, created on first use; a store
written before them simply has no rows (every reader tolerates that). Readers open
the file read-only, so `verify` never creates or changes a store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .chain import KnownHead, Position

SCHEMA = """
CREATE TABLE IF NOT EXISTS evidence_logs (
    log TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    head_seq INTEGER,
    head_hash TEXT,
    verified_seq INTEGER,
    verified_hash TEXT,
    verified_start INTEGER,
    verified_end INTEGER,
    verified_line INTEGER,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS run_evidence (
    run_id INTEGER PRIMARY KEY,
    log TEXT NOT NULL,
    record_hash TEXT NOT NULL,
    seq INTEGER NOT NULL,
    offset INTEGER NOT NULL
);
"""
STORE_SOURCE = "the results store"


@dataclass(frozen=True)
class LogState:
    key_id: str
    public_key: str  # base64 of the raw Ed25519 key
    head: KnownHead | None
    verified: Position | None


@dataclass(frozen=True)
class RunPlace:
    record_hash: str
    seq: int
    offset: int


def log_name(log: Path) -> str:
    return str(Path(log).resolve())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def _write(store: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(store, timeout=30)) as db:
        db.executescript(SCHEMA)
        with db:
            yield db


@contextmanager
def _read(store: Path) -> Iterator[sqlite3.Connection | None]:
    if not Path(store).is_file():
        yield None
        return
    uri = Path(store).resolve().as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
        db.row_factory = sqlite3.Row
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        yield db if {"evidence_logs", "run_evidence"} <= tables else None


def record_signed(store: Path, log: Path, *, key_id: str, public_key: str, run_id: int | None,
                  run_hash: str, run_seq: int, run_offset: int, head_seq: int,
                  head_hash: str) -> None:
    """After a run was signed into `log` and saved as `run_id`: remember the new head
    and where the run's records are."""
    name = log_name(log)
    with _write(Path(store)) as db:
        db.execute(
            "INSERT INTO evidence_logs (log, key_id, public_key, head_seq, head_hash,"
            " updated_at) VALUES (?,?,?,?,?,?) ON CONFLICT (log) DO UPDATE SET"
            " key_id = excluded.key_id, public_key = excluded.public_key,"
            " head_seq = max(coalesce(head_seq, -1), excluded.head_seq),"
            " head_hash = CASE WHEN excluded.head_seq >= coalesce(head_seq, -1)"
            " THEN excluded.head_hash ELSE head_hash END, updated_at = excluded.updated_at",
            (name, key_id, public_key, head_seq, head_hash, _now()))
        if run_id is not None:
            db.execute("INSERT OR REPLACE INTO run_evidence (run_id, log, record_hash, seq,"
                       " offset) VALUES (?,?,?,?,?)",
                       (run_id, name, run_hash, run_seq, run_offset))


def save_verified(store: Path, log: Path, at: Position, key_id: str, public_key: str) -> None:
    """The report verified `log` up to `at`: the next one starts there."""
    with _write(Path(store)) as db:
        db.execute(
            "INSERT INTO evidence_logs (log, key_id, public_key, verified_seq, verified_hash,"
            " verified_start, verified_end, verified_line, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (log) DO UPDATE SET"
            " verified_seq = excluded.verified_seq, verified_hash = excluded.verified_hash,"
            " verified_start = excluded.verified_start, verified_end = excluded.verified_end,"
            " verified_line = excluded.verified_line, updated_at = excluded.updated_at",
            (log_name(log), key_id, public_key, at.seq, at.hash, at.start, at.end, at.line,
             _now()))


def load_state(store: Path | None, log: Path) -> LogState | None:
    if store is None:
        return None
    with _read(Path(store)) as db:
        if db is None:
            return None
        row = db.execute("SELECT * FROM evidence_logs WHERE log = ?",
                         (log_name(log),)).fetchone()
    if row is None:
        return None
    head = (KnownHead(row["head_seq"], row["head_hash"], STORE_SOURCE)
            if row["head_seq"] is not None and row["head_hash"] else None)
    verified = None
    if row["verified_seq"] is not None:
        verified = Position(row["verified_seq"], row["verified_hash"], row["verified_start"],
                            row["verified_end"], row["verified_line"])
    return LogState(row["key_id"], row["public_key"], head, verified)


def run_place(store: Path, run_id: int) -> RunPlace | None:
    with _read(Path(store)) as db:
        if db is None:
            return None
        row = db.execute("SELECT record_hash, seq, offset FROM run_evidence WHERE run_id = ?",
                         (run_id,)).fetchone()
    return RunPlace(row["record_hash"], row["seq"], row["offset"]) if row else None
