"""The one result model of the project: what a probe measured and what it means.

Every arrow of the design (probe -> runner -> console / JSON / JUnit / store /
report) carries these plain objects, so no layer needs to know another's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"


# Worst first: a requirement's verdict is the worst of its checks' verdicts.
SEVERITY = {Status.FAIL: 4, Status.ERROR: 3, Status.WARN: 2, Status.PASS: 1, Status.SKIP: 0}


def worst(statuses: list[Status]) -> Status:
    return max(statuses, key=SEVERITY.__getitem__, default=Status.SKIP)


@dataclass(frozen=True)
class Text:
    """A sentence staff read, in both languages the sites use."""

    en: str
    zh: str

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def to_dict(self) -> dict[str, str]:
        return {"en": self.en, "zh": self.zh}


@dataclass
class ProbeOutcome:
    """What a probe returns: measurements and its verdict, nothing about rules or files."""

    status: Status
    message: Text
    measured: dict[str, Any] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)
    # where the measurement really came from when it was not the check's planned vantage
    # (a seat check measured from the coordinator because the seat has no agent)
    ran_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The wire form an agent sends back (JSON)."""
        return {"status": self.status.value, "message": self.message.to_dict(),
                "measured": self.measured, "evidence": self.evidence}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeOutcome:
        message = data.get("message") or {}
        return cls(Status(data["status"]),
                   Text(str(message.get("en", "")), str(message.get("zh", ""))),
                   dict(data.get("measured") or {}), list(data.get("evidence") or []))


@dataclass(frozen=True)
class Citation:
    seed: str
    article: str
    original: str

    def to_dict(self) -> dict[str, str]:
        return {"seed": self.seed, "article": self.article, "original": self.original}


@dataclass(frozen=True)
class Target:
    """What a check looked at, in a form every layer can say in either language: its
    kind (seat, host, room, camera, network, site, ...), its name (A13, cam-2, lab),
    its address when it has one, and the label people read."""

    kind: str
    name: str
    address: str | None
    label: Text


@dataclass
class CheckResult:
    requirement: str
    title: Text
    target: str
    vantage: str
    status: Status
    message: Text
    measured: dict[str, Any]
    threshold: dict[str, Any]
    citation: Citation | None
    started_at: datetime
    duration_s: float
    check_id: str = ""
    evidence: list[str] = field(default_factory=list)
    # the structured target when the planner gave one; readiness.targets.describe()
    # derives it from `target` otherwise. The JSON keeps `target` (the English label).
    target_info: Target | None = None

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        return {
            "id": self.check_id,
            "requirement": self.requirement,
            "title": self.title.to_dict(),
            "target": self.target,
            "vantage": self.vantage,
            "status": self.status.value,
            "measured": self.measured,
            "threshold": self.threshold,
            "citation": self.citation.to_dict() if self.citation else None,
            "message": self.message.get(lang),
            "message_i18n": self.message.to_dict(),
            "evidence": self.evidence,
            "started_at": self.started_at.isoformat(),
            "duration_s": round(self.duration_s, 3),
        }


class Verdict(StrEnum):
    READY = "ready"
    NOT_READY = "not_ready"
    UNVERIFIED = "unverified"


# measured[NOT_PROOF] = True: a warn that only says a check could not be made as it
# should (no raw-socket rights, a stand-in vantage, evidence only): never proof of a rule.
NOT_PROOF = "not_proof"


def proves(result: CheckResult) -> bool:
    return result.status in (Status.PASS, Status.WARN) and not result.measured.get(NOT_PROOF)


EXIT_CODES = {Verdict.READY: 0, Verdict.NOT_READY: 1, Verdict.UNVERIFIED: 3}
EXIT_BAD_CONFIG = 2


def overall_verdict(results: list[CheckResult], required: set[str],
                    unproven: set[str] | None = None) -> Verdict:
    """ready only when nothing failed, nothing errored, and every required
    requirement was actually proven by at least one pass or warn.

    A skipped requirement that the profile requires is not proof: a site must not
    be called ready because a check could not be made.
    """
    statuses = [r.status for r in results]
    if Status.FAIL in statuses:
        return Verdict.NOT_READY
    if Status.ERROR in statuses:
        return Verdict.UNVERIFIED
    proven = {r.requirement for r in results if proves(r)}
    # nothing proven at all (e.g. --only a rule this site does not configure) is no proof
    if required - proven or (unproven or set()) & required or not proven:
        return Verdict.UNVERIFIED
    return Verdict.READY


SCHEMA_VERSION = "1.0"


@dataclass
class RunRecord:
    """A finished run: what every writer (console, JSON, JUnit, store, report) reads."""

    site_name: str
    site_code: str
    profile_id: str
    certificate: Text
    started_at: datetime
    finished_at: datetime
    verdict: Verdict
    results: list[CheckResult]
    required: set[str] = field(default_factory=set)
