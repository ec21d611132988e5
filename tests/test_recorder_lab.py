"""CAM-STORE against the lab recorder (readiness/lab/onvif_recorder.py and rtsp_replay.py)
in a lab room of its own: the recorder really records what the lab cameras send and
replays it over RTSP; `readiness check` runs from the proctor PC's namespace.

- a recorded camera passes with a snapshot decoded from its replay, kept as evidence
  and shown (with its SHA-256) on the camera's tile of the report;
- the camera the recorder does not record fails naming it; under cbec the camera that
  sends no sound fails for the missing audio;
- the full disk fails on storage; a recorder that does not answer is an error naming it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    if os.geteuid() != 0:
        pytest.skip("builds network namespaces: run as root")
    from readiness.lab import LabSpec, missing_prerequisites, running
    from readiness.lab.spec import RecorderSpec

    if missing_prerequisites():
        pytest.skip("lab prerequisites missing")
    spec = LabSpec(seats=1, agents=False, cameras=[
        {"name": "cam-1", "width": 1280, "height": 720, "audio": True, "auth": "digest"},
        {"name": "cam-2", "width": 1280, "height": 720, "audio": True},
        {"name": "cam-3", "width": 1280, "height": 720, "audio": False}],
        recorder=RecorderSpec(capacity_gb=4000, free_gb=2000),
        faults=[{"kind": "camera_not_recorded", "camera": "cam-2"},
                {"kind": "recorder_disk_full"}])
    with running(spec, f"rdyt{os.getpid()}n") as room:
        yield room


def _site(lab: Any, folder: Path, **recorder: Any) -> Path:
    site = yaml.safe_load(lab.site_file.read_text())
    room = site["rooms"][0]
    room["seats"] = {"A01": "198.18.10.101"}
    room["cameras"] = [
        {"name": "cam-1", "url": "rtsp://198.18.10.201:554/stream", "username": "admin",
         "password": "secret:camera_password"},
        {"name": "cam-2", "url": "rtsp://198.18.10.202:554/stream"},
        {"name": "cam-3", "url": "rtsp://198.18.10.203:554/stream"}]
    room["recorder"].update(recorder)
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True))
    return path


def _check(lab: Any, site: Path, folder: Path) -> dict[str, Any]:
    out = folder / "result.json"
    proc = subprocess.run(
        lab.exec_argv("proctor", [sys.executable, "-m", "readiness", "check", str(site),
                                  "--only", "CAM-STORE", "--json", str(out), "--store",
                                  str(folder / "runs.sqlite"), "--lang", "en"]),
        capture_output=True, text=True, timeout=240, cwd=REPO)
    assert out.exists(), proc.stdout + proc.stderr
    return {r["id"]: r for r in json.loads(out.read_text())["results"]}


@pytest.fixture(scope="module")
def checked(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    folder = tmp_path_factory.mktemp("store")
    return _check(lab, _site(lab, folder), folder), folder


def test_a_recorded_camera_passes_with_its_replay_kept_as_evidence(checked: tuple) -> None:
    results, folder = checked
    cam1 = results["CAM-STORE/lab/cam-1"]
    assert cam1["status"] == "pass", cam1
    m = cam1["measured"]
    assert m["recording"] == "rec-cam-1" and m["data_age_s"] < 60
    assert m["replay"]["width"] == 1280 and m["replay"]["frames"] > 0
    assert m["replay_audio"] is True and "Audio" in m["tracks"]
    assert "secret" not in json.dumps(cam1) and "rtsp://admin" not in json.dumps(cam1)
    [snapshot] = cam1["evidence"]
    path = Path(snapshot)
    assert path.read_bytes()[:2] == b"\xff\xd8"  # a JPEG decoded from the replay
    # the report shows it on cam-1's tile with the hash the evidence log records
    report = folder / "report"
    subprocess.run([sys.executable, "-m", "readiness", "report", "--store",
                    str(folder / "runs.sqlite"), "--out", str(report), "--no-pdf",
                    "--lang", "en"], check=True, capture_output=True, timeout=120, cwd=REPO)
    html = next(report.glob("*.html")).read_text()
    assert hashlib.sha256(path.read_bytes()).hexdigest() in html


def test_the_camera_not_recorded_fails_naming_it(checked: tuple) -> None:
    results, _ = checked
    cam2 = results["CAM-STORE/lab/cam-2"]
    assert cam2["status"] == "fail", cam2
    assert cam2["subject"]["name"] == "cam-2"
    assert [f["code"] for f in cam2["findings"]] == ["recording.missing"]
    assert "cam-1, cam-3" in cam2["message"]


def test_a_recording_without_sound_fails_under_cbec(checked: tuple) -> None:
    results, _ = checked
    cam3 = results["CAM-STORE/lab/cam-3"]
    assert cam3["status"] == "fail", cam3
    assert [f["code"] for f in cam3["findings"]] == ["recording.no_audio"]
    assert cam3["measured"]["replay"]["width"] == 1280  # it does replay: only sound lacks


def test_the_full_disk_fails_on_storage(checked: tuple) -> None:
    results, _ = checked
    storage = results["CAM-STORE/lab/recorder"]
    assert storage["status"] == "fail", storage
    assert storage["subject"]["kind"] == "recorder"
    assert storage["measured"]["free_gb"] == 0 and storage["measured"]["capacity_gb"] == 4000
    codes = [f["code"] for f in storage["findings"]]
    assert codes[0] == "recording.storage_full"


def test_a_recorder_that_does_not_answer_is_an_error_naming_it(
        lab: Any, tmp_path: Path) -> None:
    results = _check(lab, _site(lab, tmp_path, address="198.18.10.6"), tmp_path)
    for result in results.values():
        assert result["status"] == "error", result
        assert "198.18.10.6" in result["message"]
