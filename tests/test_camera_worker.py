"""The camera child's second open, with a stand-in for OpenCV.

The fault behind it (FFmpeg's half-second stream analysis ends before a busy camera's
first key frame, so the stream opens without a picture size and the first read fails)
shows in the drill when its five cameras start under load, but no lab camera makes it
on demand: a fake VideoCapture stands in for it here, and says so. The real decode is
tested against GStreamer cameras in tests/test_camera_probe.py.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import numpy as np
import pytest

from probes import camera_worker

PARAMS = {"open_timeout_s": 5.0, "read_timeout_s": 3.0, "warmup_s": 0.2, "measure_s": 0.3}


class _FakeCv2:
    """OpenCV as a busy camera leaves it: the quick analysis opens a stream it cannot
    read; an open with the patient analysis reads pictures."""

    CAP_FFMPEG = CAP_PROP_OPEN_TIMEOUT_MSEC = CAP_PROP_READ_TIMEOUT_MSEC = 0
    CAP_PROP_POS_MSEC = CAP_PROP_FPS = COLOR_BGR2GRAY = INTER_AREA = CV_64F = 0
    IMWRITE_JPEG_QUALITY = 0

    def __init__(self, patient_opens: bool = True, patient_reads: bool = True) -> None:
        self.analyses: list[str] = []
        self.patient_opens, self.patient_reads = patient_opens, patient_reads

    def VideoCapture(self, url: str, *_: Any) -> Any:  # noqa: N802 (OpenCV's name)
        analysis = os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"]
        self.analyses.append(analysis)
        patient = analysis == camera_worker.PATIENT_ANALYSIS
        return _FakeCapture(opens=not patient or self.patient_opens,
                            readable=patient and self.patient_reads)

    def cvtColor(self, frame: Any, _: int) -> Any:  # noqa: N802
        return frame[:, :, 0]

    def resize(self, frame: Any, size: tuple[int, int], **_: Any) -> Any:
        return np.zeros((size[1], size[0]), dtype=np.uint8) + frame.mean()

    def Laplacian(self, frame: Any, _: int) -> Any:  # noqa: N802
        return frame.astype(float)


class _FakeCapture:
    def __init__(self, opens: bool, readable: bool) -> None:
        self.opens, self.readable, self.pts = opens, readable, 0.0

    def isOpened(self) -> bool:  # noqa: N802
        return self.opens

    def read(self) -> tuple[bool, Any]:
        if not self.readable:
            return False, None
        self.pts += 100.0
        return True, np.zeros((1080, 1920, 3), dtype=np.uint8)

    def get(self, _: int) -> float:
        return self.pts

    def release(self) -> None:
        pass


def test_a_stream_opened_without_a_picture_is_opened_again_patiently(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "")  # restored afterwards
    cv2 = _FakeCv2()
    out = camera_worker.capture("rtsp://cam/stream", {**PARAMS, "budget_s": 14.0}, cv2, np)
    assert cv2.analyses == [camera_worker.QUICK_ANALYSIS, camera_worker.PATIENT_ANALYSIS]
    assert out["width"] == 1920 and out["frames"] > 0
    assert "opened without a frame" in out["reopened"]


def test_no_second_open_when_the_deadline_leaves_no_time_for_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "")
    cv2 = _FakeCv2()
    out = camera_worker.capture("rtsp://cam/stream", {**PARAMS, "budget_s": 2.0}, cv2, np)
    assert cv2.analyses == [camera_worker.QUICK_ANALYSIS]
    assert out["opened"] and out["frames"] == 0 and "reopened" not in out


def test_a_second_open_that_fails_keeps_what_the_first_one_saw(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "")
    cv2 = _FakeCv2(patient_opens=False)
    out = camera_worker.capture("rtsp://cam/stream", {**PARAMS, "budget_s": 14.0}, cv2, np)
    # the stream did open (then gave no picture): not "could not be opened"
    # (a quick refusal is tried twice by the open itself)
    assert cv2.analyses[0] == camera_worker.QUICK_ANALYSIS
    assert set(cv2.analyses[1:]) == {camera_worker.PATIENT_ANALYSIS}
    assert out["opened"] and out["frames"] == 0
    assert "did no better" in out["reopened"]


def test_unread_bytes_are_counted_from_the_kernels_socket_table() -> None:
    """A real TCP connection on loopback: what the peer sent and we did not read yet is
    what a decoder behind its camera leaves waiting; after reading, nothing waits."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        peer, _ = server.accept()
        try:
            before = camera_worker._queued_bytes()
            assert before == 0, before
            peer.sendall(b"x" * 50_000)
            time.sleep(0.2)
            assert camera_worker._queued_bytes() == 50_000
            got = 0
            while got < 50_000:
                got += len(client.recv(65536))
            assert camera_worker._queued_bytes() == 0
        finally:
            client.close()
            peer.close()
