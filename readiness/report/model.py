"""What the proof-of-readiness page shows, worked out from a run before any HTML is
written: requirement verdicts, the seat map, snapshots, leaks, the attestation list.

Kept apart from the HTML so the rules that decide what an inspector sees (which results
colour which seat, which camera a tile holds, which attestation item answers which
checklist line) can be read and tested without markup around them. Whom a result is
about is its subject (readiness/subject.py): nothing here reads a label or a check id.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..config.load import Site
from ..config.profile import Profile, Requirement
from ..evidence.record import ATTESTATION_ITEMS
from ..results import (
    SEVERITY,
    CheckResult,
    Citation,
    Finding,
    RunRecord,
    Status,
    Text,
    proves,
    worst,
)
from ..subject import Kind, Subject

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
LEAK_REQUIREMENTS = ("WAN-POLICY", "FILTER-FEATURES")
# Snapshots are embedded: large enough to judge the picture, small enough that a
# report with a dozen cameras stays a few megabytes.
SNAPSHOT_MAX_WIDTH = 640

# `readiness attest --item KEY=VALUE` keys (evidence.record.ATTESTATION_ITEMS) that
# do not spell the profile's checklist id once upper-cased.
ITEM_ALIASES = {
    "STAFF": "STAFF-COUNT",
    "LIGHTING": "LIGHTING-VENTILATION",
    "VENTILATION": "LIGHTING-VENTILATION",
    "OFFICE": "EXAM-OFFICE",
}


# --- requirements ---------------------------------------------------------------


@dataclass
class RequirementRow:
    id: str
    title: Text
    status: Status | None  # None: the run has no result for it
    results: list[CheckResult]
    deciding: CheckResult | None  # the result the verdict comes from
    citation: Citation | None
    see_also: tuple[Citation, ...]
    rule: Text | None  # the profile's words for this verdict
    applies: bool
    required: bool
    note: Text | None

    @property
    def counts(self) -> dict[Status, int]:
        out: dict[Status, int] = {}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _deciding(results: list[CheckResult]) -> CheckResult | None:
    """The result that makes the requirement's verdict; among equals the lowest
    throughput, so a throughput row shows its slowest path, not the first one."""
    if not results:
        return None
    top = max(SEVERITY[r.status] for r in results)
    tied = [r for r in results if SEVERITY[r.status] == top]

    def key(r: CheckResult) -> float:
        value = _number(r.measured.get("throughput_mbps"))
        return value if value is not None else float("inf")

    return min(tied, key=key)


def requirement_rows(run: RunRecord, profile: Profile | None) -> list[RequirementRow]:
    """One row per requirement: the profile's order first, then anything the run has
    that the profile does not list (so no result is left off the page)."""
    by_req: dict[str, list[CheckResult]] = {}
    for r in run.results:
        by_req.setdefault(r.requirement, []).append(r)
    order = [req.id for req in profile.requirements] if profile else []
    order += [rid for rid in by_req if rid not in order]
    rows = []
    for rid in order:
        results = by_req.get(rid, [])
        req: Requirement | None = profile.requirement(rid) if profile else None
        if req is None and not results:
            continue
        status = worst([r.status for r in results]) if results else None
        deciding = _deciding(results)
        title = req.title if req else (results[0].title if results else Text(rid, rid))
        citation = req.citation if req else next(
            (r.citation for r in results if r.citation), None)
        rule = None
        if req and status is not None:
            rule = req.rule.get(status.value)
        rows.append(RequirementRow(
            id=rid, title=title, status=status, results=results, deciding=deciding,
            citation=citation, see_also=req.see_also if req else (), rule=rule,
            applies=req.applies if req else True,
            required=(rid in run.required) or bool(req and req.required),
            note=req.note if req else None))
    return rows


# --- seat map -----------------------------------------------------------------------


class Verified(StrEnum):
    """How much of a seat its results prove: a seat whose agent never answered must not
    look like a seat that passed."""

    ALL = "all"          # every result about it proves something
    PARTLY = "partly"    # some were skipped, errored or only warn that they could not check
    NONE = "none"        # nothing about it was proven either way


def _proves_either_way(result: CheckResult) -> bool:
    # a fail is proof of a problem as much as a pass is proof of the rule
    return result.status is Status.FAIL or proves(result)


def _is_reachability(result: CheckResult) -> bool:
    # LAN-SUBNET's own check of a machine (its other aspects are about its subnet)
    return result.requirement == "LAN-SUBNET" and result.aspect is None


def _elsewhere(result: CheckResult) -> list[Finding]:
    """The result's findings when every one of them is about another subject than the
    result's own (a leak seen from a seat is the router's): empty otherwise."""
    if not result.findings:
        return []
    own = result.subject
    if all(f.subject is not None and f.subject != own for f in result.findings):
        return list(result.findings)
    return []


@dataclass
class SeatCell:
    label: str  # the seat's name as the site file spells it
    address: str | None
    room: str = ""
    # the results whose subject is this seat (and that are about it, not about another
    # subject their judge named)
    results: list[CheckResult] = field(default_factory=list)

    @property
    def status(self) -> Status | None:
        return worst([r.status for r in self.results]) if self.results else None

    @property
    def verified(self) -> Verified | None:
        if not self.results:
            return None
        proven = [_proves_either_way(r) for r in self.results]
        return Verified.ALL if all(proven) else Verified.PARTLY if any(proven) \
            else Verified.NONE

    @property
    def answers(self) -> bool | None:
        """False: the seat's own reachability check failed (it does not answer at all)."""
        reach = [r for r in self.results if _is_reachability(r)]
        if not reach:
            return None
        return not any(r.status is Status.FAIL for r in reach)

    @property
    def why(self) -> list[str]:
        """The rules behind the seat's colour: those of its worst verdict, warn or worse."""
        status = self.status
        if status is None or SEVERITY[status] < SEVERITY[Status.WARN]:
            return []
        return sorted({r.requirement for r in self.results if r.status is status})

    @property
    def throughput_mbps(self) -> float | None:
        values = [_number(r.measured.get("throughput_mbps")) for r in self.results
                  if r.requirement == "LAN-SPEED"]
        found = [v for v in values if v is not None]
        # several directions (send, receive) per seat: the slower one is what counts
        return min(found) if found else None


