"""The province's alerting rules (deploy/readiness.rules.yml), generated so a metric
rename cannot leave a rule querying nothing, and so a test can shorten the durations.

One alert per site and problem class, each named by the province's expected-sites list
(expected_sites.py), not by the site's own series: a site that never reported or went
silent still has labels to alert with, and the alert stays until the site is back.
The value of every alert is the time to the site's next exam (+Inf without one), and its
severity follows it: warning from T-7d, critical from T-1d, emergency from T-30min (and
during the exam); info for a dead site with no exam within 7 days.

docs/runbook.md has a section per alert; tests/test_alert_rules.py runs
deploy/readiness.rules.test.yml through `promtool test rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .expected_sites import EXAM_END, EXAM_START, EXPECTED_SITE
from .metrics import METRIC_NAMES

SITE = "province, city, site"
EXAM_IN = "readiness:exam_in_seconds"
LAST_SEEN = "readiness:site_last_seen_timestamp_seconds"
RUNBOOK = "https://readiness.province.example/runbook.md"
WEEK_S, DAY_S, EXAM_NEAR_S = 7 * 86400, 86400, 1800


def _lt(bound: float) -> str:
    return "{{ if lt $value " + f"{bound:.1f}" + " }}"


SEVERITY = (_lt(EXAM_NEAR_S) + "emergency{{ else }}" + _lt(DAY_S) + "critical{{ else }}"
            + _lt(WEEK_S) + "warning{{ else }}info{{ end }}{{ end }}{{ end }}")
# +Inf (no exam planned) is the only value past this bound
PLANNED = 1e12
EXAM_WORDS = (_lt(PLANNED) + "exam in {{ humanizeDuration $value }}"
              "{{ else }}no exam planned{{ end }}")
EXAM_WORDS_ZH = (_lt(PLANNED) + "距考试 {{ humanizeDuration $value }}"
                 "{{ else }}未安排考试{{ end }}")


def m(name: str) -> str:
    """A metric name, checked against the exporter's own list."""
    if name not in METRIC_NAMES:
        raise KeyError(f"{name} is not a metric readiness serve exports")
    return name


@dataclass(frozen=True)
class Timing:
    """The durations a test may shorten (the e2e test scales 5 min to seconds)."""

    down_after: str = "5m"       # no series from a site for this long: it is down
    down_after_s: int = 300
    never_grace: str = "5m"      # a fresh province waits this long before "never reported"
    stale_after_s: int = 86400   # no run completed in this long before the exam
    remember: str = "1d"         # how long the province's memory survives its own restart


def _query(expr: str) -> str:
    """A template that runs `expr` (one %q for the site) and lists a label of each row."""
    return 'query (printf "' + expr.replace('"', '\\"') + '" $labels.site)'


def _failing() -> str:
    rows = _query(m("readiness_requirement_status")
                  + '{site=%q,required="true",status=~"fail|error"} == 1')
    return ("{{ range $i, $r := " + rows + ' | sortByLabel "requirement" }}'
            "{{ if $i }}, {{ end }}{{ $r.Labels.requirement }}{{ end }}")


def _first_fix(lang: str) -> str:
    rows = _query(m("readiness_first_fix_info") + "{site=%q}")
    return "{{ range " + rows + " }}{{ .Labels." + lang + " }}{{ end }}"


def _alert(name: str, expr: str, summary: str, zh: str, en: str, anchor: str,
           for_: str | None = None, detail: bool = False) -> dict[str, Any]:
    annotations = {
        "summary": "{{ $labels.site }}: " + summary + " (" + EXAM_WORDS + ")",
        "description": "考点 {{ $labels.site }}（{{ $labels.city }}）" + zh + "，"
                       + EXAM_WORDS_ZH + "。 Site {{ $labels.site }} ({{ $labels.city }}) "
                       + en + ", " + EXAM_WORDS + ".",
        "runbook_url": f"{RUNBOOK}#{anchor}"}
    if detail:
        annotations["failing_requirements"] = _failing()
        annotations["first_fix"] = _first_fix("en")
        annotations["first_fix_zh"] = _first_fix("zh")
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if for_:
        rule["for"] = for_
    rule["labels"] = {"severity": SEVERITY}
    rule["annotations"] = annotations
    return rule


def recording_rules(t: Timing) -> list[dict[str, Any]]:
    open_sessions = (f"{EXAM_START} - time() and on ({SITE}, session) "
                     f"{EXAM_END} > time()")
    return [
        # the time to the next exam session not yet over (negative: under way); +Inf for
        # an expected site without one, so every alert below has a value to rank by
        {"record": EXAM_IN,
         "expr": f"min by ({SITE}) ({open_sessions}) or on ({SITE}) ({EXPECTED_SITE} * +Inf)"},
        # when the province last had a site's series: carried forward by reading itself,
        # so a site silent for days stays silent (the old rule forgot it after a day)
        {"record": LAST_SEEN,
         "expr": f"max by ({SITE}) (timestamp({m('readiness_build_info')})) "
                 f"or last_over_time({LAST_SEEN}[{t.remember}])"},
    ]


def alerting_rules(t: Timing) -> list[dict[str, Any]]:
    near = f"{EXAM_IN} < {WEEK_S}"
    reporting = f"on (site) {m('readiness_build_info')}"
    return [
        _alert("ReadinessSiteNeverReported",
               f"{EXAM_IN} unless on (site) {LAST_SEEN}",
               "has never reported to the province", "从未向省级平台上报",
               "has never reported to the province", "site-never-reported",
               for_=t.never_grace),
        _alert("ReadinessSiteDown",
               f"{EXAM_IN} and on (site) (time() - {LAST_SEEN} > {t.down_after_s})",
               f"no series for {t.down_after} or more", f"已超过 {t.down_after} 未上报",
               f"has sent nothing for {t.down_after} or more", "site-down"),
        _alert("ReadinessNoRecentRun",
               f"{near} and {reporting} unless on (site) "
               f"(time() - {m('readiness_last_run_timestamp_seconds')} < {t.stale_after_s})",
               f"no check run completed in the last {t.stale_after_s // 3600} h",
               f"最近 {t.stale_after_s // 3600} 小时内没有完成检查",
               f"completed no check run in the last {t.stale_after_s // 3600} h",
               "no-recent-run"),
        _alert("ReadinessRunNotSigned",
               f"{near} and on (site) (max by (site) ({m('readiness_run_signed')} == 0) "
               f"or max by (site) ({m('readiness_run_verdict')}{{verdict=\"not_signed\"}} == 1))",
               "the latest run is not signed: not verified", "最新一次检查未签名，视为未验证",
               "has a latest run that is not signed, which counts as not verified",
               "run-not-signed"),
        _alert("ReadinessNotReadyBeforeExam",
               f"{near} and on (site) (max by (site) ("
               f"{m('readiness_requirement_status')}{{required=\"true\",status=~\"fail|error\"}})"
               " == 1)",
               "required rules fail or could not be verified: " + _failing(),
               "有必需要求未通过或无法验证", "fails required rules or could not verify them",
               "not-ready", detail=True),
    ]


def alert_rules(t: Timing | None = None, interval: str = "60s") -> dict[str, Any]:
    t = t or Timing()
    return {"groups": [{"name": "readiness", "interval": interval,
                        "rules": recording_rules(t) + alerting_rules(t)}]}
