"""LAN-SPEED by measurement: every seat's own link, then the whole room at once against
the exam server.

The site's `lan_speed.method` says how a seat's own link is proven. "pairs" (the
default, with an agent token): one check, the `seat_pairs` orchestration
(readiness/agent/seat_pairs.py), has the seats' agents test each other, half the room
against the other half at once, and one derived check per seat and direction reads its
figures. "server" (or no token): every seat against the exam server, as below.

Per seat, two checks (seat → exam server, exam server → seat): the seat's agent runs
the `throughput` probe against the exam server's iperf3 server on port 5201 (stock
`iperf3 -s` or `readiness throughput-server`). A seat whose agent does not answer is
measured from the coordinator against the seat's own iperf3-compatible server on
5201 (the route's fallback); without one the judge skips it, naming what to start on
that PC.

Room load, one check per room: the `room_load` probe (readiness/agent/room_load.py)
has every seat whose agent answers send to the exam server at once, each to a port of
its own (5301, 5302, ...).

Every check is exclusive and names the links it loads (the seat's card, the exam
server's): the runner never overlaps two that share one, so no test slows another and a
stock iperf3 server, which serves one test at a time, never refuses one of ours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..checks import COORDINATOR, AgentRoute, Check, nic_link
from ..config.load import Seat
from ..config.profile import LanSpeedThresholds
from ..config.site import Room
from ..registry import deadline
from . import subjects
from .context import thresholds_of
from .knobs import knobs

if TYPE_CHECKING:
    from ..config.profile import Requirement
    from .context import PlanContext

COORDINATOR_LINK = nic_link(COORDINATOR)
SEAT_PORT = 5201  # iperf3's own port: where a seat's test meets the exam server (or a seat's own)
# The k-th seat of the room load tests port LOAD_BASE_PORT + k of the exam server.
LOAD_BASE_PORT = 5301
CONNECT_TIMEOUT_S = knobs("throughput")["connect_timeout_s"]
# Seats of the room load start a little apart (one HTTP request each): a second of
# warm-up makes sure all of them are sending before any of them counts.
LOAD_OMIT_S = 1


def seat_deadline(params: dict[str, Any]) -> float:
    """A seat check's deadline: the agent's health, then its test (or the coordinator's
    stand-in test, which fits in what is left)."""
    return deadline("throughput", params, via_agent=True, retry_quick_error=True)


def _has_token(ctx: PlanContext) -> bool:
    return ctx.site.model.agent.token is not None


def _seat_check(ctx: PlanContext, room: Room, seat: Seat, upload: bool,
                th: LanSpeedThresholds) -> Check:
    server = room.exam_servers.primary.address
    duration, omit = th.duration_s, th.omit_s
    # As the seat's agent runs it: forward = the seat sends.
    params: dict[str, Any] = {"host": server, "port": SEAT_PORT, "duration_s": duration,
                              "omit_s": omit, "reverse": not upload,
                              **knobs("throughput")}
    # No agent: from here against the seat's own server, which sends when the seat is
    # the sender (a reverse test from here)
    stand_in = {**params, "host": seat.address, "port": SEAT_PORT, "reverse": upload}
    route = AgentRoute(seat.label, seat.address, ctx.site.model.agent.port,
                       when_absent="coordinator", fallback_params=stand_in,
                       retry_quick_error=True)
    path = "seat_to_server" if upload else "server_to_seat"
    direction = "upload" if upload else "download"
    return Check(
        check_id=f"LAN-SPEED/{room.id}/{seat.label}/{direction}",
        requirement="LAN-SPEED",
        subject=subjects.seat(room, seat.label, seat.address),
        aspect=direction,
        vantage=route.vantage() if _has_token(ctx) else COORDINATOR,
        probe="throughput",
        params=params,
        threshold={"gigabit_class_min_mbps": th.gigabit_class_min_mbps,
                   "fast_ethernet_class_min_mbps": th.fast_ethernet_class_min_mbps,
                   "required_class": th.required_class, "duration_s": duration,
                   "omit_s": omit},
        deadline_s=seat_deadline(params),
        exclusive=True,
        # a stand-in from here loads the coordinator's card instead of the seat's own
        links=frozenset({nic_link(seat.address), nic_link(server), COORDINATOR_LINK}),
        agent=route,
        judge="throughput.seat",
        judge_params={"thresholds": th, "seat": seat.label, "path": path},
    )


def _load_check(ctx: PlanContext, room: Room, seats: list[Seat],
                th: LanSpeedThresholds) -> Check:
    server = room.exam_servers.primary.address
    duration = th.load_duration_s
    params: dict[str, Any] = {
        "room": room.id,
        "seats": [{"label": s.label, "address": s.address} for s in seats],
        "agent_port": ctx.site.model.agent.port, "server": server,
        "base_port": LOAD_BASE_PORT, "single_port": SEAT_PORT,
        "duration_s": duration, "omit_s": LOAD_OMIT_S,
        "connect_timeout_s": CONNECT_TIMEOUT_S}
    has_token = _has_token(ctx)
    return Check(
        check_id=f"LAN-SPEED/{room.id}/load",
        requirement="LAN-SPEED",
        subject=subjects.room_subject(room),
        aspect="load",
        vantage=f"agents of room {room.id}" if has_token else COORDINATOR,
        probe="room_load",
        params=params,
        threshold={"gigabit_class_min_mbps": th.gigabit_class_min_mbps,
                   "fast_ethernet_class_min_mbps": th.fast_ethernet_class_min_mbps,
                   "required_class": th.required_class,
                   "load_min_share_pct": th.load_min_share_pct, "load_duration_s": duration},
        deadline_s=deadline("room_load", params),
        exclusive=True,
        links=frozenset({nic_link(server), *(nic_link(s.address) for s in seats)}),
        # without a token the probe says so itself (a skip, not a missing secret)
        secrets={"token": "agent.token"} if has_token else {},
        judge="throughput.room_load",
        judge_params={"thresholds": th, "load_base_port": LOAD_BASE_PORT},
    )


def _pairs_checks(ctx: PlanContext, room: Room, seats: list[Seat],
                  th: LanSpeedThresholds) -> list[Check]:
    duration, omit = th.duration_s, th.omit_s
    pairs_id = f"LAN-SPEED/{room.id}/pairs"
    threshold = {"gigabit_class_min_mbps": th.gigabit_class_min_mbps,
                 "fast_ethernet_class_min_mbps": th.fast_ethernet_class_min_mbps,
                 "required_class": th.required_class, "duration_s": duration, "omit_s": omit}
    # a pair below the class the site hopes for is tried again to name the slow seat
    good = th.gigabit_class_min_mbps
    pairs_params = {"room": room.id,
                    "seats": [{"label": s.label, "address": s.address} for s in seats],
                    "agent_port": ctx.site.model.agent.port, "port": SEAT_PORT,
                    "duration_s": duration, "omit_s": omit,
                    "connect_timeout_s": CONNECT_TIMEOUT_S, "good_mbps": good,
                    # a figure just under one of these is tried again alone
                    "class_floors_mbps": [th.gigabit_class_min_mbps,
                                          th.fast_ethernet_class_min_mbps]}
    pairs = Check(
        check_id=pairs_id, requirement="LAN-SPEED",
        subject=subjects.room_subject(room), aspect="pairs",
        vantage=f"agents of room {room.id}", probe="seat_pairs",
        params=pairs_params,
        threshold=threshold,
        deadline_s=deadline("seat_pairs", pairs_params),
        exclusive=True,
        links=frozenset({COORDINATOR_LINK, *(nic_link(s.address) for s in seats)}),
        secrets={"token": "agent.token"},
        judge="throughput.pairs")
    per_seat = [
        Check(check_id=f"LAN-SPEED/{room.id}/{seat.label}/{path}", requirement="LAN-SPEED",
              subject=subjects.seat(room, seat.label, seat.address), aspect=f"pair_{path}",
              vantage=f"agent {seat.label}", threshold=threshold,
              judge="throughput.pair_seat",
              judge_params={"thresholds": th, "seat": seat.label, "address": seat.address,
                            "path": path, "source": pairs_id, "port": SEAT_PORT})
        for seat in seats for path in ("upload", "download")]
    return [pairs, *per_seat]


# -- planners ------------------------------------------------------------------------------


def plan_seat_throughput(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    """Each seat's own link: in pairs of seats at once, or (lan_speed.method: server, or
    no agent token) each seat against the exam server, both directions, in turn."""
    th = thresholds_of(req, LanSpeedThresholds)
    seats = ctx.site.seats[room.id]
    if room.lan_speed.method == "pairs" and _has_token(ctx):
        return _pairs_checks(ctx, room, seats, th) if seats else []
    return [_seat_check(ctx, room, seat, upload, th)
            for seat in ctx.site.seats[room.id] for upload in (True, False)]


def plan_room_load(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    """The whole room against the exam server at once."""
    seats = ctx.site.seats[room.id]
    if not seats:
        return []
    return [_load_check(ctx, room, seats, thresholds_of(req, LanSpeedThresholds))]


# the requirements this module plans checks for (readiness/planning/__init__.py finds it)
PLANS = {"LAN-SPEED": [plan_seat_throughput, plan_room_load]}
