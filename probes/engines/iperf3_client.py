"""An iperf3 3.12 TCP client in pure Python: forward, reverse, parallel streams, omit,
and intervals (`interval_s` + `on_interval`), with which a caller may end the test early
once it has measured enough: the stock server accepts TEST_END before the agreed time.

The test runs in a thread of its own (`run_test_sync`), every wait bounded by the
caller's deadline; `run_test` wraps it for asyncio and, when cancelled, tells the
thread to stop, which then sends CLIENT_TERMINATE and closes everything within about
0.1 s. A stock iperf3 server therefore never keeps a half-finished test of ours.
"""

from __future__ import annotations

import errno
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import iperf3_io as io
from .blocking import in_thread
from .iperf3_proto import (
    DEFAULT_PORT,
    DEFAULT_TCP_BLOCKSIZE,
    MAX_BLOCKSIZE,
    MAX_STREAMS,
    MAX_TIME_S,
    ProtocolError,
    Results,
    State,
    StreamReport,
    TestParams,
    decode_server_error,
    error_text,
    make_cookie,
    parse_results,
    stream_ids,
)

# Time allowed after the last data for TEST_END, the results exchange and closing.
END_MARGIN_S = 3.0
# How long the server may take for each step of the handshake and the results.
STEP_TIMEOUT_S = 5.0
VERSION = "readiness-iperf3 (3.12 protocol)"
# Linux struct tcp_info: tcpi_bytes_acked (u64) sits at byte 120 (kernel 4.1+)
_TCPI_BYTES_ACKED = 120

# Called after each interval with (bytes, seconds); True ends the test now.
IntervalHook = Callable[[int, float], bool]


class Iperf3Error(Exception):
    """The test could not be made; the message says why in words staff can act on."""


class Iperf3ConnectError(Iperf3Error):
    def __init__(self, host: str, port: int, reason: str, reason_zh: str = "") -> None:
        super().__init__(f"cannot connect to {host}:{port}: {reason}")
        self.reason = reason
        self.reason_zh = reason_zh or reason


class Iperf3Busy(Iperf3Error):
    """ACCESS_DENIED: the server is running another client's test."""


class Iperf3ServerError(Iperf3Error):
    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class Iperf3Timeout(Iperf3Error):
    pass


class Iperf3ProtocolError(Iperf3Error):
    pass


@dataclass(frozen=True)
class StreamFigures:
    id: int
    sent_bytes: int
    received_bytes: int
    sender_seconds: float
    receiver_seconds: float
    retransmits: int | None

    @property
    def sender_bps(self) -> float:
        return _bps(self.sent_bytes, self.sender_seconds)

    @property
    def receiver_bps(self) -> float:
        return _bps(self.received_bytes, self.receiver_seconds)


