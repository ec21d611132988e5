"""`readiness agent`: a small HTTP/JSON service on a seat PC or the exam server.

Pure standard library (asyncio), so it installs on any school PC that has Python.
asyncio rather than http.server because the defence against slow or half-open
clients is a deadline for the whole request, not for each recv: a client sending one
byte a second satisfies any per-recv timeout forever, but not `asyncio.timeout`
around the whole read. An idle connection costs no thread either; blocking work (the
self-report's file and subprocess reads) goes to a small bounded thread pool.

Idle connections need no token, so they must not be able to lock signed requests out:
the request head has a short deadline of its own, and when the connection cap is
reached the oldest connection that has not yet proven the token is dropped to make
room (a signed request is answered within a moment of connecting, so it is never the
oldest for long). Only connections running a signed request are never dropped. Log
lines are rate-limited per cause (lograte.py), so a flood leaves a count, not a disk
full of identical lines.

Every probe runs with the allow-list installed in probes/target_guard.py, so targets
that appear only while it runs (redirects, caller-supplied resolver answers) are
checked before a packet goes there, like the targets in its params.

Endpoints (JSON in, JSON out, one request per connection):

  GET  /v1/health       unauthenticated: agent name and version, nothing else (padded
                        past one full-size packet: see HEALTH_PADDING)
  POST /v1/self-report  signed: this machine's inventory (self_report.py)
  POST /v1/run          signed: {"probe": name, "params": {...}, "deadline_s": n} runs a
                        registered probe, if every target in params is in the site
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from probes.engines import target_guard
from readiness import __version__
from readiness.checkkind import SEAT, CheckKind
from readiness.redact import Secret
from readiness.results import ProbeOutcome, Status, Text

from .allow import AllowList, TargetRefused, check_targets
from .auth import AuthError, Verifier, agent_id
from .lograte import RateLimitedLog
from .self_report import collect

log = logging.getLogger("readiness.agent")

HEALTH = "/v1/health"
# The health reply is larger than one full-size Ethernet packet: a path that drops large
# packets without a word (an MTU black hole) loses it as it loses every real reply, and
# the coordinator, seeing the connection accepted and no reply, tests the path's packet
# size (readiness/agent/remote.py) instead of waiting out every check of that seat.
HEALTH_PADDING = "." * 1600
SELF_REPORT = "/v1/self-report"
RUN = "/v1/run"
DEFAULT_PORT = 8765


def default_registry() -> dict[str, CheckKind]:
    """The kinds every agent runs: what must be seen from the seat's own address."""
    from probes import kinds as probe_kinds

    from .kinds import kinds as agent_kinds

    return {k.probe: k for k in [*probe_kinds(), *agent_kinds()] if SEAT in k.runs_on}


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 64 * 1024
    max_header_bytes: int = 16 * 1024
    # the whole request (line, headers, body) must arrive within this...
    read_timeout_s: float = 5.0
    # ...and its head (line and headers) within this: an idle connection goes soon
    # (a busy seat PC, or forty agents on one lab machine, can take a few seconds to read)
    head_timeout_s: float = 4.0
    write_timeout_s: float = 5.0
    # at the cap, the oldest connection not yet signed in is dropped for the new one
    max_connections: int = 256
    max_running_probes: int = 8
    workers: int = 4
    default_deadline_s: float = 10.0
    max_deadline_s: float = 300.0
    # after an early refusal (413, 401 before the body): keep reading a little so the
    # client sees our reply rather than a reset
    linger_s: float = 0.5
    linger_bytes: int = 256 * 1024
    # request log: at most this many lines per cause per interval, then a count
    log_burst: int = 20
    log_interval_s: float = 60.0


class BindRefused(ValueError):
    """The address the agent was told to listen on is not acceptable or not available."""


def check_bind(bind: str, listen_all: bool) -> str:
    try:
        address = ipaddress.ip_address(bind)
    except ValueError:
        raise BindRefused(f"--bind {bind!r} is not an IP address; give this PC's LAN address, "
                          "e.g. --bind 192.168.10.107") from None
    if address.is_unspecified and not listen_all:
        raise BindRefused(f"--bind {bind} would listen on every network of this PC; give its "
                          "exam-LAN address (e.g. --bind 192.168.10.107), or add --listen-all "
                          "if that is really meant")
    return str(address)


