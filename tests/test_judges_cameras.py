"""The camera judges on recorded measurements: what the picture and SDP probes measured
on the lab's cameras (1080p with audio, 720p without, black, frozen) and a room's count."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from readiness.config.profile import CamAudioThresholds, CamCountThresholds, CamResThresholds
from readiness.judges import cameras as judge
from readiness.judges.registry import outcome_judges, results_judges
from readiness.results import CheckResult, ProbeOutcome, Status, Text
from readiness.subject import Kind, Subject

CBEC = CamResThresholds(min_width=1920, min_height=1080, min_megapixels=2)
EDA = CamResThresholds(min_width=1280, min_height=720, min_megapixels=0.9)
WHERE = "rtsp://admin:***@198.18.10.201:554/stream"

# recorded from run_picture on the lab cameras
HD_LIVE = {"opened": True, "frames": 31, "open_s": 0.8, "height": 1080, "width": 1920,
           "measured_frames": 20, "fps": 9.98, "fps_source": "pts", "luma_mean": 110.4,
           "luma_std": 61.2, "dark_share": 0.2, "detail": 911.1, "motion": 141.3,
           "mean_abs_diff": 3.1, "elapsed_s": 3.9}
HD720_LIVE = {**HD_LIVE, "height": 720, "width": 1280}
BLACK = {**HD_LIVE, "height": 360, "width": 640, "luma_mean": 16.0, "luma_std": 0.0,
         "dark_share": 1.0, "detail": 0.0, "motion": 0.0}
# the lab's patterns, recorded from run_picture (1280x720): a lens under a white and a
# grey cloth, and a dim room (dark grey walls, a dim object moving: ~100 % dark pixels)
WHITE = {**HD720_LIVE, "luma_mean": 255.0, "luma_std": 0.0, "dark_share": 0.0,
         "detail": 0.0, "motion": 0.0}
GREY = {**WHITE, "luma_mean": 153.0}
DIM_ROOM = {**HD720_LIVE, "luma_mean": 11.12, "luma_std": 3.37, "dark_share": 0.9986,
            "detail": 6.76, "motion": 100.0}
FROZEN = {**HD720_LIVE, "luma_mean": 120.0, "luma_std": 70.0, "motion": 6.5}
ONE_FRAME = {k: v for k, v in HD_LIVE.items() if k not in ("motion", "mean_abs_diff", "fps")}


def _picture(measured: dict, th: CamResThresholds = CBEC, evidence: list | None = None):  # type: ignore[no-untyped-def]
    outcome = ProbeOutcome(Status.PASS, Text("measured", "measured"), measured,
                           evidence or [])
    return judge.picture(outcome, {"thresholds": th, "where": WHERE, "measure_s": 2.0})


def test_a_live_1080p_picture_passes_and_keeps_its_snapshot() -> None:
    out = _picture(HD_LIVE, evidence=["/ev/r1-cam-1.jpg"])
    assert out.status == Status.PASS
    assert "decoded 1920×1080, 9.98 fps, live picture (rule 1920×1080)" in out.message.en
    assert "1920×1080" in out.message.zh and WHERE in out.message.en
    assert out.evidence == ["/ev/r1-cam-1.jpg"] and out.measured == HD_LIVE


def test_720p_fails_the_1080p_rule_and_passes_the_720p_rule() -> None:
    cbec = _picture(HD720_LIVE, CBEC)
    assert cbec.status == Status.FAIL
    assert "decoded 1280×720; the rule needs 1920×1080" in cbec.message.en
    assert "sub-stream" in cbec.message.en and "主码流" in cbec.message.zh
    assert _picture(HD720_LIVE, EDA).status == Status.PASS


def test_the_megapixel_floor_counts_too() -> None:
    th = CamResThresholds(min_width=1280, min_height=720, min_megapixels=1.0)
    assert _picture(HD720_LIVE, th).status == Status.FAIL  # 0.92 MP


def test_black_and_frozen_pictures_fail() -> None:
    black = _picture(BLACK, CamResThresholds(min_width=640, min_height=360,
                                             min_megapixels=0.2))
    assert black.status == Status.FAIL and "black" in black.message.en
    assert "遮挡" in black.message.zh
    frozen = _picture(FROZEN, EDA)
    assert frozen.status == Status.FAIL and "frozen" in frozen.message.en
    assert "did not change for 2.0 s" in frozen.message.en and "冻结" in frozen.message.zh


def test_a_light_cloth_fails_like_a_dark_one_and_a_dim_room_passes() -> None:
    for cloth in (WHITE, GREY):
        out = _picture(cloth, EDA)
        assert out.status == Status.FAIL, cloth
        assert "light cloth" in out.message.en and "浅色" in out.message.zh
        assert "frozen" not in out.message.en  # one cause, the likelier one
    dim = _picture(DIM_ROOM, EDA)
    assert dim.status == Status.PASS, dim.message.en


def test_a_frame_rate_not_from_timestamps_says_so() -> None:
    out = _picture({**HD_LIVE, "fps_source": "arrival"})
    assert out.status == Status.PASS and "by arrival" in out.message.en
    assert "到达时间" in out.message.zh


def test_too_few_frames_to_tell_live_is_only_a_warning() -> None:
    out = _picture(ONE_FRAME)
    assert out.status == Status.WARN and "too few frames" in out.message.en


def test_what_the_probe_could_not_measure_passes_through() -> None:
    error = ProbeOutcome(Status.ERROR, Text("cannot open", "无法打开"), {"opened": False})
    params = {"thresholds": CBEC, "where": WHERE, "measure_s": 2.0}
    assert judge.picture(error, params) is error
    assert judge.audio(error, {"thresholds": CamAudioThresholds(audio_required=True),
                               "where": WHERE}) is error


@pytest.mark.parametrize("audio, required, status, words", [
    (True, True, Status.PASS, "has an audio track (video/H264, audio/PCMU)"),
    (False, True, Status.FAIL, "no audio track (video/H264)"),
    (False, False, Status.PASS, "does not require audio"),
])
def test_audio(audio: bool, required: bool, status: Status, words: str) -> None:
    codecs = ["video/H264", "audio/PCMU"] if audio else ["video/H264"]
    measured = {"video": True, "audio": audio, "codecs": codecs, "auth": "none"}
    out = judge.audio(ProbeOutcome(Status.PASS, Text("", ""), measured),
                      {"thresholds": CamAudioThresholds(audio_required=required),
                       "where": WHERE})
    assert out.status == status and words in out.message.en, out.message.en
    assert out.message.zh and out.measured == measured


def _device(address: str, name: str) -> dict:
    return {"address": address, "xaddrs": [f"http://{address}/onvif/device_service"],
            "scopes": [f"onvif://www.onvif.org/name/{name}"], "name": name, "hardware": None}


def _discovered(found: list[dict], configured: list[str]) -> ProbeOutcome:
    return judge.discovery(ProbeOutcome(Status.PASS, Text("", ""), {"found": found}),
                           {"configured_addresses": configured})


def test_discovery_names_the_cameras_missing_from_the_site_file() -> None:
    none = _discovered([], ["198.18.10.201"])
    assert none.status == Status.PASS
    assert "no ONVIF camera answered WS-Discovery (cameras may have it switched off)" \
        in none.message.en
    assert none.message.zh and none.measured == {"found": [], "unconfigured": [],
                                                 "not_proof": True}
    found = [_device("198.18.10.201", "cam-1"), _device("198.18.10.202", "cam-2")]
    ok = _discovered(found, ["198.18.10.201", "198.18.10.202"])
    assert ok.status == Status.PASS and ok.measured["unconfigured"] == []
    warn = _discovered(found, ["198.18.10.201"])
    assert warn.status == Status.WARN
    assert warn.measured["unconfigured"] == ["198.18.10.202"]
    assert "http://198.18.10.202/onvif/device_service" in warn.message.en
    assert "198.18.10.202" in warn.message.zh and "198.18.10.201" not in warn.message.en
    # configured by a host name that its XAddrs use
    named = {**_device("198.18.10.203", "x"), "xaddrs": ["http://cam3.lan/onvif/device_service"]}
    assert _discovered([named], ["cam3.lan"]).status == Status.PASS


def _result(check_id: str, status: Status) -> CheckResult:
    return CheckResult("CAM-COUNT" if "discovery" in check_id else "CAM-RES",
                       Text("", ""), Subject(Kind.CAMERA, check_id.rsplit("/", 1)[-1], "r1"),
                       "coordinator", status, Text("", ""), {}, {}, None,
                       datetime.now(UTC), 0.1, check_id=check_id)


def test_cam_count_verdicts() -> None:
    params = {"thresholds": CamCountThresholds(min_cameras=2), "room_id": "r1",
              "res_ids": ["CAM-RES/r1/a", "CAM-RES/r1/b", "CAM-RES/r1/c"]}
    P, W, E, F = Status.PASS, Status.WARN, Status.ERROR, Status.FAIL
    for statuses, want in (((P, P, F), P), ((P, W, F), W), ((P, E, F), E), ((P, F, F), F)):
        got = judge.count([_result(f"CAM-RES/r1/{n}", s)
                           for n, s in zip("abc", statuses, strict=True)], params)
        assert got.status == want, (statuses, got.message.en)
    failed = judge.count([_result("CAM-RES/r1/a", P)], params)
    assert "only 1 of 3 configured cameras" in failed.message.en and failed.message.zh


def test_the_count_ignores_the_discovery_and_other_rooms() -> None:
    params = {"thresholds": CamCountThresholds(min_cameras=2), "room_id": "r1",
              "res_ids": ["CAM-RES/r1/a", "CAM-RES/r1/b"]}
    got = judge.count([_result("CAM-RES/r1/a", Status.PASS),
                       _result("CAM-RES/r1/b", Status.FAIL),
                       _result("CAM-RES/r2/a", Status.PASS),
                       _result("CAM-COUNT/r1/discovery", Status.PASS)], params)
    assert got.status == Status.FAIL and got.measured["working_cameras"] == 1


def test_the_judges_are_registered_by_name() -> None:
    assert outcome_judges()["cameras.picture"] is judge.picture
    assert outcome_judges()["cameras.audio"] is judge.audio
    assert outcome_judges()["cameras.discovery"] is judge.discovery
    assert results_judges()["cameras.count"] is judge.count


def test_the_count_repeats_each_unchecked_cameras_diagnosis() -> None:
    params = {"thresholds": CamCountThresholds(min_cameras=2), "room_id": "r1",
              "res_ids": ["CAM-RES/r1/cam-1", "CAM-RES/r1/cam-2"]}
    wrong_pw = CheckResult("CAM-RES", Text("", ""), Subject(Kind.CAMERA, "cam-2", "r1"),
                           "coordinator", Status.ERROR,
                           Text("", ""), {"error": "auth", "diagnosis": {
                               "en": "the camera refused user 'admin': wrong user name or "
                                     "password",
                               "zh": "摄像头拒绝了用户 'admin'：用户名或密码错误"}},
                           {}, None, datetime.now(UTC), 0.1, check_id="CAM-RES/r1/cam-2")
    got = judge.count([_result("CAM-RES/r1/cam-1", Status.PASS), wrong_pw], params)
    assert got.status == Status.ERROR
    assert "cam-2: the camera refused user 'admin': wrong user name or password" \
        in got.message.en
    assert "cam-2：摄像头拒绝了用户 'admin'：用户名或密码错误" in got.message.zh
    assert got.measured["not_checked"] == {"cam-2": "auth"}


# a 25 fps camera over a 4-s window: healthy, stopped with its session open, ended,
# and delivering in fits and starts
HEALTHY_WINDOW = {**HD_LIVE, "fps": 25.0, "measured_frames": 99, "window_s": 4.0,
                  "longest_gap_s": 0.08, "gap_from_s": 2.1, "gap_runnable_s": 0.0}
STOPPED = {**HEALTHY_WINDOW, "measured_frames": 18, "window_s": 3.7, "read_failed": True,
           "failed_read_s": 3.0, "longest_gap_s": 3.02, "gap_from_s": 1.7,
           "gap_runnable_s": 0.01}
# a decoder held back by a busy machine: as long a gap, but spent waiting for a CPU
STARVED = {**HEALTHY_WINDOW, "longest_gap_s": 1.5, "gap_runnable_s": 1.4}
ENDED = {**STOPPED, "failed_read_s": 0.01, "longest_gap_s": 1.2}
STUTTERS = {**HEALTHY_WINDOW, "fps": 7.5, "declared_fps": 25.0, "measured_frames": 30,
            "longest_gap_s": 0.6}
# a loaded decoding computer: few frames read, but a frame apart by their timestamps
LOADED_DECODER = {**HEALTHY_WINDOW, "declared_fps": 25.0, "measured_frames": 14,
                  "window_s": 4.2}


def test_a_stream_that_stops_with_its_session_open_fails_saying_after_how_long() -> None:
    out = _picture(STOPPED)
    assert out.status == Status.FAIL
    assert "the stream stopped after 1.7 s: no frame for 3.02 s while its RTSP session " \
        "stayed open (18 frames in the 3.7-s window, where 25 fps gives 92)" in out.message.en
    assert "1.7 秒后停止" in out.message.zh
    assert [f.code for f in out.findings] == ["camera.stalled"]


def test_a_stream_that_ends_is_said_to_end() -> None:
    out = _picture(ENDED)
    assert out.status == Status.FAIL and "the stream ended after 1.7 s" in out.message.en


def test_fewer_frames_than_declared_without_a_stop_is_load_not_a_fault() -> None:
    # the lab's cameras encode on the machine that decodes them: under load both lag
    assert _picture(STUTTERS).status == Status.PASS
    assert _picture(HEALTHY_WINDOW).status == Status.PASS
    assert _picture(LOADED_DECODER).status == Status.PASS


def test_a_gap_the_decoder_spent_waiting_for_a_cpu_is_not_a_stall() -> None:
    assert _picture(STARVED).status == Status.PASS


def test_a_stop_on_a_busy_pc_is_a_stop_for_the_time_the_decoder_was_not_held_back() -> None:
    # the drill's cam-7 (5 fps, stops 2.5 s into the stream) under a CPU hog: its decoder
    # waited for a CPU 1.66 s of the 3.06-s gap; for the other 1.4 s no frame came
    busy = {**STOPPED, "fps": 5.0, "declared_fps": 5.0, "measured_frames": 4,
            "window_s": 6.5, "longest_gap_s": 3.06, "gap_from_s": 1.4,
            "gap_runnable_s": 1.66}
    out = _picture(busy)
    assert out.status == Status.FAIL and "stopped after 1.4 s" in out.message.en, out.message


def test_unread_data_at_the_end_of_a_gap_tells_a_decoder_behind_from_a_stopped_camera(
        ) -> None:
    # cam-7 under a CPU hog again: one of FFmpeg's threads was runnable 3.03 s of the
    # 3.05-s gap, but nothing the camera sent waited unread: the camera stopped
    stopped = {**STOPPED, "fps": 5.0, "declared_fps": 5.0, "longest_gap_s": 3.05,
               "gap_from_s": 1.0, "gap_runnable_s": 3.03, "gap_queued_bytes": 0,
               "gap_to_end": True}
    assert _picture(stopped).status == Status.FAIL
    # a 15-fps camera that came back after 1.25 s (the lab's encoder on a busy host),
    # its decoder held back 0.6 s of it: a second it was not held back is no stop
    resumed = {**HEALTHY_WINDOW, "fps": 15.0, "longest_gap_s": 1.25, "gap_runnable_s": 0.6,
               "gap_queued_bytes": 13051, "gap_to_end": False}
    assert _picture(resumed).status == Status.PASS
    # a gap the stream came back from with 41 kB waiting: the decoder was behind
    caught_up = {**resumed, "longest_gap_s": 1.73, "gap_runnable_s": 0.49,
                 "gap_queued_bytes": 41611}
    assert _picture(caught_up).status == Status.PASS
    # the same gap with 600 kB waiting to be read: the camera kept sending, this PC was
    # behind
    behind = {**HEALTHY_WINDOW, "longest_gap_s": 3.05, "gap_runnable_s": 0.2,
              "gap_queued_bytes": 600_000, "gap_to_end": True}
    assert _picture(behind).status == Status.PASS
