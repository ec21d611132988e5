"""Camera probes: CAM-RES decodes the stream and looks at the picture; CAM-AUDIO reads
the session description.

`run_picture` opens the stream with OpenCV (FFmpeg, RTSP over TCP) in a daemon
thread, lets the burst of frames buffered during the open go by (warm-up), then for
`measure_s` measures what was really decoded: frame size, frame rate, whether the
picture moves (frozen) and whether it is black (covered lens). A watchdog returns by
the deadline even if FFmpeg hangs in a read; the thread then lingers until its own
read timeout and stops.

The probes measure; readiness/judges/cameras.py holds the verdicts. The password comes
in `secrets` (resolved by the runner from the name the Check gives), never in params;
every message shows the URL masked.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from readiness.redact import Secret
from readiness.results import ProbeOutcome, Status, Text

from .engines.blocking import in_thread
from .engines.rtsp_sdp import RtspError, describe, mask_url, strip_credentials

# FFmpeg options for every open: RTSP over TCP (what cameras behind a school switch
# manage reliably) and a 0.5 s stream analysis instead of 5 s (the SDP and in-band SPS
# give the codec; the size is measured on decoded frames anyway). This matters beyond
# speed: OpenCV's FFmpeg backend holds one process-wide mutex while it opens a stream,
# so opens are serialized: 10 cameras take 10 x ~0.8 s (it was 10 x ~1.3 s at 1 s).
CAPTURE_OPTIONS = "rtsp_transport;tcp|analyzeduration;500000"
# Allowance per other camera opened at the same time (see CAPTURE_OPTIONS).
OPEN_QUEUE_S = 1.0
_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"

# Motion is measured on a 64x36 grid of block means (judged in readiness/judges/cameras).
GRID = (64, 36)
SNAPSHOT_WIDTH = 640


class _EnvGate:
    """The one global lock around setting OPENCV_FFMPEG_CAPTURE_OPTIONS and constructing
    the VideoCapture that reads it. Opens that want the same value may overlap (the
    variable is what each needs while it opens); one that wants another value waits
    until those finish. So one dead camera's open timeout does not queue the others."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._value: str | None = None
        self._users = 0

    def enter(self, value: str, stop: threading.Event) -> bool:
        with self._cond:
            while self._users and self._value != value:
                if stop.is_set():
                    return False
                self._cond.wait(0.1)
            os.environ[_ENV] = value
            self._value = value
            self._users += 1
            return True

    def leave(self) -> None:
        with self._cond:
            self._users -= 1
            self._cond.notify_all()


ENV_GATE = _EnvGate()


def _url_with_credentials(url: str, username: str | None, password: str | None) -> str:
    bare, url_user, url_password = strip_credentials(url)
    user = username or url_user
    secret = password if password is not None else url_password
    if not user:
        return bare
    parts = urlsplit(bare)
    auth = quote(user, safe="") + (f":{quote(secret, safe='')}" if secret is not None else "")
    return urlunsplit((parts.scheme, f"{auth}@{parts.netloc}", parts.path, parts.query,
                       parts.fragment))


