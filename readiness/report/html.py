"""The proof-of-readiness page: one self-contained, bilingual HTML document, written
from the Jinja2 templates in templates/ (wording and layout live there; verdict words
come from readiness/words.py).

Self-contained on purpose: the inspector may open it years later on a machine with
no network, and a page that fetched anything could show something other than what
the site produced. A Content-Security-Policy forbids every request, styles are
inline, pictures are data: URIs and charts are SVG drawn here.

The templates autoescape, and every value is scrubbed of secrets on its way out
(`_finalize`): a page title, an SNMP name or a camera name came from the network
and is data, never markup.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from .. import __version__, sitetime
from ..config.load import Site
from ..config.profile import Profile
from ..evidence.canonical import to_plain
from ..evidence.keys import group
from ..evidence.record import MIN_STAFF
from ..figures import result_figure
from ..redact import Secret, scrub
from ..results import SCHEMA_VERSION, SEVERITY, CheckResult, RunRecord, Status, Text
from ..run_context import run_context
from ..store import TRENDS, ResultsStore
from ..subject import Kind, Subject, aspect_words, name_of
from ..words import HIDDEN, STATUS_WORDS, UNITS, VERDICT_WORDS
from . import model
from .charts import Point, Threshold, line_chart
from .digest import figure_or_message, fix_items, seat_ranges
from .filter_matrix import filter_matrix, how_text, seats_text
from .style import CSS, page_css
from .threshold_words import threshold_words

# what `readiness drill` records as a run's trigger: its report says DRILL on every page
DRILL_TRIGGER = "drill"

SITE_TZ = ZoneInfo("Asia/Shanghai")  # design notes: exam sites run on Shanghai time
DEFAULT_LOG = "runs/evidence.jsonl"
DEFAULT_PUB = "keys/site.pub"
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
# Trend points on a chart: months of scheduled runs would turn the line into noise.
MAX_TREND_POINTS = 60


@dataclass(frozen=True)
class EvidenceInfo:
    """What the evidence section prints. From the `evidence` dict of write_report:
    head, fingerprint, log, and optionally pub, records, run_ref, verified."""

    head: str | None
    fingerprint: str | None
    log: str
    pub: str
    records: int | None
    run_ref: str | None
    verified: bool | None
    # the run's trust (readiness/evidence/run_trust.py): status and why, when known
    trust_status: str | None = None
    trust_why: Text | None = None
    # the files the signed records point to: "index:name" -> {"sha256", "bytes"}
    files: dict[str, dict[str, Any]] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> EvidenceInfo | None:
        if not data:
            return None
        fp = data.get("fingerprint") or data.get("key")
        records = data.get("records")
        trust = data.get("trust")
        return cls(
            head=str(data["head"]) if data.get("head") else None,
            fingerprint=group(str(fp)) if fp else None,
            log=str(data.get("log") or DEFAULT_LOG),
            pub=str(data.get("pub") or DEFAULT_PUB),
            records=records if isinstance(records, int) else None,
            run_ref=str(data["run_ref"]) if data.get("run_ref") else None,
            verified=data.get("verified") if isinstance(data.get("verified"), bool) else None,
            trust_status=trust.get("status") if isinstance(trust, dict) else None,
            trust_why=Text(**trust["why"]) if isinstance(trust, dict) and trust.get("why")
            else None,
            files=data.get("files") if isinstance(data.get("files"), dict) else None,
        )

    def command(self) -> str:
        head = self.head or "<head>"
        return (f"readiness verify {shlex.quote(self.log)} --pub {shlex.quote(self.pub)} "
                f"--head {head}")


def fmt_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        value = f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    elif isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    for suffix, unit in UNITS:
        if key.endswith(suffix):
            return f"{value}{unit}"
    return str(value)


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _fold_same(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same words about several seats, said once naming them (40 seats' audits
    that found the same leak are one item, not 40 pages)."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for x in items:
        r = x["r"]
        key = (r.requirement, r.status, r.aspect, r.message, tuple(x["requests"]))
        groups.setdefault(key, []).append(x)
    out = []
    for same in groups.values():
        first = same[0]
        if len(same) > 1 and all(x["r"].subject.kind is Kind.SEAT for x in same):
            names = seat_ranges([x["r"].subject.name for x in same])
            first = {**first, "who": Text(f"{len(same)} seats: {names}",
                                          f"{len(same)} 个考位：{names}"),
                     "vantage": Text("each seat's own agent", "各考位自身的代理")}
        elif len(same) > 1:
            first = {**first, "who": Text("; ".join(x["who"].en for x in same),
                                          "；".join(x["who"].zh for x in same)),
                     "vantage": Text("each from its own vantage", "各自的检测位置")}
        out.append(first)
    return out


def status_text(status: Status | None) -> Text:
    if status is None:
        return Text("not checked", "未检查")
    return Text(STATUS_WORDS["en"][status], STATUS_WORDS["zh"][status])


def run_json(run: RunRecord, secrets: list[Secret]) -> bytes:
    """The run as result.json has it, secrets scrubbed: attached to the page, not printed."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "site": {"name": run.site_name, "code": run.site_code},
        "profile": run.profile_id,
        "certificate": run.certificate.to_dict(),
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat(),
        "verdict": run.verdict.value,
        "required": sorted(run.required),
        "results": [r.to_dict() for r in run.results],
    }
    plain = to_plain(doc, secrets)
    return json.dumps(plain, ensure_ascii=False, indent=1, default=str).encode()


