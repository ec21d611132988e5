"""An iperf3 3.12 TCP server in pure Python that stock `iperf3 -c` can test against.

Forward, reverse (-R), parallel streams (-P), omit (-O), time (-t), bytes (-n, -k)
and rate (-b) in reverse. Like iperf3 it runs one test at a time and answers a second
client with ACCESS_DENIED. Unlike iperf3 3.12 it never hangs on a peer: each
connection reads its cookie in a thread of its own under a deadline, every later
read has one too, and whatever goes wrong in a test (silence, a wrong cookie, an
absurd JSON length, a client that vanishes) ends that test with one log line while
the server goes on serving. Standard library only, so it runs on Windows too.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import iperf3_io as io
from .iperf3_proto import (
    COOKIE_SIZE,
    DEFAULT_PORT,
    MAX_TIME_S,
    ErrorCode,
    ProtocolError,
    Results,
    State,
    StreamReport,
    TestParams,
    encode_server_error,
    encode_state,
    parse_cookie,
    parse_params,
    parse_results,
    stream_ids,
)

log = logging.getLogger(__name__)

DEFAULT_IDLE_TIMEOUT_S = 10.0
# Time a client gets past its announced test length to say TEST_END (stock: 40 s).
DEFAULT_GRACE_S = 10.0
# Connections still owing their cookie; more are dropped at once (a flood, not a test).
MAX_HANDSHAKES = 32
ACCEPT_POLL_S = 0.25

_PHASE_CODE = {
    "the parameter exchange": ErrorCode.IERECVPARAMS,
    "stream creation": ErrorCode.IESTREAMACCEPT,
    "the test": ErrorCode.IEMESSAGE,
    "the results exchange": ErrorCode.IERECVRESULTS,
}


class _Fault(Exception):
    """Ends one test: `line` is logged once, `code` is sent as SERVER_ERROR if set."""

    def __init__(self, line: str, code: int | None = None) -> None:
        super().__init__(line)
        self.line = line
        self.code = code


class Iperf3Server:
    """`start()` serves in a background thread, `serve_forever()` in the caller's;
    `shutdown()` stops either. `port` is the bound port (useful with port 0)."""

    def __init__(self, host: str = "0.0.0.0", port: int = DEFAULT_PORT, *,
                 idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
                 grace_s: float = DEFAULT_GRACE_S, max_duration_s: int = MAX_TIME_S) -> None:
        if idle_timeout_s <= 0 or grace_s < 0:
            raise ValueError("idle_timeout_s must be positive and grace_s not negative")
        self.host = host
        self.requested_port = port
        self.idle_timeout_s = idle_timeout_s
        self.grace_s = grace_s
        self.max_duration_s = max_duration_s
        self.tests_done = 0
        # tests that ended, completed or not: a server kept for a few tests stops after
        self.sessions_ended = 0
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._session: _Session | None = None
        self._in_flight = 0
        self._handshakes = threading.BoundedSemaphore(MAX_HANDSHAKES)
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = itertools.count(1)

    # -- life cycle ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._listener is None:
            return self.requested_port
        return int(self._listener.getsockname()[1])

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._session is not None

    def bind(self) -> None:
        if self._listener is None:
            self._listener = _listen(self.host, self.requested_port)

    def start(self) -> Iperf3Server:
        self.bind()
        self._thread = threading.Thread(target=self.serve_forever, name="iperf3-server",
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.bind()
        listener = self._listener
        assert listener is not None
        listener.settimeout(ACCEPT_POLL_S)
        log.info("iperf3 server: listening on %s port %d", self.host, self.port)
        while not self._closing.is_set():
            try:
                conn, addr = listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if self._closing.is_set():
                    break
                # Out of descriptors and the like: wait instead of spinning.
                log.debug("iperf3 server: accept failed: %s", exc)
                self._closing.wait(ACCEPT_POLL_S)
                continue
            self._admit(conn, _host(addr))

    def stop(self) -> None:
        """Ask the server to stop without waiting: a process serving many ports asks them
        all first, so they wind down together instead of one accept poll after another."""
        self._closing.set()

    def shutdown(self, timeout_s: float = 5.0) -> None:
        self.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        io.close_quietly(self._listener)
        self.wait_idle(timeout_s)

    close = shutdown

    def __enter__(self) -> Iperf3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def wait_idle(self, timeout_s: float) -> bool:
        """True once no test runs and no connection still owes its cookie."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self._session is None and self._in_flight == 0, timeout_s)

    # -- admission ----------------------------------------------------------------------

    def _admit(self, conn: socket.socket, peer: str) -> None:
        seq = next(self._seq)
        if not self._handshakes.acquire(blocking=False):
            log.debug("iperf3 server: %d connections owe their cookie; dropped one from %s",
                      MAX_HANDSHAKES, peer)
            io.close_quietly(conn)
            return
        with self._lock:
            self._in_flight += 1
        threading.Thread(target=self._handshake, args=(conn, peer, seq),
                         name=f"iperf3-handshake-{seq}", daemon=True).start()

    def _handshake(self, conn: socket.socket, peer: str, seq: int) -> None:
        try:
            cookie, problem, malformed = self._read_cookie(conn)
            if cookie is not None:
                self._dispatch(conn, peer, seq, cookie)
                return
            if malformed:
                _refuse(conn)  # as 3.12 answers a cookie it does not know
            else:
                io.close_quietly(conn)
            if problem:
                self._report(peer, problem)
        finally:
            self._handshakes.release()
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def _read_cookie(self, conn: socket.socket) -> tuple[str | None, str | None, bool]:
        """(cookie, None, False), or (None, what went wrong, whether it was malformed);
        the problem is None when it is not worth a line."""
        wait_s = self.idle_timeout_s
        try:
            raw = io.recv_exact(conn, COOKIE_SIZE, time.monotonic() + wait_s, self._closing)
            return parse_cookie(raw), None, False
        except io.PeerTimeout as exc:
            if exc.received:
                return None, (f"sent {exc.received} of the {COOKIE_SIZE} cookie bytes in "
                              f"{wait_s:g} s"), False
            return None, f"connected but sent nothing for {wait_s:g} s", False
        except io.PeerClosed as exc:
            if exc.received:
                return None, (f"hung up after {exc.received} of the {COOKIE_SIZE} cookie "
                              "bytes"), False
            # A port check (e.g. the reachability probe): not worth a warning.
            return None, None, False
        except io.Cancelled:
            return None, None, False
        except ProtocolError as exc:
            return None, f"sent {exc}", True
        except OSError as exc:
            return None, f"lost its connection before the cookie ({_reason(exc)})", False

    def _report(self, peer: str, problem: str) -> None:
        with self._lock:
            session = self._session
            if session is not None and session.accepting_streams and session.peer == peer:
                # A broken data connection of the test being set up: that test's one line.
                session.abort(_Fault(f"{peer} {problem} on a data connection; test ended",
                                     ErrorCode.IESTREAMACCEPT))
                return
        log.warning("iperf3 server: %s %s; closed", peer, problem)

    def _dispatch(self, conn: socket.socket, peer: str, seq: int, cookie: str) -> None:
        deny: str | None = None
        start: _Session | None = None
        with self._lock:
            session = self._session
            if self._closing.is_set():
                deny = ""
            elif session is None:
                start = self._session = _Session(self, conn, peer, cookie)
            elif session.cookie == cookie:
                if not session.offer_stream(conn, seq):
                    log.debug("iperf3 server: %s opened a data connection outside stream "
                              "creation; refused", peer)
                    deny = ""
            elif session.accepting_streams and peer == session.peer:
                # Our own client's stream with someone else's cookie: the test is broken.
                session.abort(_Fault(f"{peer} opened a data connection with a wrong cookie; "
                                     "test ended", ErrorCode.IESTREAMACCEPT))
                deny = ""
            else:
                other = "another test from it" if peer == session.peer else \
                    f"{session.peer}'s test"
                deny = (f"iperf3 server: {peer} asked for a test while {other} is running; "
                        "refused (ACCESS_DENIED)")
        if start is not None:
            threading.Thread(target=start.run, name=f"iperf3-test-{peer}", daemon=True).start()
        if deny is not None:
            if deny:
                log.warning("%s", deny)
            _refuse(conn)

    def _session_done(self, session: _Session, completed: bool) -> None:
        with self._changed:
            if self._session is session:
                self._session = None
            self.sessions_ended += 1
            if completed:
                self.tests_done += 1
            self._changed.notify_all()


