"""Issue 20, break 3: the chain's end is anchored by a signed head, `verify` says what
its key proves, and a vanished log is never a NOT SIGNED copy with exit 0.

What an inspector receives is a copied `runs/` folder (the store there names the log by
another absolute path, so only the head beside the log speaks for its end). A forger
cuts the last run off the copy and rewrites `.head` for the shorter log; or re-signs
the log with a key of their own and replaces site.pub and site.pin; or deletes the log.
"""

from __future__ import annotations

import io
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from readiness.commands.evidence import INCOMPLETE, NOT_VERIFIED, OK, history, verify_log
from readiness.commands.report import report
from readiness.evidence.canonical import canonical, sha256_hex
from readiness.evidence.chain import GENESIS, build_record, head_path, read_head
from readiness.evidence.keys import (
    PIN_NAME,
    PUBLIC_NAME,
    fingerprint,
    init_keys,
    load_private,
    load_public,
)
from readiness.evidence.record import run_body
from readiness.evidence.recording import record_run
from readiness.results import CheckResult, RunRecord, Status, Text, Verdict
from readiness.subject import Kind, Subject

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _run(day: int, fails: int) -> RunRecord:
    started = T0 + timedelta(days=day)
    results = [CheckResult(
        requirement="LAN-SPEED", title=Text("Seats", "考位"),
        subject=Subject(Kind.SEAT, f"A{n:02d}", "lab", f"198.18.0.{n + 10}"),
        vantage="coordinator", status=Status.FAIL if n < fails else Status.PASS,
        message=Text(f"result {n}", f"结果 {n}"), measured={"throughput_mbps": 900.0 + n},
        threshold={"floor_mbps": 900}, citation=None, started_at=started, duration_s=1.0,
        check_id=f"CHK/{n:02d}") for n in range(4)]
    return RunRecord(site_name="第一考点", site_code="SITE-H", profile_id="cbec",
                     certificate=Text("Cross-border e-commerce", "跨境电子商务多平台运营"),
                     started_at=started, finished_at=started + timedelta(minutes=3),
                     verdict=Verdict.NOT_READY if fails else Verdict.READY, results=results,
                     required={"LAN-SPEED"})


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=300, highlight=False, color_system=None), out


def _verify(log: Path, keys: Path, store: Path | None = None, **kw) -> tuple[int, str]:
    console, buf = _console()
    code = verify_log(console, log, key_dir=keys, lang="en", store_path=store, **kw)
    return code, " ".join(buf.getvalue().split())


@pytest.fixture()
def site(tmp_path: Path) -> dict:
    """Three signed runs: not ready, not ready, then ready."""
    keys, runs = tmp_path / "keys", tmp_path / "runs"
    init_keys(keys)
    for day, fails in ((0, 2), (1, 1), (2, 0)):
        record_run(_run(day, fails), [], log_path=runs / "evidence.jsonl", key_dir=keys,
                   store_path=runs / "readiness.sqlite")
    return {"keys": keys, "runs": runs, "log": runs / "evidence.jsonl",
            "store": runs / "readiness.sqlite", "tmp": tmp_path}


def test_the_head_beside_the_log_is_signed(site: dict) -> None:
    head = read_head(site["log"], load_public(site["keys"]))
    assert head is not None and head.signed and head.seq == 14
    data = json.loads(head_path(site["log"]).read_text())
    assert data["type"] == "head" and data["log"] == "evidence.jsonl" and "sig" in data


def test_a_copied_folder_cut_short_with_a_rewritten_head_fails(site: dict) -> None:
    copy = site["tmp"] / "inspector" / "runs"
    shutil.copytree(site["runs"], copy)
    log = copy / "evidence.jsonl"
    assert _verify(log, site["keys"], copy / "readiness.sqlite")[0] == OK
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:10]))  # the last (ready... or any) run cut cleanly
    last = json.loads(lines[9])
    # the forger writes the head of the shorter log, in the old unsigned form
    head_path(log).write_text(json.dumps({"seq": last["seq"], "head": sha256_hex(
        lines[9].rstrip(b"\n")), "key": last["key"], "at": "2026-12-02T12:00:00+00:00"}))
    code, text = _verify(log, site["keys"], copy / "readiness.sqlite")
    assert code == NOT_VERIFIED, text
    assert "not signed" in text and "written by hand" in text
    # ...or keeps the signed form with the new numbers: the signature no longer matches
    signed = json.loads(head_path(site["log"]).read_text())
    signed.update(seq=last["seq"], head=sha256_hex(lines[9].rstrip(b"\n")))
    head_path(log).write_bytes(canonical(signed) + b"\n")
    code, text = _verify(log, site["keys"], copy / "readiness.sqlite")
    assert code == NOT_VERIFIED and "signature does not match" in text, text


def test_verify_says_a_key_from_the_same_folder_proves_nothing_on_its_own(site: dict) -> None:
    code, text = _verify(site["log"], site["keys"], site["store"])
    assert code == OK
    assert "NOT ANCHORED" in text and "same folder" in text and "proves nothing" in text
    code, text = _verify(site["log"], site["keys"], site["store"],
                         pub=site["keys"] / PUBLIC_NAME)
    assert code == OK and "NOT ANCHORED" not in text and "anchored: checked against" in text
    real = fingerprint(load_public(site["keys"]))
    code, text = _verify(site["log"], site["keys"], site["store"], fingerprint=real)
    assert code == OK and "NOT ANCHORED" not in text and "--fingerprint" in text
    code, text = _verify(site["log"], site["keys"], site["store"],
                         fingerprint=real.replace(real[-1], "0" if real[-1] != "0" else "1"))
    assert code == NOT_VERIFIED and "not the key the inspector holds" in text


