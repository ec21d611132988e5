"""What staff see on the terminal: live progress, then a summary per requirement."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..checks import Check
from ..redact import Secret, scrub
from ..results import SEVERITY, CheckResult, RunRecord, Status, Verdict, worst
from ..words import HIDDEN, STATUS_WORDS, UNITS, VERDICT_WORDS

STATUS_STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red",
                Status.ERROR: "magenta", Status.SKIP: "dim"}
VERDICT_STYLE = {Verdict.READY: "bold green", Verdict.NOT_READY: "bold white on red",
                 Verdict.UNVERIFIED: "bold black on yellow"}
LABELS = {
    "en": {"req": "Requirement", "verdict": "Verdict", "checks": "Checks",
           "finding": "Findings (measured vs threshold)", "rule": "Rule", "overall": "Overall",
           "running": "running", "checking": "Checking"},
    "zh": {"req": "要求", "verdict": "结论", "checks": "检查项",
           "finding": "发现（实测 / 阈值）", "rule": "依据", "overall": "总体结论",
           "running": "正在检查", "checking": "检查中"},
}
def _fmt_value(key: str, value: Any) -> str:
    if isinstance(value, float):
        value = f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    if isinstance(value, dict):
        return ",".join(f"{k}:{v}" for k, v in value.items())
    for suffix, unit in UNITS:
        if key.endswith(suffix):
            return f"{value}{unit}"
    return str(value)




def format_pairs(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={_fmt_value(k, v)}" for k, v in values.items()
                    if k not in HIDDEN and v is not None and v != [] and v != {})


class LiveProgress:
    """A bar and the checks running now; safe to use as the runner's callbacks."""

    def __init__(self, console: Console, total: int, lang: str):
        self.lang = lang
        self.running: OrderedDict[str, str] = OrderedDict()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("{task.fields[now]}"),
            console=console, transient=True,
        )
        self.task = self.progress.add_task(LABELS[lang]["checking"], total=total, now="")

    def __enter__(self) -> LiveProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _refresh(self) -> None:
        names = list(self.running.values())
        now = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
        self.progress.update(self.task, now=f"{LABELS[self.lang]['running']}: {now}"
                             if names else "")

    def on_start(self, check: Check) -> None:
        self.running[check.check_id] = f"{check.requirement} {check.target}"
        self._refresh()

    def on_done(self, result: CheckResult) -> None:
        self.running.pop(result.check_id, None)
        self.progress.advance(self.task)
        self._refresh()


# findings listed per requirement before the rest is summed up (all are in the JSON)
MAX_LINES = 4
# the figures of one finding on screen; the JSON and the report keep all of them
MAX_FIGURES = 160


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_FIGURES else text[:MAX_FIGURES - 1] + "…"


def _more(count: int, lang: str) -> str:
    return (f"[dim]… {count} 项未列出：见 JSON 结果或加 -v[/]" if lang == "zh"
            else f"[dim]… and {count} more: see the JSON results, or use -v[/]")


def render_summary(console: Console, run: RunRecord, lang: str, secrets: list[Secret],
                   show_passing: bool = False) -> None:
    words, labels = STATUS_WORDS[lang], LABELS[lang]
    by_req: dict[str, list[CheckResult]] = OrderedDict()
    for r in run.results:
        by_req.setdefault(r.requirement, []).append(r)

    table = Table(title=f"{run.site_name} · {run.certificate.get(lang)} ({run.profile_id})",
                  show_lines=True, expand=True)
    # the findings are what staff act on: they get the room; titles and counts wrap
    table.add_column(labels["req"], max_width=22)
    table.add_column(labels["verdict"], no_wrap=True)
    table.add_column(labels["checks"], max_width=12)
    table.add_column(labels["finding"], ratio=3)
    table.add_column(labels["rule"], ratio=1)
    for req, results in by_req.items():
        verdict = worst([r.status for r in results])
        counts = " ".join(
            f"[{STATUS_STYLE[s]}]{sum(r.status == s for r in results)} {words[s]}[/]"
            for s in Status if any(r.status == s for r in results))
        lines = []
        shown = [r for r in results
                 if show_passing or r.status != Status.PASS or len(results) == 1]
        # worst first, so a long room list still puts the failures on screen
        shown.sort(key=lambda r: -SEVERITY[r.status])
        hidden = len(shown) - MAX_LINES if not show_passing and len(shown) > MAX_LINES else 0
        for r in shown[:len(shown) - hidden]:
            line = f"[{STATUS_STYLE[r.status]}]{words[r.status]}[/] {escape(r.target)}: " \
                   f"{escape(scrub(r.message.get(lang), secrets))}"
            if r.measured and r.status != Status.SKIP:
                figures = scrub(format_pairs(r.measured), secrets)
                if r.threshold:
                    figures += " / " + scrub(format_pairs(r.threshold), secrets)
                line += f"\n   [dim]{escape(_shorten(figures))}"
                line += "[/]"
            lines.append(line)
        if hidden:
            lines.append(_more(hidden, lang))
        first = results[0]
        rule = ""
        if first.citation:
            rule = f"{escape(first.citation.article)}: {escape(first.citation.original)}"
        table.add_row(f"[bold]{req}[/]\n{escape(first.title.get(lang))}",
                      f"[{STATUS_STYLE[verdict]}]{words[verdict]}[/]", counts,
                      "\n".join(lines) or f"[green]{len(results)} {words[Status.PASS]}[/]", rule)
    console.print(table)
    console.print(f"{labels['overall']}: [{VERDICT_STYLE[run.verdict]}] "
                  f"{VERDICT_WORDS[lang][run.verdict]} [/]")
