"""What staff see on the terminal: live progress, then a summary per requirement."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text as RichText

from ..checks import Check
from ..figures import deciding_figure
from ..fixlist import fix_list, fix_sentence, fix_words
from ..linebreak import tokens, wrap
from ..redact import Secret, scrub
from ..results import CheckResult, RunRecord, Status, Verdict, worst
from ..run_context import RunContext
from ..sitetime import local
from ..words import STATUS_WORDS, VERDICT_WORDS, say

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
        # only a terminal shows a bar (and erases it): written to a file or a pipe, rich
        # would leave an empty line behind, one more than the 60-line screen counts
        if self.progress.console.is_terminal:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress.live.is_started:
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


def _cut(text: str, room: int) -> str:
    out = ""
    for token in tokens(text):
        if cell_len(out) + cell_len(token) > room:
            break
        out += token
    return out.rstrip(" ,;:，；：")


@dataclass(frozen=True)
class Heading:
    """What the header says besides the run itself: the exam it prepares, the machines
    that measured, the site's time zone (readiness/run_context.py)."""

    context: RunContext


def header_lines(run: RunRecord, lang: str, width: int, heading: Heading | None) -> list[str]:
    words = STATUS_WORDS[lang]
    counts = " · ".join(f"{sum(r.status is s for r in run.results)} {words[s].lower()}"
                        for s in Status if any(r.status is s for r in run.results))
    title = f"{run.site_name} ({run.site_code}) · {run.certificate.get(lang)}"
    # the certificate by its id when its name would take a second line
    out = wrap(title if cell_len(title) <= width else
               f"{run.site_name} ({run.site_code}) · {run.profile_id}", width, 2)
    ctx = heading.context if heading else None
    if ctx is not None:
        out += wrap(say(lang, f"Run {local(run.started_at, ctx.tz)} from ",
                        f"检查时间 {local(run.started_at, ctx.tz)}；测量自")
                    + ctx.vantage.get(lang), width, 2)
        out += wrap(say(lang, "Exam: ", "考试：") + ctx.exam.get(lang), width, 2)
    out += wrap(say(lang, "Verdict: ", "结论：") + VERDICT_WORDS[lang][run.verdict]
                + say(lang, f"   checks: {counts}", f"   检查项：{counts}"), width, 2)
    return out


# the verdicts whose rules the summary names; on a full screen only those to act on
ALL_VERDICTS = (Status.FAIL, Status.ERROR, Status.WARN, Status.PASS, Status.SKIP)
TO_ACT_ON = (Status.FAIL, Status.ERROR, Status.WARN)


def rule_lines(run: RunRecord, lang: str, width: int,
               verdicts_shown: tuple[Status, ...] = ALL_VERDICTS) -> list[str]:
    """Each rule by its name under its verdict, a few lines in all (-v gives each its
    figure); the codes are the report's and the appendix's."""
    words = STATUS_WORDS[lang]
    by_req: dict[str, list[CheckResult]] = OrderedDict()
    for r in run.results:
        by_req.setdefault(r.requirement, []).append(r)
    titles = {req: results[0].title for req, results in by_req.items()}
    verdicts = {req: worst([r.status for r in results]) for req, results in by_req.items()}
    word_w = max(cell_len(w) for w in words.values()) + 2
    out = []
    for status in verdicts_shown:
        reqs = [req for req, s in verdicts.items() if s is status]
        if not reqs:
            continue
        first = words[status] + " " * (word_w - cell_len(words[status]))
        names = [titles[req].get(lang) for req in reqs]
        out += wrap(say(lang, "; ", "；").join(names), width, word_w, first)
    return out


def _figure_lines(run: RunRecord, lang: str, width: int) -> list[str]:
    words = STATUS_WORDS[lang]
    by_req: dict[str, list[CheckResult]] = OrderedDict()
    for r in run.results:
        by_req.setdefault(r.requirement, []).append(r)
    id_w = max(len(req) for req in by_req) if by_req else 0
    word_w = max(cell_len(w) for w in words.values())
    out = []
    for req, results in by_req.items():
        status = worst([r.status for r in results])
        word = words[status] + " " * (word_w - cell_len(words[status]))
        figure = deciding_figure(req, results).get(lang)
        out += wrap(figure, width, id_w + word_w + 4, f"{req:<{id_w}}  {word}  ")
    return out


# A fix shows its figure when the whole line fits in this many screen lines; a longer
# one shows where and what to do, whole, and leaves the figure to the report and the live
# page (same numbers) unless the screen has room for it (`room`).
FIX_LINES = 2
FIX_LINES_WITH_ROOM = 3
# one terminal screen: the summary and what the command prints after it
SCREEN_LINES = 60


