"""Reachability probe and the ICMP code under it.

Unit tests use loopback only. The `lab` tests build their own pair of network
namespaces joined by a veth (198.18.0.0/24) and tear them down afterwards; they run
the probe in a thread that has entered the prober's namespace, so sockets are opened
there while the test process itself stays in the root namespace.

This kernel has no netem (CONFIG_NET_SCH_NETEM is off), so faults are made otherwise:
loss with an nftables rule that drops exactly 3 of every 10 echo replies (exact, so
the verdict is not left to chance), delay with a user-space echo responder on the
host that answers 20 ms late, as a busy PC would.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import heapq
import os
import select
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from probe_params import reach

from probes import reachability
from probes.engines import icmp
from readiness.config.profile import LanSubnetThresholds
from readiness.judges import lan
from readiness.results import ProbeOutcome, Status, Text

T = TypeVar("T")


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def _thresholds(**kw: Any) -> LanSubnetThresholds:
    # the thresholds these tests were written against: any loss warns, over half fails
    return LanSubnetThresholds.model_validate({
        "ping_count": 10, "warn_loss_pct": 0, "fail_loss_pct": 50, "warn_rtt_ms": 5,
        "server_same_subnet": True, "proctor_same_subnet": True, **kw})


async def _checked(params: dict[str, Any], deadline_s: float, **thresholds: Any) -> ProbeOutcome:
    """The probe's measurement judged as the LAN-SUBNET reachability check judges it."""
    measured = await reachability.run(params, deadline_s)
    return lan.judge_reachability(measured, {"thresholds": _thresholds(**thresholds)})


def _icmp_or_skip() -> None:
    # only lab tests call this: under CI=true their skip is a failure (conftest.py)
    try:
        sock, _ = icmp.open_icmp_socket()
        sock.close()
    except icmp.IcmpUnavailable as exc:
        pytest.skip(str(exc))


# ---------------------------------------------------------------- packet format

def test_checksum_rfc1071_example() -> None:
    # RFC 1071 section 3: these words sum to 0xddf2, so the checksum is 0x220d
    assert icmp.checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    assert icmp.checksum(b"\x01") == (~0x0100) & 0xFFFF  # odd length is zero-padded


def test_echo_request_round_trip() -> None:
    packet = icmp.build_echo_request(0x1234, 7, b"payload!")
    assert packet[:2] == b"\x08\x00"
    assert icmp.checksum(packet) == 0  # a valid packet sums to zero
    msg = icmp.parse_icmp(packet, ip_header=False)
    assert msg == icmp.IcmpMessage(icmp.ICMP_ECHO_REQUEST, 0, 0x1234, 7, b"payload!")


def _reply(ident: int, seq: int, payload: bytes, *, ip_header: bool = False) -> bytes:
    body = struct.pack("!BBHHH", 0, 0, 0, ident, seq) + payload
    body = body[:2] + struct.pack("!H", icmp.checksum(body)) + body[4:]
    if not ip_header:
        return body
    # 24-byte header (IHL 6): the parser must honour IHL, not assume 20 bytes
    header = bytes([0x46, 0]) + struct.pack("!H", 24 + len(body)) + bytes(20)
    return header + body


def test_parse_reply_with_ip_header_and_options() -> None:
    msg = icmp.parse_icmp(_reply(9, 3, b"abc", ip_header=True), ip_header=True)
    assert msg is not None and (msg.type, msg.ident, msg.seq, msg.payload) == (0, 9, 3, b"abc")


def test_parse_rejects_corrupt_and_truncated() -> None:
    good = _reply(9, 3, b"abcdef")
    bad = good[:-1] + bytes([good[-1] ^ 0xFF])
    assert icmp.parse_icmp(bad, ip_header=False) is None
    assert icmp.parse_icmp(good[:5], ip_header=False) is None
    assert icmp.parse_icmp(b"\x45" + bytes(10), ip_header=True) is None


def _matcher(ident: int | None = 0x4242, timeout_s: float = 1.0) -> icmp.EchoMatcher:
    stats = icmp.PingStats(address="192.0.2.1", count=3)
    matcher = icmp.EchoMatcher(stats, ident, b"TOKEN123", timeout_s, ip_header=False)
    for seq in (1, 2, 3):
        matcher.sent(seq, 100.0, 0)
    return matcher


