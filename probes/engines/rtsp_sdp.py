"""RTSP DESCRIBE: what tracks a camera's stream carries, read from its SDP.

One TCP connection, `DESCRIBE` with `Accept: application/sdp`; after a 401 the
request is repeated with Digest (MD5, qop=auth or none) credentials, or with Basic ones
only when the caller allows it for this camera: Basic sends the password, merely
base64-encoded, to anyone on the LAN who listens (or to a device pretending to be the
camera). The answer's `m=` lines say whether there is video and audio and with which
codecs.

No error text ever holds the password: URLs are shown through `mask_url`
(readiness/redact.py, the one redactor).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from base64 import b64encode
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

from readiness.redact import mask_url

USER_AGENT = "readiness"


class RtspError(Exception):
    """A DESCRIBE that gave no session description; `kind` says why, the one taxonomy
    every camera rule reports: auth (401: no or wrong credentials), not_found (404: no
    such stream path), refused (nothing listens on the port), unreachable (no route),
    timeout, busy (503), protocol (not RTSP, broken), status (any other answer)."""

    def __init__(self, kind: str, en: str, zh: str):
        super().__init__(en)
        self.kind = kind
        self.en = en
        self.zh = zh


@dataclass
class SdpInfo:
    video: bool
    audio: bool
    # e.g. ["video/H264", "audio/PCMU"]
    codecs: list[str] = field(default_factory=list)
    auth: str = "none"  # none, basic or digest: what the camera asked for


def strip_credentials(url: str) -> tuple[str, str | None, str | None]:
    """(url without user info, user, password) of an rtsp:// URL."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    bare = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return bare, unquote(user) or None, unquote(password) if password else None


