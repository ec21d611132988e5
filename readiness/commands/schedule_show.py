"""`readiness schedule show CONFIG`: the runs to come, in the site's local time."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..config.load import Site
from ..results import Text
from ..schedule.countdown import PlannedRun, countdown_plan
from .messages import say

PHASES = {
    "daily": Text("daily", "每日"),
    "night": Text("night", "夜间"),
    "final": Text("final hours", "考前数小时"),
    "last": Text("last check", "最后一次"),
}


WEEKDAYS_ZH = "一二三四五六日"


def _short(delta: timedelta, lang: str) -> str:
    """`3h`, `1d 13h`, `30min`: the two largest units, enough to read at a glance."""
    total = max(0, int(delta.total_seconds()))
    amounts = (total // 86400, total % 86400 // 3600, total % 3600 // 60, total % 60)
    units = (("d", "天"), ("h", "小时"), ("min", "分"), ("s", "秒"))
    parts = [f"{n}{say(lang, *u)}" for n, u in zip(amounts, units, strict=True) if n]
    return " ".join(parts[:2]) or "0"


def _span(delta: timedelta, lang: str) -> str:
    return "T-" + _short(delta, lang)


def _when(moment: datetime, lang: str, seconds: bool) -> str:
    day = (f"周{WEEKDAYS_ZH[moment.weekday()]}" if lang == "zh"
           else moment.strftime("%a"))
    return f"{moment:%Y-%m-%d} {day} {moment:%H:%M:%S}" if seconds \
        else f"{moment:%Y-%m-%d} {day} {moment:%H:%M}"


def render_schedule(console: Console, site: Site, now: datetime, lang: str = "en",
                    rooms: list[str] | None = None, only: list[str] | None = None,
                    limit: int | None = None) -> list[PlannedRun]:
    """Print the plan; returns it (for the caller's exit code and for tests)."""
    rules = site.model.schedule
    tz = site.tz
    plan = countdown_plan(site.session_windows(), tz, now, rules)
    sessions = site.model.exam_sessions
    if not sessions:
        console.print(say(lang, "No exam_sessions in the site file: nothing to count down to.",
                           "站点文件中没有 exam_sessions：没有可倒计时的考试。"))
        return plan
    if not plan:
        console.print(say(lang, "No run to come: every exam session has started or passed.",
                           "没有待运行的检查：所有考试场次均已开始或结束。"))
        return plan
    shown = plan[:limit] if limit else plan
    table = Table(title=say(lang, f"Scheduled checks of {site.name} ({tz.key})",
                             f"{site.name} 的定时检查（{tz.key}）"))
    for head in (("#", "#"), ("When (local)", "时间（当地）"), ("In", "距现在"),
                 ("Before", "距开考"), ("Session", "考试场次"), ("Phase", "阶段")):
        table.add_column(say(lang, *head), no_wrap=True)
    seconds = any(run.at.second for run in shown)
    for i, run in enumerate(shown, 1):
        session = sessions[run.session]
        label = session.name or session.start.strftime("%Y-%m-%d %H:%M")
        table.add_row(str(i), _when(run.at.astimezone(tz), lang, seconds),
                      _short(run.at - now, lang), _span(run.before, lang), escape(label),
                      PHASES[run.phase].get(lang))
    console.print(table)
    if len(shown) < len(plan):
        more = len(plan) - len(shown)
        console.print(say(lang, f"... and {more} more", f"……另有 {more} 次"))
    scope_rooms = ", ".join(rooms or rules.rooms) or say(lang, "all rooms", "全部考场")
    scope_reqs = ", ".join(only or rules.only) or say(lang, "every requirement", "全部要求")
    console.print(say(lang, f"Each run checks: {escape(scope_rooms)}; {escape(scope_reqs)}. "
                             f"A run missed while the machine is off still runs up to "
                             f"{_short(rules.misfire_grace, lang)} late.",
                       f"每次检查：{escape(scope_rooms)}；{escape(scope_reqs)}。"
                       f"本机关机期间错过的检查，在 {_short(rules.misfire_grace, lang)} "
                       "内开机仍会补做。"))
    return plan


__all__ = ["render_schedule"]
