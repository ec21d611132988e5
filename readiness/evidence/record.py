"""What goes into the evidence log: a finished run, its results, and people's
attestations of what no probe can see."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from datetime import UTC
from pathlib import Path
from typing import Any

from .. import __version__
from ..redact import Secret, scrub
from ..results import CheckResult, RunRecord, Status, Text
from .canonical import to_plain
from .chain import SIGNED_HEAD, EvidenceLog

# The checklist of requirements.md "What no probe can see". Keys are what
# `readiness attest --item KEY=VALUE` takes; other keys are accepted too.
ATTESTATION_ITEMS: dict[str, Text] = {
    "staff": Text("Exam staff on site (number of people)", "考点工作人员人数"),
    "proctor_ratio": Text("At least one proctor per 20 candidates",
                          "监考人员与考生比例不低于 1:20"),
    "seat_spacing": Text("Seats at least 1 m apart", "考位间距不小于 1 米"),
    "signage": Text("Exam room signage posted", "考场标识张贴到位"),
    "evacuation": Text("Evacuation routes clear and marked", "疏散通道畅通且有标识"),
    "lighting": Text("Lighting adequate", "照明充足"),
}
# Minimum staff by certificate profile (requirements.md): shown next to the staff item.
MIN_STAFF = {"eda": 5, "cbec": 6}


def run_key(run: RunRecord) -> str:
    """Ties a run record and its result records together without depending on seq."""
    return f"{run.site_code}/{run.started_at.astimezone(UTC).isoformat(timespec='seconds')}"


def _file_digest(path: Path) -> tuple[str, int] | None:
    try:
        if not path.is_file():
            return None
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest(), path.stat().st_size
    except OSError:
        return None


def _evidence(names: list[str], evidence_dir: Path | None,
              secrets: list[Secret]) -> list[dict[str, Any]]:
    out = []
    for name in names:
        path = Path(name)
        if not path.is_absolute() and evidence_dir is not None:
            path = evidence_dir / path
        found = _file_digest(path)
        entry: dict[str, Any] = {"name": scrub(name, secrets)}
        if found:
            # the hash makes the file itself part of the proof: swapping the snapshot
            # afterwards no longer matches the signed record
            entry["sha256"], entry["bytes"] = found
        out.append(entry)
    return out


def result_body(result: CheckResult, run: str, evidence_dir: Path | None,
                secrets: list[Secret]) -> dict[str, Any]:
    body = {
        "run": run,
        "check_id": result.check_id,
        "requirement": result.requirement,
        "title": result.title.to_dict(),
        "subject": result.subject.to_dict(),
        "aspect": result.aspect,
        "target": result.target,
        "vantage": result.vantage,
        "status": result.status.value,
        "measured": result.measured,
        "threshold": result.threshold,
        "citation": result.citation.to_dict() if result.citation else None,
        "message": result.message.to_dict(),
        "findings": [f.to_dict() for f in result.findings],
        "started_at": result.started_at.astimezone(UTC).isoformat(),
        "duration_s": round(result.duration_s, 3),
    }
    plain = to_plain(body, secrets)
    plain["evidence"] = _evidence(result.evidence, evidence_dir, secrets)
    return plain


def run_body(run: RunRecord, secrets: list[Secret]) -> dict[str, Any]:
    counts = Counter(r.status.value for r in run.results)
    return to_plain({
        "run": run_key(run),
        "site": {"name": run.site_name, "code": run.site_code},
        "profile": {"id": run.profile_id, "certificate": run.certificate.to_dict()},
        "verdict": run.verdict.value,
        "started_at": run.started_at.astimezone(UTC).isoformat(),
        "finished_at": run.finished_at.astimezone(UTC).isoformat(),
        "required": sorted(run.required),
        "measured_from": run.measured_from,
        "results": len(run.results),
        "counts": {s.value: counts.get(s.value, 0) for s in Status},
        "tool": f"readiness {__version__}",
        # this writer signs the head file: from here on an unsigned one is a forgery
        SIGNED_HEAD: True,
    }, secrets)


def append_run(log: EvidenceLog, run: RunRecord, secrets: Iterable[Secret] = (),
               evidence_dir: Path | None = None) -> list[dict[str, Any]]:
    """Write one `run` record then one `result` record per check, in one append.

    `evidence_dir`: where relative evidence file names (snapshots...) are found, so
    their SHA-256 can be recorded. Returns the records written (run record first).
    """
    secrets = list(secrets)
    key = run_key(run)
    items: list[tuple[str, dict[str, Any]]] = [("run", run_body(run, secrets))]
    items += [("result", result_body(r, key, evidence_dir, secrets)) for r in run.results]
    return log.append_many(items)


def append_attestation(log: EvidenceLog, person: str, role: str,
                       items: dict[str, bool | str], note: str = "", *,
                       site: str | None = None, profile: str | None = None,
                       secrets: Iterable[Secret] = ()) -> dict[str, Any]:
    """A named person states what they saw for the checks no probe can make."""
    person, role = person.strip(), role.strip()
    if not person or not role:
        raise ValueError("an attestation needs the person's name and role")
    if not items:
        raise ValueError("an attestation needs at least one item")
    for name, value in items.items():
        if not isinstance(value, bool | str):
            raise TypeError(f"attestation item {name!r} must be yes/no or text")
    body: dict[str, Any] = {"person": person, "role": role, "items": dict(items),
                            "note": note.strip()}
    if site:
        body["site"] = site
    if profile:
        body["profile"] = profile
    return log.append("attestation", to_plain(body, list(secrets)))
