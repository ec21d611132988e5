"""What a forger would try against the proof, and what must stop them.

Each test does what a person with write access to `runs/` could do by hand (edit the
SQLite store, cut the log, replace site.pub) and checks what an inspector or a script
would see: the report refused, verify's exit code, the words on page 1.
"""

from __future__ import annotations

import io
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console

from readiness.commands import evidence as commands
from readiness.commands.evidence import INCOMPLETE, NOT_VERIFIED, OK, verify_log
from readiness.commands.report import report
from readiness.evidence import ledger
from readiness.evidence.canonical import canonical
from readiness.evidence.chain import (
    WINDOW,
    EvidenceLog,
    Reason,
    build_record,
    head_path,
    record_hash,
    verify,
)
from readiness.evidence.keys import PIN_NAME, init_keys, load_private, load_public
from readiness.evidence.record import append_attestation
from readiness.evidence.recording import record_run
from readiness.results import CheckResult, Citation, RunRecord, Status, Text, Verdict
from readiness.subject import Kind, Subject

T0 = datetime(2024, 5, 20, 1, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parent.parent


def _result(n: int, status: Status, started: datetime) -> CheckResult:
    return CheckResult(
        requirement="LAN-SEATS" if n % 2 else "LAN-SPEED", title=Text("Seats", "考位"),
        subject=Subject(Kind.SEAT, f"A{n:02d}", "lab", f"198.18.0.{n + 10}"),
        vantage="coordinator", status=status,
        message=Text(f"result {n}", f"结果 {n}"), measured={"throughput_mbps": 900.0 + n},
        threshold={"floor_mbps": 900},
        citation=Citation("002_778480b43cbac38e.txt", "第十一条(二)", "千兆到桌面"),
        started_at=started, duration_s=1.5, check_id=f"CHK/{n:02d}")


def _run(started: datetime, fails: int = 3) -> RunRecord:
    results = [_result(n, Status.FAIL if n < fails else Status.PASS, started)
               for n in range(8)]
    return RunRecord(
        site_name="第一考点", site_code="SITE01", profile_id="cbec",
        certificate=Text("Cross-border e-commerce", "跨境电子商务多平台运营"),
        started_at=started, finished_at=started + timedelta(minutes=3),
        verdict=Verdict.NOT_READY if fails else Verdict.READY, results=results,
        required={"LAN-SEATS", "LAN-SPEED"})


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=300, highlight=False, color_system=None), out


@pytest.fixture
def site(tmp_path: Path) -> dict:
    """A site with a key, two signed runs (the latest with three failures)."""
    keys = tmp_path / "keys"
    init_keys(keys)
    runs = tmp_path / "runs"
    paths = {"keys": keys, "log": runs / "evidence.jsonl", "store": runs / "readiness.sqlite",
             "tmp": tmp_path}
    for i in range(2):
        record_run(_run(T0 + timedelta(days=i)), [], log_path=paths["log"], key_dir=keys,
                   store_path=paths["store"])
    return paths


def _report(site: dict, out: Path) -> tuple[int, str]:
    console, buf = _console()
    code = report(console, site["store"], out, latest=True, evidence_log=site["log"],
                  key_dir=site["keys"], lang="en", pdf=False)
    return code, buf.getvalue()


def _verify(site: dict, **kw) -> tuple[int, str]:
    console, buf = _console()
    code = verify_log(console, site["log"], key_dir=kw.pop("key_dir", site["keys"]),
                      lang="en", store_path=kw.pop("store_path", site["store"]), **kw)
    return code, buf.getvalue()


# --- 1. everything an inspector sees comes from signed records ---------------------------


def test_a_store_edited_to_ready_is_refused_naming_the_first_differing_check(
        site: dict) -> None:
    code, _ = _report(site, site["tmp"] / "before")
    assert code == OK
    with sqlite3.connect(site["store"]) as db:  # what the forger did
        db.execute("UPDATE runs SET verdict = 'ready'")
        db.execute("UPDATE results SET status = 'pass' WHERE status = 'fail'")
    code, text = _report(site, site["tmp"] / "after")
    assert code == NOT_VERIFIED
    assert "No report was made" in text and "run #2" in text
    assert "CHK/00" in text and "status" in text and "fail" in text  # the first edited check
    assert not (site["tmp"] / "after").exists() or not list((site["tmp"] / "after").iterdir())


