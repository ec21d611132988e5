"""The versioned JSON result document (schema: docs/result-schema.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..partial_files import write_complete
from ..redact import Secret, scrub_data
from ..results import SCHEMA_VERSION, RunRecord


def to_document(run: RunRecord, lang: str) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "site": {"name": run.site_name, "code": run.site_code},
        "profile": {"id": run.profile_id, "certificate": run.certificate.to_dict()},
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat(),
        "verdict": run.verdict.value,
        "required": sorted(run.required),
        "measured_from": run.measured_from,
        "results": [r.to_dict(lang) for r in run.results],
    }


def write_json(run: RunRecord, path: Path, lang: str, secrets: list[Secret]) -> None:
    text = json.dumps(scrub_data(to_document(run, lang), secrets), ensure_ascii=False,
                      indent=2, default=str)
    write_complete(path, text + "\n")  # never a truncated file, even on Ctrl-C
