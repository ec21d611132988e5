"""A finished run: what every writer (console, JSON, JUnit, store, report) reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..config.secrets import Secret
from ..results import CheckResult, Text, Verdict

SCHEMA_VERSION = "1.0"


@dataclass
class RunRecord:
    site_name: str
    site_code: str
    profile_id: str
    certificate: Text
    started_at: datetime
    finished_at: datetime
    verdict: Verdict
    results: list[CheckResult]
    required: set[str] = field(default_factory=set)


def scrub(text: str, secrets: list[Secret]) -> str:
    """Last line of defence: no secret value leaves the process, whatever a probe wrote."""
    # longest first: a secret that contains another must not be left half-masked
    for value in sorted((s.reveal() for s in secrets), key=len, reverse=True):
        if value and value in text:
            text = text.replace(value, "***")
    return text


def scrub_data(data: Any, secrets: list[Secret]) -> Any:
    """scrub() through plain data, before it is serialised: a secret with a quote or a
    backslash would no longer match once JSON has escaped it."""
    if isinstance(data, str):
        return scrub(data, secrets)
    if isinstance(data, dict):
        return {scrub_data(k, secrets): scrub_data(v, secrets) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [scrub_data(v, secrets) for v in data]
    return data
