#!/usr/bin/python3
"""A lab IP camera: a GStreamer RTSP server with a test picture (and optional audio).

Runs under Debian's /usr/bin/python3 (python3-gi, gir1.2-gst-rtsp-server-1.0); standard
library and gi only, because the project's interpreter cannot import gi. The pipeline is
built when a client connects, so an idle camera costs no CPU.

Patterns: ball (a moving picture, healthy), black (a lens covered by a dark cloth),
white and grey (a lens covered by a light cloth: bright but without detail), dark (a
dimly lit room: mostly dark pixels, yet a moving object with edges), smpte (colour bars:
with a live source the picture never changes, i.e. a frozen camera).

--stall-after S stops the video (and the sound) S seconds into each stream while the
RTSP session stays open and answered: a camera whose encoder hung (the stream opens, good
frames come for a moment, then nothing).

--auth digest puts the stream behind RTSP Digest authentication (GStreamer's RTSPAuth)
for the user --user; the password comes from the environment variable
READINESS_CAMERA_PASSWORD, never from the command line (a process list shows that).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

log = logging.getLogger("rtsp_camera")

PASSWORD_ENV = "READINESS_CAMERA_PASSWORD"
# pattern name -> videotestsrc properties
SOURCES = {
    "ball": "pattern=ball",
    "black": "pattern=black",
    "white": "pattern=white",
    "grey": "pattern=solid-color foreground-color=0xff9a9a9a",
    # a dim room: dark grey walls, a dimly lit object moving about
    "dark": "pattern=ball background-color=0xff0c0c0c foreground-color=0xff707070",
    "smpte": "pattern=smpte",
}


# the valves that stop the picture and the sound of a stalling camera (--stall-after):
# "then nothing", as from an encoder that hung, while the session stays open
STALL_VALVE = "stall"
STALL_AUDIO_VALVE = "stall_audio"


def launch_line(width: int, height: int, fps: int, audio: bool, pattern: str) -> str:
    video = (
        f"videotestsrc is-live=true {SOURCES[pattern]} "
        f"! video/x-raw,width={width},height={height},framerate={fps}/1 "
        f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bitrate=2048 "
        f"! valve name={STALL_VALVE} drop=false "
        "! rtph264pay name=pay0 pt=96 config-interval=1"
    )
    sound = (
        " audiotestsrc is-live=true wave=sine freq=440 volume=0.2 "
        "! audioconvert ! audioresample ! audio/x-raw,rate=8000,channels=1 "
        f"! mulawenc ! valve name={STALL_AUDIO_VALVE} drop=false ! rtppcmupay name=pay1 pt=0"
    )
    return f"( {video}{sound if audio else ''} )"


def serve_until_stopped(server: GstRtspServer.RTSPServer) -> int:
    """Serve until SIGTERM or SIGINT; the camera and the recorder's replay alike."""
    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    # Drop sessions of clients that went away without TEARDOWN.
    GLib.timeout_add_seconds(5, lambda: server.get_session_pool().cleanup() >= 0)
    loop.run()
    return 0


def _require_digest(server: GstRtspServer.RTSPServer, factory: GstRtspServer.RTSPMediaFactory,
                    user: str, password: str) -> None:
    """Only `user` with `password` (RTSP Digest, as IP cameras ship) may see the stream."""
    from gi.repository import GstRtsp

    auth = GstRtspServer.RTSPAuth()
    auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    # the token's role is what the factory's permissions below are keyed on
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", user)
    auth.add_digest(user, password, token)
    server.set_auth(auth)
    role = Gst.Structure.new_from_string(
        f"{user}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true")
    factory.add_role_from_structure(role)


def _stall_later(factory: GstRtspServer.RTSPMediaFactory, after_s: float) -> None:
    """Each time the stream is set up, stop its video `after_s` seconds later while the
    RTSP session stays open: the camera's encoder hung, its network still answers."""

    def configured(_factory: object, media: GstRtspServer.RTSPMedia) -> None:
        element = media.get_element()
        valves = [v for v in (element.get_by_name(STALL_VALVE),
                              element.get_by_name(STALL_AUDIO_VALVE)) if v is not None]

        def stall() -> bool:
            log.info("stalling the stream after %.1f s", after_s)
            for valve in valves:
                valve.set_property("drop", True)
            return False

        GLib.timeout_add(int(after_s * 1000), stall)

    factory.connect("media-configure", configured)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, default=554)
    parser.add_argument("--path", default="/stream")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--audio", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--pattern", choices=tuple(SOURCES), default="ball")
    parser.add_argument("--auth", choices=("none", "digest"), default="none")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--label", default="", help="the lab namespace (to find us in ps)")
    parser.add_argument("--stall-after", type=float, default=None, metavar="S",
                        help="stop sending video S seconds into each stream, session kept")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    line = launch_line(args.width, args.height, args.fps, args.audio, args.pattern)
    factory.set_launch(line)
    if args.stall_after is not None:
        # each viewer gets its own stream, so each sees the stall at the same point
        _stall_later(factory, args.stall_after)
    else:
        factory.set_shared(True)  # several viewers share one encoder
    if args.auth == "digest":
        password = os.environ.get(PASSWORD_ENV)
        if not password:
            log.error("--auth digest needs the password in %s", PASSWORD_ENV)
            return 2
        _require_digest(server, factory, args.user, password)
    server.get_mount_points().add_factory(args.path, factory)
    # attach() returns 0 instead of raising when the port is taken.
    if server.attach(None) == 0:
        log.error(
            "cannot listen on %s:%d (address missing or port in use)", args.address, args.port
        )
        return 1
    log.info("rtsp://%s:%d%s serving %s", args.address, args.port, args.path, line)

    return serve_until_stopped(server)


if __name__ == "__main__":
    sys.exit(main())