@dataclass(frozen=True)
class Iperf3Result:
    host: str
    port: int
    reverse: bool
    parallel: int
    duration_s: int
    omit_s: int
    block_size: int
    streams: tuple[StreamFigures, ...]
    # Like iperf3, the test's times are its first stream's (they start together).
    sender_seconds: float
    receiver_seconds: float
    retransmits: int | None
    local_cpu: tuple[float, float, float]
    remote_cpu: tuple[float, float, float]
    cookie: str = ""
    # (local host, local port, remote host, remote port) of each data connection
    connections: tuple[tuple[str, int, str, int], ...] = ()
    sender_congestion: str | None = None
    receiver_congestion: str | None = None
    # (start s, end s, bytes) of each interval, when asked for: bytes received, or
    # when sending the bytes the peer acknowledged (what arrived, not what was queued)
    intervals: tuple[tuple[float, float, int], ...] = ()

    @property
    def sent_bytes(self) -> int:
        return sum(s.sent_bytes for s in self.streams)

    @property
    def received_bytes(self) -> int:
        return sum(s.received_bytes for s in self.streams)

    @property
    def sender_bps(self) -> float:
        return _bps(self.sent_bytes, self.sender_seconds)

    @property
    def receiver_bps(self) -> float:
        return _bps(self.received_bytes, self.receiver_seconds)

    @property
    def throughput_mbps(self) -> float:
        """What arrived: the receiver's figure, the one a link is judged by."""
        return self.receiver_bps / 1e6

    def to_json(self) -> dict[str, Any]:
        """Shaped like `iperf3 -c ... -J` (start, end.streams, end.sum_sent,
        end.sum_received, end.cpu_utilization_percent)."""
        local_is_sender = not self.reverse
        sum_sent: dict[str, Any] = {
            "start": 0, "end": self.sender_seconds, "seconds": self.sender_seconds,
            "bytes": self.sent_bytes, "bits_per_second": self.sender_bps,
        }
        if self.retransmits is not None:
            sum_sent["retransmits"] = self.retransmits
        sum_sent["sender"] = local_is_sender
        streams = []
        for s in self.streams:
            sender: dict[str, Any] = {
                "socket": s.id, "start": 0, "end": s.sender_seconds,
                "seconds": s.sender_seconds, "bytes": s.sent_bytes,
                "bits_per_second": s.sender_bps}
            if s.retransmits is not None:
                sender["retransmits"] = s.retransmits
            sender["sender"] = local_is_sender
            streams.append({"sender": sender, "receiver": {
                "socket": s.id, "start": 0, "end": s.receiver_seconds,
                "seconds": s.receiver_seconds, "bytes": s.received_bytes,
                "bits_per_second": s.receiver_bps, "sender": local_is_sender}})
        end: dict[str, Any] = {
            "streams": streams,
            "sum_sent": sum_sent,
            "sum_received": {
                "start": 0, "end": self.receiver_seconds, "seconds": self.receiver_seconds,
                "bytes": self.received_bytes, "bits_per_second": self.receiver_bps,
                "sender": local_is_sender},
            "cpu_utilization_percent": {
                "host_total": self.local_cpu[0], "host_user": self.local_cpu[1],
                "host_system": self.local_cpu[2], "remote_total": self.remote_cpu[0],
                "remote_user": self.remote_cpu[1], "remote_system": self.remote_cpu[2]},
        }
        if self.sender_congestion:
            end["sender_tcp_congestion"] = self.sender_congestion
        if self.receiver_congestion:
            end["receiver_tcp_congestion"] = self.receiver_congestion
        return {
            "start": {
                "connected": [{"socket": s.id, "local_host": c[0], "local_port": c[1],
                               "remote_host": c[2], "remote_port": c[3]}
                              for s, c in zip(self.streams, self.connections, strict=False)],
                "version": VERSION,
                "connecting_to": {"host": self.host, "port": self.port},
                "cookie": self.cookie,
                "test_start": {
                    "protocol": "TCP", "num_streams": self.parallel,
                    "blksize": self.block_size, "omit": self.omit_s,
                    "duration": self.duration_s, "bytes": 0, "blocks": 0,
                    "reverse": int(self.reverse), "tos": 0},
            },
            "intervals": [{"sum": {
                "start": a, "end": b, "seconds": b - a, "bytes": n,
                "bits_per_second": _bps(n, b - a), "sender": local_is_sender}}
                for a, b, n in self.intervals],
            "end": end,
        }


def _bps(nbytes: int, seconds: float) -> float:
    return nbytes * 8 / seconds if seconds > 0 else 0.0


def _check_args(duration_s: int, parallel: int, omit_s: int, block_size: int) -> None:
    if not isinstance(duration_s, int) or not 1 <= duration_s <= MAX_TIME_S:
        raise ValueError(f"duration_s must be a whole number of seconds 1..{MAX_TIME_S}")
    if not isinstance(omit_s, int) or not 0 <= omit_s <= MAX_TIME_S:
        raise ValueError(f"omit_s must be a whole number of seconds 0..{MAX_TIME_S}")
    if not 1 <= parallel <= MAX_STREAMS:
        raise ValueError(f"parallel must be 1..{MAX_STREAMS}")
    if not 1 <= block_size <= MAX_BLOCKSIZE:
        raise ValueError(f"block_size must be 1..{MAX_BLOCKSIZE}")


