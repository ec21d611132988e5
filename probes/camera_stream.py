"""Camera probes: CAM-RES decodes the stream and looks at the picture; CAM-AUDIO reads
the session description.

`run_picture` opens the stream with OpenCV (FFmpeg, RTSP over TCP) in a daemon
thread, lets the burst of frames buffered during the open go by (warm-up), then for
`measure_s` measures what was really decoded: frame size, frame rate, whether the
picture moves (frozen) and whether it is black (covered lens). A watchdog returns by
the deadline even if FFmpeg hangs in a read; the thread then lingers until its own
read timeout and stops.

The password reaches these functions only in `params` built by the planner's closure
(Check.fn), never in a Check's params; every message shows the URL masked.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from readiness.results import ProbeOutcome, Status, Text

from .rtsp_sdp import RtspError, describe, mask_url, strip_credentials

# FFmpeg options for every open: RTSP over TCP (what cameras behind a school switch
# manage reliably) and a 0.5 s stream analysis instead of 5 s (the SDP and in-band SPS
# give the codec; the size is measured on decoded frames anyway). This matters beyond
# speed: OpenCV's FFmpeg backend holds one process-wide mutex while it opens a stream,
# so opens are serialized: 10 cameras take 10 x ~0.8 s (it was 10 x ~1.3 s at 1 s).
CAPTURE_OPTIONS = "rtsp_transport;tcp|analyzeduration;500000"
# Allowance per other camera opened at the same time (see CAPTURE_OPTIONS).
OPEN_QUEUE_S = 1.0
_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"

# A picture is black (covered lens) when its luma is both dark and flat.
BLACK_MEAN = 24.0
BLACK_STD = 4.0
# Frozen: no block of a 64x36 grid of block means changes by this much (0-255 luma)
# over the measure window. Block means average away sensor and encoder noise (and
# the noise square of a test pattern); a moving object or a ticking on-screen clock
# changes a block by far more.
GRID = (64, 36)
FROZEN_MOTION = 30.0
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


async def _in_daemon_thread(fn: Any, budget_s: float, stop: threading.Event) -> Any:
    """fn() in a daemon thread; TimeoutError after budget_s even if fn never returns."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(value: Any, exc: BaseException | None) -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(value)

    def work() -> None:
        try:
            value, exc = fn(), None
        except Exception as err:  # reported to the awaiting coroutine
            value, exc = None, err
        try:
            loop.call_soon_threadsafe(settle, value, exc)
        except RuntimeError:
            pass  # the loop has closed: nobody waits any more

    threading.Thread(target=work, name="camera-probe", daemon=True).start()
    try:
        return await asyncio.wait_for(asyncio.shield(future), budget_s)
    finally:
        stop.set()


