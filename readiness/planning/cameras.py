"""CAM-RES, CAM-AUDIO and CAM-COUNT: every camera sends a real, live picture of the
size the certificate names (and audio where it asks for it), and each room has enough
such cameras.

The camera password is resolved here and bound into the probe's closure (Check.fn):
it never enters a Check's params, which are logged and may be sent to agents.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from probes import onvif_discovery
from probes.camera_stream import OPEN_QUEUE_S, picture_budget, run_audio, run_picture

from ..checks import Check
from ..config.site import Camera, Room
from ..results import CheckResult, ProbeOutcome, Status, Text

if TYPE_CHECKING:
    from ..config.profile import Requirement
    from . import PlanContext

COORDINATOR = "coordinator"
OPEN_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 3.0
WARMUP_S = 1.0
MEASURE_S = 2.0
DESCRIBE_TIMEOUT_S = 5.0

ProbeFn = Callable[[dict[str, Any], float], Awaitable[ProbeOutcome]]


def _password(ctx: PlanContext, room: Room, index: int) -> str | None:
    room_index = next(i for i, r in enumerate(ctx.site.model.rooms) if r is room)
    secret = ctx.site.secret(f"rooms[{room_index}].cameras[{index}].password")
    return secret.reveal() if secret is not None else None


def _bind(probe: ProbeFn, password: str | None) -> ProbeFn:
    async def bound(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        return await probe({**params, "password": password}, deadline_s)

    return bound


def _target(room: Room, camera: Camera) -> str:
    return f"camera {camera.name} (room {room.id})"


def _res_id(room: Room, camera: Camera) -> str:
    return f"CAM-RES/{room.id}/{camera.name}"


def plan_cam_res(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    th = req.thresholds
    threshold = {k: th[k] for k in ("min_width", "min_height", "min_megapixels") if k in th}
    checks = []
    for index, camera in enumerate(room.cameras):
        params: dict[str, Any] = {
            "url": camera.url, "username": camera.username,
            "min_width": int(th.get("min_width", 0)), "min_height": int(th.get("min_height", 0)),
            "min_megapixels": th.get("min_megapixels"),
            "warmup_s": WARMUP_S, "measure_s": MEASURE_S,
            "open_timeout_s": OPEN_TIMEOUT_S, "read_timeout_s": READ_TIMEOUT_S,
            # the room's cameras open one after another inside OpenCV
            "queue_s": OPEN_QUEUE_S * (len(room.cameras) - 1),
        }
        if ctx.evidence_dir is not None:
            params["snapshot_path"] = str(ctx.evidence_dir / f"{room.id}-{camera.name}.jpg")
        checks.append(Check(
            check_id=_res_id(room, camera),
            requirement="CAM-RES",
            target=_target(room, camera),
            vantage=COORDINATOR,
            probe="camera_picture",
            params=params,
            threshold=threshold,
            deadline_s=picture_budget(params),
            fn=_bind(run_picture, _password(ctx, room, index)),
        ))
    return checks


def plan_cam_audio(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    required = bool(req.thresholds.get("audio_required", True))
    return [Check(
        check_id=f"CAM-AUDIO/{room.id}/{camera.name}",
        requirement="CAM-AUDIO",
        target=_target(room, camera),
        vantage=COORDINATOR,
        probe="camera_audio",
        params={"url": camera.url, "username": camera.username, "audio_required": required,
                "timeout_s": DESCRIBE_TIMEOUT_S},
        threshold={"audio_required": required},
        deadline_s=DESCRIBE_TIMEOUT_S + 1.0,
        fn=_bind(run_audio, _password(ctx, room, index)),
    ) for index, camera in enumerate(room.cameras)]


def count_cameras(room_id: str, res_ids: set[str], minimum: int) -> Callable[
        [list[CheckResult]], ProbeOutcome]:
    def derive(results: list[CheckResult]) -> ProbeOutcome:
        mine = [r for r in results if r.check_id in res_ids]
        passing = [r for r in mine if r.status == Status.PASS]
        partial = [r for r in mine if r.status == Status.WARN]
        unverified = [r for r in mine if r.status in (Status.ERROR, Status.SKIP)]
        measured = {"working_cameras": len(passing), "partly_verified": len(partial),
                    "configured_cameras": len(res_ids)}
        if len(passing) >= minimum:
            return ProbeOutcome(Status.PASS, Text(
                f"room {room_id}: {len(passing)} of {len(res_ids)} cameras send a live picture "
                f"(need {minimum})",
                f"考场 {room_id}：{len(res_ids)} 路摄像头中 {len(passing)} 路画面正常"
                f"（要求 {minimum} 路）"), measured)
        if len(passing) + len(partial) >= minimum:
            return ProbeOutcome(Status.WARN, Text(
                f"room {room_id}: {minimum} cameras only when counting {len(partial)} partly "
                "verified (see CAM-RES)",
                f"考场 {room_id}：需计入 {len(partial)} 路仅部分验证的摄像头才达到 {minimum} 路"
                "（见 CAM-RES）"), measured)
        if unverified and len(passing) + len(partial) + len(unverified) >= minimum:
            return ProbeOutcome(Status.ERROR, Text(
                f"room {room_id}: only {len(passing)} cameras proven working; "
                f"{len(unverified)} could not be checked (see CAM-RES)",
                f"考场 {room_id}：仅 {len(passing)} 路摄像头确认正常；{len(unverified)} 路无法检查"
                "（见 CAM-RES）"), measured)
        return ProbeOutcome(Status.FAIL, Text(
            f"room {room_id}: only {len(passing)} of {len(res_ids)} configured cameras send a "
            f"live picture; the rule needs {minimum}: fix the cameras marked under CAM-RES "
            "or add cameras to the site file",
            f"考场 {room_id}：配置的 {len(res_ids)} 路摄像头中仅 {len(passing)} 路画面正常，"
            f"规定至少 {minimum} 路：请修复 CAM-RES 中的问题摄像头或在站点文件中补充"), measured)

    return derive


def plan_cam_count(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    minimum = int(req.thresholds.get("min_cameras", 2))
    if not room.cameras:
        # nothing in the site file to count: "not configured" (unverified), not a fail
        # the site file cannot prove
        return []
    return [Check(
        check_id=f"CAM-COUNT/{room.id}",
        requirement="CAM-COUNT",
        target=f"room {room.id}",
        vantage=COORDINATOR,
        probe=None,
        threshold={"min_cameras": minimum},
        deadline_s=1.0,
        derive=count_cameras(room.id, {_res_id(room, c) for c in room.cameras}, minimum),
    )]


DISCOVERY_WINDOW_S = 2.0


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
    return [Check(
        check_id=f"CAM-COUNT/{room.id}/discovery",
        requirement="CAM-COUNT",
        target=f"ONVIF cameras on {room.subnet} (room {room.id})",
        vantage=COORDINATOR,
        probe="onvif_discovery",
        params={"subnet": room.subnet, "configured_addresses": configured,
                "window_s": DISCOVERY_WINDOW_S},
        threshold={},
        deadline_s=DISCOVERY_WINDOW_S + 3.0,
        fn=onvif_discovery.run,
    )]