@dataclass
class Cause:
    """Something about the room, not one seat (the router's filter, the uplink, a
    camera), shown once beside the seat plan: its worst verdict and the rules saying it."""

    subject: Subject
    status: Status
    rules: list[tuple[str, list[str]]]  # (requirement, the aspects that are not pass)


@dataclass
class RoomMap:
    room_id: str
    name: str
    subnet: str | None
    cells: list[SeatCell]
    causes: list[Cause] = field(default_factory=list)

    def seats_by_rule(self) -> list[tuple[str, Status, int]]:
        """(requirement, verdict, how many seats) for every rule giving seats a warn or
        worse: "SEAT-SPEC fails on 36 seats" read once instead of off 36 cells."""
        counts: dict[tuple[str, Status], set[str]] = {}
        for cell in self.cells:
            for r in cell.results:
                if SEVERITY[r.status] >= SEVERITY[Status.WARN]:
                    counts.setdefault((r.requirement, r.status), set()).add(cell.label)
        return sorted(((req, st, len(seats)) for (req, st), seats in counts.items()),
                      key=lambda x: (-SEVERITY[x[1]], -x[2], x[0]))


def _natural(name: str) -> tuple[Any, ...]:
    # A2 before A10: seat names are letters and numbers
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _causes(results: list[CheckResult]) -> list[Cause]:
    """Warn-or-worse results about anything of the room but a seat, one line per subject."""
    by_subject: dict[tuple[Kind, str], list[tuple[Subject, CheckResult]]] = {}
    for r in results:
        about = [f.subject for f in _elsewhere(r) if f.subject is not None]
        if r.subject.kind is not Kind.SEAT and not about:
            about = [r.subject]
        for subject in about:
            if subject.kind is Kind.SEAT:
                continue
            by_subject.setdefault((subject.kind, subject.name), []).append((subject, r))
    out = []
    for entries in by_subject.values():
        status = worst([r.status for _, r in entries])
        if SEVERITY[status] < SEVERITY[Status.WARN]:
            continue
        rules: dict[str, list[str]] = {}
        for _, r in entries:
            aspects = rules.setdefault(r.requirement, [])
            if r.aspect and r.status is not Status.PASS and r.aspect not in aspects:
                aspects.append(r.aspect)
        bad = {r.requirement for _, r in entries if SEVERITY[r.status] >= SEVERITY[Status.WARN]}
        out.append(Cause(entries[0][0], status,
                         [(req, aspects) for req, aspects in rules.items() if req in bad]))
    return sorted(out, key=lambda c: -SEVERITY[c.status])


