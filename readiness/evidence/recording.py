"""Signing a finished run into the evidence log and keeping it in the store, and
checking stored runs against their signed records: the library `check`, the
scheduler, `history`, alerts and the report share. Nothing here prints.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..redact import Secret
from ..results import RunRecord, Text
from . import ledger
from .chain import EvidenceLog, KnownHead, read_head, record_hash
from .errors import EvidenceError
from .keys import DEFAULT_KEY_DIR, ensure_pin, load_private, raw_public
from .record import append_run
from .trust import trusted_key


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


def known_heads(log: Path, store_path: Path | None) -> list[KnownHead]:
    """The heads written down at signing time: beside the log, and in the store.
    Raises EvidenceError when the head file is damaged."""
    heads = []
    beside = read_head(log)
    if beside is not None:
        heads.append(beside)
    state = ledger.load_state(store_path, log)
    if state is not None and state.head is not None:
        heads.append(state.head)
    return heads


def signed_runs_check(store: Any, run_ids: list[int], log: Path | None,
                      key_dir: Path) -> tuple[dict[int, bool], Text | None]:
    """Each stored run with an evidence reference checked against its signed records.
    Returns ({run_id: signed}, None) or ({}, why the store cannot be shown)."""
    from .signed_run import check_stored_run

    if log is None or not Path(log).is_file():
        return {run_id: False for run_id in run_ids}, None
    try:
        trust = trusted_key(Path(log), None, key_dir, store.path)
    except EvidenceError as err:
        return {}, err.text
    signed: dict[int, bool] = {}
    for run_id in run_ids:
        run = store.load_run(run_id)
        ref = getattr(run, "evidence_ref", None)
        signed[run_id] = ref is not None
        if run is None or ref is None:
            continue
        place = ledger.run_place(store.path, run_id)
        offset = place.offset if place is not None and place.record_hash == ref else None
        try:
            check_stored_run(run, Path(log), trust.key, ref, offset, run_id)
        except EvidenceError as err:
            return {}, err.text
    return signed, None
