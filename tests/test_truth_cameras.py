"""Camera figures a user can trust (issue 11 points 4-5, issue 14 point 5), against real
lab cameras (readiness/lab/rtsp_camera.py, GStreamer) on 127.0.0.1 only:

- the frame rate comes from the stream's timestamps: a 25 fps camera measures 25 fps
  within 5 % while CPU hogs load every core of this machine;
- a lens covered by a dark, a white or a grey cloth fails; a dim room with a moving
  object (nearly every pixel dark) passes;
- one diagnosis per camera: CAM-RES, CAM-AUDIO and CAM-COUNT give the same words for a
  wrong password (a camera behind Digest authentication), a wrong stream path (404),
  a refused port and a camera that never answers;
- cameras decode in child processes, all at once, and a child stuck in a read is
  killed at the check's deadline.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import re
import socket
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes import camera_stream, registry
from readiness.config.load import load_site
from readiness.config.profile import CamAudioThresholds, CamResThresholds, load_profile
from readiness.judges import cameras as judges
from readiness.lab.loopback_cameras import Camera, free_port, gi_available, running
from readiness.planning import PlanContext, build_plan
from readiness.redact import Secret
from readiness.results import ProbeOutcome, Status
from readiness.runner import Runner

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "Lab-Cam-Pa55"
RULE = CamResThresholds(min_width=1280, min_height=720, min_megapixels=0.9)

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(not gi_available(), reason="/usr/bin/python3 cannot import "
                                 "gi GstRtspServer (python3-gi, gir1.2-gst-rtsp-server-1.0)")]

CAMERAS = {
    "ball25": Camera(fps=25, audio=True),
    "black": Camera(fps=15, pattern="black"),
    "white": Camera(fps=15, pattern="white"),
    "grey": Camera(fps=15, pattern="grey"),
    "dim_room": Camera(fps=15, pattern="dark"),
    "digest": Camera(fps=15, auth="digest", audio=True),
    # good frames for a moment, then nothing while the RTSP session stays open
    "stalls": Camera(fps=25, stall_after_s=2.5),
}


@pytest.fixture(scope="module")
def cameras() -> Iterator[dict[str, str]]:
    """name -> rtsp URL of a 1280x720 lab camera on loopback."""
    with running(CAMERAS, password=PASSWORD) as urls:
        yield urls


def _params(url: str, **extra: object) -> dict[str, object]:
    return {"url": url, "warmup_s": 1.0, "measure_s": 2.0, "open_timeout_s": 5.0,
            "read_timeout_s": 3.0, "describe_timeout_s": 3.0, **extra}


async def _picture(params: dict[str, object], password: str | None = None,
                   deadline_s: float = 14.0) -> ProbeOutcome:
    secrets = {"password": Secret(password, "test")} if password is not None else None
    outcome = await camera_stream.run_picture(params, deadline_s, secrets)
    return judges.picture(outcome, {"thresholds": RULE, "where": str(params["url"]),
                                    "measure_s": params["measure_s"]})


async def _audio(url: str, password: str | None = None, **extra: object) -> ProbeOutcome:
    secrets = {"password": Secret(password, "test")} if password is not None else None
    outcome = await camera_stream.run_audio({"url": url, "timeout_s": 3.0, **extra}, 6.0,
                                            secrets)
    return judges.audio(outcome, {"thresholds": CamAudioThresholds(audio_required=True),
                                  "where": url})


def _spin(stop_at: float) -> None:
    while time.monotonic() < stop_at:
        pass


def test_frame_rate_is_the_streams_own_while_the_machine_is_loaded(
        cameras: dict[str, str]) -> None:
    # one hog per core (and one more), beside the camera's own encoder: frames arrive late
    # and in bursts, so arrival times would give a wrong rate (32.9 fps was reported)
    hogs = [multiprocessing.Process(target=_spin, args=(time.monotonic() + 8.0,))
            for _ in range((os.cpu_count() or 1) + 1)]
    for hog in hogs:
        hog.start()
    try:
        outcome = asyncio.run(_picture(_params(cameras["ball25"])))
    finally:
        for hog in hogs:
            hog.terminate()
            hog.join()
    assert outcome.status == Status.PASS, outcome.message.en
    assert outcome.measured["fps_source"] == "pts"
    assert abs(outcome.measured["fps"] - 25.0) <= 25.0 * 0.05, outcome.measured
    assert outcome.measured["measured_frames"] >= 10
    # the rate it declares, which a camera dropping frames would fall short of
    assert abs(outcome.measured["declared_fps"] - 25.0) <= 1.0, outcome.measured


def test_a_lens_under_any_cloth_fails_and_a_dim_room_passes(cameras: dict[str, str]) -> None:
    async def all_four() -> list[ProbeOutcome]:
        return list(await asyncio.gather(*(_picture(_params(cameras[n])) for n in (
            "black", "white", "grey", "dim_room"))))

    black, white, grey, dim_room = asyncio.run(all_four())
    assert black.status == Status.FAIL and "black" in black.message.en, black.measured
    assert "遮挡" in black.message.zh
    for light in (white, grey):
        assert light.status == Status.FAIL, light.measured
        assert "light cloth" in light.message.en and "浅色" in light.message.zh
    # nearly every pixel is dark, yet there is content: not a covered lens
    assert dim_room.measured["dark_share"] > 0.95
    assert dim_room.status == Status.PASS, (dim_room.message.en, dim_room.measured)


def test_a_digest_camera_with_the_right_password_passes(cameras: dict[str, str]) -> None:
    async def both() -> list[ProbeOutcome]:
        url = cameras["digest"]
        return list(await asyncio.gather(_picture(_params(url, username="admin"), PASSWORD),
                                         _audio(url, PASSWORD, username="admin")))

    picture, audio = asyncio.run(both())
    assert picture.status == Status.PASS, picture.message.en
    assert picture.measured["auth"] == "digest"
    assert audio.status == Status.PASS and audio.measured["auth"] == "digest"


def _same_diagnosis(picture: ProbeOutcome, audio: ProbeOutcome) -> str:
    assert picture.status == audio.status == Status.ERROR
    assert picture.measured["error"] == audio.measured["error"]
    assert picture.message.en == audio.message.en, (picture.message.en, audio.message.en)
    assert picture.message.zh == audio.message.zh
    return str(picture.message.en)


def test_wrong_password_wrong_path_refused_and_silent_say_the_same_in_both_rules(
        cameras: dict[str, str]) -> None:
    digest = cameras["digest"]
    port = digest.split(":")[2].split("/")[0]
    wrong_path = f"rtsp://127.0.0.1:{port}/Streaming/Channels/999"
    refused = f"rtsp://127.0.0.1:{free_port()}/stream"
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts (the kernel's backlog) and never says a word
    hung = f"rtsp://127.0.0.1:{silent.getsockname()[1]}/stream"

    async def pairs() -> list[tuple[ProbeOutcome, ProbeOutcome]]:
        cases = [(digest, "not-the-password"), (wrong_path, PASSWORD), (refused, None),
                 (hung, None)]
        got = await asyncio.gather(*(asyncio.gather(
            _picture(_params(url, username="admin"), pw),
            _audio(url, pw, username="admin")) for url, pw in cases))
        return [(p, a) for p, a in got]

    try:
        started = time.monotonic()
        (pw_p, pw_a), (path_p, path_a), (ref_p, ref_a), (hung_p, hung_a) = asyncio.run(pairs())
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert "wrong user name or password" in _same_diagnosis(pw_p, pw_a)
    assert pw_p.measured["error"] == "auth" and "密码错误" in pw_p.message.zh
    assert "not-the-password" not in json.dumps([pw_p.message.to_dict(), pw_p.measured])
    assert "no stream at /Streaming/Channels/999 (404)" in _same_diagnosis(path_p, path_a)
    assert "refused the connection" in _same_diagnosis(ref_p, ref_a)
    assert ref_p.measured["error"] == "refused"
    assert "no RTSP answer" in _same_diagnosis(hung_p, hung_a)
    assert elapsed < 5.0, elapsed  # the 3 s DESCRIBE timeout bounds the slowest


SITE = textwrap.dedent("""\
    site: {name: Test school, code: T-1}
    profile: eda
    rooms:
      - id: r1
        subnet: 127.0.0.0/24
        router: {address: 127.0.0.1}
        exam_servers:
          primary: {address: 127.0.0.10}
        proctor: {address: 127.0.0.2}
        seats:
          A01-A02: 127.0.0.101-102
        cameras:
          - {name: cam-1, url: "{ok}"}
          - {name: cam-2, url: "{digest}", username: admin, password: "${CAM_PW}"}
    """)


def test_cam_count_repeats_the_cameras_own_diagnosis(
        cameras: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAM_PW", "a-wrong-password")
    path = tmp_path / "site.yaml"
    path.write_text(SITE.replace("{ok}", cameras["ball25"])
                    .replace("{digest}", cameras["digest"]), encoding="utf-8")
    site = load_site(path)
    profile = load_profile("eda")
    plan = build_plan(PlanContext(site, profile), only={"CAM-COUNT", "CAM-RES"})
    results = asyncio.run(Runner(profile, registry(), secret=site.secret).run(plan.checks))
    by_id = {r.check_id: r for r in results}
    res = by_id["CAM-RES/r1/cam-2"]
    assert res.status == Status.ERROR and "wrong user name or password" in res.message.en
    count = by_id["CAM-COUNT/r1"]
    assert "cam-2: the camera refused user 'admin': wrong user name or password" \
        in count.message.en, count.message.en
    assert "用户名或密码错误" in count.message.zh
    assert "a-wrong-password" not in json.dumps([r.to_dict() for r in results],
                                                ensure_ascii=False)


def test_a_camera_that_stops_sending_fails_saying_after_how_long(
        cameras: dict[str, str]) -> None:
    outcome = asyncio.run(_picture(_params(cameras["stalls"], measure_s=4.0),
                                   deadline_s=20.0))
    m = outcome.measured
    assert outcome.status == Status.FAIL, (outcome.message.en, m)
    assert "the stream stopped after" in outcome.message.en, outcome.message.en
    assert "RTSP session stayed open" in outcome.message.en and "会话" in outcome.message.zh
    assert [f.code for f in outcome.findings] == ["camera.stalled"]
    # it did send a picture first: the stop is what fails it, not a missing stream
    assert m["frames"] > 0 and 1.0 <= m["gap_from_s"] <= 4.0, m
    assert m["longest_gap_s"] >= 1.0 and m["gap_runnable_s"] < m["longest_gap_s"] / 2, m
    # it never came back, and nothing it sent waited unread: the camera, not this PC
    assert m["gap_to_end"] is True and m["gap_queued_bytes"] < 32 * 1024, json.dumps(m)


def test_cam_count_does_not_count_a_stalled_camera(
        cameras: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAM_PW", "unused")
    path = tmp_path / "site.yaml"
    path.write_text(SITE.replace("{ok}", cameras["ball25"])
                    .replace("{digest}", cameras["stalls"]), encoding="utf-8")
    site = load_site(path)
    profile = load_profile("eda")
    plan = build_plan(PlanContext(site, profile), only={"CAM-COUNT", "CAM-RES"})
    results = asyncio.run(Runner(profile, registry(), secret=site.secret).run(plan.checks))
    by_id = {r.check_id: r for r in results}
    res = by_id["CAM-RES/r1/cam-2"]
    assert res.status == Status.FAIL and "stopped after" in res.message.en, res.message.en
    assert by_id["CAM-RES/r1/cam-1"].status == Status.PASS
    count = by_id["CAM-COUNT/r1"]
    assert count.measured["working_cameras"] == 1, count.message.en
    assert count.measured["configured_cameras"] == 2


def _workers() -> list[int]:
    """Pids of camera decoder children of this process still alive."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if b"camera_worker.py" in cmdline and ppid == os.getpid():
            found.append(int(pid))
    return found


