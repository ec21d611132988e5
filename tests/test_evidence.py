"""The evidence log's promises: the site key stays private, every record is signed and
chained, and each kind of tampering is caught at the line where it happened."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import stat
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console

from readiness.commands import evidence as commands
from readiness.evidence.canonical import canonical
from readiness.evidence.chain import (
    GENESIS,
    EvidenceLog,
    Reason,
    build_record,
    record_hash,
    verify,
)
from readiness.evidence.errors import (
    EvidenceError,
    KeyExistsError,
    KeyPermissionError,
    LogDamagedError,
)
from readiness.evidence.keys import (
    fingerprint,
    init_keys,
    key_id,
    load_private,
    load_public,
)
from readiness.evidence.record import (
    append_attestation,
    append_run,
    result_body,
    run_body,
    run_key,
)
from readiness.evidence.signed_run import SignedRun, first_difference
from readiness.redact import Secret
from readiness.results import CheckResult, Citation, Finding, RunRecord, Status, Text, Verdict
from readiness.subject import Kind, Subject

Tamper = Callable[[list[bytes]], list[bytes]]
SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 20, 9, 0, tzinfo=SHANGHAI)
SECRET = Secret('cam-Pa"ss\\w0rd', "secret:camera_password")


def result(requirement: str, target: str, status: Status, measured: dict,
           message: str = "ok", evidence: list[str] | None = None) -> CheckResult:
    return CheckResult(
        requirement=requirement, title=Text(requirement, requirement),
        subject=Subject(Kind.UNKNOWN, target),
        vantage="coordinator", status=status, message=Text(message, f"中文：{message}"),
        measured=measured, threshold={"floor_mbps": 100},
        citation=Citation("002_778480b43cbac38e.txt", "第十一条(二)", "至少 100M 或以上带宽"),
        started_at=T0, duration_s=1.25, check_id=f"{requirement}/{target}",
        evidence=evidence or [],
        findings=[] if status is Status.PASS else [Finding(
            "x.found", Text(message, f"中文：{message}"), Text("fix it", "请修复"))])


def make_run(results: list[CheckResult]) -> RunRecord:
    return RunRecord(
        site_name="第一考点", site_code="SITE01", profile_id="cbec",
        certificate=Text("Cross-border e-commerce", "跨境电子商务多平台运营"),
        started_at=T0, finished_at=T0 + timedelta(minutes=3), verdict=Verdict.NOT_READY,
        results=results, required={"WAN-FLOOR", "LAN-SPEED"})


@pytest.fixture
def keydir(tmp_path: Path) -> Path:
    init_keys(tmp_path / "keys")
    return tmp_path / "keys"


@pytest.fixture
def chain(tmp_path: Path, keydir: Path) -> Path:
    """A log of six records: a run with four results, then an attestation."""
    log = EvidenceLog(tmp_path / "evidence.jsonl", load_private(keydir))
    run = make_run([
        result("WAN-FLOOR", "uplink", Status.PASS, {"throughput_mbps": 212.5}),
        result("LAN-SPEED", "seat A01", Status.PASS, {"throughput_mbps": 941.0}),
        result("LAN-SPEED", "seat A02", Status.WARN, {"throughput_mbps": 94.1}),
        result("CAM-RES", "camera front", Status.FAIL, {"width": 1280, "height": 720},
               message="720p, needs 1080p"),
    ])
    append_run(log, run)
    append_attestation(log, "王老师", "考点主任", {"staff": "7", "seat_spacing": True},
                       "checked the room at 08:30")
    return log.path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


# ---- keys ------------------------------------------------------------------------------

def test_init_keys_creates_a_private_key_only_its_owner_can_read(tmp_path: Path) -> None:
    old = os.umask(0)  # the most permissive umask must not widen the key's mode
    try:
        info = init_keys(tmp_path / "k")
    finally:
        os.umask(old)
    assert stat.S_IMODE(info.private_path.stat().st_mode) == 0o600
    assert info.private_path.name == "site.key" and info.public_path.name == "site.pub"
    assert info.private_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    groups = info.fingerprint.removeprefix("sha256:").split(" ")
    assert info.fingerprint.startswith("sha256:") and len(groups) == 16
    assert all(len(g) == 4 and int(g, 16) >= 0 for g in groups)
    public = load_public(info.public_path)
    assert fingerprint(public) == info.fingerprint
    assert fingerprint(load_private(info.private_path.parent).public_key()) == info.fingerprint
    raw = public.public_bytes_raw()
    assert info.fingerprint.replace(" ", "") == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert not [p for p in info.private_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_private_key_is_created_with_mode_0600_not_chmodded_afterwards(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[tuple[str, int]] = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *args, **kwargs):  # type: ignore[no-untyped-def]
        if flags & os.O_CREAT:
            created.append((os.fspath(path), mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    init_keys(tmp_path / "k")
    key_files = [(p, m) for p, m in created if "site.key" in p]
    assert key_files and all(m == 0o600 for _, m in key_files)


def test_init_keys_refuses_to_replace_a_key_unless_forced(tmp_path: Path) -> None:
    first = init_keys(tmp_path / "k")
    before = first.private_path.read_bytes()
    with pytest.raises(KeyExistsError) as err:
        init_keys(tmp_path / "k")
    assert "--force" in str(err.value) and "--force" in err.value.text.zh
    assert first.private_path.read_bytes() == before
    second = init_keys(tmp_path / "k", force=True)
    assert second.fingerprint != first.fingerprint
    assert stat.S_IMODE(second.private_path.stat().st_mode) == 0o600
    assert fingerprint(load_public(second.public_path)) == second.fingerprint


def test_a_private_key_others_can_read_is_refused_with_the_fix(keydir: Path) -> None:
    key = keydir / "site.key"
    key.chmod(0o644)
    with pytest.raises(KeyPermissionError) as err:
        load_private(keydir)
    assert f"chmod 600 {key}" in str(err.value)
    assert f"chmod 600 {key}" in err.value.text.zh
    key.chmod(0o600)
    load_private(keydir)


def test_missing_or_wrong_key_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="keys init"):
        load_private(tmp_path)
    bogus = tmp_path / "site.pub"
    bogus.write_text("not a key")
    with pytest.raises(EvidenceError, match="not a PEM public key"):
        load_public(bogus)


# ---- the chain -------------------------------------------------------------------------

def test_a_clean_chain_verifies_with_the_right_head(chain: Path, keydir: Path) -> None:
    lines = lines_of(chain)
    assert len(lines) == 6
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == list(range(6))
    assert [r["type"] for r in records] == ["run"] + ["result"] * 4 + ["attestation"]
    assert records[0]["prev"] == GENESIS
    for after, line in zip(records[1:], lines, strict=False):
        assert after["prev"] == hashlib.sha256(line.rstrip(b"\n")).hexdigest()
    for line, record in zip(lines, records, strict=True):
        assert line == canonical(record) + b"\n"  # stored in canonical form
    report = verify(chain, load_public(keydir))
    assert report.ok and report.count == 6 and report.bad_line is None
    assert report.head == hashlib.sha256(lines[-1].rstrip(b"\n")).hexdigest()
    assert report.head == record_hash(records[-1])
    assert report.types == {"run": 1, "result": 4, "attestation": 1}
    assert report.key == fingerprint(load_public(keydir))
    assert verify(chain, load_public(keydir), expected_head=report.head).ok


def _flip_byte_in_body(lines: list[bytes]) -> list[bytes]:
    line = lines[2]
    at = line.index(b'"target":"') + len(b'"target":"')
    lines[2] = line[:at] + bytes([line[at] ^ 0x20]) + line[at + 1:]  # seat -> Seat
    assert lines[2] != line and json.loads(lines[2])
    return lines


def _flip_digit_in_measured(lines: list[bytes]) -> list[bytes]:
    lines[1] = lines[1].replace(b"212.5", b"912.5")
    return lines


def _delete(lines: list[bytes]) -> list[bytes]:
    del lines[3]
    return lines


def _swap(lines: list[bytes]) -> list[bytes]:
    lines[3], lines[4] = lines[4], lines[3]
    return lines


def _insert_copy(lines: list[bytes]) -> list[bytes]:
    lines.insert(4, lines[1])
    return lines


def _insert_copy_of_later(lines: list[bytes]) -> list[bytes]:
    lines.insert(1, lines[4])
    return lines


def _truncate(lines: list[bytes]) -> list[bytes]:
    lines[-1] = lines[-1][: len(lines[-1]) // 2]
    return lines


def _drop_final_newline(lines: list[bytes]) -> list[bytes]:
    lines[-1] = lines[-1].rstrip(b"\n")
    return lines


def _not_json(lines: list[bytes]) -> list[bytes]:
    lines[1] = b"[" + lines[1][1:]
    return lines


def _delete_first(lines: list[bytes]) -> list[bytes]:
    del lines[0]
    return lines


def _reformat(lines: list[bytes]) -> list[bytes]:
    lines[2] = json.dumps(json.loads(lines[2]), ensure_ascii=False, indent=None).encode() + b"\n"
    return lines


@pytest.mark.parametrize(("tamper", "line", "seq", "reason"), [
    (_flip_byte_in_body, 3, 2, Reason.EDITED),
    (_flip_digit_in_measured, 2, 1, Reason.EDITED),
    (_reformat, 3, 2, Reason.EDITED),
    (_delete, 4, 4, Reason.DELETED),
    (_delete_first, 1, 1, Reason.DELETED),
    (_swap, 4, 4, Reason.REORDERED),
    (_insert_copy, 5, 1, Reason.INSERTED),
    (_insert_copy_of_later, 2, 4, Reason.INSERTED),
    (_truncate, 6, None, Reason.TRUNCATED),
    (_drop_final_newline, 6, 5, Reason.TRUNCATED),
    (_not_json, 2, None, Reason.NOT_JSON),
])
def test_tampering_is_caught_at_the_right_line(chain: Path, keydir: Path, tmp_path: Path,
                                               tamper: Tamper, line: int, seq: int | None,
                                               reason: Reason) -> None:
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(b"".join(tamper(lines_of(chain))))
    report = verify(copy, load_public(keydir))
    assert not report.ok
    assert (report.bad_line, report.bad_seq, report.reason) == (line, seq, reason), \
        report.sentence()
    assert report.count == line - 1  # everything before the bad line still verifies
    assert report.sentence().startswith(f"line {line}")
    assert report.sentence("zh").startswith(f"第 {line} 行")


def test_the_sentence_says_where_and_why(chain: Path, keydir: Path) -> None:
    report = verify(_tampered(chain, _flip_byte_in_body), load_public(keydir))
    assert report.sentence() == "line 3 (seq 2): edited — its signature does not match its content"
    assert report.sentence("zh") == "第 3 行（序号 2）：被篡改 —— 签名与内容不符"


def _tampered(chain: Path, tamper: Tamper) -> Path:
    copy = chain.with_name("tampered.jsonl")
    copy.write_bytes(b"".join(tamper(lines_of(chain))))
    return copy


def test_a_record_signed_by_another_key_is_named_as_such(chain: Path, keydir: Path) -> None:
    intruder = Ed25519PrivateKey.generate()
    head = verify(chain, load_public(keydir)).head
    forged = build_record(6, "attestation", {"person": "someone", "items": {"staff": "9"}},
                          head, intruder)
    with chain.open("ab") as f:
        f.write(canonical(forged) + b"\n")
    report = verify(chain, load_public(keydir))
    assert (report.ok, report.bad_line, report.bad_seq, report.reason) == (
        False, 7, 6, Reason.OTHER_KEY)
    assert fingerprint(intruder.public_key()) in report.sentence()


def test_a_record_forged_with_another_key_but_our_fingerprint_is_an_edit(
        chain: Path, keydir: Path) -> None:
    intruder = Ed25519PrivateKey.generate()
    record = json.loads(lines_of(chain)[2])
    record["body"]["status"] = "pass"
    record["key"] = key_id(load_public(keydir))
    unsigned = {k: v for k, v in record.items() if k != "sig"}
    record["sig"] = base64.b64encode(intruder.sign(canonical(unsigned))).decode()
    lines = lines_of(chain)
    lines[2] = canonical(record) + b"\n"
    chain.write_bytes(b"".join(lines))
    report = verify(chain, load_public(keydir))
    assert (report.bad_line, report.reason) == (3, Reason.EDITED)


def test_a_record_replaced_and_resigned_with_the_site_key_breaks_the_next_link(
        chain: Path, keydir: Path) -> None:
    # someone holding the key rewrites seq 2 but not what follows it
    lines = lines_of(chain)
    old = json.loads(lines[2])
    body = dict(old["body"], status="pass")
    new = build_record(2, "result", body, old["prev"], load_private(keydir))
    lines[2] = canonical(new) + b"\n"
    chain.write_bytes(b"".join(lines))
    report = verify(chain, load_public(keydir))
    assert (report.bad_line, report.bad_seq, report.reason) == (3, 2, Reason.EDITED)


def test_records_cut_off_the_end_are_caught_with_the_known_head(chain: Path,
                                                                 keydir: Path) -> None:
    head = verify(chain, load_public(keydir)).head
    chain.write_bytes(b"".join(lines_of(chain)[:-2]))
    plain = verify(chain, load_public(keydir))
    assert plain.ok and plain.count == 4  # a shorter chain is still a chain...
    report = verify(chain, load_public(keydir), expected_head=head)
    assert not report.ok and report.reason == Reason.TRUNCATED  # ...the known head is not


def test_verify_against_the_wrong_public_key_fails_on_the_first_record(
        chain: Path, tmp_path: Path) -> None:
    other = init_keys(tmp_path / "other")
    report = verify(chain, load_public(other.public_path))
    assert (report.bad_line, report.reason) == (1, Reason.OTHER_KEY)


def test_an_empty_log_verifies_with_the_genesis_head(tmp_path: Path, keydir: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    report = verify(empty, load_public(keydir))
    assert report.ok and report.count == 0 and report.head == GENESIS


def test_append_after_a_crash_mid_record_refuses_and_leaves_the_file_alone(
        chain: Path, keydir: Path) -> None:
    damaged = b"".join(_truncate(lines_of(chain)))
    chain.write_bytes(damaged)
    log = EvidenceLog(chain, load_private(keydir))
    with pytest.raises(LogDamagedError) as err:
        log.append("attestation", {"person": "x"})
    assert "verify" in str(err.value)
    assert chain.read_bytes() == damaged


def test_append_refuses_a_log_started_with_another_key(chain: Path, tmp_path: Path) -> None:
    other = init_keys(tmp_path / "other")
    with pytest.raises(EvidenceError, match="not this site's key"):
        EvidenceLog(chain, load_private(other.private_path)).append("note", {})


def test_appending_continues_the_chain(chain: Path, keydir: Path) -> None:
    log = EvidenceLog(chain, load_private(keydir))
    head = verify(chain, load_public(keydir)).head
    record = log.append("note", {"text": "第二天复查"})
    assert record["seq"] == 6 and record["prev"] == head
    report = verify(chain, load_public(keydir))
    assert report.ok and report.count == 7 and report.head == record_hash(record)


def test_concurrent_appenders_never_break_the_chain(tmp_path: Path, keydir: Path) -> None:
    key = load_private(keydir)
    path = tmp_path / "busy.jsonl"

    def writer(n: int) -> None:
        log = EvidenceLog(path, key)  # each its own file handle, as separate processes
        for i in range(20):
            log.append("note", {"writer": n, "i": i})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = verify(path, load_public(keydir))
    assert report.ok and report.count == 80


# ---- what is written -------------------------------------------------------------------

def test_a_secret_never_reaches_the_log(tmp_path: Path, keydir: Path) -> None:
    value = SECRET.reveal()
    snap = tmp_path / "ev" / f"snap-{value}.jpg"
    snap.parent.mkdir()
    snap.write_bytes(b"jpeg")
    run = make_run([
        result("CAM-RES", f"rtsp://admin:{value}@10.0.0.9/stream", Status.ERROR,
               {"url": f"rtsp://admin:{value}@10.0.0.9/", value: 1, "tries": [value]},
               message=f"login with {value} refused", evidence=[snap.name]),
    ])
    run.site_name = f"site {value}"
    log = EvidenceLog(tmp_path / "e.jsonl", load_private(keydir))
    records = append_run(log, run, [SECRET], evidence_dir=snap.parent)
    append_attestation(log, "李老师", "监考", {"note": f"pw {value}"}, f"said {value}",
                       secrets=[SECRET])
    text = log.path.read_bytes()
    escaped = json.dumps(value, ensure_ascii=False)[1:-1].encode()
    assert value.encode() not in text and escaped not in text
    assert b"***" in text
    assert records[1]["body"]["evidence"][0]["sha256"] == hashlib.sha256(b"jpeg").hexdigest()
    assert verify(log.path, load_public(keydir)).ok


def test_run_and_result_records_carry_what_an_inspector_needs(chain: Path) -> None:
    records = [json.loads(line) for line in lines_of(chain)]
    run, first = records[0]["body"], records[1]["body"]
    assert run["site"] == {"name": "第一考点", "code": "SITE01"}
    assert run["verdict"] == "not_ready" and run["profile"]["id"] == "cbec"
    assert run["counts"] == {"pass": 2, "warn": 1, "fail": 1, "error": 0, "skip": 0}
    assert run["started_at"] == T0.astimezone(UTC).isoformat()
    assert first["run"] == run["run"]
    assert first["requirement"] == "WAN-FLOOR" and first["measured"] == {"throughput_mbps": 212.5}
    assert first["threshold"] == {"floor_mbps": 100}
    assert first["citation"]["article"] == "第十一条(二)"
    assert first["message"] == {"en": "ok", "zh": "中文：ok"}
    assert first["evidence"] == []
    attestation = records[5]["body"]
    assert attestation["person"] == "王老师" and attestation["items"]["seat_spacing"] is True


def test_a_result_record_carries_its_findings_and_an_edit_of_them_is_named() -> None:
    run = make_run([result("CAM-RES", "camera front", Status.FAIL, {"width": 1280},
                           message="720p, needs 1080p")])
    body = result_body(run.results[0], run_key(run), None, [])
    assert body["findings"] == [{"code": "x.found", "what": {"en": "720p, needs 1080p",
                                                             "zh": "中文：720p, needs 1080p"},
                                 "action": {"en": "fix it", "zh": "请修复"},
                                 "subject": None, "root_cause": False}]
    signed = SignedRun("ref", 0, run_body(run, []), [body])
    assert first_difference(run, signed) is None
    # a record signed before results had findings is compared on what it has
    older = SignedRun("ref", 0, run_body(run, []),
                      [{k: v for k, v in body.items() if k != "findings"}])
    assert first_difference(run, older) is None
    # a store whose findings were edited is not the signed run
    run.results[0].findings[0] = Finding("x.found", Text("fine", "正常"), Text("", ""))
    said = first_difference(run, signed)
    assert said is not None and "findings" in said.en and "CAM-RES" in said.en


def test_odd_measured_values_still_make_valid_json(tmp_path: Path, keydir: Path) -> None:
    run = make_run([result("LAN-SPEED", "seat A03", Status.ERROR,
                           {"throughput_mbps": float("nan"), "when": T0, "ports": {443, 80}})])
    log = EvidenceLog(tmp_path / "e.jsonl", load_private(keydir))
    records = append_run(log, run)
    assert records[1]["body"]["measured"] == {
        "throughput_mbps": "nan", "when": T0.isoformat(), "ports": [443, 80]}
    assert verify(log.path, load_public(keydir)).ok


# ---- the command handlers --------------------------------------------------------------

def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, highlight=False, color_system=None), out


def test_commands_keys_attest_verify(tmp_path: Path) -> None:
    console, out = _console()
    keys = tmp_path / "keys"
    assert commands.keys_init(console, keys, lang="en") == 0
    assert "fingerprint" in out.getvalue()
    assert commands.keys_init(console, keys, lang="zh") == 2
    assert "已存在" in out.getvalue()

    log = tmp_path / "evidence.jsonl"
    items = commands.parse_items(["staff=7", "seat_spacing=yes", "signage=否"])
    assert items == {"staff": "7", "seat_spacing": True, "signage": False}
    assert commands.attest(console, log, "王老师", "考点主任", items, key_dir=keys,
                           profile="cbec", lang="zh") == 0
    assert "序号 0" in out.getvalue()

    console, out = _console()
    assert commands.verify_log(console, log, key_dir=keys, lang="en") == 0
    head = verify(log, load_public(keys)).head
    assert "OK" in out.getvalue() and head in out.getvalue()
    assert fingerprint(load_public(keys)) in out.getvalue()

    log.write_bytes(log.read_bytes().replace("王".encode(), "汪".encode()))
    console, out = _console()
    assert commands.verify_log(console, log, pub=keys / "site.pub", lang="en") == 1
    assert "line 1 (seq 0): edited" in out.getvalue()

    console, out = _console()
    assert commands.verify_log(console, tmp_path / "none.jsonl", key_dir=keys) == 2
    with pytest.raises(ValueError, match="KEY=VALUE"):
        commands.parse_items(["staff"])


def test_attest_refuses_a_readable_key(tmp_path: Path, keydir: Path) -> None:
    (keydir / "site.key").chmod(0o640)
    console, out = _console()
    code = commands.attest(console, tmp_path / "e.jsonl", "a", "b", {"staff": "6"},
                           key_dir=keydir)
    # the path wraps the line where its length says: compare words, not lines
    assert code == 2 and "chmod 600" in " ".join(out.getvalue().split())
    assert not (tmp_path / "e.jsonl").exists()


def test_parse_since() -> None:
    now = datetime(2024, 5, 20, 12, 0, tzinfo=UTC)
    assert commands.parse_since("7d", now) == now - timedelta(days=7)
    assert commands.parse_since("12h", now) == now - timedelta(hours=12)
    assert commands.parse_since("2024-05-01T00:00+08:00", now) == datetime(
        2024, 4, 30, 16, 0, tzinfo=UTC)
    assert commands.parse_since("2024-05-01").tzinfo is not None
    with pytest.raises(ValueError, match="--since"):
        commands.parse_since("last tuesday")
