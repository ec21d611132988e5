"""The HTTP side of `readiness serve`: the live page, its state and events, /metrics,
/healthz, and "run now" (a request signed with the run-now token, run_now.py).

One asyncio event loop in a thread of its own, not a thread per connection: an idle
connection costs a descriptor and no thread, every request head must arrive within a
deadline, connections are capped per client address and in all, decided the moment
they are accepted (connections.py), and only the page's state, /metrics and "run now"
use a small pool of threads. A request whose Host is not a name of this service is
refused (hosts.py), a client that resets its connection ends it without a word in the
log, and refusals of "run now" are logged at most a few lines a minute with a count of
the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..agent.lograte import RateLimitedLog
from ..results import Text
from .connections import Connection, Connections, connection_cap, raise_file_limit
from .hosts import HostCheck
from .http11 import HttpError, Limits, Request, answer, read_request, stream_head
from .page import PAGE
from .run_now import PATH as RUN_PATH
from .run_now import Refused, RunNowGate
from .state import LiveState

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0
# a browser that stops reading loses events rather than growing the service's memory
EVENT_BACKLOG = 1000
JSON = "application/json; charset=utf-8"
# connections the kernel holds until accepted, and how many are accepted per loop turn
# (each is admitted or closed on the spot, so the batch can be generous)
LISTEN_BACKLOG = 1024
ACCEPT_BATCH = 64
# after an early refusal (413, 431...): how long and how much to read and drop
LINGER_S = 0.5
LINGER_BYTES = 256 * 1024

# (run merged into one already queued or running, what to tell the user)
RunNow = Callable[[], tuple[bool, Text]]


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def _message(text: Text, **extra: Any) -> bytes:
    return _json({"message": text.to_dict(), **extra})


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG)
    sock.setblocking(False)
    return sock


# what a connection refused at accept gets before it is closed (no handler, no task)
BUSY = answer(503, _message(Text(
    "too many connections from your address, or the service is full; try again shortly",
    "您的地址连接过多，或服务已满，请稍后再试")), JSON, keep_alive=False)
ACCEPT_PAUSE_S = 0.1


class ServeHTTP:
    def __init__(self, address: tuple[str, int], state: LiveState, gate: RunNowGate,
                 run_now: RunNow, *, host_names: tuple[str, ...] = (),
                 limits: Limits | None = None):
        self.requested = address
        self.state, self.gate, self.run_now = state, gate, run_now
        self.hosts = HostCheck(host_names)
        self.limits = limits or Limits()
        self.file_limit = raise_file_limit()
        self.connections = Connections(
            connection_cap(self.limits.max_connections, self.file_limit),
            self.limits.max_event_streams, self.limits.max_per_client)
        self.closing = threading.Event()
        self._refusals = RateLimitedLog(log, burst=20, interval_s=60.0)
        self._pool = ThreadPoolExecutor(max_workers=self.limits.workers,
                                        thread_name_prefix="readiness-serve-work")
        # a selector loop everywhere: the accept loop below watches the listener itself
        # (Windows' default proactor loop cannot)
        self._loop = asyncio.SelectorEventLoop()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def server_address(self) -> tuple[str, int]:
        assert self._listener is not None, "start() first"
        host, port = self._listener.getsockname()[:2]
        return host, port

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        """Bind (raises OSError when the address cannot be had) and run the event loop in
        a thread; connections are accepted once `serve()` is called."""
        try:
            self._listener = _listening_socket(*self.requested)
        except OSError:
            self._loop.close()
            self._pool.shutdown(wait=False)
            raise
        started = threading.Event()

        def run() -> None:
            loop = self._loop
            asyncio.set_event_loop(loop)
            loop.set_default_executor(self._pool)
            loop.set_exception_handler(self._quiet)
            flusher = loop.create_task(self._flush_refusals())
            loop.call_soon(started.set)
            loop.run_forever()
            flusher.cancel()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._refusals.flush(force=True)

        self._thread = threading.Thread(target=run, name="readiness-serve-http", daemon=True)
        self._thread.start()
        started.wait()
        log.debug("at most %d connections (open files limit %s)", self.connections.cap,
                  self.file_limit)

    def serve(self) -> None:
        assert self._listener is not None, "start() first"
        self._loop.call_soon_threadsafe(self._listen)

    def _listen(self) -> None:
        if self._listener is not None and not self.closing.is_set():
            self._loop.add_reader(self._listener.fileno(), self._accept)

    def stop(self) -> None:
        self.closing.set()

        def shut() -> None:
            if self._listener is not None:
                self._loop.remove_reader(self._listener.fileno())
                self._listener.close()
            self.connections.drop_all()
            self._loop.stop()

        if self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(shut)
            self._thread.join(10)
        elif self._listener is not None:
            self._listener.close()
        if not self._loop.is_running():
            self._loop.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _flush_refusals(self) -> None:
        while True:
            await asyncio.sleep(60.0)
            self._refusals.flush()

    def _quiet(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """A client that resets its connection is not worth a traceback."""
        exc = context.get("exception")
        if self.closing.is_set() or isinstance(
                exc, ConnectionError | TimeoutError | asyncio.CancelledError):
            log.debug("connection ended: %s", context.get("message"))
        else:
            loop.default_exception_handler(context)

    # ------------------------------------------------------------------ accepting
    def _accept(self) -> None:
        """Accept what the kernel holds, deciding at once who stays (connections.py): a
        connection refused here costs an accept and a close, no task and no buffer. Our
        own loop rather than asyncio's, which builds a transport and a task for each
        connection before its handler could decide anything."""
        assert self._listener is not None
        for _ in range(ACCEPT_BATCH):
            try:
                sock, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                # out of files (or memory): the kernel keeps the listener readable, so
                # stop watching it for a moment rather than spin
                self._refusals.log("accept", logging.WARNING, "cannot accept connections "
                                   "for a moment: %s (open files limit %s)", exc.strerror,
                                   self.file_limit)
                self._loop.remove_reader(self._listener.fileno())
                self._loop.call_later(ACCEPT_PAUSE_S, self._listen)
                return
            conn = Connection(client=str(peer[0]))
            if not self.connections.admit(conn):
                with contextlib.suppress(OSError):
                    sock.setblocking(False)
                    sock.send(BUSY)
                sock.close()
                continue
            sock.setblocking(False)
            self._loop.create_task(self._adopt(sock, conn))

    async def _adopt(self, sock: socket.socket, conn: Connection) -> None:
        loop = self._loop
        reader = asyncio.StreamReader(limit=self.limits.max_head_bytes, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        try:
            transport, _ = await loop.connect_accepted_socket(lambda: protocol, sock=sock)
        except (OSError, asyncio.CancelledError):  # gone already, or the service stops
            self.connections.forget(conn)
            sock.close()
            return
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        conn.writer = writer
        if conn.dropped:  # the service is stopping
            transport.abort()
            self.connections.forget(conn)
            return
        await self._handle(reader, writer, conn)

    # ------------------------------------------------------------------ one connection
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      conn: Connection) -> None:
        local = writer.get_extra_info("sockname")
        local_address = local[0] if local else ""
        client = conn.client
        try:
            while not self.closing.is_set():
                try:
                    request = await read_request(reader, self.limits)
                except TimeoutError:
                    return  # idle (or too slow) for the whole deadline: closed, no answer
                except HttpError as err:
                    await self._write(writer, answer(err.status, _message(err.text), JSON,
                                                     keep_alive=False))
                    await self._linger(reader, writer)
                    return
                if request is None:
                    return
                self.connections.answering(conn)
                if not self.hosts.allows(request.headers.get("host"), local_address):
                    await self._write(writer, self._misdirected(request, local))
                    return
                if request.path == "/events" and request.method == "GET":
                    await self._events(conn, writer)
                    return
                keep = request.keep_alive and not self.closing.is_set()
                status, body, content_type = await self._route(request, client)
                await self._write(writer, answer(status, body, content_type, keep_alive=keep))
                if not keep:
                    return
                self.connections.waiting(conn)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away, reset, stopped reading, or was dropped for another
        except asyncio.CancelledError:
            # the service is stopping; ending normally keeps asyncio from logging the
            # cancelled connection as an error
            pass
        except Exception:  # a bug of ours: this connection ends, the service goes on
            self._refusals.log("internal", logging.ERROR, "internal error answering %s",
                               client, exc_info=True)
            with contextlib.suppress(Exception):
                await self._write(writer, answer(500, _message(Text(
                    "internal error in readiness serve; its log has the details",
                    "readiness serve 内部错误，详情见日志")), JSON, keep_alive=False))
        finally:
            self.connections.forget(conn)
            if conn.dropped:
                writer.transport.abort()
            else:
                writer.close()

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        async with asyncio.timeout(self.limits.write_timeout_s):
            await writer.drain()

    async def _linger(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      ) -> None:
        """After refusing a request unread: read and drop what the client still sends,
        briefly and boundedly, so it gets our answer rather than a reset (closing with
        unread data makes the kernel send one)."""
        left = LINGER_BYTES
        with contextlib.suppress(TimeoutError, OSError):
            if writer.can_write_eof():
                writer.write_eof()  # the answer is complete: the client need not wait
            async with asyncio.timeout(LINGER_S):
                while left > 0:
                    chunk = await reader.read(min(left, 65536))
                    if not chunk:
                        return
                    left -= len(chunk)

    def _misdirected(self, request: Request, local: Any) -> bytes:
        where = self.server_address if local is None else local[:2]
        host, port = where
        url = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
        given = (request.headers.get("host") or "(none)")[:100]
        return answer(421, _message(Text(
            f"this service does not answer to the name {given}: open {url} (or start "
            "readiness serve with --host-name NAME for the name you use)",
            f"本服务不响应名称 {given}：请打开 {url}"
            "（或用 --host-name 名称 启动 readiness serve）")),
            JSON, keep_alive=False)

    # ------------------------------------------------------------------ routes
    async def _route(self, request: Request, client: str) -> tuple[int, bytes, str]:
        loop = asyncio.get_running_loop()
        state = self.state
        path = request.path
        if request.method == "POST" and path == RUN_PATH:
            return await self._run(request, client)
        if request.method != "GET":
            return 405, _message(Text(f"{request.method[:20]} is not allowed here: GET pages, "
                                      f"POST only {RUN_PATH}",
                                      f"不允许 {request.method[:20]}：页面用 GET，只能 POST "
                                      f"{RUN_PATH}")), JSON
        if path == "/":
            return 200, PAGE.encode(), "text/html; charset=utf-8"
        if path == "/metrics":
            return 200, await loop.run_in_executor(None, state.metrics_text), \
                CONTENT_TYPE_LATEST
        if path == "/healthz":
            ok, text = state.healthy()
            return (200 if ok else 503), _json({"ok": ok, "message": text.to_dict()}), JSON
        if path == "/api/state":
            return 200, _json(await loop.run_in_executor(None, state.page)), JSON
        if path == "/report":
            page = await loop.run_in_executor(None, state.report_html)
            if page is None:
                return 404, _message(Text(
                    "no report: no run yet, or the latest run does not match its signed "
                    "record (readiness verify says why)",
                    "没有报告：尚无检查，或最近一次检查与其签名记录不符"
                    "（readiness verify 可说明原因）")), JSON
            return 200, page.encode(), "text/html; charset=utf-8"
        return 404, _message(Text(f"no page {path[:100]}: try / or /metrics",
                                  f"没有页面 {path[:100]}：请访问 / 或 /metrics")), JSON

    async def _run(self, request: Request, client: str) -> tuple[int, bytes, str]:
        try:
            self.gate.check(request.method, request.path, request.headers, request.body)
        except Refused as refused:
            # one line per cause a minute at most: a flood leaves a count, not a full disk
            self._refusals.log(f"run now {refused.code}", logging.WARNING,
                               "run now refused from %s: %s", client, refused.code)
            return refused.status, _json(refused.payload()), JSON
        merged, text = await asyncio.get_running_loop().run_in_executor(None, self.run_now)
        log.info("run now from %s: %s", client, "joined the run already queued or running"
                 if merged else "queued")
        return (200 if merged else 202), _message(text, merged=merged), JSON

    async def _events(self, conn: Connection, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue(EVENT_BACKLOG)

        def put(item: tuple[str, str] | None) -> None:
            if item is None and events.full():
                events.get_nowait()  # the wake-up must get in
            if not events.full():
                events.put_nowait(item)

        def deliver(event: str, data: str) -> None:  # on the schedule's worker thread
            loop.call_soon_threadsafe(put, (event, data))

        conn.wake = lambda: put(None)
        self.connections.streaming(conn)
        self.state.subscribe(deliver)
        try:
            await self._write(writer, stream_head("text/event-stream; charset=utf-8")
                              + b"retry: 2000\n\n")
            while not (conn.dropped or self.closing.is_set()):
                try:
                    async with asyncio.timeout(KEEPALIVE_S):
                        item = await events.get()
                except TimeoutError:
                    await self._write(writer, b": keep-alive\n\n")
                    continue
                if item is None:
                    return
                event, data = item
                await self._write(writer, f"event: {event}\ndata: {data}\n\n".encode())
        finally:
            self.state.unsubscribe(deliver)


def parse_listen(text: str) -> tuple[str, int]:
    """ADDR:PORT (or [v6]:PORT); raises ValueError naming the expected form."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen {text!r}: expected ADDRESS:PORT, e.g. 127.0.0.1:9477")
    return host.strip("[]") or "0.0.0.0", int(port)