def _local_addresses() -> list[str]:
    import socket

    import psutil

    return sorted({a.address for addrs in psutil.net_if_addrs().values() for a in addrs
                   if a.family == socket.AF_INET})


class _Reply(Exception):
    """Finish the request now with this status and JSON body."""

    def __init__(self, status: int, payload: dict[str, Any], linger: bool = False):
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.linger = linger


def _error(status: int, code: str, message: str, linger: bool = False,
           **extra: Any) -> _Reply:
    return _Reply(status, {"error": code, "message": message, **extra}, linger)


def _encode(status: int, payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
    head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\n"
            "Connection: close\r\n\r\n")
    return head.encode("ascii") + body


@dataclass
class _Request:
    agent: str = ""  # agent_id of the local end: what the signature must name
    method: str = "-"
    target: str = "-"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


_SINGLE_HEADERS = {"content-length", "transfer-encoding", "x-readiness-time",
                   "x-readiness-nonce", "x-readiness-agent", "x-readiness-signature"}


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    try:
        text = head.decode("latin-1")
        request_line, *lines = text[:-4].split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        raise _error(400, "bad_request", "malformed HTTP request line") from None
    if not version.startswith("HTTP/1.") or not target.startswith("/"):
        raise _error(400, "bad_request", "malformed HTTP request line")
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _error(400, "bad_request", "malformed HTTP header")
        name = name.lower()
        if name in headers and name in _SINGLE_HEADERS:
            raise _error(400, "bad_request", f"header {name} is given twice")
        headers[name] = value.strip()
    return method, target, headers


