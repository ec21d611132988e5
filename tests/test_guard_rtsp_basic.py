"""The RTSP client never answers a Basic challenge with the camera's password unless the
site file allows Basic for that camera.

Basic sends `user:password` base64-encoded, readable by anyone on the exam LAN, and
to any device that answers at the camera's address. Before, the DESCRIBE answered a
Basic challenge with the password at once. Now it answers Digest only; a camera that
asks for Basic alone gets nothing and the check says which camera and which field
(`allow_basic_auth: true`) would allow it.

The camera is a small asyncio RTSP responder on loopback that asks for Basic only:
the lab's GStreamer cameras use Digest (as most cameras do), so a Basic-only camera is
made here. The site file, the planner, the runner and the probe are the real ones.
"""

from __future__ import annotations

import asyncio
import base64
import re
import textwrap
from pathlib import Path

import pytest

from probes import registry
from readiness.config.load import load_site
from readiness.config.profile import load_profile
from readiness.planning import PlanContext, build_plan
from readiness.results import Status
from readiness.runner import Runner

USER, PASSWORD = "admin", "Cam-Basic-0nly!"
SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n"
       "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
       "m=audio 0 RTP/AVP 0\r\n")
SITE = textwrap.dedent("""\
    site: {{name: Basic school, code: B-7}}
    profile: cbec
    rooms:
      - id: r1
        subnet: 127.0.0.0/24
        router: {{address: 127.0.0.1}}
        exam_servers: {{primary: {{address: 127.0.0.10}}}}
        proctor: {{address: 127.0.0.2}}
        seats: {{A01: 127.0.0.101}}
        cameras:
          - {{name: 前门, url: "rtsp://127.0.0.1:{port}/Streaming/101", username: {user},
              password: "${{CAM_PW}}"{extra}}}
    """)


class BasicOnlyCamera:
    """Asks for Basic only; records every Authorization header it is sent."""

    def __init__(self) -> None:
        self.authorizations: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                cseq = re.search(r"CSeq:\s*(\d+)", head).group(1)  # type: ignore[union-attr]
                auth = re.search(r"Authorization:\s*(.+)\r\n", head)
                if auth:
                    self.authorizations.append(auth.group(1))
                good = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if auth and auth.group(1) == good:
                    body = SDP.encode()
                    writer.write((f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: "
                                  f"application/sdp\r\nContent-Length: {len(body)}\r\n\r\n")
                                 .encode() + body)
                else:
                    writer.write((f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\n"
                                  'WWW-Authenticate: Basic realm="IPCam"\r\n\r\n').encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _check_camera(tmp_path: Path, extra: str) -> tuple[object, BasicOnlyCamera]:
    camera = BasicOnlyCamera()
    server = await asyncio.start_server(camera.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    path = tmp_path / "site.yaml"
    path.write_text(SITE.format(port=port, user=USER, extra=extra), encoding="utf-8")
    site = load_site(path)
    profile = load_profile("cbec")
    plan = build_plan(PlanContext(site, profile), only={"CAM-AUDIO"})
    async with server:
        [result] = await Runner(profile, registry(), secret=site.secret).run(plan.checks)
    return result, camera


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAM_PW", PASSWORD)


def test_basic_is_not_answered_by_default(tmp_path: Path) -> None:
    result, camera = asyncio.run(_check_camera(tmp_path, ""))
    assert camera.authorizations == []  # the password never left this machine
    assert result.status == Status.ERROR  # type: ignore[attr-defined]
    en, zh = result.message.en, result.message.zh  # type: ignore[attr-defined]
    assert "asks for Basic authentication" in en and "readiness did not send it" in en
    assert "camera 前门: rooms[0].cameras[0].allow_basic_auth" in en
    assert "allow_basic_auth: true" in zh and "前门" in zh
    assert PASSWORD not in en + zh


def test_basic_is_answered_where_the_site_allows_it(tmp_path: Path) -> None:
    result, camera = asyncio.run(_check_camera(tmp_path, ", allow_basic_auth: true"))
    assert len(camera.authorizations) == 1 and camera.authorizations[0].startswith("Basic ")
    assert result.status == Status.PASS, result.message.en  # type: ignore[attr-defined]
    assert result.measured["auth"] == "basic"  # type: ignore[attr-defined]
