"""What the live page shows, as plain JSON: built from the latest stored run, the site
file and the run in progress. The browser only draws it (page.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..config.load import Site
from ..config.profile import Profile
from ..fixlist import fix_list
from ..report.model import SEAT_RE, requirement_rows, seat_maps
from ..results import SEVERITY, CheckResult, RunRecord, Status, Text
from ..words import status_word, verdict_word


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _both(text: Text | None) -> dict[str, str] | None:
    return text.to_dict() if text else None


def status_words() -> dict[str, dict[str, str]]:
    return {s.value: {"en": status_word(s, "en"), "zh": status_word(s, "zh")} for s in Status}


def check_event(result: CheckResult) -> dict[str, Any]:
    """One finished check as the page receives it (Server-Sent Event `check`)."""
    match = SEAT_RE.search(result.target)
    return {"requirement": result.requirement, "target": result.target,
            "seat": match.group("label") if match else None, "status": result.status.value,
            "message": result.message.to_dict()}


def _fixes(run: RunRecord) -> list[dict[str, Any]]:
    """The run's fix list, the same one the console and the report show."""
    return [{"requirement": ", ".join(fix.requirements), "where": fix.where.to_dict(),
             "status": fix.status.value, "message": fix.what.to_dict()}
            for fix in fix_list(run)]


def _why(cell: Any) -> list[str]:
    """The rules behind a seat's colour: those of its worst verdict, warn or worse."""
    status = cell.status
    if status is None or SEVERITY[status] < SEVERITY[Status.WARN]:
        return []
    return sorted({r.requirement for r in cell.results if r.status is status})


def page_state(run: RunRecord | None, site: Site | None, profile: Profile | None, *,
               exam_start: datetime | None, next_run: datetime | None,
               signed: bool | None, running: bool, live: list[dict[str, Any]]
               ) -> dict[str, Any]:
    state: dict[str, Any] = {
        "site": {"name": site.name if site else (run.site_name if run else ""),
                 "code": site.model.site.code if site else (run.site_code if run else "")},
        "exam_start": _iso(exam_start), "next_run": _iso(next_run), "signed": signed,
        "running": running, "live": live, "status_words": status_words(),
        "last_run": None, "verdict": None, "rooms": [], "requirements": [], "fixes": []}
    if run is None:
        return state
    state["last_run"] = {"started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at),
                         "run_id": getattr(run, "run_id", None)}
    state["verdict"] = {"value": run.verdict.value, "en": verdict_word(run.verdict, "en"),
                        "zh": verdict_word(run.verdict, "zh")}
    for room in seat_maps(run, site):
        state["rooms"].append({"id": room.room_id, "name": room.name, "seats": [
            {"label": c.label, "address": c.address,
             "status": c.status.value if c.status else None,
             "figure_mbps": c.throughput_mbps, "why": _why(c)} for c in room.cells]})
    for row in requirement_rows(run, profile):
        if not row.results and not row.required:
            continue
        deciding = row.deciding
        state["requirements"].append({
            "id": row.id, "title": _both(row.title), "required": row.required,
            "status": row.status.value if row.status else None,
            "counts": {s.value: n for s, n in row.counts.items()},
            "message": _both(deciding.message) if deciding else None})
    state["fixes"] = _fixes(run)
    return state
