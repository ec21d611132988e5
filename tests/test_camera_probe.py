"""Camera probes against real RTSP cameras: the lab's GStreamer camera on loopback.

The camera processes listen on 127.0.0.1 only and are killed in fixture finalizers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

from probes import camera_stream, registry
from probes.engines.rtsp_sdp import parse_sdp
from readiness.config.load import load_site
from readiness.config.profile import CamAudioThresholds, CamResThresholds, load_profile
from readiness.judges import cameras as judges
from readiness.lab.loopback_cameras import Camera, free_port, gi_available, running
from readiness.planning import NEEDS, PLANNERS, PlanContext, build_plan
from readiness.planning.knobs import knobs
from readiness.redact import Secret, mask_url
from readiness.results import ProbeOutcome, Status
from readiness.runner import Runner

REPO = Path(__file__).resolve().parent.parent
needs_gi = pytest.mark.skipif(not gi_available(), reason="/usr/bin/python3 cannot import "
                              "gi GstRtspServer (python3-gi, gir1.2-gst-rtsp-server-1.0)")

CAMERAS = {
    "hd_audio": Camera(1920, 1080, audio=True),
    "hd720": Camera(1280, 720),
    "black": Camera(640, 360, pattern="black"),
    "frozen": Camera(1280, 720, pattern="smpte"),
}


@pytest.fixture(scope="module")
def cameras() -> Iterator[dict[str, str]]:
    """One lab camera per kind, 10 fps, on loopback; name -> rtsp URL."""
    if not gi_available():
        pytest.skip("/usr/bin/python3 cannot import gi GstRtspServer")
    with running(CAMERAS) as urls:
        yield urls


def _picture(url: str, min_w: int, min_h: int, **extra: object) -> dict[str, object]:
    return {**knobs("camera_picture"), "allow_basic_auth": False, "url": url,
            "min_width": min_w, "min_height": min_h, **extra}


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def _secrets(params: dict[str, object]) -> dict[str, Secret] | None:
    password = params.pop("password", None)
    return None if password is None else {"password": Secret(str(password), "test")}


async def run_picture(params: dict[str, object], deadline_s: float) -> ProbeOutcome:
    """The registered probe, then its judge, as the runner does (the rule's size from
    min_width/min_height; the password, if any, as the runner hands it over)."""
    params = dict(params)
    secrets = _secrets(params)
    outcome = await camera_stream.run_picture(params, deadline_s, secrets)
    th = CamResThresholds(min_width=int(params["min_width"]),  # type: ignore[call-overload]
                          min_height=int(params["min_height"]),  # type: ignore[call-overload]
                          min_megapixels=0.01)
    return judges.picture(outcome, {"thresholds": th, "where": mask_url(str(params["url"])),
                                    "measure_s": params["measure_s"]})


async def run_audio(params: dict[str, object], deadline_s: float) -> ProbeOutcome:
    params = dict(params)
    secrets = _secrets(params)
    required = bool(params.pop("audio_required", True))
    params = {**knobs("camera_audio"), "allow_basic_auth": False, **params}
    outcome = await camera_stream.run_audio(params, deadline_s, secrets)
    return judges.audio(outcome, {"thresholds": CamAudioThresholds(audio_required=required),
                                  "where": mask_url(str(params["url"]))})


@pytest.mark.lab
@needs_gi
def test_1080p_with_audio_passes_and_leaves_a_snapshot(cameras: dict[str, str],
                                                       tmp_path: Path) -> None:
    snap = tmp_path / "evidence" / "r1-cam-1.jpg"

    async def both():  # type: ignore[no-untyped-def]
        return await asyncio.gather(
            run_picture(_picture(cameras["hd_audio"], 1920, 1080, snapshot_path=str(snap)),
                        12.0),
            run_audio({"url": cameras["hd_audio"], "audio_required": True}, 6.0))

    picture, audio = run(both())
    assert picture.status == Status.PASS, picture.message.en
    assert (picture.measured["width"], picture.measured["height"]) == (1920, 1080)
    assert 7 <= picture.measured["fps"] <= 13  # measured after the warm-up burst
    assert "1920×1080" in picture.message.en and "1920×1080" in picture.message.zh
    assert picture.evidence == [str(snap)]
    image = cv2.imread(str(snap))
    assert image is not None and image.shape[1] == 640 and image.shape[0] == 360
    assert audio.status == Status.PASS, audio.message.en
    assert audio.measured["audio"] and audio.measured["video"]
    assert "audio/PCMU" in audio.measured["codecs"]


@pytest.mark.lab
@needs_gi
def test_720p_fails_the_1080p_rule_and_passes_the_720p_rule(cameras: dict[str, str]) -> None:
    async def both():  # type: ignore[no-untyped-def]
        return await asyncio.gather(run_picture(_picture(cameras["hd720"], 1920, 1080), 12.0),
                                    run_picture(_picture(cameras["hd720"], 1280, 720), 12.0))

    cbec, eda = run(both())
    assert cbec.status == Status.FAIL
    assert "decoded 1280×720; the rule needs 1920×1080" in cbec.message.en
    assert "sub-stream" in cbec.message.en and "主码流" in cbec.message.zh
    assert eda.status == Status.PASS, eda.message.en


@pytest.mark.lab
@needs_gi
def test_no_audio_fails_when_required_and_passes_when_not(cameras: dict[str, str]) -> None:
    required = run(run_audio({"url": cameras["hd720"], "audio_required": True}, 6.0))
    assert required.status == Status.FAIL
    assert required.measured["audio"] is False and required.measured["video"] is True
    assert "no audio track" in required.message.en and "没有音频" in required.message.zh
    optional = run(run_audio({"url": cameras["hd720"], "audio_required": False}, 6.0))
    assert optional.status == Status.PASS


@pytest.mark.lab
@needs_gi
def test_black_and_frozen_pictures_fail(cameras: dict[str, str]) -> None:
    async def both():  # type: ignore[no-untyped-def]
        return await asyncio.gather(run_picture(_picture(cameras["black"], 640, 360), 12.0),
                                    run_picture(_picture(cameras["frozen"], 1280, 720), 12.0))

    black, frozen = run(both())
    assert black.status == Status.FAIL and "black" in black.message.en, black.message.en
    assert "遮挡" in black.message.zh
    assert frozen.status == Status.FAIL and "frozen" in frozen.message.en, frozen.measured
    assert "冻结" in frozen.message.zh


def test_nothing_listening_is_an_error_quickly() -> None:
    url = f"rtsp://127.0.0.1:{free_port()}/stream"
    started = time.monotonic()
    picture = run(run_picture(_picture(url, 1280, 720), 12.0))
    audio = run(run_audio({"url": url}, 6.0))
    assert time.monotonic() - started < 4.0
    # one diagnosis, the same words in both rules
    assert picture.status == Status.ERROR and "refused the connection" in picture.message.en
    assert audio.status == Status.ERROR and audio.message.en == picture.message.en


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """Accepts connections and never says a word: a hung camera."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()