def test_a_log_resigned_with_a_new_key_and_pin_is_caught_only_by_the_inspectors_key(
        site: dict) -> None:
    real = fingerprint(load_public(site["keys"]))
    forger = site["tmp"] / "forger"
    init_keys(forger)
    key = load_private(forger)
    # a whole new log of the forger's, "ready" all along, with a signed head of its own
    log = site["tmp"] / "copy" / "evidence.jsonl"
    log.parent.mkdir()
    prev, out = GENESIS, b""
    for seq, run in enumerate([_run(5, 0)]):
        record = build_record(seq, "run", {**run_body(run, []), "results": 0}, prev, key)
        out += canonical(record) + b"\n"
        prev = sha256_hex(canonical(record))
    log.write_bytes(out)
    from readiness.evidence.chain import write_head

    write_head(log, 0, prev, key)
    for name in (PUBLIC_NAME, PIN_NAME):
        (site["keys"] / name).chmod(0o644)
        (site["keys"] / name).write_bytes((forger / name).read_bytes())
    code, text = _verify(log, site["keys"])
    assert code == OK and "NOT ANCHORED" in text  # all it can say: the key is local
    code, text = _verify(log, site["keys"], fingerprint=real)
    assert code == NOT_VERIFIED and "not the key the inspector holds" in text


def test_verify_prints_each_runs_signed_verdict_time_and_counts(site: dict) -> None:
    code, text = _verify(site["log"], site["keys"], site["store"])
    assert code == OK
    assert "runs checked (3)" in text
    assert "seq 0 2026-12-01 20:00 +08:00 SITE-H not ready pass 2 warn 0 fail 2" in text
    assert "seq 10 2026-12-03 20:00 +08:00 SITE-H ready pass 4 warn 0 fail 0" in text
    assert "head: signed by the site key" in text and "(seq 14)" in text


def test_a_deleted_log_is_refused_not_reported_as_an_unsigned_copy(site: dict) -> None:
    site["log"].unlink()
    console, buf = _console()
    code = report(console, site["store"], site["tmp"] / "out", latest=True,
                  evidence_log=site["log"], key_dir=site["keys"], lang="en", pdf=False)
    text = " ".join(buf.getvalue().split())
    assert code == NOT_VERIFIED, text
    assert "No report was made" in text and "is missing" in text and "proof is gone" in text
    assert not (site["tmp"] / "out").exists() or not list((site["tmp"] / "out").iterdir())
    console, buf = _console()
    code = history(console, site["store"], evidence_log=site["log"], key_dir=site["keys"],
                   lang="en")
    assert code == NOT_VERIFIED and "proof is gone" in " ".join(buf.getvalue().split())


def test_an_older_log_with_an_unsigned_head_still_verifies_saying_so(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    init_keys(keys)
    key = load_private(keys)
    log = tmp_path / "evidence.jsonl"
    prev, out = GENESIS, b""
    for seq in range(3):  # run records as readiness wrote them before heads were signed
        body = {k: v for k, v in run_body(_run(seq, 1), []).items() if k != "signed_head"}
        record = build_record(seq, "run", {**body, "results": 0}, prev, key,
                              at=T0 + timedelta(days=seq))
        out += canonical(record) + b"\n"
        prev = sha256_hex(canonical(record))
    log.write_bytes(out)
    head_path(log).write_text(json.dumps({"seq": 2, "head": prev, "key": record["key"],
                                          "at": "2026-12-03T12:00:00+00:00"}))
    code, text = _verify(log, keys)
    assert code == OK, text
    assert "head: not signed" in text and "before heads were signed" in text
    assert "runs checked (3)" in text
    # a cut of that older log is still caught by its (unsigned) head
    log.write_bytes(b"".join(out.splitlines(keepends=True)[:2]))
    assert _verify(log, keys)[0] == NOT_VERIFIED
    # and with no head at all it is incomplete, as before
    head_path(log).unlink()
    assert _verify(log, keys)[0] == INCOMPLETE


def test_a_deleted_log_and_store_references_still_say_the_proof_is_missing(site: dict) -> None:
    import sqlite3

    site["log"].unlink()
    with sqlite3.connect(site["store"]) as db:  # the forger also blanks what the store knew
        db.execute("UPDATE runs SET evidence_ref = NULL")
        db.execute("DELETE FROM run_evidence")
        db.execute("DELETE FROM evidence_logs")
    console, buf = _console()
    code = report(console, site["store"], site["tmp"] / "out", latest=True,
                  evidence_log=site["log"], key_dir=site["keys"], lang="en", pdf=False)
    text = " ".join(buf.getvalue().split())
    assert code == OK  # a report, flagged on page 1 and here: the key says proof is missing
    assert "this site has a key" in text and "proof of every run is missing" in text
    page = next((site["tmp"] / "out").glob("*.html")).read_text()
    cover = page[:page.index("<section")]
    assert "NOT SIGNED" in cover and "proof of every run is missing" in cover
