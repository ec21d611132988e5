"""Camera probes: CAM-RES decodes the stream and looks at the picture; CAM-AUDIO reads
the session description. Both start with the same RTSP DESCRIBE and report its failure in
the same words (wrong password / 401, no such stream path / 404, refused, timeout), so
every camera rule gives one diagnosis per camera.

`run_picture` starts a child process (probes/camera_worker.py) at once, so its OpenCV
import overlaps the DESCRIBE; once the DESCRIBE has said the stream is there, the child
opens it with OpenCV (FFmpeg, RTSP over TCP), lets the burst of frames buffered during
the open go by (warm-up), then measures the decoded frames for `measure_s`: size, frame
rate from the stream's timestamps, detail and dark share (covered lens), motion (frozen).
Every camera has its own process, so cameras open at the same time (OpenCV serialises
opens within a process), and the child is killed at the deadline even when FFmpeg blocks.

The probes measure; readiness/judges/cameras.py holds the verdicts. The password comes
in `secrets` (resolved by the runner from the name the Check gives), never in params; it
reaches the child on its stdin, never on a command line; every message shows the URL
masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from readiness.checkkind import TARGET, CheckKind, Param, knobs, optional
from readiness.redact import Secret, mask_url
from readiness.results import ProbeOutcome, Status, Text

from .engines.rtsp_sdp import BasicAuthRefused, RtspError, describe, strip_credentials

WORKER = Path(__file__).with_name("camera_worker.py")
# A child's start (interpreter + cv2 import) that the deadline allows for.
CHILD_START_S = 1.0
# A second, patient open of a stream that opened without a picture (camera_worker): room
# for it also after a first read that waited its whole read timeout for a key frame
REOPEN_S = 9.0


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


def _diagnosis(exc: RtspError, where: str, params: dict[str, Any]) -> ProbeOutcome:
    """The one message every camera rule gives for a stream that cannot be had."""
    en, zh = exc.en, exc.zh
    if isinstance(exc, BasicAuthRefused) and params.get("site_field"):
        # name the camera and the very field to set, as the site file spells them
        field = f"{params['site_field']}.allow_basic_auth"
        en += f" (camera {params.get('camera') or '?'}: {field})"
        zh += f"（摄像头 {params.get('camera') or '?'}：{field}）"
    return ProbeOutcome(Status.ERROR, Text(f"{where}: {en}", f"{where}：{zh}"),
                        {"error": exc.kind, "diagnosis": {"en": en, "zh": zh}})


def _allow_basic(params: dict[str, Any]) -> bool:
    return params.get("allow_basic_auth") is True


async def _start_worker() -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(proc.wait(), 2.0)


def _password(secrets: dict[str, Secret] | None) -> str | None:
    secret = (secrets or {}).get("password")
    return secret.reveal() if secret is not None else None


def _measured_text(where: str, m: dict[str, Any]) -> Text:
    size = f"{m['width']}×{m['height']}"
    return Text(f"{where}: decoded {size}", f"{where}：解码画面 {size}")


def picture_budget(p: dict[str, Any]) -> float:
    """How long run_picture needs at most: the child's start, open, warm-up, measure, one
    stalled read and one patient second open."""
    return (CHILD_START_S + float(p["open_timeout_s"]) + float(p["warmup_s"])
            + float(p["measure_s"]) + float(p["read_timeout_s"]) + 1.0 + REOPEN_S)


async def _decode(proc: asyncio.subprocess.Process, full_url: str, params: dict[str, Any],
                  budget_s: float) -> dict[str, Any]:
    knobs: dict[str, float | str] = {k: float(params[k]) for k in (
        "open_timeout_s", "read_timeout_s", "warmup_s", "measure_s")}
    # the child opens a second time (see camera_worker.capture) only within this
    knobs["budget_s"] = max(0.0, budget_s - 0.5)
    if params.get("snapshot_path"):
        knobs["snapshot_path"] = str(params["snapshot_path"])
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write((json.dumps({"url": full_url, "params": knobs}) + "\n").encode())
    await proc.stdin.drain()
    proc.stdin.close()
    line = await asyncio.wait_for(proc.stdout.readline(), budget_s)
    if not line:
        raise ChildProcessError("the decoder process ended without an answer")
    return dict(json.loads(line))


async def run_picture(params: dict[str, Any], deadline_s: float,
                      secrets: dict[str, Secret] | None = None) -> ProbeOutcome:
    """The decoded picture's size, frame rate, luma, detail and motion (judge:
    cameras.picture)."""
    url = str(params["url"])
    where = mask_url(url)
    password = _password(secrets)
    full_url = _url_with_credentials(url, params.get("username"), password)
    started = time.monotonic()
    # Leave a little of the deadline to build the answer.
    end = started + max(0.5, deadline_s - 0.3)
    proc = await _start_worker()
    try:
        auth = "none"
        if urlsplit(url).scheme == "rtsp":
            timeout = max(0.3, min(float(params["describe_timeout_s"]),
                                   end - time.monotonic()))
            try:
                info = await describe(url, params.get("username"), password, timeout,
                                      allow_basic=_allow_basic(params))
            except RtspError as exc:
                return _diagnosis(exc, where, params)
            auth = info.auth
            if not info.video:
                return ProbeOutcome(Status.ERROR, Text(
                    f"{where}: the stream has no video track ({', '.join(info.codecs)})",
                    f"{where}：视频流没有视频轨（{', '.join(info.codecs)}）"),
                    {"error": "no_video"})
        try:
            measured = await _decode(proc, full_url, params, end - time.monotonic())
        except (TimeoutError, ChildProcessError, ValueError, OSError):
            budget = end - started
            return ProbeOutcome(Status.ERROR, Text(
                f"{where}: no picture within {budget:.1f} s (the camera described the stream "
                "but it stalled): restart the camera or lower its bitrate",
                f"{where}：{budget:.1f} 秒内无画面（摄像头回应了描述但视频流停滞）："
                "请重启摄像头或降低码率"),
                {"error": "timeout", "elapsed_s": round(time.monotonic() - started, 3)})
    finally:
        await _stop(proc)
    measured["elapsed_s"] = round(time.monotonic() - started, 3)
    measured["auth"] = auth
    if not measured.get("opened"):
        measured["error"] = "decode"
        return ProbeOutcome(Status.ERROR, Text(
            f"cannot open the stream {where}: the camera answered DESCRIBE, but the video "
            "could not be opened (codec or transport); check the camera's encoding settings "
            "(H.264/H.265) and that RTSP over TCP is allowed",
            f"无法打开视频流 {where}：摄像头回应了 DESCRIBE，但视频无法打开（编码或传输）；"
            "请检查摄像头编码设置（H.264/H.265）并允许 RTSP over TCP"), measured)
    if "width" not in measured:
        measured["error"] = "decode"
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
    timeout = max(0.5, min(float(params["timeout_s"]), deadline_s - 0.3))
    try:
        info = await describe(url, params.get("username"), _password(secrets), timeout,
                              allow_basic=_allow_basic(params))
    except RtspError as exc:
        return _diagnosis(exc, where, params)
    measured = {"video": info.video, "audio": info.audio, "codecs": info.codecs,
                "auth": info.auth}
    codecs = ", ".join(info.codecs) or "none"
    return ProbeOutcome(Status.PASS, Text(f"{where}: tracks {codecs}",
                                          f"{where}：媒体轨 {codecs}"), measured)


KINDS = (
    CheckKind(probe="camera_picture", run=run_picture,
              params=(Param("url", TARGET), *knobs("warmup_s", "measure_s", "open_timeout_s",
                                                   "read_timeout_s", "describe_timeout_s",
                                                   "allow_basic_auth"),
                      *optional("username", "snapshot_path", "camera", "site_field")),
              judges=("cameras.picture",), secrets=("password",), budget=picture_budget,
              decodes_video=True),
    CheckKind(probe="camera_audio", run=run_audio,
              params=(Param("url", TARGET), *knobs("timeout_s", "allow_basic_auth"),
                      *optional("username", "camera", "site_field")),
              judges=("cameras.audio",), secrets=("password",)),
)