def test_matcher_ignores_foreign_replies() -> None:
    m = _matcher()
    payload = b"TOKEN123" + bytes(8)
    assert m.accept(_reply(0x4243, 1, payload), 100.001, None) is None  # wrong identifier
    assert m.accept(_reply(0x4242, 9, payload), 100.001, None) is None  # seq never sent
    assert m.accept(_reply(0x4242, 1, b"OTHERTOK"), 100.001, None) is None  # other pinger
    request = icmp.build_echo_request(0x4242, 1, payload)
    assert m.accept(request, 100.001, None) is None  # our own request seen on loopback
    assert m.stats.received == 0
    rtt = m.accept(_reply(0x4242, 1, payload), 100.002, None)
    assert rtt == pytest.approx(2.0)
    assert m.accept(_reply(0x4242, 1, payload), 100.003, None) is None
    assert (m.stats.received, m.stats.duplicates) == (1, 1)


def test_matcher_counts_late_replies_as_lost() -> None:
    m = _matcher(timeout_s=0.5)
    assert m.accept(_reply(0x4242, 2, b"TOKEN123"), 100.6, None) is None
    assert (m.stats.received, m.stats.late, m.stats.loss_pct) == (0, 1, 100.0)


def test_matcher_prefers_kernel_timestamp_unless_clock_stepped() -> None:
    m = icmp.EchoMatcher(icmp.PingStats("192.0.2.1", 2), 1, b"TOKEN123", 1.0, ip_header=False)
    m.sent(1, 100.0, 5_000_000_000)
    m.sent(2, 100.0, 5_000_000_000)
    # read by the loop 30 ms after sending, but the kernel got it after 1 ms
    assert m.accept(_reply(1, 1, b"TOKEN123"), 100.030, 5_001_000_000) == pytest.approx(1.0)
    # a wall-clock step makes the kernel stamp meaningless: fall back to the monotonic RTT
    assert m.accept(_reply(1, 2, b"TOKEN123"), 100.030, 9_000_000_000) == pytest.approx(30.0)


def test_no_icmp_permission_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(family: int, stype: int, proto: int) -> socket.socket:
        raise PermissionError(13 if stype == socket.SOCK_DGRAM else 1, "not permitted")

    monkeypatch.setattr(icmp.socket, "socket", refuse)
    with pytest.raises(icmp.IcmpUnavailable, match="CAP_NET_RAW.*ping_group_range"):
        icmp.open_icmp_socket()


# ---------------------------------------------------------------- verdicts (no traffic)

def _stats(received: int, rtt_ms: float = 0.3, count: int = 10) -> icmp.PingStats:
    return icmp.PingStats("198.18.10.113", count, sent=count, rtts_ms=[rtt_ms] * received)


def _measured(stats: icmp.PingStats, ports: dict[str, str] | None = None) -> dict[str, Any]:
    # the figures icmp_issue reads, as probes/reachability.py records them
    return {"address": stats.address, "count": stats.count, "received": stats.received,
            "rtt_avg_ms": stats.rtt_avg_ms, "no_route": stats.no_route, "ports": ports or {}}


@pytest.mark.parametrize(("received", "params", "expected"), [
    (10, {}, None),
    (7, {}, Status.WARN),                      # 30 % > warn 0
    (7, {"fail_loss_pct": 20}, Status.FAIL),   # 30 % > fail 20
    (5, {}, Status.WARN),                      # 50 % is not above fail 50
    (4, {}, Status.FAIL),
    (10, {"warn_loss_pct": 10}, None),
])
def test_loss_thresholds(received: int, params: dict[str, Any], expected: Status | None) -> None:
    issue = lan.icmp_issue(_measured(_stats(received)), _thresholds(**params))
    assert (issue[0] if issue else None) == expected


def test_slow_average_warns() -> None:
    issue = lan.icmp_issue(_measured(_stats(10, 6.0)), _thresholds())
    assert issue and issue[0] == Status.WARN and "6.0 ms on average" in issue[1].en
    assert lan.icmp_issue(_measured(_stats(10, 6.0)), _thresholds(warn_rtt_ms=7)) is None


