"""LAN-SPEED on one path: TCP throughput to an iperf3 server, measured.

params (every one is given, the probe defaults none: duration_s and omit_s are the
profile's LAN-SPEED rule, parallel and connect_timeout_s are in readiness/planning/knobs.py;
a missing or unusable one is an ERROR naming it):
  host                          the iperf3 server (stock `iperf3 -s` or
                                `readiness throughput-server`)
  port                          its TCP port (iperf3's is 5201)
  duration_s, omit_s            whole seconds measured and warm-up left out
  parallel                      TCP streams
  reverse                       false: this computer sends; true: the server sends
  connect_timeout_s             how long the connect may take

The figure is the receiver's (what arrived), as iperf3's `sum_received`. The link
class and the verdict are the judge's (readiness/judges/throughput.py): this probe only
says what it measured, or why it could not measure. It keeps its own deadline;
throughput checks must also never overlap on a path, which the runner's exclusive
class ensures.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from readiness.checkkind import COORDINATOR, SEAT, TARGET, CheckKind, Param, knobs, param
from readiness.results import ProbeOutcome, Status, Text

from .engines import path_mtu
from .engines.iperf3_client import (
    Iperf3Busy,
    Iperf3ConnectError,
    Iperf3Error,
    Iperf3Result,
    Iperf3ServerError,
    needed_s,
    run_test,
)
from .engines.iperf3_proto import MAX_STREAMS

# The first words of the message when nothing listens on the port
NO_SERVER_PREFIX = "cannot reach the iperf3 server"
# A test that failed or carried less than this after its connection was made looks like
# an MTU black hole (the handshake passes, full-size segments vanish): the path's packet
# size is then tried with DF echoes, within this much time kept back from the deadline.
STALLED_MBPS = 10.0
# Two rounds of echoes, each waiting DF_ROUND_S for the replies: a second at idle, and
# room for a coordinator busy with a whole room's pairs (half a second per round missed
# the echoes of the drill room's black hole under that load)
DF_ROUND_S = 1.0
DF_RESERVE_S = 2 * DF_ROUND_S + 0.8


@dataclass(frozen=True)
class _Params:
    host: str
    port: int
    duration_s: int
    omit_s: int
    parallel: int
    reverse: bool
    connect_timeout_s: float

    @classmethod
    def parse(cls, params: dict[str, Any]) -> _Params:
        host = param(params, "host")
        if not isinstance(host, str) or not host:
            raise ValueError("'host' must be a non-empty string")
        port = param(params, "port", int)
        duration_s = param(params, "duration_s", _whole)
        omit_s = param(params, "omit_s", _whole)
        parallel = param(params, "parallel", int)
        if not 1 <= port <= 0xFFFF:
            raise ValueError(f"'port' must be 1..65535, not {port}")
        if duration_s < 1 or omit_s < 0:
            raise ValueError("'duration_s' must be at least 1 and 'omit_s' not negative")
        if not 1 <= parallel <= MAX_STREAMS:
            raise ValueError(f"'parallel' must be 1..{MAX_STREAMS}, not {parallel}")
        return cls(host, port, duration_s, omit_s, parallel, param(params, "reverse", bool),
                   param(params, "connect_timeout_s", float))


def _whole(value: Any) -> int:
    # iperf3 counts test time in whole seconds; 2.5 would silently become 2.
    number = float(value)
    if number != int(number):
        raise ValueError(f"it must be whole seconds, not {value}")
    return int(number)


def _error(en: str, zh: str, measured: dict[str, Any] | None = None) -> ProbeOutcome:
    return ProbeOutcome(Status.ERROR, Text(en, zh), measured or {})


def _path(p: _Params) -> tuple[str, str]:
    if p.reverse:
        return f"from {p.host} to this computer", f"{p.host}→本机"
    return f"from this computer to {p.host}", f"本机→{p.host}"


def deadline_for(duration_s: int, omit_s: int, connect_timeout_s: float) -> float:
    """What one test needs: the test itself, the connect, the results exchange, the
    half-second margins `run` keeps on both ends, and the time for DF echoes after a test
    that stalled."""
    return needed_s(duration_s, omit_s, connect_timeout_s) + 1.0 + DF_RESERVE_S


async def path_size(host: str) -> dict[str, Any] | None:
    """The path's packet size when it is an MTU black hole (DF echoes), else None; None
    too when this computer may not send ICMP or the host does not answer echoes at all."""
    try:
        async with asyncio.timeout(DF_RESERVE_S - 0.2):
            size = await path_mtu.probe(host, DF_ROUND_S)
    except (path_mtu.IcmpUnavailable, OSError, TimeoutError, ValueError):
        return None
    if not size.black_hole:
        return None
    return {"largest_ok": size.largest_ok, "smallest_lost": size.smallest_lost,
            "by": "DF echoes"}


async def _with_path_size(host: str, outcome: ProbeOutcome) -> ProbeOutcome:
    """`outcome` with the path's packet size added when the test stalled or failed on an
    open connection and small echoes pass while large ones do not."""
    m = outcome.measured
    failed = outcome.status == Status.ERROR and not m.get("no_server") \
        and not m.get("busy")
    stalled = isinstance(m.get("throughput_mbps"), int | float) \
        and m["throughput_mbps"] < STALLED_MBPS
    if failed or stalled:
        size = await path_size(host)
        if size:
            m["path_mtu"] = size
    return outcome


def measurement(p: _Params, result: Iperf3Result) -> ProbeOutcome:
    mbps = result.throughput_mbps
    measured: dict[str, Any] = {
        "throughput_mbps": round(mbps, 1),
        "sender_mbps": round(result.sender_bps / 1e6, 1),
        "direction": "reverse" if p.reverse else "forward",
        "retransmits": result.retransmits,
        "bytes": result.received_bytes,
        "seconds": round(result.receiver_seconds, 3),
        "duration_s": p.duration_s,
        "omit_s": p.omit_s,
        "parallel": p.parallel,
        "server": f"{p.host}:{p.port}",
    }
    path_en, path_zh = _path(p)
    # a measurement, not a verdict: the judge compares it with the link classes
    return ProbeOutcome(Status.PASS, Text(f"{mbps:.0f} Mbit/s {path_en}",
                                          f"{path_zh} 实测 {mbps:.0f} Mbit/s"), measured)


def _failure(p: _Params, exc: Iperf3Error) -> ProbeOutcome:
    where = f"{p.host}:{p.port}"
    measured = {"server": where, "direction": "reverse" if p.reverse else "forward"}
    if isinstance(exc, Iperf3Busy):
        measured["busy"] = True
        return _error(
            f"the iperf3 server at {where} is busy with another test; tests on one path "
            "must not overlap. Run the check again when the other test is over",
            f"{where} 上的 iperf3 服务器正在进行另一项测试；同一路径上的测试不能同时进行。"
            "请在另一项测试结束后重新检查", measured)
    if isinstance(exc, Iperf3ConnectError):
        # nothing listens there: a judge tells "no server" from other errors by this
        measured["no_server"] = True
        return _error(
            f"cannot reach the iperf3 server at {where} ({exc.reason}): start "
            f"`readiness throughput-server` (or `iperf3 -s`) on {p.host} and allow TCP port "
            f"{p.port} in its firewall",
            f"无法连接 {where} 上的 iperf3 服务器（{exc.reason_zh}）：请在 {p.host} 上运行 "
            f"`readiness throughput-server`（或 `iperf3 -s`），并在防火墙中放行 TCP {p.port} 端口",
            measured)
    if isinstance(exc, Iperf3ServerError):
        return _error(f"the iperf3 server at {where} refused the test: {exc}",
                      f"{where} 上的 iperf3 服务器拒绝了测试：{exc}", measured)
    return _error(f"the throughput test with {where} failed: {exc}",
                  f"与 {where} 的吞吐量测试失败：{exc}", measured)


def _times(p: _Params, deadline_s: float) -> tuple[float, float, float] | ProbeOutcome:
    """(margin, budget, connect timeout) of one test within `deadline_s`, or the error
    that the deadline cannot hold the test. The margin leaves the runner slack:
    finishing exactly at its deadline is a race."""
    margin_s = min(0.5, 0.1 * deadline_s)
    budget_s = deadline_s - 2 * margin_s
    connect_s = min(p.connect_timeout_s, max(0.5, budget_s - p.omit_s - p.duration_s - 1))
    if budget_s < needed_s(p.duration_s, p.omit_s, connect_s):
        return _error(
            f"a deadline of {deadline_s:g} s is too short for a {p.omit_s + p.duration_s} s "
            "throughput test; give the check a longer deadline",
            f"{deadline_s:g} 秒的时限不足以完成 {p.omit_s + p.duration_s} 秒的吞吐量测试；"
            "请延长该检查的时限")
    return margin_s, budget_s, connect_s


async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    try:
        p = _Params.parse(params)
    except (TypeError, ValueError) as exc:
        return _error(f"bad throughput parameters: {exc}", f"吞吐量检测参数错误：{exc}")
    # time kept back for DF echoes after a stalled test, when the deadline has it
    test_deadline_s = deadline_s - DF_RESERVE_S
    times = _times(p, test_deadline_s)
    if isinstance(times, ProbeOutcome):
        test_deadline_s = deadline_s
        times = _times(p, deadline_s)
        if isinstance(times, ProbeOutcome):
            return times
    margin_s, budget_s, connect_s = times
    try:
        # Backstop only: the client already bounds every wait by budget_s.
        async with asyncio.timeout(test_deadline_s - margin_s):
            result = await run_test(p.host, p.port, p.duration_s, p.parallel, p.reverse,
                                    p.omit_s, connect_timeout_s=connect_s,
                                    deadline_s=budget_s)
        outcome = measurement(p, result)
    except Iperf3Error as exc:
        outcome = _failure(p, exc)
    except TimeoutError:
        outcome = _error(f"the throughput test with {p.host}:{p.port} did not finish within "
                         f"{deadline_s:g} s",
                         f"与 {p.host}:{p.port} 的吞吐量测试未能在 {deadline_s:g} 秒内完成",
                         {"server": f"{p.host}:{p.port}",
                          "direction": "reverse" if p.reverse else "forward"})
    if test_deadline_s < deadline_s:
        outcome = await _with_path_size(p.host, outcome)
    return outcome


# -- both directions at once, against a partner that starts its server as we call -----------

RETRY_CONNECT_PAUSE_S = 0.1


async def _test_when_up(p: _Params, reverse: bool, port: int, budget_s: float,
                        connect_s: float) -> Iperf3Result:
    """One test; a refused connection is tried again until `connect_s` has passed: the
    partner's agent starts its server at the moment we are asked to test."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + connect_s
    while True:
        started = loop.time()
        try:
            return await run_test(p.host, port, p.duration_s, p.parallel, reverse, p.omit_s,
                                  connect_timeout_s=connect_s,
                                  deadline_s=budget_s - (started - (give_up - connect_s)))
        except Iperf3ConnectError:
            if loop.time() + RETRY_CONNECT_PAUSE_S >= give_up:
                raise
            await asyncio.sleep(RETRY_CONNECT_PAUSE_S)


