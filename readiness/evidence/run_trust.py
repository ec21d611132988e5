"""Whether a stored run is believed: the one answer every channel shows.

The results store can be written by anyone with the file (one INSERT makes a `ready`
run); only the signed log is proof. A run is "verified" when its own records are in the
signed log, the store's row says exactly what they say, and the log verifies up to a
head the site signed. It is "not_signed" when the log holds no record of it (added by
hand, a run made with signing off, or before the site had a key), and "mismatch" when
the store and the log disagree (an edited row, a log that does not verify, a log that
vanished although the store says the run was signed into it). The live page,
/api/state, /metrics, alerts, `history` and the report all ask here, so none of them can
show as ready what another would call unsigned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..results import RunRecord, Text
from . import ledger
from .canonical import sha256_hex
from .chain import KnownHead, VerifyReport, read_head, verify
from .errors import EvidenceError
from .keys import PIN_NAME, fingerprint
from .lines import bounded_lines
from .record import run_key
from .signed_run import SignedRun, check_stored_run
from .trust import KeyMismatch, TrustedKey, trusted_key

VERIFIED, NOT_SIGNED, MISMATCH = "verified", "not_signed", "mismatch"
STATUSES = (VERIFIED, NOT_SIGNED, MISMATCH)


@dataclass(frozen=True)
class RunTrust:
    status: str  # one of STATUSES
    why: Text  # in plain words, for the page, the report and the log
    signed: SignedRun | None = None  # the run's signed records (verified runs only)

    @property
    def verified(self) -> bool:
        return self.status == VERIFIED

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "why": self.why.to_dict()}


@dataclass
class LogCheck:
    """The evidence log checked once (key, head, every record), for as many runs as
    a page or a history shows."""

    log: Path | None
    store: Path | None
    key_dir: Path | None = None
    key: TrustedKey | None = None
    key_problem: EvidenceError | None = None  # no key at all to check against
    problem: Text | None = None  # the log cannot vouch for any run (does not verify...)
    report: VerifyReport | None = None
    heads: list[KnownHead] = field(default_factory=list)
    _runs: dict[str, tuple[str, int]] | None = None

    @property
    def present(self) -> bool:
        return self.log is not None and self.log.is_file()

    @property
    def anchored(self) -> bool:
        """The log reaches a head the site signed: nothing was cut off its end."""
        return (self.report is not None and self.report.head_checked
                and any(h.signed for h in self.heads))

    def run_record(self, key: str) -> tuple[str, int] | None:
        """(hash, offset) of the run record of run `key`, from one pass over the log."""
        if self.log is None:
            return None
        if self._runs is None:
            self._runs = _run_records(self.log)
        return self._runs.get(key)


def _run_records(log: Path) -> dict[str, tuple[str, int]]:
    found: dict[str, tuple[str, int]] = {}
    offset = 0
    with log.open("rb") as f:
        for raw in bounded_lines(f, log):
            start, offset = offset, offset + len(raw)
            if not raw.endswith(b'"type":"run"}\n'):  # canonical records end with their type
                continue
            try:
                body = json.loads(raw)["body"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(body, dict) and isinstance(body.get("run"), str):
                found.setdefault(body["run"], (sha256_hex(raw[:-1]), start))
    return found


def unsigned_head(log: Path, report: VerifyReport, heads: list[KnownHead]) -> Text | None:
    """A head file without a signature beside a log whose runs say their writer signs
    it: someone wrote that head by hand, e.g. after cutting runs off the log's end."""
    beside = [h for h in heads if h.source.endswith(".head")]
    if report.signs_heads and beside and not beside[0].signed:
        return Text(
            f"the head beside the log ({beside[0].source}) is not signed, but the log's runs "
            "were written by a readiness that signs it: the head file was written by hand, "
            "e.g. after runs were cut off the end of the log",
            f"日志旁的链头记录（{beside[0].source}）没有签名，而日志中的检查由会签名链头的 "
            "readiness 写入：该链头文件是手工写的，例如在截掉日志末尾的检查之后")
    return None