def test_history_refuses_an_edited_store_too(site: dict) -> None:
    console, buf = _console()
    assert commands.history(console, site["store"], evidence_log=site["log"],
                            key_dir=site["keys"], lang="en") == OK
    with sqlite3.connect(site["store"]) as db:
        db.execute("UPDATE results SET measured = '{\"throughput_mbps\": 999.0}'"
                   " WHERE check_id = 'CHK/05' AND run_id = 1")
    console, buf = _console()
    assert commands.history(console, site["store"], evidence_log=site["log"],
                            key_dir=site["keys"], lang="en") == NOT_VERIFIED
    assert "run #1" in buf.getvalue() and "CHK/05" in buf.getvalue()
    assert "measured" in buf.getvalue()


def test_dropping_the_evidence_reference_does_not_make_an_edit_unsigned(site: dict) -> None:
    # the forger also blanks evidence_ref, hoping for a mere NOT SIGNED page
    with sqlite3.connect(site["store"]) as db:
        db.execute("UPDATE runs SET verdict = 'ready', evidence_ref = NULL")
    code, text = _report(site, site["tmp"] / "out")
    assert code == NOT_VERIFIED and "verdict" in text


def test_an_edited_run_record_is_caught_even_before_the_last_verified_position(
        site: dict) -> None:
    assert _report(site, site["tmp"] / "first")[0] == OK  # remembers the verified head
    state = ledger.load_state(site["store"], site["log"])
    assert state is not None and state.verified is not None and state.verified.seq == 17
    lines = site["log"].read_bytes().splitlines(keepends=True)
    # line 11: the second run's first result (a fail), signed before the report's check
    lines[10] = lines[10].replace(b'"status":"fail"', b'"status":"pass"', 1)
    assert lines[10] != site["log"].read_bytes().splitlines(keepends=True)[10]
    site["log"].write_bytes(b"".join(lines))
    code, text = _report(site, site["tmp"] / "second")
    assert code == NOT_VERIFIED and "signature" in text


def test_an_unsigned_run_says_not_signed_on_page_one_in_both_languages(tmp_path: Path) -> None:
    store = tmp_path / "readiness.sqlite"
    record_run(_run(T0), [], store_path=store)  # no site key yet: stored, not signed
    console, _ = _console()
    assert report(console, store, tmp_path / "out", latest=True,
                  evidence_log=tmp_path / "evidence.jsonl", key_dir=tmp_path / "keys",
                  lang="en", pdf=False) == OK
    page = next((tmp_path / "out").glob("*.html")).read_text()
    cover = page[:page.index("<section")]  # page 1: the header before section 1
    assert "NOT SIGNED" in cover and "未签名" in cover


def test_an_unsigned_run_beside_a_signed_log_is_still_marked(site: dict) -> None:
    record_run(_run(T0 + timedelta(days=5), fails=0), [], store_path=site["store"])
    code, _ = _report(site, site["tmp"] / "out")
    assert code == OK
    page = next((site["tmp"] / "out").glob("*.html")).read_text()
    cover = page[:page.index("<section")]
    assert "NOT SIGNED" in cover and "未签名" in cover


def test_a_signed_run_has_no_not_signed_banner(site: dict) -> None:
    assert _report(site, site["tmp"] / "out")[0] == OK
    page = next((site["tmp"] / "out").glob("*.html")).read_text()
    assert "NOT SIGNED" not in page


# --- 2. verify that a script can rely on ----------------------------------------------------


def test_a_log_cut_at_a_record_boundary_fails_without_head(site: dict) -> None:
    assert _verify(site)[0] == OK
    lines = site["log"].read_bytes().splitlines(keepends=True)
    site["log"].write_bytes(b"".join(lines[:9]))  # the second run removed, cleanly
    code, text = _verify(site, store_path=None)  # the head file alone catches it
    assert code == NOT_VERIFIED and "truncated" in text and "seq 17" in text
    head_path(site["log"]).unlink()  # the forger removes the head file too
    code, text = _verify(site)  # ...the store still remembers
    assert code == NOT_VERIFIED and "results store" in text
    code, text = _verify(site, store_path=None)  # nothing left on record: never plain OK
    assert code == INCOMPLETE and "INCOMPLETE" in text


def test_an_empty_log_with_a_head_on_record_fails(site: dict) -> None:
    site["log"].write_bytes(b"")
    code, text = _verify(site)
    assert code == NOT_VERIFIED and "truncated" in text
    empty = site["tmp"] / "empty.jsonl"
    empty.write_bytes(b"")
    console, buf = _console()
    assert verify_log(console, empty, key_dir=site["keys"], lang="en") == INCOMPLETE


