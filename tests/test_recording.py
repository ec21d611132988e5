"""CAM-STORE without namespaces: the judges on recorded figures, the ISAPI disk page's
parsing, how a camera's recording is recognised, and the ONVIF client
(onvif-zeep-async) against the lab recorder's real ONVIF responder on loopback: the
same SOAP over HTTP, WS-Security digest and HTTP Digest that a recorder speaks."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from probes.engines.onvif_recorder import (
    Recorder,
    RecorderError,
    Recording,
    parse_isapi_storage,
    read_isapi_storage,
)
from probes.recording import match
from readiness.config.profile import CamStoreThresholds
from readiness.judges import recording as judges
from readiness.lab.loopback_cameras import free_port
from readiness.results import ProbeOutcome, Status, Text

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "Nvr-Lab-Pa55"
CBEC = CamStoreThresholds(record_whole_exam=True, max_data_age_s=60, audio_required=True,
                          camera_bitrate_mbps=4, exam_duration_min=120)
EDA = CBEC.model_copy(update={"audio_required": False})
CAMERA_PARAMS = {"camera": "cam-1", "recorder": "198.18.10.5:80",
                 "site_field": "rooms[0].cameras"}


def _recorded(**changes: object) -> ProbeOutcome:
    measured = {"recorder": "198.18.10.5:80", "recordings": ["cam-1"], "recording": "rec-1",
                "tracks": ["Video", "Audio"], "data_age_s": 2.0, "replay_audio": True,
                "replay": {"width": 1920, "height": 1080, "frames": 40}}
    measured.update(changes)
    return ProbeOutcome(Status.PASS, Text("measured", "已测"), measured)


def test_a_recent_recording_that_replays_passes() -> None:
    judged = judges.camera(_recorded(), {"thresholds": CBEC, **CAMERA_PARAMS})
    assert judged.status is Status.PASS, judged.message
    assert "1920×1080" in judged.message.en and "with audio" in judged.message.en


def test_a_camera_without_a_recording_fails_naming_what_the_recorder_has() -> None:
    judged = judges.camera(_recorded(recording=None, recordings=["cam-1", "cam-3"]),
                           {"thresholds": CBEC, **CAMERA_PARAMS, "camera": "cam-2"})
    assert judged.status is Status.FAIL
    assert [f.code for f in judged.findings] == ["recording.missing"]
    assert "cam-1, cam-3" in judged.message.en and "cam-2" in judged.findings[0].action.en


def test_a_stopped_recording_fails() -> None:
    judged = judges.camera(_recorded(data_age_s=61.0), {"thresholds": CBEC, **CAMERA_PARAMS})
    assert judged.status is Status.FAIL
    assert [f.code for f in judged.findings] == ["recording.stale"]
    assert "61 s" in judged.message.en


def test_audio_is_required_for_cbec_only() -> None:
    silent = _recorded(tracks=["Video"], replay_audio=False)
    cbec = judges.camera(silent, {"thresholds": CBEC, **CAMERA_PARAMS})
    assert cbec.status is Status.FAIL and cbec.findings[0].code == "recording.no_audio"
    eda = judges.camera(_recorded(tracks=["Video"], replay_audio=False),
                        {"thresholds": EDA, **CAMERA_PARAMS})
    assert eda.status is Status.PASS


def test_a_replay_that_does_not_decode_fails_with_its_diagnosis() -> None:
    judged = judges.camera(_recorded(replay={"error": "auth", "diagnosis": {
        "en": "the camera refused user 'admin'", "zh": "拒绝"}}),
        {"thresholds": CBEC, **CAMERA_PARAMS})
    assert judged.status is Status.FAIL
    assert "refused user 'admin'" in judged.message.en


def test_a_recorder_that_did_not_answer_stays_an_error() -> None:
    error = ProbeOutcome(Status.ERROR, Text("cannot connect to the recorder", "无法连接"),
                         {"error": "unreachable"})
    assert judges.camera(error, {"thresholds": CBEC, **CAMERA_PARAMS}).status is Status.ERROR
    assert judges.storage(error, {"thresholds": CBEC, "cameras": 3,
                                  "exam_minutes": 120}).status is Status.ERROR


def _storage(**measured: object) -> ProbeOutcome:
    return ProbeOutcome(Status.PASS, Text("m", "m"), {"jobs": [], **measured})


def test_storage_is_free_space_against_cameras_times_bitrate_times_the_exam() -> None:
    params = {"thresholds": CBEC, "cameras": 5, "exam_minutes": 120}
    # 5 x 4 Mbit/s x 7200 s / 8 = 18 000 MB = 18 GB
    ok = judges.storage(_storage(free_gb=18.5, capacity_gb=4000), params)
    assert ok.status is Status.PASS and ok.measured["need_gb"] == 18.0
    full = judges.storage(_storage(free_gb=0.0, capacity_gb=4000), params)
    assert full.status is Status.FAIL
    assert full.findings[0].code == "recording.storage_full"
    assert "0 GB free" in full.message.en and "18 GB" in full.message.en


def test_storage_that_cannot_be_read_is_not_verified_never_passed() -> None:
    params = {"thresholds": CBEC, "cameras": 2, "exam_minutes": 60}
    judged = judges.storage(_storage(storage_error={"kind": "auth", "en": "refused",
                                                    "zh": "拒绝"}), params)
    assert judged.status is Status.WARN
    assert judged.findings[0].code == "recording.storage_unverified"
    assert "not verified: refused" in judged.message.en
    none = judges.storage(_storage(storage_api="none"), params)
    assert none.status is Status.WARN and "ONVIF has no free-space query" in none.message.en


def test_a_recording_job_in_error_is_reported() -> None:
    params = {"thresholds": CBEC, "cameras": 1, "exam_minutes": 60}
    jobs = [{"job": "j1", "recording": "rec-1", "state": "Error", "errors": ["disk failure"]}]
    judged = judges.storage(_storage(free_gb=100.0, capacity_gb=200, jobs=jobs), params)
    assert judged.status is Status.FAIL
    assert "disk failure" in judged.message.en and "rec-1 not active" in judged.message.en


# The storage document as ISAPI publishes it (ContentMgmt/Storage: hddList of hdd, with
# capacity and freeSpace in MB).
ISAPI_SAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<storage version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<hddList size="2">
<hdd version="2.0"><id>1</id><hddName>hdde</hddName><hddPath></hddPath><hddType>SATA</hddType>
<status>ok</status><capacity>3815447</capacity><freeSpace>0</freeSpace><property>RW</property></hdd>
<hdd version="2.0"><id>2</id><hddName>hddf</hddName><status>ok</status>
<capacity>1907723</capacity><freeSpace>102400</freeSpace><property>RW</property></hdd>
</hddList><nasList size="0"></nasList></storage>"""