def seat_maps(run: RunRecord, site: Site | None) -> list[RoomMap]:
    """Rooms with one cell per seat, each coloured by the results whose subject is that
    seat, and the room's own causes beside them. With the site file every configured
    seat has a cell, checked or not (a seat missing from the results is a finding, too);
    without it the seats are the ones the results are about."""
    rooms: dict[str, RoomMap] = {}
    cells: dict[tuple[str, str], SeatCell] = {}

    def room_map(room_id: str) -> RoomMap:
        if room_id not in rooms:
            rooms[room_id] = RoomMap(room_id, "", None, [])
        return rooms[room_id]

    if site is not None:
        for room in site.model.rooms:
            rooms[room.id] = RoomMap(room.id, room.name, room.subnet, [])
            for seat in site.seats.get(room.id, []):
                cell = SeatCell(seat.label, seat.address, room.id)
                rooms[room.id].cells.append(cell)
                cells[(room.id, seat.label)] = cell

    by_room: dict[str, list[CheckResult]] = {}
    for r in run.results:
        if r.subject.room is not None:
            by_room.setdefault(r.subject.room, []).append(r)
        if r.subject.kind is not Kind.SEAT or _elsewhere(r):
            continue
        room_id = r.subject.room or ""
        cell = cells.get((room_id, r.subject.name))
        if cell is None:
            # a seat the site file does not list: shown, apart
            shown_in = "?" if site is not None else room_id
            cell = cells[(room_id, r.subject.name)] = SeatCell(
                r.subject.name, r.subject.address, room_id)
            room_map(shown_in).cells.append(cell)
        cell.results.append(r)

    for room_map_ in rooms.values():
        if site is None:
            room_map_.cells.sort(key=lambda c: _natural(c.label))
        room_map_.causes = _causes(by_room.get(room_map_.room_id, []))
    return [m for m in rooms.values() if m.cells]


# --- cameras ----------------------------------------------------------------------------

# the rules about cameras: a camera's tile shows each one that is about it; the rest (a
# room's count, cameras found that the site file does not list) go under the tiles
CAMERA_RULES = ("CAM-COUNT", "CAM-RES", "CAM-AUDIO", "CAM-STORE")


@dataclass
class CameraTile:
    room: str | None
    name: str
    address: str | None
    results: list[CheckResult] = field(default_factory=list)  # every result about it

    @property
    def status(self) -> Status | None:
        return worst([r.status for r in self.results]) if self.results else None


def camera_tiles(run: RunRecord, site: Site | None) -> list[CameraTile]:
    """One tile per camera the run has results about (in the site file's order, then any
    other), holding every result whose subject is that camera, whatever its rule. A
    camera added to the site file after the run has no tile: the report shows the run."""
    tiles: dict[tuple[str | None, str], CameraTile] = {}
    if site is not None:
        for room in site.model.rooms:
            for cam in room.cameras:
                tiles[(room.id, cam.name)] = CameraTile(room.id, cam.name, None)
    for r in run.results:
        if r.subject.kind is not Kind.CAMERA:
            continue
        key = (r.subject.room, r.subject.name)
        tile = tiles.setdefault(key, CameraTile(r.subject.room, r.subject.name, None))
        tile.address = tile.address or r.subject.address
        tile.results.append(r)
    return [t for t in tiles.values() if t.results]


def room_camera_results(run: RunRecord) -> list[CheckResult]:
    """Camera rules' results about no one camera: a room's count, cameras found on the
    LAN that the site file does not list, recording storage."""
    return [r for r in run.results
            if r.requirement in CAMERA_RULES and r.subject.kind is not Kind.CAMERA]


# --- camera snapshots -----------------------------------------------------------------


@dataclass
class Snapshot:
    result: CheckResult
    name: str
    data_uri: str | None  # None: the file could not be read or is not the signed one
    sha256: str | None  # the signed hash when there is one, else the file's own
    width: int | None
    height: int | None
    problem: Text | None = None
    checked: bool = False  # the file's bytes equal the sha256 of the signed record


@dataclass
class EvidenceFile:
    """A file a result points to, checked against the sha256 its signed record holds."""

    result: CheckResult
    name: str
    path: Path
    raw: bytes | None  # the file's bytes; None when it must not be shown
    sha256: str | None  # the signed hash (signed runs), else the file's own
    checked: bool  # the bytes are the ones signed
    problem: Text | None


def _resolve(name: str, evidence_dir: Path | None) -> Path:
    path = Path(name)
    if not path.is_absolute() and evidence_dir is not None:
        path = evidence_dir / path
    return path


