"""What a run is for and where it was measured from, said the same way on the console,
page 1 of the report and the live page: the exam session it prepares (and how long
before it the run was), the machines that measured, the site's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from .config.load import Site
from .results import RunRecord, Text
from .sitetime import DEFAULT_TZ, local, span
from .subject import Kind

# the vantage names readiness/planning gives checks that no machine of the site ran
_NOT_A_MACHINE = {"derived", "configuration", "-"}


@dataclass(frozen=True)
class RunContext:
    tz: tzinfo
    exam: Text            # the session and the time to it, or how to plan one
    exam_name: str | None
    exam_start: datetime | None
    before_exam: timedelta | None   # how long before the session the run started
    vantage: Text         # the machines that measured


def _session(site: Site, at: datetime) -> tuple[str, datetime] | None:
    """The session the run prepares: the first one not over when it started."""
    found = sorted((start, s.name) for s, (start, end) in
                   zip(site.model.exam_sessions, site.session_windows(), strict=True)
                   if end > at)
    return (found[0][1], found[0][0]) if found else None


def vantage_words(run: RunRecord, host: str | None = None) -> Text:
    # the seats whose own agent measured something
    agents = {r.subject.name for r in run.results if r.subject.kind is Kind.SEAT
              and r.vantage not in _NOT_A_MACHINE and r.vantage != "coordinator"}
    who = Text(f"the coordinator {host}" if host else "the coordinator",
               f"检测机 {host}" if host else "检测机")
    if not agents:
        return who
    return Text(f"{who.en} and {len(agents)} seat agent(s)",
                f"{who.zh} 及 {len(agents)} 个考位代理")


def run_context(run: RunRecord, site: Site | None, host: str | None = None) -> RunContext:
    tz = site.tz if site is not None else DEFAULT_TZ
    found = _session(site, run.started_at) if site is not None else None
    vantage = vantage_words(run, host or run.measured_from or None)
    if site is None:
        return RunContext(tz, Text("exam session not known: give the site file (--config)",
                                   "考试场次未知：请提供站点文件（--config）"),
                          None, None, None, vantage)
    if found is None:
        return RunContext(tz, Text("no exam planned: add one under exam_sessions in the "
                                   "site file",
                                   "未安排考试：请在站点文件的 exam_sessions 中添加场次"),
                          None, None, None, vantage)
    name, start = found
    before = start - run.started_at
    when = local(start, tz)
    called = name or when
    if before > timedelta(0):
        text = Text(f"session {called}, {when}, {span(before).en} after this run",
                    f"场次 {called}（{when}），本次检查后 {span(before).zh}开考")
    else:
        text = Text(f"session {called}, {when}, in progress when this run started",
                    f"场次 {called}（{when}），本次检查时正在进行")
    return RunContext(tz, text, name, start, before, vantage)