def test_this_computers_own_address_is_not_called_slow() -> None:
    """The proctor PC checking itself: its echoes never leave it, so a busy moment (7.6 ms
    seen on the loaded lab host) says nothing of the LAN."""
    from probes.reachability import _mark_own

    own = _mark_own("127.0.0.1", ProbeOutcome(Status.PASS, Text("", ""),
                                              _measured(_stats(10, 7.6)))).measured
    assert own["own_address"] is True
    assert lan.icmp_issue(own, _thresholds()) is None
    # another address at the same time is slow
    other = _mark_own("198.18.0.99", ProbeOutcome(Status.PASS, Text("", ""),
                                                  _measured(_stats(10, 7.6)))).measured
    assert "own_address" not in other
    assert lan.icmp_issue(other, _thresholds()) is not None


def test_no_answer_messages() -> None:
    issue = lan.icmp_issue(_measured(_stats(0)), _thresholds())
    assert issue and issue[0] == Status.FAIL
    assert issue[1].en.startswith("no answer from 198.18.10.113 to 10 pings")
    assert "switched on" in issue[1].en and "开机" in issue[1].zh
    blocked = lan.icmp_issue(_measured(_stats(0), {"80": "open"}), _thresholds())
    assert blocked and blocked[0] == Status.WARN and "ICMP" in blocked[1].en


def test_pings_shrink_to_fit_the_deadline() -> None:
    interval, timeout = reachability._plan_pings(10, 0.5, 1.0, budget_s=2.0)
    assert 9 * interval + timeout == pytest.approx(2.0)
    assert timeout == pytest.approx(reachability.MIN_REPLY_TIMEOUT_S)
    assert reachability._plan_pings(10, 0.1, 1.0, budget_s=5.0) == (0.1, 1.0)


def test_bad_params_are_an_error() -> None:
    out = _run(_checked(reach("127.0.0.1", ports=[0]), 2.0))
    assert out.status == Status.ERROR and "ports" in out.message.en


def test_a_missing_or_unusable_parameter_is_an_error_naming_it() -> None:
    """Probes default nothing: a check that leaves a parameter out is told which, as an
    ERROR outcome (nothing is sent), never an exception out of the probe."""
    whole = reach("127.0.0.1")
    needed = [p.name for p in reachability.KIND.params if not p.optional]
    assert set(needed) <= set(whole)
    for name in needed:
        out = _run(reachability.run({k: v for k, v in whole.items() if k != name}, 2.0))
        assert out.status == Status.ERROR, name
        assert f"parameter '{name}' is missing" in out.message.en, out.message.en
    for name, bad in (("count", "ten"), ("interval_s", [1]), ("subnet", "not-a-subnet")):
        out = _run(reachability.run({**whole, name: bad}, 2.0))
        assert out.status == Status.ERROR and f"'{name}'" in out.message.en, out.message.en


def test_icmp_unavailable_is_error_never_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> tuple[socket.socket, str]:
        raise icmp.IcmpUnavailable("dgram: Permission denied; raw: Operation not permitted")

    monkeypatch.setattr(icmp, "open_icmp_socket", unavailable)
    with _listener() as port:
        out = _run(_checked(reach("127.0.0.1", ports=[port]), 3.0))
    assert out.status == Status.ERROR
    assert "CAP_NET_RAW" in out.message.en and "root" in out.message.zh
    assert out.measured["ports"] == {str(port): "open"}


# ---------------------------------------------------------------- loopback traffic

@contextlib.contextmanager
def _listener(backlog: int = 8) -> Iterator[int]:
    # listens but never accepts: the kernel still completes the handshake
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(backlog)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@contextlib.contextmanager
def _closed_port() -> Iterator[int]:
    # bound but not listening: the port stays ours and every SYN gets a RST
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@contextlib.contextmanager
def _silent_port() -> Iterator[int]:
    # listen(0) with its accept queue filled: Linux drops further SYNs, so a connect
    # neither succeeds nor is refused
    with _listener(backlog=0) as port:
        fillers = []
        try:
            for _ in range(2):
                c = socket.socket()
                c.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    c.connect(("127.0.0.1", port))
                fillers.append(c)
            time.sleep(0.05)
            yield port
        finally:
            for c in fillers:
                c.close()