def _judge_picture(m: dict[str, Any], p: dict[str, Any], where: str) -> ProbeOutcome:
    min_w, min_h = int(p.get("min_width", 0)), int(p.get("min_height", 0))
    if not m.get("opened"):
        return ProbeOutcome(Status.ERROR, Text(
            f"cannot open the stream {where}: check the address, the stream path, the user "
            "name and password, and that the camera is on",
            f"无法打开视频流 {where}：请检查地址、流路径、用户名和密码，以及摄像头是否通电"), m)
    if "width" not in m:
        return ProbeOutcome(Status.ERROR, Text(
            f"the stream {where} opened but no picture could be decoded",
            f"视频流 {where} 已打开，但解码不出画面"), m)
    w, h = m["width"], m["height"]
    problems_en: list[str] = []
    problems_zh: list[str] = []
    min_mp = p.get("min_megapixels")
    if w < min_w or h < min_h or (min_mp and w * h < float(min_mp) * 1e6):
        problems_en.append(f"decoded {w}×{h}; the rule needs {min_w}×{min_h} — is this the "
                           "sub-stream? use the main stream URL")
        problems_zh.append(f"解码画面为 {w}×{h}，规定至少 {min_w}×{min_h}——这是子码流吗？"
                           "请使用主码流地址")
    if "luma_mean" in m and m["luma_mean"] < BLACK_MEAN and m["luma_std"] < BLACK_STD:
        problems_en.append("the picture is black: is the lens covered, or is the camera "
                           "pointing at a dark wall?")
        problems_zh.append("画面全黑：镜头是否被遮挡，或对着黑暗处？")
    elif "motion" in m and m["motion"] < FROZEN_MOTION:
        problems_en.append(f"the picture did not change for {p.get('measure_s', 2.0)} s: "
                           "frozen; restart the camera")
        problems_zh.append(f"画面 {p.get('measure_s', 2.0)} 秒内无变化：画面冻结，请重启摄像头")
    fps = f", {m['fps']:g} fps" if "fps" in m else ""
    if problems_en:
        return ProbeOutcome(Status.FAIL, Text(f"{where}: " + "; ".join(problems_en),
                                              f"{where}：" + "；".join(problems_zh)), m)
    if "motion" not in m:
        return ProbeOutcome(Status.WARN, Text(
            f"{where}: decoded {w}×{h}, but too few frames came to tell whether the picture "
            "is live", f"{where}：解码画面 {w}×{h}，但帧数太少，无法判断画面是否实时"), m)
    return ProbeOutcome(Status.PASS, Text(
        f"{where}: decoded {w}×{h}{fps}, live picture (rule {min_w}×{min_h})",
        f"{where}：解码画面 {w}×{h}{fps}，画面实时（规定 {min_w}×{min_h}）"), m)


def picture_budget(p: dict[str, Any]) -> float:
    """How long run_picture needs at most: open, warm-up, measure, one stalled read,
    plus `queue_s` for waiting on OpenCV's open mutex while other cameras open."""
    return (float(p.get("open_timeout_s", 5.0)) + float(p.get("warmup_s", 1.0))
            + float(p.get("measure_s", 2.0)) + float(p.get("read_timeout_s", 3.0)) + 1.0
            + float(p.get("queue_s", 0.0)))


async def run_picture(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    url = str(params["url"])
    where = mask_url(url)
    full_url = _url_with_credentials(url, params.get("username"), params.get("password"))
    stop = threading.Event()
    # Leave a little of the deadline to build the answer.
    budget = max(0.5, deadline_s - 0.3)
    started = time.monotonic()
    try:
        measured = await _in_daemon_thread(lambda: _capture(full_url, params, stop), budget,
                                           stop)
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
    outcome = _judge_picture(measured, params, where)
    if measured.get("snapshot"):
        outcome.evidence.append(measured["snapshot"])
    return outcome


async def run_audio(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    url = str(params["url"])
    where = mask_url(url)
    required = bool(params.get("audio_required", True))
    timeout = max(0.5, min(float(params.get("timeout_s", 5.0)), deadline_s - 0.3))
    try:
        info = await describe(url, params.get("username"), params.get("password"), timeout)
    except RtspError as exc:
        return ProbeOutcome(Status.ERROR, Text(f"{where}: {exc.en}", f"{where}：{exc.zh}"),
                            {"error": exc.kind})
    measured = {"video": info.video, "audio": info.audio, "codecs": info.codecs,
                "auth": info.auth}
    codecs = ", ".join(info.codecs) or "none"
    if info.audio:
        return ProbeOutcome(Status.PASS, Text(
            f"{where}: the stream has an audio track ({codecs})",
            f"{where}：视频流包含音频轨（{codecs}）"), measured)
    if required:
        return ProbeOutcome(Status.FAIL, Text(
            f"{where}: the stream has no audio track ({codecs}); turn on audio in the "
            "camera's encoding settings (and check it has a microphone)",
            f"{where}：视频流没有音频轨（{codecs}）；请在摄像头编码设置中开启音频"
            "（并确认摄像头带拾音器）"), measured)
    return ProbeOutcome(Status.PASS, Text(
        f"{where}: no audio track ({codecs}); this certificate does not require audio",
        f"{where}：无音频轨（{codecs}）；本证书不要求音频"), measured)
