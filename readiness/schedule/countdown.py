"""The countdown plan: when to check a site before its exam sessions.

A pure function of the sessions, the site's time zone, the moment "now" and the
rules of the site file's `schedule:` section, so it can be tested with a fixed clock.

For a session starting at S, by default:

    T-7 days .. T-1 day   once a day at 20:00 site time
    T-1 day  .. T-3 hours every 2 hours (through the night)
    T-3 hours.. T-30 min  every 30 minutes
    T-30 min              a last check

Intervals are real elapsed time (a DST change does not stretch them); the daily check
is at the wall-clock time of the site. Times inside any session are left out: a check
pings every seat and may measure throughput, which must not load an exam in progress.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from ..config.site import Schedule

Phase = Literal["daily", "night", "final", "last"]
Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class PlannedRun:
    at: datetime  # aware, in the site's time zone
    phase: Phase
    session: int  # index into the sessions given
    before: timedelta  # how long before that session starts

    def job_id(self, site_code: str) -> str:
        """Stable across restarts and machines: the scheduler's and the ledger's key."""
        return f"{site_code}-{self.at.astimezone(UTC).isoformat(timespec='seconds')}"


def _aware(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _wall_clock(day: date, rules: Schedule, tz: ZoneInfo) -> datetime:
    naive = datetime.combine(day, rules.daily_at)
    # a round trip through UTC moves a time that does not exist (spring forward) to
    # the real instant after the gap, instead of a fictitious local reading
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def _periodic(start: datetime, end: datetime, every: timedelta) -> Iterable[datetime]:
    moment = start
    while moment < end:
        yield moment
        moment += every


def _session_runs(start: datetime, tz: ZoneInfo, rules: Schedule,
                  index: int) -> list[PlannedRun]:
    start_utc = start.astimezone(UTC)
    phases: list[tuple[Phase, timedelta]] = [
        (name, span) for name, span in (("daily", rules.daily_from),
                                        ("night", rules.night_from),
                                        ("final", rules.final_from)) if span is not None]
    end = start_utc - rules.last if rules.last is not None else start_utc
    out: list[PlannedRun] = []

    def add(moment: datetime, phase: Phase) -> None:
        out.append(PlannedRun(moment.astimezone(tz), phase, index, start_utc - moment))

    for i, (phase, span) in enumerate(phases):
        begin = start_utc - span
        until = start_utc - phases[i + 1][1] if i + 1 < len(phases) else end
        if phase == "daily":
            first = begin.astimezone(tz).date()
            for offset in range((until.astimezone(tz).date() - first).days + 1):
                moment = _wall_clock(first + timedelta(days=offset), rules, tz)
                if begin <= moment < until:
                    add(moment.astimezone(UTC), phase)
        else:
            every = rules.night_every if phase == "night" else rules.final_every
            for moment in _periodic(begin, until, every):
                add(moment, phase)
    if rules.last is not None:
        add(end, "last")
    return out


def countdown_plan(sessions: Sequence[Window], tz: ZoneInfo, now: datetime,
                   rules: Schedule | None = None) -> list[PlannedRun]:
    """Every run still to come, oldest first, one per instant.

    `sessions`: (start, end) of each exam session, as `Site.session_windows()` gives
    them; a naive time is read in `tz`. `now` must be aware.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    rules = rules or Schedule()
    windows = [(_aware(s, tz).astimezone(UTC), _aware(e, tz).astimezone(UTC))
               for s, e in sessions]
    candidates = [run for i, (start, _end) in enumerate(windows)
                  for run in _session_runs(start, tz, rules, i)]
    # one run per instant: two sessions may want the same moment; the nearer session
    # names it
    candidates.sort(key=lambda r: (r.at.astimezone(UTC).replace(microsecond=0), r.before))
    plan: list[PlannedRun] = []
    seen: set[datetime] = set()
    # compared in UTC: two datetimes sharing one ZoneInfo compare by wall clock, which
    # is wrong in the hour that repeats when the clocks go back
    now_utc = now.astimezone(UTC)
    for run in candidates:
        key = run.at.astimezone(UTC).replace(microsecond=0)
        if key in seen or run.at.astimezone(UTC) <= now_utc:
            continue
        if any(s <= run.at < e for s, e in windows):
            continue
        seen.add(key)
        plan.append(run)
    return plan


def countdown_times(sessions: Sequence[Window], tz: ZoneInfo, now: datetime,
                    rules: Schedule | None = None) -> list[datetime]:
    """The instants of `countdown_plan`: aware, in `tz`, de-duplicated, after `now`."""
    return [run.at for run in countdown_plan(sessions, tz, now, rules)]


__all__ = ["PlannedRun", "countdown_plan", "countdown_times"]