@pytest.mark.lab
def test_loopback_answers() -> None:
    _icmp_or_skip()
    stats = _run(icmp.ping("127.0.0.1", count=3, interval_s=0.01, timeout_s=1.0))
    assert (stats.sent, stats.received, stats.loss_pct, stats.duplicates) == (3, 3, 0.0, 0)
    assert stats.rtt_min_ms is not None and 0 < stats.rtt_min_ms <= stats.rtt_max_ms < 50


@pytest.mark.lab
def test_concurrent_pings_never_take_each_others_replies() -> None:
    # With raw sockets every socket connected to 127.0.0.1 sees all 40 runs' replies:
    # only identifier/sequence/token matching keeps the counts right.
    _icmp_or_skip()

    async def many() -> list[icmp.PingStats]:
        return await asyncio.gather(
            *(icmp.ping("127.0.0.1", count=10, interval_s=0.01, timeout_s=1.0)
              for _ in range(40)))

    started = time.monotonic()
    results = _run(many())
    assert time.monotonic() - started < 2.0
    assert [(s.received, s.duplicates) for s in results] == [(10, 0)] * 40


@pytest.mark.lab
def test_probe_open_refused_and_silent_ports() -> None:
    _icmp_or_skip()
    with _listener() as open_port, _closed_port() as closed, _silent_port() as silent:
        out = _run(_checked(
            reach("127.0.0.1", count=3, interval_s=0.01,
                  ports=[open_port, closed, silent], port_timeout_s=0.5), 3.0))
    assert out.measured["ports"] == {str(open_port): "open", str(closed): "refused",
                                     str(silent): "timeout"}
    assert out.status == Status.FAIL
    assert f"port {closed} refused" in out.message.en
    assert f"port {silent} did not answer within 0.5 s" in out.message.en
    assert f"端口 {closed} 拒绝连接" in out.message.zh
    assert out.measured["received"] == 3


@pytest.mark.lab
def test_probe_passes_on_loopback_within_a_tight_deadline() -> None:
    _icmp_or_skip()
    with _listener() as port:
        started = time.monotonic()
        # 10 pings 0.5 s apart cannot fit in 1 s: the probe must squeeze them itself
        out = _run(_checked(
            reach("127.0.0.1", count=10, interval_s=0.5, ports=[port]), 1.0))
        elapsed = time.monotonic() - started
    assert out.status == Status.PASS, out.message.en
    assert elapsed < 1.0
    assert out.measured["sent"] == out.measured["received"] == 10
    assert out.measured["ports"] == {str(port): "open"}
    assert {"sent", "received", "loss_pct", "rtt_avg_ms", "rtt_max_ms"} <= set(out.measured)


# ---------------------------------------------------------------- namespace lab

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _ns_run(ns: str, *argv: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, *argv], check=True, capture_output=True,
                   text=True)


