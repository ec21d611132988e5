"""What the live page shows, as plain JSON: built from the latest stored run, the site
file and the run in progress. The browser only draws it (page.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..config.load import Site
from ..config.profile import Profile
from ..evidence.run_trust import NOT_SIGNED as NOT_SIGNED_STATUS
from ..evidence.run_trust import RunTrust
from ..figures import result_figure
from ..fixlist import fix_list
from ..report.model import Cause, requirement_rows, seat_maps
from ..results import CheckResult, RunRecord, Status, Text
from ..subject import Kind, aspect_words, name_of
from ..words import status_word, verdict_word


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _both(text: Text | None) -> dict[str, str] | None:
    return text.to_dict() if text else None


def status_words() -> dict[str, dict[str, str]]:
    return {s.value: {"en": status_word(s, "en"), "zh": status_word(s, "zh")} for s in Status}


def check_event(result: CheckResult) -> dict[str, Any]:
    """One finished check as the page receives it (Server-Sent Event `check`): the seat
    it paints is its subject's, when its subject is a seat."""
    subject = result.subject
    is_seat = subject.kind is Kind.SEAT
    figure = result_figure(result)
    return {"requirement": result.requirement,
            "label": {"en": result.label("en"), "zh": result.label("zh")},
            "seat": subject.name if is_seat else None,
            "room": subject.room if is_seat else None,
            "status": result.status.value, "message": result.message.to_dict(),
            "figure": _both(figure)}


def _fixes(run: RunRecord) -> list[dict[str, Any]]:
    """The run's fix list, the same one the console and the report show."""
    return [{"requirement": ", ".join(fix.requirements), "where": fix.where.to_dict(),
             "status": fix.status.value, "message": fix.what.to_dict()}
            for fix in fix_list(run)]


def _cause(cause: Cause) -> dict[str, Any]:
    """Something about the whole room (router, uplink, a camera), said once beside its
    seats."""
    return {"status": cause.status.value, "kind": cause.subject.kind.value,
            "name": cause.subject.name,
            "who": {"en": name_of(cause.subject, "en"), "zh": name_of(cause.subject, "zh")},
            "rules": [{"requirement": req,
                       "aspects": [{"en": aspect_words(a, "en"), "zh": aspect_words(a, "zh")}
                                   for a in aspects]} for req, aspects in cause.rules]}


NOT_SIGNED = Text("NOT SIGNED", "未签名")
NOT_VERIFIED = Text("NOT VERIFIED", "未验证")


def page_state(run: RunRecord | None, site: Site | None, profile: Profile | None, *,
               exam_start: datetime | None, next_run: datetime | None,
               running: bool, live: list[dict[str, Any]], signed: bool | None = None,
               trust: RunTrust | None = None) -> dict[str, Any]:
    """`trust`: the run's trust (readiness/evidence/run_trust.py); a run that is not
    verified gets the verdict NOT SIGNED (or NOT VERIFIED), its stored one kept aside
    as `stored_verdict`, and `trust.why` says why in plain words."""
    if trust is not None:
        signed = trust.verified
    state: dict[str, Any] = {
        "site": {"name": site.name if site else (run.site_name if run else ""),
                 "code": site.model.site.code if site else (run.site_code if run else "")},
        "exam_start": _iso(exam_start), "next_run": _iso(next_run), "signed": signed,
        "running": running, "live": live, "status_words": status_words(),
        "last_run": None, "verdict": None, "rooms": [], "requirements": [], "fixes": [],
        "trust": trust.to_dict() if trust is not None else None, "stored_verdict": None}
    if run is None:
        return state
    state["last_run"] = {"started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at),
                         "run_id": getattr(run, "run_id", None)}
    state["verdict"] = {"value": run.verdict.value, "en": verdict_word(run.verdict, "en"),
                        "zh": verdict_word(run.verdict, "zh")}
    if trust is not None and not trust.verified:
        # what the store says is only a claim until the signed log backs it
        state["stored_verdict"] = state["verdict"]
        word = NOT_SIGNED if trust.status == NOT_SIGNED_STATUS else NOT_VERIFIED
        state["verdict"] = {"value": trust.status, **word.to_dict()}
    for room in seat_maps(run, site):
        state["rooms"].append({"id": room.room_id, "name": room.name, "seats": [
            {"label": c.label, "room": c.room, "address": c.address,
             "status": c.status.value if c.status else None,
             "verified": c.verified.value if c.verified else None,
             "answers": c.answers,
             "figure_mbps": c.throughput_mbps, "why": c.why} for c in room.cells],
            "causes": [_cause(c) for c in room.causes]})
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
