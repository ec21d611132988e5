"""The coordinator's side: signed requests to seat agents, one or many at once.

Every failure becomes an `AgentReply`, never an exception: the plan asks forty seats
and needs forty answers, "absent" among them.
"""

from __future__ import annotations

import asyncio
import errno
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from readiness.redact import Secret

from .auth import EXPIRED, FUTURE, WRONG_AGENT, agent_id, sign

ReplyStatus = Literal["ok", "absent", "refused", "error"]
MAX_REPLY_BYTES = 4 * 1024 * 1024
# the agent accepted the connection but its reply did not come in time: a PC that is on
# with an agent listening, only slow (a busy seat PC, or a busy coordinator reading late)
NO_REPLY = "no_reply"
AUTH_CODES = frozenset({"missing_signature", "malformed_signature", "bad_signature",
                        EXPIRED, FUTURE, "replayed", WRONG_AGENT})


@dataclass(frozen=True)
class AgentTarget:
    label: str  # seat label, e.g. "A07"
    address: str
    port: int | None = None  # None: the port fan_out is given


@dataclass
class AgentReply:
    """ok: the agent answered 2xx, `body` is its JSON. absent: nothing answered.
    refused: the agent refused our signature (`error_code` says why). error: anything
    else (an HTTP error, a reply that is not an agent's)."""

    status: ReplyStatus
    reason: str = ""
    http_status: int | None = None
    body: dict[str, Any] | None = None
    error_code: str | None = None
    elapsed_s: float = 0.0
    # agent clock minus ours, when the agent told us (it refused our time at first)
    clock_skew_s: int | None = None


def _absent_reason(exc: BaseException, where: str, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError):
        return (f"no answer from {where} within {timeout_s:g} s (the PC is off, or a "
                "firewall drops the port)")
    if isinstance(exc, ConnectionRefusedError):
        return f"nothing listens on {where} (the agent is not running)"
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return f"{where} is unreachable from here"
    return f"cannot connect to {where}: {exc}"


def _parse_reply(raw: bytes, where: str) -> tuple[int, dict[str, Any]]:
    head, sep, body = raw.partition(b"\r\n\r\n")
    try:
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        version, code, *_ = status_line.split(" ", 2)
        if not version.startswith("HTTP/1.") or not sep:
            raise ValueError
        status = int(code)
        data = json.loads(body or b"{}")
        if not isinstance(data, dict):
            raise ValueError
    except (ValueError, IndexError):
        raise ValueError(f"something other than a readiness agent answers on {where}") \
            from None
    return status, data


async def _exchange(address: str, port: int, build: Callable[[str], bytes], timeout_s: float,
                    ) -> tuple[bytes | None, BaseException | None]:
    """(reply bytes, None) or (None, the connect failure). `build(agent)` makes the
    request once connected: it is signed for the address and port actually connected to
    (a name resolved, an IPv6 spelling normalised), as the agent sees its own end."""
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(address, port)
    except (OSError, TimeoutError) as exc:
        return None, exc
    try:
        peer = writer.get_extra_info("peername")
        writer.write(build(agent_id(peer[0], peer[1]) if peer else agent_id(address, port)))
        async with asyncio.timeout(timeout_s):
            await writer.drain()
            raw = await reader.read(MAX_REPLY_BYTES)
            while raw and len(raw) < MAX_REPLY_BYTES:
                more = await reader.read(MAX_REPLY_BYTES - len(raw))
                if not more:
                    break
                raw += more
        return raw, None
    finally:
        writer.close()
        try:
            async with asyncio.timeout(1.0):
                await writer.wait_closed()
        except (OSError, TimeoutError):
            pass


async def call_agent(address: str, port: int, path: str, body: dict[str, Any] | None,
                     token: Secret, *, timeout_s: float = 5.0, method: str = "POST",
                     adjust_clock: bool = True) -> AgentReply:
    """One signed request. When the agent refuses our time only because the two clocks
    differ (seat PCs often have no NTP), it tells its own time and we sign once more by
    its clock: the signature and nonce still protect the request, and the skew is
    reported rather than turning a whole room's checks into errors."""
    where = f"{address}:{port}"
    payload = json.dumps(body or {}).encode("utf-8") if method == "POST" else b""
    started = time.monotonic()
    skew: int | None = None
    for _attempt in range(2):
        def build(agent: str, now: float = time.time() + (skew or 0)) -> bytes:
            headers = sign(token, method, path, payload, agent=agent, now=now)
            lines = [f"{method} {path} HTTP/1.1", f"Host: {agent}", "Connection: close",
                     "Content-Type: application/json", f"Content-Length: {len(payload)}",
                     *(f"{k}: {v}" for k, v in headers.items())]
            return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + payload

        try:
            raw, failure = await _exchange(address, port, build, timeout_s)
        except (TimeoutError, OSError) as exc:
            reason = (f"{where} accepted the connection but sent no reply within "
                      f"{timeout_s:g} s" if isinstance(exc, TimeoutError)
                      else f"the connection to {where} broke: {exc}")
            return AgentReply("error", reason, elapsed_s=time.monotonic() - started,
                              error_code=NO_REPLY if isinstance(exc, TimeoutError) else None,
                              clock_skew_s=skew)
        elapsed = time.monotonic() - started
        if raw is None:
            assert failure is not None
            return AgentReply("absent", _absent_reason(failure, where, timeout_s),
                              elapsed_s=elapsed)
        try:
            status, data = _parse_reply(raw, where)
        except ValueError as exc:
            return AgentReply("error", str(exc), elapsed_s=elapsed, clock_skew_s=skew)
        code = data.get("error") if isinstance(data.get("error"), str) else None
        server_time = data.get("server_time")
        if (code in (EXPIRED, FUTURE) and adjust_clock and skew is None
                and isinstance(server_time, int)):
            skew = server_time - int(time.time())
            continue
        if 200 <= status < 300:
            return AgentReply("ok", "", status, data, elapsed_s=elapsed, clock_skew_s=skew)
        reply_status: ReplyStatus = "refused" if code in AUTH_CODES else "error"
        message = str(data.get("message") or f"HTTP {status}")
        return AgentReply(reply_status, message, status, data, code, elapsed, skew)
    raise AssertionError("unreachable: the second attempt always returns")


async def fan_out(targets: list[AgentTarget], path: str, body: dict[str, Any] | None,
                  token: Secret, port: int, *, concurrency: int = 32,
                  timeout_s: float = 5.0) -> dict[str, AgentReply]:
    """The same signed request to many agents, at most `concurrency` at a time.
    Returns label -> reply for every target."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(target: AgentTarget) -> tuple[str, AgentReply]:
        async with gate:
            reply = await call_agent(target.address, target.port or port, path, body, token,
                                     timeout_s=timeout_s)
        return target.label, reply

    return dict(await asyncio.gather(*(one(t) for t in targets)))
