"""The cameras' rules: CAM-COUNT, CAM-RES, CAM-AUDIO."""

from __future__ import annotations

from ..results import CheckResult, Text
from . import Metric, Rule, Trend
from ._words import as_list, both, count, needs, num


def _cam_count(r: CheckResult) -> Text | None:
    found = count("working_cameras", "configured_cameras", "cameras live", "摄像头画面正常")(r)
    if found is not None:
        return found
    unconfigured = as_list(r.measured.get("unconfigured"))
    if unconfigured is not None:
        return Text(f"{len(unconfigured)} cameras not in the site file",
                    f"{len(unconfigured)} 个摄像头不在站点文件中")
    return None


def _cam_res(r: CheckResult) -> Text | None:
    width, height = r.measured.get("width"), r.measured.get("height")
    if not isinstance(width, int) or not isinstance(height, int):
        return None
    fps = num(r.measured.get("fps"))
    rate = f" · {fps:.3g} fps" if fps is not None else ""
    return both(f"{width}×{height}{rate}")


def _cam_audio(r: CheckResult) -> Text | None:
    audio = r.measured.get("audio")
    if not isinstance(audio, bool):
        return None
    codecs = ", ".join(str(c) for c in as_list(r.measured.get("codecs")) or [])
    tail = f" ({codecs})" if codecs else ""
    return (Text(f"audio track{tail}", f"有音轨{tail}") if audio
            else Text(f"no audio track{tail}", f"无音轨{tail}"))


RULES = (
    Rule("CAM-COUNT", _cam_count,
         needs("working_cameras", "configured_cameras", "min_cameras", "cameras live",
               "摄像头画面正常")),
    Rule("CAM-RES", _cam_res, metrics=(
        Metric("readiness_camera_frame_height_pixels", "decoded frame height", "CAM-RES",
               None, "height"),
        Metric("readiness_camera_frames_per_second", "frame rate measured after warm-up",
               "CAM-RES", None, "fps")),
         trends=(Trend("cameras_passing", "CAM-RES", None, "count_pass",
                       Text("Cameras passing", "合格摄像头"), "", 2),)),
    Rule("CAM-AUDIO", _cam_audio),
)