class _Session:
    """One test, from the first PARAM_EXCHANGE to IPERF_DONE, in its own thread."""

    def __init__(self, server: Iperf3Server, ctrl: socket.socket, peer: str,
                 cookie: str) -> None:
        self.server = server
        self.ctrl = ctrl
        self.peer = peer
        self.cookie = cookie
        self.phase = "the parameter exchange"
        self.params = TestParams()
        self.accepting_streams = False  # guarded by server._lock
        self._pending: list[tuple[int, socket.socket]] = []  # guarded by server._lock
        self._wake = threading.Event()
        self._abort: _Fault | None = None
        self.streams: list[io.DataStream] = []

    # Called by handshake threads with server._lock held.
    def offer_stream(self, conn: socket.socket, seq: int) -> bool:
        if not self.accepting_streams or len(self._pending) >= self.params.parallel:
            return False
        self._pending.append((seq, conn))
        self._wake.set()
        return True

    def abort(self, fault: _Fault) -> None:
        if self._abort is None:
            self._abort = fault
        self._wake.set()

    # -- the run --------------------------------------------------------------------------

    def run(self) -> None:
        completed = False
        peer = self.peer
        try:
            self._serve()
            completed = True
        except _Fault as fault:
            self._fail(fault)
        except ProtocolError as exc:
            self._fail(_Fault(f"{peer} sent {exc} during {self.phase}; closed",
                              _PHASE_CODE.get(self.phase)))
        except io.PeerTimeout as exc:
            self._fail(_Fault(f"{peer} went silent during {self.phase} (no answer in "
                              f"{exc.waited_s:g} s); closed", _PHASE_CODE.get(self.phase)))
        except io.PeerClosed:
            self._fail(_Fault(f"{peer} closed the control connection during {self.phase}; "
                              "test abandoned"))
        except io.Cancelled:
            self._send_quietly(encode_state(State.SERVER_TERMINATE))
            # Let the client read why before its data connections break under it.
            time.sleep(0.2)
            log.info("iperf3 server: stopping; the test from %s was ended", peer)
        except OSError as exc:
            self._fail(_Fault(f"the control connection from {peer} failed during {self.phase} "
                              f"({_reason(exc)}); test abandoned"))
        except Exception:  # a bug here must not take the server down
            log.exception("iperf3 server: internal error in the test from %s", peer)
        finally:
            self._cleanup()
            self.server._session_done(self, completed)

    def _fail(self, fault: _Fault) -> None:
        log.warning("iperf3 server: %s", fault.line)
        if fault.code is not None:
            self._send_quietly(encode_server_error(int(fault.code)))

    def _send_quietly(self, data: bytes) -> None:
        try:
            io.send_all(self.ctrl, data, time.monotonic() + 0.5)
        except (OSError, io.LinkError):
            pass

    def _cleanup(self) -> None:
        for stream in self.streams:
            stream.halt(timeout_s=1.0)
        with self.server._lock:
            self.accepting_streams = False
            pending, self._pending = self._pending, []
        for _, conn in pending:
            io.close_quietly(conn)
        io.close_quietly(self.ctrl)

    def _step(self) -> float:
        return time.monotonic() + self.server.idle_timeout_s

    def _serve(self) -> None:
        ctrl, closing = self.ctrl, self.server._closing
        io.set_nodelay(ctrl)
        io.send_state(ctrl, State.PARAM_EXCHANGE, self._step())
        self.params = parse_params(io.read_json(ctrl, self._step(), closing))
        self._check_params(self.params)
        self.phase = "stream creation"
        with self.server._lock:
            self.accepting_streams = True
        io.send_state(ctrl, State.CREATE_STREAMS, self._step())
        socks = self._await_streams()
        self.phase = "the test"
        tally = self._run_test(socks)
        self.phase = "the results exchange"
        io.send_state(ctrl, State.EXCHANGE_RESULTS, self._step())
        parse_results(io.read_json(ctrl, self._step(), closing))
        io.send_json(ctrl, tally.results(sending=self.params.reverse).to_message(),
                     self._step())
        io.send_state(ctrl, State.DISPLAY_RESULTS, self._step())
        self.phase = "the end of the test"
        self._await_done()
        seconds, total = tally.seconds, sum(tally.moved.values())
        log.info("iperf3 server: test from %s done: %s, %d stream(s), %.2f s, %.1f Mbit/s",
                 self.peer,
                 "reverse (server sent)" if self.params.reverse else "forward (server received)",
                 len(tally.moved), seconds, total * 8 / seconds / 1e6 if seconds > 0 else 0.0)

    def _check_params(self, p: TestParams) -> None:
        if p.protocol != "tcp":
            raise _Fault(f"{self.peer} asked for a {p.protocol.upper()} test; this server runs "
                         "TCP tests only; refused", ErrorCode.IEUNIMP)
        if p.bidirectional:
            raise _Fault(f"{self.peer} asked for a bidirectional test, which this server "
                         "does not run; refused", ErrorCode.IEUNIMP)
        if p.time_s + p.omit_s > self.server.max_duration_s:
            raise _Fault(f"{self.peer} asked for a {p.time_s + p.omit_s} s test (limit "
                         f"{self.server.max_duration_s} s); refused", ErrorCode.IEDURATION)

    def _await_streams(self) -> list[socket.socket]:
        wanted = self.params.parallel
        wait_s = self.server.idle_timeout_s
        # A little past the handshake's own timeout, so a stream that connected but
        # stalls is reported by its handshake: one line, the more precise one.
        deadline = time.monotonic() + wait_s + 1.0
        while True:
            with self.server._lock:
                got = len(self._pending)
            if self._abort is not None:
                raise self._abort
            if got >= wanted:
                break
            if self.server._closing.is_set():
                raise io.Cancelled("server stopping")
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Fault(f"{self.peer} opened {got} of its {wanted} data connections "
                             f"within {wait_s:g} s; test ended", ErrorCode.IESTREAMACCEPT)
            if io.readable(self.ctrl, 0):
                self._unexpected(io.read_state(self.ctrl, self._step(), self.server._closing))
            self._wake.wait(min(left, io.POLL_S))
            self._wake.clear()
        with self.server._lock:
            self.accepting_streams = False
            # Accept order is the client's connect order, hence its stream ids.
            return [conn for _, conn in sorted(self._pending, key=lambda item: item[0])]

    def _unexpected(self, state: State) -> None:
        if state == State.CLIENT_TERMINATE:
            raise _Fault(f"{self.peer} ended its test early (CLIENT_TERMINATE) during "
                         f"{self.phase}; test abandoned")
        raise ProtocolError(f"the state {state.name}")

    def _run_test(self, socks: list[socket.socket]) -> _Tally:
        p, ctrl, closing = self.params, self.ctrl, self.server._closing
        with self.server._lock:
            self._pending = []  # the streams own these sockets now
        sending = p.reverse
        limit = p.num_bytes or p.block_count * p.block_size
        for sock in socks:
            _tune(sock, p)
        self.streams = [io.DataStream(
            sock, sid, sending, p.block_size, rate_bps=p.bandwidth_bps if sending else 0,
            may_send=self._under(limit) if sending and limit else None)
            for sock, sid in zip(socks, stream_ids(len(socks)), strict=True)]
        io.send_state(ctrl, State.TEST_START, self._step())
        cpu = io.CpuMeter()
        for stream in self.streams:
            stream.start()
        io.send_state(ctrl, State.TEST_RUNNING, self._step())
        t0 = time.monotonic()
        omit_at = t0 + p.omit_s
        hard_end = t0 + p.omit_s + p.time_s + self.server.grace_s if p.time_s else None
        base = {s.id: 0 for s in self.streams}
        base_retrans = {s.id: io.tcp_retransmits(s.sock) for s in self.streams}
        started, omitting = t0, p.omit_s > 0
        last_total, last_progress = 0, t0
        idle_s = self.server.idle_timeout_s
        while True:
            now = time.monotonic()
            if omitting and now >= omit_at:
                base = {s.id: s.moved for s in self.streams}
                base_retrans = {s.id: io.tcp_retransmits(s.sock) for s in self.streams}
                started, omitting = now, False
            if closing.is_set():
                raise io.Cancelled("server stopping")
            if hard_end is not None and now >= hard_end:
                raise _Fault(f"{self.peer} did not end its {p.time_s} s test within "
                             f"{self.server.grace_s:g} s of its end; test ended",
                             ErrorCode.IENOMSG)
            total = sum(s.moved for s in self.streams)
            if total != last_total:
                last_total, last_progress = total, now
            elif not sending and now - last_progress >= idle_s:
                raise _Fault(f"{self.peer} sent no data for {idle_s:g} s during the test; "
                             "test ended", ErrorCode.IENOMSG)
            if io.readable(ctrl, io.POLL_S):
                state = io.read_state(ctrl, self._step(), closing)
                if state == State.TEST_END:
                    break
                self._unexpected(state)
            broken = next((s for s in self.streams if s.failed), None)
            if broken is not None and not io.readable(ctrl, 0.5):
                how = "closed" if broken.eof else f"failed ({_reason(broken.error)})"
                raise _Fault(f"data connection {broken.id} from {self.peer} {how} during the "
                             "test; test ended", ErrorCode.IENOMSG)
        ended = time.monotonic()
        moved = {s.id: s.moved - base[s.id] for s in self.streams}
        retrans: dict[int, int | None] = {
            s.id: _diff(io.tcp_retransmits(s.sock), base_retrans[s.id]) for s in self.streams}
        congestion = io.congestion_control(socks[0])
        usage = cpu.read()
        # As iperf3 does at TEST_END: the data connections are done with.
        for stream in self.streams:
            stream.halt()
        return _Tally(moved, retrans, ended - started, usage, congestion)

    def _under(self, limit: int) -> Callable[[], bool]:
        streams = self.streams

        def may_send() -> bool:
            return sum(s.moved for s in streams) < limit
        return may_send

    def _await_done(self) -> None:
        # The client owes IPERF_DONE; a client that just hangs up has its results anyway.
        try:
            io.read_state(self.ctrl, time.monotonic() + min(self.server.idle_timeout_s, 5.0),
                          self.server._closing)
        except (OSError, ProtocolError, io.LinkError):
            pass


