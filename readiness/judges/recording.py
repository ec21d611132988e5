"""Judges of CAM-STORE: each exam camera is being recorded now and its recording plays
back; the recorder can hold the whole exam.

The probes (probes/recording.py) only measure; an outcome they could not measure
(error: the recorder does not answer, refuses the password) passes through unchanged.

judge_params:
  recording.camera   thresholds (CamStoreThresholds), camera, recorder (host:port),
                     site_field (the room's cameras list, for the recording token)
  recording.storage  thresholds, cameras (how many the room records), exam_minutes,
                     minutes_from ("exam_sessions" or "profile"), where (recorder URL)
"""

from __future__ import annotations

from typing import Any

from ..config.profile import CamStoreThresholds
from ..results import Finding, ProbeOutcome, Status, Text, worst
from . import Issue, findings_of

_UNMEASURED = (Status.ERROR, Status.SKIP)
MB_PER_GB = 1000


def _verdict(outcome: ProbeOutcome, issues: list[Issue], passed: Text) -> ProbeOutcome:
    if not issues:
        outcome.status, outcome.message = Status.PASS, passed
        return outcome
    outcome.status = worst([i.status for i in issues])
    outcome.message = Text("; ".join(i.text.en for i in issues),
                           "；".join(i.text.zh for i in issues))
    outcome.findings = findings_of(issues)
    return outcome