def needed_s(duration_s: int, omit_s: int, connect_timeout_s: float) -> float:
    """The least deadline a test of this length can keep."""
    return connect_timeout_s + omit_s + duration_s + END_MARGIN_S


def run_test_sync(host: str, port: int = DEFAULT_PORT, duration_s: int = 5, parallel: int = 1,
                  reverse: bool = False, omit_s: int = 0,
                  block_size: int = DEFAULT_TCP_BLOCKSIZE, connect_timeout_s: float = 3.0,
                  deadline_s: float | None = None,
                  cancel: threading.Event | None = None, *,
                  interval_s: float | None = None,
                  on_interval: IntervalHook | None = None) -> Iperf3Result:
    """One test, blocking the calling thread at most `deadline_s` seconds. With
    `interval_s`, `on_interval(bytes, seconds)` is called after each interval (after the
    omitted warm-up) and ends the test early by returning True."""
    _check_args(duration_s, parallel, omit_s, block_size)
    if deadline_s is None:
        deadline_s = needed_s(duration_s, omit_s, connect_timeout_s) + STEP_TIMEOUT_S
    if deadline_s < omit_s + duration_s + 1:
        raise ValueError(f"a deadline of {deadline_s:g} s cannot hold a "
                         f"{omit_s + duration_s} s test")
    test = _ClientTest(host, port, TestParams(
        time_s=duration_s, omit_s=omit_s, parallel=parallel, block_size=block_size,
        reverse=reverse), connect_timeout_s, time.monotonic() + deadline_s, cancel)
    if interval_s is not None:
        if interval_s <= 0:
            raise ValueError("interval_s must be above 0")
        test.interval_s, test.on_interval = interval_s, on_interval
    return test.run()


async def run_test(host: str, port: int = DEFAULT_PORT, duration_s: int = 5, parallel: int = 1,
                   reverse: bool = False, omit_s: int = 0,
                   block_size: int = DEFAULT_TCP_BLOCKSIZE, connect_timeout_s: float = 3.0,
                   deadline_s: float | None = None, *, interval_s: float | None = None,
                   on_interval: IntervalHook | None = None) -> Iperf3Result:
    """`run_test_sync` in a daemon thread of its own.

    Not the loop's default executor: a busy run could queue the test behind other
    probes' work and eat its deadline, and a daemon thread cannot delay exit.
    """
    return await in_thread(lambda cancel: run_test_sync(
        host, port, duration_s, parallel, reverse, omit_s, block_size, connect_timeout_s,
        deadline_s, cancel, interval_s=interval_s, on_interval=on_interval),
        f"iperf3-client-{host}")


