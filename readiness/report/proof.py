"""The signed evidence behind a report: the log verified (from where the last report
left off), the stored run checked against its signed records, the attestations.

Everything the inspector sees must come from signed records. A stored run that
differs from its signed records, or a log that does not verify, stops the report;
a run that was never signed is reported, marked NOT SIGNED on page 1 with the cause.
The files the signed records point to (snapshots) carry their signed sha256, so the
page can compare each file with it before showing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..evidence import ledger
from ..evidence.errors import EvidenceError
from ..evidence.keys import PUBLIC_NAME, key_id, raw_public
from ..evidence.run_trust import MISMATCH, check_log, trust_of
from ..evidence.signed_run import SignedRun, signed_attestations
from ..results import RunRecord, Text


@dataclass
class Proof:
    evidence: dict[str, Any]  # what write_report prints (head, fingerprint, run_ref...)
    attestations: list[dict[str, Any]]


class NotProven(Exception):
    """The report must not be made; `text` says why and what to do."""

    def __init__(self, text: Text, usage: bool = False):
        super().__init__(text.en)
        self.text, self.usage = text, usage


def signed_files(signed: SignedRun | None) -> dict[str, dict[str, Any]] | None:
    """Every file the signed records point to, by result index and name, with the
    sha256 and size signed then (None: not signed, nothing to compare with)."""
    if signed is None:
        return None
    files: dict[str, dict[str, Any]] = {}
    for index, body in enumerate(signed.results):
        for entry in body.get("evidence", []):
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                files[f"{index}:{entry['name']}"] = {"sha256": entry.get("sha256"),
                                                     "bytes": entry.get("bytes")}
    return files


def prove(run: RunRecord, log: Path, key_dir: Path, store_path: Path) -> Proof:
    """Raises NotProven when the log does not verify or the store disagrees with it
    (readiness/evidence/run_trust.py decides, as for every other channel)."""
    check = check_log(log, key_dir, store_path)
    if check.key_problem is not None:
        raise NotProven(check.key_problem.text, usage=True)
    if check.problem is not None:
        raise NotProven(Text(
            f"{check.problem.en}. No report was made: its chain head would vouch for a log "
            "that cannot be trusted. Keep the log as it is and run `readiness verify` for "
            "details.",
            f"{check.problem.zh}。未生成报告：报告上的链头哈希会为不可信的日志背书。请原样保留"
            "日志，并运行 `readiness verify` 查看详情。"))
    checked, key = check.report, check.key
    assert checked is not None and key is not None  # a present log with a key was verified
    if checked.end is not None:
        # the next report starts here instead of at the first record
        ledger.save_verified(store_path, log, checked.end, key_id(key.key),
                             raw_public(key.key))
    trust = trust_of(check, run)
    if trust.status == MISMATCH:
        raise NotProven(trust.why)
    try:
        attestations = signed_attestations(log, key.key)
    except EvidenceError as err:
        raise NotProven(err.text) from None
    ref = trust.signed.record_hash if trust.signed is not None else None
    evidence = {"head": checked.head, "fingerprint": checked.key, "log": str(log),
                "pub": str(key_dir / PUBLIC_NAME), "records": checked.count, "run_ref": ref,
                "verified": True, "signed": trust.verified, "trust": trust.to_dict(),
                "files": signed_files(trust.signed)}
    return Proof(evidence, attestations)
