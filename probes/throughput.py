"""LAN-SPEED on one path: TCP throughput to an iperf3 server, judged by link class.

params:
  host                          the iperf3 server (stock `iperf3 -s` or
                                `readiness throughput-server`)
  port                          5201
  duration_s, omit_s            whole seconds measured (5) and warm-up left out (0)
  parallel                      TCP streams (1)
  reverse                       false: this computer sends; true: the server sends
  connect_timeout_s             3
  gigabit_class_min_mbps        at or above: a gigabit path (500)
  fast_ethernet_class_min_mbps  at or above: a 100M path (80)
  required_class                "gigabit" (eda: below gigabit fails) or "fast_ethernet"
                                (cbec: 100M is the minimum and warns, gigabit passes)

The figure judged is the receiver's (what arrived), as iperf3's `sum_received`. The
probe keeps its own deadline; throughput checks must also never overlap on a path,
which the runner's exclusive class ensures.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from readiness.results import ProbeOutcome, Status, Text

from .iperf3_client import (
    Iperf3Busy,
    Iperf3ConnectError,
    Iperf3Error,
    Iperf3Result,
    Iperf3ServerError,
    needed_s,
    run_test,
)
from .iperf3_proto import DEFAULT_PORT, MAX_STREAMS

GIGABIT = "gigabit"
FAST_ETHERNET = "fast_ethernet"
BELOW = "below_fast_ethernet"


@dataclass(frozen=True)
class _Params:
    host: str
    port: int
    duration_s: int
    omit_s: int
    parallel: int
    reverse: bool
    connect_timeout_s: float
    gigabit_min_mbps: float
    fast_ethernet_min_mbps: float
    required_class: str

    @classmethod
    def parse(cls, params: dict[str, Any]) -> _Params:
        host = params.get("host")
        if not isinstance(host, str) or not host:
            raise ValueError("'host' must be a non-empty string")
        port = int(params.get("port", DEFAULT_PORT))
        duration_s = _whole(params.get("duration_s", 5), "duration_s")
        omit_s = _whole(params.get("omit_s", 0), "omit_s")
        parallel = int(params.get("parallel", 1))
        gigabit = float(params.get("gigabit_class_min_mbps", 500))
        fast = float(params.get("fast_ethernet_class_min_mbps", 80))
        required = str(params.get("required_class", GIGABIT))
        if not 1 <= port <= 0xFFFF:
            raise ValueError(f"'port' must be 1..65535, not {port}")
        if duration_s < 1 or omit_s < 0:
            raise ValueError("'duration_s' must be at least 1 and 'omit_s' not negative")
        if not 1 <= parallel <= MAX_STREAMS:
            raise ValueError(f"'parallel' must be 1..{MAX_STREAMS}, not {parallel}")
        if not 0 < fast <= gigabit:
            raise ValueError("need 0 < fast_ethernet_class_min_mbps <= gigabit_class_min_mbps")
        if required not in (GIGABIT, FAST_ETHERNET):
            raise ValueError(f"'required_class' must be {GIGABIT!r} or {FAST_ETHERNET!r}, "
                             f"not {required!r}")
        return cls(host, port, duration_s, omit_s, parallel, bool(params.get("reverse", False)),
                   float(params.get("connect_timeout_s", 3.0)), gigabit, fast, required)


def _whole(value: Any, name: str) -> int:
    # iperf3 counts test time in whole seconds; 2.5 would silently become 2.
    number = float(value)
    if number != int(number):
        raise ValueError(f"'{name}' must be whole seconds, not {value}")
    return int(number)


def _error(en: str, zh: str, measured: dict[str, Any] | None = None) -> ProbeOutcome:
    return ProbeOutcome(Status.ERROR, Text(en, zh), measured or {})


def _path(p: _Params) -> tuple[str, str]:
    if p.reverse:
        return f"from {p.host} to this computer", f"{p.host}→本机"
    return f"from this computer to {p.host}", f"本机→{p.host}"


def classify(mbps: float, gigabit_min: float, fast_min: float) -> str:
    if mbps >= gigabit_min:
        return GIGABIT
    if mbps >= fast_min:
        return FAST_ETHERNET
    return BELOW


def judge(p: _Params, result: Iperf3Result) -> ProbeOutcome:
    mbps = result.throughput_mbps
    link = classify(mbps, p.gigabit_min_mbps, p.fast_ethernet_min_mbps)
    measured: dict[str, Any] = {
        "throughput_mbps": round(mbps, 1),
        "sender_mbps": round(result.sender_bps / 1e6, 1),
        "direction": "reverse" if p.reverse else "forward",
        "retransmits": result.retransmits,
        "link_class": link,
        "bytes": result.received_bytes,
        "seconds": round(result.receiver_seconds, 3),
        "duration_s": p.duration_s,
        "omit_s": p.omit_s,
        "parallel": p.parallel,
        "server": f"{p.host}:{p.port}",
    }
    path_en, path_zh = _path(p)
    fig = f"{mbps:.0f} Mbit/s"
    g, f = f"{p.gigabit_min_mbps:g}", f"{p.fast_ethernet_min_mbps:g}"
    if link == GIGABIT:
        return ProbeOutcome(Status.PASS, Text(
            f"{fig} {path_en}: gigabit class (>= {g} Mbit/s)",
            f"{path_zh} 实测 {fig}：达到千兆级（≥{g} Mbit/s）"), measured)
    if link == FAST_ETHERNET and p.required_class == FAST_ETHERNET:
        return ProbeOutcome(Status.WARN, Text(
            f"{fig} {path_en}: 100M class ({f}-{g} Mbit/s). The minimum 100M LAN is met; "
            f"the recommended gigabit LAN is not (check for 100M switches, ports or cables)",
            f"{path_zh} 实测 {fig}：百兆级（{f}–{g} Mbit/s）。满足最低配置百兆局域网，未达到推荐的"
            f"千兆局域网（请检查是否有百兆交换机、端口或网线）"), measured)
    if link == FAST_ETHERNET:
        return ProbeOutcome(Status.FAIL, Text(
            f"{fig} {path_en}: only 100M class, but this exam needs a gigabit LAN "
            f"(>= {g} Mbit/s). Look for a 100M switch, port, NIC or a cable that only "
            f"links at 100 Mbit/s on this path",
            f"{path_zh} 实测 {fig}：仅为百兆级，本考试要求千兆局域网（≥{g} Mbit/s）。请检查该路径上"
            f"是否有百兆交换机、端口、网卡，或只能以 100 Mbit/s 连接的网线"), measured)
    return ProbeOutcome(Status.FAIL, Text(
        f"{fig} {path_en}: below even the 100M class (< {f} Mbit/s). Look for a duplex "
        f"mismatch, a damaged cable or port, a 10 Mbit/s hop or other heavy traffic",
        f"{path_zh} 实测 {fig}：低于百兆级（<{f} Mbit/s）。请检查双工不匹配、网线或端口损坏、"
        f"10 Mbit/s 链路或其他大流量"), measured)


def _failure(p: _Params, exc: Iperf3Error) -> ProbeOutcome:
    where = f"{p.host}:{p.port}"
    measured = {"server": where, "direction": "reverse" if p.reverse else "forward"}
    if isinstance(exc, Iperf3Busy):
        return _error(
            f"the iperf3 server at {where} is busy with another test; tests on one path "
            "must not overlap. Run the check again when the other test is over",
            f"{where} 上的 iperf3 服务器正在进行另一项测试；同一路径上的测试不能同时进行。"
            "请在另一项测试结束后重新检查", measured)
    if isinstance(exc, Iperf3ConnectError):
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


async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    try:
        p = _Params.parse(params)
    except (TypeError, ValueError) as exc:
        return _error(f"bad throughput parameters: {exc}", f"吞吐量检测参数错误：{exc}")
    # Leave the runner slack: finishing exactly at its deadline is a race.
    margin_s = min(0.5, 0.1 * deadline_s)
    budget_s = deadline_s - 2 * margin_s
    connect_s = min(p.connect_timeout_s, max(0.5, budget_s - p.omit_s - p.duration_s - 1))
    if budget_s < needed_s(p.duration_s, p.omit_s, connect_s):
        return _error(
            f"a deadline of {deadline_s:g} s is too short for a {p.omit_s + p.duration_s} s "
            "throughput test; give the check a longer deadline",
            f"{deadline_s:g} 秒的时限不足以完成 {p.omit_s + p.duration_s} 秒的吞吐量测试；"
            "请延长该检查的时限")
    try:
        # Backstop only: the client already bounds every wait by budget_s.
        async with asyncio.timeout(deadline_s - margin_s):
            result = await run_test(p.host, p.port, p.duration_s, p.parallel, p.reverse,
                                    p.omit_s, connect_timeout_s=connect_s,
                                    deadline_s=budget_s)
    except Iperf3Error as exc:
        return _failure(p, exc)
    except TimeoutError:
        return _error(f"the throughput test with {p.host}:{p.port} did not finish within "
                      f"{deadline_s:g} s",
                      f"与 {p.host}:{p.port} 的吞吐量测试未能在 {deadline_s:g} 秒内完成")
    return judge(p, result)
