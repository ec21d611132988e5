"""A stored run as Prometheus metric families: a pure function, unit-tested.

Naming follows Prometheus' guide: base units (bytes, seconds, pixels), `_info` for
metadata, `_total` only for counters. Labels stay bounded by the site file (rooms, seats,
cameras, requirements, configured targets): never a run id, a hash or a time.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric

from ..config.load import Site
from ..report.model import SeatCell, seat_maps
from ..results import RunRecord, Status, Verdict, proves, worst

MBPS_TO_BYTES_PER_S = 1_000_000 / 8
STATUSES = [s.value for s in Status]
VERDICTS = [v.value for v in Verdict]
# the metric names deploy/ (alerts, dashboards) is generated from: one list, no drift
METRIC_NAMES = (
    "readiness_build_info", "readiness_last_run_timestamp_seconds",
    "readiness_last_run_duration_seconds", "readiness_last_ready_timestamp_seconds",
    "readiness_next_run_timestamp_seconds", "readiness_exam_start_timestamp_seconds",
    "readiness_run_verdict", "readiness_run_signed", "readiness_run_checks",
    "readiness_requirement_status", "readiness_check_success", "readiness_seat_success",
    "readiness_lan_throughput_bytes_per_second", "readiness_room_load_bytes_per_second",
    "readiness_uplink_bytes_per_second", "readiness_uplink_floor_bytes_per_second",
    "readiness_seats_answering", "readiness_seats_required", "readiness_seats_configured",
    "readiness_camera_frame_height_pixels", "readiness_camera_frames_per_second",
    "readiness_ups_runtime_remaining_seconds",
)


@dataclass(frozen=True)
class SiteFacts:
    """What the metrics need besides the run itself: all known to the service."""

    site_code: str
    version: str
    site: Site | None = None  # the site file: every configured seat and room
    exam_start: datetime | None = None  # the next exam session's start
    next_run: datetime | None = None  # the schedule's next planned run
    last_ready: datetime | None = None  # the last stored run that was ready
    signed: bool | None = None  # the run checked against the signed log (None: no log)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def _rooms_of(run: RunRecord, site: Site | None) -> set[str]:
    if site is not None:
        return {r.id for r in site.model.rooms}
    return {r.check_id.split("/")[1] for r in run.results
            if r.requirement == "LAN-SEATS" and r.check_id.count("/") >= 1}


def _room(check_id: str, rooms: set[str]) -> str:
    parts = check_id.split("/")
    return parts[1] if len(parts) >= 2 and parts[1] in rooms else ""


def _seat_room(map_room: str, cell: SeatCell, rooms: set[str]) -> str:
    # without the site file the seat map guesses rooms from check ids ("LAN-SPEED/A01/agent"
    # names a seat, not a room): take the room the seat's own results name
    if map_room in rooms:
        return map_room
    named = [_room(r.check_id, rooms) for r in cell.results]
    named = [n for n in named if n]
    return max(set(named), key=named.count) if named else ""


def _seat_direction(cell: SeatCell) -> Iterable[tuple[str, float]]:
    for r in cell.results:
        value = _number(r.measured.get("throughput_mbps"))
        direction = r.check_id.rsplit("/", 1)[-1]
        if r.requirement == "LAN-SPEED" and value is not None and \
                direction in ("download", "upload"):
            yield direction, value * MBPS_TO_BYTES_PER_S


def service_families(facts: SiteFacts) -> list[Metric]:
    """What is true even before any run was stored."""
    site = facts.site_code
    info = InfoMetricFamily("readiness_build", "the readiness version serving this site",
                            labels=["site"])
    info.add_metric([site], {"version": facts.version, "python": platform.python_version()})
    out: list[Metric] = [info]
    for name, doc, moment in (
            ("readiness_exam_start_timestamp_seconds", "start of the next exam session",
             facts.exam_start),
            ("readiness_next_run_timestamp_seconds", "the next scheduled check run",
             facts.next_run),
            ("readiness_last_ready_timestamp_seconds",
             "end of the last stored run that was ready (0: never)", facts.last_ready)):
        if moment is None and name != "readiness_last_ready_timestamp_seconds":
            continue
        family = _gauge(name, doc, ["site"])
        family.add_metric([site], moment.timestamp() if moment else 0.0)
        out.append(family)
    return out


def run_families(run: RunRecord, facts: SiteFacts) -> list[Metric]:
    """The latest run's figures, one family per measured quantity."""
    site = facts.site_code
    rooms = _rooms_of(run, facts.site)
    out: list[Metric] = []

    last = _gauge("readiness_last_run_timestamp_seconds", "end of the latest stored run",
                  ["site"])
    last.add_metric([site], run.finished_at.timestamp())
    duration = _gauge("readiness_last_run_duration_seconds", "how long the latest run took",
                      ["site"])
    duration.add_metric([site], (run.finished_at - run.started_at).total_seconds())
    verdict = _gauge("readiness_run_verdict", "the latest run's verdict (1 for the one it is)",
                     ["site", "verdict"])
    for v in VERDICTS:
        verdict.add_metric([site, v], 1.0 if run.verdict.value == v else 0.0)
    out += [last, duration, verdict]
    if facts.signed is not None:
        signed = _gauge("readiness_run_signed",
                        "1: the latest run verifies against the signed evidence log",
                        ["site"])
        signed.add_metric([site], 1.0 if facts.signed else 0.0)
        out.append(signed)

    checks = _gauge("readiness_run_checks", "checks of the latest run by status",
                    ["site", "status"])
    for s in STATUSES:
        checks.add_metric([site, s], float(sum(r.status.value == s for r in run.results)))
    out.append(checks)

    by_req: dict[str, list[Status]] = {}
    for r in run.results:
        by_req.setdefault(r.requirement, []).append(r.status)
    req = _gauge("readiness_requirement_status",
                 "each requirement's verdict in the latest run (1 for the one it is)",
                 ["site", "requirement", "required", "status"])
    for rid in sorted(set(by_req) | run.required):
        status = worst(by_req.get(rid, []))
        required = "true" if rid in run.required else "false"
        for s in STATUSES:
            req.add_metric([site, rid, required, s], 1.0 if status.value == s else 0.0)
    out.append(req)

    # one series per (room, requirement, target); several checks of one target (e.g.
    # two directions) count as failed when any of them did. Skips measured nothing.
    success: dict[tuple[str, str, str], float] = {}
    for r in run.results:
        if r.status is Status.SKIP:
            continue
        key = (_room(r.check_id, rooms), r.requirement, r.target)
        success[key] = min(success.get(key, 1.0), 1.0 if proves(r) else 0.0)
    fam = _gauge("readiness_check_success",
                 "1: the check passed (or warned) in the latest run, 0: it failed or errored",
                 ["site", "room", "requirement", "target"])
    for (room, rid, target), value in sorted(success.items()):
        fam.add_metric([site, room, rid, target], value)
    out.append(fam)

    out += _seat_families(run, facts)
    out += _room_families(run, site, rooms)
    return out