def test_the_isapi_disk_page_is_read_whatever_its_namespace() -> None:
    disks = parse_isapi_storage(ISAPI_SAMPLE)
    assert [(d.name, d.capacity_mb, d.free_mb) for d in disks] == [
        ("hdde", 3815447, 0), ("hddf", 1907723, 102400)]
    with pytest.raises(ValueError):
        parse_isapi_storage('<!DOCTYPE x [<!ENTITY a "b">]><storage/>')


def test_a_recording_is_recognised_by_token_then_address_then_name() -> None:
    now = datetime.now(UTC)
    recs = [Recording("CH01", "Front door", "rtsp://192.168.10.201:554/Streaming/101", now),
            Recording("CH02", "cam-2", "rtsp://192.168.10.250/other", now)]
    assert match(recs, "CH02", "x", "rtsp://192.168.10.201/")[0] is recs[1]
    assert match(recs, "CH09", "x", "rtsp://192.168.10.201/") == (None, "token")
    assert match(recs, None, "x", "rtsp://192.168.10.201:554/stream")[0] is recs[0]
    assert match(recs, None, "cam-2", "rtsp://192.168.10.202/")[0] is recs[1]
    assert match(recs, None, "cam-9", "rtsp://192.168.10.209/")[0] is None


# --- the real ONVIF responder of the lab recorder, on loopback -------------------------


