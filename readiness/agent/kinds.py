"""The kinds of check that live with the agent: the seat's self-report (served by every
agent, and run here when the host is this machine) and the two orchestrations the
coordinator runs over many agents at once (probes/ may not import the agent client)."""

from __future__ import annotations

from ..checkkind import COORDINATOR, SEAT, CheckKind, Param, knobs


def kinds() -> list[CheckKind]:
    from . import room_load, seat_pairs
    from .self_report import self_report_probe

    return [
        CheckKind(probe="self_report", run=self_report_probe, params=(),
                  judges=("seat.self_report", "seat.spec"),
                  runs_on=frozenset({COORDINATOR, SEAT})),
        CheckKind(probe="room_load", run=room_load.run,
                  params=(Param("server", "target"), *knobs(
                      "room", "seats", "agent_port", "base_port", "single_port",
                      "duration_s", "omit_s", "connect_timeout_s")),
                  judges=("throughput.room_load",), secrets=("token",),
                  budget=lambda p: room_load.load_deadline(
                      len(p["seats"]), int(p["duration_s"]), int(p["omit_s"]),
                      float(p["connect_timeout_s"]))),
        CheckKind(probe="seat_pairs", run=seat_pairs.run,
                  params=knobs("room", "seats", "agent_port", "port", "duration_s", "omit_s",
                               "connect_timeout_s", "good_mbps", "class_floors_mbps"),
                  judges=("throughput.pairs",), secrets=("token",),
                  budget=lambda p: seat_pairs.pairs_deadline(
                      len(p["seats"]), int(p["duration_s"]), int(p["omit_s"]),
                      float(p["connect_timeout_s"]))),
    ]