def _seat_families(run: RunRecord, facts: SiteFacts) -> list[Metric]:
    site = facts.site_code
    seat_ok = _gauge("readiness_seat_success",
                     "1: the seat's worst result passed or warned, 0: it failed or errored",
                     ["site", "room", "seat"])
    lan = _gauge("readiness_lan_throughput_bytes_per_second",
                 "throughput between the seat and the exam server in the latest run",
                 ["site", "room", "seat", "direction"])
    rooms = _rooms_of(run, facts.site)
    for room_map in seat_maps(run, facts.site):
        for cell in room_map.cells:
            room = _seat_room(room_map.room_id, cell, rooms)
            measured = [r.status for r in cell.results if r.status is not Status.SKIP]
            if measured:
                bad = worst(measured) in (Status.FAIL, Status.ERROR)
                seat_ok.add_metric([site, room, cell.label], 0.0 if bad else 1.0)
            slowest: dict[str, float] = {}
            for direction, value in _seat_direction(cell):
                slowest[direction] = min(value, slowest.get(direction, value))
            for direction, value in sorted(slowest.items()):
                lan.add_metric([site, room, cell.label, direction], value)
    return [seat_ok, lan]


def _room_families(run: RunRecord, site: str, rooms: set[str]) -> list[Metric]:
    uplink = _gauge("readiness_uplink_bytes_per_second", "the room's internet uplink, median",
                    ["site", "room", "direction"])
    floor = _gauge("readiness_uplink_floor_bytes_per_second",
                   "the certificate's floor for the uplink", ["site", "room"])
    load = _gauge("readiness_room_load_bytes_per_second",
                  "all seats at once to the exam server, aggregate", ["site", "room"])
    answering = _gauge("readiness_seats_answering", "configured seats that work",
                       ["site", "room"])
    required = _gauge("readiness_seats_required", "the certificate's minimum of working seats",
                      ["site", "room"])
    configured = _gauge("readiness_seats_configured", "seats in the site file", ["site", "room"])
    height = _gauge("readiness_camera_frame_height_pixels", "decoded frame height",
                    ["site", "room", "camera"])
    fps = _gauge("readiness_camera_frames_per_second", "frame rate measured after warm-up",
                 ["site", "room", "camera"])
    ups = _gauge("readiness_ups_runtime_remaining_seconds", "battery runtime the UPS reports",
                 ["site", "room", "ups"])
    for r in run.results:
        room, m = _room(r.check_id, rooms), r.measured
        last = r.check_id.rsplit("/", 1)[-1]
        if r.requirement == "WAN-FLOOR":
            for direction in ("download", "upload"):
                value = _number(m.get(f"{direction}_mbps"))
                if value is not None:
                    uplink.add_metric([site, room, direction], value * MBPS_TO_BYTES_PER_S)
            value = _number(m.get("floor_mbps") or r.threshold.get("floor_mbps"))
            if value is not None:
                floor.add_metric([site, room], value * MBPS_TO_BYTES_PER_S)
        elif r.requirement == "LAN-SPEED" and last == "load":
            if (value := _number(m.get("aggregate_mbps"))) is not None:
                load.add_metric([site, room], value * MBPS_TO_BYTES_PER_S)
        elif r.requirement == "LAN-SEATS":
            for family, value in ((answering, m.get("working_seats")),
                                  (configured, m.get("configured_seats")),
                                  (required, r.threshold.get("min_seats"))):
                if (number := _number(value)) is not None:
                    family.add_metric([site, room], number)
        elif r.requirement == "CAM-RES":
            if (value := _number(m.get("height"))) is not None:
                height.add_metric([site, room, last], value)
            if (value := _number(m.get("fps"))) is not None:
                fps.add_metric([site, room, last], value)
        elif r.requirement == "UPS-RUNTIME":
            if (value := _number(m.get("minutes_remaining"))) is not None:
                ups.add_metric([site, room, r.target], value * 60.0)
    return [uplink, floor, load, answering, required, configured, height, fps, ups]


def families(run: RunRecord | None, facts: SiteFacts) -> list[Metric]:
    """Everything /metrics shows for one site: the service's facts, and the latest run's
    figures when there is one."""
    out = service_families(facts)
    if run is not None:
        out += run_families(run, facts)
    return out
