"""Judges of CAM-RES, CAM-AUDIO and CAM-COUNT: a camera's decoded picture and session
description against the certificate's numbers, and a room's count of working cameras.

The probes (probes/camera_stream.py, probes/onvif_discovery.py) only measure; an
outcome they could not measure (error, skip) passes through unchanged.

judge_params:
  cameras.picture    where (the masked URL), thresholds (CamResThresholds), measure_s
  cameras.audio      where, thresholds (CamAudioThresholds)
  cameras.discovery  configured_addresses (hosts of the site file's camera URLs)
  cameras.count      room_id, res_ids (the room's CAM-RES check ids), thresholds
                     (CamCountThresholds)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..config.profile import CamAudioThresholds, CamCountThresholds, CamResThresholds
from ..results import NOT_PROOF, CheckResult, Finding, ProbeOutcome, Status, Text

# A covered lens shows no detail, whatever the cloth's colour: the probe's detail
# (variance of the Laplacian of a 320x180 grey copy) under DETAIL_MIN and the luma's
# spread under FLAT_STD. Darkness alone proves nothing: a dim room with a moving object
# is mostly dark pixels (lab: detail ~7, spread ~3), a covered lens has detail ~0.
DETAIL_MIN = 2.0
FLAT_STD = 8.0
# Under this mean luma the blank picture is called dark (a dark cloth, a cap), above it
# light (a light cloth, paper, a blank wall, overexposure).
DARK_MEAN = 64.0
# Frozen: no block of the probe's grid of block means changes by this much (0-255 luma)
# over the measure window. Block means average away sensor and encoder noise (and the
# noise square of a test pattern); a moving object or a ticking clock changes a block
# by far more.
FROZEN_MOTION = 30.0

_UNMEASURED = (Status.ERROR, Status.SKIP)
# A stall: no frame for this long, or for three frame intervals of a slow camera.
STALL_GAP_S = 1.0
# Unread data at a gap's end this large: the camera kept sending and the decoder was
# behind (a 5-fps 1080p camera sends this much in a fifth of a second)
QUEUED_BYTES = 32 * 1024
# A read that failed after waiting this long waited out its timeout: the session was
# open and sent nothing (a stream that ends fails its read at once).
WAITED_S = 1.0


def _stall(m: dict[str, Any]) -> tuple[Text, Finding] | None:
    """A stream that stopped delivering over the measuring window, said with after how
    long and with its frame count against its rate. A camera that only sends fewer frames
    than it declares is not failed on that alone: in the lab, and on any machine that
    both encodes and decodes, that is this computer's load."""
    fps = m.get("fps")
    gap_limit = max(STALL_GAP_S, 3.0 / fps) if fps else 2 * STALL_GAP_S
    gap = m.get("longest_gap_s")
    restart = Text("restart the camera; if it happens again, check its power supply, "
                   "its encoder load (bitrate, resolution) and its cable",
                   "请重启摄像头；如再次出现，请检查其供电、编码负载（码率、分辨率）和网线")
    queued = m.get("gap_queued_bytes")
    if isinstance(queued, int) and queued >= QUEUED_BYTES:
        # what the camera sent waited unread when the gap ended: the decoder was behind
        # (this PC's load), the camera was sending
        held_back = gap or 0.0
    elif m.get("gap_to_end") and isinstance(queued, int):
        # the stream did not come back and nothing it sent waited: the camera stopped,
        # however long FFmpeg's threads waited for a CPU meanwhile (one was runnable
        # 3.03 s of a 3.05-s stop)
        held_back = 0.0
    else:
        # a gap the stream came back from (or no socket table): the part of it the
        # decoder's most held-back thread waited for a CPU is this PC's load, the rest
        # the camera's
        held_back = m.get("gap_runnable_s") or 0.0
    if gap is not None and gap - held_back >= gap_limit:
        after = m.get("gap_from_s", 0.0)
        # the frame count against the rate over the window: how much of it had a picture
        rate = m.get("declared_fps") or fps
        frames, window = m.get("measured_frames"), m.get("window_s")
        count_en = count_zh = ""
        if rate and frames is not None and window:
            count_en = (f" ({frames} frames in the {window:g}-s window, where {rate:g} fps "
                        f"gives {rate * window:.0f})")
            count_zh = (f"（{window:g} 秒窗口内 {frames} 帧，按 {rate:g} fps 应有 "
                        f"{rate * window:.0f} 帧）")
        if not m.get("read_failed") or (m.get("failed_read_s") or 0.0) >= WAITED_S:
            what = Text(f"the stream stopped after {after:g} s: no frame for {gap:g} s while "
                        f"its RTSP session stayed open{count_en}",
                        f"视频流在 {after:g} 秒后停止：{gap:g} 秒内无任何画面，"
                        f"而 RTSP 会话仍保持打开{count_zh}")
        else:
            what = Text(f"the stream ended after {after:g} s (no frame for {gap:g} s)"
                        f"{count_en}",
                        f"视频流在 {after:g} 秒后中断（{gap:g} 秒内无画面）{count_zh}")
        return (Text(f"{what.en}; {restart.en}", f"{what.zh}；{restart.zh}"),
                Finding("camera.stalled", what, restart))
    return None


