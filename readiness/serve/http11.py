"""One HTTP/1.1 request read from an asyncio stream, each part under a deadline, and
the bytes of an answer. Only what `readiness serve` needs: bodies by Content-Length (read
in full, or refused and the connection closed, never left to be parsed as the next
request), keep-alive, no chunked bodies.

A deadline covers the whole head, not each recv: a client sending one byte a second
satisfies any per-recv timeout forever, but not one around the whole read."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from http import HTTPStatus

from ..results import Text


@dataclass(frozen=True)
class Limits:
    # a request head must arrive in full within this, also the next one on keep-alive:
    # an idle connection is closed after it
    head_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    write_timeout_s: float = 10.0
    max_head_bytes: int = 16 * 1024
    max_body_bytes: int = 64 * 1024
    # open connections (idle, answering, following events). At the cap the oldest idle one
    # of the client holding the most gives way (connections.py). The checks run in this
    # process and some of them use select(), which cannot watch a descriptor numbered 1024
    # or more: the service's own connections stay well below that line (and below what
    # the open-files limit leaves, see connection_cap)
    max_connections: int = 512
    # connections one client address may hold: a browser opens six at most
    max_per_client: int = 64
    # browsers following /events (within max_connections); at the cap the oldest of the
    # client following the most goes (EventSource reconnects by itself)
    max_event_streams: int = 64
    # threads that build the page's state and /metrics (the rest is one event loop)
    workers: int = 4


class HttpError(Exception):
    """Answer with `status` and this message, then close the connection."""

    def __init__(self, status: int, text: Text):
        super().__init__(status, text.en)
        self.status = status
        self.text = text


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return "close" not in connection


# a second copy of these would let two readers of the request disagree about it
_SINGLE = {"host", "content-length", "transfer-encoding", "x-readiness-time",
           "x-readiness-nonce", "x-readiness-agent", "x-readiness-signature"}


def _bad(what: str, zh: str) -> HttpError:
    return HttpError(400, Text(f"bad request: {what}", f"请求格式错误：{zh}"))


def parse_head(head: bytes) -> Request:
    text = head.decode("latin-1")
    request_line, *lines = text[:-4].split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[1].startswith("/") \
            or parts[2] not in ("HTTP/1.0", "HTTP/1.1"):
        raise _bad("malformed request line", "请求行无效")
    request = Request(parts[0], parts[1], parts[2])
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _bad("malformed header line", "请求头无效")
        name = name.lower()
        if name in request.headers and name in _SINGLE:
            raise _bad(f"header {name} given twice", f"请求头 {name} 重复")
        request.headers[name] = value.strip()
    return request


async def read_request(reader: asyncio.StreamReader, limits: Limits) -> Request | None:
    """The next request on the connection, body included; None when the client closed it
    between requests. Raises HttpError, TimeoutError (nothing complete within the
    deadline), ConnectionError."""
    try:
        async with asyncio.timeout(limits.head_timeout_s):
            head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise ConnectionResetError("the client closed the connection mid-request") from None
    except asyncio.LimitOverrunError:
        raise HttpError(431, Text(
            f"the request head is larger than {limits.max_head_bytes} bytes",
            f"请求头超过 {limits.max_head_bytes} 字节")) from None
    request = parse_head(head)
    if "transfer-encoding" in request.headers:
        raise HttpError(411, Text("send a body with Content-Length, not Transfer-Encoding",
                                  "请求体请使用 Content-Length，不支持 Transfer-Encoding"))
    raw = request.headers.get("content-length", "0")
    if not (raw.isascii() and raw.isdigit()):
        raise _bad("Content-Length is not a number", "Content-Length 不是数字")
    length = int(raw)
    if length > limits.max_body_bytes:
        # refused unread: the connection is closed after the answer, so the rest of the
        # body is never taken for a request
        raise HttpError(413, Text(
            f"the body is {length} bytes; this service accepts at most "
            f"{limits.max_body_bytes}", f"请求体 {length} 字节，超过上限 {limits.max_body_bytes}"))
    if length:
        try:
            async with asyncio.timeout(limits.body_timeout_s):
                request.body = await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            raise ConnectionResetError("the client closed the connection mid-body") from None
    return request


def answer(status: int, body: bytes, content_type: str, *, keep_alive: bool,
           extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            f"Content-Type: {content_type}", f"Content-Length: {len(body)}",
            "Cache-Control: no-store", "X-Content-Type-Options: nosniff",
            "Connection: " + ("keep-alive" if keep_alive else "close"),
            *(f"{name}: {value}" for name, value in extra)]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def stream_head(content_type: str) -> bytes:
    """The head of an answer whose body runs until the connection closes (/events)."""
    return (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nCache-Control: no-store\r\n"
            "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n").encode("latin-1")