async def _describe_then_stall(reader: asyncio.StreamReader,
                               writer: asyncio.StreamWriter) -> None:
    """A camera that describes its stream, then never answers SETUP: FFmpeg blocks in
    its open until its own 30 s timeout. No real camera can be made to do this on demand,
    hence this stand-in."""
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\nc=IN IP4 0.0.0.0\r\n"
           "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:track1\r\n")
    try:
        while True:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            if not head.startswith(("DESCRIBE", "OPTIONS")):
                await asyncio.sleep(60)
            cseq = re.search(r"CSeq:\s*(\d+)", head)
            body = sdp.encode() if head.startswith("DESCRIBE") else b""
            writer.write((f"RTSP/1.0 200 OK\r\nCSeq: {cseq.group(1) if cseq else 1}\r\n"
                          f"Public: DESCRIBE, SETUP, PLAY\r\nContent-Type: application/sdp\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def test_a_decoder_stuck_in_ffmpeg_is_killed_at_the_deadline() -> None:
    async def go() -> tuple[ProbeOutcome, float]:
        server = await asyncio.start_server(_describe_then_stall, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            started = time.monotonic()
            out = await _picture(_params(f"rtsp://127.0.0.1:{port}/stream",
                                         open_timeout_s=30.0, read_timeout_s=30.0),
                                 deadline_s=4.0)
            return out, time.monotonic() - started

    outcome, elapsed = asyncio.run(go())
    assert outcome.status == Status.ERROR and "stalled" in outcome.message.en
    assert outcome.measured["error"] == "timeout"
    assert elapsed < 4.5, elapsed
    assert _workers() == []  # killed, not left behind


def test_cameras_decode_at_once_in_the_slowest_cameras_time(cameras: dict[str, str]) -> None:
    names = ["ball25", "black", "white", "grey", "dim_room"]

    async def timed(name: str) -> float:
        t0 = time.monotonic()
        await _picture(_params(cameras[name]))
        return time.monotonic() - t0

    async def together() -> list[float]:
        return list(await asyncio.gather(*(timed(n) for n in names)))

    alone = max(asyncio.run(timed(n)) for n in names[:2])
    t0 = time.monotonic()
    asyncio.run(together())
    wall = time.monotonic() - t0
    # one after another would take 5 x alone; the goal is alone + 1 s, measured by
    # bench/camera.py; here 2 s, as this 2-core machine is shared with other test runs
    assert wall <= alone + 2.0, (wall, alone)