class _ClientTest:
    def __init__(self, host: str, port: int, params: TestParams, connect_timeout_s: float,
                 deadline: float, cancel: threading.Event | None) -> None:
        self.host = host
        self.port = port
        self.params = params
        self.connect_timeout_s = connect_timeout_s
        self.deadline = deadline
        self.cancel = cancel
        self.cookie = make_cookie()
        self.ctrl: socket.socket | None = None
        self.streams: list[io.DataStream] = []
        self.sockets: list[socket.socket] = []
        self.connections: tuple[tuple[str, int, str, int], ...] = ()
        self.in_test = False  # past the cookie: an abort must say CLIENT_TERMINATE
        self.interval_s: float | None = None
        self.on_interval: IntervalHook | None = None
        self.intervals: list[tuple[float, float, int]] = []

    # -- the steps --------------------------------------------------------------------

    def run(self) -> Iperf3Result:
        try:
            return self._run()
        except io.Cancelled:
            raise Iperf3Timeout("the test was cancelled") from None
        except io.PeerTimeout as exc:
            raise Iperf3Timeout(f"the server at {self.host}:{self.port} stopped answering "
                                f"({exc})") from None
        except io.PeerClosed:
            raise Iperf3ProtocolError(f"the server at {self.host}:{self.port} closed the "
                                      "connection in the middle of the test") from None
        except ProtocolError as exc:
            raise Iperf3ProtocolError(f"the server at {self.host}:{self.port} sent {exc}") \
                from None
        except OSError as exc:
            raise Iperf3ProtocolError(f"the connection to {self.host}:{self.port} failed: "
                                      f"{exc}") from None
        finally:
            self._close()

    def _run(self) -> Iperf3Result:
        ctrl = self._connect()
        self.ctrl = ctrl
        io.set_nodelay(ctrl)
        io.send_all(ctrl, self.cookie, self._step())
        self.in_test = True
        self._expect(State.PARAM_EXCHANGE)
        io.send_json(ctrl, self.params.to_message(), self._step())
        self._expect(State.CREATE_STREAMS)
        for _ in range(self.params.parallel):
            sock = self._connect()
            self.sockets.append(sock)
            io.send_all(sock, self.cookie, self._step())
        self.connections = tuple(_addresses(sock) for sock in self.sockets)
        self._expect(State.TEST_START)
        self._expect(State.TEST_RUNNING)
        return self._measure(ctrl)

    def _measure(self, ctrl: socket.socket) -> Iperf3Result:
        sending = not self.params.reverse
        ids = stream_ids(self.params.parallel)
        self.streams = [io.DataStream(sock, sid, sending, self.params.block_size)
                        for sock, sid in zip(self.sockets, ids, strict=True)]
        cpu = io.CpuMeter()
        for stream in self.streams:
            stream.start()
        t0 = time.monotonic()
        omit_at = t0 + self.params.omit_s
        end_at = omit_at + self.params.time_s
        if end_at > self.deadline:
            # The handshake ate the slack: better no figure than one past the deadline.
            raise Iperf3Timeout(f"the server at {self.host}:{self.port} took too long to "
                                "start the test for it to end within the deadline")
        base = {s.id: 0 for s in self.streams}
        base_retrans = {s.id: io.tcp_retransmits(s.sock) for s in self.streams}
        started = t0
        omitting = self.params.omit_s > 0
        tick = self.interval_s
        tick_at, tick_bytes = t0, self._arrived(sending)
        while True:
            now = time.monotonic()
            if omitting and now >= omit_at:
                # Counters restart after the omitted warm-up, as in iperf3.
                base = {s.id: s.moved for s in self.streams}
                base_retrans = {s.id: io.tcp_retransmits(s.sock) for s in self.streams}
                started, omitting = now, False
                tick_at, tick_bytes = now, self._arrived(sending)
            if tick and not omitting and now >= tick_at + tick:
                arrived = self._arrived(sending)
                self.intervals.append((round(tick_at - started, 6), round(now - started, 6),
                                       arrived - tick_bytes))
                enough = self.on_interval is not None and \
                    self.on_interval(arrived - tick_bytes, now - tick_at)
                tick_at, tick_bytes = now, arrived
                if enough:
                    break
            if now >= end_at:
                break
            wake = min(end_at, omit_at if omitting else end_at)
            if tick and not omitting:
                wake = min(wake, tick_at + tick)
            self._watch(ctrl, wake - now)
        ended = time.monotonic()
        moved = {s.id: s.moved - base[s.id] for s in self.streams}
        retrans = {s.id: _diff(io.tcp_retransmits(s.sock), base_retrans[s.id])
                   for s in self.streams}
        local_cpu = cpu.read()
        congestion = io.congestion_control(self.sockets[0])
        if sending:
            for stream in self.streams:
                stream.stop()
        # In reverse the streams keep draining so the server's sends never block.
        io.send_state(ctrl, State.TEST_END, self._step())
        self._expect(State.EXCHANGE_RESULTS)
        mine = self._my_results(moved, retrans, ended - started, local_cpu, congestion)
        io.send_json(ctrl, mine.to_message(), self._step())
        theirs = parse_results(io.read_json(ctrl, self._step(), self.cancel))
        self._expect(State.DISPLAY_RESULTS)
        for stream in self.streams:
            stream.halt()
        io.send_state(ctrl, State.IPERF_DONE, self._step())
        self.in_test = False
        return self._result(moved, retrans, ended - started, local_cpu, theirs, congestion)

    def _watch(self, ctrl: socket.socket, wait_s: float) -> None:
        """Sleep up to `wait_s` on the control connection; fail on any message there."""
        if self.cancel is not None and self.cancel.is_set():
            raise io.Cancelled("cancelled")
        if not io.readable(ctrl, min(max(wait_s, 0.0), io.POLL_S)):
            broken = next((s for s in self.streams if s.failed), None)
            if broken is not None and not io.readable(ctrl, 0.5):
                raise Iperf3ProtocolError(
                    f"data connection {broken.id} to {self.host}:{self.port} failed: "
                    f"{broken.error or 'closed by the server'}")
            return
        self._raise_for(io.read_state(ctrl, self._step(), self.cancel), "during the test")

    # -- helpers ------------------------------------------------------------------------

    def _arrived(self, sending: bool) -> int:
        """Bytes that reached the other end so far: received here, or acknowledged by
        the peer when sending (bytes merely queued in the socket would inflate the first
        intervals by the send buffer's size)."""
        if sending:
            acked = [_bytes_acked(s.sock) for s in self.streams]
            if all(a is not None for a in acked):
                return sum(a or 0 for a in acked)
        return sum(s.moved for s in self.streams)

    def _step(self) -> float:
        return min(self.deadline, time.monotonic() + STEP_TIMEOUT_S)

    def _connect(self) -> socket.socket:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Iperf3Timeout("no time left to connect")
        try:
            return io.connect_tcp(self.host, self.port, min(self.connect_timeout_s, left),
                                  self.deadline, self.cancel)
        except io.Cancelled:
            raise
        except TimeoutError:
            wait_s = f"{self.connect_timeout_s:g}"
            raise Iperf3ConnectError(self.host, self.port, f"no answer within {wait_s} s",
                                     f"{wait_s} 秒内无应答") from None
        except socket.gaierror as exc:
            raise Iperf3ConnectError(self.host, self.port,
                                     f"cannot resolve the name ({exc.strerror})",
                                     f"无法解析该名称（{exc.strerror}）") from None
        except OSError as exc:
            raise Iperf3ConnectError(self.host, self.port, *_connect_reason(exc)) from None

    def _expect(self, wanted: State) -> None:
        state = io.read_state(self._ctrl, self._step(), self.cancel)
        if state != wanted:
            self._raise_for(state, f"where {wanted.name} was expected")

    @property
    def _ctrl(self) -> socket.socket:
        assert self.ctrl is not None
        return self.ctrl

    def _raise_for(self, state: State, where: str) -> None:
        where_at = f"{self.host}:{self.port}"
        if state == State.ACCESS_DENIED:
            self.in_test = False
            raise Iperf3Busy(f"the iperf3 server at {where_at} is busy with another test")
        if state == State.SERVER_ERROR:
            self.in_test = False
            code, os_errno = decode_server_error(
                io.recv_exact(self._ctrl, 8, self._step(), self.cancel))
            detail = f" ({errno.errorcode.get(os_errno, os_errno)})" if os_errno else ""
            raise Iperf3ServerError(f"the iperf3 server at {where_at} reported an error: "
                                    f"{error_text(code)}{detail}", code)
        if state == State.SERVER_TERMINATE:
            self.in_test = False
            raise Iperf3ServerError(f"the iperf3 server at {where_at} was stopped {where}")
        raise Iperf3ProtocolError(f"the iperf3 server at {where_at} sent {state.name} {where}")

    def _my_results(self, moved: dict[int, int], retrans: dict[int, int | None],
                    seconds: float, cpu: tuple[float, float, float],
                    congestion: str | None) -> Results:
        sending = not self.params.reverse
        has_retrans = all(r is not None for r in retrans.values())
        return Results(
            cpu_util_total=cpu[0], cpu_util_user=cpu[1], cpu_util_system=cpu[2],
            sender_has_retransmits=(1 if has_retrans else 0) if sending else -1,
            congestion_used=congestion,
            streams=tuple(StreamReport(
                id=sid, bytes=moved[sid],
                retransmits=retrans[sid] if sending and has_retrans else None,
                start_time=0.0, end_time=round(seconds, 6)) for sid in moved))

    def _result(self, moved: dict[int, int], retrans: dict[int, int | None], seconds: float,
                cpu: tuple[float, float, float], theirs: Results,
                congestion: str | None) -> Iperf3Result:
        peer = {s.id: s for s in theirs.streams}
        unknown = set(peer) - set(moved)
        if unknown:
            raise Iperf3ProtocolError(f"the server's results name streams {sorted(unknown)} "
                                      f"that this test did not open")
        sending = not self.params.reverse
        figures = []
        for sid, nbytes in moved.items():
            report = peer.get(sid)
            their_bytes = report.bytes if report else 0
            # Stock 3.12 falls back to our own time when the peer sends none (pre-3.2).
            their_s = report.seconds if report and report.seconds > 0 else seconds
            if sending:
                figures.append(StreamFigures(sid, nbytes, their_bytes, seconds, their_s,
                                             retrans[sid]))
            else:
                figures.append(StreamFigures(
                    sid, their_bytes, nbytes, their_s, seconds,
                    report.retransmits if report and theirs.sender_has_retransmits == 1
                    else None))
        retransmits: int | None = None
        if all(f.retransmits is not None for f in figures):
            retransmits = sum(f.retransmits or 0 for f in figures)
        first = figures[0]
        return Iperf3Result(
            host=self.host, port=self.port, reverse=self.params.reverse,
            parallel=self.params.parallel, duration_s=self.params.time_s,
            omit_s=self.params.omit_s, block_size=self.params.block_size,
            streams=tuple(figures), sender_seconds=first.sender_seconds,
            receiver_seconds=first.receiver_seconds, retransmits=retransmits,
            local_cpu=cpu,
            remote_cpu=(theirs.cpu_util_total, theirs.cpu_util_user, theirs.cpu_util_system),
            cookie=self.cookie[:-1].decode("ascii"),
            connections=self.connections,
            sender_congestion=congestion if sending else theirs.congestion_used,
            receiver_congestion=theirs.congestion_used if sending else congestion,
            intervals=tuple(self.intervals))

    def _close(self) -> None:
        if self.ctrl is not None and self.in_test:
            # Tell a stock server to drop the test now rather than wait for its timers.
            try:
                self.ctrl.setblocking(False)
                self.ctrl.send(bytes([State.CLIENT_TERMINATE]))
            except OSError:
                pass
        for stream in self.streams:
            stream.halt(timeout_s=1.0)
        for sock in self.sockets:
            io.close_quietly(sock)
        io.close_quietly(self.ctrl)