def check_log(log: Path | None, key_dir: Path, store: Path | None) -> LogCheck:
    """Check the log once: key (pinned, never a lone site.pub), heads, every record
    (from where the last report left off). Never raises for what is wrong with the log:
    that is the check's `problem`."""
    check = LogCheck(Path(log) if log is not None else None,
                     Path(store) if store is not None else None, Path(key_dir))
    if check.log is None or not check.present:
        return check
    try:
        check.key = trusted_key(check.log, None, Path(key_dir), check.store)
    except KeyMismatch as err:
        check.problem = err.text
        return check
    except EvidenceError as err:
        check.key_problem = err
        return check
    try:
        check.heads = known_heads(check.log, check.store, check.key.key)
    except EvidenceError as err:
        check.problem = err.text
        return check
    state = ledger.load_state(check.store, check.log)
    try:
        report = verify(check.log, check.key.key, known=check.heads,
                        resume=state.verified if state is not None else None)
    except OSError as err:
        check.problem = Text(f"cannot read {check.log}: {err.strerror}",
                             f"无法读取 {check.log}：{err.strerror}")
        return check
    check.report = report
    if not report.ok:
        check.problem = Text(f"the evidence log {check.log} does not verify: "
                             f"{report.sentence('en')}",
                             f"证据日志 {check.log} 验证失败：{report.sentence('zh')}")
        return check
    check.problem = unsigned_head(check.log, report, check.heads)
    return check


def known_heads(log: Path, store_path: Path | None,
                public_key: Ed25519PublicKey | None = None) -> list[KnownHead]:
    """The heads written down at signing time: beside the log (its signature checked
    when `public_key` is given), and in the store. Raises EvidenceError when the head
    file is damaged or its signature does not match."""
    heads = []
    beside = read_head(log, public_key)
    if beside is not None:
        heads.append(beside)
    state = ledger.load_state(store_path, log)
    if state is not None and state.head is not None:
        heads.append(state.head)
    return heads


def _who(run: RunRecord) -> tuple[str, str]:
    run_id = getattr(run, "run_id", None)
    return (f"run #{run_id}", f"第 {run_id} 次检查") if run_id else ("the run", "该检查")


def _signed_in_store(run: RunRecord, store: Path | None) -> str | None:
    """The record the store says this run was signed as (None: it says nothing)."""
    ref = getattr(run, "evidence_ref", None)
    run_id = getattr(run, "run_id", None)
    if ref is None and run_id and store is not None:
        place = ledger.run_place(store, run_id)
        ref = place.record_hash if place is not None else None
    return ref