def qr_svg(payload: str) -> Markup:
    import segno  # pure Python; only the report draws QR codes

    qr = segno.make(payload, error="m")
    # segno escapes nothing it is not given: the payload is a hash and a fingerprint
    return Markup(qr.svg_inline(scale=2, border=2, dark="#1d1d1d"))


# what the seat plan places beside the seats, in this order
MARKED = {Kind.PROCTOR: Text("proctor", "监考机"),
          Kind.EXAM_SERVER: Text("exam server", "考试服务器"),
          Kind.CAMERA: Text("camera", "摄像头")}


@dataclass
class HostMark:
    """Something placed on the seat plan besides seats: proctor, exam server, camera."""

    kind: Text
    name: str
    status: Status | None


class _Page:
    def __init__(self, run: RunRecord, *, profile: Profile | None, site: Site | None,
                 store: ResultsStore | None, evidence: EvidenceInfo | None,
                 attestations: list[dict[str, Any]] | None, lang_primary: str,
                 secrets: list[Secret], evidence_dir: Path | None, generated_at: datetime):
        self.run, self.profile, self.site, self.store = run, profile, site, store
        self.evidence, self.attestations = evidence, attestations
        self.zh_first = lang_primary != "en"
        self.lang = "zh" if self.zh_first else "en"
        self.secrets = secrets
        self.evidence_dir = evidence_dir
        self.generated_at = generated_at
        self.tz: tzinfo = site.tz if site is not None else SITE_TZ

    def _finalize(self, value: Any) -> Any:
        # markup we built (SVG, QR) passes; everything else is data: scrubbed, then
        # autoescaped by Jinja2
        if isinstance(value, Markup) or value is None:
            return "" if value is None else value
        return scrub(str(value), self.secrets)

    def when(self, moment: datetime) -> str:
        return sitetime.local(moment, self.tz, seconds=True)

    def pairs(self, values: dict[str, Any]) -> list[Text]:
        # cleaned before formatting: a secret inside a nested value would otherwise be
        # JSON-escaped and no longer match the scrub
        plain = {k: v for k, v in to_plain(values, self.secrets).items() if k not in HIDDEN}
        return threshold_words(plain, fmt_value)

    # --- the parts --------------------------------------------------------------------

    def unsigned(self) -> Text | None:
        """Why page 1 must say NOT SIGNED (None: the run is verified). The run's trust
        when the report was made with the log; otherwise what is missing."""
        ev = self.evidence
        if ev is not None and ev.trust_status is not None:
            return None if ev.trust_status == "verified" else ev.trust_why
        return model.not_signed_reason(ev.head if ev else None, ev.run_ref if ev else None)

    def verdict(self) -> dict[str, Any]:
        run = self.run
        counts: dict[Status, int] = {}
        for r in run.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        failing = sorted({r.requirement for r in run.results if r.status == Status.FAIL})
        erring = sorted({r.requirement for r in run.results if r.status == Status.ERROR})
        proven = {r.requirement for r in run.results if r.status in (Status.PASS, Status.WARN)}
        unproven = sorted(run.required - proven - set(failing) - set(erring))
        reasons = [(label, ids) for ids, label in (
            (failing, Text("failed", "不通过")),
            (erring, Text("could not be checked", "无法检查")),
            (unproven, Text("required but not proven", "必检但未获证明"))) if ids]
        word = Text(VERDICT_WORDS["en"][run.verdict], VERDICT_WORDS["zh"][run.verdict])
        value, claim = run.verdict.value, None
        if self.unsigned() is not None:
            # what the store says is only a claim: never a big READY over a NOT SIGNED box
            value, claim = "not_signed", Text(
                f"The results store says “{word.en.lower()}”; no signature backs it.",
                f"结果库记为“{word.zh}”，没有签名为其证明。")
            word = model.NOT_SIGNED
        return {"value": value, "word": word, "claim": claim,
                "reasons": reasons,
                "counts": [(s, counts[s]) for s in Status if counts.get(s)]}

    def requirements(self) -> list[dict[str, Any]]:
        out = []
        for row in model.requirement_rows(self.run, self.profile):
            r = row.deciding
            out.append({
                "row": row,
                "counts": [(s, n) for s, n in row.counts.items()] if len(row.results) > 1
                else [],
                "target": r.label(self.lang) if r else None,
                "figure": self.number(r),
                "message": r.message if r else None,
                "threshold": self.pairs(r.threshold) if r and r.threshold else [],
            })
        return out

    def number(self, r: CheckResult | None) -> str | None:
        """The measured figure of a check, when its rule measures one."""
        if r is None or r.status == Status.SKIP:
            return None
        found = result_figure(r)
        return found.get(self.lang) if found is not None else None

    def words(self, subject: Subject) -> Text:
        return Text(name_of(subject, "en"), name_of(subject, "zh"))

    def cause_rules(self, cause: model.Cause) -> list[dict[str, Any]]:
        return [{"requirement": req,
                 "aspects": [Text(aspect_words(a, "en"), aspect_words(a, "zh"))
                             for a in aspects]}
                for req, aspects in cause.rules]

    def marks(self, room_id: str) -> list[HostMark]:
        """Proctor, exam server and cameras of a room, each with the worst verdict of the
        results about it."""
        found: dict[tuple[Kind, str], list[Status]] = {}
        for r in self.run.results:
            if r.subject.room != room_id or r.subject.kind not in MARKED:
                continue
            # a camera by its name; the proctor PC and the server by their address
            shown = r.subject.name if r.subject.kind is Kind.CAMERA else r.subject.address
            statuses = found.setdefault((r.subject.kind, shown or r.subject.name), [])
            if r.status != Status.SKIP:
                statuses.append(r.status)
        order = list(MARKED)
        return [HostMark(MARKED[kind], name,
                         max(sts, key=lambda s: SEVERITY[s]) if sts else None)
                for (kind, name), sts in sorted(found.items(),
                                                key=lambda x: (order.index(x[0][0]), x[0][1]))]

    def rooms(self) -> list[dict[str, Any]]:
        out = []
        for room in model.seat_maps(self.run, self.site):
            counts: dict[Status | None, int] = {}
            for cell in room.cells:
                counts[cell.status] = counts.get(cell.status, 0) + 1
            out.append({"map": room, "counts": list(counts.items()),
                        "marks": self.marks(room.room_id),
                        "causes": [{"cause": c, "who": self.words(c.subject),
                                    "rules": self.cause_rules(c)} for c in room.causes],
                        "by_rule": room.seats_by_rule()})
        return out

    def cameras(self) -> dict[str, Any]:
        """A tile per camera with every camera rule's verdict about it, and the room-level
        camera checks (counts, cameras the site file does not list) under them."""
        snaps: dict[int, list[model.Snapshot]] = {}
        files = self.evidence.files if self.evidence is not None else None
        for snap in model.snapshots(self.run, self.evidence_dir, files):
            snaps.setdefault(id(snap.result), []).append(snap)
        tiles = []
        for tile in model.camera_tiles(self.run, self.site):
            pictures = [s for r in tile.results for s in snaps.get(id(r), [])]
            rules = [{"r": r, "figure": self.number(r),
                      "message": r.message if r.status is not Status.PASS else None}
                     for r in tile.results]
            tiles.append({"tile": tile, "snaps": pictures, "rules": rules,
                          # the tile sits under its room's plan: the camera's name is enough
                          "who": self.words(Subject(Kind.CAMERA, tile.name))})
        room_level = [{"r": r, "who": Text(r.label("en"), r.label("zh")),
                       "figure": self.number(r), "message": r.message}
                      for r in model.room_camera_results(self.run)]
        return {"tiles": tiles, "room": room_level}

    def trend_thresholds(self, key: str) -> list[Threshold]:
        req_id = TRENDS[key].requirement
        req = self.profile.requirement(req_id) if self.profile else None
        if req is None:
            return []
        th = req.thresholds
        if key == "uplink_mbps" and isinstance(th.get("floor_mbps"), int | float):
            return [Threshold(float(th["floor_mbps"]), f"min {th['floor_mbps']}", "#d63a3a",
                              True)]
        if key == "slowest_seat_mbps":
            giga, fast = th.get("gigabit_class_min_mbps"), th.get("fast_ethernet_class_min_mbps")
            if th.get("required_class") == "gigabit" and isinstance(giga, int | float):
                return [Threshold(float(giga), f"min {giga} (gigabit)", "#d63a3a", True)]
            out = []
            if isinstance(giga, int | float):
                out.append(Threshold(float(giga), f"recommended {giga}", "#c77d00", False))
            if isinstance(fast, int | float):
                out.append(Threshold(float(fast), f"min {fast}", "#d63a3a", True))
            return out
        rooms = len(self.site.model.rooms) if self.site is not None else None
        if key == "seats_answering" and rooms and isinstance(th.get("min_seats"), int):
            return [Threshold(float(th["min_seats"] * rooms), f"min {th['min_seats'] * rooms}",
                              "#d63a3a", True)]
        # cameras passing: the rule on their number is CAM-COUNT's, per room
        count = self.profile.requirement("CAM-COUNT") if self.profile else None
        per_room = count.thresholds.get("min_cameras") if count else None
        if key == "cameras_passing" and rooms and isinstance(per_room, int):
            need = per_room * rooms
            return [Threshold(float(need), f"min {need}", "#d63a3a", True)]
        return []

    def stored_runs(self) -> int:
        """How many stored runs of this site there are up to this one."""
        if self.store is None:
            return 0
        stamp = self.run.started_at
        return sum(1 for r in self.store.list_runs(site_code=self.run.site_code)
                   if r.started_at <= stamp + timedelta(seconds=1))

    def trends(self) -> list[dict[str, Any]] | None:
        if self.store is None:
            return None
        stamp = self.run.started_at
        if stamp.tzinfo is None:  # the store reads a naive time as UTC; so do we
            stamp = stamp.replace(tzinfo=UTC)
        if self.stored_runs() < 2:
            return []  # a trend needs two runs: one point is not a line
        current_id = getattr(self.run, "run_id", 0)
        charts = []
        for key in ("uplink_mbps", "slowest_seat_mbps", "seats_answering", "cameras_passing"):
            spec = TRENDS[key]
            series = [p for p in self.store.trend(key, site_code=self.run.site_code)
                      if p.started_at <= stamp + timedelta(seconds=1)][-MAX_TREND_POINTS:]
            points = [Point(p.started_at, p.value,
                            current=(p.run_id == current_id) if current_id
                            else p.started_at == stamp) for p in series]
            values = [p.value for p in series if p.value is not None]
            svg = (Markup(line_chart(points, self.trend_thresholds(key), spec.unit, self.tz,
                                     spec.label.en, integer=not spec.unit))
                   if values else None)
            charts.append({"svg": svg, "label": spec.label, "requirement": spec.requirement,
                           "runs": len(series),
                           "latest": f"{values[-1]:.0f} {spec.unit}".strip() if values else "-"})
        return charts

    def other_filter_findings(self) -> list[dict[str, Any]]:
        """Failed filtering results outside the url_filter audit's matrix, each with the
        requests it recorded, as recorded (secrets scrubbed)."""
        out = []
        for leak in model.leaks(self.run):
            if isinstance(leak.result.measured.get("attempts"), list):
                continue  # in the matrix and its leak lines
            # a verdict derived from the seats' audits repeats their leaks, which the
            # matrix's leak lines already list once: its message is enough
            derived = "audits" in leak.result.measured
            requests = [] if derived else [
                (self.verbatim(item.request), self.verbatim(item.answer))
                for item in leak.items]
            r = leak.result
            out.append({"r": r, "who": Text(r.label("en"), r.label("zh")),
                        "vantage": Text(r.vantage, r.vantage),
                        "message": r.message, "requests": requests})
        return _fold_same(out)

    def verbatim(self, value: Any) -> str | None:
        if value is None:
            return None
        value = to_plain(value, self.secrets)
        return value if isinstance(value, str) else json.dumps(
            value, ensure_ascii=False, default=str)

    def attestation_rows(self) -> list[dict[str, Any]]:
        need = MIN_STAFF.get(self.run.profile_id)
        out = []
        for row in model.attestation_rows(self.profile, self.attestations, self.run):
            short = (row.id == "STAFF-COUNT" and need and isinstance(row.value, str)
                     and row.value.isdigit() and int(row.value) < need)
            out.append({"row": row, "short_of": need if short else None,
                        "at": self.when(row.at) if row.at else None})
        return out

    def attestation_status(self) -> Text:
        """Page 1's line on what people attested (section 6 lists each item)."""
        if self.profile is None:
            return Text("no checklist: the profile could not be loaded",
                        "无清单：无法加载规则配置")
        rows = model.attestation_rows(self.profile, self.attestations, self.run)
        done = sum(1 for row in rows if row.at is not None)
        if not rows:
            return Text("nothing to attest under this certificate", "本证书无需人工确认")
        if not done:
            return Text(f"none of {len(rows)} items attested yet: readiness attest",
                        f"{len(rows)} 项均未确认：请运行 readiness attest")
        return Text(f"{done} of {len(rows)} items attested (section 6)",
                    f"{len(rows)} 项中已确认 {done} 项（第 6 节）")

    def appendix(self) -> list[dict[str, Any]]:
        return [{"n": n, "r": r, "label": r.label(self.lang),
                 "figure": figure_or_message(r, self.lang)}
                for n, r in enumerate(self.run.results, 1)]

    # --- the page ---------------------------------------------------------------------

    def render(self) -> str:
        env = jinja2.Environment(
            # package data (pyproject.toml), read through importlib wherever it is installed
            loader=jinja2.PackageLoader("readiness.report", "templates"), autoescape=True,
            undefined=jinja2.StrictUndefined, finalize=self._finalize,
            trim_blocks=True, lstrip_blocks=True)
        run, ev = self.run, self.evidence
        attached = run_json(run, self.secrets)
        unsigned = self.unsigned()
        qr = (qr_svg(f"readiness chain head {ev.head} site key {ev.fingerprint}")
              if ev is not None and ev.head else None)
        fixes = fix_items(run, self.lang)
        stem = f"{run.site_code}-{sitetime.stamp(run.started_at, self.tz)}"
        context = run_context(run, self.site)
        drill = getattr(run, "trigger", "") == DRILL_TRIGGER
        return env.get_template("report.html.j2").render(
            run=run, profile=self.profile, site=self.site, zh_first=self.zh_first,
            version=__version__, csp=Markup(CSP), css=Markup(CSS),
            when=self.when, duration=_duration(run.finished_at - run.started_at),
            generated=self.when(self.generated_at), status_text=status_text,
            Status=Status, verdict=self.verdict(), not_signed=model.NOT_SIGNED,
            unsigned=unsigned, ev=ev, qr=qr,
            fixes=fixes, context=context, drill=drill,
            page_css=Markup(page_css(run, ev.head if ev else None, drill)),
            attested=self.attestation_status(),
            requirements=self.requirements(), rooms=self.rooms(), cameras=self.cameras(),
            trends=self.trends(), matrix=filter_matrix(run), how_text=how_text,
            seats_text=seats_text, other_filter=self.other_filter_findings(),
            filter_checked=any(
                r.requirement in model.LEAK_REQUIREMENTS and r.status != Status.SKIP
                for r in run.results),
            attestations=self.attestation_rows(), appendix=self.appendix(),
            other_files=model.evidence_files(
                run, self.evidence_dir, ev.files if ev is not None else None, images=False),
            json_name=f"result-{stem}.json", json_sha256=hashlib.sha256(attached).hexdigest(),
            json_b64=base64.b64encode(attached).decode("ascii"), json_bytes=len(attached),
            seats_per_row=8, T=Text)


def render_html(run: RunRecord, *, profile: Profile | None, site: Site | None,
                store: ResultsStore | None, evidence: dict[str, Any] | None,
                attestations: list[dict[str, Any]] | None, lang_primary: str = "zh",
                secrets: Iterable[Secret] = (), evidence_dir: Path | None = None,
                generated_at: datetime | None = None) -> str:
    """The whole page as a string (write_report writes it and prints the PDF)."""
    all_secrets = list(secrets)
    if site is not None:
        all_secrets += [s for s in site.secrets.values() if s not in all_secrets]
    page = _Page(run, profile=profile, site=site, store=store,
                 evidence=EvidenceInfo.from_dict(evidence), attestations=attestations,
                 lang_primary=lang_primary, secrets=all_secrets, evidence_dir=evidence_dir,
                 generated_at=generated_at or datetime.now(UTC))
    return page.render()


__all__ = ["CheckResult", "EvidenceInfo", "fmt_value", "render_html"]
