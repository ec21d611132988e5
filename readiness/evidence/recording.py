"""Signing a finished run into the evidence log and keeping it in the store: the
library `check` and the scheduler share it. Whether a stored run is believed is
readiness/evidence/run_trust.py. Nothing here prints.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..redact import Secret
from ..results import RunRecord
from . import ledger
from .chain import EvidenceLog, record_hash
from .keys import DEFAULT_KEY_DIR, ensure_pin, load_private, raw_public
from .record import append_run


@dataclass(frozen=True)
class Recorded:
    run_id: int | None  # id in the results store, None when no store was given
    evidence_ref: str | None  # hash of the run's record in the evidence log
    head: str | None  # the log's head after this run: print it on the report


def record_run(run: RunRecord, secrets: Iterable[Secret], *, trigger: str = "manual",
               log_path: Path | None = None, key_dir: Path = DEFAULT_KEY_DIR,
               store_path: Path | None = None, evidence_dir: Path | None = None) -> Recorded:
    """Sign a finished run into the evidence log, then save it in the results store.

    For `check` and the scheduler. Signing comes first so the stored row can name its
    proof; an EvidenceError (no key, key readable by others, damaged log) propagates
    before anything is stored, because a run the site cannot prove should be noticed.
    The store is first opened and test-written: one that cannot keep the run raises
    StoreError before signing, so the log never holds a run the store lacks; a save that
    fails after signing raises StoreError naming the signed record.
    """
    from .. import store_checks
    from ..store import ResultsStore

    secrets = list(secrets)
    store = None
    if store_path is not None:
        try:  # a run the store cannot keep is not signed either (StoreError says so)
            store = ResultsStore(Path(store_path))
            store.check_writable()
        except store_checks.StoreError as err:
            raise store_checks.not_signed(err, log_path) from err
    ref = head = None
    log = None
    if log_path is not None:
        private_key = load_private(Path(key_dir))
        ensure_pin(Path(key_dir), private_key)
        log = EvidenceLog(Path(log_path), private_key)
        records = append_run(log, run, secrets, evidence_dir)
        ref, head = record_hash(records[0]), record_hash(records[-1])
    run_id = None
    if store is not None:
        try:
            run_id = store.save_run(run, trigger, secrets, evidence_ref=ref)
        except (OSError, sqlite3.Error) as err:  # e.g. the disk filled up since the test
            if log_path is None:
                raise store_checks.StoreError(store_checks.problem(store.path, err)) from err
            raise store_checks.signed_not_stored(err, store.path, Path(log_path), ref) from err
        if log is not None and ref is not None and head is not None:
            # the store keeps the head too: a log cut short together with its head file
            # still falls short of what the store remembers
            ledger.record_signed(
                store.path, log.path, key_id=log.key_id,
                public_key=raw_public(private_key.public_key()), run_id=run_id,
                run_hash=ref, run_seq=records[0]["seq"], run_offset=log.last_start or 0,
                head_seq=records[-1]["seq"], head_hash=head)
    return Recorded(run_id, ref, head)
