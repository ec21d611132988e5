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
valid log. So every append also writes the new head (seq and hash of the last record)
into `<log>.head`, signed with the site key like a record (whoever cuts the log cannot
write a head for the shorter one), `record_run` writes it into the results store, and
the report prints it; `verify(known=..., expected_head=...)` checks the log still
reaches them. Run records say `"signed_head": true`: a log that holds one must have a
signed head, so an unsigned head file beside it was put there by hand.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import re
from collections.abc import Iterable, Iterator
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
from .lines import MAX_LINE_BYTES, LineTooLong, bounded_lines, read_line

GENESIS = "0" * 64
KEY_ID = re.compile(r"sha256:[0-9a-f]{64}")
FIELDS = frozenset({"seq", "type", "at", "body", "prev", "key", "sig"})
SIGNED_HEAD = "signed_head"  # the run body's word that its writer signs the head file
HEAD_FIELDS = frozenset({"type", "log", "seq", "head", "key", "at", "sig"})


class Reason(StrEnum):
    EDITED = "edited"
    DELETED = "deleted"
    REORDERED = "reordered"
    INSERTED = "inserted"
    TRUNCATED = "truncated"
    OTHER_KEY = "other_key"
    NOT_JSON = "not_json"
    MALFORMED = "malformed"  # valid JSON, but not a log record (missing or wrong fields)
    DIVERGED = "diverged"  # not the record written down at signing time (head file, store)


