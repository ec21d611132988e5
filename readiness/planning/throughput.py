"""LAN-SPEED by measurement: TCP throughput between every seat and the exam server,
each seat alone in both directions, then the whole room at once.

Per seat, two checks (seat → exam server, exam server → seat): the seat's agent runs
the `throughput` probe against the exam server's iperf3 server on port 5201 (stock
`iperf3 -s` or `readiness throughput-server`). A seat whose agent does not answer is
measured from the coordinator against the seat's own iperf3-compatible server on
5201, if one answers; otherwise it is skipped, naming what to start on that PC.

Room load, one check per room: every seat whose agent answers sends to the exam server
at the same moment, each to a port of its own (5301, 5302, ...: the exam server runs
`readiness throughput-server --ports 5301-5340`). The figures are the room's aggregate
and each seat's part of it. With fewer ports than seats the seats go in waves, one at
a time when none of those ports answers (then the 5201 server takes them in turn), and
the result can only warn: the room was never loaded at once.

Every check is exclusive: the runner never overlaps two, so no test slows another and
a stock iperf3 server, which serves one test at a time, never refuses one of ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from probes import throughput
from probes.iperf3_client import needed_s
from probes.iperf3_proto import DEFAULT_PORT
from probes.seat_agent import reply_problem
from readiness.agent.client import AgentReply, call_agent
from readiness.agent.server import HEALTH, RUN, outcome_from_dict

from ..checks import Check
from ..config.load import Seat
from ..config.secrets import Secret
from ..config.site import Room
from ..results import ProbeOutcome, Status, Text, worst

if TYPE_CHECKING:
    from ..config.profile import Requirement
    from . import PlanContext

COORDINATOR = "coordinator"
SEAT_PORT = DEFAULT_PORT  # 5201: where a seat's test meets the exam server (or a seat's own)
# The k-th seat of the room load tests port LOAD_BASE_PORT + k of the exam server.
LOAD_BASE_PORT = 5301
CONNECT_TIMEOUT_S = 2.0
AGENT_HEALTH_TIMEOUT_S = 2.0
PORT_CHECK_TIMEOUT_S = 1.0
# Seats of the room load start a little apart (one HTTP request each): a second of
# warm-up makes sure all of them are sending before any of them counts.
LOAD_OMIT_S = 1
# an agent's reply travels back after its own deadline: this much on top
CALL_MARGIN_S = 1.0
SLOWEST_NAMED = 3
ROUTES_KEY = "lan_speed_routes"
# The first words of probes.throughput's message when nothing listens on the port.
NO_SERVER_PREFIX = "cannot reach the iperf3 server"
# Stock iperf3 3.12 winds a test down and re-creates its listener after each one: a
# test that follows at once can be refused, reset or turned away as busy. An error
# this quick is not a measurement, so it is tried once more after a pause.
QUICK_ERROR_S = 1.0
RETRY_PAUSE_S = 0.5


def probe_deadline(duration_s: int, omit_s: int) -> float:
    """What probes.throughput needs for one test: the test itself, the connect, the
    results exchange, and the half-second margins it keeps on both ends."""
    return needed_s(duration_s, omit_s, CONNECT_TIMEOUT_S) + 1.0


def _attempts_s(duration_s: int, omit_s: int) -> float:
    """One test by an agent, with room for a quick error and the retry after it."""
    return (QUICK_ERROR_S + RETRY_PAUSE_S + probe_deadline(duration_s, omit_s)
            + CALL_MARGIN_S)


def seat_deadline(duration_s: int, omit_s: int) -> float:
    """A seat check's deadline: the agent's health, then its test (or the coordinator's
    stand-in test, which fits in what is left)."""
    return AGENT_HEALTH_TIMEOUT_S + _attempts_s(duration_s, omit_s) + 0.5


def load_deadline(seats: int, duration_s: int) -> float:
    """The room load's deadline, enough for the worst case: one seat at a time."""
    wave = _attempts_s(duration_s, LOAD_OMIT_S)
    return AGENT_HEALTH_TIMEOUT_S + PORT_CHECK_TIMEOUT_S + max(1, seats) * wave + 1.0


# -- who can measure a seat ------------------------------------------------------------------