def parse_sdp(text: str) -> SdpInfo:
    """Media types and codecs of the `m=` sections (codec names from `a=rtpmap`, or the
    static payload types PCMU/PCMA/G722 that need none)."""
    static = {"0": "PCMU", "8": "PCMA", "9": "G722", "14": "MPA", "26": "JPEG", "32": "MPV"}
    codecs: list[str] = []
    media: list[tuple[str, list[str], dict[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("m="):
            fields = line[2:].split()
            media.append((fields[0].lower() if fields else "", fields[3:], {}))
        elif line.startswith("a=rtpmap:") and media:
            pt, _, enc = line[len("a=rtpmap:"):].partition(" ")
            media[-1][2][pt.strip()] = enc.split("/")[0].strip()
    for kind, payloads, rtpmap in media:
        for pt in payloads:
            name = rtpmap.get(pt) or static.get(pt) or f"pt{pt}"
            codecs.append(f"{kind}/{name}")
    kinds = {kind for kind, _, _ in media}
    return SdpInfo(video="video" in kinds, audio="audio" in kinds, codecs=codecs)


def _challenges(headers: list[tuple[str, str]]) -> dict[str, dict[str, str]]:
    """WWW-Authenticate headers -> {"digest": {realm, nonce, qop...}, "basic": {...}}."""
    found: dict[str, dict[str, str]] = {}
    for name, value in headers:
        if name.lower() != "www-authenticate":
            continue
        scheme, _, rest = value.strip().partition(" ")
        params: dict[str, str] = {}
        for key, quoted, bare in re.findall(r'(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]*))', rest):
            params[key.lower()] = quoted or bare
        found.setdefault(scheme.lower(), params)
    return found


def digest_header(user: str, password: str, method: str, uri: str,
                  challenge: dict[str, str], cnonce: str | None = None, nc: int = 1) -> str:
    realm = challenge.get("realm", "")
    nonce = challenge.get("nonce", "")
    algorithm = challenge.get("algorithm", "MD5")
    if algorithm.upper() not in ("MD5", ""):
        raise RtspError("auth", f"the camera asks for digest algorithm {algorithm}, "
                        "which readiness does not speak (MD5 only)",
                        f"摄像头要求的摘要算法 {algorithm} 不受支持（仅支持 MD5）")

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - RFC 2617 demands MD5

    ha1 = md5(f"{user}:{realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
    parts = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
    if "auth" in qops:
        cnonce = cnonce or os.urandom(8).hex()
        ncs = f"{nc:08x}"
        response = md5(f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}")
        parts += [f'response="{response}"', "qop=auth", f"nc={ncs}", f'cnonce="{cnonce}"']
    else:
        parts.append(f'response="{md5(f"{ha1}:{nonce}:{ha2}")}"')
    if "opaque" in challenge:
        parts.append(f'opaque="{challenge["opaque"]}"')
    if "algorithm" in challenge:
        parts.append(f"algorithm={algorithm}")
    return "Digest " + ", ".join(parts)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, uri: str,
                    cseq: int, auth: str | None) -> tuple[int, list[tuple[str, str]], str]:
    lines = [f"DESCRIBE {uri} RTSP/1.0", f"CSeq: {cseq}", "Accept: application/sdp",
             f"User-Agent: {USER_AGENT}"]
    if auth:
        lines.append(f"Authorization: {auth}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    text = head.decode("latin-1")
    status_line, *header_lines = text.split("\r\n")
    match = re.match(r"RTSP/\d\.\d\s+(\d{3})", status_line)
    if not match:
        raise RtspError("protocol", "the answer is not RTSP (is this the camera's RTSP port?)",
                        "回应不是 RTSP 协议（这是摄像头的 RTSP 端口吗？）")
    headers = []
    for line in header_lines:
        if ":" in line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    length = next((int(v) for n, v in headers if n.lower() == "content-length"
                   and v.isdigit()), 0)
    body = (await reader.readexactly(length)).decode("utf-8", "replace") if length else ""
    return int(match.group(1)), headers, body


class BasicAuthRefused(RtspError):
    """The camera asks for Basic only, and the site has not allowed it for this camera."""

    def __init__(self) -> None:
        super().__init__(
            "auth", "the camera asks for Basic authentication, which would send its password "
            "in clear text over the LAN; readiness did not send it. Switch the camera to Digest "
            "authentication, or, if it cannot do Digest, allow Basic for this camera in the "
            "site file: allow_basic_auth: true",
            "摄像头要求 Basic 认证，密码会以明文在局域网中传输；readiness 未发送密码。请将摄像头"
            "改为 Digest 认证；如摄像头不支持 Digest，可在站点文件中为该摄像头设置 "
            "allow_basic_auth: true")


async def _describe(url: str, username: str | None, password: str | None,
                    allow_basic: bool) -> SdpInfo:
    bare, url_user, url_password = strip_credentials(url)
    user = username or url_user
    secret = password if password is not None else url_password
    parts = urlsplit(bare)
    if parts.scheme != "rtsp" or not parts.hostname:
        raise RtspError("protocol", f"{mask_url(url)} is not an rtsp:// address",
                        f"{mask_url(url)} 不是 rtsp:// 地址")
    host, port = parts.hostname, parts.port or 554
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except ConnectionRefusedError:
        raise RtspError("refused", f"{host}:{port} refused the connection: nothing listens "
                        "there; check the RTSP port and that the camera's RTSP service is on",
                        f"{host}:{port} 拒绝连接：该端口无服务；请检查 RTSP 端口以及摄像头的 RTSP "
                        "服务是否开启") from None
    except OSError as exc:
        raise RtspError("unreachable", f"cannot connect to {host}:{port} ({exc.strerror or exc})",
                        f"无法连接 {host}:{port}（{exc.strerror or exc}）") from None
    try:
        status, headers, body = await _exchange(reader, writer, bare, 1, None)
        scheme = "none"
        if status == 401:
            challenges = _challenges(headers)
            if not user or secret is None:
                raise RtspError("auth", "the camera asks for a user name and password; put "
                                "them in the site file (username, password)",
                                "摄像头要求用户名和密码：请在站点文件中填写 username 和 password")
            if "digest" in challenges:
                scheme = "digest"
                auth = digest_header(user, secret, "DESCRIBE", bare, challenges["digest"])
            elif "basic" in challenges:
                if not allow_basic:
                    raise BasicAuthRefused()
                scheme = "basic"
                auth = "Basic " + b64encode(f"{user}:{secret}".encode()).decode()
            else:
                raise RtspError("auth", "the camera asks for an authentication scheme "
                                "readiness does not speak (only Basic and Digest)",
                                "摄像头要求的认证方式不受支持（仅支持 Basic 和 Digest）")
            status, headers, body = await _exchange(reader, writer, bare, 2, auth)
            if status == 401:
                raise RtspError("auth", f"the camera refused user {user!r}: wrong user name "
                                "or password", f"摄像头拒绝了用户 {user!r}：用户名或密码错误")
        if status == 503:
            raise RtspError("busy", "the camera answered DESCRIBE with 503 (busy) each time",
                            "摄像头对 DESCRIBE 多次回应 503（忙）")
        if status == 404:
            raise RtspError("not_found", f"the camera has no stream at {parts.path or '/'} "
                            "(404): check the stream path in the URL (e.g. the main stream's)",
                            f"摄像头上没有路径 {parts.path or '/'} 的视频流（404）："
                            "请检查地址中的流路径（如主码流路径）")
        if status != 200:
            raise RtspError("status", f"the camera answered DESCRIBE with status {status} "
                            "(is the stream path right?)",
                            f"摄像头对 DESCRIBE 回应状态 {status}（流路径是否正确？）")
        info = parse_sdp(body)
        info.auth = scheme
        if not body.strip():
            raise RtspError("protocol", "the camera sent no session description (SDP)",
                            "摄像头未返回会话描述（SDP）")
        return info
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
        raise RtspError("protocol", f"the connection broke during DESCRIBE ({type(exc).__name__})",
                        f"DESCRIBE 过程中连接中断（{type(exc).__name__}）") from None
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 0.5)
        except (OSError, TimeoutError):
            pass


async def describe(url: str, username: str | None = None, password: str | None = None,
                   timeout_s: float = 5.0, *, allow_basic: bool = False) -> SdpInfo:
    """The camera's SDP as SdpInfo, or RtspError (never containing the password).
    `allow_basic`: answer a Basic-only challenge (the site allows it for this camera)."""
    async def attempts() -> SdpInfo:
        # 503 is "try again": a camera (or GStreamer's shared media) that is still
        # tearing down the previous viewer's session answers it for a moment.
        for attempt in range(5):
            try:
                return await _describe(url, username, password, allow_basic)
            except RtspError as exc:
                if exc.kind != "busy" or attempt == 4:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    try:
        return await asyncio.wait_for(attempts(), timeout_s)
    except TimeoutError:
        raise RtspError("timeout", f"no RTSP answer from {mask_url(url)} within {timeout_s:g} s",
                        f"{timeout_s:g} 秒内 {mask_url(url)} 无 RTSP 回应") from None