REASON_WORDS = {
    "en": {Reason.EDITED: "edited", Reason.DELETED: "deleted", Reason.REORDERED: "reordered",
           Reason.INSERTED: "inserted", Reason.TRUNCATED: "truncated",
           Reason.OTHER_KEY: "signed by another key", Reason.NOT_JSON: "not JSON",
           Reason.MALFORMED: "not a log record", Reason.DIVERGED: "replaced"},
    "zh": {Reason.EDITED: "被篡改", Reason.DELETED: "有记录被删除", Reason.REORDERED: "顺序被调换",
           Reason.INSERTED: "有记录被插入", Reason.TRUNCATED: "被截断",
           Reason.OTHER_KEY: "由其他密钥签名", Reason.NOT_JSON: "不是 JSON",
           Reason.MALFORMED: "不是日志记录", Reason.DIVERGED: "被替换"},
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
        self.last_start: int | None = None  # byte offset of the first record last appended

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
            start = f.seek(0, os.SEEK_END)
            records, out = [], bytearray()
            for rtype, body in items:
                record = build_record(seq, rtype, body, prev, self._key)
                line = canonical(record)
                if len(line) + 1 > MAX_LINE_BYTES:
                    # every reader stops at this bound: such a record could never be verified
                    raise EvidenceError(Text(
                        f"a {rtype} record of {len(line):,} bytes is longer than the "
                        f"{MAX_LINE_BYTES // 2**20} MiB a record may have; nothing was appended "
                        f"to {self.path}",
                        f"一条 {rtype} 记录有 {len(line):,} 字节，超过记录上限 "
                        f"{MAX_LINE_BYTES // 2**20} MiB；未向 {self.path} 追加任何内容"))
                out += line + b"\n"
                records.append(record)
                prev, seq = sha256_hex(line), seq + 1
            f.write(bytes(out))
            f.flush()
            os.fsync(f.fileno())
            self.last_start = start
            # still under the lock: the head file never goes backwards between appenders
            write_head(self.path, seq - 1, prev, self._key)
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
        if last is None:
            raise LogDamagedError(Text(
                f"the last line of the evidence log {self.path} is longer than "
                f"{MAX_LINE_BYTES // 2**20} MiB: it is not a record; nothing was appended. "
                f"Run `readiness verify {self.path}`.",
                f"证据日志 {self.path} 的最后一行超过 {MAX_LINE_BYTES // 2**20} MiB，不是有效记录，"
                f"未追加任何记录。请运行 `readiness verify {self.path}`。"))
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


def _read_last_line(f: Any, size: int) -> bytes | None:
    """The last line without its line end; None when it is longer than any record."""
    # read backwards in blocks: the log grows for months and is appended to per check
    end = size - 1  # drop the final newline
    block, buf, pos = 65536, b"", end
    while pos > 0:
        if len(buf) >= MAX_LINE_BYTES:
            return None
        start = max(0, pos - block)
        f.seek(start)
        buf = f.read(pos - start) + buf
        pos = start
        cut = buf.rfind(b"\n")
        if cut >= 0:
            return buf[cut + 1:]
    return buf


@dataclass(frozen=True)
class Position:
    """A record the log has been verified up to: where a later verify resumes, and what
    the bytes there must still hash to."""

    seq: int
    hash: str
    start: int  # byte offset of the record's line
    end: int  # byte offset just after it: where the next record starts
    line: int  # 1-based line number


@dataclass(frozen=True)
class KnownHead:
    """A (seq, hash) written down when the log was appended to (the head file beside
    the log, the results store): the log must still contain it, which catches records
    cut off its end."""

    seq: int
    hash: str
    source: str  # where it was written down, for the message
    signed: bool = False  # its signature was checked against the log's key
    at: str | None = None  # when it was written (a signed head says so)


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
    end: Position | None = None  # the last record that verified (None: none did)
    last_seq: int = -1  # seq of the last record that verified
    head_checked: bool = False  # the end was checked against a head known from elsewhere
    signs_heads: bool = False  # a verified run record says its writer signed the head file
    resumed_at: int | None = None  # line the check resumed after (None: from the start)

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
    raw: bytes  # without the line end
    record: dict[str, Any] | None
    seq: int | None
    start: int = 0
    newline: bool = True  # the line ended with "\n"
    hash: str = ""  # filled once the line is known to be the canonical form


def _parse(raw: bytes, no: int, start: int = 0) -> _Line:
    newline = raw.endswith(b"\n")
    if newline:
        raw = raw[:-1]
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return _Line(no, raw, None, None, start, newline)
    if not isinstance(obj, dict):
        return _Line(no, raw, None, None, start, newline)
    seq = obj.get("seq")
    ok = isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0
    return _Line(no, raw, obj, seq if ok else None, start, newline)


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


# Records between two signature checks. Every record is still signed when written,
# but verifying 100 000 Ed25519 signatures takes ~16 s here. A record's signature
# covers its `prev`, the hash of the record before it, which covers that record's
# `prev`, and so on: one valid signature vouches for every record chained before it.
# So the verifier checks the chain (hashes, seq) of every record, and the signature
# of every WINDOW-th record and of the last one; when anything fails inside a window
# it checks each signature of that window, to name the first bad record exactly as a
# record-by-record check would.
WINDOW = 256


class _Failed(Exception):
    """Stops the walk once the report says where and why."""


class _Verifier:
    def __init__(self, path: Path, public_key: Ed25519PublicKey, expected_head: str | None,
                 known: Iterable[KnownHead]):
        self.path, self.public_key = path, public_key
        self.ours = key_id(public_key)
        self.expected = expected_head.strip().lower() if expected_head else None
        self.expected_found = False
        self.known: dict[int, KnownHead] = {}
        for head in known:
            # two sources may name the same seq; a disagreement is itself checked below
            self.known.setdefault(head.seq, head)
            if self.known[head.seq].hash != head.hash:
                self.known[head.seq] = head
        self.report = VerifyReport(ok=True, count=0, head=GENESIS, key=group(self.ours))
        self.prev_hash, self.prev_seq = GENESIS, -1
        self.previous: _Line | None = None  # the line before the current one
        self.window: list[_Line] = []
        self.diverged: tuple[_Line, KnownHead] | None = None

    # -- the walk --------------------------------------------------------------------

    def run(self, resume: Position | None) -> VerifyReport:
        try:
            with self.path.open("rb") as f:
                no, offset = self._resume(f, resume)
                for raw in self._lines(f, no + 1):
                    no += 1
                    ln = _parse(raw, no, offset)
                    offset += len(raw)
                    if not self._chains(ln):
                        self._settle()
                        self._diagnose(ln)
                    self.window.append(ln)
                    self.previous = ln
                    self.prev_hash, self.prev_seq = ln.hash, ln.seq if ln.seq is not None else -1
                    self._against_known(ln)
                    if len(self.window) >= WINDOW or self.diverged:
                        self._settle()
                self._settle()
                self._end_checks(no)
        except _Failed:
            self.report.ok = False
        return self.report

    def _lines(self, f: Any, first: int) -> Iterator[bytes]:
        """The log's lines, each read with a bound: a line longer than any record is
        named as the first bad one, after every record before it was settled."""
        try:
            yield from bounded_lines(f, self.path, first)
        except LineTooLong as exc:
            self._settle()
            self._fail(_Line(exc.line, b"", None, None), Reason.MALFORMED,
                       f"the line is longer than {MAX_LINE_BYTES // 2**20} MiB, far longer than "
                       "any record: it was not read (the file is damaged or not an evidence log)",
                       f"该行超过 {MAX_LINE_BYTES // 2**20} MiB，远长于任何记录，未读取"
                       "（文件已损坏或不是证据日志）")

    def _resume(self, f: Any, resume: Position | None) -> tuple[int, int]:
        if resume is None:
            return 0, 0
        f.seek(resume.start)
        try:
            raw = read_line(f, self.path, resume.line)
        except LineTooLong:
            raw = b""  # not the record remembered there: verify from the start
        if (resume.start >= 0 and raw.endswith(b"\n") and f.tell() == resume.end
                and sha256_hex(raw[:-1]) == resume.hash):
            try:
                seq = json.loads(raw)["seq"]
            except (ValueError, KeyError, TypeError):
                seq = None
            if seq == resume.seq:
                self.prev_hash, self.prev_seq = resume.hash, resume.seq
                self.previous = _Line(resume.line, raw[:-1], None, resume.seq, resume.start)
                self.report.count, self.report.head = resume.line, resume.hash
                self.report.last_seq, self.report.end = resume.seq, resume
                self.report.resumed_at = resume.line
                if self.expected == resume.hash:
                    self.expected_found = True
                return resume.line, resume.end
        # the bytes at the remembered place changed: nothing earlier can be assumed
        f.seek(0)
        return 0, 0

    def _chains(self, ln: _Line) -> bool:
        """The cheap checks every record gets: a canonical record in its place."""
        rec = ln.record
        if rec is None or not ln.newline or _malformed(rec) is not None:
            return False
        if rec["seq"] != self.prev_seq + 1 or rec["prev"] != self.prev_hash:
            return False
        if ln.raw != canonical(rec):
            return False
        ln.hash = sha256_hex(ln.raw)
        if self.expected is not None and ln.hash == self.expected:
            self.expected_found = True
        return True

    def _against_known(self, ln: _Line) -> None:
        head = self.known.get(ln.seq) if ln.seq is not None else None
        if head is not None and head.hash != ln.hash and self.diverged is None:
            self.diverged = (ln, head)

    def _settle(self) -> None:
        """Prove the window's records by the signature of its last one; if that fails,
        find the first record whose own signature fails."""
        if not self.window:
            return
        if not _signature_ok(self.window[-1].record or {}, self.public_key):
            for i, ln in enumerate(self.window):
                if not _signature_ok(ln.record or {}, self.public_key):
                    self._commit(self.window[:i])
                    self.window = []
                    self._signature_failure(ln)
        self._commit(self.window)
        self.window = []
        if self.diverged is not None:
            ln, head = self.diverged
            self._fail(ln, Reason.DIVERGED,
                       f"{head.source} records seq {head.seq} as {head.hash}, but the record "
                       f"here hashes to {ln.hash}: the log was replaced by another one",
                       f"{head.source} 记录的序号 {head.seq} 的哈希为 {head.hash}，但此处记录的"
                       f"哈希为 {ln.hash}：日志已被另一份替换")

    def _commit(self, lines: list[_Line]) -> None:
        r = self.report
        for ln in lines:
            rec = ln.record or {}
            r.count += 1
            r.types[rec["type"]] = r.types.get(rec["type"], 0) + 1
            if rec["type"] == "run" and rec["body"].get(SIGNED_HEAD) is True:
                r.signs_heads = True
            r.first_at = r.first_at or rec["at"]
            r.last_at = rec["at"]
        if lines:
            last = lines[-1]
            r.head, r.last_seq = last.hash, int(last.seq or 0)
            r.end = Position(r.last_seq, last.hash, last.start,
                             last.start + len(last.raw) + 1, last.no)

    def _end_checks(self, lines: int) -> None:
        r = self.report
        if self.expected is not None:
            r.head_checked = True
            if not self.expected_found:
                self._fail_end(lines, Text(
                    f"the log ends before the record with hash {self.expected}: records were "
                    "removed from its end, or the log was replaced",
                    f"日志在哈希为 {self.expected} 的记录之前结束：末尾的记录被删除，或日志被替换"))
        if self.known:
            r.head_checked = True
            last = max(self.known.values(), key=lambda h: h.seq)
            if last.seq > r.last_seq:
                self._fail_end(lines, Text(
                    f"the log ends at seq {r.last_seq}, but {last.source} records that seq "
                    f"{last.seq} (hash {last.hash}) was written: records were removed from "
                    "its end, or the log was replaced by an older copy",
                    f"日志止于序号 {r.last_seq}，但{last.source}记录已写入序号 {last.seq}（哈希 "
                    f"{last.hash}）：末尾的记录被删除，或日志被旧副本替换"))

    def _fail_end(self, lines: int, detail: Text) -> None:
        r = self.report
        r.bad_line, r.bad_seq = lines + 1, r.last_seq + 1
        r.reason, r.detail = Reason.TRUNCATED, detail
        raise _Failed

    # -- saying what is wrong ------------------------------------------------------------

    def _fail(self, ln: _Line, reason: Reason, en: str, zh: str,
              seq: int | None = None) -> None:
        r = self.report
        r.bad_line, r.reason, r.detail = ln.no, reason, Text(en, zh)
        r.bad_seq = ln.seq if seq is None else seq
        raise _Failed

    def _signature_failure(self, ln: _Line) -> None:
        rec = ln.record or {}
        kid = rec.get("key")
        if isinstance(kid, str) and _names_another_key(kid, self.ours):
            self._fail(ln, Reason.OTHER_KEY,
                       f"it names key {group(kid)}, not this site's key {group(self.ours)}: "
                       "this site did not write it",
                       f"该记录使用密钥 {group(kid)}，而非本站密钥 {group(self.ours)}："
                       "不是本站写入的")
        self._fail(ln, Reason.EDITED, "its signature does not match its content",
                   "签名与内容不符")

    def _diagnose(self, ln: _Line) -> None:
        """`ln` failed the cheap checks and every record before it verified: say what is
        wrong with it, in the order a record-by-record check would find it."""
        rec = ln.record
        if rec is None:
            if not ln.newline:
                self._fail(ln, Reason.TRUNCATED,
                           "the last line is cut off: a write did not finish (crash or a "
                           "shortened copy of the log)",
                           "最后一行不完整：写入未完成（崩溃或日志副本被截短）")
            if not ln.raw.strip():
                self._fail(ln, Reason.NOT_JSON, "the line is empty", "该行为空行")
            self._fail(ln, Reason.NOT_JSON, "the line cannot be read as JSON",
                       "该行无法解析为 JSON")
            return
        problem = _malformed(rec)
        if problem:
            self._fail(ln, Reason.MALFORMED, problem, f"记录格式错误：{problem}")
        # 1. is this record, byte for byte, what the site signed?
        if not _signature_ok(rec, self.public_key):
            self._signature_failure(ln)
        if ln.raw != canonical(rec):
            self._fail(ln, Reason.EDITED,
                       "the line was rewritten after signing (the signed values are intact, "
                       "but the bytes are not the ones written)",
                       "该行在签名后被改写（签名内容未变，但字节与写入时不同）")
        if not ln.newline:
            self._fail(ln, Reason.TRUNCATED,
                       "the last record has no line end: the write did not finish",
                       "最后一条记录没有换行符：写入未完成")
        self._misplaced(ln, rec)

    def _misplaced(self, ln: _Line, rec: dict[str, Any]) -> None:
        # 2. is it in its place in the chain?
        seq: int = rec["seq"]
        expected = self.prev_seq + 1
        if seq == expected:
            before = self.previous
            if before is None:
                self._fail(ln, Reason.DELETED,
                           "the log does not start at its first record: its prev points at "
                           "a record that is not here",
                           "日志不是从第一条记录开始：其 prev 指向的记录不在文件中")
                return
            self._fail(before, Reason.EDITED,
                       f"the record after it (line {ln.no}) was chained to a different record "
                       f"with seq {before.seq}: this one was replaced and signed again",
                       f"下一条记录（第 {ln.no} 行）链接的是另一条序号为 {before.seq} 的记录："
                       "该记录被替换并重新签名")
        if rec["prev"] == self.prev_hash:
            self._fail(ln, Reason.INSERTED,
                       f"it follows the record before it, but its seq is {seq}, not {expected}",
                       f"它链接在前一条记录之后，但序号为 {seq} 而不是 {expected}")
        # only a broken log gets here: one more pass over the file finds the other lines
        # that carry these seqs, so a normal verify keeps nothing but the previous hash
        where = _lines_with_seq(self.path, {seq, expected})
        if seq > expected:
            later = [n for n, _ in where.get(seq, []) if n > ln.no]
            moved = [n for n, _ in where.get(expected, []) if n > ln.no]
            if later:
                self._fail(ln, Reason.INSERTED,
                           f"seq {seq} appears again on line {later[0]}; this copy is out "
                           "of place",
                           f"序号 {seq} 在第 {later[0]} 行再次出现；此处为多出的副本")
            if moved:
                self._fail(ln, Reason.REORDERED,
                           f"seq {expected} should come here, but it is on line {moved[0]}",
                           f"此处应为序号 {expected}，但它在第 {moved[0]} 行")
            if seq - expected == 1:
                en = f"the record with seq {expected} is missing before it"
                zh = f"它之前序号为 {expected} 的记录缺失"
            else:
                en = f"the records with seq {expected} to {seq - 1} are missing before it"
                zh = f"它之前序号 {expected} 至 {seq - 1} 的记录缺失"
            self._fail(ln, Reason.DELETED, en, zh)
        earlier = [(n, raw) for n, raw in where.get(seq, []) if n < ln.no]
        if earlier and earlier[0][1] == ln.raw:
            self._fail(ln, Reason.INSERTED, f"it is a copy of line {earlier[0][0]}",
                       f"它是第 {earlier[0][0]} 行的副本")
        if earlier:
            self._fail(ln, Reason.INSERTED, f"seq {seq} was already used on line {earlier[0][0]}",
                       f"序号 {seq} 已在第 {earlier[0][0]} 行使用")
        self._fail(ln, Reason.REORDERED, f"seq goes backwards, from {self.prev_seq} to {seq}",
                   f"序号倒退：从 {self.prev_seq} 到 {seq}")


def _lines_with_seq(path: Path, seqs: set[int]) -> dict[int, list[tuple[int, bytes]]]:
    found: dict[int, list[tuple[int, bytes]]] = {}
    with path.open("rb") as f:
        for no, raw in enumerate(bounded_lines(f, path), 1):
            ln = _parse(raw, no)
            if ln.seq in seqs:
                found.setdefault(ln.seq, []).append((no, ln.raw))
    return found


def verify(path: Path, public_key: Ed25519PublicKey, expected_head: str | None = None, *,
           known: Iterable[KnownHead] = (), resume: Position | None = None) -> VerifyReport:
    """Check the log at `path` against `public_key`, in order, reading it line by line
    (constant memory), and stop at the first record that is not what the site wrote.

    `expected_head`: a record hash known from elsewhere (a report, a previous verify);
    the log must contain it, which catches records cut off the end.
    `known`: (seq, hash) pairs written down at signing time (head file, store): each
    must still be in the log, and the log must reach the highest of them.
    `resume`: a position an earlier verify reached; if the bytes there are unchanged,
    only the records after it are checked (the report's incremental check).
    """
    return _Verifier(Path(path), public_key, expected_head, known).run(resume)


# --- the head beside the log -----------------------------------------------------------


def head_path(log: Path) -> Path:
    """`evidence.jsonl.head`: the last (seq, hash) the site appended, signed, so that a
    log cut short at a record boundary no longer verifies without --head."""
    log = Path(log)
    return log.with_name(log.name + ".head")


def head_record(log: Path, seq: int, head: str, private_key: Ed25519PrivateKey,
                at: datetime | None = None) -> dict[str, Any]:
    """The signed head. It names the log by its file name only (a copy handed to the
    inspector is still the same log) and has its own `type`, so it can never pass for a
    log record or the other way round."""
    when = (at or datetime.now(UTC)).astimezone(UTC)
    record: dict[str, Any] = {"type": "head", "log": Path(log).name, "seq": seq,
                              "head": head, "key": key_id(private_key.public_key()),
                              "at": when.isoformat(timespec="seconds")}
    record["sig"] = base64.b64encode(private_key.sign(canonical(record))).decode("ascii")
    return record


def write_head(log: Path, seq: int, head: str, private_key: Ed25519PrivateKey) -> None:
    path = head_path(log)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = canonical(head_record(log, seq, head, private_key)) + b"\n"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _head_damaged(path: Path, log: Path, why: str, why_zh: str) -> EvidenceError:
    return EvidenceError(Text(
        f"{path} is not the head the site signed ({why}): it was damaged, edited or "
        f"replaced. Compare the log with the chain head printed on the last report: "
        f"readiness verify {log} --head HASH",
        f"{path} 不是本站签名的链头记录（{why_zh}）：已损坏、被改动或被替换。"
        f"请用最近报告上的链头核对：readiness verify {log} --head 哈希"))


def read_head(log: Path, public_key: Ed25519PublicKey | None = None) -> KnownHead | None:
    """The head written beside `log`, None when there is none (a copy handed over
    without it). With `public_key`, a signed head's signature is checked (`signed` is
    then True); a head written before heads were signed has none (`signed` False).
    Raises EvidenceError when it is damaged or its signature does not match."""
    path = head_path(log)
    try:
        with path.open("rb") as f:
            raw = f.read(4096)  # a head is a few hundred bytes: never read a planted giant
        data = json.loads(raw)
        seq, head = data["seq"], data["head"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 \
                or not isinstance(head, str) or not re.fullmatch(r"[0-9a-f]{64}", head):
            raise ValueError
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        raise _head_damaged(path, log, "not a head record", "不是链头记录") from None
    if "sig" not in data:  # written before heads were signed
        return KnownHead(seq, head, str(path))
    if set(data) != HEAD_FIELDS or data.get("type") != "head" \
            or not isinstance(data.get("sig"), str) or not isinstance(data.get("at"), str):
        raise _head_damaged(path, log, "not a head record", "不是链头记录")
    if public_key is None:
        return KnownHead(seq, head, str(path), at=data["at"])
    if raw.rstrip(b"\n") != canonical(data) or not _signature_ok(data, public_key):
        raise _head_damaged(path, log, "its signature does not match the site key",
                            "签名与站点密钥不符")
    return KnownHead(seq, head, str(path), signed=True, at=data["at"])