def camera(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    if outcome.status in _UNMEASURED:
        return outcome
    th: CamStoreThresholds = params["thresholds"]
    m = outcome.measured
    name, recorder = params["camera"], params["recorder"]
    if m.get("recording") is None:
        have = ", ".join(m.get("recordings") or []) or "none"
        what = Text(f"the recorder {recorder} has no recording of this camera (it records: "
                    f"{have})", f"录像机 {recorder} 没有该摄像头的录像（其录像：{have}）")
        action = Text(f"add {name} to the recorder and record it (recorded under another "
                      f"name: its token as `recording` in {params['site_field']})",
                      f"请在录像机上添加 {name} 通道并开启录像（以其他名称录像：在 "
                      f"{params['site_field']} 中填写其 `recording` 令牌）")
        return _verdict(outcome, [Issue(Status.FAIL, Text(f"{what.en}: {action.en}",
                                                          f"{what.zh}：{action.zh}"),
                                        (Finding("recording.missing", what, action),))], what)
    issues: list[Issue] = []
    age = m.get("data_age_s")
    if age is None or age > th.max_data_age_s:
        seen = "no data" if age is None else f"latest data {age:.0f} s old"
        seen_zh = "没有数据" if age is None else f"最新数据是 {age:.0f} 秒前的"
        what = Text(f"its recording is not running now ({seen}; at most "
                    f"{th.max_data_age_s} s)", f"录像当前未在进行（{seen_zh}；应不超过 "
                    f"{th.max_data_age_s} 秒）")
        action = Text("start the recording schedule for this channel (continuous during the "
                      "exam) and check the recorder's disk",
                      "请为该通道开启录像计划（考试期间连续录像）并检查录像机硬盘")
        issues.append(Issue(Status.FAIL, what, (Finding("recording.stale", what, action),)))
    replay = m.get("replay") or {}
    if "width" not in replay:
        why = (replay.get("diagnosis") or {}).get("en") or replay.get("error") or "no picture"
        why_zh = (replay.get("diagnosis") or {}).get("zh") or why
        what = Text(f"its replay does not decode ({why})", f"录像回放无法解码（{why_zh}）")
        action = Text("play this camera's recording on the recorder; re-create the channel "
                      "if it does not play", "请在录像机上回放该通道录像；无法播放时请重建该通道")
        issues.append(Issue(Status.FAIL, what, (Finding("recording.replay_failed", what,
                                                        action),)))
    has_audio = "Audio" in (m.get("tracks") or []) or m.get("replay_audio") is True
    if th.audio_required and not has_audio:
        what = Text("its recording has no audio track", "录像没有音轨")
        action = Text("record this channel with its audio (video and audio stream)",
                      "请在摄像头上开启该通道的音频，并在录像机上录制复合流（音视频）")
        issues.append(Issue(Status.FAIL, what, (Finding("recording.no_audio", what, action),)))
    size = f"{replay.get('width')}×{replay.get('height')}" if "width" in replay else ""
    sound = Text(" with audio", "，含音频") if has_audio else Text("", "")
    passed = Text(f"recording {m['recording']} on {recorder}: latest data {age or 0:.0f} s "
                  f"old; replay decoded {size}{sound.en}",
                  f"录像机 {recorder} 上的录像 {m['recording']}：最新数据为 {age or 0:.0f} 秒前；"
                  f"回放解码 {size}{sound.zh}")
    return _verdict(outcome, issues, passed)


def storage(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    if outcome.status in _UNMEASURED:
        return outcome
    th: CamStoreThresholds = params["thresholds"]
    m = outcome.measured
    cameras, minutes = int(params["cameras"]), int(params["exam_minutes"])
    # Mbit/s x seconds / 8 = MB; disks are sold in decimal GB
    need_gb = round(cameras * th.camera_bitrate_mbps * minutes * 60 / 8 / MB_PER_GB, 1)
    m["need_gb"] = need_gb
    sum_en = (f"{cameras} cameras × {th.camera_bitrate_mbps:g} Mbit/s × {minutes} min "
              f"= {need_gb:g} GB")
    sum_zh = (f"{cameras} 路 × {th.camera_bitrate_mbps:g} Mbit/s × {minutes} 分钟 "
              f"= {need_gb:g} GB")
    issues: list[Issue] = []
    errors = sorted({e for job in (m.get("jobs") or []) for e in job.get("errors", [])})
    stopped = sorted(job["recording"] for job in (m.get("jobs") or [])
                     if job.get("state") not in ("Active", "PartiallyActive"))
    free = m.get("free_gb")
    if free is None:
        why = (m.get("storage_error") or {}).get("en") or \
            "the site file sets storage_api: none (ONVIF has no free-space query)"
        why_zh = (m.get("storage_error") or {}).get("zh") or \
            "站点文件设置了 storage_api: none（ONVIF 无剩余空间查询）"
        what = Text(f"free space not verified: {why}", f"剩余空间未验证：{why_zh}")
        action = Text(f"read the free space on the recorder's disk page: the exam needs "
                      f"{sum_en}", f"请在录像机硬盘页面查看剩余空间：考试需要 {sum_zh}")
        issues.append(Issue(Status.WARN, Text(f"{what.en}; {action.en}",
                                              f"{what.zh}；{action.zh}"),
                            (Finding("recording.storage_unverified", what, action),)))
    elif free < need_gb:
        what = Text(f"the recorder's disks have {free:g} GB free of {m.get('capacity_gb')} GB; "
                    f"the exam needs {sum_en}",
                    f"录像机硬盘剩余 {free:g} GB（共 {m.get('capacity_gb')} GB）；"
                    f"考试需要 {sum_zh}")
        action = Text("free space on the recorder (export and delete old footage) or fit a "
                      "larger disk before the exam",
                      "请在考试前清理录像机空间（导出并删除旧录像）或更换更大的硬盘")
        issues.append(Issue(Status.FAIL, what, (Finding("recording.storage_full", what,
                                                        action),)))
    if errors or stopped:
        listed = "; ".join(errors + [f"{r} not active" for r in stopped])
        what = Text(f"its recording jobs report: {listed}", f"其录像任务报告：{listed}")
        action = Text("clear the fault on the recorder so every channel records",
                      "请排除录像机故障，使每个通道都在录像")
        issues.append(Issue(Status.FAIL if stopped else Status.WARN, what,
                            (Finding("recording.job_error", what, action),)))
    passed = Text(f"{free:g} GB free; the exam needs {sum_en}",
                  f"剩余 {free:g} GB；考试需要 {sum_zh}") if free is not None else Text("", "")
    return _verdict(outcome, issues, passed)


OUTCOME_JUDGES = {"recording.camera": camera, "recording.storage": storage}
RESULTS_JUDGES: dict[str, Any] = {}
