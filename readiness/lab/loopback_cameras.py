"""Lab cameras on loopback, for tests and benchmarks: the GStreamer camera of
readiness/lab/rtsp_camera.py, one process per camera on 127.0.0.1, started together and
always stopped, even when one of them does not start.

The camera runs under Debian's /usr/bin/python3 (python3-gi); `gi_available()` says
whether this machine has it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
CAMERA = Path(__file__).with_name("rtsp_camera.py")
START_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Camera:
    width: int = 1280
    height: int = 720
    fps: int = 10
    pattern: str = "ball"
    audio: bool = False
    auth: str = "none"  # "digest": the password comes from `running(password=...)`
    stall_after_s: float | None = None  # the video stops this long into each stream


def gi_available() -> bool:
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    probe = ("import gi; gi.require_version('Gst', '1.0'); "
             "gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer")
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True,
                              timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _argv(name: str, port: int, cam: Camera) -> list[str]:
    return [SYSTEM_PYTHON, str(CAMERA), "--label", name, "--address", "127.0.0.1",
            "--port", str(port), "--path", "/stream", "--width", str(cam.width),
            "--height", str(cam.height), "--fps", str(cam.fps), "--pattern", cam.pattern,
            "--auth", cam.auth, "--audio" if cam.audio else "--no-audio",
            *(["--stall-after", str(cam.stall_after_s)] if cam.stall_after_s else [])]


def _wait_listening(url: str, port: int, proc: subprocess.Popen[bytes]) -> None:
    end = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None or time.monotonic() > end:
            raise RuntimeError(f"lab camera {url} did not start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def running(cameras: dict[str, Camera], password: str | None = None) -> Iterator[dict[str, str]]:
    """name -> rtsp URL of each camera, listening; all are stopped on leaving."""
    # the camera's own interpreter must not see this one's module paths
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    if password is not None:
        env["READINESS_CAMERA_PASSWORD"] = password  # never on a command line
    procs: list[subprocess.Popen[bytes]] = []
    ports: dict[str, int] = {}
    try:
        for name, cam in cameras.items():
            ports[name] = free_port()
            procs.append(subprocess.Popen(_argv(name, ports[name], cam), env=env,
                                          stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        urls = {name: f"rtsp://127.0.0.1:{port}/stream" for name, port in ports.items()}
        for proc, name in zip(procs, ports, strict=True):
            _wait_listening(urls[name], ports[name], proc)
        yield urls
    finally:
        _stop(procs)