@dataclass
class _Routes:
    """What this run learned about each seat's vantage, asked once per seat however
    many checks need it (two directions and the room load)."""

    token: Secret | None
    agent_port: int
    _health: dict[str, asyncio.Future[AgentReply]] = field(default_factory=dict)
    # seat address -> why the coordinator could not test it (no server on 5201)
    no_server: dict[str, str] = field(default_factory=dict)

    async def health(self, address: str) -> AgentReply:
        if self.token is None:
            return AgentReply("absent", "the site file has no agent.token")
        task = self._health.get(address)
        if task is None:
            task = asyncio.ensure_future(call_agent(
                address, self.agent_port, HEALTH, None, self.token,
                timeout_s=AGENT_HEALTH_TIMEOUT_S, method="GET"))
            self._health[address] = task
        return await asyncio.shield(task)


def _routes(ctx: PlanContext) -> _Routes:
    routes = ctx.agents.get(ROUTES_KEY)
    if not isinstance(routes, _Routes):
        routes = ctx.agents[ROUTES_KEY] = _Routes(ctx.site.secret("agent.token"),
                                                  ctx.site.model.agent.port)
    return routes


async def _run_on_agent(routes: _Routes, seat: Seat, params: dict[str, Any],
                        remote_s: float) -> ProbeOutcome | None:
    """The throughput probe run by the seat's agent; None when that agent has no such
    probe (an older readiness), so the caller measures another way."""
    assert routes.token is not None
    where = f"{seat.label} ({seat.address}:{routes.agent_port})"
    body = {"probe": "throughput", "params": params, "deadline_s": remote_s}
    reply = await call_agent(seat.address, routes.agent_port, RUN, body, routes.token,
                             timeout_s=remote_s + CALL_MARGIN_S)
    if reply.error_code == "unknown_probe":
        return None
    problem = reply_problem(reply, where, "skip")
    if problem:
        return problem
    try:
        return outcome_from_dict((reply.body or {})["outcome"])
    except (KeyError, TypeError, ValueError):
        return ProbeOutcome(Status.ERROR, Text(
            f"the agent on {where} sent a reply without an outcome",
            f"{where} 上的代理返回的结果不完整"))


async def _retried(run: Callable[[float], Awaitable[ProbeOutcome | None]], end: float,
                   need_s: float) -> ProbeOutcome | None:
    """`run(budget_s)`, and once more after RETRY_PAUSE_S if it erred within
    QUICK_ERROR_S and the deadline still holds a whole test."""
    started = time.monotonic()
    outcome = await run(min(need_s, end - started))
    if (outcome is None or outcome.status != Status.ERROR
            or time.monotonic() - started > QUICK_ERROR_S
            or end - time.monotonic() < RETRY_PAUSE_S + need_s):
        return outcome
    await asyncio.sleep(RETRY_PAUSE_S)
    return await run(min(need_s, end - time.monotonic()))


def _seen_from(outcome: ProbeOutcome, en: str, zh: str, prefix_en: str = "",
               prefix_zh: str = "") -> ProbeOutcome:
    """The probe speaks of "this computer"; a report is read elsewhere, so name it."""
    message = Text(prefix_en + outcome.message.en.replace("this computer", en),
                   prefix_zh + outcome.message.zh.replace("本机", zh))
    return ProbeOutcome(outcome.status, message, outcome.measured, list(outcome.evidence))


# -- one seat, one direction ---------------------------------------------------------------


