"""What this machine lacks to build the lab, each with the command that fixes it."""

from __future__ import annotations

import os
import subprocess

from .daemons import SYSTEM_PYTHON
from .shell import which

TOOLS = {
    "ip": "iproute2",
    "tc": "iproute2",
    "nft": "nftables",
    "dnsmasq": "dnsmasq-base",
    "snmpd": "snmpd",
    "iperf3": "iperf3",
    "ping": "iputils-ping",
    "sysctl": "procps",
}

# GStreamer elements the cameras use, with the Debian package that ships each.
ELEMENTS = {
    "videotestsrc": "gstreamer1.0-plugins-base",
    "audiotestsrc": "gstreamer1.0-plugins-base",
    "audioconvert": "gstreamer1.0-plugins-base",
    "audioresample": "gstreamer1.0-plugins-base",
    "x264enc": "gstreamer1.0-plugins-ugly",
    "rtph264pay": "gstreamer1.0-plugins-good",
    "mulawenc": "gstreamer1.0-plugins-good",
    "rtppcmupay": "gstreamer1.0-plugins-good",
    # the recorder: records the cameras' streams as they are and replays them
    "rtspsrc": "gstreamer1.0-plugins-good",
    "rtph264depay": "gstreamer1.0-plugins-good",
    "rtppcmudepay": "gstreamer1.0-plugins-good",
    "h264parse": "gstreamer1.0-plugins-bad",
    "matroskamux": "gstreamer1.0-plugins-good",
    "matroskademux": "gstreamer1.0-plugins-good",
}

_GI_CHECK = f"""
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
for name in {sorted(ELEMENTS)!r}:
    if Gst.ElementFactory.find(name) is None:
        print("element", name)
"""


def _apt(*packages: str) -> str:
    return "apt-get update && apt-get install -y " + " ".join(dict.fromkeys(packages))


def missing_prerequisites() -> list[tuple[str, str]]:
    """[(what is missing, the command that installs it)]; empty when the lab can be built."""
    missing: list[tuple[str, str]] = []
    if os.geteuid() != 0:
        missing.append(
            (
                "root privileges (network namespaces need CAP_NET_ADMIN)",
                "run the command again as root, e.g. with sudo",
            )
        )
    if not os.path.exists("/proc/self/ns/net"):
        missing.append(("kernel network namespaces", "use a Linux kernel with CONFIG_NET_NS"))
    for tool, package in TOOLS.items():
        if which(tool) is None:
            missing.append((f"the `{tool}` command", _apt(package)))
    missing += _camera_prerequisites()
    return missing


def _camera_prerequisites() -> list[tuple[str, str]]:
    gi_packages = (
        "python3-gi",
        "gir1.2-gst-rtsp-server-1.0",
        "gstreamer1.0-plugins-base",
        "gstreamer1.0-plugins-good",
        "gstreamer1.0-plugins-ugly",
    )
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return [
            (
                f"{SYSTEM_PYTHON} (the cameras run under Debian's Python)",
                _apt("python3", *gi_packages),
            )
        ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYENV"))}
    try:
        done = subprocess.run(
            [SYSTEM_PYTHON, "-c", _GI_CHECK],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [("GStreamer (checking its plugins took over 30 s)", _apt(*gi_packages))]
    if done.returncode != 0:
        return [
            (
                f"GStreamer RTSP server for {SYSTEM_PYTHON} (gi, Gst 1.0, GstRtspServer 1.0)",
                _apt(*gi_packages),
            )
        ]
    elements = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("element ")]
    return [(f"the GStreamer element {e}", _apt(ELEMENTS[e])) for e in elements]
