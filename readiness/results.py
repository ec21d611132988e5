"""The one result model of the project: what a probe measured and what it means.

Every arrow of the design (probe -> runner -> console / JSON / JUnit / store /
report) carries these plain objects, so no layer needs to know another's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from .subject import Subject, label


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


@dataclass(frozen=True)
class Finding:
    """One thing wrong, said once, as a judge found it: what (with its figure), about
    whom, what to do. The fix list groups these by (code, subject); nothing reads a
    message back to learn them."""

    code: str        # stable name of the finding: "lan.no_answer", "seat.disk_small"
    what: Text       # what is wrong, without naming the subject: "disk 274.9 GB, below 500 GB"
    action: Text     # what to do: "replace the disk or move the candidate to another PC"
    # whom it is about when not the result's own subject (a leak found from a seat is
    # about the router); None: the result's subject
    subject: Subject | None = None
    # explains the subject's other findings (it does not answer, its agent is absent)
    root_cause: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "what": self.what.to_dict(),
                "action": self.action.to_dict(),
                "subject": self.subject.to_dict() if self.subject else None,
                "root_cause": self.root_cause}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        subject = data.get("subject")
        return cls(str(data["code"]), Text(**data["what"]), Text(**data["action"]),
                   Subject.from_dict(subject) if subject else None,
                   bool(data.get("root_cause")))

    @classmethod
    def read_all(cls, data: Any) -> list[Finding]:
        """The findings a stored result carries; none for one recorded before results
        had findings."""
        return [cls.from_dict(item) for item in data or [] if isinstance(item, dict)]


NO_ACTION = Text("", "")

# what every check that needed a host's agent says when none answers: the same words on
# every seat (so the fix list folds them), a root cause of the host's other findings
AGENT_ABSENT = Finding("agent.absent", Text("no agent answers", "没有代理应答"),
                       Text("start `readiness agent` on that PC",
                            "请在该电脑上启动 `readiness agent`"), root_cause=True)


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
    # what a judge found wrong (a probe leaves this empty: it measures, a judge decides)
    findings: list[Finding] = field(default_factory=list)

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


@dataclass
class CheckResult:
    requirement: str
    title: Text
    subject: Subject
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
    # the side of the subject the check looked at ("download", "dhcp", "keyword")
    aspect: str | None = None
    findings: list[Finding] = field(default_factory=list)

    def __post_init__(self) -> None:
        # every output reads the subject's fields: a label in its place would be read as
        # nobody's result
        if not isinstance(self.subject, Subject):
            raise TypeError(f"{self.check_id}: subject must be a Subject, not "
                            f"{type(self.subject).__name__}")

    def label(self, lang: str) -> str:
        return label(self.subject, self.aspect, lang)

    @property
    def target(self) -> str:
        """The English label: what JUnit names a test case and old readers call target."""
        return self.label("en")

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        return {
            "id": self.check_id,
            "requirement": self.requirement,
            "title": self.title.to_dict(),
            "subject": self.subject.to_dict(),
            "aspect": self.aspect,
            "target": self.label(lang),
            "vantage": self.vantage,
            "status": self.status.value,
            "measured": self.measured,
            "threshold": self.threshold,
            "citation": self.citation.to_dict() if self.citation else None,
            "message": self.message.get(lang),
            "message_i18n": self.message.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
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


SCHEMA_VERSION = "1.1"


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
    # the host name of the machine that coordinated the run (the proctor PC or the
    # evaluation server): page 1 and the console say where it was measured from
    measured_from: str = ""