def test_a_replaced_site_pub_beside_the_log_is_refused(site: dict) -> None:
    # the forger signs a log of their own and replaces site.pub with their key
    forger = site["tmp"] / "forger"
    init_keys(forger)
    forged = EvidenceLog(site["log"], load_private(forger))
    site["log"].unlink()
    head_path(site["log"]).unlink()
    append_attestation(forged, "someone", "考务组长", {"staff": "9"})
    (site["keys"] / "site.pub").write_bytes((forger / "site.pub").read_bytes())
    code, text = _verify(site, store_path=None)
    assert code == NOT_VERIFIED
    assert "site.pub" in text and "pinned" in text
    # ...and the pin too: the store still pins the real key
    (site["keys"] / PIN_NAME).unlink()
    (site["keys"] / PIN_NAME).write_bytes((forger / PIN_NAME).read_bytes())
    code, text = _verify(site)
    assert code == NOT_VERIFIED and "results store" in text


def test_verify_help_documents_the_exit_codes() -> None:
    out = subprocess.run([sys.executable, "-m", "readiness", "verify", "--help"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    for code in ("0", "1", "2", "3"):
        assert re.search(rf"^\s+{code}\s+\w", out, re.M), out


def test_cli_exit_code_of_a_truncated_log(site: dict) -> None:
    lines = site["log"].read_bytes().splitlines(keepends=True)
    site["log"].write_bytes(b"".join(lines[:9]))
    done = subprocess.run(
        [sys.executable, "-m", "readiness", "verify", str(site["log"]), "--dir",
         str(site["keys"]), "--store", str(site["store"]), "--lang", "en"],
        cwd=REPO, capture_output=True, text=True)
    assert done.returncode == NOT_VERIFIED, done.stdout + done.stderr


# --- the streaming verifier names the bad record exactly, deep inside a window ---------------


@pytest.fixture
def long_log(tmp_path: Path) -> tuple[Path, Path]:
    keys = tmp_path / "keys"
    init_keys(keys)
    log = EvidenceLog(tmp_path / "long.jsonl", load_private(keys))
    log.append_many([("attestation", {"n": i}) for i in range(WINDOW * 2 + 40)])
    return log.path, keys


def test_an_edit_deep_inside_a_window_is_named_at_its_line(long_log: tuple[Path, Path]) -> None:
    path, keys = long_log
    lines = path.read_bytes().splitlines(keepends=True)
    lines[300] = lines[300].replace(b'{"n":300}', b'{"n":301}')
    path.write_bytes(b"".join(lines))
    report = verify(path, load_public(keys))
    assert (report.ok, report.bad_line, report.reason, report.count) == (
        False, 301, Reason.EDITED, 300)


def test_a_record_resigned_by_another_key_inside_a_window_is_named(
        long_log: tuple[Path, Path]) -> None:
    path, keys = long_log
    lines = path.read_bytes().splitlines(keepends=True)
    intruder = Ed25519PrivateKey.generate()
    import json

    old = json.loads(lines[-1])
    forged = build_record(old["seq"], "attestation", {"n": "forged"}, old["prev"], intruder)
    lines[-1] = canonical(forged) + b"\n"
    path.write_bytes(b"".join(lines))
    report = verify(path, load_public(keys))
    assert (report.bad_line, report.reason) == (len(lines), Reason.OTHER_KEY)


def test_incremental_verify_checks_only_what_follows_and_notices_a_changed_anchor(
        long_log: tuple[Path, Path]) -> None:
    path, keys = long_log
    first = verify(path, load_public(keys))
    assert first.ok and first.end is not None
    log = EvidenceLog(path, load_private(keys))
    log.append("attestation", {"n": "later"})
    again = verify(path, load_public(keys), resume=first.end)
    assert again.ok and again.resumed_at == first.end.line and again.count == first.count + 1
    assert again.head == record_hash(__import__("json").loads(path.read_bytes().splitlines()[-1]))
    # the anchor's bytes changed: the resume is refused and the whole log checked again
    lines = path.read_bytes().splitlines(keepends=True)
    lines[first.end.line - 1] = lines[first.end.line - 1].replace(b'"n":', b'"n" :', 1)
    path.write_bytes(b"".join(lines))
    third = verify(path, load_public(keys), resume=first.end)
    assert not third.ok and third.resumed_at is None and third.bad_line == first.end.line


def test_alerts_compare_only_runs_that_match_their_signed_records(site: dict) -> None:
    from readiness.alerts import load_checked_runs
    from readiness.evidence.errors import EvidenceError
    from readiness.store import ResultsStore

    store = ResultsStore(site["store"])
    current, previous = load_checked_runs(store, 2, 1, site["log"], site["keys"])
    assert current is not None and previous is not None
    with sqlite3.connect(site["store"]) as db:  # a "fix" typed into the store
        db.execute("UPDATE results SET status = 'pass' WHERE run_id = 2")
    with pytest.raises(EvidenceError, match=r"run #2 .*CHK/00"):
        load_checked_runs(store, 2, 1, site["log"], site["keys"])