def _diff(now: int | None, base: int | None) -> int | None:
    if now is None or base is None:
        return None
    return max(0, now - base)


def _bytes_acked(sock: socket.socket) -> int | None:
    """tcpi_bytes_acked where the OS tells it (Linux 4.1+), else None."""
    option = getattr(socket, "TCP_INFO", None)
    if option is None:
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, option, _TCPI_BYTES_ACKED + 8)
    except OSError:
        return None
    if len(raw) < _TCPI_BYTES_ACKED + 8:
        return None
    return int(struct.unpack_from("Q", raw, _TCPI_BYTES_ACKED)[0])


def _addresses(sock: socket.socket) -> tuple[str, int, str, int]:
    try:
        local, remote = sock.getsockname(), sock.getpeername()
    except OSError:  # reset already: the figures matter more than the addresses
        return "", 0, "", 0
    return str(local[0]), int(local[1]), str(remote[0]), int(remote[1])


def _connect_reason(exc: OSError) -> tuple[str, str]:
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return ("connection refused: no iperf3 server is listening there",
                "连接被拒绝：该处没有运行 iperf3 服务器")
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN):
        return f"no route to the host ({exc.strerror})", f"没有到该主机的路由（{exc.strerror}）"
    text = exc.strerror or str(exc)
    return text, text
