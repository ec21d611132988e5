"""Probes the coordinator runs that cannot live in probes/ (which may import nothing
of readiness but the result model and the redactor).

- "self_report": this machine describes itself, the same probe the agent serves, so
  a check routed to the agent of a host that is this machine (the proctor PC as
  coordinator) runs here through agent/remote.py.
- "room_load": every seat's agent at once (agent/room_load.py).
- "seat_pairs": the seats' agents test each other in pairs (agent/seat_pairs.py).

check_run adds these to probes.registry() when it builds the runner.
"""

from __future__ import annotations

from probes import ProbeFn


def coordinator_probes() -> dict[str, ProbeFn]:
    from . import room_load, seat_pairs
    from .server import self_report_probe

    return {"self_report": self_report_probe, "room_load": room_load.run,
            "seat_pairs": seat_pairs.run}
