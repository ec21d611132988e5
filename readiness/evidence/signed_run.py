"""A stored run checked against its signed records, record by record.

The results store is a convenience (history, trends) and can be edited without trace;
the evidence log is the proof. Before a report, history or an alert shows a stored
run, the run's own records are read from the log (their hash chain and the covering
signature checked) and every field a reader sees is compared with them. The first
difference is named by its check, so the person who gets the refusal knows where to
look.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..results import RunRecord, Text
from .canonical import canonical, sha256_hex
from .chain import _signature_ok
from .errors import EvidenceError
from .lines import MAX_LINE_BYTES, LineTooLong, bounded_lines, read_line
from .record import result_body, run_body, run_key

# The fields of a result body in the order a reader cares about them: the first that
# differs is the one named.
RESULT_FIELDS = ("status", "requirement", "subject", "aspect", "target", "measured",
                 "threshold", "message", "findings", "title", "citation", "vantage",
                 "check_id", "run", "started_at", "duration_s")
RUN_FIELDS = ("verdict", "counts", "results", "required", "site", "profile", "run",
              "started_at", "finished_at", "measured_from")
# run fields a newer readiness added: a record signed before them is compared without
RUN_FIELDS_ADDED = ("measured_from",)


@dataclass(frozen=True)
class SignedRun:
    record_hash: str
    seq: int
    body: dict[str, Any]  # the `run` record's body
    results: list[dict[str, Any]]  # the `result` records' bodies, in log order


class StoreMismatch(EvidenceError):
    """The store says something the signed log does not."""


def _find(f: Any, log: Path, ref: str, offset: int | None) -> bytes | None:
    if offset is not None:
        f.seek(offset)
        try:
            raw = read_line(f, log, 0)
        except LineTooLong:
            raw = b""  # not the record: the scan below names the line
        if raw.endswith(b"\n") and sha256_hex(raw[:-1]) == ref:
            return raw[:-1]
        f.seek(0)  # the remembered place moved (e.g. a copy of the log): look for it
    for raw in bounded_lines(f, log):
        if raw.endswith(b"\n") and sha256_hex(raw[:-1]) == ref:
            return raw[:-1]
    return None


def read_signed_run(log: Path, public_key: Ed25519PublicKey, ref: str,
                    offset: int | None = None) -> SignedRun:
    """The run whose record hashes to `ref`, with its results. Raises EvidenceError
    when the log does not hold it, or its records are not chained and signed."""
    log = Path(log)
    with log.open("rb") as f:
        raw = _find(f, log, ref, offset)
        if raw is None:
            raise StoreMismatch(Text(
                f"the store names signed record {ref} for this run, but {log} has no such "
                "record: the store was edited or the log replaced. Run `readiness verify "
                f"{log}` and compare the store with it.",
                f"结果库称本次检查的签名记录为 {ref}，但 {log} 中没有该记录：结果库被改动或日志"
                f"被替换。请运行 `readiness verify {log}` 核对。"))
        lines = [raw]
        first = json.loads(raw)
        wanted = first.get("body", {}).get("results") if first.get("type") == "run" else None
        if not isinstance(wanted, int) or wanted < 0:
            raise StoreMismatch(Text(
                f"record {ref} in {log} is not a run record: the store points at the wrong "
                "record",
                f"{log} 中的记录 {ref} 不是检查记录：结果库指向了错误的记录"))
        for _ in range(wanted):
            raw = f.readline(MAX_LINE_BYTES + 1)
            if not raw.endswith(b"\n"):
                break
            lines.append(raw[:-1])
    records = _chained(lines, log, ref)
    if len(records) != wanted + 1 or not _signature_ok(records[-1], public_key):
        raise EvidenceError(Text(
            f"the signed records of run {ref} in {log} are incomplete or their signature "
            f"does not match: run `readiness verify {log}`",
            f"{log} 中检查 {ref} 的签名记录不完整或签名不符：请运行 `readiness verify {log}`"))
    return SignedRun(ref, records[0]["seq"], records[0]["body"],
                     [r["body"] for r in records[1:]])


def _chained(lines: list[bytes], log: Path, ref: str) -> list[dict[str, Any]]:
    # The last record's signature covers the others only through their hashes, so each
    # line must be the canonical bytes of its record and name the one before it.
    records: list[dict[str, Any]] = []
    prev_hash = None
    for raw in lines:
        try:
            rec = json.loads(raw)
        except ValueError:
            break
        if not isinstance(rec, dict) or raw != canonical(rec):
            break
        if prev_hash is not None and (rec.get("prev") != prev_hash
                                      or rec.get("seq") != records[-1].get("seq", -2) + 1):
            break
        if prev_hash is not None and rec.get("type") != "result":
            break
        records.append(rec)
        prev_hash = sha256_hex(raw)
    return records


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                           sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def first_difference(stored: RunRecord, signed: SignedRun) -> Text | None:
    """None when every field of the stored run equals the signed one; otherwise the
    first difference, naming the check (requirement, target, check id) and the field."""
    key = run_key(stored)
    for index, result in enumerate(stored.results):
        if index >= len(signed.results):
            break
        mine = result_body(result, key, None, [])
        theirs = signed.results[index]
        names = [e.get("name") for e in theirs.get("evidence", []) if isinstance(e, dict)]
        # a record signed before results had subjects (or findings) has its label (and
        # message) only: that is compared
        fields = [f for f in RESULT_FIELDS if mine.get(f) != theirs.get(f)
                  and (f in theirs or f not in ("subject", "aspect", "findings"))]
        if names != list(result.evidence):
            fields.append("evidence")
        if fields:
            name = fields[0]
            shown_mine = _shown(mine.get(name) if name != "evidence" else result.evidence)
            shown_theirs = _shown(theirs.get(name) if name != "evidence" else names)
            where = f"{result.requirement} · {result.target} ({result.check_id})"
            return Text(
                f"check {where}: the store says {name} = {shown_mine}, the signed record "
                f"(seq {signed.seq + 1 + index}) says {shown_theirs}",
                f"检查项 {where}：结果库中 {name} = {shown_mine}，签名记录（序号 "
                f"{signed.seq + 1 + index}）中为 {shown_theirs}")
    if len(stored.results) != len(signed.results):
        return Text(
            f"the store holds {len(stored.results)} check result(s) for this run, the signed "
            f"log {len(signed.results)}",
            f"结果库中本次检查有 {len(stored.results)} 条结果，签名日志中有 "
            f"{len(signed.results)} 条")
    mine_run = run_body(stored, [])
    for name in RUN_FIELDS:
        if name in RUN_FIELDS_ADDED and name not in signed.body:
            continue
        if mine_run.get(name) != signed.body.get(name):
            return Text(
                f"the run: the store says {name} = {_shown(mine_run.get(name))}, the signed "
                f"record (seq {signed.seq}) says {_shown(signed.body.get(name))}",
                f"检查整体：结果库中 {name} = {_shown(mine_run.get(name))}，签名记录（序号 "
                f"{signed.seq}）中为 {_shown(signed.body.get(name))}")
    return None


def check_stored_run(stored: RunRecord, log: Path, public_key: Ed25519PublicKey, ref: str,
                     offset: int | None = None, run_id: int | None = None) -> SignedRun:
    """The signed run, when the stored one says exactly what it says; otherwise
    StoreMismatch naming the run and the first differing check."""
    signed = read_signed_run(log, public_key, ref, offset)
    difference = first_difference(stored, signed)
    if difference is not None:
        which = f"run #{run_id}" if run_id else "the run"
        which_zh = f"第 {run_id} 次检查" if run_id else "该检查"
        raise StoreMismatch(Text(
            f"{which} in the results store does not match its signed records in {log}: "
            f"{difference.en}. The store was edited after signing; the signed log is the "
            "proof. Nothing is shown from the store.",
            f"结果库中的{which_zh}与 {log} 中的签名记录不一致：{difference.zh}。结果库在签名后"
            "被改动；以签名日志为准，不显示结果库中的内容。"))
    return signed


def find_run_record(log: Path, key: str) -> tuple[str, int] | None:
    """(hash, byte offset) of the `run` record of run `key` ("SITE/started-at"), for a
    stored run that names no record: if the log holds it, the run was signed and the
    store's missing reference is itself an edit."""
    offset = 0
    with Path(log).open("rb") as f:
        for raw in bounded_lines(f, Path(log)):
            start, offset = offset, offset + len(raw)
            # canonical records end with their type: skip the others without parsing
            if not raw.endswith(b'"type":"run"}\n'):
                continue
            try:
                body = json.loads(raw)["body"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(body, dict) and body.get("run") == key:
                return sha256_hex(raw[:-1]), start
    return None


def signed_attestations(log: Path, public_key: Ed25519PublicKey) -> list[dict[str, Any]]:
    """Attestation records, each checked against its own signature: the report may have
    verified only the records after its last check, and an old attestation must not be
    shown edited. Raises EvidenceError on one that does not verify."""
    out = []
    with Path(log).open("rb") as f:
        for no, raw in enumerate(bounded_lines(f, Path(log)), 1):
            if not raw.endswith(b'"type":"attestation"}\n'):
                continue
            record = json.loads(raw)
            if raw[:-1] != canonical(record) or not _signature_ok(record, public_key):
                raise EvidenceError(Text(
                    f"the attestation on line {no} of {log} does not match its signature: "
                    f"run `readiness verify {log}`",
                    f"{log} 第 {no} 行的人工确认记录与签名不符：请运行 `readiness verify {log}`"))
            out.append(record)
    return out
