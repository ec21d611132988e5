"""CAM-STORE's probes: is each exam camera being recorded now, and can the recorder hold
the whole exam?

`camera_recording` (one per camera) asks the room's recorder over ONVIF Profile G
(probes/engines/onvif_recorder.py) for its recordings, finds the camera's (by the token
the site file gives, else by the camera's address in the recording's source, else by the
camera's name), reads how recent its latest data is and which tracks it holds, asks the
Replay service for the recording's RTSP URI, reads that replay's session description
(audio) and decodes a few seconds of it with the camera probe's decoder
(probes/camera_stream.run_picture), keeping a frame as a snapshot the evidence log hashes.

The replay begins where the recorder begins it: ONVIF asks a client to pick the moment
with an RTSP `Range: clock=` header, which the decoder (OpenCV's FFmpeg) cannot send.
How recent the recording is comes from the recording's own LatestRecording / DataTo.

`recorder_storage` (one per recorder) reads the recording jobs' state (a track in Error
says why it cannot write) and the disks' capacity and free space from the recorder's
disk page (ISAPI; ONVIF has no free-space query). The judge compares the free space
with what the exam needs at the cameras' bitrate.

Both only measure: the verdicts are readiness/judges/recording.py's. The recorder's
password arrives in `secrets`, never in params, and reaches the decoder on its stdin.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from readiness.checkkind import TARGET, BadParam, CheckKind, Param, knobs, optional, param
from readiness.redact import Secret, mask_url
from readiness.results import ProbeOutcome, Status, Text

from .camera_stream import picture_budget, run_picture
from .engines.onvif_recorder import Recorder, RecorderError, Recording, read_isapi_storage
from .engines.rtsp_sdp import RtspError, describe


def _password(secrets: dict[str, Secret] | None) -> str | None:
    secret = (secrets or {}).get("password")
    return secret.reveal() if secret is not None else None


def _host(url: str | None) -> str | None:
    try:
        return urlsplit(url or "").hostname
    except ValueError:
        return None


def match(recordings: list[Recording], token: str | None, camera: str,
          camera_url: str) -> tuple[Recording | None, str]:
    """The camera's recording and how it was recognised."""
    if token:
        found = next((r for r in recordings if r.token == token), None)
        return found, "token"
    host = _host(camera_url)
    by_address = [r for r in recordings if host and (_host(r.source) or r.source) == host]
    if len(by_address) == 1:
        return by_address[0], "address"
    by_name = [r for r in recordings if r.name == camera]
    if len(by_name) == 1:
        return by_name[0], "name"
    return (by_address[0] if by_address else None), "address"


def _error(exc: RecorderError) -> ProbeOutcome:
    return ProbeOutcome(Status.ERROR, Text(exc.en, exc.zh), {"error": exc.kind})


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


async def run_camera_recording(params: dict[str, Any], deadline_s: float,
                               secrets: dict[str, Secret] | None = None) -> ProbeOutcome:
    started = time.monotonic()
    try:
        host = param(params, "address", str)
        port = param(params, "port", int)
        timeout_s = param(params, "timeout_s", float)
        camera = param(params, "camera", str)
        camera_url = param(params, "camera_url", str)
    except BadParam as exc:
        return ProbeOutcome(Status.ERROR, Text(str(exc), f"参数错误：{exc}"), {"error": "params"})
    user, password = params.get("username"), _password(secrets)
    try:
        async with Recorder(host, port, user, password, timeout_s) as recorder:
            view = await recorder.view(with_jobs=False)
            recording, matched_by = match(view.recordings, params.get("recording_token"),
                                          camera, camera_url)
            measured: dict[str, Any] = {
                "recorder": f"{host}:{port}",
                "recordings": sorted(r.name or r.token for r in view.recordings),
                "recording": None,
            }
            if recording is None:
                return ProbeOutcome(Status.PASS, Text(
                    f"the recorder {host} has no recording of {camera}",
                    f"录像机 {host} 没有 {camera} 的录像"), measured)
            now = datetime.now(UTC)
            measured.update({
                "recording": recording.token, "matched_by": matched_by,
                "source": mask_url(recording.source or ""), "status": recording.status,
                "tracks": recording.tracks, "latest": _iso(recording.latest),
                "data_age_s": round((now - recording.latest).total_seconds(), 1)
                if recording.latest else None,
            })
            uri = await recorder.replay_uri(recording.token)
    except RecorderError as exc:
        return _error(exc)
    measured["replay_uri"] = mask_url(uri)
    measured.update(await _replay(uri, params, secrets, deadline_s - (time.monotonic() - started)))
    outcome = ProbeOutcome(Status.PASS, Text(
        f"{camera}: recording {recording.token}, latest data {measured['latest']}",
        f"{camera}：录像 {recording.token}，最新数据 {measured['latest']}"), measured)
    snapshot = measured.get("replay", {}).get("snapshot")
    if snapshot:
        outcome.evidence.append(snapshot)
    return outcome


# Replays from one recorder, one at a time: recorders serve few playback sessions at
# once, and a replay is decoded like a live camera, which the room's CAM-RES checks are
# doing at the same time on the same coordinator.
REPLAYS_AT_ONCE = 1
_replaying: dict[tuple[int, str], asyncio.Semaphore] = {}


