"""Faults around the tool itself (issue 12, point 5): Ctrl-C or SIGTERM while the PDF is
printed, a store folder nobody can write, a store file that is not ours, silly arguments.

Every test runs the real `readiness` command in a subprocess, as a user would, on loopback
only. No lab is needed: the stored run is built with the store API.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from readiness.evidence.keys import init_keys
from readiness.evidence.recording import record_run
from readiness.report.pdf import find_chromium
from readiness.results import CheckResult, RunRecord, Status, Text, Verdict
from readiness.store import ResultsStore
from readiness.store_checks import StoreError
from readiness.subject import Kind, Subject

REPO = Path(__file__).resolve().parent.parent
STARTED = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def env(**more: str) -> dict[str, str]:
    """The command's environment: it runs in a folder of its own, so without PYTHONPATH
    `python -m readiness` would import whichever readiness is installed, not this one."""
    return {**os.environ, "PYTHONPATH": str(REPO), **more}


def readiness(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "readiness", *args, "--lang", "en"],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env=env(COLUMNS="250"))


def small_run() -> RunRecord:
    results = [CheckResult(
        requirement="LAN-SEATS", title=Text("Working seats", "可用考位"),
        subject=Subject(Kind.ROOM, f"r{i}", f"r{i}"),
        vantage="coordinator", status=Status.PASS, message=Text("40 seats answer", "40 个考位可达"),
        measured={"working_seats": 40}, threshold={"min_seats": 30}, citation=None,
        started_at=STARTED + timedelta(seconds=i), duration_s=1.0, check_id=f"LAN-SEATS/{i}")
        for i in range(3)]
    return RunRecord(
        site_name="Loopback school", site_code="LO-1", profile_id="cbec",
        certificate=Text("Cross-border e-commerce", "跨境电子商务多平台运营"),
        started_at=STARTED, finished_at=STARTED + timedelta(minutes=1), verdict=Verdict.READY,
        results=results, required={"LAN-SEATS"})


def stored_run(folder: Path) -> Path:
    store = folder / "readiness.sqlite"
    ResultsStore(store).save_run(small_run())
    return store


# ------------------------------------------------------------------ Ctrl-C during the PDF


def processes_mentioning(marker: str) -> list[int]:
    """Pids whose command line contains `marker` (the test's own temp folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """The TMPDIR given to the command: its name marks this run's Chromium processes.
    Short, as a site's /tmp is: pytest's own folders are too long for Chromium to move its
    sockets into its profile folder, and it would then leave them in this one."""
    folder = Path(tempfile.mkdtemp(prefix="rdy-tf-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def wait_for_chromium(tmp_dir: Path, proc: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _, stderr = proc.communicate()
            raise AssertionError(f"the report finished before Chromium was seen: {stderr}")
        # the profile folder of this run's Chromium lives in the TMPDIR given to the command
        if any(b"--print-to-pdf" in Path(f"/proc/{pid}/cmdline").read_bytes()
               for pid in processes_mentioning(str(tmp_dir / "readiness-chromium-"))
               if Path(f"/proc/{pid}").exists()):
            return
        time.sleep(0.02)
    raise AssertionError("Chromium was never seen printing the PDF")


@pytest.mark.skipif(find_chromium() is None, reason="needs Chromium (apt-get install chromium)")
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["ctrl-c", "sigterm"])
def test_a_signal_while_the_pdf_is_printed_leaves_nothing_behind(
        tmp_path: Path, short_tmp: Path, sig: signal.Signals, code: int) -> None:
    store = stored_run(tmp_path / "runs")
    out, tmp_dir = tmp_path / "report", short_tmp
    proc = subprocess.Popen(
        [sys.executable, "-m", "readiness", "report", "--store", str(store), "--out", str(out),
         "--log", str(tmp_path / "no-log.jsonl"), "--lang", "en"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env(TMPDIR=str(tmp_dir)))
    try:
        wait_for_chromium(tmp_dir, proc)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, stderr
    time.sleep(0.3)  # a killed process can take a moment to leave /proc
    left = processes_mentioning(str(tmp_dir))
    assert not left, f"Chromium processes of this run are still alive: {left}"
    files = sorted(p.name for p in out.iterdir())
    assert not [f for f in files if f.endswith(".partial")], files
    # the interrupt really came mid-print: no PDF was finished
    assert not [f for f in files if f.endswith(".pdf")], files
    assert list(tmp_dir.iterdir()) == []  # the throw-away Chromium profile is gone too


# ------------------------------------------------------------------ store files that are wrong


def test_a_text_file_as_the_store_is_a_clear_usage_error(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("exam day checklist\n" * 50)
    for args in (["history"], ["report", "--out", str(tmp_path / "out")]):
        proc = readiness(*args, "--store", str(notes), cwd=tmp_path)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        said = " ".join((proc.stdout + proc.stderr).split())
        assert "notes.txt is not a readiness results store" in said
        assert "--store" in said and "internal error" not in said
    assert notes.read_text() == "exam day checklist\n" * 50


def test_another_programs_sqlite_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    foreign = tmp_path / "inventory.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE pcs (name TEXT, ram_gb INTEGER)")
        db.execute("INSERT INTO pcs VALUES ('A01', 8)")
    before = foreign.read_bytes()
    proc = readiness("history", "--store", str(foreign), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    said = " ".join((proc.stdout + proc.stderr).split())
    assert "another program's SQLite file" in said and "inventory.sqlite" in said
    assert foreign.read_bytes() == before  # readiness did not add its tables to it


def test_a_folder_as_the_store_is_a_clear_usage_error(tmp_path: Path) -> None:
    proc = readiness("report", "--store", str(tmp_path), "--out", str(tmp_path / "out"),
                     cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "is a folder, not a results store file" in " ".join(proc.stdout.split())


# ------------------------------------------------------------------ a read-only runs/ folder


def immutable_supported(folder: Path) -> bool:
    probe = folder / "chattr-probe"
    probe.mkdir()
    try:
        done = subprocess.run(["chattr", "+i", str(probe)], capture_output=True)
        return done.returncode == 0
    except FileNotFoundError:
        return False
    finally:
        subprocess.run(["chattr", "-i", str(probe)], capture_output=True)
        probe.rmdir()


SITE = textwrap.dedent("""\
    site: {name: Loopback school, code: LO-1}
    profile: cbec
    rooms:
      - id: lo
        subnet: 127.0.0.0/24
        router: {address: 127.0.0.1}
        exam_servers:
          primary: {address: 127.0.0.10}
        proctor: {address: 127.0.0.2}
        seats:
          A01-A04: 127.0.0.101-104
    """)


def check(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    runs = tmp_path / "runs"
    return readiness("check", str(tmp_path / "site.yaml"), "--store",
                     str(runs / "readiness.sqlite"), "--log", str(runs / "evidence.jsonl"),
                     "--dir", str(tmp_path / "keys"), *args, cwd=tmp_path)


@pytest.mark.lab
def test_a_read_only_runs_folder_is_not_signed_as_recorded(tmp_path: Path) -> None:
    # The fault is real and root cannot bypass it: `chattr +i` makes the folder immutable,
    # so SQLite cannot create its journal there (root ignores chmod 555, not this). The
    # evidence log already in it can still be appended to: the very case where `check`
    # used to sign a run the store had not kept.
    if os.geteuid() != 0 or not immutable_supported(tmp_path):
        pytest.skip("needs root and a file system with chattr +i (ext4, xfs)")
    (tmp_path / "site.yaml").write_text(SITE)
    assert readiness("keys", "init", "--dir", str(tmp_path / "keys"),
                     cwd=tmp_path).returncode == 0
    first = check(tmp_path, "--only", "LAN-SEATS")
    runs = tmp_path / "runs"
    log, store = runs / "evidence.jsonl", runs / "readiness.sqlite"
    assert "saved and signed; chain head:" in first.stdout, first.stdout + first.stderr
    lines_before = log.read_text().count("\n")
    subprocess.run(["chattr", "+i", str(runs)], check=True)
    try:
        second = check(tmp_path, "--only", "LAN-SEATS", "--json", str(tmp_path / "r.json"))
        # reading a store one cannot write still works
        history = readiness("history", "--store", str(store), cwd=tmp_path)
    finally:
        subprocess.run(["chattr", "-i", str(runs)], check=True)
    said = " ".join(second.stdout.split())
    assert second.returncode == first.returncode  # the verdict's code, as before
    assert "not recorded" in said and f"cannot write the results store {store}" in said
    assert "read-only" in said and f"not signed into {log} either" in said
    assert "saved and signed" not in said and "internal error" not in second.stderr
    assert log.read_text().count("\n") == lines_before  # nothing was signed
    assert len(ResultsStore(store).list_runs()) == 1
    assert json.loads((tmp_path / "r.json").read_text())["site"]["code"] == "LO-1"
    assert history.returncode == 0, history.stdout + history.stderr
    assert "Loopback school" in history.stdout


@pytest.mark.lab
def test_record_run_signs_nothing_when_the_store_cannot_be_written(tmp_path: Path) -> None:
    # the same fault one level down, as the scheduler meets it (it calls record_run too)
    if os.geteuid() != 0 or not immutable_supported(tmp_path):
        pytest.skip("needs root and a file system with chattr +i (ext4, xfs)")
    runs, keys = tmp_path / "runs", tmp_path / "keys"
    init_keys(keys)
    log, store = runs / "evidence.jsonl", runs / "readiness.sqlite"
    first = record_run(small_run(), [], log_path=log, key_dir=keys, store_path=store)
    assert first.run_id == 1 and first.head is not None
    log_before = log.read_bytes()
    subprocess.run(["chattr", "+i", str(runs)], check=True)
    try:
        with pytest.raises(StoreError) as caught:
            record_run(small_run(), [], log_path=log, key_dir=keys, store_path=store)
        stored = ResultsStore(store).list_runs()  # still readable
    finally:
        subprocess.run(["chattr", "-i", str(runs)], check=True)
    assert log.read_bytes() == log_before
    assert [r.run_id for r in stored] == [1]
    text = caught.value.text
    assert f"cannot write the results store {store}" in text.en and "read-only" in text.en
    assert f"not signed into {log} either" in text.en
    assert str(store) in text.zh and "未签名" in text.zh


class TrickleHandler(BaseHTTPRequestHandler):
    """A download that never ends: keeps the check busy on loopback until it is stopped."""

    seen = threading.Event()

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        TrickleHandler.seen.set()
        self.send_response(200)
        self.send_header("Content-Length", str(1 << 30))
        self.end_headers()
        try:
            for _ in range(600):
                self.wfile.write(b"x" * 1024)
                time.sleep(0.05)
        except OSError:
            pass  # the check went away: that is the point

    def log_message(self, *args: object) -> None:
        pass


def test_ctrl_c_during_check_leaves_no_partial_output_and_records_nothing(
        tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), TrickleHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    TrickleHandler.seen.clear()
    url = f"http://127.0.0.1:{server.server_address[1]}/100MB.bin"
    (tmp_path / "site.yaml").write_text(SITE + textwrap.indent(textwrap.dedent(f"""\
        wan_endpoints:
          - {{name: slow mirror, kind: http_download, url: "{url}"}}
        """), "    "))
    runs = tmp_path / "runs"
    out_json, out_xml = tmp_path / "out" / "r.json", tmp_path / "out" / "r.xml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "readiness", "check", str(tmp_path / "site.yaml"), "--only",
         "WAN-FLOOR", "--json", str(out_json), "--junit", str(out_xml), "--store",
         str(runs / "readiness.sqlite"), "--log", str(runs / "evidence.jsonl"), "--lang", "en"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    try:
        assert TrickleHandler.seen.wait(60), "the check never started its download"
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        stopped_s = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
        server.shutdown()
        server.server_close()
    assert proc.returncode == 130, stderr
    assert stopped_s < 15  # it stopped, it did not run the download to its end
    left = [p.name for folder in (tmp_path, tmp_path / "out", runs) if folder.is_dir()
            for p in folder.iterdir() if p.name.endswith(".partial")]
    assert not left and not out_json.exists() and not out_xml.exists()
    assert not (runs / "readiness.sqlite").exists() and not (runs / "evidence.jsonl").exists()


# ------------------------------------------------------------------ arguments


def test_since_beyond_the_calendar_is_a_usage_error(tmp_path: Path) -> None:
    stored_run(tmp_path)
    proc = readiness("history", "--since", "99999999999d", "--store",
                     str(tmp_path / "readiness.sqlite"), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    said = " ".join(proc.stderr.split())
    assert "99999999999d" in said and "365d" in said and "internal error" not in said


@pytest.mark.parametrize("only", ["", " , "])
def test_an_empty_only_is_a_usage_error_not_everything(tmp_path: Path, only: str) -> None:
    (tmp_path / "site.yaml").write_text(SITE)
    proc = check(tmp_path, "--only", only, "--no-store")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--only names no requirement" in " ".join(proc.stderr.split())
    assert not (tmp_path / "runs").exists()  # nothing was run


def test_nothing_is_left_in_tmp_by_a_finished_report(tmp_path: Path, short_tmp: Path) -> None:
    # the control of the signal test: a report that runs to the end cleans up as well
    if find_chromium() is None:
        pytest.skip("needs Chromium")
    store = stored_run(tmp_path / "runs")
    tmp_dir = short_tmp
    proc = subprocess.run(
        [sys.executable, "-m", "readiness", "report", "--store", str(store), "--out",
         str(tmp_path / "report"), "--log", str(tmp_path / "no-log.jsonl"), "--lang", "en"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env=env(TMPDIR=str(tmp_dir)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [p.suffix for p in sorted((tmp_path / "report").iterdir())] == [".html", ".pdf"], \
        proc.stdout
    assert not processes_mentioning(str(tmp_dir)) and list(tmp_dir.iterdir()) == []