def _seat_check(routes: _Routes, room: Room, seat: Seat, upload: bool,
                th: dict[str, Any]) -> Check:
    server = room.exam_servers.primary.address
    duration, omit = int(th.get("duration_s", 1)), int(th.get("omit_s", 0))
    judged = {k: th[k] for k in ("gigabit_class_min_mbps", "fast_ethernet_class_min_mbps",
                                 "required_class") if k in th}
    # As the seat's agent runs it: forward = the seat sends.
    params: dict[str, Any] = {"host": server, "port": SEAT_PORT, "duration_s": duration,
                              "omit_s": omit, "reverse": not upload,
                              "connect_timeout_s": CONNECT_TIMEOUT_S, **judged}
    path = "seat_to_server" if upload else "server_to_seat"
    seat_en, seat_zh = f"seat {seat.label}", f"考位 {seat.label}"
    if upload:
        target = f"upload: seat {seat.label} ({seat.address}) → exam server ({server})"
    else:
        target = f"download: exam server ({server}) → seat {seat.label} ({seat.address})"
    check = Check(
        check_id=f"LAN-SPEED/{room.id}/{seat.label}/{'upload' if upload else 'download'}",
        requirement="LAN-SPEED",
        target=target,
        vantage=f"agent {seat.label}" if routes.token is not None else COORDINATOR,
        probe="throughput",
        params=params,
        threshold={**judged, "duration_s": duration, "omit_s": omit},
        deadline_s=seat_deadline(duration, omit),
        exclusive=True,
    )
    need_s = probe_deadline(duration, omit)

    async def from_coordinator(p: dict[str, Any], left_s: float,
                               agent_reason: str) -> ProbeOutcome:
        # the seat's own server sends when the seat is the sender
        local = {**p, "host": seat.address, "port": SEAT_PORT, "reverse": upload}
        measured = {"seat": seat.label, "agent": agent_reason}
        if seat.address not in routes.no_server:
            outcome = await _retried(lambda budget_s: throughput.run(local, budget_s),
                                     time.monotonic() + left_s, need_s)
            assert outcome is not None
            if not (outcome.status == Status.ERROR
                    and outcome.message.en.startswith(NO_SERVER_PREFIX)):
                outcome.measured.update(measured, path=path, vantage=COORDINATOR)
                return _seen_from(
                    outcome, "the coordinator", "协调机",
                    f"{seat.label} has no agent; measured from the coordinator against its "
                    "throughput server: ",
                    f"{seat.label} 无代理；改由协调机对其吞吐量测试服务器测量：")
            routes.no_server[seat.address] = outcome.message.en
        return ProbeOutcome(Status.SKIP, Text(
            f"no agent and no throughput server on {seat.label}: start `readiness agent` or "
            "`readiness throughput-server` on that PC",
            f"{seat.label} 上既没有代理也没有吞吐量测试服务器：请在该电脑上启动 "
            "`readiness agent` 或 `readiness throughput-server`"),
            {**measured, "server": routes.no_server[seat.address], "path": path})

    async def fn(p: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        end = time.monotonic() + deadline_s
        health = await routes.health(seat.address)
        if health.status == "ok":
            outcome = await _retried(
                lambda budget_s: _run_on_agent(routes, seat, p, budget_s),
                end - CALL_MARGIN_S - 0.2, need_s)
            if outcome is not None:
                outcome.measured.update(seat=seat.label, path=path, vantage="agent")
                return _seen_from(outcome, seat_en, seat_zh)
            reason = f"the agent on {seat.label} has no throughput probe (update readiness)"
        else:
            reason = health.reason
        # The runner reads the vantage after the probe: say where it really ran from.
        check.vantage = COORDINATOR
        return await from_coordinator(p, end - time.monotonic() - 0.3, reason)

    check.fn = fn
    return check


# -- the whole room at once ---------------------------------------------------------------


async def _open_ports(host: str, ports: list[int]) -> list[int]:
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


@dataclass
class LoadFigures:
    """What the room load measured: Mbit/s per seat, the seats that could not be
    measured (and why), and how the seats were run."""

    per_seat: dict[str, float]
    not_measured: dict[str, str]
    aggregate_mbps: float  # the most the exam server carried at once
    concurrent: int  # seats that ran at the same moment (the server's ports)
    waves: int


def _classify_words(link: str, agg: str, g: str, f: str) -> tuple[str, str]:
    if link == throughput.GIGABIT:
        return f"{agg} Mbit/s together, gigabit class (>= {g} Mbit/s)", \
            f"合计 {agg} Mbit/s，达到千兆级（≥{g} Mbit/s）"
    if link == throughput.FAST_ETHERNET:
        return f"{agg} Mbit/s together, only 100M class ({f}-{g} Mbit/s)", \
            f"合计 {agg} Mbit/s，仅为百兆级（{f}–{g} Mbit/s）"
    return f"{agg} Mbit/s together, below even the 100M class (< {f} Mbit/s)", \
        f"合计 {agg} Mbit/s，低于百兆级（<{f} Mbit/s）"


def judge_load(fig: LoadFigures, th: dict[str, Any], server: str) -> ProbeOutcome:
    """The rule (documented with load_min_share_pct in the profiles): the aggregate is
    judged like one path, since it is what the exam server's link carried with the
    room pulling at once; a seat with less than load_min_share_pct of an even split
    is named and warns; seats not measured, or a room loaded in waves, warn."""
    g_min = float(th.get("gigabit_class_min_mbps", 500))
    f_min = float(th.get("fast_ethernet_class_min_mbps", 80))
    required = str(th.get("required_class", throughput.GIGABIT))
    share_pct = float(th.get("load_min_share_pct", 5))
    ranked = sorted(fig.per_seat.items(), key=lambda item: item[1])
    measured: dict[str, Any] = {
        "aggregate_mbps": round(fig.aggregate_mbps, 1),
        "seats": len(fig.per_seat),
        "slowest": [{"seat": s, "mbps": round(m, 1)} for s, m in ranked[:SLOWEST_NAMED]],
        "per_seat": {s: round(m, 1) for s, m in fig.per_seat.items()},
        "concurrent": fig.concurrent,
        "waves": fig.waves,
        "server": server,
    }
    if fig.not_measured:
        measured["not_measured"] = dict(fig.not_measured)
    if not fig.per_seat:
        names = ", ".join(fig.not_measured)
        first = next(iter(fig.not_measured.values()), "")
        return ProbeOutcome(Status.ERROR, Text(
            f"no seat could be measured under load ({names}): {first}",
            f"负载测试中没有考位测得结果（{names}）：{first}"), measured)
    link = throughput.classify(fig.aggregate_mbps, g_min, f_min)
    measured["link_class"] = link
    statuses = [Status.PASS if link == throughput.GIGABIT else
                Status.WARN if link == throughput.FAST_ETHERNET
                and required == throughput.FAST_ETHERNET else Status.FAIL]
    agg, g, f = f"{fig.aggregate_mbps:.0f}", f"{g_min:g}", f"{f_min:g}"
    words_en, words_zh = _classify_words(link, agg, g, f)
    n = len(fig.per_seat)
    at_once = fig.waves == 1
    if at_once:
        en = [f"{n} seats sent to the exam server {server} at once: {words_en}"]
        zh = [f"{n} 个考位同时向考试服务器 {server} 发送：{words_zh}"]
    else:
        en = [f"{n} seats sent to the exam server {server}, {fig.concurrent} at a time: "
              f"{words_en}"]
        zh = [f"{n} 个考位向考试服务器 {server} 发送，每次 {fig.concurrent} 个：{words_zh}"]
    if link != throughput.GIGABIT:
        en.append("look for a 100M port, NIC or cable on the exam server's path, or a slow "
                  "uplink between switches")
        zh.append("请检查考试服务器路径上是否有百兆端口、网卡或网线，或交换机之间的级联链路过慢")
    slowest = ", ".join(f"{s} {m:.0f}" for s, m in ranked[:SLOWEST_NAMED])
    if at_once:
        fair = fig.aggregate_mbps / n
        measured["fair_share_mbps"] = round(fair, 1)
        en.append(f"an even share is {fair:.0f} Mbit/s; slowest: {slowest}")
        zh.append(f"平均每个考位 {fair:.0f} Mbit/s；最慢：{slowest}")
        starved = [s for s, m in ranked if n > 1 and m < fair * share_pct / 100]
        if starved:
            statuses.append(Status.WARN)
            measured["below_share"] = starved
            en.append(f"starved under load, below {share_pct:g}% of an even share: "
                      f"{', '.join(starved)} (check that seat's cable and switch port)")
            zh.append(f"负载下几乎无流量（低于平均份额的 {share_pct:g}%）：{', '.join(starved)}"
                      "（请检查该考位的网线和交换机端口）")
    else:
        statuses.append(Status.WARN)
        en.append(f"slowest: {slowest}; the room was not loaded at once: run `readiness "
                  f"throughput-server --ports {LOAD_BASE_PORT}-{LOAD_BASE_PORT + n - 1}` on "
                  "the exam server so every seat has a port of its own")
        zh.append(f"最慢：{slowest}；未能同时加载整个考场：请在考试服务器上运行 `readiness "
                  f"throughput-server --ports {LOAD_BASE_PORT}-{LOAD_BASE_PORT + n - 1}`，"
                  "使每个考位各有一个端口")
    if fig.not_measured:
        statuses.append(Status.WARN)
        names = ", ".join(fig.not_measured)
        en.append(f"not measured: {names}")
        zh.append(f"未测得：{names}")
    return ProbeOutcome(worst(statuses), Text("; ".join(en), "；".join(zh)), measured)


def _load_check(routes: _Routes, room: Room, seats: list[Seat], th: dict[str, Any]) -> Check:
    server = room.exam_servers.primary.address
    duration = int(th.get("load_duration_s", 2))
    need_s = probe_deadline(duration, LOAD_OMIT_S)
    threshold = {k: th[k] for k in ("gigabit_class_min_mbps", "fast_ethernet_class_min_mbps",
                                    "required_class", "load_min_share_pct") if k in th}
    # JSON-able: what each seat's agent is asked to run (the port is its own)
    params: dict[str, Any] = {"host": server, "port": LOAD_BASE_PORT, "duration_s": duration,
                              "omit_s": LOAD_OMIT_S, "reverse": False,
                              "connect_timeout_s": CONNECT_TIMEOUT_S}

    async def one(seat: Seat, port: int, end: float) -> tuple[str, float | None, str]:
        p = {**params, "port": port}
        outcome = await _retried(lambda budget_s: _run_on_agent(routes, seat, p, budget_s),
                                 end - CALL_MARGIN_S, need_s)
        if outcome is None:
            return seat.label, None, "its agent has no throughput probe (update readiness)"
        mbps = outcome.measured.get("throughput_mbps")
        if outcome.status in (Status.ERROR, Status.SKIP) or not isinstance(mbps, int | float):
            return seat.label, None, outcome.message.en
        return seat.label, float(mbps), ""

    async def fn(p: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        end = time.monotonic() + deadline_s
        if routes.token is None:
            return ProbeOutcome(Status.SKIP, Text(
                "the room load test runs on the seats' agents, and the site file has no "
                "agent.token",
                "整体负载测试由考位代理执行，而站点文件中没有 agent.token"))
        replies = await asyncio.gather(*(routes.health(s.address) for s in seats))
        ready = [s for s, r in zip(seats, replies, strict=True) if r.status == "ok"]
        if not ready:
            return ProbeOutcome(Status.SKIP, Text(
                f"no seat agent answers in room {room.id}: the room load test runs on the "
                "seats' agents (start `readiness agent` on the seat PCs)",
                f"考场 {room.id} 中没有考位代理应答：整体负载测试由考位代理执行"
                "（请在考生机上启动 `readiness agent`）"), {"seats": 0})
        ports = await _open_ports(server, [LOAD_BASE_PORT + i for i in range(len(ready))])
        if not ports:
            # no room-load ports: the 5201 server takes the seats one after another
            ports = [SEAT_PORT]
        waves = [ready[i:i + len(ports)] for i in range(0, len(ready), len(ports))]
        per_seat: dict[str, float] = {}
        missing: dict[str, str] = {}
        best = 0.0
        for wave in waves:
            left = end - time.monotonic() - 0.3
            if left < need_s + CALL_MARGIN_S:
                missing.update({s.label: "no time left in the check's deadline" for s in wave})
                continue
            # a wave may use the rest of the deadline only if it is the last one
            wave_end = time.monotonic() + (left if wave is waves[-1] else
                                           _attempts_s(duration, LOAD_OMIT_S))
            got = await asyncio.gather(*(one(s, port, min(wave_end, end - 0.3))
                                         for s, port in zip(wave, ports, strict=False)))
            best = max(best, sum(m for _, m, _ in got if m is not None))
            per_seat.update({label: m for label, m, _ in got if m is not None})
            missing.update({label: why for label, m, why in got if m is None})
        absent = [s.label for s in seats if s not in ready]
        figures = LoadFigures(per_seat, missing, best, min(len(ports), len(ready)),
                              len(waves))
        outcome = judge_load(figures, th, server)
        if absent:
            outcome.measured["without_agent"] = absent
        return outcome

    return Check(
        check_id=f"LAN-SPEED/{room.id}/load",
        requirement="LAN-SPEED",
        target=f"room {room.id} load → exam server ({server})",
        vantage=f"agents of room {room.id}" if routes.token is not None else COORDINATOR,
        probe="throughput",
        params=params,
        threshold={**threshold, "load_duration_s": duration},
        deadline_s=load_deadline(len(seats), duration),
        exclusive=True,
        fn=fn,
    )


# -- planners ------------------------------------------------------------------------------


def plan_seat_throughput(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    """Each seat against the exam server, both directions, one test at a time."""
    routes = _routes(ctx)
    th = req.thresholds
    return [_seat_check(routes, room, seat, upload, th)
            for seat in ctx.site.seats[room.id] for upload in (True, False)]


def plan_room_load(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    """The whole room against the exam server at once."""
    seats = ctx.site.seats[room.id]
    if not seats:
        return []
    return [_load_check(_routes(ctx), room, seats, req.thresholds)]