class AgentServer:
    """The agent's listener. `start()` binds; `close()` stops. One per process."""

    def __init__(self, bind: str, port: int, token: Secret, allow: AllowList, *,
                 registry: dict[str, CheckKind] | None = None, listen_all: bool = False,
                 limits: Limits | None = None, clock: Callable[[], float] = time.time):
        self.bind = check_bind(bind, listen_all)
        self.port = port
        self.allow = allow
        self.registry = default_registry() if registry is None else dict(registry)
        self.limits = limits or Limits()
        self.verifier = Verifier(token, clock=clock)
        self._server: asyncio.Server | None = None
        # connections that have not proven the token yet, oldest first: the ones dropped
        # when the cap is reached
        self._unproven: dict[asyncio.StreamWriter, None] = {}
        self._evicted: set[asyncio.StreamWriter] = set()
        self._proven: set[asyncio.StreamWriter] = set()
        self._log = RateLimitedLog(log, burst=self.limits.log_burst,
                                   interval_s=self.limits.log_interval_s)
        self._flusher: asyncio.Task[None] | None = None
        self._running = 0
        self._exclusive: str | None = None

    def __repr__(self) -> str:
        return f"AgentServer({self.bind}:{self.port})"

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(
                self._handle, host=self.bind, port=self.port,
                # reuse_address left to asyncio: on Windows SO_REUSEADDR would let another
                # program take over the port
                limit=self.limits.max_header_bytes, backlog=128)
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise BindRefused(f"{self.bind} is not an address of this PC; its addresses "
                                  f"are {', '.join(_local_addresses())}") from None
            if exc.errno == errno.EADDRINUSE:
                raise BindRefused(f"port {self.port} on {self.bind} is already in use: is "
                                  "another agent running? (or pick --port)") from None
            raise BindRefused(f"cannot listen on {self.bind}:{self.port}: "
                              f"{exc.strerror or exc}") from None
        self.port = self._server.sockets[0].getsockname()[1]
        self._flusher = asyncio.create_task(self._flush_log())
        log.info("agent %s listening on %s:%d; probes: %s; targets: %s", __version__,
                 self.bind, self.port, ", ".join(sorted(self.registry)), self.allow.describe())

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self._server.wait_closed()
        self._log.flush(force=True)

    async def _flush_log(self) -> None:
        while True:
            await asyncio.sleep(self.limits.log_interval_s)
            self._log.flush()

    @property
    def connections(self) -> int:
        """Open connections (those being read, and those running a signed request)."""
        return len(self._unproven) + len(self._proven)

    def _admit(self, writer: asyncio.StreamWriter) -> bool:
        """Make room for a new connection; False when every slot runs a signed request."""
        if self.connections >= self.limits.max_connections:
            if not self._unproven:
                return False
            oldest = next(iter(self._unproven))
            del self._unproven[oldest]
            self._evicted.add(oldest)
            oldest.transport.abort()  # its reader sees EOF: the handler ends quietly
        self._unproven[writer] = None
        return True

    def _proved(self, writer: asyncio.StreamWriter) -> None:
        if writer in self._unproven:
            del self._unproven[writer]
            self._proven.add(writer)

    # ------------------------------------------------------------- one connection

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        local = writer.get_extra_info("sockname")
        client = peer[0] if peer else "?"
        started = time.monotonic()
        request = _Request(agent=agent_id(local[0], local[1]) if local else "")
        status = 0
        cause = "gone"
        note = ""
        admitted = self._admit(writer)
        try:
            if not admitted:
                raise _error(503, "busy", "every connection slot is running a signed "
                                          "request; try again shortly")
            try:
                async with asyncio.timeout(self.limits.read_timeout_s):
                    await self._read_request(reader, request)
            except TimeoutError:
                raise _error(408, "timeout",
                             f"the request did not arrive within "
                             f"{self.limits.read_timeout_s:g} s") from None
            status, payload, note = await self._dispatch(request, writer)
            cause = str(status)
            await self._send(writer, status, payload)
        except _Reply as reply:
            status = reply.status
            cause = f"{status} {reply.payload.get('error', '')}".strip()
            await self._send(writer, reply.status, reply.payload)
            if reply.linger:
                await self._linger(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            # the client went away, or we dropped it for a newer one: nobody to answer
            status = 0
            cause = "evicted" if writer in self._evicted else "gone"
        except Exception:  # a bug of ours: one request fails, the agent keeps serving
            self._log.log("internal", logging.ERROR, "internal error on %s %.200r",
                          request.method, request.path, exc_info=True)
            status = 500
            cause = "500"
            await self._send(writer, 500, {"error": "internal", "message": "internal error "
                                           "in the agent; its log has the details"})
        finally:
            self._unproven.pop(writer, None)
            self._proven.discard(writer)
            self._evicted.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
            # method, path and status only: headers carry the signature, never logged
            self._log.log(cause, logging.INFO, "%s %s %.200r %s %.0fms%s%s", client,
                          request.method, request.path, status or "-",
                          (time.monotonic() - started) * 1000, note,
                          " (dropped for a newer connection)" if cause == "evicted" else "")

    async def _read_request(self, reader: asyncio.StreamReader, request: _Request) -> None:
        """Fill `request` (filled as far as it got, for the log, when this raises)."""
        try:
            async with asyncio.timeout(self.limits.head_timeout_s):
                head = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            raise _error(408, "timeout", f"the request head did not arrive within "
                                         f"{self.limits.head_timeout_s:g} s") from None
        except asyncio.LimitOverrunError:
            raise _error(431, "headers_too_large",
                         f"request headers exceed {self.limits.max_header_bytes} bytes",
                         linger=True) from None
        request.method, request.target, request.headers = _parse_head(head)
        if request.path == HEALTH:
            if request.method != "GET":
                raise _error(405, "method_not_allowed", f"{HEALTH} answers GET only")
            return
        if request.path not in (SELF_REPORT, RUN):
            raise _error(404, "not_found", f"no endpoint {request.path[:100]}; this agent "
                                           f"has {HEALTH}, {SELF_REPORT}, {RUN}")
        if request.method != "POST":
            raise _error(405, "method_not_allowed", f"{request.path} answers POST only")
        if "transfer-encoding" in request.headers:
            raise _error(411, "length_required",
                         "send the body with Content-Length, not Transfer-Encoding",
                         linger=True)
        raw_length = request.headers.get("content-length", "0")
        if not raw_length.isdigit() or not raw_length.isascii():
            raise _error(400, "bad_request", "Content-Length must be a number", linger=True)
        length = int(raw_length)
        if length > self.limits.max_body_bytes:
            # refused before reading: a 100 MB body costs us one header's worth of work
            raise _error(413, "too_large", f"the body is {length} bytes; this agent accepts "
                                           f"at most {self.limits.max_body_bytes}", linger=True)
        try:
            # time and presence first, so an unsigned or stale request is not even read
            self.verifier.check_headers(request.headers, request.agent)
        except AuthError as exc:
            raise self._auth_reply(exc, linger=length > 0) from None
        request.body = await reader.readexactly(length)

    def _auth_reply(self, exc: AuthError, linger: bool = False) -> _Reply:
        extra = {"server_time": exc.server_time} if exc.server_time is not None else {}
        return _error(exc.status, exc.code, exc.message, linger=linger, **extra)

    async def _send(self, writer: asyncio.StreamWriter, status: int,
                    payload: dict[str, Any]) -> None:
        writer.write(_encode(status, payload))
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(self.limits.write_timeout_s):
                await writer.drain()

    async def _linger(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read and drop what the client is still sending, briefly and boundedly."""
        left = self.limits.linger_bytes
        with contextlib.suppress(TimeoutError, OSError):
            # our reply is complete: the client need not wait for the linger to end
            if writer.can_write_eof():
                writer.write_eof()
            async with asyncio.timeout(self.limits.linger_s):
                while left > 0:
                    chunk = await reader.read(min(left, 65536))
                    if not chunk:
                        return
                    left -= len(chunk)

    # ------------------------------------------------------------- endpoints

    async def _dispatch(self, request: _Request, writer: asyncio.StreamWriter,
                        ) -> tuple[int, dict[str, Any], str]:
        if request.path == HEALTH:
            return 200, {"agent": "readiness", "version": __version__,
                         "padding": HEALTH_PADDING}, ""
        try:
            self.verifier.verify(request.method, request.target, request.headers,
                                 request.body, request.agent)
        except AuthError as exc:
            raise self._auth_reply(exc) from None
        self._proved(writer)  # from here on it holds its slot until it is answered
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            raise _error(400, "bad_json", "the body is not JSON") from None
        if not isinstance(body, dict):
            raise _error(400, "bad_json", "the body must be a JSON object")
        if request.path == SELF_REPORT:
            return 200, {"report": await self._self_report()}, ""
        return await self._run(body)

    async def _self_report(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self.limits.default_deadline_s):
                return await asyncio.to_thread(collect)
        except TimeoutError:
            raise _error(504, "timeout", "collecting the self-report took longer than "
                                         f"{self.limits.default_deadline_s:g} s") from None

    def _deadline(self, value: Any) -> float:
        if value is None:
            return self.limits.default_deadline_s
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not 0 < value <= self.limits.max_deadline_s:
            raise _error(400, "bad_deadline", f"deadline_s must be a number of seconds in "
                                              f"(0, {self.limits.max_deadline_s:g}]")
        return float(value)

    async def _run(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
        name = body.get("probe")
        params = body.get("params", {})
        if not isinstance(name, str) or name not in self.registry:
            raise _error(404, "unknown_probe", f"no probe {str(name)[:60]!r} on this agent; "
                                               f"it runs: {', '.join(sorted(self.registry))}")
        if not isinstance(params, dict):
            raise _error(400, "bad_params", "params must be a JSON object")
        deadline_s = self._deadline(body.get("deadline_s"))
        kind = self.registry[name]
        # a key the kind does not declare could carry a target no mark names: refused
        # before anything; then the targets; then what is missing
        unknown = kind.unknown(params)
        if unknown:
            raise _error(400, "bad_params", "; ".join(unknown)[:300])
        try:
            check_targets(self.allow, kind, params)
        except TargetRefused as exc:
            raise _error(403, "target_not_allowed", exc.message) from None
        missing = kind.missing(params)
        if missing:
            raise _error(400, "bad_params", "; ".join(missing)[:300])
        probe = self.registry[name]
        if probe.exclusive and self._exclusive is not None:
            raise _error(409, "busy", f"another exclusive probe ({self._exclusive}) is "
                                      "running on this agent; try again when it has ended")
        if self._running >= self.limits.max_running_probes:
            raise _error(503, "busy", "this agent is running as many probes as it may; "
                                      "try again shortly")
        self._running += 1
        if probe.exclusive:
            self._exclusive = name
        started = time.monotonic()
        try:
            outcome = await self._outcome(probe, name, params, deadline_s)
        finally:
            self._running -= 1
            if probe.exclusive:
                self._exclusive = None
        duration_s = round(time.monotonic() - started, 3)
        return 200, {"probe": name, "outcome": outcome.to_dict(),
                     "duration_s": duration_s}, f" probe={name} {outcome.status.value}"

    async def _outcome(self, probe: CheckKind, name: str, params: dict[str, Any],
                       deadline_s: float) -> ProbeOutcome:
        # A probe keeps its own deadline; this is the backstop that always holds.
        try:
            # targets that appear while it runs (redirects...) are checked too
            with target_guard.enforced(self.allow.allows):
                async with asyncio.timeout(deadline_s):
                    return await probe.run(params, deadline_s)
        except target_guard.TargetNotAllowed as exc:
            return ProbeOutcome(Status.ERROR, Text(
                f"the probe {name} was stopped: {exc.message}; add the target to the site "
                "file if it belongs to the site",
                f"探测 {name} 已被阻止：{exc.target} 不在本代理的站点配置中，未向其发送任何数据；"
                "如该目标属于本考点，请将其加入站点配置"))
        except TimeoutError:
            return ProbeOutcome(Status.ERROR, Text(
                f"the probe {name} did not finish within its deadline of {deadline_s:g} s",
                f"探测 {name} 未在 {deadline_s:g} 秒时限内完成"))
        except Exception as exc:  # noqa: BLE001 - a probe's failure is a result, not a crash
            log.warning("probe %s failed", name, exc_info=True)
            what = f"{type(exc).__name__}: {exc}"[:300]
            return ProbeOutcome(Status.ERROR, Text(f"the probe {name} failed: {what}",
                                                   f"探测 {name} 出错：{what}"))


# ------------------------------------------------------------- running it


def _bounded_executor(loop: asyncio.AbstractEventLoop, workers: int) -> ThreadPoolExecutor:
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agent-work")
    loop.set_default_executor(pool)
    return pool


def serve(bind: str, port: int, token: Secret, allow: AllowList, *,
          registry: dict[str, CheckKind] | None = None, listen_all: bool = False,
          limits: Limits | None = None,
          ready: Callable[[AgentServer], None] | None = None) -> None:
    """Run the agent until SIGTERM / SIGINT (Ctrl+C). Raises BindRefused if it cannot
    listen where it was told to."""
    server = AgentServer(bind, port, token, allow, registry=registry, listen_all=listen_all,
                         limits=limits)

    async def main() -> None:
        from .inventory import read_in_background
        from .link_watch import WATCH

        loop = asyncio.get_running_loop()
        _bounded_executor(loop, server.limits.workers)
        read_in_background()  # the seat's software, read once before the first run asks
        WATCH.start()  # its links' carrier changes from now on: a flapping link shows
        stop = asyncio.Event()
        if sys.platform != "win32":
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        await server.start()
        if ready:
            ready(server)
        try:
            await stop.wait()
        finally:
            log.info("agent stopping")
            await server.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


@contextlib.contextmanager
def running(bind: str, port: int, token: Secret, allow: AllowList, *,
            registry: dict[str, CheckKind] | None = None, limits: Limits | None = None,
            clock: Callable[[], float] = time.time) -> Iterator[AgentServer]:
    """An agent in a background thread of this process, for tests and the lab."""
    server = AgentServer(bind, port, token, allow, registry=registry, limits=limits,
                         clock=clock)
    loop = asyncio.new_event_loop()
    pool = _bounded_executor(loop, server.limits.workers)
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(server.close())

    thread = threading.Thread(target=run, name=f"agent-{bind}", daemon=True)
    thread.start()
    started.wait()
    try:
        if failure:
            raise failure[0]
        yield server
    finally:
        if not failure:
            loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        pool.shutdown(wait=False, cancel_futures=True)
        loop.close()