def test_a_camera_that_never_answers_is_an_error_within_the_deadline(
        silent_listener: int) -> None:
    url = f"rtsp://127.0.0.1:{silent_listener}/stream"
    # FFmpeg's own open timeout is far beyond the deadline: the watchdog must end it
    params = _picture(url, 1280, 720, open_timeout_s=30.0, read_timeout_s=30.0)
    started = time.monotonic()
    picture = run(run_picture(params, 3.0))
    elapsed = time.monotonic() - started
    assert picture.status == Status.ERROR and "no RTSP answer" in picture.message.en
    assert picture.measured["error"] == "timeout"
    assert elapsed < 3.5, elapsed
    started = time.monotonic()
    audio = run(run_audio({"url": url, "timeout_s": 2.0}, 6.0))
    assert audio.status == Status.ERROR and audio.measured["error"] == "timeout"
    assert time.monotonic() - started < 3.0


@pytest.mark.lab
@needs_gi
def test_credentials_in_a_url_never_show(cameras: dict[str, str]) -> None:
    port = cameras["hd720"].split(":")[2].split("/")[0]
    # the lab camera has no auth: FFmpeg only sends credentials when challenged
    with_creds = f"rtsp://admin:s3cret-pw@127.0.0.1:{port}/stream"
    dead = f"rtsp://admin:s3cret-pw@127.0.0.1:{free_port()}/stream"
    outcomes = [
        run(run_picture(_picture(with_creds, 1920, 1080), 12.0)),
        run(run_audio({"url": with_creds}, 6.0)),
        run(run_picture(_picture(dead, 1280, 720), 12.0)),
        run(run_audio({"url": dead}, 6.0)),
        run(run_audio({"url": cameras["hd720"].replace("127", "admin@127", 1),
                       "password": "s3cret-pw"}, 6.0)),
    ]
    for outcome in outcomes:
        text = json.dumps([outcome.message.en, outcome.message.zh, outcome.measured],
                          ensure_ascii=False)
        assert "s3cret-pw" not in text
    for outcome in outcomes[:4]:
        assert "admin:***@127.0.0.1" in outcome.message.en
        assert "admin:***@127.0.0.1" in outcome.message.zh
    assert mask_url("rtsp://u:p@h:554/x?y=1") == "rtsp://u:***@h:554/x?y=1"
    assert mask_url("rtsp://h/x") == "rtsp://h/x"