def _check_file(result: CheckResult, name: str, path: Path,
                signed: dict[str, Any] | None) -> EvidenceFile:
    """Read a file and compare it with its signed record. `signed`: the record's entry
    for it ({"sha256", "bytes"}; sha256 None: no file was there at signing), or None
    for a run without signed records (then nothing can be compared: `checked` False)."""
    expected = signed.get("sha256") if signed is not None else None
    if signed is not None and not expected:
        return EvidenceFile(result, name, path, None, None, False, Text(
            f"no file {name} existed when this run was signed: whatever is there now was "
            "put there afterwards, so it is not shown",
            f"本次检查签名时不存在文件 {name}：现在的文件是事后放入的，不予显示"))
    try:
        raw = path.read_bytes()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        if expected:
            return EvidenceFile(result, name, path, None, expected, False, Text(
                f"the file signed with SHA-256 {expected} is missing ({reason}): {path}",
                f"签名记录中 SHA-256 为 {expected} 的文件缺失（{reason}）：{path}"))
        return EvidenceFile(result, name, path, None, None, False, Text(
            f"snapshot file not readable ({reason}): {path}",
            f"无法读取截图文件（{reason}）：{path}"))
    digest = hashlib.sha256(raw).hexdigest()
    if expected and digest != expected:
        return EvidenceFile(result, name, path, None, expected, False, Text(
            f"{path} is not the file that was signed: its SHA-256 is {digest}, the signed "
            f"record says {expected}. It was replaced after the run and is not shown.",
            f"{path} 不是签名时的文件：其 SHA-256 为 {digest}，签名记录为 {expected}。"
            "该文件在检查后被替换，不予显示。"))
    return EvidenceFile(result, name, path, raw, expected or digest, bool(expected), None)


def evidence_files(run: RunRecord, evidence_dir: Path | None,
                   signed: dict[str, dict[str, Any]] | None = None,
                   images: bool | None = None) -> list[EvidenceFile]:
    """Every file the run's results point to, each checked against its signed sha256.
    `signed`: "index:name" -> the signed entry (None: the run has no signed records).
    `images`: only pictures (True), only the other files (False), or all (None)."""
    out = []
    for index, result in enumerate(run.results):
        for name in result.evidence:
            picture = Path(name).suffix.lower() in IMAGE_SUFFIXES
            if images is not None and picture != images:
                continue
            entry = signed.get(f"{index}:{name}", {}) if signed is not None else None
            out.append(_check_file(result, name, _resolve(name, evidence_dir), entry))
    return out


def snapshots(run: RunRecord, evidence_dir: Path | None,
              signed: dict[str, dict[str, Any]] | None = None) -> list[Snapshot]:
    """The camera pictures, each shown only when it is the file that was signed (or,
    for a run without signed records, marked unchecked)."""
    import cv2  # imported here: the rest of the report does not need OpenCV
    import numpy as np

    out = []
    for file in evidence_files(run, evidence_dir, signed, images=True):
        if file.raw is None:
            out.append(Snapshot(file.result, file.name, None, file.sha256, None, None,
                                file.problem))
            continue
        image = cv2.imdecode(np.frombuffer(file.raw, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            out.append(Snapshot(file.result, file.name, None, file.sha256, None, None, Text(
                "the snapshot file is not a readable image",
                "截图文件不是可读取的图像"), file.checked))
            continue
        height, width = image.shape[:2]
        if width > SNAPSHOT_MAX_WIDTH:
            scale = SNAPSHOT_MAX_WIDTH / width
            image = cv2.resize(image, (SNAPSHOT_MAX_WIDTH, max(1, round(height * scale))),
                               interpolation=cv2.INTER_AREA)
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 82])
        uri = ("data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode()
               if ok else None)
        out.append(Snapshot(file.result, file.name, uri, file.sha256, width, height,
                            checked=file.checked))
    return out


# --- filter leaks --------------------------------------------------------------------

# Measured keys shown as leak items, or too bulky to repeat next to them.
LEAK_DETAIL_KEYS = frozenset({"request", "leak", "attempts", "leaks", "exam", "blocked",
                              "requests", "resolvers"})


@dataclass
class LeakItem:
    request: Any  # exactly as the probe recorded it (a line, or a dict of fields)
    answer: Any  # what came back (or, for an exam site, why it did not load)
    technique: str | None = None  # e.g. direct_ip, doh, resolver
    exam_blocked: bool = False  # an exam site that must load and did not


@dataclass
class Leak:
    result: CheckResult
    items: list[LeakItem]
    other: dict[str, Any]  # the rest of the measurement, for context