def picture(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """CAM-RES: the decoded size against the rule, and whether the picture is live (a
    stream that did not open or decode is the probe's error)."""
    if outcome.status in _UNMEASURED:
        return outcome
    th: CamResThresholds = params["thresholds"]
    where = params["where"]
    m = outcome.measured
    min_w, min_h = th.min_width, th.min_height
    w, h = m["width"], m["height"]
    problems: list[tuple[Text, Finding]] = []
    if w < min_w or h < min_h or w * h < th.min_megapixels * 1e6:
        what = Text(f"decoded {w}×{h}; the rule needs {min_w}×{min_h}",
                    f"解码画面为 {w}×{h}，规定至少 {min_w}×{min_h}")
        problems.append((
            Text(f"{what.en} — is this the sub-stream? use the main stream URL",
                 f"{what.zh}——这是子码流吗？请使用主码流地址"),
            Finding("camera.low_resolution", what,
                    Text("use the main stream URL (this looks like the sub-stream)",
                         "请使用主码流地址（这可能是子码流）"))))
    measure_s = params["measure_s"]
    stall = _stall(m)
    if stall:
        # too few frames after it to judge the picture's content
        problems.append(stall)
    elif "detail" in m and m["detail"] < DETAIL_MIN and m["luma_std"] < FLAT_STD:
        if m["luma_mean"] < DARK_MEAN:
            what = Text(f"the picture is black and without any detail (detail {m['detail']:g}, "
                        f"{m['dark_share']:.0%} dark pixels)",
                        f"画面全黑且无任何细节（细节 {m['detail']:g}，暗像素 "
                        f"{m['dark_share']:.0%}）")
            problems.append((
                Text(f"{what.en}: is the lens covered, or is the camera pointing at a dark "
                     "wall?", f"{what.zh}：镜头是否被遮挡，或对着黑暗处？"),
                Finding("camera.covered_dark", what,
                        Text("uncover the lens, or point the camera at the room",
                             "请去除镜头遮挡物，或将摄像头对准考场"))))
        else:
            what = Text(f"the picture is a blank light surface without any detail (detail "
                        f"{m['detail']:g}, mean luma {m['luma_mean']:g})",
                        f"画面为无细节的浅色平面（细节 {m['detail']:g}，平均亮度 "
                        f"{m['luma_mean']:g}）")
            problems.append((
                Text(f"{what.en}: is the lens covered by a light cloth or paper, or is the "
                     "camera pointing at a blank wall?",
                     f"{what.zh}：镜头是否被浅色布或纸遮挡，或对着空白墙面？"),
                Finding("camera.covered_light", what,
                        Text("uncover the lens, or point the camera at the room",
                             "请去除镜头遮挡物，或将摄像头对准考场"))))
    elif "motion" in m and m["motion"] < FROZEN_MOTION:
        what = Text(f"the picture did not change for {measure_s} s: frozen",
                    f"画面 {measure_s} 秒内无变化：画面冻结")
        restart = Text("restart the camera", "请重启摄像头")
        problems.append((Text(f"{what.en}; {restart.en}", f"{what.zh}，{restart.zh}"),
                         Finding("camera.frozen", what, restart)))
    fps = fps_zh = f", {m['fps']:g} fps" if "fps" in m else ""
    if fps and m.get("fps_source") == "arrival":
        fps += " (by arrival: the stream carries no timestamps)"
        fps_zh += "（按到达时间：视频流无时间戳）"
    if problems:
        return ProbeOutcome(Status.FAIL, Text(f"{where}: " + "; ".join(t.en for t, _ in problems),
                                              f"{where}：" + "；".join(t.zh for t, _ in problems)),
                            m, outcome.evidence, findings=[f for _, f in problems])
    if "motion" not in m:  # (a stall has failed above)
        what = Text(f"decoded {w}×{h}, but too few frames came to tell whether the picture is "
                    "live", f"解码画面 {w}×{h}，但帧数太少，无法判断画面是否实时")
        return ProbeOutcome(Status.WARN, Text(f"{where}: {what.en}", f"{where}：{what.zh}"), m,
                            outcome.evidence, findings=[Finding(
                                "camera.liveness_unknown", what,
                                Text("check the camera's frame rate and the network, then "
                                     "run the check again",
                                     "请检查摄像头帧率和网络，然后重新检查"))])
    return ProbeOutcome(Status.PASS, Text(
        f"{where}: decoded {w}×{h}{fps}, live picture (rule {min_w}×{min_h})",
        f"{where}：解码画面 {w}×{h}{fps_zh}，画面实时（规定 {min_w}×{min_h}）"), m,
        outcome.evidence)


def audio(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """CAM-AUDIO: an audio track in the session description, where the rule asks for it."""
    if outcome.status in _UNMEASURED:
        return outcome
    th: CamAudioThresholds = params["thresholds"]
    where = params["where"]
    m = outcome.measured
    codecs = ", ".join(m["codecs"]) or "none"
    if m["audio"]:
        return ProbeOutcome(Status.PASS, Text(
            f"{where}: the stream has an audio track ({codecs})",
            f"{where}：视频流包含音频轨（{codecs}）"), m)
    if th.audio_required:
        what = Text(f"the stream has no audio track ({codecs})", f"视频流没有音频轨（{codecs}）")
        action = Text("turn on audio in the camera's encoding settings (and check it has a "
                      "microphone)", "请在摄像头编码设置中开启音频（并确认摄像头带拾音器）")
        return ProbeOutcome(Status.FAIL, Text(f"{where}: {what.en}; {action.en}",
                                              f"{where}：{what.zh}；{action.zh}"), m,
                            findings=[Finding("camera.no_audio", what, action)])
    return ProbeOutcome(Status.PASS, Text(
        f"{where}: no audio track ({codecs}); this certificate does not require audio",
        f"{where}：无音频轨（{codecs}）；本证书不要求音频"), m)


def _hosts(device: dict[str, Any]) -> set[str]:
    hosts = {device["address"]}
    for xaddr in device["xaddrs"]:
        try:
            host = urlsplit(xaddr).hostname
        except ValueError:
            continue
        if host:
            hosts.add(host)
    return hosts


def _describe(device: dict[str, Any]) -> str:
    label = f"{device['address']}"
    extra = [x for x in (device.get("name"), device.get("hardware")) if x]
    if extra:
        label += f" ({', '.join(extra)})"
    xaddrs = " ".join(device["xaddrs"]) or "-"
    return f"{label} XAddrs {xaddrs}"


def discovery(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """CAM-COUNT's ONVIF look: cameras that answer on the LAN but are missing from the
    site file are named (warn). Evidence only: never proof that a camera works."""
    if outcome.status in _UNMEASURED:
        return outcome
    found: list[dict[str, Any]] = outcome.measured["found"]
    known = {c.strip().lower() for c in params["configured_addresses"] if c}
    unconfigured = [d for d in found if not ({h.lower() for h in _hosts(d)} & known)]
    measured = {"found": found, "unconfigured": [d["address"] for d in unconfigured],
                NOT_PROOF: True}
    if not found:
        return ProbeOutcome(Status.PASS, Text(
            "no ONVIF camera answered WS-Discovery (cameras may have it switched off)",
            "没有 ONVIF 摄像头响应 WS-Discovery 探测（摄像头可能关闭了该功能）"), measured)
    if unconfigured:
        names = "; ".join(_describe(d) for d in unconfigured)
        what = Text(f"{len(unconfigured)} of {len(found)} ONVIF camera(s) answering on the LAN "
                    f"are not in the site file: {names}",
                    f"局域网内响应的 {len(found)} 路 ONVIF 摄像头中有 {len(unconfigured)} 路"
                    f"不在站点文件中：{names}")
        action = Text("add each exam-room camera to the room's cameras (its RTSP URL) so it "
                      "is checked", "请把考场摄像头（RTSP 地址）加入该考场的 cameras 以便检查")
        return ProbeOutcome(Status.WARN, Text(
            f"{what.en}. Add each exam-room camera to the room's cameras (its RTSP URL) so it "
            "is checked", f"{what.zh}。{action.zh}"), measured,
                            findings=[Finding("camera.unlisted", what, action)])
    return ProbeOutcome(Status.PASS, Text(
        f"all {len(found)} ONVIF camera(s) answering WS-Discovery are in the site file",
        f"响应 WS-Discovery 的 {len(found)} 路 ONVIF 摄像头均已在站点文件中配置"), measured)


def count(results: list[CheckResult], params: dict[str, Any]) -> ProbeOutcome:
    """CAM-COUNT: the room's CAM-RES passes against the minimum (the discovery result
    never counts: it says which cameras answer, not which ones work)."""
    th: CamCountThresholds = params["thresholds"]
    room_id = params["room_id"]
    res_ids = set(params["res_ids"])
    minimum = th.min_cameras
    mine = [r for r in results if r.check_id in res_ids]
    passing = [r for r in mine if r.status == Status.PASS]
    partial = [r for r in mine if r.status == Status.WARN]
    unverified = [r for r in mine if r.status in _UNMEASURED]
    measured: dict[str, Any] = {"working_cameras": len(passing),
                                "partly_verified": len(partial),
                                "configured_cameras": len(res_ids)}
    why = _why_unchecked(unverified)
    if why:
        measured["not_checked"] = {name: d.get("kind", "") for name, d in why}
    outcome = _count_verdict(room_id, minimum, len(res_ids), passing, partial, unverified,
                             measured)
    if why:
        # the same diagnosis as the camera's CAM-RES and CAM-AUDIO rows, word for word
        outcome.message = Text(
            outcome.message.en + "; not checked: "
            + "; ".join(f"{name}: {d['en']}" for name, d in why),
            outcome.message.zh + "；未能检查："
            + "；".join(f"{name}：{d['zh']}" for name, d in why))
    return outcome


def _why_unchecked(unverified: list[CheckResult]) -> list[tuple[str, dict[str, str]]]:
    """(camera name, the probe's diagnosis) of each camera that could not be checked."""
    why = []
    for r in sorted(unverified, key=lambda r: r.check_id):
        diagnosis = r.measured.get("diagnosis") if isinstance(r.measured, dict) else None
        if isinstance(diagnosis, dict) and "en" in diagnosis and "zh" in diagnosis:
            why.append((r.subject.name,
                        {**diagnosis, "kind": str(r.measured.get("error", ""))}))
    return why


def _count_verdict(room_id: str, minimum: int, configured: int, passing: list[CheckResult],
                   partial: list[CheckResult], unverified: list[CheckResult],
                   measured: dict[str, Any]) -> ProbeOutcome:
    res_ids = range(configured)  # only its length is shown
    if len(passing) >= minimum:
        return ProbeOutcome(Status.PASS, Text(
            f"room {room_id}: {len(passing)} of {len(res_ids)} cameras send a live picture "
            f"(need {minimum})",
            f"考场 {room_id}：{len(res_ids)} 路摄像头中 {len(passing)} 路画面正常"
            f"（要求 {minimum} 路）"), measured)
    if len(passing) + len(partial) >= minimum:
        what = Text(f"{minimum} cameras only when counting {len(partial)} partly verified "
                    "(see CAM-RES)",
                    f"需计入 {len(partial)} 路仅部分验证的摄像头才达到 {minimum} 路（见 CAM-RES）")
        return ProbeOutcome(Status.WARN, Text(f"room {room_id}: {what.en}",
                                              f"考场 {room_id}：{what.zh}"), measured,
                            findings=[Finding("camera.count_partly_verified", what, Text(
                                "make the cameras marked warn under CAM-RES pass",
                                "请使 CAM-RES 中警告的摄像头通过检查"))])
    if unverified and len(passing) + len(partial) + len(unverified) >= minimum:
        what = Text(f"only {len(passing)} cameras proven working; {len(unverified)} could not "
                    "be checked (see CAM-RES)",
                    f"仅 {len(passing)} 路摄像头确认正常；{len(unverified)} 路无法检查"
                    "（见 CAM-RES）")
        return ProbeOutcome(Status.ERROR, Text(f"room {room_id}: {what.en}",
                                               f"考场 {room_id}：{what.zh}"), measured,
                            findings=[Finding("camera.count_unverified", what, Text(
                                "fix what stopped those cameras being checked (see CAM-RES), "
                                "then check again",
                                "请排除这些摄像头无法检查的原因（见 CAM-RES）后重新检查"))])
    what = Text(f"only {len(passing)} of {len(res_ids)} configured cameras send a live "
                f"picture; the rule needs {minimum}",
                f"配置的 {len(res_ids)} 路摄像头中仅 {len(passing)} 路画面正常，"
                f"规定至少 {minimum} 路")
    action = Text("fix the cameras marked under CAM-RES or add cameras to the site file",
                  "请修复 CAM-RES 中的问题摄像头或在站点文件中补充")
    return ProbeOutcome(Status.FAIL, Text(f"room {room_id}: {what.en}: {action.en}",
                                          f"考场 {room_id}：{what.zh}：{action.zh}"), measured,
                        findings=[Finding("camera.too_few", what, action)])


OUTCOME_JUDGES = {
    "cameras.picture": picture,
    "cameras.audio": audio,
    "cameras.discovery": discovery,
}
RESULTS_JUDGES = {"cameras.count": count}
