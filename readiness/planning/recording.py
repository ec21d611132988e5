"""CAM-STORE: the whole exam is recorded and stored.

With a recorder in the room's site file: one check per camera (its recording on the
recorder is recent, a replay of it decodes, with audio where the profile asks) and one
for the recorder (its recording jobs, and free space for every camera's stream for the
exam's length). Without one nothing is planned, and the rule says "not configured".

The recorder's password is named by its site path in Check.secrets, resolved by the
runner at call time. Verdicts are readiness/judges/recording.py's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..checks import COORDINATOR, Check
from ..config.profile import CamStoreThresholds
from ..config.site import Room
from ..redact import mask_url
from ..registry import deadline
from ..subject import Kind, Subject
from .cameras import _subject as camera_subject
from .context import thresholds_of
from .knobs import knobs

if TYPE_CHECKING:
    from ..config.profile import Requirement
    from .context import PlanContext


def _room_index(ctx: PlanContext, room: Room) -> int:
    return next(i for i, r in enumerate(ctx.site.model.rooms) if r is room)


def _password(ctx: PlanContext, room: Room) -> dict[str, str]:
    path = f"rooms[{_room_index(ctx, room)}].recorder.password"
    return {"password": path} if ctx.site.secret(path) is not None else {}


def exam_minutes(ctx: PlanContext, th: CamStoreThresholds) -> tuple[int, str]:
    """The longest exam session of the site file, else the profile's length, and which."""
    sessions = ctx.site.model.exam_sessions
    if sessions:
        return max(s.duration_min for s in sessions), "exam_sessions"
    return th.exam_duration_min, "profile"


def recorder_subject(room: Room) -> Subject:
    assert room.recorder is not None
    return Subject(Kind.RECORDER, "recorder", room.id, room.recorder.address)


def plan_recordings(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    recorder = room.recorder
    if recorder is None:
        return []
    th = thresholds_of(req, CamStoreThresholds)
    checks = []
    for camera in room.cameras:
        params: dict[str, Any] = {
            "address": recorder.address, "port": recorder.port,
            "username": recorder.username, "camera": camera.name, "camera_url": camera.url,
            "recording_token": camera.recording,
            "allow_basic_auth": recorder.allow_basic_auth, **knobs("camera_recording"),
        }
        if ctx.evidence_dir is not None:
            params["snapshot_path"] = str(ctx.evidence_dir
                                          / f"{room.id}-{camera.name}-replay.jpg")
        checks.append(Check(
            check_id=f"CAM-STORE/{room.id}/{camera.name}",
            requirement="CAM-STORE",
            subject=camera_subject(room, camera),
            aspect="recording",
            vantage=COORDINATOR,
            probe="camera_recording",
            params=params,
            threshold={"max_data_age_s": th.max_data_age_s,
                       "audio_required": th.audio_required},
            deadline_s=deadline("camera_recording", params),
            secrets=_password(ctx, room),
            judge="recording.camera",
            judge_params={"thresholds": th, "camera": camera.name,
                          "recorder": f"{recorder.address}:{recorder.port}",
                          "site_field": f"rooms[{_room_index(ctx, room)}].cameras"},
        ))
    return checks


def plan_storage(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    recorder = room.recorder
    if recorder is None:
        return []
    th = thresholds_of(req, CamStoreThresholds)
    minutes, source = exam_minutes(ctx, th)
    params = {"address": recorder.address, "port": recorder.port,
              "username": recorder.username, "storage_api": recorder.storage_api,
              **knobs("recorder_storage")}
    return [Check(
        check_id=f"CAM-STORE/{room.id}/recorder",
        requirement="CAM-STORE",
        subject=recorder_subject(room),
        aspect="storage",
        vantage=COORDINATOR,
        probe="recorder_storage",
        params=params,
        threshold={"camera_bitrate_mbps": th.camera_bitrate_mbps, "exam_duration_min": minutes},
        # connect, search, jobs and the disk page, each within the timeout
        deadline_s=4 * params["timeout_s"] + 1.0,
        secrets=_password(ctx, room),
        judge="recording.storage",
        judge_params={"thresholds": th, "cameras": len(room.cameras),
                      "exam_minutes": minutes, "minutes_from": source,
                      "where": mask_url(f"http://{recorder.address}:{recorder.port}/")},
    )]


PLANS = {"CAM-STORE": [plan_recordings, plan_storage]}
