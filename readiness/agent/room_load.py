"""The room load probe: every seat whose agent answers sends to the exam server at the
same moment, each to a port of its own (5301, 5302, ...). When the exam server runs
the agent, its agent serves those ports for this test and stops after
(`throughput_serve`); otherwise they are whatever listens there (`readiness
throughput-server --ports 5301-5340` started by hand).

A coordinator-side orchestration, not a probe of probes/: it talks to the seats'
agents, and probes/ may not import the agent client. check_run registers it under
"room_load" (agent/kinds.py). It returns figures, not a verdict: the
aggregate, each seat's part, the seats not measured and how the seats were run; the
judge is readiness/judges/throughput.judge_room_load.

With fewer ports than seats the seats go in waves, one at a time when none of those
ports answers (then the `single_port` server takes them in turn).

params:
  room             the room's id (for messages)
  seats            [{"label": "A01", "address": "198.18.10.101"}, ...]
  agent_port       the agents' port (site agent.port)
  server           the exam server's address
  base_port        the first room-load port (5301): the k-th ready seat gets base_port + k
  single_port      the per-seat server's port (5201), used when no load port answers
  duration_s, omit_s, connect_timeout_s   each seat's test
secrets:
  token            the site's agent token (absent: the probe says it cannot run)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from probes import throughput, throughput_serve

from ..checks import AgentRoute
from ..redact import Secret
from ..results import ProbeOutcome, Status, Text
from .remote import (
    CALL_MARGIN_S,
    HEALTH_TIMEOUT_S,
    QUICK_ERROR_S,
    RETRY_PAUSE_S,
    AgentRemote,
    listening,
)

PORT_CHECK_TIMEOUT_S = 1.0
# the exam server's agent starts its load ports within this
SERVE_START_S = 2.0
# below an agent's own limit on a probe's deadline (Limits.max_deadline_s)
MAX_SERVE_S = 280.0
# the exam server's agent drops a seat that went silent this long mid-test
SERVE_IDLE_S = 3.0


def attempts_s(duration_s: int, omit_s: int, connect_timeout_s: float) -> float:
    """One test by an agent, with room for a quick error and the retry after it."""
    return (QUICK_ERROR_S + RETRY_PAUSE_S
            + throughput.deadline_for(duration_s, omit_s, connect_timeout_s) + CALL_MARGIN_S)


def load_deadline(seats: int, duration_s: int, omit_s: int,
                  connect_timeout_s: float) -> float:
    """The room load's deadline, enough for the worst case: one seat at a time."""
    wave = attempts_s(duration_s, omit_s, connect_timeout_s)
    return HEALTH_TIMEOUT_S + PORT_CHECK_TIMEOUT_S + max(1, seats) * wave + 1.0


async def open_ports(host: str, ports: list[int]) -> list[int]:
    """Those of `ports` that accept a connection. Each is closed before sending a byte:
    our throughput server takes that as a port check and carries on."""

    async def one(port: int) -> int | None:
        try:
            async with asyncio.timeout(PORT_CHECK_TIMEOUT_S):
                _, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError):
            return None
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(PORT_CHECK_TIMEOUT_S):
                await writer.wait_closed()
        return port

    found = await asyncio.gather(*(one(p) for p in ports))
    return [p for p in found if p is not None]


async def _test_here(name: str, params: dict[str, Any], deadline_s: float,
                     secrets: dict[str, Secret] | None = None) -> ProbeOutcome:
    # only reached if a seat's (or the exam server's) address is this machine's own
    del secrets
    if name == "throughput_serve":
        return await throughput_serve.run(params, deadline_s)
    return await throughput.run(params, deadline_s)


async def _ports_up(host: str, wanted: list[int], serving: asyncio.Future[ProbeOutcome]
                    ) -> list[int]:
    """The load ports once the exam server's agent listens on them, or, if its agent
    could not serve them, whatever listens there (a `throughput-server` started by hand)."""
    give_up = time.monotonic() + SERVE_START_S
    while True:
        found = await open_ports(host, wanted)
        if len(found) == len(wanted) or serving.done() or time.monotonic() > give_up:
            return found
        await asyncio.sleep(0.05)


async def _serve_on_exam_server(remote: AgentRemote, route: AgentRoute, ports: list[int],
                                seats: int, left_s: float) -> ProbeOutcome:
    return await remote.run(route, "throughput_serve", {
        "bind": route.address, "ports": ports, "tests": seats,
        "idle_timeout_s": SERVE_IDLE_S}, min(left_s, MAX_SERVE_S))


