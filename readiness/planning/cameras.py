"""CAM-RES, CAM-AUDIO and CAM-COUNT: every camera sends a real, live picture of the
size the certificate names (and audio where it asks for it), and each room has enough
such cameras.

Declarative: the camera probes are named (probes/camera_stream.py) and the password is
named by its site path in Check.secrets, resolved by the runner at call time: it never
enters a Check's params, which are logged and may be sent to agents. Verdicts are
readiness/judges/cameras.py's.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..checks import COORDINATOR, Check
from ..config.profile import CamAudioThresholds, CamCountThresholds, CamResThresholds
from ..config.site import Camera, Room
from ..redact import mask_url
from ..registry import deadline
from ..subject import Kind, Subject
from . import subjects
from .context import thresholds_of
from .knobs import knobs

if TYPE_CHECKING:
    from ..config.profile import Requirement
    from .context import PlanContext



def _password(ctx: PlanContext, room: Room, index: int) -> dict[str, str]:
    """The probe's `secrets`: the camera password's site path, when the site gives one."""
    room_index = next(i for i, r in enumerate(ctx.site.model.rooms) if r is room)
    path = f"rooms[{room_index}].cameras[{index}].password"
    return {"password": path} if ctx.site.secret(path) is not None else {}


def _subject(room: Room, camera: Camera) -> Subject:
    return Subject(Kind.CAMERA, camera.name, room.id, _camera_host(camera.url))


def _camera_params(ctx: PlanContext, room: Room, index: int) -> dict[str, Any]:
    """What every camera probe is given: where, as whom, and whether Basic may be
    answered (the site file's allow_basic_auth, named in the probe's refusal)."""
    camera = room.cameras[index]
    room_index = next(i for i, r in enumerate(ctx.site.model.rooms) if r is room)
    return {"url": camera.url, "username": camera.username, "camera": camera.name,
            "allow_basic_auth": camera.allow_basic_auth,
            "site_field": f"rooms[{room_index}].cameras[{index}]"}

def _res_id(room: Room, camera: Camera) -> str:
    return f"CAM-RES/{room.id}/{camera.name}"


def plan_cam_res(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    th = thresholds_of(req, CamResThresholds)
    threshold = {"min_width": th.min_width, "min_height": th.min_height,
                 "min_megapixels": th.min_megapixels}
    checks = []
    for index, camera in enumerate(room.cameras):
        params: dict[str, Any] = {
            **_camera_params(ctx, room, index),
            **knobs("camera_picture"),
        }
        if ctx.evidence_dir is not None:
            params["snapshot_path"] = str(ctx.evidence_dir / f"{room.id}-{camera.name}.jpg")
        checks.append(Check(
            check_id=_res_id(room, camera),
            requirement="CAM-RES",
            subject=_subject(room, camera),
            vantage=COORDINATOR,
            probe="camera_picture",
            params=params,
            threshold=threshold,
            deadline_s=deadline("camera_picture", params),
            secrets=_password(ctx, room, index),
            judge="cameras.picture",
            judge_params={"thresholds": th, "where": mask_url(camera.url),
                          "measure_s": params["measure_s"]},
        ))
    return checks


def plan_cam_audio(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    th = thresholds_of(req, CamAudioThresholds)
    return [Check(
        check_id=f"CAM-AUDIO/{room.id}/{camera.name}",
        requirement="CAM-AUDIO",
        subject=_subject(room, camera),
        vantage=COORDINATOR,
        probe="camera_audio",
        params={**_camera_params(ctx, room, index), **knobs("camera_audio")},
        threshold={"audio_required": th.audio_required},
        deadline_s=knobs("camera_audio")["timeout_s"] + 1.0,
        secrets=_password(ctx, room, index),
        judge="cameras.audio",
        judge_params={"thresholds": th, "where": mask_url(camera.url)},
    ) for index, camera in enumerate(room.cameras)]


def plan_cam_count(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    th = thresholds_of(req, CamCountThresholds)
    if not room.cameras:
        # nothing in the site file to count: "not configured" (unverified), not a fail
        # the site file cannot prove
        return []
    return [Check(
        check_id=f"CAM-COUNT/{room.id}",
        requirement="CAM-COUNT",
        subject=subjects.room_subject(room),
        vantage=COORDINATOR,
        probe=None,
        threshold={"min_cameras": th.min_cameras},
        deadline_s=1.0,
        judge="cameras.count",
        judge_params={"thresholds": th, "room_id": room.id,
                      "res_ids": sorted(_res_id(room, c) for c in room.cameras)},
    )]


def _camera_host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def plan_cam_discovery(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    """ONVIF WS-Discovery on the room's LAN: cameras that answer but are missing from the
    site file are named (a warning), so none is left out of CAM-RES. It never counts
    towards CAM-COUNT's number, which only counts CAM-RES passes."""
    if ipaddress.ip_network(room.subnet, strict=False).is_loopback:
        return []  # a test room on loopback: no LAN to send multicast on
    configured = sorted({h for c in room.cameras if (h := _camera_host(c.url))})
    params = {"subnet": room.subnet, **knobs("onvif_discovery")}
    return [Check(
        check_id=f"CAM-COUNT/{room.id}/discovery",
        requirement="CAM-COUNT",
        subject=subjects.room_subject(room),
        aspect="onvif",
        vantage=COORDINATOR,
        probe="onvif_discovery",
        params=params,
        threshold={},
        deadline_s=params["window_s"] + 3.0,
        judge="cameras.discovery",
        judge_params={"configured_addresses": configured},
    )]


# the requirements this module plans checks for (readiness/planning/__init__.py finds it)
PLANS = {"CAM-RES": [plan_cam_res], "CAM-AUDIO": [plan_cam_audio],
         "CAM-COUNT": [plan_cam_count, plan_cam_discovery]}
# the requirements whose checks these derive from
NEEDS = {"CAM-COUNT": {"CAM-RES"}}