# --- digest authentication -------------------------------------------------------
# The lab camera has no authentication, so this tiny RTSP responder stands in for a
# real camera's auth: 401 with a Digest (MD5, qop=auth) challenge, then 200 and an SDP
# with video and audio when the Authorization answers it with the right password.

REALM, NONCE, USER, PASSWORD = "IP Camera(C1234)", "4e2b1f0c9d", "admin", "Cam-Pa55!"
SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n"
       "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
       "m=audio 0 RTP/AVP 8\r\na=control:trackID=2\r\n")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - RFC 2617


def _digest_ok(header: str) -> bool:
    fields = dict((k, a or b) for k, a, b in
                  re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header))
    ha1 = _md5(f"{fields.get('username')}:{REALM}:{PASSWORD}")
    ha2 = _md5(f"DESCRIBE:{fields.get('uri')}")
    want = _md5(f"{ha1}:{NONCE}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}")
    return header.startswith("Digest ") and fields.get("username") == USER \
        and fields.get("qop") == "auth" and fields.get("response") == want


async def _responder(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            cseq = re.search(r"CSeq:\s*(\d+)", head).group(1)  # type: ignore[union-attr]
            auth = re.search(r"Authorization:\s*(.+)\r\n", head)
            if auth and _digest_ok(auth.group(1)):
                body = SDP.encode()
                writer.write((f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: "
                              f"application/sdp\r\nContent-Length: {len(body)}\r\n\r\n")
                             .encode() + body)
            else:
                writer.write((f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\n"
                              f'WWW-Authenticate: Digest realm="{REALM}", nonce="{NONCE}", '
                              'qop="auth", algorithm=MD5\r\n'
                              'WWW-Authenticate: Basic realm="x"\r\n\r\n').encode())
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _with_responder(password: str | None):  # type: ignore[no-untyped-def]
    server = await asyncio.start_server(_responder, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        return await run_audio({"url": f"rtsp://127.0.0.1:{port}/Streaming/101",
                                "username": USER, "password": password,
                                "audio_required": True}, 5.0)


def test_digest_auth_against_a_camera_that_demands_it() -> None:
    good = run(_with_responder(PASSWORD))
    assert good.status == Status.PASS, good.message.en
    assert good.measured["auth"] == "digest" and good.measured["codecs"] == [
        "video/H264", "audio/PCMA"]
    wrong = run(_with_responder("not-the-password"))
    assert wrong.status == Status.ERROR
    assert "wrong user name or password" in wrong.message.en and "密码错误" in wrong.message.zh
    assert "not-the-password" not in json.dumps([wrong.message.to_dict(), wrong.measured])
    missing = run(_with_responder(None))
    assert missing.status == Status.ERROR and "password" in missing.message.en


def test_sdp_parsing() -> None:
    info = parse_sdp("v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H265/90000\n")
    assert (info.video, info.audio, info.codecs) == (True, False, ["video/H265"])
    info = parse_sdp("v=0\r\nm=video 0 RTP/AVP 96\r\nm=audio 0 RTP/AVP 0\r\n")
    assert info.audio and info.codecs == ["video/pt96", "audio/PCMU"]


# --- planning ---------------------------------------------------------------------

SITE = textwrap.dedent("""\
    site: {name: Test school, code: T-1}
    profile: cbec
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
          - {name: cam-1, url: "{hd_audio}", username: admin, password: "${CAM_PW}"}
          - {name: cam-2, url: "{hd720}", username: admin, password: "${CAM_PW}"}
    """)


def test_planners_are_registered() -> None:
    assert [p.__name__ for p in PLANNERS["CAM-RES"]] == ["plan_cam_res"]
    assert [p.__name__ for p in PLANNERS["CAM-AUDIO"]] == ["plan_cam_audio"]
    assert [p.__name__ for p in PLANNERS["CAM-COUNT"]] == ["plan_cam_count",
                                                           "plan_cam_discovery"]
    assert NEEDS["CAM-COUNT"] == {"CAM-RES"}


@pytest.mark.lab
@needs_gi
def test_cam_count_counts_passing_cameras_and_no_password_in_params(
        cameras: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAM_PW", "pw-never-logged")
    path = tmp_path / "site.yaml"
    path.write_text(SITE.replace("{hd_audio}", cameras["hd_audio"])
                    .replace("{hd720}", cameras["hd720"]), encoding="utf-8")
    site = load_site(path)
    profile = load_profile("cbec")
    evidence = tmp_path / "evidence"
    # CAM-AUDIO's DESCRIBE and CAM-RES's decoder hit the same cameras at once, as in a run
    plan = build_plan(PlanContext(site, profile, evidence_dir=evidence),
                      only={"CAM-COUNT", "CAM-AUDIO"})
    ids = sorted(c.check_id for c in plan.checks)
    assert ids == ["CAM-AUDIO/r1/cam-1", "CAM-AUDIO/r1/cam-2", "CAM-COUNT/r1",
                   "CAM-RES/r1/cam-1", "CAM-RES/r1/cam-2"]
    for check in plan.checks:
        assert "pw-never-logged" not in json.dumps(check.params)
    res = [c for c in plan.checks if c.requirement == "CAM-RES"]
    # the password is named, by its site path, for the runner to resolve
    assert [c.secrets for c in res] == [{"password": f"rooms[0].cameras[{i}].password"}
                                        for i in range(2)]
    assert res[0].params["snapshot_path"] == str(evidence / "r1-cam-1.jpg")
    results = asyncio.run(Runner(profile, registry(), secret=site.secret).run(plan.checks))
    by_id = {r.check_id: r for r in results}
    assert by_id["CAM-RES/r1/cam-1"].status == Status.PASS
    assert by_id["CAM-RES/r1/cam-2"].status == Status.FAIL  # 720p under cbec
    count = by_id["CAM-COUNT/r1"]
    assert count.status == Status.FAIL and count.measured["working_cameras"] == 1
    assert by_id["CAM-AUDIO/r1/cam-1"].status == Status.PASS
    assert by_id["CAM-AUDIO/r1/cam-2"].status == Status.FAIL  # no audio track
    assert (evidence / "r1-cam-1.jpg").exists()
    assert "pw-never-logged" not in json.dumps([r.to_dict() for r in results],
                                               ensure_ascii=False)
    eda = build_plan(PlanContext(site, load_profile("eda")), only={"CAM-AUDIO"})
    assert eda.checks == [] and eda.placeholders[0][:2] == ("CAM-AUDIO", Status.SKIP)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
