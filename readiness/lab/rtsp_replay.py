#!/usr/bin/python3
"""The lab recorder's (NVR's) replay side: records what the lab cameras send, then serves
it again over RTSP at /replay/<recording token>, the URI its ONVIF GetReplayUri gives.

Runs under Debian's /usr/bin/python3 (python3-gi, gir1.2-gst-rtsp-server-1.0), like
readiness/lab/rtsp_camera.py. At start it pulls each recorded camera's stream over RTSP
(TCP) for --clip-s seconds and stores it unchanged (H.264 and, where the camera sends it,
G.711 audio) in a Matroska file: no decoding, no re-encoding, so the replay is what the
camera really sent. Only then does it listen, so `lab up` waits until every clip is
stored. Recording all the time would keep every camera's encoder busy for the lab's
whole life on a machine with two cores; a clip taken at start is what a replay needs.

A replay is served with RTSP Digest authentication for the recorder's user (password in
READINESS_RECORDER_PASSWORD); a camera behind Digest is recorded with its password from
READINESS_CAMERA_PASSWORD. Neither is ever on the command line.

--record TOKEN=URL[,audio][,auth]  one recorded camera (auth: use the camera password)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rtsp_camera import _require_digest, serve_until_stopped  # noqa: E402

log = logging.getLogger("rtsp_replay")

RECORDER_PASSWORD_ENV = "READINESS_RECORDER_PASSWORD"
CAMERA_PASSWORD_ENV = "READINESS_CAMERA_PASSWORD"
# a camera's encoder may need a few seconds to start after lab up starts it
CAPTURE_TRIES = 20


def capture_line(url: str, audio: bool, path: Path, user: str | None,
                 password: str | None) -> str:
    auth = f' user-id="{user}" user-pw="{password}"' if user and password else ""
    line = (f'rtspsrc location="{url}" protocols=tcp latency=200{auth} name=src '
            "src. ! rtph264depay ! h264parse ! queue ! mux.video_0 ")
    if audio:
        line += "src. ! rtppcmudepay ! queue ! mux.audio_0 "
    return line + f'matroskamux name=mux ! filesink location="{path}"'


def capture(url: str, audio: bool, path: Path, seconds: float, user: str | None,
            password: str | None) -> bool:
    """Record `seconds` of the stream into `path`; True when the file holds video."""
    for attempt in range(CAPTURE_TRIES):
        pipeline = Gst.parse_launch(capture_line(url, audio, path, user, password))
        bus = pipeline.get_bus()
        pipeline.set_state(Gst.State.PLAYING)
        started = time.monotonic()
        ok, eos_sent = True, False
        while True:
            msg = bus.timed_pop_filtered(200 * Gst.MSECOND,
                                         Gst.MessageType.ERROR | Gst.MessageType.EOS)
            if msg is not None and msg.type == Gst.MessageType.ERROR:
                err, _ = msg.parse_error()
                log.info("capture of %s, try %d: %s", path.name, attempt + 1, err.message)
                ok = False
                break
            if msg is not None and msg.type == Gst.MessageType.EOS:
                break
            if not eos_sent and time.monotonic() - started > seconds:
                # EOS through the pipeline lets the muxer finish the file
                pipeline.send_event(Gst.Event.new_eos())
                eos_sent = True
            if time.monotonic() - started > seconds + 15:
                ok = False
                break
        pipeline.set_state(Gst.State.NULL)
        if ok and path.exists() and path.stat().st_size > 10_000:
            log.info("recorded %s: %d bytes", path.name, path.stat().st_size)
            return True
        time.sleep(1.0)
    return False


def replay_line(path: Path, audio: bool) -> str:
    line = (f'( filesrc location="{path}" ! matroskademux name=d '
            "d.video_0 ! queue ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 ")
    if audio:
        line += "d.audio_0 ! queue ! rtppcmupay name=pay1 pt=0 "
    return line + ")"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, default=554)
    parser.add_argument("--user", default="admin")
    parser.add_argument("--clip-dir", required=True)
    parser.add_argument("--clip-s", type=float, default=6.0)
    parser.add_argument("--record", action="append", default=[],
                        help="TOKEN=URL[,audio][,auth]")
    parser.add_argument("--label", default="", help="the lab namespace (to find us in ps)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    password = os.environ.get(RECORDER_PASSWORD_ENV)
    if not password:
        log.error("the recorder's password must be in %s", RECORDER_PASSWORD_ENV)
        return 2
    camera_password = os.environ.get(CAMERA_PASSWORD_ENV)
    Gst.init(None)
    clips = Path(args.clip_dir)
    clips.mkdir(parents=True, exist_ok=True)
    recorded: dict[str, tuple[Path, bool]] = {}
    jobs = []
    for item in args.record:
        token, _, rest = item.partition("=")
        url, *flags = rest.split(",")
        audio, auth = "audio" in flags, "auth" in flags
        path = clips / f"{token}.mkv"
        recorded[token] = (path, audio)
        jobs.append(threading.Thread(target=capture, args=(
            url, audio, path, args.clip_s, args.user if auth else None,
            camera_password if auth else None)))
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    missing = [t for t, (p, _) in recorded.items() if not p.exists()]
    if missing:
        log.error("could not record %s", ", ".join(missing))
        return 1

    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    factories = []
    for token, (path, audio) in recorded.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(replay_line(path, audio))
        factory.set_shared(False)  # each viewer replays from the clip's start
        mounts.add_factory(f"/replay/{token}", factory)
        factories.append(factory)
    for factory in factories:
        _require_digest(server, factory, args.user, password)
    if server.attach(None) == 0:
        log.error("cannot listen on %s:%d", args.address, args.port)
        return 1
    log.info("replaying %d recordings on rtsp://%s:%d/replay/", len(recorded), args.address,
             args.port)
    return serve_until_stopped(server)


if __name__ == "__main__":
    sys.exit(main())
