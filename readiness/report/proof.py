"""The signed evidence behind a report: the log verified (from where the last report
left off), the stored run checked against its signed records, the attestations.

Everything the inspector sees must come from signed records. A stored run that
differs from its signed records, or a log that does not verify, stops the report;
a run that was never signed is reported, marked NOT SIGNED on page 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..evidence import ledger
from ..evidence.chain import verify
from ..evidence.errors import EvidenceError
from ..evidence.keys import PUBLIC_NAME, key_id, raw_public
from ..evidence.record import run_key
from ..evidence.recording import known_heads
from ..evidence.signed_run import check_stored_run, find_run_record, signed_attestations
from ..evidence.trust import trusted_key
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


def prove(run: RunRecord, log: Path, key_dir: Path, store_path: Path) -> Proof:
    """Raises NotProven when the log does not verify or the store disagrees with it."""
    run_id = getattr(run, "run_id", None)
    try:
        trust = trusted_key(log, None, key_dir, store_path)
    except EvidenceError as err:
        raise NotProven(err.text, usage=type(err) is EvidenceError) from None
    try:
        heads = known_heads(log, store_path)
    except EvidenceError as err:
        raise NotProven(err.text) from None
    state = ledger.load_state(store_path, log)
    checked = verify(log, trust.key, known=heads,
                     resume=state.verified if state is not None else None)
    if not checked.ok:
        raise NotProven(Text(
            f"the evidence log {log} does not verify: {checked.sentence('en')}. No report "
            "was made: its chain head would vouch for a log that cannot be trusted. Keep the "
            "log as it is and run `readiness verify` for details.",
            f"证据日志 {log} 验证失败：{checked.sentence('zh')}。未生成报告：报告上的链头哈希"
            "会为不可信的日志背书。请原样保留日志，并运行 `readiness verify` 查看详情。"))
    if checked.end is not None:
        # the next report starts here instead of at the first record
        ledger.save_verified(store_path, log, checked.end, key_id(trust.key),
                             raw_public(trust.key))

    ref = getattr(run, "evidence_ref", None)
    offset = None
    if ref is None:
        found = find_run_record(log, run_key(run))
        if found is not None:
            ref, offset = found
    elif run_id:
        place = ledger.run_place(store_path, run_id)
        offset = place.offset if place is not None and place.record_hash == ref else None
    try:
        if ref is not None:
            check_stored_run(run, log, trust.key, ref, offset, run_id)
        attestations = signed_attestations(log, trust.key)
    except EvidenceError as err:
        raise NotProven(err.text) from None
    evidence = {"head": checked.head, "fingerprint": checked.key, "log": str(log),
                "pub": str(key_dir / PUBLIC_NAME), "records": checked.count, "run_ref": ref,
                "verified": True, "signed": ref is not None}
    return Proof(evidence, attestations)