async def run(params: dict[str, Any], deadline_s: float,
              secrets: dict[str, Secret] | None = None) -> ProbeOutcome:
    end = time.monotonic() + deadline_s
    room = str(params["room"])
    token = (secrets or {}).get("token")
    if token is None:
        return ProbeOutcome(Status.SKIP, Text(
            "the room load test runs on the seats' agents, and the site file has no "
            "agent.token",
            "整体负载测试由考位代理执行，而站点文件中没有 agent.token"))
    server = str(params["server"])
    port = int(params["agent_port"])
    duration, omit = int(params["duration_s"]), int(params["omit_s"])
    connect_s = float(params["connect_timeout_s"])
    test = {"host": server, "duration_s": duration, "omit_s": omit, "reverse": False,
            "connect_timeout_s": connect_s, "parallel": 1}
    need_s = throughput.deadline_for(duration, omit, connect_s)
    remote = AgentRemote(token, _test_here)
    routes = [AgentRoute(str(s["label"]), str(s["address"]), port, retry_quick_error=True)
              for s in params["seats"]]
    server_route = AgentRoute("exam server", server, port)
    *replies, server_health = await asyncio.gather(
        *(remote.health(r, HEALTH_TIMEOUT_S) for r in [*routes, server_route]))
    ready = [r for r, reply in zip(routes, replies, strict=True) if listening(reply)]
    if not ready:
        return ProbeOutcome(Status.SKIP, Text(
            f"no seat agent answers in room {room}: the room load test runs on the "
            "seats' agents (start `readiness agent` on the seat PCs)",
            f"考场 {room} 中没有考位代理应答：整体负载测试由考位代理执行"
            "（请在考生机上启动 `readiness agent`）"), {"seats": 0})
    base = int(params["base_port"])
    wanted = [base + i for i in range(len(ready))]
    serving: asyncio.Future[ProbeOutcome] | None = None
    if listening(server_health):
        # the exam server runs the agent: it serves the load ports for this test only
        serving = asyncio.ensure_future(_serve_on_exam_server(
            remote, server_route, wanted, len(ready), end - time.monotonic() - 0.2))
        ports = await _ports_up(server, wanted, serving)
    else:
        ports = await open_ports(server, wanted)
    if not ports:
        # no room-load ports: the per-seat server takes the seats one after another
        ports = [int(params["single_port"])]
    waves = [ready[i:i + len(ports)] for i in range(0, len(ready), len(ports))]

    async def one(route: AgentRoute, port: int, wave_end: float
                  ) -> tuple[str, float | None, str]:
        # one test (and its quick retry) per seat, never the whole room's deadline: an
        # agent refuses a deadline beyond its own limit
        budget_s = min(wave_end - time.monotonic(), attempts_s(duration, omit, connect_s))
        outcome = await remote.run(route, "throughput", {**test, "port": port},
                                   max(0.5, budget_s))
        mbps = outcome.measured.get("throughput_mbps")
        if outcome.status in (Status.ERROR, Status.SKIP) or not isinstance(mbps, int | float):
            return route.label, None, outcome.message.en
        return route.label, float(mbps), ""

    per_seat: dict[str, float] = {}
    missing: dict[str, str] = {}
    best = 0.0
    for wave in waves:
        left = end - time.monotonic() - 0.3
        if left < need_s + CALL_MARGIN_S:
            missing.update({r.label: "no time left in the check's deadline" for r in wave})
            continue
        # a wave may use the rest of the deadline only if it is the last one
        wave_end = time.monotonic() + (left if wave is waves[-1] else
                                       attempts_s(duration, omit, connect_s))
        got = await asyncio.gather(*(one(r, p, min(wave_end, end - 0.3))
                                     for r, p in zip(wave, ports, strict=False)))
        best = max(best, sum(m for _, m, _ in got if m is not None))
        per_seat.update({label: m for label, m, _ in got if m is not None})
        missing.update({label: why for label, m, why in got if m is None})
    measured: dict[str, Any] = {
        "per_seat": per_seat, "not_measured": missing, "aggregate_mbps": best,
        "concurrent": min(len(ports), len(ready)), "waves": len(waves), "server": server}
    if serving is not None:
        served = await serving
        measured["served_by_agent"] = served.status is Status.PASS
    absent = [r.label for r in routes if r not in ready]
    if absent:
        measured["without_agent"] = absent
    # figures, not a verdict: judges/throughput.judge_room_load compares them
    return ProbeOutcome(Status.PASS, Text(
        f"{len(per_seat)} seats measured under load: {best:.0f} Mbit/s together",
        f"负载测试测得 {len(per_seat)} 个考位：合计 {best:.0f} Mbit/s"), measured)
