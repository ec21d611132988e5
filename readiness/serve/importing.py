"""A run written by `--json` (docs/result-schema.json) read back as a RunRecord: lets a
recorded drill be stored and served again (tests, benchmarks, a demo without a lab)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..results import CheckResult, Citation, Finding, RunRecord, Status, Text, Verdict
from ..subject import Subject


def _text(value: Any, fallback: str = "") -> Text:
    if isinstance(value, dict):
        return Text(str(value.get("en", fallback)), str(value.get("zh", fallback)))
    return Text(str(value or fallback), str(value or fallback))


def result_from_json(item: dict[str, Any]) -> CheckResult:
    citation = item.get("citation")
    return CheckResult(
        requirement=item["requirement"], title=_text(item.get("title"), item["requirement"]),
        subject=Subject.read(item.get("subject"), str(item.get("target", ""))),
        aspect=item.get("aspect"), vantage=item["vantage"], status=Status(item["status"]),
        message=_text(item.get("message_i18n") or item.get("message")),
        findings=Finding.read_all(item.get("findings")),
        measured=dict(item.get("measured") or {}), threshold=dict(item.get("threshold") or {}),
        citation=Citation(**citation) if citation else None,
        started_at=datetime.fromisoformat(item["started_at"]),
        duration_s=float(item.get("duration_s") or 0.0), check_id=item.get("id", ""),
        evidence=[e for e in item.get("evidence") or [] if isinstance(e, str)])


def run_from_json(doc: dict[str, Any]) -> RunRecord:
    return RunRecord(
        site_name=doc["site"]["name"], site_code=doc["site"]["code"],
        profile_id=doc["profile"]["id"], certificate=_text(doc["profile"].get("certificate")),
        started_at=datetime.fromisoformat(doc["started_at"]),
        finished_at=datetime.fromisoformat(doc["finished_at"]),
        verdict=Verdict(doc["verdict"]), results=[result_from_json(r) for r in doc["results"]],
        required=set(doc.get("required") or []),
        measured_from=str(doc.get("measured_from") or ""))


def store_run(run: RunRecord, *, store: str, log: str, key_dir: str,
              trigger: str = "import") -> int | None:
    """Sign `run` into the evidence log and keep it in the store, as a real run is."""
    from pathlib import Path

    from ..evidence.recording import record_run

    return record_run(run, [], trigger=trigger, log_path=Path(log), key_dir=Path(key_dir),
                      store_path=Path(store)).run_id
