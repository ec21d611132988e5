"""The partner side of a throughput test: an iperf3-compatible server on this machine
for a few tests, stopped after them (a seat's agent serving the seat it is paired with;
the exam server's agent serving the whole room's load test, one port per seat).

params:
  bind        this machine's own address to listen on (the site's address of it)
  ports       [5201, 5202] or the room load's [5301, ...]: one test per port at a time
  tests       stop once this many tests have ended on all ports together
  idle_timeout_s  drop a client silent this long (3)

The probe returns when the tests have ended or shortly before its deadline, whichever
comes first; it measures nothing itself (the client's figure is the receiver's, as
iperf3's `sum_received`), it says how many tests it served.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import Any

from readiness.checkkind import SEAT, CheckKind, knobs
from readiness.results import ProbeOutcome, Status, Text

from .engines.iperf3_server import MAX_PORTS, Iperf3Server

POLL_S = 0.05
# ports below this are a system's own services: a caller may not make us take one
LOWEST_PORT = 1024


def _parse(params: dict[str, Any]) -> tuple[str, list[int], int, float]:
    bind = str(ipaddress.ip_address(str(params["bind"])))
    ports = [int(p) for p in params.get("ports") or []]
    if not ports or len(ports) > MAX_PORTS or len(set(ports)) != len(ports):
        raise ValueError(f"'ports' must list 1..{MAX_PORTS} different ports")
    if any(not LOWEST_PORT <= p <= 0xFFFF for p in ports):
        raise ValueError(f"'ports' must be {LOWEST_PORT}..65535")
    tests = int(params["tests"])
    if tests < 1:
        raise ValueError("'tests' must be at least 1")
    return bind, ports, tests, float(params["idle_timeout_s"])


async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    try:
        bind, ports, tests, idle_s = _parse(params)
    except (TypeError, ValueError) as exc:
        return ProbeOutcome(Status.ERROR, Text(f"bad throughput server parameters: {exc}",
                                               f"吞吐量测试服务器参数错误：{exc}"))
    end = time.monotonic() + deadline_s - min(0.5, 0.1 * deadline_s)
    servers = [Iperf3Server(bind, p, idle_timeout_s=idle_s) for p in ports]
    try:
        for server in servers:
            try:
                server.bind()
            except OSError as exc:
                return ProbeOutcome(Status.ERROR, Text(
                    f"cannot serve throughput tests on {bind} port {server.requested_port}: "
                    f"{exc.strerror or exc} (another server there? stop it, or let this "
                    "one serve)",
                    f"无法在 {bind} 的 {server.requested_port} 端口提供吞吐量测试："
                    f"{exc.strerror or exc}（该端口已有其他服务器？请停止它）"),
                    {"port": server.requested_port, "bind": bind})
        for server in servers:
            server.start()
        while (sum(s.sessions_ended for s in servers) < tests
               and time.monotonic() < end):
            await asyncio.sleep(POLL_S)
    finally:
        for server in servers:
            server.stop()
        await asyncio.to_thread(_shutdown_all, servers)
    done = sum(s.tests_done for s in servers)
    return ProbeOutcome(Status.PASS, Text(
        f"served {done} of {tests} throughput tests on {bind}",
        f"在 {bind} 上完成了 {tests} 项吞吐量测试中的 {done} 项"),
        {"tests_done": done, "tests": tests, "ports": ports, "bind": bind})


def _shutdown_all(servers: list[Iperf3Server]) -> None:
    for server in servers:
        server.shutdown(timeout_s=1.0)


# the receiving side of the room load and the seat pairs, on a seat or the exam server
KIND = CheckKind(probe="throughput_serve", run=run,
                 params=knobs("bind", "ports", "tests", "idle_timeout_s"),
                 runs_on=frozenset({SEAT}), exclusive=True, leg_of="room_load")