async def run_both(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    """This computer sends to `host`:`port` and receives from `host`:`reverse_port` at
    the same time: a full-duplex link carries both at full rate, so both directions are
    proven in one test's time. measured: upload_mbps (what arrived there), download_mbps
    (what arrived here) and each direction's own figures."""
    try:
        p = _Params.parse(params)
        reverse_port = param(params, "reverse_port", int)
    except (TypeError, ValueError) as exc:
        return _error(f"bad throughput parameters: {exc}", f"吞吐量检测参数错误：{exc}")
    times = _times(p, deadline_s)
    if isinstance(times, ProbeOutcome):
        return times
    margin_s, budget_s, connect_s = times
    back = _Params(p.host, reverse_port, p.duration_s, p.omit_s, p.parallel, True,
                   p.connect_timeout_s)
    try:
        async with asyncio.timeout(deadline_s - margin_s):
            up, down = await asyncio.gather(
                _test_when_up(p, False, p.port, budget_s, connect_s),
                _test_when_up(back, True, reverse_port, budget_s, connect_s))
    except Iperf3Error as exc:
        return _failure(p, exc)
    except TimeoutError:
        return _error(f"the throughput test with {p.host} did not finish within "
                      f"{deadline_s:g} s",
                      f"与 {p.host} 的吞吐量测试未能在 {deadline_s:g} 秒内完成")
    sent, got = measurement(p, up), measurement(back, down)
    measured = {"upload_mbps": sent.measured["throughput_mbps"],
                "download_mbps": got.measured["throughput_mbps"],
                "upload": sent.measured, "download": got.measured, "partner": p.host}
    return ProbeOutcome(Status.PASS, Text(
        f"{sent.message.en}; at the same time {got.message.en}",
        f"{sent.message.zh}；同时 {got.message.zh}"), measured)


_THROUGHPUT = (Param("host", TARGET), *knobs("port", "duration_s", "omit_s", "parallel",
                                             "reverse", "connect_timeout_s"))
KINDS = (
    CheckKind(probe="throughput", run=run, params=_THROUGHPUT, judges=("throughput.seat",),
              runs_on=frozenset({COORDINATOR, SEAT}), exclusive=True,
              budget=lambda p: deadline_for(int(p["duration_s"]), int(p["omit_s"]),
                                            float(p["connect_timeout_s"]))),
    # a seat's side of the seat pairs (readiness/agent/seat_pairs.py judges the pairs)
    CheckKind(probe="throughput_both", run=run_both,
              params=(*_THROUGHPUT, Param("reverse_port")), runs_on=frozenset({SEAT}),
              exclusive=True, leg_of="seat_pairs"),
)
