"""The append-only evidence log: JSON Lines, every record signed and hash-chained.

One record per line, written in its canonical form:

    {"at": ..., "body": {...}, "key": "sha256:<hex>", "prev": "<hex>", "seq": n,
     "sig": "<base64>", "type": "run"}

`prev` is the SHA-256 of the canonical JSON of the previous record (signature
included; 64 zeros for the first record) and `sig` is the Ed25519 signature of the
canonical JSON of the record without `sig`. So a record cannot change without its
signature failing, and a record cannot be removed, moved or added without the chain
of `seq` and `prev` showing where.

What the chain alone cannot show is records cut off the end: a shorter log is still a
valid log. The head (hash of the last record) printed in a report, or given to
`verify(expected_head=...)`, closes that gap.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..results import Text
from .canonical import canonical, sha256_hex
from .errors import EvidenceError, LogDamagedError
from .keys import fsync_dir, group, key_id, same_key

GENESIS = "0" * 64
KEY_ID = re.compile(r"sha256:[0-9a-f]{64}")
FIELDS = frozenset({"seq", "type", "at", "body", "prev", "key", "sig"})


class Reason(StrEnum):
    EDITED = "edited"
    DELETED = "deleted"
    REORDERED = "reordered"
    INSERTED = "inserted"
    TRUNCATED = "truncated"
    OTHER_KEY = "other_key"
    NOT_JSON = "not_json"
    MALFORMED = "malformed"  # valid JSON, but not a log record (missing or wrong fields)


REASON_WORDS = {
    "en": {Reason.EDITED: "edited", Reason.DELETED: "deleted", Reason.REORDERED: "reordered",
           Reason.INSERTED: "inserted", Reason.TRUNCATED: "truncated",
           Reason.OTHER_KEY: "signed by another key", Reason.NOT_JSON: "not JSON",
           Reason.MALFORMED: "not a log record"},
    "zh": {Reason.EDITED: "被篡改", Reason.DELETED: "有记录被删除", Reason.REORDERED: "顺序被调换",
           Reason.INSERTED: "有记录被插入", Reason.TRUNCATED: "被截断",
           Reason.OTHER_KEY: "由其他密钥签名", Reason.NOT_JSON: "不是 JSON",
           Reason.MALFORMED: "不是日志记录"},
}


def record_hash(record: dict[str, Any]) -> str:
    return sha256_hex(canonical(record))


def build_record(seq: int, rtype: str, body: dict[str, Any], prev: str,
                 private_key: Ed25519PrivateKey, at: datetime | None = None) -> dict[str, Any]:
    """One signed record. Public so tests (and a future key-rotation tool) can make
    records the way the log does without going through a file."""
    when = (at or datetime.now(UTC)).astimezone(UTC)
    record: dict[str, Any] = {
        "seq": seq, "type": rtype, "at": when.isoformat(timespec="milliseconds"),
        "body": body, "prev": prev, "key": key_id(private_key.public_key()),
    }
    signature = private_key.sign(canonical(record))
    record["sig"] = base64.b64encode(signature).decode("ascii")
    return record


def _check_type(rtype: str) -> None:
    if not rtype or not rtype.replace("_", "").isalnum() or not rtype.isascii():
        raise ValueError(f"record type must be a short identifier, not {rtype!r}")


class EvidenceLog:
    """Appends signed records to one log file. Several processes may append at once
    (a scheduled run and a manual one): each append holds an exclusive lock on the file
    while it reads the last record and writes after it."""

    def __init__(self, path: Path, private_key: Ed25519PrivateKey):
        self.path = Path(path)
        self._key = private_key
        self.key_id = key_id(private_key.public_key())

    def append(self, rtype: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.append_many([(rtype, body)])[0]

    def append_many(self, items: Iterable[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Append several records with one write and one fsync: a run's records land
        together or (after a crash) leave a detectable cut, never a silent gap."""
        items = list(items)
        for rtype, body in items:
            _check_type(rtype)
            if not isinstance(body, dict):
                raise TypeError("a record body must be a dict")
        if not items:
            return []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        with os.fdopen(fd, "a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            prev, seq = self._tail(f)
            records, out = [], bytearray()
            for rtype, body in items:
                record = build_record(seq, rtype, body, prev, self._key)
                line = canonical(record)
                out += line + b"\n"
                records.append(record)
                prev, seq = sha256_hex(line), seq + 1
            f.write(bytes(out))
            f.flush()
            os.fsync(f.fileno())
        if created:
            fsync_dir(self.path.parent)
        return records

    def _tail(self, f: Any) -> tuple[str, int]:
        """(hash of the last record, next seq). Refuses to write after a damaged end:
        appending there would glue a new record onto a half-written one."""
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size == 0:
            return GENESIS, 0
        f.seek(size - 1)
        if f.read(1) != b"\n":
            raise LogDamagedError(Text(
                f"the evidence log {self.path} ends in the middle of a record (a write was "
                "cut short, e.g. by a power cut); nothing was appended. Keep the file as it "
                f"is for the inspector, run `readiness verify {self.path}`, and start a new "
                "log file.",
                f"证据日志 {self.path} 的最后一条记录不完整（写入被中断，例如断电），未追加任何"
                f"记录。请原样保留该文件供检查，运行 `readiness verify {self.path}`，并改用新的"
                "日志文件。"))
        last = _read_last_line(f, size)
        try:
            record = json.loads(last)
            seq, kid = record["seq"], record["key"]
        except (ValueError, TypeError, KeyError):
            raise LogDamagedError(Text(
                f"the last line of the evidence log {self.path} is not a record; nothing was "
                f"appended. Run `readiness verify {self.path}`.",
                f"证据日志 {self.path} 的最后一行不是有效记录，未追加任何记录。"
                f"请运行 `readiness verify {self.path}`。")) from None
        if not isinstance(kid, str) or not same_key(kid, self.key_id):
            raise EvidenceError(Text(
                f"the evidence log {self.path} is signed with key {group(str(kid))}, not this "
                f"site's key {group(self.key_id)}; start a new log for the new key.",
                f"证据日志 {self.path} 由密钥 {group(str(kid))} 签名，而非本站密钥 "
                f"{group(self.key_id)}；请为新密钥使用新的日志文件。"))
        return record_hash(record), int(seq) + 1


def _read_last_line(f: Any, size: int) -> bytes:
    # read backwards in blocks: the log grows for months and is appended to per check
    end = size - 1  # drop the final newline
    block, buf, pos = 65536, b"", end
    while pos > 0:
        start = max(0, pos - block)
        f.seek(start)
        buf = f.read(pos - start) + buf
        pos = start
        cut = buf.rfind(b"\n")
        if cut >= 0:
            return buf[cut + 1:]
    return buf


@dataclass
class VerifyReport:
    ok: bool
    count: int  # records that verified, in order, before the first bad one (all when ok)
    head: str  # hash of the last record that verified (GENESIS for an empty log)
    key: str  # fingerprint (grouped) of the public key the log was checked against
    types: dict[str, int] = field(default_factory=dict)
    first_at: str | None = None
    last_at: str | None = None
    bad_line: int | None = None  # 1-based
    bad_seq: int | None = None  # None when the bad line has no readable seq
    reason: Reason | None = None
    detail: Text | None = None  # why, without the line/seq prefix

    def sentence(self, lang: str = "en") -> str:
        if self.ok or self.reason is None or self.detail is None:
            return ""
        words = REASON_WORDS["zh" if lang == "zh" else "en"][self.reason]
        if lang == "zh":
            where = f"第 {self.bad_line} 行" + (
                f"（序号 {self.bad_seq}）" if self.bad_seq is not None else "")
            return f"{where}：{words} —— {self.detail.zh}"
        where = f"line {self.bad_line}" + (
            f" (seq {self.bad_seq})" if self.bad_seq is not None else "")
        return f"{where}: {words} — {self.detail.en}"


@dataclass
class _Line:
    no: int
    raw: bytes
    record: dict[str, Any] | None
    seq: int | None


def _parse(raw: bytes, no: int) -> _Line:
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _Line(no, raw, None, None)
    if not isinstance(obj, dict):
        return _Line(no, raw, None, None)
    seq = obj.get("seq")
    ok = isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0
    return _Line(no, raw, obj, seq if ok else None)


def _malformed(obj: dict[str, Any]) -> str | None:
    missing = sorted(FIELDS - obj.keys())
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    extra = sorted(obj.keys() - FIELDS)
    if extra:
        return f"unexpected field(s) {', '.join(extra)}"
    seq = obj["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        return "seq is not a non-negative integer"
    for name in ("type", "at", "prev", "key", "sig"):
        if not isinstance(obj[name], str):
            return f"{name} is not a string"
    if not isinstance(obj["body"], dict):
        return "body is not an object"
    return None


def _signature_ok(record: dict[str, Any], public_key: Ed25519PublicKey) -> bool:
    unsigned = {k: v for k, v in record.items() if k != "sig"}
    try:
        signature = base64.b64decode(record["sig"], validate=True)
        public_key.verify(signature, canonical(unsigned))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    # the decoder ignores the spare bits of the last base64 character, so a changed
    # `sig` text could still decode to a valid signature and alter the record's hash
    return base64.b64encode(signature).decode("ascii") == record["sig"]


def _names_another_key(kid: str, ours: str) -> bool:
    # Only a well-formed key id clearly unlike ours is another key; a key field that is
    # malformed or one or two characters off ours is an edit of that field.
    if not KEY_ID.fullmatch(kid):
        return False
    return sum(x != y for x, y in zip(kid, ours, strict=True)) > 2


def verify(path: Path, public_key: Ed25519PublicKey,
           expected_head: str | None = None) -> VerifyReport:
    """Check every record of the log at `path` against `public_key`, in order, and
    stop at the first one that is not what the site wrote there.

    `expected_head`: a record hash known from elsewhere (a report, a previous verify);
    the log must contain it, which catches records cut off the end.
    """
    ours = key_id(public_key)
    data = Path(path).read_bytes()
    pieces = data.split(b"\n")
    ends_cleanly = data.endswith(b"\n") or not data
    if ends_cleanly:
        pieces.pop()  # the empty piece after the final newline
    lines = [_parse(raw, i + 1) for i, raw in enumerate(pieces)]
    where_seq: dict[int, list[int]] = {}
    for ln in lines:
        if ln.seq is not None:
            where_seq.setdefault(ln.seq, []).append(ln.no)

    report = VerifyReport(ok=True, count=0, head=GENESIS, key=group(ours))
    prev_hash, prev_seq = GENESIS, -1
    seen: dict[int, _Line] = {}
    hashes: set[str] = set()

    def fail(ln: _Line, reason: Reason, en: str, zh: str, seq: int | None = None) -> VerifyReport:
        report.ok = False
        report.bad_line, report.reason, report.detail = ln.no, reason, Text(en, zh)
        report.bad_seq = ln.seq if seq is None else seq
        return report

    for ln in lines:
        last = ln.no == len(lines)
        rec = ln.record
        if rec is None:
            if last and not ends_cleanly:
                return fail(ln, Reason.TRUNCATED,
                            "the last line is cut off: a write did not finish (crash or a "
                            "shortened copy of the log)",
                            "最后一行不完整：写入未完成（崩溃或日志副本被截短）")
            if not ln.raw.strip():
                return fail(ln, Reason.NOT_JSON, "the line is empty", "该行为空行")
            return fail(ln, Reason.NOT_JSON, "the line cannot be read as JSON",
                        "该行无法解析为 JSON")
        problem = _malformed(rec)
        if problem:
            return fail(ln, Reason.MALFORMED, problem, f"记录格式错误：{problem}")
        seq: int = rec["seq"]

        # 1. is this record, byte for byte, what the site signed?
        if not _signature_ok(rec, public_key):
            if _names_another_key(rec["key"], ours):
                return fail(ln, Reason.OTHER_KEY,
                            f"it names key {group(rec['key'])}, not this site's key "
                            f"{group(ours)}: this site did not write it",
                            f"该记录使用密钥 {group(rec['key'])}，而非本站密钥 {group(ours)}："
                            "不是本站写入的")
            return fail(ln, Reason.EDITED, "its signature does not match its content",
                        "签名与内容不符")
        if ln.raw != canonical(rec):
            return fail(ln, Reason.EDITED,
                        "the line was rewritten after signing (the signed values are intact, "
                        "but the bytes are not the ones written)",
                        "该行在签名后被改写（签名内容未变，但字节与写入时不同）")
        if last and not ends_cleanly:
            return fail(ln, Reason.TRUNCATED,
                        "the last record has no line end: the write did not finish",
                        "最后一条记录没有换行符：写入未完成")

        # 2. is it in its place in the chain?
        expected = prev_seq + 1
        if seq == expected and rec["prev"] == prev_hash:
            pass
        elif seq == expected:
            if ln.no == 1:
                return fail(ln, Reason.DELETED,
                            "the log does not start at its first record: its prev points at "
                            "a record that is not here",
                            "日志不是从第一条记录开始：其 prev 指向的记录不在文件中")
            before = lines[ln.no - 2]
            return fail(before, Reason.EDITED,
                        f"the record after it (line {ln.no}) was chained to a different record "
                        f"with seq {before.seq}: this one was replaced and signed again",
                        f"下一条记录（第 {ln.no} 行）链接的是另一条序号为 {before.seq} 的记录："
                        "该记录被替换并重新签名")
        elif rec["prev"] == prev_hash:
            return fail(ln, Reason.INSERTED,
                        f"it follows the record before it, but its seq is {seq}, "
                        f"not {expected}",
                        f"它链接在前一条记录之后，但序号为 {seq} 而不是 {expected}")
        elif seq > expected:
            later = [n for n in where_seq.get(seq, []) if n > ln.no]
            moved = [n for n in where_seq.get(expected, []) if n > ln.no]
            if later:
                return fail(ln, Reason.INSERTED,
                            f"seq {seq} appears again on line {later[0]}; this copy is out "
                            "of place",
                            f"序号 {seq} 在第 {later[0]} 行再次出现；此处为多出的副本")
            if moved:
                return fail(ln, Reason.REORDERED,
                            f"seq {expected} should come here, but it is on line {moved[0]}",
                            f"此处应为序号 {expected}，但它在第 {moved[0]} 行")
            if seq - expected == 1:
                en = f"the record with seq {expected} is missing before it"
                zh = f"它之前序号为 {expected} 的记录缺失"
            else:
                en = f"the records with seq {expected} to {seq - 1} are missing before it"
                zh = f"它之前序号 {expected} 至 {seq - 1} 的记录缺失"
            return fail(ln, Reason.DELETED, en, zh)
        else:
            first = seen.get(seq)
            if first is not None and first.raw == ln.raw:
                return fail(ln, Reason.INSERTED, f"it is a copy of line {first.no}",
                            f"它是第 {first.no} 行的副本")
            if first is not None:
                return fail(ln, Reason.INSERTED,
                            f"seq {seq} was already used on line {first.no}",
                            f"序号 {seq} 已在第 {first.no} 行使用")
            return fail(ln, Reason.REORDERED,
                        f"seq goes backwards, from {prev_seq} to {seq}",
                        f"序号倒退：从 {prev_seq} 到 {seq}")

        prev_hash, prev_seq = record_hash(rec), seq
        seen[seq] = ln
        hashes.add(prev_hash)
        report.count += 1
        report.head = prev_hash
        report.types[rec["type"]] = report.types.get(rec["type"], 0) + 1
        report.first_at = report.first_at or rec["at"]
        report.last_at = rec["at"]

    if expected_head and expected_head.strip().lower() not in hashes:
        report.ok = False
        report.bad_line, report.bad_seq = len(lines) + 1, prev_seq + 1
        report.reason = Reason.TRUNCATED
        report.detail = Text(
            f"the log ends before the record with hash {expected_head.strip()}: records were "
            "removed from its end, or the log was replaced",
            f"日志在哈希为 {expected_head.strip()} 的记录之前结束：末尾的记录被删除，或日志被替换")
    return report