def trust_of(check: LogCheck, run: RunRecord) -> RunTrust:
    who, who_zh = _who(run)
    log = check.log
    if log is None:
        return RunTrust(NOT_SIGNED, Text(
            f"{who} is not checked against any evidence log (none was given): nothing "
            "on it is proven by a signature",
            f"{who_zh}未与任何证据日志核对（未提供日志）：其内容没有签名证明"))
    if not check.present:
        ref = _signed_in_store(run, check.store)
        if ref is not None:
            return RunTrust(MISMATCH, Text(
                f"the evidence log {log} is missing, but the results store says {who} was "
                f"signed into it (record {ref}): the proof is gone. Restore the log from its "
                "backup; until then nothing about this run is proven.",
                f"证据日志 {log} 不存在，但结果库称{who_zh}已签入该日志（记录 {ref}）：证明已"
                "丢失。请从备份恢复日志；在此之前该检查的任何内容都没有证明。"))
        pin = check.key_dir / PIN_NAME if check.key_dir is not None else None
        if pin is not None and pin.is_file():
            # the site has a key, so its runs are signed: a missing log is missing proof
            return RunTrust(NOT_SIGNED, Text(
                f"there is no evidence log at {log}, although this site has a key ({pin}): "
                f"if the log was deleted or moved, the proof of every run is missing. {who} "
                "is not backed by any signature.",
                f"{log} 没有证据日志，而本考点有密钥（{pin}）：若日志被删除或移走，所有检查的"
                f"证明都已缺失。{who_zh}没有任何签名证明。"))
        return RunTrust(NOT_SIGNED, Text(
            f"{who} was never signed: there is no evidence log at {log} (the site had no "
            "key when it ran, or signing was off). Nothing on it is proven by a signature.",
            f"{who_zh}从未签名：{log} 没有证据日志（检查时考点尚无密钥，或未开启签名）。其内容"
            "没有任何签名证明。"))
    if check.problem is not None:
        return RunTrust(MISMATCH, check.problem)
    if check.key is None:
        reason = check.key_problem.text if check.key_problem else Text("no key", "没有密钥")
        return RunTrust(NOT_SIGNED, Text(
            f"{who} cannot be checked against {log}: {reason.en}",
            f"{who_zh}无法与 {log} 核对：{reason.zh}"))
    ref = getattr(run, "evidence_ref", None)
    offset = None
    if ref is None:
        found = check.run_record(run_key(run))
        if found is None:
            return RunTrust(NOT_SIGNED, _never_signed(check, run))
        ref, offset = found  # signed, but the store lost its reference: compare anyway
    else:
        run_id = getattr(run, "run_id", None)
        place = ledger.run_place(check.store, run_id) if run_id and check.store else None
        offset = place.offset if place is not None and place.record_hash == ref else None
    try:
        signed = check_stored_run(run, log, check.key.key, ref, offset,
                                  getattr(run, "run_id", None))
    except EvidenceError as err:
        return RunTrust(MISMATCH, err.text)
    if not check.anchored:
        return RunTrust(NOT_SIGNED, Text(
            f"{who} is in the signed log {log}, but the log's end is not anchored by a head "
            "the site signed (the head file is missing, or was written by a readiness from "
            "before heads were signed): runs cut off its end would not show. The next "
            "signed run writes a signed head.",
            f"{who_zh}在签名日志 {log} 中，但日志末尾没有本站签名的链头（链头文件缺失，或由不签名"
            "链头的旧版 readiness 写入）：从末尾截掉的检查无法发现。下一次签名的检查会写入签名"
            "链头。"), signed)
    return RunTrust(VERIFIED, Text(
        f"{who} is signed into {log} as record {ref[:16]}… (seq {signed.seq}) and the store "
        "matches it; the log verifies to its signed head",
        f"{who_zh}已签入 {log}（记录 {ref[:16]}…，序号 {signed.seq}），结果库与之一致；"
        "日志验证至签名链头"), signed)


def _never_signed(check: LogCheck, run: RunRecord) -> Text:
    """The real cause of a run the signed log does not hold: the site had a key (the
    log is signed with it), so it is not "no key"."""
    who, who_zh = _who(run)
    key = fingerprint(check.key.key) if check.key is not None else "?"
    return Text(
        f"{who} is not in the signed evidence log {check.log} (signed by site key {key}): it "
        "was put into the results store without being signed, by hand or by a run made "
        "with signing off. Its verdict and results are not proven by any signature; do not "
        "rely on them.",
        f"{who_zh}不在签名证据日志 {check.log} 中（站点密钥 {key}）：它未经签名就被写入了结果库"
        "（手工写入，或签名关闭时运行）。其结论和结果没有任何签名证明，不可采信。")


def run_trust(run: RunRecord, *, log: Path | None, key_dir: Path,
              store: Path | None) -> RunTrust:
    """The trust of one stored run (several runs: check_log once, then trust_of)."""
    return trust_of(check_log(log, key_dir, store), run)


def trust_runs(store: Any, run_ids: list[int], log: Path | None,
               key_dir: Path) -> dict[int, RunTrust]:
    """The trust of each stored run, the log checked once."""
    check = check_log(log, key_dir, store.path)
    out = {}
    for run_id in run_ids:
        run = store.load_run(run_id)
        if run is not None:
            out[run_id] = trust_of(check, run)
    return out


def signed_runs_check(store: Any, run_ids: list[int], log: Path | None,
                      key_dir: Path) -> tuple[dict[int, bool], Text | None]:
    """Each stored run checked against the signed log (readiness/evidence/run_trust.py).
    Returns ({run_id: verified}, None) or ({}, why the store cannot be shown: a run
    that differs from its signed records, a log that does not verify or is gone)."""
    trusts = trust_runs(store, run_ids, log, key_dir)
    for trust in trusts.values():
        if trust.status == MISMATCH:
            return {}, trust.why
    return {run_id: trust.verified for run_id, trust in trusts.items()}, None