@pytest.fixture(scope="module")
def recorder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    folder = tmp_path_factory.mktemp("nvr")
    config = folder / "recordings.json"
    config.write_text(json.dumps({"recordings": [
        {"token": "rec-cam-1", "camera": "cam-1", "source": "rtsp://198.18.10.201:554/stream",
         "audio": True},
        {"token": "rec-cam-3", "camera": "cam-3", "source": "rtsp://198.18.10.203:554/stream",
         "audio": False}], "storage": {"capacity_mb": 4000000, "free_mb": 0}}))
    port = free_port()
    env = {**os.environ, "READINESS_RECORDER_PASSWORD": PASSWORD}
    proc = subprocess.Popen([sys.executable, str(REPO / "readiness/lab/onvif_recorder.py"),
                             "--address", "127.0.0.1", "--port", str(port),
                             "--config", str(config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 10
        while True:
            try:
                read_isapi_storage("127.0.0.1", port, "admin", PASSWORD, 1.0)
                break
            except RecorderError:
                if time.monotonic() > end or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=5)


async def _view(port: int, password: str) -> tuple[object, str]:
    async with Recorder("127.0.0.1", port, "admin", password, 3.0) as rec:
        view = await rec.view()
        return view, await rec.replay_uri(view.recordings[0].token)


def test_the_onvif_client_reads_recordings_jobs_and_replay(recorder: int) -> None:
    view, uri = asyncio.run(_view(recorder, PASSWORD))
    assert [(r.token, r.name, r.tracks) for r in view.recordings] == [
        ("rec-cam-1", "cam-1", ["Video", "Audio"]), ("rec-cam-3", "cam-3", ["Video"])]
    latest = view.recordings[0].latest
    assert latest is not None and datetime.now(UTC) - latest < timedelta(seconds=5)
    assert uri == "rtsp://127.0.0.1:554/replay/rec-cam-1"
    assert view.jobs and all(j.state == "Active" for j in view.jobs)
    # the full disk is said in the jobs' track errors
    assert "storage full" in view.jobs[0].errors[0]


def test_a_wrong_password_and_a_closed_port_are_told_apart(recorder: int) -> None:
    with pytest.raises(RecorderError) as wrong:
        asyncio.run(_view(recorder, "not-the-password"))
    assert wrong.value.kind == "auth" and "not-the-password" not in wrong.value.en
    with pytest.raises(RecorderError) as closed:
        asyncio.run(_view(free_port(), PASSWORD))
    assert closed.value.kind == "unreachable"
    assert "无法连接" in closed.value.zh


def test_the_disk_page_wants_http_digest(recorder: int) -> None:
    disks = read_isapi_storage("127.0.0.1", recorder, "admin", PASSWORD, 3.0)
    assert [(d.capacity_mb, d.free_mb) for d in disks] == [(4000000, 0)]
    with pytest.raises(RecorderError) as wrong:
        read_isapi_storage("127.0.0.1", recorder, "admin", "nope", 3.0)
    assert wrong.value.kind == "auth"


def test_the_lab_spec_refuses_recorder_faults_without_a_recorder() -> None:
    from pydantic import ValidationError

    from readiness.lab.spec import LabSpec, RecorderSpec

    with pytest.raises(ValidationError, match="the room has no recorder"):
        LabSpec(seats=1, cameras=[{"name": "cam-1"}],
                faults=[{"kind": "recorder_disk_full"}])
    with pytest.raises(ValidationError, match="cam-9 is not in the cameras list"):
        LabSpec(seats=1, cameras=[{"name": "cam-1"}], recorder=RecorderSpec(),
                faults=[{"kind": "camera_not_recorded", "camera": "cam-9"}])
    spec = LabSpec(seats=1, cameras=[{"name": "cam-1"}, {"name": "cam-2"}],
                   recorder=RecorderSpec(free_gb=500),
                   faults=[{"kind": "camera_not_recorded", "camera": "cam-2"}])
    assert [c.name for c in spec.recorded_cameras()] == ["cam-1"]
    assert spec.recorder_free_gb() == 500
