"""ICMP echo (ping) for IPv4 on the running asyncio loop: protocol code, no verdicts.

One socket per target, connected to it. `connect()` makes the kernel deliver only
packets from that address to the socket (for raw sockets too), so 40+ concurrent
pings cost no user-space demultiplexing, and each socket's replies are then matched
on identifier, sequence and a per-run random token in the payload. The token guards
against another pinger on the same machine (or a second ping to the same host from
this process) that happens to use the same identifier.

Receive times come from the kernel (SO_TIMESTAMPNS), not from when the event loop
got round to reading the packet: with hundreds of replies in flight the loop's lag
would otherwise show up as LAN latency and trip the RTT threshold.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import os
import random
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8

_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence
_TOKEN_LEN = 8
DEFAULT_PAYLOAD_SIZE = 56  # what iputils ping sends: 64-byte ICMP messages

# Linux values; Python's socket module does not export these.
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_SOL_RAW = getattr(socket, "SOL_RAW", 255)
_ICMP_FILTER = 1
_TIMESPEC = struct.Struct("@ll")
# DF set, and the kernel's cached path MTU ignored: each size is tried on the wire
_IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
_IP_PMTUDISC_PROBE = getattr(socket, "IP_PMTUDISC_PROBE", 3)

# Raw sockets carry whatever identifier we write, so concurrent pings in this process
# must not share one; a random start keeps two processes from lining up.
_raw_identifiers = itertools.count(random.getrandbits(16))

NEEDS = ("needs root or CAP_NET_RAW, "
         "or net.ipv4.ping_group_range covering your group")


class IcmpUnavailable(RuntimeError):
    """Neither an unprivileged ICMP socket nor a raw socket may be opened here."""

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        msg = f"cannot open an ICMP socket: {NEEDS}"
        super().__init__(f"{msg} ({detail})" if detail else msg)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def build_echo_request(ident: int, seq: int, payload: bytes) -> bytes:
    header = _HEADER.pack(ICMP_ECHO_REQUEST, 0, 0, ident & 0xFFFF, seq & 0xFFFF)
    csum = checksum(header + payload)
    return _HEADER.pack(ICMP_ECHO_REQUEST, 0, csum, ident & 0xFFFF, seq & 0xFFFF) + payload


@dataclass(frozen=True)
class IcmpMessage:
    type: int
    code: int
    ident: int
    seq: int
    payload: bytes


def parse_icmp(data: bytes, *, ip_header: bool) -> IcmpMessage | None:
    """Parse an ICMP message as read from a socket; None if truncated or corrupt.

    Raw sockets hand over the IPv4 header as well, unprivileged ICMP sockets do not.
    """
    if ip_header:
        if len(data) < 20 or data[0] >> 4 != 4:
            return None
        data = data[(data[0] & 0x0F) * 4:]
    if len(data) < _HEADER.size:
        return None
    # Raw sockets see the packet before the kernel's ICMP layer has checked it.
    if checksum(data) != 0:
        return None
    mtype, code, _csum, ident, seq = _HEADER.unpack_from(data)
    return IcmpMessage(mtype, code, ident, seq, data[_HEADER.size:])


@dataclass
class PingStats:
    """Outcome of one ping run. `loss_pct` counts every requested echo without a
    timely reply as lost, including those the kernel refused to send (see `errors`)."""

    address: str
    count: int
    sent: int = 0
    rtts_ms: list[float] = field(default_factory=list)
    duplicates: int = 0
    late: int = 0
    errnos: list[int] = field(default_factory=list)
    socket_kind: str = ""  # "dgram" (unprivileged) or "raw"
    # which echoes were answered in time, by sequence number (1..count): the pattern of
    # losses tells a link that went down and up from scattered drops
    answered_seqs: list[int] = field(default_factory=list)

    @property
    def received(self) -> int:
        return len(self.rtts_ms)

    @property
    def loss_pct(self) -> float:
        if self.count <= 0:
            return 0.0
        return 100.0 * (self.count - self.received) / self.count

    @property
    def rtt_min_ms(self) -> float | None:
        return min(self.rtts_ms) if self.rtts_ms else None

    @property
    def rtt_avg_ms(self) -> float | None:
        return sum(self.rtts_ms) / len(self.rtts_ms) if self.rtts_ms else None

    @property
    def rtt_max_ms(self) -> float | None:
        return max(self.rtts_ms) if self.rtts_ms else None

    @property
    def errors(self) -> list[str]:
        return [os.strerror(e) for e in dict.fromkeys(self.errnos)]

    @property
    def no_route(self) -> bool:
        return errno.ENETUNREACH in self.errnos


class EchoMatcher:
    """Decides which packets read from a socket are replies to this run's echoes."""

    def __init__(self, stats: PingStats, ident: int | None, token: bytes,
                 timeout_s: float, *, ip_header: bool) -> None:
        self.stats = stats
        # None: the kernel owns the identifier and has already matched it.
        self.ident = ident
        self.token = token
        self.timeout_s = timeout_s
        self.ip_header = ip_header
        # seq -> (monotonic send time, wall-clock send time in ns)
        self._sent: dict[int, tuple[float, int]] = {}
        self._answered: set[int] = set()

    def sent(self, seq: int, t_mono: float, t_real_ns: int) -> None:
        self._sent[seq] = (t_mono, t_real_ns)

    def accept(self, data: bytes, t_mono: float, t_kernel_ns: int | None) -> float | None:
        """Record `data` if it answers one of our echoes in time; return its RTT in ms."""
        msg = parse_icmp(data, ip_header=self.ip_header)
        if msg is None or msg.type != ICMP_ECHO_REPLY or msg.code != 0:
            return None
        if self.ident is not None and msg.ident != self.ident:
            return None
        if not msg.payload.startswith(self.token) or msg.seq not in self._sent:
            return None
        if msg.seq in self._answered:
            self.stats.duplicates += 1
            return None
        sent_mono, sent_real_ns = self._sent[msg.seq]
        user_rtt_s = t_mono - sent_mono
        rtt_s = user_rtt_s
        if t_kernel_ns is not None:
            kernel_rtt_s = (t_kernel_ns - sent_real_ns) / 1e9
            # The kernel stamp is the wall clock: trust it only if it is consistent
            # with the monotonic clock (no clock step in between).
            if 0.0 <= kernel_rtt_s <= user_rtt_s + 0.001:
                rtt_s = kernel_rtt_s
        if rtt_s > self.timeout_s:
            self.stats.late += 1
            return None
        self._answered.add(msg.seq)
        self.stats.answered_seqs.append(msg.seq)
        rtt_ms = rtt_s * 1000.0
        self.stats.rtts_ms.append(rtt_ms)
        return rtt_ms


