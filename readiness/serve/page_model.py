"""What the live page shows, as plain JSON: built from the latest stored run, the site
file and the run in progress. The browser only draws it (page.py)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from ..config.load import Site
from ..config.profile import Profile
from ..evidence.run_trust import NOT_SIGNED as NOT_SIGNED_STATUS
from ..evidence.run_trust import RunTrust
from ..figures import result_figure
from ..fixlist import fix_list, fix_words
from ..report.model import Cause, requirement_rows, seat_maps
from ..results import CheckResult, RunRecord, Status, Text
from ..run_context import run_context
from ..sitetime import DEFAULT_TZ, local, offset
from ..store import RunSummary
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
    """The run's fix list, the same one the console and the report show, in the same
    words (readiness/fixlist.py fix_words): where, what to do, the figure, the rules; and
    the seats each line is about, so a tapped seat finds its lines."""
    out = []
    for n, fix in enumerate(fix_list(run), 1):
        words = {lang: fix_words(fix, lang) for lang in ("en", "zh")}
        out.append({
            "n": n, "status": fix.status.value, "requirement": ", ".join(fix.requirements),
            "requirements": list(fix.requirements),
            "where": {lang: w.where for lang, w in words.items()},
            "do": {lang: w.do for lang, w in words.items()},
            "figure": {lang: w.figure for lang, w in words.items()},
            "rules": {lang: w.rules for lang, w in words.items()},
            "message": fix.what.to_dict(),
            "seats": [[s.room, s.name] for s in fix.subjects if s.kind is Kind.SEAT]})
    return out


def _when(moment: datetime | None, tz: tzinfo) -> str | None:
    return local(moment, tz) if moment else None


def _runs(runs: list[RunSummary], signed: dict[int, bool], tz: tzinfo) -> list[dict[str, Any]]:
    """The last runs, oldest first, for the strip of the page (one mark per run)."""
    return [{"run_id": r.run_id, "verdict": r.verdict.value,
             "verdict_words": {"en": verdict_word(r.verdict, "en"),
                               "zh": verdict_word(r.verdict, "zh")},
             "at": _when(r.started_at, tz), "trigger": r.trigger,
             "signed": signed.get(r.run_id)} for r in runs]


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
               trust: RunTrust | None = None, planned: int | None = None,
               runs: list[RunSummary] | None = None,
               runs_signed: dict[int, bool] | None = None) -> dict[str, Any]:
    """`trust`: the run's trust (readiness/evidence/run_trust.py); a run that is not
    verified gets the verdict NOT SIGNED (or NOT VERIFIED), its stored one kept aside
    as `stored_verdict`, and `trust.why` says why in plain words."""
    if trust is not None:
        signed = trust.verified
    tz = site.tz if site is not None else DEFAULT_TZ
    context = run_context(run, site) if run is not None else None
    state: dict[str, Any] = {
        "site": {"name": site.name if site else (run.site_name if run else ""),
                 "code": site.model.site.code if site else (run.site_code if run else ""),
                 "timezone": str(tz)},
        "exam_start": _iso(exam_start), "next_run": _iso(next_run), "signed": signed,
        # times as people read them: the site's time and offset, whatever the browser's
        "local": {"exam_start": _when(exam_start, tz), "next_run": _when(next_run, tz),
                  "now_offset": offset(datetime.now(UTC), tz)},
        "exam": _exam_words(site, exam_start),
        "next_why": None if next_run else {
            "en": "no check planned: the schedule has none before the next exam",
            "zh": "没有计划中的检查：下次考试前没有安排"},
        "running": running, "live": live, "status_words": status_words(),
        "progress": {"done": len(live), "total": planned} if running else None,
        "runs": _runs(runs or [], runs_signed or {}, tz),
        "report": "report" if run is not None else None,
        "last_run": None, "verdict": None, "rooms": [], "requirements": [], "fixes": [],
        "trust": trust.to_dict() if trust is not None else None, "stored_verdict": None}
    if run is None:
        return state
    state["last_run"] = {"started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at),
                         "run_id": getattr(run, "run_id", None),
                         "local": _when(run.finished_at, tz),
                         "vantage": context.vantage.to_dict() if context else None}
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


def _exam_words(site: Site | None, exam_start: datetime | None) -> dict[str, Any]:
    """The next exam session by its name, or why there is none."""
    if exam_start is None or site is None:
        return {"name": None, "why": {
            "en": "no exam planned: add one under exam_sessions in the site file",
            "zh": "未安排考试：请在站点文件的 exam_sessions 中添加场次"}}
    names = [s.name for s, (start, _) in zip(site.model.exam_sessions, site.session_windows(),
                                             strict=True) if start == exam_start]
    return {"name": names[0] if names and names[0] else None, "why": None}