def fix_lines(run: RunRecord, lang: str, width: int, room: int | None = None) -> list[str]:
    """The numbered fix list, each line wrapped whole (readiness/fixlist.py says it).
    `room`: lines the list may take; spare lines show more figures, worst lines first."""
    words = STATUS_WORDS[lang]
    fixes = fix_list(run)
    if not fixes:
        return []
    items = []
    for n, fix in enumerate(fixes, 1):
        head = f"{n:>2}. {words[fix.status]} "
        w = fix_words(fix, lang)
        full = wrap(fix_sentence(fix, lang, rules=False), width, 4, head)
        short = wrap(w.where + say(lang, ": ", "：") + w.do, width, 4, head) if w.do else full
        items.append([full if len(full) <= FIX_LINES else short, full])
    spare = None if room is None else room - 1 - sum(len(shown) for shown, _ in items)
    # a list longer than the screen: its least severe lines from the end (never a fail)
    # become one line that says where they are; the report and the live page have them
    # all under the same numbers
    kept, rest_lines = len(items), []
    while (spare is not None and spare < 0 and kept > 1
           and fixes[kept - 1].status is not Status.FAIL):
        kept -= 1
        spare += len(items[kept][0]) + len(rest_lines)
        rest_lines = _rest_line(lang, kept + 1, len(items), width)
        spare -= len(rest_lines)
    items = items[:kept]
    for item in items:
        shown, full = item
        grows = len(full) - len(shown)
        if shown is not full and len(full) <= FIX_LINES_WITH_ROOM and (
                spare is None or grows <= spare):
            item[0] = full
            spare = None if spare is None else spare - grows
    out = [say(lang, "Fix list, worst first (figures in full: the report, same numbers):",
               "待修复，最严重的在前（完整数据见报告，编号相同）：")]
    for shown, _ in items:
        out += shown
    return out + rest_lines


def _rest_line(lang: str, first: int, last: int, width: int) -> list[str]:
    n = last - first + 1
    return wrap(say(lang, f"{first}-{last}. {n} more, none a fail: in the report and on the "
                          "live page, same numbers",
                    f"{first}-{last}. 另有 {n} 项，均非不合格：见报告与实时页面，编号相同"),
                width, 4, "")


def summary_lines(run: RunRecord, lang: str, width: int = 80,
                  show_passing: bool = False, heading: Heading | None = None,
                  after: int = 0) -> list[str]:
    """The whole summary as plain lines of at most `width` cells: a header, the rules by
    verdict, the numbered fix list (and with -v each rule's figure and the passing
    checks). `after`: lines printed around it on the same screen (the drill's own, the
    saved run's): the fix list shows as many figures as one screen leaves room for."""
    head = header_lines(run, lang, width, heading)
    if show_passing:
        out = [*head, "", *_figure_lines(run, lang, width)]
        fixes = fix_lines(run, lang, width, SCREEN_LINES - after - len(out) - 1)
        out += ["", *fixes] if fixes else []
        return out + _passing(run, lang, width)
    # A fail is never folded: where the fails alone fill the screen, the rules that pass
    # or were skipped leave it (the verdict line counts them), then the blank line.
    for shown, gap in ((ALL_VERDICTS, [""]), (TO_ACT_ON, [""]), (TO_ACT_ON, [])):
        out = [*head, "", *rule_lines(run, lang, width, shown)]
        fixes = fix_lines(run, lang, width, SCREEN_LINES - after - len(out) - len(gap))
        if fixes:
            out += [*gap, *fixes]
        if len(out) + after <= SCREEN_LINES:
            break
    return out


def _passing(run: RunRecord, lang: str, width: int) -> list[str]:
    passed = [r for r in run.results if r.status is Status.PASS]
    if not passed:
        return []
    out = ["", say(lang, "Passing checks:", "通过的检查项：")]
    for r in passed:
        out += wrap(f"{r.requirement} · {r.label(lang)}: {r.message.get(lang)}", width, 4)
    return out


def render_summary(console: Console, run: RunRecord, lang: str, secrets: list[Secret],
                   show_passing: bool = False, heading: Heading | None = None,
                   after: int = 0) -> None:
    """Print the summary; colour only marks the verdict words, the words say it all."""
    styles = {w: STATUS_STYLE[s] for s, w in STATUS_WORDS[lang].items()}
    styles[VERDICT_WORDS[lang][run.verdict]] = VERDICT_STYLE[run.verdict]
    width = max(console.width, 40)
    for line in summary_lines(run, lang, width, show_passing, heading, after):
        text = RichText(scrub(line, secrets))
        text.highlight_words(list(styles), style="")
        for word, style in styles.items():
            text.highlight_regex(rf"(?<![\w]){re.escape(word)}(?![\w])", style)
        console.print(text, soft_wrap=True, overflow="ignore", crop=False)