def open_icmp_socket() -> tuple[socket.socket, str]:
    """An unprivileged ICMP socket if the system allows it, else a raw one."""
    failures: list[str] = []
    for kind, stype in (("dgram", socket.SOCK_DGRAM), ("raw", socket.SOCK_RAW)):
        try:
            return socket.socket(socket.AF_INET, stype, socket.IPPROTO_ICMP), kind
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EPROTONOSUPPORT,
                                 errno.ESOCKTNOSUPPORT, errno.EAFNOSUPPORT):
                raise
            failures.append(f"{kind}: {exc.strerror}")
    raise IcmpUnavailable("; ".join(failures))


async def resolve_ipv4(address: str) -> str:
    """`address` if it is an IPv4 literal, else its first IPv4 address from the resolver."""
    try:
        socket.inet_pton(socket.AF_INET, address)
        return address
    except OSError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(address, None, family=socket.AF_INET,
                                   type=socket.SOCK_RAW)
    return str(infos[0][4][0])


class _Reader:
    """Drains one ping socket when the loop says it is readable."""

    def __init__(self, sock: socket.socket, matcher: EchoMatcher,
                 done: asyncio.Future[None]) -> None:
        self.sock = sock
        self.matcher = matcher
        self.done = done
        # Not reachable until the sender has set the real number of requests sent.
        self.expected = matcher.stats.count + 1

    def check_done(self) -> None:
        if self.matcher.stats.received >= self.expected and not self.done.done():
            self.done.set_result(None)

    def on_readable(self) -> None:
        stats = self.matcher.stats
        # Bounded so a flood of foreign packets cannot starve the other pings on the loop.
        for _ in range(256):
            try:
                data, ancdata, _flags, _addr = self.sock.recvmsg(
                    4096, socket.CMSG_SPACE(_TIMESPEC.size))
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # An ICMP error queued on the socket (e.g. host unreachable once ARP gave
                # up) is reported once by recv, then cleared.
                stats.errnos.append(exc.errno or 0)
                continue
            t_mono = time.monotonic()
            t_kernel_ns = None
            for level, ctype, cdata in ancdata:
                if (level == socket.SOL_SOCKET and ctype == _SO_TIMESTAMPNS
                        and len(cdata) >= _TIMESPEC.size):
                    sec, nsec = _TIMESPEC.unpack_from(cdata)
                    t_kernel_ns = sec * 1_000_000_000 + nsec
            if self.matcher.accept(data, t_mono, t_kernel_ns) is not None:
                self.check_done()