@dataclass(frozen=True)
class _Tally:
    """What one test moved, counted from the end of omit to TEST_END."""

    moved: dict[int, int]
    retrans: dict[int, int | None]
    seconds: float
    cpu: tuple[float, float, float]
    congestion: str | None

    def results(self, sending: bool) -> Results:
        has_retrans = sending and all(r is not None for r in self.retrans.values())
        return Results(
            cpu_util_total=self.cpu[0], cpu_util_user=self.cpu[1], cpu_util_system=self.cpu[2],
            # -1: only receiving, as 3.12 says it (its client then ignores the streams')
            sender_has_retransmits=(1 if has_retrans else 0) if sending else -1,
            congestion_used=self.congestion,
            streams=tuple(StreamReport(
                id=sid, bytes=nbytes, retransmits=self.retrans[sid] if has_retrans else None,
                start_time=0.0, end_time=round(self.seconds, 6))
                for sid, nbytes in self.moved.items()))


def _diff(now: int | None, base: int | None) -> int | None:
    if now is None or base is None:
        return None
    return max(0, now - base)


def _tune(sock: socket.socket, p: TestParams) -> None:
    try:
        if p.window:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, p.window)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, p.window)
        if p.nodelay:
            io.set_nodelay(sock)
    except OSError as exc:  # the test still runs, just without the tuning
        log.debug("iperf3 server: socket option refused: %s", exc)