def _leak_items(measured: dict[str, Any]) -> list[LeakItem]:
    items: list[LeakItem] = []
    if "request" in measured or "leak" in measured:
        items.append(LeakItem(measured.get("request"), measured.get("leak")))
    attempts = measured.get("attempts")
    # the url_filter audit: every bypass and block attempt, `leak` true where it got
    # through; its `leaks` list holds the same attempts as text lines
    if isinstance(attempts, list):
        for att in attempts:
            if isinstance(att, dict) and att.get("leak") is True:
                items.append(LeakItem(att.get("request"), att.get("result"),
                                      str(att.get("technique") or "") or None))
    elif isinstance(measured.get("leaks"), list):
        items += [LeakItem(line, None) for line in measured["leaks"]]
    exam = measured.get("exam")
    if isinstance(exam, list):
        for entry in exam:
            if isinstance(entry, dict) and entry.get("ok") is False:
                items.append(LeakItem(entry.get("requests") or entry.get("url"),
                                      entry.get("detail") or entry.get("why"),
                                      exam_blocked=True))
    return items


def leaks(run: RunRecord) -> list[Leak]:
    """Failed filtering results with the requests that made them fail. A failed
    result whose probe recorded no request still appears (with its message)."""
    out = []
    for r in run.results:
        if r.requirement in LEAK_REQUIREMENTS and r.status == Status.FAIL:
            other = {k: v for k, v in r.measured.items() if k not in LEAK_DETAIL_KEYS}
            out.append(Leak(r, _leak_items(r.measured), other))
    return out


# --- attestations ------------------------------------------------------------------------


@dataclass
class AttestationRow:
    id: str
    title: Text
    rule: Text | None
    citation: Citation | None
    value: bool | str | None = None  # None: nobody has attested it yet
    person: str | None = None
    role: str | None = None
    at: datetime | None = None
    note: str | None = None
    seq: int | None = None  # the record's place in the evidence log


def _item_id(key: str) -> str:
    norm = key.strip().upper().replace("_", "-")
    return ITEM_ALIASES.get(norm, norm)


def _parse_at(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def attestation_rows(profile: Profile | None, records: Iterable[dict[str, Any]] | None,
                     run: RunRecord) -> list[AttestationRow]:
    """The profile's checklist, each line filled from the latest attestation that
    answers it; items attested but not on the checklist follow as extra lines.

    `records`: evidence-log records of type "attestation" (or their bodies). Records
    naming another site or certificate are left out: they do not attest this room.
    """
    rows: dict[str, AttestationRow] = {}
    if profile is not None:
        for att in profile.attestations:
            rows[att.id] = AttestationRow(att.id, att.title, att.rule, att.citation)
    for record in records or []:
        body = record.get("body", record) if isinstance(record, dict) else None
        if not isinstance(body, dict) or record.get("type", "attestation") != "attestation":
            continue
        if body.get("site") not in (None, run.site_name):
            continue
        if body.get("profile") not in (None, run.profile_id):
            continue
        items = body.get("items")
        if not isinstance(items, dict):
            continue
        for key, value in items.items():
            if not isinstance(value, bool | str):
                continue
            item_id = _item_id(str(key))
            row = rows.get(item_id)
            if row is None:
                known = ATTESTATION_ITEMS.get(str(key))
                row = rows[item_id] = AttestationRow(
                    item_id, known or Text(str(key), str(key)), None, None)
            # records come in log order, so a later attestation replaces an earlier one
            row.value, row.note = value, str(body.get("note") or "") or None
            row.person, row.role = str(body.get("person", "")), str(body.get("role", ""))
            row.at = _parse_at(record.get("at"))
            seq = record.get("seq")
            row.seq = seq if isinstance(seq, int) else None
    return list(rows.values())


# --- signed or not ------------------------------------------------------------------------

NOT_SIGNED = Text("NOT SIGNED", "未签名")


def not_signed_reason(head: str | None, run_ref: str | None) -> Text | None:
    """Why page 1 must say NOT SIGNED, or None when the run's own records were read
    from a verified evidence log (`head`) and matched the store (`run_ref`)."""
    if not head:
        return Text("Not backed by a signed evidence log: no verified log was given for "
                    "this report, so nothing on it can be checked against the site's key. "
                    "Treat it as a copy, not as proof.",
                    "本报告未附签名证据日志：生成时没有经过验证的证据日志，报告内容无法用站点"
                    "密钥核验。请仅将其视为副本，而非证明。")
    if not run_ref:
        return Text("This run was never signed into the evidence log (the site had no key "
                    "when it ran): its results are not proven by any signature.",
                    "本次检查未签名写入证据日志（检查时考点尚无密钥）：其结果没有任何签名证明。")
    return None
