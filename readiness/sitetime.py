"""The one way a time is shown to people: in the site's time zone, with its offset
("2026-12-07 07:24 +08:00"), whatever the clock of the machine printing it. Machines read
ISO 8601 with an offset (JSON, the store, the evidence log); people read this."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from .results import Text

# where exam sites are when nothing says otherwise (the site file's own default)
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def offset(moment: datetime, tz: tzinfo) -> str:
    raw = _aware(moment).astimezone(tz).strftime("%z")
    return f"{raw[:3]}:{raw[3:]}"


def local(moment: datetime, tz: tzinfo, seconds: bool = False) -> str:
    """`2026-12-07 07:24 +08:00`."""
    at = _aware(moment).astimezone(tz)
    return f"{at:%Y-%m-%d %H:%M{':%S' if seconds else ''}} {offset(moment, tz)}"


def short(moment: datetime, tz: tzinfo) -> str:
    """`2026-12-07 07:24` for a column whose heading names the offset."""
    return f"{_aware(moment).astimezone(tz):%Y-%m-%d %H:%M}"


def stamp(moment: datetime, tz: tzinfo) -> str:
    """For file and folder names: `20261207-072410+0800` (sorts, and says its zone)."""
    at = _aware(moment).astimezone(tz)
    return f"{at:%Y%m%d-%H%M%S%z}"


def span(delta: timedelta) -> Text:
    """A duration in the two largest units people use: `2 d 3 h`, `45 min`."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return Text(f"{days} d {hours} h", f"{days} 天 {hours} 小时")
    if hours:
        return Text(f"{hours} h {mins} min", f"{hours} 小时 {mins} 分钟")
    return Text(f"{mins} min", f"{mins} 分钟")