def _replay_lock(recorder: str) -> asyncio.Semaphore:
    key = (id(asyncio.get_running_loop()), recorder)
    return _replaying.setdefault(key, asyncio.Semaphore(REPLAYS_AT_ONCE))


async def _replay(uri: str, params: dict[str, Any], secrets: dict[str, Secret] | None,
                  left_s: float) -> dict[str, Any]:
    """The replay's tracks (DESCRIBE) and a few decoded seconds of it."""
    started = time.monotonic()
    async with _replay_lock(str(params["address"])):
        return await _replay_now(uri, params, secrets,
                                 left_s - (time.monotonic() - started))


async def _replay_now(uri: str, params: dict[str, Any], secrets: dict[str, Secret] | None,
                      left_s: float) -> dict[str, Any]:
    user, password = params.get("username"), _password(secrets)
    out: dict[str, Any] = {}
    try:
        info = await describe(uri, user, password, float(params["describe_timeout_s"]),
                              allow_basic=params.get("allow_basic_auth") is True)
        out["replay_audio"], out["replay_codecs"] = info.audio, info.codecs
    except RtspError as exc:
        out["replay"] = {"error": exc.kind, "diagnosis": {"en": exc.en, "zh": exc.zh}}
        return out
    picture_params = {k: params[k] for k in ("warmup_s", "measure_s", "open_timeout_s",
                                             "read_timeout_s", "describe_timeout_s",
                                             "allow_basic_auth")}
    picture_params.update(url=uri, username=user, snapshot_path=params.get("snapshot_path"))
    decoded = await run_picture(picture_params, max(1.0, left_s - 0.3), secrets)
    keep = ("width", "height", "frames", "fps", "motion", "snapshot", "error", "elapsed_s")
    out["replay"] = {k: decoded.measured[k] for k in keep if k in decoded.measured}
    if decoded.status is Status.ERROR:
        out["replay"]["diagnosis"] = decoded.message.to_dict()
    return out


# the replays a room's recorder may have to serve in turn (a room of 8 cameras at most on
# one recorder before a check waits past its budget)
REPLAYS_IN_TURN = 8
# what one replay takes in the lab, well inside picture_budget's worst case
REPLAY_TYPICAL_S = 6.0


def recording_budget(p: dict[str, Any]) -> float:
    # connect + search + replay URI, the replays before this one, this one's DESCRIBE
    # and its decode
    waits = -(-REPLAYS_IN_TURN // REPLAYS_AT_ONCE) - 1  # turns before this one's
    return (3 * float(p["timeout_s"]) + waits * REPLAY_TYPICAL_S
            + float(p["describe_timeout_s"]) + picture_budget(p))


async def run_recorder_storage(params: dict[str, Any], deadline_s: float,
                               secrets: dict[str, Secret] | None = None) -> ProbeOutcome:
    try:
        host = param(params, "address", str)
        port = param(params, "port", int)
        timeout_s = param(params, "timeout_s", float)
        storage_api = param(params, "storage_api", str)
    except BadParam as exc:
        return ProbeOutcome(Status.ERROR, Text(str(exc), f"参数错误：{exc}"), {"error": "params"})
    user, password = params.get("username"), _password(secrets)
    try:
        async with Recorder(host, port, user, password, timeout_s) as recorder:
            view = await recorder.view(with_jobs=True)
    except RecorderError as exc:
        return _error(exc)
    measured: dict[str, Any] = {
        "recorder": f"{host}:{port}",
        "recordings": len(view.recordings),
        "data_until": _iso(view.data_until),
        "jobs": None if view.jobs is None else [
            {"job": j.token, "recording": j.recording, "state": j.state, "errors": j.errors}
            for j in view.jobs],
        "storage_api": storage_api,
    }
    if storage_api == "isapi":
        try:
            disks = await asyncio.to_thread(read_isapi_storage, host, port, user, password,
                                            timeout_s)
        except RecorderError as exc:
            measured["storage_error"] = {"kind": exc.kind, "en": exc.en, "zh": exc.zh}
        else:
            measured["disks"] = [{"name": d.name, "capacity_mb": d.capacity_mb,
                                  "free_mb": d.free_mb, "status": d.status} for d in disks]
            # decimal GB, as disks are sold
            measured["free_gb"] = round(sum(d.free_mb for d in disks) / 1000, 1)
            measured["capacity_gb"] = round(sum(d.capacity_mb for d in disks) / 1000, 1)
    return ProbeOutcome(Status.PASS, Text(
        f"the recorder {host} answers: {len(view.recordings)} recordings",
        f"录像机 {host} 有应答：{len(view.recordings)} 路录像"), measured)


KINDS = (
    CheckKind(probe="camera_recording", run=run_camera_recording,
              params=(Param("address", TARGET),
                      *knobs("port", "camera", "camera_url", "timeout_s", "warmup_s",
                             "measure_s", "open_timeout_s", "read_timeout_s",
                             "describe_timeout_s", "allow_basic_auth"),
                      *optional("username", "recording_token", "snapshot_path")),
              judges=("recording.camera",), secrets=("password",), budget=recording_budget,
              decodes_video=True),
    CheckKind(probe="recorder_storage", run=run_recorder_storage,
              params=(Param("address", TARGET), *knobs("port", "timeout_s", "storage_api"),
                      *optional("username")),
              judges=("recording.storage",), secrets=("password",)),
)
