"""A finished run: what every writer (console, JSON, JUnit, store, report) reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

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
    for secret in secrets:
        value = secret.reveal()
        if len(value) >= 3 and value in text:
            text = text.replace(value, "***")
    return text
