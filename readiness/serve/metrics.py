"""A stored run as Prometheus metric families: a pure function, unit-tested.

Naming follows Prometheus' guide: base units (bytes, seconds, pixels), `_info` for
metadata, `_total` only for counters. A series about something is named by the result's
subject as the site file spells it: `site`, `room` (absent for a site-wide subject, never
empty), `kind`, `name`; beside those only small fixed sets (requirement, aspect, status,
verdict, direction, peer). Never an address (a re-addressed seat stays the same series), a
label sentence, a run id, a hash or a time. One exception, on purpose: the fix list's first
line (`readiness_first_fix_info`, one series per site) in both languages, because a
provincial alert can only carry words that arrive as a label.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)

from ..results import CheckResult, RunRecord, Status, Verdict, proves, worst
from ..rules import Metric as Figure
from ..rules import metrics as rule_metrics
from ..subject import Kind, Subject

STATUSES = [s.value for s in Status]
VERDICTS = [v.value for v in Verdict]
# the verdict a run that is not verified against the signed log gets: never its stored one
NOT_SIGNED = "not_signed"
BROKEN = (Status.FAIL, Status.ERROR)


# every figure /metrics shows comes from the rules' declarations (readiness/rules)
FIGURES: tuple[Figure, ...] = rule_metrics()
FIGURE_HELP: dict[str, str] = {f.metric: f.help for f in FIGURES}


def _by_requirement_and_aspect() -> dict[tuple[str, str | None], list[Figure]]:
    out: dict[tuple[str, str | None], list[Figure]] = {}
    for figure in FIGURES:
        out.setdefault((figure.requirement, figure.aspect), []).append(figure)
    return out


_FIGURES_OF = _by_requirement_and_aspect()

# the metric names deploy/ (alerts, dashboards) is generated from: one list, no drift;
# tests/test_serve.py holds it equal to what a served run exports
METRIC_NAMES = (
    "readiness_build_info", "readiness_last_run_timestamp_seconds",
    "readiness_last_run_duration_seconds", "readiness_last_ready_timestamp_seconds",
    "readiness_next_run_timestamp_seconds", "readiness_exam_start_timestamp_seconds",
    "readiness_run_verdict", "readiness_run_signed", "readiness_run_checks",
    "readiness_requirement_status", "readiness_check_success", "readiness_seat_success",
    "readiness_service_runs_total", "readiness_run_in_progress", "readiness_first_fix_info",
    *FIGURE_HELP,
)


@dataclass(frozen=True)
class SiteFacts:
    """What the metrics need besides the run itself: all known to the service."""

    site_code: str
    version: str
    exam_start: datetime | None = None  # the next exam session's start
    next_run: datetime | None = None  # the schedule's next planned run
    last_ready: datetime | None = None  # the last verified run that was ready
    signed: bool | None = None  # the run checked against the signed log (None: no log)
    # the latest run's trust (readiness/evidence/run_trust.py): "verified", "not_signed",
    # "mismatch"; None: not known (no run, or a caller that does not check)
    trust: str | None = None


def subject_labels(site: str, subject: Subject) -> dict[str, str] | None:
    """The labels that name a subject; None for a result stored before results had
    subjects: its only name is a label sentence, which no series may carry."""
    if subject.kind is Kind.UNKNOWN:
        return None
    labels = {"site": site, "kind": subject.kind.value, "name": subject.name}
    if subject.room is not None:
        labels["room"] = subject.room
    return labels


class _Lowest:
    """One gauge whose series are named by subjects. Several results for one series keep
    the lowest value: a floor holds only if the worst measurement meets it, a seat works
    only if every check of it does. Series may differ in labels: a site-wide subject has
    no room."""

    def __init__(self, name: str, doc: str):
        self.name, self.doc = name, doc
        self.values: dict[tuple[tuple[str, str], ...], float] = {}

    def add(self, labels: dict[str, str], value: float) -> None:
        key = tuple(sorted(labels.items()))
        self.values[key] = min(value, self.values.get(key, value))

    def family(self) -> Metric:
        family = GaugeMetricFamily(self.name, self.doc)
        for key, value in sorted(self.values.items()):
            family.add_sample(self.name, dict(key), value)
        return family


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def figure_values(result: CheckResult) -> list[tuple[Figure, float]]:
    """The figures of FIGURES a result carries, in their metric's unit."""
    out = []
    for figure in _FIGURES_OF.get((result.requirement, result.aspect), []):
        source = result.threshold if figure.from_threshold else result.measured
        value = _number(source.get(figure.key))
        if value is not None:
            out.append((figure, value * figure.scale))
    return out


def service_families(facts: SiteFacts) -> list[Metric]:
    """What is true even before any run was stored."""
    site = facts.site_code
    info = InfoMetricFamily("readiness_build", "the readiness version serving this site",
                            labels=["site"])
    info.add_metric([site], {"version": facts.version, "python": platform.python_version()})
    out: list[Metric] = [info]
    for name, doc, moment in (
            ("readiness_exam_start_timestamp_seconds", "start of the next exam session",
             facts.exam_start),
            ("readiness_next_run_timestamp_seconds", "the next scheduled check run",
             facts.next_run),
            ("readiness_last_ready_timestamp_seconds",
             "end of the last stored run that was ready (0: never)", facts.last_ready)):
        if moment is None and name != "readiness_last_ready_timestamp_seconds":
            continue
        family = _gauge(name, doc, ["site"])
        family.add_metric([site], moment.timestamp() if moment else 0.0)
        out.append(family)
    return out


