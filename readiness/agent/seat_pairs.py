"""LAN-SPEED in seat pairs: every seat proves its own link against another seat.

The seats whose agents answer are paired in the plan's order (A01 with A02, ...). In
each pair at once, the second seat's agent serves two ports (`throughput_serve`) and
the first seat's agent sends to one and receives from the other at the same time
(`throughput_both`): all pairs run together, so a room's links are measured in one
test's time (when most pairs come out slow, something they share is the limit: those
pairs run again in narrower waves, see _pair_waves). A pair slower than `good_mbps` in
either direction does not say which of its two seats is slow: each of them is tried
again against a seat whose pair was fast (a known-good seat), which names the slow
one. A seat left over (an odd count) is tried against a known-good seat the same way.

A seat without an agent is measured from here against its own throughput server (port
5201), as the per-seat test does, one such seat at a time (they share this machine's
card); with no server there it is named and not measured.

A coordinator-side orchestration (it talks to agents): registered as "seat_pairs" in
readiness/agent/kinds.py. It returns figures per seat, the verdict is the judge's
(readiness/judges/throughput.judge_pair_seat, one derived check per seat and direction).

params:
  room, seats [{"label", "address"}], agent_port, port (5201; the partner also serves
  port + 1), duration_s, omit_s, connect_timeout_s, good_mbps
secrets:
  token    the site's agent token (absent: every seat is measured from here)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from probes import throughput

from ..checks import AgentRoute
from ..redact import Secret
from ..results import ProbeOutcome, Status, Text
from .remote import CALL_MARGIN_S, HEALTH_TIMEOUT_S, AgentRemote, listening
from .room_load import PORT_CHECK_TIMEOUT_S, open_ports

# a seat whose re-test fails (not slow: no figure) gets another known-good partner
MAX_RETESTS = 3
# a slow figure at least this share of a class floor (class_floors_mbps) is re-tested
# once more alone
BORDERLINE = 0.7
SERVE_MARGIN_S = 1.0
# a partner drops a seat that went silent this long mid-test
SERVE_IDLE_S = 3.0


def pair_test_s(duration_s: int, omit_s: int, connect_timeout_s: float) -> float:
    """One pair test as the coordinator waits for it: the client's test, the reply, and
    half a second for the calls on the way."""
    return throughput.deadline_for(duration_s, omit_s, connect_timeout_s) + CALL_MARGIN_S + 0.5


def pairs_deadline(seats: int, duration_s: int, omit_s: int,
                   connect_timeout_s: float) -> float:
    """Health, the pairs, the re-tests (in the worst case one known-good seat for all the
    slow ones), and the stand-ins from here, which run beside them."""
    one = pair_test_s(duration_s, omit_s, connect_timeout_s) + SERVE_MARGIN_S
    # narrower waves when a shared bottleneck slows most pairs (at worst one pair at a
    # time), then the known-good re-tests
    retests = 2 * max(1, seats // 2)
    stand_ins = PORT_CHECK_TIMEOUT_S + 2 * one * max(1, min(seats, 4))
    return HEALTH_TIMEOUT_S + max(one * (1 + retests), stand_ins) + 1.0


@dataclass
class SeatFigures:
    upload_mbps: float | None = None
    download_mbps: float | None = None
    partner: str = ""
    vantage: str = "agent"
    retested: bool = False
    problem: str = ""
    # nothing listens on the seat's throughput port (no agent, no throughput server)
    no_server: bool = False
    # the path drops large packets (probes/throughput.py's DF echoes after a stalled test)
    path_mtu: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"upload_mbps": self.upload_mbps, "download_mbps": self.download_mbps,
                "partner": self.partner, "vantage": self.vantage, "retested": self.retested,
                **({"problem": self.problem} if self.problem else {}),
                **({"no_server": True} if self.no_server else {}),
                **({"path_mtu": self.path_mtu} if self.path_mtu else {})}


class _Pairs:
    def __init__(self, params: dict[str, Any], remote: AgentRemote):
        self.remote = remote
        self.port = int(params["port"])
        self.test = {"duration_s": int(params["duration_s"]), "omit_s": int(params["omit_s"]),
                     "parallel": 1, "reverse": False,
                     "connect_timeout_s": float(params["connect_timeout_s"])}
        self.good_mbps = float(params["good_mbps"])
        self.floors = sorted((float(f) for f in params["class_floors_mbps"]), reverse=True)
        self.path_sizes: dict[str, dict[str, Any]] = {}
        self.wait_s = pair_test_s(self.test["duration_s"], self.test["omit_s"],
                                  self.test["connect_timeout_s"])

    async def pair(self, client: AgentRoute, partner: AgentRoute
                   ) -> tuple[float | None, float | None, str]:
        """(client's upload, client's download, what went wrong)."""
        serve = self.remote.run(partner, "throughput_serve", {
            "bind": partner.address, "ports": [self.port, self.port + 1], "tests": 2,
            "idle_timeout_s": SERVE_IDLE_S},
            self.wait_s + SERVE_MARGIN_S)
        both = self.remote.run(client, "throughput_both", {
            **self.test, "host": partner.address, "port": self.port,
            "reverse_port": self.port + 1}, self.wait_s)
        served, got = await asyncio.gather(serve, both)
        for route, outcome in ((partner, served), (client, got)):
            # the coordinator found this seat's replies lost in an MTU black hole
            if outcome.measured.get("agent") == "no_reply" and outcome.measured.get("path_mtu"):
                self.path_sizes[route.label] = outcome.measured["path_mtu"]
        up, down = got.measured.get("upload_mbps"), got.measured.get("download_mbps")
        if got.status is Status.PASS and isinstance(up, int | float) \
                and isinstance(down, int | float):
            return float(up), float(down), ""
        problem = got.message.en
        if served.status is not Status.PASS:
            problem = f"{partner.label} could not serve: {served.message.en}"
        return None, None, problem

    def fast(self, up: float | None, down: float | None) -> bool:
        return up is not None and down is not None and min(up, down) >= self.good_mbps

    def borderline(self, fig: SeatFigures) -> bool:
        """Measured slow, and just under a link class's floor (within BORDERLINE of it):
        maybe a shared link rather than a slower one (a 100M port measures a fifth of the
        gigabit floor, but may fall just under the 100M floor beside other pairs)."""
        up, down = fig.upload_mbps, fig.download_mbps
        if up is None or down is None or self.fast(up, down):
            return False
        low = min(up, down)
        return any(BORDERLINE * floor <= low < floor for floor in self.floors)


async def _stand_in(seat: dict[str, Any], params: dict[str, Any], deadline_s: float
                    ) -> SeatFigures:
    """A seat without an agent, from here against its own server: reverse = it sends."""
    test = {"host": seat["address"], "port": int(params["port"]),
            "duration_s": params["duration_s"], "omit_s": params["omit_s"],
            "connect_timeout_s": params["connect_timeout_s"], "parallel": 1}
    up = await throughput.run({**test, "reverse": True}, deadline_s / 2)
    fig = SeatFigures(vantage="coordinator", partner="coordinator",
                      path_mtu=up.measured.get("path_mtu"))
    if fig.path_mtu:
        # the DF echoes went both ways: the path's size holds for the download too, and
        # a second test would only stall the same way
        fig.problem = up.message.en
        return fig
    down = await throughput.run({**test, "reverse": False}, deadline_s / 2)
    fig.path_mtu = down.measured.get("path_mtu")
    for outcome, attr in ((up, "upload_mbps"), (down, "download_mbps")):
        mbps = outcome.measured.get("throughput_mbps")
        if isinstance(mbps, int | float):
            setattr(fig, attr, float(mbps))
        else:
            fig.problem = fig.problem or outcome.message.en
            fig.no_server = fig.no_server or bool(outcome.measured.get("no_server"))
    return fig


async def _stand_ins(seats: list[dict[str, Any]], params: dict[str, Any], end: float
                     ) -> dict[str, SeatFigures]:
    port = int(params["port"])
    found = await asyncio.gather(*(open_ports(s["address"], [port]) for s in seats))
    out: dict[str, SeatFigures] = {}
    need = throughput.deadline_for(int(params["duration_s"]), int(params["omit_s"]),
                                   float(params["connect_timeout_s"]))
    for seat, ports in zip(seats, found, strict=True):
        if not ports:
            out[seat["label"]] = SeatFigures(vantage="coordinator", problem=(
                f"{throughput.NO_SERVER_PREFIX} at {seat['address']}:{port}"), no_server=True)
            continue
        left = end - time.monotonic()
        if left < 2 * need:
            out[seat["label"]] = SeatFigures(vantage="coordinator",
                                             problem="no time left in the check's deadline")
            continue
        # one at a time: they all load this machine's own card
        out[seat["label"]] = await _stand_in(seat, params, 2 * need)
    return out


async def _pair_waves(pairs: _Pairs, couples: list[tuple[AgentRoute, AgentRoute]],
                      figures: dict[str, SeatFigures], end: float) -> tuple[int, int]:
    """Every pair at once, first. When most pairs of a wave are slow, the cause is one
    they share (a switch's backplane or its link to the next switch; in the lab, this
    machine's CPUs), not their seats: those pairs run again in narrower waves, as many
    at once as the traffic the wave carried would let run at `good_mbps`. A slow pair in
    a wave that was mostly fast is left to the known-good re-tests. Returns (waves run,
    the last width)."""
    pending, width, waves = list(couples), max(1, len(couples)), 0

    async def one(a: AgentRoute, b: AgentRoute) -> tuple[AgentRoute, AgentRoute, float]:
        up, down, problem = await pairs.pair(a, b)
        figures[a.label] = SeatFigures(up, down, b.label, problem=problem)
        figures[b.label] = SeatFigures(down, up, a.label, problem=problem)
        return a, b, (up or 0.0) + (down or 0.0)

    while pending and (waves == 0 or time.monotonic() + pairs.wait_s + SERVE_MARGIN_S < end):
        wave, pending = pending[:width], pending[width:]
        waves += 1
        done = await asyncio.gather(*(one(a, b) for a, b in wave))
        # slow, with figures: a pair that failed (no figure) is no sign of a bottleneck
        slow = [(a, b) for a, b, mbps in done if mbps > 0
                and not pairs.fast(figures[a.label].upload_mbps, figures[a.label].download_mbps)]
        if len(wave) > 1 and 2 * len(slow) > len(wave):
            carried = sum(mbps for *_, mbps in done)
            # a pair at good_mbps carries twice that (both directions), with a margin
            fits = int(carried // (2.5 * pairs.good_mbps))
            width = max(1, min(len(wave) // 2, fits))
            pending += slow
    return waves, width


async def _retests(pairs: _Pairs, ready: list[AgentRoute], figures: dict[str, SeatFigures],
                   width: int, end: float) -> int:
    """Each seat that was slow or failed in the waves, again against a seat known to be
    fast, up to MAX_RETESTS times for a failure and once more alone for a borderline
    figure, while time allows. Returns the re-test rounds run."""
    good = [r for r in ready if r.label in figures
            and pairs.fast(figures[r.label].upload_mbps, figures[r.label].download_mbps)]
    suspects = [r for r in ready if r not in good]
    rounds = 0
    tries: dict[str, int] = {}
    # a known-good seat that then fails others (a duplicated address answers for it, its
    # agent went away) is no partner to judge by: after two such failures it is dropped
    partner_failures: dict[str, int] = {}
    # seats re-tested beside other pairs that came out just under the class: once more,
    # the only pair on the LAN (a borderline figure is the shared load's as much as the
    # seat's: on the 2-CPU lab host 496 against 521 Mbit/s from one run to the next)
    alone: list[AgentRoute] = []
    while (suspects or alone) and good \
            and time.monotonic() + pairs.wait_s + SERVE_MARGIN_S < end:
        if suspects:
            wave, suspects = suspects[:min(len(good), width)], suspects[min(len(good), width):]
        else:
            wave = [alone.pop(0)]
        rounds += 1

        async def retest(x: AgentRoute, g: AgentRoute) -> tuple[AgentRoute, AgentRoute, bool]:
            up, down, problem = await pairs.pair(x, g)
            before = figures.get(x.label)
            # A link carries at least the best it was measured at: a lower reading is
            # the load of the moment (two CPUs, forty seats), never more capacity.
            measured_before = (before is not None and before.upload_mbps is not None
                               and before.download_mbps is not None)
            if not measured_before or (up is not None and down is not None and min(up, down)
                                       >= min(before.upload_mbps, before.download_mbps)):
                figures[x.label] = SeatFigures(up, down, g.label, retested=True,
                                               problem=problem)
            else:
                before.retested = True
            return x, g, up is None

        partners = good[rounds % len(good):] + good[:rounds % len(good)]
        done = await asyncio.gather(*(retest(x, g)
                                      for x, g in zip(wave, partners, strict=False)))
        for x, g, _ in (d for d in done if d[2]):
            tries[x.label] = tries.get(x.label, 0) + 1
            partner_failures[g.label] = partner_failures.get(g.label, 0) + 1
            if tries[x.label] < MAX_RETESTS:
                suspects.append(x)  # once more, against another known-good seat
        if len(wave) > 1:
            alone += [x for x, _, failed in done if not failed
                      and pairs.borderline(figures[x.label])]
        good = [g for g in good if partner_failures.get(g.label, 0) < 2]
    for r in suspects:
        fig = figures.setdefault(r.label, SeatFigures())
        if fig.partner == "":
            fig.problem = ("no seat known to be fast was left to pair it with"
                           if good else "no other seat's agent answers to pair it with")
    return rounds


async def run(params: dict[str, Any], deadline_s: float,
              secrets: dict[str, Secret] | None = None) -> ProbeOutcome:
    end = time.monotonic() + deadline_s - 0.3
    seats = list(params["seats"])
    remote = AgentRemote((secrets or {}).get("token"), _nowhere)
    routes = {s["label"]: AgentRoute(str(s["label"]), str(s["address"]),
                                     int(params["agent_port"]), retry_quick_error=True)
              for s in seats}
    replies = await asyncio.gather(*(remote.health(r, HEALTH_TIMEOUT_S)
                                     for r in routes.values()))
    ready = [r for r, reply in zip(routes.values(), replies, strict=True)
             if listening(reply)]
    absent = [s for s in seats if routes[s["label"]] not in ready]
    pairs = _Pairs(params, remote)
    figures: dict[str, SeatFigures] = {}
    by_stand_in = asyncio.ensure_future(_stand_ins(absent, params, end))

    couples = [(ready[i], ready[i + 1]) for i in range(0, len(ready) - 1, 2)]
    waves, width = await _pair_waves(pairs, couples, figures, end)
    rounds = waves + await _retests(pairs, ready, figures, width, end)
    for label, size in pairs.path_sizes.items():
        fig = figures.setdefault(label, SeatFigures())
        if fig.upload_mbps is None or fig.download_mbps is None:
            fig.path_mtu = size
    figures.update(await by_stand_in)
    measured: dict[str, Any] = {
        "per_seat": {label: f.as_dict() for label, f in figures.items()},
        "pairs": len(couples), "pair_waves": waves, "pairs_at_once": width,
        "rounds": rounds, "good_mbps": pairs.good_mbps,
        "without_agent": [s["label"] for s in absent]}
    n = sum(f.upload_mbps is not None for f in figures.values())
    return ProbeOutcome(Status.PASS, Text(
        f"{n} seats measured in {len(couples)} pairs ({waves} wave(s), at most {width} "
        f"pairs at once at the end) and {rounds - waves} re-test rounds",
        f"以 {len(couples)} 对考位互测（{waves} 批，最后每批最多 {width} 对），另有 "
        f"{rounds - waves} 轮复测，共测得 {n} 个考位"), measured)


async def _nowhere(name: str, params: dict[str, Any], deadline_s: float,
                   secrets: dict[str, Secret] | None = None) -> ProbeOutcome:
    # a seat's address is this machine's own: it has no partner link to prove
    del name, params, deadline_s, secrets
    return ProbeOutcome(Status.SKIP, Text("this seat is the coordinator itself",
                                          "该考位即协调机本身"))