def _refuse(conn: socket.socket) -> None:
    try:
        io.send_all(conn, encode_state(State.ACCESS_DENIED), time.monotonic() + 1.0)
    except (OSError, io.LinkError):
        pass
    io.close_quietly(conn)


def _host(addr: Any) -> str:
    return str(addr[0]) if isinstance(addr, tuple) and addr else str(addr)


def _reason(exc: BaseException | None) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        import errno

        return errno.errorcode.get(exc.errno, str(exc.errno))
    return str(exc) or type(exc).__name__


def _listen(host: str, port: int) -> socket.socket:
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                               flags=socket.AI_PASSIVE)
    family, socktype, proto, _, addr = infos[0]
    sock = socket.socket(family, socktype, proto)
    try:
        if os.name == "nt":
            # On Windows SO_REUSEADDR would let a second server steal the port.
            sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_EXCLUSIVEADDRUSE", -5), 1)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and host in ("::", ""):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(addr)
        sock.listen(64)
    except BaseException:
        sock.close()
        raise
    return sock


# -- command line ----------------------------------------------------------------------------

# A room's seats load the exam server at once, one port each (`--ports 5301-5340`).
MAX_PORTS = 256


def parse_ports(spec: str) -> list[int]:
    """"5201", "5301-5340" or "5201,5301-5340": the ports in order, each once."""
    ports: list[int] = []
    for part in spec.replace(" ", "").split(","):
        first, sep, last = part.partition("-")
        try:
            lo = int(first)
            hi = int(last) if sep else lo
        except ValueError:
            raise ValueError(f"{part!r} is not a port or a range such as 5301-5340") from None
        if not 1 <= lo <= hi <= 0xFFFF:
            raise ValueError(f"{part!r}: ports run 1-65535 and a range runs upwards")
        if hi - lo + 1 > MAX_PORTS:
            raise ValueError(f"{part!r} names {hi - lo + 1} ports; at most {MAX_PORTS}")
        ports += range(lo, hi + 1)
    ports = list(dict.fromkeys(ports))
    if len(ports) > MAX_PORTS:
        raise ValueError(f"{spec!r} names {len(ports)} ports; at most {MAX_PORTS}")
    return ports


def serve(bind: str = "0.0.0.0", port: int = DEFAULT_PORT,
          idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
          ports: Sequence[int] | None = None) -> None:
    """Serve in the calling thread until Ctrl-C (KeyboardInterrupt is left to the caller).

    With `ports`, one server per port in this process: each runs its own test, so as
    many clients as ports can test at once. A port that cannot be bound raises OSError
    naming it before any port serves, so a half-started server never hides the problem.
    """
    servers = [Iperf3Server(bind, p, idle_timeout_s=idle_timeout_s)
               for p in (list(ports) if ports else [port])]
    try:
        for server in servers:
            try:
                server.bind()
            except OSError as exc:
                raise OSError(exc.errno, f"port {server.requested_port}: "
                                         f"{exc.strerror or exc}") from None
        if len(servers) == 1:
            servers[0].serve_forever()
            return
        for server in servers:
            server.start()
        log.info("iperf3 server: serving %d ports (%d-%d) on %s", len(servers),
                 min(s.port for s in servers), max(s.port for s in servers), bind)
        # A timed wait, so Ctrl-C reaches this thread on every platform.
        forever = threading.Event()
        while not forever.wait(1.0):
            pass
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            server.shutdown()