def _capture(url: str, p: dict[str, Any], stop: threading.Event) -> dict[str, Any]:
    """Runs in the worker thread: open, warm up, measure. Returns plain measurements."""
    import cv2
    import numpy as np

    out: dict[str, Any] = {"opened": False, "frames": 0}
    open_ms = int(float(p.get("open_timeout_s", 5.0)) * 1000)
    read_ms = int(float(p.get("read_timeout_s", 3.0)) * 1000)
    warmup_s = float(p.get("warmup_s", 1.0))
    measure_s = float(p.get("measure_s", 2.0))
    t0 = time.monotonic()
    for attempt in range(2):
        if not ENV_GATE.enter(CAPTURE_OPTIONS, stop):
            return out
        try:
            cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, open_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, read_ms])
        finally:
            ENV_GATE.leave()
        # A quick refusal may be a camera still closing the previous viewer's session
        # (503, e.g. right after CAM-AUDIO's DESCRIBE): try once more.
        if cap.isOpened() or attempt or stop.is_set() or time.monotonic() - t0 > 1.0:
            break
        cap.release()
        out["open_retried"] = True
        time.sleep(0.5)
    try:
        out["open_s"] = round(time.monotonic() - t0, 3)
        if not cap.isOpened() or stop.is_set():
            return out
        out["opened"] = True
        last = None
        shape = None
        warm_end = time.monotonic() + warmup_s
        # warm-up: frames buffered during the open come out in a burst; drop them
        while not stop.is_set() and time.monotonic() < warm_end:
            ok, frame = cap.read()
            if not ok:
                out["read_failed"] = True
                break
            out["frames"] += 1
            last = frame
            shape = frame.shape
        times: list[float] = []
        grids: list[Any] = []
        lumas: list[tuple[float, float]] = []
        measure_end = time.monotonic() + measure_s
        while not stop.is_set() and not out.get("read_failed") \
                and time.monotonic() < measure_end:
            ok, frame = cap.read()
            if not ok:
                out["read_failed"] = True
                break
            now = time.monotonic()
            out["frames"] += 1
            last = frame
            shape = frame.shape
            times.append(now)
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            small = cv2.resize(gray, (320, 180), interpolation=cv2.INTER_AREA)
            lumas.append((float(small.mean()), float(small.std())))
            grids.append(cv2.resize(gray, GRID, interpolation=cv2.INTER_AREA)
                         .astype(np.float32))
        if shape is not None:
            out["height"], out["width"] = int(shape[0]), int(shape[1])
        out["measured_frames"] = len(times)
        if len(times) >= 2 and times[-1] > times[0]:
            out["fps"] = round((len(times) - 1) / (times[-1] - times[0]), 2)
        if lumas:
            lumas.sort()
            mid = lumas[len(lumas) // 2]
            out["luma_mean"], out["luma_std"] = round(mid[0], 2), round(mid[1], 2)
        if len(grids) >= 2:
            diffs = [np.abs(g - grids[0]) for g in grids[1:]]
            out["motion"] = round(float(max(d.max() for d in diffs)), 2)
            out["mean_abs_diff"] = round(float(max(d.mean() for d in diffs)), 3)
        snapshot = p.get("snapshot_path")
        if snapshot and last is not None:
            height, width = last.shape[:2]
            scale = min(1.0, SNAPSHOT_WIDTH / width)
            small = cv2.resize(last, (max(1, int(width * scale)), max(1, int(height * scale))),
                               interpolation=cv2.INTER_AREA)
            Path(snapshot).parent.mkdir(parents=True, exist_ok=True)
            if cv2.imwrite(str(snapshot), small, [cv2.IMWRITE_JPEG_QUALITY, 80]):
                out["snapshot"] = str(snapshot)
        return out
    finally:
        cap.release()


def _password(secrets: dict[str, Secret] | None) -> str | None:
    secret = (secrets or {}).get("password")
    return secret.reveal() if secret is not None else None


def _measured_text(where: str, m: dict[str, Any]) -> Text:
    size = f"{m['width']}×{m['height']}"
    return Text(f"{where}: decoded {size}", f"{where}：解码画面 {size}")


def picture_budget(p: dict[str, Any]) -> float:
    """How long run_picture needs at most: open, warm-up, measure, one stalled read,
    plus `queue_s` for waiting on OpenCV's open mutex while other cameras open."""
    return (float(p.get("open_timeout_s", 5.0)) + float(p.get("warmup_s", 1.0))
            + float(p.get("measure_s", 2.0)) + float(p.get("read_timeout_s", 3.0)) + 1.0
            + float(p.get("queue_s", 0.0)))


async def run_picture(params: dict[str, Any], deadline_s: float,
                      secrets: dict[str, Secret] | None = None) -> ProbeOutcome:
    """The decoded picture's size, frame rate, luma and motion (judge: cameras.picture)."""
    url = str(params["url"])
    where = mask_url(url)
    full_url = _url_with_credentials(url, params.get("username"), _password(secrets))
    # Leave a little of the deadline to build the answer.
    budget = max(0.5, deadline_s - 0.3)
    started = time.monotonic()
    try:
        measured = await in_thread(lambda stop: _capture(full_url, params, stop),
                                   "camera-probe", budget)
    except TimeoutError:
        return ProbeOutcome(Status.ERROR, Text(
            f"{where}: no picture within {budget:.1f} s (the camera accepted the connection "
            "but the stream stalled)", f"{where}：{budget:.1f} 秒内无画面（视频流停滞）"),
            {"elapsed_s": round(time.monotonic() - started, 3)})
    except Exception as exc:  # OpenCV raising: say which, never the URL it was given
        return ProbeOutcome(Status.ERROR, Text(
            f"{where}: the decoder failed ({type(exc).__name__})",
            f"{where}：解码器出错（{type(exc).__name__}）"), {})
    measured["elapsed_s"] = round(time.monotonic() - started, 3)
    if not measured.get("opened"):
        return ProbeOutcome(Status.ERROR, Text(
            f"cannot open the stream {where}: check the address, the stream path, the user "
            "name and password, and that the camera is on",
            f"无法打开视频流 {where}：请检查地址、流路径、用户名和密码，以及摄像头是否通电"),
            measured)
    if "width" not in measured:
        return ProbeOutcome(Status.ERROR, Text(
            f"the stream {where} opened but no picture could be decoded",
            f"视频流 {where} 已打开，但解码不出画面"), measured)
    # measured, not judged: the status says only that there is a picture to judge
    outcome = ProbeOutcome(Status.PASS, _measured_text(where, measured), measured)
    if measured.get("snapshot"):
        outcome.evidence.append(measured["snapshot"])
    return outcome


async def run_audio(params: dict[str, Any], deadline_s: float,
                    secrets: dict[str, Secret] | None = None) -> ProbeOutcome:
    """The tracks and codecs of the session description (judge: cameras.audio)."""
    url = str(params["url"])
    where = mask_url(url)
    timeout = max(0.5, min(float(params.get("timeout_s", 5.0)), deadline_s - 0.3))
    try:
        info = await describe(url, params.get("username"), _password(secrets), timeout)
    except RtspError as exc:
        return ProbeOutcome(Status.ERROR, Text(f"{where}: {exc.en}", f"{where}：{exc.zh}"),
                            {"error": exc.kind})
    measured = {"video": info.video, "audio": info.audio, "codecs": info.codecs,
                "auth": info.auth}
    codecs = ", ".join(info.codecs) or "none"
    return ProbeOutcome(Status.PASS, Text(f"{where}: tracks {codecs}",
                                          f"{where}：媒体轨 {codecs}"), measured)