async def ping(address: str, count: int = 4, interval_s: float = 1.0, timeout_s: float = 1.0,
               *, payload_size: int = DEFAULT_PAYLOAD_SIZE,
               watch: Callable[[PingStats], None] | None = None,
               dont_fragment: bool = False) -> PingStats:
    """Send `count` echo requests `interval_s` apart; each reply counts if it arrives
    within `timeout_s` of its request. Returns as soon as every echo is answered, at
    the latest `timeout_s` after the last request.

    `watch` is handed the stats as they fill: a caller whose own deadline cuts the run
    short still has what was seen until then. `dont_fragment` sets DF on every echo (and
    never lets this computer fragment it): a path that drops packets of this size, without
    saying so, drops the echo.

    Raises IcmpUnavailable if this process may not send ICMP, ValueError for bad
    arguments, socket.gaierror if a host name does not resolve.
    """
    if not 1 <= count <= 0xFFFF:
        raise ValueError(f"count must be 1..65535, not {count}")
    if interval_s < 0 or timeout_s <= 0:
        raise ValueError("interval_s must be >= 0 and timeout_s > 0")
    if payload_size < _TOKEN_LEN:
        raise ValueError(f"payload_size must be at least {_TOKEN_LEN}")
    loop = asyncio.get_running_loop()
    target = await resolve_ipv4(address)
    sock, kind = open_icmp_socket()
    stats = PingStats(address=target, count=count, socket_kind=kind)
    if watch is not None:
        watch(stats)
    reading = False
    try:
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        except OSError:
            pass  # fall back to user-space receive times
        if dont_fragment:
            sock.setsockopt(socket.IPPROTO_IP, _IP_MTU_DISCOVER, _IP_PMTUDISC_PROBE)
        if kind == "raw":
            # Kernel-side filter: pass only echo replies to this socket, so echo
            # requests seen on loopback and other ICMP never wake the loop.
            blocked = 0xFFFFFFFF & ~(1 << ICMP_ECHO_REPLY)
            try:
                sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("I", blocked))
            except OSError:
                pass  # the matcher filters by type anyway
        try:
            sock.connect((target, 0))
        except OSError as exc:
            stats.errnos.append(exc.errno or 0)
            return stats
        if kind == "dgram":
            # The kernel rewrites the identifier to the socket's "port" and matches
            # replies on it itself; checking it again costs nothing.
            port = sock.getsockname()[1]
            ident: int | None = port or None
            wire_ident = 0
        else:
            ident = wire_ident = next(_raw_identifiers) & 0xFFFF
        token = os.urandom(_TOKEN_LEN)
        payload = token + bytes(payload_size - _TOKEN_LEN)
        matcher = EchoMatcher(stats, ident, token, timeout_s, ip_header=(kind == "raw"))
        done: asyncio.Future[None] = loop.create_future()
        reader = _Reader(sock, matcher, done)
        loop.add_reader(sock.fileno(), reader.on_readable)
        reading = True

        start = loop.time()
        last_send = start
        for i in range(count):
            # Scheduled from the start, not from the previous send, so loop lag
            # does not stretch the run.
            delay = start + i * interval_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            seq = (i + 1) & 0xFFFF
            packet = build_echo_request(wire_ident, seq, payload)
            t_mono, t_real_ns = time.monotonic(), time.time_ns()
            try:
                sock.send(packet)
            except OSError as exc:
                stats.errnos.append(exc.errno or 0)
                continue
            matcher.sent(seq, t_mono, t_real_ns)
            stats.sent += 1
            last_send = loop.time()
        reader.expected = stats.sent
        reader.check_done()
        if not done.done():
            remaining = last_send + timeout_s - loop.time()
            if remaining > 0:
                await asyncio.wait({done}, timeout=remaining)
        return stats
    finally:
        if reading:
            loop.remove_reader(sock.fileno())
        sock.close()