def in_netns(ns: str, fn: Callable[[], T]) -> T:
    """Run `fn` on a thread that has entered network namespace `ns`.

    Only that thread changes namespace, so the test process keeps its own.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {ns}: {os.strerror(err)}")
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class Lab:
    """Prober namespace `a` (198.18.0.1) and host namespace `b` (198.18.0.2)."""

    def __init__(self) -> None:
        self.a = f"rdyt{os.getpid()}-a"
        self.b = f"rdyt{os.getpid()}-b"
        self.prober_ip = "198.18.0.1"
        self.host_ip = "198.18.0.2"
        self.absent_ip = "198.18.0.99"

    def up(self) -> None:
        _ip("netns", "add", self.a)
        _ip("netns", "add", self.b)
        _ip("link", "add", "eth0", "netns", self.a, "type", "veth",
            "peer", "name", "eth0", "netns", self.b)
        for ns, addr in ((self.a, self.prober_ip), (self.b, self.host_ip)):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def down(self) -> None:
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def probe(self, params: dict[str, Any], deadline_s: float = 3.0,
              **thresholds: Any) -> tuple[Any, float]:
        def go() -> tuple[Any, float]:
            started = time.monotonic()
            out = asyncio.run(_checked(params, deadline_s, **thresholds))
            return out, time.monotonic() - started

        return in_netns(self.a, go)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    reason = ""
    if os.geteuid() != 0:
        reason = "namespace tests need root (ip netns, veth)"
    elif not shutil.which("ip"):
        reason = "namespace tests need iproute2's `ip`"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    _icmp_or_skip()
    the_lab = Lab()
    try:
        the_lab.up()
        yield the_lab
    finally:
        the_lab.down()


@contextlib.contextmanager
def _sysctl(ns: str, name: str, value: str) -> Iterator[None]:
    old = subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-n", name], check=True,
                         capture_output=True, text=True).stdout.strip()
    _ns_run(ns, "sysctl", "-q", "-w", f"{name}={value}")
    try:
        yield
    finally:
        _ns_run(ns, "sysctl", "-q", "-w", f"{name}={old}")


@contextlib.contextmanager
def _drop_replies(ns: str, every10: int) -> Iterator[None]:
    _ns_run(ns, "nft", "add", "table", "inet", "rdyt")
    try:
        _ns_run(ns, "nft", "add chain inet rdyt out { type filter hook output priority 0; }")
        _ns_run(ns, "nft", "add", "rule", "inet", "rdyt", "out", "icmp", "type", "echo-reply",
                "numgen", "inc", "mod", "10", "<", str(every10), "drop")
        yield
    finally:
        _ns_run(ns, "nft", "delete", "table", "inet", "rdyt")


class EchoResponder:
    """A user-space ping responder in a namespace: late, and optionally noisy.

    `noisy` sends, before each real reply, replies with a wrong identifier, a wrong
    sequence number and a foreign payload, and afterwards a duplicate: everything a
    busy segment can throw at a raw socket.
    """

    def __init__(self, ns: str, delay_s: float, noisy: bool = False) -> None:
        self.ns, self.delay_s, self.noisy = ns, delay_s, noisy
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.answered = 0
        self.thread = threading.Thread(target=in_netns, args=(ns, self._serve), daemon=True)

    def __enter__(self) -> EchoResponder:
        self.thread.start()
        assert self.ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)

    def _serve(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        due: list[tuple[float, int, bytes, str]] = []
        n = 0
        self.ready.set()
        try:
            while not self.stop.is_set():
                wait = max(0.0, due[0][0] - time.monotonic()) if due else 0.05
                readable, _, _ = select.select([sock], [], [], min(wait, 0.05))
                if readable:
                    data, (src, _) = sock.recvfrom(4096)
                    msg = icmp.parse_icmp(data, ip_header=True)
                    if msg and msg.type == icmp.ICMP_ECHO_REQUEST:
                        when = time.monotonic() + self.delay_s
                        for pkt in self._replies(msg):
                            n += 1
                            heapq.heappush(due, (when, n, pkt, src))
                while due and due[0][0] <= time.monotonic():
                    _, _, pkt, dst = heapq.heappop(due)
                    sock.sendto(pkt, (dst, 0))
        finally:
            sock.close()

    def _replies(self, msg: icmp.IcmpMessage) -> list[bytes]:
        real = _reply(msg.ident, msg.seq, msg.payload)
        self.answered += 1
        if not self.noisy:
            return [real]
        return [
            _reply(msg.ident ^ 0x5A5A, msg.seq, msg.payload),
            _reply(msg.ident, (msg.seq + 1000) & 0xFFFF, msg.payload),
            _reply(msg.ident, msg.seq, b"X" * len(msg.payload)),
            real,
            real,
        ]


@pytest.mark.lab
def test_lab_live_host_passes(lab: Lab) -> None:
    out, elapsed = lab.probe(reach(lab.host_ip, count=10, interval_s=0.02))
    assert out.status == Status.PASS, out.message.en
    assert out.measured["received"] == 10 and out.measured["icmp_socket"] == "raw"
    assert elapsed < 1.0


@pytest.mark.lab
def test_lab_unprivileged_icmp_socket_is_used_when_allowed(lab: Lab) -> None:
    with _sysctl(lab.a, "net.ipv4.ping_group_range", "0 2147483647"):
        out, _ = lab.probe(reach(lab.host_ip, count=5, interval_s=0.01))
    assert out.status == Status.PASS, out.message.en
    assert out.measured["icmp_socket"] == "dgram"


@pytest.mark.lab
def test_lab_absent_host_fails_within_deadline(lab: Lab) -> None:
    out, elapsed = lab.probe(reach(lab.absent_ip, count=5, interval_s=0.05),
                             deadline_s=2.0)
    assert out.status == Status.FAIL
    assert out.message.en.startswith(f"no answer from {lab.absent_ip} to 5 pings")
    assert out.measured["received"] == 0 and out.measured["loss_pct"] == 100.0
    assert elapsed < 2.0


@pytest.mark.lab
def test_lab_no_route_says_check_this_computer(lab: Lab) -> None:
    # the prober namespace has no default route: the kernel refuses before any packet
    out, elapsed = lab.probe(reach("203.0.113.5", count=3), deadline_s=2.0)
    assert out.status == Status.FAIL and "no route" in out.message.en
    assert "网关" in out.message.zh and elapsed < 0.5


@pytest.mark.lab
def test_lab_lossy_link_warns_or_fails_per_thresholds(lab: Lab) -> None:
    params = reach(lab.host_ip, count=10, interval_s=0.01, reply_timeout_s=0.3)
    with _drop_replies(lab.b, 3):
        warn, _ = lab.probe(params)
        fail, _ = lab.probe(params, fail_loss_pct=20)
    assert warn.measured["loss_pct"] == fail.measured["loss_pct"] == 30.0
    assert warn.status == Status.WARN and "lost 3 of 10" in warn.message.en
    assert fail.status == Status.FAIL


@pytest.mark.lab
def test_lab_slow_host_warns_on_rtt(lab: Lab) -> None:
    with _sysctl(lab.b, "net.ipv4.icmp_echo_ignore_all", "1"), \
            EchoResponder(lab.b, delay_s=0.020):
        out, _ = lab.probe(reach(lab.host_ip, count=5, interval_s=0.01))
    assert out.status == Status.WARN, out.message.en
    assert out.measured["loss_pct"] == 0.0 and out.measured["rtt_avg_ms"] >= 20.0
    assert "slowly" in out.message.en and "响应慢" in out.message.zh


@pytest.mark.lab
def test_lab_foreign_and_duplicate_replies_are_ignored(lab: Lab) -> None:
    with _sysctl(lab.b, "net.ipv4.icmp_echo_ignore_all", "1"), \
            EchoResponder(lab.b, delay_s=0.0, noisy=True) as responder:
        stats = in_netns(lab.a, lambda: asyncio.run(
            icmp.ping(lab.host_ip, count=5, interval_s=0.01, timeout_s=1.0)))
    assert responder.answered == 5
    assert (stats.received, stats.loss_pct) == (5, 0.0)
    # ping stops listening once every echo is answered: the last reply's duplicate may
    # come after that, so 4 or 5 are seen, and none of them counts as an answer
    assert stats.duplicates in (4, 5), stats.duplicates


@pytest.mark.lab
def test_lab_ping_blocked_but_port_open_warns(lab: Lab) -> None:
    def listen() -> socket.socket:
        sock = socket.socket()
        sock.bind((lab.host_ip, 0))
        sock.listen(8)
        return sock

    server = in_netns(lab.b, listen)
    port = server.getsockname()[1]
    try:
        with _sysctl(lab.b, "net.ipv4.icmp_echo_ignore_all", "1"):
            out, _ = lab.probe(reach(lab.host_ip, count=3, interval_s=0.01,
                                     ports=[port]), deadline_s=2.0)
    finally:
        server.close()
    assert out.status == Status.WARN, out.message.en
    assert "drops ping" in out.message.en and "ICMP" in out.message.zh
    assert out.measured["ports"] == {str(port): "open"}


# ---------------------------------------------------------------- a busy coordinator


async def _hog_the_loop(stop: asyncio.Event, busy_s: float, free_s: float) -> None:
    """Hold the event loop the way a loaded proctor PC does: whole stretches of time in
    which no timer fires and no packet is read (real blocking, not a mocked clock)."""
    while not stop.is_set():
        time.sleep(busy_s)
        await asyncio.sleep(free_s)


def _under_load(lab: Lab, params: dict[str, Any], deadline_s: float
                ) -> tuple[ProbeOutcome | None, float]:
    """The probe run as the runner runs it (its deadline a hard stop), beside a hog."""
    async def go() -> tuple[ProbeOutcome | None, float]:
        stop = asyncio.Event()
        hog = asyncio.ensure_future(_hog_the_loop(stop, busy_s=0.2, free_s=0.05))
        started = time.monotonic()
        task = asyncio.ensure_future(_checked(params, deadline_s))
        done, _ = await asyncio.wait({task}, timeout=deadline_s)
        elapsed = time.monotonic() - started
        stop.set()
        await hog
        if not done:
            task.cancel()
            return None, elapsed
        return task.result(), elapsed

    return in_netns(lab.a, lambda: asyncio.run(go()))


@pytest.mark.lab
def test_lab_absent_host_under_load_fails_before_the_deadline_never_errors(lab: Lab) -> None:
    with _silent_port() as port:
        params = reach(lab.absent_ip, subnet="198.18.0.0/24", fallback_port=port,
                       sample_window_s=2.0)
        out, elapsed = _under_load(lab, params, deadline_s=5.0)
    assert out is not None, f"the runner's deadline came first ({elapsed:.1f} s)"
    assert out.status == Status.FAIL, out.message.en
    assert out.measured["received"] == 0 and lab.absent_ip in out.message.en


@pytest.mark.lab
def test_lab_seat_dropping_ping_under_load_warns_before_the_deadline(lab: Lab) -> None:
    server = in_netns(lab.b, lambda: _bound_listener(lab.host_ip))
    port = server.getsockname()[1]
    try:
        with _sysctl(lab.b, "net.ipv4.icmp_echo_ignore_all", "1"):
            out, elapsed = _under_load(lab, reach(
                lab.host_ip, subnet="198.18.0.0/24", fallback_port=port,
                sample_window_s=2.0), deadline_s=5.0)
    finally:
        server.close()
    assert out is not None, f"the runner's deadline came first ({elapsed:.1f} s)"
    assert out.status == Status.WARN, out.message.en
    assert "drops ping" in out.message.en


def _bound_listener(address: str) -> socket.socket:
    sock = socket.socket()
    sock.bind((address, 0))
    sock.listen(8)
    return sock


# ---------------------------------------------------------------- an unstable link


@contextlib.contextmanager
def _flapping(ns: str, down_s: float, up_s: float) -> Iterator[None]:
    """The host's cable going down and up again and again, as a loose plug or a failing
    switch port does: its veth toggled for real, from a thread, until the block ends."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            _ip("-n", ns, "link", "set", "eth0", "down")
            stop.wait(down_s)
            _ip("-n", ns, "link", "set", "eth0", "up")
            stop.wait(up_s)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        _ip("-n", ns, "link", "set", "eth0", "up")
        time.sleep(0.2)


@pytest.mark.lab
def test_lab_flapping_link_is_named_unstable_never_drops_ping(lab: Lab) -> None:
    server = in_netns(lab.b, lambda: _bound_listener(lab.host_ip))
    port = server.getsockname()[1]
    try:
        with _flapping(lab.b, down_s=1.5, up_s=1.0):
            out, elapsed = lab.probe(reach(lab.host_ip, subnet="198.18.0.0/24",
                                           fallback_port=port, sample_window_s=4.0),
                                     deadline_s=12.0)
    finally:
        server.close()
    m = out.measured
    assert out.status in (Status.WARN, Status.FAIL), out.message.en
    assert "unstable link" in out.message.en, m
    assert "时断时通" in out.message.zh
    assert "drops ping" not in out.message.en
    assert "00" in m["replies"] and "1" in m["replies"], m["replies"]
    assert m["sample_window_s"] >= 3.9 and elapsed < 12.0
    assert [f.code for f in out.findings] == ["lan.unstable_link"]
