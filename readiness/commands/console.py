"""What staff see on the terminal: live progress, then a summary per requirement."""

from __future__ import annotations

import re
from collections import OrderedDict

from rich.cells import cell_len
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text as RichText

from ..checks import Check
from ..figures import deciding_figure
from ..fixlist import fix_list
from ..redact import Secret, scrub
from ..results import CheckResult, RunRecord, Status, Verdict, worst
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


# A fix takes at most this many lines; its full words are in the JSON and the report.
FIX_LINES = 2
_CJK = "\u2e80-\u9fff\u3000-\u303f\uff00-\uffef"
# a token is one CJK character (a line may break between any two), a run of other
# characters (never broken: a word, an address, a URL), or a run of spaces
_TOKENS = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+|\s+")


def wrap(text: str, width: int, indent: int) -> list[str]:
    """Lines of at most `width` cells; the first starts at column 0, the rest at
    `indent`; a line breaks only between words or between CJK characters."""
    lines, line = [], ""
    for token in _TOKENS.findall(text):
        if cell_len(line) + cell_len(token) <= width:
            line += token
            continue
        if token.isspace():
            continue
        lines.append(line.rstrip())
        line = " " * indent + token
        while cell_len(line) > width:  # a single word wider than the screen
            lines.append(line[:width])
            line = " " * indent + line[width:]
    lines.append(line.rstrip())
    return [ln for ln in lines if ln.strip()]


def _fit(head: str, where: str, what: str, width: int, lang: str) -> list[str]:
    """The fix in at most FIX_LINES lines: the headline and the last sentence (usually
    what to do) are kept, the middle gives way first."""
    sep = "：" if lang == "zh" else ": "

    def lines(body: str) -> list[str]:
        return wrap(head + body, width, len(head))

    full = lines(f"{where}{sep}{what}")
    if len(full) <= FIX_LINES:
        return full
    parts = [p for p in re.split(r"(?<=[.;])\s+|(?<=[。；])", what) if p]
    tail = f" … {parts[-1]}" if len(parts) > 1 else "…"
    # the place is never cut: a technician must know where to go; when the headline
    # and the action do not both fit, the headline (what is wrong) stays
    for text, end in ((parts[0] if len(parts) > 1 else what, tail), (what, "…")):
        first = _TOKENS.findall(text)
        while first:
            body = f"{where}{sep}" + "".join(first).rstrip(" ,;:，；：") + end
            if len(lines(body)) <= FIX_LINES:
                return lines(body)
            first.pop()
    return lines(f"{where}…")


def _cut(text: str, room: int) -> str:
    out = ""
    for token in _TOKENS.findall(text):
        if cell_len(out) + cell_len(token) > room:
            break
        out += token
    return out.rstrip(" ,;:，；：")


def summary_lines(run: RunRecord, lang: str, width: int = 80,
                  show_passing: bool = False) -> list[str]:
    """The whole summary as plain lines of at most `width` cells: a header, one line
    per requirement, the numbered fix list (and with -v the passing checks)."""
    words = STATUS_WORDS[lang]
    by_req: dict[str, list[CheckResult]] = OrderedDict()
    for r in run.results:
        by_req.setdefault(r.requirement, []).append(r)
    counts = " · ".join(f"{sum(r.status is s for r in run.results)} {words[s].lower()}"
                        for s in Status if any(r.status is s for r in run.results))
    out = wrap(f"{run.site_name} · {run.certificate.get(lang)} ({run.profile_id})", width, 2)
    out += wrap(say(lang, "Verdict: ", "结论：") + VERDICT_WORDS[lang][run.verdict]
                + say(lang, f"   checks: {counts}", f"   检查项：{counts}"), width, 2)
    out.append("")
    id_w = max(len(req) for req in by_req) if by_req else 0
    word_w = max(cell_len(w) for w in words.values())
    for req, results in by_req.items():
        status = worst([r.status for r in results])
        word = words[status] + " " * (word_w - cell_len(words[status]))
        figure = deciding_figure(req, results).get(lang)
        line = f"{req:<{id_w}}  {word}  "
        out.append(_cut(line + figure, width - 1) + ("…" if cell_len(line + figure) > width
                                                      else ""))
    fixes = fix_list(run)
    if fixes:
        out.append("")
        out.append(say(lang, "Fix list (worst first):", "待修复（最严重的在前）："))
    for n, fix in enumerate(fixes, 1):
        head = f"{n:>2}. {words[fix.status]} "
        out += _fit(head, fix.where.get(lang), fix.what.get(lang), width, lang)
    if show_passing:
        out += _passing(run, lang, width)
    return out


def _passing(run: RunRecord, lang: str, width: int) -> list[str]:
    passed = [r for r in run.results if r.status is Status.PASS]
    if not passed:
        return []
    out = ["", say(lang, "Passing checks:", "通过的检查项：")]
    for r in passed:
        text = f"{r.requirement} · {r.label(lang)}: {r.message.get(lang)}"
        out.append(_cut(text, width - 1) + ("…" if cell_len(text) > width else ""))
    return out


def render_summary(console: Console, run: RunRecord, lang: str, secrets: list[Secret],
                   show_passing: bool = False) -> None:
    """Print the summary; colour only marks the verdict words, the words say it all."""
    styles = {w: STATUS_STYLE[s] for s, w in STATUS_WORDS[lang].items()}
    styles[VERDICT_WORDS[lang][run.verdict]] = VERDICT_STYLE[run.verdict]
    width = max(console.width, 40)
    for line in summary_lines(run, lang, width, show_passing):
        text = RichText(scrub(line, secrets))
        text.highlight_words(list(styles), style="")
        for word, style in styles.items():
            text.highlight_regex(rf"(?<![\w]){re.escape(word)}(?![\w])", style)
        console.print(text, soft_wrap=True, overflow="ignore", crop=False)