def process_families(site: str, runs_recorded: int, running: bool) -> list[Metric]:
    """What the serving process itself knows: the runs it made, whether one is under way."""
    counter = CounterMetricFamily("readiness_service_runs",
                                  "runs this service recorded since it started",
                                  labels=["site"])
    counter.add_metric([site], float(runs_recorded))
    busy = _gauge("readiness_run_in_progress", "1 while a run is being made", ["site"])
    busy.add_metric([site], 1.0 if running else 0.0)
    return [counter, busy]


def _believed(facts: SiteFacts) -> bool:
    return facts.trust is None and facts.signed is not False or facts.trust == "verified"


def _trust_families(stored_verdict: str | None, facts: SiteFacts) -> list[Metric]:
    """The verdict and signed gauges. A run not verified against the signed log has the
    verdict "not_signed", whatever the store says: one SQL row must not read as ready."""
    site = facts.site_code
    shown = stored_verdict if _believed(facts) else NOT_SIGNED
    verdict = _gauge("readiness_run_verdict",
                     "the latest run's verdict (1 for the one it is; not_signed: the run is "
                     "not verified against the signed evidence log)", ["site", "verdict"])
    for v in [*VERDICTS, NOT_SIGNED]:
        verdict.add_metric([site, v], 1.0 if shown == v else 0.0)
    out: list[Metric] = [verdict]
    if facts.signed is not None or facts.trust is not None:
        signed = _gauge("readiness_run_signed",
                        "1: the latest run verifies against the signed evidence log",
                        ["site"])
        signed.add_metric([site], 1.0 if facts.trust == "verified"
                          or facts.trust is None and facts.signed else 0.0)
        out.append(signed)
    return out


def unproven_families(facts: SiteFacts) -> list[Metric]:
    """A latest run that is not shown (it differs from its signed records): still say
    that the site has no verified run, so no alert rule takes silence for ready."""
    return _trust_families(None, facts) if facts.trust is not None else []


def run_families(run: RunRecord, facts: SiteFacts) -> list[Metric]:
    """The latest run's figures, one family per measured quantity."""
    site = facts.site_code
    out: list[Metric] = []

    last = _gauge("readiness_last_run_timestamp_seconds", "end of the latest stored run",
                  ["site"])
    last.add_metric([site], run.finished_at.timestamp())
    duration = _gauge("readiness_last_run_duration_seconds", "how long the latest run took",
                      ["site"])
    duration.add_metric([site], (run.finished_at - run.started_at).total_seconds())
    out += [last, duration, *_trust_families(run.verdict.value, facts)]
    if not _believed(facts):
        # Its per-rule and per-seat passes would silence the province's rule alerts as
        # surely as a forged verdict would: an unsigned run exports no figure at all.
        return out

    checks = _gauge("readiness_run_checks", "checks of the latest run by status",
                    ["site", "status"])
    for s in STATUSES:
        checks.add_metric([site, s], float(sum(r.status.value == s for r in run.results)))
    out.append(checks)

    by_req: dict[str, list[Status]] = {}
    for r in run.results:
        by_req.setdefault(r.requirement, []).append(r.status)
    req = _gauge("readiness_requirement_status",
                 "each requirement's verdict in the latest run (1 for the one it is)",
                 ["site", "requirement", "required", "status"])
    for rid in sorted(set(by_req) | run.required):
        status = worst(by_req.get(rid, []))
        required = "true" if rid in run.required else "false"
        for s in STATUSES:
            req.add_metric([site, rid, required, s], 1.0 if status.value == s else 0.0)
    out.append(req)
    return out + _first_fix(run, site) + _subject_families(run, site)


FIX_WORDS_MAX = 240  # an alert is read on a phone; the page and report have the rest


def _words(where: str, what: str) -> str:
    text = f"{where}: {what}" if where else what
    return text if len(text) <= FIX_WORDS_MAX else text[:FIX_WORDS_MAX - 1] + "…"


def _first_fix(run: RunRecord, site: str) -> list[Metric]:
    """The fix list's first line: what the province's alert tells the site to do first."""
    from ..fixlist import fix_list

    fixes = fix_list(run)
    if not fixes:
        return []
    fix = fixes[0]
    info = InfoMetricFamily("readiness_first_fix", "the first line of the latest run's fix "
                            "list, in English and Chinese", labels=["site"])
    info.add_metric([site], {"requirement": fix.requirements[0] if fix.requirements else "",
                             "status": fix.status.value,
                             "en": _words(fix.where.en, fix.what.en),
                             "zh": _words(fix.where.zh, fix.what.zh)})
    return [info]


def _subject_families(run: RunRecord, site: str) -> list[Metric]:
    # one check_success series per (requirement, subject, aspect); skips measured nothing
    success = _Lowest("readiness_check_success",
                      "1: the check passed (or warned) in the latest run, 0: it failed or "
                      "errored")
    seats = _Lowest("readiness_seat_success",
                    "1: every check of the seat passed or warned, 0: one failed or errored")
    figures = {name: _Lowest(name, doc) for name, doc in FIGURE_HELP.items()}
    for r in run.results:
        labels = subject_labels(site, r.subject)
        if labels is None:
            continue
        for figure, value in figure_values(r):
            figures[figure.metric].add({**labels, **dict(figure.labels)}, value)
        if r.status is Status.SKIP:
            continue
        aspect = {"aspect": r.aspect} if r.aspect else {}
        success.add({**labels, "requirement": r.requirement, **aspect},
                    1.0 if proves(r) else 0.0)
        if r.subject.kind is Kind.SEAT:
            seats.add(labels, 0.0 if r.status in BROKEN else 1.0)
    return [success.family(), seats.family(), *(f.family() for f in figures.values())]


def families(run: RunRecord | None, facts: SiteFacts) -> list[Metric]:
    """Everything /metrics shows for one site: the service's facts, and the latest run's
    figures when there is one."""
    out = service_families(facts)
    if run is not None:
        out += run_families(run, facts)
    return out
