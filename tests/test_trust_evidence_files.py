"""Issue 20, break 2: a file a signed record points to (a camera snapshot, a raw
capture) is compared with the sha256 in that record before the report shows it.

After signing, one snapshot is swapped for another picture, one is deleted, one is
planted where none existed at signing time, and a raw capture is swapped. The report
must show only the untouched picture, say on each other tile what happened, print the
signed hash (not the forged file's), and list the raw capture as not the signed one.
"""

from __future__ import annotations

import hashlib
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from rich.console import Console

from readiness.commands.report import OK, report
from readiness.evidence.keys import init_keys
from readiness.evidence.recording import record_run
from readiness.results import CheckResult, RunRecord, Status, Text, Verdict
from readiness.subject import Kind, Subject

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def picture(path: Path, shade: int) -> None:
    image = np.full((120, 160, 3), (shade, 120, 200 - shade // 2), np.uint8)
    cv2.putText(image, str(shade), (10, 60), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 255), 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


def camera_result(n: int, files: list[str]) -> CheckResult:
    return CheckResult(
        requirement="CAM-RES", title=Text("Camera resolution", "摄像头分辨率"),
        subject=Subject(Kind.CAMERA, f"cam{n}", "lab", f"198.18.0.{200 + n}"),
        vantage="coordinator", status=Status.PASS, message=Text("1920x1080", "1920x1080"),
        measured={"width": 1920, "height": 1080}, threshold={"min_height": 720},
        citation=None, started_at=T0, duration_s=1.0, check_id=f"CAM/{n}", evidence=files)


def camera_run() -> RunRecord:
    results = [camera_result(1, ["snap/cam1.jpg", "raw/cam1.h264"])]
    results += [camera_result(n, [f"snap/cam{n}.jpg"]) for n in (2, 3, 4)]
    return RunRecord(site_name="考点", site_code="SITE-S", profile_id="cbec",
                     certificate=Text("Cross-border e-commerce", "跨境电子商务多平台运营"),
                     started_at=T0, finished_at=T0 + timedelta(minutes=2),
                     verdict=Verdict.READY, results=results, required={"CAM-RES"})


def tile(page: str, camera: str) -> str:
    found = re.search(rf'<figure class="camera" data-camera="{camera}".*?</figure>', page, re.S)
    assert found is not None, camera
    return found.group(0)


def make_report(runs: Path, keys: Path, out: Path) -> tuple[int, str, str]:
    buf = io.StringIO()
    console = Console(file=buf, width=300, highlight=False, color_system=None)
    code = report(console, runs / "readiness.sqlite", out, latest=True,
                  evidence_log=runs / "evidence.jsonl", key_dir=keys, lang="en", pdf=False)
    pages = list(out.glob("*.html"))
    return code, buf.getvalue(), pages[0].read_text() if pages else ""


@pytest.fixture()
def tampered(tmp_path: Path) -> dict:
    keys, runs = tmp_path / "keys", tmp_path / "runs"
    init_keys(keys)
    for n, shade in ((1, 40), (2, 90), (3, 140)):
        picture(runs / "snap" / f"cam{n}.jpg", shade)
    (runs / "raw").mkdir(parents=True)
    (runs / "raw" / "cam1.h264").write_bytes(b"\x00\x00\x00\x01" + bytes(range(200)))
    signed = {n: hashlib.sha256((runs / "snap" / f"cam{n}.jpg").read_bytes()).hexdigest()
              for n in (1, 2, 3)}
    record_run(camera_run(), [], log_path=runs / "evidence.jsonl", key_dir=keys,
               store_path=runs / "readiness.sqlite", evidence_dir=runs)
    # after signing: swap cam2, delete cam3, plant cam4, swap the raw capture
    picture(runs / "snap" / "cam2.jpg", 250)
    (runs / "snap" / "cam3.jpg").unlink()
    picture(runs / "snap" / "cam4.jpg", 10)
    (runs / "raw" / "cam1.h264").write_bytes(b"\x00\x00\x00\x01forged")
    forged2 = hashlib.sha256((runs / "snap" / "cam2.jpg").read_bytes()).hexdigest()
    return {"keys": keys, "runs": runs, "tmp": tmp_path, "signed": signed, "forged2": forged2}


def test_only_the_signed_picture_is_shown_and_each_other_tile_says_why(tampered):
    code, out, page = make_report(tampered["runs"], tampered["keys"], tampered["tmp"] / "out")
    assert code == OK, out
    signed = tampered["signed"]
    one = tile(page, "cam1")
    assert "<img" in one and signed[1] in one and "not compared" not in one

    two = tile(page, "cam2")  # swapped: not shown, both hashes named
    assert "<img" not in two
    assert "is not the file that was signed" in two and "签名时的文件" in two
    assert signed[2] in two and tampered["forged2"] in two

    three = tile(page, "cam3")  # deleted: the signed hash is said missing
    assert "<img" not in three and "is missing" in three and signed[3] in three

    four = tile(page, "cam4")  # planted where nothing was signed
    assert "<img" not in four
    assert "no file snap/cam4.jpg existed when this run was signed" in four
    # the forged file's hash is never printed as if it were the proof
    assert hashlib.sha256((tampered["runs"] / "snap" / "cam4.jpg").read_bytes()
                          ).hexdigest() not in page


def test_a_swapped_raw_capture_is_named_where_the_files_are_listed(tampered):
    _, _, page = make_report(tampered["runs"], tampered["keys"], tampered["tmp"] / "out")
    listed = re.search(r'<li class="mono" data-file="raw/cam1.h264" data-checked="(\w+)">'
                       r'(.*?)</li>', page, re.S)
    assert listed is not None and listed.group(1) == "no"
    assert "is not the file that was signed" in listed.group(2)


def test_untouched_files_are_checked_and_pass(tmp_path: Path) -> None:
    keys, runs = tmp_path / "keys", tmp_path / "runs"
    init_keys(keys)
    for n in (1, 2, 3, 4):
        picture(runs / "snap" / f"cam{n}.jpg", 30 * n)
    (runs / "raw").mkdir(parents=True)
    (runs / "raw" / "cam1.h264").write_bytes(b"capture")
    record_run(camera_run(), [], log_path=runs / "evidence.jsonl", key_dir=keys,
               store_path=runs / "readiness.sqlite", evidence_dir=runs)
    code, out, page = make_report(runs, keys, tmp_path / "out")
    assert code == OK, out
    for n in (1, 2, 3, 4):
        assert "<img" in tile(page, f"cam{n}")
    assert 'data-file="raw/cam1.h264" data-checked="yes"' in page


def test_an_unsigned_runs_pictures_say_they_were_not_compared(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for n in (1, 2, 3, 4):
        picture(runs / "snap" / f"cam{n}.jpg", 30 * n)
    record_run(camera_run(), [], store_path=runs / "readiness.sqlite")  # no key: not signed
    code, out, page = make_report(runs, tmp_path / "keys", tmp_path / "out")
    assert code == OK, out
    one = tile(page, "cam1")
    assert "<img" in one and "not compared with a signed hash" in one
